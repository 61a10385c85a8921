/* SPDX-License-Identifier: ISC */
/*
 * loadgen.c: the load generator behind bench/bench.py.  It drives upcased,
 * or any server that speaks the same protocol, over loopback only, checks
 * every byte that comes back, and prints one line of results.
 *
 *   sessions  C persistent connections in a closed loop: send a request of
 *             S bytes, wait for the whole reply, send the next; D seconds.
 *   connect   C workers, each: connect, send S bytes, read the reply,
 *             close, again (the textbook client); D seconds.
 *   bulk      C connections stream N MiB in all through the server while
 *             reading the replies at the same time; D is the time limit.
 *   udp       C sockets with W datagrams of S bytes in flight each; one
 *             unanswered after the timeout is counted lost and replaced.
 *
 * Every request starts with a tag (who sent it and its sequence number,
 * in lower-case letters), so a reply meant for another connection or for
 * an earlier request is caught as wrong, not only a garbled one.
 *
 * Threads (-j): the C connections are split over the threads; each runs
 * its own epoll loop with its own counters and latency histogram, merged
 * at the end.  While they run, threads share only read-only data.
 *
 * Exit status: 0 all well; 1 a reply was wrong; 2 usage; 3 other errors
 * (failed connections, resets, timeouts); 4 could not run (no result).
 * UDP losses are reported, not treated as errors.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define NS_PER_MS      1000000ULL
#define NS_PER_S       1000000000ULL
#define TAG_LEN        16                 /* sender id and sequence: 8 letters each */
#define TICK_NS        (10 * NS_PER_MS)   /* how often timeouts are checked */
#define SETUP_LIMIT_NS (20 * NS_PER_S)    /* sessions: to connect and warm up */
#define SETUP_INFLIGHT 4                  /* sessions: connections opening at once */
#define BULK_PERIOD    4093               /* prime, so chunk edges drift over the text */
#define BULK_CHUNK     65536
#define RBUF_SIZE      262144
#define UDP_BATCH      32
#define EPOLL_BATCH    256
#define MAX_CONNS      100000
#define MAX_SIZE       (1 << 20)
#define MAX_UDP_SIZE   65507
#define MAX_NOTES      10                 /* diagnostics printed, over all threads */

#define EXIT_WRONG     1
#define EXIT_USAGE     2
#define EXIT_ERRORS    3
#define EXIT_BROKEN    4                  /* could not run at all */

/* ------------------------------------------------------------ settings */

struct opts {
	const struct mode *mode;
	int      conns;          /* -c */
	int      threads;        /* -j */
	double   secs;           /* -d: duration, or time limit for bulk */
	size_t   size;           /* -s: request or datagram size */
	size_t   mib;            /* -n: bulk, in all */
	int      window;         /* -w: udp datagrams in flight per socket */
	int      timeout_ms;     /* -t */
	bool     utf8;           /* -u: non-ASCII letters in the text */
	const char *host;
	int      port;
};

static struct opts opts;
static struct sockaddr_storage target;
static socklen_t targetlen;

/* The text after the tag (TCP request, datagram) or the bulk stream, and its upper case. */
struct text {
	uint8_t *lo, *up;
	size_t   len;
};

static struct text body;         /* sessions, connect, udp: S - TAG_LEN bytes */
static struct text stream;       /* bulk: BULK_PERIOD + RBUF_SIZE bytes, periodic */
static pthread_barrier_t start_barrier;
static unsigned nnotes;          /* atomic */

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(EXIT_BROKEN);
}

static void
fatalx(const char *fmt, ...)
{
	va_list ap;

	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(EXIT_USAGE);
}

/* A diagnostic; only the first few are printed, so a failing run stays readable. */
static void
note(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&nnotes, 1, __ATOMIC_RELAXED) >= MAX_NOTES)
		return;
	fputs("loadgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

/* ------------------------------------------------------------ latency histogram */

/*
 * Log-linear buckets over nanoseconds: exact below 128, then 64 buckets per
 * power of two (under 1.6% error), up to hours.  Fixed size, so
 * a long run costs no memory.
 */
#define HIST_BITS 6
#define HIST_SUB  (1 << HIST_BITS)
#define HIST_N    (HIST_SUB * 40)

struct hist {
	uint64_t n[HIST_N];
	uint64_t count;
};

static void
hist_add(struct hist *h, uint64_t v)
{
	unsigned idx, p;

	if (v < 2 * HIST_SUB) {
		idx = (unsigned)v;
	} else {
		p = 63 - (unsigned)__builtin_clzll(v);		/* 2^p <= v, p > HIST_BITS */
		idx = (p - HIST_BITS + 1) * HIST_SUB + (unsigned)(v >> (p - HIST_BITS)) - HIST_SUB;
	}
	if (idx >= HIST_N)
		idx = HIST_N - 1;
	h->n[idx]++;
	h->count++;
}

/* The middle of bucket idx, in nanoseconds. */
static double
hist_value(unsigned idx)
{
	unsigned p;

	if (idx < 2 * HIST_SUB)
		return idx + 0.5;
	p = idx / HIST_SUB + HIST_BITS - 1;
	return (double)((uint64_t)(HIST_SUB + idx % HIST_SUB) << (p - HIST_BITS)) +
	    (double)(1ULL << (p - HIST_BITS)) / 2;
}

/* The q-quantile (0 < q <= 1) in microseconds; 0 if nothing was recorded. */
static double
hist_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;

	if (h->count == 0)
		return 0;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h->n[i];
		if (seen >= want && seen > 0)
			return hist_value(i) / 1000;
	}
	return hist_value(HIST_N - 1) / 1000;
}

/* ------------------------------------------------------------ texts and tags */

/* Lower-case letters whose upper case has the same UTF-8 length (Python str.upper). */
static const struct { const char *lo, *up; } wide[] = {
	{ "\xc3\xa9", "\xc3\x89" },		/* e acute */
	{ "\xc3\xb6", "\xc3\x96" },		/* o diaeresis */
	{ "\xc3\xb1", "\xc3\x91" },		/* n tilde */
	{ "\xce\xb1", "\xce\x91" },		/* Greek alpha */
	{ "\xd0\xb6", "\xd0\x96" },		/* Cyrillic zhe */
	{ "\xe2\x93\x90", "\xe2\x92\xb6" },	/* circled a */
};

static const char ascii_set[] = "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz 0123456789,.";

static uint32_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

static uint8_t
ascii_upper(uint8_t c)
{
	return c >= 'a' && c <= 'z' ? (uint8_t)(c - 'a' + 'A') : c;
}

/* Fill len bytes of text and its upper case, whole characters only. */
static void
text_fill(uint8_t *lo, uint8_t *up, size_t len, uint64_t seed)
{
	size_t i = 0;

	while (i < len) {
		uint32_t r = rng_next(&seed);

		if (opts.utf8 && r % 4 == 0) {
			size_t k = r / 4 % (sizeof(wide) / sizeof(wide[0]));
			size_t l = strlen(wide[k].lo);

			if (i + l <= len) {
				memcpy(lo + i, wide[k].lo, l);
				memcpy(up + i, wide[k].up, l);
				i += l;
				continue;
			}
		}
		lo[i] = (uint8_t)ascii_set[r % (sizeof(ascii_set) - 1)];
		up[i] = ascii_upper(lo[i]);
		i++;
	}
}

static void
text_alloc(struct text *t, size_t len)
{
	t->len = len;
	t->lo = malloc(len);
	t->up = malloc(len);
	if (t->lo == NULL || t->up == NULL)
		fatal("malloc");
}

static void
texts_make(void)
{
	/* A line of text, as a line-oriented client would send. */
	text_alloc(&body, opts.size - TAG_LEN);
	text_fill(body.lo, body.up, body.len - 1, 0x9e3779b97f4a7c15ULL);
	body.lo[body.len - 1] = body.up[body.len - 1] = '\n';

	/* One period of text, repeated so that any read fits from any offset. */
	text_alloc(&stream, BULK_PERIOD + RBUF_SIZE);
	text_fill(stream.lo, stream.up, BULK_PERIOD, 0x2545f4914f6cdd1dULL);
	for (size_t i = BULK_PERIOD; i < stream.len; i++) {
		stream.lo[i] = stream.lo[i - BULK_PERIOD];
		stream.up[i] = stream.up[i - BULK_PERIOD];
	}
}

static void
texts_free(void)
{
	free(body.lo);
	free(body.up);
	free(stream.lo);
	free(stream.up);
}

/* Tag: id and seq as 8 hex digits each, written with the letters a-p; up may be NULL. */
static void
tag_put(uint8_t *lo, uint8_t *up, uint32_t id, uint32_t seq)
{
	for (int i = 0; i < 8; i++) {
		lo[i] = (uint8_t)('a' + ((id >> (28 - 4 * i)) & 15));
		lo[8 + i] = (uint8_t)('a' + ((seq >> (28 - 4 * i)) & 15));
	}
	for (int i = 0; up != NULL && i < TAG_LEN; i++)
		up[i] = ascii_upper(lo[i]);
}

/* Read an upper-cased tag; false if it is not one. */
static bool
tag_get(const uint8_t *up, uint32_t *id, uint32_t *seq)
{
	uint64_t v = 0;

	for (int i = 0; i < TAG_LEN; i++) {
		if (up[i] < 'A' || up[i] > 'P')
			return false;
		v = v << 4 | (uint64_t)(up[i] - 'A');
	}
	*id = (uint32_t)(v >> 32);
	*seq = (uint32_t)v;
	return true;
}

/* ------------------------------------------------------------ workers */

enum phase { PH_SETUP, PH_RUN, PH_STOP };

enum cstate {
	CS_FREE,                 /* no socket */
	CS_CONNECTING,
	CS_ACTIVE,               /* request (or stream) under way */
	CS_IDLE,                 /* sessions: warmed up, waiting for the start */
	CS_DONE,                 /* bulk: stream complete */
};

struct conn {
	int      fd;
	enum cstate state;
	uint32_t events;         /* current epoll interest */
	bool     pending;        /* counted in its worker's pending */
	uint32_t id, seq;        /* the tag */
	uint8_t  tag[TAG_LEN], tag_up[TAG_LEN];
	uint64_t t0;             /* start of this request or connection; bulk: last progress */
	uint64_t total;          /* bytes of this request or stream */
	uint64_t sent, got;
};

struct slot {                    /* one udp datagram in flight */
	uint32_t seq;
	bool     busy;
	uint64_t t0;
	uint8_t  tag[TAG_LEN];
};

struct usock {
	int      fd;
	uint32_t id;
	struct slot *slot;       /* opts.window of them; slot i carries seq = i mod window */
	int     *queue;          /* slots waiting to be sent */
	int      nqueue;
};

struct counters {
	uint64_t done;           /* requests, connections, bytes or datagrams */
	uint64_t errors;         /* failed connects, resets, early ends, timeouts */
	uint64_t wrong;          /* replies that differ from what was owed */
	uint64_t lost, late;     /* udp: given up on; answered after that */
};

struct worker {
	int      id;
	pthread_t tid;
	int      epfd;
	enum phase phase;
	struct conn *conns;      /* tcp modes: this worker's share */
	struct usock *socks;     /* udp */
	int      n;
	int      pending;        /* what must finish before the phase ends */
	int      nopened;        /* sessions: connections opened so far */
	uint64_t last_tick;
	uint8_t *rbuf;
	struct counters cnt;
	struct hist hist;
	uint64_t setup_ns, elapsed_ns;
};

struct mode {
	const char *name, *unit;
	void   (*open)(struct worker *);            /* before the start; may leave work pending */
	void   (*begin)(struct worker *);           /* the measured part starts */
	void   (*event)(struct worker *, void *, uint32_t);
	void   (*tick)(struct worker *, uint64_t);  /* timeouts */
	void   (*end)(struct worker *);
	bool     until_done;                        /* bulk: stop when nothing is pending */
};

static void
watch(struct worker *w, int op, int fd, uint32_t ev, void *p)
{
	struct epoll_event e = { .events = ev, .data.ptr = p };

	if (epoll_ctl(w->epfd, op, fd, &e) == -1)
		fatal("epoll_ctl");
}

static void
conn_set_events(struct worker *w, struct conn *c, uint32_t ev)
{
	if (c->events != ev) {
		watch(w, EPOLL_CTL_MOD, c->fd, ev, c);
		c->events = ev;
	}
}

static void
conn_close(struct worker *w, struct conn *c, enum cstate next)
{
	if (c->fd != -1)
		close(c->fd);	/* also leaves epoll */
	c->fd = -1;
	c->state = next;
	if (c->pending) {
		c->pending = false;
		w->pending--;
	}
}

/* Count and show a failure; err is an errno value, or 0. */
static void
conn_fail(struct worker *w, struct conn *c, const char *what, int err)
{
	w->cnt.errors++;
	note("connection %u: %s%s%s", c->id, what, err ? ": " : "", err ? strerror(err) : "");
	conn_close(w, c, CS_FREE);
}

/*
 * Over IPv4, connect from 127.0.N.1, N cycling through 1..250, as clients
 * on many hosts would.  From one address, a client that closes first
 * leaves a TIME_WAIT socket per connection, and at a few thousand
 * connections per second connect() spends most of its time looking for a
 * reusable port among them (__inet_check_established): at about 14000 a
 * second the client, not the server, is what is measured, with stalls of
 * tens of milliseconds.
 */
static int
conn_bind_source(int fd)
{
	static __thread uint32_t next;
	struct sockaddr_in src = { .sin_family = AF_INET };
	int one = 1;

	if (target.ss_family != AF_INET)
		return 0;
	src.sin_addr.s_addr = htonl(0x7f000001u | (1 + next++ % 250) << 8);
	/* The port is chosen at connect(), for the whole 4-tuple. */
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	return bind(fd, (struct sockaddr *)&src, sizeof(src));
}

/* Start connecting c; watched for ev once the connection completes. */
static bool
conn_open(struct worker *w, struct conn *c, uint32_t ev)
{
	int one = 1;

	c->fd = socket(target.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (c->fd == -1) {
		conn_fail(w, c, "socket", errno);
		return false;
	}
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (conn_bind_source(c->fd) == -1) {
		conn_fail(w, c, "bind", errno);
		return false;
	}
	if (connect(c->fd, (struct sockaddr *)&target, targetlen) == -1 && errno != EINPROGRESS) {
		conn_fail(w, c, "connect", errno);
		return false;
	}
	c->events = ev;
	watch(w, EPOLL_CTL_ADD, c->fd, ev, c);
	c->state = CS_CONNECTING;
	c->t0 = now_ns();
	return true;
}

/* After the connect completed (EPOLLOUT): did it succeed? */
static bool
conn_connected(struct worker *w, struct conn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);

	if (getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len) == -1 || err != 0) {
		conn_fail(w, c, "connect", err != 0 ? err : errno);
		return false;
	}
	c->state = CS_ACTIVE;
	return true;
}

/* ------------------------------------------------------------ requests (sessions, connect) */

static void
req_new(struct conn *c)
{
	c->seq++;
	tag_put(c->tag, c->tag_up, c->id, c->seq);
	c->total = TAG_LEN + body.len;
	c->sent = c->got = 0;
	c->t0 = now_ns();
}

/* Send what is left of c's request: its tag, then the shared body.  -1: failed. */
static int
req_send(struct worker *w, struct conn *c)
{
	while (c->sent < c->total) {
		struct iovec iov[2];
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 0 };
		size_t boff = c->sent > TAG_LEN ? c->sent - TAG_LEN : 0;
		ssize_t k;

		if (c->sent < TAG_LEN) {
			iov[mh.msg_iovlen].iov_base = c->tag + c->sent;
			iov[mh.msg_iovlen++].iov_len = TAG_LEN - c->sent;
		}
		iov[mh.msg_iovlen].iov_base = body.lo + boff;
		iov[mh.msg_iovlen++].iov_len = body.len - boff;
		k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (k == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			conn_fail(w, c, "send", errno);
			return -1;
		}
		c->sent += (uint64_t)k;
	}
	return 0;
}

/* Where p (the next len bytes of c's reply) first differs from what is owed, or len. */
static size_t
reply_mismatch(const struct conn *c, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		uint64_t off = c->got + i;
		uint8_t want = off < TAG_LEN ? c->tag_up[off] : body.up[off - TAG_LEN];

		if (p[i] != want)
			return i;
	}
	return len;
}

static void
reply_wrong(struct worker *w, struct conn *c, const uint8_t *p, size_t at)
{
	uint64_t off = c->got + at;
	uint8_t want = off < TAG_LEN ? c->tag_up[off] : body.up[off - TAG_LEN];

	w->cnt.wrong++;
	note("connection %u request %u: wrong reply at byte %" PRIu64 ": 0x%02x, want 0x%02x",
	    c->id, c->seq, off, p[at], want);
	conn_close(w, c, CS_FREE);
}

/* Read c's reply until the socket is empty.  1: complete, 0: more to come, -1: failed. */
static int
reply_recv(struct worker *w, struct conn *c)
{
	for (;;) {
		uint64_t want = c->total - c->got;
		ssize_t n = recv(c->fd, w->rbuf, want < RBUF_SIZE ? (size_t)want : RBUF_SIZE, 0);
		size_t at;

		if (n > 0) {
			/* The common case, a whole reply that matches, costs one memcmp. */
			if ((n < TAG_LEN || c->got != 0 ||
			    memcmp(w->rbuf, c->tag_up, TAG_LEN) != 0 ||
			    memcmp(w->rbuf + TAG_LEN, body.up, (size_t)n - TAG_LEN) != 0) &&
			    (at = reply_mismatch(c, w->rbuf, (size_t)n)) < (size_t)n) {
				reply_wrong(w, c, w->rbuf, at);
				return -1;
			}
			c->got += (uint64_t)n;
			if (c->got == c->total)
				return 1;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return 0;
		if (n == 0)
			conn_fail(w, c, "closed by the server before the reply was complete", 0);
		else
			conn_fail(w, c, "recv", errno);
		return -1;
	}
}

/* ------------------------------------------------------------ mode: sessions */

/*
 * Open connections, at most SETUP_INFLIGHT at a time, until all are open;
 * each sends one request before the clock starts.  Opened all at once,
 * they would overflow a small listen backlog (5 in Python's socketserver
 * and in socat): the kernel drops the SYNs that find the accept queue
 * full and the clients retry after 1, 3, 7, 15 s, which measures the
 * backlog, not the server.
 */
static void
sess_open_more(struct worker *w)
{
	while (w->nopened < w->n && w->nopened - (w->n - w->pending) < SETUP_INFLIGHT)
		conn_open(w, &w->conns[w->nopened++], EPOLLOUT);
}

static void
sess_open(struct worker *w)
{
	for (int i = 0; i < w->n; i++)
		w->conns[i].pending = true;
	w->pending = w->n;
	sess_open_more(w);
}

static void
sess_request(struct worker *w, struct conn *c)
{
	req_new(c);
	if (req_send(w, c) == -1)
		return;
	conn_set_events(w, c, c->sent < c->total ? EPOLLIN | EPOLLOUT : EPOLLIN);
}

static void
sess_event(struct worker *w, void *p, uint32_t ev)
{
	struct conn *c = p;

	if (c->state == CS_CONNECTING) {
		if (conn_connected(w, c))
			sess_request(w, c);
		return;
	}
	if (c->state != CS_ACTIVE)
		return;
	if ((ev & EPOLLOUT) && c->sent < c->total) {
		if (req_send(w, c) == -1)
			return;
		if (c->sent == c->total)
			conn_set_events(w, c, EPOLLIN);
	}
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || reply_recv(w, c) != 1)
		return;
	if (w->phase == PH_SETUP) {
		c->state = CS_IDLE;
		c->pending = false;
		w->pending--;
		sess_open_more(w);
		return;
	}
	w->cnt.done++;
	hist_add(&w->hist, now_ns() - c->t0);
	sess_request(w, c);
}

static void
sess_begin(struct worker *w)
{
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CS_IDLE) {
			c->state = CS_ACTIVE;
			sess_request(w, c);
		} else if (c->pending) {
			conn_fail(w, c, "not ready within the setup limit", 0);
		}
	}
}

static void
sess_tick(struct worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)opts.timeout_ms * NS_PER_MS;

	if (w->phase == PH_SETUP)
		sess_open_more(w);	/* in place of those that failed */
	if (w->phase != PH_RUN)
		return;
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CS_ACTIVE && now - c->t0 > limit)
			conn_fail(w, c, "no reply within the timeout", 0);
	}
}

static void
tcp_end(struct worker *w)
{
	for (int i = 0; i < w->n; i++)
		conn_close(w, &w->conns[i], CS_FREE);
}

/* ------------------------------------------------------------ mode: connect */

/* One short connection; edge-triggered, so it is registered once. */
static void
cyc_start(struct worker *w, struct conn *c)
{
	uint64_t t0 = now_ns();

	if (conn_open(w, c, EPOLLIN | EPOLLOUT | EPOLLET)) {
		req_new(c);
		c->t0 = t0;	/* the connection's whole life is its latency */
	}
}

static void
cyc_begin(struct worker *w)
{
	for (int i = 0; i < w->n; i++)
		cyc_start(w, &w->conns[i]);
}

static void
cyc_event(struct worker *w, void *p, uint32_t ev)
{
	struct conn *c = p;

	if (c->state == CS_CONNECTING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) || !conn_connected(w, c))
			return;
		if (req_send(w, c) == -1)
			return;
	} else if (c->state != CS_ACTIVE) {
		return;
	} else if ((ev & EPOLLOUT) && c->sent < c->total && req_send(w, c) == -1) {
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || reply_recv(w, c) != 1)
		return;
	w->cnt.done++;
	hist_add(&w->hist, now_ns() - c->t0);
	conn_close(w, c, CS_FREE);
	cyc_start(w, c);
}

/* Timeouts; a worker whose connection failed starts again here, not in a tight loop. */
static void
cyc_tick(struct worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)opts.timeout_ms * NS_PER_MS;

	if (w->phase != PH_RUN)
		return;
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CS_FREE)
			cyc_start(w, c);
		else if (now - c->t0 > limit)
			conn_fail(w, c, "no reply within the timeout", 0);
	}
}

/* ------------------------------------------------------------ mode: bulk */

static void
bulk_begin(struct worker *w)
{
	uint64_t total = (uint64_t)opts.mib << 20;

	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		c->total = total / (uint64_t)opts.conns + (c->id < total % (uint64_t)opts.conns);
		c->sent = c->got = 0;
		if (conn_open(w, c, EPOLLIN | EPOLLOUT)) {
			c->state = CS_ACTIVE;	/* the first EPOLLOUT means connected */
			c->pending = true;
			w->pending++;
		}
	}
}

static int
bulk_send(struct worker *w, struct conn *c)
{
	while (c->sent < c->total) {
		uint64_t left = c->total - c->sent;
		size_t len = left < BULK_CHUNK ? (size_t)left : BULK_CHUNK;
		ssize_t k = send(c->fd, stream.lo + c->sent % BULK_PERIOD, len, MSG_NOSIGNAL);

		if (k == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			conn_fail(w, c, "send", errno);
			return -1;
		}
		c->sent += (uint64_t)k;
		c->t0 = now_ns();
	}
	if (shutdown(c->fd, SHUT_WR) == -1) {
		conn_fail(w, c, "shutdown", errno);
		return -1;
	}
	conn_set_events(w, c, EPOLLIN);
	return 0;
}

/* A few reads per event: enough to keep up, not so many that sending starves. */
static void
bulk_recv(struct worker *w, struct conn *c)
{
	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);

		if (n > 0) {
			if (c->got + (uint64_t)n > c->sent ||
			    memcmp(w->rbuf, stream.up + c->got % BULK_PERIOD, (size_t)n) != 0) {
				w->cnt.wrong++;
				note("stream %u: wrong bytes in the %zd from offset %" PRIu64, c->id, n, c->got);
				conn_close(w, c, CS_FREE);
				return;
			}
			c->got += (uint64_t)n;
			w->cnt.done += (uint64_t)n;
			c->t0 = now_ns();
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0 && c->got == c->total)
			conn_close(w, c, CS_DONE);
		else if (n == 0)
			conn_fail(w, c, "stream ended early", 0);
		else
			conn_fail(w, c, "recv", errno);
		return;
	}
}

static void
bulk_event(struct worker *w, void *p, uint32_t ev)
{
	struct conn *c = p;

	if (c->state != CS_ACTIVE)
		return;
	if ((ev & (EPOLLOUT | EPOLLERR)) && c->sent < c->total && bulk_send(w, c) == -1)
		return;
	if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
		bulk_recv(w, c);
}

static void
bulk_tick(struct worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)opts.timeout_ms * NS_PER_MS;

	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CS_ACTIVE && now - c->t0 > limit)
			conn_fail(w, c, "no progress within the timeout", 0);
	}
}

static void
bulk_end(struct worker *w)
{
	for (int i = 0; i < w->n; i++) {
		if (w->conns[i].state == CS_ACTIVE)
			conn_fail(w, &w->conns[i], "not finished within the time limit", 0);
	}
}

/* ------------------------------------------------------------ mode: udp */

static void
udp_open(struct worker *w)
{
	for (int i = 0; i < w->n; i++) {
		struct usock *u = &w->socks[i];

		u->fd = socket(target.ss_family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		if (u->fd == -1)
			fatal("socket");
		/* Connected: the kernel filters out anything not from the server. */
		if (connect(u->fd, (struct sockaddr *)&target, targetlen) == -1)
			fatal("connect");
		watch(w, EPOLL_CTL_ADD, u->fd, EPOLLIN, u);
	}
}

/* Put slot i's next datagram in the send queue. */
static void
udp_queue(struct usock *u, int i, bool next)
{
	struct slot *s = &u->slot[i];

	if (next)
		s->seq += (uint32_t)opts.window;
	tag_put(s->tag, NULL, u->id, s->seq);
	s->busy = true;
	u->queue[u->nqueue++] = i;
}

/*
 * Send n prepared datagrams.  One that does not go is not retried: its slot
 * times out and counts as lost.  sendmmsg() stops at the first failure and
 * reports only what went, so the rest is offered again to see the error.
 */
static void
udp_send(struct worker *w, struct usock *u, struct mmsghdr *mm, int n)
{
	int off = 0;

	while (off < n) {
		int k = sendmmsg(u->fd, mm + off, (unsigned)(n - off), MSG_DONTWAIT);

		if (k > 0) {
			off += k;
			continue;
		}
		if (errno == EAGAIN)
			return;
		if (errno == ECONNREFUSED)
			w->cnt.errors++;	/* an ICMP error for an earlier datagram */
		else if (errno != EINTR)
			note("socket %u: sendmmsg: %s", u->id, strerror(errno));
		off++;
	}
}

static void
udp_flush(struct worker *w, struct usock *u)
{
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH][2];
	uint64_t now = now_ns();

	for (int off = 0; off < u->nqueue; off += UDP_BATCH) {
		int n = u->nqueue - off < UDP_BATCH ? u->nqueue - off : UDP_BATCH;

		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < n; i++) {
			struct slot *s = &u->slot[u->queue[off + i]];

			s->t0 = now;
			iov[i][0] = (struct iovec){ s->tag, TAG_LEN };
			iov[i][1] = (struct iovec){ body.lo, body.len };
			mm[i].msg_hdr.msg_iov = iov[i];
			mm[i].msg_hdr.msg_iovlen = 2;
		}
		udp_send(w, u, mm, n);
	}
	u->nqueue = 0;
}

static void
udp_begin(struct worker *w)
{
	for (int i = 0; i < w->n; i++) {
		struct usock *u = &w->socks[i];

		for (int k = 0; k < opts.window; k++) {
			u->slot[k].seq = (uint32_t)k;
			udp_queue(u, k, false);
		}
		udp_flush(w, u);
	}
}

/* Check one reply; complete its slot and queue the slot's next datagram. */
static void
udp_reply(struct worker *w, struct usock *u, const uint8_t *p, size_t len, uint64_t now)
{
	uint32_t id, seq;
	struct slot *s;

	if (len != opts.size || !tag_get(p, &id, &seq) || id != u->id ||
	    memcmp(p + TAG_LEN, body.up, body.len) != 0) {
		char show[25];
		size_t i;

		for (i = 0; i < len && i < sizeof(show) - 1; i++)
			show[i] = p[i] >= 0x20 && p[i] < 0x7f ? (char)p[i] : '.';
		show[i] = '\0';
		w->cnt.wrong++;
		note("socket %u: wrong reply of %zu bytes: \"%s\"", u->id, len, show);
		return;
	}
	s = &u->slot[seq % (uint32_t)opts.window];
	if (!s->busy || s->seq != seq) {
		w->cnt.late++;
		return;
	}
	s->busy = false;
	if (w->phase != PH_RUN)
		return;
	w->cnt.done++;
	hist_add(&w->hist, now - s->t0);
	udp_queue(u, (int)(seq % (uint32_t)opts.window), true);
}

static void
udp_event(struct worker *w, void *p, uint32_t ev)
{
	struct usock *u = p;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	size_t room = opts.size + 1;	/* one more: a longer reply shows as wrong */
	uint64_t now;
	int n;

	(void)ev;
	do {
		memset(mm, 0, sizeof(mm));
		for (int i = 0; i < UDP_BATCH; i++) {
			iov[i] = (struct iovec){ w->rbuf + (size_t)i * room, room };
			mm[i].msg_hdr.msg_iov = &iov[i];
			mm[i].msg_hdr.msg_iovlen = 1;
		}
		n = recvmmsg(u->fd, mm, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n == -1) {
			if (errno == ECONNREFUSED)
				w->cnt.errors++;
			else if (errno != EAGAIN && errno != EINTR)
				note("socket %u: recvmmsg: %s", u->id, strerror(errno));
			break;
		}
		now = now_ns();
		for (int i = 0; i < n; i++)
			udp_reply(w, u, iov[i].iov_base, mm[i].msg_len, now);
	} while (n == UDP_BATCH);
	udp_flush(w, u);
}

static void
udp_tick(struct worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)opts.timeout_ms * NS_PER_MS;

	if (w->phase != PH_RUN)
		return;
	for (int i = 0; i < w->n; i++) {
		struct usock *u = &w->socks[i];

		for (int k = 0; k < opts.window; k++) {
			if (u->slot[k].busy && now - u->slot[k].t0 > limit) {
				w->cnt.lost++;
				udp_queue(u, k, true);
			}
		}
		udp_flush(w, u);
	}
}

static void
udp_end(struct worker *w)
{
	for (int i = 0; i < w->n; i++)
		close(w->socks[i].fd);
}

static const struct mode modes[] = {
	{ "sessions", "req/s", sess_open, sess_begin, sess_event, sess_tick, tcp_end, false },
	{ "connect", "conn/s", NULL, cyc_begin, cyc_event, cyc_tick, tcp_end, false },
	{ "bulk", "MB/s", NULL, bulk_begin, bulk_event, bulk_tick, bulk_end, true },
	{ "udp", "dgram/s", udp_open, udp_begin, udp_event, udp_tick, udp_end, false },
};

/* ------------------------------------------------------------ the loop */

static void
worker_run(struct worker *w, uint64_t deadline, bool until_done)
{
	struct epoll_event ev[EPOLL_BATCH];
	const struct mode *m = opts.mode;

	for (;;) {
		uint64_t now = now_ns();
		int n, ms;

		if (now >= deadline || (until_done && w->pending == 0))
			return;
		if (now - w->last_tick >= TICK_NS) {
			m->tick(w, now);
			w->last_tick = now;
		}
		ms = (int)((deadline - now) / NS_PER_MS);
		n = epoll_wait(w->epfd, ev, EPOLL_BATCH, ms < 10 ? ms : 10);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		if (now_ns() >= deadline)
			return;	/* what came after the deadline does not count */
		for (int i = 0; i < n; i++)
			m->event(w, ev[i].data.ptr, ev[i].events);
	}
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const struct mode *m = opts.mode;
	uint64_t t0 = now_ns(), start;

	w->phase = PH_SETUP;
	w->last_tick = t0;
	if (m->open != NULL)
		m->open(w);
	worker_run(w, t0 + SETUP_LIMIT_NS, true);
	w->setup_ns = now_ns() - t0;
	pthread_barrier_wait(&start_barrier);
	w->phase = PH_RUN;
	start = now_ns();
	m->begin(w);
	worker_run(w, start + (uint64_t)(opts.secs * (double)NS_PER_S), m->until_done);
	w->elapsed_ns = now_ns() - start;
	w->phase = PH_STOP;
	m->end(w);
	return NULL;
}

/* ------------------------------------------------------------ command line */

static void
usage(void)
{
	fprintf(stderr,
	    "usage: loadgen [-u] [-c conns] [-d seconds] [-j threads] [-n MiB] [-s size]\n"
	    "               [-t timeout_ms] [-w window] sessions|connect|bulk|udp address port\n"
	    "  address: 127.0.0.0/8 or ::1 only\n");
	exit(EXIT_USAGE);
}

static long
opt_num(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		fatalx("%s: %s is not a number from %ld to %ld", what, s, lo, hi);
	return v;
}

/* Numeric loopback addresses only: the generator must never load another host. */
static void
opt_target(const char *host, const char *port)
{
	struct sockaddr_in *s4 = (struct sockaddr_in *)&target;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&target;
	uint16_t p = htons((uint16_t)opt_num(port, 1, 65535, "port"));

	memset(&target, 0, sizeof(target));
	if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
		if ((ntohl(s4->sin_addr.s_addr) >> 24) != 127)
			fatalx("%s: not a loopback address (127.0.0.0/8 or ::1 only)", host);
		s4->sin_family = AF_INET;
		s4->sin_port = p;
		targetlen = sizeof(*s4);
	} else if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
		if (!IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr))
			fatalx("%s: not a loopback address (127.0.0.0/8 or ::1 only)", host);
		s6->sin6_family = AF_INET6;
		s6->sin6_port = p;
		targetlen = sizeof(*s6);
	} else {
		fatalx("%s: not a numeric IPv4 or IPv6 address", host);
	}
	opts.host = host;
	opts.port = ntohs(p);
}

static void
opt_mode(const char *name)
{
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(name, modes[i].name) == 0)
			opts.mode = &modes[i];
	if (opts.mode == NULL)
		fatalx("%s: unknown mode", name);
}

/* Defaults that depend on the mode, then the checks that do. */
static void
opt_settle(bool secs_given, bool conns_given, bool timeout_given)
{
	bool bulk = strcmp(opts.mode->name, "bulk") == 0;
	bool udp = strcmp(opts.mode->name, "udp") == 0;

	if (!secs_given)
		opts.secs = bulk ? 60 : 3;
	if (!conns_given)
		opts.conns = bulk || udp ? 1 : 64;
	if (!timeout_given)
		opts.timeout_ms = udp ? 200 : 2000;
	if (opts.size < TAG_LEN + 1 || opts.size > (udp ? MAX_UDP_SIZE : MAX_SIZE))
		fatalx("size: from %d to %d bytes in this mode", TAG_LEN + 1,
		    udp ? MAX_UDP_SIZE : MAX_SIZE);
	if ((uint64_t)opts.conns * opts.size > (1ULL << 28) && !bulk)
		fatalx("conns * size: more than 256 MiB");
	if (opts.threads > opts.conns)
		opts.threads = opts.conns;
}

static void
opt_parse(int argc, char **argv)
{
	bool secs_given = false, conns_given = false, timeout_given = false;
	char *end;
	int ch;

	opts.threads = 1;
	opts.size = 32;
	opts.mib = 64;
	opts.window = 16;
	while ((ch = getopt(argc, argv, "c:d:j:n:s:t:uw:")) != -1) {
		switch (ch) {
		case 'c':
			opts.conns = (int)opt_num(optarg, 1, MAX_CONNS, "-c");
			conns_given = true;
			break;
		case 'd':
			opts.secs = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(opts.secs >= 0.1 && opts.secs <= 3600))
				fatalx("-d: %s is not a number of seconds from 0.1 to 3600", optarg);
			secs_given = true;
			break;
		case 'j':
			opts.threads = (int)opt_num(optarg, 1, 64, "-j");
			break;
		case 'n':
			opts.mib = (size_t)opt_num(optarg, 1, 1 << 20, "-n");
			break;
		case 's':
			opts.size = (size_t)opt_num(optarg, 1, MAX_SIZE, "-s");
			break;
		case 't':
			opts.timeout_ms = (int)opt_num(optarg, 1, 3600000, "-t");
			timeout_given = true;
			break;
		case 'u':
			opts.utf8 = true;
			break;
		case 'w':
			opts.window = (int)opt_num(optarg, 1, 4096, "-w");
			break;
		default:
			usage();
		}
	}
	if (argc - optind != 3)
		usage();
	opt_mode(argv[optind]);
	opt_target(argv[optind + 1], argv[optind + 2]);
	opt_settle(secs_given, conns_given, timeout_given);
}

/* ------------------------------------------------------------ main */

/* Enough descriptors for every connection, or a clear refusal up front. */
static void
raise_nofile(int want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		fatal("getrlimit");
	if (rl.rlim_cur < (rlim_t)want) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)want ? rl.rlim_max : (rlim_t)want;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			fatal("setrlimit");
	}
	if (rl.rlim_cur < (rlim_t)want)
		fatalx("%d connections need %d descriptors; the limit is %llu", opts.conns, want,
		    (unsigned long long)rl.rlim_cur);
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatal("calloc");
	return p;
}

/* Give each worker a contiguous share of the connections or sockets. */
static struct worker *
workers_create(void)
{
	struct worker *w = xcalloc((size_t)opts.threads, sizeof(*w));
	struct conn *conns = xcalloc((size_t)opts.conns, sizeof(*conns));
	struct usock *socks = xcalloc((size_t)opts.conns, sizeof(*socks));
	size_t rlen = RBUF_SIZE > UDP_BATCH * (opts.size + 1) ? RBUF_SIZE : UDP_BATCH * (opts.size + 1);
	int first = 0;

	for (int i = 0; i < opts.conns; i++) {
		conns[i].fd = socks[i].fd = -1;
		conns[i].id = socks[i].id = (uint32_t)i;
		socks[i].slot = xcalloc((size_t)opts.window, sizeof(struct slot));
		socks[i].queue = xcalloc((size_t)opts.window, sizeof(int));
	}
	for (int t = 0; t < opts.threads; t++) {
		w[t].id = t;
		w[t].n = opts.conns / opts.threads + (t < opts.conns % opts.threads);
		w[t].conns = conns + first;
		w[t].socks = socks + first;
		first += w[t].n;
		w[t].rbuf = malloc(rlen);
		w[t].epfd = epoll_create1(EPOLL_CLOEXEC);
		if (w[t].rbuf == NULL || w[t].epfd == -1)
			fatal("worker %d", t);
	}
	return w;
}

static void
workers_destroy(struct worker *w)
{
	/* Worker 0's share starts at the beginning of each array. */
	for (int i = 0; i < opts.conns; i++) {
		free(w[0].socks[i].slot);
		free(w[0].socks[i].queue);
	}
	free(w[0].conns);
	free(w[0].socks);
	for (int t = 0; t < opts.threads; t++) {
		close(w[t].epfd);
		free(w[t].rbuf);
	}
	free(w);
}

/* Add one worker's results to the totals. */
static void
worker_merge(const struct worker *w, struct counters *sum, struct hist *h,
    uint64_t *setup, uint64_t *elapsed)
{
	sum->done += w->cnt.done;
	sum->errors += w->cnt.errors;
	sum->wrong += w->cnt.wrong;
	sum->lost += w->cnt.lost;
	sum->late += w->cnt.late;
	for (unsigned i = 0; i < HIST_N; i++)
		h->n[i] += w->hist.n[i];
	h->count += w->hist.count;
	if (w->setup_ns > *setup)
		*setup = w->setup_ns;
	if (w->elapsed_ns > *elapsed)
		*elapsed = w->elapsed_ns;
}

/* One line of key=value pairs, for bench.py and for people. */
static void
report(const struct counters *c, const struct hist *h, uint64_t setup_ns, uint64_t elapsed_ns)
{
	double secs = (double)elapsed_ns / (double)NS_PER_S;
	double rate = secs > 0 ? (double)c->done / secs : 0;

	if (strcmp(opts.mode->name, "bulk") == 0)
		rate /= 1e6;
	printf("mode=%s addr=%s port=%d conns=%d threads=%d size=%zu secs=%.3f count=%" PRIu64
	    " rate=%.1f unit=%s", opts.mode->name, opts.host, opts.port, opts.conns, opts.threads,
	    strcmp(opts.mode->name, "bulk") == 0 ? (size_t)0 : opts.size, secs, c->done, rate,
	    opts.mode->unit);
	if (h->count > 0)
		printf(" p50_us=%.1f p99_us=%.1f", hist_quantile(h, 0.50), hist_quantile(h, 0.99));
	if (strcmp(opts.mode->name, "udp") == 0)
		printf(" window=%d lost=%" PRIu64 " late=%" PRIu64, opts.window, c->lost, c->late);
	printf(" utf8=%d setup_ms=%.0f errors=%" PRIu64 " wrong=%" PRIu64 "\n", opts.utf8,
	    (double)setup_ns / (double)NS_PER_MS, c->errors, c->wrong);
	fflush(stdout);
}

int
main(int argc, char **argv)
{
	struct worker *w;
	struct counters sum = { 0 };
	struct hist *h;
	uint64_t setup = 0, elapsed = 0;
	int e;

	opt_parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	raise_nofile(opts.conns + 64);
	texts_make();
	w = workers_create();
	h = xcalloc(1, sizeof(*h));
	if ((e = pthread_barrier_init(&start_barrier, NULL, (unsigned)opts.threads)) != 0)
		fatalx("pthread_barrier_init: %s", strerror(e));
	for (int t = 0; t < opts.threads; t++)
		if ((e = pthread_create(&w[t].tid, NULL, worker_main, &w[t])) != 0)
			fatalx("pthread_create: %s", strerror(e));
	for (int t = 0; t < opts.threads; t++) {
		pthread_join(w[t].tid, NULL);
		worker_merge(&w[t], &sum, h, &setup, &elapsed);
	}
	report(&sum, h, setup, elapsed);
	pthread_barrier_destroy(&start_barrier);
	workers_destroy(w);
	texts_free();
	free(h);
	if (sum.wrong > 0)
		return EXIT_WRONG;
	return sum.errors > 0 ? EXIT_ERRORS : 0;
}
