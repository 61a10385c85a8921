# SPDX-License-Identifier: ISC
"""harness.py: start the real upcased on a free loopback port and talk to it.

Every process a test starts is stopped by its PID.  Only loopback addresses
are used.  Paths to the binaries come from the environment that make check
sets (UPCASED, UPCASE); run by hand, they default to the build tree.
"""
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.environ.get("TOP_SRCDIR", os.path.dirname(HERE))
UPCASED = os.environ.get("UPCASED", os.path.join(TOP, "src", "upcased"))
UPCASE = os.environ.get("UPCASE", os.path.join(TOP, "src", "upcase"))
BUILDDIR = os.environ.get("TOP_BUILDDIR",
                          os.path.dirname(os.path.dirname(os.path.abspath(UPCASED))))
BENCHMARK = os.environ.get("BENCHMARK", os.path.join(BUILDDIR, "src", "upcase-benchmark"))


def built_with_systemd():
    """False only when the build's config.h says --without-systemd."""
    import re
    try:
        with open(os.path.join(BUILDDIR, "config.h")) as f:
            return re.search(r"^#define HAVE_SYSTEMD 1", f.read(), re.M) is not None
    except OSError:
        return True


def sanitizer(path=None):
    """The sanitizer the daemon (or path) was built with: "address" (ASan,
    with or without UBSan), "thread" (TSan), "undefined" (UBSan alone) or
    None.  They intercept malloc, so an LD_PRELOAD allocator or valgrind
    cannot run under the first two.  The runtime's entry point is named in
    the binary's dynamic symbols (gcc) or linked in (clang)."""
    try:
        with open(path or UPCASED, "rb") as f:
            data = f.read()
    except OSError:
        return None
    for sym, name in ((b"__asan_init", "address"), (b"__tsan_init", "thread"),
                      (b"__ubsan_handle_", "undefined")):
        if sym in data:
            return name
    return None


def py_upper(data: bytes) -> bytes:
    """The reference transformation: Python's str.upper(), invalid bytes unchanged."""
    return data.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape")


def free_port(host="127.0.0.1"):
    """A port free for both TCP and UDP on host."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    for _ in range(100):
        t = socket.socket(fam, socket.SOCK_STREAM)
        t.bind((host, 0))
        port = t.getsockname()[1]
        u = socket.socket(fam, socket.SOCK_DGRAM)
        try:
            u.bind((host, port))
        except OSError:
            t.close()
            continue
        t.close()
        u.close()
        return port
    raise RuntimeError("no free port")


def make_conf(port, listen=None, extra="", address="127.0.0.1"):
    """A config text: listeners on address:port (tcp+udp) unless listen is given."""
    if listen is None:
        listen = '{ address = "%s"; port = %d; tcp = true; udp = true; }' % (address, port)
    return (
        "listen = ( %s );\n"
        'control_socket = "";\n'
        "%s\n" % (listen, extra)
    )


def with_test_io(text):
    """text with io = "$UPCASE_TEST_IO"; added at its end when it sets no io
    of its own: so the black-box suite runs against the epoll loop and the
    io_uring loop alike (./dev: make check with the shipped "auto", the
    ASan/UBSan distcheck with "epoll")."""
    io = os.environ.get("UPCASE_TEST_IO")
    if not io or re.search(r"(?<![\w.])io\s*[=:]", text):
        return text
    return text + ("" if text.endswith("\n") or not text else "\n") + 'io = "%s";\n' % io


class PortTaken(RuntimeError):
    """The port free_port() found was taken before the daemon bound it
    (other tests run in parallel): try another."""


class Daemon:
    """upcased in the foreground with a config written to a temp dir."""

    def __init__(self, conf_text=None, port=None, extra="", args=(), env=None,
                 wait=True, address="127.0.0.1", prefix=(), preexec_fn=None,
                 ready_timeout=10.0):
        # prefix: a command that runs the daemon (valgrind ...); preexec_fn:
        # run in the child before exec (resource limits).
        self.prefix = list(prefix)
        self.preexec_fn = preexec_fn
        self.ready_timeout = ready_timeout
        # A port it chose itself may be taken meanwhile: it tries another.
        for attempt in range(5):
            try:
                self._start(conf_text, port, extra, args, env, wait, address)
                return
            except PortTaken:
                self.log.close()
                if port or conf_text is not None or attempt == 4:
                    raise

    def _start(self, conf_text, port, extra, args, env, wait, address):
        self.dir = tempfile.mkdtemp(prefix="upcase-test-")
        # A wildcard listener needs its port free on every address.
        self.port = port or free_port("0.0.0.0" if address in ("*", "0.0.0.0") else address)
        self.address = "127.0.0.1" if address in ("*", "0.0.0.0") else address
        if address == "::":
            self.address = "::1"
        self.conf_path = os.path.join(self.dir, "upcased.conf")
        if conf_text is None:
            conf_text = make_conf(self.port, extra=extra, address=address)
        self.write_conf(conf_text)
        self.log_path = os.path.join(self.dir, "upcased.log")
        self.log = open(self.log_path, "wb")
        e = dict(os.environ)
        if env:
            e.update(env)
        self.proc = subprocess.Popen(
            self.prefix + [UPCASED, "-f", "-c", self.conf_path] + list(args),
            stdout=self.log, stderr=subprocess.STDOUT, env=e, preexec_fn=self.preexec_fn)
        self.pid = self.proc.pid
        if wait:
            self.wait_ready(self.ready_timeout)

    def write_conf(self, text):
        with open(self.conf_path, "w") as f:
            f.write(with_test_io(text))

    def wait_ready(self, timeout=10.0):
        fam = socket.AF_INET6 if ":" in self.address else socket.AF_INET
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                log = self.read_log()
                cls = PortTaken if "Address already in use" in log else RuntimeError
                raise cls("upcased exited early (%s):\n%s" % (self.proc.returncode, log))
            s = socket.socket(fam, socket.SOCK_STREAM)
            try:
                s.connect((self.address, self.port))
                s.close()
                return
            except OSError:
                s.close()
                time.sleep(0.02)
        raise RuntimeError("upcased not ready:\n" + self.read_log())

    def read_log(self):
        if not self.log.closed:
            self.log.flush()
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def wait_log(self, needle, timeout=10.0, after=0):
        """Wait until needle appears in the log (past offset after); return the log."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            text = self.read_log()
            if needle in text[after:]:
                return text
            time.sleep(0.02)
        raise AssertionError("log never showed %r:\n%s" % (needle, self.read_log()))

    def send_signal(self, sig):
        os.kill(self.pid, sig)

    def _status_kib(self, field):
        with open("/proc/%d/status" % self.pid) as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
        return 0

    def cpu_seconds(self):
        """User plus system CPU time the daemon has used, all threads."""
        with open("/proc/%d/stat" % self.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        # utime and stime are fields 14 and 15 of proc(5); fields[0] is field 3.
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def rss_kib(self):
        return self._status_kib("VmRSS")

    def hwm_kib(self):
        """Peak RSS."""
        return self._status_kib("VmHWM")

    def stop(self, sig=signal.SIGTERM, timeout=20.0):
        """Stop by PID; return the exit code."""
        if self.proc.poll() is None:
            os.kill(self.pid, sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                os.kill(self.pid, signal.SIGKILL)
                self.proc.wait()
                raise AssertionError("upcased did not stop within %ss:\n%s" % (timeout, self.read_log()))
        self.log.close()
        return self.proc.returncode

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.proc.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.proc.wait()
        if not self.log.closed:
            self.log.close()
        if exc[0] is not None:
            sys.stderr.write("---- upcased log ----\n" + self.read_log() + "\n")
        return False


def tcp_roundtrip(port, data, host="127.0.0.1", timeout=10.0):
    """Send data, shut down the write side, read everything back."""
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect((host, port))
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        return recv_all(s)


def tcp_stream(port, chunks, host="127.0.0.1", pause_every=0, pause=0.001):
    """Send chunks on one connection while a thread reads; half-close;
    return everything that came back.  With pause_every, sleep after every
    pause_every-th chunk so the server sees those cuts on their own."""
    import threading
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    got = []
    with socket.socket(fam, socket.SOCK_STREAM) as s:
        s.settimeout(30)
        s.connect((host, port))
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

        def reader():
            while True:
                b = s.recv(65536)
                if not b:
                    return
                got.append(b)
        t = threading.Thread(target=reader, daemon=True)
        t.start()
        for n, c in enumerate(chunks):
            s.sendall(c)
            if pause_every and n % pause_every == 0:
                time.sleep(pause)
        s.shutdown(socket.SHUT_WR)
        t.join(60)
        if t.is_alive():
            raise AssertionError("TCP reply never ended")
    return b"".join(got)


def fill_until_stalled(s, settle=0.5, limit=30.0):
    """Send on a non-blocking socket until the peer has stopped taking data
    for settle seconds (its buffers and ours are full).  Returns bytes sent."""
    s.setblocking(False)
    sent = 0
    chunk = b"a" * 65536
    last_progress = time.monotonic()
    deadline = last_progress + limit
    while time.monotonic() < deadline:
        try:
            sent += s.send(chunk)
            last_progress = time.monotonic()
        except BlockingIOError:
            if time.monotonic() - last_progress >= settle:
                return sent
            time.sleep(0.01)
    raise AssertionError("peer never stopped reading")


def recv_all(s):
    chunks = []
    while True:
        b = s.recv(65536)
        if not b:
            break
        chunks.append(b)
    return b"".join(chunks)


def recv_exactly(s, n):
    chunks = []
    got = 0
    while got < n:
        b = s.recv(min(65536, n - got))
        if not b:
            break
        chunks.append(b)
        got += len(b)
    return b"".join(chunks)


def udp_roundtrip(port, data, host="127.0.0.1", timeout=5.0):
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(fam, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(data, (host, port))
        reply, _ = s.recvfrom(70000)
        return reply


def raise_nofile(want):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    new = min(max(soft, want), hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
    return new


def wait_path(path, timeout=10.0):
    """Wait until path exists: the control socket is made after the
    listeners, so a daemon may accept TCP a moment before it is there."""
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise AssertionError("%s never appeared" % path)
        time.sleep(0.01)


def daemons_using(conf_path):
    """PIDs of live upcased processes started with conf_path (a test's own
    temporary config: no other process names it)."""
    pids = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % name, "rb") as f:
                argv = f.read().split(b"\0")
            with open("/proc/%s/stat" % name) as f:
                state = f.read().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state not in ("Z", "X") and conf_path.encode() in argv and \
                os.path.basename(argv[0]) == b"upcased":
            pids.append(int(name))
    return pids


def server_skmem(port):
    """The kernel's view of the daemon's side of every established TCP
    connection on local port port, from ss -tm (iproute2): {peer port:
    {"rb": receive buffer, "tb": send buffer, "r": bytes held received,
    "w": bytes queued to send}}.  None if ss is not installed."""
    import re
    import shutil
    if shutil.which("ss") is None:
        return None
    p = subprocess.run(["ss", "-tmnH", "state", "established", "( sport = :%d )" % port],
                       capture_output=True, text=True, timeout=10)
    out = {}
    for m in re.finditer(r"\S+:(\d+)\s+skmem:\(r(\d+),rb(\d+),t\d+,tb(\d+),f\d+,w(\d+)",
                         p.stdout):
        peer, r, rb, tb, w = map(int, m.groups())
        out[peer] = {"r": r, "rb": rb, "tb": tb, "w": w}
    return out


def tcp_mem_pages():
    """The TCP line's mem field of /proc/net/sockstat: pages of kernel
    memory held by every TCP socket of the host."""
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                fields = line.split()
                return int(fields[fields.index("mem") + 1])
    raise RuntimeError("no TCP line in /proc/net/sockstat")


def run(cmd, input=None, timeout=30, env=None):
    """Run a command; return (returncode, stdout bytes, stderr bytes)."""
    p = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, env=env)
    return p.returncode, p.stdout, p.stderr


def benchmark(mode, port, args=(), host="127.0.0.1"):
    """Start upcase-benchmark (it checks every reply byte) with --json;
    returns the Popen.  Collect its result with benchmark_result()."""
    return subprocess.Popen([BENCHMARK, "--json", "--no-progress", "-h", host, "-p", str(port)]
                            + list(args) + [mode],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def benchmark_result(p, timeout=120):
    """Wait for upcase-benchmark; return (exit status, its JSON result as a
    dict ({} if there is none), stderr text)."""
    import json
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        raise AssertionError("upcase-benchmark did not finish within %ss: %s"
                             % (timeout, err.decode()))
    line = out.decode().strip().splitlines()[-1] if out.strip() else ""
    return p.returncode, json.loads(line) if line else {}, err.decode("utf-8", "replace")
