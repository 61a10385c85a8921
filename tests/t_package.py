#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""t_package.py: the Debian package, built, linted, installed, upgraded and
purged.

From a copy of the tracked files (git ls-files: working-tree edits
included, build products not), dpkg-buildpackage -us -uc -b builds the
.deb with DEB_BUILD_OPTIONS=nocheck (make check, which runs this test, has
already run the tests on the same sources); lintian must report no error
and no warning; dpkg-deb must show exactly the files the package ships
(nothing else: no test helper) and /etc/upcased.conf as its one conffile.
Then, in a throwaway Debian 12 booted with a real systemd
(tests/container.py; the host is not touched): apt-get install ./upcase_*.deb
enables and starts upcased.service, not upcased.socket, and upcased
answers upcase and an independent Python client over TCP and UDP; an edit
of /etc/upcased.conf (a comment and another port) survives an upgrade to
a copy of the package with a higher version, which restarts the service
(a new MainPID, now on the edited port); a second upgrade whose own
upcased.conf changed makes dpkg ask (no answer on standard input: dpkg
stops) and --force-confold keeps the edit, the new one beside it as
.dpkg-dist; dpkg --purge leaves the file system as it was before the
install (the list of paths with type, mode and owner, and the content of
every file under /etc), no upcased process, and no unit.

Skipped with a message when debhelper, lintian or dpkg-dev is missing, or
no container can be had (not root, no debootstrap or systemd-nspawn): in
CI, which ./dev gives all of them, that is a failure instead.  Skipped
also under ASan or TSan builds (make distcheck; the plain make check runs
it), outside a git checkout (a tarball: make distcheck again) and inside
a package build.
"""
import os
import re
import shutil
import subprocess
import tempfile
import time
import unittest

import container
import harness

TOP = os.path.realpath(harness.TOP)
BUILD_TOOLS = (("dpkg-buildpackage", "dpkg-dev"), ("dpkg-deb", "dpkg"),
               ("dh", "debhelper"), ("lintian", "lintian"), ("git", "git"),
               ("readelf", "binutils"))

# Every file the package ships, and nothing else (dh_compress gzips the
# man pages and the larger documents).
SHIPPED = {
    "etc/upcased.conf": 0o644,
    "lib/systemd/system/upcased.service": 0o644,
    "lib/systemd/system/upcased.socket": 0o644,
    "usr/bin/upcase": 0o755,
    "usr/bin/upcase-benchmark": 0o755,
    "usr/sbin/upcased": 0o755,
    "usr/share/man/man1/upcase.1.gz": 0o644,
    "usr/share/man/man1/upcase-benchmark.1.gz": 0o644,
    "usr/share/man/man5/upcased.conf.5.gz": 0o644,
    "usr/share/man/man8/upcased.8.gz": 0o644,
    "usr/share/doc/upcase/README.md.gz": 0o644,
    "usr/share/doc/upcase/NEWS.gz": 0o644,
    "usr/share/doc/upcase/changelog.gz": 0o644,
    "usr/share/doc/upcase/copyright": 0o644,
}

# The file system inside the container, as a list of paths with their
# type, mode and owner, and the checksum of every file under /etc and of
# dpkg's status file.  Left out: the kernel's and the runtime's file
# systems (/run/upcased is checked on its own), logs, caches, apt's own
# records and dpkg's backup of its status file.  Kept in: the rest of
# /var/lib, so that dpkg's records of the package (/var/lib/dpkg/info)
# and deb-systemd-helper's of its units (/var/lib/systemd) must go too.
SNAPSHOT = r"""
find / -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run \
  -o -path /tmp -o -path /var/tmp -o -path /var/log -o -path /var/cache \
  -o -path /var/lib/apt -o -path '/var/lib/dpkg/*-old' -o -path /debs \) -prune \
  -o -printf '%y %m %u:%g %p\n' | LC_ALL=C sort
find /etc -xdev -type f -exec sha256sum {} + | LC_ALL=C sort -k2
sha256sum /var/lib/dpkg/status
"""

# An independent client, run inside: python3's socket module, TCP (send,
# half-close, read to the end) or UDP (one datagram; retried, as the
# daemon binds UDP just after TCP).
CLIENT = r"""
import socket, sys, time
proto, port, text = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
if proto == "tcp":
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    s.sendall(text)
    s.shutdown(socket.SHUT_WR)
    out = b""
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
else:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.settimeout(1)
    for _ in range(10):
        s.sendto(text, ("127.0.0.1", port))
        try:
            out = s.recvfrom(70000)[0]
            break
        except socket.timeout:
            continue
    else:
        sys.exit("no UDP reply")
sys.stdout.write(out.decode())
"""

TEXT = "hello, Straße ωμέγα"


def in_ci():
    return bool(os.environ.get("CI"))


def ac_init_version():
    with open(os.path.join(TOP, "configure.ac")) as f:
        m = re.search(r"^AC_INIT\(\[[^]]*\], \[([^]]+)\]", f.read(), re.M)
    return m.group(1)


def run(cmd, cwd=None, env=None, timeout=120, log=None):
    """cmd's CompletedProcess (text); output to log (a path) if given."""
    if log:
        with open(log, "w") as out:
            p = subprocess.run(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                               stdin=subprocess.DEVNULL, timeout=timeout)
        with open(log, errors="replace") as f:
            p.stdout = f.read()
        return p
    return subprocess.run(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                          universal_newlines=True, timeout=timeout)


class Package(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.times = []
        san = harness.sanitizer()
        if san in ("address", "thread"):
            raise unittest.SkipTest("upcased is built with the %s sanitizer; the package "
                                    "is built and tested by the plain make check" % san)
        if os.environ.get("DEB_RULES_REQUIRES_ROOT") is not None:
            raise unittest.SkipTest("inside a package build (dpkg-buildpackage)")
        missing = [pkg for tool, pkg in BUILD_TOOLS if shutil.which(tool) is None]
        if missing:
            why = "%s not installed (./dev installs them as root)" % " ".join(missing)
            if in_ci():
                raise AssertionError("in CI: " + why)
            raise unittest.SkipTest(why)
        top = subprocess.run(["git", "-C", TOP, "rev-parse", "--show-toplevel"],
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True)
        if top.returncode != 0 or os.path.realpath(top.stdout.strip()) != TOP:
            raise unittest.SkipTest("%s is not a git checkout (a tarball, as under make "
                                    "distcheck): the package is built from the tracked "
                                    "files" % TOP)
        why = container.missing_tools()
        if why:
            if in_ci():
                raise AssertionError("in CI, no container: " + why)
            raise unittest.SkipTest("no container to install the package in: " + why)
        cls.tmp = tempfile.mkdtemp(prefix="upcase-deb-")
        try:
            cls.build()
        except BaseException:
            shutil.rmtree(cls.tmp, ignore_errors=True)
            raise

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)
        print("timings: " + ", ".join("%s %.1f s" % t for t in cls.times))

    @classmethod
    def timed(cls, what, t0):
        cls.times.append((what, time.monotonic() - t0))

    @classmethod
    def build(cls):
        cls.version = ac_init_version()
        cls.arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        src = os.path.join(cls.tmp, "upcase-" + cls.version)
        files = subprocess.run(["git", "-C", TOP, "ls-files", "-z"], stdout=subprocess.PIPE,
                               check=True).stdout.decode().split("\0")
        copied = 0
        for rel in filter(None, files):
            path = os.path.join(TOP, rel)
            if not os.path.lexists(path):
                continue            # deleted in the working tree
            os.makedirs(os.path.join(src, os.path.dirname(rel)), exist_ok=True)
            shutil.copy2(path, os.path.join(src, rel), follow_symlinks=False)
            copied += 1
        print("%d tracked files copied to %s" % (copied, src))
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("MAKE", "MFLAGS", "DEB_")) and k not in
               ("UPCASED", "UPCASE", "TOP_SRCDIR", "TOP_BUILDDIR", "PYTHONPATH",
                "CFLAGS", "CPPFLAGS", "LDFLAGS")}
        # make check has run the tests on these sources (it runs this one).
        env["DEB_BUILD_OPTIONS"] = "nocheck"
        t0 = time.monotonic()
        log = os.path.join(cls.tmp, "build.log")
        p = run(["dpkg-buildpackage", "-us", "-uc", "-b", "-j2"], cwd=src, env=env,
                timeout=900, log=log)
        cls.timed("dpkg-buildpackage", t0)
        if p.returncode != 0:
            raise AssertionError("dpkg-buildpackage: exit %d; the end of its output:\n%s"
                                 % (p.returncode, "\n".join(p.stdout.splitlines()[-60:])))
        base = "upcase_%s_%s" % (cls.version, cls.arch)
        cls.deb = os.path.join(cls.tmp, base + ".deb")
        cls.changes = os.path.join(cls.tmp, base + ".changes")
        if not os.path.isfile(cls.deb):
            raise AssertionError("no %s after the build: %s" % (cls.deb, os.listdir(cls.tmp)))

    def test_changelog_version_is_configure_version(self):
        # A native package: its version is the release's, as AC_INIT says.
        v = run(["dpkg-parsechangelog", "-l", os.path.join(TOP, "debian", "changelog"),
                 "-S", "Version"]).stdout.strip()
        self.assertEqual(v, self.version)

    def test_lintian_clean(self):
        t0 = time.monotonic()
        p = run(["lintian", "--fail-on", "error,warning", "--display-info", self.changes],
                timeout=300)
        self.timed("lintian", t0)
        print("lintian (exit %d):\n%s" % (p.returncode, p.stdout or "(nothing)\n"))
        self.assertEqual(p.returncode, 0, p.stdout)
        self.assertNotRegex(p.stdout, r"(?m)^[EW]: ")

    def test_contents_and_conffiles(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout
        print(listing)
        files = {}
        for line in listing.splitlines():
            f = line.split()
            perms, owner, path = f[0], f[1], f[5]
            if perms.startswith("d"):
                continue
            self.assertEqual(owner, "root/root", line)
            self.assertTrue(perms.startswith("-"), "not a plain file: " + line)
            mode = sum(0o400 >> i for i, c in enumerate(perms[1:10]) if c != "-")
            files[re.sub(r"^\./", "", path)] = mode
        self.assertEqual(files, SHIPPED)
        fields = run(["dpkg-deb", "-f", self.deb, "Package", "Version", "Architecture",
                      "Depends"]).stdout
        self.assertIn("Package: upcase\n", fields)
        self.assertIn("Version: %s\n" % self.version, fields)
        self.assertIn("Architecture: %s\n" % self.arch, fields)
        for lib in ("libc6", "libconfig9", "libsystemd0", "libunistring2", "libmicrohttpd12"):
            self.assertRegex(fields, r"Depends:.*\b%s\b" % lib)
        self.assertEqual(run(["dpkg-deb", "-I", self.deb, "conffiles"]).stdout,
                         "/etc/upcased.conf\n")
        # What is shipped is the sample config and the unit built for /usr.
        root = os.path.join(self.tmp, "x")
        subprocess.run(["dpkg-deb", "-x", self.deb, root], check=True)
        with open(os.path.join(root, "etc/upcased.conf"), "rb") as a, \
                open(os.path.join(TOP, "etc/upcased.conf"), "rb") as b:
            self.assertEqual(a.read(), b.read())
        with open(os.path.join(root, "lib/systemd/system/upcased.service")) as f:
            self.assertIn("\nExecStart=/usr/sbin/upcased -f -c /etc/upcased.conf\n", f.read())
        # hardening=+all (bookworm's dpkg: pie, relro, bindnow, fortify,
        # stackprotectorstrong, format) reached the binaries.
        for prog in ("usr/sbin/upcased", "usr/bin/upcase"):
            dyn = run(["readelf", "-d", os.path.join(root, prog)]).stdout
            self.assertRegex(dyn, r"FLAGS_1\).*\bNOW\b.*\bPIE\b", prog)
            syms = run(["readelf", "--dyn-syms", "-W", os.path.join(root, prog)]).stdout
            self.assertIn("__stack_chk_fail", syms, prog)
            self.assertRegex(syms, r"__\w+_chk\b(?<!stack_chk)", prog + ": nothing fortified")

    def rebuilt(self, version, conf_extra=None):
        """The .deb again with another version (and upcased.conf with
        conf_extra appended), repacked, not rebuilt: its path."""
        tree = os.path.join(self.tmp, "re-" + version)
        subprocess.run(["dpkg-deb", "-R", self.deb, tree], check=True)
        ctl = os.path.join(tree, "DEBIAN", "control")
        with open(ctl) as f:
            text = f.read()
        with open(ctl, "w") as f:
            f.write(re.sub(r"(?m)^Version: .*$", "Version: " + version, text))
        if conf_extra:
            with open(os.path.join(tree, "etc/upcased.conf"), "a") as f:
                f.write(conf_extra)
        out = os.path.join(self.debs, "upcase_%s_%s.deb" % (version, self.arch))
        subprocess.run(["dpkg-deb", "--root-owner-group", "-b", tree, out], check=True,
                       stdout=subprocess.DEVNULL)
        shutil.rmtree(tree)
        return "/debs/" + os.path.basename(out)

    def serves(self, c, port):
        """upcase and the Python client, TCP and UDP, on port inside."""
        want = TEXT.upper()
        self.assertEqual(c.check(["upcase", "-p", str(port), TEXT]).strip(), want)
        self.assertEqual(c.check(["upcase", "-u", "-p", str(port), TEXT]).strip(), want)
        for proto in ("tcp", "udp"):
            self.assertEqual(c.check(["python3", "-c", CLIENT, proto, str(port), TEXT]),
                             want, proto)

    def diff(self, before, after):
        a = os.path.join(self.tmp, "before")
        b = os.path.join(self.tmp, "after")
        with open(a, "w") as f:
            f.write(before)
        with open(b, "w") as f:
            f.write(after)
        return run(["diff", "-u", "--label", "before install", "--label", "after purge",
                    a, b]).stdout

    def main_pid(self, c):
        pid = int(c.check(["systemctl", "show", "-p", "MainPID", "--value",
                           "upcased.service"]))
        self.assertNotEqual(pid, 0, "upcased.service has no main process")
        return pid

    def test_install_upgrade_purge(self):
        self.debs = os.path.join(self.tmp, "debs")
        os.mkdir(self.debs)
        shutil.copy(self.deb, self.debs)
        first = "/debs/" + os.path.basename(self.deb)
        up1 = self.rebuilt(self.version + "+t1")
        up2 = self.rebuilt(self.version + "+t2", "# t_package: upstream's change in +t2\n")
        t0 = time.monotonic()
        try:
            c = container.Container(binds=[(self.debs, "/debs")])
        except container.Unavailable as e:
            if in_ci():
                raise AssertionError("in CI, no container: %s" % e)
            self.skipTest("no container to install the package in: %s" % e)
        with c:
            self.timed("container boot", t0)
            self.lifecycle(c, first, up1, up2)
        self.timed("container in all (boot to power-off)", t0)

    def lifecycle(self, c, first, up1, up2):
        before = c.check(["sh", "-c", SNAPSHOT])
        apt = ["env", "DEBIAN_FRONTEND=noninteractive", "apt-get", "install", "-y",
               "--no-install-recommends"]

        # Install, as README says (apt install ./upcase_*.deb).
        t0 = time.monotonic()
        out = c.check(apt + [first], timeout=180)
        self.timed("install", t0)
        print(out)
        self.assertEqual(c.run(["systemctl", "is-enabled", "upcased.service"]).stdout,
                         "enabled\n")
        self.assertEqual(c.run(["systemctl", "is-active", "upcased.service"]).stdout,
                         "active\n", c.run(["journalctl", "-u", "upcased", "--no-pager"]).stdout)
        self.assertEqual(c.run(["systemctl", "is-enabled", "upcased.socket"]).stdout,
                         "disabled\n")
        self.assertEqual(c.run(["systemctl", "is-active", "upcased.socket"]).stdout,
                         "inactive\n")
        pid1 = self.main_pid(c)
        status = c.check(["cat", "/proc/%d/status" % pid1])
        uid = re.search(r"(?m)^Uid:\s+(\d+)", status).group(1)
        self.assertNotEqual(uid, "0", "upcased runs as root")
        print("upcased.service: MainPID %d, uid %s (DynamicUser)" % (pid1, uid))
        self.serves(c, 12000)
        self.assertIn("/etc/upcased.conf ",
                      c.check(["dpkg-query", "-W", "-f", "${Conffiles}", "upcase"]))

        # The operator's edit: a comment, and another port.
        conf = c.get("/etc/upcased.conf").decode()
        self.assertEqual(conf.count("port = 12000;"), 1, "the sample's listen changed")
        edited = conf.replace("port = 12000;", "port = 12001;") + \
            "# t_package: the operator's edit, kept across upgrades\n"
        c.put("/etc/upcased.conf", edited)

        # Upgrade: the same files, a higher version.  dpkg keeps the edit
        # without asking (the package's conffile did not change); the
        # service is restarted and reads it.
        t0 = time.monotonic()
        out = c.check(apt + [up1], timeout=180)
        self.timed("upgrade", t0)
        self.assertEqual(c.check(["dpkg-query", "-W", "-f", "${Version}", "upcase"]),
                         self.version + "+t1")
        self.assertEqual(c.get("/etc/upcased.conf").decode(), edited)
        self.assertEqual(c.run(["sh", "-c", "ls /etc/upcased.conf.*"]).stdout, "")
        self.assertEqual(c.run(["systemctl", "is-active", "upcased.service"]).stdout,
                         "active\n")
        pid2 = self.main_pid(c)
        self.assertNotEqual(pid2, pid1, "upcased.service was not restarted by the upgrade")
        print("upgrade to %s+t1: MainPID %d -> %d" % (self.version, pid1, pid2))
        self.serves(c, 12001)
        r = c.run(["upcase", "-p", "12000", "x"])
        self.assertEqual(r.returncode, 69, "port 12000 still served after the restart: %s%s"
                         % (r.stdout, r.stderr))

        # Upgrade to a package whose upcased.conf changed too: dpkg asks
        # (and, with no answer on standard input, stops); told to keep the
        # old one, it keeps the edit and puts the new one beside it.
        r = c.run(["dpkg", "-i", up2], timeout=120)
        self.assertNotEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("Configuration file '/etc/upcased.conf'", r.stdout + r.stderr)
        print("dpkg asked: %s" % [ln for ln in (r.stdout + r.stderr).splitlines()
                                  if "upcased.conf" in ln or "conffile" in ln])
        c.check(["dpkg", "--force-confold", "--configure", "upcase"], timeout=120)
        self.assertEqual(c.get("/etc/upcased.conf").decode(), edited)
        self.assertTrue(c.get("/etc/upcased.conf.dpkg-dist").decode().endswith(
            "# t_package: upstream's change in +t2\n"))
        pid3 = self.main_pid(c)
        self.assertNotEqual(pid3, pid2)
        self.serves(c, 12001)

        # Purge: nothing left.
        t0 = time.monotonic()
        out = c.check(["dpkg", "--purge", "upcase"], timeout=120)
        self.timed("purge", t0)
        print(out)
        after = c.check(["sh", "-c", SNAPSHOT])
        if after != before:
            self.fail("the purge left the file system changed:\n" + self.diff(before, after))
        print("after purge: %d paths, as before the install" % len(before.splitlines()))
        self.assertEqual(c.run(["pgrep", "-x", "upcased"]).returncode, 1,
                         "an upcased process is left")
        for unit in ("upcased.service", "upcased.socket"):
            self.assertEqual(c.check(["systemctl", "show", "-p", "LoadState", "--value",
                                      unit]), "not-found\n", unit)
        self.assertEqual(c.run(["test", "-e", "/run/upcased"]).returncode, 1,
                         "/run/upcased is left")

        # An operator who chose socket activation: the package neither
        # enabled nor started the socket, but its removal stops it (or
        # systemd would go on listening for a service that is gone), and
        # the purge forgets it was enabled.
        t0 = time.monotonic()
        c.check(apt + [first], timeout=180)
        c.check(["systemctl", "disable", "--now", "upcased.service"])
        c.check(["systemctl", "enable", "--now", "upcased.socket"])
        self.assertEqual(c.run(["systemctl", "is-active", "upcased.service"]).stdout,
                         "inactive\n")
        self.serves(c, 12000)
        self.assertEqual(c.run(["systemctl", "is-active", "upcased.service"]).stdout,
                         "active\n", "upcased.socket did not start the service")
        c.check(["dpkg", "--purge", "upcase"], timeout=120)
        r = c.run(["python3", "-c", CLIENT, "tcp", "12000", "x"])
        self.assertIn("ConnectionRefusedError", r.stderr,
                      "port 12000 still listening after the purge: %s" % r.stdout)
        self.assertEqual(c.run(["systemctl", "is-active", "upcased.socket"]).stdout,
                         "inactive\n")
        self.assertEqual(c.run(["pgrep", "-x", "upcased"]).returncode, 1,
                         "an upcased process is left")
        after = c.check(["sh", "-c", SNAPSHOT])
        if after != before:
            self.fail("the purge after socket activation left the file system changed:\n"
                      + self.diff(before, after))
        self.timed("socket activation to purge", t0)
        print("socket activation, then purge: socket stopped, %d paths as before"
              % len(before.splitlines()))


if __name__ == "__main__":
    # Every test skipped (no container, a sanitizer build, ...): automake's SKIP, not PASS.
    prog = unittest.main(exit=False, verbosity=2)
    r = prog.result
    raise SystemExit(1 if not r.wasSuccessful() else
                     77 if r.testsRun and len(r.skipped) == r.testsRun else 0)
