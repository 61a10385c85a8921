/* SPDX-License-Identifier: ISC */
/*
 * upcase-benchmark.c: the load generator shipped with upcase, as
 * redis-benchmark is with redis.  It drives upcased, or any server that
 * speaks the same protocol (or, with --line, any newline-terminated
 * request/reply server), checks every reply it gets, and prints a summary
 * (or --json, --csv).  See upcase-benchmark(1).
 *
 *   tcp        C persistent connections, P requests outstanding on each
 *              (pipelined), every reply compared with the transformation
 *              of its request (src/transform.c, so the check is exact for
 *              any text); the clock starts once every connection is open
 *              and has had one reply.
 *   reconnect  C workers, each: connect, send a request, read the reply,
 *              close, again (the textbook client).
 *   udp        C sockets with P datagrams in flight each; one unanswered
 *              after --timeout is counted lost and replaced.
 *   bulk       C streams of --bytes in all through the server while reading
 *              the replies at the same time, every byte checked.
 *   idle       open C connections, one round trip each, hold them for
 *              --duration, then one more round trip each: the server's RSS
 *              per connection if the server is local.
 *
 * Generated requests start with a tag (who sent it and its sequence number,
 * in lower-case letters), so a reply meant for another connection or for
 * another request is caught as wrong, not only a garbled one.
 *
 * Threads (--threads): the C connections are split over the threads; each
 * runs its own epoll loop with its own counters and latency histogram,
 * merged at the end.  While they run, threads share only read-only data
 * and a few atomic counters (progress, the start and stop flags).
 *
 * Exit status: 0 all well; 1 a wrong reply, or more datagrams lost than
 * --max-loss allows; 2 usage; 3 errors (failed connections, resets,
 * timeouts, nothing measured, a system call that failed).
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
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

#include "transform.h"

#define PROG           "upcase-benchmark"
#define NS_PER_US      1000ULL
#define NS_PER_MS      1000000ULL
#define NS_PER_S       1000000000ULL
#define TAG_LEN        16                 /* sender id and sequence: 8 letters each */
#define TICK_NS        (10 * NS_PER_MS)   /* how often timeouts are checked */
#define SETUP_INFLIGHT 4                  /* connections opening at once */
#define BULK_PERIOD    4093               /* prime, so chunk edges drift over the text */
#define BULK_CHUNK     65536
#define RBUF_SIZE      262144
#define UDP_BATCH      32
#define EPOLL_BATCH    256
#define MAX_CONNS      200000
#define MAX_PIPELINE   512                /* 2 iovecs a request, IOV_MAX 1024 */
#define MAX_SIZE       (1 << 20)
#define MAX_UDP_SIZE   65507
#define MAX_NOTES      10                 /* diagnostics printed, over all threads */
#define CPU_WARN_PCT   90.0

#define EXIT_WRONG     1
#define EXIT_USAGE     2
#define EXIT_ERRORS    3

/* ------------------------------------------------------------ settings */

enum mode_id { M_TCP, M_RECONNECT, M_UDP, M_BULK, M_IDLE };
enum format { F_TEXT, F_JSON, F_CSV };

struct opts {
	enum mode_id mode;
	const char *mode_name;
	const char *host, *port;
	int      conns;          /* -c */
	int      pipeline;       /* -P */
	int      threads;        /* --threads */
	double   secs;           /* --duration; 0: none */
	uint64_t requests;       /* -n; 0: none */
	size_t   size;           /* -s */
	const char *text;        /* --text */
	const char *line;        /* --line (escapes undone in line_req) */
	bool     crlf, utf8;
	enum transform_charset charset;
	uint64_t bytes;          /* --bytes, bulk */
	int      timeout_ms;
	double   max_loss;       /* percent */
	long     pid;            /* --pid; 0: none, -1: look it up (idle) */
	enum format format;
	int      progress;       /* -1: if stderr is a tty and the run is long */
	bool     quiet;
};

static struct opts opts = {
	.host = "127.0.0.1", .port = "12000", .pipeline = 1, .threads = 1,
	.size = 32, .bytes = 64ULL << 20, .max_loss = 1.0, .progress = -1,
};
static struct sockaddr_storage target;
static socklen_t targetlen;

/*
 * The request and the reply owed for it.  Tagged: a tag, then lo; the
 * reply is the tag in upper case, then up.  Untagged (--text, --line): lo
 * as it is; the reply is up (--text) or one line (--line).
 */
struct body {
	bool     tagged, line;
	uint8_t *lo, *up;
	size_t   lolen, uplen;
};

static struct body body;
static size_t reqlen, replen;          /* a whole request, a whole reply (not --line) */

/* bulk: one period of text, repeated so that any read fits from any offset. */
static struct {
	uint8_t *lo, *up;
	size_t   lper, uper;             /* the periods: input, and its transformation */
} stream;

static unsigned nnotes;                /* atomic */
static int stop_flag;                  /* atomic: SIGINT, SIGTERM */
static int nready, go, nfinished, go_end;   /* atomic: the phases, see worker_main */

static void fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void usagex(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, ": %s\n", strerror(e));
	exit(EXIT_ERRORS);
}

static void
usagex(const char *fmt, ...)
{
	va_list ap;

	fputs(PROG ": ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\n(" PROG " --help for the options)\n", stderr);
	exit(EXIT_USAGE);
}

/* A diagnostic; only the first few are printed, so a failing run stays readable. */
static void
note(const char *fmt, ...)
{
	va_list ap;

	if (__atomic_fetch_add(&nnotes, 1, __ATOMIC_RELAXED) >= MAX_NOTES)
		return;
	fputs(PROG ": ", stderr);
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

static void
sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / NS_PER_S), .tv_nsec = (long)(ns % NS_PER_S) };

	while (nanosleep(&ts, &ts) == -1 && errno == EINTR)
		;
}

static void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (p == NULL)
		fatal("calloc");
	return p;
}

static bool
stopping(void)
{
	return __atomic_load_n(&stop_flag, __ATOMIC_RELAXED) != 0;
}

/* ------------------------------------------------------------ latency histogram */

/*
 * HDR-style log-linear buckets over nanoseconds: exact below 256, then 128
 * buckets per power of two (each under 0.8% wide; the middle is reported),
 * up to some 19 hours.  Fixed size, so a long run costs no memory; the
 * largest value is kept exactly beside.
 */
#define HIST_BITS 7
#define HIST_SUB  (1 << HIST_BITS)
#define HIST_N    (HIST_SUB * 40)

struct hist {
	uint64_t n[HIST_N];
	uint64_t count, max, sum;
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
	h->sum += v;
	if (v > h->max)
		h->max = v;
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

/* The q-quantile (0 < q <= 1) in microseconds, at most the maximum; 0 if empty. */
static double
hist_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)(q * (double)h->count + 0.999999), seen = 0;
	double v = hist_value(HIST_N - 1);

	if (h->count == 0)
		return 0;
	for (unsigned i = 0; i < HIST_N; i++) {
		seen += h->n[i];
		if (seen >= want && seen > 0) {
			v = hist_value(i);
			break;
		}
	}
	if (v > (double)h->max)
		v = (double)h->max;
	return v / 1000;
}

static void
hist_merge(struct hist *to, const struct hist *from)
{
	for (unsigned i = 0; i < HIST_N; i++)
		to->n[i] += from->n[i];
	to->count += from->count;
	to->sum += from->sum;
	if (from->max > to->max)
		to->max = from->max;
}

/* ------------------------------------------------------------ texts and tags */

/*
 * Characters the generated text is made of.  --utf8 mixes in Greek,
 * Cyrillic, accented Latin (a few whose upper case is longer: sharp s,
 * n preceded by apostrophe, the ffi ligature) and CJK, which has no case.
 */
static const char ascii_set[] = "abcdefghijklmnopqrstuvwxyz abcdefghijklmnopqrstuvwxyz 0123456789,.";
static const char *const scripts[] = {
	"αβγδεζηθικλμνξοπρστυφχψωάέήίόύώ",
	"абвгдежзийклмнопрстуфхцчшщъыьэюяё",
	"éàèùâêîôûçëïüÿñöäåøßŉﬃ",
	"漢字日本語中文大写ひらがなカタカナ",
};

static uint32_t
rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return (uint32_t)(*s >> 32);
}

/* The k-th character (modulo their number) of UTF-8 string s: its start and length. */
static const char *
utf8_pick(const char *s, uint32_t k, size_t *len)
{
	size_t n = 0, i;

	for (i = 0; s[i] != '\0'; i++)
		n += ((uint8_t)s[i] & 0xc0) != 0x80;
	k %= (uint32_t)n;
	for (i = 0; k > 0 || ((uint8_t)s[i] & 0xc0) == 0x80; i++)
		if (((uint8_t)s[i + 1] & 0xc0) != 0x80)
			k--;
	*len = 1;
	while (((uint8_t)s[i + *len] & 0xc0) == 0x80)
		(*len)++;
	return s + i;
}

/* Fill len bytes of text, whole characters only. */
static void
text_fill(uint8_t *lo, size_t len, uint64_t seed)
{
	size_t i = 0;

	while (i < len) {
		uint32_t r = rng_next(&seed);

		if (opts.utf8 && r % 8 >= 4) {
			size_t l;
			const char *c = utf8_pick(scripts[r % 8 - 4], r >> 8, &l);

			if (i + l <= len) {
				memcpy(lo + i, c, l);
				i += l;
				continue;
			}
		}
		lo[i++] = (uint8_t)ascii_set[(r >> 3) % (sizeof(ascii_set) - 1)];
	}
}

/* The server's reply to lo[0..len), as one piece; *outlen its length. */
static uint8_t *
transformed(const uint8_t *lo, size_t len, size_t *outlen)
{
	uint8_t *up = malloc(TRANSFORM_BOUND(len));

	if (up == NULL)
		fatal("malloc");
	*outlen = transform_buffer(opts.charset, lo, len, up);
	return up;
}

/* --line's text with \r \n \t \\ \xHH undone; a line end is added if it has none. */
static uint8_t *
line_req(const char *s, size_t *len)
{
	size_t n = strlen(s), o = 0;
	uint8_t *out = malloc(n + 3);

	if (out == NULL)
		fatal("malloc");
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '\\' || i + 1 == n) {
			out[o++] = (uint8_t)s[i];
			continue;
		}
		switch (s[++i]) {
		case 'r': out[o++] = '\r'; break;
		case 'n': out[o++] = '\n'; break;
		case 't': out[o++] = '\t'; break;
		case '\\': out[o++] = '\\'; break;
		case 'x':
			if (i + 2 < n && isxdigit((unsigned char)s[i + 1]) &&
			    isxdigit((unsigned char)s[i + 2])) {
				char hex[3] = { s[i + 1], s[i + 2], '\0' };

				out[o++] = (uint8_t)strtol(hex, NULL, 16);
				i += 2;
				break;
			}
			/* FALLTHROUGH */
		default:
			usagex("--line: unknown escape \\%c (\\r \\n \\t \\\\ \\xHH)", s[i]);
		}
	}
	/* Replies are counted by line: a request of two lines would be answered twice. */
	if (o > 1 && memchr(out, '\n', o - 1) != NULL)
		usagex("--line: one line a request (a line end only at its end)");
	if (o == 0 || out[o - 1] != '\n') {
		if (opts.crlf)
			out[o++] = '\r';
		out[o++] = '\n';
	}
	*len = o;
	return out;
}

static void
texts_make(void)
{
	const char *eol = opts.crlf ? "\r\n" : "\n";
	size_t el = strlen(eol);

	if (opts.line != NULL) {
		body.line = true;
		body.lo = line_req(opts.line, &body.lolen);
		reqlen = body.lolen;
	} else if (opts.text != NULL) {
		body.lolen = strlen(opts.text) + el;
		if ((body.lo = malloc(body.lolen)) == NULL)
			fatal("malloc");
		memcpy(body.lo, opts.text, body.lolen - el);
		memcpy(body.lo + body.lolen - el, eol, el);
		/* UDP replies are told apart by their tag; the text follows it. */
		body.tagged = opts.mode == M_UDP;
	} else {
		body.tagged = true;
		body.lolen = opts.size - TAG_LEN;
		if ((body.lo = malloc(body.lolen)) == NULL)
			fatal("malloc");
		text_fill(body.lo, body.lolen - el, 0x9e3779b97f4a7c15ULL);
		memcpy(body.lo + body.lolen - el, eol, el);
	}
	/*
	 * Every request ends with its line end, so no character spans two
	 * requests: each one's reply is its own transformation.
	 */
	if (!body.line) {
		body.up = transformed(body.lo, body.lolen, &body.uplen);
		reqlen = (body.tagged ? TAG_LEN : 0) + body.lolen;
		replen = (body.tagged ? TAG_LEN : 0) + body.uplen;
	}
	if (opts.mode == M_UDP && replen > MAX_UDP_SIZE)
		usagex("the reply (%zu bytes) would not fit in a datagram", replen);

	if (opts.mode == M_BULK) {
		uint8_t *per = malloc(BULK_PERIOD), *up;

		if (per == NULL)
			fatal("malloc");
		text_fill(per, BULK_PERIOD, 0x2545f4914f6cdd1dULL);
		up = transformed(per, BULK_PERIOD, &stream.uper);
		stream.lper = BULK_PERIOD;
		stream.lo = malloc(stream.lper + BULK_CHUNK);
		stream.up = malloc(stream.uper + RBUF_SIZE);
		if (stream.lo == NULL || stream.up == NULL)
			fatal("malloc");
		for (size_t i = 0; i < stream.lper + BULK_CHUNK; i++)
			stream.lo[i] = per[i % stream.lper];
		for (size_t i = 0; i < stream.uper + RBUF_SIZE; i++)
			stream.up[i] = up[i % stream.uper];
		free(per);
		free(up);
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

/* Tag: id and seq as 8 hex digits each, written with the letters a-p. */
static void
tag_put(uint8_t *lo, uint32_t id, uint32_t seq)
{
	for (int i = 0; i < 8; i++) {
		lo[i] = (uint8_t)('a' + ((id >> (28 - 4 * i)) & 15));
		lo[8 + i] = (uint8_t)('a' + ((seq >> (28 - 4 * i)) & 15));
	}
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

static char
shown(uint8_t c)
{
	return c >= 0x20 && c < 0x7f ? (char)c : '.';
}

/* ------------------------------------------------------------ workers */

enum phase { PH_SETUP, PH_RUN, PH_END };

enum cstate {
	CS_FREE,                 /* no socket */
	CS_CONNECTING,
	CS_ACTIVE,               /* requests (or a stream) under way */
	CS_IDLE,                 /* warmed up, waiting for the next phase */
	CS_DONE,                 /* bulk: stream complete */
};

struct conn {
	int      fd;
	enum cstate state;
	uint32_t events;         /* current epoll interest */
	bool     pending;        /* counted in its worker's pending */
	uint32_t id;
	/* Requests: seq head..next-1 are outstanding; unsent..next-1 not wholly sent. */
	uint32_t head, unsent, next;
	size_t   unsent_off;     /* bytes of request unsent already sent */
	size_t   got;            /* bytes of the head's reply received */
	uint8_t *tags;           /* pipeline tags, slot seq % P */
	uint64_t *t0;            /* send times, slot seq % P */
	uint64_t cycle_t0;       /* reconnect: the connection's start */
	uint64_t total, sent, rgot, progress_t;  /* bulk */
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
	struct slot *slot;       /* opts.pipeline of them; slot i carries seq = i mod P */
	int     *queue;          /* slots waiting to be sent */
	int      nqueue;
};

struct counters {
	uint64_t done;           /* requests, connections, bytes or datagrams */
	uint64_t errors;         /* failed connects, resets, early ends, timeouts */
	uint64_t wrong;          /* replies that differ from what was owed */
	uint64_t sent, lost, late;  /* udp: sent, given up on, answered after that */
};

struct worker {
	int      id;
	pthread_t tid;
	int      epfd;
	enum phase phase;
	struct conn *conns;      /* tcp modes: this worker's share */
	struct usock *socks;     /* udp */
	int      n;
	int      pending;        /* setup, bulk, idle check: what must finish */
	int      nopened;        /* connections opened so far (setup) */
	uint64_t budget, issued; /* -n: this worker's share; requests started */
	uint64_t inflight;       /* requests outstanding over all its connections */
	int      nlive;          /* tcp modes: connections with a socket */
	uint64_t last_tick;
	uint64_t progress;       /* atomic: cnt.done, for the progress line */
	uint8_t *rbuf;
	struct counters cnt;
	struct hist hist;
	uint64_t setup_ns, elapsed_ns;
	/*
	 * Events taken by the epoll_wait that passed a phase's deadline,
	 * handled at the start of the next phase: dropped, an edge-triggered
	 * connection (reconnect) would never hear of its connect or its reply
	 * again.
	 */
	struct epoll_event carried[EPOLL_BATCH];
	int      ncarried;
};

struct mode {
	const char *name, *unit;
	void   (*open)(struct worker *);            /* before the start; leaves work pending */
	void   (*begin)(struct worker *);           /* the measured part starts */
	void   (*event)(struct worker *, void *, uint32_t);
	void   (*tick)(struct worker *, uint64_t);  /* timeouts */
	bool   (*finished)(const struct worker *);  /* the measured part is over (-n, bulk) */
	void   (*end)(struct worker *);
};

static const struct mode *mode;

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
	if (c->fd != -1) {
		close(c->fd);	/* also leaves epoll */
		w->nlive--;
	}
	c->fd = -1;
	c->state = next;
	if (c->pending) {
		c->pending = false;
		w->pending--;
	}
	w->inflight -= c->next - c->head;
	c->head = c->unsent = c->next;
	c->unsent_off = c->got = 0;
}

/* Count and show a failure; err is an errno value, or 0. */
static void
conn_fail(struct worker *w, struct conn *c, const char *what, int err)
{
	if (!stopping()) {
		w->cnt.errors++;
		note("connection %u: %s%s%s", c->id, what, err ? ": " : "", err ? strerror(err) : "");
	}
	conn_close(w, c, CS_FREE);
}

/*
 * To a 127.0.0.0/8 address, connect from 127.0.N.1, N cycling through
 * 1..250, as clients on many hosts would.  From one address, a client
 * that closes first leaves a TIME_WAIT socket per connection, and at a
 * few thousand connections per second connect() spends most of its time
 * looking for a reusable port among them (__inet_check_established): the
 * client, not the server, is what is measured.  Other targets: the
 * kernel's choice of source.
 */
static int
conn_bind_source(int fd)
{
	static __thread uint32_t next;
	struct sockaddr_in src = { .sin_family = AF_INET };
	const struct sockaddr_in *t = (const struct sockaddr_in *)&target;
	int one = 1;

	if (target.ss_family != AF_INET || (ntohl(t->sin_addr.s_addr) >> 24) != 127)
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
	w->nlive++;
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
	c->cycle_t0 = now_ns();
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

/* ------------------------------------------------------------ requests and replies */

/* Whether the measured part may start another request (-n). */
static bool
may_issue(const struct worker *w)
{
	if (w->phase != PH_RUN)
		return w->phase == PH_SETUP;	/* none after the end: its replies are awaited */
	return opts.requests == 0 || w->issued < w->budget;
}

/* Queue one more request on c (sent by req_send). */
static void
req_queue(struct worker *w, struct conn *c, uint64_t now)
{
	uint32_t seq = c->next++;
	unsigned slot = seq % (unsigned)opts.pipeline;

	if (body.tagged)
		tag_put(c->tags + (size_t)slot * TAG_LEN, c->id, seq);
	c->t0[slot] = now;
	w->inflight++;
	if (w->phase == PH_RUN)
		w->issued++;
}

/* Send what is queued on c: each request its tag, then the shared body.  -1: failed. */
static int
req_send(struct worker *w, struct conn *c)
{
	while (c->unsent != c->next) {
		struct iovec iov[2 * MAX_PIPELINE];
		struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 0 };
		size_t off = c->unsent_off;
		ssize_t k;

		for (uint32_t s = c->unsent; s != c->next; s++) {
			uint8_t *tag = c->tags + (size_t)(s % (unsigned)opts.pipeline) * TAG_LEN;

			if (body.tagged && off < TAG_LEN) {
				iov[mh.msg_iovlen].iov_base = tag + off;
				iov[mh.msg_iovlen++].iov_len = TAG_LEN - off;
				off = TAG_LEN;
			}
			off -= body.tagged ? TAG_LEN : 0;
			iov[mh.msg_iovlen].iov_base = body.lo + off;
			iov[mh.msg_iovlen++].iov_len = body.lolen - off;
			off = 0;
		}
		k = sendmsg(c->fd, &mh, MSG_NOSIGNAL);
		if (k == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			conn_fail(w, c, "send", errno);
			return -1;
		}
		/* Advance over what went. */
		c->unsent_off += (size_t)k;
		while (c->unsent != c->next && c->unsent_off >= reqlen) {
			c->unsent_off -= reqlen;
			c->unsent++;
		}
	}
	/* reconnect: edge-triggered, registered once for both. */
	if (!(c->events & EPOLLET))
		conn_set_events(w, c, c->unsent != c->next ? EPOLLIN | EPOLLOUT : EPOLLIN);
	return 0;
}

/* The byte owed at offset off of the reply to c's head request. */
static uint8_t
reply_byte(const struct conn *c, size_t off)
{
	const uint8_t *tag = c->tags + (size_t)(c->head % (unsigned)opts.pipeline) * TAG_LEN;

	if (body.tagged) {
		if (off < TAG_LEN)
			return (uint8_t)(tag[off] - 'a' + 'A');
		off -= TAG_LEN;
	}
	return body.up[off];
}

static void
reply_wrong(struct worker *w, struct conn *c, const uint8_t *p, size_t off, const char *why)
{
	if (why != NULL) {
		note("connection %u request %u: wrong reply: %s", c->id, c->head, why);
	} else {
		uint8_t want = reply_byte(c, off);

		note("connection %u request %u: wrong reply at byte %zu: 0x%02x '%c', want 0x%02x '%c'",
		    c->id, c->head, off, *p, shown(*p), want, shown(want));
	}
	w->cnt.wrong++;
	conn_close(w, c, CS_FREE);
}

/* c's head request is answered. */
static void
reply_done(struct worker *w, struct conn *c, uint64_t now)
{
	if (w->phase == PH_RUN) {
		w->cnt.done++;
		hist_add(&w->hist, now - c->t0[c->head % (unsigned)opts.pipeline]);
	}
	c->head++;
	c->got = 0;
	w->inflight--;
}

/*
 * Check n received bytes against the replies owed, in order; each reply
 * completed is passed to reply_done.  Returns the replies completed, or -1
 * if the bytes were wrong (c is closed).
 */
static int
reply_take(struct worker *w, struct conn *c, const uint8_t *p, size_t n, uint64_t now)
{
	int completed = 0;

	while (n > 0) {
		if (c->head == c->next) {
			reply_wrong(w, c, p, 0, "bytes no request asked for");
			return -1;
		}
		if (body.line) {
			const uint8_t *nl = memchr(p, '\n', n);

			if (nl == NULL) {
				c->got += n;
				return completed;
			}
			n -= (size_t)(nl + 1 - p);
			p = nl + 1;
		} else {
			size_t want = replen - c->got, k = n < want ? n : want;
			size_t skip = 0;

			/* The common case, whole replies of generated text, costs a memcmp each. */
			if (body.tagged && c->got < TAG_LEN) {
				for (; skip < k && c->got + skip < TAG_LEN; skip++)
					if (p[skip] != reply_byte(c, c->got + skip)) {
						reply_wrong(w, c, p + skip, c->got + skip, NULL);
						return -1;
					}
			}
			if (skip < k) {
				size_t uoff = c->got + skip - (body.tagged ? TAG_LEN : 0);

				if (memcmp(p + skip, body.up + uoff, k - skip) != 0) {
					size_t i = skip;

					while (p[i] == body.up[uoff + i - skip])
						i++;
					reply_wrong(w, c, p + i, c->got + i, NULL);
					return -1;
				}
			}
			c->got += k;
			p += k;
			n -= k;
			if (c->got < replen)
				return completed;
		}
		reply_done(w, c, now);
		completed++;
	}
	return completed;
}

/* Read c's replies until the socket is empty.  Replies completed, or -1: failed. */
static int
reply_recv(struct worker *w, struct conn *c)
{
	int completed = 0;

	for (;;) {
		ssize_t n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);
		int k;

		if (n > 0) {
			if ((k = reply_take(w, c, w->rbuf, (size_t)n, now_ns())) == -1)
				return -1;
			completed += k;
			if ((size_t)n < RBUF_SIZE)
				return completed;
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return completed;
		if (n == 0)
			conn_fail(w, c, c->head != c->next ?
			    "closed by the server before the reply was complete" :
			    "closed by the server", 0);
		else
			conn_fail(w, c, "recv", errno);
		return -1;
	}
}

/* ------------------------------------------------------------ mode: tcp (and idle's set-up) */

/*
 * Open connections, at most SETUP_INFLIGHT at a time, until all are open;
 * each gets one reply before the clock starts.  Opened all at once, they
 * would overflow a small listen backlog (5 in Python's socketserver and in
 * socat): the kernel drops the SYNs that find the accept queue full and
 * the clients retry after 1, 3, 7, 15 s, which measures the backlog, not
 * the server.
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

/* Top c up to P outstanding (as -n allows) and send. */
static void
sess_fill(struct worker *w, struct conn *c)
{
	uint64_t now = now_ns();

	while (c->next - c->head < (uint32_t)opts.pipeline && may_issue(w))
		req_queue(w, c, now);
	req_send(w, c);
}

static void
sess_event(struct worker *w, void *p, uint32_t ev)
{
	struct conn *c = p;
	int k;

	if (c->state == CS_CONNECTING) {
		if (conn_connected(w, c)) {
			req_queue(w, c, now_ns());
			req_send(w, c);
		}
		return;
	}
	if (c->state != CS_ACTIVE && c->state != CS_IDLE)
		return;
	if ((ev & EPOLLOUT) && c->unsent != c->next && req_send(w, c) == -1)
		return;
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)))
		return;
	if ((k = reply_recv(w, c)) <= 0)
		return;
	if (w->phase == PH_RUN && opts.mode == M_TCP) {
		sess_fill(w, c);
	} else if (c->head == c->next && c->pending) {
		/* The set-up's reply (or idle's last check) came. */
		c->state = CS_IDLE;
		c->pending = false;
		w->pending--;
		if (w->phase == PH_SETUP)
			sess_open_more(w);
		else
			conn_close(w, c, CS_DONE);
	}
}

static void
sess_begin(struct worker *w)
{
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CS_IDLE) {
			c->state = CS_ACTIVE;
			sess_fill(w, c);
		} else if (c->pending) {
			conn_fail(w, c, "not ready within the set-up time limit", 0);
		}
	}
}

static void
sess_tick(struct worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)opts.timeout_ms * NS_PER_MS;

	if (w->phase == PH_SETUP)
		sess_open_more(w);	/* in place of those that failed */
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->fd == -1)
			continue;
		if (c->state == CS_CONNECTING && now - c->cycle_t0 > limit)
			conn_fail(w, c, "connect: no answer within the timeout", 0);
		else if (c->head != c->next &&
		    now - c->t0[c->head % (unsigned)opts.pipeline] > limit)
			conn_fail(w, c, "no reply within the timeout", 0);
	}
}

static bool
sess_finished(const struct worker *w)
{
	return opts.requests != 0 && w->issued >= w->budget && w->inflight == 0;
}

/* tcp: also over when every connection has failed (they are not reopened). */
static bool
tcp_finished(const struct worker *w)
{
	return sess_finished(w) || w->nlive == 0;
}

static void worker_run(struct worker *, uint64_t, bool (*)(const struct worker *));

static bool
nothing_owed(const struct worker *w)
{
	return w->inflight == 0;
}

/*
 * The replies still owed when --duration ran out are awaited (not counted)
 * before the connections close: a server that dropped one shortly before
 * the end, within --timeout, is caught as well (closed at once, its
 * connection's silence went unseen).
 */
static void
tcp_end(struct worker *w)
{
	if (!stopping())
		worker_run(w, now_ns() + (uint64_t)opts.timeout_ms * NS_PER_MS, nothing_owed);
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->fd != -1 && c->head != c->next)
			conn_fail(w, c, "no reply within the timeout", 0);
		conn_close(w, c, CS_FREE);
	}
}

/* ------------------------------------------------------------ mode: idle */

static void
idle_begin(struct worker *w)
{
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->pending)
			conn_fail(w, c, "not ready within the set-up time limit", 0);
	}
}

static bool
idle_never(const struct worker *w)
{
	(void)w;
	return false;
}

static bool
idle_checked(const struct worker *w)
{
	return w->pending == 0;
}

/* After the hold: one more round trip on every connection still open, then close. */
static void
idle_end(struct worker *w)
{
	uint64_t now = now_ns();

	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state != CS_IDLE)
			continue;
		c->pending = true;
		w->pending++;
		req_queue(w, c, now);
		req_send(w, c);
	}
	worker_run(w, now + (uint64_t)opts.timeout_ms * NS_PER_MS, idle_checked);
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		if (c->state == CS_DONE)
			w->cnt.done++;		/* held, and still served */
		else if (c->pending)
			conn_fail(w, c, "no reply after the hold within the timeout", 0);
	}
	tcp_end(w);
}

/* ------------------------------------------------------------ mode: reconnect */

/* One short connection; edge-triggered, so it is registered once. */
static void
cyc_start(struct worker *w, struct conn *c)
{
	uint64_t t0 = now_ns();

	if (!may_issue(w) || stopping())
		return;
	if (conn_open(w, c, EPOLLIN | EPOLLOUT | EPOLLET)) {
		req_queue(w, c, t0);	/* the connection's whole life is its latency */
		c->cycle_t0 = t0;
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
	} else if ((ev & EPOLLOUT) && c->unsent != c->next && req_send(w, c) == -1) {
		return;
	}
	if (!(ev & (EPOLLIN | EPOLLERR | EPOLLHUP)) || reply_recv(w, c) <= 0)
		return;
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
		else if (now - c->cycle_t0 > limit)
			conn_fail(w, c, "no reply within the timeout", 0);
	}
}

/* ------------------------------------------------------------ mode: bulk */

static void
bulk_begin(struct worker *w)
{
	/* Whole periods, so that the reply owed is whole periods of the transformation. */
	uint64_t per = (opts.bytes / (uint64_t)opts.conns + stream.lper - 1) / stream.lper;

	if (per == 0)
		per = 1;
	for (int i = 0; i < w->n; i++) {
		struct conn *c = &w->conns[i];

		c->total = per * stream.lper;
		c->sent = c->rgot = 0;
		if (conn_open(w, c, EPOLLIN | EPOLLOUT)) {
			c->state = CS_ACTIVE;	/* the first EPOLLOUT means connected */
			c->pending = true;
			c->progress_t = now_ns();
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
		ssize_t k = send(c->fd, stream.lo + c->sent % stream.lper, len, MSG_NOSIGNAL);

		if (k == -1) {
			if (errno == EAGAIN || errno == EINTR)
				return 0;
			conn_fail(w, c, "send", errno);
			return -1;
		}
		c->sent += (uint64_t)k;
		c->progress_t = now_ns();
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
	uint64_t owed = c->total / stream.lper * stream.uper;

	for (int i = 0; i < 4; i++) {
		ssize_t n = recv(c->fd, w->rbuf, RBUF_SIZE, 0);

		if (n > 0) {
			const uint8_t *want = stream.up + c->rgot % stream.uper;

			if (c->rgot + (uint64_t)n > owed || memcmp(w->rbuf, want, (size_t)n) != 0) {
				size_t at = 0;

				while (at < (size_t)n && c->rgot + at < owed && w->rbuf[at] == want[at])
					at++;
				w->cnt.wrong++;
				if (c->rgot + at >= owed)
					note("stream %u: wrong reply: more than the %" PRIu64 " bytes owed",
					    c->id, owed);
				else
					note("stream %u: wrong reply at byte %" PRIu64 ": 0x%02x '%c', want 0x%02x '%c'",
					    c->id, c->rgot + at, w->rbuf[at], shown(w->rbuf[at]), want[at],
					    shown(want[at]));
				conn_close(w, c, CS_FREE);
				return;
			}
			c->rgot += (uint64_t)n;
			w->cnt.done += (uint64_t)n;
			c->progress_t = now_ns();
			continue;
		}
		if (n == -1 && (errno == EAGAIN || errno == EINTR))
			return;
		if (n == 0 && c->rgot == owed)
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

		if (c->state == CS_ACTIVE && now - c->progress_t > limit)
			conn_fail(w, c, "no progress within the timeout", 0);
	}
}

static bool
bulk_finished(const struct worker *w)
{
	return w->pending == 0;
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

/* Put slot i's next datagram in the send queue, if -n allows. */
static void
udp_queue(struct worker *w, struct usock *u, int i, bool next)
{
	struct slot *s = &u->slot[i];

	if (next)
		s->seq += (uint32_t)opts.pipeline;
	s->busy = false;
	if (!may_issue(w) || stopping())
		return;
	tag_put(s->tag, u->id, s->seq);
	s->busy = true;
	w->issued++;
	w->inflight++;
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
			w->cnt.sent += (uint64_t)k;
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
			iov[i][1] = (struct iovec){ body.lo, body.lolen };
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

		for (int k = 0; k < opts.pipeline; k++) {
			u->slot[k].seq = (uint32_t)k;
			udp_queue(w, u, k, false);
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

	if (len != replen || !tag_get(p, &id, &seq) || id != u->id ||
	    memcmp(p + TAG_LEN, body.up, body.uplen) != 0) {
		char show[41];
		size_t i;

		for (i = 0; i < len && i < sizeof(show) - 1; i++)
			show[i] = shown(p[i]);
		show[i] = '\0';
		w->cnt.wrong++;
		note("socket %u: wrong reply of %zu bytes (want %zu): \"%s\"", u->id, len, replen, show);
		return;
	}
	s = &u->slot[seq % (uint32_t)opts.pipeline];
	if (!s->busy || s->seq != seq) {
		w->cnt.late++;
		return;
	}
	w->inflight--;
	if (w->phase != PH_RUN) {
		s->busy = false;
		return;
	}
	w->cnt.done++;
	hist_add(&w->hist, now - s->t0);
	udp_queue(w, u, (int)(seq % (uint32_t)opts.pipeline), true);
}

static void
udp_event(struct worker *w, void *p, uint32_t ev)
{
	struct usock *u = p;
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	size_t room = replen + 1;	/* one more: a longer reply shows as wrong */
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

		for (int k = 0; k < opts.pipeline; k++) {
			if (u->slot[k].busy && now - u->slot[k].t0 > limit) {
				w->cnt.lost++;
				w->inflight--;
				udp_queue(w, u, k, true);
			}
		}
		udp_flush(w, u);
	}
}

/* As tcp_end: the datagrams in flight at the end are awaited; unanswered, lost. */
static void
udp_end(struct worker *w)
{
	if (!stopping())
		worker_run(w, now_ns() + (uint64_t)opts.timeout_ms * NS_PER_MS, nothing_owed);
	for (int i = 0; i < w->n; i++) {
		struct usock *u = &w->socks[i];

		for (int k = 0; k < opts.pipeline; k++)
			if (u->slot[k].busy) {
				u->slot[k].busy = false;
				w->cnt.lost++;
				w->inflight--;
			}
		close(u->fd);
	}
}

static const struct mode modes[] = {
	[M_TCP] = { "tcp", "requests/s", sess_open, sess_begin, sess_event, sess_tick,
	    tcp_finished, tcp_end },
	[M_RECONNECT] = { "reconnect", "connections/s", NULL, cyc_begin, cyc_event, cyc_tick,
	    sess_finished, tcp_end },
	[M_UDP] = { "udp", "datagrams/s", udp_open, udp_begin, udp_event, udp_tick,
	    sess_finished, udp_end },
	[M_BULK] = { "bulk", "MB/s", NULL, bulk_begin, bulk_event, bulk_tick, bulk_finished,
	    bulk_end },
	[M_IDLE] = { "idle", "connections", sess_open, idle_begin, sess_event, sess_tick,
	    idle_never, idle_end },
};

/* ------------------------------------------------------------ the loop */

static void
worker_run(struct worker *w, uint64_t deadline, bool (*finished)(const struct worker *))
{
	struct epoll_event ev[EPOLL_BATCH];

	/* The last phase's late events: this phase counts them, or not. */
	int late = w->ncarried;

	w->ncarried = 0;
	for (int i = 0; i < late; i++)
		mode->event(w, w->carried[i].data.ptr, w->carried[i].events);
	for (;;) {
		uint64_t now = now_ns();
		int n, ms;

		if (now >= deadline || (finished != NULL && finished(w)) || stopping())
			return;
		if (now - w->last_tick >= TICK_NS) {
			mode->tick(w, now);
			w->last_tick = now;
		}
		ms = (int)((deadline - now) / NS_PER_MS);
		n = epoll_wait(w->epfd, ev, EPOLL_BATCH, ms < 10 ? ms : 10);
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		if (now_ns() >= deadline) {
			/* What came after the deadline does not count here: the next phase's. */
			memcpy(w->carried, ev, (size_t)(n > 0 ? n : 0) * sizeof(ev[0]));
			w->ncarried = n > 0 ? n : 0;
			return;
		}
		for (int i = 0; i < n; i++)
			mode->event(w, ev[i].data.ptr, ev[i].events);
		__atomic_store_n(&w->progress, w->cnt.done, __ATOMIC_RELAXED);
	}
}

static bool
setup_done(const struct worker *w)
{
	return w->pending == 0;
}

static void
wait_flag(int *flag)
{
	while (!__atomic_load_n(flag, __ATOMIC_ACQUIRE))
		sleep_ns(50 * NS_PER_US);
}

/*
 * Set-up; tell main (nready) and wait for go; the measured part; tell
 * main (nfinished) and wait for go_end, so that main samples the server
 * between the two while every connection is still open; the end.
 */
static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	uint64_t t0 = now_ns(), start, limit;
	/* Set-up: 20 s, or 5 ms a connection for many. */
	uint64_t setup_limit = 20 * NS_PER_S + (uint64_t)w->n * 5 * NS_PER_MS;

	w->phase = PH_SETUP;
	w->last_tick = t0;
	if (mode->open != NULL) {
		mode->open(w);
		worker_run(w, t0 + setup_limit, setup_done);
	}
	w->setup_ns = now_ns() - t0;
	__atomic_fetch_add(&nready, 1, __ATOMIC_RELEASE);
	wait_flag(&go);
	w->phase = PH_RUN;
	start = now_ns();
	mode->begin(w);
	limit = opts.secs > 0 ? (uint64_t)(opts.secs * (double)NS_PER_S) : UINT64_MAX / 2;
	worker_run(w, start + limit, mode->finished);
	w->elapsed_ns = now_ns() - start;
	__atomic_store_n(&w->progress, w->cnt.done, __ATOMIC_RELAXED);
	__atomic_fetch_add(&nfinished, 1, __ATOMIC_RELEASE);
	wait_flag(&go_end);
	w->phase = PH_END;
	mode->end(w);
	return NULL;
}

/* ------------------------------------------------------------ the server, if local */

struct server_sample {
	bool     ok;
	uint64_t cpu_ticks;      /* utime + stime */
	uint64_t rss_kib;
};

static struct server_sample
server_sample(long pid)
{
	struct server_sample s = { 0 };
	char path[64], buf[4096], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	if (pid <= 0)
		return s;
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return s;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* After the command's closing parenthesis: state is field 3, utime 14, stime 15. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return s;
	s.cpu_ticks = ut + st;
	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) != NULL) {
		while (fgets(buf, sizeof(buf), f) != NULL)
			if (sscanf(buf, "VmRSS: %" SCNu64, &s.rss_kib) == 1)
				break;
		fclose(f);
	}
	s.ok = true;
	return s;
}

/* The inodes of the listening TCP sockets on port, from /proc/net/tcp and tcp6. */
static int
listen_inodes(int port, unsigned long *ino, int max)
{
	static const char *const files[] = { "/proc/net/tcp", "/proc/net/tcp6" };
	char line[512];
	int n = 0;

	for (size_t i = 0; i < 2; i++) {
		FILE *f = fopen(files[i], "r");

		if (f == NULL)
			continue;
		while (fgets(line, sizeof(line), f) != NULL && n < max) {
			char local[128];
			unsigned st, lport;
			unsigned long inode;
			char *colon;

			if (sscanf(line, " %*d: %127s %*s %x %*s %*s %*s %*s %*s %lu", local, &st,
			    &inode) != 3 || st != 0x0a)
				continue;
			if ((colon = strrchr(local, ':')) == NULL ||
			    sscanf(colon + 1, "%x", &lport) != 1 || (int)lport != port)
				continue;
			ino[n++] = inode;
		}
		fclose(f);
	}
	return n;
}

/*
 * The process holding the socket listening on port: /proc/net/tcp{,6} give
 * the socket's inode, /proc/PID/fd/ the process with a descriptor for it.
 * Needs the right to read the server's fd directory (same user, or root);
 * 0 if not found.
 */
static long
find_server_pid(int port)
{
	unsigned long ino[16];
	int nino = listen_inodes(port, ino, 16);
	DIR *proc;
	struct dirent *d;
	long found = 0;

	if (nino == 0 || (proc = opendir("/proc")) == NULL)
		return 0;
	while (found == 0 && (d = readdir(proc)) != NULL) {
		char path[300], link[64];
		DIR *fds;
		struct dirent *e;
		long pid = strtol(d->d_name, NULL, 10);

		if (pid <= 0 || pid == (long)getpid())
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/fd", pid);
		if ((fds = opendir(path)) == NULL)
			continue;
		while (found == 0 && (e = readdir(fds)) != NULL) {
			char fdpath[600];
			ssize_t k;
			unsigned long inode;

			snprintf(fdpath, sizeof(fdpath), "%s/%s", path, e->d_name);
			if ((k = readlink(fdpath, link, sizeof(link) - 1)) <= 0)
				continue;
			link[k] = '\0';
			if (sscanf(link, "socket:[%lu]", &inode) != 1)
				continue;
			for (int i = 0; i < nino; i++)
				if (ino[i] == inode)
					found = pid;
		}
		closedir(fds);
	}
	closedir(proc);
	return found;
}

/*
 * Is the target an address of this host?  Binding to it succeeds only if
 * it is, so that idle mode never takes a local process listening on the
 * same port for a remote server.
 */
static bool
target_is_local(void)
{
	struct sockaddr_storage a = target;
	int fd = socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	bool local;

	if (fd == -1)
		return false;
	if (a.ss_family == AF_INET)
		((struct sockaddr_in *)&a)->sin_port = 0;
	else
		((struct sockaddr_in6 *)&a)->sin6_port = 0;
	local = bind(fd, (struct sockaddr *)&a, targetlen) == 0;
	close(fd);
	return local;
}

/* ------------------------------------------------------------ command line */

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: " PROG " [options] [tcp|reconnect|udp|bulk|idle]\n"
	    "Load an upcased server (or another line server, --line) and check every reply.\n"
	    "\n"
	    "modes (default tcp):\n"
	    "  tcp        -c connections, -P requests outstanding on each (pipelined)\n"
	    "  reconnect  -c clients, each: connect, send a request, read the reply, close\n"
	    "  udp        -c sockets, -P datagrams in flight on each; unanswered after\n"
	    "             --timeout: lost\n"
	    "  bulk       -c streams of --bytes in all, every byte checked\n"
	    "  idle       open -c connections, hold them --duration, check them again;\n"
	    "             the server's RSS per connection if the server is local\n"
	    "\n"
	    "target:\n"
	    "  -h HOST            server host name or address (default 127.0.0.1)\n"
	    "  -p PORT            server port (default 12000)\n"
	    "load:\n"
	    "  -c N               connections, clients, sockets or streams (default 50;\n"
	    "                     udp 4, bulk 1, idle 1000)\n"
	    "  -P N               requests outstanding per connection or socket (1-%d;\n"
	    "                     default 1, udp 8)\n"
	    "  -n N               stop after N requests (connections in reconnect, datagrams\n"
	    "                     in udp)\n"
	    "  --duration SECS    stop after SECS (default 5 without -n; idle: the hold,\n"
	    "                     default 2; bulk: a time limit, none by default)\n"
	    "  --threads N        client threads, each with its own epoll loop (default 1)\n"
	    "  --timeout MS       a reply (bulk: progress) later than this is an error, a\n"
	    "                     datagram lost (default 5000; udp 200)\n"
	    "requests:\n"
	    "  -s SIZE            bytes a request, tag and line end included (default 32)\n"
	    "  --text TEXT        send TEXT and a line end as every request (udp: after the tag)\n"
	    "  --crlf             end lines with CR LF, not LF\n"
	    "  --utf8             generated text mixes Greek, Cyrillic, accented Latin, CJK\n"
	    "  --charset CS       the server's charset: utf-8 (default) or ascii\n"
	    "  --bytes N[KMG]     bulk: bytes to send in all (default 64M)\n"
	    "  --line REQ         another line server: send REQ (\\r \\n \\t \\\\ \\xHH; a line\n"
	    "                     end is added if it has none) and count newline-terminated\n"
	    "                     replies, unchecked (tcp, reconnect, idle)\n"
	    "checks and the server:\n"
	    "  --max-loss PCT     udp: exit 1 if more than PCT%% of datagrams are lost\n"
	    "                     (default 1)\n"
	    "  --pid PID          the server's process: report its CPU time per reply and\n"
	    "                     its RSS (idle finds it by the port when it can)\n"
	    "output:\n"
	    "  --json, --csv      one JSON object, or a CSV header and row, on stdout\n"
	    "  --progress         a progress line on stderr every second (default: when\n"
	    "                     stderr is a terminal and the run is over 2 s)\n"
	    "  --no-progress      never\n"
	    "  -q, --quiet        no warnings\n"
	    "  --help, --version\n"
	    "\n"
	    "Exit status: 0 all well; 1 a wrong reply, or datagrams lost beyond --max-loss;\n"
	    "2 usage; 3 errors (failed connections, resets, timeouts, nothing measured).\n",
	    MAX_PIPELINE);
}

static long long
opt_num(const char *s, long long lo, long long hi, const char *what)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi)
		usagex("%s: %s is not a number from %lld to %lld", what, s, lo, hi);
	return v;
}

static double
opt_real(const char *s, double lo, double hi, const char *what)
{
	char *end;
	double v = strtod(s, &end);

	if (end == s || *end != '\0' || !(v >= lo && v <= hi))
		usagex("%s: %s is not a number from %g to %g", what, s, lo, hi);
	return v;
}

static uint64_t
opt_bytes(const char *s)
{
	char *end;
	unsigned long long v;
	int shift = 0;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (*end == 'K' || *end == 'k')
		shift = 10;
	else if (*end == 'M' || *end == 'm')
		shift = 20;
	else if (*end == 'G' || *end == 'g')
		shift = 30;
	if (shift != 0)
		end++;
	if (errno != 0 || end == s || *end != '\0' || v == 0 || v > (1ULL << 40) >> shift)
		usagex("--bytes: %s is not a size from 1 to 1T (suffix K, M or G)", s);
	return (uint64_t)v << shift;
}

static void
opt_target(void)
{
	struct addrinfo hints = { .ai_family = AF_UNSPEC }, *res;
	int e;

	hints.ai_socktype = opts.mode == M_UDP ? SOCK_DGRAM : SOCK_STREAM;
	opt_num(opts.port, 1, 65535, "-p");
	if ((e = getaddrinfo(opts.host, opts.port, &hints, &res)) != 0)
		usagex("%s: %s", opts.host, gai_strerror(e));
	memcpy(&target, res->ai_addr, res->ai_addrlen);
	targetlen = res->ai_addrlen;
	freeaddrinfo(res);
}

enum {
	O_DURATION = 256, O_THREADS, O_TIMEOUT, O_TEXT, O_CRLF, O_UTF8, O_CHARSET, O_BYTES,
	O_LINE, O_MAXLOSS, O_PID, O_JSON, O_CSV, O_PROGRESS, O_NOPROGRESS, O_HELP, O_VERSION,
};

static const struct option longopts[] = {
	{ "duration", required_argument, NULL, O_DURATION },
	{ "threads", required_argument, NULL, O_THREADS },
	{ "timeout", required_argument, NULL, O_TIMEOUT },
	{ "text", required_argument, NULL, O_TEXT },
	{ "crlf", no_argument, NULL, O_CRLF },
	{ "utf8", no_argument, NULL, O_UTF8 },
	{ "charset", required_argument, NULL, O_CHARSET },
	{ "bytes", required_argument, NULL, O_BYTES },
	{ "line", required_argument, NULL, O_LINE },
	{ "max-loss", required_argument, NULL, O_MAXLOSS },
	{ "pid", required_argument, NULL, O_PID },
	{ "json", no_argument, NULL, O_JSON },
	{ "csv", no_argument, NULL, O_CSV },
	{ "progress", no_argument, NULL, O_PROGRESS },
	{ "no-progress", no_argument, NULL, O_NOPROGRESS },
	{ "quiet", no_argument, NULL, 'q' },
	{ "help", no_argument, NULL, O_HELP },
	{ "version", no_argument, NULL, O_VERSION },
	{ NULL, 0, NULL, 0 },
};

static void
opt_parse(int argc, char **argv)
{
	bool secs_given = false, conns_given = false, pipe_given = false, timeout_given = false;
	bool size_given = false;
	int ch, cs, m;

	while ((ch = getopt_long(argc, argv, "h:p:c:P:n:s:q", longopts, NULL)) != -1) {
		switch (ch) {
		case 'h': opts.host = optarg; break;
		case 'p': opts.port = optarg; break;
		case 'c':
			opts.conns = (int)opt_num(optarg, 1, MAX_CONNS, "-c");
			conns_given = true;
			break;
		case 'P':
			opts.pipeline = (int)opt_num(optarg, 1, MAX_PIPELINE, "-P");
			pipe_given = true;
			break;
		case 'n': opts.requests = (uint64_t)opt_num(optarg, 1, LLONG_MAX, "-n"); break;
		case 's':
			opts.size = (size_t)opt_num(optarg, 1, MAX_SIZE, "-s");
			size_given = true;
			break;
		case 'q': opts.quiet = true; break;
		case O_DURATION:
			opts.secs = opt_real(optarg, 0.01, 86400, "--duration");
			secs_given = true;
			break;
		case O_THREADS: opts.threads = (int)opt_num(optarg, 1, 256, "--threads"); break;
		case O_TIMEOUT:
			opts.timeout_ms = (int)opt_num(optarg, 1, 3600000, "--timeout");
			timeout_given = true;
			break;
		case O_TEXT: opts.text = optarg; break;
		case O_CRLF: opts.crlf = true; break;
		case O_UTF8: opts.utf8 = true; break;
		case O_CHARSET:
			if ((cs = transform_charset_from_name(optarg)) < 0)
				usagex("--charset: %s is not utf-8 or ascii", optarg);
			opts.charset = (enum transform_charset)cs;
			break;
		case O_BYTES: opts.bytes = opt_bytes(optarg); break;
		case O_LINE: opts.line = optarg; break;
		case O_MAXLOSS: opts.max_loss = opt_real(optarg, 0, 100, "--max-loss"); break;
		case O_PID: opts.pid = (long)opt_num(optarg, 1, INT_MAX, "--pid"); break;
		case O_JSON: opts.format = F_JSON; break;
		case O_CSV: opts.format = F_CSV; break;
		case O_PROGRESS: opts.progress = 1; break;
		case O_NOPROGRESS: opts.progress = 0; break;
		case O_HELP:
			usage(stdout);
			exit(0);
		case O_VERSION:
			printf(PROG " (%s) %s\n", PACKAGE_NAME, PACKAGE_VERSION);
			exit(0);
		default:
			fputs("(" PROG " --help for the options)\n", stderr);
			exit(EXIT_USAGE);
		}
	}
	if (argc - optind > 1)
		usagex("one mode at most: tcp, reconnect, udp, bulk or idle");
	opts.mode_name = argc - optind == 1 ? argv[optind] : "tcp";
	for (m = 0; m <= (int)M_IDLE; m++)
		if (strcmp(opts.mode_name, modes[m].name) == 0)
			break;
	opts.mode = (enum mode_id)m;
	if (m > (int)M_IDLE)
		usagex("%s: not a mode (tcp, reconnect, udp, bulk or idle)", opts.mode_name);
	mode = &modes[opts.mode];

	/* Defaults that depend on the mode, then the checks that do. */
	if (!conns_given)
		opts.conns = opts.mode == M_UDP ? 4 : opts.mode == M_BULK ? 1 :
		    opts.mode == M_IDLE ? 1000 : 50;
	if (!pipe_given && opts.mode == M_UDP)
		opts.pipeline = 8;
	if (!timeout_given)
		opts.timeout_ms = opts.mode == M_UDP ? 200 : 5000;
	if (!secs_given && opts.requests == 0 && opts.mode != M_BULK)
		opts.secs = opts.mode == M_IDLE ? 2 : 5;
	if (opts.requests != 0 && (opts.mode == M_BULK || opts.mode == M_IDLE))
		usagex("-n: not in %s mode", opts.mode_name);
	if (pipe_given && opts.mode != M_TCP && opts.mode != M_UDP)
		usagex("-P: tcp and udp modes only");
	if (opts.line != NULL && (opts.mode == M_UDP || opts.mode == M_BULK))
		usagex("--line: tcp, reconnect and idle modes only");
	if (opts.line != NULL && (opts.text != NULL || opts.utf8 || size_given))
		usagex("--line: not with --text, --utf8 or -s");
	if (opts.text != NULL && (opts.utf8 || size_given))
		usagex("--text: not with --utf8 or -s");
	if (opts.mode != M_BULK && opts.text == NULL && opts.line == NULL &&
	    (opts.size < TAG_LEN + 1 + (size_t)opts.crlf ||
	    opts.size > (opts.mode == M_UDP ? MAX_UDP_SIZE : MAX_SIZE)))
		usagex("-s: from %d to %d bytes in this mode", TAG_LEN + 1 + opts.crlf,
		    opts.mode == M_UDP ? MAX_UDP_SIZE : MAX_SIZE);
	if (opts.text != NULL && strlen(opts.text) + TAG_LEN + 2 > MAX_SIZE)
		usagex("--text: longer than %d bytes", MAX_SIZE - TAG_LEN - 2);
	if (opts.threads > opts.conns)
		opts.threads = opts.conns;
	opt_target();
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
		usagex("%d connections need %d descriptors; the limit is %llu", opts.conns, want,
		    (unsigned long long)rl.rlim_cur);
}

/* Give each worker a contiguous share of the connections or sockets, and of -n. */
static struct worker *
workers_create(void)
{
	struct worker *w = xcalloc((size_t)opts.threads, sizeof(*w));
	struct conn *conns = xcalloc((size_t)opts.conns, sizeof(*conns));
	struct usock *socks = xcalloc((size_t)opts.conns, sizeof(*socks));
	size_t rlen = RBUF_SIZE > UDP_BATCH * (replen + 1) ? RBUF_SIZE : UDP_BATCH * (replen + 1);
	size_t P = (size_t)opts.pipeline;
	int first = 0;

	for (int i = 0; i < opts.conns; i++) {
		conns[i].fd = socks[i].fd = -1;
		conns[i].id = socks[i].id = (uint32_t)i;
		if (opts.mode == M_UDP) {
			socks[i].slot = xcalloc(P, sizeof(struct slot));
			socks[i].queue = xcalloc(P, sizeof(int));
		} else {
			conns[i].tags = xcalloc(P, TAG_LEN);
			conns[i].t0 = xcalloc(P, sizeof(uint64_t));
		}
	}
	for (int t = 0; t < opts.threads; t++) {
		w[t].id = t;
		w[t].n = opts.conns / opts.threads + (t < opts.conns % opts.threads);
		w[t].budget = opts.requests / (uint64_t)opts.threads +
		    ((uint64_t)t < opts.requests % (uint64_t)opts.threads);
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
		free(w[0].conns[i].tags);
		free(w[0].conns[i].t0);
	}
	free(w[0].conns);
	free(w[0].socks);
	for (int t = 0; t < opts.threads; t++) {
		close(w[t].epfd);
		free(w[t].rbuf);
	}
	free(w);
}

static uint64_t
cpu_ns(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) == -1)
		return 0;
	return (uint64_t)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * NS_PER_S +
	    (uint64_t)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * NS_PER_US;
}

static void
on_signal(int sig)
{
	(void)sig;
	__atomic_store_n(&stop_flag, 1, __ATOMIC_RELAXED);
}

/* The results, as named fields for --json and --csv. */
struct field {
	const char *key;
	char     val[96];
	bool     str;
};

struct result {
	struct field f[48];
	int      n;
};

static void add(struct result *r, const char *key, bool str, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void
add(struct result *r, const char *key, bool str, const char *fmt, ...)
{
	va_list ap;

	if (r->n == (int)(sizeof(r->f) / sizeof(r->f[0])))
		return;
	r->f[r->n].key = key;
	r->f[r->n].str = str;
	va_start(ap, fmt);
	vsnprintf(r->f[r->n].val, sizeof(r->f[r->n].val), fmt, ap);
	va_end(ap);
	r->n++;
}

static void
json_str(const char *s)
{
	putchar('"');
	for (; *s != '\0'; s++) {
		if (*s == '"' || *s == '\\')
			printf("\\%c", *s);
		else if ((unsigned char)*s < 0x20)
			printf("\\u%04x", (unsigned char)*s);
		else
			putchar(*s);
	}
	putchar('"');
}

static void
print_fields(const struct result *r)
{
	if (opts.format == F_JSON) {
		putchar('{');
		for (int i = 0; i < r->n; i++) {
			if (i > 0)
				fputs(", ", stdout);
			json_str(r->f[i].key);
			fputs(": ", stdout);
			if (r->f[i].str)
				json_str(r->f[i].val);
			else
				fputs(r->f[i].val, stdout);
		}
		fputs("}\n", stdout);
		return;
	}
	for (int i = 0; i < r->n; i++)
		printf("%s%s", i ? "," : "", r->f[i].key);
	putchar('\n');
	for (int i = 0; i < r->n; i++) {
		printf("%s", i ? "," : "");
		if (r->f[i].str && strpbrk(r->f[i].val, ",\"\n") != NULL) {
			putchar('"');
			for (const char *s = r->f[i].val; *s != '\0'; s++) {
				if (*s == '"')
					putchar('"');
				putchar(*s);
			}
			putchar('"');
		} else {
			fputs(r->f[i].val, stdout);
		}
	}
	putchar('\n');
}

struct totals {
	struct counters c;
	struct hist *h;
	uint64_t setup_ns, elapsed_ns, wall_ns, cpu_ns;
	long     pid;
	struct server_sample s0, s1;
	uint64_t rss_before_kib;
};

static void
report(const struct totals *t, double *cpu_pct)
{
	struct result r = { .n = 0 };
	double secs = (double)t->elapsed_ns / (double)NS_PER_S;
	double rate = secs > 0 ? (double)t->c.done / secs : 0;
	double loss = t->c.sent > 0 ? 100.0 * (double)t->c.lost / (double)t->c.sent : 0;
	double wall = (double)t->wall_ns / (double)NS_PER_S;
	bool srv = t->s0.ok && t->s1.ok;
	double srv_secs = srv ? (double)(t->s1.cpu_ticks - t->s0.cpu_ticks) /
	    (double)sysconf(_SC_CLK_TCK) : 0;
	const struct hist *h = t->h;
	char what[160];

	*cpu_pct = wall > 0 ? 100.0 * (double)t->cpu_ns / (double)NS_PER_S / (wall * opts.threads) : 0;
	if (opts.mode == M_BULK)
		rate /= 1e6;
	if (opts.mode == M_IDLE)
		rate = (double)t->c.done;
	add(&r, "mode", true, "%s", opts.mode_name);
	add(&r, "host", true, "%s", opts.host);
	add(&r, "port", false, "%s", opts.port);
	add(&r, "connections", false, "%d", opts.conns);
	add(&r, "pipeline", false, "%d", opts.pipeline);
	add(&r, "threads", false, "%d", opts.threads);
	add(&r, "size", false, "%zu", opts.mode == M_BULK ? (size_t)0 : reqlen);
	add(&r, "utf8", false, "%d", opts.utf8);
	add(&r, "line", false, "%d", body.line);
	add(&r, "seconds", false, "%.3f", secs);
	/* reconnect: a request a connection. */
	add(&r, opts.mode == M_BULK ? "bytes" : opts.mode == M_IDLE ? "held" : "requests", false,
	    "%" PRIu64, t->c.done);
	add(&r, "rate", false, "%.1f", rate);
	add(&r, "unit", true, "%s", mode->unit);
	if (h->count > 0) {
		add(&r, "p50_us", false, "%.1f", hist_quantile(h, 0.50));
		add(&r, "p99_us", false, "%.1f", hist_quantile(h, 0.99));
		add(&r, "p999_us", false, "%.1f", hist_quantile(h, 0.999));
		add(&r, "max_us", false, "%.1f", (double)h->max / 1000);
		add(&r, "mean_us", false, "%.1f", (double)h->sum / (double)h->count / 1000);
	}
	if (opts.mode == M_UDP) {
		add(&r, "sent", false, "%" PRIu64, t->c.sent);
		add(&r, "lost", false, "%" PRIu64, t->c.lost);
		add(&r, "late", false, "%" PRIu64, t->c.late);
		add(&r, "loss_pct", false, "%.3f", loss);
	}
	add(&r, "errors", false, "%" PRIu64, t->c.errors);
	add(&r, "wrong", false, "%" PRIu64, t->c.wrong);
	add(&r, "setup_ms", false, "%.0f", (double)t->setup_ns / (double)NS_PER_MS);
	add(&r, "client_cpu_pct", false, "%.1f", *cpu_pct);
	if (srv) {
		add(&r, "server_pid", false, "%ld", t->pid);
		add(&r, "server_cpu_ms", false, "%.0f", srv_secs * 1e3);
		add(&r, "server_cpu_pct", false, "%.1f", wall > 0 ? 100 * srv_secs / wall : 0);
		if (t->c.done > 0 && opts.mode != M_BULK && opts.mode != M_IDLE)
			add(&r, "server_cpu_us", false, "%.2f", srv_secs * 1e6 / (double)t->c.done);
		add(&r, "server_rss_kib", false, "%" PRIu64, t->s1.rss_kib);
		if (opts.mode == M_IDLE && t->rss_before_kib > 0) {
			add(&r, "server_rss_before_kib", false, "%" PRIu64, t->rss_before_kib);
			add(&r, "rss_per_conn_bytes", false, "%.0f",
			    ((double)t->s1.rss_kib - (double)t->rss_before_kib) * 1024 / opts.conns);
		}
	}
	if (opts.format != F_TEXT) {
		print_fields(&r);
		fflush(stdout);
		return;
	}

	if (opts.mode == M_BULK)
		snprintf(what, sizeof(what), "%d stream%s, %" PRIu64 " bytes in all%s", opts.conns,
		    opts.conns == 1 ? "" : "s", opts.bytes, opts.utf8 ? ", UTF-8" : "");
	else if (opts.mode == M_IDLE)
		snprintf(what, sizeof(what), "%d connections held %.1f s", opts.conns, opts.secs);
	else
		snprintf(what, sizeof(what), "%d %s x %d outstanding, %zu-byte %s%s",
		    opts.conns, opts.mode == M_UDP ? "sockets" : "connections", opts.pipeline,
		    reqlen, body.line ? "lines" : "requests",
		    opts.utf8 ? " (UTF-8)" : "");
	printf("%s %s %s port %s: %s, %d thread%s\n", PROG, opts.mode_name, opts.host, opts.port,
	    what, opts.threads, opts.threads == 1 ? "" : "s");
	if (opts.mode == M_IDLE)
		printf("  held:       %" PRIu64 " of %d connections, each answered before and after\n",
		    t->c.done, opts.conns);
	else if (opts.mode == M_BULK)
		printf("  bytes:      %" PRIu64 " back in %.3f s, %.1f MB/s\n", t->c.done, secs, rate);
	else
		printf("  %-11s %" PRIu64 " in %.3f s, %.1f %s\n",
		    opts.mode == M_RECONNECT ? "connects:" : opts.mode == M_UDP ? "datagrams:" : "requests:",
		    t->c.done, secs, rate, mode->unit);
	if (h->count > 0)
		printf("  latency:    p50 %.1f us, p99 %.1f us, p99.9 %.1f us, max %.1f us\n",
		    hist_quantile(h, 0.50), hist_quantile(h, 0.99), hist_quantile(h, 0.999),
		    (double)h->max / 1000);
	if (opts.mode == M_UDP)
		printf("  sent:       %" PRIu64 " datagrams, %" PRIu64 " lost (%.3f%%), %" PRIu64 " late\n",
		    t->c.sent, t->c.lost, loss, t->c.late);
	printf("  checked:    %s; %" PRIu64 " wrong, %" PRIu64 " errors\n",
	    body.line ? "replies counted by line, not checked" : "every reply",
	    t->c.wrong, t->c.errors);
	printf("  client CPU: %.0f%% of %d thread%s\n", *cpu_pct, opts.threads,
	    opts.threads == 1 ? "" : "s");
	if (srv) {
		printf("  server:     pid %ld, %.0f%% of a CPU", t->pid, wall > 0 ? 100 * srv_secs / wall : 0);
		if (t->c.done > 0 && opts.mode != M_BULK && opts.mode != M_IDLE)
			printf(", %.2f us CPU per reply", srv_secs * 1e6 / (double)t->c.done);
		printf(", RSS %" PRIu64 " KiB", t->s1.rss_kib);
		if (opts.mode == M_IDLE && t->rss_before_kib > 0)
			printf(" (%" PRIu64 " KiB before: %.0f bytes per connection)", t->rss_before_kib,
			    ((double)t->s1.rss_kib - (double)t->rss_before_kib) * 1024 / opts.conns);
		putchar('\n');
	}
	fflush(stdout);
}

static void
progress_line(struct worker *w, uint64_t start, uint64_t *last_done, uint64_t *last_t)
{
	uint64_t done = 0, now = now_ns();

	for (int t = 0; t < opts.threads; t++)
		done += __atomic_load_n(&w[t].progress, __ATOMIC_RELAXED);
	fprintf(stderr, "\r%s: %.0f s, %" PRIu64 " %s, %.0f/s now   ", opts.mode_name,
	    (double)(now - start) / (double)NS_PER_S, done,
	    opts.mode == M_BULK ? "bytes" : "done",
	    (double)(done - *last_done) * (double)NS_PER_S / (double)(now - *last_t));
	*last_done = done;
	*last_t = now;
}

int
main(int argc, char **argv)
{
	struct worker *w;
	struct totals t = { .c = { 0 } };
	struct sigaction sa = { .sa_handler = on_signal };
	uint64_t start, cpu0, last_done = 0, last_t, next_progress;
	double cpu_pct, loss;
	bool progress;
	int e;

	opt_parse(argc, argv);
	signal(SIGPIPE, SIG_IGN);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	raise_nofile(opts.conns + 64);
	texts_make();
	t.pid = opts.pid;
	if (t.pid == 0 && opts.mode == M_IDLE && target_is_local())
		t.pid = find_server_pid((int)opt_num(opts.port, 1, 65535, "-p"));
	t.s0 = server_sample(t.pid);
	t.rss_before_kib = t.s0.rss_kib;
	if (opts.pid != 0 && !t.s0.ok)
		note("--pid %ld: no such process, or /proc/%ld/stat unreadable", opts.pid, opts.pid);
	else if (opts.mode == M_IDLE && !t.s0.ok && !opts.quiet)
		note("idle: the server's process was not found on this host (--pid): no RSS reported");
	w = workers_create();
	t.h = xcalloc(1, sizeof(*t.h));
	for (int i = 0; i < opts.threads; i++)
		if ((e = pthread_create(&w[i].tid, NULL, worker_main, &w[i])) != 0) {
			errno = e;
			fatal("pthread_create");
		}
	while (__atomic_load_n(&nready, __ATOMIC_ACQUIRE) < opts.threads)
		sleep_ns(100 * NS_PER_US);
	t.s0 = server_sample(t.pid);
	cpu0 = cpu_ns();
	start = last_t = now_ns();
	next_progress = start + NS_PER_S;
	progress = opts.progress == 1 || (opts.progress == -1 && isatty(2) &&
	    (opts.secs > 2 || opts.secs == 0));
	__atomic_store_n(&go, 1, __ATOMIC_RELEASE);
	while (__atomic_load_n(&nfinished, __ATOMIC_ACQUIRE) < opts.threads) {
		sleep_ns(NS_PER_MS);
		if (progress && now_ns() >= next_progress) {
			progress_line(w, start, &last_done, &last_t);
			next_progress += NS_PER_S;
		}
	}
	t.wall_ns = now_ns() - start;
	t.cpu_ns = cpu_ns() - cpu0;
	t.s1 = server_sample(t.pid);
	if (progress && last_done > 0)
		fputc('\n', stderr);
	__atomic_store_n(&go_end, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < opts.threads; i++) {
		pthread_join(w[i].tid, NULL);
		t.c.done += w[i].cnt.done;
		t.c.errors += w[i].cnt.errors;
		t.c.wrong += w[i].cnt.wrong;
		t.c.sent += w[i].cnt.sent;
		t.c.lost += w[i].cnt.lost;
		t.c.late += w[i].cnt.late;
		hist_merge(t.h, &w[i].hist);
		if (w[i].setup_ns > t.setup_ns)
			t.setup_ns = w[i].setup_ns;
		if (w[i].elapsed_ns > t.elapsed_ns)
			t.elapsed_ns = w[i].elapsed_ns;
	}
	report(&t, &cpu_pct);
	if (cpu_pct > CPU_WARN_PCT && !opts.quiet)
		fprintf(stderr, PROG ": warning: the client used %.0f%% of its %d thread%s: it, not "
		    "the server, may be the limit (more --threads, or the client on other CPUs)\n",
		    cpu_pct, opts.threads, opts.threads == 1 ? "" : "s");
	loss = t.c.sent > 0 ? 100.0 * (double)t.c.lost / (double)t.c.sent : 0;
	workers_destroy(w);
	texts_free();
	free(t.h);
	if (t.c.wrong > 0)
		return EXIT_WRONG;
	if (opts.mode == M_UDP && loss > opts.max_loss) {
		fprintf(stderr, PROG ": %" PRIu64 " of %" PRIu64 " datagrams lost (%.3f%%), more "
		    "than --max-loss %g%%\n", t.c.lost, t.c.sent, loss, opts.max_loss);
		return EXIT_WRONG;
	}
	if (t.c.errors > 0)
		return EXIT_ERRORS;
	if (t.c.done == 0) {
		fprintf(stderr, PROG ": nothing was measured\n");
		return EXIT_ERRORS;
	}
	return 0;
}
