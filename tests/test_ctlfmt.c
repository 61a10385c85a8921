/* SPDX-License-Identifier: ISC */
/*
 * test_ctlfmt.c: upcase's columns and JSON for the control socket's
 * listings (--connections, --sources).
 */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctlfmt.h"

#define CONNS_HDR "#client\tlistener\tworker\tage_ms\tidle_ms\tbytes_in\tbytes_out\tstate\n"

static char *
render(const char *in, bool json, enum ctlfmt_result want, char *msg, size_t msglen)
{
	char *out = NULL;
	size_t len = 0;

	assert_int_equal(ctlfmt_render(in, strlen(in), json, &out, &len, msg, msglen), want);
	if (want == CTLFMT_OK || want == CTLFMT_INCOMPLETE) {
		assert_non_null(out);
		assert_int_equal(strlen(out), len);
	} else
		assert_null(out);
	return out;
}

static void
test_text_columns(void **state)
{
	char msg[64];
	char *out;

	(void)state;
	out = render(CONNS_HDR
	    "127.0.0.1:40000\t127.0.0.1:12000\ttcp0\t12345\t50\t6\t6\treading\n"
	    "[::1]:5\t[::1]:12000\ttcp1\t7\t7\t1048576\t0\tflushing\n",
	    false, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out,
	    "CLIENT           LISTENER         WORKER   AGE  IDLE  BYTES_IN  BYTES_OUT  STATE\n"
	    "127.0.0.1:40000  127.0.0.1:12000  tcp0    12.3   0.0         6          6  reading\n"
	    "[::1]:5          [::1]:12000      tcp1     0.0   0.0   1048576          0  flushing\n");
	free(out);
	/* No rows: the header alone. */
	out = render(CONNS_HDR, false, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out,
	    "CLIENT  LISTENER  WORKER  AGE  IDLE  BYTES_IN  BYTES_OUT  STATE\n");
	free(out);
}

static void
test_json_lines(void **state)
{
	char msg[64];
	char *out;

	(void)state;
	out = render(CONNS_HDR
	    "127.0.0.1:40000\t127.0.0.1:12000\ttcp0\t12345\t50\t6\t6\treading\n",
	    true, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out,
	    "{\"client\":\"127.0.0.1:40000\",\"listener\":\"127.0.0.1:12000\","
	    "\"worker\":\"tcp0\",\"age_ms\":12345,\"idle_ms\":50,\"bytes_in\":6,"
	    "\"bytes_out\":6,\"state\":\"reading\"}\n");
	free(out);
	/* "-" is null, a short row has nulls, a leading zero is no number, escapes. */
	out = render("#proto\tsource\tworker\tseen\n"
	    "tcp\t192.0.2.0/24\t-\t007\n"
	    "udp\ta\"b\\c\x01\xc3\xa9\n",
	    true, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out,
	    "{\"proto\":\"tcp\",\"source\":\"192.0.2.0/24\",\"worker\":null,\"seen\":\"007\"}\n"
	    "{\"proto\":\"udp\",\"source\":\"a\\\"b\\\\c\\u0001\\u00c3\\u00a9\","
	    "\"worker\":null,\"seen\":null}\n");
	free(out);
	/* No rows: nothing at all. */
	out = render(CONNS_HDR, true, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out, "");
	free(out);
}

static void
test_remarks_and_errors(void **state)
{
	char msg[64];
	char *out;

	(void)state;
	out = render("#a\tb\n1\t2\n#incomplete: worker tcp1 ran out of memory\n3\t4\n",
	    false, CTLFMT_INCOMPLETE, msg, sizeof(msg));
	assert_string_equal(msg, "incomplete: worker tcp1 ran out of memory");
	assert_string_equal(out, "A  B\n1  2\n3  4\n");
	free(out);
	render("error: the workers did not answer in time\n", true, CTLFMT_REFUSED, msg,
	    sizeof(msg));
	assert_string_equal(msg, "the workers did not answer in time");
	/* An older daemon answers every request with its counters. */
	render("upcased_tcp_connections_open 3\n", false, CTLFMT_NOT_LISTING, msg,
	    sizeof(msg));
	render("", false, CTLFMT_NOT_LISTING, msg, sizeof(msg));
	render("#\n", false, CTLFMT_NOT_LISTING, msg, sizeof(msg));
}

static void
test_odd_rows(void **state)
{
	char msg[64];
	char *out;

	(void)state;
	/* Extra fields are left out; no final newline; blank lines skipped; CR kept as data. */
	out = render("#n\tm_ms\n5\t1500\textra\n\n6\t99", false, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out, "N    M\n5  1.5\n6  0.0\n");
	free(out);
	out = render("#n\tm_ms\n5\t1500\textra\n\n6\t99", true, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out, "{\"n\":5,\"m_ms\":1500}\n{\"n\":6,\"m_ms\":99}\n");
	free(out);
	/* Control characters never reach a terminal. */
	out = render("#x\n\x1b[2J\n", false, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out, "X\n?[2J\n");
	free(out);
	/* A column with one non-number is text, aligned left. */
	out = render("#x\n10\nab\n", false, CTLFMT_OK, msg, sizeof(msg));
	assert_string_equal(out, "X\n10\nab\n");
	free(out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_columns),
		cmocka_unit_test(test_json_lines),
		cmocka_unit_test(test_remarks_and_errors),
		cmocka_unit_test(test_odd_rows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
