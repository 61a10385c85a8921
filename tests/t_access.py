#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_access.py: access = ( ... ) rules against the real daemon.

Ordered allow/deny rules, first match wins, no match allows.  A denied TCP
connection is closed at once without a byte of reply; a denied datagram is
dropped.  Counted (refused_access, dropped_access) and logged naming the
source.  SIGHUP applies new rules; a bad rule is a config error (78).
Distinct sources are 127.0.0.x: a client socket is bound to one first.
"""
import os
import shutil
import socket
import tempfile
import unittest

import harness
import nethelp
from nethelp import NetDaemon, delta, tcp_from, closed_at_once, try_serve, udp_from, udp_ask

DENY_66 = 'access = ( "deny 127.0.0.66", "allow all" );'
ONLY_66 = 'access = ( "allow 127.0.0.66/32", "deny all" );'


def client(port, *args, text="hello"):
    """The real client, TCP unless -u is among args."""
    return harness.run([harness.UPCASE, "-H", "127.0.0.1", "-p", str(port), "-w", "2"]
                       + list(args) + [text], timeout=20)


class DenyOneSource(unittest.TestCase):
    def test_denied_source_refused_others_served(self):
        with NetDaemon(extra=DENY_66) as d:
            before = d.client_stats()
            # TCP from the denied source: connect succeeds (the kernel
            # accepts), then the daemon closes it without replying.
            ports = []
            for _ in range(3):
                s = tcp_from("127.0.0.66", d.port)
                ports.append(s.getsockname()[1])
                try:
                    self.assertTrue(closed_at_once(s),
                                    "a TCP connection from 127.0.0.66 was served despite 'deny 127.0.0.66'")
                finally:
                    s.close()
            # TCP from 127.0.0.1: served, by Python and by the real client.
            self.assertTrue(try_serve("127.0.0.1", d.port, b"allowed"),
                            "127.0.0.1 matched no deny rule but was refused")
            rc, out, err = client(d.port)
            self.assertEqual((rc, out), (0, b"HELLO\n"), "upcase over TCP: %r" % err)
            # UDP from the denied source: no reply.
            u66 = udp_from("127.0.0.66")
            uport = u66.getsockname()[1]
            try:
                for i in range(2):
                    self.assertIsNone(udp_ask(u66, b"denied %d" % i, d.port, timeout=0.5),
                                      "a datagram from 127.0.0.66 was answered")
            finally:
                u66.close()
            u1 = udp_from("127.0.0.1")
            try:
                self.assertEqual(udp_ask(u1, b"allowed", d.port), b"ALLOWED",
                                 "a datagram from 127.0.0.1 got no reply")
            finally:
                u1.close()
            rc, out, err = client(d.port, "-u", "--retries", "0")
            self.assertEqual((rc, out), (0, b"HELLO\n"), "upcase -u: %r" % err)

            after = d.client_stats()
            self.assertEqual(delta(before, after, "tcp_connections_refused_access"), 3,
                             "refused_access must count exactly the 3 denied connections")
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_access"), 2,
                             "dropped_access must count exactly the 2 denied datagrams")
            for other in ("tcp_connections_refused_per_source", "tcp_connections_refused_rate",
                          "udp_datagrams_dropped_low_port", "udp_datagrams_dropped_rate_limit"):
                self.assertEqual(delta(before, after, other), 0, "%s counted an access refusal" % other)
            self.assertEqual(delta(before, after, "udp_datagrams_in"), 4)
            self.assertEqual(delta(before, after, "udp_datagrams_out"), 2)
            # The log names the source (the first one of each kind is never suppressed).
            log = d.wait_log("refused a connection from 127.0.0.66:")
            self.assertRegex(log, r"refused a connection from 127\.0\.0\.66:(%s): denied by access rule 1"
                             % "|".join(map(str, ports)))
            log = d.wait_log("dropped a datagram from 127.0.0.66:%d" % uport)
            self.assertNotIn("from 127.0.0.1:", log.split("refused a connection", 1)[1],
                             "an allowed source was logged as refused")
            self.assertEqual(d.stop(), 0)

    def test_no_match_allows(self):
        with NetDaemon(extra='access = ( "deny 127.0.0.66" );') as d:
            self.assertTrue(try_serve("127.0.0.1", d.port), "no rule matched 127.0.0.1: it must be allowed")
            self.assertTrue(try_serve("127.0.0.67", d.port), "no rule matched 127.0.0.67")
            s = tcp_from("127.0.0.66", d.port)
            try:
                self.assertTrue(closed_at_once(s))
            finally:
                s.close()
            self.assertEqual(d.stop(), 0)

    def test_cidr_and_first_match(self):
        # 127.0.0.64/28 covers .64-.79; the allow for .70 comes first.
        rules = 'access = ( "allow 127.0.0.70", "deny 127.0.0.64/28", "allow all" );'
        with NetDaemon(extra=rules) as d:
            for src, served in (("127.0.0.70", True), ("127.0.0.64", False), ("127.0.0.79", False),
                                ("127.0.0.80", True), ("127.0.0.63", True)):
                with self.subTest(src=src):
                    self.assertEqual(try_serve(src, d.port), served,
                                     "%s %s" % (src, "must be served" if served else "must be refused"))
            self.assertEqual(d.stop(), 0)


class Reload(unittest.TestCase):
    def test_sighup_flips_the_rules(self):
        with NetDaemon(extra=DENY_66) as d:
            s = tcp_from("127.0.0.66", d.port)
            try:
                self.assertTrue(closed_at_once(s))
            finally:
                s.close()
            self.assertTrue(try_serve("127.0.0.1", d.port))
            d.reload(ONLY_66)
            before = d.stats()
            # Now 127.0.0.1 is refused: the real client fails, non-zero,
            # with no reply on its standard output.
            rc, out, err = client(d.port)
            self.assertNotEqual(rc, 0, "upcase from 127.0.0.1 succeeded after 'deny all'")
            self.assertNotIn(b"HELLO", out)
            s = tcp_from("127.0.0.1", d.port)
            try:
                self.assertTrue(closed_at_once(s), "127.0.0.1 still served after the reload")
            finally:
                s.close()
            self.assertTrue(try_serve("127.0.0.66", d.port, b"now allowed"),
                            "127.0.0.66 still refused after 'allow 127.0.0.66/32'")
            rc, out, err = client(d.port, "-u", "--retries", "0", "-w", "0.5")
            self.assertNotEqual(rc, 0, "upcase -u from 127.0.0.1 got a reply after 'deny all'")
            self.assertEqual(out, b"")
            u66 = udp_from("127.0.0.66")
            try:
                self.assertEqual(udp_ask(u66, b"udp allowed", d.port), b"UDP ALLOWED")
            finally:
                u66.close()
            after = d.stats()
            self.assertEqual(delta(before, after, "tcp_connections_refused_access"), 2)
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_access"), 1)
            self.assertEqual(d.stop(), 0)

    def test_bad_rule_on_reload_keeps_the_old_ones(self):
        with NetDaemon(extra=DENY_66) as d:
            log = d.reload('access = ( "deny 127.0.0.66", "deny 10.0.0.0/33" );', expect="reload failed")
            self.assertIn("access rule 2: '10.0.0.0/33' is not a CIDR", log)
            s = tcp_from("127.0.0.66", d.port)
            try:
                self.assertTrue(closed_at_once(s), "a failed reload dropped the old rules")
            finally:
                s.close()
            self.assertTrue(try_serve("127.0.0.1", d.port))
            self.assertEqual(d.stop(), 0)


class IPv6(unittest.TestCase):
    def setUp(self):
        if not nethelp.have_ipv6_loopback():
            self.skipTest("no IPv6 loopback (::1) on this machine")

    def test_v6_rule(self):
        with NetDaemon(address="::1", extra='access = ( "deny ::1/128" );') as d:
            s = tcp_from("::1", d.port, dst="::1")
            try:
                self.assertTrue(closed_at_once(s), "::1 served despite 'deny ::1/128'")
            finally:
                s.close()
            u = udp_from("::1", family=socket.AF_INET6)
            try:
                self.assertIsNone(udp_ask(u, b"six", d.port, dst="::1", timeout=0.5))
            finally:
                u.close()
            self.assertEqual(d.stop(), 0)

    def test_mapped_v4_client_matches_v4_rules(self):
        with NetDaemon(address="*", extra='access = ( "deny 127.0.0.0/8", "allow all" );') as d:
            # Dual-stack: a v6 client must get through ("allow all").
            try:
                v6ok = try_serve("::1", d.port, b"six", dst="::1")
            except OSError as e:
                self.skipTest("no dual-stack listener on '*' (%s)" % e)
            self.assertTrue(v6ok, "::1 refused although only 127.0.0.0/8 is denied")
            before = d.stats()
            # An IPv4 client reaches the dual-stack socket as ::ffff:127.0.0.1.
            s = tcp_from("127.0.0.1", d.port)
            try:
                self.assertTrue(closed_at_once(s),
                                "a v4 client (::ffff:127.0.0.1 on the dual-stack socket) escaped 'deny 127.0.0.0/8'")
            finally:
                s.close()
            u4 = udp_from("127.0.0.1")
            u6 = udp_from("::1", family=socket.AF_INET6)
            try:
                self.assertIsNone(udp_ask(u4, b"four", d.port, timeout=0.5),
                                  "a mapped v4 datagram escaped 'deny 127.0.0.0/8'")
                self.assertEqual(udp_ask(u6, b"six", d.port, dst="::1"), b"SIX")
            finally:
                u4.close()
                u6.close()
            after = d.stats()
            self.assertEqual(delta(before, after, "tcp_connections_refused_access"), 1)
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_access"), 1)
            self.assertEqual(d.stop(), 0)


class ConfigCheck(unittest.TestCase):
    def test_invalid_cidr_is_a_config_error(self):
        tmp = tempfile.mkdtemp(prefix="upcase-t-access-")
        try:
            path = os.path.join(tmp, "upcased.conf")
            text = ('listen = ( { address = "127.0.0.1"; port = 12000; } );\n'
                    'control_socket = "";\n'
                    'access = ( "deny 127.0.0.66", "deny 10.0.0.0/33" );\n')
            with open(path, "w") as f:
                f.write(text)
            rc, out, err = harness.run([harness.UPCASED, "-t", "-c", path])
            err = err.decode("utf-8", "replace")
            self.assertEqual(rc, 78, "upcased -t with a bad rule: rc %d, stderr %r" % (rc, err))
            self.assertIn("%s:3: access rule 2: '10.0.0.0/33' is not a CIDR" % path, err)
            self.assertNotIn(b"configuration OK", out)
            # A good file passes.
            with open(path, "w") as f:
                f.write(text.replace("/33", "/8"))
            rc, out, err = harness.run([harness.UPCASED, "-t", "-c", path])
            self.assertEqual((rc, out.strip()), (0, b"configuration OK"), err)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    nethelp.main()
