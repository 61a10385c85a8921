/* SPDX-License-Identifier: ISC */
/*
 * cpus.h: how many CPUs the process may actually use, for the thread
 * counts of 0 ("one per CPU").  Not the CPUs in the machine: fewer when
 * the affinity mask allows fewer (taskset, systemd's CPUAffinity=, a
 * cpuset cgroup) and fewer again when a CPU bandwidth quota caps the
 * time the process's cgroup may run (cgroup v2 cpu.max, systemd's
 * CPUQuota=; cgroup v1 cpu.cfs_quota_us, as Docker sets it), the quota
 * rounded up to whole CPUs (150% is 2: a second thread still gets half a
 * CPU's worth of work done), as Go's and Java's runtimes count them.
 *
 * Pure: the texts of /proc/self/cgroup, /proc/self/mountinfo and the
 * quota files are read by the caller (daemon_usable_cpus() in daemon.c)
 * and parsed here, so that the rules are tested without a cgroup.
 */
#ifndef UPCASE_CPUS_H
#define UPCASE_CPUS_H

#include <stdbool.h>
#include <stddef.h>

/* Which cgroup hierarchy a path or mount is in. */
enum cpus_cgroup {
	CPUS_CGROUP_V2,     /* the unified hierarchy: cpu.max */
	CPUS_CGROUP_V1,     /* the v1 "cpu" controller: cpu.cfs_quota_us, cpu.cfs_period_us */
};

/*
 * The process's cgroup in hierarchy v, from the text of
 * /proc/self/cgroup: for v2 the "0::PATH" line, for v1 the line whose
 * controller list names "cpu" (as in "4:cpu,cpuacct:/PATH").  Copies
 * PATH (absolute, within the hierarchy) to out and returns true; false
 * if there is no such line or PATH does not fit in outlen.
 */
bool cpus_cgroup_path(const char *text, enum cpus_cgroup v, char *out, size_t outlen);

/*
 * Where hierarchy v is mounted, from the text of /proc/self/mountinfo:
 * the first mount of type cgroup2 (v2) or of type cgroup with the "cpu"
 * super option (v1).  Copies its mount point to mnt and the root of the
 * hierarchy it shows to root (not "/" inside a container that was given
 * a subtree), and returns true; false if there is none or they do not
 * fit.  Octal escapes (\040 for a space) are decoded.
 */
bool cpus_cgroup_mount(const char *text, enum cpus_cgroup v, char *mnt, size_t mntlen,
    char *root, size_t rootlen);

/*
 * The directory of cgroup path (from cpus_cgroup_path) under a mount
 * (from cpus_cgroup_mount): mnt followed by path less root.  false if
 * path is not under root, is not absolute, holds a ".." component, or
 * the result does not fit.
 */
bool cpus_cgroup_dir(const char *mnt, const char *root, const char *path, char *out,
    size_t outlen);

/*
 * A quota read from a cgroup directory, in microseconds of CPU time per
 * period: quota < 0 is no limit.  v2: the text of cpu.max ("max 100000",
 * "150000 100000"; "max" alone, as some kernels print it); v1: the texts
 * of cpu.cfs_quota_us ("-1" is none) and cpu.cfs_period_us.  Returns 0,
 * or -1 when the text is not such a value (the caller ignores the file).
 */
int cpus_parse_max(const char *text, long long *quota, long long *period);
int cpus_parse_v1(const char *quota_text, const char *period_text, long long *quota,
    long long *period);

/* Whole CPUs a quota is worth: quota/period rounded up, at least 1; 0 when it is no limit. */
int cpus_quota_cpus(long long quota, long long period);

/*
 * What the process may use: the fewest of the online CPUs (online > 0),
 * the CPUs in its affinity mask (0: unknown) and the quota's whole CPUs
 * (0: no quota), at least 1.  why gets the reason for a message: "2
 * online CPUs", "CPU affinity allows 1 of 2 online CPUs", "the cgroup
 * CPU quota (cpu.max 150000/100000 at /sys/fs/cgroup/x) allows 2 of 4
 * CPUs"; quota_where names where the quota was found (NULL: nowhere).
 */
int cpus_usable(int online, int affinity, long long quota, long long period,
    const char *quota_where, char *why, size_t whylen);

#endif
