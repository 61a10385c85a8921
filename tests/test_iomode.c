/* SPDX-License-Identifier: ISC */
/*
 * test_iomode.c: src/iomode.c, the choice between io_uring and epoll and
 * the sentence that says why, for every setting and probe outcome.
 */
#include "config.h"

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "iomode.h"

static const struct iomode_probe usable = { .built = true, .err = 0, .disabled = 0 };

static void
test_names(void **state)
{
	(void)state;
	assert_int_equal(iomode_from_name("auto"), IOMODE_AUTO);
	assert_int_equal(iomode_from_name("epoll"), IOMODE_EPOLL);
	assert_int_equal(iomode_from_name("uring"), IOMODE_URING);
	assert_int_equal(iomode_from_name("io_uring"), -1);
	assert_int_equal(iomode_from_name("EPOLL"), -1);
	assert_int_equal(iomode_from_name(""), -1);
	for (int m = IOMODE_AUTO; m <= IOMODE_URING; m++)
		assert_int_equal(iomode_from_name(iomode_name((enum iomode)m)), m);
	assert_string_equal(iomode_name((enum iomode)7), "?");
}

static void
test_usable(void **state)
{
	char why[256];

	(void)state;
	assert_int_equal(iomode_choose(IOMODE_AUTO, &usable, why, sizeof(why)), IOMODE_URING);
	assert_string_equal(why, "TCP workers use io_uring (io = \"auto\")");
	assert_int_equal(iomode_choose(IOMODE_URING, &usable, why, sizeof(why)), IOMODE_URING);
	assert_string_equal(why, "TCP workers use io_uring (io = \"uring\")");
	/* epoll is epoll, whatever a probe said (none is made for it). */
	assert_int_equal(iomode_choose(IOMODE_EPOLL, &usable, why, sizeof(why)), IOMODE_EPOLL);
	assert_string_equal(why, "TCP workers use epoll (io = \"epoll\")");
}

/* Each way io_uring can be refused: auto falls back saying so, uring refuses to start. */
static void
test_refused(void **state)
{
	static const struct {
		struct iomode_probe p;
		const char *says;
	} cases[] = {
		{ { .built = false, .err = ENOSYS, .step = "liburing", .disabled = -1 },
		  "this upcased was built without liburing" },
		{ { .built = true, .err = EPERM, .step = "io_uring_setup", .disabled = 2 },
		  "the kernel.io_uring_disabled sysctl is 2 (io_uring_setup: Operation not "
		  "permitted)" },
		{ { .built = true, .err = EPERM, .step = "io_uring_setup", .disabled = 1 },
		  "the kernel.io_uring_disabled sysctl is 1 and the process is not in "
		  "kernel.io_uring_group (io_uring_setup: Operation not permitted)" },
		{ { .built = true, .err = EPERM, .step = "io_uring_setup", .disabled = 0 },
		  "io_uring_setup: Operation not permitted (a seccomp filter such as systemd's "
		  "SystemCallFilter= or a container's, or a security module)" },
		{ { .built = true, .err = ENOSYS, .step = "io_uring_setup", .disabled = -1 },
		  "io_uring_setup: Function not implemented (a kernel without io_uring, or a "
		  "seccomp filter such as a container's or systemd's SystemCallFilter=)" },
		{ { .built = true, .err = EINVAL, .step = "IORING_REGISTER_PBUF_RING",
		    .disabled = 0 },
		  "IORING_REGISTER_PBUF_RING: Invalid argument (the kernel is too old: Linux "
		  "5.19 or later is needed)" },
		{ { .built = true, .err = ENOMEM, .step = "io_uring_setup", .disabled = 0 },
		  "io_uring_setup: Cannot allocate memory" },
	};
	char why[512], want[512];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(iomode_choose(IOMODE_AUTO, &cases[i].p, why, sizeof(why)),
		    IOMODE_EPOLL);
		snprintf(want, sizeof(want), "io_uring cannot be used, TCP workers use epoll: %s",
		    cases[i].says);
		assert_string_equal(why, want);
		assert_int_equal(iomode_choose(IOMODE_URING, &cases[i].p, why, sizeof(why)), -1);
		snprintf(want, sizeof(want), "io = \"uring\", but io_uring cannot be used: %s",
		    cases[i].says);
		assert_string_equal(why, want);
		assert_int_equal(iomode_choose(IOMODE_EPOLL, &cases[i].p, why, sizeof(why)),
		    IOMODE_EPOLL);
	}
}

/* A short buffer gets a truncated, terminated sentence; never an overrun. */
static void
test_short_buffer(void **state)
{
	const struct iomode_probe p = { .built = true, .err = EPERM, .step = "io_uring_setup",
	    .disabled = 2 };
	char why[17];

	(void)state;
	memset(why, 'x', sizeof(why));
	assert_int_equal(iomode_choose(IOMODE_AUTO, &p, why, 16), IOMODE_EPOLL);
	assert_int_equal(strlen(why), 15);
	assert_int_equal(why[16], 'x');
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_usable),
		cmocka_unit_test(test_refused),
		cmocka_unit_test(test_short_buffer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
