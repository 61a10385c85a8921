#!/usr/bin/env python3
# SPDX-License-Identifier: ISC
"""tcp.threads = 0 follows the CPUs the process may use: its affinity mask
(taskset) and its cgroup's CPU quota (v1 cpu.cfs_quota_us or v2 cpu.max,
on its own cgroup or an ancestor's), not the CPUs of the machine; the
choice and why are logged at start-up."""

import os
import re
import time
import unittest

import harness
from harness import Daemon

ONLINE = os.cpu_count() or 1


def tcp_threads(pid, want=None):
    """Names of the daemon's TCP worker threads (once there are want of
    them, if given, waiting up to 5 s: they start after the listeners)."""
    deadline = time.monotonic() + 5
    while True:
        names = _tcp_threads(pid)
        if want is None or len(names) >= want or time.monotonic() > deadline:
            return names
        time.sleep(0.02)


def _tcp_threads(pid):
    names = []
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = f.read().strip()
        except OSError:
            continue
        if re.fullmatch(r"upcased-tcp\d+", name):
            names.append(name)
    return sorted(names)


def threads_line(d):
    # Logged as the pools start, which may be after the port answers.
    try:
        d.wait_log(" started: ", timeout=10)
    except Exception:
        return (None, d.read_log())
    m = re.search(r"started: (\d+) tcp workers \(tcp\.threads = 0: ([^)]*)\)", d.read_log())
    return (int(m.group(1)), m.group(2)) if m else (None, d.read_log())


def cpu_cgroup_root():
    """A cgroup hierarchy with the cpu controller we may make groups in:
    (version, directory), or None."""
    if os.geteuid() != 0:
        return None
    v1 = "/sys/fs/cgroup/cpu"
    if os.path.exists(os.path.join(v1, "cpu.cfs_quota_us")):
        return (1, v1)
    for v2 in ("/sys/fs/cgroup", "/sys/fs/cgroup/unified"):
        try:
            with open(os.path.join(v2, "cgroup.controllers")) as f:
                if "cpu" in f.read().split():
                    return (2, v2)
        except OSError:
            pass
    return None


class Cgroup:
    """A cgroup made for the test (removed by remove()), with an optional
    quota of quota/period microseconds."""

    def __init__(self, version, parent, name):
        self.version = version
        self.path = os.path.join(parent, name)
        os.mkdir(self.path)
        if version == 2:
            # Children of this one get the cpu controller too.
            with open(os.path.join(self.path, "cgroup.subtree_control"), "w") as f:
                f.write("+cpu")

    def set_quota(self, quota, period=100000):
        if self.version == 1:
            with open(os.path.join(self.path, "cpu.cfs_period_us"), "w") as f:
                f.write(str(period))
            with open(os.path.join(self.path, "cpu.cfs_quota_us"), "w") as f:
                f.write(str(quota))
        else:
            with open(os.path.join(self.path, "cpu.max"), "w") as f:
                f.write("%d %d" % (quota, period))

    def join(self):
        """For preexec_fn: move the calling process in."""
        with open(os.path.join(self.path, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))

    def remove(self):
        deadline = time.monotonic() + 5
        while True:
            try:
                os.rmdir(self.path)
                return
            except FileNotFoundError:
                return
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


class Threads(unittest.TestCase):
    def start(self, extra="", preexec_fn=None):
        d = Daemon(extra=extra, preexec_fn=preexec_fn)
        self.addCleanup(d.stop)
        return d

    def test_all_cpus(self):
        d = self.start()
        n, why = threads_line(d)
        self.assertEqual((n, why), (ONLINE, "%d online CPU%s" % (ONLINE, "" if ONLINE == 1 else "s")))
        self.assertEqual(len(tcp_threads(d.pid, ONLINE)), ONLINE)
        self.assertIn("upcased", harness.tcp_roundtrip(d.port, b"upcased").lower().decode())
        print("default: %d TCP threads on %d online CPUs" % (n, ONLINE))

    def test_affinity(self):
        if ONLINE < 2:
            self.skipTest("one online CPU: an affinity mask cannot allow fewer")
        first = min(os.sched_getaffinity(0))
        d = self.start(preexec_fn=lambda: os.sched_setaffinity(0, {first}))
        n, why = threads_line(d)
        self.assertEqual(n, 1, why)
        self.assertEqual(why, "CPU affinity allows 1 of %d online CPUs" % ONLINE)
        self.assertEqual(harness.tcp_roundtrip(d.port, b"x"), b"X")
        self.assertEqual(tcp_threads(d.pid, 2), ["upcased-tcp0"])
        self.assertEqual(harness.tcp_roundtrip(d.port, b"taskset\n"), b"TASKSET\n")
        print("taskset -c %d: %s" % (first, why))

    def test_explicit_count_wins(self):
        if ONLINE < 2:
            self.skipTest("one online CPU")
        first = min(os.sched_getaffinity(0))
        d = self.start(extra="tcp = { threads = 3; };",
                       preexec_fn=lambda: os.sched_setaffinity(0, {first}))
        self.assertNotIn("tcp.threads = 0", d.read_log())
        self.assertEqual(len(tcp_threads(d.pid, 3)), 3)

    def cgroups(self):
        root = cpu_cgroup_root()
        if root is None:
            self.skipTest("no cgroup hierarchy with the cpu controller that we may write "
                          "(needs root, cgroup v1 cpu or v2 with cpu in cgroup.controllers)")
        version, parent = root
        made = []

        def make(name, under=parent):
            try:
                g = Cgroup(version, under, name)
            except OSError as e:
                self.skipTest("cannot make a cgroup in %s: %s" % (under, e))
            made.append(g)
            return g

        # Removed innermost first, once the daemon (stopped earlier, as
        # its cleanup was added later) has left.
        self.addCleanup(lambda: [g.remove() for g in reversed(made)])
        return version, make

    def test_quota(self):
        version, make = self.cgroups()
        g = make("upcase-t_cpus-%d" % os.getpid())
        g.set_quota(50000)
        d = self.start(preexec_fn=g.join)
        n, why = threads_line(d)
        self.assertEqual(n, 1, why)
        self.assertRegex(why, r"^the cgroup CPU quota, 50000/100000 us in %s/cpu\.(max|cfs_quota_us), "
                         r"allows 1 of %d CPUs$" % (re.escape(g.path), ONLINE)
                         if ONLINE > 1 else r"^1 online CPU$")
        self.assertEqual(harness.tcp_roundtrip(d.port, b"x"), b"X")
        self.assertEqual(len(tcp_threads(d.pid, 2)), 1)
        self.assertEqual(harness.tcp_roundtrip(d.port, b"quota"), b"QUOTA")
        print("cgroup v%d quota 50%%: %s" % (version, why))

    def test_quota_rounds_up(self):
        if ONLINE < 3:
            self.skipTest("%d online CPUs: 150%% rounds up to 2, which needs 3 to show" % ONLINE)
        version, make = self.cgroups()
        g = make("upcase-t_cpus-r%d" % os.getpid())
        g.set_quota(150000)
        d = self.start(preexec_fn=g.join)
        self.assertEqual(threads_line(d)[0], 2)

    def test_ancestor_quota(self):
        """A quota on a parent cgroup caps the daemon in a child without one."""
        version, make = self.cgroups()
        parent = make("upcase-t_cpus-p%d" % os.getpid())
        parent.set_quota(20000, 100000)
        child = make("leaf", under=parent.path)
        d = self.start(preexec_fn=child.join)
        n, why = threads_line(d)
        self.assertEqual(n, 1, why)
        if ONLINE > 1:
            self.assertIn("20000/100000 us in %s/cpu." % parent.path, why)
        self.assertEqual(harness.tcp_roundtrip(d.port, b"nested"), b"NESTED")
        print("parent cgroup quota 20%%, daemon in a child: %s" % why)


if __name__ == "__main__":
    unittest.main(verbosity=2)
