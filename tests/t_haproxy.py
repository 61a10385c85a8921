#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Behind a real HAProxy (Debian's haproxy, on loopback): two upcased
instances with proxy_protocol listeners, send-proxy-v2 and health checks
with the PROXY protocol, round robin.  Every reply of the project's load
generator is right and both instances serve; an access rule on the client
address, the per-source limit and the logs see the client, not the proxy;
a forged header sent directly from an untrusted address is refused."""

import errno
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from nethelp import NetDaemon, delta

HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"


def haproxy_conf(front, backs, admin):
    servers = "\n".join(
        "    server u%d 127.0.0.1:%d send-proxy-v2 check check-send-proxy inter 300ms "
        "rise 1 fall 2" % (i, p) for i, p in enumerate(backs))
    return """global
    maxconn 4000
    stats socket %s mode 600 level admin

defaults
    mode tcp
    timeout connect 2s
    timeout client 30s
    timeout server 30s

frontend fe
    bind 127.0.0.1:%d
    default_backend be

backend be
    balance roundrobin
%s
""" % (admin, front, servers)


class HAProxy:
    def __init__(self, front, backs):
        self.dir = tempfile.mkdtemp(prefix="upcase-haproxy-")
        self.admin = os.path.join(self.dir, "admin.sock")
        path = os.path.join(self.dir, "haproxy.cfg")
        with open(path, "w") as f:
            f.write(haproxy_conf(front, backs, self.admin))
        self.log = open(os.path.join(self.dir, "haproxy.log"), "wb")
        self.proc = subprocess.Popen([HAPROXY, "-db", "-f", path], stdout=self.log,
                                     stderr=subprocess.STDOUT)
        self.front = front

    def servers_up(self, n, timeout=15):
        """Wait until n servers pass their health checks (the admin socket says)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("haproxy exited %d:\n%s" % (self.proc.returncode,
                                                                 self.read_log()))
            try:
                with socket.socket(socket.AF_UNIX) as s:
                    s.settimeout(2)
                    s.connect(self.admin)
                    s.sendall(b"show servers state be\n")
                    text = harness.recv_all(s).decode()
                # srv_op_state 2 = running
                up = sum(1 for line in text.splitlines()[2:]
                         if len(line.split()) > 5 and line.split()[5] == "2")
                if up >= n:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise AssertionError("haproxy servers not up in %d s:\n%s" % (timeout, self.read_log()))

    def read_log(self):
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def backend(extra=""):
    """An upcased with a proxy_protocol listener trusting 127.0.0.1, plus a
    plain one that readiness probes use."""
    port, plain = harness.free_port(), harness.free_port()
    listen = ('{ address = "127.0.0.1"; port = %d; udp = false; proxy_protocol = true; }, '
              '{ address = "127.0.0.1"; port = %d; udp = false; }' % (port, plain))
    d = NetDaemon('trusted_proxies = ( "127.0.0.1" );\n' + extra, port=plain, listen=listen,
                  args=["-d"])
    d.plain, d.port = plain, port
    return d


def from_addr(src, port, data, timeout=5):
    """A round trip through the proxy from the client address src: the
    reply, or None if the connection was closed without one."""
    s = socket.socket()
    s.settimeout(timeout)
    s.bind((src, 0))
    try:
        s.connect(("127.0.0.1", port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        got = harness.recv_all(s)
        return got or None
    except OSError as e:
        # Closed by the server before or while we sent: refused.  A
        # timeout is not a refusal and goes on up.
        if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
            raise
        return None
    finally:
        s.close()


class BehindHAProxy(unittest.TestCase):
    def setUp(self):
        if not os.path.exists(HAPROXY):
            if os.environ.get("CI"):
                self.fail("haproxy is missing in CI (./dev installs it)")
            self.skipTest("haproxy is not installed (Debian: apt-get install haproxy)")

    def test_two_backends(self):
        # limits count the client: loopback clients are not exempt here,
        # but the proxy's own health checks (LOCAL, from 127.0.0.1) are.
        extra = ('access = ( "deny 127.0.0.9", "allow all" );\n'
                 'limits = { connections_per_source = 3; connection_rate = 100000; '
                 'connection_burst = 100000; exempt = ( "127.0.0.1" ); };')
        a, b = backend(extra), backend(extra)
        self.addCleanup(a.stop)
        self.addCleanup(b.stop)
        front = harness.free_port()
        hp = HAProxy(front, [a.port, b.port])
        self.addCleanup(hp.stop)
        hp.servers_up(2)
        a0, b0 = a.stats(), b.stats()

        # Load from the project's generator (every reply checked), from
        # many client addresses (127.0.N.1).
        p = harness.benchmark("tcp", front, ["-c", "40", "-s", "64", "--duration", "3"])
        rc, res, err = harness.benchmark_result(p, timeout=60)
        self.assertEqual(rc, 0, "upcase-benchmark: %s %s" % (res, err))
        self.assertEqual((res["wrong"], res["errors"]), (0, 0), res)
        self.assertGreater(res["requests"], 1000, res)
        a1, b1 = a.stats(), b.stats()
        da = delta(a0, a1, "tcp_proxy_headers")
        db = delta(b0, b1, "tcp_proxy_headers")
        print("through haproxy: %d requests, 0 wrong; PROXY headers taken %d and %d "
              "(health checks included)" % (res["requests"], da, db))
        self.assertGreater(min(da, db), 10)
        self.assertEqual(delta(a0, a1, "tcp_proxy_refused_invalid"), 0)
        self.assertEqual(delta(b0, b1, "tcp_proxy_refused_invalid"), 0)

        # An access rule on the client's address, enforced behind the proxy.
        self.assertIsNone(from_addr("127.0.0.9", front, b"denied"))
        self.assertEqual(from_addr("127.0.0.10", front, b"allowed"), b"ALLOWED")
        deadline = time.monotonic() + 3
        while True:
            denied = (delta(a1, a.stats(), "tcp_connections_refused_access") +
                      delta(b1, b.stats(), "tcp_connections_refused_access"))
            if denied >= 1 or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.assertEqual(denied, 1)
        logs = a.read_log() + b.read_log()
        self.assertIn("refused a connection from 127.0.0.9:", logs)

        # The per-source limit counts the client: 127.0.0.11 holds 3
        # connections on each backend... round robin spreads them, so hold
        # 6, and the 7th from it is refused while 127.0.0.12 still gets in.
        held = []
        for i in range(6):
            s = socket.socket()
            s.settimeout(5)
            s.bind(("127.0.0.11", 0))
            s.connect(("127.0.0.1", front))
            s.sendall(b"x")
            self.assertEqual(harness.recv_exactly(s, 1), b"X")
            held.append(s)
        try:
            self.assertIsNone(from_addr("127.0.0.11", front, b"seventh"))
            self.assertEqual(from_addr("127.0.0.12", front, b"other"), b"OTHER")
        finally:
            for s in held:
                s.close()

    def test_forged_header_from_untrusted(self):
        a = backend()
        self.addCleanup(a.stop)
        before = a.stats()
        forged = b"PROXY TCP4 192.0.2.1 127.0.0.1 1234 %d\r\nforged" % a.port
        self.assertIsNone(from_addr("127.0.0.9", a.port, forged))
        deadline = time.monotonic() + 3
        while delta(before, a.stats(), "tcp_proxy_refused_untrusted") < 1 and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        self.assertEqual(delta(before, a.stats(), "tcp_proxy_refused_untrusted"), 1)
        self.assertEqual(delta(before, a.stats(), "tcp_bytes_in"), 0)


if __name__ == "__main__":
    # Every test skipped (no container, a sanitizer build, ...): automake's SKIP, not PASS.
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    raise SystemExit(1 if not r.wasSuccessful() else
                     77 if r.testsRun and len(r.skipped) == r.testsRun else 0)
