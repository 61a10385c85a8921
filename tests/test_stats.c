/* SPDX-License-Identifier: ISC */
/* test_stats.c: formatting and summing the counters (stats.c). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "stats.h"

#define GUARD 16

/* Counters 1, 2, 3, ... so that every line is told apart. */
static void
fill(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < STAT__COUNT; i++)
		s->v[i] = (uint64_t)i + 1;
	s->v[STAT_TCP_ACCEPTED] = 10;
	s->v[STAT_TCP_CLOSED] = 7;
}

static void
test_format_lines(void **state)
{
	struct stats s;
	char buf[4096], names[STAT__COUNT + 1][128], want[64];
	char *line, *save = NULL;
	size_t len;
	int n = 0;

	(void)state;
	fill(&s);
	len = stats_format(&s, "\n", buf, sizeof(buf));
	assert_int_equal(len, strlen(buf));
	assert_true(len > 0 && buf[len - 1] == '\n');	/* every line ends, the last too */
	assert_null(strstr(buf, "\n\n"));
	assert_int_equal(strncmp(buf, "upcased_tcp_connections_open 3\n", 31), 0);
	assert_non_null(strstr(buf, "\nupcased_tcp_connections_accepted_total 10\n"));
	assert_non_null(strstr(buf, "\nupcased_tcp_connections_closed_total 7\n"));
	snprintf(want, sizeof(want), "\nupcased_reload_failures_total %d\n", STAT_RELOAD_FAILURES + 1);
	assert_non_null(strstr(buf, want));
	/* The gauge, then one "name value" line per counter, each name once. */
	for (line = strtok_r(buf, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
		char name[128];
		uint64_t v;
		int end = 0;

		assert_true(n <= STAT__COUNT);
		assert_int_equal(sscanf(line, "%127s %" SCNu64 "%n", name, &v, &end), 2);
		assert_int_equal(line[end], '\0');
		assert_int_equal(strncmp(name, "upcased_", 8), 0);
		if (n > 0)
			assert_int_equal(v, s.v[n - 1]);	/* in enum order */
		for (int j = 0; j < n; j++)
			assert_string_not_equal(names[j], name);
		strcpy(names[n++], name);
	}
	assert_int_equal(n, STAT__COUNT + 1);
}

static void
test_format_one_line(void **state)
{
	struct stats s;
	char buf[4096], want[64];
	size_t len;
	int seps = 0;

	(void)state;
	fill(&s);
	len = stats_format(&s, ", ", buf, sizeof(buf));
	assert_int_equal(len, strlen(buf));
	assert_null(strchr(buf, '\n'));
	assert_int_equal(strncmp(buf, "upcased_tcp_connections_open 3, "
	    "upcased_tcp_connections_accepted_total 10, "
	    "upcased_tcp_connections_closed_total 7, ", 95), 0);
	/* Between the entries only: nothing after the last. */
	snprintf(want, sizeof(want), "upcased_reload_failures_total %d", STAT_RELOAD_FAILURES + 1);
	assert_string_equal(buf + len - strlen(want), want);
	for (const char *p = buf; (p = strstr(p, ", ")) != NULL; p += 2)
		seps++;
	assert_int_equal(seps, STAT__COUNT);
}

/* Every size: the prefix of the whole text, NUL-terminated, nothing written past buflen. */
static void
check_truncation(const char *sep)
{
	struct stats s;
	char full[4096], buf[4096 + GUARD];
	size_t flen;

	fill(&s);
	s.v[STAT_TCP_BYTES_IN] = UINT64_MAX;	/* the longest value */
	flen = stats_format(&s, sep, full, sizeof(full));
	assert_true(flen > 100 && flen < sizeof(full) - 1);
	for (size_t buflen = 0; buflen <= flen + 2; buflen++) {
		size_t want = buflen == 0 ? 0 : (buflen - 1 < flen ? buflen - 1 : flen);
		size_t got;

		memset(buf, 'X', sizeof(buf));
		got = stats_format(&s, sep, buf, buflen);
		assert_int_equal(got, want);
		if (buflen > 0) {
			assert_int_equal(buf[got], '\0');
			assert_memory_equal(buf, full, got);
		}
		for (size_t i = buflen; i < buflen + GUARD; i++)
			assert_int_equal(buf[i], 'X');
	}
}

static void
test_format_truncation_lines(void **state)
{
	(void)state;
	check_truncation("\n");
}

static void
test_format_truncation_one_line(void **state)
{
	(void)state;
	check_truncation(", ");
}

/* The counters are read one by one: closed may be newer than accepted. */
static void
test_open_gauge_clamped(void **state)
{
	struct stats s;
	char buf[4096];

	(void)state;
	memset(&s, 0, sizeof(s));
	s.v[STAT_TCP_ACCEPTED] = 2;
	s.v[STAT_TCP_CLOSED] = 5;
	stats_format(&s, "\n", buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "upcased_tcp_connections_open 0\n", 31), 0);
	stats_summary(&s, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "0 connections open, 2 accepted,", 31), 0);
	s.v[STAT_TCP_CLOSED] = 2;
	stats_format(&s, ", ", buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "upcased_tcp_connections_open 0, ", 32), 0);
}

static void
test_sum_into(void **state)
{
	struct stats a, b, before;

	(void)state;
	fill(&a);
	memset(&b, 0, sizeof(b));
	for (int i = 0; i < STAT__COUNT; i++)
		b.v[i] = 100 * ((uint64_t)i + 1);
	before = b;
	stats_sum_into(&a, &b);
	stats_sum_into(&a, &b);
	assert_int_equal(a.v[STAT_TCP_ACCEPTED], 10 + 2 * 100);
	assert_int_equal(a.v[STAT_TCP_CLOSED], 7 + 2 * 200);
	for (int i = 2; i < STAT__COUNT; i++)
		assert_int_equal(a.v[i], (uint64_t)i + 1 + 2 * 100 * ((uint64_t)i + 1));
	assert_memory_equal(&b, &before, sizeof(b));	/* src is only read */
	stats_add(&b, STAT_RELOADS, 5);
	assert_int_equal(stats_get(&b, STAT_RELOADS), before.v[STAT_RELOADS] + 5);
}

static void
test_summary(void **state)
{
	static const char want[] = "3 connections open, 10 accepted, 3 refused; "
	    "10 datagrams served, 23 dropped; 20 bytes in, 22 out";
	struct stats s;
	char buf[256 + GUARD];
	size_t len = sizeof(want) - 1;

	(void)state;
	memset(&s, 0, sizeof(s));
	s.v[STAT_TCP_ACCEPTED] = 10;
	s.v[STAT_TCP_CLOSED] = 7;
	/* refused, every reason: 1 + 2 + 0 + 0 */
	s.v[STAT_TCP_REFUSED_MAXCONN] = 1;
	s.v[STAT_TCP_REFUSED_ACCESS] = 2;
	s.v[STAT_UDP_DATAGRAMS_OUT] = 10;
	/* dropped, every reason: 11 + 7 + 1 + 1 + 1 + 1 + 1 + 0 */
	s.v[STAT_UDP_DROPPED_TOOLARGE] = 11;
	s.v[STAT_UDP_DROPPED_SENDFAIL] = 7;
	s.v[STAT_UDP_DROPPED_ACCESS] = 1;
	s.v[STAT_UDP_DROPPED_LOW_PORT] = 1;
	s.v[STAT_UDP_DROPPED_OWN_PORT] = 1;
	s.v[STAT_UDP_DROPPED_BAD_SOURCE] = 1;
	s.v[STAT_UDP_DROPPED_LOOP] = 1;
	/* leaked datagrams were answered: not dropped */
	s.v[STAT_UDP_LEAKED] = 100;
	/* in: tcp 7 + udp 13; out: tcp 8 + udp 14 */
	s.v[STAT_TCP_BYTES_IN] = 7;
	s.v[STAT_UDP_BYTES_IN] = 13;
	s.v[STAT_TCP_BYTES_OUT] = 8;
	s.v[STAT_UDP_BYTES_OUT] = 14;
	assert_int_equal(stats_summary(&s, buf, 256), len);
	assert_string_equal(buf, want);
	for (size_t buflen = 0; buflen <= len + 1; buflen++) {
		size_t got;

		memset(buf, 'X', sizeof(buf));
		got = stats_summary(&s, buf, buflen);
		assert_int_equal(got, buflen == 0 ? 0 : (buflen - 1 < len ? buflen - 1 : len));
		if (buflen > 0) {
			assert_int_equal(buf[got], '\0');
			assert_memory_equal(buf, want, got);
		}
		for (size_t i = buflen; i < buflen + GUARD; i++)
			assert_int_equal(buf[i], 'X');
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_lines),
		cmocka_unit_test(test_format_one_line),
		cmocka_unit_test(test_format_truncation_lines),
		cmocka_unit_test(test_format_truncation_one_line),
		cmocka_unit_test(test_open_gauge_clamped),
		cmocka_unit_test(test_sum_into),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
