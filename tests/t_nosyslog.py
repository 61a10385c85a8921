#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_nosyslog: a detached upcased with no syslog socket says, once, on
standard error before detaching, that its messages will be lost.

Each case starts upcased detached in a mount namespace of its own
(unshare -m, root only), whose /dev is an overlay of the real one, so that
/dev/log can be made what the case needs without touching the host's:
  - a regular file (no socket): one warning naming /dev/log, and the
    daemon starts and serves all the same;
  - a socket nobody listens on (a stale one): the warning says
    "Connection refused";
  - a datagram socket this test reads, bind-mounted there: no warning, and
    the daemon's messages really arrive on it ("upcased[PID]: ... started");
  - with -f: no warning whatever /dev/log is (standard error is the log).
"""
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import unittest

import harness
from harness import UPCASED

WARNING = ("upcased: /dev/log: %s: no syslog daemon takes messages there, so once "
           "detached every message is lost; under systemd (the journal) or another "
           "supervisor, run upcased -f\n")


def namespaces_work():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        return False
    d = tempfile.mkdtemp(prefix="upcase-ns-")
    try:
        r = subprocess.run(["unshare", "-m", "--propagation", "private", "sh", "-c",
                            OVERLAY % {"t": d} + " && test -c /dev/null"],
                           capture_output=True, timeout=10)
        return r.returncode == 0
    finally:
        shutil.rmtree(d, ignore_errors=True)


# /dev as an overlay of itself: the daemon still has /dev/null and the rest,
# and what is made at /dev/log stays in this namespace and %(t)s.
OVERLAY = ("mkdir -p %(t)s/up %(t)s/work && "
           "mount -t overlay overlay -o lowerdir=/dev,upperdir=%(t)s/up,workdir=%(t)s/work /dev "
           "&& rm -f /dev/log")


@unittest.skipUnless(namespaces_work(), "needs root, unshare -m and overlayfs")
class NoSyslog(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-nosyslog-")
        self.port = harness.free_port()
        self.pidfile = os.path.join(self.dir, "upcased.pid")
        self.conf = os.path.join(self.dir, "upcased.conf")
        with open(self.conf, "w") as f:
            f.write(harness.make_conf(self.port, extra='pidfile = "%s";' % self.pidfile))
        self.pid = None
        self.fg = None

    def tearDown(self):
        if self.pid is not None:
            harness_stop(self.pid)
        if self.fg is not None and self.fg.poll() is None:
            self.fg.kill()
            self.fg.wait(10)
        shutil.rmtree(self.dir, ignore_errors=True)

    def start(self, make_log, foreground=False):
        """Start upcased in a namespace where /dev/log is what make_log (sh) makes."""
        script = "%s && %s && exec \"$0\" \"$@\"" % (OVERLAY % {"t": self.dir}, make_log)
        argv = ["unshare", "-m", "--propagation", "private", "sh", "-c", script, UPCASED,
                "-c", self.conf] + (["-f"] if foreground else [])
        if foreground:
            self.fg = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
            self.wait_serving()
            return ""
        p = subprocess.run(argv, capture_output=True, timeout=30)
        self.assertEqual(p.returncode, 0, p.stderr)
        with open(self.pidfile) as f:
            self.pid = int(f.read())
        # Detached and serving, warning or not.
        self.assertEqual(harness.tcp_roundtrip(self.port, b"still serves"), b"STILL SERVES")
        return p.stderr.decode("utf-8", "replace")

    def wait_serving(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.02)
        self.fail("upcased -f never served")

    def test_no_socket(self):
        err = self.start("touch /dev/log")
        self.assertEqual(err, WARNING % "Connection refused", err)

    def test_nothing_there(self):
        err = self.start("true")
        self.assertEqual(err, WARNING % "No such file or directory", err)

    def test_stale_socket(self):
        path = os.path.join(self.dir, "stale.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.close()                        # the file stays; nobody listens
        err = self.start("touch /dev/log && mount --bind %s /dev/log" % path)
        self.assertEqual(err, WARNING % "Connection refused", err)

    def test_syslog_there(self):
        path = os.path.join(self.dir, "syslog.sock")
        s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        s.bind(path)
        s.settimeout(10)
        try:
            err = self.start("touch /dev/log && mount --bind %s /dev/log" % path)
            self.assertEqual(err, "", "warned although syslog takes messages")
            # And the messages do go there.
            want = "upcased[%d]: upcased " % self.pid
            deadline = time.monotonic() + 10
            got = []
            while time.monotonic() < deadline:
                got.append(s.recv(4096).decode("utf-8", "replace"))
                if any(want in g and "started" in g for g in got):
                    break
            self.assertTrue(any(want in g and "started" in g for g in got), got)
        finally:
            s.close()

    def test_foreground_never_warns(self):
        self.start("touch /dev/log", foreground=True)
        self.fg.send_signal(signal.SIGTERM)
        _, err = self.fg.communicate(timeout=20)
        self.assertEqual(self.fg.returncode, 0, err)
        self.assertNotIn(b"/dev/log", err)
        self.assertIn(b"stopped", err)


def harness_stop(pid):
    """SIGTERM a detached daemon by its pid and wait (bounded) until it is gone."""
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.02)
    os.kill(pid, signal.SIGKILL)


if __name__ == "__main__":
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    raise SystemExit(1 if not r.wasSuccessful() else
                     77 if r.testsRun and len(r.skipped) == r.testsRun else 0)
