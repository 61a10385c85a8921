#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""balance.py: both ends of the load-following spreading of TCP connections
over upcased's workers (src/balance.h), measured in one run.

Light end, unpinned (server and client share every core, as on a small
machine): closed-loop requests/s at 50 connections x 1 outstanding for
  default     upcased with the shipped config (tcp.threads = 0: a worker
              per CPU), which should concentrate a light load on worker 0
  threads=1   upcased with one TCP worker
  baseline    with --baseline PATH: another build (say, from before this
              rule) with the shipped config
  redis       redis-server (inline PING), the yardstick
The ratio to redis comes from upcase-benchmark --line (inline PING), one
client for all three (it counts newline-terminated replies, so it speaks
to both servers); upcase-benchmark tcp, which checks every byte, measures
the upcased contenders as well.  Contenders alternate,
round after round; the table shows medians.

Busy end, the client pinned to CPU 1, the server unpinned: upcase-benchmark
bulk streams saturate worker 0 of the shipped config, and once it reads
busy, 50 sessions connect; every worker must have connections and use CPU (per-worker
upcased_tcp_connections_open and upcased_tcp_worker_busy_ratio from
`upcase --stats`, each worker thread's CPU time from /proc).

Every process started is stopped by its PID.  Exit status 1 if the busy
end left a worker without connections or CPU.

Usage: balance.py --upcased PATH --upcase PATH [--benchmark PATH]
                  [--redis PATH] [--baseline PATH]
                  [--seconds S] [--rounds N]
"""
import argparse
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
import harness  # noqa: E402

CONNS = 50


def stop(p):
    if p.poll() is None:
        os.kill(p.pid, signal.SIGTERM)
        try:
            p.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.wait()


def wait_port(port, timeout=10.0):
    import socket
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError("nothing listens on port %d" % port)


class Upcased:
    def __init__(self, args, threads, binary=None):
        self.args = args
        self.dir = tempfile.mkdtemp(prefix="upcase-balance-")
        self.port = harness.free_port()
        self.ctl = os.path.join(self.dir, "ctl")
        conf = os.path.join(self.dir, "upcased.conf")
        tcp = "" if threads is None else "tcp = { threads = %d; };" % threads
        with open(conf, "w") as f:
            f.write('listen = ( { address = "127.0.0.1"; port = %d; tcp = true; } );\n'
                    'control_socket = "%s";\n%s\n' % (self.port, self.ctl, tcp))
        self.log = open(os.path.join(self.dir, "log"), "wb")
        self.proc = subprocess.Popen([binary or args.upcased, "-f", "-c", conf],
                                     stdout=self.log, stderr=subprocess.STDOUT)
        wait_port(self.port)
        harness.wait_path(self.ctl)

    def stats(self):
        p = subprocess.run([self.args.upcase, "--stats", "-S", self.ctl],
                           capture_output=True, timeout=10)
        if p.returncode != 0:
            raise RuntimeError("upcase --stats failed (%d): %s" % (p.returncode,
                                                                  p.stderr.decode()))
        out = p.stdout.decode()
        open_, busy = {}, {}
        for m in re.finditer(r'^upcased_tcp_connections_open\{worker="tcp(\d+)"\} (\d+)$',
                             out, re.M):
            open_[int(m.group(1))] = int(m.group(2))
        for m in re.finditer(r'^upcased_tcp_worker_busy_ratio\{worker="tcp(\d+)"\} ([\d.]+)$',
                             out, re.M):
            busy[int(m.group(1))] = float(m.group(2))
        return [open_[i] for i in sorted(open_)], [busy.get(i, 0.0) for i in sorted(open_)]

    def thread_cpu(self):
        """CPU seconds of each TCP worker thread, by name."""
        hz = os.sysconf("SC_CLK_TCK")
        cpu = {}
        for tid in os.listdir("/proc/%d/task" % self.proc.pid):
            try:
                with open("/proc/%d/task/%s/stat" % (self.proc.pid, tid)) as f:
                    st = f.read()
            except OSError:
                continue
            name = st[st.index("(") + 1:st.rindex(")")]
            fields = st[st.rindex(")") + 2:].split()
            m = re.match(r"upcased-tcp(\d+)$", name)
            if m:
                cpu[int(m.group(1))] = (int(fields[11]) + int(fields[12])) / hz
        return [cpu[i] for i in sorted(cpu)]

    def close(self):
        stop(self.proc)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)


class Redis:
    def __init__(self, args):
        self.port = harness.free_port()
        self.dir = tempfile.mkdtemp(prefix="upcase-balance-redis-")
        self.proc = subprocess.Popen(
            [args.redis, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", self.dir, "--daemonize", "no",
             # upcase-benchmark spreads its connections over 127.0.N.1 sources,
             # which redis's protected mode refuses.
             "--protected-mode", "no"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_port(self.port)

    def close(self):
        stop(self.proc)
        shutil.rmtree(self.dir, ignore_errors=True)


def result(out):
    """upcase-benchmark's --json line."""
    return json.loads(out.decode().strip().splitlines()[-1])


def linerate(args, port, during=None):
    """Requests/s of 50 x 1 inline PINGs (upcase-benchmark --line: the same
    client for redis and upcased); during() is called halfway through, its
    result returned too."""
    cmd = [args.benchmark, "--json", "--no-progress", "-q", "-p", str(port), "-c", str(CONNS),
           "--duration", str(args.seconds), "--line", "PING", "tcp"]
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    seen = None
    if during is not None:
        time.sleep(args.seconds / 2)
        seen = during()
    out, err = p.communicate(timeout=args.seconds + 60)
    if p.returncode != 0:
        raise RuntimeError("upcase-benchmark --line failed (%d): %s"
                           % (p.returncode, err.decode()))
    return result(out)["rate"], seen


def checked_cmd(args, port, conns, secs, pin=None):
    """upcase-benchmark tcp: every reply checked against the transform."""
    return ([] if pin is None else ["taskset", "-c", pin]) + [
        args.benchmark, "--json", "--no-progress", "-q", "-p", str(port), "-c", str(conns),
        "--duration", str(secs), "-s", "32", "tcp"]


def checked(args, port):
    p = subprocess.run(checked_cmd(args, port, CONNS, args.seconds), capture_output=True,
                       timeout=args.seconds + 60)
    if p.returncode != 0:
        raise RuntimeError("upcase-benchmark failed (%d): %s" % (p.returncode,
                                                                p.stderr.decode()))
    return result(p.stdout)["rate"]


def light(args):
    names = (["default", "threads=1"] + (["baseline"] if args.baseline else []) +
             (["redis"] if args.redis else []))
    lines = {n: [] for n in names}
    gens = {n: [] for n in names if n != "redis"}
    per_worker = {}
    for r in range(args.rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for n in order:
            if n == "redis":
                s = Redis(args)
                try:
                    lines[n].append(linerate(args, s.port)[0])
                finally:
                    s.close()
                continue
            s = Upcased(args, 1 if n == "threads=1" else None,
                        args.baseline if n == "baseline" else None)
            try:
                rate, per_worker[n] = linerate(args, s.port, s.stats)
                lines[n].append(rate)
                gens[n].append(checked(args, s.port))
            finally:
                s.close()
    print("Light end: 50 connections x 1 outstanding, unpinned, %d rounds of %g s (medians)"
          % (args.rounds, args.seconds))
    print("%-10s %14s %9s %16s  %s" % ("", "--line req/s", "vs redis", "checked req/s",
                                       "per worker, midway: open, busy"))
    med = {n: statistics.median(v) for n, v in lines.items()}
    for n in names:
        ratio = "%.2fx" % (med[n] / med["redis"]) if "redis" in med else "-"
        gen = "%.0f" % statistics.median(gens[n]) if n in gens else "-"
        pw = ""
        if n in per_worker:
            o, b = per_worker[n]
            pw = ", ".join("tcp%d %d %.2f" % (i, o[i], b[i]) for i in range(len(o)))
        print("%-10s %14.0f %9s %16s  %s" % (n, med[n], ratio, gen, pw))
    if "redis" in med:
        print("  rounds (default / redis): %s" % ", ".join(
            "%.2f" % (a / b) for a, b in zip(lines["default"], lines["redis"])))
    return med


def busy(args):
    """Saturate worker 0 of the default config with the client on CPU 1
    (bulk streams through the transform: 50 x 1 sessions alone leave a
    client on one CPU the limit, and the worker rightly not busy); once
    it is busy, 50 sessions more connect, and every worker must be used."""
    secs = max(args.seconds, 4.0)
    s = Upcased(args, None)
    ok = True
    try:
        bulk = subprocess.Popen(["taskset", "-c", "1", args.benchmark, "--no-progress", "-q",
                                 "-p", str(s.port), "-c", "4", "--bytes", "1000000M",
                                 "--duration", "600", "bulk"],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 20
            while True:
                o0, b0 = s.stats()
                if b0[0] >= 0.65 or time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            c0 = s.thread_cpu()
            second = subprocess.Popen(checked_cmd(args, s.port, CONNS, secs, pin="1"),
                                      stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            time.sleep(secs / 2)
            o1, b1 = s.stats()
            t1 = time.monotonic()
            c1 = s.thread_cpu()
            time.sleep(secs / 4)
            c2 = s.thread_cpu()
            used = [(c2[i] - c1[i]) / (time.monotonic() - t1) for i in range(len(c1))]
            out, err = second.communicate(timeout=secs + 60)
            if second.returncode != 0:
                raise RuntimeError("upcase-benchmark failed (%d): %s" % (second.returncode,
                                                                        err.decode()))
            rate = result(out)["rate"]
        finally:
            # The bulk load is the background; its bytes are checked by tests/t_balance.py.
            stop(bulk)
    finally:
        s.close()
    print("Busy end: default config (%d workers), upcase-benchmark pinned to CPU 1: 4 bulk streams,"
          " then 50 x 1 sessions" % len(o1))
    print("  bulk only:        open %s, busy %s, worker CPU so far %s s"
          % (o0, b0, ["%.2f" % c for c in c0]))
    print("  bulk + sessions:  open %s, busy %s, worker CPU share %s"
          % (o1, b1, ["%.2f" % u for u in used]))
    print("  sessions: %.0f req/s, every reply checked" % rate)
    if min(o1) == 0 or min(used) < 0.05:
        print("  FAIL: a worker got no connections or no CPU under load")
        ok = False
    return ok


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--upcased", required=True)
    ap.add_argument("--upcase", required=True)
    ap.add_argument("--benchmark", default=os.environ.get("BENCHMARK", os.path.join(
        os.path.dirname(HERE), "src", "upcase-benchmark")))
    ap.add_argument("--redis", default=shutil.which("redis-server"))
    ap.add_argument("--baseline", help="another upcased build, run with the shipped config "
                    "as the contender 'baseline' (say, one from before this rule)")
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if not args.redis:
        print("redis-server not found (apt-get install redis-server): no redis column")
    print("%s, kernel %s, %d CPUs" % (time.strftime("%Y-%m-%d %H:%M"), os.uname().release,
                                      os.cpu_count()))
    light(args)
    ok = busy(args)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
