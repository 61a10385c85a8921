#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_confsrc.py: a configuration file, or an @include, that is not a
readable regular file of at most 1 MiB.

Black box: the real upcased.  For each odd kind of file (a directory, a
FIFO, a character device, a UNIX socket, a symbolic link loop, a file over
1 MiB, includes that sum over 1 MiB, a file that is gone, one that cannot
be read), as the main file and as an @include:
  - upcased -t exits 78 (EX_CONFIG) with the path and the reason, at once:
    a FIFO must not block it (every run is bounded, and timed);
  - start-up exits 78 likewise;
  - a running daemon sent SIGHUP logs the error with FILE:LINE and keeps
    serving: a TCP round-trip and upcase --stats answer after each, a good
    file is then applied, and SIGTERM stops it cleanly, its control socket
    removed.
A drop-in directory, @include "DIR/*.conf" (class DropIns): its files are
read in strcmp order (a setting in two of them is refused at the later
one, whatever order they were made in), dotfiles and editor backups are
not read, an error names the drop-in's own path and line, upcased -t and
start-up refuse a missing directory or a matched directory, and SIGHUP
picks up a drop-in added since.
Before confsrc, libconfig opened includes itself: a directory made it exit
2 ("input in flex scanner failed"), a FIFO blocked it in open().
"""
import os
import pwd
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
import nethelp  # noqa: E402

EX_CONFIG = 78
MIB = 1024 * 1024
BOUND = 10.0        # seconds any one -t, start-up or reload may take (it takes ms)
IS_ROOT = os.geteuid() == 0


def comment_file(path, size):
    """A valid file of size bytes: comment lines."""
    line = b"#" + b"x" * 62 + b"\n"
    with open(path, "wb") as f:
        f.write(line * (size // 64) + b"#" * (size % 64))


def run_bounded(cmd):
    """Run cmd with a time limit; return (rc, stderr text, seconds)."""
    start = time.monotonic()
    try:
        p = subprocess.run(cmd, capture_output=True, timeout=BOUND * 3)
    except subprocess.TimeoutExpired:
        raise AssertionError("%s did not finish in %.0f s (blocked?)" % (cmd, BOUND * 3))
    took = time.monotonic() - start
    return p.returncode, p.stderr.decode("utf-8", "replace"), took


class Tree:
    """The odd files, in a directory of their own (0755: user nobody may look)."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-t-confsrc-")
        os.chmod(self.dir, 0o755)
        self.sock = None

    def path(self, name):
        return os.path.join(self.dir, name)

    def make(self, kind):
        """Make a file of this kind; return (its path, the reason upcased gives)."""
        p = self.path(kind)
        if kind == "directory":
            os.mkdir(p)
            return p, "is a directory"
        if kind == "fifo":
            os.mkfifo(p)
            return p, "is a FIFO"
        if kind == "chardev":
            return "/dev/null", "is a character device"
        if kind == "socket":
            self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self.sock.bind(p)
            return p, "is a socket"
        if kind == "symlink-loop":
            os.symlink(kind, p)
            return p, "Too many levels of symbolic links"
        if kind == "over-1MiB":
            comment_file(p, MIB + 1)
            return p, "larger than 1048576 bytes"
        if kind == "vanished":
            comment_file(p, 10)
            os.unlink(p)
            return p, "No such file or directory"
        if kind == "unreadable":
            with open(p, "w") as f:
                f.write("backlog = 5;\n")
            os.chmod(p, 0)
            return p, "Permission denied"
        raise ValueError(kind)

    def close(self):
        if self.sock is not None:
            self.sock.close()
        shutil.rmtree(self.dir, ignore_errors=True)


KINDS = ["directory", "fifo", "chardev", "socket", "symlink-loop", "over-1MiB",
         "vanished"]


def unprivileged():
    """The command prefix that runs upcased as a user for whom mode 0000
    means unreadable, or None (then say why in skip)."""
    if not IS_ROOT:
        return [], None
    if shutil.which("setpriv") is None:
        return None, "root, and no setpriv to run upcased as nobody"
    try:
        nobody = pwd.getpwnam("nobody")
    except KeyError:
        return None, "root, and no user nobody"
    return ["setpriv", "--reuid=%d" % nobody.pw_uid, "--regid=%d" % nobody.pw_gid,
            "--clear-groups"], None


class CheckAndStart(unittest.TestCase):
    """upcased -t and start-up, with each odd kind as the main file and included."""

    def setUp(self):
        self.tree = Tree()

    def tearDown(self):
        self.tree.close()

    def main_including(self, target, name="main.conf"):
        """A main file whose line 2 includes target; its path."""
        main = self.tree.path(name)
        with open(main, "w") as f:
            f.write("backlog = 5;\n@include \"%s\"\nidle_timeout = 3;\n" % target)
        os.chmod(main, 0o644)
        return main

    def expect_78(self, prefix, conf, message):
        for mode in (["-t"], ["-f"]):
            rc, err, took = run_bounded(prefix + [harness.UPCASED] + mode + ["-c", conf])
            print("  %s %s: exit %d in %.3f s" % (" ".join(mode), os.path.basename(conf), rc, took))
            self.assertEqual(rc, EX_CONFIG, err)
            self.assertIn("upcased: " + message, err)
            self.assertNotIn("flex", err)
            self.assertLess(took, BOUND)

    def test_each_kind(self):
        for kind in KINDS:
            with self.subTest(kind=kind):
                path, why = self.tree.make(kind)
                # As the main file: "PATH: reason".
                self.expect_78([], path, "%s: %s" % (path, why))
                # Included: "MAIN:2: @include "PATH": reason".
                main = self.main_including(path)
                if kind == "over-1MiB":
                    why = "the configuration with its includes would be " + why
                self.expect_78([], main, '%s:2: @include "%s": %s' % (main, path, why))

    def test_relative_include_says_where_it_looked(self):
        path, why = self.tree.make("directory")
        main = self.main_including("directory")
        self.expect_78([], main, '%s:2: @include "directory" (%s): %s' % (main, path, why))

    def test_includes_summing_over_1mib(self):
        for n in "abc":
            comment_file(self.tree.path(n), 400 * 1024)
        main = self.tree.path("main.conf")
        with open(main, "w") as f:
            f.write("".join('@include "%s"\n' % self.tree.path(n) for n in "abc"))
        # The third is the one that goes over: named, at its line.
        self.expect_78([], main, '%s:3: @include "%s": the configuration with its '
                       'includes would be larger than 1048576 bytes' % (main, self.tree.path("c")))
        # Two of them fit, with the main file.
        with open(main, "w") as f:
            f.write("".join('@include "%s"\n' % self.tree.path(n) for n in "ab"))
        rc, err, _ = run_bounded([harness.UPCASED, "-t", "-c", main])
        self.assertEqual(rc, 0, err)

    def test_unreadable(self):
        prefix, why_not = unprivileged()
        if prefix is None:
            self.skipTest(why_not)
        path, why = self.tree.make("unreadable")
        self.expect_78(prefix, path, "%s: %s" % (path, why))
        main = self.main_including(path)
        self.expect_78(prefix, main, '%s:2: @include "%s": %s' % (main, path, why))


class DropIns(unittest.TestCase):
    """@include "DIR/*.conf": the files of a conf.d, in order."""

    def setUp(self):
        self.tree = Tree()
        self.confd = self.tree.path("conf.d")
        os.mkdir(self.confd)
        os.chmod(self.confd, 0o755)

    def tearDown(self):
        self.tree.close()

    def drop_in(self, name, text):
        path = os.path.join(self.confd, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def check(self, main, want_rc, message=None):
        rc, err, took = run_bounded([harness.UPCASED, "-t", "-c", main])
        print("  -t: exit %d in %.3f s%s" % (rc, took, (": " + err.strip()) if err.strip() else ""))
        self.assertEqual(rc, want_rc, err)
        if message is not None:
            self.assertIn("upcased: " + message, err)
        self.assertLess(took, BOUND)

    def test_order_and_errors(self):
        main = self.tree.path("main.conf")
        with open(main, "w") as f:
            f.write('backlog = 5;\n@include "conf.d/*.conf" # drop-ins\nidle_timeout = 3;\n')
        # An empty conf.d is the usual: nothing included, no error.
        self.check(main, 0)
        # Made in the "wrong" order; what must not be read is broken.
        a = self.drop_in("20-a.conf", "# a\nmax_connections = 7;\n")
        b = self.drop_in("10-b.conf", 'charset = "ascii";\n')
        for junk in (".20-a.conf.swp", "20-a.conf~", "README", ".hidden.conf"):
            self.drop_in(junk, "this is not a configuration\n")
        self.check(main, 0)
        # The same setting in both: libconfig refuses it at the second one read.
        self.drop_in("10-b.conf", 'charset = "ascii";\n\nmax_connections = 8;\n')
        self.check(main, EX_CONFIG, "%s:2: duplicate setting name" % a)
        os.rename(a, self.tree.path("conf.d/05-a.conf"))
        a = self.tree.path("conf.d/05-a.conf")
        self.check(main, EX_CONFIG, "%s:3: duplicate setting name" % b)
        # An error inside a drop-in: its path and line.
        self.drop_in("10-b.conf", 'charset = "ascii";\nshutdown_timeout = -1;\n')
        self.check(main, EX_CONFIG, "%s:2: shutdown_timeout must be between " % b)
        self.drop_in("10-b.conf", 'charset = "ascii";\ncontrol_mode = ;\n')
        self.check(main, EX_CONFIG, "%s:2: syntax error" % b)
        self.drop_in("10-b.conf", 'charset = "ascii";\n\nlimits = { min_rate = -1; };\n')
        rc, err, _ = run_bounded([harness.UPCASED, "-t", "-c", main])
        self.assertEqual(rc, EX_CONFIG, err)
        self.assertIn("upcased: %s:3: " % b, err)
        self.drop_in("10-b.conf", 'charset = "ascii";\n')
        self.check(main, 0)
        # A matching entry that is not a file: named by its real path, at start-up too.
        os.mkdir(self.tree.path("conf.d/30-dir.conf"))
        for mode in (["-t"], ["-f"]):
            rc, err, took = run_bounded([harness.UPCASED] + mode + ["-c", main])
            self.assertEqual(rc, EX_CONFIG, err)
            self.assertIn('upcased: %s:2: @include "conf.d/*.conf" (%s): is a directory'
                          % (main, self.tree.path("conf.d/30-dir.conf")), err)
            self.assertLess(took, BOUND)
        os.rmdir(self.tree.path("conf.d/30-dir.conf"))
        os.mkfifo(self.tree.path("conf.d/40-fifo.conf"))
        self.check(main, EX_CONFIG, '%s:2: @include "conf.d/*.conf" (%s): is a FIFO'
                   % (main, self.tree.path("conf.d/40-fifo.conf")))
        os.unlink(self.tree.path("conf.d/40-fifo.conf"))
        # A typo in the directory is an error, not an empty include.
        with open(main, "w") as f:
            f.write('\n@include "%s/*.conf"\n' % self.tree.path("conf.f"))
        self.check(main, EX_CONFIG, '%s:2: @include "%s/*.conf": cannot list directory %s: '
                   'No such file or directory' % (main, self.tree.path("conf.f"),
                                                  self.tree.path("conf.f")))
        # Only the last component may be a pattern.
        with open(main, "w") as f:
            f.write('@include "conf.*/10-b.conf"\n')
        self.check(main, EX_CONFIG, '%s:1: @include "conf.*/10-b.conf": a pattern' % main)
        # Absolute, with '?' and '[...]': 05-a.conf, which would clash, is not matched.
        self.drop_in("10-b.conf", 'charset = "ascii";\nmax_connections = 8;\n')
        with open(main, "w") as f:
            f.write('@include "%s/[1-9]?-*.conf"\n' % self.confd)
        self.check(main, 0)
        with open(main, "w") as f:
            f.write('@include "%s/[0-9]?-*.conf"\n' % self.confd)
        self.check(main, EX_CONFIG, "%s:2: duplicate setting name" % b)

    def test_sighup_picks_up_a_new_drop_in(self):
        extra = '@include "%s/*.conf"' % self.confd
        with nethelp.NetDaemon(extra=extra) as d:
            # Started on an empty conf.d: the default charset.
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "ASS".encode())
            self.drop_in("50-charset.conf", '# ascii only\ncharset = "ascii";\n')
            start = time.monotonic()
            d.reload(extra, timeout=BOUND)
            print("  new drop-in applied in %.3f s" % (time.monotonic() - start))
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            # A bad one added: refused with its path and line, the running one kept.
            bad = self.drop_in("60-bad.conf", "\nidle_timeout = 0;\n")
            log = d.reload(extra, expect="reload failed", timeout=BOUND)
            self.assertIn("reload failed, keeping the running configuration: "
                          "%s:2: idle_timeout must be between 1 and 86400" % bad, log)
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            os.unlink(bad)
            # The directory gone: refused too, not an empty include.
            os.unlink(os.path.join(self.confd, "50-charset.conf"))
            os.rmdir(self.confd)
            log = d.reload(extra, expect="reload failed", timeout=BOUND)
            self.assertIn("cannot list directory %s: No such file or directory" % self.confd, log)
            stats = d.client_stats()
            self.assertEqual(nethelp.stat(stats, "reload_failures"), 2)
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            # Back, empty: the default again.
            os.mkdir(self.confd)
            d.reload(extra, timeout=BOUND)
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "ASS".encode())
            self.assertEqual(d.stop(), 0)
            self.assertFalse(os.path.exists(d.ctl), "control socket left behind")


class Reload(unittest.TestCase):
    """SIGHUP with each odd kind included: logged with FILE:LINE, still serving."""

    def setUp(self):
        self.tree = Tree()
        with open(self.tree.path("good.conf"), "w") as f:
            f.write('charset = "ascii";\n')

    def tearDown(self):
        self.tree.close()

    def check_serving(self, d, label):
        start = time.monotonic()
        self.assertEqual(harness.tcp_roundtrip(d.port, b"still here", timeout=BOUND),
                         b"STILL HERE")
        stats = d.client_stats()
        took = time.monotonic() - start
        print("  %s: round-trip and upcase --stats in %.3f s" % (label, took))
        self.assertIn("upcased_tcp_connections_accepted_total", stats, stats)
        self.assertLess(took, BOUND)
        return stats

    def reload_fails(self, d, extra, message):
        start = time.monotonic()
        log = d.reload(extra, expect="reload failed", timeout=BOUND)
        took = time.monotonic() - start
        self.assertIn("reload failed, keeping the running configuration: " + message, log)
        self.assertNotIn("flex", log)
        return took

    def test_each_kind_on_sighup(self):
        """Relative paths, looked up next to the main file (as before
        confsrc, when a directory made upcased exit 2 on SIGHUP)."""
        with nethelp.NetDaemon() as d:
            def include(name):
                return '@include "%s"' % os.path.relpath(self.tree.path(name), d.dir)
            self.check_serving(d, "start")
            # An include is applied: good.conf sets the charset.
            d.reload(include("good.conf"), timeout=BOUND)
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            for failed, kind in enumerate(KINDS, 1):
                with self.subTest(kind=kind):
                    path, why = self.tree.make(kind)
                    if kind == "over-1MiB":
                        why = "the configuration with its includes would be " + why
                    # The include is the main file's line 3 (after listen and control_socket).
                    r = os.path.relpath(path, d.dir)
                    took = self.reload_fails(d, '@include "%s"' % r, '%s:3: @include "%s" (%s): %s'
                                             % (d.conf_path, r, os.path.join(d.dir, r), why))
                    print("  %s: reload refused in %.3f s" % (kind, took))
                    self.assertEqual(d.proc.poll(), None, "upcased exited")
                    stats = self.check_serving(d, kind)
                    self.assertEqual(nethelp.stat(stats, "reload_failures"), failed)
            # Over 1 MiB in three includes: the third is named, on line 5.
            for n in "abc":
                comment_file(self.tree.path(n), 400 * 1024)
            c = os.path.relpath(self.tree.path("c"), d.dir)
            self.reload_fails(d, "\n".join(include(n) for n in "abc"),
                              '%s:5: @include "%s" (%s): the configuration with its includes '
                              'would be larger than 1048576 bytes'
                              % (d.conf_path, c, os.path.join(d.dir, c)))
            self.check_serving(d, "sum")
            # The old configuration was kept all along; a good file is applied.
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "Aß".encode())
            d.reload("", timeout=BOUND)
            self.assertEqual(harness.tcp_roundtrip(d.port, "aß".encode()), "ASS".encode())
            start = time.monotonic()
            self.assertEqual(d.stop(), 0)
            print("  SIGTERM: stopped in %.3f s" % (time.monotonic() - start))
            self.assertFalse(os.path.exists(d.ctl), "control socket left behind")

    def test_unreadable_on_sighup(self):
        """Mode 0000 means nothing to root: as root the daemon runs as nobody."""
        extra = ""
        if IS_ROOT:
            try:
                pwd.getpwnam("nobody")
            except KeyError:
                self.skipTest("root, and no user nobody")
            extra = 'user = "nobody";\n'
        path, why = self.tree.make("unreadable")
        with nethelp.NetDaemon(extra=extra) as d:
            # nobody must still read the main file on SIGHUP.
            os.chmod(d.dir, 0o755)
            os.chmod(d.conf_path, 0o644)
            line = 3 + extra.count("\n")
            self.reload_fails(d, extra + '@include "%s"' % path,
                              '%s:%d: @include "%s": %s' % (d.conf_path, line, path, why))
            self.check_serving(d, "unreadable")
            self.assertEqual(d.stop(), 0)


if __name__ == "__main__":
    nethelp.main()
