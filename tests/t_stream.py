# SPDX-License-Identifier: ISC
"""TCP as a byte stream: big bursts, any chunking, half-close, back-pressure."""
import os
import random
import socket
import threading
import time
import unittest

import harness
from harness import Daemon, py_upper

SEED = int(os.environ.get("TEST_SEED", "12000"))


def random_text(rng, n):
    """Mixed ASCII, multi-byte UTF-8 and invalid bytes, about n bytes."""
    pieces = []
    size = 0
    alphabet = "abcdefghijklmnopqrstuvwxyz ßﬁﬃΐŉǰ𐐨ıǅςéàçöñ\n"
    while size < n:
        r = rng.random()
        if r < 0.9:
            p = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 64))).encode()
        else:
            p = bytes(rng.choice([0xff, 0xc0, 0x80, 0xed, 0xe2, 0xf0, 0x00]) for _ in range(rng.randint(1, 4)))
        pieces.append(p)
        size += len(p)
    return b"".join(pieces)[:n]


class Stream(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.rng = random.Random(SEED)

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0, cls.d.read_log()

    def test_one_mib_in_one_burst(self):
        data = random_text(self.rng, 1 << 20)
        self.assertEqual(harness.tcp_stream(self.d.port, [data]), py_upper(data))

    def test_one_mib_in_random_chunks(self):
        data = random_text(self.rng, 1 << 20)
        chunks, i = [], 0
        while i < len(data):
            n = self.rng.choice([1, 2, 3, 7, 100, 1000, 4096, 16384, 65536])
            chunks.append(data[i:i + n])
            i += n
        self.assertEqual(harness.tcp_stream(self.d.port, chunks), py_upper(data))

    def test_multibyte_split_across_writes(self):
        text = "ß𐐨ΐﬃ€".encode()
        for cut in range(1, len(text)):
            with socket.create_connection(("127.0.0.1", self.d.port), timeout=5) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                s.sendall(text[:cut])
                time.sleep(0.02)      # make the split reach the server on its own
                s.sendall(text[cut:])
                s.shutdown(socket.SHUT_WR)
                self.assertEqual(harness.recv_all(s), py_upper(text), "cut at %d" % cut)

    def test_incomplete_sequence_flushed_at_end(self):
        data = b"abc\xe2\x82"           # the start of a euro sign that never ends
        self.assertEqual(harness.tcp_roundtrip(self.d.port, data), b"ABC\xe2\x82")

    def test_half_close_gets_everything_owed(self):
        data = b"x" * 300000
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=10) as s:
            s.sendall(data[:100000])
            # Send the rest and close our side before reading a single byte.
            t = threading.Thread(target=lambda: (s.sendall(data[100000:]), s.shutdown(socket.SHUT_WR)))
            t.start()
            got = harness.recv_all(s)
            t.join()
        self.assertEqual(got, data.upper())

    def test_connection_stays_open_until_client_closes(self):
        with socket.create_connection(("127.0.0.1", self.d.port), timeout=5) as s:
            s.sendall(b"one")
            self.assertEqual(harness.recv_exactly(s, 3), b"ONE")
            time.sleep(1.2)
            s.sendall(b"two")
            self.assertEqual(harness.recv_exactly(s, 3), b"TWO")


class BackPressure(unittest.TestCase):
    def test_client_that_never_reads(self):
        """Server memory stays bounded and other clients are served."""
        with Daemon(extra="tcp = { threads = 1; };") as d:
            base = d.rss_kib()
            hogs = []
            sent = [0, 0, 0, 0]
            for _ in range(4):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=5)
                s.setblocking(False)
                hogs.append(s)
            chunk = b"a" * 65536
            deadline = time.monotonic() + 10
            stalled = set()
            # Push until every hog's kernel buffers are full (send would block).
            while len(stalled) < len(hogs) and time.monotonic() < deadline:
                for i, s in enumerate(hogs):
                    try:
                        sent[i] += s.send(chunk)
                        stalled.discard(i)
                    except BlockingIOError:
                        stalled.add(i)
                time.sleep(0.01)
            self.assertEqual(len(stalled), len(hogs), "the server kept reading without bound")
            time.sleep(0.5)
            grown = d.rss_kib() - base
            # Each hog may hold one transformed chunk (< 64 KiB) in the server.
            # Under ASan or TSan (make distcheck) resident size counts their
            # shadow memory and quarantine too (5.1 MiB seen under TSan).
            bound = 4 * 1024 + 4 * 64
            if harness.sanitizer() in ("address", "thread"):
                bound *= 2
            self.assertLess(grown, bound, "RSS grew by %d KiB" % grown)
            # Others are still served, on the same single worker.
            for _ in range(20):
                self.assertEqual(harness.tcp_roundtrip(d.port, b"still served"), b"STILL SERVED")
            # A hog that starts reading gets every byte back, in order.
            s = hogs[0]
            s.setblocking(True)
            s.settimeout(10)
            got = 0
            s.shutdown(socket.SHUT_WR)
            while True:
                b = s.recv(1 << 20)
                if not b:
                    break
                self.assertEqual(b, b"A" * len(b))
                got += len(b)
            self.assertEqual(got, sent[0])
            for h in hogs:
                h.close()
            sys_log = d.read_log()
            self.assertEqual(d.stop(), 0, sys_log)
            print("never-reading clients: %d bytes pushed, server RSS grew %d KiB" % (sum(sent), grown))


if __name__ == "__main__":
    unittest.main()
