#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_srclimits.py: per-source limits against the real daemon.

UDP: udp.rate_limit / burst / leak / exempt / table_size (replies per
second per source, one in leak over-limit datagrams still answered, a
bounded table of sources).  TCP: limits.connections_per_source,
connection_rate / connection_burst, min_rate / min_rate_window (slow
clients closed while more than half of max_connections are open).  Rate
state survives a reload.  Every test sets exempt = ( ): the default exempts
loopback, and every client here is on loopback.  Distinct sources are
127.0.0.x (client sockets bound to them); forged ones (raw socket, root)
are 127.1.x.y.
"""
import math
import os
import shutil
import tempfile
import time
import unittest

import harness
import nethelp
from nethelp import (NetDaemon, delta, tcp_from, probe, closed_at_once, try_serve,
                     udp_from, drain, IS_ROOT, NEEDS_ROOT)

MiB = 1 << 20


def flood(d, src, n=600, seconds=1.0, calm_src=None, calm_n=20):
    """Send n datagrams from src in bursts over about seconds, draining the
    replies as they come; meanwhile calm_src sends calm_n spread evenly.
    Returns (flood answers, calm answers, send time in s)."""
    addr = ("127.0.0.1", d.port)
    f = udp_from(src, rcvbuf=4 * MiB)
    c = udp_from(calm_src, rcvbuf=MiB) if calm_src else None
    rounds = calm_n if c else 20
    per = n // rounds
    sent = answers = calm = 0
    try:
        t0 = time.monotonic()
        for r in range(rounds):
            for _ in range(per if r < rounds - 1 else n - sent):
                f.sendto(b"flood %d" % sent, addr)
                sent += 1
            if c:
                c.sendto(b"calm %d" % r, addr)
            answers += len(drain(f))
            if c:
                calm += len(drain(c))
            pause = t0 + (r + 1) * seconds / rounds - time.monotonic()
            if pause > 0:
                time.sleep(pause)
        elapsed = time.monotonic() - t0
        answers += len(drain(f, 0.5))
        if c:
            calm += len(drain(c, 0.2))
    finally:
        f.close()
        if c:
            c.close()
    assert sent == n
    return answers, calm, elapsed


class UdpRateLimit(unittest.TestCase):
    RATE, BURST, LEAK = 50, 20, 4

    def test_flooder_limited_with_leak_other_source_untouched(self):
        extra = "udp = { rate_limit = %d; burst = %d; leak = %d; exempt = ( ); };" % (
            self.RATE, self.BURST, self.LEAK)
        with NetDaemon(extra=extra) as d:
            before = d.stats()
            n = 600
            answers, calm, elapsed = flood(d, "127.0.0.5", n, 1.0, calm_src="127.0.0.6", calm_n=20)
            after = d.stats()
            # The daemon may see the last ones a little later (at most the drain time).
            passed_max = self.BURST + self.RATE * (elapsed + 0.5)
            upper = passed_max + (n - self.BURST) / self.LEAK + 3
            print("udp flood: %d sent in %.2f s, %d answered (burst %d + rate*elapsed %.0f = %.0f; "
                  "upper bound with leak %.0f); quiet source: %d/20 answered"
                  % (n, elapsed, answers, self.BURST, self.RATE * elapsed,
                     self.BURST + self.RATE * elapsed, upper, calm))
            self.assertEqual(calm, 20, "the quiet source 127.0.0.6 lost answers to the flooder's limit")
            self.assertGreaterEqual(answers, self.BURST, "the flooder did not even get its burst")
            self.assertLessEqual(answers, upper, "the flooder got more than burst + rate*t + leak")
            self.assertGreater(answers, self.BURST + self.RATE * elapsed,
                               "no over-limit datagram was leaked (leak = %d)" % self.LEAK)
            got_in = delta(before, after, "udp_datagrams_in")
            dropped = delta(before, after, "udp_datagrams_dropped_rate_limit")
            leaked = delta(before, after, "udp_datagrams_leaked")
            print("udp flood counters: in %d, dropped_rate_limit %d, leaked %d, out %d"
                  % (got_in, dropped, leaked, delta(before, after, "udp_datagrams_out")))
            # What the daemon saw (the kernel may drop some if it falls behind).
            flood_in = got_in - calm
            if got_in != n + 20:
                print("note: %d datagrams never reached the daemon" % (n + 20 - got_in))
            self.assertGreaterEqual(flood_in, n * 9 // 10, "most of the flood never reached the daemon")
            self.assertEqual(dropped, flood_in - answers,
                             "dropped_rate_limit must be what the flooder did not get back")
            self.assertEqual(delta(before, after, "udp_datagrams_out"), answers + calm)
            over = dropped + leaked
            self.assertLessEqual(abs(leaked - over // self.LEAK), 1,
                                 "leaked %d is not one in %d of %d over-limit datagrams" % (leaked, self.LEAK, over))
            d.wait_log("dropped a datagram from 127.0.0.5:")
            self.assertEqual(d.stop(), 0)

    def test_exempt_source_fully_answered(self):
        extra = ('udp = { rate_limit = %d; burst = %d; leak = %d; exempt = ( "127.0.0.1" ); };'
                 % (self.RATE, self.BURST, self.LEAK))
        with NetDaemon(extra=extra) as d:
            before = d.stats()
            answers, _, elapsed = flood(d, "127.0.0.1", 600, 1.0)
            after = d.stats()
            print("exempt flood: %d of 600 answered in %.2f s" % (answers, elapsed))
            self.assertEqual(answers, 600, "an exempt source was rate-limited")
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_rate_limit"), 0)
            # Not exempt: limited in the same daemon.
            s = udp_from("127.0.0.2", rcvbuf=MiB)
            try:
                for i in range(60):
                    s.sendto(b"x %d" % i, ("127.0.0.1", d.port))
                got = len(drain(s, 0.5))
            finally:
                s.close()
            self.assertLess(got, 60, "127.0.0.2 is not exempt and must be limited")
            self.assertEqual(d.stop(), 0)


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class ManySources(unittest.TestCase):
    def test_table_bounded_by_table_size(self):
        extra = "udp = { table_size = 1024; rate_limit = 10; exempt = ( ); };"
        with NetDaemon(extra=extra) as d:
            for i in range(20):                       # warm up the buffers
                self.assertIsNotNone(harness.udp_roundtrip(d.port, b"warm %d" % i))
            time.sleep(0.2)
            before = d.stats()
            rss0 = d.rss_kib()
            n = 60000
            t0 = time.monotonic()
            with nethelp.Forger() as f:
                for i in range(n):
                    src = "127.%d.%d.%d" % (1 + i // 62500, i // 250 % 250, i % 250 + 1)
                    # Below the ephemeral range (32768 up): the replies to
                    # these sources must not reach another test's client
                    # socket, bound to the wildcard address on a port of it.
                    sport = 20000 + i % 10000
                    f.send(src, sport, "127.0.0.1", d.port, b"source %d" % i)
                    if i % 200 == 199:
                        time.sleep(0.002)    # let the daemon keep up: we count what arrived
            sent_for = time.monotonic() - t0
            time.sleep(0.5)
            rss1 = d.rss_kib()
            after = d.stats()
            got = delta(before, after, "udp_datagrams_in")
            print("many sources: %d forged datagrams in %.2f s, %d reached the daemon, "
                  "%d answered; RSS %d KiB -> %d KiB (+%d KiB), peak %d KiB"
                  % (n, sent_for, got, delta(before, after, "udp_datagrams_out"),
                     rss0, rss1, rss1 - rss0, d.hwm_kib()))
            self.assertGreaterEqual(got, n * 3 // 4, "too few forged datagrams arrived for the test to mean much")
            # One datagram per source: every source is new to the table (or
            # was evicted), with a full bucket, so every one is answered.
            self.assertEqual(delta(before, after, "udp_datagrams_out"), got,
                             "a first datagram from a new source went unanswered")
            # The tables (64 KiB each at table_size 1024) fill as sources
            # come; an unbounded one would take 64 bytes per source in each
            # of two tables: 7.3 MiB for these 60000.  3 MiB tells the two
            # apart, with room for a sanitizer's own bookkeeping.
            self.assertLess(rss1 - rss0, 3072,
                            "RSS grew by %d KiB for %d sources with table_size = 1024" % (rss1 - rss0, n))
            self.assertEqual(harness.udp_roundtrip(d.port, b"still here"), b"STILL HERE")
            self.assertEqual(harness.tcp_roundtrip(d.port, b"still here"), b"STILL HERE")
            self.assertEqual(d.stop(), 0)


class PerSourceConnections(unittest.TestCase):
    def test_cap_of_five(self):
        with NetDaemon(extra="limits = { connections_per_source = 5; exempt = ( ); };") as d:
            before = d.stats()
            held = []
            try:
                for i in range(5):
                    s = tcp_from("127.0.0.7", d.port)
                    held.append(s)
                    self.assertEqual(probe(s, b"held %d" % i), b"HELD %d" % i,
                                     "connection %d of 5 from 127.0.0.7 was not served" % (i + 1))
                sixth = tcp_from("127.0.0.7", d.port)
                try:
                    self.assertTrue(closed_at_once(sixth), "a 6th connection from 127.0.0.7 was served")
                finally:
                    sixth.close()
                self.assertTrue(try_serve("127.0.0.8", d.port, b"other source"),
                                "127.0.0.8 refused although only 127.0.0.7 is at its cap")
                for i, s in enumerate(held):        # the five are still served
                    self.assertEqual(probe(s, b"again"), b"AGAIN", "held connection %d lost" % i)
                self.assertEqual(delta(before, d.stats(), "tcp_connections_refused_per_source"), 1)
                held.pop().close()
                # Room again once the daemon has seen the close.
                ok, tries = False, 0
                deadline = time.monotonic() + 3
                while not ok and time.monotonic() < deadline:
                    tries += 1
                    ok = try_serve("127.0.0.7", d.port, b"room")
                    if not ok:
                        time.sleep(0.1)
                self.assertTrue(ok, "closing one of the 5 did not let a new connection in")
                after = d.stats()
                self.assertEqual(delta(before, after, "tcp_connections_refused_per_source"), tries)
                self.assertEqual(delta(before, after, "tcp_connections_refused_rate"), 0)
                d.wait_log("refused a connection from 127.0.0.7:")
                d.wait_log("connections_per_source")
            finally:
                for s in held:
                    s.close()
            self.assertEqual(d.stop(), 0)


    def test_full_table_never_refuses_a_new_source(self):
        """1200 sources each hold a connection in a 1024-entry table: a source
        the table has no room for is let in uncounted, never refused."""
        import resource
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        if hard != resource.RLIM_INFINITY and hard < 2600:
            self.skipTest("needs 2600 descriptors (hard limit %d)" % hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, 2600), hard))
        n = 1200
        with NetDaemon(extra="max_connections = 2000;\n"
                       "limits = { connections_per_source = 2; connection_rate = 0;"
                       " table_size = 1024; exempt = ( ); };") as d:
            before = d.stats()
            held = []
            try:
                for i in range(n):
                    s = tcp_from("127.2.%d.%d" % (i // 250, 1 + i % 250), d.port)
                    held.append(s)
                    s.sendall(b"x")
                for i, s in enumerate(held):
                    self.assertEqual(s.recv(1), b"X", "source %d of %d was not served" % (i + 1, n))
                after = d.stats()
                self.assertEqual(delta(before, after, "tcp_connections_refused_per_source"), 0)
                self.assertGreaterEqual(delta(before, after, "tcp_connections_accepted"), n)
                untracked = delta(before, after, "tcp_connections_untracked")
                print("1200 sources in a 1024-entry table: %d let in uncounted" % untracked)
                self.assertGreater(untracked, 0, "the table cannot hold 1200 pinned sources")
                d.wait_log("limits.table_size (1024) has no room")
            finally:
                for s in held:
                    s.close()
            self.assertEqual(d.stop(), 0)


class ConnectionRate(unittest.TestCase):
    RATE = BURST = 5

    def attempts(self, d, src, n):
        t0 = time.monotonic()
        ok = sum(try_serve(src, d.port, b"x") for _ in range(n))
        return ok, time.monotonic() - t0

    def test_rate_and_burst(self):
        extra = ("limits = { connections_per_source = 0; connection_rate = %d; "
                 "connection_burst = %d; exempt = ( ); };" % (self.RATE, self.BURST))
        with NetDaemon(extra=extra) as d:
            before = d.stats()
            ok1, e1 = self.attempts(d, "127.0.0.9", 20)
            mid = settled_stats(d, before, "tcp_connections_refused_rate", 20 - ok1)
            self.assertTrue(try_serve("127.0.0.10", d.port), "another source was refused")
            time.sleep(1.0)
            ok2, e2 = self.attempts(d, "127.0.0.9", 20)
            after = settled_stats(d, mid, "tcp_connections_refused_rate", 20 - ok2)
            print("connection rate %d/s, burst %d: %d of 20 served in %.2f s; after 1 s: %d of 20 in %.2f s"
                  % (self.RATE, self.BURST, ok1, e1, ok2, e2))
            self.assertGreaterEqual(ok1, self.BURST, "fewer than the burst were served")
            self.assertLessEqual(ok1, self.BURST + math.ceil(self.RATE * e1) + 1,
                                 "more than burst + rate*t were served")
            self.assertEqual(delta(before, mid, "tcp_connections_refused_rate"), 20 - ok1)
            self.assertGreaterEqual(ok2, self.BURST - 1, "the bucket did not refill in 1 s")
            self.assertLessEqual(ok2, self.BURST + math.ceil(self.RATE * e2) + 1)
            self.assertEqual(delta(mid, after, "tcp_connections_refused_rate"), 20 - ok2)
            self.assertEqual(delta(before, after, "tcp_connections_refused_per_source"), 0)
            d.wait_log("refused a connection from 127.0.0.9:")
            self.assertEqual(d.stop(), 0)


def settled_stats(d, base, name, want, timeout=3.0):
    """The counters once name has moved by want since base, or after
    timeout (the assertion then shows the difference): a refused client
    may see its connection closed a moment before the refusal is
    counted."""
    deadline = time.monotonic() + timeout
    while True:
        now = d.stats()
        if delta(base, now, name) >= want or time.monotonic() > deadline:
            return now
        time.sleep(0.02)


class SlowClients(unittest.TestCase):
    EXTRA = ("max_connections = 20; idle_timeout = 300; "
             "limits = { min_rate = 100; min_rate_window = 2; connections_per_source = 0; exempt = ( ); };")

    def run_slow(self, d, n, seconds):
        """n connections from 127.0.0.11 sending a byte every 0.5 s and one
        fast one from 127.0.0.12 (4 KB/s).  Returns (times at which slow
        ones were closed, fast client still served)."""
        slow = [tcp_from("127.0.0.11", d.port) for _ in range(n)]
        fast = tcp_from("127.0.0.12", d.port)
        closed = {}
        t0 = time.monotonic()
        try:
            fast_ok = True
            while time.monotonic() - t0 < seconds:
                for i, s in enumerate(slow):
                    if i in closed:
                        continue
                    try:
                        s.setblocking(False)
                        while True:
                            b = s.recv(100)
                            if not b:
                                raise ConnectionResetError
                    except BlockingIOError:
                        pass
                    except (ConnectionResetError, BrokenPipeError):
                        closed[i] = time.monotonic() - t0
                        continue
                    try:
                        s.send(b"a")
                    except (ConnectionResetError, BrokenPipeError, BlockingIOError):
                        closed[i] = time.monotonic() - t0
                fast.settimeout(5)
                if probe(fast, b"f" * 2000, 5) != b"F" * 2000:
                    fast_ok = False
                time.sleep(0.5)
        finally:
            for s in slow:
                s.close()
            fast.close()
        return closed, fast_ok

    def test_slow_clients_closed_under_pressure(self):
        with NetDaemon(extra=self.EXTRA) as d:
            time.sleep(0.3)                 # the readiness probe's close is seen
            before = d.stats()
            closed, fast_ok = self.run_slow(d, 15, 5.0)
            after = d.stats()
            n = delta(before, after, "tcp_slow_closes")
            print("slow clients: 15 at 2 B/s with max_connections 20 (min_rate 100, window 2 s): "
                  "%d closed, at %s s; slow_closes %d"
                  % (len(closed), ", ".join("%.1f" % t for t in sorted(closed.values())), n))
            self.assertTrue(fast_ok, "the fast client was not served throughout")
            self.assertGreaterEqual(n, 1, "no slow connection was closed under pressure")
            self.assertEqual(n, len(closed), "slow_closes does not match the connections seen closed")
            # More than half open is the pressure: at least enough to get back to half.
            self.assertGreaterEqual(len(closed), 15 + 1 - 10,
                                    "still more than half of max_connections open")
            self.assertTrue(all(t >= 1.5 for t in closed.values()),
                            "a connection younger than min_rate_window was closed: %s" % closed)
            self.assertEqual(delta(before, after, "tcp_idle_timeouts"), 0)
            self.assertEqual(d.stop(), 0)

    def test_no_pressure_no_close(self):
        with NetDaemon(extra=self.EXTRA) as d:
            time.sleep(0.3)
            before = d.stats()
            closed, fast_ok = self.run_slow(d, 5, 4.5)
            after = d.stats()
            self.assertTrue(fast_ok)
            self.assertEqual(closed, {}, "slow connections closed with only 6 of 20 open")
            self.assertEqual(delta(before, after, "tcp_slow_closes"), 0)
            self.assertEqual(d.stop(), 0)


class ReloadKeepsState(unittest.TestCase):
    def test_udp_buckets_survive_sighup(self):
        extra = "udp = { rate_limit = 5; burst = 10; leak = 0; exempt = ( ); };"
        with NetDaemon(extra=extra) as d:
            s = udp_from("127.0.0.13", rcvbuf=MiB)
            try:
                t0 = time.monotonic()
                for i in range(30):
                    s.sendto(b"burn %d" % i, ("127.0.0.1", d.port))
                first = len(drain(s, 0.3))
                d.reload(extra)
                for i in range(10):
                    s.sendto(b"after %d" % i, ("127.0.0.1", d.port))
                second = len(drain(s, 0.3))
                elapsed = time.monotonic() - t0
                print("reload: %d of 30 answered before SIGHUP, %d of 10 right after (%.2f s in all)"
                      % (first, second, elapsed))
                self.assertGreaterEqual(first, 10)
                self.assertLessEqual(first, 10 + math.ceil(5 * elapsed) + 1)
                self.assertLess(second, 10, "the reload refilled the source's bucket")
                self.assertLessEqual(second, math.ceil(5 * elapsed) + 1)
                # A changed setting does apply: rate_limit = 0 is off.
                d.reload("udp = { rate_limit = 0; exempt = ( ); };")
                for i in range(30):
                    s.sendto(b"free %d" % i, ("127.0.0.1", d.port))
                self.assertEqual(len(drain(s, 0.5)), 30, "rate_limit = 0 after a reload still limited")
            finally:
                s.close()
            self.assertEqual(d.stop(), 0)

    def test_tcp_rate_survives_sighup(self):
        extra = ("limits = { connections_per_source = 0; connection_rate = 1; "
                 "connection_burst = 3; exempt = ( ); };")
        with NetDaemon(extra=extra) as d:
            t0 = time.monotonic()
            ok = sum(try_serve("127.0.0.14", d.port) for _ in range(5))
            self.assertLessEqual(ok, 4)
            d.reload(extra)
            served = try_serve("127.0.0.14", d.port)
            elapsed = time.monotonic() - t0
            if elapsed < 0.9:
                self.assertFalse(served, "the reload refilled the source's connection bucket")
            self.assertEqual(d.stop(), 0)


class ConfigCheck(unittest.TestCase):
    def test_table_size_minimum(self):
        tmp = tempfile.mkdtemp(prefix="upcase-t-srclimits-")
        try:
            path = os.path.join(tmp, "upcased.conf")
            for setting in ("udp = { table_size = 100; };", "limits = { table_size = 100; };"):
                with self.subTest(setting=setting):
                    with open(path, "w") as f:
                        f.write('listen = ( { address = "127.0.0.1"; port = 12000; } );\n' + setting + "\n")
                    rc, out, err = harness.run([harness.UPCASED, "-t", "-c", path])
                    self.assertEqual(rc, 78, "table_size = 100 (< 1024) accepted: %r" % err)
                    self.assertIn(b"table_size", err)
                    self.assertIn(("%s:2:" % path).encode(), err)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    nethelp.main()
