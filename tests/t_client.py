# SPDX-License-Identifier: ISC
"""The upcase client, black box, against the real daemon on loopback.

Covers the three modes (TEXT, prompt on a terminal, stream), UDP, IPv6,
host names, --stats, the exit codes of upcase(1) and its error messages.
"""
import errno
import os
import random
import re
import select
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import unittest

import harness
from harness import Daemon, py_upper, run

UPCASE = harness.UPCASE
PROMPT = b"Input lowercase sentence:"


def mixed_data(size, seed):
    """size bytes of text: ASCII, multibyte UTF-8 (some of it growing when
    upper-cased), invalid and truncated sequences, newlines."""
    rng = random.Random(seed)
    tokens = [
        b"hello", b"world", b" ", b" ", b"\n", b"\r\n", b"\t",
        "straße".encode(), "ﬃ".encode(), "ΐ".encode(), "ǅ".encode(),
        "ς".encode(), "𐐨".encode(), "日本語".encode(), "déjà vu".encode(),
        "ı i".encode(), b"\xff", b"\xfe", b"\xc3", b"\xe2\x82",
        b"\xed\xa0\x80", b"\xc0\x80", b"\xf4\x90\x80\x80", b"\x00",
    ]
    out = bytearray()
    while len(out) < size:
        out += b"".join(rng.choices(tokens, k=4096))
        out += bytes(rng.randrange(256) for _ in range(64))
    return bytes(out[:size])


def vm_hwm_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    return 0


class Pty:
    """The client on a pseudo-terminal, as a person at a terminal runs it."""

    def __init__(self, args):
        self.master, slave = os.openpty()
        self.proc = subprocess.Popen([UPCASE] + args, stdin=slave,
                                     stdout=slave, stderr=slave)
        os.close(slave)
        self.seen = b""

    def read_until(self, needle, timeout=10.0):
        """Read until needle shows up after what was already consumed."""
        deadline = time.monotonic() + timeout
        while needle not in self.seen:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("no %r on the terminal; saw %r" % (needle, self.seen))
            r, _, _ = select.select([self.master], [], [], left)
            if r:
                try:
                    chunk = os.read(self.master, 4096)
                except OSError:       # EIO: the client closed the terminal
                    chunk = b""
                if not chunk:
                    raise AssertionError("terminal closed; saw %r" % self.seen)
                self.seen += chunk
        i = self.seen.index(needle) + len(needle)
        before, self.seen = self.seen[:i], self.seen[i:]
        return before

    def type(self, data):
        os.write(self.master, data)

    def finish(self, timeout=10.0):
        """Wait for the exit; return (code, rest of the output)."""
        try:
            code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise
        rest = self.seen
        while select.select([self.master], [], [], 0.1)[0]:
            try:
                chunk = os.read(self.master, 4096)
            except OSError:
                break
            if not chunk:
                break
            rest += chunk
        os.close(self.master)
        return code, rest

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


class ClientIPv4(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.addr = ["-H", "127.0.0.1", "-p", str(cls.d.port)]

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0, cls.d.read_log()

    def upcase(self, *args, input=None, timeout=60):
        return run([UPCASE] + self.addr + list(args), input=input, timeout=timeout)

    def test_text_words_joined_by_single_spaces(self):
        code, out, err = self.upcase("hello", "wörld  two", "straße")
        self.assertEqual((code, err), (0, b""))
        self.assertEqual(out, py_upper("hello wörld  two straße".encode()) + b"\n")
        self.assertEqual(out, "HELLO WÖRLD  TWO STRASSE\n".encode())

    def test_text_that_starts_with_a_dash(self):
        code, out, _ = self.upcase("--", "-n", "x")
        self.assertEqual((code, out), (0, b"-N X\n"))

    def test_pipe_two_lines(self):
        code, out, err = self.upcase(input=b"a\nb\n")
        self.assertEqual((code, out, err), (0, b"A\nB\n", b""))

    def test_pipe_adds_nothing(self):
        code, out, _ = self.upcase(input=b"no newline at the end")
        self.assertEqual((code, out), (0, b"NO NEWLINE AT THE END"))
        code, out, _ = self.upcase(input=b"")
        self.assertEqual((code, out), (0, b""))

    def test_pipe_5mib_mixed_utf8(self):
        data = mixed_data(5 * 1024 * 1024, seed=12000)
        want = py_upper(data)
        self.assertNotEqual(want, data)
        code, out, err = self.upcase(input=data, timeout=120)
        self.assertEqual((code, err), (0, b""))
        self.assertEqual(len(out), len(want))
        self.assertTrue(out == want, "stream output differs from py_upper()")

    def test_stream_memory_is_bounded(self):
        # The whole input goes through before stdin closes; had the client
        # kept it, its peak RSS would exceed the input's size.
        data = mixed_data(5 * 1024 * 1024, seed=1)
        p = subprocess.Popen([UPCASE] + self.addr, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        chunks = []
        reader = threading.Thread(target=lambda: chunks.extend(iter(lambda: p.stdout.read(65536), b"")))
        reader.start()
        try:
            hwm0 = 0
            for i in range(0, len(data), 65536):
                p.stdin.write(data[i:i + 65536])
                if i == 4 * 65536:
                    p.stdin.flush()
                    hwm0 = vm_hwm_kib(p.pid)   # after start-up (sanitizers use much)
            p.stdin.flush()
            hwm = vm_hwm_kib(p.pid)
            p.stdin.close()
            reader.join(60)
            self.assertEqual(p.wait(60), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        self.assertEqual(b"".join(chunks), py_upper(data))
        self.assertGreater(hwm0, 0)
        self.assertLess((hwm - hwm0) * 1024, len(data) * 0.5, "client held the stream in memory")

    def test_waiting_on_the_user_is_not_a_timeout(self):
        # -w is for the server: a slow writer on stdin or a slow reader on
        # stdout must not make the client give up.
        # The pause is three times the timeout; the timeout is long enough
        # for a loaded machine to answer one line within it.
        p = subprocess.Popen([UPCASE, "-w", "1"] + self.addr, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        try:
            p.stdin.write(b"a\n")
            p.stdin.flush()
            time.sleep(3.0)
            p.stdin.write(b"b\n")
            p.stdin.close()
            self.assertEqual(p.stdout.read(), b"A\nB\n")
            self.assertEqual(p.wait(10), 0)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()
        data = b"slow reader " * 100000
        p = subprocess.Popen([UPCASE, "--timeout", "0.3"] + self.addr, stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE)
        writer = threading.Thread(target=lambda: (p.stdin.write(data), p.stdin.close()))
        writer.start()
        try:
            time.sleep(1.0)
            self.assertEqual(p.stdout.read(), data.upper())
            self.assertEqual(p.wait(10), 0)
        finally:
            writer.join(10)
            if p.poll() is None:
                p.kill()
                p.wait()
            p.stdout.close()

    def test_udp_lines(self):
        code, out, err = self.upcase("-u", input="hello\nstraße\n\nlast".encode())
        self.assertEqual((code, err), (0, b""))
        self.assertEqual(out, "HELLO\nSTRASSE\n\nLAST\n".encode())

    def test_nonblocking_stdout_is_waited_for(self):
        # stdout shared with a program that made it non-blocking: a full
        # pipe is EAGAIN, which means wait, not fail.
        import fcntl
        r, w = os.pipe()
        fcntl.fcntl(w, fcntl.F_SETFL, fcntl.fcntl(w, fcntl.F_GETFL) | os.O_NONBLOCK)
        data = (b"x" * 60000 + b"\n") * 4          # more than a pipe holds
        p = subprocess.Popen([UPCASE, "-u"] + self.addr, stdin=subprocess.PIPE, stdout=w)
        os.close(w)
        feeder = threading.Thread(target=lambda: (p.stdin.write(data), p.stdin.close()))
        feeder.start()
        time.sleep(0.5)                              # let the pipe fill up
        got = []
        while True:
            b = os.read(r, 65536)
            if not b:
                break
            got.append(b)
        os.close(r)
        feeder.join(30)
        self.assertEqual(p.wait(30), 0)
        self.assertEqual(b"".join(got), data.upper())

    def test_udp_text(self):
        code, out, _ = self.upcase("-u", "udp", "ǅ")
        self.assertEqual((code, out), (0, py_upper("udp ǅ".encode()) + b"\n"))

    def test_udp_largest_datagram_and_one_more(self):
        n = 65507  # UPCASE_UDP_MAX_PAYLOAD4
        code, out, _ = self.upcase("-u", input=b"a" * n + b"\n")
        self.assertEqual((code, out), (0, b"A" * n + b"\n"))
        code, out, err = self.upcase("-u", input=b"ok\n" + b"a" * (n + 1) + b"\n")
        self.assertEqual(code, 64)
        self.assertEqual(out, b"OK\n")
        self.assertIn(b"line 2", err)

    def test_host_name_localhost(self):
        code, out, err = run([UPCASE, "-H", "localhost:%d" % self.d.port, "by", "name"])
        self.assertEqual((code, out, err), (0, b"BY NAME\n", b""))
        code, out, _ = run([UPCASE, "-u", "-H", "localhost", "-p", str(self.d.port), "udp"])
        self.assertEqual((code, out), (0, b"UDP\n"))

    def test_interactive_on_a_terminal(self):
        t = Pty(self.addr)
        try:
            t.read_until(PROMPT)
            t.type(b"hello world\n")
            self.assertIn(b"HELLO WORLD", t.read_until(PROMPT))
            t.type("straße\n".encode())
            self.assertIn(b"STRASSE", t.read_until(PROMPT))
            t.type(b"\x04")                     # Ctrl-D
            code, _ = t.finish()
            self.assertEqual(code, 0)
        finally:
            t.kill()

    def test_interactive_quiet_udp(self):
        t = Pty(["-q", "-u"] + self.addr)
        try:
            t.type(b"abc\n")
            t.read_until(b"ABC")
            t.type(b"\x04")
            code, rest = t.finish()
            self.assertEqual(code, 0)
            self.assertNotIn(PROMPT, rest)
        finally:
            t.kill()

    def test_stats_from_the_control_socket(self):
        sockdir = tempfile.mkdtemp(prefix="upcase-ctl-")
        path = os.path.join(sockdir, "upcased.sock")
        port = harness.free_port()
        conf = ('listen = ( { address = "127.0.0.1"; port = %d; tcp = true; udp = true; } );\n'
                'control_socket = "%s";\n' % (port, path))
        with Daemon(conf_text=conf, port=port) as d:
            for _ in range(500):
                if os.path.exists(path):
                    break
                time.sleep(0.01)
            code, out, _ = run([UPCASE, "-u", "-H", "127.0.0.1", "-p", str(port), "x"])
            self.assertEqual((code, out), (0, b"X\n"))
            code, out, err = run([UPCASE, "--stats", "-S", path])
            self.assertEqual((code, err), (0, b""))
            lines = out.decode().splitlines()
            self.assertTrue(lines)
            stats = {}
            for line in lines:
                # The exposition: # HELP and # TYPE, then name{labels} value.
                if line.startswith("# HELP ") or line.startswith("# TYPE "):
                    continue
                self.assertRegex(line, r'^[a-z_]+(\{[a-z_]+="[^"]*"\})? [0-9.]+$')
                name, value = line.rsplit(" ", 1)
                stats[name] = float(value)
            udp_in = [v for k, v in stats.items() if "udp_datagrams_in" in k]
            self.assertEqual(len(udp_in), 1, out)
            self.assertGreaterEqual(udp_in[0], 1)
            self.assertEqual(d.stop(), 0)
        os.rmdir(sockdir)


class ClientIPv6(unittest.TestCase):
    def test_ipv6_brackets_tcp_and_udp(self):
        with Daemon(address="::1") as d:
            hp = "[::1]:%d" % d.port
            code, out, err = run([UPCASE, "-H", hp, "over", "ipv6"])
            self.assertEqual((code, out, err), (0, b"OVER IPV6\n", b""))
            code, out, _ = run([UPCASE, "-u", "-H", hp], input=b"a\nb\n")
            self.assertEqual((code, out), (0, b"A\nB\n"))
            code, out, _ = run([UPCASE, "-6", "-H", "::1", "-p", str(d.port)], input=b"bare\n")
            self.assertEqual((code, out), (0, b"BARE\n"))
            self.assertEqual(d.stop(), 0)


class ClientStdout(unittest.TestCase):
    """Standard output that cannot take the reply: exit 74 and one line on
    stderr naming it (upcase(1), EXIT STATUS), never 0 with the reply lost."""

    @classmethod
    def setUpClass(cls):
        cls.d = Daemon()
        cls.addr = ["-H", "127.0.0.1:%d" % cls.d.port]

    @classmethod
    def tearDownClass(cls):
        assert cls.d.stop() == 0, cls.d.read_log()

    def shell(self, redirect, *args, input=b""):
        """upcase ARGS REDIRECT, as a shell runs it."""
        p = subprocess.run(["sh", "-c", 'exec "$@" ' + redirect, "sh", UPCASE] + list(args),
                           input=input, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                           timeout=30)
        return p.returncode, p.stderr

    def assert_stdout_error(self, code, err, reason):
        self.assertEqual(code, 74, err)
        self.assertEqual(err.count(b"\n"), 1, err)
        self.assertTrue(err.startswith(b"upcase: stdout: "), err)
        self.assertIn(reason, err)

    def test_closed_stdout(self):
        bad_fd = os.strerror(errno.EBADF).encode()
        for args, data in ((["hello"], b""), (["-u", "hello"], b""), ([], b"hello\n"),
                           (["-u"], b"hello\n"), (["--version"], b""), (["--help"], b"")):
            with self.subTest(args=args, stdin=data):
                code, err = self.shell(">&-", *(self.addr + args), input=data)
                self.assert_stdout_error(code, err, bad_fd)

    def test_closed_stdin_is_not_empty_input(self):
        # Stream mode reads stdin: a closed one fails as it would unopened
        # (EBADF), not as an empty file; TEXT mode does not read it.
        bad_fd = os.strerror(errno.EBADF).encode()
        for args in ([], ["-u"]):
            with self.subTest(args=args):
                p = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", UPCASE] + self.addr + args,
                                   capture_output=True, timeout=30)
                self.assertEqual((p.returncode, p.stdout), (74, b""), p.stderr)
                self.assertEqual(p.stderr, b"upcase: stdin: " + bad_fd + b"\n")
        p = subprocess.run(["sh", "-c", 'exec "$@" <&-', "sh", UPCASE] + self.addr + ["hi"],
                           capture_output=True, timeout=30)
        self.assertEqual((p.returncode, p.stdout, p.stderr), (0, b"HI\n", b""))

    def test_full_device(self):
        no_space = os.strerror(errno.ENOSPC).encode()
        for args, data in ((["hello"], b""), (["-u", "hello"], b""), ([], b"x" * 100000)):
            with self.subTest(args=args):
                code, err = self.shell(">/dev/full", *(self.addr + args), input=data)
                self.assert_stdout_error(code, err, no_space)

    def test_pipe_with_no_reader(self):
        r, w = os.pipe()
        os.close(r)
        try:
            p = subprocess.run([UPCASE] + self.addr + ["hello"], stdout=w,
                               stderr=subprocess.PIPE, timeout=30)
        finally:
            os.close(w)
        self.assert_stdout_error(p.returncode, p.stderr, os.strerror(errno.EPIPE).encode())


class ClientErrors(unittest.TestCase):
    def test_connection_refused(self):
        port = harness.free_port()
        code, out, err = run([UPCASE, "-H", "127.0.0.1", "-p", str(port), "hi"])
        self.assertEqual((code, out), (69, b""))
        self.assertEqual(err.count(b"\n"), 1)
        self.assertIn(b"127.0.0.1:%d" % port, err)
        self.assertIn(b"refused", err.lower())
        self.assertTrue(err.startswith(b"upcase: "))

    def test_server_full_is_an_error_not_an_empty_reply(self):
        # max_connections reached: the daemon accepts and closes at once.
        with Daemon(extra="max_connections = 1;") as d:
            time.sleep(0.5)    # the readiness probe's close is counted
            with socket.create_connection(("127.0.0.1", d.port), timeout=5) as held:
                held.sendall(b"x")
                self.assertEqual(held.recv(1), b"X")
                code, out, err = run([UPCASE, "-H", "127.0.0.1:%d" % d.port, "hello"])
            self.assertEqual((code, out), (74, b""), err)
            # Closed before or after "hello" arrived: no reply, or a reset.
            self.assertRegex(err, rb"without replying|reset by peer")
            self.assertEqual(d.stop(), 0)

    def test_unanswered_udp_port(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind(("127.0.0.1", 0))
            port = sink.getsockname()[1]
            start = time.monotonic()
            code, out, err = run([UPCASE, "-u", "-w", "0.2", "--retries", "2",
                                  "-H", "127.0.0.1", "-p", str(port), "anyone"])
            elapsed = time.monotonic() - start
            self.assertEqual((code, out), (75, b""))
            self.assertIn(b"127.0.0.1:%d" % port, err)
            self.assertGreaterEqual(elapsed, 0.5)
            sink.setblocking(False)
            got = []
            while True:
                try:
                    got.append(sink.recv(100))
                except BlockingIOError:
                    break
            self.assertEqual(got, [b"anyone"] * 3)     # 1 try + 2 retries

    def test_udp_port_unreachable_is_refused(self):
        # Nothing bound: loopback answers with ICMP port unreachable, which
        # the connected socket reports; no need to wait for the timeout.
        port = harness.free_port()
        start = time.monotonic()
        code, out, err = run([UPCASE, "-u", "-w", "3", "-H", "127.0.0.1", "-p", str(port), "x"])
        self.assertEqual((code, out), (69, b""))
        self.assertIn(b"127.0.0.1:%d" % port, err)
        self.assertIn(b"refused", err.lower())
        self.assertLess(time.monotonic() - start, 3)

    def test_silent_tcp_server_times_out(self):
        # The kernel accepts the connection; nobody ever answers.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(4)
            port = lsock.getsockname()[1]
            code, _, err = run([UPCASE, "-w", "0.3", "-H", "127.0.0.1", "-p", str(port), "hi"])
            self.assertEqual(code, 75)
            self.assertIn(b"127.0.0.1:%d" % port, err)

    def test_reset_mid_stream(self):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(1)
            lsock.settimeout(10)
            port = lsock.getsockname()[1]

            def reset_one():
                c, _ = lsock.accept()
                c.recv(16)
                c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
                c.close()
            t = threading.Thread(target=reset_one)
            t.start()
            code, _, err = run([UPCASE, "-H", "127.0.0.1", "-p", str(port)], input=b"x" * 100000)
            t.join(10)
            self.assertEqual(code, 74)
            self.assertIn(b"127.0.0.1:%d" % port, err)

    def test_stats_without_a_socket(self):
        path = os.path.join(tempfile.gettempdir(), "upcase-no-such-dir-%d" % os.getpid(), "s.sock")
        code, out, err = run([UPCASE, "--stats", "-S", path])
        self.assertEqual((code, out), (69, b""))
        self.assertIn(path.encode(), err)

    def test_stats_from_a_socket_that_never_answers(self):
        # A listener that never accepts (a daemon whose main thread is
        # held up): -w bounds the wait, with its backlog full (connect
        # waits) or not (the request is sent, no answer comes).
        tmp = tempfile.mkdtemp(prefix="upcase-t-client-")
        path = os.path.join(tmp, "s.sock")
        held = []
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as lst:
                lst.bind(path)
                lst.listen(0)
                took = {}
                for case in ("room in the backlog", "backlog full"):
                    if case == "backlog full":
                        while True:
                            c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                            c.setblocking(False)
                            held.append(c)
                            try:
                                c.connect(path)
                            except BlockingIOError:
                                break
                    t0 = time.monotonic()
                    code, out, err = run([UPCASE, "--stats", "-S", path, "-w", "1"],
                                         timeout=30)
                    took[case] = time.monotonic() - t0
                    self.assertEqual((code, out), (75, b""), "%s: %r" % (case, err))
                    self.assertIn(path.encode(), err)
                    self.assertRegex(err, rb"timed out")
                print("upcase --stats -w 1 on a socket nobody serves: %s"
                      % ", ".join("%s %.0f ms" % (k, v * 1000) for k, v in took.items()))
                for case, t in took.items():
                    self.assertLess(t, 5, case)
        finally:
            for c in held:
                c.close()
            shutil.rmtree(tmp, ignore_errors=True)

    def test_bad_usage(self):
        bad = [
            ["-x"], ["--bogus"], ["-p"], ["-p", "0"], ["-p", "65536"], ["-p", "12x"],
            ["-w", "0"], ["-w", "-1"], ["--timeout", "soon"], ["--retries", "-1"],
            ["-H", "[::1"], ["-H", "[::1]x"], ["-H", "host:"], ["-H", ":80"],
            ["-H", "localhost:1", "-p", "2"], ["-4", "-6"], ["-4", "-H", "::1"],
            ["--stats", "text"], ["--stats", "-u"], ["-S", "/x"],
            ["--stats", "-H", "otherhost"], ["--stats", "-p", "1"], ["--stats", "-4"],
        ]
        for args in bad:
            code, out, err = run([UPCASE] + args, input=b"")
            self.assertEqual(code, 64, args)
            self.assertEqual(out, b"", args)
            self.assertTrue(err.startswith(b"upcase: "), (args, err))

    def test_help(self):
        code, out, err = run([UPCASE, "--help"])
        self.assertEqual((code, err), (0, b""))
        self.assertIn(b"usage: upcase", out)
        for opt in (b"--host", b"--port", b"--udp", b"--timeout", b"--retries",
                    b"--quiet", b"--stats", b"--control", b"--version", b"-4", b"-6"):
            self.assertIn(opt, out)
        self.assertEqual(run([UPCASE, "-h"])[1], out)

    def test_version(self):
        with open(os.path.join(harness.TOP, "configure.ac")) as f:
            want = re.search(r"AC_INIT\(\[upcase\], \[([^]]+)\]", f.read()).group(1)
        code, out, err = run([UPCASE, "--version"])
        self.assertEqual((code, out, err), (0, ("upcase %s\n" % want).encode(), b""))
        self.assertEqual(run([UPCASE, "-V"])[1], out)


def have_ipv6_loopback():
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def hold_closed(family, host, port):
    """A TCP socket bound to host:port that does not listen: connections
    there are refused, and no other test can take the port meanwhile.
    None if the port is taken already."""
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.bind((host, port))
    except OSError:
        s.close()
        return None
    return s


class ClientTimeoutOption(unittest.TestCase):
    """-w / --timeout (as nc spells it); -t is not a client option."""

    def test_w_and_timeout_bound_a_silent_server(self):
        # The kernel accepts the connection; nobody ever answers.
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as lsock:
            lsock.bind(("127.0.0.1", 0))
            lsock.listen(8)
            port = lsock.getsockname()[1]
            took = {}
            for spelling in (["-w", "0.4"], ["-w0.4"], ["--timeout", "0.4"],
                             ["--timeout=0.4"]):
                t0 = time.monotonic()
                code, out, err = run([UPCASE] + spelling +
                                     ["-H", "127.0.0.1", "-p", str(port), "hi"], timeout=30)
                took[" ".join(spelling)] = time.monotonic() - t0
                self.assertEqual((code, out), (75, b""), (spelling, err))
                self.assertIn(b"timed out", err)
            print("silent TCP server, timeout 0.4 s: %s" %
                  ", ".join("%s %.0f ms" % (k, v * 1000) for k, v in took.items()))
            for k, v in took.items():
                # The default is 5 s: well under it means the option counted.
                self.assertGreaterEqual(v, 0.35, k)
                self.assertLess(v, 3.0, k)

    def test_w_bounds_each_udp_try(self):
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sink:
            sink.bind(("127.0.0.1", 0))
            port = sink.getsockname()[1]
            t0 = time.monotonic()
            code, out, err = run([UPCASE, "-u", "-w", "0.3", "--retries", "1",
                                  "-H", "127.0.0.1", "-p", str(port), "x"], timeout=30)
            took = time.monotonic() - t0
            print("silent UDP port, -w 0.3 --retries 1: %.0f ms" % (took * 1000))
            self.assertEqual((code, out), (75, b""), err)
            self.assertGreaterEqual(took, 0.55)
            self.assertLess(took, 4.0)

    def test_t_is_an_unknown_option(self):
        for args in (["-t", "1", "hi"], ["-t1", "hi"], ["--stats", "-t", "1"],
                     ["-qt", "1", "hi"]):
            code, out, err = run([UPCASE] + args, input=b"")
            self.assertEqual((code, out), (64, b""), args)
            self.assertEqual(err, b"upcase: unknown option -t\n"
                             b"Try 'upcase --help' for more information.\n", args)

    def test_help_names_w(self):
        code, out, err = run([UPCASE, "--help"])
        self.assertEqual((code, err), (0, b""))
        self.assertIn(b"-w, --timeout SECONDS", out)
        self.assertIn(b"[-w seconds]", out)
        self.assertNotRegex(out, rb"(?<![-\w])-t\b")


class ClientNoHost(unittest.TestCase):
    """No -H: 127.0.0.1, then ::1 (as -4 / -6 allow), not "localhost"."""

    def no_host(self, port, *args, input=None):
        return run([UPCASE, "-w", "5", "-p", str(port)] + list(args), input=input)

    def daemon_beside_a_closed_port(self, address, other_family, other):
        """A daemon on address, with the same port held (refusing TCP) on
        the other loopback address."""
        for _ in range(5):
            d = Daemon(address=address)
            held = hold_closed(other_family, other, d.port)
            if held is not None:
                return d, held
            self.assertEqual(d.stop(), 0)
        self.fail("no port free on both loopback addresses")

    def test_reaches_a_daemon_on_127_0_0_1(self):
        if have_ipv6_loopback():
            d, held = self.daemon_beside_a_closed_port("127.0.0.1", socket.AF_INET6, "::1")
        else:
            d, held = Daemon(), None
        try:
            for args in ([], ["-4"]):
                code, out, err = self.no_host(d.port, *args, "no", "host")
                self.assertEqual((code, out, err), (0, b"NO HOST\n", b""), args)
                code, out, err = self.no_host(d.port, "-u", *args, input=b"a\nb\n")
                self.assertEqual((code, out, err), (0, b"A\nB\n", b""), args)
            if held is not None:
                code, out, err = self.no_host(d.port, "-6", "x")
                self.assertEqual((code, out), (69, b""), err)
                self.assertEqual(err, b"upcase: [::1]:%d: Connection refused\n" % d.port)
        finally:
            if held is not None:
                held.close()
            self.assertEqual(d.stop(), 0, d.read_log())

    def test_reaches_a_daemon_on_ipv6_loopback_only(self):
        if not have_ipv6_loopback():
            self.skipTest("no IPv6 loopback")
        d, held = self.daemon_beside_a_closed_port("::1", socket.AF_INET, "127.0.0.1")
        try:
            for args in ([], ["-6"]):
                code, out, err = self.no_host(d.port, *args, "over", "six")
                self.assertEqual((code, out, err), (0, b"OVER SIX\n", b""), args)
                # UDP: 127.0.0.1 answers port unreachable, then ::1 replies.
                code, out, err = self.no_host(d.port, "-u", *args, input=b"a\nb\n")
                self.assertEqual((code, out, err), (0, b"A\nB\n", b""), args)
            code, out, err = self.no_host(d.port, "-4", "x")
            self.assertEqual((code, out), (69, b""), err)
            self.assertEqual(err, b"upcase: 127.0.0.1:%d: Connection refused\n" % d.port)
        finally:
            held.close()
            self.assertEqual(d.stop(), 0, d.read_log())

    def test_nothing_there_names_both_addresses(self):
        port = harness.free_port()
        code, out, err = self.no_host(port, "x")
        self.assertEqual((code, out), (69, b""), err)
        if have_ipv6_loopback():
            self.assertEqual(err, b"upcase: 127.0.0.1:%d, [::1]:%d: Connection refused\n"
                             % (port, port))
        else:
            self.assertTrue(err.startswith(b"upcase: 127.0.0.1:%d, [::1]:%d: " % (port, port)),
                            err)

    def test_localhost_is_not_looked_up(self):
        # What /etc/hosts says about "localhost" must not matter: the
        # client opens no name-service file at all without -H.
        strace = shutil.which("strace")
        if strace is None:
            self.skipTest("no strace")
        port = harness.free_port()
        with tempfile.TemporaryDirectory(prefix="upcase-t-client-") as tmp:
            trace = os.path.join(tmp, "trace")
            code, out, err = run([strace, "-f", "-qq", "-e", "trace=open,openat",
                                  "-o", trace, UPCASE, "-w", "2", "-p", str(port), "x"])
            if code != 69 or not os.path.exists(trace):
                self.skipTest("strace cannot trace here: %r" % err)
            with open(trace) as f:
                opened = f.read()
            self.assertIn("libc.so", opened)    # the trace saw the loader
            for name in ("/etc/hosts", "/etc/nsswitch.conf", "/etc/resolv.conf",
                         "/etc/gai.conf"):
                self.assertNotIn(name, opened)
            # And with -H localhost it does: the check can see a lookup.
            code, out, err = run([strace, "-f", "-qq", "-e", "trace=open,openat",
                                  "-o", trace, UPCASE, "-w", "2", "-H", "localhost",
                                  "-p", str(port), "x"])
            with open(trace) as f:
                self.assertIn("/etc/hosts", f.read())


if __name__ == "__main__":
    unittest.main()
