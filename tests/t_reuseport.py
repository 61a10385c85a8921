#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""listen.reuse_port: two upcased processes, each with its own config and
control socket, serve one address and port; the kernel spreads clients
between them; a reload of one leaves the other serving, and when one
stops the other takes every new client.  Without reuse_port the second
one is refused the port, as before."""

import subprocess
import tempfile
import time
import unittest

import harness
import nethelp
from nethelp import NetDaemon, delta, udp_ask


def listen_on(port, reuse=True):
    return ('{ address = "127.0.0.1"; port = %d; reuse_port = %s; }'
            % (port, "true" if reuse else "false"))


def connections(port, n):
    """n TCP round trips, each on a new connection: all must be right."""
    for i in range(n):
        msg = ("straße %d\n" % i).encode()
        got = harness.tcp_roundtrip(port, msg)
        if got != msg.decode().upper().encode():
            raise AssertionError("connection %d: %r" % (i, got))


class ReusePort(unittest.TestCase):
    def test_two_processes_share_a_port(self):
        port = harness.free_port()
        # Loopback is exempt from the limits by default; 200 connections
        # from one address are fine.
        with NetDaemon(port=port, listen=listen_on(port)) as a, \
                NetDaemon(port=port, listen=listen_on(port)) as b:
            # b's readiness probe may be accepted by either: let it be counted first.
            time.sleep(0.3)
            a0, b0 = a.stats(), b.stats()
            connections(port, 200)
            # Counters are read a moment after (bounded): settle first.
            deadline = time.monotonic() + 3
            while True:
                da = delta(a0, a.stats(), "tcp_connections_accepted")
                db = delta(b0, b.stats(), "tcp_connections_accepted")
                if da + db >= 200 or time.monotonic() > deadline:
                    break
                time.sleep(0.05)
            print("200 connections to one port, two processes: %d and %d" % (da, db))
            self.assertEqual(da + db, 200)
            self.assertGreater(min(da, db), 30)
            # UDP too: from many source ports, both answer.
            ua0, ub0 = a.stats(), b.stats()
            for i in range(100):
                s = nethelp.udp_from("127.0.0.1")
                self.assertEqual(udp_ask(s, b"udp %d" % i, port), b"UDP %d" % i)
                s.close()
            ua = delta(ua0, a.stats(), "udp_datagrams_out")
            ub = delta(ub0, b.stats(), "udp_datagrams_out")
            print("100 UDP sockets: %d and %d" % (ua, ub))
            self.assertEqual(ua + ub, 100)
            self.assertGreater(min(ua, ub), 10)

            # A reload of one (a change it applies) leaves both serving.
            a.reload('idle_timeout = 120;')
            connections(port, 50)
            # Stopping b: a serves every new client.
            b.stop()
            a1 = a.stats()
            connections(port, 50)
            self.assertEqual(delta(a1, a.stats(), "tcp_connections_accepted"), 50)

    def test_without_reuse_port_the_port_is_taken(self):
        port = harness.free_port()
        with NetDaemon(port=port, listen=listen_on(port, reuse=False)):
            with tempfile.NamedTemporaryFile("w", suffix=".conf") as f:
                f.write(nethelp.conf_text(port, "", "", listen_on(port, reuse=True)))
                f.flush()
                p = subprocess.run([harness.UPCASED, "-f", "-c", f.name],
                                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                   timeout=10)
            self.assertNotEqual(p.returncode, 0)
            self.assertIn(b"Address already in use", p.stdout)


if __name__ == "__main__":
    unittest.main(verbosity=2)
