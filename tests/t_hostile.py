# SPDX-License-Identifier: ISC
"""t_hostile.py: a hostile mix beside good clients.

For ATTACK_S seconds, all at once, each kind in a process of its own (so
that the good clients' latency is not the attackers' Python):

- slowloris: 4 sources, up to 20 connections each, a byte a second on each;
- non-readers: 16 connections that send without pause and never read;
- half-closed non-readers: 16 at a time that send 256 KB, shut down their
  sending side and never read;
- half-open: 2 sources, 20 connections each that send nothing;
- resets: 2 sources, 8 a second each that send 128 KB, read a little and
  reset the connection (SO_LINGER {1, 0}) while the daemon writes;
- connect flood: 6 sources, 60 connects a second each, holding up to 40
  each, far past max_connections in all;
- a control-socket client that writes without pause, over and over.

Every source is its own 127.x.y.z (client sockets bound to it, with
IP_BIND_ADDRESS_NO_PORT so that they take no port from the other tests),
since per-source limits see all of 127.0.0.1 as one source, and nothing is
exempt.  The daemon is configured as upcased.conf(5) says to defend
itself: max_connections 300; limits.connections_per_source 16, at most
16 x 17 = 272 for the attack sources together, so a good client still
finds a slot; connection_rate 20 (burst 20); min_rate 32 bytes/s after
min_rate_window 3 s (slowloris and half-open connections go once more
than 150 are open); idle_timeout 5 (non-readers and silent connections
go).

Good clients: 6 connections from 127.0.0.1 making round trips of 1-2000
bytes of mixed text every 20 ms, and 2 sources (127.0.0.2, .3) making a
new connection for each round trip every 80 ms.

Asserted, with the figures printed:
- every good reply is exactly py_upper of its request, none failed;
- the good clients' p99 round-trip latency during the attack is under
  P99_BOUND_MS (500 ms: far above loopback's, far below a stalled
  daemon's);
- open descriptors: at most max_connections + 64 during, back within 3 of
  the idle baseline after;
- RSS: at most RSS_BOUND_KIB (32 MiB) above the baseline, during and
  after: max_connections x (48 KiB of pending output + a connection's
  state) is under 16 MiB;
- kernel socket memory.  The daemon's own sockets, from /proc/net/tcp
  (send plus receive queues of the sockets on its port): at most
  QUEUE_BOUND_MIB (16 MiB), which holds with a 64 KiB SO_SNDBUF and
  SO_RCVBUF per connection (at most 256 KiB queued per connection, about
  50 connections here that hold data: 12.5 MiB).  Machine-wide
  (/proc/net/sockstat, TCP "mem" pages, other tests included, so
  generous): a rise of at most SOCKSTAT_BOUND_MIB (96 MiB);
- the control socket answers `upcase --stats` within CTL_BOUND_S (2 s)
  throughout;
- the defences did work: refusals per source and rate, slow closes or
  idle timeouts, connection errors (the resets), all counted.
"""
import multiprocessing
import os
import random
import select
import socket
import threading
import time
import unittest

import harness
from harness import py_upper
from nethelp import NetDaemon, delta

ATTACK_S = 25
MAX_CONN = 300
PER_SOURCE = 16
P99_BOUND_MS = 500
RSS_BOUND_KIB = 32 * 1024
# AddressSanitizer (make distcheck) keeps freed memory in its quarantine and
# adds shadow memory: resident size there says little of ours.  The
# quarantine (256 MiB by default) fills with every reply's freed output
# buffer on io_uring, the freed connections on both loops: held to 16 MiB
# for the daemon here (RSS rose 75 MiB on io_uring, 46 MiB on epoll with
# the default; 14 MiB on io_uring with 16).
DAEMON_ENV = None
if harness.sanitizer() == "address":
    RSS_BOUND_KIB *= 2
    DAEMON_ENV = {"ASAN_OPTIONS": ":".join(
        o for o in (os.environ.get("ASAN_OPTIONS", ""), "quarantine_size_mb=16") if o)}
QUEUE_BOUND_MIB = 16
SOCKSTAT_BOUND_MIB = 96
CTL_BOUND_S = 2
CONF = ("max_connections = %d; idle_timeout = 5; shutdown_timeout = 5;\n"
        "limits = { connections_per_source = %d; connection_rate = 20; connection_burst = 20;"
        " min_rate = 32; min_rate_window = 3; exempt = ( ); };" % (MAX_CONN, PER_SOURCE))
SMALL = 65536          # what attackers give their own socket buffers
BIND_NO_PORT = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)
ALPHABET = "abcdefghijklmnopqrstuvwxyz 0123456789 ßéçöñﬁΐǆя中😀\n"


# ------------------------------------------------------------------ sockets

def tcp_socket(src, small=True):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.IPPROTO_IP, BIND_NO_PORT, 1)
    if small:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, SMALL)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SMALL)
    s.bind((src, 0))
    return s


def connect(src, port, timeout=1.0):
    """A blocking connect from src; the socket, or None."""
    s = tcp_socket(src)
    s.settimeout(timeout)
    try:
        s.connect(("127.0.0.1", port))
    except OSError:
        s.close()
        return None
    s.setblocking(False)
    return s


def reset(s):
    """Close with a reset: no TIME_WAIT, nothing left behind."""
    try:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    except OSError:
        pass
    s.close()


def gone(s):
    """Whether the daemon has closed s (end of file or reset); reads and
    discards what came."""
    try:
        while True:
            b = s.recv(65536)
            if not b:
                return True
    except BlockingIOError:
        return False
    except OSError:
        return True


def readable(socks, timeout=0):
    if not socks:
        return []
    p = select.poll()
    for s in socks:
        p.register(s, select.POLLIN)
    fds = {s.fileno(): s for s in socks}
    return [fds[fd] for fd, _ in p.poll(timeout * 1000)]


def top_up(held, port, n):
    """Keep a few more connections open from each source (held: {source:
    [sockets]}) than the per-source limit lets in."""
    for src, socks in held.items():
        if len(socks) < PER_SOURCE + 4:
            s = connect(src, port)
            if s:
                socks.append(s)
                n["connects"] += 1


def reap(held, n):
    """Close and forget the connections of held the daemon has closed."""
    for s in readable([s for h in held.values() for s in h]):
        if gone(s):
            for h in held.values():
                if s in h:
                    h.remove(s)
            s.close()
            n["closed_by_daemon"] += 1


# ------------------------------------------------------------------ attackers
# Each runs in its own process until deadline, and puts its counts on q.

def slowloris(port, ctl, deadline, q):
    srcs = ["127.10.0.%d" % i for i in range(1, 5)]
    held = {src: [] for src in srcs}
    n = {"connects": 0, "closed_by_daemon": 0, "bytes": 0}
    last_tick = 0
    while time.monotonic() < deadline:
        top_up(held, port, n)
        reap(held, n)
        if time.monotonic() - last_tick >= 1.0:
            last_tick = time.monotonic()
            for h in held.values():
                for s in h:
                    try:
                        n["bytes"] += s.send(b"x")
                    except OSError:
                        pass
        time.sleep(0.1)
    for h in held.values():
        for s in h:
            reset(s)
    q.put(("slowloris", n))


def nonreaders(port, ctl, deadline, q):
    src = "127.11.0.1"
    held = []
    n = {"connects": 0, "bytes": 0, "closed_by_daemon": 0}
    chunk = b"n" * 65536
    while time.monotonic() < deadline:
        if len(held) < PER_SOURCE:
            s = connect(src, port)
            if s:
                held.append(s)
                n["connects"] += 1
        for s in list(held):
            try:
                while True:
                    n["bytes"] += s.send(chunk)
            except BlockingIOError:
                pass
            except OSError:
                held.remove(s)
                s.close()
                n["closed_by_daemon"] += 1
        time.sleep(0.05)
    for s in held:
        reset(s)
    q.put(("nonreaders", n))


def halfclosed(port, ctl, deadline, q):
    """Send 256 KB, shut down the sending side, never read; hold each 6 s."""
    src = "127.11.0.2"
    held = []          # (socket, data left, since)
    n = {"connects": 0, "bytes": 0}
    data = b"h" * 262144
    while time.monotonic() < deadline:
        if len(held) < PER_SOURCE:
            s = connect(src, port)
            if s:
                held.append([s, data, time.monotonic()])
                n["connects"] += 1
        for h in list(held):
            s = h[0]
            if h[1]:
                try:
                    k = s.send(h[1])
                    n["bytes"] += k
                    h[1] = h[1][k:]
                    if not h[1]:
                        s.shutdown(socket.SHUT_WR)
                except BlockingIOError:
                    pass
                except OSError:
                    h[1] = b""
            if time.monotonic() - h[2] > 6:
                held.remove(h)
                reset(s)
        time.sleep(0.05)
    for h in held:
        reset(h[0])
    q.put(("halfclosed", n))


def halfopen(port, ctl, deadline, q):
    srcs = ["127.12.0.1", "127.12.0.2"]
    held = {src: [] for src in srcs}
    n = {"connects": 0, "closed_by_daemon": 0}
    while time.monotonic() < deadline:
        top_up(held, port, n)
        reap(held, n)
        time.sleep(0.1)
    for h in held.values():
        for s in h:
            reset(s)
    q.put(("halfopen", n))


def resetters(port, ctl, deadline, q):
    srcs = ["127.13.0.1", "127.13.0.2"]
    n = {"resets": 0, "bytes": 0}
    data = b"r" * 131072
    i = 0
    while time.monotonic() < deadline:
        s = connect(srcs[i % 2], port)
        i += 1
        if s:
            s.settimeout(1)
            try:
                s.sendall(data)
                n["bytes"] += len(data)
                s.recv(4096)
            except OSError:
                pass
            reset(s)            # mid-stream: the daemon has more to write
            n["resets"] += 1
        time.sleep(1 / 16)
    q.put(("resetters", n))


def flood(port, ctl, deadline, q):
    srcs = ["127.14.0.%d" % i for i in range(1, 7)]
    held = {src: [] for src in srcs}
    n = {"attempts": 0, "closed_by_daemon": 0}
    while time.monotonic() < deadline:
        t0 = time.monotonic()
        for src in srcs:
            for _ in range(6):          # 60 a second per source
                s = tcp_socket(src)
                s.setblocking(False)
                try:
                    s.connect(("127.0.0.1", port))
                except BlockingIOError:
                    pass
                except OSError:
                    s.close()
                    continue
                n["attempts"] += 1
                held[src].append(s)
            while len(held[src]) > 40:
                reset(held[src].pop(0))
        reap(held, n)
        time.sleep(max(0, 0.1 - (time.monotonic() - t0)))
    for h in held.values():
        for s in h:
            reset(s)
    q.put(("flood", n))


def control_writer(port, ctl, deadline, q):
    """Writes without pause, with a big send buffer (as root), so that it
    always has more queued than the daemon has read."""
    n = {"connects": 0, "bytes": 0}
    chunk = b"stats\n" * 100000
    while time.monotonic() < deadline:
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.setsockopt(socket.SOL_SOCKET, getattr(socket, "SO_SNDBUFFORCE", 32), 64 << 20)
        except OSError:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 64 << 20)
        s.settimeout(1)
        try:
            s.connect(ctl)
            n["connects"] += 1
            while time.monotonic() < deadline:
                s.sendall(chunk)        # no pause
                n["bytes"] += len(chunk)
        except OSError:
            pass
        s.close()
        time.sleep(0.02)
    q.put(("control_writer", n))


ATTACKERS = [slowloris, nonreaders, halfclosed, halfopen, resetters, flood, control_writer]


def attacker_main(fn, port, ctl, start, deadline_s, q):
    start.wait(30)
    fn(port, ctl, time.monotonic() + deadline_s, q)


# ------------------------------------------------------------------ good clients

class Good:
    """Round trips, checked and timed, until stop is set."""

    def __init__(self, port, rng):
        self.port = port
        self.rng = rng
        self.lat = []           # (monotonic time, seconds)
        self.failures = []
        self.lock = threading.Lock()

    def message(self, rng):
        return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 700))).encode()[:2000]

    def record(self, t0, ok, why="", kind=""):
        with self.lock:
            if ok:
                self.lat.append((t0, time.monotonic() - t0, kind))
            else:
                self.failures.append("%.1f s: %s" % (t0, why))

    def persistent(self, stop, seed):
        rng = random.Random(seed)
        s = socket.create_connection(("127.0.0.1", self.port), timeout=5)
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while not stop.is_set():
                m = self.message(rng)
                want = py_upper(m)
                t0 = time.monotonic()
                try:
                    s.sendall(m)
                    got = harness.recv_exactly(s, len(want))
                except OSError as e:
                    self.record(t0, False, "persistent connection: %s" % e)
                    return
                if got != want:
                    self.record(t0, False, "persistent connection: wrong reply %r" % got[:40])
                    return
                self.record(t0, True, kind="persistent")
                time.sleep(0.02)
        finally:
            s.close()

    def fresh(self, stop, src, seed):
        rng = random.Random(seed)
        while not stop.is_set():
            m = self.message(rng)
            want = py_upper(m)
            t0 = time.monotonic()
            try:
                s = tcp_socket(src, small=False)
                s.settimeout(5)
                try:
                    s.connect(("127.0.0.1", self.port))
                    s.sendall(m)
                    s.shutdown(socket.SHUT_WR)
                    got = harness.recv_all(s)
                finally:
                    s.close()
            except OSError as e:
                self.record(t0, False, "new connection from %s: %s" % (src, e))
                time.sleep(0.08)
                continue
            self.record(t0, got == want, "new connection from %s: %r for %r" % (src, got[:40], m[:40]),
                        kind="new connection")
            time.sleep(0.08)


# ------------------------------------------------------------------ measuring

def sockstat():
    """TCP (mem pages, orphans, in use, time-wait), machine-wide."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                v = line.split()
                return tuple(int(v[v.index(k) + 1]) for k in ("mem", "orphan", "inuse", "tw"))
    return (0, 0, 0, 0)


def port_queues(port):
    """Send plus receive queues, in bytes, of the daemon's sockets on port
    (those whose local port it is, its listener aside; closed ones that
    still send count too), and how many are established, from
    /proc/net/tcp."""
    total = n = 0
    mine = "0100007F:%04X" % port       # 127.0.0.1:port
    with open("/proc/net/tcp") as f:
        next(f)
        for line in f:
            if not line.split(None, 2)[1].endswith(mine):
                continue            # cheap first: other tests may have 10000 sockets
            v = line.split()
            if v[3] == "0A":
                continue
            tx, rx = (int(x, 16) for x in v[4].split(":"))
            total += tx + rx
            n += v[3] == "01"
    return total, n


def sample(d):
    mem, orphan, inuse, tw = sockstat()
    q, nq = port_queues(d.port)
    return {"rss": d.rss_kib(), "fds": len(os.listdir("/proc/%d/fd" % d.pid)),
            "sockmem": mem * 4096 // 1024, "orphan": orphan, "queued": q // 1024, "socks": nq}


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p / 100))] if xs else float("nan")


class Hostile(unittest.TestCase):
    def test_hostile_mix_beside_good_clients(self):
        harness.raise_nofile(4096)
        mp = multiprocessing.get_context("fork")
        q = mp.Queue()
        start = mp.Event()
        with NetDaemon(extra=CONF, env=DAEMON_ENV) as d:
            # The attackers are forked first, before this process has threads.
            procs = [mp.Process(target=attacker_main, args=(fn, d.port, d.ctl, start, ATTACK_S, q),
                                daemon=True) for fn in ATTACKERS]
            for p in procs:
                p.start()
            try:
                self.run_mix(d, procs, q, start)
            finally:
                for p in procs:
                    if p.is_alive():
                        p.terminate()
                for p in procs:
                    p.join(5)
                    if p.is_alive():
                        p.kill()
                        p.join(5)

    def run_mix(self, d, procs, q, start):
        time.sleep(0.5)
        idle = sample(d)
        before_stats = d.stats()
        good = Good(d.port, random.Random(1))
        stop_good = threading.Event()
        threads = [threading.Thread(target=good.persistent, args=(stop_good, i), daemon=True)
                   for i in range(6)]
        threads += [threading.Thread(target=good.fresh, args=(stop_good, "127.0.0.%d" % (2 + i), 100 + i),
                                     daemon=True) for i in range(2)]
        for t in threads:
            t.start()
        time.sleep(2)
        before = sample(d)

        peak = dict(before)
        ctl_checks = []             # (seconds, rc)
        stop_sampler = threading.Event()

        def sampler():
            while not stop_sampler.is_set():
                try:
                    s = sample(d)
                except OSError:
                    return
                for k, v in s.items():
                    peak[k] = max(peak[k], v)
                stop_sampler.wait(0.5)

        def control_checker(until):
            while time.monotonic() < until:
                t0 = time.monotonic()
                try:
                    rc = harness.run([harness.UPCASE, "--stats", "-S", d.ctl], timeout=CTL_BOUND_S)[0]
                except Exception:
                    rc = "no answer"
                ctl_checks.append((time.monotonic() - t0, rc))
                time.sleep(max(0, 2 - (time.monotonic() - t0)))

        samp = threading.Thread(target=sampler, daemon=True)
        samp.start()
        t_attack = time.monotonic()
        start.set()
        ctl_t = threading.Thread(target=control_checker, args=(t_attack + ATTACK_S - 1,), daemon=True)
        ctl_t.start()
        time.sleep(ATTACK_S)
        ctl_t.join(10)
        t_end = time.monotonic()
        counts = {}
        for _ in procs:
            try:
                name, n = q.get(timeout=5)
                counts[name] = n
            except Exception:
                break
        for p in procs:
            p.join(5)
        time.sleep(3)               # good clients alone again
        stop_good.set()
        for t in threads:
            t.join(10)
        # Back to idle: every attacker's connection has gone.
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            after = sample(d)
            if after["fds"] <= idle["fds"] + 3:
                break
            time.sleep(0.2)
        stop_sampler.set()
        samp.join(5)
        after = sample(d)
        after_stats = d.stats()
        alive = d.proc.poll() is None

        # ---- figures
        during = [l for t, l, k in good.lat if t_attack <= t < t_end]
        n_during = len(during)
        slowest = sorted((l, t - t_attack, k) for t, l, k in good.lat if t_attack <= t < t_end)[-3:]
        p50, p99, mx = (1000 * pct(during, 50), 1000 * pct(during, 99), 1000 * max(during or [0]))
        pre = [l for t, l, k in good.lat if t < t_attack]
        print("good clients: %d round trips during the %d s attack (%d before, %d in all), "
              "%d failures; latency during: p50 %.1f ms, p99 %.1f ms, max %.1f ms (bound p99 < %d ms); "
              "before: p50 %.1f ms, p99 %.1f ms"
              % (n_during, ATTACK_S, len(pre), len(good.lat), len(good.failures), p50, p99, mx,
                 P99_BOUND_MS, 1000 * pct(pre, 50), 1000 * pct(pre, 99)))
        print("  slowest: " + "; ".join("%.0f ms at %.1f s (%s)" % (1000 * l, t, k) for l, t, k in reversed(slowest)))
        for k in ("rss", "fds", "sockmem", "orphan", "queued", "socks"):
            print("  %-8s idle %8d  before %8d  peak %8d  after %8d" % (k, idle[k], before[k], peak[k], after[k]))
        print("  (KiB: rss; sockmem, machine-wide TCP memory; queued, in the daemon's sockets."
              " Counts: fds; orphan, machine-wide; socks, the daemon's established)")
        for name in sorted(counts):
            print("attacker %s: %s" % (name, ", ".join("%s %d" % kv for kv in sorted(counts[name].items()))))
        shorts = ("tcp_connections_accepted", "tcp_connections_refused_per_source",
                  "tcp_connections_refused_rate", "tcp_connections_refused_max_connections",
                  "tcp_slow_closes", "tcp_idle_timeouts", "tcp_connection_errors")
        dl = {k: delta(before_stats, after_stats, k) for k in shorts}
        print("daemon counters: " + ", ".join("%s %d" % (k, v) for k, v in dl.items()))
        slow_ctl = [c for c in ctl_checks if c[1] != 0 or c[0] > CTL_BOUND_S]
        print("control socket during the attack: %d of %d 'upcase --stats' answered within %d s; slowest %.2f s"
              % (len(ctl_checks) - len(slow_ctl), len(ctl_checks), CTL_BOUND_S,
                 max([c[0] for c in ctl_checks] or [0])))

        # ---- assertions: all of them, reported together
        fails = []

        def check(ok, msg):
            if not ok:
                fails.append(msg)

        check(alive, "upcased died during the attack")
        check(not good.failures, "good clients failed: %s" % good.failures[:5])
        check(n_during >= 100, "only %d good round trips during the attack" % n_during)
        check(p99 < P99_BOUND_MS, "good p99 latency %.0f ms >= %d ms" % (p99, P99_BOUND_MS))
        check(peak["fds"] <= idle["fds"] + MAX_CONN + 64,
              "peak descriptors %d > idle %d + max_connections %d + 64" % (peak["fds"], idle["fds"], MAX_CONN))
        check(after["fds"] <= idle["fds"] + 3,
              "descriptors did not come back: %d after, %d idle" % (after["fds"], idle["fds"]))
        check(peak["rss"] - idle["rss"] <= RSS_BOUND_KIB,
              "RSS rose by %d KiB > %d KiB" % (peak["rss"] - idle["rss"], RSS_BOUND_KIB))
        check(after["rss"] - idle["rss"] <= RSS_BOUND_KIB,
              "RSS after is %d KiB above idle" % (after["rss"] - idle["rss"]))
        check(peak["queued"] <= QUEUE_BOUND_MIB * 1024,
              "the daemon's sockets held %d KiB at the peak > %d MiB (expected with a 64 KiB "
              "SO_SNDBUF/SO_RCVBUF per connection)" % (peak["queued"], QUEUE_BOUND_MIB))
        # /proc/net/sockstat counts every socket of the host, other tests'
        # too (make -j2): its rise is reported, not judged; the bound on
        # the daemon's own sockets above is the check.
        if peak["sockmem"] - before["sockmem"] > SOCKSTAT_BOUND_MIB * 1024:
            print("note: machine-wide TCP memory rose by %d KiB (> %d MiB), other tests included"
                  % (peak["sockmem"] - before["sockmem"], SOCKSTAT_BOUND_MIB))
        check(len(ctl_checks) >= 5 and not slow_ctl,
              "the control socket did not answer within %d s: %s"
              % (CTL_BOUND_S, ["%.1f s: %s" % c for c in slow_ctl][:5]))
        check(dl["tcp_connections_refused_per_source"] + dl["tcp_connections_refused_rate"] > 100,
              "the flood was hardly refused per source")
        check(dl["tcp_slow_closes"] + dl["tcp_idle_timeouts"] > 0, "no slow client or idle connection closed")
        check(dl["tcp_connection_errors"] > 0, "no reset counted")
        check(dl["tcp_connections_refused_max_connections"] == 0,
              "max_connections was reached: the per-source limits let the attack take every slot")
        if alive:
            rc = d.stop()
            check(rc == 0, "upcased exited %s" % rc)
        self.assertEqual(fails, [], "\n  ".join([""] + fails))


if __name__ == "__main__":
    unittest.main()
