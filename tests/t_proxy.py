#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""listen.proxy_protocol: a PROXY protocol header (v1, v2) from a trusted
proxy names the client, for access rules, per-source limits and logs;
untrusted, malformed, truncated and late headers are refused and counted
by reason; bytes after the header are served."""

import errno
import os
import socket
import struct
import time
import unittest

import harness
from nethelp import NetDaemon, delta

SIG = b"\r\n\r\n\x00\r\nQUIT\n"


def v1(src, sport, dst="127.0.0.1", dport=12000):
    fam = "TCP6" if ":" in src else "TCP4"
    return ("PROXY %s %s %s %d %d\r\n" % (fam, src, dst, sport, dport)).encode()


def v2(src, sport, dst="127.0.0.1", dport=12000, local=False, tlvs=b""):
    if local:
        return SIG + bytes([0x20, 0x00]) + struct.pack("!H", len(tlvs)) + tlvs
    block = socket.inet_aton(src) + socket.inet_aton(dst) + struct.pack("!HH", sport, dport)
    body = block + tlvs
    return SIG + bytes([0x21, 0x11]) + struct.pack("!H", len(body)) + body


def connect(port, src="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(5)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    return s


def ask(port, first, rest=b"", src="127.0.0.1", chunk=None):
    """Send first (the header and maybe data), then rest; the reply until
    EOF after a half-close, or None if the connection was closed before
    any reply."""
    s = connect(port, src)
    try:
        data = first + rest
        if chunk:
            for i in range(0, len(data), chunk):
                s.sendall(data[i:i + chunk])
                time.sleep(0.002)
        else:
            s.sendall(first)
            if rest:
                s.sendall(rest)
        s.shutdown(socket.SHUT_WR)
        return harness.recv_all(s)
    except OSError as e:
        # Closed by the server before or while we sent: refused.  A
        # timeout is not a refusal and goes on up.
        if e.errno not in (errno.ECONNRESET, errno.EPIPE, errno.ENOTCONN):
            raise
        return None
    finally:
        s.close()


def listen(port, plain_port):
    return ('{ address = "127.0.0.1"; port = %d; udp = false; proxy_protocol = true; }, '
            '{ address = "127.0.0.1"; port = %d; udp = false; }' % (port, plain_port))


class Proxy(unittest.TestCase):
    def daemon(self, extra=""):
        port, plain = harness.free_port(), harness.free_port()
        # Readiness is probed on the plain listener: a probe of the proxy
        # one would count as a truncated header.
        d = NetDaemon('trusted_proxies = ( "127.0.0.1" );\n' + extra, port=plain,
                      listen=listen(port, plain), args=["-d"])
        self.addCleanup(d.stop)
        d.plain, d.port = plain, port
        return d

    def test_v1_and_v2_name_the_client(self):
        d = self.daemon('access = ( "deny 192.0.2.66", "allow all" );')
        text = "straße ǆ hello".encode()
        upper = "straße ǆ hello".upper().encode()
        before = d.stats()
        # Header and data in one segment; then in 1-byte pieces; v2 with TLVs.
        self.assertEqual(ask(d.port, v1("192.0.2.7", 5555) + text), upper)
        self.assertEqual(ask(d.port, v1("2001:db8::7", 6666, "::1"), text, chunk=1), upper)
        tlvs = bytes([0x04, 0, 3]) + b"abc" + bytes([0x05, 0, 0])   # NOOP, UNIQUE_ID empty
        self.assertEqual(ask(d.port, v2("192.0.2.8", 7777, tlvs=tlvs) + text), upper)
        self.assertEqual(ask(d.port, v2("192.0.2.9", 7778), text, chunk=3), upper)
        # LOCAL: the proxy's own health check, served as the proxy.
        self.assertEqual(ask(d.port, v2(None, 0, local=True), b"check"), b"CHECK")
        # The access rules see the client the header names.
        self.assertIsNone(ask(d.port, v1("192.0.2.66", 4242) + b"no") or None)
        after = d.stats()
        self.assertEqual(delta(before, after, "tcp_proxy_headers"), 6)
        self.assertEqual(delta(before, after, "tcp_connections_refused_access"), 1)
        log = d.wait_log("192.0.2.66:4242")
        self.assertRegex(log, r"refused a connection from 192\.0\.2\.66:4242: denied by access rule 1")
        # The plain listener beside it takes no header.
        self.assertEqual(harness.tcp_roundtrip(d.plain, b"plain"), b"PLAIN")

    def test_refusals_by_reason(self):
        d = self.daemon("proxy_timeout = 1;")
        before = d.stats()
        # Untrusted: closed at once, nothing read or answered.
        self.assertIsNone(ask(d.port, v1("192.0.2.7", 1) + b"x", src="127.0.0.9") or None)
        # Malformed v1 and v2, and no header at all.
        self.assertIsNone(ask(d.port, b"PROXY TCP4 192.0.2.7 127.0.0.1 01 2\r\nx") or None)
        self.assertIsNone(ask(d.port, SIG + bytes([0x21, 0x11, 0, 4]) + b"abcd") or None)
        self.assertIsNone(ask(d.port, b"GET / HTTP/1.0\r\n\r\n") or None)
        # Truncated: input ends inside the header.
        self.assertIsNone(ask(d.port, v1("192.0.2.7", 1)[:20]) or None)
        # Late: nothing within proxy_timeout (1 s).
        s = connect(d.port)
        t0 = time.monotonic()
        s.sendall(b"PROXY TCP4 ")
        self.assertEqual(harness.recv_all(s), b"")
        waited = time.monotonic() - t0
        s.close()
        after = d.stats()
        print("proxy_timeout = 1: closed after %.2f s" % waited)
        self.assertGreaterEqual(waited, 0.9)
        self.assertLess(waited, 3.0)
        self.assertEqual(delta(before, after, "tcp_proxy_refused_untrusted"), 1)
        self.assertEqual(delta(before, after, "tcp_proxy_refused_invalid"), 3)
        self.assertEqual(delta(before, after, "tcp_proxy_refused_truncated"), 1)
        self.assertEqual(delta(before, after, "tcp_proxy_refused_timeout"), 1)
        self.assertEqual(delta(before, after, "tcp_proxy_headers"), 0)
        log = d.read_log()
        self.assertIn("refused a connection from 127.0.0.9:", log)
        self.assertIn("not one of trusted_proxies", log)
        self.assertIn("invalid PROXY header (", log)
        # Every connection was closed: none is left open.
        self.assertEqual(after["upcased_tcp_connections_open"], 0)

    def test_per_source_limit_counts_the_client(self):
        d = self.daemon("limits = { connections_per_source = 2; exempt = ( ); };")
        held = []
        for _ in range(2):
            s = connect(d.port)
            s.sendall(v1("192.0.2.50", 1000 + len(held)) + b"a")
            self.assertEqual(harness.recv_exactly(s, 1), b"A")
            held.append(s)
        before = d.stats()
        # A third for the same client is refused; another client is not.
        self.assertIsNone(ask(d.port, v1("192.0.2.50", 2000) + b"b") or None)
        self.assertEqual(ask(d.port, v1("192.0.2.51", 2001) + b"c"), b"C")
        # The counters may lag the close a client sees: wait for them, bounded.
        deadline = time.monotonic() + 3
        while True:
            after = d.stats()
            if (delta(before, after, "tcp_connections_refused_per_source") or
                    time.monotonic() > deadline):
                break
            time.sleep(0.05)
        self.assertEqual(delta(before, after, "tcp_connections_refused_per_source"), 1,
                         "%s\n%s" % ({k: v - before.get(k, 0) for k, v in after.items()
                                      if v != before.get(k, 0)}, d.read_log()))
        for s in held:
            s.close()

    def test_needs_trusted_proxies(self):
        port = harness.free_port()
        conf = harness.make_conf(port, listen='{ address = "127.0.0.1"; port = %d; '
                                 'proxy_protocol = true; }' % port)
        path = os.path.join(self.tmp(), "u.conf")
        with open(path, "w") as f:
            f.write(conf)
        rc, out, err = harness.run([harness.UPCASED, "-t", "-c", path])
        self.assertEqual(rc, 78, out + err)
        self.assertIn(b"proxy_protocol is on but trusted_proxies is empty", out + err)

    def tmp(self):
        import tempfile
        d = tempfile.mkdtemp(prefix="upcase-proxy-")
        self.addCleanup(lambda: __import__("shutil").rmtree(d, ignore_errors=True))
        return d


if __name__ == "__main__":
    unittest.main(verbosity=2)
