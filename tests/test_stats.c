/* SPDX-License-Identifier: ISC */
/* test_stats.c: formatting, exposing and summing the counters (stats.c). */
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
test_format_one_line(void **state)
{
	struct stats s;
	char buf[4096], want[64];
	size_t len;
	int seps = 0;

	(void)state;
	fill(&s);
	len = stats_format(&s, buf, sizeof(buf));
	assert_int_equal(len, strlen(buf));
	assert_null(strchr(buf, '\n'));
	assert_int_equal(strncmp(buf, "upcased_tcp_connections_open 3, "
	    "upcased_tcp_connections_accepted_total 10, "
	    "upcased_tcp_connections_closed_total 7, ", 95), 0);
	/* A reason is a label, written as in the exposition. */
	snprintf(want, sizeof(want), ", upcased_tcp_connections_refused_total{reason=\"access\"} %d, ",
	    STAT_TCP_REFUSED_ACCESS + 1);
	assert_non_null(strstr(buf, want));
	snprintf(want, sizeof(want), ", upcased_tcp_connections_dropped_total{reason=\"error\"} %d, ",
	    STAT_TCP_RESETS + 1);
	assert_non_null(strstr(buf, want));
	/* Between the entries only: nothing after the last. */
	snprintf(want, sizeof(want), "upcased_upgrade_failures_total %d", STAT_UPGRADE_FAILURES + 1);
	assert_string_equal(buf + len - strlen(want), want);
	for (const char *p = buf; (p = strstr(p, ", ")) != NULL; p += 2)
		seps++;
	assert_int_equal(seps, STAT__COUNT);
}

/* Every size: the prefix of the whole text, NUL-terminated, nothing written past buflen. */
static void
test_format_truncation(void **state)
{
	struct stats s;
	char full[4096], buf[4096 + GUARD];
	size_t flen;

	(void)state;
	fill(&s);
	s.v[STAT_TCP_BYTES_IN] = UINT64_MAX;	/* the longest value */
	flen = stats_format(&s, full, sizeof(full));
	assert_true(flen > 100 && flen < sizeof(full) - 1);
	for (size_t buflen = 0; buflen <= flen + 2; buflen++) {
		size_t want = buflen == 0 ? 0 : (buflen - 1 < flen ? buflen - 1 : flen);
		size_t got;

		memset(buf, 'X', sizeof(buf));
		got = stats_format(&s, buf, buflen);
		assert_int_equal(got, want);
		if (buflen > 0) {
			assert_int_equal(buf[got], '\0');
			assert_memory_equal(buf, full, got);
		}
		for (size_t i = buflen; i < buflen + GUARD; i++)
			assert_int_equal(buf[i], 'X');
	}
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
	stats_format(&s, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "upcased_tcp_connections_open 0, ", 32), 0);
	stats_summary(&s, buf, sizeof(buf));
	assert_int_equal(strncmp(buf, "0 connections open, 2 accepted,", 31), 0);
}

/* Bounds are inclusive (Prometheus's le); past the last: +Inf. */
static void
test_observe_buckets(void **state)
{
	struct stats s;

	(void)state;
	memset(&s, 0, sizeof(s));
	stats_observe(&s, HIST_UDP_SIZE, 0);
	stats_observe(&s, HIST_UDP_SIZE, 16);
	stats_observe(&s, HIST_UDP_SIZE, 17);
	stats_observe(&s, HIST_UDP_SIZE, 1472);
	stats_observe(&s, HIST_UDP_SIZE, 65536);
	stats_observe(&s, HIST_UDP_SIZE, 65537);
	assert_int_equal(s.h[HIST_UDP_SIZE].n[0], 2);
	assert_int_equal(s.h[HIST_UDP_SIZE].n[1], 1);
	assert_int_equal(s.h[HIST_UDP_SIZE].n[7], 1);
	assert_int_equal(s.h[HIST_UDP_SIZE].n[HIST_BUCKETS - 1], 1);
	assert_int_equal(s.h[HIST_UDP_SIZE].n[HIST_BUCKETS], 1);
	assert_int_equal(s.h[HIST_UDP_SIZE].sum, 16 + 17 + 1472 + 65536 + 65537);
	stats_observe(&s, HIST_TCP_DURATION, 4000000);	/* over an hour */
	assert_int_equal(s.h[HIST_TCP_DURATION].n[HIST_BUCKETS], 1);
	for (int h = 0; h < HIST__COUNT; h++)
		for (int b = 1; b < HIST_BUCKETS; b++)
			assert_true(stats_hist_bounds[h][b - 1] < stats_hist_bounds[h][b]);
}

static void
view_fill(struct stats_view *v, const uint64_t *open, int ntcp)
{
	memset(v, 0, sizeof(*v));
	fill(&v->total);
	v->open = open;
	v->ntcp = ntcp;
	v->start_ms = 1700000000123;
	v->loaded_ms = 1700000100050;
	v->version = "1.2.3";
}

/* The line that starts with prefix (a whole line), or NULL. */
static const char *
find_line(const char *text, const char *line)
{
	size_t n = strlen(line);

	for (const char *p = text; p != NULL && *p != '\0'; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (strncmp(p, line, n) == 0 && p[n] == '\n')
			return p;
	return NULL;
}

/*
 * The exposition's shape: every sample follows its family's # HELP and
 * # TYPE, a family's samples are together, a name has one family,
 * counters end in _total, histograms' buckets are cumulative and end in
 * +Inf with _count equal to it.
 */
static void
test_expose_shape(void **state)
{
	static const uint64_t open[3] = { 4, 0, 7 }, busy[3] = { 655, 0, 1000 };
	static char buf[65536];
	struct stats_view v;
	char fam[64][128], type[64][16], line[512], want[128];
	int nfam = 0;
	size_t len;
	bool cut = true;
	const char *p;

	(void)state;
	view_fill(&v, open, 3);
	v.busy = busy;
	stats_observe(&v.total, HIST_TCP_DURATION, 5);
	stats_observe(&v.total, HIST_TCP_DURATION, 1500);
	stats_observe(&v.total, HIST_TCP_DURATION, 1500);
	stats_observe(&v.total, HIST_UDP_SIZE, 100);
	len = stats_expose(&v, buf, sizeof(buf), &cut);
	assert_false(cut);
	assert_int_equal(len, strlen(buf));
	assert_true(len > 0 && buf[len - 1] == '\n');
	for (p = buf; *p != '\0'; ) {
		const char *nl = strchr(p, '\n');
		size_t n = (size_t)(nl - p);
		char name[128], t[16];

		assert_non_null(nl);
		assert_true(n < sizeof(line));
		memcpy(line, p, n);
		line[n] = '\0';
		p = nl + 1;
		if (strncmp(line, "# HELP ", 7) == 0) {
			assert_int_equal(sscanf(line + 7, "%127s", name), 1);
			for (int i = 0; i < nfam; i++)
				assert_string_not_equal(fam[i], name);	/* one family per name */
			assert_true(nfam < 64);
			strcpy(fam[nfam], name);
			/* TYPE next, same name */
			nl = strchr(p, '\n');
			assert_int_equal(sscanf(p, "# TYPE %127s %15s", line, t), 2);
			assert_string_equal(line, name);
			strcpy(type[nfam++], t);
			p = nl + 1;
			if (strcmp(t, "counter") == 0)
				assert_string_equal(name + strlen(name) - 6, "_total");
			else
				assert_true(strcmp(t, "gauge") == 0 || strcmp(t, "histogram") == 0);
			continue;
		}
		assert_true(line[0] != '#');
		assert_true(nfam > 0);
		/* A sample of the current family: its name, or name_bucket/_sum/_count. */
		n = strcspn(line, "{ ");
		if (strcmp(type[nfam - 1], "histogram") == 0) {
			size_t fl = strlen(fam[nfam - 1]);

			assert_int_equal(strncmp(line, fam[nfam - 1], fl), 0);
			assert_true(strncmp(line + fl, "_bucket{le=\"", 12) == 0 ||
			    strncmp(line + fl, "_sum ", 5) == 0 || strncmp(line + fl, "_count ", 7) == 0);
		} else {
			assert_int_equal(n, strlen(fam[nfam - 1]));
			assert_int_equal(strncmp(line, fam[nfam - 1], n), 0);
		}
	}
	assert_true(nfam >= 20);
	/* The values. */
	assert_non_null(find_line(buf, "upcased_build_info{version=\"1.2.3\"} 1"));
	assert_non_null(find_line(buf, "upcased_start_time_seconds 1700000000.123"));
	assert_non_null(find_line(buf, "upcased_last_reload_success_timestamp_seconds 1700000100.050"));
	assert_non_null(find_line(buf, "upcased_tcp_connections_open{worker=\"tcp0\"} 4"));
	assert_non_null(find_line(buf, "upcased_tcp_connections_open{worker=\"tcp2\"} 7"));
	assert_null(strstr(buf, "worker=\"tcp3\""));
	assert_non_null(find_line(buf, "upcased_tcp_worker_busy_ratio{worker=\"tcp0\"} 0.655"));
	assert_non_null(find_line(buf, "upcased_tcp_worker_busy_ratio{worker=\"tcp1\"} 0.000"));
	assert_non_null(find_line(buf, "upcased_tcp_worker_busy_ratio{worker=\"tcp2\"} 1.000"));
	assert_non_null(find_line(buf, "upcased_tcp_connections_accepted_total 10"));
	snprintf(want, sizeof(want), "upcased_tcp_connections_refused_total{reason=\"access\"} %d",
	    STAT_TCP_REFUSED_ACCESS + 1);
	assert_non_null(find_line(buf, want));
	snprintf(want, sizeof(want), "upcased_udp_datagrams_dropped_total{reason=\"rate_limit\"} %d",
	    STAT_UDP_DROPPED_RATE + 1);
	assert_non_null(find_line(buf, want));
	snprintf(want, sizeof(want), "upcased_tcp_proxy_refused_total{reason=\"timeout\"} %d",
	    STAT_TCP_PROXY_TIMEOUTS + 1);
	assert_non_null(find_line(buf, want));
	/* Histograms: cumulative, in seconds for the duration. */
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_bucket{le=\"0.01\"} 1"));
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_bucket{le=\"1\"} 1"));
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_bucket{le=\"5\"} 3"));
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_bucket{le=\"3600\"} 3"));
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_bucket{le=\"+Inf\"} 3"));
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_sum 3.005"));
	assert_non_null(find_line(buf, "upcased_tcp_connection_duration_seconds_count 3"));
	assert_non_null(find_line(buf, "upcased_udp_datagram_size_bytes_bucket{le=\"64\"} 0"));
	assert_non_null(find_line(buf, "upcased_udp_datagram_size_bytes_bucket{le=\"128\"} 1"));
	assert_non_null(find_line(buf, "upcased_udp_datagram_size_bytes_bucket{le=\"1472\"} 1"));
	assert_non_null(find_line(buf, "upcased_udp_datagram_size_bytes_sum 100"));
	assert_non_null(find_line(buf, "upcased_udp_datagram_size_bytes_count 1"));
}

/* Short of room: whole lines, a prefix of the full text, and it says so. */
static void
test_expose_truncation(void **state)
{
	static const uint64_t open[2] = { 1, 2 };
	static char full[65536], buf[65536 + GUARD];
	struct stats_view v;
	size_t flen;
	bool cut;

	(void)state;
	view_fill(&v, open, 2);
	flen = stats_expose(&v, full, sizeof(full), &cut);
	assert_false(cut);
	for (size_t buflen = 0; buflen <= flen + 1; buflen += 7) {
		size_t got;

		memset(buf, 'X', sizeof(buf));
		got = stats_expose(&v, buf, buflen, &cut);
		assert_true(got <= flen);
		assert_int_equal(cut, got < flen);
		assert_true(buflen == 0 || got < buflen);
		assert_memory_equal(buf, full, got);
		if (buflen > 0)
			assert_int_equal(buf[got], '\0');
		if (got > 0)
			assert_int_equal(buf[got - 1], '\n');
		for (size_t i = buflen; i < buflen + GUARD; i++)
			assert_int_equal(buf[i], 'X');
	}
	assert_int_equal(stats_expose(&v, buf, flen + 1, &cut), flen);
	assert_false(cut);
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
	stats_observe(&a, HIST_UDP_SIZE, 20);
	stats_observe(&b, HIST_UDP_SIZE, 30);
	stats_observe(&b, HIST_TCP_DURATION, 7);
	before = b;
	stats_sum_into(&a, &b);
	stats_sum_into(&a, &b);
	assert_int_equal(a.v[STAT_TCP_ACCEPTED], 10 + 2 * 100);
	assert_int_equal(a.v[STAT_TCP_CLOSED], 7 + 2 * 200);
	for (int i = 2; i < STAT__COUNT; i++)
		assert_int_equal(a.v[i], (uint64_t)i + 1 + 2 * 100 * ((uint64_t)i + 1));
	assert_int_equal(a.h[HIST_UDP_SIZE].n[1], 3);
	assert_int_equal(a.h[HIST_UDP_SIZE].sum, 20 + 2 * 30);
	assert_int_equal(a.h[HIST_TCP_DURATION].n[0], 2);
	assert_int_equal(a.h[HIST_TCP_DURATION].sum, 14);
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
		cmocka_unit_test(test_format_one_line),
		cmocka_unit_test(test_format_truncation),
		cmocka_unit_test(test_open_gauge_clamped),
		cmocka_unit_test(test_observe_buckets),
		cmocka_unit_test(test_expose_shape),
		cmocka_unit_test(test_expose_truncation),
		cmocka_unit_test(test_sum_into),
		cmocka_unit_test(test_summary),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
