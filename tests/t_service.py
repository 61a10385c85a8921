# SPDX-License-Identifier: ISC
"""Running upcased as a service: what "make install" puts where, the man
pages, the pidfile of a detached daemon, dropping root privileges, and the
counters that "upcase --stats" reads from the control socket.
"""
import errno
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
import nethelp
from harness import UPCASE, UPCASED, make_conf

TOP = harness.TOP
# The build tree (UPCASED is BUILDDIR/src/upcased); TOP_BUILDDIR wins if set.
BUILDDIR = os.environ.get("TOP_BUILDDIR",
                          os.path.dirname(os.path.dirname(os.path.abspath(UPCASED))))
MAN_PAGES = ("upcase.1", "upcase-benchmark.1", "upcased.conf.5", "upcased.8")


def gone(pid):
    """True once pid has exited (a zombie that nobody reaped counts as gone)."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except FileNotFoundError:
        return True


def kill_wait(pid, timeout=20.0):
    """SIGTERM pid (not our child) and wait until it is gone; True if it went."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return True
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if gone(pid):
            return True
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)
    return False


def proc_ids(pid):
    """(uid, gid, groups) from /proc/PID/status: real, effective, saved, fs all."""
    ids = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("Uid", "Gid", "Groups"):
                ids[k] = [int(x) for x in v.split()]
    return ids


# ---------------------------------------------------------------- make install

@unittest.skipUnless(os.path.exists(os.path.join(BUILDDIR, "Makefile")) and shutil.which("make"),
                     "no build tree with a Makefile")

def syslog_reachable():
    """Whether /dev/log takes a connection, as upcased (and glibc) try it."""
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_UNIX, kind) as s:
            try:
                s.connect("/dev/log")
                return True
            except OSError as e:
                if e.errno != errno.EPROTOTYPE:
                    return False
    return False

class Install(unittest.TestCase):
    def setUp(self):
        self.dest = tempfile.mkdtemp(prefix="upcase-destdir-")

    def tearDown(self):
        shutil.rmtree(self.dest, ignore_errors=True)

    def make(self, *targets):
        # Not a sub-make of "make check": its jobserver and variables stay out.
        env = {k: v for k, v in os.environ.items()
               if k not in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES")}
        p = subprocess.run(["make", "-s", "-C", BUILDDIR] + list(targets) +
                           ["DESTDIR=" + self.dest],
                           capture_output=True, env=env, timeout=300)
        self.assertEqual(p.returncode, 0, p.stderr.decode("utf-8", "replace"))
        return p.stdout.decode("utf-8", "replace")

    def files(self):
        out = {}
        for root, _, names in os.walk(self.dest):
            for n in names:
                full = os.path.join(root, n)
                out["/" + os.path.relpath(full, self.dest)] = full
        return out

    def one(self, files, pattern):
        hits = [p for p in files if re.search(pattern, p)]
        self.assertEqual(len(hits), 1, "%s: %r in %r" % (pattern, hits, sorted(files)))
        return hits[0]

    def test_install_layout_and_config_kept(self):
        self.make("install")
        files = self.files()
        sbin = self.one(files, r"/sbin/upcased$")
        self.one(files, r"(?<!s)/bin/upcase$")
        bench = self.one(files, r"(?<!s)/bin/upcase-benchmark$")
        self.assertTrue(os.access(files[bench], os.X_OK))
        conf = self.one(files, r"/etc/upcased\.conf$")
        for page in MAN_PAGES:
            self.one(files, r"/man/man%s/%s(\.gz)?$" % (page[-1], re.escape(page)))
        self.assertTrue(os.access(files[sbin], os.X_OK))
        if harness.built_with_systemd():
            service = self.one(files, r"/systemd/system/upcased\.service$")
            self.one(files, r"/systemd/system/upcased\.socket$")
            # The service names the installed binary and configuration.
            with open(files[service]) as f:
                unit = f.read()
            self.assertNotRegex(unit, r"@[a-z_]+@", "unsubstituted placeholder")
            self.assertIn("ExecStart=%s -f -c %s\n" % (sbin, conf), unit)
        else:
            # A Type=notify unit could never report ready without sd-daemon.
            self.assertEqual([p for p in files if "systemd" in p], [])

        # The installed configuration is the shipped one, and it is valid.
        with open(files[conf], "rb") as f, open(os.path.join(TOP, "etc", "upcased.conf"), "rb") as g:
            self.assertEqual(f.read(), g.read())
        rc, out, err = harness.run([files[sbin], "-t", "-c", files[conf]])
        self.assertEqual((rc, out), (0, b"configuration OK\n"), err)

        # An operator's edits survive a second install.
        with open(files[conf], "a") as f:
            f.write("# edited by the operator\nidle_timeout = 42;\n")
        with open(files[conf], "rb") as f:
            edited = f.read()
        out = self.make("install")
        with open(files[conf], "rb") as f:
            self.assertEqual(f.read(), edited)
        self.assertIn("keeping existing", out)

        # Uninstall removes what it installed and leaves the configuration.
        self.make("uninstall")
        left = sorted(self.files())
        self.assertEqual(left, [conf])


# ---------------------------------------------------------------- man pages

@unittest.skipUnless(shutil.which("mandoc"), "mandoc not installed")
class ManPages(unittest.TestCase):
    # Whether other manuals are installed depends on the machine, not on us.
    NOISE = re.compile(r"referenced manual not found|outdated mandoc\.db")

    def test_lint_clean(self):
        paths = [os.path.join(TOP, "man", p) for p in MAN_PAGES]
        for p in paths:
            self.assertTrue(os.path.exists(p), p)
        r = subprocess.run(["mandoc", "-Tlint"] + paths, capture_output=True, timeout=60)
        lines = (r.stdout + r.stderr).decode("utf-8", "replace").splitlines()
        problems = [l for l in lines if l.strip() and not self.NOISE.search(l)]
        self.assertEqual(problems, [])

    def test_cross_references_exist(self):
        """Every .Xr to a page of this project names a page we ship."""
        ours = {(p.rsplit(".", 1)[0], p.rsplit(".", 1)[1]) for p in MAN_PAGES}
        for page in MAN_PAGES:
            with open(os.path.join(TOP, "man", page)) as f:
                for name, sec in re.findall(r"^\.Xr (\S+) (\d)", f.read(), re.M):
                    if name.startswith("upcase"):
                        self.assertIn((name, sec), ours, "%s refers to %s(%s)" % (page, name, sec))

    def test_renders(self):
        for page in MAN_PAGES:
            r = subprocess.run(["mandoc", "-Tascii", os.path.join(TOP, "man", page)],
                               capture_output=True, timeout=60)
            self.assertEqual(r.returncode, 0, page)
            text = re.sub(rb".\x08", b"", r.stdout)     # no overstrike
            self.assertRegex(text, rb"(?m)^NAME\n")


# ---------------------------------------------------------------- pidfile

class Detached(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-pid-")
        self.pidfile = os.path.join(self.dir, "upcased.pid")
        self.port = harness.free_port()
        self.conf = os.path.join(self.dir, "upcased.conf")
        with open(self.conf, "w") as f:
            f.write(make_conf(self.port, extra='pidfile = "%s";' % self.pidfile))
        self.pid = None

    def tearDown(self):
        if self.pid is not None:
            kill_wait(self.pid)
        shutil.rmtree(self.dir, ignore_errors=True)

    def test_pidfile_and_detach(self):
        start = time.monotonic()
        p = subprocess.run([UPCASED, "-c", self.conf], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        # Silent, unless there is no syslog to take its messages (upcased(8), LOGGING).
        self.assertEqual(p.stdout, b"")
        if syslog_reachable():
            self.assertEqual(p.stderr, b"")
        else:
            self.assertRegex(p.stderr.decode(), r"\Aupcased: /dev/log: [^\n]*every message is "
                             r"lost[^\n]*run upcased -f\n\Z")
        # The starting process returned only once the daemon serves.
        with open(self.pidfile) as f:
            text = f.read()
        self.assertRegex(text, r"^\d+\n$")
        self.pid = int(text)
        self.assertNotEqual(self.pid, os.getpid())
        with open("/proc/%d/cmdline" % self.pid, "rb") as f:
            self.assertEqual(f.read().split(b"\0")[0], UPCASED.encode())
        self.assertEqual(harness.tcp_roundtrip(self.port, "détaché".encode()), "DÉTACHÉ".encode())
        self.assertEqual(harness.udp_roundtrip(self.port, b"udp"), b"UDP")
        self.assertLess(time.monotonic() - start, 30)
        # Detached: a session of its own, no controlling terminal, cwd /.
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        self.assertEqual(int(fields[4]), 0, "tty_nr: still has a controlling terminal")
        self.assertNotEqual(os.getsid(self.pid), os.getsid(0))
        self.assertEqual(os.readlink("/proc/%d/cwd" % self.pid), "/")
        # SIGTERM by that pid stops it and removes the pidfile.
        self.assertTrue(kill_wait(self.pid), "daemon did not stop")
        self.pid = None
        self.assertFalse(os.path.exists(self.pidfile))

    def test_reload_with_relative_config_path(self):
        # Detaching changes to /: a relative -c must still name the same file.
        p = subprocess.run([UPCASED, "-c", "upcased.conf"], cwd=self.dir,
                           capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.pidfile) as f:
            self.pid = int(f.read())
        self.assertEqual(harness.udp_roundtrip(self.port, "aß".encode()), b"ASS")
        with open(self.conf, "w") as f:
            f.write(make_conf(self.port, extra='pidfile = "%s";\ncharset = "ascii";'
                              % self.pidfile))
        os.kill(self.pid, signal.SIGHUP)
        deadline = time.monotonic() + 10
        reply = None
        while time.monotonic() < deadline:
            reply = harness.udp_roundtrip(self.port, "aß".encode())
            if reply != b"ASS":
                break
            time.sleep(0.05)
        self.assertEqual(reply, "Aß".encode(), "the reload did not read %s" % self.conf)

    def test_startup_error_reaches_the_starter(self):
        # The port is taken: the starting process must say so and fail.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            busy.bind(("127.0.0.1", self.port))
            busy.listen(1)
            p = subprocess.run([UPCASED, "-c", self.conf], capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 71, p.stderr)
        self.assertIn(b"cannot listen on 127.0.0.1 port %d" % self.port, p.stderr)
        self.assertFalse(os.path.exists(self.pidfile))


# ---------------------------------------------------------------- privileges

@unittest.skipUnless(os.geteuid() == 0, "needs root")
class PrivilegeDrop(unittest.TestCase):
    def setUp(self):
        try:
            self.nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")

    def test_runs_as_user_and_serves(self):
        extra = 'user = "nobody";'
        with harness.Daemon(extra=extra) as d:
            ids = proc_ids(d.pid)
            self.assertEqual(ids["Uid"], [self.nobody.pw_uid] * 4)
            self.assertEqual(ids["Gid"], [self.nobody.pw_gid] * 4)
            self.assertEqual(ids["Groups"], [self.nobody.pw_gid])
            # Every thread, not only the main one.
            for tid in os.listdir("/proc/%d/task" % d.pid):
                self.assertEqual(proc_ids(int(tid))["Uid"][1], self.nobody.pw_uid)
            self.assertEqual(harness.tcp_roundtrip(d.port, b"nobody"), b"NOBODY")
            self.assertEqual(harness.udp_roundtrip(d.port, b"nobody"), b"NOBODY")
            self.assertEqual(d.stop(), 0)

    def test_unknown_user_fails_clearly(self):
        name = "upcase-no-such-user"
        self.assertRaises(KeyError, pwd.getpwnam, name)
        with harness.Daemon(extra='user = "%s";' % name, wait=False) as d:
            rc = d.proc.wait(20)
            log = d.read_log()
        self.assertNotEqual(rc, 0)
        self.assertIn("unknown user %s" % name, log)
        # Nothing was served meanwhile and nothing is left listening.
        with socket.socket() as s:
            s.settimeout(2)
            self.assertNotEqual(s.connect_ex(("127.0.0.1", d.port)), 0)


# ---------------------------------------------------------------- statistics

def read_stats(path):
    rc, out, err = harness.run([UPCASE, "--stats", "-S", path])
    if rc != 0:
        raise AssertionError("upcase --stats: %d %s" % (rc, err.decode("utf-8", "replace")))
    return nethelp.parse_stats(out.decode())


class Stats(unittest.TestCase):
    def test_counts_match_traffic(self):
        tmp = tempfile.mkdtemp(prefix="upcase-ctl-")
        ctl = os.path.join(tmp, "ctl", "upcased.sock")   # its directory is created
        try:
            port = harness.free_port()
            conf = make_conf(port).replace('control_socket = "";',
                                           'control_socket = "%s";\ncontrol_mode = "0600";' % ctl)
            with harness.Daemon(conf_text=conf, port=port) as d:
                harness.wait_path(ctl)
                self.assertEqual(os.stat(ctl).st_mode & 0o777, 0o600)
                # wait_ready's probe connection: let the server count its close first.
                deadline = time.monotonic() + 10
                base = read_stats(ctl)
                while (base.get("upcased_tcp_connections_closed_total", 0) < 1 and
                       time.monotonic() < deadline):
                    time.sleep(0.02)
                    base = read_stats(ctl)
                n_tcp, n_udp = 5, 7
                tcp_in = tcp_out = udp_in = udp_out = 0
                for i in range(n_tcp):
                    data = ("straße %d " % i).encode() * (i + 1)
                    self.assertEqual(harness.tcp_roundtrip(port, data), harness.py_upper(data))
                    tcp_in += len(data)
                    tcp_out += len(harness.py_upper(data))
                for i in range(n_udp):
                    data = ("ﬁ %d" % i).encode()
                    self.assertEqual(harness.udp_roundtrip(port, data), harness.py_upper(data))
                    udp_in += len(data)
                    udp_out += len(harness.py_upper(data))
                # One reply too large for a datagram: 30000 × U+0390 (2 bytes -> 6).
                big = "\u0390".encode() * 30000
                with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
                    s.settimeout(1)
                    s.sendto(big, ("127.0.0.1", port))
                    self.assertRaises(socket.timeout, s.recvfrom, 70000)
                # A reload, and a failed one.
                d.send_signal(signal.SIGHUP)
                d.wait_log("configuration reloaded")
                with open(d.conf_path) as f:
                    good = f.read()
                d.write_conf("idle_timeout = 0;\n")
                d.send_signal(signal.SIGHUP)
                d.wait_log("reload failed")
                d.write_conf(good)

                # Connections close after the reply: wait until none is open.
                deadline = time.monotonic() + 10
                while True:
                    st = read_stats(ctl)
                    if st["upcased_tcp_connections_open"] == 0 or time.monotonic() > deadline:
                        break
                    time.sleep(0.05)
                delta = {k: st[k] - base.get(k, 0) for k in st}
                self.assertEqual(st["upcased_tcp_connections_open"], 0)
                self.assertEqual(delta["upcased_tcp_connections_accepted_total"], n_tcp)
                self.assertEqual(delta["upcased_tcp_connections_closed_total"], n_tcp)
                self.assertEqual(delta["upcased_tcp_bytes_in_total"], tcp_in)
                self.assertEqual(delta["upcased_tcp_bytes_out_total"], tcp_out)
                self.assertEqual(delta["upcased_udp_datagrams_in_total"], n_udp + 1)
                self.assertEqual(delta["upcased_udp_datagrams_out_total"], n_udp)
                self.assertEqual(delta["upcased_udp_datagrams_dropped_too_large_total"], 1)
                self.assertEqual(delta["upcased_udp_bytes_in_total"], udp_in + len(big))
                self.assertEqual(delta["upcased_udp_bytes_out_total"], udp_out)
                self.assertEqual(delta["upcased_reloads_total"], 1)
                self.assertEqual(delta["upcased_reload_failures_total"], 1)
                for name in ("upcased_tcp_connections_refused_max_connections_total",
                             "upcased_tcp_idle_timeouts_total",
                             "upcased_tcp_connection_errors_total",
                             "upcased_udp_datagrams_dropped_send_failed_total"):
                    self.assertEqual(st[name], 0, name)

                # The same counters go to the log on SIGUSR1.
                mark = len(d.read_log())
                d.send_signal(signal.SIGUSR1)
                log = d.wait_log("stats:", after=mark)[mark:]
                self.assertIn("upcased_udp_datagrams_out_total %d" %
                              st["upcased_udp_datagrams_out_total"], log)

                # The request line is optional: a bare connect gets the answer.
                with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
                    s.settimeout(5)
                    s.connect(ctl)
                    raw = harness.recv_all(s).decode()
                self.assertRegex(raw, r"(?m)^upcased_tcp_connections_accepted_total \d+$")
                self.assertEqual(d.stop(), 0)
            self.assertFalse(os.path.exists(ctl), "control socket left behind")
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    unittest.main(verbosity=2)
