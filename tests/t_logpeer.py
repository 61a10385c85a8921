#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_logpeer: the log names the client of every refused or closed TCP
connection by address and port, never by a descriptor number, and a flood
of one kind is logged once per 10 s per worker at its priority, the rest at
debug (upcased(8), LOGGING).

Each case runs upcased -f (one TCP worker) with its standard error made to
look like the journal (JOURNAL_STREAM names the log file), so every line
carries its syslog priority ("<5>"), and provokes one event from a client
bound to 127.0.0.7: an access rule, limits.connections_per_source,
max_connections, idle_timeout, limits.min_rate, a client's reset
(SO_LINGER 0), and denied UDP datagrams.  The log must name 127.0.0.7:PORT, PORT the client's own,
at the kind's priority.  The floods: 150 denied connections give 1 line at
notice and 149 at debug under -d, and 1 line without -d; after 10 s the
next one says "(149 more since the last message)".
"""
import re
import socket
import struct
import time
import unittest

import nethelp
from nethelp import NetDaemon, tcp_from, stat

SRC = "127.0.0.7"
# systemd's JOURNAL_STREAM is DEV:INO of standard error; the harness points
# standard error at the log file, so this makes the daemon prefix "<N>".
AS_JOURNAL = ["/bin/sh", "-c",
              'JOURNAL_STREAM=$(stat -L -c %d:%i /proc/self/fd/2) exec "$@"', "sh"]
ONE_WORKER = "tcp = { threads = 1; };"
LOG_WARNING, LOG_NOTICE, LOG_INFO, LOG_DEBUG = 4, 5, 6, 7
FD_NUMBERS = re.compile(r"connection \d+|\bfd \d+|socket \d+|listener \d+")


def daemon(extra, debug=True):
    return NetDaemon(extra=ONE_WORKER + "\n" + extra, prefix=AS_JOURNAL,
                     args=("-d",) if debug else ())


def lines_about(log, what):
    """(priority, text) of every line containing what."""
    out = []
    for line in log.splitlines():
        m = re.match(r"<(\d)>(.*)", line)
        if m and what in m.group(2):
            out.append((int(m.group(1)), m.group(2)))
    return out


def wait_lines(d, what, n, timeout=10.0):
    """Wait (bounded) until n lines contain what; return them."""
    deadline = time.monotonic() + timeout
    while True:
        got = lines_about(d.read_log(), what)
        if len(got) >= n or time.monotonic() > deadline:
            return got
        time.sleep(0.02)


def settle(test, d):
    """Wait (bounded) until the harness's readiness probe, one connection,
    has been accepted and closed: it must not take a slot of a small
    max_connections."""
    deadline = time.monotonic() + 5
    while True:
        st = d.stats()
        if stat(st, "tcp_connections_accepted") >= 1 and st["upcased_tcp_connections_open"] == 0:
            return
        test.assertLess(time.monotonic(), deadline, "the readiness probe never went: %r" % st)
        time.sleep(0.02)


def port_of(s):
    return s.getsockname()[1]


def reset(s):
    """Close s with a reset (SO_LINGER on, 0 s) instead of an end of file."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()


class LogPeer(unittest.TestCase):
    def check_event(self, d, want, pri):
        """One line, at pri, naming exactly want; and no descriptor numbers anywhere."""
        got = wait_lines(d, want, 1)
        self.assertEqual(len(got), 1, "%r:\n%s" % (want, d.read_log()))
        self.assertEqual(got[0][0], pri, got[0][1])
        self.assertNotIn("more since the last message", got[0][1])
        log = d.read_log()
        self.assertIsNone(FD_NUMBERS.search(log), "a descriptor number in the log:\n" + log)
        print("logged: <%d>%s" % got[0])

    def test_access_rule(self):
        with daemon('access = ( "deny %s", "allow all" );' % SRC) as d:
            s = tcp_from(SRC, d.port)
            p = port_of(s)
            self.assertTrue(nethelp.closed_at_once(s))
            s.close()
            self.check_event(d, "refused a connection from %s:%d: denied by access rule 1"
                             % (SRC, p), LOG_NOTICE)
            self.assertEqual(d.stop(), 0)

    def test_connections_per_source(self):
        # The default exempts loopback from the limits.
        with daemon("limits = { connections_per_source = 1; exempt = ( ); };") as d:
            held = tcp_from(SRC, d.port)
            self.assertEqual(nethelp.probe(held), b"PROBE")
            s = tcp_from(SRC, d.port)
            p = port_of(s)
            self.assertTrue(nethelp.closed_at_once(s))
            s.close()
            self.check_event(d, "refused a connection from %s:%d: "
                             "limits.connections_per_source reached" % (SRC, p), LOG_NOTICE)
            held.close()
            self.assertEqual(d.stop(), 0)

    def test_max_connections(self):
        with daemon("max_connections = 1;") as d:
            settle(self, d)
            held = tcp_from("127.0.0.1", d.port)
            self.assertEqual(nethelp.probe(held), b"PROBE")
            s = tcp_from(SRC, d.port)
            p = port_of(s)
            self.assertTrue(nethelp.closed_at_once(s))
            s.close()
            self.check_event(d, "refused a connection from %s:%d: max_connections (1) reached"
                             % (SRC, p), LOG_WARNING)
            held.close()
            self.assertEqual(d.stop(), 0)

    def test_idle_timeout(self):
        with daemon("idle_timeout = 1;") as d:
            s = tcp_from(SRC, d.port)
            p = port_of(s)
            self.assertEqual(nethelp.probe(s), b"PROBE")
            s.settimeout(5)
            self.assertEqual(s.recv(1), b"", "not closed by idle_timeout")
            s.close()
            self.check_event(d, "closed the idle connection from %s:%d (idle_timeout 1 s)"
                             % (SRC, p), LOG_INFO)
            self.assertEqual(d.stop(), 0)

    def test_min_rate(self):
        with daemon("max_connections = 2;\n"
                    "limits = { min_rate = 100; min_rate_window = 1; };") as d:
            settle(self, d)
            a, b = tcp_from(SRC, d.port), tcp_from(SRC, d.port)
            pa = port_of(a)
            self.assertEqual(nethelp.probe(a), b"PROBE")
            for s in (a, b):
                s.settimeout(5)
                self.assertEqual(s.recv(1), b"", "not closed by limits.min_rate")
                s.close()
            got = wait_lines(d, "closed the slow connection from %s:" % SRC, 2)
            self.assertEqual(len(got), 2, d.read_log())
            # One at info, the other within 10 s at debug.
            self.assertEqual(sorted(g[0] for g in got), [LOG_INFO, LOG_DEBUG], got)
            self.assertTrue(any("%s:%d (5 bytes in " % (SRC, pa) in g[1] for g in got), got)
            self.assertRegex(got[0][1], r"below limits\.min_rate 100 bytes/s")
            self.assertIsNone(FD_NUMBERS.search(d.read_log()))
            self.assertEqual(d.stop(), 0)

    def test_client_reset(self):
        with daemon("") as d:
            s = tcp_from(SRC, d.port)
            p = port_of(s)
            self.assertEqual(nethelp.probe(s), b"PROBE")
            reset(s)
            self.check_event(d, "closed the connection from %s:%d: read: Connection reset by peer"
                             % (SRC, p), LOG_INFO)
            self.assertEqual(stat(d.stats(), "tcp_connection_errors"), 1)
            self.assertEqual(d.stop(), 0)

    def test_udp_drops(self):
        # UDP had its line at notice already; the ones it suppresses are at debug.
        with daemon('access = ( "deny %s", "allow all" );' % SRC) as d:
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.bind((SRC, 0))
            for _ in range(5):
                u.sendto(b"x", ("127.0.0.1", d.port))
            want = "dropped a datagram from %s:%d: " % (SRC, port_of(u))
            u.close()
            got = wait_lines(d, want, 5)
            self.assertEqual([g[0] for g in got], [LOG_NOTICE] + [LOG_DEBUG] * 4, got)
            self.assertEqual(d.stop(), 0)

    def test_listeners_named_by_address(self):
        with daemon("") as d:
            log = d.wait_log("started")
            self.assertIn("listening on tcp 127.0.0.1:%d, udp 127.0.0.1:%d" % (d.port, d.port),
                          log)
            self.assertEqual(d.stop(), 0)

    def flood(self, d, n):
        ports = []
        for _ in range(n):
            s = tcp_from(SRC, d.port)
            ports.append(port_of(s))
            s.close()
        deadline = time.monotonic() + 10
        while stat(d.stats(), "tcp_connections_refused_access") < n:
            self.assertLess(time.monotonic(), deadline, "the flood was not all refused")
            time.sleep(0.02)
        return ports

    def test_flood_debug_logs_every_one(self):
        n = 150
        with daemon('access = ( "deny %s", "allow all" );' % SRC) as d:
            ports = self.flood(d, n)
            got = wait_lines(d, "refused a connection from %s:" % SRC, n)
            self.assertEqual(len(got), n)
            self.assertEqual([g[0] for g in got], [LOG_NOTICE] + [LOG_DEBUG] * (n - 1))
            logged = [int(re.search(r"%s:(\d+):" % re.escape(SRC), g[1]).group(1)) for g in got]
            self.assertEqual(sorted(logged), sorted(ports), "each client named by its own port")
            # The first says nothing of others: none came before it.
            self.assertEqual(sum("more since the last message" in g[1] for g in got), 0)
            print("%d denied under -d: %d lines, 1 at notice" % (n, len(got)))
            self.assertEqual(d.stop(), 0)

    def test_flood_info_is_rate_limited(self):
        n = 150
        with daemon('access = ( "deny %s", "allow all" );' % SRC, debug=False) as d:
            t0 = time.monotonic()
            self.flood(d, n)
            time.sleep(0.3)
            got = lines_about(d.read_log(), "refused a connection from")
            self.assertEqual(len(got), 1, got)
            self.assertEqual(got[0][0], LOG_NOTICE)
            self.assertNotIn("more since the last message", got[0][1])
            # The worker's next budget: the next one says how many were not logged.
            time.sleep(max(0.0, 10.5 - (time.monotonic() - t0)))
            s = tcp_from(SRC, d.port)
            self.assertTrue(nethelp.closed_at_once(s))
            s.close()
            got = wait_lines(d, "refused a connection from", 2)
            self.assertEqual(len(got), 2, got)
            self.assertIn("(%d more since the last message)" % (n - 1), got[1][1])
            print("%d denied at info: 1 line; 10 s later: %r" % (n, got[1][1]))
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    nethelp.main()
