#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""Live upgrade (SIGUSR2): every listener and open connection handed to the
binary at the path upcased was started from, with nothing lost.

- 200 TCP connections stream random Unicode in random chunk sizes (split
  anywhere, UTF-8 sequences included) through 10 consecutive upgrades,
  every byte checked against Python's str.upper(): half of them end their
  input (shutdown) midway and must get everything and a clean end of
  file; 20 others stop reading so that output is pending at the handover.
  0 mismatches, 0 errors, 0 connections closed on us, and a new PID each
  time.
- UDP under load through upgrades: every datagram answered (loss counted
  and reported; 0 on loopback).
- The file applies as at a start (tcp.threads, a new listener, two UDP
  shards, a UTF-8 character split across the handover); socket
  activation; privileges dropped (user = nobody: the new process is not
  root).
- A broken new binary (exits 1, sleeps for ever, crashes after it got the
  descriptors, says it is ready and is gone before the go, rejects the
  configuration with 78, an older handover format): the old process keeps serving every connection, says why at
  err, counts the failure, and a later SIGUSR2 succeeds.  A second
  SIGUSR2 during an upgrade is ignored with a log line.
"""
import os
import random
import selectors
import shutil
import signal
import socket
import stat
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from harness import (UPCASED, UPCASE, built_with_systemd, free_port, run,  # noqa: E402
                     tcp_roundtrip)

ALPHABET = ("abcdefghijklmnopqrstuvwxyz ABC 0123456789\n" "ßéèêàçñøåæœ" "αβγδεζηθλμπσςω"
            "абвгдежзийклмнопрстуфхцчшщыэюя" "中文字符日本語かなカナ한국어" "ǆǅŉΐﬀﬁ")


def random_text(rng, n):
    return "".join(rng.choice(ALPHABET) for _ in range(n))


class Upgradable:
    """upcased started from a copy of the binary in a temp dir, so that a
    test can replace the file (as apt or make install do) before SIGUSR2.
    The serving PID is read from the pidfile."""

    def __init__(self, extra="", activated=None, rundir=""):
        """activated: sockets to pass as systemd does (LISTEN_FDS from 3);
        rundir: a subdirectory for the pidfile and control socket (made by
        the daemon)."""
        self.dir = tempfile.mkdtemp(prefix="upcase-upgrade-")
        os.chmod(self.dir, 0o755)
        self.exe = os.path.join(self.dir, "upcased")
        shutil.copy2(UPCASED, self.exe)
        self.port = free_port()
        run_dir = os.path.join(self.dir, rundir)
        self.pidfile = os.path.join(run_dir, "upcased.pid")
        self.ctl = os.path.join(run_dir, "ctl")
        self.conf = os.path.join(self.dir, "upcased.conf")
        self.extra = extra
        self.write_conf()
        os.chmod(self.conf, 0o644)
        self.log_path = os.path.join(self.dir, "log")
        self.log = open(self.log_path, "wb")
        import subprocess
        cmd, env, keep, place = [self.exe, "-f", "-c", self.conf], None, [], None
        if activated:
            fds = [sk.fileno() for sk in activated]
            env = dict(os.environ, LISTEN_FDS=str(len(fds)))
            cmd = ["/bin/sh", "-c", 'LISTEN_PID=$$; export LISTEN_PID; exec "$0" "$@"'] + cmd
            keep = list(range(3, 3 + len(fds)))
            high = [os.dup(fd) + 0 for fd in fds]

            def place():
                for i, fd in enumerate(high):
                    os.dup2(fd, 3 + i)
        self.first = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                      pass_fds=keep, preexec_fn=place)
        if activated:
            for fd in high:
                os.close(fd)
            self.port = activated[0].getsockname()[1]
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.first.poll() is not None:
                raise RuntimeError("upcased exited: " + self.read_log())
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                if os.path.exists(self.pidfile) and self.read_pid():
                    break
            except OSError:
                pass
            time.sleep(0.02)
        self.pid = self.read_pid()
        self.upgrades = 0

    def write_conf(self, text=None):
        with open(self.conf, "w") as f:
            f.write(text if text is not None else
                    'listen = ( { address = "127.0.0.1"; port = %d; } );\n'
                    'pidfile = "%s";\ncontrol_socket = "%s";\n%s\n'
                    % (self.port, self.pidfile, self.ctl, self.extra))

    def read_pid(self):
        try:
            with open(self.pidfile) as f:
                return int(f.read().strip() or 0)
        except (OSError, ValueError):
            return 0

    def read_log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")

    def wait_log(self, needle, count=1, timeout=20):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.read_log().count(needle) >= count:
                return
            time.sleep(0.02)
        raise AssertionError("no %r (x%d) in the log:\n%s" % (needle, count, self.read_log()))

    def upgrade(self, timeout=20):
        """SIGUSR2; returns (new pid, seconds until the pidfile names it)."""
        old = self.pid
        t0 = time.monotonic()
        os.kill(old, signal.SIGUSR2)
        deadline = t0 + timeout
        while time.monotonic() < deadline:
            new = self.read_pid()
            if new and new != old and os.path.exists("/proc/%d" % new):
                break
            time.sleep(0.002)
        else:
            raise AssertionError("no new pid after SIGUSR2:\n" + self.read_log())
        took = time.monotonic() - t0
        # The old one exits by itself.
        while os.path.exists("/proc/%d" % old) and time.monotonic() < deadline:
            if old == self.first.pid and self.first.poll() is not None:
                break
            time.sleep(0.005)
        if old == self.first.pid:
            self.first.wait(5)
            assert self.first.returncode == 0, self.first.returncode
        self.pid = new
        self.upgrades += 1
        return new, took

    def stats(self):
        out = run([UPCASE, "--stats", "-S", self.ctl])[1].decode()
        vals = {}
        for line in out.splitlines():
            if line and not line.startswith("#"):
                k, _, v = line.rpartition(" ")
                try:
                    # Per-worker samples ({worker="0"}) are summed under the family.
                    fam = k.split("{")[0] if 'worker="' in k else k
                    vals[fam] = vals.get(fam, 0) + float(v) if fam != k else float(v)
                except ValueError:
                    pass
        return vals

    def stop(self):
        if self.pid and os.path.exists("/proc/%d" % self.pid):
            os.kill(self.pid, signal.SIGTERM)
            deadline = time.monotonic() + 20
            while os.path.exists("/proc/%d" % self.pid) and time.monotonic() < deadline:
                if self.pid == self.first.pid:
                    self.first.wait(20)
                    break
                time.sleep(0.02)
            if os.path.exists("/proc/%d" % self.pid):
                os.kill(self.pid, signal.SIGKILL)
        if self.first.poll() is None:
            self.first.kill()
            self.first.wait()
        self.log.close()
        self.pidfile_left = os.path.exists(self.pidfile)
        log = self.read_log()
        shutil.rmtree(self.dir, ignore_errors=True)
        # Every process of the line wrote here: a sanitizer's report in any fails the test.
        for mark in ("ERROR: AddressSanitizer", "runtime error:", "WARNING: ThreadSanitizer"):
            if mark in log:
                raise AssertionError("%s in the daemons' log:\n%s" % (mark, log[-6000:]))

    def replace_binary(self, content=None, path=None):
        """Put a new file at the path (rename over it, as dpkg does)."""
        tmp = self.exe + ".new"
        if path is not None:
            shutil.copy2(path, tmp)
        else:
            with open(tmp, "w") as f:
                f.write(content)
            os.chmod(tmp, 0o755)
        os.rename(tmp, self.exe)


class Stream:
    """One client connection: sends a random text in random chunks, checks
    every byte that comes back against str.upper()."""

    def __init__(self, port, rng, size, half_close_at=None, stall=False, rcvbuf=0):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            # Before connect: shrunk after it, the window already offered
            # makes the kernel drop data and back off for seconds.
            self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect(("127.0.0.1", port))
        self.s.setblocking(False)
        text = random_text(rng, size)
        self.data = text.encode()
        self.want = text.upper().encode()
        self.sent = 0
        self.got = bytearray()
        self.rng = rng
        self.half_close_at = half_close_at   # upgrade number after which input ends
        self.half_closed = False
        self.stall = stall                   # does not read until told
        self.eof = False
        self.error = None

    def send_some(self, limit):
        if self.sent >= min(limit, len(self.data)):
            return
        n = self.rng.choice((1, 2, 3, 7, 100, 1000, 4000))
        end = min(self.sent + n, len(self.data), limit)
        try:
            self.sent += self.s.send(self.data[self.sent:end])
        except BlockingIOError:
            pass
        except OSError as e:
            self.error = "send: %s" % e

    def recv_some(self):
        try:
            b = self.s.recv(65536)
        except BlockingIOError:
            return
        except OSError as e:
            self.error = "recv: %s" % e
            return
        if not b:
            self.eof = True
            return
        at = len(self.got)
        self.got += b
        if self.want[at:len(self.got)] != b:
            self.error = "mismatch at byte %d" % at


class Upgrade(unittest.TestCase):
    def setUp(self):
        self.d = Upgradable(extra="upgrade_timeout = 3;")

    def tearDown(self):
        self.d.stop()

    def drive(self, streams, until, stop_event, limit_of):
        """Send and receive on every stream until stop_event and all done."""
        sel = selectors.DefaultSelector()
        for st in streams:
            sel.register(st.s, selectors.EVENT_READ, st)
        while True:
            for st in streams:
                if st.error or st.eof:
                    continue
                if st.half_closed:
                    continue
                st.send_some(limit_of(st))
                if (st.half_close_at is not None and st.sent == len(st.data) and
                        self.d.upgrades >= st.half_close_at):
                    st.s.shutdown(socket.SHUT_WR)
                    st.half_closed = True
            for key, _ in sel.select(timeout=0.005):
                st = key.data
                if st.stall and not stop_event.is_set():
                    continue
                st.recv_some()
                if st.eof or st.error:
                    sel.unregister(st.s)
            done = all(st.error or st.eof or
                       (not st.half_close_at and len(st.got) == len(st.want))
                       for st in streams)
            if stop_event.is_set() and (done or time.monotonic() > until):
                return
            time.sleep(0.002)

    def test_streams_through_ten_upgrades(self):
        rng = random.Random(1312)
        streams = []
        for i in range(200):
            # Even ones end their input after the 5th upgrade: half-closed.
            streams.append(Stream(self.d.port, random.Random(rng.random()),
                                  rng.randint(3000, 12000),
                                  half_close_at=5 if i % 2 == 0 else None))
        # Clients that do not read: the server holds output for them.
        for i in range(20):
            streams.append(Stream(self.d.port, random.Random(rng.random()), 150000,
                                  stall=True, rcvbuf=4096))
        stop = threading.Event()
        # Pace: the whole text goes out over the ten upgrades, not before.
        t_start = time.monotonic()
        span = 6.0

        def limit_of(st):
            if st.stall:
                return len(st.data)
            frac = min(1.0, (time.monotonic() - t_start) / span)
            return int(len(st.data) * frac)

        driver = threading.Thread(target=self.drive,
                                  args=(streams, time.monotonic() + 40, stop, limit_of))
        driver.start()
        # New clients all the while: those in the accept queue at a
        # handover are the new process's to serve.
        fresh = {"ok": 0, "failed": []}

        def connector():
            i = 0
            while not stop.is_set():
                i += 1
                try:
                    got = tcp_roundtrip(self.d.port, ("new %d ω" % i).encode())
                    if got == ("NEW %d Ω" % i).encode():
                        fresh["ok"] += 1
                    else:
                        fresh["failed"].append(got)
                except OSError as e:
                    fresh["failed"].append(str(e))
                time.sleep(0.005)

        conn_thread = threading.Thread(target=connector)
        conn_thread.start()
        pids = [self.d.pid]
        took = []
        pending_seen = 0
        try:
            for k in range(10):
                time.sleep(0.45)
                listing = run([UPCASE, "--connections", "-S", self.d.ctl])[1].decode()
                pending_seen += listing.count("flushing")
                pid, secs = self.d.upgrade()
                pids.append(pid)
                took.append(secs)
        finally:
            stop.set()
            driver.join(180)
            conn_thread.join(30)
        self.assertEqual(fresh["failed"], [])
        self.assertGreater(fresh["ok"], 10)
        errors = [(i, st.error) for i, st in enumerate(streams) if st.error]
        self.assertEqual(errors, [])
        short = [(i, len(st.got), len(st.want), st.sent, len(st.data), st.eof)
                 for i, st in enumerate(streams) if len(st.got) != len(st.want)]
        if short:
            # What the server says of them: which worker, state, bytes.
            ports = {"127.0.0.1:%d" % streams[i].s.getsockname()[1] for i, *_ in short}
            listing = run([UPCASE, "--connections", "-S", self.d.ctl])[1].decode()
            print("short streams (index, got, want, sent, size, eof): %s\nserver's view:\n%s"
                  % (short, "\n".join(l for l in listing.splitlines()
                                      if l.split(" ")[0] in ports) or "(none listed)"))
            print(self.d.read_log()[-3000:])
        self.assertEqual(short, [], "streams short of their answer")
        # The half-closed ones got a clean end of file after all of it; the
        # others were never closed on.
        for i, st in enumerate(streams):
            if st.half_close_at:
                self.assertTrue(st.eof, "stream %d: no end of file" % i)
            else:
                self.assertFalse(st.eof, "stream %d closed by the server" % i)
        self.assertEqual(len(set(pids)), 11, pids)
        self.assertGreater(pending_seen, 0, "no connection had output pending at a handover")
        nbytes = sum(len(st.want) for st in streams)
        print("220 streams, %d bytes checked, through 10 upgrades; pids %s; SIGUSR2 to "
              "new pid: median %.0f ms, max %.0f ms; connections flushing at the "
              "handovers: %d; %d new connections made meanwhile, all answered"
              % (nbytes, pids, sorted(took)[5] * 1000, max(took) * 1000, pending_seen,
                 fresh["ok"]))
        s = self.d.stats()
        self.assertEqual(s.get("upcased_upgrades_total"), 10)
        self.assertEqual(s.get("upcased_tcp_connections_open"), 100 + 20)
        self.assertEqual(s.get("upcased_tcp_connections_accepted_total"),
                         220 + fresh["ok"] + 1)   # the readiness probe
        for st in streams:
            st.s.close()

    def test_udp_through_upgrades(self):
        socks = [socket.socket(socket.AF_INET, socket.SOCK_DGRAM) for _ in range(4)]
        for s in socks:
            s.connect(("127.0.0.1", self.d.port))
            s.setblocking(False)
        stop = threading.Event()
        result = {"sent": 0, "answered": 0, "wrong": 0, "lost": 0}

        def load():
            sel = selectors.DefaultSelector()
            outstanding = [dict() for _ in socks]
            for i, s in enumerate(socks):
                sel.register(s, selectors.EVENT_READ, i)
            seq = 0
            while not stop.is_set() or any(outstanding):
                now = time.monotonic()
                for i, s in enumerate(socks):
                    while not stop.is_set() and len(outstanding[i]) < 8:
                        seq += 1
                        msg = ("dgram %d ß é %d" % (i, seq)).encode()
                        try:
                            s.send(msg)
                        except BlockingIOError:
                            break
                        outstanding[i][msg.decode().upper().encode()] = now
                        result["sent"] += 1
                    for m, t in list(outstanding[i].items()):
                        if now - t > 2.0:
                            del outstanding[i][m]
                            result["lost"] += 1
                for key, _ in sel.select(timeout=0.01):
                    i = key.data
                    try:
                        b = socks[i].recv(2048)
                    except BlockingIOError:
                        continue
                    if b in outstanding[i]:
                        del outstanding[i][b]
                        result["answered"] += 1
                    else:
                        result["wrong"] += 1

        t = threading.Thread(target=load)
        t.start()
        try:
            for _ in range(5):
                time.sleep(0.3)
                self.d.upgrade()
            time.sleep(0.3)
        finally:
            stop.set()
            t.join(30)
        print("UDP 4 sockets x 8 outstanding through 5 upgrades: %(sent)d sent, "
              "%(answered)d answered, %(lost)d lost, %(wrong)d wrong" % result)
        self.assertEqual(result["wrong"], 0)
        self.assertEqual(result["lost"], 0)
        self.assertEqual(result["answered"], result["sent"])
        self.assertGreater(result["sent"], 100)
        for s in socks:
            s.close()


class Variants(unittest.TestCase):
    """An upgrade applies the file as a start-up does; under socket
    activation; with privileges dropped."""

    def query(self, port, text="variant straße"):
        return tcp_roundtrip(port, text.encode()) == text.upper().encode()

    def udp_query(self, port):
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        u.settimeout(5)
        u.sendto("ωmega".encode(), ("127.0.0.1", port))
        ok = u.recv(100) == "ΩMEGA".encode()
        u.close()
        return ok

    def test_the_file_applies_as_at_start(self):
        d = Upgradable(extra="tcp = { threads = 2; };\nudp = { threads = 2; };")
        try:
            held = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            held.sendall(b"held \xc3")          # half of an \xc3\xa9 (e acute)
            time.sleep(0.1)
            other = free_port()
            d.write_conf('listen = ( { address = "127.0.0.1"; port = %d; }, '
                         '{ address = "127.0.0.1"; port = %d; } );\n'
                         'pidfile = "%s";\ncontrol_socket = "%s";\n'
                         'tcp = { threads = 3; };\nudp = { threads = 2; };\n'
                         % (d.port, other, d.pidfile, d.ctl))
            d.upgrade()
            listing = run([UPCASE, "--stats", "-S", d.ctl])[1].decode()
            # tcp.threads needs a restart on reload; an upgrade applies it.
            self.assertIn('worker="tcp2"', listing)
            self.assertTrue(self.query(other), "the new listener")
            self.assertTrue(self.query(d.port))
            # Both UDP shards (udp.threads = 2) handed over and served.
            for _ in range(8):
                self.assertTrue(self.udp_query(d.port))
            held.sendall(b"\xa9 done")
            want = "HELD É DONE".encode()
            got = b""
            held.settimeout(10)
            while len(got) < len(want):
                got += held.recv(100)
            self.assertEqual(got, want)
            held.close()
        finally:
            d.stop()

    @unittest.skipUnless(built_with_systemd(), "built --without-systemd: no socket activation")
    def test_socket_activation(self):
        tcp = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        tcp.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        tcp.bind(("127.0.0.1", 0))
        tcp.listen(16)
        udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        udp.bind(("127.0.0.1", tcp.getsockname()[1]))
        d = Upgradable(activated=[tcp, udp])
        tcp.close()
        udp.close()
        try:
            self.assertTrue(self.query(d.port))
            d.upgrade()
            d.upgrade()
            self.assertTrue(self.query(d.port))
            self.assertTrue(self.udp_query(d.port))
            self.assertEqual(d.read_log().count("using 2 sockets passed by systemd"), 3)
        finally:
            d.stop()

    @unittest.skipUnless(os.geteuid() == 0, "needs root: user = nobody")
    def test_user_dropped(self):
        d = Upgradable(extra='user = "nobody";', rundir="run")
        try:
            self.assertEqual(os.stat("/proc/%d" % d.pid).st_uid, 65534)
            held = socket.create_connection(("127.0.0.1", d.port), timeout=10)
            pid, _ = d.upgrade()
            # Not root: it runs as the user already, and takes over.
            self.assertEqual(os.stat("/proc/%d" % pid).st_uid, 65534)
            held.sendall(b"still here")
            self.assertEqual(held.recv(100), b"STILL HERE")
            held.close()
            self.assertTrue(self.query(d.port))
        finally:
            d.stop()
        self.assertFalse(d.pidfile_left, "the pidfile outlived the daemon")


CRASHER = r'''#!/usr/bin/env python3
# Speaks the new process's part until it holds every descriptor, then dies.
import os, socket, struct
fd = int(os.environ["UPCASED_UPGRADE_FD"])
s = socket.socket(fileno=fd)
s.send(b"H\0\0\0" + struct.pack("=I", VERSION))
fds = []
while True:
    msg, got, flags, addr = socket.recv_fds(s, 1 << 17, 253)
    fds += got
    if not msg or msg[:1] == b"E":
        break
open(NOTE, "w").write("%d\n" % len(fds))
if READY:
    # Says it is ready, but will hear nothing more (as if gone before the
    # go: shut down first, so the old one's GO fails for sure): it must
    # serve on.
    s.shutdown(socket.SHUT_RD)
    s.send(b"R\0\0\0\0\0\0\0")
    import time
    time.sleep(1)
    os._exit(0)
os.abort()
'''


class BrokenBinary(unittest.TestCase):
    def setUp(self):
        self.d = Upgradable(extra="upgrade_timeout = 2;")
        self.socks = []
        for i in range(30):
            s = socket.create_connection(("127.0.0.1", self.d.port), timeout=10)
            self.socks.append(s)
        self.round = 0
        self.check_all()

    def tearDown(self):
        for s in self.socks:
            s.close()
        self.d.stop()

    def check_all(self):
        """Every connection still served, by the same process."""
        self.round += 1
        for i, s in enumerate(self.socks):
            msg = ("round %d conn %d straße ǆ" % (self.round, i)).encode()
            s.sendall(msg)
            want = msg.decode().upper().encode()
            got = b""
            while len(got) < len(want):
                b = s.recv(4096)
                self.assertTrue(b, "connection %d closed" % i)
                got += b
            self.assertEqual(got, want)

    def fails(self, why, settle=0.0):
        before = self.d.read_log().count("upgrade failed")
        pid = self.d.pid
        t0 = time.monotonic()
        os.kill(pid, signal.SIGUSR2)
        if settle:
            time.sleep(settle)
            os.kill(pid, signal.SIGUSR2)   # a second one while it runs
        self.d.wait_log("upgrade failed", count=before + 1)
        took = time.monotonic() - t0
        log = self.d.read_log()
        self.assertIn(why, log)
        self.assertEqual(self.d.read_pid(), pid)
        self.assertTrue(os.path.exists("/proc/%d" % pid))
        self.check_all()
        return took, log

    def test_broken_binaries_then_a_good_one(self):
        # Exits 1 at once.
        self.d.replace_binary("#!/bin/sh\nexit 1\n")
        took, _ = self.fails("went away before it was ready to take over, without a word")
        print("exit 1: failure noticed in %.0f ms" % (took * 1000))
        # Sleeps for ever: killed after upgrade_timeout; a second SIGUSR2 meanwhile ignored.
        self.d.replace_binary("#!/bin/sh\nexec sleep 1000\n")
        took, log = self.fails("did not say it was ready to take over within upgrade_timeout",
                               settle=0.3)
        self.assertIn("received SIGUSR2 during an upgrade", log)
        self.assertGreaterEqual(took, 1.9)
        print("sleeps for ever: killed after %.1f s" % took)
        # Crashes once it holds every descriptor.
        note = os.path.join(self.d.dir, "crasher-note")
        crasher = CRASHER.replace("NOTE", repr(note)).replace("READY", "False")
        self.d.replace_binary(crasher.replace("VERSION", "1"))
        self.fails("went away before it was ready to take over")
        with open(note) as f:
            got = int(f.read())
        self.assertGreaterEqual(got, 30 + 2)   # the connections and both listeners
        print("crashed holding %d descriptors: old process serves on" % got)
        # Ready, then gone before the go.
        self.d.replace_binary(CRASHER.replace("NOTE", repr(note)).replace("READY", "True")
                              .replace("VERSION", "1"))
        self.fails("telling pid")
        # An older handover format: refused before anything is frozen.
        self.d.replace_binary(crasher.replace("VERSION", "0"))
        self.fails("reads handover format 0, older than this one writes")
        # The real binary, but the configuration is broken: it exits 78.
        self.d.replace_binary(path=UPCASED)
        with open(self.d.conf) as f:
            good = f.read()
        with open(self.d.conf, "a") as f:
            f.write("max_connections = \"many\";\n")
        self.fails("rejects the configuration (exit 78): %s:" % self.d.conf)
        s = self.d.stats()
        self.assertEqual(s.get("upcased_upgrade_failures_total"), 6)
        self.assertEqual(s.get("upcased_upgrades_total"), 0)
        # Fixed: the next SIGUSR2 goes through, and every connection with it.
        self.d.write_conf(good)
        pid, _ = self.d.upgrade()
        self.check_all()
        s = self.d.stats()
        self.assertEqual(s.get("upcased_upgrades_total"), 1)
        self.assertEqual(s.get("upcased_upgrade_failures_total"), 6)
        self.assertEqual(s.get("upcased_tcp_connections_open"), 30)
        # The failures were logged at err (-f: "<3>" only when stderr is the journal).
        self.assertNotIn("unexpected message", self.d.read_log())


if __name__ == "__main__":
    unittest.main(verbosity=2)
