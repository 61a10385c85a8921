#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_realsystemd.py: the shipped units under a real systemd (Debian 12,
systemd 252, booted under systemd-nspawn by tests/container.py), with what
"make install" installs copied in.

The service (one container):
 1. a broken upcased.conf at start: one failed start, Result=exit-code,
    ExecMainStatus=78, NRestarts=0, and the FILE:LINE error in
    "journalctl -p err";
 2. the installed sample config: active, a TCP query with the installed
    upcase client and with python3's socket module, a UDP query, and
    "systemctl status" showing the daemon's STATUS= text, "upcase
    --stats" at once after the start, and no watchdog warning for it; no watchdog
    warning at start;
 3. "systemctl reload" with a good file (a new listener, served) and a
    broken one (the reload fails, the daemon serves on, "journalctl -p err"
    has the FILE:LINE error of ExecReload's "upcased -t", the info lines
    stay at info);
 4. "systemctl stop" while a client inside streams: every byte it sent
    before the stop comes back upper-cased, then end of file, no reset,
    and the daemon exits 0;
 5. the watchdog (a drop-in with WatchdogSec=4s): one worker thread held
    stopped (ptrace), then the whole daemon (SIGSTOP): each time systemd
    kills it for the watchdog and restarts it, and it serves again.
 6. live upgrade: "systemctl kill --kill-whom=main -s USR2 upcased" twice
    while a client streams: MainPID changes, no restart, the watchdog
    follows the new process, every byte the client sent before the stop
    that ends it comes back;
 7. "systemctl restart" twice while a client connects over and over: the
    fd store (FileDescriptorStoreMax=) keeps the listeners, nobody refused.
Socket activation (a second container): the recipe of upcased(8),
SYSTEMD, run as written (RECIPE below), queries on the socket's ports, the
first client starting the service, and a client that connects during
"systemctl restart upcased" served once it is back.

Skipped, with why, when no container can be had (not root, no mirror for
the first debootstrap), under ASan/TSan builds (make distcheck; the plain
make check runs this) and --without-systemd; in CI a missing debootstrap
or systemd-nspawn (./dev installs them) fails instead.
"""
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import time
import unittest

import harness
import container

BUILDDIR = harness.BUILDDIR

# upcased(8), SYSTEMD, "Socket activation", shows this recipe: keep the two
# identical (the test parses nothing from the man page).  The drop-in
# restates ListenStream= and ListenDatagram= both: an empty Listen*= line
# resets every listen entry of the socket unit, of any kind.  The service
# is stopped first: systemctl refuses to start a socket whose service is
# already running ("Socket service upcased.service already active,
# refusing").
RECIPE = [
    "systemctl enable --now upcased",
    "systemctl stop upcased",
    "systemctl edit upcased.socket",
    "systemctl enable --now upcased.socket",
]
RECIPE_DROPIN = """[Socket]
ListenStream=
ListenStream=7000
ListenDatagram=7000
"""
RECIPE_PORT = 7000

# Run inside: connect to PORT over and over for SECONDS, each time one
# query and its answer; prints JSON counts (refused, errors).
CONNLOOP = r"""
import json, socket, sys, time
port, secs = int(sys.argv[1]), float(sys.argv[2])
res = {"ok": 0, "refused": 0, "errors": []}
end = time.monotonic() + secs
i = 0
while time.monotonic() < end:
    i += 1
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=20)
        s.settimeout(20)
        s.sendall(b"q%d" % i)
        got = b""
        while len(got) < len(b"Q%d" % i):
            b = s.recv(64)
            if not b:
                break
            got += b
        s.close()
        if got == b"Q%d" % i:
            res["ok"] += 1
        else:
            res["errors"].append(repr(got))
    except ConnectionRefusedError:
        res["refused"] += 1
    except OSError as e:
        res["errors"].append(str(e))
    time.sleep(0.005)
print(json.dumps(res))
"""

# Run inside: a client that streams to PORT without pausing, reading all
# the while, until it has read end of file; "stop" on its standard input
# marks the bytes sent so far (all sent before the stop).  Prints JSON.
STREAMER = r"""
import json, socket, sys, threading, time
port = int(sys.argv[1])
s = socket.create_connection(("127.0.0.1", port), timeout=30)
got = bytearray(); sent = bytearray(); res = {"err": None, "eof": False}
def reader():
    try:
        while True:
            b = s.recv(65536)
            if not b:
                res["eof"] = True
                return
            got.extend(b)
    except OSError as e:
        res["err"] = "recv: %r" % e
threading.Thread(target=reader, daemon=True).start()
mark = {"at": None}
def marker():
    sys.stdin.readline()
    mark["at"] = len(sent)
threading.Thread(target=marker, daemon=True).start()
i = 0
print("streaming", flush=True)
deadline = time.monotonic() + 40
while not res["eof"] and res["err"] is None and time.monotonic() < deadline:
    # Upper case the same length in bytes, so that what comes back is
    # the upper case of a prefix of the same length.
    data = ("stream αβγ ünï %d " % i).encode() * 200
    try:
        s.sendall(data)
    except OSError as e:
        # The server stopped reading and closed; what it owed came first.
        res["send_err"] = repr(e)
        break
    sent.extend(data)
    i += 1
    time.sleep(0.005)
for _ in range(2000):
    if res["eof"] or res["err"]:
        break
    time.sleep(0.01)
print(json.dumps({"sent": sent.decode("utf-8", "surrogateescape"),
                  "got": got.decode("utf-8", "surrogateescape"),
                  "mark": mark["at"], "eof": res["eof"], "err": res["err"],
                  "send_err": res.get("send_err")}), flush=True)
"""

# Run inside: stop one thread of a process (PTRACE_SEIZE, PTRACE_INTERRUPT)
# and hold it, the others running on, until the process is gone.
WEDGE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
tid = int(sys.argv[1])
if libc.ptrace(0x4206, tid, None, None) != 0 or libc.ptrace(0x4207, tid, None, None) != 0:
    sys.exit("ptrace %d: %s" % (tid, os.strerror(ctypes.get_errno())))
os.waitpid(tid, 0x40000000)
print("stopped", flush=True)
while True:
    _, st = os.waitpid(tid, 0x40000000)
    if os.WIFEXITED(st) or os.WIFSIGNALED(st):
        break
"""

# Run inside: one TCP round-trip with python3's socket module.
PYQUERY = r"""
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
s.sendall(sys.argv[2].encode()); s.shutdown(socket.SHUT_WR)
out = b""
while True:
    b = s.recv(4096)
    if not b:
        break
    out += b
sys.stdout.write(out.decode())
"""


def reap(p):
    """A process started inside: killed (by its pid) if still running,
    waited for, its pipes closed."""
    if p.poll() is None:
        p.kill()
    p.wait()
    for f in (p.stdin, p.stdout, p.stderr):
        if f is not None:
            f.close()


def why_unavailable():
    """Why this test cannot run here (a skip), or None; fails in CI for a
    tool ./dev installs."""
    san = harness.sanitizer()
    if san in ("address", "thread"):
        return ("upcased is built with the %s sanitizer (make distcheck); "
                "the plain make check runs this test" % san)
    if not harness.built_with_systemd():
        return "built --without-systemd: no units installed"
    if shutil.which("make") is None or not os.path.exists(os.path.join(BUILDDIR, "Makefile")):
        return "no build tree with a Makefile to install from"
    return None



def uring_allowed_here():
    """Whether this kernel lets a root service have io_uring: 5.19 or later
    (provided buffer rings), and the sysctl."""
    m = re.match(r"(\d+)\.(\d+)", os.uname().release)
    if not m or (int(m.group(1)), int(m.group(2))) < (5, 19):
        return False
    try:
        with open("/proc/sys/kernel/io_uring_disabled") as f:
            return f.read().strip() == "0"
    except OSError:
        return True     # before Linux 6.6: no such sysctl

class Install:
    """What "make install DESTDIR=..." puts in a staging tree, and where it
    goes in the container."""

    def __init__(self):
        self.dest = tempfile.mkdtemp(prefix="upcase-realsd-")
        os.chmod(self.dest, 0o755)     # it is copied onto the container's /
        watch = [os.path.join(BUILDDIR, "src", n) for n in ("upcased", "upcase")]
        before = [os.stat(p).st_mtime_ns for p in watch]
        # Not a sub-make of "make check": its jobserver and variables stay out.
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "DESTDIR")}
        p = subprocess.run(["make", "-s", "-C", BUILDDIR, "install", "DESTDIR=" + self.dest],
                           capture_output=True, env=env, timeout=300)
        if p.returncode != 0:
            raise AssertionError("make install: %s" % p.stderr.decode(errors="replace"))
        # All is built before make check runs tests: installing rebuilds nothing.
        after = [os.stat(p).st_mtime_ns for p in watch]
        if before != after:
            raise AssertionError("make install rebuilt %s" % watch)
        self.files = {}
        for root, _, names in os.walk(self.dest):
            for n in names:
                full = os.path.join(root, n)
                self.files["/" + os.path.relpath(full, self.dest)] = full
        self.unit = self.one(r"/systemd/system/upcased\.service$")
        self.socket = self.one(r"/systemd/system/upcased\.socket$")
        self.client = self.one(r"/bin/upcase$")
        with open(self.files[self.unit]) as f:
            m = re.search(r"^ExecStart=(\S+) .*-c (\S+)", f.read(), re.M)
        self.daemon, self.conf = m.group(1), m.group(2)
        for p in (self.daemon, self.conf):
            if p not in self.files:
                raise AssertionError("the unit runs %s, which make install did not install" % p)
        with open(self.files[self.conf]) as f:
            self.sample = f.read()

    def one(self, pattern):
        hits = [p for p in self.files if re.search(pattern, p)]
        if len(hits) != 1:
            raise AssertionError("%s: %r in %r" % (pattern, hits, sorted(self.files)))
        return hits[0]

    def into(self, c):
        """Copy the tree onto the container's / and have systemd see the units."""
        for top in os.listdir(self.dest):
            subprocess.run(["cp", "-a", os.path.join(self.dest, top), c.path("/")], check=True)
        unitdir = os.path.dirname(self.unit)
        # systemd's search path; a prefix elsewhere (distcheck's _inst) gets
        # its units copied into /etc.
        if unitdir not in ("/etc/systemd/system", "/usr/local/lib/systemd/system",
                           "/usr/lib/systemd/system", "/lib/systemd/system"):
            for u in (self.unit, self.socket):
                shutil.copy(self.files[u], c.path("/etc/systemd/system/"))
        c.check(["systemctl", "daemon-reload"])

    def cleanup(self):
        shutil.rmtree(self.dest, ignore_errors=True)


def boot(test):
    try:
        return container.Container()
    except container.Unavailable as e:
        why = str(e)
        if os.environ.get("CI") and re.search(r"(debootstrap|systemd-nspawn|nsenter) is not "
                                              r"installed", why):
            test.fail("%s (CI: ./dev installs it)" % why)
        print("skip: %s" % why, flush=True)
        test.skipTest(why)


class Phase:
    """Prints how long a scenario took."""

    def __init__(self, name):
        self.name = name

    def __enter__(self):
        self.t0 = time.monotonic()
        print("-- %s" % self.name, flush=True)

    def __exit__(self, exc, *rest):
        print("-- %s: %s in %.1f s" % (self.name, "failed" if exc else "ok",
                                       time.monotonic() - self.t0), flush=True)


class RealSystemd(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.why = why_unavailable()
        cls.inst = None
        if cls.why is None:
            cls.inst = Install()

    @classmethod
    def tearDownClass(cls):
        if cls.inst is not None:
            cls.inst.cleanup()

    def setUp(self):
        if self.why:
            print("skip: %s" % self.why, flush=True)
            self.skipTest(self.why)
        t0 = time.monotonic()
        self.c = boot(self)
        self.addCleanup(self.c.stop)
        self.inst.into(self.c)
        print("container booted (%s) and installed into in %.1f s"
              % (self.c.boot_state, time.monotonic() - t0), flush=True)

    # ------------------------------------------------------------ helpers

    def sh(self, cmd, timeout=60.0):
        """cmd (a shell line) inside: its CompletedProcess."""
        return self.c.run(["sh", "-c", cmd], timeout=timeout)

    def ok(self, cmd, timeout=60.0):
        r = self.sh(cmd, timeout)
        self.assertEqual(r.returncode, 0, "%s: exit %d\n%s%s" % (cmd, r.returncode,
                                                                 r.stdout, r.stderr))
        return r.stdout

    def show(self, *props, unit="upcased"):
        out = self.c.check(["systemctl", "show", unit] + ["-p" + p for p in props])
        return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)

    def cursor(self):
        """Where the journal is now: the time of its last entry.  Not a
        journal cursor: journalctl 252 with --after-cursor and -p misses
        the daemon's entries, which journald keeps in a file of their own
        (the DynamicUser's uid)."""
        out = self.c.check(["journalctl", "-n", "1", "-o", "json", "--no-pager"])
        return int(json.loads(out.splitlines()[-1])["__REALTIME_TIMESTAMP"]) if out.strip() else 0

    def journal(self, after=None, prio=None, unit="upcased"):
        cmd = ["journalctl", "-u", unit, "-o", "json", "--no-pager"]
        if prio:
            cmd += ["-p", prio]
        out = []
        for line in self.c.check(cmd).splitlines():
            e = json.loads(line)
            if after and int(e["__REALTIME_TIMESTAMP"]) <= after:
                continue
            m = e.get("MESSAGE")
            if isinstance(m, list):
                e["MESSAGE"] = bytes(m).decode(errors="replace")
            out.append(e)
        return out

    def wait_journal(self, pattern, after=None, prio=None, timeout=15.0):
        """The first entry whose MESSAGE matches, waiting for journald."""
        deadline = time.monotonic() + timeout
        while True:
            ents = self.journal(after, prio)
            for e in ents:
                if re.search(pattern, e.get("MESSAGE", "")):
                    return e
            if time.monotonic() > deadline:
                self.fail("no journal entry %r (prio %s) within %.0f s; got:\n%s\n"
                          "journalctl -u upcased:\n%s"
                          % (pattern, prio, timeout,
                             "\n".join("<%s> %s" % (e.get("PRIORITY"), e.get("MESSAGE"))
                                       for e in ents),
                             self.c.run(["journalctl", "-u", "upcased", "--no-pager",
                                         "-n", "30"]).stdout))
            time.sleep(0.2)

    def wait_until(self, what, fn, timeout=20.0):
        deadline = time.monotonic() + timeout
        while True:
            v = fn()
            if v:
                return v
            if time.monotonic() > deadline:
                self.fail("%s: not within %.0f s" % (what, timeout))
            time.sleep(0.1)

    def upcase(self, *args):
        return self.ok(" ".join([self.inst.client] + [shlex.quote(a) for a in args]))

    def pyquery(self, port, text):
        return self.c.check(["python3", "-c", PYQUERY, str(port), text])

    def serves(self, port=12000):
        self.assertEqual(self.upcase("-p", str(port), "hello straße"), "HELLO STRASSE\n")
        self.assertEqual(self.upcase("-u", "-p", str(port), "ωμέγα"), "ΩΜΈΓΑ\n")

    def main_pid(self):
        return int(self.show("MainPID")["MainPID"])

    def broken(self):
        """The sample with a syntax error appended: (text, its line)."""
        line = self.inst.sample.count("\n") + 2
        return self.inst.sample + "\nmax_connections = ;\n", line

    # ------------------------------------------------------------ the service

    def test_service(self):
        conf = self.inst.conf
        with Phase("1 broken config at start"):
            text, line = self.broken()
            self.c.put(conf, text)
            cur = self.cursor()
            r = self.c.run(["systemctl", "start", "upcased"])
            self.assertNotEqual(r.returncode, 0, "a broken config started")
            # Give Restart= its chance (RestartSec 100 ms): there is none.
            time.sleep(1.5)
            st = self.show("Result", "ExecMainStatus", "NRestarts", "ActiveState")
            print("after a broken start: %s" % st)
            self.assertEqual(st, {"Result": "exit-code", "ExecMainStatus": "78",
                                  "NRestarts": "0", "ActiveState": "failed"})
            e = self.wait_journal(r"^%s:%d: " % (re.escape(conf), line), cur, prio="err")
            self.assertEqual(e["PRIORITY"], "3", e)
            starts = [x for x in self.journal(cur) if x.get("MESSAGE", "").startswith("Starting ")]
            self.assertEqual(len(starts), 1, "started %d times" % len(starts))
            self.c.check(["systemctl", "reset-failed", "upcased"])

        with Phase("2 the sample config: start, queries, status"):
            self.c.put(conf, self.inst.sample)
            cur = self.cursor()
            self.c.check(["systemctl", "start", "upcased"])
            # The counters over the control socket, at once: that wakes the
            # main loop, whose first watchdog check came at once too, while
            # the workers had not turned their loops yet, and called all
            # three stuck (withholding the ping).
            stats = self.upcase("--stats")
            self.assertRegex(stats, r'(?m)^upcased_tcp_connections_open\{worker="tcp0"\} 0$')
            self.assertNotRegex(stats, r'(?m)^upcased_tcp_connections_open\{.*\} [1-9]')
            self.assertEqual(self.show("ActiveState")["ActiveState"], "active")
            self.serves()
            self.assertEqual(self.pyquery(12000, "python ünïcode"), "PYTHON ÜNÏCODE")
            # STATUS= is refreshed about every second: 2 TCP clients, 1 datagram.
            status = self.wait_until("systemctl status showing the counters", lambda: re.search(
                r'Status: "(\d+ connections open, 2 accepted, 0 refused; 1 datagrams served.*)"',
                self.c.run(["systemctl", "status", "--no-pager", "upcased"]).stdout))
            print("systemctl status: Status: %s" % status.group(1))
            time.sleep(0.5)
            stuck = [e["MESSAGE"] for e in self.journal(cur) if "no progress" in e["MESSAGE"]]
            self.assertEqual(stuck, [], "a watchdog warning while nothing is wedged")
            info = self.wait_journal(r"^upcased .* started: ", cur)
            self.assertEqual(info["PRIORITY"], "6", info)
            # The shipped unit's SystemCallFilter= (@system-service has @aio)
            # lets io = "auto" have io_uring, where the kernel allows it.
            if uring_allowed_here():
                self.assertIn(" on io_uring, ", info["MESSAGE"], info)
            print("start-up line under systemd: %s" % info["MESSAGE"])

        with Phase("3 reload: a good file, then a broken one"):
            # A second listener after the sample's first (port 12000).
            good, n = re.subn(r'(?m)^(listen = \(\s*\{[^}]*port = 12000;[^}]*\})',
                              r'\1,\n\t{ address = "127.0.0.1"; port = 12001; tcp = true; '
                              r'udp = false; }', self.inst.sample)
            self.assertEqual(n, 1, "no listen = ( { ... port = 12000; ... } in the sample")
            pid = self.main_pid()
            self.c.put(conf, good)
            cur = self.cursor()
            t0 = time.monotonic()
            self.c.check(["systemctl", "reload", "upcased"])
            print("good reload: %.2f s" % (time.monotonic() - t0))
            self.wait_journal(r"^configuration reloaded; listening on .*127\.0\.0\.1:12001", cur)
            self.assertEqual(self.pyquery(12001, "new listener"), "NEW LISTENER")
            self.serves()
            self.assertEqual(self.main_pid(), pid)

            text, line = self.broken()
            self.c.put(conf, text)
            cur = self.cursor()
            r = self.c.run(["systemctl", "reload", "upcased"])
            self.assertNotEqual(r.returncode, 0, "a broken reload succeeded")
            print("broken reload: exit %d: %s" % (r.returncode, r.stderr.strip()))
            e = self.wait_journal(r"^%s:%d: " % (re.escape(conf), line), cur, prio="err")
            self.assertEqual(e["PRIORITY"], "3", e)
            self.assertNotEqual(int(e["_PID"]), pid, "logged by the daemon, not ExecReload")
            print("journalctl -p err: <%s> %s" % (e["PRIORITY"], e["MESSAGE"]))
            st = self.show("ActiveState", "MainPID", "NRestarts")
            self.assertEqual(st, {"ActiveState": "active", "MainPID": str(pid), "NRestarts": "0"})
            # "upcased -t" failed first: no SIGHUP reached the daemon.
            self.assertFalse([x["MESSAGE"] for x in self.journal(cur)
                              if int(x.get("_PID", 0)) == pid], "the daemon was signalled")
            self.serves()
            self.assertEqual(self.pyquery(12001, "still there"), "STILL THERE")
            # Nothing at info or notice was raised to err.
            for x in self.journal(prio="err"):
                if x.get("SYSLOG_IDENTIFIER") == "upcased":
                    self.assertRegex(x["MESSAGE"], r"^%s:\d+: " % re.escape(conf), x)
            self.c.put(conf, good)

        with Phase("4 systemctl stop with a client mid-stream"):
            pid = self.main_pid()
            cur = self.cursor()
            p = self.c.popen(["python3", "-c", STREAMER, "12000"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                self.assertEqual(p.stdout.readline(), b"streaming\n")
                time.sleep(0.5)
                p.stdin.write(b"stop\n")
                p.stdin.flush()
                t0 = time.monotonic()
                self.c.check(["systemctl", "stop", "upcased"])
                took = time.monotonic() - t0
                out, err = p.communicate(timeout=60)
            finally:
                reap(p)
            self.assertEqual(p.returncode, 0, err)
            res = json.loads(out)
            sent = res["sent"].encode("utf-8", "surrogateescape")
            got = res["got"].encode("utf-8", "surrogateescape")
            print("stop took %.1f s; the client had sent %d bytes at the stop, %d in all, "
                  "got %d back; eof %s, recv error %s, send error after eof %s"
                  % (took, res["mark"], len(sent), len(got), res["eof"], res["err"],
                     res["send_err"]))
            self.assertTrue(res["eof"], res["err"])
            self.assertIsNone(res["err"])
            self.assertGreater(res["mark"], 0)
            self.assertGreaterEqual(len(got), res["mark"], "bytes sent before the stop lost")
            self.assertEqual(got, harness.py_upper(sent[:len(got)]))
            # systemd forgets ExecMainStatus= once the unit is inactive; its
            # journal says "Main process exited" only for a failure or a kill.
            st = self.show("ActiveState", "Result")
            self.assertEqual(st, {"ActiveState": "inactive", "Result": "success"})
            self.wait_journal(r"^upcased.service: Deactivated successfully", cur)
            ents = self.journal(cur)
            self.assertEqual([e["MESSAGE"] for e in ents if int(e.get("_PID", 0)) == pid][-1:],
                             ["stopped"])
            self.assertFalse([e for e in ents if "Main process exited" in e["MESSAGE"]
                              or "SIGKILL" in e["MESSAGE"]], "not a clean exit")
            self.assertFalse([e for e in self.journal(cur) if int(e.get("_PID", 0)) == pid
                              and int(e["PRIORITY"]) <= 4], "the daemon warned at the stop")
            self.assertLess(took, 30, "stop took TimeoutStopSec")

        with Phase("5 the watchdog: a wedged worker, then a stopped daemon"):
            self.ok("mkdir -p /etc/systemd/system/upcased.service.d")
            self.c.put("/etc/systemd/system/upcased.service.d/watchdog.conf",
                       "[Service]\nWatchdogSec=4s\nTimeoutAbortSec=4s\n")
            self.c.check(["systemctl", "daemon-reload"])
            self.c.check(["systemctl", "start", "upcased"])
            self.serves()
            pid = self.main_pid()
            # Not 2 s: under make -j2 check a daemon starved of CPU for a
            # second missed a ping with nothing wedged.
            self.assertEqual(self.show("NRestarts")["NRestarts"], "0")
            tid = int(self.ok("grep -l '^upcased-tcp0$' /proc/%d/task/*/comm | cut -d/ -f5"
                              % pid))
            cur = self.cursor()
            t0 = time.monotonic()
            w = self.c.popen(["python3", "-c", WEDGE, str(tid)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
            try:
                line = w.stdout.readline()
                if line != b"stopped\n":
                    w.wait(10)
                    self.fail("the wedge: %r %r" % (line, w.stderr.read()))
                self.wait_journal(r"^tcp worker 0 made no progress", cur, timeout=15)
                self.wait_journal(r"Watchdog timeout", cur, timeout=15)
                self.wait_journal(r"Killing process %d \(upcased\) with signal SIGABRT" % pid,
                                  cur)
                self.wait_until("a restart", lambda: self.show("NRestarts")["NRestarts"] == "1"
                                and self.show("ActiveState")["ActiveState"] == "active")
                took = time.monotonic() - t0
                w.wait(20)
            finally:
                reap(w)
            pid2 = self.main_pid()
            self.assertNotEqual(pid2, pid)
            self.serves()
            print("wedged worker: killed and restarted in %.1f s (pid %d -> %d)"
                  % (took, pid, pid2))

            cur = self.cursor()
            t0 = time.monotonic()
            self.c.check(["kill", "-STOP", str(pid2)])
            self.wait_journal(r"Watchdog timeout", cur, timeout=15)
            self.wait_until("a second restart",
                            lambda: self.show("NRestarts")["NRestarts"] == "2"
                            and self.show("ActiveState")["ActiveState"] == "active")
            took = time.monotonic() - t0
            # SIGABRT (a core-dumping signal) may leave a stopped process
            # stopped: then TimeoutAbortSec= (4 s) and its SIGKILL end it.
            self.wait_journal(r"Killing process %d \(upcased\) with signal SIGABRT" % pid2, cur)
            self.wait_journal(r"Failed with result 'watchdog'", cur)
            pid3 = self.main_pid()
            self.assertNotIn(pid3, (pid, pid2))
            self.serves()
            print("stopped daemon: SIGABRT, restarted in %.1f s (pid %d -> %d)"
                  % (took, pid2, pid3))

        with Phase("6 live upgrade under systemd (twice), a client streaming throughout"):
            pid = self.main_pid()
            restarts = self.show("NRestarts")["NRestarts"]
            cur = self.cursor()
            p = self.c.popen(["python3", "-c", STREAMER, "12000"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                self.assertEqual(p.stdout.readline(), b"streaming\n")
                pids = [pid]
                # Entries from here on (phase 5's kills are logged before, but
                # may reach the journal after the cursor was read).
                since = int(self.ok("date +%s%6N"))
                for _ in range(2):
                    time.sleep(0.5)
                    t0 = time.monotonic()
                    self.c.check(["systemctl", "kill", "--kill-whom=main", "-s", "USR2",
                                  "upcased"])
                    self.wait_until("a new MainPID", lambda: self.main_pid() not in pids
                                    and self.main_pid() != 0)
                    pids.append(self.main_pid())
                    print("upgrade: MainPID %d -> %d in %.2f s"
                          % (pids[-2], pids[-1], time.monotonic() - t0))
                    st = self.show("ActiveState", "SubState", "NRestarts")
                    self.assertEqual(st, {"ActiveState": "active", "SubState": "running",
                                          "NRestarts": restarts})
                # The watchdog (4 s) is the new process's now: it keeps pinging.
                time.sleep(5)
                self.assertEqual(self.show("NRestarts", "MainPID"),
                                 {"NRestarts": restarts, "MainPID": str(pids[-1])})
                self.serves()
                status = self.c.run(["systemctl", "status", "--no-pager", "upcased"]).stdout
                self.assertIn("Main PID: %d" % pids[-1], status)
                p.stdin.write(b"stop\n")
                p.stdin.flush()
                self.c.check(["systemctl", "stop", "upcased"])
                out, err = p.communicate(timeout=60)
            finally:
                reap(p)
            res = json.loads(out)
            sent = res["sent"].encode("utf-8", "surrogateescape")
            got = res["got"].encode("utf-8", "surrogateescape")
            print("through 2 upgrades and a stop: sent %d bytes (%d before the stop), got %d "
                  "back, eof %s, error %s" % (len(sent), res["mark"], len(got), res["eof"],
                                              res["err"]))
            self.assertTrue(res["eof"], res["err"])
            self.assertIsNone(res["err"])
            self.assertGreaterEqual(len(got), res["mark"])
            self.assertEqual(got, harness.py_upper(sent[:len(got)]))
            ents = self.journal(cur)
            self.assertFalse([e["MESSAGE"] for e in ents
                              if int(e.get("_SOURCE_REALTIME_TIMESTAMP",
                                           e["__REALTIME_TIMESTAMP"])) > since and
                              ("Watchdog timeout" in e["MESSAGE"] or
                               "Main process exited" in e["MESSAGE"] or
                               # A MAINPID= that is not systemd's child is
                               # "alien": a stop then SIGKILLs it at once.
                               "not our child" in e["MESSAGE"])],
                             "not a clean handover:\n" + self.c.run(
                                 ["journalctl", "-u", "upcased", "--no-pager", "-n", "60",
                                  "-o", "short-precise"]).stdout)
            self.assertTrue([e for e in ents if re.search(r"took over from pid %d" % pid,
                                                          e["MESSAGE"])])

        with Phase("7 systemctl restart with the fd store: nobody refused"):
            cur = self.cursor()
            self.c.check(["systemctl", "start", "upcased"])
            self.serves()
            p = self.c.popen(["python3", "-c", CONNLOOP, "12000", "8"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                time.sleep(1)
                pid = self.main_pid()
                for _ in range(2):
                    self.c.check(["systemctl", "restart", "upcased"])
                    time.sleep(1)
                self.assertNotEqual(self.main_pid(), pid)
                out, err = p.communicate(timeout=60)
            finally:
                reap(p)
            res = json.loads(out)
            print("connecting through 2 restarts: %s" % res)
            self.assertEqual(res["refused"], 0, res)
            self.assertEqual(res["errors"], [], res)
            self.assertGreater(res["ok"], 10)
            self.wait_journal(r"taking \d+ listening sockets back from systemd's file "
                              r"descriptor store", cur)

    # ------------------------------------------------------------ socket activation

    def test_socket_activation(self):
        with Phase("6 socket activation, the upcased(8) recipe"):
            # systemctl edit wants a terminal (script gives it one) and an
            # editor: this one types the drop-in of the man page.
            self.c.put("/root/dropin", RECIPE_DROPIN)
            self.c.put("/root/editor", '#!/bin/sh\ncat /root/dropin > "$1"\n', mode=0o755)
            for cmd in RECIPE:
                if cmd.startswith("systemctl edit"):
                    cmd = "SYSTEMD_EDITOR=/root/editor script -qec %s /dev/null" % shlex.quote(cmd)
                self.ok(cmd + " </dev/null")
                print("# %s" % cmd, flush=True)
            # (systemctl edit strips the trailing newline)
            self.assertEqual(self.c.get("/etc/systemd/system/upcased.socket.d/override.conf")
                             .strip(), RECIPE_DROPIN.encode().strip())
            out = self.c.check(["systemctl", "show", "upcased.socket", "-p", "Listen"])
            self.assertEqual(sorted(out.splitlines()),
                             ["Listen=[::]:%d (Datagram)" % RECIPE_PORT,
                              "Listen=[::]:%d (Stream)" % RECIPE_PORT], out)
            self.assertEqual(self.show("ActiveState", unit="upcased.socket")["ActiveState"],
                             "active")
            self.assertEqual(self.show("ActiveState")["ActiveState"], "inactive")
            cur = self.cursor()
            # The first client starts the service.
            self.serves(RECIPE_PORT)
            self.assertEqual(self.show("ActiveState")["ActiveState"], "active")
            self.assertEqual(self.pyquery(RECIPE_PORT, "activated"), "ACTIVATED")
            self.wait_journal(r"^using 2 sockets passed by systemd", cur)
            r = self.c.run([self.inst.client, "-w", "1", "-p", "12000", "x"])
            self.assertNotEqual(r.returncode, 0, "port 12000 is served: %r" % r.stdout)

        with Phase("7 restart under socket activation: the backlog holds a client"):
            # A slower start, so that the client surely connects while no
            # upcased runs.
            self.ok("mkdir -p /etc/systemd/system/upcased.service.d")
            self.c.put("/etc/systemd/system/upcased.service.d/slow.conf",
                       "[Service]\nExecStartPre=/bin/sleep 1\n")
            self.c.check(["systemctl", "daemon-reload"])
            pid = self.main_pid()
            r = self.c.popen(["systemctl", "restart", "upcased"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
            try:
                self.wait_until("the restart's ExecStartPre", lambda: self.show(
                    "ActiveState", "SubState") == {"ActiveState": "activating",
                                                   "SubState": "start-pre"}, timeout=10)
                t0 = time.monotonic()
                out = self.upcase("-w", "10", "-p", str(RECIPE_PORT), "queued")
                waited = time.monotonic() - t0
                r.communicate(timeout=30)
            finally:
                reap(r)
            self.assertEqual(r.returncode, 0)
            self.assertEqual(out, "QUEUED\n")
            self.assertNotEqual(self.main_pid(), pid)
            print("client connected during the restart, answered after %.2f s" % waited)
            self.assertGreater(waited, 0.3, "answered before the new upcased was up?")
            self.serves(RECIPE_PORT)


if __name__ == "__main__":
    # Every test skipped (no container, a sanitizer build, ...): automake's SKIP, not PASS.
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    raise SystemExit(1 if not r.wasSuccessful() else
                     77 if r.testsRun and len(r.skipped) == r.testsRun else 0)
