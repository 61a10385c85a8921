/* SPDX-License-Identifier: ISC */
/* test_runfile.c: the pidfile's content and rule, process names, the kinds of files (runfile.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "runfile.h"

/* Parse s (without its NUL) from a buffer exactly that long. */
static enum runfile_pid
parse(const char *s, long *pid)
{
	char buf[64];
	size_t len = strlen(s);

	assert_true(len < sizeof(buf));
	memcpy(buf, s, len);
	return runfile_parse_pid(buf, len, pid);
}

static void
test_pids(void **state)
{
	long pid;
	char max[16];

	(void)state;
	pid = 0;
	assert_int_equal(parse("1234\n", &pid), RUNFILE_PID);
	assert_int_equal(pid, 1234);
	assert_int_equal(parse("1", &pid), RUNFILE_PID);	/* no newline: still a pid */
	assert_int_equal(pid, 1);
	assert_int_equal(parse("4194304\n", &pid), RUNFILE_PID);
	assert_int_equal(pid, 4194304);
	snprintf(max, sizeof(max), "%d\n", INT_MAX);
	assert_int_equal(parse(max, &pid), RUNFILE_PID);
	assert_int_equal(pid, INT_MAX);
	assert_true(strlen(max) == RUNFILE_PID_MAX_LEN);
}

static void
test_empty(void **state)
{
	long pid = 77;

	(void)state;
	assert_int_equal(runfile_parse_pid("", 0, &pid), RUNFILE_EMPTY);
	assert_int_equal(pid, 77);	/* untouched */
}

static void
test_not_pids(void **state)
{
	static const char *bad[] = {
		"\n", "0\n", "0", "01234\n", "-1\n", "+1\n", " 1\n", "1 \n", "1\n\n",
		"12a\n", "2147483648\n", "9999999999\n", "12345678901\n",
		"listen = ( { port = 12000; } );\n", "1\r\n", "0x10\n",
	};
	long pid = 77;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (parse(bad[i], &pid) != RUNFILE_NOT_PID)
			fail_msg("\"%s\" taken for a pid", bad[i]);
		assert_int_equal(pid, 77);
	}
	/* A NUL is content too: "12\0" is not a pid. */
	assert_int_equal(runfile_parse_pid("12\0", 3, &pid), RUNFILE_NOT_PID);
	assert_int_equal(runfile_parse_pid("\0", 1, &pid), RUNFILE_NOT_PID);
}

/* Only len bytes are read: a pid followed by more bytes in the buffer. */
static void
test_reads_only_len(void **state)
{
	long pid = 0;

	(void)state;
	assert_int_equal(runfile_parse_pid("42\ngarbage", 3, &pid), RUNFILE_PID);
	assert_int_equal(pid, 42);
	assert_int_equal(runfile_parse_pid("42\ngarbage", 4, &pid), RUNFILE_NOT_PID);
}

static void
test_kinds(void **state)
{
	(void)state;
	assert_string_equal(runfile_kind(S_IFREG | 0644), "a regular file");
	assert_string_equal(runfile_kind(S_IFDIR | 0755), "a directory");
	assert_string_equal(runfile_kind(S_IFIFO | 0600), "a FIFO");
	assert_string_equal(runfile_kind(S_IFLNK | 0777), "a symbolic link");
	assert_string_equal(runfile_kind(S_IFSOCK | 0660), "a socket");
	assert_string_equal(runfile_kind(S_IFCHR | 0666), "a character device");
	assert_string_equal(runfile_kind(S_IFBLK | 0660), "a block device");
	assert_string_equal(runfile_kind(0), "a file of unknown type");
}

static enum runfile_verdict
rule(bool locked, bool linked, enum runfile_pid content, bool self, bool alive)
{
	struct runfile_facts f = {
		.locked = locked, .linked = linked, .content = content,
		.pid = content == RUNFILE_PID ? 4242 : 0, .self = self, .alive = alive,
	};

	return runfile_pidfile_rule(&f);
}

/* The cases a start meets, one by one. */
static void
test_rule_cases(void **state)
{
	(void)state;
	/* We locked it, it is still at the path. */
	assert_int_equal(rule(true, true, RUNFILE_EMPTY, false, false), RUNFILE_TAKE);
	assert_int_equal(rule(true, true, RUNFILE_PID, false, false), RUNFILE_TAKE);	/* stale */
	assert_int_equal(rule(true, true, RUNFILE_PID, true, false), RUNFILE_TAKE);	/* our own pid */
	assert_int_equal(rule(true, true, RUNFILE_PID, false, true), RUNFILE_LIVE);	/* sshd's, say */
	assert_int_equal(rule(true, true, RUNFILE_NOT_PID, false, false), RUNFILE_FOREIGN);
	/* Somebody else holds the lock. */
	assert_int_equal(rule(false, true, RUNFILE_PID, false, true), RUNFILE_RUNNING);
	assert_int_equal(rule(false, true, RUNFILE_PID, false, false), RUNFILE_STARTING);
	assert_int_equal(rule(false, true, RUNFILE_EMPTY, false, false), RUNFILE_STARTING);
	assert_int_equal(rule(false, true, RUNFILE_NOT_PID, false, false), RUNFILE_LOCKED);
	/* The path lost the file: a daemon that stopped removed it, or a new one is there. */
	assert_int_equal(rule(true, false, RUNFILE_PID, false, false), RUNFILE_RETRY);
	assert_int_equal(rule(true, false, RUNFILE_EMPTY, false, false), RUNFILE_RETRY);
	assert_int_equal(rule(false, false, RUNFILE_PID, false, true), RUNFILE_RETRY);
}

/* What must hold whatever the facts (every combination). */
static void
test_rule_properties(void **state)
{
	static const enum runfile_pid contents[] = { RUNFILE_EMPTY, RUNFILE_PID, RUNFILE_NOT_PID };

	(void)state;
	for (int bits = 0; bits < 16; bits++)
		for (size_t c = 0; c < 3; c++) {
			bool locked = bits & 1, linked = bits & 2, self = bits & 4, alive = bits & 8;
			enum runfile_pid content = contents[c];
			enum runfile_verdict v = rule(locked, linked, content, self, alive);

			/* A lock on a file nobody else can find proves nothing. */
			if (!linked)
				assert_int_equal(v, RUNFILE_RETRY);
			/* Ours only with the lock, and never with another's running pid or text. */
			if (v == RUNFILE_TAKE) {
				assert_true(locked && linked);
				assert_true(content != RUNFILE_NOT_PID);
				assert_true(content == RUNFILE_EMPTY || self || !alive);
			}
			if (linked && !locked)
				assert_true(v == RUNFILE_RUNNING || v == RUNFILE_STARTING ||
				    v == RUNFILE_LOCKED);
			/* "already running (pid N)" names a running pid, never ours. */
			if (v == RUNFILE_RUNNING)
				assert_true(content == RUNFILE_PID && alive && !self);
		}
}

static void
comm(const char *in, size_t len, size_t outlen, const char *want)
{
	char out[64];

	memset(out, 'X', sizeof(out));
	assert_int_equal(runfile_comm(in, len, out, outlen), strlen(want));
	assert_string_equal(out, want);
}

static void
test_comm(void **state)
{
	(void)state;
	comm("sleep\n", 6, 64, "sleep");
	comm("sshd", 4, 64, "sshd");			/* no newline */
	comm("\n", 1, 64, "");
	comm("", 0, 64, "");
	comm("a\tb\x1b[31m\n", 9, 64, "a?b?[31m");	/* no escapes into a log */
	comm("caf\xc3\xa9\n", 6, 64, "caf??");
	comm("x\n\n", 3, 64, "x?");			/* one newline dropped */
	comm("upcased-tcp0\n", 13, 8, "upcased");	/* cut to fit */
	comm("abc", 3, 1, "");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_not_pids),
		cmocka_unit_test(test_reads_only_len),
		cmocka_unit_test(test_kinds),
		cmocka_unit_test(test_rule_cases),
		cmocka_unit_test(test_rule_properties),
		cmocka_unit_test(test_comm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
