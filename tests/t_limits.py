# SPDX-License-Identifier: ISC
"""Limits from the config: idle_timeout, max_connections, running out of descriptors."""
import os
import resource
import socket
import subprocess
import time
import unittest

import harness
from harness import Daemon


def cpu_seconds(pid):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class IdleTimeout(unittest.TestCase):
    def test_idle_connection_closed_active_one_kept(self):
        with Daemon(extra="idle_timeout = 1;") as d:
            idle = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            busy = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            start = time.monotonic()
            for _ in range(6):                      # ~3 s of activity
                busy.sendall(b"ping")
                self.assertEqual(harness.recv_exactly(busy, 4), b"PING")
                time.sleep(0.5)
            self.assertEqual(idle.recv(10), b"", "idle connection not closed")
            self.assertLess(time.monotonic() - start, 5)
            busy.sendall(b"alive")
            self.assertEqual(harness.recv_exactly(busy, 5), b"ALIVE")
            idle.close()
            busy.close()
            self.assertEqual(d.stop(), 0)


class MaxConnections(unittest.TestCase):
    def test_limit_enforced_and_counted(self):
        with Daemon(extra="max_connections = 5;") as d:
            time.sleep(0.5)    # let the server see the readiness probe's close
            held = [socket.create_connection(("127.0.0.1", d.port), timeout=5) for _ in range(5)]
            for s in held:                           # all five are really served
                s.sendall(b"in")
                self.assertEqual(harness.recv_exactly(s, 2), b"IN")
            extra = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            try:
                extra.sendall(b"over")
                self.assertEqual(extra.recv(10), b"")    # closed at once, nothing served
            except ConnectionResetError:
                pass
            extra.close()
            log = d.wait_log("max_connections (5) reached")
            held.pop().close()
            time.sleep(0.3)
            self.assertEqual(harness.tcp_roundtrip(d.port, b"room again"), b"ROOM AGAIN")
            for s in held:
                s.close()
            d.send_signal(__import__("signal").SIGUSR1)
            log = d.wait_log('upcased_tcp_connections_refused_total{reason="max_connections"} 1')
            self.assertEqual(d.stop(), 0, log)


class OutOfDescriptors(unittest.TestCase):
    def test_emfile_backs_off_without_spinning(self):
        """With the descriptor limit exhausted the daemon neither crashes nor spins."""
        port = harness.free_port()
        conf = harness.make_conf(port, extra="tcp = { threads = 1; }; max_connections = 1000;")
        d = Daemon(conf_text=conf, port=port, wait=False)
        # Start it with a tiny descriptor limit: a few connections exhaust it.
        d.proc.kill()
        d.proc.wait()
        d.log.close()
        d.log = open(d.log_path, "wb")
        d.proc = subprocess.Popen(
            ["sh", "-c", "ulimit -n 24 && exec \"$0\" -f -c \"$1\"", harness.UPCASED, d.conf_path],
            stdout=d.log, stderr=subprocess.STDOUT)
        d.pid = d.proc.pid
        with d:
            d.wait_ready()
            conns = []
            for _ in range(40):
                try:
                    conns.append(socket.create_connection(("127.0.0.1", port), timeout=2))
                except OSError:
                    break
            d.wait_log("accept (pausing", timeout=10)
            before = cpu_seconds(d.pid)
            time.sleep(2)
            used = cpu_seconds(d.pid) - before
            self.assertLess(used, 0.5, "daemon spun the CPU while out of descriptors: %.2fs" % used)
            for c in conns:
                c.close()
            time.sleep(0.5)
            # Once descriptors are free again, it serves.
            self.assertEqual(harness.tcp_roundtrip(port, b"recovered", timeout=10), b"RECOVERED")
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    unittest.main()
