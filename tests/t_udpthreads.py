#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""udp.threads: several UDP workers, each with its own SO_REUSEPORT socket
on every UDP listener; the kernel spreads sources among them, and a BPF
program sends every datagram of one source address (whatever its port) to
the same worker, so its per-source rate limit holds as with one thread."""

import os
import re
import socket
import time
import unittest

import harness
import nethelp
from nethelp import NetDaemon, udp_ask


def started(d):
    """Wait until the workers run (the port answers a moment before)."""
    d.wait_log(" started: ")
    return d


def udp_threads(pid):
    """{tid: name} of the daemon's UDP workers."""
    out = {}
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
        except OSError:
            continue
        if re.fullmatch(r"upcased-udp\d+", name):
            out[int(tid)] = name
    return out


def cpu_ticks(pid, tid):
    with open("/proc/%d/task/%d/stat" % (pid, tid)) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])     # utime + stime


def udp_socket_inodes(pid, port):
    """Inodes of the daemon's UDP sockets bound to port (from /proc/net/udp)."""
    mine = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        m = re.fullmatch(r"socket:\[(\d+)\]", link)
        if m:
            mine.add(m.group(1))
    found = []
    for table in ("/proc/net/udp", "/proc/net/udp6"):
        with open(table) as f:
            for line in f.readlines()[1:]:
                cols = line.split()
                if int(cols[1].rsplit(":", 1)[1], 16) == port and cols[9] in mine:
                    found.append(cols[9])
    return sorted(found)


def one_source_many_ports(port, src, nports, per_port):
    """From src, per_port datagrams on each of nports sockets (ports),
    as fast as they go: the replies counted."""
    socks = []
    for _ in range(nports):
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind((src, 0))
        s.setblocking(False)
        socks.append(s)
    for i in range(per_port):
        for s in socks:
            s.sendto(b"flood %d" % i, ("127.0.0.1", port))
    got = 0
    deadline = time.monotonic() + 1.0
    while time.monotonic() < deadline:
        for s in socks:
            try:
                while s.recv(100):
                    got += 1
            except BlockingIOError:
                pass
        time.sleep(0.02)
    for s in socks:
        s.close()
    return got


# Rate limit on loopback (not exempt), no leak: what one source may get.
LIMITED = """udp = { threads = %d; rate_limit = 10; burst = 20; leak = 0; exempt = ( ); };"""


class UdpThreads(unittest.TestCase):
    def test_sockets_and_workers(self):
        with NetDaemon("udp = { threads = 3; };") as d:
            started(d)
            self.assertEqual(len(udp_threads(d.pid)), 3)
            self.assertEqual(len(udp_socket_inodes(d.pid, d.port)), 3)
            for i in range(50):
                s = nethelp.udp_from("127.0.0.%d" % (10 + i))
                self.assertEqual(udp_ask(s, ("ß und ǆ %d" % i).encode(), d.port),
                                 ("ß und ǆ %d" % i).upper().encode())
                s.close()
            # A reload keeps every worker's socket as it was.
            before = udp_socket_inodes(d.pid, d.port)
            d.reload("udp = { threads = 3; guard = true; };")
            self.assertEqual(udp_socket_inodes(d.pid, d.port), before)
            s = nethelp.udp_from("127.0.0.9")
            self.assertEqual(udp_ask(s, b"after reload", d.port), b"AFTER RELOAD")
            s.close()
            # The thread count is fixed for the process.
            log = d.reload("udp = { threads = 1; };")
            self.assertRegex(log, r"udp\.threads.*restart")
            self.assertEqual(len(udp_threads(d.pid)), 3)

    def test_one_thread_one_socket(self):
        with NetDaemon("") as d:
            started(d)
            self.assertEqual(len(udp_threads(d.pid)), 1)
            self.assertEqual(len(udp_socket_inodes(d.pid, d.port)), 1)

    def test_sources_spread_over_workers(self):
        """64 source addresses: every worker gets a share of the work."""
        with NetDaemon("udp = { threads = 2; };") as d:
            started(d)
            tids = sorted(udp_threads(d.pid))
            before = {t: cpu_ticks(d.pid, t) for t in tids}
            socks = [nethelp.udp_from("127.0.1.%d" % (1 + i)) for i in range(64)]
            for s in socks:
                s.setblocking(False)
            sent = got = 0
            deadline = time.monotonic() + 20
            # Bounded: until both threads show CPU time, or 20 s.
            while time.monotonic() < deadline:
                for _ in range(20):
                    for s in socks:
                        s.sendto(b"x" * 200, ("127.0.0.1", d.port))
                        sent += 1
                    for s in socks:
                        try:
                            while s.recv(300):
                                got += 1
                        except BlockingIOError:
                            pass
                used = {t: cpu_ticks(d.pid, t) - before[t] for t in tids}
                if sent >= 40000 and min(used.values()) >= 5:
                    break
            for s in socks:
                s.close()
            print("2 UDP threads, 64 sources, %d datagrams: CPU ticks per thread %s"
                  % (sent, sorted(used.values())))
            self.assertGreaterEqual(min(used.values()), 5, used)
            self.assertGreater(got, sent // 2)

    def test_one_source_meets_one_limit(self):
        """One address sending from 64 ports is one source: with 4 workers
        it gets what one worker's limit allows (burst 20 + 10/s), not 4
        times that, as it would if the kernel's port hash chose the
        worker (shown with reuse_port = true, where the program is not
        attached)."""
        with NetDaemon(LIMITED % 4) as d:
            got = one_source_many_ports(d.port, "127.0.0.5", 64, 10)
            st = d.stats()
        rate = nethelp.stat(st, "udp_datagrams_dropped_rate_limit")
        # The same with the listener shared (no steering program).
        port = harness.free_port()
        listen = '{ address = "127.0.0.1"; port = %d; reuse_port = true; }' % port
        with NetDaemon(LIMITED % 4, port=port, listen=listen) as u:
            got_hashed = one_source_many_ports(u.port, "127.0.0.5", 64, 10)
        print("one source, 64 ports, 640 datagrams, 4 UDP threads: %d answered steered "
              "by source, %d with the kernel's port hash (%d dropped by the rate limit)"
              % (got, got_hashed, rate))
        self.assertGreaterEqual(got, 20)
        self.assertLessEqual(got, 20 + 10 * 3)
        self.assertGreater(got_hashed, got + 15)

    def test_too_many_sockets(self):
        listen = ", ".join('{ address = "127.0.0.1"; port = %d; tcp = false; }'
                           % harness.free_port() for _ in range(2))
        port = harness.free_port()
        listen = '{ address = "127.0.0.1"; port = %d; }, %s' % (port, listen)
        with NetDaemon("udp = { threads = 100; };", port=port, listen=listen) as d:
            log = started(d).wait_log("starting 42")
            self.assertIn("udp.threads: 100 threads with 3 UDP listeners would need 300 "
                          "sockets, more than the 128 a worker can watch: starting 42", log)
            self.assertEqual(len(udp_threads(d.pid)), 42)
            s = nethelp.udp_from("127.0.0.1")
            self.assertEqual(udp_ask(s, b"many", d.port), b"MANY")
            s.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
