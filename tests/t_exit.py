#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_exit.py: the exit status of a failed start is the one the daemon
decided on, whether it detaches or not.

Black box: for each kind of start-up failure, the real upcased is started
twice, detached (no -f: the starting process waits for the daemon's word)
and in the foreground (-f), and the status of the starting command must be
the same in both modes, and the one upcased(8) gives under EXIT STATUS.
The message must reach the starter's standard error in both modes, and no
daemon may be left running: every process found afterwards (by its unique
config path, in /proc) is stopped by its PID and fails the test.
"""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import harness  # noqa: E402
from harness import UPCASED, daemons_using, make_conf  # noqa: E402

# sysexits(3)
EX_SOFTWARE, EX_OSERR, EX_CANTCREAT, EX_IOERR, EX_CONFIG = 70, 71, 73, 74, 78


def man_exit_statuses():
    """{status: text} from the EXIT STATUS section of upcased(8)."""
    with open(os.path.join(harness.TOP, "man", "upcased.8")) as f:
        page = f.read()
    m = re.search(r"^\.Sh EXIT STATUS\n(.*?)^\.Sh ", page, re.M | re.S)
    assert m, "upcased(8) has no EXIT STATUS section"
    out = {}
    for num, text in re.findall(r"^\.It (\d+)\n(.*?)(?=^\.It |^\.El)", m.group(1), re.M | re.S):
        out[int(num)] = text
    return out


class ExitStatus(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-t-exit-")
        self.port = harness.free_port()
        self.conf = os.path.join(self.dir, "upcased.conf")
        self.pidfile = os.path.join(self.dir, "upcased.pid")
        self.man = man_exit_statuses()

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, extra="", text=None):
        if text is None:
            text = make_conf(self.port, extra=extra)
        with open(self.conf, "w") as f:
            f.write(text)

    def stop_leftovers(self):
        """Stop, by PID, any daemon of ours still running; return their PIDs."""
        left = daemons_using(self.conf)
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
            if pid not in left and pid in daemons_using(self.conf):
                left.append(pid)
        except (OSError, ValueError):
            pass
        for pid in left:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            deadline = time.monotonic() + 20
            while pid in daemons_using(self.conf) and time.monotonic() < deadline:
                time.sleep(0.02)
            if pid in daemons_using(self.conf):
                os.kill(pid, signal.SIGKILL)
        return left

    def port_free(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", self.port))
                return True
            except OSError:
                return False

    def start(self, foreground, port_ours=True):
        """Start upcased; return (status, stderr) of the starting command."""
        argv = [UPCASED] + (["-f"] if foreground else []) + ["-c", self.conf]
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL,
                             stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            _, err = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            os.kill(p.pid, signal.SIGKILL)
            p.communicate()
            self.fail("%s did not exit within 30 s" % " ".join(argv))
        if port_ours and p.returncode != 0:
            # Failed: the starter returns once the daemon and its sockets
            # are gone, so starting again at once finds the port free.
            self.assertTrue(self.port_free(), "%s returned %d with port %d still taken"
                            % (" ".join(argv), p.returncode, self.port))
        # A detached daemon that (wrongly) serves is no child of ours.  One
        # that failed is gone when the starter returns, but for the moment
        # the kernel takes to make it a zombie after closing its files.
        deadline = time.monotonic() + 2
        while daemons_using(self.conf) and time.monotonic() < deadline:
            time.sleep(0.02)
        left = self.stop_leftovers()
        self.assertEqual(left, [], "%s left a daemon running" % " ".join(argv))
        return p.returncode, err.decode("utf-8", "replace")

    def check(self, want, message, port_ours=True):
        """Both modes exit want, say message on stderr, and upcased(8) lists want."""
        got = {}
        for foreground in (False, True):
            rc, err = self.start(foreground, port_ours)
            mode = "-f" if foreground else "detached"
            got[mode] = rc
            self.assertIn(message, err, "%s: stderr %r" % (mode, err))
        self.assertEqual(got["detached"], got["-f"],
                         "the starting shell must see the daemon's status: %r" % got)
        self.assertEqual(got, {"detached": want, "-f": want})
        self.assertIn(want, self.man, "upcased(8) EXIT STATUS does not list %d" % want)
        return got

    def test_bad_config(self):
        self.write_conf('pidfile = "%s";\nidle_timeout = 0;\n' % self.pidfile)
        self.check(EX_CONFIG, "idle_timeout must be between 1 and 86400")
        self.assertRegex(self.man[EX_CONFIG], r"invalid")

    def test_port_in_use(self):
        self.write_conf('pidfile = "%s";' % self.pidfile)
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
            busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            busy.bind(("127.0.0.1", self.port))
            busy.listen(1)
            self.check(EX_OSERR, "cannot listen on 127.0.0.1 port %d" % self.port,
                       port_ours=False)
        self.assertRegex(self.man[EX_OSERR], r"in use")
        self.assertFalse(os.path.exists(self.pidfile))

    def test_pidfile_in_missing_directory(self):
        # Found before the listeners are opened, when the pidfile is locked.
        # A missing directory is made (t_paths.py), one level only: a
        # missing grandparent is a failure.
        path = os.path.join(self.dir, "missing", "sub", "upcased.pid")
        self.write_conf('pidfile = "%s";' % path)
        self.check(EX_CANTCREAT, "pidfile %s: No such file or directory" % path)
        self.assertRegex(self.man[EX_CANTCREAT], r"pidfile")
        # Nothing is listening on the port any more.
        with socket.socket() as s:
            s.settimeout(2)
            self.assertNotEqual(s.connect_ex(("127.0.0.1", self.port)), 0)

    def test_control_socket_in_use(self):
        # Found only after detaching: the parent must still get 71, not 70.
        ctl = os.path.join(self.dir, "upcased.sock")
        self.write_conf(text=make_conf(self.port).replace(
            'control_socket = "";', 'control_socket = "%s";\npidfile = "%s";'
            % (ctl, self.pidfile)))
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as other:
            other.bind(ctl)
            other.listen(16)
            self.check(EX_OSERR, "control_socket %s is in use by another upcased?" % ctl)
            self.assertTrue(os.path.exists(ctl))
        self.assertRegex(self.man[EX_OSERR], r"control socket is in use")
        self.assertFalse(os.path.exists(self.pidfile), "pidfile left by a failed start")

    def test_unknown_user(self):
        import pwd
        name = "upcase-no-such-user"
        self.assertRaises(KeyError, pwd.getpwnam, name)
        self.write_conf('pidfile = "%s";\nuser = "%s";' % (self.pidfile, name))
        self.check(EX_CONFIG, "unknown user %s" % name)
        self.assertRegex(self.man[EX_CONFIG], r"names no user")
        self.assertFalse(os.path.exists(self.pidfile))

    def test_man_page_lists_every_status(self):
        # The statuses upcased can return, and no others.
        self.assertEqual(sorted(self.man), [0, 64, 70, 71, 73, 74, 78])

    def test_stdout_errors_of_t_v_h(self):
        # What -t, -V and -h print must get out: with standard output
        # closed (the shell's >&-) or full (/dev/full) they exit 74 and
        # say so on stderr, as the client does; with a working stdout, 0.
        self.write_conf()
        cases = {"-t": (["-t", "-c", self.conf], "configuration OK\n"),
                 "-V": (["-V"], "upcased "),
                 "-h": (["-h"], "usage: upcased ")}
        for name, (args, printed) in cases.items():
            rc, out, err = harness.run([UPCASED] + args)
            self.assertEqual(rc, 0, "%s: %r" % (name, err))
            self.assertTrue(out.decode().startswith(printed), "%s: %r" % (name, out))
            for how, redirect in (("closed", ">&-"), ("full", ">/dev/full")):
                rc, out, err = harness.run(
                    ["/bin/sh", "-c", 'exec "$0" "$@" ' + redirect, UPCASED] + args)
                err = err.decode("utf-8", "replace")
                want = "Bad file descriptor" if how == "closed" else "No space left on device"
                self.assertEqual(rc, EX_IOERR, "%s, stdout %s: %r" % (name, how, err))
                self.assertEqual(err, "upcased: standard output: %s\n" % want,
                                 "%s, stdout %s" % (name, how))
        self.assertRegex(self.man[EX_IOERR], r"standard output")


if __name__ == "__main__":
    unittest.main(verbosity=2)
