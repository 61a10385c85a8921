/* SPDX-License-Identifier: ISC */
/* test_expo.c: the Prometheus text format writer (expo.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "expo.h"

#define GUARD 16

static void
test_escape_label(void **state)
{
	char out[64];

	(void)state;
	assert_int_equal(expo_escape("plain", false, out, sizeof(out)), 5);
	assert_string_equal(out, "plain");
	assert_int_equal(expo_escape("a\\b\"c\nd", false, out, sizeof(out)), 10);
	assert_string_equal(out, "a\\\\b\\\"c\\nd");
	/* HELP text: backslash and newline only; a quote stays. */
	assert_int_equal(expo_escape("a\\b\"c\nd", true, out, sizeof(out)), 9);
	assert_string_equal(out, "a\\\\b\"c\\nd");
	assert_int_equal(expo_escape("", false, out, sizeof(out)), 0);
	assert_string_equal(out, "");
	/* UTF-8 passes as it is. */
	assert_int_equal(expo_escape("\xc3\xa9", false, out, sizeof(out)), 2);
	assert_string_equal(out, "\xc3\xa9");
}

/* Cut at a whole escape, NUL-terminated, never past outlen; the need told. */
static void
test_escape_cut(void **state)
{
	char out[8 + GUARD];

	(void)state;
	for (size_t len = 0; len <= 8; len++) {
		memset(out, 'X', sizeof(out));
		assert_int_equal(expo_escape("ab\"\"", false, out, len), 6);
		for (size_t i = len; i < sizeof(out); i++)
			assert_int_equal(out[i], 'X');
		if (len == 0)
			continue;
		switch (len) {
		case 1: assert_string_equal(out, ""); break;
		case 2: assert_string_equal(out, "a"); break;
		case 3: case 4: assert_string_equal(out, "ab"); break;
		case 5: case 6: assert_string_equal(out, "ab\\\""); break;
		default: assert_string_equal(out, "ab\\\"\\\""); break;
		}
	}
}

static void
test_decimal(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(expo_decimal(1234, 1000, false, b, sizeof(b)), "1.234");
	assert_string_equal(expo_decimal(5, 1000, false, b, sizeof(b)), "0.005");
	assert_string_equal(expo_decimal(3000, 1000, false, b, sizeof(b)), "3.000");
	assert_string_equal(expo_decimal(3000, 1000, true, b, sizeof(b)), "3");
	assert_string_equal(expo_decimal(10, 1000, true, b, sizeof(b)), "0.01");
	assert_string_equal(expo_decimal(250, 1000, true, b, sizeof(b)), "0.25");
	assert_string_equal(expo_decimal(65536, 1, true, b, sizeof(b)), "65536");
	assert_string_equal(expo_decimal(UINT64_MAX, 1, false, b, sizeof(b)),
	    "18446744073709551615");
	assert_string_equal(expo_decimal(UINT64_MAX, 1000, false, b, sizeof(b)),
	    "18446744073709551.615");
	assert_string_equal(expo_decimal(7, 10, false, b, sizeof(b)), "0.7");
}

static void
test_names(void **state)
{
	(void)state;
	assert_true(expo_name_ok("upcased_tcp_bytes_in_total", false));
	assert_true(expo_name_ok("a:b_c9", false));
	assert_true(expo_name_ok("_x", false));
	assert_false(expo_name_ok("9abc", false));
	assert_false(expo_name_ok("a-b", false));
	assert_false(expo_name_ok("", false));
	assert_false(expo_name_ok(NULL, false));
	assert_true(expo_name_ok("reason", true));
	assert_false(expo_name_ok("a:b", true));
	assert_false(expo_name_ok("__name__", true));
	assert_false(expo_name_ok("1x", true));
}

static void
test_lines(void **state)
{
	char buf[512];
	struct expo e;
	struct expo_label l[2] = { { "reason", "a\"b" }, { "worker", "tcp0" } };

	(void)state;
	expo_init(&e, buf, sizeof(buf));
	expo_family(&e, "x_total", "counter", "Help with \\ and\nnewline.");
	expo_sample(&e, "x_total", NULL, l, 2, 42);
	expo_sample(&e, "x_total", NULL, NULL, 0, 0);
	expo_sample(&e, "h", "_bucket", l + 1, 1, 7);
	expo_sample_scaled(&e, "h", "_sum", NULL, 0, 1005, 1000);
	assert_false(expo_truncated(&e));
	assert_string_equal(buf,
	    "# HELP x_total Help with \\\\ and\\nnewline.\n"
	    "# TYPE x_total counter\n"
	    "x_total{reason=\"a\\\"b\",worker=\"tcp0\"} 42\n"
	    "x_total 0\n"
	    "h_bucket{worker=\"tcp0\"} 7\n"
	    "h_sum 1.005\n");
	assert_int_equal(expo_len(&e), strlen(buf));
}

/* Short of room: whole lines only, and it says so. */
static void
test_truncation(void **state)
{
	static const char full[] = "# HELP m Some help.\n# TYPE m gauge\nm{l=\"v\"} 12345\n";
	char buf[sizeof(full) + GUARD];
	struct expo_label l = { "l", "v" };

	(void)state;
	for (size_t cap = 0; cap <= sizeof(full); cap++) {
		struct expo e;
		size_t want;

		memset(buf, 'X', sizeof(buf));
		expo_init(&e, buf, cap);
		expo_family(&e, "m", "gauge", "Some help.");
		expo_sample(&e, "m", NULL, &l, 1, 12345);
		want = cap > 50 ? 50 : cap > 35 ? 35 : cap > 20 ? 20 : 0;
		assert_int_equal(expo_len(&e), want);
		assert_int_equal(expo_truncated(&e), want < sizeof(full) - 1);
		if (cap > 0) {
			assert_int_equal(buf[want], '\0');
			assert_memory_equal(buf, full, want);
		}
		for (size_t i = cap; i < sizeof(buf); i++)
			assert_int_equal(buf[i], 'X');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_escape_label),
		cmocka_unit_test(test_escape_cut),
		cmocka_unit_test(test_decimal),
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_lines),
		cmocka_unit_test(test_truncation),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
