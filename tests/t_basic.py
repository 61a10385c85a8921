# SPDX-License-Identifier: ISC
"""The textbook clients, UDP basics and IPv6 against the real daemon."""
import shutil
import socket
import time
import unittest

import harness
from harness import Daemon, py_upper


class TextbookClients(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0, cls.d.read_log()

    def test_tcpclient_py(self):
        # TCPClient.py: connect, send a sentence without newline, one recv, close.
        clientSocket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        clientSocket.settimeout(5)
        clientSocket.connect(("127.0.0.1", self.d.port))
        clientSocket.send("hello from the textbook".encode())
        modifiedSentence = clientSocket.recv(1024)
        clientSocket.close()
        self.assertEqual(modifiedSentence.decode(), "HELLO FROM THE TEXTBOOK")

    def test_udpclient_py(self):
        # UDPClient.py: sendto, recvfrom(2048), close.
        clientSocket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        clientSocket.settimeout(5)
        clientSocket.sendto("hello over udp".encode(), ("127.0.0.1", self.d.port))
        modifiedMessage, serverAddress = clientSocket.recvfrom(2048)
        clientSocket.close()
        self.assertEqual(modifiedMessage.decode(), "HELLO OVER UDP")
        self.assertEqual(serverAddress, ("127.0.0.1", self.d.port))

    def test_unicode_tcp_and_udp(self):
        text = "straße ﬁ ﬃ ΐ ŉ ǰ 𐐨 ı i ǅ ς déjà vu".encode()
        self.assertEqual(harness.tcp_roundtrip(self.d.port, text), py_upper(text))
        self.assertEqual(harness.udp_roundtrip(self.d.port, text), py_upper(text))
        self.assertEqual(py_upper(b"stra\xc3\x9fe"), b"STRASSE")

    def test_invalid_utf8_unchanged(self):
        data = b"abc\xff\xfe\xc0\x80def\xed\xa0\x80\xe2\x82 ghi\x00jkl\xc3"
        self.assertEqual(harness.tcp_roundtrip(self.d.port, data), py_upper(data))
        self.assertEqual(harness.udp_roundtrip(self.d.port, data), py_upper(data))

    def test_empty_datagram_gets_empty_reply(self):
        self.assertEqual(harness.udp_roundtrip(self.d.port, b""), b"")

    def test_no_newline_needed(self):
        # No framing: "hello" comes back at once, the connection stays open.
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=5) as s:
            for word in (b"hello", b" world", b"\n", b"again"):
                s.sendall(word)
                self.assertEqual(harness.recv_exactly(s, len(word)), word.upper())

    def test_large_datagram(self):
        data = bytes(range(97, 123)) * 2500          # 65000 bytes
        self.assertEqual(harness.udp_roundtrip(self.d.port, data), data.upper())

    def test_many_datagrams_batched(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(5)
            sent = [("datagram %d ß" % i).encode() for i in range(200)]
            for m in sent:
                s.sendto(m, ("127.0.0.1", self.d.port))
            got = [s.recvfrom(2048)[0] for _ in sent]
        self.assertEqual(sorted(got), sorted(py_upper(m) for m in sent))


class TooLargeReply(unittest.TestCase):
    def test_reply_over_max_payload_is_dropped_and_counted(self):
        # ß (2 bytes) becomes SS (2 bytes), but ΐ (2 bytes) becomes 6 bytes:
        # 30000 bytes of ΐ would need a 90000-byte reply.
        ctl = None
        with Daemon() as d:
            ctl = d
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                s.settimeout(1.0)
                s.sendto("ΐ".encode() * 15000, ("127.0.0.1", d.port))
                with self.assertRaises(socket.timeout):
                    s.recvfrom(70000)
                # The service goes on.
                s.sendto(b"still here", ("127.0.0.1", d.port))
                self.assertEqual(s.recvfrom(100)[0], b"STILL HERE")
            # The reply can reach us before sendmmsg() returns and is counted.
            time.sleep(0.2)
            d.send_signal(__import__("signal").SIGUSR1)
            log = d.wait_log('upcased_udp_datagrams_dropped_total{reason="too_large"} 1')
            self.assertIn("upcased_udp_datagrams_out_total 1", log)
            self.assertEqual(d.stop(), 0)
        self.assertIsNotNone(ctl)


@unittest.skipUnless(shutil.which("socat"), "socat not installed")
class Socat(unittest.TestCase):
    """A second independent client: socat, over TCP and UDP."""

    def test_socat_tcp_and_udp(self):
        with Daemon() as d:
            text = "socat says straße\n".encode()
            rc, out, err = harness.run(["socat", "-t", "5", "-",
                                        "TCP:127.0.0.1:%d" % d.port], input=text)
            self.assertEqual((rc, out), (0, py_upper(text)), err)
            rc, out, err = harness.run(["socat", "-t", "2", "-",
                                        "UDP:127.0.0.1:%d" % d.port], input=b"one datagram")
            self.assertEqual((rc, out), (0, b"ONE DATAGRAM"), err)
            self.assertEqual(d.stop(), 0)


class IPv6(unittest.TestCase):
    def test_ipv6_loopback_tcp_udp(self):
        with Daemon(address="::1") as d:
            self.assertEqual(harness.tcp_roundtrip(d.port, b"six", host="::1"), b"SIX")
            self.assertEqual(harness.udp_roundtrip(d.port, b"six", host="::1"), b"SIX")
            self.assertEqual(d.stop(), 0)

    def test_wildcard_serves_both_families(self):
        with Daemon(address="*") as d:
            self.assertEqual(harness.tcp_roundtrip(d.port, b"four"), b"FOUR")
            self.assertEqual(harness.tcp_roundtrip(d.port, b"six", host="::1"), b"SIX")
            self.assertEqual(harness.udp_roundtrip(d.port, b"four"), b"FOUR")
            self.assertEqual(harness.udp_roundtrip(d.port, b"six", host="::1"), b"SIX")
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
