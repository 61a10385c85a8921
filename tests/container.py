# SPDX-License-Identifier: ISC
"""A throwaway Debian system with a real systemd, for the tests that need
one (tests/t_package.py, tests/t_realsystemd.py).

The base system is made once with debootstrap (--variant=minbase plus
systemd, dbus and what the tests run inside it) and cached outside the
source tree, in $UPCASE_ROOTFS_CACHE (default /var/cache/upcase-test),
keyed by the suite and the package list, so a later run, a later checkout
or make distcheck reuses it.  Each Container boots its own copy of it
(systemd-nspawn --ephemeral: removed when the container stops), with only a
loopback interface (--private-network), and is driven from the host with
nsenter into all of its namespaces, as a shell inside it would be.

    with container.Container() as c:
        c.put("/etc/upcased.conf", text)
        out = c.check(["systemctl", "start", "upcased"])

Container() raises Unavailable, with why, when no container can be had
here (not root, no debootstrap or systemd-nspawn, no mirror); the tests
skip then, with that message.
"""

import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time

CACHE = os.environ.get("UPCASE_ROOTFS_CACHE", "/var/cache/upcase-test")

# What the tests need inside: systemd as PID 1 and its bus; python3 and
# socat as independent clients; the libraries upcase links with, so that a
# make install or the .deb runs without apt reaching a mirror.
PACKAGES = ["systemd", "systemd-sysv", "dbus", "procps", "python3", "socat",
            "libconfig9", "libunistring2", "libsystemd0", "libmicrohttpd12", "liburing2"]

BOOT_TIMEOUT = 90.0
STOP_TIMEOUT = 30.0


class Unavailable(Exception):
    """No container here: the message says why."""


def _os_release():
    vals = {}
    try:
        with open("/etc/os-release") as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                vals[k] = v.strip('"')
    except OSError:
        pass
    return vals


def _suite():
    return os.environ.get("UPCASE_ROOTFS_SUITE") or _os_release().get("VERSION_CODENAME", "")


def _debian_entries(text):
    """(uris, suites, components) of each entry of a one-line (.list) or
    deb822 (.sources) apt source text."""
    out = []
    for line in text.splitlines():
        m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)\s*(.*)", line)
        if m:
            out.append(([m.group(1)], [m.group(2)], m.group(3).split()))
    for stanza in re.split(r"\n\s*\n", text):
        fields = {}
        for line in stanza.splitlines():
            k, sep, v = line.partition(":")
            if sep and not line.startswith((" ", "#")):
                fields[k.strip().lower()] = v.split()
        if "deb" in fields.get("types", []) and "uris" in fields:
            out.append((fields["uris"], fields.get("suites", []), fields.get("components", [])))
    return out


def _mirror():
    """The host's own Debian mirror: an apt source of the suite's "main"
    at a .../debian path (not a third-party repository that happens to
    come first), else deb.debian.org."""
    if os.environ.get("UPCASE_ROOTFS_MIRROR"):
        return os.environ["UPCASE_ROOTFS_MIRROR"]
    suite = _suite()
    paths = ["/etc/apt/sources.list"]
    d = "/etc/apt/sources.list.d"
    if os.path.isdir(d):
        paths += [os.path.join(d, n) for n in sorted(os.listdir(d))]
    for p in paths:
        try:
            with open(p) as f:
                text = f.read()
        except OSError:
            continue
        for uris, suites, comps in _debian_entries(text):
            if suite not in suites or "main" not in comps:
                continue
            for uri in uris:
                if uri.startswith(("http://", "https://")) and uri.rstrip("/").endswith("/debian"):
                    return uri
    return "http://deb.debian.org/debian"


def missing_tools():
    """Why no container can be made here, or None."""
    if os.geteuid() != 0:
        return "not root (debootstrap and systemd-nspawn need root)"
    for tool in ("debootstrap", "systemd-nspawn", "nsenter"):
        if shutil.which(tool) is None:
            return "%s is not installed (./dev installs it as root)" % tool
    if not _suite():
        return "no Debian suite in /etc/os-release (set UPCASE_ROOTFS_SUITE)"
    return None


def rootfs():
    """The cached base system, made if it is not there yet: its path."""
    why = missing_tools()
    if why:
        raise Unavailable(why)
    suite = _suite()
    key = hashlib.sha256((suite + " " + " ".join(PACKAGES)).encode()).hexdigest()[:12]
    os.makedirs(CACHE, mode=0o755, exist_ok=True)
    path = os.path.join(CACHE, "rootfs-%s-%s" % (suite, key))
    with open(os.path.join(CACHE, "lock"), "w") as lock:
        # Tests run in parallel: one makes it, the others wait for it.
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.exists(os.path.join(path, ".complete")):
            return path
        tmp = path + ".new"
        shutil.rmtree(tmp, ignore_errors=True)
        log = os.path.join(CACHE, "debootstrap.log")
        cmd = ["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
               suite, tmp, _mirror()]
        t0 = time.monotonic()
        with open(log, "w") as out:
            try:
                rc = subprocess.run(cmd, stdout=out, stderr=subprocess.STDOUT,
                                    stdin=subprocess.DEVNULL, timeout=900).returncode
            except subprocess.TimeoutExpired:
                rc = "timed out"
        if rc != 0:
            shutil.rmtree(tmp, ignore_errors=True)
            with open(log, errors="replace") as f:
                tail = "".join(f.readlines()[-5:])
            raise Unavailable("debootstrap %s from %s failed (%s); the end of %s:\n%s"
                              % (suite, _mirror(), rc, log, tail))
        # nspawn needs name resolution for localhost and a machine-id to boot.
        with open(os.path.join(tmp, "etc/hosts"), "w") as f:
            f.write("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost\n")
        with open(os.path.join(tmp, "etc/hostname"), "w") as f:
            f.write("upcase-test\n")
        with open(os.path.join(tmp, ".complete"), "w") as f:
            f.write("%s %s %.0f s\n" % (suite, " ".join(PACKAGES), time.monotonic() - t0))
        shutil.rmtree(path, ignore_errors=True)
        os.rename(tmp, path)
        return path


class Container:
    """A booted copy of rootfs(); stop() (or leaving the with block) powers
    it off and removes the copy."""

    def __init__(self, binds=()):
        """binds: (host_path, container_path) pairs, mounted read-only."""
        self.base = rootfs()
        self.log = tempfile.NamedTemporaryFile(prefix="upcase-nspawn-", suffix=".log",
                                               delete=False)
        self.name = "upcase-%d-%d" % (os.getpid(), int(time.monotonic() * 1000) % 100000)
        cmd = ["systemd-nspawn", "--quiet", "--register=no", "--keep-unit",
               "--private-network", "--ephemeral", "--console=pipe",
               "--machine=" + self.name, "-D", self.base]
        for host, inside in binds:
            cmd.append("--bind-ro=%s:%s" % (host, inside))
        cmd.append("-b")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        self.leader = None
        try:
            self._wait_boot()
        except BaseException:
            self.stop()
            raise

    def _wait_boot(self):
        deadline = time.monotonic() + BOOT_TIMEOUT
        while self.leader is None:
            if self.proc.poll() is not None:
                raise AssertionError("systemd-nspawn exited %d before booting:\n%s"
                                     % (self.proc.returncode, self.console()))
            if time.monotonic() > deadline:
                raise AssertionError("no container init within %.0f s:\n%s"
                                     % (BOOT_TIMEOUT, self.console()))
            try:
                with open("/proc/%d/task/%d/children" % (self.proc.pid, self.proc.pid)) as f:
                    kids = f.read().split()
            except OSError:
                kids = []
            # nspawn's first child only sets up and exits; the container's
            # init (made a child of nspawn too) is the one in another PID
            # namespace.
            for kid in kids:
                try:
                    if os.readlink("/proc/%s/ns/pid" % kid) != os.readlink("/proc/self/ns/pid"):
                        self.leader = int(kid)
                        break
                except OSError:
                    pass
            if self.leader is None:
                time.sleep(0.05)
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError("the container did not finish booting in %.0f s:\n%s\n%s"
                                     % (BOOT_TIMEOUT, self.run(["systemctl", "--failed",
                                                                "--no-pager"]).stdout,
                                        self.console()))
            r = self.run(["systemctl", "is-system-running", "--wait"],
                         timeout=max(1.0, left))
            state = r.stdout.strip()
            if state in ("running", "degraded"):
                self.boot_state = state
                return
            time.sleep(0.2)

    def console(self):
        """What the container printed on its console so far."""
        with open(self.log.name, errors="replace") as f:
            return f.read()

    def run(self, cmd, input=None, timeout=60.0, check=False):
        """cmd run inside (all of its namespaces, root, a plain PATH):
        a CompletedProcess with text stdout and stderr."""
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8", "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0"}
        if isinstance(input, str):
            input = input.encode()
        try:
            p = subprocess.run(["nsenter", "-t", str(self.leader), "-a", "--"] + list(cmd),
                               input=input, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, timeout=timeout,
                               stdin=None if input is not None else subprocess.DEVNULL)
        except subprocess.TimeoutExpired as e:
            raise AssertionError("%s: no exit within %.0f s (output so far %r %r)"
                                 % (" ".join(cmd), timeout, e.stdout, e.stderr))
        p.stdout = p.stdout.decode(errors="replace")
        p.stderr = p.stderr.decode(errors="replace")
        if check and p.returncode != 0:
            raise AssertionError("%s: exit %d\n%s%s" % (" ".join(cmd), p.returncode,
                                                         p.stdout, p.stderr))
        return p

    def check(self, cmd, input=None, timeout=60.0):
        """run(), failing unless cmd exits 0: its standard output."""
        return self.run(cmd, input=input, timeout=timeout, check=True).stdout

    def popen(self, cmd, **kw):
        """cmd started inside, not waited for (stop it by its Popen)."""
        env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "LANG": "C.UTF-8"}
        return subprocess.Popen(["nsenter", "-t", str(self.leader), "-a", "--"] + list(cmd),
                                env=env, **kw)

    def path(self, inside):
        """The host's path to a file inside (through /proc/PID/root)."""
        return "/proc/%d/root/%s" % (self.leader, inside.lstrip("/"))

    def put(self, inside, data, mode=0o644):
        """Write a file inside (its directory must exist)."""
        if isinstance(data, str):
            data = data.encode()
        fd = os.open(self.path(inside), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
        try:
            os.write(fd, data)
            os.fchmod(fd, mode)
        finally:
            os.close(fd)

    def get(self, inside):
        with open(self.path(inside), "rb") as f:
            return f.read()

    def stop(self):
        """Power off (SIGKILL after STOP_TIMEOUT); the copy is removed."""
        if self.proc.poll() is None:
            if self.leader is not None:
                try:
                    self.run(["systemctl", "poweroff", "--no-block"], timeout=10)
                except AssertionError:
                    pass
            else:
                self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.log.close()
        try:
            os.unlink(self.log.name)
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()
