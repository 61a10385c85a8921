#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_iomode.py: the io setting (upcased.conf(5)), and both TCP loops.

Choosing the loop, with the real daemon run under tests/nouring (a
seccomp filter that fails io_uring_setup/enter/register with a chosen
errno, as systemd's SystemCallFilter= or a container's profile does):
- io = "auto" under nouring EPERM and ENOSYS: it starts, logs exactly one
  line that says why it fell back (io_uring_setup, the errno's text, the
  seccomp hint), its start-up line says "on epoll", and it serves TCP
  (Python's socket and the real upcase client);
- io = "uring" under nouring: exit 78, a message that names the file and
  the reason, nothing listening;
- io = "epoll": no line about io_uring at all, "on epoll";
- without nouring, "auto" (and no io line: the default) says "on io_uring",
  unless this kernel has io_uring off (kernel.io_uring_disabled != 0, or the
  probe fails otherwise): then the one fallback line instead.

The same tests for io = "epoll" and io = "uring" (IoEpoll, IoUring; the
latter skipped where io_uring cannot be had):
- 100 concurrent connections stream random Unicode (ß ǆ Greek CJK
  ligatures, and invalid bytes) in random chunks of 1..20000 bytes split
  anywhere, every byte checked against Python's str.upper();
- the receive buffers cannot be held by clients: 400 clients send 200 KiB
  each and do not read (SO_RCVBUF 4096 before connect); meanwhile 20
  clients doing round trips are all answered promptly (latency printed),
  upcase --connections lists the 400 as flushing and idle ones as reading,
  upcased_tcp_uring_nobufs_total does not move, the daemon's RSS stays
  bounded; then the 400 read and each gets its 200 KiB back, correct;
- half-close: everything comes back, then end of file (Python and upcase);
- SIGTERM while 20 clients stream (5 of them not reading): each gets all
  it sent before the stop, and a clean end of file; exit 0;
- a live upgrade (SIGUSR2) to the other loop and back, with 30 connections
  mid-stream and 10 not reading: nothing lost, a new PID each time, and
  each new process's start-up line names its loop.

Measured values are printed.  UPCASE_TEST_IO does not change this test:
every config it writes sets io itself.
"""
import errno
import json
import os
import random
import re
import selectors
import shutil
import signal
import socket
import struct
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import nethelp  # noqa: E402
from harness import UPCASE, py_upper, run  # noqa: E402

NOURING = os.environ.get("NOURING", os.path.join(harness.BUILDDIR, "tests", "nouring"))
SEED = int(os.environ.get("TEST_SEED", "12000"))
SLOW = 3 if harness.sanitizer() in ("address", "thread") else 1
START_LINE = re.compile(r"started: \d+ tcp workers.* on (io_uring|epoll), ")
FALLBACK = "io_uring cannot be used, TCP workers use epoll: "

# Lower and mixed case with upper cases of other lengths (ß: SS, ŉ: ʼN,
# ΐ: three characters, ﬃ: FFI), title-case digraphs, final sigma, CJK
# and kana (unchanged), 4-byte characters (𐐨: Deseret, upper-cased; 😀).
ALPHABET = ("abcdefghijklmnopqrstuvwxyz ABC 0123456789\n" "ßéèàçñøåæœÿ" "ǆǅǄŉǰ"
            "αβγδεζηθλμπσςωΐΰάέ" "абвгджзийклмнопрщыэюя" "中文字符日本語かなカナ한국어"
            "ﬀﬁﬂﬃﬄﬅﬆ" "𐐨𐐩😀")
# Not UTF-8: stray continuation and lead bytes, an overlong, an encoded
# surrogate, cut sequences: all must come back unchanged.
INVALID = (b"\xff", b"\xfe", b"\x80", b"\xbf\xbf", b"\xc0\xaf", b"\xc3", b"\xe2\x82",
           b"\xed\xa0\x80", b"\xf0\x9f\x98", b"\xf8\x88\x80\x80\x80", b"\xc1\x81")


def word_pool(rng, n=3000):
    words = []
    for _ in range(n):
        if rng.random() < 0.03:
            words.append(rng.choice(INVALID))
        else:
            words.append("".join(rng.choice(ALPHABET)
                                 for _ in range(rng.randint(1, 30))).encode())
    return words


def random_text(rng, pool, size):
    """About size bytes (exactly size: cut anywhere) of pool's words."""
    out, n = [], 0
    while n < size:
        w = pool[rng.randrange(len(pool))]
        out.append(w)
        n += len(w)
    return b"".join(out)[:size]


def outq(s):
    """Bytes of our send queue the peer has not acknowledged (SIOCOUTQ)."""
    import fcntl
    import termios
    return struct.unpack("i", fcntl.ioctl(s.fileno(), termios.TIOCOUTQ, b"\0" * 4))[0]


def conf(port, io, ctl="", extra=""):
    return ('listen = ( { address = "127.0.0.1"; port = %d; tcp = true; udp = true; } );\n'
            'control_socket = "%s";\nio = "%s";\n%s\n' % (port, ctl, io, extra))


def start_line(log):
    """The loop named by the last start-up line of log, or None."""
    found = START_LINE.findall(log)
    return found[-1] if found else None


def io_lines(log):
    return [l for l in log.splitlines() if "io_uring" in l and "started:" not in l]


def nouring(err):
    if not os.access(NOURING, os.X_OK):
        raise unittest.SkipTest("no %s (make check builds it)" % NOURING)
    rc, _, msg = run([NOURING, err, "true"])
    if rc != 0:
        raise unittest.SkipTest("nouring cannot filter here: %s" % msg.decode().strip())
    return [NOURING, err]


def daemon(io, extra="", prefix=(), ctl=True, **kw):
    """A NetDaemon (control socket) on io."""
    d = nethelp.NetDaemon(extra='io = "%s";\n%s' % (io, extra), prefix=prefix, **kw)
    if not ctl:
        d.ctl = None
    return d


_URING = {}


def uring_usable():
    """(True, "") when io = "uring" starts here; else (False, its message)."""
    if not _URING:
        port = harness.free_port()
        tmp = harness.tempfile.mkdtemp(prefix="upcase-iomode-")
        path = os.path.join(tmp, "upcased.conf")
        with open(path, "w") as f:
            f.write(conf(port, "uring"))
        try:
            p = harness.subprocess.Popen([harness.UPCASED, "-f", "-c", path],
                                         stdout=harness.subprocess.PIPE,
                                         stderr=harness.subprocess.STDOUT)
            deadline = time.monotonic() + 10
            ok = False
            while time.monotonic() < deadline and p.poll() is None:
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=1).close()
                    ok = True
                    break
                except OSError:
                    time.sleep(0.02)
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            out = p.communicate(timeout=20)[0].decode(errors="replace")
            _URING["v"] = (ok, "" if ok else out.strip())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return _URING["v"]


class Peer:
    """One non-blocking client: sends data in chunks (random sizes 1..20000
    with rng), checks each byte that comes back against want as it comes."""

    def __init__(self, port, data, rng=None, rcvbuf=0, reading=True, half_close=True,
                 keep=False):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect: the window is offered at the handshake.
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.s.setblocking(False)
        e = self.s.connect_ex(("127.0.0.1", port))
        if e not in (0, errno.EINPROGRESS):
            raise OSError(e, os.strerror(e))
        self.data = memoryview(data)
        self.want = py_upper(data)
        self.rng = rng
        self.limit = len(data)
        self.sent = 0
        self.got = 0
        self.kept = bytearray() if keep else None
        self.reading = reading
        self.half_close = half_close
        self.shut = False
        self.eof = False
        self.error = None
        self.last = time.monotonic()

    def on_write(self):
        n = self.rng.randint(1, 20000) if self.rng else 1 << 18
        end = min(self.limit, self.sent + n)
        if end > self.sent:
            try:
                self.sent += self.s.send(self.data[self.sent:end])
                self.last = time.monotonic()
            except BlockingIOError:
                pass
            except OSError as e:
                self.error = "send after %d bytes: %s" % (self.sent, e)
                return
        if self.half_close and not self.shut and self.sent == len(self.data):
            self.s.shutdown(socket.SHUT_WR)
            self.shut = True

    def on_read(self):
        try:
            b = self.s.recv(1 << 18)
        except BlockingIOError:
            return
        except OSError as e:
            self.error = "recv after %d bytes: %s" % (self.got, e)
            return
        if not b:
            self.eof = True
            return
        self.last = time.monotonic()
        if self.kept is not None:
            self.kept += b
        elif self.want[self.got:self.got + len(b)] != b:
            self.error = "mismatch in bytes %d..%d" % (self.got, self.got + len(b))
        self.got += len(b)

    def wants(self):
        ev = 0
        if self.error or self.eof:
            return 0
        if self.reading:
            ev |= selectors.EVENT_READ
        if self.sent < self.limit or (self.half_close and not self.shut and
                                      self.sent == len(self.data)):
            ev |= selectors.EVENT_WRITE
        return ev

    def complete(self):
        return self.error is not None or (
            self.got == len(self.want) and (self.eof or not self.half_close))

    def close(self):
        self.s.close()


def pump(peers, seconds, until=None, tick=None):
    """Drive peers until every one is complete (or until() is true);
    False if seconds pass first."""
    sel = selectors.DefaultSelector()
    reg = {}
    deadline = time.monotonic() + seconds
    try:
        while True:
            for p in peers:
                ev = p.wants()
                have = reg.get(p)
                if ev != have:
                    if have:
                        sel.unregister(p.s)
                    if ev:
                        sel.register(p.s, ev, p)
                    reg[p] = ev
            if until() if until else all(p.complete() for p in peers):
                return True
            if time.monotonic() > deadline:
                return False
            for key, ev in sel.select(timeout=0.05):
                p = key.data
                if ev & selectors.EVENT_WRITE:
                    p.on_write()
                if ev & selectors.EVENT_READ:
                    p.on_read()
            if tick:
                tick()
    finally:
        sel.close()


def listing(ctl):
    """upcase --connections --json: {client port: state}, and {worker: connections}."""
    rc, out, err = run([UPCASE, "--connections", "--json", "-S", ctl, "-w", "10"], timeout=30)
    if rc != 0:
        raise AssertionError("upcase --connections: %d %r" % (rc, err))
    states, workers = {}, {}
    for line in out.decode().splitlines():
        o = json.loads(line)
        states[int(o["client"].rsplit(":", 1)[1])] = o["state"]
        workers[o["worker"]] = workers.get(o["worker"], 0) + 1
    return states, workers


class Choose(unittest.TestCase):
    """Which loop, and what is said of it."""

    def served(self, d):
        self.assertEqual(harness.tcp_roundtrip(d.port, "straße ǆ ﬁx".encode()),
                         "STRASSE Ǆ FIX".encode())
        rc, out, err = run([UPCASE, "-H", "127.0.0.1", "-p", str(d.port), "ωμέγα 中 ß"])
        self.assertEqual((rc, out, err), (0, "ΩΜΈΓΑ 中 SS\n".encode(), b""))

    def test_auto_falls_back_under_seccomp(self):
        for name in ("EPERM", "ENOSYS"):
            with self.subTest(errno=name):
                with harness.Daemon(extra='io = "auto";', prefix=nouring(name)) as d:
                    self.served(d)
                    log = d.wait_log(" started: ", timeout=10 * SLOW)
                    lines = io_lines(log)
                    self.assertEqual(len(lines), 1, log)
                    line = lines[0]
                    self.assertIn(FALLBACK, line)
                    self.assertIn("io_uring_setup: " + os.strerror(getattr(errno, name)), line)
                    self.assertIn("seccomp", line)
                    self.assertIn("SystemCallFilter=", line)
                    self.assertEqual(start_line(log), "epoll", log)
                    self.assertEqual(d.stop(), 0)
                    print("nouring %s, auto: %s" % (name, line))

    def test_uring_refused_under_seccomp(self):
        for name in ("EPERM", "ENOSYS"):
            with self.subTest(errno=name):
                port = harness.free_port()
                d = harness.Daemon(conf_text=conf(port, "uring"), port=port, wait=False,
                                   prefix=nouring(name))
                with d:
                    try:
                        rc = d.proc.wait(10 * SLOW)
                    except harness.subprocess.TimeoutExpired:
                        self.fail("io = uring under nouring did not exit:\n" + d.read_log())
                    log = d.read_log()
                    self.assertEqual(rc, 78, log)
                    want = ('%s: io = "uring", but io_uring cannot be used: io_uring_setup: %s'
                            % (d.conf_path, os.strerror(getattr(errno, name))))
                    self.assertIn(want, log)
                    self.assertIn("seccomp", log)
                    self.assertIsNone(start_line(log), log)
                    with socket.socket() as s:
                        self.assertNotEqual(s.connect_ex(("127.0.0.1", port)), 0,
                                            "something listens on the port")
                    print("nouring %s, uring: exit %d: %s" % (name, rc, log.strip()))

    def test_epoll_never_probes(self):
        for prefix in ((), "EPERM"):
            with self.subTest(nouring=prefix or "none"):
                with harness.Daemon(extra='io = "epoll";',
                                    prefix=nouring(prefix) if prefix else ()) as d:
                    self.served(d)
                    log = d.wait_log(" started: ", timeout=10 * SLOW)
                    self.assertEqual(io_lines(log), [], log)
                    self.assertEqual(start_line(log), "epoll", log)
                    self.assertEqual(d.stop(), 0)

    def test_auto_takes_io_uring(self):
        try:
            with open("/proc/sys/kernel/io_uring_disabled") as f:
                disabled = int(f.read())
        except (OSError, ValueError):
            disabled = 0
        confs = [('io = "auto";', "auto")]
        if not os.environ.get("UPCASE_TEST_IO"):
            confs.append(("", "the default"))    # with_test_io would add one
        for extra, what in confs:
            with self.subTest(io=what):
                with harness.Daemon(extra=extra) as d:
                    self.served(d)
                    log = d.wait_log(" started: ", timeout=10 * SLOW)
                    lines = io_lines(log)
                    if disabled or lines:
                        # io_uring is not to be had here: say why, once.
                        self.assertEqual(len(lines), 1, log)
                        self.assertIn(FALLBACK, lines[0])
                        self.assertEqual(start_line(log), "epoll", log)
                        print("%s: io_uring not usable here (io_uring_disabled %d): %s"
                              % (what, disabled, lines[0]))
                    else:
                        self.assertEqual(start_line(log), "io_uring", log)
                        print("%s: on io_uring" % what)
                    self.assertEqual(d.stop(), 0)


class Loop:
    """The same tests on either loop (IO)."""
    IO = None

    def setUp(self):
        self.rng = random.Random(SEED)
        self.pool = word_pool(self.rng)

    def check_loop(self, d):
        # TCP answers a moment before the start-up line is written.
        log = d.wait_log(" started: ", timeout=10 * SLOW)
        self.assertEqual(start_line(log), {"epoll": "epoll", "uring": "io_uring"}[self.IO])

    def test_concurrent_random_streams(self):
        with daemon(self.IO) as d:
            self.check_loop(d)
            peers = [Peer(d.port, random_text(self.rng, self.pool, self.rng.randint(20000, 120000)),
                          rng=random.Random(self.rng.random())) for _ in range(100)]
            t0 = time.monotonic()
            ok = pump(peers, 60)
            took = time.monotonic() - t0
            errors = [(i, p.error) for i, p in enumerate(peers) if p.error]
            short = [(i, p.got, len(p.want), p.eof) for i, p in enumerate(peers)
                     if p.got != len(p.want) or not p.eof]
            for p in peers:
                p.close()
            self.assertEqual(errors, [])
            self.assertTrue(ok and not short, "short: %s" % short)
            nbytes = sum(len(p.data) for p in peers)
            self.assertEqual(d.stop(), 0)
            print("%s: 100 concurrent streams, %d bytes in random chunks of 1..20000, all "
                  "correct in %.1f s" % (self.IO, nbytes, took))

    def test_buffers_not_held_by_non_readers(self):
        n_hog, size = 400, 200 * 1024
        if harness.raise_nofile(n_hog + 200) < n_hog + 100:
            self.skipTest("RLIMIT_NOFILE too low for %d connections" % n_hog)
        extra = ("max_connections = 2000;\nbacklog = 1024;\n"
                 "limits = { connections_per_source = 0; connection_rate = 0; min_rate = 0; };\n"
                 "tcp = { send_buffer = 16384; };\n")
        with daemon(self.IO, extra) as d:
            self.check_loop(d)
            harness.tcp_roundtrip(d.port, b"warm")
            base = d.rss_kib()
            texts = [random_text(self.rng, self.pool, size) for _ in range(8)]
            hogs = [Peer(d.port, texts[i % 8], rcvbuf=4096, reading=False)
                    for i in range(n_hog)]
            # Push until no hog has got anything more out for a second.
            t0 = time.monotonic()
            pump(hogs, 30 * SLOW,
                 until=lambda: time.monotonic() - max(h.last for h in hogs) > 1.0)
            errors = [(i, h.error) for i, h in enumerate(hogs) if h.error]
            self.assertEqual(errors, [])
            pushed = sum(h.sent for h in hogs)
            # Idle clients, answered once: reading.
            idle = []
            for i in range(5):
                s = socket.create_connection(("127.0.0.1", d.port), timeout=10)
                s.sendall(b"idle %d" % i)
                self.assertEqual(harness.recv_exactly(s, 6), b"IDLE %d" % i)
                idle.append(s)
            time.sleep(0.3)
            grown = d.rss_kib() - base
            before = d.stats()
            # The daemon took only what it can answer: the rest waits in
            # the sockets (its output is pending, it does not read).
            taken = before["upcased_tcp_bytes_in_total"] - 4 - 5 * 6
            self.assertLess(taken, n_hog * 128 * 1024, "the daemon read on regardless")
            # A slow build (TSan) may not have read every hog's first
            # bytes yet: each is flushing once it has; wait for that.
            deadline = time.monotonic() + 20 * SLOW
            while True:
                states, workers = listing(d.ctl)
                hog_states = [states.get(h.s.getsockname()[1]) for h in hogs]
                if hog_states.count("flushing") >= n_hog * 9 // 10 or \
                        time.monotonic() > deadline:
                    break
                time.sleep(0.5)
            idle_states = [states.get(s.getsockname()[1]) for s in idle]
            self.assertEqual(idle_states, ["reading"] * 5, states)
            self.assertNotIn(None, hog_states)
            self.assertLessEqual(set(hog_states), {"reading", "flushing"}, hog_states)
            flushing = hog_states.count("flushing")
            self.assertGreaterEqual(flushing, n_hog * 9 // 10, hog_states)
            # Well-behaved clients meanwhile: round trips, answered promptly.
            lat, bad = [], []

            def behaved(k):
                r = random.Random(k)
                try:
                    with socket.create_connection(("127.0.0.1", d.port), timeout=20) as s:
                        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                        for _ in range(10):
                            # Ends in ASCII: no cut sequence for the daemon to hold back.
                            q = random_text(r, self.pool, r.randint(1, 8000)) + b"\n"
                            want = py_upper(q)
                            t = time.monotonic()
                            s.sendall(q)
                            got = harness.recv_exactly(s, len(want))
                            lat.append(time.monotonic() - t)
                            if got != want:
                                bad.append((k, len(got), len(want)))
                except OSError as e:
                    bad.append((k, str(e)))
            threads = [threading.Thread(target=behaved, args=(k,)) for k in range(20)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
            self.assertEqual(bad, [])
            self.assertEqual(len(lat), 200)
            after = d.stats()
            nobufs = (before.get("upcased_tcp_uring_nobufs_total"),
                      after.get("upcased_tcp_uring_nobufs_total"))
            self.assertIsNotNone(nobufs[0], "no upcased_tcp_uring_nobufs_total")
            # With the 400 stalled, no receive found the pool empty.
            self.assertEqual(nobufs[0], nobufs[1])
            lat.sort()
            self.assertLess(lat[-1], 5.0 * SLOW, "a round trip took %.2f s" % lat[-1])
            # Each hog may have one transformed read (at most 48 KiB) unsent.
            bound = 8 * 1024 + n_hog * 48
            if harness.sanitizer() in ("address", "thread"):
                bound *= 2
            self.assertLess(grown, bound, "RSS grew by %d KiB" % grown)
            # Now the 400 read: each gets its whole 200 KiB back.
            t1 = time.monotonic()
            for h in hogs:
                h.reading = True
            ok = pump(hogs, 90)
            errors = [(i, h.error) for i, h in enumerate(hogs) if h.error]
            short = [(i, h.got, h.sent, h.eof) for i, h in enumerate(hogs)
                     if h.got != len(h.want) or not h.eof]
            self.assertEqual(errors, [])
            self.assertTrue(ok and not short, "short: %s" % short[:10])
            for h in hogs + [*idle]:
                h.close()
            self.assertEqual(d.stop(), 0)
            print("%s: %d clients not reading pushed %d bytes, the daemon read %d (%d KiB "
                  "each), %d flushing (per worker %s), RSS +%d KiB (bound %d); 200 round trips meanwhile: "
                  "median %.1f ms, max %.1f ms; nobufs %d -> %d; then all %d bytes back in "
                  "%.1f s (push %.1f s)"
                  % (self.IO, n_hog, pushed, taken, taken // n_hog // 1024, flushing,
                     sorted(workers.items()), grown,
                     bound, lat[100] * 1000, lat[-1] * 1000, nobufs[0], nobufs[1],
                     n_hog * size, time.monotonic() - t1, t1 - t0))

    def test_half_close(self):
        with daemon(self.IO) as d:
            self.check_loop(d)
            data = random_text(self.rng, self.pool, 300000) + b"end \xe2\x82"
            with socket.create_connection(("127.0.0.1", d.port), timeout=20) as s:
                # All of it, then our end of file, before reading a byte.
                t = threading.Thread(target=lambda: (s.sendall(data), s.shutdown(socket.SHUT_WR)))
                t.start()
                got = harness.recv_all(s)       # to the daemon's end of file
                t.join(20)
            self.assertEqual(got, py_upper(data))
            self.assertTrue(got.endswith(b"END \xe2\x82"))
            rc, out, err = run([UPCASE, "-H", "127.0.0.1", "-p", str(d.port)], input=data,
                               timeout=30)
            self.assertEqual((rc, err), (0, b""))
            self.assertEqual(out, py_upper(data))
            self.assertEqual(d.stop(), 0)

    def test_no_nagle_delay(self):
        # Two small writes, then a read: with Nagle's algorithm on the
        # daemon's side its second answer waits for the client's ACK of
        # the first.  Accepted sockets inherit TCP_NODELAY from the
        # listener (tcp.c sets it there).  Timed against the same round
        # trips made of one write each, which Nagle cannot delay (about
        # 25 times slower without TCP_NODELAY here, about the same with).
        def rounds(s, parts):
            t0 = time.monotonic()
            for i in range(300):
                # Our ACKs delayed, as a busy client's are.
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_QUICKACK, 0)
                for p in parts:
                    s.send(p)
                self.assertEqual(harness.recv_exactly(s, 3), b"XSS")
            return time.monotonic() - t0

        with daemon(self.IO) as d:
            self.check_loop(d)
            with socket.create_connection(("127.0.0.1", d.port), timeout=20) as s:
                s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                one = rounds(s, [b"x\xc3\x9f"])        # \xc3\x9f: \u00df, SS
                two = rounds(s, [b"x", b"\xc3\x9f"])
            print("%s: 300 round trips of one write %.3f s, of two writes %.3f s"
                  % (self.IO, one, two))
            self.assertLess(two, 5 * one + 0.05)
            self.assertEqual(d.stop(), 0)

    def test_graceful_stop_while_streaming(self):
        with daemon(self.IO, "shutdown_timeout = 20;\ntcp = { send_buffer = 16384; };") as d:
            self.check_loop(d)
            # The first 5 do not read (until the stop) and send all at once,
            # up to what the sockets between us hold: the daemon has their
            # output pending at the stop.
            peers = [Peer(d.port, random_text(self.rng, self.pool, self.rng.randint(
                          80000, 120000) if i < 5 else self.rng.randint(100000, 300000)),
                          rng=random.Random(self.rng.random()), half_close=False, keep=True,
                          rcvbuf=4096 if i < 5 else 0, reading=i >= 5)
                     for i in range(20)]
            # Mid-stream: each sends at its own pace for a second.
            t0 = time.monotonic()
            for p in peers:
                p.limit = 0

            def pace():
                frac = min(1.0, (time.monotonic() - t0) / 3.0)
                for p in peers:
                    p.limit = len(p.data) if not p.reading else max(p.limit, int(len(p.data) * frac))
            pump(peers, 1.0, until=lambda: time.monotonic() - t0 > 1.0, tick=pace)
            # Stop sending; wait until every byte sent is in the daemon's socket.
            for p in peers:
                p.limit = p.sent
            pump(peers, 15 * SLOW, until=lambda: all(outq(p.s) == 0 for p in peers))
            self.assertEqual([outq(p.s) for p in peers], [0] * 20)
            owed = sum(len(py_upper(bytes(p.data[:p.sent]))) - len(p.kept) for p in peers)
            states = listing(d.ctl)[0]
            flushing = sum(1 for p in peers if states.get(p.s.getsockname()[1]) == "flushing")
            self.assertGreater(flushing, 0, "no output pending at the stop: %s" % states)
            t1 = time.monotonic()
            d.send_signal(signal.SIGTERM)
            for p in peers:
                p.reading = True
            ok = pump(peers, 30, until=lambda: all(p.eof or p.error for p in peers))
            drained = time.monotonic() - t1
            errors = [(i, p.error) for i, p in enumerate(peers) if p.error]
            self.assertEqual(errors, [])
            self.assertTrue(ok, "no end of file for %s" % [i for i, p in enumerate(peers)
                                                          if not p.eof])
            for i, p in enumerate(peers):
                self.assertEqual(bytes(p.kept), py_upper(bytes(p.data[:p.sent])),
                                 "client %d: %d bytes back for %d sent" % (i, len(p.kept), p.sent))
                p.close()
            rc = d.stop(timeout=20)
            self.assertEqual(rc, 0, d.read_log())
            self.assertIn("stopped", d.read_log())
            print("%s: SIGTERM with 20 clients mid-stream (%d bytes sent, %d owed, %d "
                  "flushing): all answered, end of file after %.2f s"
                  % (self.IO, sum(p.sent for p in peers), owed, flushing, drained))

    def test_live_upgrade_switches_loop(self):
        from t_upgrade import Stream, Upgradable
        other = {"epoll": "uring", "uring": "epoll"}[self.IO]
        ok, why = uring_usable()
        if not ok:
            self.skipTest("io = \"uring\" cannot start here: %s" % why)
        name = {"epoll": "epoll", "uring": "io_uring"}
        up = Upgradable(extra='io = "%s";\nupgrade_timeout = 10;' % self.IO)
        try:
            up.wait_log(" started: ")
            self.assertEqual(start_line(up.read_log()), name[self.IO])
            rng = random.Random(SEED)
            streams = [Stream(up.port, random.Random(rng.random()), rng.randint(20000, 60000))
                       for _ in range(30)]
            streams += [Stream(up.port, random.Random(rng.random()), 150000, stall=True,
                               rcvbuf=4096) for _ in range(10)]
            stop = threading.Event()
            t_start = time.monotonic()
            span = 3.0

            def limit_of(st):
                if st.stall:
                    return len(st.data)
                return int(len(st.data) * min(1.0, (time.monotonic() - t_start) / span))

            def drive():
                sel = selectors.DefaultSelector()
                for st in streams:
                    sel.register(st.s, selectors.EVENT_READ, st)
                deadline = time.monotonic() + 60
                while time.monotonic() < deadline:
                    for st in streams:
                        if not (st.error or st.eof):
                            st.send_some(limit_of(st))
                    for key, _ in sel.select(timeout=0.005):
                        st = key.data
                        if st.stall and not stop.is_set():
                            continue
                        st.recv_some()
                        if st.eof or st.error:
                            sel.unregister(st.s)
                    if stop.is_set() and all(st.error or st.eof or len(st.got) == len(st.want)
                                             for st in streams):
                        return
                    time.sleep(0.002)

            driver = threading.Thread(target=drive)
            driver.start()
            pids, lines = [up.pid], []
            try:
                for io in (other, self.IO):
                    time.sleep(0.8)
                    up.write_conf('listen = ( { address = "127.0.0.1"; port = %d; } );\n'
                                  'pidfile = "%s";\ncontrol_socket = "%s";\nio = "%s";\n'
                                  'upgrade_timeout = 10;\n' % (up.port, up.pidfile, up.ctl, io))
                    old = up.pid
                    pid, _ = up.upgrade(timeout=30)
                    pids.append(pid)
                    up.wait_log("took over from pid %d" % old, timeout=20)
                    line = [l for l in up.read_log().splitlines()
                            if "took over from pid %d" % old in l][0]
                    lines.append(line)
                    self.assertEqual(start_line(line), name[io], line)
            finally:
                stop.set()
                driver.join(90)
            errors = [(i, st.error) for i, st in enumerate(streams) if st.error]
            self.assertEqual(errors, [])
            short = [(i, len(st.got), len(st.want), st.sent, st.eof)
                     for i, st in enumerate(streams) if len(st.got) != len(st.want)]
            self.assertEqual(short, [], "streams short of their answer")
            self.assertFalse(any(st.eof for st in streams), "a stream was closed on")
            self.assertEqual(len(set(pids)), 3, pids)
            s = up.stats()
            self.assertEqual(s.get("upcased_upgrades_total"), 2)
            self.assertEqual(s.get("upcased_tcp_connections_open"), 40)
            print("%s -> %s -> %s: 40 streams (10 not reading), %d bytes, nothing lost; "
                  "pids %s" % (self.IO, other, self.IO, sum(len(st.want) for st in streams),
                               pids))
            for st in streams:
                st.s.close()
        finally:
            up.stop()


class IoEpoll(Loop, unittest.TestCase):
    IO = "epoll"


class IoUring(Loop, unittest.TestCase):
    IO = "uring"

    def setUp(self):
        ok, why = uring_usable()
        if not ok:
            self.skipTest("io = \"uring\" cannot start here: %s" % why)
        super().setUp()


if __name__ == "__main__":
    unittest.main(verbosity=2)
