#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_control.py: no control client can stall the main thread.

Black box: the real upcased serves its control socket while clients
abuse it, each kind in its own test:
  - writers that send without pause, four processes at once (their own
    processes, so that no Python lock slows them), each reconnecting
    whenever the daemon closes it;
  - silent connectors that connect and say nothing, forty at a time,
    more than the daemon keeps at once, reconnecting too;
  - clients that send the request and never read the answer, hundreds
    of them held open.
While the abuse runs, the test sends SIGHUP several times and measures
how long until the reload shows in the log, and asks "upcase --stats"
for the counters (a few bounded tries: an abusive client may take its
turn); once the abuse stops, the same daemon answers at once; then the
abuse starts again and the test measures how long SIGTERM takes to end
the daemon.  The bounds asserted are generous (the main thread is meant
to take well under 100 ms; the bug took seconds); the measured values
are printed.

And during a graceful stop that lasts (a TCP client that does not read
what it is owed keeps the drain going up to shutdown_timeout), the
control socket still answers at once, with the connection still open
in the counters; SIGHUP is ignored, a daemon started meanwhile with the
same control socket finds it in use (71), and a second SIGTERM ends the
drain at once (exit 0, the socket removed).
"""
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
import nethelp  # noqa: E402
from harness import UPCASE, make_conf  # noqa: E402

BOUND = 2.0     # seconds: signals must be handled within this, whatever clients do
HUPS = 5
ABUSE_SECONDS = 40.0    # every abuser stops by then, whatever happens

# A writer: connect, send without pause until the daemon closes the
# connection, connect again.  A big send buffer (forced where we may),
# so that the daemon cannot read it empty between two of our writes.
# Says "up" once it can be stopped by SIGTERM (or stops after argv[2]
# seconds), and at the end prints its connections and bytes.
WRITER = r"""
import signal, socket, sys, time
class Stop(Exception):
    pass
def stop(*_):
    raise Stop()
signal.signal(signal.SIGTERM, stop)
print("up", flush=True)
SO_SNDBUFFORCE = getattr(socket, "SO_SNDBUFFORCE", 32)
path, until = sys.argv[1], time.monotonic() + float(sys.argv[2])
chunk = b"stats" * 13107       # 64 KiB, no newline
conns = sent = 0
try:
    while time.monotonic() < until:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.setsockopt(socket.SOL_SOCKET, SO_SNDBUFFORCE, 16 << 20)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 16 << 20)
        try:
            s.connect(path)
            conns += 1
            while time.monotonic() < until:
                s.sendall(chunk)
                sent += len(chunk)
        except OSError:
            time.sleep(0.001)   # closed by the daemon (EPIPE, ECONNRESET), or gone
        finally:
            s.close()
except Stop:
    pass
print(conns, sent, flush=True)
"""


def stats_once(path, timeout=2):
    """One `upcase --stats`: (ok, seconds, stderr)."""
    t0 = time.monotonic()
    rc, out, err = harness.run([UPCASE, "--stats", "-S", path, "-w", str(timeout)],
                               timeout=timeout + 10)
    took = time.monotonic() - t0
    ok = rc == 0 and b"upcased_tcp_connections_accepted_total" in out
    return ok, took, err.decode("utf-8", "replace").strip()


class Abuse(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="upcase-t-control-")
        self.ctl = os.path.join(self.tmp, "upcased.sock")
        self.port = harness.free_port()
        conf = make_conf(self.port).replace(
            'control_socket = "";', 'control_socket = "%s";' % self.ctl)
        self.d = harness.Daemon(conf_text=conf, port=self.port)
        harness.wait_path(self.ctl)
        self.stop_event = threading.Event()
        self.threads = []
        self.procs = []
        self.counts = {}
        self.lock = threading.Lock()
        self.deadline = time.monotonic() + ABUSE_SECONDS

    def tearDown(self):
        self.stop_abusers()
        self.d.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def count(self, what, n=1):
        with self.lock:
            self.counts[what] = self.counts.get(what, 0) + n

    def abusing(self):
        return not self.stop_event.is_set() and time.monotonic() < self.deadline

    def start_abusers(self, fn, n):
        self.stop_event.clear()
        for _ in range(n):
            if fn == "writer":
                left = max(1.0, self.deadline - time.monotonic())
                p = subprocess.Popen(
                    [sys.executable, "-c", WRITER, self.ctl, "%.1f" % left],
                    stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
                self.procs.append(p)
                # Its handler is set: SIGTERM makes it report, not die.
                ready, _, _ = select.select([p.stdout], [], [], 30)
                self.assertTrue(ready and p.stdout.readline() == b"up\n",
                                "a writer did not start")
            else:
                t = threading.Thread(target=fn, daemon=True)
                t.start()
                self.threads.append(t)

    def stop_abusers(self):
        self.stop_event.set()
        for t in self.threads:
            t.join(10)
        self.threads = []
        for p in self.procs:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGTERM)
            try:
                out, _ = p.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(p.pid, signal.SIGKILL)
                out, _ = p.communicate()
            fields = out.split()
            if len(fields) == 2:
                self.count("writer connections", int(fields[0]))
                self.count("writer bytes", int(fields[1]))
        self.procs = []

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(1)
        try:
            s.connect(self.ctl)
        except OSError:
            s.close()
            return None
        return s

    # ------------------------------------------------------------ abusers

    def silent(self):
        """Connect and say nothing, ten at a time; replace each one closed."""
        held = []
        while self.abusing():
            while len(held) < 10 and self.abusing():
                s = self.connect()
                if s is None:
                    break
                s.setblocking(False)
                held.append(s)
                self.count("silent connections")
            kept = []
            for s in held:
                try:
                    if s.recv(65536) == b"":
                        s.close()       # answered and closed by the daemon
                        continue
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    continue
                kept.append(s)
            held = kept
            time.sleep(0.005)
        for s in held:
            s.close()

    def non_reader(self):
        """Send the request, never read the answer; hold up to 200 open."""
        held = []
        while self.abusing():
            s = self.connect()
            if s is None:
                time.sleep(0.001)
                continue
            try:
                s.sendall(b"stats\n")
            except OSError:
                pass
            held.append(s)
            self.count("non-reader connections")
            if len(held) >= 200:
                held.pop(0).close()
        for s in held:
            s.close()

    # ------------------------------------------------------------ measures

    def hup_latency(self):
        mark = len(self.d.read_log())
        t0 = time.monotonic()
        self.d.send_signal(signal.SIGHUP)
        while time.monotonic() - t0 < 5 * BOUND:
            if "configuration reloaded" in self.d.read_log()[mark:]:
                return time.monotonic() - t0
            time.sleep(0.001)
        self.fail("SIGHUP: no reload within %.0f s:\n%s"
                  % (5 * BOUND, self.d.read_log()[-2000:]))

    def term_latency(self):
        t0 = time.monotonic()
        self.d.send_signal(signal.SIGTERM)
        try:
            self.d.proc.wait(5 * BOUND)
        except subprocess.TimeoutExpired:
            self.fail("SIGTERM: still running after %.0f s" % (5 * BOUND))
        return time.monotonic() - t0, self.d.proc.returncode

    def stats_with_retries(self, tries=10):
        """`upcase --stats` gets its answer within a few tries: (tries, seconds)."""
        errors = []
        for i in range(tries):
            ok, took, err = stats_once(self.ctl)
            if ok:
                return i + 1, took
            errors.append(err)
            time.sleep(0.05)
        self.fail("upcase --stats never answered in %d tries: %r" % (tries, errors))

    def run_abuse(self, name, fn, n):
        ok, took, err = stats_once(self.ctl)
        self.assertTrue(ok, "upcase --stats before the abuse: " + err)
        self.start_abusers(fn, n)
        time.sleep(0.5)         # the abuse is in full swing
        hups = [self.hup_latency() for _ in range(HUPS)]
        tries, took = self.stats_with_retries()
        hups += [self.hup_latency() for _ in range(2)]
        # The abuse stops: the same daemon answers at once.
        self.stop_abusers()
        ok, took_after, err = stats_once(self.ctl)
        self.assertTrue(ok, "upcase --stats after the abuse: " + err)
        # And SIGTERM in the middle of it.
        self.start_abusers(fn, n)
        time.sleep(0.5)
        term, rc = self.term_latency()
        self.stop_abusers()
        with self.lock:
            counts = dict(self.counts)
        print("%s: SIGHUP to reload logged: %s ms; upcase --stats answered in %d "
              "tries (%.0f ms), after the abuse in %.0f ms; SIGTERM to exit: %.0f ms; %r"
              % (name, ", ".join("%.0f" % (h * 1000) for h in hups), tries,
                 took * 1000, took_after * 1000, term * 1000, counts))
        for h in hups:
            self.assertLess(h, BOUND, "SIGHUP took %.3f s to be handled" % h)
        self.assertLess(term, BOUND, "SIGTERM took %.3f s to stop the daemon" % term)
        self.assertEqual(rc, 0)
        self.assertFalse(os.path.exists(self.ctl), "control socket left behind:\n"
                         + self.d.read_log()[-3000:])
        return counts

    # ------------------------------------------------------------ tests

    def test_writers_without_pause(self):
        counts = self.run_abuse("writers", "writer", 4)
        self.assertGreater(counts.get("writer bytes", 0), 0)

    def test_silent_connectors(self):
        counts = self.run_abuse("silent connectors", self.silent, 4)
        self.assertGreater(counts.get("silent connections", 0), 16)

    def test_silent_connectors_do_not_delay_stats(self):
        """Forty silent clients at once: --stats is not queued behind them."""
        self.start_abusers(self.silent, 4)
        time.sleep(0.5)
        took = []
        for _ in range(5):
            tries, t = self.stats_with_retries()
            took.append(t)
        print("silent connectors: upcase --stats answered in %s ms"
              % ", ".join("%.0f" % (t * 1000) for t in took))
        # Each silent client used to hold the main thread 100 ms, one
        # after the other: a full backlog of them took 1.6 s and more.
        self.assertLess(min(took), 1.0, "upcase --stats waited behind silent clients")
        self.stop_abusers()
        self.assertEqual(self.d.stop(), 0)

    def test_clients_that_never_read(self):
        counts = self.run_abuse("non-readers", self.non_reader, 2)
        self.assertGreater(counts.get("non-reader connections", 0), 0)

    def test_bare_connect_still_answered(self):
        """A client that sends nothing gets the answer when the wait ends,
        and one that sends the request gets it at once, without a reset."""
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(5)
            s.connect(self.ctl)
            t0 = time.monotonic()
            raw = harness.recv_all(s).decode()
            waited = time.monotonic() - t0
        self.assertRegex(raw, r"(?m)^upcased_tcp_connections_accepted_total \d+$")
        self.assertLess(waited, BOUND)
        for _ in range(20):
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                s.settimeout(5)
                s.connect(self.ctl)
                s.sendall(b"stats\n")
                raw = harness.recv_all(s).decode()     # ECONNRESET would raise
            self.assertRegex(raw, r"(?m)^upcased_reloads_total \d+$")
        print("bare connect answered after %.0f ms" % (waited * 1000))
        self.assertEqual(self.d.stop(), 0)


class Drain(unittest.TestCase):
    """The control socket while the daemon stops."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="upcase-t-control-")
        self.ctl = os.path.join(self.tmp, "upcased.sock")
        self.port = harness.free_port()
        self.conf = make_conf(self.port, extra="shutdown_timeout = 30;").replace(
            'control_socket = "";', 'control_socket = "%s";' % self.ctl)
        self.d = harness.Daemon(conf_text=self.conf, port=self.port)
        self.hog = None
        harness.wait_path(self.ctl)

    def tearDown(self):
        if self.hog is not None:
            self.hog.close()
        self.d.__exit__(None, None, None)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def stats(self):
        """`upcase --stats` with a 5 s timeout: (status, counters, seconds)."""
        t0 = time.monotonic()
        rc, out, err = harness.run([UPCASE, "--stats", "-S", self.ctl, "--timeout", "5"],
                                   timeout=20)
        took = time.monotonic() - t0
        counters = nethelp.parse_stats(out.decode()) if rc == 0 else {}
        return rc, counters, took, err.decode("utf-8", "replace")

    def test_stats_and_signals_during_a_long_drain(self):
        # A client that sends and never reads: the reply it is owed fills
        # the buffers, so the drain lasts until shutdown_timeout (30 s).
        self.hog = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        harness.fill_until_stalled(self.hog)
        mark = len(self.d.read_log())
        self.d.send_signal(signal.SIGTERM)
        self.d.wait_log("shutting down", after=mark)
        took = []
        for _ in range(3):
            rc, counters, t, err = self.stats()
            took.append(t)
            self.assertEqual(rc, 0, "upcase --stats during the drain: " + err)
            self.assertEqual(counters.get("upcased_tcp_connections_open"), 1, counters)
            time.sleep(0.2)
        self.assertIsNone(self.d.proc.poll(), "the drain ended early")
        # New clients are refused meanwhile; the stopping daemon ignores SIGHUP.
        with socket.socket() as s:
            s.settimeout(2)
            self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0)
        self.d.send_signal(signal.SIGHUP)
        self.d.wait_log("received Hangup while stopping: ignored", after=mark)
        self.assertNotIn("reloading", self.d.read_log()[mark:])
        # A daemon started now finds the control socket in use: this one runs.
        other_port = harness.free_port()
        conf2 = os.path.join(self.tmp, "other.conf")
        with open(conf2, "w") as f:
            f.write(self.conf.replace("port = %d;" % self.port, "port = %d;" % other_port))
        rc, out, err = harness.run([harness.UPCASED, "-f", "-c", conf2], timeout=30)
        self.assertEqual(rc, 71, err)
        self.assertIn(b"control_socket %s is in use" % self.ctl.encode(), err)
        rc, counters, t, err = self.stats()
        self.assertEqual(rc, 0, "upcase --stats after the other daemon: " + err)
        took.append(t)
        # A second SIGTERM: stop now.
        t0 = time.monotonic()
        self.d.send_signal(signal.SIGTERM)
        try:
            rc = self.d.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.fail("a second SIGTERM did not end the drain within 10 s")
        second = time.monotonic() - t0
        print("during the drain: upcase --stats answered in %s ms; exit %.0f ms after "
              "the second SIGTERM" % (", ".join("%.0f" % (x * 1000) for x in took),
                                       second * 1000))
        for x in took:
            self.assertLess(x, BOUND, "upcase --stats took %.3f s during the drain" % x)
        self.assertLess(second, 5.0)
        self.assertEqual(rc, 0)
        log = self.d.read_log()[mark:]
        self.assertIn("received Terminated while stopping: closing the open connections now",
                      log)
        self.assertIn("stop asked for again, closing 1 connections", log)
        self.assertFalse(os.path.exists(self.ctl), "control socket left behind")


if __name__ == "__main__":
    unittest.main(verbosity=2)
