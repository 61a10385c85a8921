# SPDX-License-Identifier: ISC
"""10,000 concurrent TCP connections, each served correctly, all open at once."""
import re
import selectors
import signal
import socket
import time
import unittest

import harness
from harness import Daemon

N = 10000


class ManyConnections(unittest.TestCase):
    def test_ten_thousand_concurrent(self):
        limit = harness.raise_nofile(N + 200)
        if limit < N + 100:
            self.skipTest("RLIMIT_NOFILE hard limit %d is too low for %d connections" % (limit, N))
        # Four workers on two cores: the pool beyond one per core.
        with Daemon(extra="max_connections = %d; backlog = 4096; tcp = { threads = 4; };" % (N + 100)) as d:
            base_rss = d.rss_kib()
            sel = selectors.DefaultSelector()
            socks = []
            start = time.monotonic()
            for i in range(N):
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", d.port))
                except BlockingIOError:
                    pass
                socks.append(s)
                sel.register(s, selectors.EVENT_WRITE, i)
            # Send each its own sentence once connected; then read every reply.
            want = {i: ("connection %d straße" % i).encode() for i in range(N)}
            expect = {i: harness.py_upper(v) for i, v in want.items()}
            got = {i: b"" for i in range(N)}
            pending = N
            deadline = time.monotonic() + 120
            while pending and time.monotonic() < deadline:
                for key, ev in sel.select(timeout=1):
                    i, s = key.data, key.fileobj
                    if ev & selectors.EVENT_WRITE:
                        s.send(want[i])
                        sel.modify(s, selectors.EVENT_READ, i)
                        continue
                    b = s.recv(4096)
                    self.assertTrue(b, "connection %d closed early" % i)
                    got[i] += b
                    if len(got[i]) >= len(expect[i]):
                        sel.unregister(s)
                        pending -= 1
            elapsed = time.monotonic() - start
            self.assertEqual(pending, 0, "%d connections never got their reply" % pending)
            bad = [i for i in range(N) if got[i] != expect[i]]
            self.assertEqual(bad, [], "wrong replies")
            # All of them are still open at the server at the same time.
            d.send_signal(signal.SIGUSR1)
            log = d.wait_log("stats:")
            m = re.search(r"upcased_tcp_connections_open (\d+)", log)
            self.assertEqual(int(m.group(1)), N)
            # Every one counted by the worker that holds it.  How they are
            # spread follows the load (balance.h): this client is slow, so
            # they may all be on tcp0; t_balance.py shows spreading under
            # load, and the count guard, once every worker is busy, is
            # unit-tested (test_balance).
            per = [int(x) for x in re.search(r"open per tcp worker: ([\d ]+)", log).group(1).split()]
            self.assertEqual(len(per), 4)
            self.assertEqual(sum(per), N)
            rss, hwm = d.rss_kib(), d.hwm_kib()
            for s in socks:
                s.close()
            self.assertEqual(d.stop(), 0)
            print("%d concurrent connections served in %.1f s; upcased RSS %d KiB "
                  "(%d KiB before, peak %d KiB, %.2f KiB per connection); per worker %s"
                  % (N, elapsed, rss, base_rss, hwm, (rss - base_rss) / N, per))


if __name__ == "__main__":
    unittest.main()
