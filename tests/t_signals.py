# SPDX-License-Identifier: ISC
"""Reload (SIGHUP), graceful stop (SIGTERM/SIGINT), SIGPIPE."""
import signal
import socket
import threading
import time
import unittest

import harness
from harness import Daemon, make_conf


class Reload(unittest.TestCase):
    def test_hup_applies_changed_setting_and_keeps_connections(self):
        with Daemon() as d:
            kept = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            kept.sendall("ß".encode())
            self.assertEqual(harness.recv_exactly(kept, 2), b"SS")
            d.write_conf(make_conf(d.port, extra='charset = "ascii";'))
            d.send_signal(signal.SIGHUP)
            d.wait_log("configuration reloaded")
            # New connections use the new charset: only a-z are mapped.
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            self.assertEqual(harness.udp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            # The connection from before the reload is still open and served.
            kept.sendall(b"still")
            self.assertEqual(harness.recv_exactly(kept, 5), b"STILL")
            kept.close()
            self.assertEqual(d.stop(), 0)

    def test_broken_file_keeps_old_config(self):
        with Daemon() as d:
            text = make_conf(d.port) + "idle_timeout = 0;\n"
            line = len(text.splitlines())
            d.write_conf(text)
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("reload failed")
            self.assertIn("upcased.conf:%d: idle_timeout must be between 1 and 86400" % line, log)
            self.assertEqual(harness.tcp_roundtrip(d.port, "still ß".encode()), b"STILL SS")
            d.write_conf("listen = ( { port = 12000 ")     # syntax error
            d.send_signal(signal.SIGHUP)
            log2 = d.wait_log("syntax error", after=len(log))
            self.assertRegex(log2[len(log):], r"upcased\.conf:[12]: syntax error")
            self.assertEqual(harness.udp_roundtrip(d.port, b"alive"), b"ALIVE")
            self.assertEqual(d.stop(), 0)

    def test_listeners_added_and_removed(self):
        port2 = harness.free_port()
        with Daemon() as d:
            kept = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            both = ('{ address = "127.0.0.1"; port = %d; }, { address = "127.0.0.1"; port = %d; }'
                    % (d.port, port2))
            d.write_conf(make_conf(d.port, listen=both))
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("configuration reloaded")
            self.assertEqual(harness.tcp_roundtrip(port2, b"new port"), b"NEW PORT")
            self.assertEqual(harness.udp_roundtrip(port2, b"new port"), b"NEW PORT")
            # Now drop the first listener: the kept connection survives.
            only2 = '{ address = "127.0.0.1"; port = %d; }' % port2
            d.write_conf(make_conf(d.port, listen=only2))
            d.send_signal(signal.SIGHUP)
            d.wait_log("configuration reloaded", after=len(log))
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", d.port), timeout=5)
            kept.sendall(b"survivor")
            self.assertEqual(harness.recv_exactly(kept, 8), b"SURVIVOR")
            kept.close()
            self.assertEqual(harness.tcp_roundtrip(port2, b"ok"), b"OK")
            self.assertEqual(d.stop(), 0)

    def test_failed_bind_on_reload_keeps_old_listeners(self):
        with Daemon() as d:
            blocker = socket.socket()
            blocker.bind(("127.0.0.1", 0))
            blocker.listen(1)
            taken = blocker.getsockname()[1]
            both = ('{ address = "127.0.0.1"; port = %d; }, { address = "127.0.0.1"; port = %d; }'
                    % (d.port, taken))
            d.write_conf(make_conf(d.port, listen=both))
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("reload failed")
            self.assertIn("cannot listen on 127.0.0.1 port %d" % taken, log)
            self.assertEqual(harness.tcp_roundtrip(d.port, b"old"), b"OLD")
            blocker.close()
            self.assertEqual(d.stop(), 0)


class Stop(unittest.TestCase):
    def test_sigterm_with_clients_connected(self):
        """Clients that sent before SIGTERM get their replies; exit 0."""
        with Daemon() as d:
            clients = [socket.create_connection(("127.0.0.1", d.port), timeout=10) for _ in range(20)]
            payload = b"x" * 200000
            for c in clients:
                c.sendall(b"owed reply")
            big = clients[0]
            threading.Thread(target=lambda: big.sendall(payload), daemon=True).start()
            time.sleep(0.2)
            d.send_signal(signal.SIGTERM)
            for c in clients[1:]:
                self.assertEqual(harness.recv_all(c), b"OWED REPLY")
            got = harness.recv_all(big)
            self.assertTrue(got.startswith(b"OWED REPLY"))
            self.assertEqual(got[10:], b"X" * (len(got) - 10))
            rc = d.proc.wait(15)
            self.assertEqual(rc, 0, d.read_log())
            # Stopped accepting.
            with self.assertRaises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", d.port), timeout=2)
            for c in clients:
                c.close()

    def test_shutdown_timeout_bounds_the_stop(self):
        with Daemon(extra="shutdown_timeout = 1;") as d:
            # A client that never reads while output is owed keeps the connection busy.
            hog = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            harness.fill_until_stalled(hog)
            start = time.monotonic()
            d.send_signal(signal.SIGTERM)
            rc = d.proc.wait(10)
            self.assertEqual(rc, 0)
            self.assertLess(time.monotonic() - start, 4)
            self.assertIn("shutdown_timeout reached", d.read_log())
            hog.close()

    def test_sigint_stops_too(self):
        with Daemon() as d:
            self.assertEqual(harness.tcp_roundtrip(d.port, b"x"), b"X")
            self.assertEqual(d.stop(signal.SIGINT), 0)


class Sigpipe(unittest.TestCase):
    def test_client_vanishing_mid_reply_does_not_kill(self):
        with Daemon() as d:
            for _ in range(20):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                s.sendall(b"z" * 100000)
                s.close()        # RST while the server is writing
            time.sleep(0.3)
            self.assertIsNone(d.proc.poll())
            self.assertEqual(harness.tcp_roundtrip(d.port, b"alive"), b"ALIVE")
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
