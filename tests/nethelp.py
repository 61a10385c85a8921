# SPDX-License-Identifier: ISC
"""nethelp.py: helpers for the network-safety tests (t_access, t_udpguard,
t_srclimits) on top of harness.py.

- NetDaemon: a Daemon with a control socket, counters read over it (by
  Python, or by the real client: upcase --stats), and reload().
- Sockets bound to a chosen loopback source (127.0.0.2, 127.0.0.3, ... are
  all local on Linux), TCP probes that tell "served" from "closed at once".
- forge_udp(): one IPv4+UDP datagram with a chosen source address and port,
  through a raw socket (root only), to a 127.0.0.0/8 destination only.
- main(): unittest, exiting 77 (automake's SKIP) when every test skipped.

Only loopback addresses are ever used: every helper that sends refuses any
other destination.
"""
import errno
import ipaddress
import os
import re
import shutil
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
import unittest

import harness
from harness import Daemon

IS_ROOT = os.geteuid() == 0
NEEDS_ROOT = "needs root (binding ports below 1024, raw sockets)"


def assert_loopback(host):
    """Refuse to send anywhere but 127.0.0.0/8 and ::1."""
    a = ipaddress.ip_address(host)
    if getattr(a, "ipv4_mapped", None) is not None:
        a = a.ipv4_mapped
    if not a.is_loopback:
        raise AssertionError("refusing to send to non-loopback address %s" % host)


def conf_text(port, ctl, extra="", listen=None, address="127.0.0.1"):
    if listen is None:
        listen = '{ address = "%s"; port = %d; tcp = true; udp = true; }' % (address, port)
    return ("listen = ( %s );\n"
            'control_socket = "%s";\n'
            "%s\n" % (listen, ctl, extra))


class NetDaemon(Daemon):
    """upcased with a control socket in a directory of its own.

    extra is appended to the config; listen replaces the one listener on
    address:port (tcp and udp)."""

    def __init__(self, extra="", port=None, listen=None, address="127.0.0.1", **kw):
        self.ctl_dir = tempfile.mkdtemp(prefix="upcase-ctl-")
        self.ctl = os.path.join(self.ctl_dir, "upcased.sock")
        # A wildcard listener needs its port free on every address.
        host = "0.0.0.0" if address in ("*", "0.0.0.0") else ("::1" if address == "::" else address)
        self.listen_text = listen
        self.listen_address = address
        for attempt in range(5):
            p = port or harness.free_port(host)
            try:
                super().__init__(conf_text=conf_text(p, self.ctl, extra, listen, address),
                                 port=p, address=address, **kw)
                break
            except harness.PortTaken:
                if port or attempt == 4:
                    raise
        deadline = time.monotonic() + 5
        while not os.path.exists(self.ctl) and time.monotonic() < deadline:
            time.sleep(0.01)

    def conf(self, extra):
        return conf_text(self.port, self.ctl, extra, self.listen_text, self.listen_address)

    def reload(self, extra, expect="configuration reloaded", timeout=10):
        """Rewrite the config with extra, SIGHUP, wait for the log line."""
        after = len(self.read_log())
        self.write_conf(self.conf(extra))
        self.send_signal(signal.SIGHUP)
        return self.wait_log(expect, timeout=timeout, after=after)

    def stats(self):
        """The counters, read over the control socket by Python."""
        # The daemon accepts TCP (what "ready" waits for) a moment before
        # its control socket exists and listens: retry, bounded.
        deadline = time.monotonic() + 5
        while True:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                try:
                    s.connect(self.ctl)
                except (FileNotFoundError, ConnectionRefusedError):
                    if time.monotonic() > deadline:
                        raise
                    time.sleep(0.01)
                    continue
                s.sendall(b"stats\n")
                text = harness.recv_all(s).decode()
            return parse_stats(text)

    def client_stats(self):
        """The counters as the real client prints them (upcase --stats -S)."""
        rc, out, err = harness.run([harness.UPCASE, "--stats", "-S", self.ctl])
        if rc != 0:
            raise AssertionError("upcase --stats failed (%d): %r" % (rc, err))
        return parse_stats(out.decode())

    def __exit__(self, *exc):
        try:
            return super().__exit__(*exc)
        finally:
            shutil.rmtree(self.ctl_dir, ignore_errors=True)
            if exc[0] is None:        # keep the config and log of a failure
                shutil.rmtree(self.dir, ignore_errors=True)


# Counters that became one family's reasons but whose old names tests use:
# (family, reason) -> the old name.  The rest map by rule (parse_stats).
LEGACY_NAMES = {
    ("upcased_tcp_connections_dropped_total", "idle_timeout"): "upcased_tcp_idle_timeouts_total",
    ("upcased_tcp_connections_dropped_total", "min_rate"): "upcased_tcp_slow_closes_total",
    ("upcased_tcp_connections_dropped_total", "error"): "upcased_tcp_connection_errors_total",
}

_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?')


def parse_labels(text):
    """{name: value} of a sample's label text (unescaped), or raise."""
    labels, pos = {}, 0
    while pos < len(text):
        m = _LABEL.match(text, pos)
        if m is None:
            raise AssertionError("bad labels %r" % text)
        labels[m.group(1)] = re.sub(r"\\(.)", lambda e: "\n" if e.group(1) == "n"
                                    else e.group(1), m.group(2))
        pos = m.end()
    return labels


def parse_stats(text):
    """The exposition (# HELP/# TYPE lines, name{labels} value) as a dict.

    Every sample is there by its full text, 'name{a="b"}'; a sample with no
    label by its name.  So tests keep the names they knew, a family of
    reasons also gives each reason the old flat name (name minus _total,
    _REASON, _total: upcased_tcp_connections_refused_total{reason="access"}
    is upcased_tcp_connections_refused_access_total; LEGACY_NAMES for the
    others), and a family labelled otherwise (the per-worker
    upcased_tcp_connections_open{worker=...}) its sum under the bare name.
    Histogram buckets (le) are kept by their full text only."""
    stats, sums = {}, {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        m = _SAMPLE.match(line)
        if m is None:
            raise AssertionError("not an exposition line: %r" % line)
        name, ltext, value = m.group(1), m.group(2), m.group(3)
        try:
            v = int(value)
        except ValueError:
            v = float(value)
        labels = parse_labels(ltext) if ltext else {}
        stats[name + ("{%s}" % ltext if ltext else "")] = v
        if not labels:
            stats[name] = v
        elif "le" in labels:
            continue
        elif set(labels) == {"reason"} and name.endswith("_total"):
            legacy = LEGACY_NAMES.get((name, labels["reason"]),
                                      "%s_%s_total" % (name[:-6], labels["reason"]))
            stats[legacy] = v
            sums[name] = sums.get(name, 0) + v
        else:
            sums[name] = sums.get(name, 0) + v
    for name, v in sums.items():
        stats.setdefault(name, v)
    if not stats:
        raise AssertionError("no counters in %r" % text)
    return stats


def stat(stats, short):
    """stats["upcased_" + short + "_total"], failing clearly when absent."""
    name = "upcased_%s_total" % short
    if name not in stats:
        raise AssertionError("counter %s missing; have: %s" % (name, ", ".join(sorted(stats))))
    return stats[name]


def delta(before, after, short):
    return stat(after, short) - stat(before, short)


# ------------------------------------------------------------------ TCP

def tcp_from(src, port, dst="127.0.0.1", timeout=5.0):
    """A TCP connection from src (any free port) to dst:port."""
    assert_loopback(dst)
    fam = socket.AF_INET6 if ":" in dst else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_STREAM)
    try:
        s.settimeout(timeout)
        if src is not None:
            s.bind((src, 0))
        s.connect((dst, port))
    except BaseException:
        s.close()
        raise
    return s


def probe(s, data=b"probe", timeout=2.0):
    """Send data on s and read the reply.  Returns the reply (bytes of the
    same length) when served, None when the server closed or reset the
    connection without answering."""
    s.settimeout(timeout)
    try:
        s.sendall(data)
        got = b""
        while len(got) < len(data):
            b = s.recv(len(data) - len(got))
            if not b:
                return None if not got else got
            got += b
        return got
    except (ConnectionResetError, BrokenPipeError, ConnectionAbortedError):
        return None


def closed_at_once(s, timeout=2.0):
    """True when the server closes s (EOF or reset) without sending a byte,
    even though we sent something."""
    return probe(s, b"anything there?", timeout) is None


def try_serve(src, port, data=b"hello", dst="127.0.0.1", timeout=2.0):
    """One connection: True if data came back upper-cased, False if closed
    at once.  The connection is closed either way."""
    s = tcp_from(src, port, dst, timeout)
    try:
        got = probe(s, data, timeout)
    finally:
        s.close()
    if got is None:
        return False
    if got != data.upper():
        raise AssertionError("unexpected reply %r to %r" % (got, data))
    return True


# ------------------------------------------------------------------ UDP

def udp_from(src, sport=0, rcvbuf=None, family=socket.AF_INET):
    s = socket.socket(family, socket.SOCK_DGRAM)
    try:
        if rcvbuf:
            set_rcvbuf(s, rcvbuf)
        if src is not None:
            s.bind((src, sport))
    except BaseException:
        s.close()
        raise
    return s


def set_rcvbuf(s, size):
    """SO_RCVBUFFORCE as root (past net.core.rmem_max), else SO_RCVBUF."""
    force = getattr(socket, "SO_RCVBUFFORCE", 33)
    try:
        s.setsockopt(socket.SOL_SOCKET, force, size)
    except OSError:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, size)


def udp_ask(s, data, port, dst="127.0.0.1", timeout=1.0):
    """Send one datagram from s; the reply, or None after timeout."""
    assert_loopback(dst)
    s.settimeout(timeout)
    s.sendto(data, (dst, port))
    try:
        return s.recvfrom(70000)[0]
    except socket.timeout:
        return None


def drain(s, wait=0.0):
    """Every datagram waiting on s (non-blocking), then for up to wait
    seconds more.  Returns the list of payloads."""
    got = []
    deadline = time.monotonic() + wait
    s.setblocking(False)
    try:
        while True:
            try:
                got.append(s.recv(70000))
                continue
            except BlockingIOError:
                pass
            if time.monotonic() >= deadline:
                break
            time.sleep(0.005)
    finally:
        s.setblocking(True)
    return got


# ------------------------------------------------------------------ raw

def _csum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def udp_packet(src, sport, dst, dport, payload):
    """An IPv4 header and a UDP header (with its checksum) around payload."""
    s, d = socket.inet_aton(src), socket.inet_aton(dst)
    ulen = 8 + len(payload)
    pseudo = s + d + struct.pack("!BBH", 0, socket.IPPROTO_UDP, ulen)
    udp = struct.pack("!HHHH", sport, dport, ulen, 0) + payload
    c = _csum(pseudo + udp) or 0xFFFF
    udp = struct.pack("!HHHH", sport, dport, ulen, c) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + ulen, 0, 0, 64,
                     socket.IPPROTO_UDP, 0, s, d)
    ip = ip[:10] + struct.pack("!H", _csum(ip)) + ip[12:]
    return ip + udp


class Forger:
    """A raw socket sending IPv4/UDP datagrams with any source, to
    127.0.0.0/8 only."""

    def __init__(self):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)

    def send(self, src, sport, dst, dport, payload):
        # The source too: the daemon answers it (unless a guard drops it).
        assert_loopback(src)
        assert_loopback(dst)
        pkt = udp_packet(src, sport, dst, dport, payload)
        for _ in range(200):
            try:
                self.s.sendto(pkt, (dst, 0))
                return
            except OSError as e:
                if e.errno not in (errno.ENOBUFS, errno.EAGAIN):
                    raise
                time.sleep(0.001)
        raise AssertionError("raw send kept failing with ENOBUFS")

    def close(self):
        self.s.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def forge_udp(src, sport, dst, dport, payload):
    with Forger() as f:
        f.send(src, sport, dst, dport, payload)


# ------------------------------------------------------------------ misc

class EchoServer:
    """A plain UDP echo service on host:port, in a thread, for at most
    limit seconds: every datagram goes back to where it came from."""

    def __init__(self, host="127.0.0.1", port=0, limit=10.0):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.port = self.sock.getsockname()[1]
        self.sock.settimeout(0.05)
        self.received = 0
        self.stop_event = threading.Event()
        self.limit = limit
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        deadline = time.monotonic() + self.limit
        while not self.stop_event.is_set() and time.monotonic() < deadline:
            try:
                data, peer = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received += 1
            try:
                self.sock.sendto(data, peer)
            except OSError:
                pass

    def stop(self):
        self.stop_event.set()
        self.thread.join(5)
        self.sock.close()
        return self.received


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_DGRAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def main():
    """unittest.main, but exit 77 when every test was skipped."""
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    if not r.wasSuccessful():
        sys.exit(1)
    if r.testsRun > 0 and len(r.skipped) == r.testsRun:
        sys.exit(77)
    sys.exit(0)
