# SPDX-License-Identifier: ISC
"""Running under systemd, without systemd as PID 1: socket activation
(LISTEN_FDS), the sd_notify protocol (READY, RELOADING, STOPPING, STATUS,
WATCHDOG), and the shipped unit files (systemd-analyze verify / security,
and their Exec lines run the way systemd would run them).
"""
import array
import fcntl
import os
import re
import select
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest

import harness
from harness import UPCASE, UPCASED, make_conf

TOP = harness.TOP
BUILDDIR = harness.BUILDDIR
built_with_systemd = harness.built_with_systemd


NO_SYSTEMD = "built --without-systemd: no socket activation, no notifications"

# Environment variables systemd hands to services: the test sets its own.
SD_VARS = ("LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES", "NOTIFY_SOCKET",
           "WATCHDOG_USEC", "WATCHDOG_PID")

# Runs in the child: move the two sockets to fds 3 and 4, say so in
# LISTEN_FDS, and exec the daemon; exec keeps the pid, so LISTEN_PID is
# the daemon's own pid, as systemd would set it.
ACTIVATE = """
import os, sys
a, b = int(sys.argv[1]), int(sys.argv[2])
os.dup2(a, 3)
os.dup2(b, 4)
os.close(a)
os.close(b)
os.environ["LISTEN_FDS"] = "2"
os.environ["LISTEN_PID"] = str(os.getpid())
os.execv(sys.argv[3], sys.argv[3:])
"""


# Whatever ran us (a systemd unit, say) must not leak its own into the daemon.
for _k in SD_VARS:
    os.environ.pop(_k, None)


def clean_env(extra=None):
    e = dict(os.environ)
    if extra:
        e.update(extra)
    return e


def high_fd(sock):
    """A duplicate of sock's fd numbered 10 or more, so dup2 to 3 and 4 clobbers nothing."""
    return fcntl.fcntl(sock.fileno(), fcntl.F_DUPFD, 10)


class NotifySocket:
    """An AF_UNIX datagram socket standing in for systemd's notify socket."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
        self.msgs = []          # (sender pid, {key: value}) in arrival order

    def poll(self, timeout):
        """Read every datagram that arrives within timeout seconds."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self._read_one()

    def _read_one(self):
        # struct ucred: pid, uid, gid
        data, anc, _, _ = self.sock.recvmsg(4096, socket.CMSG_SPACE(12))
        pid = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                pid = array.array("i", payload[:12])[0]
        fields = {}
        for line in data.decode("utf-8", "replace").split("\n"):
            if "=" in line:
                k, v = line.split("=", 1)
                fields[k] = v
        self.msgs.append((pid, fields))

    def wait_for(self, key, value=None, timeout=10.0, start=0):
        """Index of the first message from start on that has key (= value)."""
        deadline = time.monotonic() + timeout
        while True:
            for i in range(start, len(self.msgs)):
                f = self.msgs[i][1]
                if key in f and (value is None or f[key] == value):
                    return i
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %s=%s from the daemon; got %r"
                                     % (key, value or "*", self.msgs[start:]))
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self._read_one()

    def count(self, key, value, start=0, end=None):
        return sum(1 for _, f in self.msgs[start:end] if f.get(key) == value)

    def close(self):
        self.sock.close()


class Activated:
    """upcased started with the sockets fds[0] and fds[1] as fds 3 and 4."""

    def __init__(self, directory, conf_text, fds, env=None):
        self.dir = directory
        self.conf_path = os.path.join(directory, "upcased.conf")
        with open(self.conf_path, "w") as f:
            f.write(conf_text)
        self.log_path = os.path.join(directory, "upcased.log")
        log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-c", ACTIVATE, str(fds[0]), str(fds[1]),
             UPCASED, "-f", "-c", self.conf_path],
            stdout=log, stderr=subprocess.STDOUT, pass_fds=fds, env=clean_env(env))
        log.close()
        self.pid = self.proc.pid

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=10.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if needle in self.read_log():
                return self.read_log()
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        raise AssertionError("log never showed %r:\n%s" % (needle, self.read_log()))

    def stop(self, timeout=20.0):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.kill()
                raise AssertionError("upcased did not stop:\n" + self.read_log())
        return self.proc.returncode

    def kill(self):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()


def refused(port, host="127.0.0.1"):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect((host, port))
        return False
    except ConnectionRefusedError:
        return True
    finally:
        s.close()


class ActivationCase(unittest.TestCase):
    """A temp dir, two distinct free ports (port, other) and the Activated
    daemon the test starts in self.d, killed and removed after it."""
    prefix = "upcase-sd-"

    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix=self.prefix)
        self.port = harness.free_port()
        self.other = harness.free_port()
        while self.other == self.port:
            self.other = harness.free_port()
        self.d = None

    def tearDown(self):
        if self.d is not None:
            self.d.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


@unittest.skipUnless(built_with_systemd(), NO_SYSTEMD)
class SocketActivation(ActivationCase):

    def start_with_sockets(self, first, second, conf=None):
        """Start upcased with first as fd 3 and second as fd 4; close our copies."""
        fds = (high_fd(first), high_fd(second))
        first.close()
        second.close()
        try:
            self.d = Activated(self.dir, conf or make_conf(self.other), fds=fds)
        finally:
            for fd in fds:
                os.close(fd)
        return self.d

    def bound_pair(self):
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", self.port))
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", self.port))
        tcp.listen(16)
        return udp, tcp

    def test_passed_sockets_served_and_listen_ignored(self):
        udp, tcp = self.bound_pair()
        # UDP first: the daemon must tell them apart by type, not by order.
        d = self.start_with_sockets(udp, tcp)
        log = d.wait_log("sockets passed by systemd")
        self.assertIn("using 2 sockets passed by systemd", log)
        text = "straße ǆ ﬃ abc".encode()
        self.assertEqual(harness.tcp_roundtrip(self.port, text), harness.py_upper(text))
        self.assertEqual(harness.udp_roundtrip(self.port, text), harness.py_upper(text))
        # The real client, both ways.
        rc, out, err = harness.run([UPCASE, "-H", "127.0.0.1:%d" % self.port, "hello", "ß"])
        self.assertEqual((rc, out, err), (0, b"HELLO SS\n", b""))
        rc, out, err = harness.run([UPCASE, "-u", "-H", "127.0.0.1:%d" % self.port, "über"])
        self.assertEqual((rc, out, err), (0, "ÜBER\n".encode(), b""))
        # The config's listen setting points elsewhere: nothing may be there.
        self.assertTrue(refused(self.other), "listen setting was used despite LISTEN_FDS")
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.sendto(b"x", ("127.0.0.1", self.other))
            with self.assertRaises(OSError):
                s.recvfrom(100)
        # A reload keeps the passed sockets and still ignores listen.
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log("configuration reloaded")
        self.assertEqual(harness.tcp_roundtrip(self.port, b"after hup"), b"AFTER HUP")
        self.assertEqual(harness.udp_roundtrip(self.port, b"after hup"), b"AFTER HUP")
        self.assertTrue(refused(self.other))
        self.assertEqual(d.stop(), 0)

    @unittest.skipIf(harness.server_skmem(1) is None, "needs ss (iproute2)")
    def test_socket_buffers_set_on_passed_sockets(self):
        """tcp.send_buffer and tcp.receive_buffer apply to systemd's
        listeners too, at start and on reload."""
        def accepted_buffers():
            with socket.create_connection(("127.0.0.1", self.port), timeout=5) as s:
                s.sendall(b"b")
                self.assertEqual(harness.recv_exactly(s, 1), b"B")
                m = harness.server_skmem(self.port)[s.getsockname()[1]]
                return m["rb"], m["tb"]
        conf = make_conf(self.other, extra="tcp = { send_buffer = %d; receive_buffer = %d; };")
        udp, tcp = self.bound_pair()
        d = self.start_with_sockets(udp, tcp, conf=conf % (20000, 30000))
        d.wait_log("sockets passed by systemd")
        self.assertEqual(accepted_buffers(), (60000, 40000))
        with open(d.conf_path, "w") as f:
            f.write(conf % (50000, 70000))
        os.kill(d.pid, signal.SIGHUP)
        d.wait_log("configuration reloaded")
        self.assertEqual(accepted_buffers(), (140000, 100000))
        self.assertEqual(d.stop(), 0)

    def test_tcp_first_also_works(self):
        udp, tcp = self.bound_pair()
        d = self.start_with_sockets(tcp, udp)
        d.wait_log("sockets passed by systemd")
        self.assertEqual(harness.udp_roundtrip(self.port, b"dgram"), b"DGRAM")
        self.assertEqual(harness.tcp_roundtrip(self.port, b"stream"), b"STREAM")
        self.assertEqual(d.stop(), 0)

    def test_unusable_descriptor_is_refused(self):
        # A TCP socket that is not listening can be served neither way.
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", self.port))
        idle = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        d = self.start_with_sockets(udp, idle)
        rc = d.proc.wait(10)
        self.assertNotEqual(rc, 0)
        self.assertIn("neither a listening stream socket nor a datagram socket", d.read_log())

    def test_listen_pid_of_another_process_is_ignored(self):
        # LISTEN_FDS meant for some other process: open the config's listeners.
        log = open(os.path.join(self.dir, "log"), "wb")
        conf = os.path.join(self.dir, "upcased.conf")
        with open(conf, "w") as f:
            f.write(make_conf(self.other))
        p = subprocess.Popen([UPCASED, "-f", "-c", conf], stdout=log, stderr=subprocess.STDOUT,
                             env=clean_env({"LISTEN_FDS": "2", "LISTEN_PID": str(os.getpid())}))
        log.close()
        try:
            deadline = time.monotonic() + 10
            while refused(self.other) and time.monotonic() < deadline:
                self.assertIsNone(p.poll(), "upcased exited")
                time.sleep(0.05)
            self.assertEqual(harness.tcp_roundtrip(self.other, b"own"), b"OWN")
            os.kill(p.pid, signal.SIGTERM)
            self.assertEqual(p.wait(20), 0)
        finally:
            if p.poll() is None:
                os.kill(p.pid, signal.SIGKILL)
                p.wait()


@unittest.skipUnless(built_with_systemd(), NO_SYSTEMD)
class Notify(unittest.TestCase):
    def test_ready_status_reload_watchdog_stopping(self):
        tmp = tempfile.mkdtemp(prefix="upcase-sd-")
        ns = NotifySocket(tmp)
        env = clean_env({"NOTIFY_SOCKET": ns.path, "WATCHDOG_USEC": "2000000"})
        try:
            with harness.Daemon(env=env, wait=False) as d:
                ready = ns.wait_for("READY", "1")
                self.assertEqual(ns.msgs[ready][0], d.pid, "READY=1 must come from the main pid")
                self.assertEqual(harness.tcp_roundtrip(d.port, b"ready"), b"READY")
                status = ns.wait_for("STATUS", start=ready)
                self.assertRegex(ns.msgs[status][1]["STATUS"], r"\d+ connections open")

                # The watchdog: WATCHDOG_USEC=2 s, so a ping about every second.
                mark = len(ns.msgs)
                ns.poll(3.2)
                pings = ns.count("WATCHDOG", "1", start=mark)
                self.assertGreaterEqual(pings, 2, ns.msgs[mark:])
                self.assertLessEqual(pings, 8, "pinging far more often than needed")

                # A good reload: RELOADING=1 (with a timestamp), then READY=1.
                mark = len(ns.msgs)
                d.send_signal(signal.SIGHUP)
                rel = ns.wait_for("RELOADING", "1", start=mark)
                self.assertRegex(ns.msgs[rel][1].get("MONOTONIC_USEC", ""), r"^\d+$")
                again = ns.wait_for("READY", "1", start=rel + 1)
                self.assertGreater(again, rel)

                # A bad file: still RELOADING=1 then READY=1 (the old config runs on).
                d.write_conf("listen = ( { port = 0; } );\n")
                mark = len(ns.msgs)
                d.send_signal(signal.SIGHUP)
                rel2 = ns.wait_for("RELOADING", "1", start=mark)
                ns.wait_for("READY", "1", start=rel2 + 1)
                self.assertEqual(harness.udp_roundtrip(d.port, b"alive"), b"ALIVE")

                # Watchdog pings go on after reloads.
                mark = len(ns.msgs)
                ns.wait_for("WATCHDOG", "1", start=mark, timeout=3)

                mark = len(ns.msgs)
                d.send_signal(signal.SIGTERM)
                stop = ns.wait_for("STOPPING", "1", start=mark)
                self.assertEqual(d.proc.wait(20), 0)
                ns.poll(0.2)
                # Nothing claims readiness after STOPPING=1.
                self.assertEqual(ns.count("READY", "1", start=stop), 0)
                senders = {pid for pid, _ in ns.msgs}
                self.assertEqual(senders, {d.pid}, "every notification must come from the main pid")
                d.stop()
        finally:
            ns.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_no_notify_socket_is_harmless(self):
        with harness.Daemon(env=clean_env({"WATCHDOG_USEC": "200000"})) as d:
            self.assertEqual(harness.udp_roundtrip(d.port, b"plain"), b"PLAIN")
            self.assertEqual(d.stop(), 0)


# ---------------------------------------------------------------- unit files

def unit_dir(tmp, conf_text):
    """The shipped units, the service generated as make does, pointing at the
    built binary and at a config in tmp."""
    etc = os.path.join(tmp, "etc")
    os.makedirs(etc)
    with open(os.path.join(etc, "upcased.conf"), "w") as f:
        f.write(conf_text)
    units = os.path.join(tmp, "units")
    os.makedirs(units)
    sbindir = os.path.dirname(os.path.abspath(UPCASED))
    with open(os.path.join(TOP, "systemd", "upcased.service.in")) as f:
        text = f.read().replace("@sbindir@", sbindir).replace("@sysconfdir@", etc)
    with open(os.path.join(units, "upcased.service"), "w") as f:
        f.write(text)
    shutil.copy(os.path.join(TOP, "systemd", "upcased.socket"), units)
    return units


def man_tree(tmp):
    """A MANPATH holding our pages, so Documentation=man:... can be checked."""
    root = os.path.join(tmp, "man")
    for name in os.listdir(os.path.join(TOP, "man")):
        m = re.match(r".*\.([158])$", name)
        if m:
            os.makedirs(os.path.join(root, "man" + m.group(1)), exist_ok=True)
            os.symlink(os.path.join(TOP, "man", name),
                       os.path.join(root, "man" + m.group(1), name))
    return root


def exec_lines(unit_text, key):
    out = []
    for line in unit_text.splitlines():
        if line.startswith(key + "="):
            out.append(line.split("=", 1)[1])
    return out


def journal_env(path, matching=True):
    """The environment of a process whose stderr is path, as systemd sets
    JOURNAL_STREAM ("DEV:INO" of the stream) when that is the journal; or
    naming another stream (stderr redirected by a script)."""
    st = os.stat(path)
    e = clean_env()
    e["JOURNAL_STREAM"] = "%d:%d" % (st.st_dev, st.st_ino + (0 if matching else 1))
    return e


class Journal(unittest.TestCase):
    """Config errors reach the journal at priority err ("<3>"): those of
    upcased -t (ExecReload runs it) and a failed reload of the daemon.
    Only when stderr is the stream JOURNAL_STREAM names."""

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="upcase-journal-")
        self.conf = os.path.join(self.tmp, "upcased.conf")
        self.err = os.path.join(self.tmp, "stderr")
        open(self.err, "w").close()

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def run_t(self, env):
        with open(self.err, "r+b") as f:
            f.truncate()
            p = subprocess.run([UPCASED, "-t", "-c", self.conf], stdout=subprocess.PIPE,
                               stderr=f, env=env, timeout=30)
        with open(self.err, "rb") as f:
            return p.returncode, p.stdout, f.read().decode()

    def test_t_errors_are_err_in_the_journal(self):
        port = harness.free_port()
        no_journal = clean_env()
        no_journal.pop("JOURNAL_STREAM", None)
        cases = (("idle_timeout = 0;\n", "idle_timeout must be between 1 and 86400"),
                 ('pidfile = "%s/no/such/upcased.pid";\n' % self.tmp, "No such file"),
                 ('user = "upcase-no-such-user";\n', "unknown user upcase-no-such-user"))
        for extra, message in cases:
            with open(self.conf, "w") as f:
                f.write(make_conf(port) + extra)
            rc, out, err = self.run_t(journal_env(self.err))
            self.assertEqual((rc, out), (78, b""), err)
            self.assertTrue(err.startswith("<3>"), "journal: %r" % err)
            self.assertIn(message, err)
            self.assertEqual(err.count("\n"), 1, err)
            for env in (no_journal, journal_env(self.err, matching=False)):
                rc, out, err = self.run_t(env)
                self.assertEqual(rc, 78, err)
                self.assertTrue(err.startswith("upcased: "), "not the journal: %r" % err)
                self.assertNotIn("<", err.split(":", 1)[0])
                self.assertIn(message, err)
        # A good file: nothing on stderr, OK on stdout, in the journal too.
        with open(self.conf, "w") as f:
            f.write(make_conf(port))
        self.assertEqual(self.run_t(journal_env(self.err)), (0, b"configuration OK\n", ""))

    def test_failed_reload_is_err(self):
        port = harness.free_port()
        with open(self.conf, "w") as f:
            f.write(make_conf(port))
        with open(self.err, "wb") as log:
            proc = subprocess.Popen([UPCASED, "-f", "-c", self.conf], stdin=subprocess.DEVNULL,
                                    stdout=log, stderr=log, env=journal_env(self.err))

        def wait_log(needle, timeout=10.0):
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                with open(self.err) as f:
                    text = f.read()
                if needle in text:
                    return text
                if proc.poll() is not None:
                    break
                time.sleep(0.02)
            self.fail("never logged %r:\n%s" % (needle, text))

        try:
            text = wait_log(" started: ")
            self.assertRegex(text, r"(?m)^<6>upcased \S+ started: ")
            with open(self.conf, "a") as f:
                f.write("idle_timeout = 0;\n")
            os.kill(proc.pid, signal.SIGHUP)
            text = wait_log("reload failed")
            line = [l for l in text.splitlines() if "reload failed" in l][0]
            print("failed reload logged as %r" % line[:60])
            self.assertTrue(line.startswith("<3>reload failed, keeping the running "
                                            "configuration: "), line)
            self.assertIn("idle_timeout must be between 1 and 86400", line)
            self.assertEqual(harness.tcp_roundtrip(port, b"kept"), b"KEPT")
            os.kill(proc.pid, signal.SIGTERM)
            self.assertEqual(proc.wait(20), 0)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()


@unittest.skipUnless(shutil.which("systemd-analyze"), "systemd-analyze not installed")
class UnitFiles(unittest.TestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="upcase-unit-")
        self.port = harness.free_port()
        self.units = unit_dir(self.tmp, make_conf(self.port))

    def tearDown(self):
        shutil.rmtree(self.tmp, ignore_errors=True)

    def test_verify(self):
        env = clean_env()
        cmd = ["systemd-analyze", "verify"]
        if shutil.which("man"):
            env["MANPATH"] = man_tree(self.tmp)    # Documentation= must name real pages
        else:
            cmd.append("--man=no")
        p = subprocess.run(cmd + [os.path.join(self.units, "upcased.service"),
                                  os.path.join(self.units, "upcased.socket")],
                           capture_output=True, env=env, timeout=60)
        self.assertEqual(p.stderr.decode(), "")
        self.assertEqual(p.returncode, 0)

    def test_security_exposure(self):
        p = subprocess.run(["systemd-analyze", "security", "--offline=yes", "--threshold=20",
                            "--no-pager", os.path.join(self.units, "upcased.service")],
                           capture_output=True, env=clean_env(), timeout=60)
        out = p.stdout.decode("utf-8", "replace")
        self.assertEqual(p.returncode, 0, out + p.stderr.decode())
        m = re.search(r"Overall exposure level for upcased\.service: (\d+\.\d+)", out)
        self.assertIsNotNone(m, out)
        self.assertLessEqual(float(m.group(1)), 2.0, out)

    @unittest.skipUnless(built_with_systemd(), NO_SYSTEMD)
    def test_exec_lines_as_systemd_runs_them(self):
        """ExecStart (Type=notify, main pid notifies), ExecReload (-t first)."""
        with open(os.path.join(self.units, "upcased.service")) as f:
            text = f.read()
        self.assertIn("Type=notify", text)
        (start,) = exec_lines(text, "ExecStart")
        reload_lines = exec_lines(text, "ExecReload")
        self.assertIn("-t", shlex.split(reload_lines[0]), "ExecReload checks first")
        ns = NotifySocket(self.tmp)
        log = open(os.path.join(self.tmp, "log"), "wb")
        proc = subprocess.Popen(shlex.split(start), stdout=log, stderr=subprocess.STDOUT,
                                env=clean_env({"NOTIFY_SOCKET": ns.path}))
        log.close()
        try:
            ready = ns.wait_for("READY", "1")
            # Type=notify with NotifyAccess=main: the process systemd started
            # stays in the foreground and is the one that says READY=1.
            self.assertEqual(ns.msgs[ready][0], proc.pid)
            self.assertIsNone(proc.poll())
            self.assertEqual(harness.tcp_roundtrip(self.port, b"unit"), b"UNIT")
            mark = len(ns.msgs)
            for cmd in exec_lines(text, "ExecReload"):
                argv = [a.replace("$MAINPID", str(proc.pid)) for a in shlex.split(cmd)]
                p = subprocess.run(argv, capture_output=True, env=clean_env(), timeout=30)
                self.assertEqual(p.returncode, 0, p.stderr)
            rel = ns.wait_for("RELOADING", "1", start=mark)
            ns.wait_for("READY", "1", start=rel + 1)
            os.kill(proc.pid, signal.SIGTERM)
            self.assertEqual(proc.wait(20), 0)
            ns.wait_for("STOPPING", "1", start=rel)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
            ns.close()

    def test_broken_config_is_not_restarted(self):
        # RestartPreventExitStatus= covers the main process only, not
        # ExecStartPre= (whose failure Restart=on-failure retries until the
        # start limit): so no ExecStartPre= check, and ExecStart itself
        # exits 78 on a broken file, a status the unit does not restart.
        with open(os.path.join(self.units, "upcased.service")) as f:
            text = f.read()
        self.assertEqual(exec_lines(text, "ExecStartPre"), [])
        (prevent,) = exec_lines(text, "RestartPreventExitStatus")
        self.assertIn("78", prevent.split())
        (start,) = exec_lines(text, "ExecStart")
        conf = shlex.split(start)[-1]
        with open(conf, "a") as f:
            f.write("idle_timeout = 0;\n")
        p = subprocess.run(shlex.split(start), capture_output=True, env=clean_env(),
                           timeout=30)
        self.assertEqual(p.returncode, 78, p.stderr)
        self.assertIn(b"idle_timeout must be between", p.stderr)

    def test_socket_unit_matches_default_port(self):
        with open(os.path.join(TOP, "src", "proto.h")) as f:
            port = re.search(r"#define UPCASE_DEFAULT_PORT\s+(\d+)", f.read()).group(1)
        with open(os.path.join(self.units, "upcased.socket")) as f:
            text = f.read()
        self.assertEqual(exec_lines(text, "ListenStream"), [port])
        self.assertEqual(exec_lines(text, "ListenDatagram"), [port])


if __name__ == "__main__":
    unittest.main(verbosity=2)
