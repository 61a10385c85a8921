#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_valgrind.py: the daemon under valgrind memcheck, through a short mixed
load (TCP sessions, UDP, single connections, a stream), a reload that adds
a listener and access rules, another that takes them away, SIGUSR1, and
SIGTERM with a connection still open: it exits 0, with no memory error
and no leak (definite, indirect or possible).  Skipped when valgrind is
missing (not in CI: ./dev installs it) and under ASan or TSan, which do
not run under valgrind (make distcheck builds that way).
"""
import os
import re
import shutil
import signal
import socket
import tempfile
import unittest

import harness
from harness import Daemon, make_conf

VALGRIND = ["valgrind", "--error-exitcode=99", "--leak-check=full",
            "--errors-for-leak-kinds=definite,indirect,possible",
            "--show-leak-kinds=definite,indirect,possible", "--num-callers=30"]
MIN_REQUESTS = 3000


class Memcheck(unittest.TestCase):
    def setUp(self):
        san = harness.sanitizer()
        if san in ("address", "thread"):
            self.skipTest("upcased is built with the %s sanitizer, which does not run under "
                          "valgrind (the plain make check runs this test)" % san)
        if shutil.which("valgrind") is None:
            if os.environ.get("CI"):
                self.fail("valgrind is missing in CI (./dev installs it)")
            self.skipTest("valgrind is not installed (Debian: apt-get install valgrind)")

    def load(self, d, seconds, ports):
        """TCP sessions and UDP at once, then a stream and single round-trips:
        returns the requests checked."""
        done = 0
        procs = [harness.benchmark("tcp", d.port, ["--utf8", "-c", "4", "-s", "100",
                                                   "--timeout", "20000",
                                                   "--duration", str(seconds)]),
                 # Losses (the daemon is slow under valgrind) are not what is tested.
                 harness.benchmark("udp", d.port, ["-c", "2", "-P", "4", "-s", "64",
                                                   "--timeout", "5000", "--max-loss", "100",
                                                   "--duration", str(seconds)])]
        for p in procs:
            rc, res, err = harness.benchmark_result(p, timeout=seconds + 120)
            self.assertEqual(rc, 0, "upcase-benchmark: exit %d: %s %s" % (rc, res, err))
            self.assertEqual((res["wrong"], res["errors"]), (0, 0), res)
            done += res["requests"]
        data = "Straße ωμέγα ".encode() * 5000
        self.assertEqual(harness.tcp_stream(d.port, [data[i:i + 4096] for i in
                                                     range(0, len(data), 4096)]),
                         harness.py_upper(data))
        for port in ports:
            for i in range(10):
                msg = b"single %d on %d" % (i, port)
                self.assertEqual(harness.tcp_roundtrip(port, msg, timeout=30), msg.upper())
        return done + 1 + 10 * len(ports)

    def test_no_errors_no_leaks(self):
        tmp = tempfile.mkdtemp(prefix="upcase-vg-")
        self.addCleanup(shutil.rmtree, tmp, True)
        vlog = os.path.join(tmp, "valgrind.log")
        prefix = VALGRIND + ["--log-file=" + vlog]
        port2 = harness.free_port()
        # epoll: valgrind 3.19 does not follow io_uring's rings, which the
        # kernel and the process share (the first submission never reaches
        # the kernel, and the daemon waits for ever); ASan and TSan cover
        # the io_uring path (make distcheck).
        base = 'tcp = { threads = 2; }; shutdown_timeout = 30; io = "epoll";'
        with Daemon(extra=base, prefix=prefix, ready_timeout=60) as d:
            # TCP is listening before the UDP socket is bound: wait for both.
            d.wait_log(" started: ", timeout=60)
            total = self.load(d, 3, [d.port])
            both = ('{ address = "127.0.0.1"; port = %d; }, { address = "127.0.0.1"; port = %d; }'
                    % (d.port, port2))
            d.write_conf(make_conf(d.port, listen=both, extra=base +
                                   ' access = ( "deny 127.0.0.66", "allow all" );'
                                   ' limits = { exempt = ( ); connection_rate = 0; };'))
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("configuration reloaded", timeout=60)
            total += self.load(d, 2, [d.port, port2])
            d.send_signal(signal.SIGUSR1)
            log = d.wait_log("stats:", timeout=60, after=len(log))
            d.write_conf(make_conf(d.port, extra=base))
            d.send_signal(signal.SIGHUP)
            log = d.wait_log("configuration reloaded", timeout=60, after=len(log))
            total += self.load(d, 2, [d.port])
            # One client still connected at SIGTERM: the drain closes it.
            held = socket.create_connection(("127.0.0.1", d.port), timeout=30)
            held.sendall(b"held")
            self.assertEqual(harness.recv_exactly(held, 4), b"HELD")
            rc = d.stop(timeout=120)
            held.close()
            with open(vlog, encoding="utf-8", errors="replace") as f:
                report = f.read()
            self.assertEqual(rc, 0, "exit %d (99: valgrind found errors):\n%s" % (rc, report))
            self.assertIn("ERROR SUMMARY: 0 errors", report, report)
            for kind in ("definitely", "indirectly", "possibly"):
                m = re.search(r"%s lost: ([\d,]+) bytes" % kind, report)
                self.assertTrue(m is None or m.group(1) == "0", report)
            self.assertGreaterEqual(total, MIN_REQUESTS)
            summary = re.search(r"in use at exit: ([\d,]+ bytes in [\d,]+ blocks)", report)
            print("valgrind memcheck: %d requests checked, 2 reloads, 1 SIGUSR1, SIGTERM with a "
                  "connection open: exit 0, no errors, no leaks (%s still reachable at exit)"
                  % (total, summary.group(1) if summary else "nothing"))


if __name__ == "__main__":
    # Every test skipped (no container, a sanitizer build, ...): automake's SKIP, not PASS.
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    raise SystemExit(1 if not r.wasSuccessful() else
                     77 if r.testsRun and len(r.skipped) == r.testsRun else 0)
