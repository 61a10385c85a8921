#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_reload_load.py: reload under load.

100 SIGHUPs, valid and broken configurations alternating, while 50 clients
stream checked bytes on connections that stay open throughout:

- The broken files are syntax errors, values out of range, unknown
  settings, @include of a missing file, of a directory, of a file with a
  syntax error and of a FIFO.  Each must be refused ("reload failed") with
  the daemon alive and serving.
- Each valid file has its own max_connections (101, 102, ... 150) and
  alternates charset between utf-8 and ascii, some of it through an
  @include: at the end, the daemon must serve exactly max_connections of
  the last valid file (150) and refuse the next, with its charset (ascii),
  though the last file it was sent was broken.
- The SIGHUPs are paced: each waits for its reload's log line, success or
  failure, so these are 100 real reloads.
- The 50 clients (one selector loop, non-blocking sockets) send random
  chunk sizes, from 1 byte up, of mixed ASCII, multi-byte UTF-8 and a few
  invalid bytes, so characters are cut between writes, and check every
  byte that comes back against py_upper.  Their connections were accepted
  under charset utf-8 and keep it whatever the reloads set.  0 mismatches,
  0 dropped connections.
"""
import os
import random
import selectors
import signal
import socket
import threading
import time
import unittest

import harness
import nethelp
from harness import py_upper
from nethelp import NetDaemon, delta, tcp_from, probe, closed_at_once

SEED = int(os.environ.get("TEST_SEED", "12000"))
CLIENTS = 50
RELOADS = 100
RELOAD_WAIT = 10.0        # s for one reload's log line
BLOCK = 32 * 1024         # each client's text, sent over and over
MAX_CONN_BASE = 100       # valid file k has max_connections = 100 + k


def make_text(rng, n):
    """About n bytes of mixed text that starts and ends with ASCII, so
    that repetitions of it transform independently."""
    alphabet = "abcdefghijklmnopqrstuvwxyz 0123456789 ßéàçöñﬁﬃΐŉǰǆя中𐐨😀\n"
    parts = [b"start "]
    size = 6
    while size < n:
        if rng.random() < 0.97:
            p = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 40))).encode()
        else:               # invalid bytes, copied unchanged, between ASCII
            p = b" " + bytes(rng.choice([0xff, 0xc0, 0x80, 0xed, 0xe2, 0xf0]) for _ in range(rng.randint(1, 3))) + b" "
        parts.append(p)
        size += len(p)
    parts.append(b" end\n")
    return b"".join(parts)


def chunk_size(rng):
    r = rng.random()
    if r < 0.25:
        return rng.randint(1, 3)        # cuts characters
    if r < 0.8:
        return rng.randint(4, 2000)
    return rng.randint(2000, 16384)


class Streamer:
    """One client: sends its text over and over in random chunks; checks
    what comes back against py_upper of the text, cyclically."""

    def __init__(self, idx, port, rng):
        self.idx = idx
        self.rng = random.Random(rng.random())
        self.text = make_text(self.rng, BLOCK)
        self.want = py_upper(self.text)
        assert py_upper(self.text * 2) == self.want * 2
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.sent = 0
        self.got = 0
        self.pending = b""          # taken from the text, not yet accepted by send()
        self.stopping = False       # finish the current repetition, then half-close
        self.half_closed = False
        self.eof = False
        self.dropped = None         # why the connection ended early
        self.mismatches = 0
        self.first_mismatch = None

    def next_chunk(self):
        n = chunk_size(self.rng)
        off = self.sent % len(self.text)
        if self.stopping:
            n = min(n, len(self.text) - off)
        end = off + n
        c = self.text[off:end]
        if end > len(self.text):
            c += self.text[:end - len(self.text)]
        return c

    def on_write(self):
        if self.half_closed:
            return
        if not self.pending:
            if self.stopping and self.sent % len(self.text) == 0:
                self.sock.shutdown(socket.SHUT_WR)
                self.half_closed = True
                return
            self.pending = self.next_chunk()
        try:
            k = self.sock.send(self.pending)
        except BlockingIOError:
            return
        except OSError as e:
            self.dropped = "send: %s" % e
            return
        self.pending = self.pending[k:]
        self.sent += k

    def on_read(self):
        try:
            b = self.sock.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.dropped = "recv: %s" % e
            return
        if not b:
            self.eof = True
            if not self.half_closed:
                self.dropped = "EOF before the client half-closed"
            return
        off = self.got % len(self.want)
        expect = self.want[off:off + len(b)]
        while len(expect) < len(b):
            expect += self.want[:len(b) - len(expect)]
        if b != expect:
            self.mismatches += 1
            if self.first_mismatch is None:
                i = next(j for j in range(len(b)) if b[j] != expect[j])
                self.first_mismatch = (self.got + i, b[i:i + 16], expect[i:i + 16])
        self.got += len(b)

    def done(self):
        return self.eof or self.dropped is not None


def stream_loop(streamers, stop, deadline, pace=0.002):
    """Serve every streamer until each has half-closed and seen EOF (or
    dropped), or deadline (monotonic).  After stop is set, streamers end
    at their next repetition boundary."""
    sel = selectors.DefaultSelector()
    for s in streamers:
        sel.register(s.sock, selectors.EVENT_READ | selectors.EVENT_WRITE, s)
    live = set(streamers)
    stopping = False
    while live and time.monotonic() < deadline:
        if stop.is_set() and not stopping:
            stopping = True
            for s in streamers:
                s.stopping = True
        for key, ev in sel.select(timeout=0.2):
            s = key.data
            if ev & selectors.EVENT_READ:
                s.on_read()
            if ev & selectors.EVENT_WRITE and not s.done():
                s.on_write()
                if s.half_closed:
                    sel.modify(s.sock, selectors.EVENT_READ, s)
            if s.done():
                sel.unregister(s.sock)
                live.discard(s)
        time.sleep(pace)      # a steady stream, not a CPU hog: the reloads need the cores too
    sel.close()


class ReloadUnderLoad(unittest.TestCase):
    def setUp(self):
        self.rng = random.Random(SEED)

    def base(self, d, k):
        """Valid file k: max_connections 100+k, charset ascii for even k."""
        charset = "ascii" if k % 2 == 0 else "utf-8"
        inc = os.path.join(d.dir, "charset-%d.conf" % k)
        if k % 5 == 0:      # some of it through an @include
            with open(inc, "w") as f:
                f.write('charset = "%s";\n' % charset)
            line = '@include "charset-%d.conf"' % k
        else:
            line = 'charset = "%s";' % charset
        return "max_connections = %d;\n%s\n" % (MAX_CONN_BASE + k, line)

    def broken(self, d, j, k):
        """Broken file j (the last valid file was k)."""
        ok = "max_connections = %d;\n" % (MAX_CONN_BASE + k)
        kinds = [
            ("syntax error", ok + "idle_timeout = ;\n"),
            ("@include of a missing file", ok + '@include "missing-%d.conf"\n' % j),
            ("value out of range", ok + "max_connections = 0;\n"),
            ("@include of a directory", ok + '@include "incdir"\n'),
            ("unknown setting", ok + "max_conections = 5;\n"),
            ("@include of a file with a syntax error", ok + '@include "bad-inc.conf"\n'),
            # What a FIFO would give (if anything) is not the point: the
            # reload must not block on it; the next line is wrong anyway.
            ("@include of a FIFO", ok + '@include "fifo"\nidle_timeout = 0;\n'),
        ]
        return kinds[j % len(kinds)]

    def reload(self, d, extra, what):
        """SIGHUP with extra; wait for this reload's outcome.  True if
        applied, False if refused; fails if neither comes."""
        before = d.read_log()
        d.write_conf(d.conf(extra))
        d.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + RELOAD_WAIT
        while time.monotonic() < deadline:
            if d.proc.poll() is not None:
                self.fail("upcased died (exit %s) on a reload with %s:\n%s"
                          % (d.proc.returncode, what, d.read_log()[len(before):]))
            new = d.read_log()[len(before):]
            if "configuration reloaded" in new:
                return True, new
            if "reload failed" in new:
                return False, new
            time.sleep(0.01)
        self.fail("no outcome of a reload with %s within %.0f s (main thread blocked?):\n%s"
                  % (what, RELOAD_WAIT, d.read_log()[len(before):]))

    def test_hundred_reloads_while_streaming(self):
        harness.raise_nofile(1024)
        with NetDaemon(extra="max_connections = 100;") as d:
            os.mkdir(os.path.join(d.dir, "incdir"))
            with open(os.path.join(d.dir, "bad-inc.conf"), "w") as f:
                f.write("idle_timeout = = 3;\n")
            os.mkfifo(os.path.join(d.dir, "fifo"))
            time.sleep(0.3)          # the readiness probe's close is seen
            before = d.stats()
            streamers = [Streamer(i, d.port, self.rng) for i in range(CLIENTS)]
            stop = threading.Event()
            t = threading.Thread(target=stream_loop,
                                 args=(streamers, stop, time.monotonic() + 120), daemon=True)
            t0 = time.monotonic()
            t.start()
            ok = refused = 0
            k = 0                    # the last valid file applied
            times = []
            try:
                for i in range(RELOADS):
                    if i % 2 == 0:
                        k += 1
                        what = "valid file %d" % k
                        r0 = time.monotonic()
                        applied, line = self.reload(d, self.base(d, k), what)
                        self.assertTrue(applied, "%s was refused:\n%s" % (what, line))
                        ok += 1
                    else:
                        what, extra = self.broken(d, i // 2, k)
                        r0 = time.monotonic()
                        applied, line = self.reload(d, extra, what)
                        self.assertFalse(applied, "a file with %s was applied" % what)
                        refused += 1
                    times.append(time.monotonic() - r0)
                    self.assertIsNone(d.proc.poll())
                    time.sleep(0.1)  # let the clients stream between reloads
            finally:
                stop.set()
                t.join(60)
                for s in streamers:
                    s.sock.close()
            self.assertFalse(t.is_alive(), "the streaming clients never finished")
            elapsed = time.monotonic() - t0
            sent = sum(s.sent for s in streamers)
            got = sum(s.got for s in streamers)
            mism = sum(s.mismatches for s in streamers)
            dropped = [(s.idx, s.dropped) for s in streamers if s.dropped]
            unfinished = [s.idx for s in streamers if not s.eof and not s.dropped]
            times.sort()
            print("reload under load: %d reloads (%d ok, %d refused) in %.1f s; reload took "
                  "median %.0f ms, max %.0f ms; %d clients streamed %d bytes, got %d back; "
                  "%d mismatching reads, %d dropped"
                  % (ok + refused, ok, refused, elapsed, 1000 * times[len(times) // 2],
                     1000 * times[-1], CLIENTS, sent, got, mism, len(dropped)))
            bad = [(s.idx, s.first_mismatch) for s in streamers if s.mismatches]
            self.assertEqual(bad, [], "replies differ from py_upper (at byte, got, want)")
            self.assertEqual(dropped, [], "connections dropped during the reloads")
            self.assertEqual(unfinished, [], "clients whose reply never ended")
            for s in streamers:
                reps = s.sent // len(s.text)
                self.assertEqual(s.sent % len(s.text), 0)
                self.assertEqual(s.got, reps * len(s.want),
                                 "client %d: %d bytes back for %d repetitions" % (s.idx, s.got, reps))
            self.assertGreater(sent, CLIENTS * BLOCK, "the clients hardly streamed")

            log = d.read_log()
            self.assertEqual(log.count("configuration reloaded"), ok)
            self.assertEqual(log.count("reload failed"), refused)
            after = d.stats()
            self.assertEqual(delta(before, after, "reloads"), ok)
            self.assertEqual(delta(before, after, "reload_failures"), refused)
            self.assertEqual(delta(before, after, "tcp_connection_errors"), 0)
            self.assertEqual(delta(before, after, "tcp_idle_timeouts"), 0)

            # The daemon runs the last valid file, k, though the last one sent was broken.
            self.check_running_config(d, k)
            self.assertEqual(d.stop(), 0)

    def check_running_config(self, d, k):
        """max_connections is 100 + k and charset ascii (k even)."""
        self.assertEqual(k % 2, 0)
        deadline = time.monotonic() + 5
        while d.stats()["upcased_tcp_connections_open"] and time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(d.stats()["upcased_tcp_connections_open"], 0)
        limit = MAX_CONN_BASE + k
        held = []
        try:
            for i in range(limit):
                s = tcp_from("127.0.0.1", d.port)
                held.append(s)
                self.assertEqual(probe(s, "aß %d".encode() % i), "Aß %d".encode() % i,
                                 "connection %d of max_connections %d not served (with charset ascii)"
                                 % (i + 1, limit))
            s = tcp_from("127.0.0.1", d.port)
            held.append(s)
            self.assertTrue(closed_at_once(s), "connection %d served: max_connections is not %d"
                            % (limit + 1, limit))
            d.wait_log("max_connections (%d) reached" % limit)
        finally:
            for s in held:
                s.close()
        print("running configuration after the reloads: max_connections %d, charset ascii (valid file %d)"
              % (limit, k))


if __name__ == "__main__":
    nethelp.main()
