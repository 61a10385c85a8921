#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""systemd's file descriptor store, with this test as the service manager.

The test plays PID 1's part: a notify socket (NOTIFY_SOCKET) that keeps
the descriptors upcased sends with FDSTORE=1 under their FDNAME= and drops
them on FDSTOREREMOVE=1, and restarts the daemon with them in LISTEN_FDS /
LISTEN_FDNAMES, as systemd does with FileDescriptorStoreMax= in the unit.

- Start: every listener (TCP and UDP) is stored under its name.
- Restart (SIGTERM, then a new process) and crash (SIGKILL, then a new
  process) while a client connects over and over: no connection refused,
  every one answered; the new process says it took the sockets back.
- A reload that drops a listener removes it from the store; one that adds
  a listener stores it.
- So does a live upgrade (SIGUSR2) to a file that changed the listeners,
  with the manager taking messages from the main process only
  (NotifyAccess=main, as our unit says, and as systemd drops the rest).
"""
import array
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import UPCASED, built_with_systemd, free_port  # noqa: E402


class FakeManager:
    """The service manager's notify socket and fd store."""

    def __init__(self, dir):
        self.path = os.path.join(dir, "notify")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.05)
        self.store = {}          # name -> fd (>= 100)
        self.messages = []
        self.lock = threading.Lock()
        # NotifyAccess=main: once set, messages from any other pid are dropped.
        self.main_pid = None
        self.dropped = []
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)

    def pump(self, timeout=0.0):
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg, anc, flags, addr = self.sock.recvmsg(
                    4096, socket.CMSG_SPACE(64 * 4) + socket.CMSG_SPACE(12))
            except socket.timeout:
                if time.monotonic() >= deadline:
                    return
                continue
            fds = []
            pid = None
            for level, kind, data in anc:
                if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                    a = array.array("i")
                    a.frombytes(data[:len(data) - len(data) % a.itemsize])
                    fds += list(a)
                elif level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", data[:12])[0]
            fields = dict(l.split("=", 1) for l in msg.decode().split("\n") if "=" in l)
            with self.lock:
                if self.main_pid is not None and pid != self.main_pid:
                    self.dropped.append((pid, fields))
                    for fd in fds:
                        os.close(fd)
                    continue
                if "MAINPID" in fields and self.main_pid is not None:
                    self.main_pid = int(fields["MAINPID"])
                self.messages.append(fields)
                if fields.get("FDSTORE") == "1":
                    name = fields.get("FDNAME", "stored")
                    for fd in fds:
                        # systemd keeps one copy of a socket, whatever its name.
                        st = os.fstat(fd)
                        if any(os.fstat(o).st_ino == st.st_ino for o in self.store.values()):
                            os.close(fd)
                            continue
                        high = fcntl_dupfd(fd, 100)
                        os.close(fd)
                        self.store[name] = high
                    fds = []
                if fields.get("FDSTOREREMOVE") == "1":
                    fd = self.store.pop(fields.get("FDNAME", ""), None)
                    if fd is not None:
                        os.close(fd)
            for fd in fds:
                os.close(fd)

    def wait_for(self, pred, timeout=10):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.05)
            with self.lock:
                if pred():
                    return
        raise AssertionError("manager: never %s; messages %s, store %s"
                             % (pred, self.messages, sorted(self.store)))


def fcntl_dupfd(fd, low):
    import fcntl
    return fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, low)


class FdStore(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="upcase-fdstore-")
        self.m = FakeManager(self.dir)
        self.port = free_port()
        self.port2 = free_port()
        self.conf = os.path.join(self.dir, "upcased.conf")
        self.write_conf([self.port])
        self.log_path = os.path.join(self.dir, "log")
        self.log = open(self.log_path, "ab")
        self.proc = None

    def tearDown(self):
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.log.close()
        log = self.read_log()
        for mark in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer"):
            self.assertNotIn(mark, log)
        for fd in self.m.store.values():
            os.close(fd)
        shutil.rmtree(self.dir, ignore_errors=True)

    def write_conf(self, ports):
        with open(self.conf, "w") as f:
            f.write("listen = ( %s );\nshutdown_timeout = 2;\n" % ", ".join(
                '{ address = "127.0.0.1"; port = %d; }' % p for p in ports))

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def start(self, fdstore=True):
        """As systemd does: the stored fds from 3 on, named, LISTEN_PID the daemon's."""
        names = sorted(self.m.store)
        fds = [self.m.store[n] for n in names]
        env = dict(os.environ, NOTIFY_SOCKET=self.m.path, FDSTORE="16" if fdstore else "0")
        env.pop("LISTEN_FDS", None)
        if fds:
            env["LISTEN_FDS"] = str(len(fds))
            env["LISTEN_FDNAMES"] = ":".join(names)

        def place():
            for i, fd in enumerate(fds):
                os.dup2(fd, 3 + i)     # dup2 leaves it inheritable

        self.proc = subprocess.Popen(
            ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"' if fds
             else 'exec "$0" "$@"', UPCASED, "-f", "-c", self.conf],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, preexec_fn=place,
            pass_fds=list(range(3, 3 + len(fds))))
        self.m.wait_for(lambda: any(x.get("READY") == "1" for x in self.m.messages))

    def clients(self, n=3):
        """n clients connecting over and over; returns (stop event, threads, tally)."""
        stop = threading.Event()
        tally = {"ok": 0, "refused": 0, "other": []}

        def client():
            i = 0
            while not stop.is_set():
                i += 1
                t0 = time.monotonic()
                try:
                    s = socket.create_connection(("127.0.0.1", self.port), timeout=15)
                    s.settimeout(15)
                    s.sendall(b"ping %d" % i)
                    got = b""
                    while len(got) < len(b"PING %d" % i):
                        b = s.recv(100)
                        if not b:
                            break
                        got += b
                    s.close()
                    if got == b"PING %d" % i:
                        tally["ok"] += 1
                    else:
                        tally["other"].append((t0, time.monotonic(), got))
                except ConnectionRefusedError:
                    tally["refused"] += 1
                except OSError as e:
                    tally["other"].append((t0, time.monotonic(), str(e)))
                time.sleep(0.002)

        threads = [threading.Thread(target=client) for _ in range(n)]
        for t in threads:
            t.start()
        return stop, threads, tally

    def test_without_the_store_a_restart_refuses(self):
        """The control: FDSTORE=0, nothing stored, and the same restart refuses clients."""
        self.start(fdstore=False)
        self.m.pump(0.3)
        self.assertEqual(self.m.store, {})
        stop, threads, tally = self.clients()
        try:
            time.sleep(0.3)
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(20)
            time.sleep(0.1)
            self.start(fdstore=False)
            time.sleep(0.3)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        print("without the store: %d answered, %d refused" % (tally["ok"], tally["refused"]))
        self.assertGreater(tally["refused"], 0)

    def test_restart_and_crash_refuse_nobody(self):
        self.start()
        self.m.wait_for(lambda: len(self.m.store) == 2)
        names = sorted(self.m.store)
        self.assertEqual(names, ["upcased-listener-tcp-all-%d-127.0.0.1" % self.port,
                                 "upcased-listener-udp-all-%d-127.0.0.1" % self.port])
        stop, threads, tally = self.clients()
        kills = []
        try:
            for how in ("restart", "crash", "restart"):
                time.sleep(0.3)
                before = tally["ok"]
                self.m.messages.clear()
                if how == "restart":
                    self.proc.send_signal(signal.SIGTERM)
                else:
                    kills.append(time.monotonic())
                    self.proc.send_signal(signal.SIGKILL)
                self.proc.wait(20)
                t0 = time.monotonic()
                self.start()
                print("%s: the new process ready %.0f ms after the old one exited"
                      % (how, (time.monotonic() - t0) * 1000))
                time.sleep(0.3)
                self.assertGreater(tally["ok"], before)
        finally:
            stop.set()
            for t in threads:
                t.join(30)
        log = self.read_log()
        self.assertEqual(log.count("taking 2 listening sockets back from systemd's file "
                                   "descriptor store"), 3, log)
        print("clients: %d answered, %d refused, other %s" % (tally["ok"], tally["refused"],
                                                             tally["other"][:5]))
        self.assertEqual(tally["refused"], 0)
        # A crash loses what the dead process had accepted (its connections
        # die with it); nothing else may fail.
        lost = [o for o in tally["other"] if not any(o[0] <= k <= o[1] for k in kills)]
        self.assertEqual(lost, [])
        # UDP served too, on the stored socket.
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.sendto(b"udp ok", ("127.0.0.1", self.port))
        self.assertEqual(u.recv(100), b"UDP OK")
        u.close()

    def test_reload_stores_and_removes(self):
        self.start()
        self.m.wait_for(lambda: len(self.m.store) == 2)
        self.write_conf([self.port2])
        self.proc.send_signal(signal.SIGHUP)
        want = {"upcased-listener-tcp-all-%d-127.0.0.1" % self.port2,
                "upcased-listener-udp-all-%d-127.0.0.1" % self.port2}
        self.m.wait_for(lambda: set(self.m.store) == want)
        removed = [x.get("FDNAME") for x in self.m.messages if x.get("FDSTOREREMOVE") == "1"]
        self.assertEqual(sorted(removed),
                         ["upcased-listener-tcp-all-%d-127.0.0.1" % self.port,
                          "upcased-listener-udp-all-%d-127.0.0.1" % self.port])
        # No FDSTORE variable: nothing stored (systemd without a store, or none at all).
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(20)

    def test_upgrade_stores_and_removes_as_main(self):
        """SIGUSR2 with a file that moved the listeners to another port: the
        new process tells the store once it is the main process, not before
        (systemd would drop it), so the store ends up with the new ports only."""
        self.start()
        old = self.proc.pid
        self.m.main_pid = old
        self.m.wait_for(lambda: len(self.m.store) == 2)
        self.write_conf([self.port2])
        self.proc.send_signal(signal.SIGUSR2)
        self.m.wait_for(lambda: self.m.main_pid != old and
                        any(x.get("READY") == "1" for x in self.m.messages[-3:]), 20)
        self.proc.wait(20)
        new = self.m.main_pid
        want = {"upcased-listener-tcp-all-%d-127.0.0.1" % self.port2,
                "upcased-listener-udp-all-%d-127.0.0.1" % self.port2}
        try:
            self.m.wait_for(lambda: set(self.m.store) == want, 5)
        finally:
            print("store %s; dropped from non-main pids: %s"
                  % (sorted(self.m.store), [(p, sorted(f)) for p, f in self.m.dropped]))
            os.kill(new, signal.SIGTERM)
            for _ in range(400):
                if not os.path.exists("/proc/%d" % new):
                    break
                time.sleep(0.05)


if __name__ == "__main__":
    if not built_with_systemd():
        print("built --without-systemd: no fd store")
        sys.exit(77)
    unittest.main(verbosity=2)
