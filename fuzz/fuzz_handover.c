/* SPDX-License-Identifier: ISC */
/*
 * fuzz_handover.c: fuzz target for src/handover.c.
 *
 * The first byte of the input is the number of descriptors received, the
 * rest the handover.  Checked on every input:
 *  - handover_parse returns 0 or -1, and -1 with a message; an invalid
 *    handover (-1 without the visitor saying no) visited nothing, and
 *    is refused the same way without a visitor;
 *  - what the visitor is given is within the format's bounds: descriptor
 *    indices below the number received and none twice, listener type,
 *    shard, ncarry <= 3, state, charset, the peer's family and length,
 *    out and proxy within their maxima and within the buffer, proxy bytes
 *    in state PROXY only, hist n 1 to HANDOVER_HIST_MAX, every string
 *    NUL-terminated within its array;
 *  - what was accepted, written back by the writer, is accepted again
 *    and written back to the same bytes (writer and reader agree);
 *  - a visitor saying no at its k-th call stops there, with "refused";
 *  - the rest of the input as a NUL-terminated string, given to
 *    handover_fdname_parse: a name taken has sane fields, and
 *    handover_fdname writes it back to the same name.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "fuzz.h"
#include "handover.h"

struct st {
	const uint8_t *buf;
	size_t len, nfds;
	uint8_t used[256 / 8];
	struct handover_buf out;        /* written back */
	int visits, stop_at;
};

static void
check_fd(struct st *s, uint32_t fd)
{
	if (fd >= s->nfds)
		fuzz_fail("descriptor index %u visited, %zu received", (unsigned)fd, s->nfds);
	if (s->used[fd / 8] & (1u << (fd % 8)))
		fuzz_fail("descriptor index %u visited twice", (unsigned)fd);
	s->used[fd / 8] |= (uint8_t)(1u << (fd % 8));
}

static void
check_str(const char *p, size_t size, const char *what)
{
	if (memchr(p, '\0', size) == NULL)
		fuzz_fail("%s not NUL-terminated within its %zu bytes", what, size);
}

static void
check_within(const struct st *s, const uint8_t *p, size_t n, const char *what)
{
	if (n == 0) {
		if (p != NULL)
			fuzz_fail("%s empty but not NULL", what);
		return;
	}
	if (p < s->buf || p > s->buf + s->len || n > (size_t)(s->buf + s->len - p))
		fuzz_fail("%s (%zu bytes) not within the buffer", what, n);
}

static int
visited(struct st *s)
{
	s->visits++;
	return s->stop_at != 0 && s->visits == s->stop_at ? -1 : 0;
}

static int
v_meta(const struct ho_meta *m, void *arg)
{
	struct st *s = arg;

	check_str(m->version, sizeof(m->version), "meta version");
	handover_put_meta(&s->out, m);
	return visited(s);
}

static int
v_listener(const struct ho_listener *l, void *arg)
{
	struct st *s = arg;

	check_fd(s, l->fd);
	if (l->type != SOCK_STREAM && l->type != SOCK_DGRAM)
		fuzz_fail("listener type %d", l->type);
	if (l->shard < -1 || l->shard > 65534)
		fuzz_fail("listener shard %d", l->shard);
	check_str(l->address, sizeof(l->address), "listener address");
	handover_put_listener(&s->out, l);
	return visited(s);
}

static int
v_conn(const struct ho_conn *c, void *arg)
{
	struct st *s = arg;

	check_fd(s, c->fd);
	if ((unsigned)c->state > HO_CONN_PROXY)
		fuzz_fail("conn state %d", (int)c->state);
	if (c->charset > 1)
		fuzz_fail("conn charset %u", c->charset);
	if (c->ncarry > 3)
		fuzz_fail("conn ncarry %u", c->ncarry);
	if (!((c->peer.ss_family == AF_INET && c->peerlen == sizeof(struct sockaddr_in)) ||
	    (c->peer.ss_family == AF_INET6 && c->peerlen == sizeof(struct sockaddr_in6))))
		fuzz_fail("conn peer family %u length %u", (unsigned)c->peer.ss_family,
		    (unsigned)c->peerlen);
	if (c->outlen > HANDOVER_OUT_MAX || c->proxylen > HANDOVER_PROXY_MAX)
		fuzz_fail("conn out %zu, proxy %zu bytes", c->outlen, c->proxylen);
	if (c->proxylen > 0 && c->state != HO_CONN_PROXY)
		fuzz_fail("conn proxy bytes in state %d", (int)c->state);
	check_within(s, c->out, c->outlen, "conn out");
	check_within(s, c->proxy, c->proxylen, "conn proxy");
	handover_put_conn(&s->out, c);
	return visited(s);
}

static int
v_counter(const char *name, uint64_t value, void *arg)
{
	struct st *s = arg;

	check_str(name, HANDOVER_STR_MAX + 1, "counter name");
	handover_put_counter(&s->out, name, value);
	return visited(s);
}

static int
v_hist(const char *name, const uint64_t *counts, size_t n, uint64_t sum, void *arg)
{
	struct st *s = arg;
	uint64_t x = 0;

	check_str(name, HANDOVER_STR_MAX + 1, "hist name");
	if (n < 1 || n > HANDOVER_HIST_MAX)
		fuzz_fail("hist n %zu", n);
	for (size_t i = 0; i < n; i++)
		x ^= counts[i];         /* every count readable (ASan) */
	(void)x;
	handover_put_hist(&s->out, name, counts, n, sum);
	return visited(s);
}

static int
v_control(uint32_t fd, const char *path, void *arg)
{
	struct st *s = arg;

	check_fd(s, fd);
	check_str(path, HANDOVER_STR_MAX + 1, "control path");
	handover_put_control(&s->out, fd, path);
	return visited(s);
}

static int
v_pidfile(uint32_t fd, const char *path, void *arg)
{
	struct st *s = arg;

	check_fd(s, fd);
	check_str(path, HANDOVER_STR_MAX + 1, "pidfile path");
	handover_put_pidfile(&s->out, fd, path);
	return visited(s);
}

static const struct handover_visitor visitor = {
	v_meta, v_listener, v_conn, v_counter, v_hist, v_control, v_pidfile,
};

/* Parse a heap copy of exactly len bytes; s->out gets it written back. */
static int
parse(struct st *s, const uint8_t *data, size_t len, size_t nfds, int stop_at,
    char *err, size_t errlen)
{
	uint8_t *copy = xmalloc(len);
	int rc;

	if (len > 0)
		memcpy(copy, data, len);
	memset(s, 0, sizeof(*s));
	s->buf = copy;
	s->len = len;
	s->nfds = nfds;
	s->stop_at = stop_at;
	handover_begin(&s->out);
	memset(err, 'z', errlen);
	rc = handover_parse(copy, len, nfds, &visitor, s, err, errlen);
	if (rc != 0 && rc != -1)
		fuzz_fail("handover_parse returned %d", rc);
	check_str(err, errlen, "the error");
	if (rc == -1 && err[0] == '\0')
		fuzz_fail("refused without a message");
	if (rc == 0 && err[0] != '\0')
		fuzz_fail("accepted with a message: %s", err);
	free(copy);
	s->buf = NULL;
	return rc;
}

static void
fuzz_records(const uint8_t *data, size_t size, size_t nfds)
{
	char err[256], err2[256];
	struct st s, s2;
	int rc;

	rc = parse(&s, data, size, nfds, 0, err, sizeof(err));
	if (rc == -1) {
		if (s.visits != 0)
			fuzz_fail("refused (%s) after %d visits", err, s.visits);
		if (handover_parse(data, size, nfds, NULL, NULL, err2, sizeof(err2)) != -1 ||
		    strcmp(err, err2) != 0)
			fuzz_fail("without a visitor: \"%s\", with: \"%s\"", err2, err);
		handover_buf_free(&s.out);
		return;
	}
	if (handover_end(&s.out) == -1)
		fuzz_fail("accepted, but the writer cannot write it back");

	/* Written back: accepted again, and written back the same. */
	if (parse(&s2, s.out.p, s.out.len, nfds, 0, err, sizeof(err)) == -1)
		fuzz_fail("written back, refused: %s", err);
	if (s2.visits != s.visits)
		fuzz_fail("written back: %d visits, not %d", s2.visits, s.visits);
	if (handover_end(&s2.out) == -1 || s2.out.len != s.out.len ||
	    memcmp(s2.out.p, s.out.p, s.out.len) != 0)
		fuzz_fail("written back twice, not the same bytes");
	handover_buf_free(&s2.out);
	handover_buf_free(&s.out);

	/* A visitor saying no at its k-th call. */
	if (s.visits > 0) {
		int k = 1 + (int)(size % (size_t)s.visits);

		if (parse(&s2, data, size, nfds, k, err, sizeof(err)) != -1)
			fuzz_fail("visitor said no at %d, accepted", k);
		if (s2.visits != k || strstr(err, " refused") == NULL)
			fuzz_fail("visitor said no at %d: %d visits, \"%s\"", k, s2.visits, err);
		handover_buf_free(&s2.out);
	}
}

static void
fuzz_fdname(const uint8_t *data, size_t size)
{
	char *name = xmalloc(size + 1), addr[300], back[300];
	int type, shard, n;
	uint16_t port;

	if (size > 0)
		memcpy(name, data, size);
	name[size] = '\0';
	if (handover_fdname_parse(name, &type, &shard, &port, addr, sizeof(addr))) {
		if (type != SOCK_STREAM && type != SOCK_DGRAM)
			fuzz_fail("fdname type %d", type);
		if (shard < -1 || shard > 65534)
			fuzz_fail("fdname shard %d", shard);
		check_str(addr, sizeof(addr), "fdname address");
		n = handover_fdname(back, sizeof(back), type, shard, port, addr);
		if (n < 0 || (size_t)n != strlen(name) || strcmp(back, name) != 0)
			fuzz_fail("fdname \"%s\" written back as \"%s\" (%d)", name,
			    n < 0 ? "" : back, n);
	}
	free(name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size == 0)
		return 0;
	fuzz_records(data + 1, size - 1, data[0]);
	fuzz_fdname(data + 1, size - 1);
	return 0;
}
