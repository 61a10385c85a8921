/* SPDX-License-Identifier: ISC */
/* test_runfile.c: the pidfile's content and the kinds of files (runfile.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <limits.h>
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

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pids),
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_not_pids),
		cmocka_unit_test(test_reads_only_len),
		cmocka_unit_test(test_kinds),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
