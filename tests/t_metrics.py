#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_metrics.py: the Prometheus endpoint (metrics = { address; port; })
against the real daemon, read with an independent parser, Python's
prometheus_client.parser (Debian's python3-prometheus-client).

- Every family has # HELP and # TYPE; counters end in _total; the
  values follow the traffic the test sent: connections accepted and
  closed, bytes in and out, datagrams, the open connections per worker,
  the TCP duration and UDP size histograms (cumulative, _count equal to
  the connections closed and datagrams received, each observation in the
  bucket its duration or size belongs to), build info, start and reload
  times, reloads.
- upcase --stats prints the same exposition: it parses the same and
  holds the same values.
- GET / points at /metrics; another path is 404, POST is 405.
- An access rule denying 127.0.0.1 refuses a scrape from there while one
  from 127.0.0.2 is served.
- Slow clients holding every metrics connection, and a scraper scraping
  without pause, do not delay TCP echo replies (measured, bounded).
"""
import http.client
import os
import socket
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

import harness
import nethelp
from nethelp import NetDaemon

try:
    from prometheus_client.parser import text_string_to_metric_families
except ImportError:
    # make check may run a Python of its own (pyenv): Debian's package is
    # in the system's dist-packages.
    sys.path.append("/usr/lib/python3/dist-packages")
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError:
        text_string_to_metric_families = None

MISSING = "python3-prometheus-client is not installed (./dev installs it)"
ECHO_BOUND_S = 1.0    # an echo round trip, at most, whatever the metrics port sees
TCP_SIZES = (5, 300, 2000, 40)
UDP_SIZES = (10, 100, 1000, 3000)


def need_parser(test):
    if text_string_to_metric_families is None:
        if os.environ.get("CI") == "true":
            test.fail(MISSING)
        test.skipTest(MISSING)


class MetricsDaemon(NetDaemon):
    """A NetDaemon with the endpoint on a free loopback port (another
    when a parallel test took it first)."""

    def __init__(self, extra=""):
        for attempt in range(5):
            self.mport = self.conf_mport = harness.free_port("127.0.0.1")
            super().__init__(extra='metrics = { address = "127.0.0.1"; port = %d; };\n%s'
                             % (self.mport, extra), wait=False)
            try:
                self.wait_log("metrics: serving http://127.0.0.1:%d/metrics" % self.mport,
                              timeout=10)
                self.wait_ready()
                self.settle()
                return
            except Exception:
                log = self.read_log()
                self.stop()
                self.__exit__(None, None, None)
                if "Address already in use" not in log or attempt == 4:
                    raise AssertionError("upcased did not serve metrics:\n" + log)

    def conf(self, extra):
        """A reload's config keeps the endpoint (on conf_mport)."""
        return super().conf('metrics = { address = "127.0.0.1"; port = %d; };\n%s'
                            % (self.conf_mport, extra))

    def settle(self):
        """Until wait_ready's probe connection is closed (served or refused)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            st = self.stats()     # the control socket: an access rule may deny us HTTP
            seen = (st["upcased_tcp_connections_accepted_total"] +
                    st["upcased_tcp_connections_refused_total"])
            if (seen >= 1 and
                    st["upcased_tcp_connections_closed_total"] ==
                    st["upcased_tcp_connections_accepted_total"]):
                return
            time.sleep(0.02)
        raise AssertionError("the probe connection never closed")

    def url(self, path="/metrics"):
        return "http://127.0.0.1:%d%s" % (self.mport, path)


def scrape_text(d, src=None, path="/metrics", method="GET"):
    """(status, headers, body text) of one request, from src if given."""
    c = http.client.HTTPConnection("127.0.0.1", d.mport, timeout=5,
                                   source_address=(src, 0) if src else None)
    try:
        c.request(method, path, body=b"x=1" if method == "POST" else None)
        r = c.getresponse()
        return r.status, r, r.read().decode()
    finally:
        c.close()


def families(text):
    """{family name: Metric} as prometheus_client reads text."""
    return {f.name: f for f in text_string_to_metric_families(text)}


def samples(text):
    """{(sample name, frozenset of labels): value}."""
    out = {}
    for f in text_string_to_metric_families(text):
        for s in f.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


def value(sm, name, **labels):
    key = (name, frozenset(labels.items()))
    if key not in sm:
        raise AssertionError("no sample %s %r; have %s" % (name, labels, sorted(k[0] for k in sm)))
    return sm[key]


def buckets(sm, name):
    """[(le, cumulative count)] in order, +Inf last."""
    got = [(float(dict(k[1])["le"]), v) for k, v in sm.items() if k[0] == name + "_bucket"]
    return sorted(got)


class Scrape(unittest.TestCase):
    def setUp(self):
        need_parser(self)

    def check_shape(self, text):
        """HELP and TYPE for every family, as the text has them; counters _total."""
        fams = families(text)
        self.assertGreaterEqual(len(fams), 20, sorted(fams))
        for name, f in fams.items():
            self.assertNotEqual(f.type, "unknown", name)
            self.assertTrue(f.documentation, "%s has no HELP" % name)
            full = name + "_total" if f.type == "counter" else name
            self.assertIn("\n# HELP %s " % full, "\n" + text)
            self.assertIn("\n# TYPE %s %s\n" % (full, f.type), "\n" + text)
            if f.type == "counter":
                for s in f.samples:
                    self.assertTrue(s.name.endswith("_total"), s.name)
        return fams

    def wait_closed(self, d, before, n):
        deadline = time.monotonic() + 10
        while True:
            sm = samples(scrape_text(d)[2])
            got = (value(sm, "upcased_tcp_connections_closed_total")
                   - value(before, "upcased_tcp_connections_closed_total"))
            if got >= n or time.monotonic() > deadline:
                return sm
            time.sleep(0.05)

    def test_values_follow_traffic(self):
        with MetricsDaemon() as d:
            status, r, text = scrape_text(d)
            self.assertEqual(status, 200)
            self.assertIn("version=0.0.4", r.getheader("Content-Type"))
            self.check_shape(text)
            before = samples(text)
            t0 = time.time()
            self.assertLessEqual(value(before, "upcased_start_time_seconds"), t0 + 1)
            self.assertGreater(value(before, "upcased_start_time_seconds"), t0 - 120)
            self.assertEqual(value(before, "upcased_last_reload_success_timestamp_seconds"),
                             value(before, "upcased_start_time_seconds"))
            rc, out, _ = harness.run([harness.UPCASED, "-V"])
            version = out.decode().split()[1]
            self.assertEqual(value(before, "upcased_build_info", version=version), 1)

            # TCP: one connection held open over a second, the others quick.
            held = socket.create_connection(("127.0.0.1", d.port), timeout=5)
            held.sendall(b"held")
            self.assertEqual(harness.recv_exactly(held, 4), b"HELD")
            opened = time.monotonic()
            for n in TCP_SIZES:
                self.assertEqual(harness.tcp_roundtrip(d.port, b"a" * n), b"A" * n)
            # UDP: one datagram per size bucket.
            u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            u.settimeout(5)
            for n in UDP_SIZES:
                u.sendto(b"b" * n, ("127.0.0.1", d.port))
                self.assertEqual(u.recvfrom(70000)[0], b"B" * n)
            u.close()
            mid = self.wait_closed(d, before, len(TCP_SIZES))
            open_now = sum(v for k, v in mid.items() if k[0] == "upcased_tcp_connections_open")
            self.assertEqual(open_now, 1, "open per worker: %r" %
                             {k: v for k, v in mid.items() if k[0] == "upcased_tcp_connections_open"})
            time.sleep(max(0, 1.3 - (time.monotonic() - opened)))
            held.close()
            after = self.wait_closed(d, before, len(TCP_SIZES) + 1)

            def dl(name, **labels):
                return value(after, name, **labels) - value(before, name, **labels)

            ntcp = len(TCP_SIZES) + 1
            tcp_bytes = sum(TCP_SIZES) + 4
            self.assertEqual(dl("upcased_tcp_connections_accepted_total"), ntcp)
            self.assertEqual(dl("upcased_tcp_connections_closed_total"), ntcp)
            self.assertEqual(dl("upcased_tcp_bytes_in_total"), tcp_bytes)
            self.assertEqual(dl("upcased_tcp_bytes_out_total"), tcp_bytes)
            self.assertEqual(dl("upcased_udp_datagrams_in_total"), len(UDP_SIZES))
            self.assertEqual(dl("upcased_udp_datagrams_out_total"), len(UDP_SIZES))
            self.assertEqual(dl("upcased_udp_bytes_in_total"), sum(UDP_SIZES))
            self.assertEqual(dl("upcased_udp_bytes_out_total"), sum(UDP_SIZES))
            for reason in ("max_connections", "access", "per_source", "rate"):
                self.assertEqual(dl("upcased_tcp_connections_refused_total", reason=reason), 0)
            self.assertEqual(sum(v for k, v in after.items()
                                 if k[0] == "upcased_tcp_connections_open"), 0)

            # Histograms: cumulative, +Inf is _count, and where each went.
            for h in ("upcased_tcp_connection_duration_seconds", "upcased_udp_datagram_size_bytes"):
                bs = buckets(after, h)
                self.assertEqual(bs[-1][0], float("inf"))
                self.assertEqual([c for _, c in bs], sorted(c for _, c in bs), h)
                self.assertEqual(bs[-1][1], value(after, h + "_count"), h)
            dur = "upcased_tcp_connection_duration_seconds"
            self.assertEqual(dl(dur + "_count"), ntcp)
            self.assertEqual(value(after, dur + "_count"),
                             value(after, "upcased_tcp_connections_closed_total"))
            self.assertEqual(dl(dur + "_bucket", le="1"), ntcp - 1, "the quick ones, within 1 s")
            self.assertEqual(dl(dur + "_bucket", le="5"), ntcp, "the held one, 1.3 s")
            self.assertGreaterEqual(dl(dur + "_sum"), 1.2)
            self.assertLess(dl(dur + "_sum"), 5.0 * ntcp)
            size = "upcased_udp_datagram_size_bytes"
            self.assertEqual(dl(size + "_count"), len(UDP_SIZES))
            self.assertEqual(dl(size + "_sum"), sum(UDP_SIZES))
            for le, want in (("16", 1), ("64", 1), ("128", 2), ("1024", 3),
                             ("2048", 3), ("4096", 4)):
                self.assertEqual(dl(size + "_bucket", le=le), want, "le=%s" % le)
            print("scrape after %d TCP connections, %d datagrams: %d bytes, %d families"
                  % (ntcp, len(UDP_SIZES), len(scrape_text(d)[2]), len(families(text))))

            # A reload: counted, and its time.
            d.reload("")
            sm = samples(scrape_text(d)[2])
            self.assertEqual(value(sm, "upcased_reloads_total")
                             - value(after, "upcased_reloads_total"), 1)
            self.assertGreater(value(sm, "upcased_last_reload_success_timestamp_seconds"),
                               value(sm, "upcased_start_time_seconds"))

    def test_stats_prints_the_same(self):
        with MetricsDaemon() as d:
            self.assertEqual(harness.tcp_roundtrip(d.port, b"same"), b"SAME")
            deadline = time.monotonic() + 10
            while True:
                http_text = scrape_text(d)[2]
                rc, out, err = harness.run([harness.UPCASE, "--stats", "-S", d.ctl])
                self.assertEqual(rc, 0, err)
                cli_text = out.decode()
                # Quiet now, so every value must agree; retry while the
                # connection was still closing between the two.
                if samples(http_text) == samples(cli_text) or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            self.check_shape(cli_text)
            self.assertEqual(samples(cli_text), samples(http_text))
            self.assertEqual(cli_text, http_text)
            # Our own reader (tests/nethelp.py) agrees with the independent one.
            mine = nethelp.parse_stats(cli_text)
            sm = samples(cli_text)
            self.assertEqual(mine["upcased_tcp_connections_accepted_total"],
                             value(sm, "upcased_tcp_connections_accepted_total"))
            self.assertEqual(mine["upcased_tcp_connections_refused_access_total"],
                             value(sm, "upcased_tcp_connections_refused_total", reason="access"))

    def test_port_change_waits_for_restart(self):
        with MetricsDaemon() as d:
            d.conf_mport = harness.free_port("127.0.0.1")
            log = d.reload("")
            self.assertIn("reload: metrics.port changed; it takes effect on restart", log)
            self.assertEqual(scrape_text(d)[0], 200)     # still on the old port
            sm = samples(scrape_text(d)[2])
            self.assertEqual(value(sm, "upcased_reloads_total"), 1)

    def test_paths_and_methods(self):
        with MetricsDaemon() as d:
            status, _, body = scrape_text(d, path="/")
            self.assertEqual(status, 200)
            self.assertIn("/metrics", body)
            self.assertEqual(body.count("\n"), 1, body)
            status, _, _ = scrape_text(d, path="/nope")
            self.assertEqual(status, 404)
            status, _, _ = scrape_text(d, path="/metrics/x")
            self.assertEqual(status, 404)
            status, r, _ = scrape_text(d, method="POST")
            self.assertEqual(status, 405)
            self.assertIn("GET", r.getheader("Allow"))
            status, r, body = scrape_text(d, method="HEAD")
            self.assertEqual((status, body), (200, ""))
            # urllib, as a plain client would.
            with urllib.request.urlopen(d.url(), timeout=5) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("upcased_build_info", r.read().decode())
            with self.assertRaises(urllib.error.HTTPError) as cm:
                urllib.request.urlopen(d.url("/nope"), timeout=5)
            self.assertEqual(cm.exception.code, 404)

    def test_bad_requests_do_not_flood_the_log(self):
        """libmicrohttpd logs a line per malformed request: a client sending
        them without pause gets a few lines, then one per 10 s (it got one
        line per request: 600 for 900 requests)."""
        bad = (b"GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n",
               b"GET /metrics HTTP/1.1\r\n\r\n")    # no Host
        with MetricsDaemon() as d:
            after = len(d.read_log())
            for i in range(400):
                s = socket.create_connection(("127.0.0.1", d.mport), timeout=5)
                try:
                    s.sendall(bad[i % 2])
                    s.recv(4096)
                except OSError:
                    pass
                finally:
                    s.close()
            self.assertEqual(scrape_text(d)[0], 200)
            lines = [ln for ln in d.read_log()[after:].splitlines() if "metrics: " in ln]
            print("400 malformed requests: %d log lines" % len(lines))
            self.assertGreater(len(lines), 0, "libmicrohttpd's messages no longer logged")
            self.assertLessEqual(len(lines), 10, "\n".join(lines[:20]))


class Access(unittest.TestCase):
    def setUp(self):
        need_parser(self)

    def test_denied_source_refused(self):
        with MetricsDaemon(extra='access = ( "deny 127.0.0.1", "allow all" );') as d:
            status, _, text = scrape_text(d, src="127.0.0.2")
            self.assertEqual(status, 200)
            self.assertIn("upcased_build_info", families(text))
            with self.assertRaises((OSError, http.client.HTTPException)):
                scrape_text(d, src="127.0.0.1")
            d.wait_log("metrics: refused 127.0.0.1 port")
            # And after a reload lifting the rule, 127.0.0.1 is served.
            d.reload('access = ( "allow all" );')
            self.assertEqual(scrape_text(d, src="127.0.0.1")[0], 200)


class PerAddress(unittest.TestCase):
    def setUp(self):
        need_parser(self)

    def test_one_address_cannot_take_every_slot(self):
        """A client trickling requests from one address holds at most 4 of
        the 16 slots: a scraper from another address is still served."""
        with MetricsDaemon() as d:
            held = []
            try:
                for _ in range(10):
                    s = socket.socket()
                    s.settimeout(5)
                    s.bind(("127.0.0.7", 0))
                    s.connect(("127.0.0.1", d.mport))
                    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")   # never finished
                    held.append(s)
                time.sleep(0.3)
                # Those past the fourth were closed by the server.
                closed = 0
                for s in held:
                    s.settimeout(0.5)
                    try:
                        if s.recv(100) == b"":
                            closed += 1
                    except socket.timeout:
                        pass
                    except OSError:
                        closed += 1
                self.assertEqual(closed, 6, "of 10 from one address, those past 4 are closed")
                status, _, text = scrape_text(d, src="127.0.0.8")
                self.assertEqual(status, 200)
                self.assertIn("upcased_build_info", families(text))
            finally:
                for s in held:
                    s.close()


class DataPath(unittest.TestCase):
    """Whatever the metrics port sees, echo replies are not held up."""

    def setUp(self):
        need_parser(self)

    def echo_latencies(self, port, n=40):
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        out = []
        try:
            for i in range(n):
                t = time.monotonic()
                s.sendall(b"ping %02d\n" % i)
                self.assertEqual(harness.recv_exactly(s, 8), b"PING %02d\n" % i)
                out.append(time.monotonic() - t)
                time.sleep(0.02)
        finally:
            s.close()
        return out

    def scraping(self, d, fn):
        """fn() while a thread scrapes without pause; (its result, scrapes served, failed)."""
        stop = threading.Event()
        counts = [0, 0]

        def scraper():
            while not stop.is_set():
                try:
                    scrape_text(d)
                    counts[0] += 1
                except (OSError, http.client.HTTPException):
                    counts[1] += 1    # refused while slow clients hold every slot
                    time.sleep(0.01)

        th = threading.Thread(target=scraper)
        th.start()
        try:
            return fn(), counts[0], counts[1]
        finally:
            stop.set()
            th.join(20)

    def test_slow_clients_and_scrapes_do_not_delay_echo(self):
        with MetricsDaemon() as d:
            base = self.echo_latencies(d.port)
            scraped, ok1, bad1 = self.scraping(d, lambda: self.echo_latencies(d.port))
            # Slow clients: more than the connection limit, each with half a request.
            slow = []
            for _ in range(20):
                try:
                    c = socket.create_connection(("127.0.0.1", d.mport), timeout=2)
                    c.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
                    slow.append(c)
                except OSError:
                    pass
            held, ok2, bad2 = self.scraping(d, lambda: self.echo_latencies(d.port))
            for c in slow:
                c.close()
            med = lambda v: 1000 * sorted(v)[len(v) // 2]  # noqa: E731
            print("echo round trip (ms): idle max %.1f median %.1f; scraped without pause "
                  "(%d scrapes) max %.1f median %.1f; %d slow metrics clients and the "
                  "scraper (%d served, %d failed) max %.1f median %.1f"
                  % (1000 * max(base), med(base), ok1, 1000 * max(scraped), med(scraped),
                     len(slow), ok2, bad2, 1000 * max(held), med(held)))
            self.assertGreater(ok1, 5, "the scraper hardly scraped")
            self.assertEqual(bad1, 0)
            self.assertLess(max(scraped), ECHO_BOUND_S)
            self.assertLess(max(held), ECHO_BOUND_S)
            # The slots come back: a scrape is served again.
            deadline = time.monotonic() + 10
            while True:
                try:
                    if scrape_text(d)[0] == 200:
                        break
                except (OSError, http.client.HTTPException):
                    pass
                self.assertLess(time.monotonic(), deadline, "no scrape served after the slow clients left")
                time.sleep(0.1)


if __name__ == "__main__":
    unittest.main()
