#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_udpguard.py: udp.guard against the real daemon.

With the guard on (the default), a datagram gets no reply when its source
port is below 1024 (echo 7, chargen 19, ...), or one of the daemon's own
UDP ports, or when it is our own reply coming back (the loop breaker).
udp = { guard = false; } turns all that off.  The storms: two upcaseds
made to answer each other by one forged datagram, or by two or three
different ones at once (each loop counted in its own slot), and upcased
against a plain echo service; all must die out within a few datagrams
with the guard, and are shown (bounded, 1 s) without it.  Payloads that
share a slot are not counted: their storm is ended by the reply-rate
limit (not exempt here), then by the count.
"""
import signal
import socket
import sys
import socket
import time
import unittest

import harness
import nethelp
from nethelp import NetDaemon, delta, stat, udp_from, udp_ask, IS_ROOT, NEEDS_ROOT

GUARD_OFF = "udp = { guard = false; };"


def bind_udp(host, port):
    """A UDP socket on host:port, or None when the port is taken."""
    try:
        return udp_from(host, port)
    except OSError:
        return None


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class LowPorts(unittest.TestCase):
    def test_low_source_ports_dropped_high_ones_answered(self):
        with NetDaemon() as d:
            before = d.stats()
            dropped = []
            for port in (7, 19, 1023):
                s = bind_udp("127.0.0.1", port)
                if s is None:
                    continue
                try:
                    self.assertIsNone(udp_ask(s, b"hello", d.port, timeout=0.5),
                                      "a datagram from source port %d was answered" % port)
                    dropped.append(port)
                finally:
                    s.close()
            self.assertIn(7, dropped, "could not bind UDP port 7 for the test")
            for port in (1024, 1025, 0):          # 0: an ephemeral port
                s = bind_udp("127.0.0.1", port)
                if s is None:
                    continue
                try:
                    self.assertEqual(udp_ask(s, b"hello", d.port), b"HELLO",
                                     "a datagram from source port %d got no reply"
                                     % s.getsockname()[1])
                finally:
                    s.close()
            after = d.stats()
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_low_port"), len(dropped),
                             "low_port must count exactly the datagrams from ports %s" % dropped)
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_own_port"), 0)
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_loop"), 0)
            log = d.wait_log("dropped a datagram from 127.0.0.1:7: source port below 1024")
            d.send_signal(signal.SIGUSR1)
            d.wait_log('upcased_udp_datagrams_dropped_total{reason="low_port"} %d' % len(dropped))
            # The drop log is rate-limited: one line per 10 s (one UDP worker).
            s = bind_udp("127.0.0.1", 7)
            try:
                for i in range(20):
                    s.sendto(b"more %d" % i, ("127.0.0.1", d.port))
            finally:
                s.close()
            time.sleep(0.3)
            self.assertEqual(stat(d.stats(), "udp_datagrams_dropped_low_port"),
                             stat(before, "udp_datagrams_dropped_low_port") + len(dropped) + 20)
            log = d.read_log()
            self.assertEqual(log.count("dropped a datagram"), 1,
                             "23 drops within 10 s must give one log line:\n" + log)
            self.assertEqual(d.stop(), 0)

    def test_guard_off_answers_low_ports_and_reload_turns_it_on(self):
        with NetDaemon(extra=GUARD_OFF) as d:
            s = bind_udp("127.0.0.1", 19)
            self.assertIsNotNone(s, "could not bind UDP port 19")
            try:
                self.assertEqual(udp_ask(s, b"chargen?", d.port), b"CHARGEN?",
                                 "with udp.guard = false a datagram from port 19 must be answered")
                d.reload("")                       # back to the default: guard on
                self.assertIsNone(udp_ask(s, b"chargen?", d.port, timeout=0.5),
                                  "the guard did not come back on with SIGHUP")
                self.assertEqual(stat(d.stats(), "udp_datagrams_dropped_low_port"), 1)
            finally:
                s.close()
            self.assertEqual(d.stop(), 0)


class OwnPort(unittest.TestCase):
    def test_source_port_equal_to_ours_dropped(self):
        with NetDaemon() as d:
            before = d.stats()
            # The daemon listens on 127.0.0.1:port; 127.0.0.2:port is free.
            s = udp_from("127.0.0.2", d.port)
            try:
                self.assertIsNone(udp_ask(s, b"are you me?", d.port, timeout=0.5),
                                  "a datagram from our own port was answered")
            finally:
                s.close()
            s = udp_from("127.0.0.2")
            try:
                self.assertEqual(udp_ask(s, b"other port", d.port), b"OTHER PORT")
            finally:
                s.close()
            after = d.stats()
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_own_port"), 1)
            self.assertEqual(delta(before, after, "udp_datagrams_dropped_low_port"), 0)
            d.wait_log("dropped a datagram from 127.0.0.2:%d:" % d.port)
            self.assertEqual(d.stop(), 0)

    def test_guard_off_answers_own_port(self):
        with NetDaemon(extra=GUARD_OFF) as d:
            s = udp_from("127.0.0.2", d.port)
            try:
                self.assertEqual(udp_ask(s, b"me", d.port), b"ME")
            finally:
                s.close()
            self.assertEqual(d.stop(), 0)


class BroadcastDestination(unittest.TestCase):
    """A datagram to loopback's subnet broadcast address (127.255.255.255,
    which stays on lo) reaches a wildcard listener; one forged datagram to
    a broadcast address would get an answer from every host that hears it."""

    def ask_broadcast(self, d):
        s = udp_from("127.0.0.1")
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
            return udp_ask(s, b"everyone?", d.port, dst="127.255.255.255", timeout=0.5)
        finally:
            s.close()

    def test_subnet_broadcast_dropped(self):
        with NetDaemon(address="0.0.0.0") as d:
            before = d.stats()
            self.assertIsNone(self.ask_broadcast(d), "a datagram to 127.255.255.255 was answered")
            s = udp_from("127.0.0.1")
            try:
                self.assertEqual(udp_ask(s, b"unicast", d.port), b"UNICAST")
            finally:
                s.close()
            self.assertEqual(delta(before, d.stats(), "udp_datagrams_dropped_bad_dest"), 1)
            self.assertEqual(d.stop(), 0)

    def test_guard_off_answers_broadcast(self):
        with NetDaemon(extra=GUARD_OFF, address="0.0.0.0") as d:
            self.assertEqual(self.ask_broadcast(d), b"EVERYONE?")
            self.assertEqual(d.stop(), 0)


class RealClientsRepeating(unittest.TestCase):
    def test_repeats_are_answered(self):
        with NetDaemon() as d:
            s = udp_from("127.0.0.1")
            try:
                # Lower case: the payload never equals our reply.
                s.settimeout(2)
                for _ in range(5):
                    s.sendto(b"hello", ("127.0.0.1", d.port))
                got = [s.recvfrom(100)[0] for _ in range(5)]
                self.assertEqual(got, [b"HELLO"] * 5, "5 quick 'hello's must get 5 answers")
            finally:
                s.close()
            s = udp_from("127.0.0.1")
            try:
                # Upper case, repeated slowly: equal to our reply, but 2 s
                # later is no loop.
                self.assertEqual(udp_ask(s, b"HELLO", d.port), b"HELLO")
                time.sleep(2)
                self.assertEqual(udp_ask(s, b"HELLO", d.port), b"HELLO",
                                 "a client repeating 'HELLO' after 2 s was taken for a loop")
            finally:
                s.close()
            self.assertEqual(stat(d.stats(), "udp_datagrams_dropped_loop"), 0)
            self.assertEqual(d.stop(), 0)

    def test_same_upper_case_line_8_times(self):
        def burst(s, n):
            for _ in range(n):
                s.sendto(b"SAME LINE", ("127.0.0.1", d.port))
            got = []
            try:
                while len(got) < n:
                    got.append(s.recvfrom(100)[0])
            except socket.timeout:
                pass
            return got

        with NetDaemon() as d:
            s = udp_from("127.0.0.1")
            try:
                # A client sending one upper-case line 8 times back to back
                # (say, blank lines): each is our reply to the one before,
                # within 250 ms: 7 echoes, under LOOPGUARD_REPEATS = 8.
                s.settimeout(1)
                self.assertEqual(burst(s, 8), [b"SAME LINE"] * 8,
                                 "8 quick 'SAME LINE's must get 8 answers")
                self.assertEqual(stat(d.stats(), "udp_datagrams_dropped_loop"), 0)
                # More than 250 ms later the count starts again; a 9th
                # within the window is taken for a loop...
                time.sleep(0.4)
                self.assertEqual(burst(s, 9), [b"SAME LINE"] * 8,
                                 "9 quick 'SAME LINE's must get 8 answers")
                self.assertEqual(stat(d.stats(), "udp_datagrams_dropped_loop"), 1)
                # ... and the next, more than 250 ms after our last reply, is not.
                time.sleep(0.4)
                self.assertEqual(udp_ask(s, b"SAME LINE", d.port), b"SAME LINE",
                                 "'SAME LINE' after the window was not answered")
            finally:
                s.close()
            self.assertEqual(d.stop(), 0)


def two_daemons(extra):
    """upcased on 127.0.0.1:P1 and on 127.0.0.3:P2, P1 != P2."""
    p1 = harness.free_port("127.0.0.1")
    p2 = harness.free_port("127.0.0.3")
    while p2 == p1:
        p2 = harness.free_port("127.0.0.3")
    d1 = NetDaemon(extra=extra, port=p1, address="127.0.0.1")
    try:
        d2 = NetDaemon(extra=extra, port=p2, address="127.0.0.3")
    except BaseException:
        d1.__exit__(*sys.exc_info())
        raise
    return d1, d2


def storm_between_daemons(extra, seconds, payloads=(b"storm hello",)):
    """Datagrams forged from 127.0.0.1:P1 (d1) to 127.0.0.3:P2 (d2), one
    per payload: d2 answers d1, d1 answers d2, ..., one loop per payload,
    interleaved.  Returns (datagrams in at d1, at d2, the stats of both)
    after seconds; both daemons are stopped by PID."""
    d1, d2 = two_daemons(extra)
    with d1, d2:
        b1, b2 = d1.stats(), d2.stats()
        with nethelp.Forger() as f:
            for p in payloads:
                f.send("127.0.0.1", d1.port, "127.0.0.3", d2.port, p)
        time.sleep(seconds)
        a1, a2 = d1.stats(), d2.stats()
        n1 = delta(b1, a1, "udp_datagrams_in")
        n2 = delta(b2, a2, "udp_datagrams_in")
        rc1 = d1.stop()
        rc2 = d2.stop()
        return n1, n2, (b1, a1), (b2, a2), (rc1, rc2)


@unittest.skipUnless(IS_ROOT, NEEDS_ROOT)
class StormBetweenDaemons(unittest.TestCase):
    def test_forged_datagram_storm_ends(self):
        off1, off2, _, _, _ = storm_between_daemons(GUARD_OFF, 1.0)
        on1, on2, (b1, a1), (b2, a2), rcs = storm_between_daemons("", 2.0)
        print("storm between two upcaseds: guard off: %d datagrams in 1 s (%d + %d); "
              "guard on: %d datagrams in 2 s (%d + %d)"
              % (off1 + off2, off1, off2, on1 + on2, on1, on2))
        self.assertEqual(rcs, (0, 0))
        self.assertGreaterEqual(on2, 1, "the forged datagram never reached the second daemon")
        # LOOPGUARD_REPEATS = 8: the second daemon answers the forged datagram
        # and 7 echoes and drops the 8th, the first answers 8: 17 datagrams
        # in (9 + 8).  40 leaves room for a retry or a lost datagram, and is
        # still nothing next to the storm without the guard.
        self.assertLessEqual(on1 + on2, 40,
                             "with the guard the storm must end within a few datagrams; "
                             "it ran %d datagrams in 2 s" % (on1 + on2))
        explained = sum(delta(b, a, c) for b, a in ((b1, a1), (b2, a2))
                        for c in ("udp_datagrams_dropped_loop", "udp_datagrams_dropped_own_port",
                                  "udp_datagrams_dropped_low_port"))
        self.assertGreater(explained, 0, "no loop/own_port/low_port drop explains the end of the storm")
        self.assertGreaterEqual(off1 + off2, 20,
                                "without the guard the set-up should storm (got %d datagrams in 1 s): "
                                "the guarded result proves nothing" % (off1 + off2))

    # Payloads whose replies ("STORM HELLO", "STORM ONE", "STORM TWO") are in
    # different loop guard slots: test_srctable's test_loop_storm_payloads
    # checks that.  With one reply remembered, two such loops reset each
    # other's count on every datagram and ran for ever (~250,000 datagrams
    # per daemon in 3 s, no loop drop).  Now each ends by its own count,
    # 17 datagrams each.
    SLOTS_APART = (b"storm hello", b"storm one", b"storm two")

    def storm_ends(self, payloads):
        n = len(payloads)
        on1, on2, (b1, a1), (b2, a2), rcs = storm_between_daemons("", 2.0, payloads)
        loops = delta(b1, a1, "udp_datagrams_dropped_loop") + \
            delta(b2, a2, "udp_datagrams_dropped_loop")
        print("storm of %d payloads between two upcaseds: guard on: %d datagrams in 2 s "
              "(%d + %d), loop drops %d" % (n, on1 + on2, on1, on2, loops))
        self.assertEqual(rcs, (0, 0))
        self.assertGreaterEqual(on2, n, "a forged datagram never reached the second daemon")
        # About 17 datagrams a loop (8 exchanges each way and the drop).
        self.assertLessEqual(on1 + on2, max(100, 30 * n),
                             "%d loops with different payloads must each end within a few "
                             "datagrams; they ran %d datagrams in 2 s" % (n, on1 + on2))
        # Each loop ends with one loop drop.
        self.assertGreaterEqual(loops, n, "%d loops, %d loop drops" % (n, loops))

    def test_two_payload_storm_ends(self):
        self.storm_ends(self.SLOTS_APART[:2])

    def test_three_payload_storm_ends(self):
        self.storm_ends(self.SLOTS_APART)

    def test_shared_first_slot_storm_ends(self):
        # "STORM ONE" and "STORM THREE" have one first slot
        # (test_loop_storm_payloads): the second takes its other slot, and
        # both are counted, with loopback exempt from the rate limit (the
        # default).  With one slot each (before), they took it from each
        # other on every round and ran on, 338,744 datagrams in 2 s.
        self.storm_ends((b"storm one", b"storm three"))

    def test_five_payload_storm_ends(self):
        # More loops than slots: a counted loop keeps its slot, an ended
        # one gives it up, so they end one after the other.
        self.storm_ends((b"storm a", b"storm b", b"storm c", b"storm d", b"storm e"))


class StormWithEchoService(unittest.TestCase):
    def echo_storm(self, extra, seconds):
        with NetDaemon(extra=extra) as d:
            echo = nethelp.EchoServer("127.0.0.1", limit=seconds + 5)
            try:
                before = d.stats()
                # The echo service's own socket sends the first datagram.
                echo.sock.sendto(b"ping hello", ("127.0.0.1", d.port))
                time.sleep(seconds)
            finally:
                n = echo.stop()
            after = d.stats()
            self.assertEqual(d.stop(), 0)
            return n, delta(before, after, "udp_datagrams_in"), delta(before, after, "udp_datagrams_dropped_loop")

    def test_pingpong_with_echo_ends(self):
        off, off_in, _ = self.echo_storm(GUARD_OFF, 1.0)
        on, on_in, on_loop = self.echo_storm("", 2.0)
        print("storm with an echo service: guard off: echo received %d in 1 s (daemon in %d); "
              "guard on: echo received %d in 2 s (daemon in %d, loop drops %d)"
              % (off, off_in, on, on_in, on_loop))
        self.assertGreaterEqual(on, 1, "upcased never answered the echo service's first datagram")
        self.assertLessEqual(on, 10, "the ping-pong with an echo service went on: %d datagrams in 2 s" % on)
        self.assertGreaterEqual(on_loop, 1, "the loop breaker did not count the echo it dropped")
        self.assertGreaterEqual(off, 20, "without the guard the echo set-up should storm (got %d)" % off)


if __name__ == "__main__":
    nethelp.main()
