/* SPDX-License-Identifier: ISC */
/*
 * handover.c: the live-upgrade handover format (see handover.h for the
 * format).  Pure: memory calls and snprintf only.
 *
 * Every integer is written and read a byte at a time, little-endian, so
 * neither the host's byte order nor the alignment of anything in the
 * buffer matters.  The one exception is a connection's peer address: it
 * goes across as the bytes of the struct sockaddr_in or sockaddr_in6,
 * sa_family in host order at offset 0, because both ends of a handover
 * are processes on the same host (the reader is exec'd by, or started
 * beside, the writer and receives its descriptors over a Unix socket).
 *
 * The parser walks the buffer twice: pass 1 checks every record (and the
 * descriptor indices, in a bitmap), pass 2 decodes them again and calls
 * the visitor.  Nothing is visited for a handover that pass 1 refuses.
 * Records are numbered from 0 in the messages; END's count is then its
 * own number.
 */
#include "config.h"

#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"
#include "transform.h"

static const uint8_t magic[8] = { 'U', 'P', 'C', 'H', 'O', 'V', 'R', '\0' };

#define HO_L_KNOWN	(HO_L_PROXY | HO_L_REUSE_PORT | HO_L_ACTIVATED)
#define HO_SHARD_MAX	65534		/* shard + 1 is a u16 */
#define HO_NFDS_MAX	((size_t)1 << 20)
#define FDNAME_MAX	255		/* systemd's limit on FDNAME= */
#define FDNAME_PREFIX	"upcased-listener-"

static const char *
type_name(uint16_t t)
{
	switch (t) {
	case HO_T_META:		return "META";
	case HO_T_LISTENER:	return "LISTENER";
	case HO_T_CONN:		return "CONN";
	case HO_T_COUNTER:	return "COUNTER";
	case HO_T_HIST:		return "HIST";
	case HO_T_CONTROL:	return "CONTROL";
	case HO_T_PIDFILE:	return "PIDFILE";
	case HO_T_END:		return "END";
	default:		return NULL;
	}
}

/* ================================================================ writing */

static bool
buf_reserve(struct handover_buf *b, size_t n)
{
	size_t cap;
	uint8_t *p;

	if (b->failed)
		return false;
	if (n <= b->cap - b->len)
		return true;
	if (n > SIZE_MAX / 2 - b->len) {
		b->failed = true;
		return false;
	}
	cap = b->cap > 0 ? b->cap : 256;
	while (cap - b->len < n)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL) {
		b->failed = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void
put_bytes_raw(struct handover_buf *b, const void *p, size_t n)
{
	if (n == 0 || !buf_reserve(b, n))
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
}

static void
put_le(struct handover_buf *b, uint64_t v, size_t n)
{
	uint8_t tmp[8];

	for (size_t i = 0; i < n; i++)
		tmp[i] = (uint8_t)(v >> (8 * i));
	put_bytes_raw(b, tmp, n);
}

static void put_u8(struct handover_buf *b, uint8_t v)   { put_le(b, v, 1); }
static void put_u16(struct handover_buf *b, uint16_t v) { put_le(b, v, 2); }
static void put_u32(struct handover_buf *b, uint32_t v) { put_le(b, v, 4); }
static void put_u64(struct handover_buf *b, uint64_t v) { put_le(b, v, 8); }

static void
put_blob(struct handover_buf *b, const void *p, size_t n)
{
	if (n > UINT32_MAX) {
		b->failed = true;
		return;
	}
	put_u32(b, (uint32_t)n);
	put_bytes_raw(b, p, n);
}

/* A str field; too long (or NULL) fails the buffer. */
static void
put_str(struct handover_buf *b, const char *s)
{
	size_t n;

	if (s == NULL || (n = strnlen(s, HANDOVER_STR_MAX + 1)) > HANDOVER_STR_MAX) {
		b->failed = true;
		return;
	}
	put_blob(b, s, n);
}

/* A record's header, its length patched by rec_close; the offset of it. */
static size_t
rec_open(struct handover_buf *b, uint16_t type, uint16_t flags)
{
	size_t at = b->len;

	put_u16(b, type);
	put_u16(b, flags);
	put_u32(b, 0);
	return at;
}

static void
rec_close(struct handover_buf *b, size_t at)
{
	size_t n;

	if (b->failed)
		return;
	n = b->len - at - 8;
	if (n > HANDOVER_RECORD_MAX) {
		b->failed = true;
		return;
	}
	for (size_t i = 0; i < 4; i++)
		b->p[at + 4 + i] = (uint8_t)(n >> (8 * i));
	b->records++;
}

void
handover_begin(struct handover_buf *b)
{
	memset(b, 0, sizeof(*b));
	put_bytes_raw(b, magic, sizeof(magic));
	put_u16(b, HANDOVER_VERSION);
	put_u16(b, 0);
	put_u32(b, 0);
}

void
handover_put_meta(struct handover_buf *b, const struct ho_meta *m)
{
	size_t at, n;

	if (b->failed)
		return;
	at = rec_open(b, HO_T_META, 0);
	put_u32(b, m->pid);
	put_u64(b, m->start_wall_ms);
	put_u64(b, m->loaded_wall_ms);
	put_u32(b, m->upgrades);
	/* version[] is NUL-terminated, but a careless caller's need not be. */
	n = strnlen(m->version, sizeof(m->version));
	put_blob(b, m->version, n);
	rec_close(b, at);
}

void
handover_put_listener(struct handover_buf *b, const struct ho_listener *l)
{
	uint8_t flags = 0;
	size_t at, n;

	if (b->failed)
		return;
	n = strnlen(l->address, sizeof(l->address));
	if ((l->type != SOCK_STREAM && l->type != SOCK_DGRAM) || l->shard < -1 ||
	    l->shard > HO_SHARD_MAX || n >= sizeof(l->address)) {
		b->failed = true;
		return;
	}
	if (l->proxy)
		flags |= HO_L_PROXY;
	if (l->reuse_port)
		flags |= HO_L_REUSE_PORT;
	if (l->activated)
		flags |= HO_L_ACTIVATED;
	at = rec_open(b, HO_T_LISTENER, HO_F_CRITICAL);
	put_u32(b, l->fd);
	put_u8(b, l->type == SOCK_STREAM ? 1 : 2);
	put_u8(b, flags);
	put_u16(b, (uint16_t)(l->shard + 1));
	put_u16(b, l->port);
	put_blob(b, l->address, n);
	rec_close(b, at);
}

void
handover_put_conn(struct handover_buf *b, const struct ho_conn *c)
{
	size_t at;

	if (b->failed)
		return;
	if ((unsigned)c->state > HO_CONN_PROXY || c->ncarry > 3 ||
	    !((c->peerlen == sizeof(struct sockaddr_in) && c->peer.ss_family == AF_INET) ||
	    (c->peerlen == sizeof(struct sockaddr_in6) && c->peer.ss_family == AF_INET6)) ||
	    c->outlen > HANDOVER_OUT_MAX || c->proxylen > HANDOVER_PROXY_MAX ||
	    (c->proxylen > 0 && c->state != HO_CONN_PROXY) ||
	    (c->outlen > 0 && c->out == NULL) || (c->proxylen > 0 && c->proxy == NULL)) {
		b->failed = true;
		return;
	}
	at = rec_open(b, HO_T_CONN, HO_F_CRITICAL);
	put_u32(b, c->fd);
	put_u8(b, (uint8_t)c->state);
	put_u8(b, c->charset);
	put_u8(b, c->ncarry);
	put_bytes_raw(b, c->carry, 3);
	put_u64(b, c->start_ms);
	put_u64(b, c->last_ms);
	put_u64(b, c->rx_ms);
	put_u64(b, c->bytes_in);
	put_u64(b, c->bytes_out);
	put_u64(b, c->proxy_deadline_ms);
	put_blob(b, &c->peer, c->peerlen);
	put_blob(b, c->out, c->outlen);
	put_blob(b, c->proxy, c->proxylen);
	rec_close(b, at);
}

void
handover_put_counter(struct handover_buf *b, const char *name, uint64_t value)
{
	size_t at;

	if (b->failed)
		return;
	at = rec_open(b, HO_T_COUNTER, 0);
	put_str(b, name);
	put_u64(b, value);
	rec_close(b, at);
}

void
handover_put_hist(struct handover_buf *b, const char *name, const uint64_t *counts,
    size_t n, uint64_t sum)
{
	size_t at;

	if (b->failed)
		return;
	if (n < 1 || n > HANDOVER_HIST_MAX || counts == NULL) {
		b->failed = true;
		return;
	}
	at = rec_open(b, HO_T_HIST, 0);
	put_str(b, name);
	put_u32(b, (uint32_t)n);
	for (size_t i = 0; i < n; i++)
		put_u64(b, counts[i]);
	put_u64(b, sum);
	rec_close(b, at);
}

static void
put_fd_path(struct handover_buf *b, uint16_t type, uint32_t fd, const char *path)
{
	size_t at;

	if (b->failed)
		return;
	at = rec_open(b, type, 0);
	put_u32(b, fd);
	put_str(b, path);
	rec_close(b, at);
}

void
handover_put_control(struct handover_buf *b, uint32_t fd, const char *path)
{
	put_fd_path(b, HO_T_CONTROL, fd, path);
}

void
handover_put_pidfile(struct handover_buf *b, uint32_t fd, const char *path)
{
	put_fd_path(b, HO_T_PIDFILE, fd, path);
}

int
handover_end(struct handover_buf *b)
{
	size_t at;

	if (b->failed || b->records > UINT32_MAX) {
		b->failed = true;
		return -1;
	}
	at = rec_open(b, HO_T_END, HO_F_CRITICAL);
	put_u32(b, (uint32_t)b->records);
	rec_close(b, at);
	return b->failed ? -1 : 0;
}

void
handover_buf_free(struct handover_buf *b)
{
	free(b->p);
	memset(b, 0, sizeof(*b));
}

/* ================================================================ reading */

/* Where a message goes, and the record it is about. */
struct ctx {
	char       *err;
	size_t      errlen;
	size_t      index;
	uint16_t    type;
};

static int  fail(struct ctx *, const char *, ...) __attribute__((format(printf, 2, 3)));

/* "record N (TYPE): " and the message; returns -1. */
static int
fail(struct ctx *x, const char *fmt, ...)
{
	const char *tn = type_name(x->type);
	va_list ap;
	int n;

	if (x->err == NULL || x->errlen == 0)
		return -1;
	if (tn != NULL)
		n = snprintf(x->err, x->errlen, "record %zu (%s): ", x->index, tn);
	else
		n = snprintf(x->err, x->errlen, "record %zu (type %u): ", x->index,
		    (unsigned)x->type);
	if (n < 0 || (size_t)n >= x->errlen)
		return -1;
	va_start(ap, fmt);
	vsnprintf(x->err + n, x->errlen - (size_t)n, fmt, ap);
	va_end(ap);
	return -1;
}

/* A message about the header or the buffer as a whole; returns -1. */
static int  fail_top(char *, size_t, const char *, ...) __attribute__((format(printf, 3, 4)));

static int
fail_top(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* A record's payload being read; each get_* names the field it wanted. */
struct cur {
	const uint8_t *p;
	size_t         len, off;
	struct ctx    *x;
};

static uint64_t
le(const uint8_t *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

static int
get_le(struct cur *c, size_t n, uint64_t *v, const char *field)
{
	if (c->len - c->off < n)
		return fail(c->x, "payload of %zu bytes ends in %s", c->len, field);
	*v = le(c->p + c->off, n);
	c->off += n;
	return 0;
}

static int
get_u8(struct cur *c, uint8_t *v, const char *field)
{
	uint64_t t = 0;

	if (get_le(c, 1, &t, field) == -1)
		return -1;
	*v = (uint8_t)t;
	return 0;
}

static int
get_u16(struct cur *c, uint16_t *v, const char *field)
{
	uint64_t t = 0;

	if (get_le(c, 2, &t, field) == -1)
		return -1;
	*v = (uint16_t)t;
	return 0;
}

static int
get_u32(struct cur *c, uint32_t *v, const char *field)
{
	uint64_t t = 0;

	if (get_le(c, 4, &t, field) == -1)
		return -1;
	*v = (uint32_t)t;
	return 0;
}

static int
get_u64(struct cur *c, uint64_t *v, const char *field)
{
	return get_le(c, 8, v, field);
}

/* A bytes field of at most max bytes: where it is in the buffer. */
static int
get_blob(struct cur *c, size_t max, const uint8_t **p, size_t *n, const char *field)
{
	uint32_t len;

	if (get_u32(c, &len, field) == -1)
		return -1;
	if (len > max)
		return fail(c->x, "%s of %u bytes > %zu", field, (unsigned)len, max);
	if (c->len - c->off < len)
		return fail(c->x, "%s of %u bytes overruns the payload of %zu", field,
		    (unsigned)len, c->len);
	*p = c->p + c->off;
	*n = len;
	c->off += len;
	return 0;
}

/*
 * A str field, copied NUL-terminated into out (size bytes).  Longer than
 * out holds: refused, or with cut, cut to fit.
 */
static int
get_str(struct cur *c, char *out, size_t size, bool cut, const char *field)
{
	const uint8_t *p;
	size_t n;

	if (get_blob(c, HANDOVER_STR_MAX, &p, &n, field) == -1)
		return -1;
	if (memchr(p, '\0', n) != NULL)
		return fail(c->x, "%s has a NUL byte", field);
	if (n >= size) {
		if (!cut)
			return fail(c->x, "%s of %zu bytes > %zu", field, n, size - 1);
		n = size - 1;
	}
	if (n > 0)
		memcpy(out, p, n);
	out[n] = '\0';
	return 0;
}

/* The decoded record, whichever type. */
struct rec {
	struct ho_meta      meta;
	struct ho_listener  listener;
	struct ho_conn      conn;
	char                name[HANDOVER_STR_MAX + 1];   /* counter, hist, path */
	uint64_t            value;                        /* counter */
	uint64_t            counts[HANDOVER_HIST_MAX];
	uint32_t            n, fd;                        /* hist; control, pidfile */
	uint64_t            sum;
	uint32_t            end_count;
};

static int
dec_meta(struct cur *c, struct rec *r)
{
	struct ho_meta *m = &r->meta;

	memset(m, 0, sizeof(*m));
	if (get_u32(c, &m->pid, "pid") == -1 ||
	    get_u64(c, &m->start_wall_ms, "start_wall_ms") == -1 ||
	    get_u64(c, &m->loaded_wall_ms, "loaded_wall_ms") == -1 ||
	    get_u32(c, &m->upgrades, "upgrades") == -1 ||
	    get_str(c, m->version, sizeof(m->version), true, "version") == -1)
		return -1;
	return 0;
}

static int
dec_listener(struct cur *c, struct rec *r)
{
	struct ho_listener *l = &r->listener;
	uint8_t type, flags;
	uint16_t shard;

	memset(l, 0, sizeof(*l));
	if (get_u32(c, &l->fd, "fd") == -1 || get_u8(c, &type, "type") == -1 ||
	    get_u8(c, &flags, "flags") == -1 || get_u16(c, &shard, "shard") == -1 ||
	    get_u16(c, &l->port, "port") == -1)
		return -1;
	if (type != 1 && type != 2)
		return fail(c->x, "type %u is neither 1 (TCP) nor 2 (UDP)", type);
	/* A new flag comes with a new version, which this reader refuses. */
	if (flags & ~HO_L_KNOWN)
		return fail(c->x, "unknown flags 0x%02x", (unsigned)(flags & ~HO_L_KNOWN));
	if (get_str(c, l->address, sizeof(l->address), false, "address") == -1)
		return -1;
	l->type = type == 1 ? SOCK_STREAM : SOCK_DGRAM;
	l->proxy = (flags & HO_L_PROXY) != 0;
	l->reuse_port = (flags & HO_L_REUSE_PORT) != 0;
	l->activated = (flags & HO_L_ACTIVATED) != 0;
	l->shard = (int)shard - 1;
	return 0;
}

static int
dec_conn(struct cur *c, struct rec *r)
{
	struct ho_conn *k = &r->conn;
	const uint8_t *peer;
	uint8_t state;
	sa_family_t family;
	size_t peerlen;

	memset(k, 0, sizeof(*k));
	if (get_u32(c, &k->fd, "fd") == -1 || get_u8(c, &state, "state") == -1 ||
	    get_u8(c, &k->charset, "charset") == -1 || get_u8(c, &k->ncarry, "ncarry") == -1)
		return -1;
	if (c->len - c->off < 3)
		return fail(c->x, "payload of %zu bytes ends in carry", c->len);
	memcpy(k->carry, c->p + c->off, 3);
	c->off += 3;
	if (get_u64(c, &k->start_ms, "start_ms") == -1 ||
	    get_u64(c, &k->last_ms, "last_ms") == -1 ||
	    get_u64(c, &k->rx_ms, "rx_ms") == -1 ||
	    get_u64(c, &k->bytes_in, "bytes_in") == -1 ||
	    get_u64(c, &k->bytes_out, "bytes_out") == -1 ||
	    get_u64(c, &k->proxy_deadline_ms, "proxy_deadline_ms") == -1 ||
	    get_blob(c, sizeof(k->peer), &peer, &peerlen, "peer") == -1 ||
	    get_blob(c, HANDOVER_OUT_MAX, &k->out, &k->outlen, "out") == -1 ||
	    get_blob(c, HANDOVER_PROXY_MAX, &k->proxy, &k->proxylen, "proxy") == -1)
		return -1;
	if (state > HO_CONN_PROXY)
		return fail(c->x, "state %u > %u", state, HO_CONN_PROXY);
	k->state = (enum ho_conn_state)state;
	/* The transform takes no other; a new charset comes with a new version. */
	if (k->charset != TRANSFORM_UTF8 && k->charset != TRANSFORM_ASCII)
		return fail(c->x, "charset %u unknown", k->charset);
	if (k->ncarry > 3)
		return fail(c->x, "ncarry %u > 3", k->ncarry);
	/*
	 * The peer is the writer's struct sockaddr as it was: sa_family in
	 * host order at offset 0 (writer and reader are on the same host).
	 */
	if (peerlen < sizeof(family))
		return fail(c->x, "peer of %zu bytes", peerlen);
	memcpy(&family, peer, sizeof(family));
	if (family == AF_INET) {
		if (peerlen != sizeof(struct sockaddr_in))
			return fail(c->x, "peer of family AF_INET is %zu bytes, not %zu",
			    peerlen, sizeof(struct sockaddr_in));
	} else if (family == AF_INET6) {
		if (peerlen != sizeof(struct sockaddr_in6))
			return fail(c->x, "peer of family AF_INET6 is %zu bytes, not %zu",
			    peerlen, sizeof(struct sockaddr_in6));
	} else {
		return fail(c->x, "peer family %u is neither AF_INET nor AF_INET6",
		    (unsigned)family);
	}
	memcpy(&k->peer, peer, peerlen);
	k->peerlen = (socklen_t)peerlen;
	if (k->proxylen > 0 && k->state != HO_CONN_PROXY)
		return fail(c->x, "%zu proxy bytes in state %u, not PROXY (%u)",
		    k->proxylen, state, HO_CONN_PROXY);
	if (k->outlen == 0)
		k->out = NULL;
	if (k->proxylen == 0)
		k->proxy = NULL;
	return 0;
}

static int
dec_counter(struct cur *c, struct rec *r)
{
	if (get_str(c, r->name, sizeof(r->name), false, "name") == -1 ||
	    get_u64(c, &r->value, "value") == -1)
		return -1;
	return 0;
}

static int
dec_hist(struct cur *c, struct rec *r)
{
	if (get_str(c, r->name, sizeof(r->name), false, "name") == -1 ||
	    get_u32(c, &r->n, "n") == -1)
		return -1;
	if (r->n < 1 || r->n > HANDOVER_HIST_MAX)
		return fail(c->x, "n %u not within 1 to %d", (unsigned)r->n, HANDOVER_HIST_MAX);
	for (uint32_t i = 0; i < r->n; i++)
		if (get_u64(c, &r->counts[i], "counts") == -1)
			return -1;
	return get_u64(c, &r->sum, "sum");
}

static int
dec_fd_path(struct cur *c, struct rec *r)
{
	if (get_u32(c, &r->fd, "fd") == -1 ||
	    get_str(c, r->name, sizeof(r->name), false, "path") == -1)
		return -1;
	return 0;
}

static int
dec_end(struct cur *c, struct rec *r)
{
	return get_u32(c, &r->end_count, "count");
}

/* A descriptor index: below nfds and not seen before (pass 1 only: used). */
static int
use_fd(struct ctx *x, uint8_t *used, size_t nfds, uint32_t fd)
{
	if (used == NULL)
		return 0;
	if (fd >= nfds)
		return fail(x, "descriptor index %u >= %zu received", (unsigned)fd, nfds);
	if (used[fd / 8] & (1u << (fd % 8)))
		return fail(x, "descriptor index %u used twice", (unsigned)fd);
	used[fd / 8] |= (uint8_t)(1u << (fd % 8));
	return 0;
}

/* A visitor callback said no. */
static int
refused(struct ctx *x)
{
	if (x->err != NULL && x->errlen > 0)
		snprintf(x->err, x->errlen, "record %zu (%s) refused", x->index,
		    type_name(x->type));
	return -1;
}

/*
 * The records after the header.  Pass 1 (used not NULL, v NULL) checks
 * them; pass 2 (used NULL) decodes them again, for the visitor.
 */
static int
walk(const uint8_t *buf, size_t len, size_t nfds, uint8_t *used,
    const struct handover_visitor *v, void *arg, char *err, size_t errlen)
{
	struct ctx x = { err, errlen, 0, 0 };
	size_t off = HANDOVER_HEADER_LEN;
	struct rec r;

	for (;; x.index++) {
		uint16_t type, flags;
		uint32_t plen;
		struct cur c;
		int rc = 0;

		if (off == len)
			return fail_top(err, errlen,
			    "no END record: the handover ends after %zu records", x.index);
		if (len - off < 8)
			return fail_top(err, errlen,
			    "record %zu: its 8-byte header cut short (%zu bytes left)",
			    x.index, len - off);
		type = (uint16_t)le(buf + off, 2);
		flags = (uint16_t)le(buf + off + 2, 2);
		plen = (uint32_t)le(buf + off + 4, 4);
		x.type = type;
		if (flags & ~HO_F_CRITICAL)
			return fail(&x, "unknown flags 0x%04x", (unsigned)(flags & ~HO_F_CRITICAL));
		if (plen > HANDOVER_RECORD_MAX)
			return fail(&x, "length %u > %u", (unsigned)plen, HANDOVER_RECORD_MAX);
		if (plen > len - off - 8)
			return fail(&x, "length %u overruns the handover (%zu bytes left)",
			    (unsigned)plen, len - off - 8);
		c.p = buf + off + 8;
		c.len = plen;
		c.off = 0;
		c.x = &x;
		off += 8 + (size_t)plen;
		/* Bytes after the fields known here are a later version's: ignored. */
		switch (type) {
		case HO_T_META:
			if (dec_meta(&c, &r) == -1)
				return -1;
			if (v != NULL && v->meta != NULL)
				rc = v->meta(&r.meta, arg);
			break;
		case HO_T_LISTENER:
			if (dec_listener(&c, &r) == -1 ||
			    use_fd(&x, used, nfds, r.listener.fd) == -1)
				return -1;
			if (v != NULL && v->listener != NULL)
				rc = v->listener(&r.listener, arg);
			break;
		case HO_T_CONN:
			if (dec_conn(&c, &r) == -1 || use_fd(&x, used, nfds, r.conn.fd) == -1)
				return -1;
			if (v != NULL && v->conn != NULL)
				rc = v->conn(&r.conn, arg);
			break;
		case HO_T_COUNTER:
			if (dec_counter(&c, &r) == -1)
				return -1;
			if (v != NULL && v->counter != NULL)
				rc = v->counter(r.name, r.value, arg);
			break;
		case HO_T_HIST:
			if (dec_hist(&c, &r) == -1)
				return -1;
			if (v != NULL && v->hist != NULL)
				rc = v->hist(r.name, r.counts, r.n, r.sum, arg);
			break;
		case HO_T_CONTROL:
		case HO_T_PIDFILE:
			if (dec_fd_path(&c, &r) == -1 || use_fd(&x, used, nfds, r.fd) == -1)
				return -1;
			if (v != NULL && type == HO_T_CONTROL && v->control != NULL)
				rc = v->control(r.fd, r.name, arg);
			if (v != NULL && type == HO_T_PIDFILE && v->pidfile != NULL)
				rc = v->pidfile(r.fd, r.name, arg);
			break;
		case HO_T_END:
			if (dec_end(&c, &r) == -1)
				return -1;
			if (r.end_count != x.index)
				return fail(&x, "count %u, but %zu records before it",
				    (unsigned)r.end_count, x.index);
			if (off != len)
				return fail(&x, "%zu bytes after it", len - off);
			return 0;
		default:
			if (flags & HO_F_CRITICAL)
				return fail(&x, "unknown type, flagged critical");
			break;	/* a later version's, safe to skip */
		}
		if (rc != 0)
			return refused(&x);
	}
}

int
handover_parse(const uint8_t *buf, size_t len, size_t nfds,
    const struct handover_visitor *v, void *arg, char *err, size_t errlen)
{
	uint16_t version, flags;
	uint8_t *used;
	int rc;

	if (err != NULL && errlen > 0)
		err[0] = '\0';
	if (buf == NULL || len < HANDOVER_HEADER_LEN)
		return fail_top(err, errlen, "handover of %zu bytes is shorter than its header (%d)",
		    buf == NULL ? (size_t)0 : len, HANDOVER_HEADER_LEN);
	if (memcmp(buf, magic, sizeof(magic)) != 0)
		return fail_top(err, errlen, "bad magic: not a handover");
	version = (uint16_t)le(buf + 8, 2);
	flags = (uint16_t)le(buf + 10, 2);
	/* The reserved u32 at 12 is not looked at: a later version may use it. */
	if (version == 0)
		return fail_top(err, errlen, "handover format version 0 is invalid");
	if (version > HANDOVER_VERSION)
		return fail_top(err, errlen,
		    "handover format version %u is newer than this upcased reads (%d)",
		    (unsigned)version, HANDOVER_VERSION);
	if (flags != 0)
		return fail_top(err, errlen, "unknown header flags 0x%04x", (unsigned)flags);
	if (nfds > HO_NFDS_MAX)
		return fail_top(err, errlen, "%zu descriptors > %zu", nfds, HO_NFDS_MAX);
	if ((used = calloc(nfds / 8 + 1, 1)) == NULL)
		return fail_top(err, errlen, "out of memory");
	rc = walk(buf, len, nfds, used, NULL, NULL, err, errlen);
	free(used);
	if (rc == -1 || v == NULL)
		return rc;
	return walk(buf, len, nfds, NULL, v, arg, err, errlen);
}

/* ================================================================ systemd's fd store */

/* What may stand in a name (systemd refuses ':' and control characters). */
static bool
fdname_char(char ch)
{
	return ch > ' ' && ch < 0x7f && ch != ':';
}

int
handover_fdname(char *out, size_t outlen, int type, int shard, uint16_t port,
    const char *address)
{
	char shardbuf[16], tmp[FDNAME_MAX + 2];
	int n;

	if (out == NULL || address == NULL ||
	    (type != SOCK_STREAM && type != SOCK_DGRAM) || shard < -1 || shard > HO_SHARD_MAX)
		return -1;
	for (const char *a = address; *a != '\0'; a++)
		if (*a == '_' || (*a != ':' && !fdname_char(*a)))
			return -1;
	if (shard == -1)
		snprintf(shardbuf, sizeof(shardbuf), "all");
	else
		snprintf(shardbuf, sizeof(shardbuf), "%d", shard);
	n = snprintf(tmp, sizeof(tmp), FDNAME_PREFIX "%s-%s-%u-%s",
	    type == SOCK_STREAM ? "tcp" : "udp", shardbuf, (unsigned)port, address);
	if (n < 0 || n > FDNAME_MAX || (size_t)n >= outlen)
		return -1;
	for (int i = 0; i < n; i++)
		if (tmp[i] == ':')
			tmp[i] = '_';
	memcpy(out, tmp, (size_t)n + 1);
	return n;
}

/*
 * A decimal number as handover_fdname writes it (no sign, no leading
 * zero), at most max, ended by '-'; *pp moves past the '-'.
 */
static bool
fdname_num(const char **pp, unsigned long max, unsigned long *v)
{
	const char *p = *pp;
	unsigned long n = 0;

	if (*p < '0' || *p > '9' || (*p == '0' && p[1] >= '0' && p[1] <= '9'))
		return false;
	for (; *p >= '0' && *p <= '9'; p++) {
		n = n * 10 + (unsigned long)(*p - '0');
		if (n > max)
			return false;
	}
	if (*p != '-')
		return false;
	*v = n;
	*pp = p + 1;
	return true;
}

bool
handover_fdname_parse(const char *name, int *type, int *shard, uint16_t *port,
    char *address, size_t addrlen)
{
	const char *p;
	unsigned long v;
	int t, s;
	size_t n;

	if (name == NULL || strnlen(name, FDNAME_MAX + 1) > FDNAME_MAX ||
	    strncmp(name, FDNAME_PREFIX, strlen(FDNAME_PREFIX)) != 0)
		return false;
	p = name + strlen(FDNAME_PREFIX);
	if (strncmp(p, "tcp-", 4) == 0)
		t = SOCK_STREAM;
	else if (strncmp(p, "udp-", 4) == 0)
		t = SOCK_DGRAM;
	else
		return false;
	p += 4;
	if (strncmp(p, "all-", 4) == 0) {
		s = -1;
		p += 4;
	} else if (fdname_num(&p, HO_SHARD_MAX, &v)) {
		s = (int)v;
	} else {
		return false;
	}
	if (!fdname_num(&p, UINT16_MAX, &v))
		return false;
	n = strlen(p);
	for (size_t i = 0; i < n; i++)
		if (!fdname_char(p[i]))
			return false;
	if (address == NULL || n >= addrlen)
		return false;
	for (size_t i = 0; i < n; i++)
		address[i] = p[i] == '_' ? ':' : p[i];
	address[n] = '\0';
	*type = t;
	*shard = s;
	*port = (uint16_t)v;
	return true;
}
