# SPDX-License-Identifier: ISC
"""The held-back bytes of an incomplete UTF-8 sequence at every graceful
close: the client's end of input, SIGTERM (with or without output
pending), idle_timeout and limits.min_rate.  Each connection must get
those bytes, unchanged, before the end of file (upcased(8))."""
import fcntl
import re
import signal
import socket
import struct
import termios
import threading
import time
import unittest

import harness
from harness import Daemon

# Every incomplete prefix of a 2-, 3- and 4-byte sequence: é, €, 𐐨.
PREFIXES = [b"\xc3", b"\xe2", b"\xe2\x82", b"\xf0", b"\xf0\x90", b"\xf0\x90\x90"]


def outq(s):
    """Bytes the client's kernel still holds unsent or unacknowledged."""
    buf = fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
    return struct.unpack("i", buf)[0]


def wait_stalled(s, settle=0.5, limit=15.0):
    """Wait until the server has stopped taking what s sent (its receive
    window is shut: it is not reading, so its output is pending).  Returns
    the bytes still queued on our side, 0 if it never stalled."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        q = outq(s)
        if q == 0:
            return 0
        if q != last:
            last, since = q, time.monotonic()
        elif time.monotonic() - since >= settle:
            return q
        time.sleep(0.02)
    return last


def connect(d):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


class AtStop(unittest.TestCase):
    def test_sigterm_sends_the_held_bytes(self):
        """Six clients each wait with one incomplete prefix held; SIGTERM:
        each gets its prefix unchanged, then end of file; exit 0."""
        with Daemon() as d:
            conns = []
            for p in PREFIXES:
                s = connect(d)
                s.sendall(b"abc" + p)
                # The daemon answers what is complete at once, holds p back.
                self.assertEqual(harness.recv_exactly(s, 3), b"ABC")
                conns.append(s)
            d.send_signal(signal.SIGTERM)
            for p, s in zip(PREFIXES, conns):
                self.assertEqual(harness.recv_all(s), p, "held %r" % p)
                s.close()
            self.assertEqual(d.proc.wait(15), 0, d.read_log())

    def test_sigterm_with_output_pending(self):
        """A client that has not read yet (the daemon's output is pending,
        it stopped reading) and whose input ends with a held prefix: after
        SIGTERM it reads everything, the prefix last, unchanged."""
        with Daemon(extra="shutdown_timeout = 30;") as d:
            body = b"a" * (2 << 20)
            conns, stalled = [], []
            for p in (b"\xc3", b"\xe2\x82", b"\xf0\x90\x90"):
                s = socket.socket()
                # Little room on our receiving side, plenty on our sending
                # side: the daemon soon has output pending and stops
                # reading, and what it does not read waits here.
                s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 16384)
                s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4 << 20)
                s.settimeout(20)
                s.connect(("127.0.0.1", d.port))
                t = threading.Thread(target=s.sendall, args=(body + p,), daemon=True)
                t.start()
                t.join(20)
                self.assertFalse(t.is_alive(), "could not queue the input")
                conns.append((p, s))
                stalled.append(wait_stalled(s))
            print("bytes queued unread by the daemon at SIGTERM: %s" % stalled)
            d.send_signal(signal.SIGTERM)
            for p, s in conns:
                got = harness.recv_all(s)
                self.assertEqual(len(got), len(body) + len(p))
                self.assertEqual(got[-len(p):], p)
                self.assertEqual(got[:-len(p)], b"A" * len(body))
                s.close()
            self.assertEqual(d.proc.wait(15), 0, d.read_log())
            # With the default socket buffers (tcp.send_buffer) the daemon
            # really had output pending and had stopped reading.
            self.assertTrue(all(q > 0 for q in stalled), stalled)


class AtEndOfInput(unittest.TestCase):
    def test_shut_wr_sends_the_held_bytes(self):
        with Daemon() as d:
            for p in PREFIXES:
                self.assertEqual(harness.tcp_roundtrip(d.port, b"abc" + p), b"ABC" + p)
            self.assertEqual(d.stop(), 0)


class AtDaemonClose(unittest.TestCase):
    def test_idle_timeout_sends_the_held_bytes(self):
        with Daemon(extra="idle_timeout = 1;") as d:
            conns = []
            for p in PREFIXES:
                s = connect(d)
                s.sendall(b"abc" + p)
                self.assertEqual(harness.recv_exactly(s, 3), b"ABC")
                conns.append(s)
            start = time.monotonic()
            for p, s in zip(PREFIXES, conns):
                self.assertEqual(harness.recv_all(s), p, "held %r" % p)
                s.close()
            self.assertLess(time.monotonic() - start, 10)
            self.assertEqual(d.stop(), 0)

    def test_min_rate_close_sends_the_held_bytes(self):
        # All far below 1000 B/s.  Under pressure only while more than 5
        # of the 10 slots are taken, so five more idle connections, opened
        # after ours, keep it on until ours are closed (one worker: one
        # sweep judges them all against one count).
        with Daemon(extra="tcp = { threads = 1; }; max_connections = 10; "
                          "limits = { min_rate = 1000; min_rate_window = 1; };") as d:
            conns = []
            for p in PREFIXES[:4]:
                s = connect(d)
                s.sendall(b"abc" + p)
                self.assertEqual(harness.recv_exactly(s, 3), b"ABC")
                conns.append(s)
            fillers = [connect(d) for _ in range(5)]
            for p, s in zip(PREFIXES, conns):
                self.assertEqual(harness.recv_all(s), p, "held %r" % p)
                s.close()
            d.send_signal(signal.SIGUSR1)
            log = d.wait_log('upcased_tcp_connections_dropped_total{reason="min_rate"}')
            closed = int(re.search(r'upcased_tcp_connections_dropped_total\{reason="min_rate"\} (\d+)',
                                   log).group(1))
            self.assertGreaterEqual(closed, 4)
            for s in fillers:
                s.close()
            self.assertEqual(d.stop(), 0)

if __name__ == "__main__":
    unittest.main()
