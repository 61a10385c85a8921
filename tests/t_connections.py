#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""upcase --connections and --sources: who is connected, and who was limited.

Black box, the real daemon and the real client (JSON parsed by Python):
  - connections in known states: a reader, a client that does not read
    what it is owed (flushing), a client named by a PROXY header (the
    header's address), one whose header has not come (proxy); each row's
    client, listener, worker, bytes in and out, state, age and idle time,
    and the text form's header and columns;
  - during a graceful stop: a client that goes on sending is seen
    lingering; with one worker already out of its loop and another
    draining a non-reader, the listing still comes at once ("draining",
    a half-closed client owed output, lasts only while the held-back
    bytes of an incomplete character do not fit the socket: not held
    here);
  - 10,000 connections: the listing's wall time (printed; bounded
    generously), every connection in it, and TCP echo latency on another
    connection meanwhile stays bounded (the workers answer between two
    turns, the data path does not stop);
  - --sources after UDP traffic from several loopback sources with a low
    rate limit, and TCP connections over connections_per_source: the
    busiest first, with how often each was limited, and -n.
"""
import json
import re
import signal
import os
import socket
import subprocess
import sys
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from nethelp import NetDaemon  # noqa: E402
from t_proxy import v1  # noqa: E402

N = 10000


def listing(d, *args, timeout=30):
    """Run upcase --connections/--sources ARGS; (rows parsed from --json, seconds)."""
    for attempt in range(3):
        t = time.monotonic()
        p = subprocess.run([harness.UPCASE, *args, "--json", "-S", d.ctl],
                           capture_output=True, timeout=timeout)
        elapsed = time.monotonic() - t
        # 76: the daemon answered with the counters, as it does when a
        # request is not in within 200 ms of the accept; on a loaded
        # sanitizer build a client can be that slow.  Ask again.
        if p.returncode != 76:
            break
    if p.returncode != 0:
        raise AssertionError("upcase %s: exit %d: %s" % (args, p.returncode, p.stderr))
    return [json.loads(line) for line in p.stdout.decode().splitlines()], elapsed


def text_listing(d, *args):
    p = subprocess.run([harness.UPCASE, *args, "-S", d.ctl], capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def bound(src, case=None):
    s = socket.socket()
    if case is not None:
        case.addCleanup(s.close)
    s.settimeout(5)
    s.bind((src, 0))
    return s


class Connections(unittest.TestCase):
    def test_states_and_fields(self):
        port, pport = harness.free_port(), harness.free_port()
        listen = ('{ address = "127.0.0.1"; port = %d; udp = false; }, '
                  '{ address = "127.0.0.1"; port = %d; udp = false; proxy_protocol = true; }'
                  % (port, pport))
        with NetDaemon('trusted_proxies = ( "127.0.0.1" ); proxy_timeout = 30; '
                       'tcp = { threads = 2; };', port=port, listen=listen) as d:
            # The harness's readiness probe may still be there a moment.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows, _ = listing(d, "--connections")
                if not rows:
                    break
                time.sleep(0.05)
            self.assertEqual(rows, [], "nothing is connected")
            reader = bound("127.0.0.2", self)
            reader.connect(("127.0.0.1", port))
            reader.sendall(b"hello\n")
            self.assertEqual(harness.recv_exactly(reader, 6), b"HELLO\n")
            # Reads nothing: the daemon holds output it cannot send.
            flusher = bound("127.0.0.3", self)
            flusher.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            flusher.connect(("127.0.0.1", port))
            sent = harness.fill_until_stalled(flusher)
            # Through a proxy: the client is the header's.
            proxied = bound("127.0.0.1", self)
            proxied.connect(("127.0.0.1", pport))
            proxied.sendall(v1("192.0.2.77", 4242, dport=pport) + b"hi\n")
            self.assertEqual(harness.recv_exactly(proxied, 3), b"HI\n")
            # Its header has not come yet (from a trusted proxy: else refused at once).
            waiting = bound("127.0.0.1", self)
            waiting.connect(("127.0.0.1", pport))
            time.sleep(1.2)
            rows, elapsed = listing(d, "--connections")
            print("listing of %d connections: %.3f s" % (len(rows), elapsed))
            by = {r["client"]: r for r in rows}
            self.assertEqual(len(rows), 4, rows)
            for r in rows:
                self.assertEqual(sorted(r), sorted(["client", "listener", "worker", "age_ms",
                                                    "idle_ms", "bytes_in", "bytes_out",
                                                    "state"]))
                self.assertIn(r["worker"], ("tcp0", "tcp1"))
                self.assertGreaterEqual(r["age_ms"], 1000)
                self.assertLess(r["age_ms"], 60000)
                self.assertLessEqual(r["idle_ms"], r["age_ms"])
            r = by["127.0.0.2:%d" % reader.getsockname()[1]]
            self.assertEqual((r["listener"], r["bytes_in"], r["bytes_out"], r["state"]),
                             ("127.0.0.1:%d" % port, 6, 6, "reading"))
            self.assertGreaterEqual(r["idle_ms"], 1000)
            r = by["127.0.0.3:%d" % flusher.getsockname()[1]]
            self.assertEqual((r["listener"], r["state"]), ("127.0.0.1:%d" % port, "flushing"))
            self.assertGreater(r["bytes_in"], 0)
            self.assertLessEqual(r["bytes_in"], sent)
            self.assertLess(r["bytes_out"], r["bytes_in"], "output is pending")
            r = by["192.0.2.77:4242"]
            self.assertEqual((r["listener"], r["bytes_in"], r["bytes_out"], r["state"]),
                             ("127.0.0.1:%d" % pport, 3, 3, "reading"))
            r = by["127.0.0.1:%d" % waiting.getsockname()[1]]
            self.assertEqual((r["listener"], r["bytes_in"], r["bytes_out"], r["state"]),
                             ("127.0.0.1:%d" % pport, 0, 0, "proxy"))
            # Activity: idle starts again, the bytes grow.
            reader.sendall(b"again\n")
            self.assertEqual(harness.recv_exactly(reader, 6), b"AGAIN\n")
            rows, _ = listing(d, "--connections")
            r = {x["client"]: x for x in rows}["127.0.0.2:%d" % reader.getsockname()[1]]
            self.assertEqual((r["bytes_in"], r["bytes_out"]), (12, 12))
            self.assertLess(r["idle_ms"], 1000)
            # The text form: a header, then one aligned line per connection.
            text = text_listing(d, "--connections").splitlines()
            self.assertEqual(text[0].split(), ["CLIENT", "LISTENER", "WORKER", "AGE", "IDLE",
                                               "BYTES_IN", "BYTES_OUT", "STATE"])
            self.assertEqual(len(text), 5)
            line = [x for x in text if x.startswith("192.0.2.77:4242 ")][0].split()
            self.assertEqual(line[1:3] + line[5:], ["127.0.0.1:%d" % pport, line[2], "3", "3",
                                                     "reading"])
            self.assertEqual(len({re.match(r"\S+\s+", x).end() for x in text}), 1,
                             "columns are not aligned:\n" + "\n".join(text))
            # A closed one is gone from the next listing.
            reader.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows, _ = listing(d, "--connections")
                if len(rows) == 3:
                    break
                time.sleep(0.05)
            self.assertEqual(len(rows), 3)
            for s in (flusher, proxied, waiting):
                s.close()

    def test_during_a_stop(self):
        """Stopping, a worker with nothing left leaves its loop while another
        drains a client that does not read: the listing still comes, at once,
        from the one that is left."""
        with NetDaemon("tcp = { threads = 2; }; shutdown_timeout = 30;") as d:
            stuck = bound("127.0.0.2", self)
            stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            stuck.connect(("127.0.0.1", d.port))
            harness.fill_until_stalled(stuck)
            d.send_signal(signal.SIGTERM)
            d.wait_log("shutting down")
            time.sleep(0.5)
            for _ in range(3):
                rows, elapsed = listing(d, "--connections")
                print("listing while stopping: %.3f s" % elapsed)
                self.assertLess(elapsed, 1.5, "the listing waited for a worker that is gone")
                self.assertEqual([(r["client"], r["state"]) for r in rows],
                                 [("127.0.0.2:%d" % stuck.getsockname()[1], "flushing")])
            d.send_signal(signal.SIGTERM)     # the second one: close it now
            self.assertEqual(d.proc.wait(20), 0)

    def test_lingering_at_a_stop(self):
        """Stopping, a client that goes on sending has its input ended halfway
        through shutdown_timeout; the daemon shuts its side down and lingers,
        reading and discarding, until the client has taken everything (at
        most LINGER_ACKED_MS, 1 s, while it still sends): the listing shows
        it lingering meanwhile."""
        with NetDaemon("tcp = { threads = 1; }; shutdown_timeout = 4;") as d:
            c = bound("127.0.0.2", self)
            c.connect(("127.0.0.1", d.port))
            c.sendall(b"x")
            self.assertEqual(harness.recv_exactly(c, 1), b"X")
            name = "127.0.0.2:%d" % c.getsockname()[1]
            stop = threading.Event()

            def chatter():
                c.settimeout(0.05)
                while not stop.is_set():
                    try:
                        c.send(b"x")
                        c.recv(4096)
                    except socket.timeout:
                        pass
                    except OSError:
                        return
                    time.sleep(0.1)

            th = threading.Thread(target=chatter, daemon=True)
            th.start()
            d.send_signal(signal.SIGTERM)
            d.wait_log("shutting down")
            states = []
            deadline = time.monotonic() + 6
            while time.monotonic() < deadline and d.proc.poll() is None:
                try:
                    rows, _ = listing(d, "--connections", timeout=5)
                except AssertionError:
                    break       # the daemon is gone: its socket with it
                st = [r["state"] for r in rows if r["client"] == name]
                if not st:
                    if states:
                        break
                    continue
                if not states or states[-1] != st[0]:
                    states.append(st[0])
                time.sleep(0.05)
            stop.set()
            th.join(5)
            print("states while stopping: %s" % " -> ".join(states))
            self.assertEqual(states[0], "reading")
            # Lingering lasts about 1 s here; on a sanitizer build (make
            # distcheck) one listing, the client's start included, can take
            # longer than that and miss it: the plain make check shows it.
            if harness.sanitizer() is None:
                self.assertIn("lingering", states)
            self.assertEqual(d.proc.wait(20), 0)

    def test_ten_thousand(self):
        limit = harness.raise_nofile(N + 300)
        if limit < N + 200:
            self.skipTest("RLIMIT_NOFILE hard limit %d is too low for %d connections"
                          % (limit, N))
        extra = ("max_connections = %d; backlog = 4096; tcp = { threads = 2; }; "
                 "idle_timeout = 600;" % (N + 100))
        with NetDaemon(extra) as d:
            socks = []
            for i in range(N):
                s = socket.socket()
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", d.port))
                except BlockingIOError:
                    pass
                socks.append(s)
            # Every one accepted before we time the listing.
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                rows, _ = listing(d, "--connections")
                if len(rows) >= N:
                    break
                time.sleep(0.2)
            self.assertEqual(len(rows), N, "not all connections were accepted")
            # Echo on one more connection while the listings run.
            probe = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            lat, stop = [], threading.Event()

            def echo():
                while not stop.is_set():
                    t = time.monotonic()
                    probe.sendall(b"ping\n")
                    if harness.recv_exactly(probe, 5) != b"PING\n":
                        lat.append(float("inf"))
                        return
                    lat.append(time.monotonic() - t)
                    time.sleep(0.002)

            th = threading.Thread(target=echo, daemon=True)
            th.start()
            times = []
            for _ in range(3):
                rows, elapsed = listing(d, "--connections")
                times.append(elapsed)
                self.assertEqual(len(rows), N + 1)
            stop.set()
            th.join(10)
            probe.close()
            # Control clients that ask and never read (each owed more than
            # its socket holds), more than the table holds: the real client
            # is answered all the same, and each of them is dropped (the
            # table full, or CONTROL_SEND_MS, 10 s, passed) with part of
            # its answer, its buffer freed.
            with socket.socket(socket.AF_UNIX) as c:
                c.settimeout(30)
                c.connect(d.ctl)
                c.sendall(b"connections\n")
                full = len(harness.recv_all(c))
            lazy = []
            for _ in range(20):
                c = socket.socket(socket.AF_UNIX)
                c.settimeout(30)
                for _ in range(500):    # a full backlog: EAGAIN, bounded retries
                    try:
                        c.connect(d.ctl)
                        break
                    except BlockingIOError:
                        time.sleep(0.01)
                c.sendall(b"connections\n")
                lazy.append(c)
                self.addCleanup(c.close)
            time.sleep(0.5)
            rows2, elapsed = listing(d, "--connections")
            self.assertEqual(len(rows2), N)
            st = d.stats()
            print("--connections with 20 control clients that do not read: %.3f s; "
                  "--stats too" % elapsed)
            time.sleep(11)
            for c in lazy:
                got = 0
                try:
                    while True:
                        b = c.recv(1 << 20)
                        if not b:
                            break
                        got += len(b)
                except ConnectionResetError:
                    pass
                self.assertLess(got, full, "a client that did not read was not dropped")
            self.assertGreater(full, 40 * N)
            self.assertEqual(int(st["upcased_tcp_connections_open"]), N)
            ports = {int(r["client"].rsplit(":", 1)[1]) for r in rows}
            mine = {s.getsockname()[1] for s in socks}
            self.assertTrue(mine <= ports, "%d connections missing" % len(mine - ports))
            self.assertEqual({r["state"] for r in rows}, {"reading"})
            workers = {r["worker"] for r in rows}
            print("--connections with %d connections: %s s (wall, with the client's "
                  "start and JSON); echo latency meanwhile: %d round trips, max %.1f ms, "
                  "workers %s" % (len(rows), ", ".join("%.3f" % t for t in times),
                                  len(lat), max(lat) * 1000, sorted(workers)))
            self.assertLess(max(times), 5.0, "a listing of %d connections took too long" % N)
            self.assertTrue(lat, "no echo round trip during the listings")
            self.assertLess(max(lat), 1.0, "the data path stalled during a listing")
            for s in socks:
                s.close()


class Sources(unittest.TestCase):
    def test_busiest_first_with_limited_counts(self):
        extra = ("udp = { rate_limit = 5; burst = 5; leak = 0; exempt = ( ); }; "
                 "limits = { connections_per_source = 2; connection_rate = 0; "
                 "exempt = ( ); };")
        with NetDaemon(extra) as d:
            # Only the harness's readiness probe, from 127.0.0.1, so far.
            rows, _ = listing(d, "--sources")
            self.assertEqual([r for r in rows if r["source"] != "127.0.0.1"], [])
            sent = {"127.0.0.2": 40, "127.0.0.3": 20, "127.0.0.4": 3}
            for src, n in sent.items():
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
                    u.bind((src, 0))
                    for i in range(n):
                        u.sendto(b"datagram %d" % i, ("127.0.0.1", d.port))
                        time.sleep(0.001)
            # TCP: two from .5, three from .6 (one over connections_per_source).
            held = []
            for src, n in (("127.0.0.5", 2), ("127.0.0.6", 3)):
                for _ in range(n):
                    s = bound(src, self)
                    s.connect(("127.0.0.1", d.port))
                    held.append(s)
            # The daemon has seen them all (the refused one is closed at once).
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                rows, _ = listing(d, "--sources")
                if (sum(r["seen"] for r in rows if r["proto"] == "udp") >= 63 and
                        sum(r["seen"] for r in rows if r["proto"] == "tcp") >= 5):
                    break
                time.sleep(0.05)
            rows, elapsed = listing(d, "--sources")
            print("--sources: %.3f s\n%s" % (elapsed, text_listing(d, "--sources")))
            udp = [r for r in rows if r["proto"] == "udp"]
            tcp = [r for r in rows if r["proto"] == "tcp" and r["source"] != "127.0.0.1"]
            self.assertEqual([r["source"] for r in udp], ["127.0.0.2", "127.0.0.3", "127.0.0.4"])
            for r in udp:
                n = sent[r["source"]]
                self.assertEqual(r["seen"], n)
                self.assertTrue(r["worker"].startswith("udp"))
                self.assertEqual(r["open"], 0)
                # burst 5, refilled at 5/s while it sent (well under a second).
                self.assertGreaterEqual(r["limited"], max(0, n - 5 - 10))
                self.assertLessEqual(r["limited"], max(0, n - 5))
            self.assertEqual(udp[2]["limited"], 0)
            self.assertGreater(udp[0]["limited"], 20)
            self.assertEqual([(r["source"], r["seen"], r["limited"], r["open"], r["worker"])
                              for r in tcp],
                             [("127.0.0.6", 3, 1, 2, None), ("127.0.0.5", 2, 0, 2, None)])
            rows, _ = listing(d, "--sources", "-n", "1")
            self.assertEqual([(r["proto"], r["source"]) for r in rows],
                             [("udp", "127.0.0.2"), ("tcp", "127.0.0.6")])
            text = text_listing(d, "--sources").splitlines()
            self.assertEqual(text[0].split(), ["PROTO", "SOURCE", "WORKER", "SEEN", "LIMITED",
                                               "OPEN"])
            self.assertEqual(text[1].split()[:4], ["udp", "127.0.0.2", "udp0", "40"])
            # A count out of range is the client's usage error; the daemon's too.
            p = subprocess.run([harness.UPCASE, "--sources", "-n", "0", "-S", d.ctl],
                               capture_output=True)
            self.assertEqual(p.returncode, 64)
            with socket.socket(socket.AF_UNIX) as c:
                c.settimeout(5)
                c.connect(d.ctl)
                c.sendall(b"sources 9999\n")
                self.assertTrue(harness.recv_all(c).startswith(b"error: sources takes"))
            for s in held:
                s.close()


if __name__ == "__main__":
    unittest.main()
