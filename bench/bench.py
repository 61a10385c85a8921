#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""bench.py: upcased against the classic ways of offering the same service,
measured side by side in one run, reported as ratios (the machines are
shared and noisy: absolute numbers mean little, ratios mean more).

Contenders, all on 127.0.0.1:
  upcased      the real daemon (this build)
  textbook     TCPServer.py / UDPServer.py from the textbook, threaded so it
               can hold several connections (socketserver.ThreadingTCPServer,
               one thread per connection, listen backlog 5)
  inetd-style  socat forking one unbuffered `tr a-z A-Z` per connection, as an
               inetd/xinetd service would (TCP only, ASCII only)
  upcased-unguarded  upcased with udp.guard = false (udp only): what the
               source guards and the loop breaker cost
  upcased-limited    upcased with its per-source limits applied to loopback
               too, at rates too high to refuse anything (udp and connect):
               what the per-source tables and buckets cost
  upcased-autotuned  upcased with tcp.send_buffer = tcp.receive_buffer = 0
               (the kernel's autotuning, as before those settings; TCP
               workloads): what capping each connection's kernel memory
               costs

Workloads, all driven by bench/loadgen (C, epoll), which checks every reply:
  sessions-64    64 persistent connections, closed loop of 32-byte requests
  sessions-1000  the same with 1000 connections: 1000 threads for textbook,
                 2000 processes for inetd-style
  connect        16 clients doing connect, send 32 bytes, read, close
  bulk           one connection streams 64 MiB of ASCII through the server
  bulk-utf8      the same, 32 MiB of text with non-ASCII letters (not for
                 inetd-style, which is ASCII-only by design)
  udp            4 sockets with 16 datagrams of 32 bytes in flight each

Each contender runs every workload in turn, in --rounds rounds (the order
of the contenders rotating from round to round); the table shows medians.
Every process started is stopped by its PID.

Usage: bench.py --upcased PATH --loadgen PATH [--seconds S] [--rounds N] [-v]
"""
import argparse
import os
import platform
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

TEXTBOOK = r'''
import socketserver, sys
port = int(sys.argv[1])
class TCP(socketserver.BaseRequestHandler):
    def handle(self):
        while True:
            data = self.request.recv(2048)
            if not data:
                return
            self.request.sendall(data.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape"))
class UDP(socketserver.BaseRequestHandler):
    def handle(self):
        data, sock = self.request
        sock.sendto(data.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape"), self.client_address)
socketserver.ThreadingTCPServer.allow_reuse_address = True
socketserver.ThreadingTCPServer.daemon_threads = True
t = socketserver.ThreadingTCPServer(("127.0.0.1", port), TCP)
u = socketserver.UDPServer(("127.0.0.1", port), UDP)
import threading
threading.Thread(target=u.serve_forever, daemon=True).start()
t.serve_forever()
'''

# name, loadgen arguments ("D": the duration), run against every contender (False: only
# those that speak UDP and UTF-8)
WORKLOADS = [
    ("sessions-64", ["-c", "64", "-s", "32", "-d", "D", "-t", "5000", "sessions"], True),
    ("sessions-1000", ["-c", "1000", "-s", "32", "-d", "D", "-t", "5000", "sessions"], True),
    ("connect", ["-c", "16", "-s", "32", "-d", "D", "-t", "10000", "connect"], True),
    ("bulk", ["-c", "1", "-n", "64", "-d", "30", "-t", "5000", "bulk"], True),
    ("bulk-utf8", ["-u", "-c", "1", "-n", "32", "-d", "30", "-t", "5000", "bulk"], False),
    ("udp", ["-c", "4", "-w", "16", "-s", "32", "-d", "D", "-t", "200", "udp"], False),
]


class Server:
    def __init__(self, name, argv, port, full, only=None):
        """full: the server speaks UDP and UTF-8 too; only: the workloads it runs (None: all)."""
        self.name, self.port, self.full, self.only = name, port, full, only
        self.proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                time.sleep(0.2)
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(name + " did not start")

    def alive(self):
        return self.proc.poll() is None

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


# upcased itself with other settings, on some workloads only: the cost of a feature.
VARIANTS = [
    ("upcased-unguarded", "udp = { guard = false; };", ("udp",)),
    ("upcased-limited",
     "udp = { rate_limit = 1000000; burst = 1000000; exempt = ( ); };\n"
     "limits = { connection_rate = 1000000; connection_burst = 1000000; exempt = ( ); };",
     ("udp", "connect")),
    ("upcased-autotuned", "tcp = { send_buffer = 0; receive_buffer = 0; };",
     ("sessions-64", "sessions-1000", "bulk", "bulk-utf8")),
]


def start_servers(upcased, tmp):
    """Start every contender; the ones that cannot start are skipped."""
    servers = []
    port = harness.free_port()
    conf = os.path.join(tmp, "upcased.conf")
    with open(conf, "w") as f:
        f.write(harness.make_conf(port, extra="max_connections = 5000;"))
    script = os.path.join(tmp, "textbook.py")
    with open(script, "w") as f:
        f.write(TEXTBOOK)
    wanted = [("upcased", [upcased, "-f", "-c", conf], port, True, None)]
    port = harness.free_port()
    wanted.append(("textbook", [sys.executable, script, str(port)], port, True, None))
    port = harness.free_port()
    wanted.append(("inetd-style", ["socat", "TCP-LISTEN:%d,bind=127.0.0.1,reuseaddr,fork" % port,
                                   "EXEC:stdbuf -o0 tr a-z A-Z"], port, False, None))
    for name, extra, only in VARIANTS:
        port = harness.free_port()
        vconf = os.path.join(tmp, name + ".conf")
        with open(vconf, "w") as f:
            f.write(harness.make_conf(port, extra="max_connections = 5000;\n" + extra))
        wanted.append((name, [upcased, "-f", "-c", vconf], port, True, only))
    for name, argv, port, full, only in wanted:
        try:
            servers.append(Server(name, argv, port, full, only))
        except (RuntimeError, FileNotFoundError) as e:
            print("skipping %s: %s" % (name, e), flush=True)
    return servers


def run_loadgen(loadgen, args, port, seconds, verbose):
    """One loadgen run; returns its key=value line as a dict, plus rc and stderr."""
    argv = [loadgen] + [str(seconds) if a == "D" else a for a in args] + ["127.0.0.1", str(port)]
    try:
        p = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        return {"rc": "timeout", "stderr": "loadgen did not finish in 120 s"}
    lines = [ln for ln in p.stdout.splitlines() if ln.startswith("mode=")]
    res = dict(kv.split("=", 1) for kv in lines[-1].split()) if lines else {}
    res["rc"] = p.returncode
    res["stderr"] = p.stderr.strip()
    if verbose:
        print("  " + " ".join(argv[1:]) + "\n    " + (lines[-1] if lines else "(no result)"), flush=True)
        if p.stderr.strip():
            print("    " + p.stderr.strip().replace("\n", "\n    "), flush=True)
    return res


def run_rounds(servers, loadgen, seconds, rounds, verbose):
    """results[(server, workload)] = list of per-round dicts."""
    results = {}
    for r in range(rounds):
        print("round %d/%d ..." % (r + 1, rounds), flush=True)
        order = servers[r % len(servers):] + servers[:r % len(servers)]
        for wname, args, for_all in WORKLOADS:
            for srv in order:
                if not (for_all or srv.full) or (srv.only and wname not in srv.only):
                    continue
                if not srv.alive():
                    results.setdefault((srv.name, wname), []).append({"rc": "server died"})
                    continue
                res = run_loadgen(loadgen, args, srv.port, seconds, verbose)
                results.setdefault((srv.name, wname), []).append(res)
                time.sleep(0.3)   # let a forking or threaded server clean up
    return results


def summarize(runs):
    """Median rate and latencies over the runs that gave a number; notes on the rest."""
    good = [r for r in runs if "rate" in r and r["rc"] in (0, 3)]
    notes = []
    wrong = sum(int(r.get("wrong", 0)) for r in runs)
    errors = sum(int(r.get("errors", 0)) for r in runs)
    lost = sum(int(r.get("lost", 0)) for r in runs)
    if wrong:
        notes.append("WRONG replies: %d" % wrong)
    if errors:
        notes.append("errors: %d" % errors)
    if lost:
        notes.append("lost: %d" % lost)
    for r in runs:
        if r["rc"] not in (0, 1, 3):
            notes.append("failed (%s)" % r["rc"])
            break
    if not good:
        return None, notes
    med = {k: statistics.median(float(r[k]) for r in good if k in r)
           for k in ("rate", "p50_us", "p99_us") if any(k in r for r in good)}
    med["unit"] = good[0]["unit"]
    med["n"] = len(good)
    return med, notes


ROW = "%-14s %-12s %11s %-7s %10s %9s %9s  %s"


def print_table(servers, results, seconds, rounds):
    print()
    print(ROW % ("workload", "server", "rate", "unit", "vs upcased", "p50 us", "p99 us", "notes"))
    wrong_elsewhere = False
    for wname, _, _ in WORKLOADS:
        base, _ = summarize(results.get(("upcased", wname), []))
        for srv in servers:
            runs = results.get((srv.name, wname))
            if runs is None:
                continue
            med, notes = summarize(runs)
            wrong_elsewhere |= srv.name != "upcased" and any(n.startswith("WRONG") for n in notes)
            if med is None:
                print(ROW % (wname, srv.name, "-", "", "-", "-", "-", "; ".join(notes)))
                continue
            if srv.name == "upcased":
                ratio = "1.00"
            else:
                ratio = "%.2fx" % (med["rate"] / base["rate"]) if base and base["rate"] > 0 else "-"
            lat = ["%.0f" % med[k] if k in med else "-" for k in ("p50_us", "p99_us")]
            print(ROW % (wname, srv.name, "%.1f" % med["rate"], med["unit"], ratio, lat[0], lat[1],
                         "; ".join(notes)))
    print("\nMedians of %d rounds, %g s per timed run.  The client (bench/loadgen, one thread)\n"
          "and the servers share this machine's %d CPU(s), nothing pinned: every figure\n"
          "includes the client's own cost and their contention.  Ratios below 1 mean the\n"
          "other server is slower than upcased.  TCP clients connect from 127.0.N.1 (N = 1..250)\n"
          "as clients on many hosts would.  (%s)" %
          (rounds, seconds, os.cpu_count() or 0, platform.platform()))
    if wrong_elsewhere:
        print("WRONG replies from textbook in bulk-utf8 are its own bug: it decodes each 2048-byte\n"
              "recv() separately, so a character split between two reads comes back unchanged.")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--upcased", required=True)
    ap.add_argument("--loadgen", required=True, help="the bench/loadgen binary (make bench builds it)")
    ap.add_argument("--seconds", type=float, default=float(os.environ.get("BENCH_SECONDS", "2")))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", "3")))
    ap.add_argument("-v", "--verbose", action="store_true", help="print every loadgen run")
    args = ap.parse_args()
    if not os.access(args.loadgen, os.X_OK):
        sys.exit("bench.py: %s: no loadgen binary (build it: make bench)" % args.loadgen)
    harness.raise_nofile(4096)
    tmp = tempfile.mkdtemp(prefix="upcase-bench-")
    servers = start_servers(args.upcased, tmp)
    if not servers or servers[0].name != "upcased":
        for s in servers:
            s.stop()
        sys.exit("bench.py: upcased did not start")
    try:
        results = run_rounds(servers, args.loadgen, args.seconds, args.rounds, args.verbose)
    finally:
        for s in servers:
            s.stop()
    print_table(servers, results, args.seconds, args.rounds)
    # upcased must be right every time; the others are only reported.
    bad = [r for (name, _), runs in results.items() if name == "upcased"
           for r in runs if r["rc"] != 0]
    if bad:
        print("\nFAIL: upcased had wrong replies, errors or failed runs")
        sys.exit(1)


if __name__ == "__main__":
    main()
