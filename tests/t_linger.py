# SPDX-License-Identifier: ISC
"""t_linger.py: at a stop, no byte owed is lost when upcased ends a TCP
connection (upcased(8), SIGTERM).

What is owed: the transformed answer to every byte the daemon has read.
At the stop it goes on reading until the client has been quiet for a
quarter of a second (or half of shutdown_timeout has passed); then it
sends the last of the answer, shuts down its sending side, and reads and
discards what the client still sends until the client's end of file, or
until the client's kernel has acknowledged everything (the end of file
included) and the client is quiet.  A close() any sooner, with the answer
still queued in the kernel, has Linux answer the client's next bytes with a
reset and throw the queue away.

- reviewer's scenario: a client sends 1 MiB and reads its answer slowly;
  SIGTERM; once the daemon has ended its side, the client sends one more
  line.  It must read all of the 1 MiB answer, then end of file, no reset;
  the line is not answered; exit 0.
- a slow reader that sends nothing more: everything, exit 0.
- a slow reader that shuts down its side at the stop: the daemon does not
  linger (nothing more can come), its kernel delivers the rest after it
  has gone.
- a client that never stops sending: answered for what it sent until half
  of shutdown_timeout, then end of file; the stop is over well before
  shutdown_timeout.
- a typing user (a line every 0.4 s): every line read is answered, the
  stop does not wait for shutdown_timeout.

Stop durations are printed.
"""
import fcntl
import signal
import socket
import struct
import termios
import threading
import time
import unittest

import harness
from harness import Daemon, py_upper

LINE = "the quick brown fox jumps over the lazy dog, \u00e9t\u00e9 \u00df\n".encode()
BODY = (LINE * ((1 << 20) // len(LINE) + 1))[:1 << 20]      # 1 MiB, ends mid-character


def inq(s):
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.FIONREAD, b"\0" * 4))[0]


def daemon_state(port, peer):
    """The TCP state (hex, as in /proc/net/tcp: 01 established, 04
    FIN_WAIT1, ...) of the daemon's socket on port to the client's port
    peer, or None once it is gone."""
    local, remote = "0100007F:%04X" % port, "0100007F:%04X" % peer
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            fld = line.split(None, 4)
            if fld[1] == local and fld[2] == remote:
                return fld[3]
    return None


def client(d, sndbuf=None):
    s = socket.socket()
    if sndbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, sndbuf)
    s.settimeout(20)
    s.connect(("127.0.0.1", d.port))
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return s


def wait_full(s, settle=0.3, limit=15.0):
    """Wait until our receive queue stops growing: the daemon has answered
    what it could and waits for us to read."""
    deadline = time.monotonic() + limit
    last, since = -1, time.monotonic()
    while time.monotonic() < deadline:
        q = inq(s)
        if q != last:
            last, since = q, time.monotonic()
        elif q > 0 and time.monotonic() - since >= settle:
            return q
        time.sleep(0.02)
    return last


class SlowReaderAtStop(unittest.TestCase):
    def run_slow_reader(self, extra_line=False, half_close=False):
        """Send BODY, read nothing until SIGTERM, then 4 KiB every 20 ms
        (about 200 KiB/s).  Returns (what was read, the error, exit status,
        stop seconds, bytes owed still in the daemon's kernel when the
        extra line went, the log, seconds until we had read to the end)."""
        with Daemon(extra="shutdown_timeout = 30;") as d:
            s = client(d, sndbuf=4 << 20)
            peer = s.getsockname()[1]
            sender = threading.Thread(target=s.sendall, args=(BODY,), daemon=True)
            sender.start()
            queued = wait_full(s)
            t0 = time.monotonic()
            d.send_signal(signal.SIGTERM)
            if half_close:
                sender.join(20)
                self.assertFalse(sender.is_alive())
                s.shutdown(socket.SHUT_WR)
            got, err = [], None
            n, fin_at, line_at, in_flight, checked = 0, None, None, None, 0.0
            exited_at = None
            deadline = t0 + 60
            while time.monotonic() < deadline:
                now = time.monotonic()
                if exited_at is None and d.proc.poll() is not None:
                    exited_at = now
                if extra_line and line_at is None and now - checked >= 0.05:
                    checked = now
                    if fin_at is None and daemon_state(d.port, peer) != "01":
                        fin_at = now            # the daemon has ended its side
                    if fin_at is not None and now - fin_at >= 0.1:
                        sender.join(5)
                        self.assertFalse(sender.is_alive(), "the daemon ended before reading all")
                        # What it owes that is neither read by us nor in
                        # our receive queue: still in its kernel.
                        in_flight = len(py_upper(BODY)) - n - inq(s)
                        s.sendall(b"one more line\n")
                        line_at = now
                try:
                    b = s.recv(4096)
                except OSError as e:
                    err = e
                    break
                if not b:
                    break
                got.append(b)
                n += len(b)
                time.sleep(0.02)
            read_s = time.monotonic() - t0
            rc = d.proc.wait(30)
            stop_s = (exited_at or time.monotonic()) - t0
            s.close()
            print("\n  %s: %d KiB queued for us at SIGTERM; read %d of %d bytes, %s; "
                  "upcased exited %s %.2f s after SIGTERM, we had read it all after %.2f s%s"
                  % ("extra line" if extra_line else "half-closed" if half_close else "silent",
                     queued // 1024, n, len(py_upper(BODY)), "error %r" % err if err else "end of file",
                     rc, stop_s, read_s,
                     "; the line went %.2f s after the daemon ended its side, %d bytes owed still "
                     "in its kernel" % (line_at - fin_at, in_flight) if line_at else ""))
            return b"".join(got), err, rc, stop_s, in_flight, d.read_log(), read_s

    def test_extra_line_after_the_daemon_ends(self):
        got, err, rc, stop_s, in_flight, log, _ = self.run_slow_reader(extra_line=True)
        self.assertIsNotNone(in_flight, "the daemon never ended its side")
        self.assertGreater(in_flight, 0, "nothing owed was still queued: the test tests nothing")
        self.assertIsNone(err, "reset after %d of %d bytes owed" % (len(got), len(py_upper(BODY))))
        self.assertEqual(len(got), len(py_upper(BODY)))
        self.assertEqual(got, py_upper(BODY), "the answer (and not the line sent after the end)")
        self.assertEqual(rc, 0)
        self.assertNotIn("shutdown_timeout reached", log)

    def test_silent_slow_reader(self):
        got, err, rc, stop_s, _, log, _ = self.run_slow_reader()
        self.assertIsNone(err)
        self.assertEqual(got, py_upper(BODY))
        self.assertEqual(rc, 0)
        self.assertNotIn("shutdown_timeout reached", log)

    def test_slow_reader_that_half_closes(self):
        """Its end of file: nothing more can come, so the daemon closes as
        soon as its kernel holds the rest; the kernel delivers it."""
        got, err, rc, stop_s, _, log, read_s = self.run_slow_reader(half_close=True)
        self.assertIsNone(err)
        self.assertEqual(got, py_upper(BODY))
        self.assertEqual(rc, 0)
        # The daemon did not wait for us to read what its kernel held (at
        # least its send queue and our receive queue, over 128 KiB: over
        # 0.6 s at our pace), it had gone by then.
        self.assertLess(stop_s, read_s - 0.3)


class SenderAtStop(unittest.TestCase):
    def run_sender(self, chunk, pause, shutdown_timeout, signal_after):
        """A client that sends chunk every pause seconds, a thread reading
        all along; SIGTERM after signal_after s.  Returns (everything sent,
        bytes sent before the signal, the reply, the reader's error, the
        reader's end-of-file time, the sender's error, stop seconds, exit
        status, log)."""
        with Daemon(extra="shutdown_timeout = %d;" % shutdown_timeout) as d:
            s = client(d)
            sent, reply = [], []
            st = {"rerr": None, "eof_at": None, "serr": None, "serr_at": None}
            done = threading.Event()

            def reader():
                while True:
                    try:
                        b = s.recv(65536)
                    except OSError as e:
                        st["rerr"] = e
                        return
                    if not b:
                        st["eof_at"] = time.monotonic()
                        return
                    reply.append(b)

            def writer():
                i = 0
                while not done.is_set():
                    data = chunk % i if b"%d" in chunk else chunk
                    try:
                        s.sendall(data)
                    except OSError as e:
                        st["serr"], st["serr_at"] = e, time.monotonic()
                        return
                    sent.append(data)
                    i += 1
                    time.sleep(pause)

            tr = threading.Thread(target=reader, daemon=True)
            tw = threading.Thread(target=writer, daemon=True)
            tr.start()
            tw.start()
            time.sleep(signal_after)
            at_signal = sum(len(b) for b in sent)
            t0 = time.monotonic()
            d.send_signal(signal.SIGTERM)
            try:
                rc = d.proc.wait(shutdown_timeout + 10)
            except Exception:
                rc = None
            stop_s = time.monotonic() - t0
            tr.join(10)
            done.set()
            tw.join(10)
            s.close()
            data, got = b"".join(sent), b"".join(reply)
            print("\n  sent %d bytes (%d before SIGTERM), got %d back, %s %.2f s after SIGTERM; "
                  "its sending failed %s; upcased exited %s %.2f s after SIGTERM (shutdown_timeout %d)"
                  % (len(data), at_signal, len(got),
                     "error %r" % st["rerr"] if st["rerr"] else "end of file",
                     (st["eof_at"] or time.monotonic()) - t0,
                     "%.2f s after SIGTERM (%s)" % (st["serr_at"] - t0, st["serr"])
                     if st["serr"] else "never", rc, stop_s, shutdown_timeout))
            return data, at_signal, got, st, stop_s, rc, d.read_log()

    def test_client_that_never_stops_sending(self):
        data, at_signal, got, st, stop_s, rc, log = self.run_sender(
            b"streaming without a pause, line %d\n", 0.002, 4, 0.5)
        self.assertIsNone(st["rerr"], "a reset, not the end of the answer")
        self.assertIsNotNone(st["eof_at"])
        self.assertEqual(got, data[:len(got)].upper(), "not the answer to what it sent first")
        self.assertGreaterEqual(len(got), at_signal, "what was sent before the signal is answered")
        self.assertLess(len(got), len(data), "it was cut off: the test tests nothing")
        self.assertEqual(rc, 0)
        self.assertLess(stop_s, 4 + 1.5, "not bounded by shutdown_timeout")
        self.assertNotIn("shutdown_timeout reached", log)

    def test_typing_user(self):
        data, at_signal, got, st, stop_s, rc, log = self.run_sender(
            b"typed line %d\n", 0.4, 10, 1.0)
        self.assertIsNone(st["rerr"])
        self.assertIsNotNone(st["eof_at"])
        self.assertEqual(got, data[:len(got)].upper())
        self.assertTrue(got.endswith(b"\n"), "answered up to the middle of a line")
        self.assertGreaterEqual(len(got), at_signal)
        self.assertEqual(rc, 0)
        self.assertLess(stop_s, 3.0, "a typing user held the stop")


if __name__ == "__main__":
    unittest.main()
