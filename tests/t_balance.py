#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Who accepts TCP connections follows load (src/balance.h).

Black box, the real daemon with two TCP workers, per-worker counts
(upcased_tcp_connections_open{worker}) and busy shares
(upcased_tcp_worker_busy_ratio{worker}) read by the real client
(upcase --stats) and by Python over the control socket:
  - light load concentrates: connections opened one at a time, each
    served, all go to worker tcp0, and tcp1's busy share stays low;
  - busy load spreads: upcase-benchmark bulk (every byte checked) keeps tcp0
    busy with 4 bulk streams; once tcp0 reads busy, new connections go
    to tcp1 and are served there; upcase-benchmark saw no wrong byte and no error.
"""
import os
import socket
import sys
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from nethelp import NetDaemon  # noqa: E402

BUSY_HIGH = 0.65          # BALANCE_BUSY_HIGH


def per_worker(st, family, n):
    return [st['%s{worker="tcp%d"}' % (family, i)] for i in range(n)]


def served(port, i):
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.settimeout(10)
    data = ("connection %d straße\n" % i).encode()
    s.sendall(data)
    want = harness.py_upper(data)
    got = b""
    while len(got) < len(want):
        b = s.recv(4096)
        if not b:
            raise AssertionError("connection %d closed early" % i)
        got += b
    if got != want:
        raise AssertionError("connection %d: %r, not %r" % (i, got, want))
    return s


class Balance(unittest.TestCase):
    def test_light_load_concentrates(self):
        with NetDaemon("tcp = { threads = 2; };") as d:
            socks = []
            try:
                # More than the count guard's slack: spreading by count
                # would give tcp1 a third of them.
                for i in range(100):
                    socks.append(served(d.port, i))
                    time.sleep(0.005)
                st = d.client_stats()
                opened = per_worker(st, "upcased_tcp_connections_open", 2)
                busy = per_worker(st, "upcased_tcp_worker_busy_ratio", 2)
                print("light load: open per worker %s, busy %s" % (opened, busy))
                self.assertEqual(opened, [100, 0])
                self.assertLess(max(busy), BUSY_HIGH)
            finally:
                for s in socks:
                    s.close()
            self.assertEqual(d.stop(), 0)

    def test_busy_load_spreads(self):
        with NetDaemon("tcp = { threads = 2; };") as d:
            # Four streams through the transform keep one worker busy; 50
            # sessions x 1 do not (their client is the limit: tcp0 reads
            # about 0.45 busy, and rightly keeps accepting alone).
            gen = harness.benchmark("bulk", d.port, ["-c", "4", "--bytes", "3000M",
                                                    "--duration", "50"])
            socks = []
            try:
                # upcase-benchmark connects while the daemon is idle: all on tcp0.
                deadline = time.monotonic() + 20
                while True:
                    st = d.stats()
                    opened = per_worker(st, "upcased_tcp_connections_open", 2)
                    busy = per_worker(st, "upcased_tcp_worker_busy_ratio", 2)
                    if opened[0] >= 4 and busy[0] >= BUSY_HIGH:
                        break
                    self.assertIsNone(gen.poll(), "upcase-benchmark ended early")
                    self.assertLess(time.monotonic(), deadline,
                                    "tcp0 never busy under load: open %s, busy %s"
                                    % (opened, busy))
                    time.sleep(0.1)
                print("under load: open per worker %s, busy %s" % (opened, busy))
                self.assertEqual(opened, [4, 0])
                # tcp0 is busy: new connections go to the other one.
                for i in range(20):
                    socks.append(served(d.port, i))
                st = d.stats()
                after = per_worker(st, "upcased_tcp_connections_open", 2)
                busy = per_worker(st, "upcased_tcp_worker_busy_ratio", 2)
                print("20 more under load: open per worker %s, busy %s" % (after, busy))
                self.assertEqual(sum(after), 24)
                self.assertGreaterEqual(after[1], 10, "new connections not spread: %s" % after)
            finally:
                for s in socks:
                    s.close()
                rc, res, err = harness.benchmark_result(gen, timeout=60)
            self.assertEqual(rc, 0, err)
            self.assertEqual(res["wrong"], 0)
            self.assertEqual(res["errors"], 0)
            print("upcase-benchmark: %s MB/s through the transform" % res["rate"])
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
