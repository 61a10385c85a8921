/* SPDX-License-Identifier: ISC */
/*
 * test_handover.c: the live-upgrade handover format (handover.c).  The
 * writer's bytes against a hand encoding; every record type written and
 * read back with edge values; each refusal handover_parse documents, on
 * buffers built here byte by byte (not by the writer under test), with
 * the message checked and nothing visited; forward compatibility (longer
 * payloads, unknown non-critical types); the visitor stopping the walk;
 * and the FDNAME= of the fd store both ways.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "handover.h"

/* ---------------------------------------------------------------- raw buffers */

/* A handover built byte by byte, independently of the writer. */
struct raw {
	uint8_t *p;
	size_t   len, cap;
	size_t   rec_at;
};

static void
raw_add(struct raw *r, const void *p, size_t n)
{
	if (r->len + n > r->cap) {
		r->cap = (r->len + n) * 2 + 64;
		r->p = realloc(r->p, r->cap);
		assert_non_null(r->p);
	}
	if (n > 0)
		memcpy(r->p + r->len, p, n);
	r->len += n;
}

static void
raw_le(struct raw *r, uint64_t v, size_t n)
{
	uint8_t b[8];

	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	raw_add(r, b, n);
}

static void raw_u8(struct raw *r, uint64_t v)  { raw_le(r, v, 1); }
static void raw_u16(struct raw *r, uint64_t v) { raw_le(r, v, 2); }
static void raw_u32(struct raw *r, uint64_t v) { raw_le(r, v, 4); }
static void raw_u64(struct raw *r, uint64_t v) { raw_le(r, v, 8); }

static void
raw_bytes(struct raw *r, const void *p, size_t n)
{
	raw_u32(r, n);
	raw_add(r, p, n);
}

static void
raw_str(struct raw *r, const char *s)
{
	raw_bytes(r, s, strlen(s));
}

static void
raw_header(struct raw *r, unsigned version, unsigned flags)
{
	memset(r, 0, sizeof(*r));
	raw_add(r, "UPCHOVR", 8);
	raw_u16(r, version);
	raw_u16(r, flags);
	raw_u32(r, 0);
}

static void
raw_rec(struct raw *r, unsigned type, unsigned flags)
{
	raw_u16(r, type);
	raw_u16(r, flags);
	r->rec_at = r->len;
	raw_u32(r, 0);
}

/* Patch the length of the record raw_rec opened. */
static void
raw_done(struct raw *r)
{
	size_t n = r->len - r->rec_at - 4;

	for (size_t i = 0; i < 4; i++)
		r->p[r->rec_at + i] = (uint8_t)(n >> (8 * i));
}

static void
raw_end(struct raw *r, unsigned count)
{
	raw_rec(r, HO_T_END, HO_F_CRITICAL);
	raw_u32(r, count);
	raw_done(r);
}

static void
raw_counter(struct raw *r, const char *name, uint64_t value)
{
	raw_rec(r, HO_T_COUNTER, 0);
	raw_str(r, name);
	raw_u64(r, value);
	raw_done(r);
}

/* A LISTENER's fields, raw. */
struct rl {
	uint32_t fd;
	uint8_t type, flags;
	uint16_t shard1, port;
	const char *address;
};

static const struct rl rl_ok = { 0, 1, 0, 0, 12000, "*" };

static void
raw_listener(struct raw *r, const struct rl *l)
{
	raw_rec(r, HO_T_LISTENER, HO_F_CRITICAL);
	raw_u32(r, l->fd);
	raw_u8(r, l->type);
	raw_u8(r, l->flags);
	raw_u16(r, l->shard1);
	raw_u16(r, l->port);
	raw_str(r, l->address);
	raw_done(r);
}

/* A CONN's fields, raw; peer NULL: a sockaddr_in for 127.0.0.1:40000. */
struct rc {
	uint32_t fd;
	uint8_t state, charset, ncarry;
	const void *peer;
	size_t peerlen;
	size_t outlen, proxylen;        /* filled with 'o', 'p' */
	size_t extra;                   /* trailing bytes after the fields */
};

static const struct rc rc_ok = { 1, HO_CONN_READING, 0, 0, NULL, 0, 5, 0, 0 };

static void
raw_conn(struct raw *r, const struct rc *c)
{
	struct sockaddr_in sin;
	uint8_t *fill;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(40000);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	raw_rec(r, HO_T_CONN, HO_F_CRITICAL);
	raw_u32(r, c->fd);
	raw_u8(r, c->state);
	raw_u8(r, c->charset);
	raw_u8(r, c->ncarry);
	raw_add(r, "\xe2\x82\x00", 3);
	for (int i = 0; i < 6; i++)
		raw_u64(r, 1000 + (uint64_t)i);
	if (c->peer != NULL)
		raw_bytes(r, c->peer, c->peerlen);
	else
		raw_bytes(r, &sin, sizeof(sin));
	fill = malloc(c->outlen + c->proxylen + c->extra + 1);
	assert_non_null(fill);
	memset(fill, 'o', c->outlen);
	raw_bytes(r, fill, c->outlen);
	memset(fill, 'p', c->proxylen);
	raw_bytes(r, fill, c->proxylen);
	memset(fill, 'x', c->extra);
	raw_add(r, fill, c->extra);
	free(fill);
	raw_done(r);
}

/* ---------------------------------------------------------------- visiting */

struct seen {
	int visits;
	int meta, listeners, conns, counters, hists, controls, pidfiles;
	int stop_at;                    /* visit number that returns -1; 0: none */
	struct ho_meta m;
	struct ho_listener l[8];
	struct ho_conn c[4];
	uint8_t *out[4], *proxy[4];     /* copies */
	char cname[4][64];
	uint64_t cvalue[4];
	char hname[64];
	uint64_t hcounts[HANDOVER_HIST_MAX];
	size_t hn;
	uint64_t hsum;
	uint32_t control_fd, pidfile_fd;
	char control_path[256], pidfile_path[256];
};

static int
visited(struct seen *s)
{
	s->visits++;
	return s->stop_at != 0 && s->visits == s->stop_at ? -1 : 0;
}

static int
v_meta(const struct ho_meta *m, void *arg)
{
	struct seen *s = arg;

	s->m = *m;
	s->meta++;
	return visited(s);
}

static int
v_listener(const struct ho_listener *l, void *arg)
{
	struct seen *s = arg;

	if (s->listeners < 8)
		s->l[s->listeners] = *l;
	s->listeners++;
	return visited(s);
}

static uint8_t *
dup_bytes(const uint8_t *p, size_t n)
{
	uint8_t *d = malloc(n + 1);

	assert_non_null(d);
	if (n > 0)
		memcpy(d, p, n);
	return d;
}

static int
v_conn(const struct ho_conn *c, void *arg)
{
	struct seen *s = arg;

	if (s->conns < 4) {
		s->c[s->conns] = *c;
		s->out[s->conns] = dup_bytes(c->out, c->outlen);
		s->proxy[s->conns] = dup_bytes(c->proxy, c->proxylen);
	}
	s->conns++;
	return visited(s);
}

static int
v_counter(const char *name, uint64_t value, void *arg)
{
	struct seen *s = arg;

	if (s->counters < 4) {
		snprintf(s->cname[s->counters], sizeof(s->cname[0]), "%s", name);
		s->cvalue[s->counters] = value;
	}
	s->counters++;
	return visited(s);
}

static int
v_hist(const char *name, const uint64_t *counts, size_t n, uint64_t sum, void *arg)
{
	struct seen *s = arg;

	snprintf(s->hname, sizeof(s->hname), "%s", name);
	memcpy(s->hcounts, counts, n * sizeof(counts[0]));
	s->hn = n;
	s->hsum = sum;
	s->hists++;
	return visited(s);
}

static int
v_control(uint32_t fd, const char *path, void *arg)
{
	struct seen *s = arg;

	s->control_fd = fd;
	snprintf(s->control_path, sizeof(s->control_path), "%s", path);
	s->controls++;
	return visited(s);
}

static int
v_pidfile(uint32_t fd, const char *path, void *arg)
{
	struct seen *s = arg;

	s->pidfile_fd = fd;
	snprintf(s->pidfile_path, sizeof(s->pidfile_path), "%s", path);
	s->pidfiles++;
	return visited(s);
}

static const struct handover_visitor visitor = {
	v_meta, v_listener, v_conn, v_counter, v_hist, v_control, v_pidfile,
};

static void
seen_free(struct seen *s)
{
	for (int i = 0; i < 4 && i < s->conns; i++) {
		free(s->out[i]);
		free(s->proxy[i]);
	}
}

static char err[512];

/*
 * Parse len bytes from a heap copy of exactly that size (an over-read
 * shows under ASan).  An invalid handover (not one the visitor stopped)
 * must not have been visited at all.
 */
static int
parse_n(const uint8_t *p, size_t len, size_t nfds, struct seen *s)
{
	uint8_t *copy = malloc(len > 0 ? len : 1);
	int rc;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, p, len);
	memset(err, 'z', sizeof(err));
	err[sizeof(err) - 1] = '\0';
	rc = handover_parse(copy, len, nfds, &visitor, s, err, sizeof(err));
	free(copy);
	if (rc == -1) {
		assert_true(strlen(err) > 0);
		if (s->stop_at == 0)
			assert_int_equal(s->visits, 0);
	} else {
		assert_int_equal(rc, 0);
	}
	return rc;
}

/* The raw handover refused, err naming the problem; it is freed. */
#define REFUSED(r, nfds, text) do {					\
		struct seen s_;						\
		memset(&s_, 0, sizeof(s_));				\
		assert_int_equal(parse_n((r)->p, (r)->len, (nfds), &s_), -1); \
		if (strstr(err, (text)) == NULL)			\
			fail_msg("error \"%s\" does not say \"%s\"", err, (text)); \
		free((r)->p);						\
	} while (0)

/* ---------------------------------------------------------------- the writer */

/* The writer's bytes are the format's, checked against a hand encoding. */
static void
test_golden_bytes(void **state)
{
	static const uint8_t want[] = {
		'U', 'P', 'C', 'H', 'O', 'V', 'R', 0, 1, 0, 0, 0, 0, 0, 0, 0,
		4, 0, 0, 0, 14, 0, 0, 0,                /* COUNTER, not critical, 14 */
		2, 0, 0, 0, 'r', 'x',                   /* str "rx" */
		8, 7, 6, 5, 4, 3, 2, 1,                 /* u64 0x0102030405060708 */
		6, 0, 0, 0, 10, 0, 0, 0,                /* CONTROL, 10 */
		0x04, 0x03, 0x02, 0x01, 2, 0, 0, 0, '/', 's',
		0xff, 0xff, 1, 0, 4, 0, 0, 0,           /* END, critical, 4 */
		2, 0, 0, 0,                             /* two records before */
	};
	struct handover_buf b;

	(void)state;
	handover_begin(&b);
	handover_put_counter(&b, "rx", 0x0102030405060708ull);
	handover_put_control(&b, 0x01020304, "/s");
	assert_int_equal(handover_end(&b), 0);
	assert_int_equal(b.len, sizeof(want));
	assert_memory_equal(b.p, want, sizeof(want));
	handover_buf_free(&b);
	assert_null(b.p);
}

/* Every record type, written and read back, at the edges of its fields. */
static void
test_round_trip(void **state)
{
	struct handover_buf b;
	struct ho_meta m;
	struct ho_listener l[4];
	struct ho_conn c[2];
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	uint64_t h1[1] = { 7 }, h64[HANDOVER_HIST_MAX];
	uint8_t *out, proxy[HANDOVER_PROXY_MAX];
	char longaddr[256], longpath[HANDOVER_STR_MAX + 1];
	struct seen s;

	(void)state;
	memset(&m, 0, sizeof(m));
	m.pid = UINT32_MAX;
	m.start_wall_ms = 1700000000000ull;
	m.loaded_wall_ms = UINT64_MAX;
	m.upgrades = 3;
	snprintf(m.version, sizeof(m.version), "0.1.0");

	memset(l, 0, sizeof(l));
	memset(longaddr, 'a', 255);
	longaddr[255] = '\0';
	l[0] = (struct ho_listener){ .fd = 0, .type = SOCK_STREAM, .proxy = true,
	    .reuse_port = true, .shard = -1, .port = 12000 };
	snprintf(l[0].address, sizeof(l[0].address), "*");
	l[1] = (struct ho_listener){ .fd = 1, .type = SOCK_DGRAM, .reuse_port = true,
	    .shard = 127, .port = 65535 };
	snprintf(l[1].address, sizeof(l[1].address), "::1");
	l[2] = (struct ho_listener){ .fd = 2, .type = SOCK_STREAM, .activated = true,
	    .shard = -1, .port = 0 };       /* activated: address empty */
	l[3] = (struct ho_listener){ .fd = 3, .type = SOCK_DGRAM, .shard = 0, .port = 1 };
	memcpy(l[3].address, longaddr, 256);

	out = malloc(HANDOVER_OUT_MAX);
	assert_non_null(out);
	for (size_t i = 0; i < HANDOVER_OUT_MAX; i++)
		out[i] = (uint8_t)(i * 7);
	for (size_t i = 0; i < sizeof(proxy); i++)
		proxy[i] = (uint8_t)(255 - i);
	memset(c, 0, sizeof(c));
	c[0].fd = 4;
	c[0].state = HO_CONN_DRAINING;
	c[0].charset = 1;
	c[0].ncarry = 3;
	memcpy(c[0].carry, "\xf0\x9f\x98", 3);
	c[0].start_ms = 1;
	c[0].last_ms = 2;
	c[0].rx_ms = 3;
	c[0].bytes_in = UINT64_MAX;
	c[0].bytes_out = UINT64_MAX - 1;
	c[0].proxy_deadline_ms = 0;
	sin = (struct sockaddr_in *)&c[0].peer;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	inet_pton(AF_INET, "127.0.0.1", &sin->sin_addr);
	c[0].peerlen = sizeof(*sin);
	c[0].out = out;
	c[0].outlen = HANDOVER_OUT_MAX;
	c[1].fd = 5;
	c[1].state = HO_CONN_PROXY;
	c[1].proxy_deadline_ms = 123456789;
	sin6 = (struct sockaddr_in6 *)&c[1].peer;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(1);
	sin6->sin6_scope_id = 2;
	inet_pton(AF_INET6, "fe80::1", &sin6->sin6_addr);
	c[1].peerlen = sizeof(*sin6);
	c[1].proxy = proxy;
	c[1].proxylen = HANDOVER_PROXY_MAX;

	for (int i = 0; i < HANDOVER_HIST_MAX; i++)
		h64[i] = (uint64_t)i << 40;
	memset(longpath, 'p', HANDOVER_STR_MAX);
	longpath[0] = '/';
	longpath[HANDOVER_STR_MAX] = '\0';

	handover_begin(&b);
	handover_put_meta(&b, &m);
	for (int i = 0; i < 4; i++)
		handover_put_listener(&b, &l[i]);
	handover_put_conn(&b, &c[0]);
	handover_put_conn(&b, &c[1]);
	handover_put_counter(&b, "upcase_requests_total", 42);
	handover_put_counter(&b, "upcase_refused_total{reason}", UINT64_MAX);
	handover_put_hist(&b, "upcase_one", h1, 1, 7);
	handover_put_hist(&b, "upcase_latency_seconds", h64, HANDOVER_HIST_MAX, 99);
	handover_put_control(&b, 6, "/run/upcased/upcased.sock");
	handover_put_pidfile(&b, 7, longpath);
	assert_int_equal(handover_end(&b), 0);
	assert_int_equal(b.records, 14);	/* END included */

	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(b.p, b.len, 8, &s), 0);
	assert_int_equal(s.visits, 13);
	assert_int_equal(s.meta, 1);
	assert_int_equal(s.m.pid, UINT32_MAX);
	assert_true(s.m.start_wall_ms == 1700000000000ull);
	assert_true(s.m.loaded_wall_ms == UINT64_MAX);
	assert_int_equal(s.m.upgrades, 3);
	assert_string_equal(s.m.version, "0.1.0");

	assert_int_equal(s.listeners, 4);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(s.l[i].fd, l[i].fd);
		assert_int_equal(s.l[i].type, l[i].type);
		assert_int_equal(s.l[i].proxy, l[i].proxy);
		assert_int_equal(s.l[i].reuse_port, l[i].reuse_port);
		assert_int_equal(s.l[i].activated, l[i].activated);
		assert_int_equal(s.l[i].shard, l[i].shard);
		assert_int_equal(s.l[i].port, l[i].port);
		assert_string_equal(s.l[i].address, l[i].address);
	}
	assert_int_equal(s.l[1].shard, 127);
	assert_string_equal(s.l[2].address, "");
	assert_int_equal(strlen(s.l[3].address), 255);

	assert_int_equal(s.conns, 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(s.c[i].fd, c[i].fd);
		assert_int_equal(s.c[i].state, c[i].state);
		assert_int_equal(s.c[i].charset, c[i].charset);
		assert_int_equal(s.c[i].ncarry, c[i].ncarry);
		assert_memory_equal(s.c[i].carry, c[i].carry, 3);
		assert_true(s.c[i].start_ms == c[i].start_ms);
		assert_true(s.c[i].last_ms == c[i].last_ms);
		assert_true(s.c[i].rx_ms == c[i].rx_ms);
		assert_true(s.c[i].bytes_in == c[i].bytes_in);
		assert_true(s.c[i].bytes_out == c[i].bytes_out);
		assert_true(s.c[i].proxy_deadline_ms == c[i].proxy_deadline_ms);
		assert_int_equal(s.c[i].peerlen, c[i].peerlen);
		assert_memory_equal(&s.c[i].peer, &c[i].peer, c[i].peerlen);
		assert_int_equal(s.c[i].outlen, c[i].outlen);
		assert_int_equal(s.c[i].proxylen, c[i].proxylen);
	}
	assert_int_equal(s.c[0].peer.ss_family, AF_INET);
	assert_int_equal(s.c[1].peer.ss_family, AF_INET6);
	assert_memory_equal(s.out[0], out, HANDOVER_OUT_MAX);
	assert_null(s.c[0].proxy);
	assert_null(s.c[1].out);
	assert_memory_equal(s.proxy[1], proxy, HANDOVER_PROXY_MAX);

	assert_int_equal(s.counters, 2);
	assert_string_equal(s.cname[0], "upcase_requests_total");
	assert_true(s.cvalue[0] == 42);
	assert_string_equal(s.cname[1], "upcase_refused_total{reason}");
	assert_true(s.cvalue[1] == UINT64_MAX);
	assert_int_equal(s.hists, 2);       /* the last one kept */
	assert_string_equal(s.hname, "upcase_latency_seconds");
	assert_int_equal(s.hn, HANDOVER_HIST_MAX);
	assert_memory_equal(s.hcounts, h64, sizeof(h64));
	assert_true(s.hsum == 99);
	assert_int_equal(s.controls, 1);
	assert_int_equal(s.control_fd, 6);
	assert_string_equal(s.control_path, "/run/upcased/upcased.sock");
	assert_int_equal(s.pidfiles, 1);
	assert_int_equal(s.pidfile_fd, 7);

	/* Descriptors: 8 named, 7 received is one too few. */
	seen_free(&s);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(b.p, b.len, 7, &s), -1);
	assert_non_null(strstr(err, "record 12 (PIDFILE): descriptor index 7 >= 7"));
	/* No visitor: checked only. */
	assert_int_equal(handover_parse(b.p, b.len, 8, NULL, NULL, err, sizeof(err)), 0);
	handover_buf_free(&b);
	free(out);
}

/* A single hist of one bucket, and an empty handover (END alone). */
static void
test_round_trip_small(void **state)
{
	struct handover_buf b;
	uint64_t one = 5;
	struct seen s;

	(void)state;
	handover_begin(&b);
	assert_int_equal(handover_end(&b), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(b.p, b.len, 0, &s), 0);
	assert_int_equal(s.visits, 0);
	handover_buf_free(&b);

	handover_begin(&b);
	handover_put_hist(&b, "h", &one, 1, 5);
	assert_int_equal(handover_end(&b), 0);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(b.p, b.len, 0, &s), 0);
	assert_int_equal(s.hn, 1);
	assert_true(s.hcounts[0] == 5 && s.hsum == 5);
	handover_buf_free(&b);
}

/* What the format cannot carry makes handover_end fail. */
static void
test_writer_refuses(void **state)
{
	struct handover_buf b;
	struct ho_listener l;
	struct ho_conn c;
	uint64_t counts[HANDOVER_HIST_MAX + 1] = { 0 };
	char *big = malloc(HANDOVER_STR_MAX + 2);
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.peer;

	(void)state;
	assert_non_null(big);
	memset(big, 'n', HANDOVER_STR_MAX + 1);
	big[HANDOVER_STR_MAX + 1] = '\0';

	handover_begin(&b);
	handover_put_counter(&b, big, 1);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);

	handover_begin(&b);
	handover_put_hist(&b, "h", counts, 0, 0);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);
	handover_begin(&b);
	handover_put_hist(&b, "h", counts, HANDOVER_HIST_MAX + 1, 0);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);

	memset(&l, 0, sizeof(l));
	l.type = SOCK_STREAM;
	l.shard = -2;
	handover_begin(&b);
	handover_put_listener(&b, &l);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);
	l.shard = 0;
	l.type = SOCK_RAW;
	handover_begin(&b);
	handover_put_listener(&b, &l);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);
	l.type = SOCK_DGRAM;
	memset(l.address, 'a', sizeof(l.address));      /* no NUL: too long */
	handover_begin(&b);
	handover_put_listener(&b, &l);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);

	memset(&c, 0, sizeof(c));
	sin->sin_family = AF_INET;
	c.peerlen = sizeof(struct sockaddr_in6);        /* wrong for AF_INET */
	handover_begin(&b);
	handover_put_conn(&b, &c);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);
	c.peerlen = sizeof(*sin);
	c.proxy = (const uint8_t *)"PROXY";
	c.proxylen = 5;                                 /* state READING */
	handover_begin(&b);
	handover_put_conn(&b, &c);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);
	c.proxylen = 0;
	c.outlen = HANDOVER_OUT_MAX + 1;
	c.out = (const uint8_t *)big;
	handover_begin(&b);
	handover_put_conn(&b, &c);
	handover_put_counter(&b, "after", 1);           /* nothing more goes in */
	assert_true(b.failed);
	assert_int_equal(handover_end(&b), -1);
	handover_buf_free(&b);
	free(big);
}

/* ---------------------------------------------------------------- refusals */

static void
test_refuse_short(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	r.len = 15;
	REFUSED(&r, 0, "shorter than its header");
}

static void
test_refuse_magic(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_end(&r, 0);
	r.p[6] = 'X';
	REFUSED(&r, 0, "bad magic");
}

static void
test_refuse_newer_version(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 2, 0);
	raw_end(&r, 0);
	REFUSED(&r, 0, "handover format version 2 is newer than this upcased reads (1)");
}

static void
test_refuse_version_zero(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 0, 0);
	raw_end(&r, 0);
	REFUSED(&r, 0, "version 0");
}

static void
test_refuse_header_flags(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0x8000);
	raw_end(&r, 0);
	REFUSED(&r, 0, "unknown header flags 0x8000");
}

static void
test_refuse_record_flags(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_COUNTER, 2);
	raw_str(&r, "c");
	raw_u64(&r, 1);
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 0 (COUNTER): unknown flags 0x0002");
}

static void
test_refuse_truncated_record_header(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_counter(&r, "c", 1);
	raw_u16(&r, HO_T_END);
	raw_u16(&r, HO_F_CRITICAL);
	REFUSED(&r, 0, "record 1: its 8-byte header cut short (4 bytes left)");
}

static void
test_refuse_truncated_payload(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_counter(&r, "c", 1);
	raw_end(&r, 1);
	r.len -= 1;                     /* END's count cut */
	REFUSED(&r, 0, "record 1 (END): length 4 overruns the handover (3 bytes left)");
}

static void
test_refuse_oversized_record(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_u16(&r, HO_T_COUNTER);
	raw_u16(&r, 0);
	raw_u32(&r, HANDOVER_RECORD_MAX + 1);
	REFUSED(&r, 0, "record 0 (COUNTER): length 1048577 > 1048576");
}

static void
test_refuse_unknown_critical(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_rec(&r, 42, HO_F_CRITICAL);
	raw_u32(&r, 0);
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 0 (type 42): unknown type, flagged critical");
}

/* A version-1 field missing: the payload ends before it. */
static void
test_refuse_missing_field(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_COUNTER, 0);
	raw_str(&r, "c");
	raw_u32(&r, 1);                 /* half a u64 */
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 0 (COUNTER): payload of 9 bytes ends in value");
}

static void
test_refuse_conn_state(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.state = 4;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): state 4 > 3");
}

static void
test_refuse_conn_charset(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.charset = 2;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): charset 2 unknown");
}

static void
test_refuse_ncarry(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.ncarry = 4;
	raw_header(&r, 1, 0);
	raw_listener(&r, &rl_ok);
	raw_conn(&r, &c);
	raw_end(&r, 2);
	REFUSED(&r, 2, "record 1 (CONN): ncarry 4 > 3");
}

static void
test_refuse_listener_type(void **state)
{
	struct raw r;
	struct rl l = rl_ok;

	(void)state;
	l.type = 3;
	raw_header(&r, 1, 0);
	raw_listener(&r, &l);
	raw_end(&r, 1);
	REFUSED(&r, 1, "record 0 (LISTENER): type 3 is neither 1 (TCP) nor 2 (UDP)");
}

static void
test_refuse_listener_flags(void **state)
{
	struct raw r;
	struct rl l = rl_ok;

	(void)state;
	l.flags = 8;
	raw_header(&r, 1, 0);
	raw_listener(&r, &l);
	raw_end(&r, 1);
	REFUSED(&r, 1, "record 0 (LISTENER): unknown flags 0x08");
}

static void
test_refuse_peer_family(void **state)
{
	struct raw r;
	struct rc c = rc_ok;
	struct sockaddr_storage ss;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_UNIX;
	c.peer = &ss;
	c.peerlen = 16;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): peer family 1 is neither AF_INET nor AF_INET6");
}

static void
test_refuse_peer_length(void **state)
{
	struct raw r;
	struct rc c = rc_ok;
	struct sockaddr_storage ss;

	(void)state;
	memset(&ss, 0, sizeof(ss));
	ss.ss_family = AF_INET;
	c.peer = &ss;
	c.peerlen = 28;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): peer of family AF_INET is 28 bytes, not 16");

	ss.ss_family = AF_INET6;
	c.peerlen = 16;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): peer of family AF_INET6 is 16 bytes, not 28");

	c.peerlen = 1;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): peer of 1 bytes");
}

static void
test_refuse_string_nul(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_CONTROL, 0);
	raw_u32(&r, 0);
	raw_bytes(&r, "/run\0x", 6);
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 1, "record 0 (CONTROL): path has a NUL byte");
}

static void
test_refuse_string_long(void **state)
{
	char *big = malloc(HANDOVER_STR_MAX + 2);
	struct raw r;
	struct rl l = rl_ok;

	(void)state;
	assert_non_null(big);
	memset(big, 'n', HANDOVER_STR_MAX + 1);
	big[HANDOVER_STR_MAX + 1] = '\0';
	raw_header(&r, 1, 0);
	raw_counter(&r, big, 1);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 0 (COUNTER): name of 4096 bytes > 4095");

	/* An address of 256 bytes is a valid str but does not fit address[]. */
	big[256] = '\0';
	l.address = big;
	raw_header(&r, 1, 0);
	raw_listener(&r, &l);
	raw_end(&r, 1);
	REFUSED(&r, 1, "record 0 (LISTENER): address of 256 bytes > 255");
	free(big);
}

/* A meta version longer than version[] is cut to fit, not refused. */
static void
test_meta_version_cut(void **state)
{
	char v[101];
	struct raw r;
	struct seen s;

	(void)state;
	memset(v, 'v', 100);
	v[100] = '\0';
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_META, 0);
	raw_u32(&r, 1);
	raw_u64(&r, 2);
	raw_u64(&r, 3);
	raw_u32(&r, 4);
	raw_str(&r, v);
	raw_done(&r);
	raw_end(&r, 1);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(r.p, r.len, 0, &s), 0);
	assert_int_equal(s.meta, 1);
	assert_int_equal(strlen(s.m.version), 63);
	assert_int_equal(s.m.pid, 1);
	assert_int_equal(s.m.upgrades, 4);
	free(r.p);
}

static void
test_refuse_proxy_outside_state(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.state = HO_CONN_FLUSHING;
	c.proxylen = 10;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): 10 proxy bytes in state 1, not PROXY (3)");
}

static void
test_refuse_out_too_long(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.outlen = HANDOVER_OUT_MAX + 1;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): out of 524289 bytes > 524288");
}

static void
test_refuse_proxy_too_long(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.state = HO_CONN_PROXY;
	c.proxylen = HANDOVER_PROXY_MAX + 1;
	raw_header(&r, 1, 0);
	raw_conn(&r, &c);
	raw_end(&r, 1);
	REFUSED(&r, 2, "record 0 (CONN): proxy of 257 bytes > 256");
}

/* A bytes field longer than the rest of its record. */
static void
test_refuse_field_overrun(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_PIDFILE, 0);
	raw_u32(&r, 0);
	raw_u32(&r, 10);
	raw_add(&r, "/run", 4);
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 1, "record 0 (PIDFILE): path of 10 bytes overruns the payload of 12");
}

static void
test_refuse_hist_n(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_HIST, 0);
	raw_str(&r, "h");
	raw_u32(&r, 0);
	raw_u64(&r, 0);
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 0 (HIST): n 0 not within 1 to 64");

	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_HIST, 0);
	raw_str(&r, "h");
	raw_u32(&r, HANDOVER_HIST_MAX + 1);
	for (int i = 0; i < HANDOVER_HIST_MAX + 2; i++)
		raw_u64(&r, 0);
	raw_done(&r);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 0 (HIST): n 65 not within 1 to 64");
}

static void
test_refuse_fd_range(void **state)
{
	struct raw r;
	struct rl l = rl_ok;

	(void)state;
	l.fd = 3;
	raw_header(&r, 1, 0);
	raw_listener(&r, &l);
	raw_end(&r, 1);
	REFUSED(&r, 3, "record 0 (LISTENER): descriptor index 3 >= 3 received");
}

static void
test_refuse_fd_twice(void **state)
{
	struct raw r;
	struct rc c = rc_ok;

	(void)state;
	c.fd = 0;                       /* the listener's */
	raw_header(&r, 1, 0);
	raw_listener(&r, &rl_ok);
	raw_conn(&r, &c);
	raw_end(&r, 2);
	REFUSED(&r, 4, "record 1 (CONN): descriptor index 0 used twice");
}

static void
test_refuse_too_many_fds(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_end(&r, 0);
	REFUSED(&r, ((size_t)1 << 20) + 1, "1048577 descriptors > 1048576");
}

static void
test_refuse_no_end(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_counter(&r, "c", 1);
	REFUSED(&r, 0, "no END record: the handover ends after 1 records");
	raw_header(&r, 1, 0);
	REFUSED(&r, 0, "no END record: the handover ends after 0 records");
}

static void
test_refuse_after_end(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_end(&r, 0);
	raw_counter(&r, "c", 1);
	REFUSED(&r, 0, "record 0 (END): 21 bytes after it");
}

static void
test_refuse_end_count(void **state)
{
	struct raw r;

	(void)state;
	raw_header(&r, 1, 0);
	raw_counter(&r, "c", 1);
	raw_counter(&r, "d", 1);
	raw_end(&r, 1);
	REFUSED(&r, 0, "record 2 (END): count 1, but 2 records before it");
}

/* ---------------------------------------------------------------- compatibility */

/* A later version's longer payloads: the fields known are read, the rest ignored. */
static void
test_extended_payload(void **state)
{
	struct raw r;
	struct rc c = rc_ok;
	struct seen s;

	(void)state;
	c.extra = 37;
	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_COUNTER, 0);
	raw_str(&r, "c");
	raw_u64(&r, 77);
	raw_u64(&r, 0xdeadbeef);        /* a field of version 2, say */
	raw_done(&r);
	raw_conn(&r, &c);
	raw_end(&r, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(r.p, r.len, 2, &s), 0);
	assert_int_equal(s.counters, 1);
	assert_true(s.cvalue[0] == 77);
	assert_int_equal(s.conns, 1);
	assert_int_equal(s.c[0].outlen, 5);
	assert_memory_equal(s.out[0], "ooooo", 5);
	seen_free(&s);
	free(r.p);

	raw_header(&r, 1, 0);
	raw_rec(&r, HO_T_END, HO_F_CRITICAL);
	raw_u32(&r, 0);
	raw_u32(&r, 0xffffffff);
	raw_done(&r);                   /* END itself longer */
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(r.p, r.len, 0, &s), 0);
	free(r.p);
}

/* An unknown type not flagged critical is skipped, and counted by END. */
static void
test_unknown_skipped(void **state)
{
	struct raw r;
	struct seen s;

	(void)state;
	raw_header(&r, 1, 0);
	raw_counter(&r, "a", 1);
	raw_rec(&r, 99, 0);
	raw_add(&r, "whatever a later version says", 29);
	raw_done(&r);
	raw_rec(&r, 0, 0);              /* empty, of type 0 */
	raw_done(&r);
	raw_counter(&r, "b", 2);
	raw_end(&r, 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(r.p, r.len, 0, &s), 0);
	assert_int_equal(s.visits, 2);
	assert_string_equal(s.cname[1], "b");
	free(r.p);
}

/* The writer's own buffer, its version field made 2: a version-1 reader says no. */
static void
test_writer_version_newer(void **state)
{
	struct handover_buf b;
	struct seen s;

	(void)state;
	handover_begin(&b);
	handover_put_counter(&b, "c", 1);
	assert_int_equal(handover_end(&b), 0);
	assert_int_equal(b.p[8], HANDOVER_VERSION);
	b.p[8] = 2;
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(b.p, b.len, 0, &s), -1);
	assert_string_equal(err, "handover format version 2 is newer than this upcased reads (1)");
	handover_buf_free(&b);
}

/* ---------------------------------------------------------------- visiting */

/* A visitor saying no stops the walk there, with "refused". */
static void
test_visitor_refuses(void **state)
{
	struct raw r;
	struct seen s;

	(void)state;
	raw_header(&r, 1, 0);
	raw_listener(&r, &rl_ok);
	raw_counter(&r, "a", 1);
	raw_conn(&r, &rc_ok);
	raw_counter(&r, "b", 2);
	raw_end(&r, 4);
	memset(&s, 0, sizeof(s));
	s.stop_at = 3;
	assert_int_equal(parse_n(r.p, r.len, 2, &s), -1);
	assert_string_equal(err, "record 2 (CONN) refused");
	assert_int_equal(s.visits, 3);
	assert_int_equal(s.counters, 1);
	seen_free(&s);
	free(r.p);
}

/* The last record bad: nothing of what came before was visited. */
static void
test_nothing_visited(void **state)
{
	struct raw r;
	struct seen s;
	struct rc c = rc_ok;

	(void)state;
	c.ncarry = 9;
	raw_header(&r, 1, 0);
	raw_listener(&r, &rl_ok);
	raw_counter(&r, "a", 1);
	raw_conn(&r, &rc_ok);
	c.fd = 2;
	raw_conn(&r, &c);
	raw_end(&r, 4);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(r.p, r.len, 3, &s), -1);
	assert_string_equal(err, "record 3 (CONN): ncarry 9 > 3");
	assert_int_equal(s.visits, 0);
	free(r.p);

	/* The same with the END count wrong, the last check made. */
	raw_header(&r, 1, 0);
	raw_listener(&r, &rl_ok);
	raw_counter(&r, "a", 1);
	raw_end(&r, 3);
	memset(&s, 0, sizeof(s));
	assert_int_equal(parse_n(r.p, r.len, 3, &s), -1);
	assert_int_equal(s.visits, 0);
	free(r.p);
}

/* A NULL callback skips its records; a short err buffer is still a string. */
static void
test_null_callbacks(void **state)
{
	struct handover_visitor only = { .counter = v_counter };
	struct raw r;
	struct seen s;
	char small[8];

	(void)state;
	raw_header(&r, 1, 0);
	raw_listener(&r, &rl_ok);
	raw_counter(&r, "a", 1);
	raw_end(&r, 2);
	memset(&s, 0, sizeof(s));
	assert_int_equal(handover_parse(r.p, r.len, 1, &only, &s, err, sizeof(err)), 0);
	assert_int_equal(s.visits, 1);
	assert_int_equal(handover_parse(r.p, r.len, 0, &only, &s, small, sizeof(small)), -1);
	assert_int_equal(strlen(small), 7);
	assert_int_equal(handover_parse(r.p, r.len, 0, &only, &s, NULL, 0), -1);
	free(r.p);
}

/* ---------------------------------------------------------------- fdname */

static void
fdname_both_ways(int type, int shard, uint16_t port, const char *address, const char *want)
{
	char name[300], addr[256];
	int t, sh;
	uint16_t p;

	assert_int_equal(handover_fdname(name, sizeof(name), type, shard, port, address),
	    (int)strlen(want));
	assert_string_equal(name, want);
	assert_true(handover_fdname_parse(name, &t, &sh, &p, addr, sizeof(addr)));
	assert_int_equal(t, type);
	assert_int_equal(sh, shard);
	assert_int_equal(p, port);
	assert_string_equal(addr, address);
}

static void
test_fdname_round_trip(void **state)
{
	char name[300], addr[300];

	(void)state;
	fdname_both_ways(SOCK_STREAM, -1, 12000, "*", "upcased-listener-tcp-all-12000-*");
	fdname_both_ways(SOCK_DGRAM, 1, 12000, "::1", "upcased-listener-udp-1-12000-__1");
	fdname_both_ways(SOCK_STREAM, 0, 1, "127.0.0.1", "upcased-listener-tcp-0-1-127.0.0.1");
	/* '%' is printable: a scoped address goes as it is. */
	fdname_both_ways(SOCK_DGRAM, 127, 65535, "fe80::1%eth0",
	    "upcased-listener-udp-127-65535-fe80__1%eth0");
	fdname_both_ways(SOCK_STREAM, -1, 0, "", "upcased-listener-tcp-all-0-");
	fdname_both_ways(SOCK_STREAM, 65534, 80, "host-with-dashes",
	    "upcased-listener-tcp-65534-80-host-with-dashes");

	/* At most 255 bytes: the longest address that fits, and one more. */
	memset(addr, 'a', sizeof(addr));
	addr[255 - strlen("upcased-listener-tcp-all-1-")] = '\0';
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, -1, 1, addr), 255);
	addr[strlen(addr)] = 'a';
	addr[256 - strlen("upcased-listener-tcp-all-1-")] = '\0';
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, -1, 1, addr), -1);
	/* outlen too small for the name and its NUL. */
	assert_int_equal(handover_fdname(name, 32, SOCK_STREAM, -1, 12000, "*"), -1);
	assert_int_equal(handover_fdname(name, 33, SOCK_STREAM, -1, 12000, "*"), 32);
	/* Not to be written. */
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, 0, 1, "a_b"), -1);
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, 0, 1, "a b"), -1);
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, 0, 1, "\x7f"), -1);
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, 0, 1, "\xc3\xa9"), -1);
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_RAW, 0, 1, "*"), -1);
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, -2, 1, "*"), -1);
	assert_int_equal(handover_fdname(name, sizeof(name), SOCK_STREAM, 65535, 1, "*"), -1);
}

static void
test_fdname_refused(void **state)
{
	static const char *const bad[] = {
		"upcased.socket",
		"upcased-listener-tcp-x-1-a",
		"upcased-listener-",
		"upcased-listener-tcp",
		"upcased-listener-tcp-",
		"upcased-listener-sctp-all-1-a",
		"upcased-listener-tcp-all-1",            /* no '-' before the address */
		"upcased-listener-tcp-all--a",
		"upcased-listener-tcp-01-1-a",           /* not as written */
		"upcased-listener-tcp-all-012-a",
		"upcased-listener-tcp--1-1-a",
		"upcased-listener-tcp-+1-1-a",
		"upcased-listener-tcp-65535-1-a",        /* shard + 1 is a u16 */
		"upcased-listener-tcp-all-65536-a",
		"upcased-listener-tcp-all-99999999999999999999-a",
		"upcased-listener-tcp-all-1-a:b",
		"upcased-listener-tcp-all-1-a b",
		"upcased-listener-tcp-all-1-\x01",
		"Upcased-listener-tcp-all-1-a",
		"",
	};
	char name[400], addr[256];
	int t = 99, sh = 99;
	uint16_t p = 99;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (handover_fdname_parse(bad[i], &t, &sh, &p, addr, sizeof(addr)))
			fail_msg("\"%s\" taken as one of ours", bad[i]);
	assert_int_equal(t, 99);
	assert_int_equal(sh, 99);
	assert_int_equal(p, 99);

	/* Too long: 256 bytes. */
	snprintf(name, sizeof(name), "upcased-listener-tcp-all-1-");
	memset(name + strlen(name), 'a', 256 - strlen(name));
	name[256] = '\0';
	assert_false(handover_fdname_parse(name, &t, &sh, &p, addr, sizeof(addr)));
	name[255] = '\0';
	assert_true(handover_fdname_parse(name, &t, &sh, &p, addr, sizeof(addr)));
	/* An address that does not fit addrlen. */
	assert_false(handover_fdname_parse("upcased-listener-tcp-all-1-__1", &t, &sh, &p,
	    addr, 3));
	assert_true(handover_fdname_parse("upcased-listener-tcp-all-1-__1", &t, &sh, &p,
	    addr, 4));
	assert_string_equal(addr, "::1");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_golden_bytes),
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_round_trip_small),
		cmocka_unit_test(test_writer_refuses),
		cmocka_unit_test(test_refuse_short),
		cmocka_unit_test(test_refuse_magic),
		cmocka_unit_test(test_refuse_newer_version),
		cmocka_unit_test(test_refuse_version_zero),
		cmocka_unit_test(test_refuse_header_flags),
		cmocka_unit_test(test_refuse_record_flags),
		cmocka_unit_test(test_refuse_truncated_record_header),
		cmocka_unit_test(test_refuse_truncated_payload),
		cmocka_unit_test(test_refuse_oversized_record),
		cmocka_unit_test(test_refuse_unknown_critical),
		cmocka_unit_test(test_refuse_missing_field),
		cmocka_unit_test(test_refuse_conn_state),
		cmocka_unit_test(test_refuse_conn_charset),
		cmocka_unit_test(test_refuse_ncarry),
		cmocka_unit_test(test_refuse_listener_type),
		cmocka_unit_test(test_refuse_listener_flags),
		cmocka_unit_test(test_refuse_peer_family),
		cmocka_unit_test(test_refuse_peer_length),
		cmocka_unit_test(test_refuse_string_nul),
		cmocka_unit_test(test_refuse_string_long),
		cmocka_unit_test(test_meta_version_cut),
		cmocka_unit_test(test_refuse_proxy_outside_state),
		cmocka_unit_test(test_refuse_out_too_long),
		cmocka_unit_test(test_refuse_proxy_too_long),
		cmocka_unit_test(test_refuse_field_overrun),
		cmocka_unit_test(test_refuse_hist_n),
		cmocka_unit_test(test_refuse_fd_range),
		cmocka_unit_test(test_refuse_fd_twice),
		cmocka_unit_test(test_refuse_too_many_fds),
		cmocka_unit_test(test_refuse_no_end),
		cmocka_unit_test(test_refuse_after_end),
		cmocka_unit_test(test_refuse_end_count),
		cmocka_unit_test(test_extended_payload),
		cmocka_unit_test(test_unknown_skipped),
		cmocka_unit_test(test_writer_version_newer),
		cmocka_unit_test(test_visitor_refuses),
		cmocka_unit_test(test_nothing_visited),
		cmocka_unit_test(test_null_callbacks),
		cmocka_unit_test(test_fdname_round_trip),
		cmocka_unit_test(test_fdname_refused),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
