#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""bench.py: upcased beside redis-server, memcached and a minimal epoll
server, the same scenarios alternating, driven by upcase-benchmark.

Servers, all on free 127.0.0.1 ports, started here and stopped by PID:
  upcased       this build, the shipped defaults (tcp.threads = 0: one
                TCP worker a CPU; io = "auto": the TCP workers on io_uring
                where the kernel and the sandbox allow it) with
                max_connections = 20000
  upcased-epoll the same with io = "epoll": upcased's own epoll loop, in
                every scenario upcased runs, so that the io_uring path is
                measured against it in the same run
  yardstick     bench/yardstick: one thread, one epoll loop, ASCII only
                (the floor an epoll server reaches)
  redis-server  --save '' --appendonly no --protected-mode no (clients come
                from 127.0.N.1) --maxclients 20000; commands run on one
                thread (io-threads 1, the default); driven with inline PING
  memcached     -U 0 -t 1 -c 20000: one worker thread (beside its listener
                and maintenance threads), no UDP; driven with "version"
redis-server and memcached are installed from Debian (apt-get) when missing
and this runs as root, with a policy-rc.d in place so that the packages'
own services are not started; if that fails, they are left out with a note.

Scenarios (upcase-benchmark modes; the one client thread):
  10 x 1, 50 x 1, 1000 x 1   connections x requests outstanding
  50 x 32                    pipelined
  reconnect                  8 clients: connect, send, receive, close
  UDP 4 x 8                  upcased and yardstick (the others: no UDP)
  bulk ASCII                 one stream; upcased and yardstick
  bulk UTF-8                 Greek, Cyrillic, accented Latin, CJK; upcased
                             only (the others cannot transform it)
  10,000 idle                the server's RSS per connection
upcased and yardstick get 32-byte requests, every reply checked; redis and
memcached get their one-line commands, replies counted by line.

Two forms: unpinned (every process on every CPU), requests/s as the client
sees them; pinned (the server's threads on CPU 0, the client on CPU 1), the
server's CPU time per reply (utime + stime from /proc/PID/stat over the
measured part, as upcase-benchmark --pid reports it).  Each form runs
--rounds rounds, the order of the servers rotating; the table shows
medians, and ratios of upcased's figure to each other server's (the first,
"upcased ÷ upcased-epoll", is the io_uring path against the epoll path).
Which loop each upcased actually serves on is read from its start-up log
line ("... tcp workers ... on io_uring" or "on epoll") and printed in the
notes: where "auto" fell back to epoll (an old kernel, the
kernel.io_uring_disabled sysctl, a seccomp filter), the note says so and
why, and that column then compares epoll with epoll.

BENCH_VARIANTS=1 adds upcased with other settings, on the scenarios where
each costs something: udp.guard = false (UDP), every per-source limit
applied to loopback at rates too high to refuse anything (UDP, reconnect),
and the kernel's buffer autotuning instead of tcp.send_buffer and
tcp.receive_buffer (50 and 1000 x 1, bulk).

A full run (about 10 minutes) appends the table to bench/RESULTS.md and puts
it in README.md's Performance section; BENCH_QUICK=1 runs short, once, with
2,000 idle connections, and only prints.

Usage: bench.py --upcased PATH --benchmark PATH --yardstick PATH
                [--results FILE] [--readme FILE] [--seconds S] [--rounds N] [-v]
"""
import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import harness  # noqa: E402

QUICK = os.environ.get("BENCH_QUICK", "") not in ("", "0")
IDLE = 2000 if QUICK else 10000
ECHO = ("upcased", "yardstick")          # the servers that upper-case
ALL = ("upcased", "yardstick", "redis-server", "memcached")

# key, label, mode, arguments, servers, forms ("u" unpinned, "p" pinned)
SCENARIOS = [
    ("c10", "10 x 1", "tcp", ["-c", "10"], ALL, "up"),
    ("c50", "50 x 1", "tcp", ["-c", "50"], ALL, "up"),
    ("c1000", "1000 x 1", "tcp", ["-c", "1000"], ALL, "up"),
    ("p32", "50 x 32 pipelined", "tcp", ["-c", "50", "-P", "32"], ALL, "up"),
    ("reconnect", "reconnect, 8 clients", "reconnect", ["-c", "8"], ALL, "up"),
    ("udp", "UDP 4 x 8", "udp", ["-c", "4", "-P", "8", "--max-loss", "100"], ECHO, "up"),
    ("bulk", "bulk ASCII", "bulk", ["--bytes", "128M" if QUICK else "1G", "--duration", "120"],
     ECHO, "up"),
    ("bulk8", "bulk UTF-8, mixed scripts", "bulk",
     ["--utf8", "--bytes", "64M" if QUICK else "512M", "--duration", "120"], ("upcased",), "up"),
    ("idle", "%s idle connections" % format(IDLE, ","), "idle",
     ["-c", str(IDLE), "--duration", "1", "--timeout", "30000"], ALL, "u"),
]

# upcased with other settings (BENCH_VARIANTS=1): name, config, scenarios.
VARIANTS = [
    ("upcased-unguarded", "udp = { guard = false; };", ("udp",)),
    ("upcased-limited",
     "udp = { rate_limit = 1000000; burst = 1000000; exempt = ( ); };\n"
     "limits = { connection_rate = 1000000; connection_burst = 1000000; exempt = ( ); };",
     ("udp", "reconnect")),
    ("upcased-autotuned", "tcp = { send_buffer = 0; receive_buffer = 0; };",
     ("c50", "c1000", "bulk", "bulk8")),
]

LINE = {"redis-server": r"PING\r\n", "memcached": r"version\r\n"}
POLICY_RC = "/usr/sbin/policy-rc.d"


def note(msg):
    print("bench: " + msg, flush=True)


def ensure_packages():
    """Install redis-server and memcached from Debian if missing and root."""
    missing = [p for p in ("redis-server", "memcached") if shutil.which(p) is None]
    if not missing:
        return
    if os.geteuid() != 0:
        note("%s missing and not root: left out (apt-get install %s)"
             % (", ".join(missing), " ".join(missing)))
        return
    # Keep the packages' services from starting: that is ours to do.
    made_policy = not os.path.exists(POLICY_RC)
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    try:
        if made_policy:
            with open(POLICY_RC, "w") as f:
                f.write("#!/bin/sh\nexit 101\n")
            os.chmod(POLICY_RC, 0o755)
        note("installing " + " ".join(missing) + " (apt-get)")
        cmd = ["apt-get", "install", "-y", "--no-install-recommends"] + missing
        ok = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL, timeout=900).returncode == 0
        if not ok:
            subprocess.run(["apt-get", "update"], env=env, stdout=subprocess.DEVNULL, timeout=900)
            ok = subprocess.run(cmd, env=env, stdout=subprocess.DEVNULL,
                                timeout=900).returncode == 0
        if not ok:
            note("apt-get install %s failed: left out" % " ".join(missing))
    except (OSError, subprocess.TimeoutExpired) as e:
        note("installing %s failed (%s): left out" % (" ".join(missing), e))
    finally:
        if made_policy and os.path.exists(POLICY_RC):
            os.unlink(POLICY_RC)


class Server:
    def __init__(self, name, argv, port, udp, only=None, log=None):
        """only: the scenarios it runs (a variant of upcased: a tuple of
        scenario keys, or a server's name to run what that one runs), else
        by name.  log: a file for its stderr (upcased's log, read for the
        loop it serves on), else it goes nowhere."""
        self.name, self.port, self.udp, self.only = name, port, udp, only
        self.log, self.io, self.io_why = log, None, None
        err = open(log, "w") if log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err)
        finally:
            if log:
                err.close()
        self.pid = self.proc.pid
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                if not udp or self.udp_answers():
                    if log:
                        self.read_io()
                    return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError("%s did not start" % name)

    def read_io(self):
        """The loop upcased's TCP workers serve on, from its start-up line
        ("upcased V started: N tcp workers (...) on io_uring, ..."), and
        what it logged before it (auto's reason for epoll, a worker that
        could not set up its ring).  It logs the line before it serves,
        so it is there once the port answers; a second's grace anyway."""
        import re
        deadline = time.monotonic() + 1
        while True:
            with open(self.log, errors="replace") as f:
                text = f.read()
            m = re.search(r" started: .*?tcp workers?.*? on (io_uring|epoll), ", text)
            if m or time.monotonic() > deadline:
                break
            time.sleep(0.05)
        self.io = m.group(1) if m else "unknown (no start-up line in its log)"
        if m and self.io == "io_uring" and "cannot set up io_uring" in text[m.end():]:
            self.io = "io_uring, but a worker on epoll"
        before = text[:m.start()] if m else text
        why = [ln.split(": ", 1)[-1].strip() for ln in before.splitlines()
               if "io_uring" in ln or "epoll" in ln]
        later = [ln.split(": ", 1)[-1].strip() for ln in text[m.end():].splitlines()
                 if "cannot set up io_uring" in ln] if m else []
        self.io_why = "; ".join(why + later) or None

    def udp_answers(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(b"ping", ("127.0.0.1", self.port))
            try:
                return s.recv(100) == b"PING"
            except OSError:
                return False

    def runs(self, sc):
        if isinstance(self.only, str):
            return self.only in sc[4]
        return sc[0] in self.only if self.only is not None else self.name in sc[4]

    def alive(self):
        return self.proc.poll() is None

    def pin(self, cpus):
        """Every thread of the server on cpus."""
        for tid in os.listdir("/proc/%d/task" % self.pid):
            try:
                os.sched_setaffinity(int(tid), cpus)
            except OSError:
                pass

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()


def version(argv):
    """The first version number a program prints (redis: v=7.0.15 ...)."""
    import re
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    m = re.search(r"\d+\.\d+(\.\d+)?", out)
    return m.group(0) if m else "?"


def start_servers(args, tmp):
    servers, versions = [], {}
    port = harness.free_port()
    conf = os.path.join(tmp, "upcased.conf")
    with open(conf, "w") as f:
        f.write(harness.make_conf(port, extra="max_connections = 20000;"))
    wanted = [("upcased", [args.upcased, "-f", "-c", conf], port, True, None)]
    # The same daemon on its epoll loop: every scenario upcased runs.
    port = harness.free_port()
    conf = os.path.join(tmp, "upcased-epoll.conf")
    with open(conf, "w") as f:
        f.write(harness.make_conf(port, extra='max_connections = 20000;\nio = "epoll";'))
    wanted.append(("upcased-epoll", [args.upcased, "-f", "-c", conf], port, True, "upcased"))
    port = harness.free_port()
    wanted.append(("yardstick", [args.yardstick, str(port)], port, True))
    if shutil.which("redis-server"):
        port = harness.free_port()
        wanted.append(("redis-server", ["redis-server", "--save", "", "--appendonly", "no",
                                        "--port", str(port), "--bind", "127.0.0.1",
                                        "--protected-mode", "no", "--maxclients", "20000",
                                        "--dir", tmp], port, False))
        versions["redis-server"] = version(["redis-server", "--version"])
    else:
        note("redis-server not installed: left out")
    if shutil.which("memcached"):
        port = harness.free_port()
        wanted.append(("memcached", ["memcached", "-p", str(port), "-U", "0", "-l", "127.0.0.1",
                                     "-t", "1", "-c", "20000"]
                       + (["-u", "nobody"] if os.geteuid() == 0 else []), port, False))
        versions["memcached"] = version(["memcached", "-V"])
    else:
        note("memcached not installed: left out")
    if os.environ.get("BENCH_VARIANTS", "") not in ("", "0"):
        for name, extra, only in VARIANTS:
            port = harness.free_port()
            vconf = os.path.join(tmp, name + ".conf")
            with open(vconf, "w") as f:
                f.write(harness.make_conf(port, extra="max_connections = 20000;\n" + extra))
            wanted.append((name, [args.upcased, "-f", "-c", vconf], port, True, only))
    for name, argv, port, udp, *only in wanted:
        log = os.path.join(tmp, name + ".log") if name.startswith("upcased") else None
        try:
            srv = Server(name, argv, port, udp, only[0] if only else None, log)
        except (RuntimeError, OSError) as e:
            note("%s: %s: left out" % (name, e))
            continue
        servers.append(srv)
        if srv.io is not None:
            note("%s: tcp workers on %s%s" % (name, srv.io,
                                              " (%s)" % srv.io_why if srv.io_why else ""))
    return servers, versions


def run_one(args, srv, sc, pinned):
    key, _, mode, extra, _, _ = sc
    argv = [args.benchmark, "--json", "--no-progress", "-q", "-p", str(srv.port),
            "--pid", str(srv.pid)]
    if mode not in ("bulk", "idle"):
        argv += ["--duration", str(args.seconds)]
    argv += extra
    if srv.name in LINE:
        argv += ["--line", LINE[srv.name]]
    argv.append(mode)
    pre = (lambda: os.sched_setaffinity(0, {1})) if pinned else None
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=300, preexec_fn=pre)
    except subprocess.TimeoutExpired:
        return {"rc": "timeout", "stderr": "did not finish in 300 s"}
    lines = p.stdout.strip().splitlines()
    res = json.loads(lines[-1]) if lines else {}
    res["rc"] = p.returncode
    res["stderr"] = p.stderr.strip()
    if args.verbose:
        print("  %s %s %s: rc %s %s" % ("pinned" if pinned else "unpinned", srv.name, key,
                                        p.returncode, {k: res.get(k) for k in
                                                       ("rate", "server_cpu_us", "client_cpu_pct",
                                                        "rss_per_conn_bytes", "errors", "wrong")}),
              flush=True)
        if res["stderr"]:
            print("    " + res["stderr"].replace("\n", "\n    "), flush=True)
    return res


def figure(res, key, pinned):
    """The number a run contributes: requests/s (MB/s, bytes a connection)
    unpinned; CPU us a reply (us a MB) pinned."""
    if res.get("rc") != 0:
        return None
    if key == "idle":
        return res.get("rss_per_conn_bytes")
    if not pinned:
        return res.get("rate")
    if key.startswith("bulk"):
        mb = res.get("bytes", 0) / 1e6
        return res["server_cpu_ms"] * 1000 / mb if mb > 0 and "server_cpu_ms" in res else None
    return res.get("server_cpu_us")


def run_all(args, servers):
    """results[(form, scenario, server)] = list of runs."""
    results = {}
    forms = [False] + ([True] if (os.cpu_count() or 1) >= 2 else [])
    if len(forms) == 1:
        note("one CPU: no pinned form")
    for pinned in forms:
        for s in servers:
            s.pin({0} if pinned else set(range(os.cpu_count() or 1)))
        for r in range(args.rounds):
            note("%s, round %d of %d" % ("pinned" if pinned else "unpinned", r + 1, args.rounds))
            for sc in SCENARIOS:
                if ("p" if pinned else "u") not in sc[5]:
                    continue
                k = (r + SCENARIOS.index(sc)) % len(servers)
                for srv in servers[k:] + servers[:k]:
                    if not srv.runs(sc):
                        continue
                    if not srv.alive():
                        res = {"rc": "server died", "stderr": ""}
                    else:
                        # Before every run: threads started since (io_uring's
                        # io-wq workers come and go) are pinned too.
                        srv.pin({0} if pinned else set(range(os.cpu_count() or 1)))
                        res = run_one(args, srv, sc, pinned)
                    results.setdefault((pinned, sc[0], srv.name), []).append(res)
                    time.sleep(0.2)
    for s in servers:
        s.pin(set(range(os.cpu_count() or 1)))
    return results, forms


def fmt_rate(v):
    if v >= 1e6:
        return "%.2fM" % (v / 1e6)
    if v >= 1e3:
        return "%.1fk" % (v / 1e3)
    return "%.0f" % v


def cell(runs, key, pinned):
    """(median or None, text) for one server's runs of a scenario."""
    vals = [figure(r, key, pinned) for r in runs]
    good = [v for v in vals if v is not None]
    if not good:
        bad = [r for r in runs if r.get("rc") != 0]
        return None, "failed (%s)" % bad[0].get("rc") if bad else "-"
    med = statistics.median(good)
    if key == "idle":
        text = "%.0f" % med
    elif pinned:
        text = "%.2f" % med if med < 100 else "%.0f" % med
    elif key.startswith("bulk"):
        text = "%.0f" % med
    else:
        text = fmt_rate(med)
    # The client, not the server, was the limit (unpinned request rates).
    if not pinned and key != "idle" and any(r.get("client_cpu_pct", 0) > 90 for r in runs):
        text += "*"
    if len(good) < len(runs):
        text += " (%d of %d)" % (len(good), len(runs))
    return med, text


def table(servers, results, forms):
    names = [s.name for s in servers]
    others = [n for n in names if n != "upcased"]
    head = ["scenario"] + names + ["upcased ÷ %s" % n for n in others]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for pinned in forms:
        title = ("**pinned (server on CPU 0, client on CPU 1): server CPU µs per reply "
                 "(bulk: per MB)**" if pinned else
                 "**unpinned: requests/s (bulk: MB/s; idle: server RSS bytes per connection)**")
        out.append("| " + title + " |" + " |" * (len(head) - 1))
        for sc in SCENARIOS:
            key = sc[0]
            if ("p" if pinned else "u") not in sc[5]:
                continue
            meds, texts = {}, []
            for n in names:
                runs = results.get((pinned, key, n))
                if runs is None:
                    texts.append("-")
                    continue
                meds[n], t = cell(runs, key, pinned)
                texts.append(t)
            ratios = []
            for n in others:
                a, b = meds.get("upcased"), meds.get(n)
                ratios.append("%.2fx" % (a / b) if a is not None and b else "-")
            out.append("| " + " | ".join([sc[1]] + texts + ratios) + " |")
    return "\n".join(out)


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


def io_note(servers):
    """Which loop each upcased serves on, as its start-up line says."""
    conf = {"upcased": 'the shipped `io = "auto"`', "upcased-epoll": '`io = "epoll"`'}
    parts, warn = [], []
    for s in servers:
        if s.io is None:
            continue
        parts.append("%s (%s) on **%s**" % (s.name, conf.get(s.name, 'io = "auto"'), s.io))
        if s.io_why:
            parts[-1] += " (%s)" % s.io_why.rstrip(".")
    up = {s.name: s.io for s in servers}
    if up.get("upcased") not in (None, "io_uring"):
        warn.append("  upcased did not run on io_uring here, so `upcased ÷ upcased-epoll` "
                    "compares epoll with epoll, not the io_uring path.")
    if up.get("upcased-epoll") not in (None, "epoll"):
        warn.append("  upcased-epoll did not run on epoll: its figures are not the epoll path's.")
    return ("I/O loop of the TCP workers, from each daemon's start-up log line: "
            + "; ".join(parts) + "." + "".join(warn))


def notes_text(args, servers, versions, load):
    workers = os.cpu_count() or 1
    lines = [
        "Medians of %d round(s), %g s a timed run; one upcase-benchmark client thread.  "
        "`*`: the client used over 90%% of its CPU, so the figure is the client's limit "
        "as much as the server's." % (args.rounds, args.seconds),
        "Threads: upcased and upcased-epoll with the shipped `tcp.threads = 0` (%d TCP "
        "workers here) and one UDP worker; yardstick 1; redis-server 1 executing commands "
        "(io-threads 1); memcached `-t 1` (one worker, beside its listener)." % workers,
        io_note(servers),
        "Requests: upcased and yardstick 32 bytes, every reply checked; redis-server inline "
        "`PING` (6 bytes), memcached `version` (9 bytes), replies counted by line.",
    ]
    if versions:
        lines.append("Versions: " + "; ".join("%s %s" % kv for kv in sorted(versions.items())) + ".")
    lines.append("Load average before the run %.2f, after %.2f (other work on the machine "
                 "shows here: it shares the CPUs with the servers and the client)." % load)
    left = [n for n in ALL[:1] + ("upcased-epoll",) + ALL[1:]
            if n not in [s.name for s in servers]]
    if left:
        lines.append("Left out (not installed or did not start): " + ", ".join(left) + ".")
    return lines


def record(path, text):
    with open(path, "a") as f:
        f.write(text)


def update_readme(path, block):
    """Replace what lies between the bench markers in README.md."""
    begin, end = "<!-- bench:begin -->", "<!-- bench:end -->"
    with open(path) as f:
        s = f.read()
    if begin not in s or end not in s:
        note("%s has no %s ... %s markers: not updated" % (path, begin, end))
        return
    s = s[:s.index(begin) + len(begin)] + "\n" + block + "\n" + s[s.index(end):]
    with open(path, "w") as f:
        f.write(s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upcased", required=True)
    ap.add_argument("--benchmark", required=True, help="src/upcase-benchmark")
    ap.add_argument("--yardstick", required=True, help="bench/yardstick (make bench builds it)")
    ap.add_argument("--results", help="append the table to this file (not in quick mode)")
    ap.add_argument("--readme", help="README.md to put the table in (not in quick mode)")
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("BENCH_SECONDS", "0.5" if QUICK else "2")))
    ap.add_argument("--rounds", type=int,
                    default=int(os.environ.get("BENCH_ROUNDS", "1" if QUICK else "3")))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every run")
    args = ap.parse_args()
    for path in (args.upcased, args.benchmark, args.yardstick):
        if not os.access(path, os.X_OK):
            sys.exit("bench.py: %s: not built (make bench builds everything)" % path)
    harness.raise_nofile(65536)
    ensure_packages()
    tmp = tempfile.mkdtemp(prefix="upcase-bench-")
    t0 = time.monotonic()
    load0 = os.getloadavg()[0]
    servers, versions = start_servers(args, tmp)
    try:
        if not servers or servers[0].name != "upcased":
            sys.exit("bench.py: upcased did not start")
        results, forms = run_all(args, servers)
    finally:
        for s in servers:
            s.stop()
        shutil.rmtree(tmp, ignore_errors=True)
    tab = table(servers, results, forms)
    notes = notes_text(args, servers, versions, (load0, os.getloadavg()[0]))
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    host = "Linux %s, %s, %d CPUs" % (platform.release(), cpu_model(), os.cpu_count() or 0)
    print("\n" + tab + "\n")
    for line in notes:
        print(line)
    print("%s; %s; %.0f s in all%s" % (when, host, time.monotonic() - t0,
                                       " (BENCH_QUICK)" if QUICK else ""))
    if not QUICK:
        if args.results:
            record(args.results, "\n## %s\n\n%s.\n\n%s\n\n%s\n" % (when, host, tab,
                                                                 "\n".join("- " + n for n in notes)))
        if args.readme:
            update_readme(args.readme, "%s; %s:\n\n%s\n\n%s" % (when, host, tab,
                                                                "\n".join("- " + n for n in notes)))
    # upcased must be right every time, on either loop; the others are reported.
    bad = [r for (_, _, name), runs in results.items() if name in ("upcased", "upcased-epoll")
           for r in runs if r.get("rc") != 0]
    if bad:
        print("\nFAIL: upcased (either loop) had wrong replies, errors or failed runs:")
        for r in bad[:5]:
            print("  rc %s: %s" % (r.get("rc"), r.get("stderr", "")[:300]))
        sys.exit(1)


if __name__ == "__main__":
    main()
