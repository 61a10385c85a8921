#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_paths.py: no control_socket or pidfile setting destroys a file.

Black box, with the real upcased, in -t and at start-up both in the
foreground (-f) and detached (the starting command exits with the
daemon's status, see t_exit.py):
  - control_socket naming the config file itself, another regular file,
    a directory, a FIFO or a symbolic link: refused, exit 78 (-t too),
    the file untouched;
  - control_socket naming the live socket of another running daemon:
    refused, exit 71, that daemon still answers on it; -t says OK (the
    unit's ExecReload runs -t while the daemon runs);
  - a stale socket, left by a daemon killed with SIGKILL: replaced, the
    restart works, in both modes;
  - at stop the socket is removed only if it is still the one made;
  - pidfile naming the config file (text that is no pid): refused, 73
    (-t: 78), the file untouched; a directory, a FIFO or a symbolic
    link: the same;
  - a stale pidfile (a dead pid, or empty): replaced, removed at stop;
  - a pidfile holding the daemon's own pid (a restart that got the pid
    of the last run): stale, replaced, in -t, -f and detached;
  - the pidfile of another program, holding the pid of a running
    process that holds no lock (a sleep the test starts; pid 1, which a
    daemon running as nobody may not signal: EPERM): refused, 73 (-t:
    78), naming the pid and the process, the file untouched, in every
    mode; once that process is gone the same file is stale and replaced;
  - a second daemon with the pidfile of a running one, detached or not:
    "already running (pid N)", 73, the first one's pidfile untouched
    and its lock kept across its detaching; -t says OK;
  - a daemon held up (tests/flockdelay.so) between opening the pidfile
    and locking it, while the daemon whose file it opened stops and
    removes it, or a third one makes a new one: it locks the file at the
    path, not the removed one, so there is never a daemon running with
    a pidfile nobody can find, nor two with one pidfile; and one that
    starts while another holds the lock and has not written its pid yet
    says so, not that the dead pid in the file runs;
  - at stop the pidfile is removed only if it is still ours;
  - a pidfile in a missing directory: the directory is made (0755, one
    level; handed to `user` if set, so the pidfile can be removed at
    stop), in -f and detached; a missing grandparent is refused, 73;
  - -t checks that user exists, and that the directories of pidfile and
    control_socket are there or can be made (their parent is a
    directory), else 78; it makes nothing.
Every process started is stopped by its PID.
"""
import os
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import UPCASE, UPCASED, daemons_using, make_conf  # noqa: E402

EX_OSERR, EX_CANTCREAT, EX_CONFIG = 71, 73, 78
MODES = ("-t", "-f", "detached")


def snapshot(path):
    """What must not change: type, inode and content (a file's bytes, a
    directory's entries with theirs, a link's target)."""
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode):
        body = os.readlink(path)
    elif stat.S_ISDIR(st.st_mode):
        body = sorted((n, snapshot(os.path.join(path, n))) for n in os.listdir(path))
    elif stat.S_ISREG(st.st_mode):
        with open(path, "rb") as f:
            body = f.read()
    else:
        body = None
    return stat.S_IFMT(st.st_mode), st.st_dev, st.st_ino, body


def dead_pid():
    """The pid of a process that has exited (and been reaped)."""
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def stats_ok(path):
    rc, out, err = harness.run([UPCASE, "--stats", "-S", path, "-w", "5"])
    return rc == 0 and b"upcased_reloads_total" in out


class Paths(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-t-paths-")
        self.port = harness.free_port()
        self.conf = os.path.join(self.dir, "upcased.conf")
        self.ctl = os.path.join(self.dir, "upcased.sock")
        self.pidfile = os.path.join(self.dir, "upcased.pid")
        self.others = []        # harness.Daemon objects to stop
        self.pids = []          # detached daemons to stop

    def tearDown(self):
        for pid in self.pids + self.leftovers():
            self.kill(pid)
        for d in self.others:
            d.__exit__(None, None, None)
        shutil.rmtree(self.dir, ignore_errors=True)

    # ------------------------------------------------------------ helpers

    def conf_text(self, ctl=None, pidfile=None, port=None):
        text = make_conf(port or self.port)
        if ctl is not None:
            text = text.replace('control_socket = "";', 'control_socket = "%s";' % ctl)
        if pidfile is not None:
            text += 'pidfile = "%s";\n' % pidfile
        return text

    def write_conf(self, ctl=None, pidfile=None, path=None, port=None):
        with open(path or self.conf, "w") as f:
            f.write(self.conf_text(ctl, pidfile, port))

    def leftovers(self):
        return daemons_using(self.conf)

    def kill(self, pid, sig=signal.SIGTERM):
        """Stop pid (one of our detached daemons); True once it is gone."""
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return True
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if pid not in daemons_using(self.conf) and not os.path.exists("/proc/%d" % pid):
                return True
            if pid not in daemons_using(self.conf):
                return True     # a zombie of init's: gone as a daemon
            time.sleep(0.02)
        os.kill(pid, signal.SIGKILL)
        return False

    def run_mode(self, mode, conf=None):
        """upcased in mode on conf: (status, stdout, stderr); a daemon that
        wrongly serves is stopped and fails the test."""
        conf = conf or self.conf
        argv = [UPCASED] + {"-t": ["-t"], "-f": ["-f"], "detached": []}[mode] + ["-c", conf]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        try:
            out, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.communicate()
            self.fail("%s did not exit within 30 s" % " ".join(argv))
        if p.returncode != 0:
            deadline = time.monotonic() + 2
            while daemons_using(conf) and time.monotonic() < deadline:
                time.sleep(0.02)
            left = daemons_using(conf)
            for pid in left:
                self.kill(pid)
            self.assertEqual(left, [], "%s failed but left a daemon" % " ".join(argv))
        return p.returncode, out.decode("utf-8", "replace"), err.decode("utf-8", "replace")

    def refused_everywhere(self, start_status, message, conf=None, t_status=EX_CONFIG):
        """-t exits t_status, -f and detached start_status, all saying message."""
        got = {}
        for mode in MODES:
            rc, out, err = self.run_mode(mode, conf)
            got[mode] = rc
            self.assertIn(message, err, "%s: stderr %r" % (mode, err))
            self.assertNotIn("configuration OK", out)
        self.assertEqual(got, {"-t": t_status, "-f": start_status, "detached": start_status})

    def start_detached(self, conf=None):
        """Start detached; return the daemon's pid (from the pidfile)."""
        rc, out, err = self.run_mode("detached", conf)
        self.assertEqual(rc, 0, err)
        with open(self.pidfile) as f:
            pid = int(f.read())
        self.pids.append(pid)
        return pid

    def pidfile_text(self, timeout=10.0):
        """What the pidfile holds once a pid is in it: a daemon in the
        foreground accepts TCP a moment before it writes its pid."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                with open(self.pidfile) as f:
                    text = f.read()
            except FileNotFoundError:
                text = ""
            if text or time.monotonic() > deadline:
                return text
            time.sleep(0.01)

    def foreground(self, conf_text, port, ctl=None):
        """A daemon in the foreground, serving (its control socket too)."""
        d = harness.Daemon(conf_text=conf_text, port=port)
        self.others.append(d)
        if ctl is not None:
            harness.wait_path(ctl)
        return d

    def stats_soon(self, timeout=10.0):
        """upcase --stats answers within timeout (a daemon in the foreground
        makes its control socket a moment after it accepts TCP)."""
        deadline = time.monotonic() + timeout
        while not stats_ok(self.ctl):
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    # ------------------------------------------------------------ control_socket

    def check_control_refused(self, target):
        before = snapshot(target)
        self.write_conf(ctl=target)
        conf_before = snapshot(self.conf)
        kind = {stat.S_IFREG: "a regular file", stat.S_IFDIR: "a directory",
                stat.S_IFIFO: "a FIFO", stat.S_IFLNK: "a symbolic link"}[before[0]]
        self.refused_everywhere(
            EX_CONFIG, "control_socket %s is %s, not a socket: refusing to replace it"
            % (target, kind))
        self.assertEqual(snapshot(target), before, "%s was changed" % target)
        self.assertEqual(snapshot(self.conf), conf_before, "the config file was changed")

    def test_control_socket_is_the_config_file(self):
        self.write_conf(ctl=self.conf)
        before = snapshot(self.conf)
        self.refused_everywhere(
            EX_CONFIG, "control_socket %s is a regular file, not a socket: refusing to "
            "replace it" % self.conf)
        self.assertEqual(snapshot(self.conf), before, "the config file was changed")

    def test_control_socket_is_another_regular_file(self):
        target = os.path.join(self.dir, "notes.txt")
        with open(target, "w") as f:
            f.write("precious text\n")
        self.check_control_refused(target)

    def test_control_socket_is_a_directory(self):
        target = os.path.join(self.dir, "dir")
        os.mkdir(target)
        with open(os.path.join(target, "inside"), "w") as f:
            f.write("keep me\n")
        self.check_control_refused(target)

    def test_control_socket_is_a_fifo_or_a_link(self):
        fifo = os.path.join(self.dir, "fifo")
        os.mkfifo(fifo)
        self.check_control_refused(fifo)
        # A link, even to a socket: the link is not replaced, nor followed.
        real = os.path.join(self.dir, "real.sock")
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(real)
        link = os.path.join(self.dir, "link.sock")
        os.symlink(real, link)
        self.check_control_refused(link)
        self.assertTrue(stat.S_ISSOCK(os.lstat(real).st_mode))

    def test_control_socket_of_a_running_daemon(self):
        other_port = harness.free_port()
        a = self.foreground(self.conf_text(ctl=self.ctl, port=other_port), other_port, self.ctl)
        before = snapshot(self.ctl)
        self.write_conf(ctl=self.ctl)
        # -t: fine, as for the daemon's own reload (ExecReload runs -t).
        rc, out, err = self.run_mode("-t")
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)
        for mode in ("-f", "detached"):
            rc, out, err = self.run_mode(mode)
            self.assertEqual(rc, EX_OSERR, "%s: %s" % (mode, err))
            self.assertIn("control_socket %s is in use by another upcased?" % self.ctl, err)
            # The port it had opened is free again: nothing of it is left.
            with socket.socket() as s:
                s.settimeout(2)
                self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0)
        self.assertEqual(snapshot(self.ctl), before, "the running daemon's socket was replaced")
        self.assertTrue(stats_ok(self.ctl), "the running daemon no longer answers")
        self.assertEqual(a.stop(), 0)
        self.assertFalse(os.path.exists(self.ctl))

    def test_stale_control_socket_is_replaced(self):
        self.write_conf(ctl=self.ctl, pidfile=self.pidfile)
        for mode in ("-f", "detached"):
            with open(self.conf) as f:
                text = f.read()
            a = self.foreground(text, self.port, self.ctl)
            self.assertTrue(stats_ok(self.ctl))
            a.stop(signal.SIGKILL)
            # Left behind, and nobody answers on it.
            self.assertTrue(stat.S_ISSOCK(os.lstat(self.ctl).st_mode))
            self.assertFalse(stats_ok(self.ctl))
            rc, out, err = self.run_mode("-t")
            self.assertEqual(rc, 0, err)
            if mode == "-f":
                b = self.foreground(text, self.port)
                self.assertTrue(self.stats_soon(), "the restarted daemon does not answer")
                self.assertIn("replacing a stale socket", b.read_log())
                self.assertEqual(b.stop(), 0)
            else:
                pid = self.start_detached()
                self.assertTrue(stats_ok(self.ctl), "the restarted daemon does not answer")
                self.assertTrue(self.kill(pid))
                self.pids.remove(pid)
            self.assertFalse(os.path.exists(self.ctl), "%s: socket left at stop" % mode)
            self.assertFalse(os.path.exists(self.pidfile), "%s: pidfile left at stop" % mode)

    def test_control_socket_removed_at_stop_only_if_ours(self):
        self.write_conf(ctl=self.ctl)
        with open(self.conf) as f:
            text = f.read()
        # Another socket put in its place.
        a = self.foreground(text, self.port, self.ctl)
        moved = self.ctl + ".moved"
        os.rename(self.ctl, moved)
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.bind(self.ctl)
            s.listen(1)
            before = snapshot(self.ctl)
            self.assertEqual(a.stop(), 0)
            self.assertEqual(snapshot(self.ctl), before, "somebody else's socket was removed")
        self.assertIn("was replaced while we ran: leaving it", a.read_log())
        os.unlink(self.ctl)
        os.unlink(moved)
        # A regular file put in its place.
        b = self.foreground(text, self.port, self.ctl)
        os.unlink(self.ctl)
        with open(self.ctl, "w") as f:
            f.write("not a socket\n")
        before = snapshot(self.ctl)
        self.assertEqual(b.stop(), 0)
        self.assertEqual(snapshot(self.ctl), before, "the file in its place was removed")

    # ------------------------------------------------------------ pidfile

    def test_pidfile_is_the_config_file(self):
        self.write_conf(pidfile=self.conf)
        before = snapshot(self.conf)
        self.refused_everywhere(
            EX_CANTCREAT, "pidfile %s holds something other than a pid: refusing to "
            "overwrite it" % self.conf)
        self.assertEqual(snapshot(self.conf), before, "the config file was changed")

    def test_pidfile_is_not_a_regular_file(self):
        real = os.path.join(self.dir, "real.pid")
        with open(real, "w") as f:
            f.write("%d\n" % dead_pid())
        targets = {"dir": "a directory", "fifo": "a FIFO", "link": "a symbolic link"}
        os.mkdir(os.path.join(self.dir, "dir"))
        os.mkfifo(os.path.join(self.dir, "fifo"))
        os.symlink(real, os.path.join(self.dir, "link"))
        for name, kind in targets.items():
            target = os.path.join(self.dir, name)
            before, real_before = snapshot(target), snapshot(real)
            self.write_conf(pidfile=target)
            self.refused_everywhere(
                EX_CANTCREAT, "pidfile %s is %s, not a regular file: refusing to replace it"
                % (target, kind))
            self.assertEqual(snapshot(target), before, "%s was changed" % target)
            self.assertEqual(snapshot(real), real_before, "the link's target was changed")

    def test_stale_pidfile_is_replaced(self):
        for mode, content in (("detached", "%d\n" % dead_pid()), ("-f", "%d\n" % dead_pid()),
                              ("detached", "")):
            with open(self.pidfile, "w") as f:
                f.write(content)
            self.write_conf(pidfile=self.pidfile)
            rc, out, err = self.run_mode("-t")
            self.assertEqual(rc, 0, err)
            if mode == "detached":
                pid = self.start_detached()
            else:
                with open(self.conf) as f:
                    d = self.foreground(f.read(), self.port)
                pid = d.pid
            self.assertEqual(self.pidfile_text(), "%d\n" % pid,
                             "%s: pidfile not rewritten" % mode)
            self.assertEqual(harness.tcp_roundtrip(self.port, b"stale"), b"STALE")
            if mode == "detached":
                self.assertTrue(self.kill(pid))
                self.pids.remove(pid)
            else:
                self.assertEqual(d.stop(), 0)
            self.assertFalse(os.path.exists(self.pidfile), "%s: pidfile left at stop" % mode)

    def test_second_daemon_with_the_same_pidfile(self):
        self.write_conf(ctl=self.ctl, pidfile=self.pidfile)
        first = self.start_detached()       # the lock must survive its detaching
        before = snapshot(self.pidfile)
        self.assertEqual(before[3], b"%d\n" % first)
        second_conf = os.path.join(self.dir, "second.conf")
        second_port = harness.free_port()
        self.write_conf(pidfile=self.pidfile, path=second_conf, port=second_port)
        rc, out, err = self.run_mode("-t", second_conf)
        self.assertEqual((rc, out.strip()), (0, "configuration OK"), err)
        for mode in ("-f", "detached"):
            rc, out, err = self.run_mode(mode, second_conf)
            self.assertEqual(rc, EX_CANTCREAT, "%s: %s" % (mode, err))
            self.assertIn("pidfile %s: upcased is already running (pid %d)"
                          % (self.pidfile, first), err)
            with socket.socket() as s:
                s.settimeout(2)
                self.assertNotEqual(s.connect_ex(("127.0.0.1", second_port)), 0,
                                    "%s: the second daemon listened" % mode)
            self.assertEqual(snapshot(self.pidfile), before, "the first one's pidfile changed")
        self.assertEqual(daemons_using(second_conf), [])
        # The first one still serves, and at stop removes its pidfile.
        self.assertEqual(harness.tcp_roundtrip(self.port, b"first"), b"FIRST")
        self.assertTrue(stats_ok(self.ctl))
        self.assertTrue(self.kill(first))
        self.pids.remove(first)
        self.assertFalse(os.path.exists(self.pidfile))
        self.assertFalse(os.path.exists(self.ctl))

    def test_pidfile_of_a_running_process(self):
        # Another program's pidfile: most daemons never lock theirs.
        sleeper = subprocess.Popen(["sleep", "300"])
        try:
            with open(self.pidfile, "w") as f:
                f.write("%d\n" % sleeper.pid)
            before = snapshot(self.pidfile)
            self.write_conf(pidfile=self.pidfile)
            self.refused_everywhere(
                EX_CANTCREAT, "pidfile %s holds pid %d of a running process (sleep) that "
                "does not hold its lock" % (self.pidfile, sleeper.pid))
            self.assertEqual(snapshot(self.pidfile), before, "the sleep's pidfile was changed")
            with socket.socket() as s:
                s.settimeout(2)
                self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0)
        finally:
            os.kill(sleeper.pid, signal.SIGKILL)
            sleeper.wait()
        # Its process gone, the same file is stale.
        rc, out, err = self.run_mode("-t")
        self.assertEqual(rc, 0, err)
        pid = self.start_detached()
        self.assertEqual(harness.tcp_roundtrip(self.port, b"now"), b"NOW")
        self.assertTrue(self.kill(pid))
        self.pids.remove(pid)
        self.assertFalse(os.path.exists(self.pidfile))

    def test_pidfile_of_a_process_we_may_not_signal(self):
        # kill(1, 0) fails with EPERM for anyone but root: a process runs
        # there all the same.  As root, the daemon runs as nobody (the
        # pidfile given to it, as if it were nobody's own).
        import pwd
        with open(self.pidfile, "w") as f:
            f.write("1\n")
        before = snapshot(self.pidfile)
        self.write_conf(pidfile=self.pidfile)
        preexec = None
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            os.chmod(self.dir, 0o755)
            os.chmod(self.conf, 0o644)
            os.chown(self.pidfile, nobody.pw_uid, nobody.pw_gid)    # its own to open

            def preexec():
                os.setgroups([])
                os.setgid(nobody.pw_gid)
                os.setuid(nobody.pw_uid)
        for mode in MODES:
            argv = [UPCASED] + {"-t": ["-t"], "-f": ["-f"], "detached": []}[mode] + \
                ["-c", self.conf]
            p = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True,
                               timeout=30, preexec_fn=preexec)
            err = p.stderr.decode("utf-8", "replace")
            self.assertEqual(p.returncode, EX_CONFIG if mode == "-t" else EX_CANTCREAT,
                             "%s: %s" % (mode, err))
            self.assertIn("pidfile %s holds pid 1 of a running process" % self.pidfile, err)
            self.assertEqual(daemons_using(self.conf), [])
        self.assertEqual(snapshot(self.pidfile), before)

    def test_pidfile_holding_our_own_pid(self):
        # A restart that gets the pid of the last run (as in a container):
        # the pid runs, but it is ours, so the file is stale.  The shell
        # writes its pid and becomes upcased.
        own = 'echo $$ > "$0"; exec "$@"'
        self.write_conf(pidfile=self.pidfile)
        rc, out, err = harness.run(["/bin/sh", "-c", own, self.pidfile, UPCASED, "-t",
                                    "-c", self.conf])
        self.assertEqual((rc, out), (0, b"configuration OK\n"), err)
        with open(self.conf) as f:
            d = harness.Daemon(conf_text=f.read(), port=self.port,
                               prefix=["/bin/sh", "-c", own, self.pidfile])
        self.others.append(d)
        self.assertIn("replacing the stale pid %d (our own now)" % d.pid, d.read_log())
        self.assertEqual(self.pidfile_text(), "%d\n" % d.pid)
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile))
        # Detached: the pid written is the daemon's, not the starter's.
        p = subprocess.Popen(["/bin/sh", "-c", own, self.pidfile, UPCASED, "-c", self.conf],
                             stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE)
        _, err = p.communicate(timeout=30)
        with open(self.pidfile) as f:
            pid = int(f.read())
        self.pids.append(pid)
        self.assertEqual(p.returncode, 0, err)
        self.assertIn(b"replacing the stale pid %d (our own now)" % p.pid, err)
        self.assertNotEqual(pid, p.pid)
        self.assertEqual(daemons_using(self.conf), [pid])
        self.assertTrue(self.kill(pid))
        self.pids.remove(pid)
        self.assertFalse(os.path.exists(self.pidfile))

    def delayed_daemon(self, port, after=False):
        """A daemon in the foreground on port with our pidfile, held up by
        tests/flockdelay.so just before it locks the pidfile (after: just
        after, the pid not yet written): returns it and the path that lets
        it go on, once it waits there."""
        if harness.sanitizer() in ("address", "thread"):
            self.skipTest("the sanitizer's runtime must come first: no LD_PRELOAD")
        shim = os.environ.get("FLOCKDELAY",
                              os.path.join(harness.BUILDDIR, "tests", "flockdelay.so"))
        ready, go = os.path.join(self.dir, "ready"), os.path.join(self.dir, "go")
        env = {"LD_PRELOAD": shim, "FLOCKDELAY_READY": ready, "FLOCKDELAY_GO": go}
        if after:
            env["FLOCKDELAY_AFTER"] = "1"
        d = harness.Daemon(conf_text=self.conf_text(pidfile=self.pidfile, port=port),
                           port=port, wait=False, env=env)
        self.others.append(d)
        deadline = time.monotonic() + 20
        while not os.path.exists(ready):
            self.assertIsNone(d.proc.poll(), "the delayed daemon exited:\n" + d.read_log())
            self.assertLess(time.monotonic(), deadline, "never reached its flock:\n"
                            + d.read_log())
            time.sleep(0.01)
        return d, go

    def deleted_pidfiles(self, pid):
        """The pidfiles (removed from the path) pid holds open."""
        out = []
        fds = "/proc/%d/fd" % pid
        for fd in os.listdir(fds):
            try:
                target = os.readlink(os.path.join(fds, fd))
            except OSError:
                continue
            if target.startswith(self.pidfile) and target.endswith("(deleted)"):
                out.append(target)
        return out

    def test_pidfile_removed_while_a_daemon_locks_it(self):
        a = self.foreground(self.conf_text(pidfile=self.pidfile), self.port)
        b_port = harness.free_port()
        b, go = self.delayed_daemon(b_port)         # opened a's file: waits to lock it
        self.assertEqual(a.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile), "a left its pidfile")
        open(go, "w").close()
        b.wait_ready()
        self.assertTrue(self.pidfile_text(),
                        "b runs with no pidfile at the path:\n" + b.read_log())
        self.assertEqual(self.pidfile_text(), "%d\n" % b.pid)
        self.assertEqual(self.deleted_pidfiles(b.pid), [], "b locked the removed file")
        # A third daemon finds b running.
        c_conf = os.path.join(self.dir, "c.conf")
        c_port = harness.free_port()
        self.write_conf(pidfile=self.pidfile, path=c_conf, port=c_port)
        rc, out, err = self.run_mode("-f", c_conf)
        self.assertEqual(rc, EX_CANTCREAT, err)
        self.assertIn("upcased is already running (pid %d)" % b.pid, err)
        self.assertEqual(b.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile))

    def test_pidfile_replaced_while_a_daemon_locks_it(self):
        a = self.foreground(self.conf_text(pidfile=self.pidfile), self.port)
        b_port = harness.free_port()
        b, go = self.delayed_daemon(b_port)         # opened a's file: waits to lock it
        self.assertEqual(a.stop(), 0)
        # c starts meanwhile and makes a new pidfile.
        c_port = harness.free_port()
        c = self.foreground(self.conf_text(pidfile=self.pidfile, port=c_port), c_port)
        self.assertEqual(self.pidfile_text(), "%d\n" % c.pid)
        before = snapshot(self.pidfile)
        open(go, "w").close()
        try:
            rc = b.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.fail("b runs next to c, with one pidfile:\n" + b.read_log())
        self.assertEqual(rc, EX_CANTCREAT, b.read_log())
        self.assertIn("upcased is already running (pid %d)" % c.pid, b.read_log())
        self.assertEqual(snapshot(self.pidfile), before, "c's pidfile was changed")
        self.assertEqual(c.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile))

    def test_second_daemon_while_the_first_starts(self):
        # a holds the lock of a stale pidfile and has not written its pid
        # yet: b must not say the dead pid runs.
        stale = dead_pid()
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % stale)
        a, go = self.delayed_daemon(self.port, after=True)
        before = snapshot(self.pidfile)
        b_conf = os.path.join(self.dir, "b.conf")
        self.write_conf(pidfile=self.pidfile, path=b_conf, port=harness.free_port())
        for mode in ("-f", "detached"):
            rc, out, err = self.run_mode(mode, b_conf)
            self.assertEqual(rc, EX_CANTCREAT, err)
            self.assertIn("pidfile %s: upcased is already running (starting: its pid is "
                          "not written yet)" % self.pidfile, err)
            self.assertNotIn(str(stale), err)
        self.assertEqual(snapshot(self.pidfile), before)
        open(go, "w").close()
        a.wait_ready()
        self.assertEqual(self.pidfile_text(), "%d\n" % a.pid)
        self.assertEqual(a.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile))

    def test_pidfile_removed_at_stop_only_if_ours(self):
        self.write_conf(pidfile=self.pidfile)
        with open(self.conf) as f:
            d = self.foreground(f.read(), self.port)
        self.assertEqual(self.pidfile_text(), "%d\n" % d.pid)
        os.unlink(self.pidfile)
        with open(self.pidfile, "w") as f:
            f.write("12345\n")
        before = snapshot(self.pidfile)
        self.assertEqual(d.stop(), 0)
        self.assertEqual(snapshot(self.pidfile), before, "somebody else's pidfile was removed")

    def test_pidfile_directory_made(self):
        # A fresh /run without systemd: the pidfile's directory is made
        # (one level, 0755), in -f and detached; the pid is written and
        # the file removed at stop (the directory stays, as the control
        # socket's does).  A missing grandparent is still refused (73).
        run = os.path.join(self.dir, "run")
        self.pidfile = os.path.join(run, "upcased.pid")
        self.write_conf(pidfile=self.pidfile)
        for mode in ("-f", "detached"):
            shutil.rmtree(run, ignore_errors=True)
            if mode == "-f":
                with open(self.conf) as f:
                    d = self.foreground(f.read(), self.port)
                pid = d.pid
                self.assertEqual(self.pidfile_text(), "%d\n" % pid, mode)
                self.assertIn("made its directory %s" % run, d.read_log())
            else:
                pid = self.start_detached()
            st = os.stat(run)
            self.assertEqual(stat.S_IMODE(st.st_mode), 0o755, mode)
            with open(self.pidfile) as f:
                self.assertEqual(f.read(), "%d\n" % pid, mode)
            if mode == "-f":
                self.assertEqual(d.stop(), 0)
            else:
                self.assertTrue(self.kill(pid))
                self.pids.remove(pid)
            deadline = time.monotonic() + 10
            while os.path.exists(self.pidfile) and time.monotonic() < deadline:
                time.sleep(0.02)
            self.assertFalse(os.path.exists(self.pidfile), "%s: pidfile left at stop" % mode)
            self.assertTrue(os.path.isdir(run), mode)
        deep = os.path.join(self.dir, "no", "such", "upcased.pid")
        self.write_conf(pidfile=deep)
        for mode in ("-f", "detached"):
            rc, out, err = self.run_mode(mode)
            self.assertEqual(rc, EX_CANTCREAT, "%s: %s" % (mode, err))
            self.assertIn("pidfile %s: No such file or directory" % deep, err)
        self.assertFalse(os.path.exists(os.path.join(self.dir, "no")))

    @unittest.skipUnless(os.geteuid() == 0, "needs root (user = nobody)")
    def test_pidfile_directory_made_is_handed_to_user(self):
        # With user set, the directory made is given to that user before
        # the drop, so the unprivileged daemon can unlink its pidfile at
        # stop (a root-owned 0755 directory would not let it).  One that
        # was there already is left as it was.
        import pwd
        try:
            nobody = pwd.getpwnam("nobody")
        except KeyError:
            self.skipTest("no user nobody")
        os.chmod(self.dir, 0o755)       # nobody may look in
        run = os.path.join(self.dir, "run")
        self.pidfile = os.path.join(run, "upcased.pid")
        text = self.conf_text(pidfile=self.pidfile) + 'user = "nobody";\n'
        d = self.foreground(text, self.port)
        self.assertEqual(self.pidfile_text(), "%d\n" % d.pid)
        d.wait_log("running as user nobody")
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile), "pidfile left at stop:\n" + d.read_log())
        st = os.stat(run)
        self.assertEqual((st.st_uid, st.st_gid), (nobody.pw_uid, nobody.pw_gid))
        # There already (root's): not chowned.
        os.chown(run, 0, 0)
        d = self.foreground(text, self.port)
        self.assertEqual(self.pidfile_text(), "%d\n" % d.pid)
        d.wait_log("running as user nobody")
        self.assertEqual(os.stat(run).st_uid, 0)
        d.stop()
        # Made by a start that then failed (the port taken), with umask
        # 077: already nobody's and 0755, so the next start can remove
        # its pidfile at stop.
        shutil.rmtree(run)      # holds the pidfile nobody could remove
        with open(self.conf, "w") as f:
            f.write(text)
        old_umask = os.umask(0o077)
        try:
            with socket.socket() as busy:
                busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                busy.bind(("127.0.0.1", self.port))
                busy.listen(1)
                rc, out, err = self.run_mode("-f")
        finally:
            os.umask(old_umask)
        self.assertEqual(rc, EX_OSERR, err)
        st = os.stat(run)
        self.assertEqual((st.st_uid, st.st_gid, st.st_mode & 0o777),
                         (nobody.pw_uid, nobody.pw_gid, 0o755))
        d = self.foreground(text, self.port)
        d.wait_log("running as user nobody")
        self.assertEqual(d.stop(), 0)
        self.assertFalse(os.path.exists(self.pidfile), "pidfile left at stop:\n" + d.read_log())

    def run_t(self, extra="", ctl=None, pidfile=None):
        with open(self.conf, "w") as f:
            f.write(self.conf_text(ctl, pidfile) + extra)
        return self.run_mode("-t")

    def test_t_checks_user_and_directories(self):
        # -t checks what it can without starting, as sshd -t does: that
        # the user exists, and that the directories of the pidfile and
        # the control socket are there or can be made (their parent is a
        # directory).  It makes nothing.
        import pwd
        name = "upcase-no-such-user"
        self.assertRaises(KeyError, pwd.getpwnam, name)
        rc, out, err = self.run_t('user = "%s";\n' % name)
        self.assertEqual(rc, EX_CONFIG, err)
        self.assertIn("user: unknown user %s" % name, err)
        self.assertNotIn("configuration OK", out)
        me = pwd.getpwuid(os.geteuid()).pw_name
        rc, out, err = self.run_t('user = "%s";\n' % me)
        self.assertEqual((rc, out), (0, "configuration OK\n"), err)
        before = sorted(os.listdir(self.dir))
        for setting in ("pidfile", "control_socket"):
            def t(path):
                if setting == "pidfile":
                    return self.run_t(pidfile=path)
                return self.run_t(ctl=path)
            # One missing level: start-up makes it; -t says OK, makes nothing.
            path = os.path.join(self.dir, "run", "f")
            rc, out, err = t(path)
            self.assertEqual((rc, out), (0, "configuration OK\n"), "%s: %s" % (setting, err))
            self.assertFalse(os.path.exists(os.path.join(self.dir, "run")))
            # Two: refused, naming the missing one.  For the control
            # socket only a warning: start-up runs without it, so an
            # error would refuse every ExecReload of that daemon.
            def refused(err_text, rc, out, err):
                if setting == "pidfile":
                    self.assertEqual(rc, EX_CONFIG, "%s: %s" % (setting, err))
                else:
                    self.assertEqual((rc, out), (0, "configuration OK\n"), err)
                    self.assertIn("start-up runs without the control socket", err)
                self.assertIn(err_text, err)
            missing = os.path.join(self.dir, "no")
            path = os.path.join(missing, "such", "f")
            rc, out, err = t(path)
            refused("%s %s: %s: No such file or directory" % (setting, path, missing), rc, out, err)
            self.assertFalse(os.path.exists(missing))
            # A regular file where the directory goes (the config itself).
            path = os.path.join(self.conf, "f")
            rc, out, err = t(path)
            refused("%s %s: %s is not a directory" % (setting, path, self.conf), rc, out, err)
        self.assertEqual(sorted(os.listdir(self.dir)), before, "-t made something")

    def test_failed_start_leaves_a_stale_pidfile_as_it_was(self):
        # The port is taken: the start fails after the pidfile was checked.
        stale = "%d\n" % dead_pid()
        with open(self.pidfile, "w") as f:
            f.write(stale)
        before = snapshot(self.pidfile)
        self.write_conf(pidfile=self.pidfile)
        with socket.socket() as busy:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            busy.bind(("127.0.0.1", self.port))
            busy.listen(1)
            for mode in ("-f", "detached"):
                rc, out, err = self.run_mode(mode)
                self.assertEqual(rc, EX_OSERR, err)
                self.assertEqual(snapshot(self.pidfile), before, mode)
            # One it made itself, it removes.
            os.unlink(self.pidfile)
            for mode in ("-f", "detached"):
                rc, out, err = self.run_mode(mode)
                self.assertEqual(rc, EX_OSERR, err)
                self.assertFalse(os.path.exists(self.pidfile), mode)


if __name__ == "__main__":
    unittest.main(verbosity=2)
