/* SPDX-License-Identifier: ISC */
/* test_cpus.c: the CPUs the process may use, from cgroup, mountinfo and quota texts (cpus.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cpus.h"

/* As a cgroup v2-only host (and systemd 252's default) shows it. */
static const char V2_CGROUP[] = "0::/system.slice/upcased.service\n";
/* A v1 (hybrid) host, as this project's test machines are. */
static const char V1_CGROUP[] =
    "12:pids:/system.slice/upcased.service\n"
    "4:cpu,cpuacct:/system.slice/upcased.service\n"
    "3:cpuset:/\n"
    "1:name=systemd:/system.slice/upcased.service\n"
    "0::/system.slice/upcased.service\n";

static const char MOUNTINFO[] =
    "22 28 0:20 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw\n"
    "31 22 0:28 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/unified rw,nosuid shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"
    "33 31 0:30 / /sys/fs/cgroup/cpuset rw - cgroup cgroup rw,cpuset\n"
    "34 31 0:31 / /sys/fs/cgroup/cpu,cpuacct rw shared:12 - cgroup cgroup rw,cpu,cpuacct\n";

static void
test_cgroup_path(void **state)
{
	char out[256];

	(void)state;
	assert_true(cpus_cgroup_path(V2_CGROUP, CPUS_CGROUP_V2, out, sizeof(out)));
	assert_string_equal(out, "/system.slice/upcased.service");
	assert_false(cpus_cgroup_path(V2_CGROUP, CPUS_CGROUP_V1, out, sizeof(out)));
	assert_true(cpus_cgroup_path(V1_CGROUP, CPUS_CGROUP_V1, out, sizeof(out)));
	assert_string_equal(out, "/system.slice/upcased.service");
	assert_true(cpus_cgroup_path(V1_CGROUP, CPUS_CGROUP_V2, out, sizeof(out)));
	/* "cpuacct" and "cpuset" are not "cpu". */
	assert_false(cpus_cgroup_path("3:cpuset:/a\n5:cpuacct:/b\n", CPUS_CGROUP_V1, out,
	    sizeof(out)));
	assert_true(cpus_cgroup_path("3:cpuset:/a\n5:cpuacct,cpu:/b", CPUS_CGROUP_V1, out,
	    sizeof(out)));
	assert_string_equal(out, "/b");
	/* The root cgroup, and no last newline. */
	assert_true(cpus_cgroup_path("0::/", CPUS_CGROUP_V2, out, sizeof(out)));
	assert_string_equal(out, "/");
	/* Not absolute, empty, malformed, too long for out. */
	assert_false(cpus_cgroup_path("0::x\n", CPUS_CGROUP_V2, out, sizeof(out)));
	assert_false(cpus_cgroup_path("0::\n", CPUS_CGROUP_V2, out, sizeof(out)));
	assert_false(cpus_cgroup_path("0:/a\n", CPUS_CGROUP_V2, out, sizeof(out)));
	assert_false(cpus_cgroup_path("", CPUS_CGROUP_V2, out, sizeof(out)));
	assert_false(cpus_cgroup_path("10::/a\n", CPUS_CGROUP_V2, out, sizeof(out)));
	assert_false(cpus_cgroup_path("0::/abc\n", CPUS_CGROUP_V2, out, 4));
	assert_true(cpus_cgroup_path("0::/abc\n", CPUS_CGROUP_V2, out, 5));
	assert_string_equal(out, "/abc");
}

static void
test_cgroup_mount(void **state)
{
	char mnt[256], root[256];

	(void)state;
	assert_true(cpus_cgroup_mount(MOUNTINFO, CPUS_CGROUP_V2, mnt, sizeof(mnt), root,
	    sizeof(root)));
	assert_string_equal(mnt, "/sys/fs/cgroup/unified");
	assert_string_equal(root, "/");
	assert_true(cpus_cgroup_mount(MOUNTINFO, CPUS_CGROUP_V1, mnt, sizeof(mnt), root,
	    sizeof(root)));
	assert_string_equal(mnt, "/sys/fs/cgroup/cpu,cpuacct");
	/* A container's view: the hierarchy's subtree, a mount point with a space. */
	assert_true(cpus_cgroup_mount(
	    "40 31 0:38 /machine.slice/c /sys/fs/cgroup\\040x rw - cgroup2 cgroup2 rw\n",
	    CPUS_CGROUP_V2, mnt, sizeof(mnt), root, sizeof(root)));
	assert_string_equal(mnt, "/sys/fs/cgroup x");
	assert_string_equal(root, "/machine.slice/c");
	/* No optional fields at all. */
	assert_true(cpus_cgroup_mount("1 2 0:3 / /cg - cgroup2 none rw\n", CPUS_CGROUP_V2,
	    mnt, sizeof(mnt), root, sizeof(root)));
	assert_string_equal(mnt, "/cg");
	/* Not there, the "cpu" option missing, no separator, an escaped NUL, too long. */
	assert_false(cpus_cgroup_mount("1 2 0:3 / /cg - cgroup cgroup rw,cpuacct\n",
	    CPUS_CGROUP_V1, mnt, sizeof(mnt), root, sizeof(root)));
	assert_false(cpus_cgroup_mount("1 2 0:3 / /cg cgroup2 none rw\n", CPUS_CGROUP_V2,
	    mnt, sizeof(mnt), root, sizeof(root)));
	assert_false(cpus_cgroup_mount("1 2 0:3 / /c\\000g - cgroup2 none rw\n", CPUS_CGROUP_V2,
	    mnt, sizeof(mnt), root, sizeof(root)));
	assert_false(cpus_cgroup_mount("1 2 0:3 / /cgroup - cgroup2 none rw\n", CPUS_CGROUP_V2,
	    mnt, 5, root, sizeof(root)));
	assert_false(cpus_cgroup_mount("", CPUS_CGROUP_V2, mnt, sizeof(mnt), root,
	    sizeof(root)));
	assert_false(cpus_cgroup_mount(" - ", CPUS_CGROUP_V2, mnt, sizeof(mnt), root,
	    sizeof(root)));
}

static void
test_cgroup_dir(void **state)
{
	char out[64];

	(void)state;
	assert_true(cpus_cgroup_dir("/sys/fs/cgroup", "/", "/a/b.service", out, sizeof(out)));
	assert_string_equal(out, "/sys/fs/cgroup/a/b.service");
	assert_true(cpus_cgroup_dir("/sys/fs/cgroup", "/", "/", out, sizeof(out)));
	assert_string_equal(out, "/sys/fs/cgroup");
	assert_true(cpus_cgroup_dir("/cg", "/machine/c", "/machine/c/x", out, sizeof(out)));
	assert_string_equal(out, "/cg/x");
	assert_true(cpus_cgroup_dir("/cg", "/machine/c/", "/machine/c", out, sizeof(out)));
	assert_string_equal(out, "/cg");
	/* Outside the root shown, a prefix that is not a component, "..", not absolute. */
	assert_false(cpus_cgroup_dir("/cg", "/machine/c", "/other", out, sizeof(out)));
	assert_false(cpus_cgroup_dir("/cg", "/machine/c", "/machine/cd", out, sizeof(out)));
	assert_false(cpus_cgroup_dir("/cg", "/", "/a/../../etc", out, sizeof(out)));
	assert_false(cpus_cgroup_dir("/cg", "/", "a", out, sizeof(out)));
	assert_true(cpus_cgroup_dir("/cg", "/", "/a/..b/...", out, sizeof(out)));
	/* Too long. */
	assert_false(cpus_cgroup_dir("/sys/fs/cgroup", "/", "/a/b", out, 18));
	assert_true(cpus_cgroup_dir("/sys/fs/cgroup", "/", "/a/b", out, 19));
}

static void
test_parse_max(void **state)
{
	long long q = 7, p = 7;

	(void)state;
	assert_int_equal(cpus_parse_max("max 100000\n", &q, &p), 0);
	assert_true(q == -1 && p == 100000);
	assert_int_equal(cpus_parse_max("max", &q, &p), 0);
	assert_true(q == -1);
	assert_int_equal(cpus_parse_max("150000 100000\n", &q, &p), 0);
	assert_true(q == 150000 && p == 100000);
	assert_int_equal(cpus_parse_max("1000 1000", &q, &p), 0);
	q = p = 7;
	assert_int_equal(cpus_parse_max("", &q, &p), -1);
	assert_int_equal(cpus_parse_max("150000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("0 100000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("100 0\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("-1 100000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("100 100000 x\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("100  100000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("1234567890123456789 100000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_max("max 100000\n\n", &q, &p), -1);
	assert_true(q == 7 && p == 7);
}

static void
test_parse_v1(void **state)
{
	long long q = 7, p = 7;

	(void)state;
	assert_int_equal(cpus_parse_v1("-1\n", "100000\n", &q, &p), 0);
	assert_true(q == -1 && p == 100000);
	assert_int_equal(cpus_parse_v1("50000\n", "100000\n", &q, &p), 0);
	assert_true(q == 50000 && p == 100000);
	q = p = 7;
	assert_int_equal(cpus_parse_v1("-2\n", "100000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_v1("0\n", "100000\n", &q, &p), -1);
	assert_int_equal(cpus_parse_v1("50000\n", "0\n", &q, &p), -1);
	assert_int_equal(cpus_parse_v1("50000\n", "\n", &q, &p), -1);
	assert_int_equal(cpus_parse_v1("5e4\n", "100000\n", &q, &p), -1);
	assert_true(q == 7 && p == 7);
}

static void
test_quota_cpus(void **state)
{
	(void)state;
	assert_int_equal(cpus_quota_cpus(-1, 100000), 0);
	assert_int_equal(cpus_quota_cpus(100000, 100000), 1);
	assert_int_equal(cpus_quota_cpus(150000, 100000), 2);
	assert_int_equal(cpus_quota_cpus(200000, 100000), 2);
	assert_int_equal(cpus_quota_cpus(1000, 100000), 1);
	assert_int_equal(cpus_quota_cpus(1, 1000000), 1);
	assert_int_equal(cpus_quota_cpus(999999999999999999LL, 1), INT_MAX);
}

static void
test_usable(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(cpus_usable(4, 4, -1, 0, NULL, why, sizeof(why)), 4);
	assert_string_equal(why, "4 online CPUs");
	assert_int_equal(cpus_usable(1, 0, -1, 0, NULL, why, sizeof(why)), 1);
	assert_string_equal(why, "1 online CPU");
	/* taskset -c 0 on a 2-CPU machine. */
	assert_int_equal(cpus_usable(2, 1, -1, 0, NULL, why, sizeof(why)), 1);
	assert_string_equal(why, "CPU affinity allows 1 of 2 online CPUs");
	/* CPUQuota=150% on 4 CPUs. */
	assert_int_equal(cpus_usable(4, 4, 150000, 100000, "/cg/cpu.max", why, sizeof(why)), 2);
	assert_string_equal(why,
	    "the cgroup CPU quota, 150000/100000 us in /cg/cpu.max, allows 2 of 4 CPUs");
	/* Both: the fewer wins; a quota above the affinity says nothing. */
	assert_int_equal(cpus_usable(8, 2, 300000, 100000, "/q", why, sizeof(why)), 2);
	assert_string_equal(why, "CPU affinity allows 2 of 8 online CPUs");
	assert_int_equal(cpus_usable(8, 4, 100000, 100000, "/q", why, sizeof(why)), 1);
	assert_string_equal(why, "the cgroup CPU quota, 100000/100000 us in /q, allows 1 of 4 CPUs");
	/* Unknown online count: at least 1. */
	assert_int_equal(cpus_usable(0, 0, -1, 0, NULL, why, sizeof(why)), 1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cgroup_path),
		cmocka_unit_test(test_cgroup_mount),
		cmocka_unit_test(test_cgroup_dir),
		cmocka_unit_test(test_parse_max),
		cmocka_unit_test(test_parse_v1),
		cmocka_unit_test(test_quota_cpus),
		cmocka_unit_test(test_usable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
