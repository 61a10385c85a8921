/* SPDX-License-Identifier: ISC */
/*
 * tcp.c: the TCP kind of worker (see worker.h).  Each worker owns its
 * connections; the listening sockets are shared, registered with
 * EPOLLEXCLUSIVE in every worker.
 *
 * A connection is read only while it has no output pending: read a chunk,
 * transform it, write it; what the socket does not take is kept and the
 * connection waits for EPOLLOUT instead of EPOLLIN.  That is the
 * back-pressure that bounds per-connection memory.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include <linux/sockios.h>	/* SIOCOUTQ */

#include "access.h"
#include "addr.h"
#include "balance.h"
#include "clock.h"
#include "handover.h"
#include "log.h"
#include "proxy.h"
#include "ratelimit.h"
#include "sock.h"
#include "srctable.h"
#include "tbucket.h"
#include "tcp.h"
#include "transform.h"
#include "upgrade.h"
#include "uring.h"

#define EV_LISTENER 1
#define EV_CONN     2

/* The io_uring path (see "io_uring" below). */
#define URING_ENTRIES    512     /* submission slots */
#define URING_NBUFS      256     /* receive buffers, shared by every connection ... */
#define URING_BUFSIZE    TCP_READ_CHUNK  /* ... of this many bytes each */
#define URING_REAP_BATCH 64      /* completions copied out at a time */
#define TAG_RECV         1u      /* a request's tag: its connection | what it is */
#define TAG_SEND         2u
#define TAG_EPOLL        3u      /* the worker | this: the POLLIN on its epoll set */
#define TAG_MASK         3u

#define ACCEPT_BATCH     64      /* accepts per listener event */
#define EMFILE_PAUSE_MS  100     /* back-off when out of descriptors or memory */
#define STOP_QUIET_MS    250     /* stopping: a client this quiet has finished sending */
#define LINGER_ACKED_MS  1000    /* stopping: how long a client that has acknowledged
                                    everything, our end of file included, may go on
                                    sending before we close anyway */

/* A connection's life. */
enum conn_state {
	CONN_READING,    /* nothing owed: waiting for the client */
	CONN_FLUSHING,   /* output pending: waiting for EPOLLOUT, not reading */
	CONN_DRAINING,   /* no more input (the client shut down its side, or we
	                    are stopping): send what is owed, then close, or
	                    linger if the client may still send (stopping) */
	CONN_LINGERING,  /* stopping, everything owed is in the kernel and our
	                    side is shut down: read and discard until the
	                    client's end of file, or until it has acknowledged
	                    everything and is quiet (conn_linger_step) */
	CONN_PROXY,      /* on a proxy_protocol listener: waiting for the PROXY header;
	                    no access rule or limit has seen the client yet */
	CONN_CLOSED,     /* closed and freed: a result only, never stored */
};

/* Why a connection was closed, for the counters. */
enum conn_end {
	CONN_END_DONE,       /* everything owed was sent (end of input, or stopping) */
	CONN_END_ERROR,      /* a read or write failed (reset, out of memory) */
	CONN_END_IDLE,       /* idle_timeout */
	CONN_END_SLOW,       /* below limits.min_rate while the pool is under pressure */
	CONN_END_SHUTDOWN,   /* stopping, and shutdown_timeout passed */
};

/*
 * What happened to a client, for the log, which names it by its address
 * and port (never a descriptor number, which names nothing to a reader).
 * Each kind has a budget of its own per worker: one line per
 * TCP_LOG_INTERVAL_MS at its priority (tcp_log_pri), saying how many came
 * since; the others at debug.  So every event is in a debug log, a flood
 * of one kind does not flood the log, and it does not hide the others.
 */
enum tcp_log_kind {
	TCP_LOG_DENIED,      /* refused by an access rule */
	TCP_LOG_SOURCE,      /* refused: limits.connections_per_source, limits.connection_rate */
	TCP_LOG_FULL,        /* refused: max_connections were open */
	TCP_LOG_IDLE,        /* closed by idle_timeout */
	TCP_LOG_SLOW,        /* closed by limits.min_rate */
	TCP_LOG_ERROR,       /* closed: a read or write failed (the client reset it, mostly) */
	TCP_LOG_NOMEM,       /* closed: no memory for its unsent output */
	TCP_LOG_PROXY,       /* closed: no valid PROXY header from a trusted proxy */
	TCP_LOG_KINDS
};

#define TCP_LOG_INTERVAL_MS 10000

/* The priorities are upcased(8)'s LOGGING: a refusal is a policy at work, a close is not news. */
static const int tcp_log_pri[TCP_LOG_KINDS] = {
	[TCP_LOG_DENIED] = LOG_NOTICE,
	[TCP_LOG_SOURCE] = LOG_NOTICE,
	[TCP_LOG_FULL]   = LOG_WARNING,
	[TCP_LOG_IDLE]   = LOG_INFO,
	[TCP_LOG_SLOW]   = LOG_INFO,
	[TCP_LOG_ERROR]  = LOG_INFO,
	[TCP_LOG_NOMEM]  = LOG_WARNING,
	[TCP_LOG_PROXY]  = LOG_NOTICE,
};

/* A client's address, as accept(2) gave it: IPv4 or IPv6. */
union tcp_peer {
	struct sockaddr     sa;
	struct sockaddr_in  in;
	struct sockaddr_in6 in6;
};

/* What one read did. */
enum conn_read_result {
	CONN_READ_SERVED,    /* data came and was answered: READING or FLUSHING */
	CONN_READ_EMPTY,     /* nothing to read now: READING */
	CONN_READ_EOF,       /* the client shut down its side, output is owed: DRAINING */
	CONN_READ_CLOSED,    /* the connection is closed and freed */
};

/* The epoll tag of a listener; a connection starts with the same two fields. */
struct ev_tag {
	int kind;
	int fd;
};

struct tcp_conn {
	int      kind;               /* EV_CONN; first, see struct ev_tag */
	int      fd;
	enum conn_state state;
	uint32_t events;             /* epoll interest: EPOLLIN only while READING */
	bool     in_epoll;           /* in the worker's epoll set; else on the ring */
	bool     zombie;             /* closed; freed when its request in flight ends */
	uint8_t  ring_op;            /* on the ring: TAG_RECV or TAG_SEND in flight; 0: none */
	bool     streaming;          /* its last read filled the buffer: more comes at once */
	bool     rx_more;            /* the ring's last receive left data in the socket */
	struct transform tf;
	uint8_t *out;                /* unsent output, or NULL */
	size_t   outlen, outoff;
	uint64_t last_ms;            /* last progress, for idle_timeout */
	uint64_t rx_ms;              /* last byte from the client (stopping) */
	uint64_t acked_ms;           /* lingering: when the client was first seen to have
	                                acknowledged everything (if acked) */
	bool     acked;
	int      outq;               /* lingering: bytes the client has not acknowledged */
	bool     linger;             /* we ended the input (stopping): the client may still send */
	uint64_t start_ms;           /* accepted, for limits.min_rate */
	uint64_t bytes_in;
	uint64_t bytes_out;          /* sent to the client (upcase --connections) */
	bool     counted;            /* source holds one of its per-source slots for us */
	struct src_key source;       /* the client, as limits count it */
	union tcp_peer peer;         /* the client, for the log (the PROXY header's, once read) */
	socklen_t peerlen;
	uint8_t *pp;                 /* CONN_PROXY: the header so far, if it came in pieces */
	size_t   pplen;
	uint64_t pp_deadline_ms;     /* CONN_PROXY: closed if the header is not whole by then */
	struct tcp_conn *prev, *next; /* worker's list, oldest activity first */
};

/* Pool-wide, shared by every TCP worker. */
struct tcp_shared {
	int      open;                   /* open connections, for max_connections (atomic) */
	bool     ready;                  /* mu initialised (main thread, before workers) */
	pthread_mutex_t mu;              /* guards sources */
	struct srctable *sources;        /* per-source counts and buckets, for limits */
};

struct tcp_worker {
	struct worker w;                 /* first: see struct worker_ops */
	struct ev_tag lst[WORKER_MAX_LISTENERS];
	bool     lproxy[WORKER_MAX_LISTENERS];   /* lst[i] is a proxy_protocol listener */
	size_t   nlst;
	size_t   nproxy;                 /* connections in CONN_PROXY */
	bool     listening;              /* the listeners are in our epoll set */
	uint64_t emfile_until_ms;        /* accepting paused: out of descriptors or memory */
	enum balance_verdict verdict;    /* not BALANCE_ACCEPT: another worker accepts */
	bool     was_busy;               /* our busy flag when last looked at */
	uint64_t stop_input_ms;          /* stopping: from then on, input ends however busy */
	bool     drain_begun;            /* open connections were visited at stop ... */
	uint64_t drain_visit_ms;         /* ... last at this time */
	struct tcp_conn *head, *tail;
	size_t   nconns;
	uint8_t  rbuf[TCP_READ_CHUNK];
	uint8_t  wbuf[TRANSFORM_BOUND(TCP_READ_CHUNK)];
	struct ratelimit rl_accept, rl_table;
	struct ratelimit rl_log[TCP_LOG_KINDS];  /* see tcp_log_client */
	uint64_t last_sweep_ms;
	uint64_t last_proxy_sweep_ms;    /* tcp_sweep_proxy, at most once a tick */
	/* The io_uring path: NULL, or the worker's ring (see "io_uring" below). */
	struct uring *ring;
	bool     ring_failed;            /* could not make it: epoll for good (logged) */
	bool     ring_on;                /* serving on it: not stopping, not frozen */
	bool     epoll_armed;            /* the POLLIN on epfd is in flight */
	bool     epoll_ready;            /* ... and said epfd has events */
	bool     ring_grow;              /* a receive found every buffer taken */
	size_t   ring_inflight;          /* connection requests in flight (zombies' too) */
	struct uring_done done[URING_REAP_BATCH];
};

static struct tcp_shared *
tcp_shared(struct tcp_worker *t)
{
	return worker_pool_shared(t->w.pool);
}

static int *
tcp_open_count(struct tcp_worker *t)
{
	return &tcp_shared(t)->open;
}

/*
 * Log an event of kind k about the client at sa: "LEAD ADDRESS:PORTTAIL",
 * TAIL from fmt.  The first of its kind in TCP_LOG_INTERVAL_MS goes out at
 * the kind's priority with " (N more since the last message)" when N > 0, the others
 * at debug (and cost nothing when debug is off).
 */
static void __attribute__((format(printf, 7, 8)))
tcp_log_client(struct tcp_worker *t, enum tcp_log_kind k, const struct sockaddr *sa,
    socklen_t salen, uint64_t now, const char *lead, const char *fmt, ...)
{
	char peer[SOCK_NAME_MAX], tail[256], more[64] = "";
	int pri = tcp_log_pri[k];
	va_list ap;

	if (ratelimit_allow(&t->rl_log[k], now)) {
		uint64_t n = ratelimit_take_suppressed(&t->rl_log[k]);

		/* Nothing to say of the first, or of one after a quiet spell. */
		if (n > 0)
			snprintf(more, sizeof(more), " (%llu more since the last message)",
			    (unsigned long long)n);
	} else
		pri = LOG_DEBUG;
	if (!log_enabled(pri))
		return;
	va_start(ap, fmt);
	vsnprintf(tail, sizeof(tail), fmt, ap);
	va_end(ap);
	log_at(pri, "%s %s%s%s", lead, addr_format(sa, salen, peer, sizeof(peer)), tail, more);
}

/* Closing c for kind k (idle, slow, an error): the log names its client. */
#define conn_log(t, c, k, now, lead, ...) \
	tcp_log_client((t), (k), &(c)->peer.sa, (c)->peerlen, (now), (lead), __VA_ARGS__)

/* ------------------------------------------------------------ connection list */

static void
conn_unlink(struct tcp_worker *t, struct tcp_conn *c)
{
	if (c->prev) c->prev->next = c->next; else t->head = c->next;
	if (c->next) c->next->prev = c->prev; else t->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
conn_append(struct tcp_worker *t, struct tcp_conn *c)
{
	c->prev = t->tail;
	c->next = NULL;
	if (t->tail) t->tail->next = c; else t->head = c;
	t->tail = c;
}

static void
conn_touch(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	c->last_ms = now;
	if (t->tail != c) {
		conn_unlink(t, c);
		conn_append(t, c);
	}
}

/* ------------------------------------------------------------ per-source limits */

static void
tcp_source_release(struct tcp_worker *t, const struct src_key *k)
{
	struct tcp_shared *sh = tcp_shared(t);
	struct src_entry *e;

	pthread_mutex_lock(&sh->mu);
	if (sh->sources != NULL && (e = srctable_find(sh->sources, k)) != NULL && e->open > 0)
		e->open--;
	pthread_mutex_unlock(&sh->mu);
}

/* Whether the source of c is exempt from limits, or they are all off. */
static bool
tcp_source_unlimited(const struct worker_source_limits *l, const struct sockaddr *sa)
{
	int rule = -1;

	if (l->per_source == 0 && l->rate == 0)
		return true;
	if (l->exempt != NULL)
		access_allows(l->exempt, sa, &rule);
	return rule >= 0;
}

/*
 * May the source of c open one more connection?  If so, and limits count
 * it, c holds one of its slots until conn_close.  If not, *why is the
 * counter of the refusal.  A source the table has no room for (every
 * place it could take holds sources with open connections) is let in
 * uncounted, and counted as such: the limits are for one source, and a
 * source that holds nothing must not be refused for the others.
 */
static bool
tcp_source_admit(struct tcp_worker *t, struct tcp_conn *c, const struct sockaddr *sa,
    uint64_t now, enum stat_id *why)
{
	const struct worker_source_limits *l = &t->w.params.limits;
	struct tcp_shared *sh = tcp_shared(t);
	struct src_entry *e;
	bool ok = false;

	if (tcp_source_unlimited(l, sa) ||
	    src_key_from_sockaddr(sa, l->ipv4_prefix, l->ipv6_prefix, false, &c->source) == -1)
		return true;
	pthread_mutex_lock(&sh->mu);
	*why = STAT_TCP_REFUSED_PER_SOURCE;
	if ((e = srctable_get(sh->sources, &c->source, now)) == NULL) {
		stats_add(&t->w.stats, STAT_TCP_UNTRACKED, 1);
		ok = true;
	} else if (l->per_source != 0 && e->open >= l->per_source)
		srctable_count_use(e, true);
	else if (l->rate != 0 &&
	    tbucket_take(&e->bucket, l->rate, l->burst, 0, now) == TBUCKET_DROP) {
		*why = STAT_TCP_REFUSED_RATE;
		srctable_count_use(e, true);
	} else {
		srctable_count_use(e, false);
		e->open++;
		c->counted = ok = true;
	}
	pthread_mutex_unlock(&sh->mu);
	if (ok && !c->counted && ratelimit_allow(&t->rl_table, now))
		log_warnx("limits.table_size (%u) has no room for another source with open "
		    "connections: one is not counted (%llu more since the last message)",
		    l->table_size, (unsigned long long)ratelimit_take_suppressed(&t->rl_table));
	return ok;
}

static enum conn_state
conn_close(struct tcp_worker *t, struct tcp_conn *c, enum conn_end why)
{
	switch (why) {
	case CONN_END_ERROR:
		stats_add(&t->w.stats, STAT_TCP_RESETS, 1);
		break;
	case CONN_END_IDLE:
		stats_add(&t->w.stats, STAT_TCP_IDLE_TIMEOUTS, 1);
		break;
	case CONN_END_SLOW:
		stats_add(&t->w.stats, STAT_TCP_SLOW_CLOSES, 1);
		break;
	case CONN_END_DONE:
	case CONN_END_SHUTDOWN:
		break;
	}
	stats_add(&t->w.stats, STAT_TCP_CLOSED, 1);
	stats_observe(&t->w.stats, HIST_TCP_DURATION, clock_ms() - c->start_ms);
	if (c->counted)
		tcp_source_release(t, &c->source);
	conn_unlink(t, c);
	t->nconns--;
	__atomic_sub_fetch(tcp_open_count(t), 1, __ATOMIC_RELAXED);
	if (c->state == CONN_PROXY)
		t->nproxy--;
	/*
	 * Out of epoll first: close() removes a registration only once no
	 * descriptor in any process refers to the socket, and while a live
	 * upgrade forks (upgrade_spawn), the child holds a copy of every one
	 * until its exec.  Closed then, the socket stayed registered, and its
	 * next event named the freed connection (seen under ASan).
	 */
	if (c->in_epoll)
		epoll_ctl(t->w.epfd, EPOLL_CTL_DEL, c->fd, NULL);
	free(c->pp);
	c->pp = NULL;
	if (c->ring_op != 0) {
		/*
		 * A request in flight, cancelled now: the descriptor stays open,
		 * and c->out allocated, until it ends (tcp_ring_reap_all).  A
		 * request still in the submission queue names the descriptor
		 * by number, looked up when it is submitted: closed now, the
		 * number could be another client's by then (a peer worker's
		 * accept), which the send would write to.
		 */
		uring_cancel(t->ring, (uint64_t)(uintptr_t)c | c->ring_op);
		c->zombie = true;
		return CONN_CLOSED;
	}
	close(c->fd);
	free(c->out);
	free(c);
	return CONN_CLOSED;
}

/* What op (read, write, ...) on c failed with err: close it, and the log says so. */
static enum conn_state
conn_fail(struct tcp_worker *t, struct tcp_conn *c, const char *op, int err, uint64_t now)
{
	conn_log(t, c, TCP_LOG_ERROR, now, "closed the connection from", ": %s: %s", op,
	    strerror(err));
	return conn_close(t, c, CONN_END_ERROR);
}

static int
conn_watch(struct tcp_worker *t, struct tcp_conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (!c->in_epoll) {
		/* From the ring (nothing of it in flight) to epoll. */
		if (epoll_ctl(t->w.epfd, EPOLL_CTL_ADD, c->fd, &e) == -1)
			return -1;
		c->in_epoll = true;
		c->events = ev;
		return 0;
	}
	if (c->events == ev)
		return 0;
	if (epoll_ctl(t->w.epfd, EPOLL_CTL_MOD, c->fd, &e) == -1)
		return -1;	/* the caller closes c, and says why (conn_fail) */
	c->events = ev;
	return 0;
}

/* ------------------------------------------------------------ connection I/O */

/*
 * Lingering (stopping: our side is shut down, everything owed is in the
 * kernel).  A close() now would have the kernel answer whatever the client
 * still sends with a reset, and throw away what it has not delivered yet.
 * So read and discard, until the client's end of file (nothing more can
 * come: close, and the kernel delivers the rest, after we exit too), or
 * until the client's kernel has acknowledged everything, our end of file
 * included (SIOCOUTQ 0: a reset then costs it nothing it was sent), and
 * the client has been quiet for STOP_QUIET_MS, or is still sending
 * LINGER_ACKED_MS after that.  shutdown_timeout bounds it (tcp_finish).
 * No event says the client acknowledged: tcp_stop_visit() comes back.
 * Returns LINGERING or CLOSED.
 */
static enum conn_state
conn_linger_step(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	int q;

	for (int i = 0; i < 16; i++) {
		ssize_t n = recv(c->fd, t->rbuf, sizeof(t->rbuf), 0);

		if (n == 0)
			return conn_close(t, c, CONN_END_DONE);
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				break;
			return conn_fail(t, c, "read", errno, now);
		}
		c->rx_ms = now;		/* not owed: it came after we stopped reading */
		conn_touch(t, c, now);
	}
	if (ioctl(c->fd, SIOCOUTQ, &q) == -1)
		return conn_fail(t, c, "SIOCOUTQ", errno, now);
	if (q > 0) {
		if (q < c->outq)
			conn_touch(t, c, now);	/* the client is taking it: progress */
		c->outq = q;
		return c->state;
	}
	if (!c->acked) {
		c->acked = true;
		c->acked_ms = now;
	}
	if (now - c->rx_ms >= STOP_QUIET_MS || now - c->acked_ms >= LINGER_ACKED_MS)
		return conn_close(t, c, CONN_END_DONE);
	return c->state;
}

/*
 * Everything owed is in the kernel.  After the client's end of input
 * nothing more can come from it: close.  When we ended the input
 * (stopping) the client may still send, and a close would be answered
 * with a reset if it did: so unless the client has acknowledged all we
 * sent already, is quiet and nothing of its waits unread (a close with
 * unread input sends a reset, not an end of file), shut our side down (the
 * end of file goes after the answer) and linger.  Returns CLOSED or
 * LINGERING.
 */
static enum conn_state
conn_owed_sent(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	int q, unread;

	if (!c->linger ||
	    (ioctl(c->fd, SIOCOUTQ, &q) == 0 && q == 0 && now - c->rx_ms >= STOP_QUIET_MS &&
	    ioctl(c->fd, FIONREAD, &unread) == 0 && unread == 0))
		return conn_close(t, c, CONN_END_DONE);
	if (shutdown(c->fd, SHUT_WR) == -1)
		return conn_fail(t, c, "shutdown", errno, now);
	if (conn_watch(t, c, EPOLLIN) == -1)
		return conn_fail(t, c, "epoll_ctl", errno, now);
	c->state = CONN_LINGERING;
	c->outq = 0;
	c->acked = false;
	return conn_linger_step(t, c, now);
}

/* Keep len bytes of buf as c's pending output; false: out of memory, c is closed. */
static bool
conn_keep(struct tcp_worker *t, struct tcp_conn *c, const uint8_t *buf, size_t len,
    uint64_t now)
{
	c->outlen = len;
	c->outoff = 0;
	if ((c->out = malloc(len)) == NULL) {
		/* Said once in a while: a storm of these must not flood the log. */
		conn_log(t, c, TCP_LOG_NOMEM, now, "closed the connection from",
		    ": out of memory for its unsent output");
		conn_close(t, c, CONN_END_ERROR);
		return false;
	}
	memcpy(c->out, buf, len);
	return true;
}

/*
 * Write buf; keep what the socket does not take.  Returns the new state:
 * READING (all sent), FLUSHING or DRAINING (some kept), LINGERING or
 * CLOSED.
 */
static enum conn_state
conn_send(struct tcp_worker *t, struct tcp_conn *c, const uint8_t *buf, size_t len,
    uint64_t now)
{
	bool eof = c->state == CONN_DRAINING;
	ssize_t k = 0;

	if (len > 0) {
		k = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (k == -1) {
			if (errno != EAGAIN && errno != EINTR)
				return conn_fail(t, c, "write", errno, now);
			k = 0;
		}
		stats_add(&t->w.stats, STAT_TCP_BYTES_OUT, (uint64_t)k);
		c->bytes_out += (uint64_t)k;
	}
	if ((size_t)k == len)	/* everything owed is sent */
		return eof ? conn_owed_sent(t, c, now) : CONN_READING;
	if (!conn_keep(t, c, buf + k, len - (size_t)k, now))
		return CONN_CLOSED;
	if (conn_watch(t, c, EPOLLOUT) == -1)
		return conn_fail(t, c, "epoll_ctl", errno, now);
	if (!eof)
		c->state = CONN_FLUSHING;
	return c->state;
}

/*
 * No more input will be served: the client shut down its side, or we are
 * stopping (linger: the client may still send).  What is owed is the
 * held-back bytes of an incomplete UTF-8 sequence, unchanged
 * (transform_finish).  Send them, then close or linger once all is sent
 * (conn_owed_sent).  Only while READING (nothing else pending, so they
 * come last).  Returns DRAINING, LINGERING or CLOSED.
 */
static enum conn_state
conn_end_input(struct tcp_worker *t, struct tcp_conn *c, uint64_t now, bool linger)
{
	size_t m;

	c->state = CONN_DRAINING;
	c->linger = linger;
	m = transform_finish(&c->tf, t->wbuf);
	return conn_send(t, c, t->wbuf, m, now);
}

/*
 * Closing a connection whose client has not finished (idle_timeout,
 * limits.min_rate, shutdown_timeout): the held-back bytes are owed too,
 * but only after any pending output, which the client is not taking; so
 * they are sent only if nothing is pending, and only if the socket takes
 * them at once.
 */
static void
conn_close_owed(struct tcp_worker *t, struct tcp_conn *c, enum conn_end why)
{
	uint8_t tail[sizeof(c->tf.carry)];
	size_t m;
	ssize_t k;

	if (c->out == NULL && (m = transform_finish(&c->tf, tail)) > 0 &&
	    (k = send(c->fd, tail, m, MSG_NOSIGNAL | MSG_DONTWAIT)) > 0) {
		stats_add(&t->w.stats, STAT_TCP_BYTES_OUT, (uint64_t)k);
		c->bytes_out += (uint64_t)k;
	}
	conn_close(t, c, why);
}

/* n bytes from the client (at most TCP_READ_CHUNK): counted, transformed into t->wbuf; how many. */
static size_t
conn_take(struct tcp_worker *t, struct tcp_conn *c, const uint8_t *buf, size_t n,
    uint64_t now)
{
	stats_add(&t->w.stats, STAT_TCP_BYTES_IN, (uint64_t)n);
	c->bytes_in += (uint64_t)n;
	c->rx_ms = now;
	conn_touch(t, c, now);
	return transform_feed(&c->tf, buf, n, t->wbuf);
}

/* n bytes from the client, answered at once (READING). */
static enum conn_state
conn_serve(struct tcp_worker *t, struct tcp_conn *c, const uint8_t *buf, size_t n,
    uint64_t now)
{
	return conn_send(t, c, t->wbuf, conn_take(t, c, buf, n, now), now);
}

/* One read, answered at once (only while READING). */
static enum conn_read_result
conn_read(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	ssize_t n = recv(c->fd, t->rbuf, sizeof(t->rbuf), 0);

	c->streaming = n == (ssize_t)sizeof(t->rbuf);
	if (n > 0)
		return conn_serve(t, c, t->rbuf, (size_t)n, now) == CONN_CLOSED ?
		    CONN_READ_CLOSED : CONN_READ_SERVED;
	if (n == 0)
		return conn_end_input(t, c, now, false) == CONN_CLOSED ?
		    CONN_READ_CLOSED : CONN_READ_EOF;
	if (errno == EAGAIN || errno == EINTR)
		return CONN_READ_EMPTY;
	conn_fail(t, c, "read", errno, now);
	return CONN_READ_CLOSED;
}

/* ------------------------------------------------------------ io_uring */

/*
 * On io_uring (params.io_uring, and the worker could make its ring) a
 * connection that is READING or FLUSHING lives on the ring, not in the
 * epoll set: one receive in flight while READING, one send of its pending
 * output while FLUSHING, never both.  So the back-pressure is the epoll
 * path's: nothing is received while output is pending.  The receive takes
 * one of the ring's shared buffers only when data arrives, and gives it
 * back once the data is transformed into the connection's output (copied
 * out): a client that does not read holds no buffer, and the pool cannot
 * be drained by clients (uring.h).  Everything else (a PROXY header, the
 * draining after a short send, stopping, lingering, the freeze of a live
 * upgrade) runs in the epoll set, on the same code as the epoll path: a
 * connection moves there, once nothing of it is in flight, when a socket
 * call of that code wants to wait (conn_watch), and back to the ring when
 * it is READING again (conn_want_input).  The epoll set itself (mailbox,
 * listeners, epoll-path connections) is watched through the ring: one
 * POLLIN on epfd, then epoll_wait without waiting (tcp_reap).  So a
 * listener's EPOLLEXCLUSIVE wakes every listening worker, not one (the
 * kernel counts only a task blocked in epoll_wait as woken): the others
 * find accept4 empty.  Several listen only when all are busy (balance.h).
 *
 * Stopping and freezing take every connection off the ring
 * (tcp_ring_quiesce): requests are cancelled, what completed meanwhile is
 * handled, and the stop, or the export of a live upgrade, then sees
 * epoll-path connections only.
 */

static uint64_t
conn_tag(const struct tcp_conn *c, unsigned op)
{
	return (uint64_t)(uintptr_t)c | op;
}

/*
 * READING, nothing in flight: receive on the ring when serving there, else
 * in epoll.  waiting: nothing is likely to be there yet (the answer just
 * went out; a read just found nothing), so the ring waits for data before
 * trying, rather than try and fail first.
 */
static enum conn_state
conn_want_input(struct tcp_worker *t, struct tcp_conn *c, uint64_t now, bool waiting)
{
	/*
	 * A stream (a receive filled the buffer and more was waiting) is
	 * served on the epoll path, with plain reads and writes, until its
	 * first short read (conn_event): a trip through the ring per buffer
	 * each way cost more for one stream with nothing to batch it with.
	 */
	if (!t->ring_on || c->streaming) {
		if (conn_watch(t, c, EPOLLIN) == -1)
			return conn_fail(t, c, "epoll_ctl", errno, now);
		return c->state;
	}
	if (c->in_epoll) {
		if (epoll_ctl(t->w.epfd, EPOLL_CTL_DEL, c->fd, NULL) == -1)
			return conn_fail(t, c, "epoll_ctl", errno, now);
		c->in_epoll = false;
		c->events = 0;
	}
	uring_recv(t->ring, c->fd, conn_tag(c, TAG_RECV), waiting);
	c->ring_op = TAG_RECV;
	t->ring_inflight++;
	return c->state;
}

/* Output pending (c->out), nothing in flight: send it on the ring, or wait in epoll. */
static enum conn_state
conn_want_output(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	if (!t->ring_on || c->in_epoll) {
		if (conn_watch(t, c, EPOLLOUT) == -1)
			return conn_fail(t, c, "epoll_ctl", errno, now);
		return c->state;
	}
	uring_send(t->ring, c->fd, c->out + c->outoff, c->outlen - c->outoff,
	    conn_tag(c, TAG_SEND));
	c->ring_op = TAG_SEND;
	t->ring_inflight++;
	return c->state;
}

/*
 * k more bytes of the pending output went out.  Once all have: READING
 * (input wanted, waiting as conn_want_input says), or after the end of
 * input what conn_owed_sent makes of it; else the state as it was.
 */
static enum conn_state
conn_sent(struct tcp_worker *t, struct tcp_conn *c, size_t k, uint64_t now, bool waiting)
{
	stats_add(&t->w.stats, STAT_TCP_BYTES_OUT, (uint64_t)k);
	c->bytes_out += (uint64_t)k;
	c->outoff += k;
	if (k > 0)
		conn_touch(t, c, now);
	if (c->outoff < c->outlen)
		return c->state;
	free(c->out);	/* an idle connection holds no buffer */
	c->out = NULL;
	c->outlen = c->outoff = 0;
	if (c->state == CONN_DRAINING)
		return conn_owed_sent(t, c, now);
	c->state = CONN_READING;
	return conn_want_input(t, c, now, waiting);
}

/* n bytes received on the ring (READING): their answer goes out on it. */
static enum conn_state
conn_ring_serve(struct tcp_worker *t, struct tcp_conn *c, const uint8_t *buf, size_t n,
    uint64_t now)
{
	size_t m;

	if ((m = conn_take(t, c, buf, n, now)) == 0)
		return conn_want_input(t, c, now, false);	/* all held back: part of a character */
	if (!conn_keep(t, c, t->wbuf, m, now))
		return CONN_CLOSED;
	c->state = CONN_FLUSHING;
	return conn_want_output(t, c, now);
}

/* A receive on the ring ended with res (and buffer buf, or -1; more: data left). */
static void
conn_ring_received(struct tcp_worker *t, struct tcp_conn *c, int res, int buf, bool more,
    uint64_t now)
{
	c->rx_more = more;
	c->streaming = res == URING_BUFSIZE && more;
	if (res > 0) {
		conn_ring_serve(t, c, uring_buf(t->ring, buf), (size_t)res, now);
		uring_buf_put(t->ring, buf);
		return;
	}
	if (buf >= 0)
		uring_buf_put(t->ring, buf);
	if (res == 0) {
		conn_end_input(t, c, now, false);
		return;
	}
	switch (-res) {
	case ENOBUFS:
		/*
		 * Every buffer was taken at once: read the socket here, as
		 * epoll would, and have more buffers (up to a limit) after
		 * this batch.
		 */
		stats_add(&t->w.stats, STAT_TCP_URING_NOBUFS, 1);
		t->ring_grow = true;
		if (conn_read(t, c, now) != CONN_READ_CLOSED && c->state == CONN_READING &&
		    !c->in_epoll)
			conn_want_input(t, c, now, false);
		return;
	case ECANCELED:		/* quiescing: it goes to epoll */
	case EINTR:
	case EAGAIN:
		conn_want_input(t, c, now, true);
		return;
	default:
		conn_fail(t, c, "read", -res, now);
		return;
	}
}

/* A send on the ring ended with res. */
static void
conn_ring_sent(struct tcp_worker *t, struct tcp_conn *c, int res, uint64_t now)
{
	if (res < 0) {
		if (res == -ECANCELED || res == -EINTR || res == -EAGAIN)
			conn_want_output(t, c, now);
		else
			conn_fail(t, c, "write", -res, now);
		return;
	}
	/* All out: wait for the client if nothing was left to read when it last received. */
	if (conn_sent(t, c, (size_t)res, now, !c->rx_more) != CONN_CLOSED && c->out != NULL)
		conn_want_output(t, c, now);	/* the rest of it */
}

/* Handle every completion there is. */
static void
tcp_ring_reap_all(struct tcp_worker *t, uint64_t now)
{
	unsigned n;

	while ((n = uring_reap(t->ring, t->done, URING_REAP_BATCH)) > 0) {
		for (unsigned i = 0; i < n; i++) {
			const struct uring_done *d = &t->done[i];
			unsigned op = (unsigned)(d->tag & TAG_MASK);
			struct tcp_conn *c = (struct tcp_conn *)(uintptr_t)(d->tag & ~(uint64_t)TAG_MASK);

			if (d->tag == 0)
				continue;		/* a cancellation's own */
			if (op == TAG_EPOLL) {
				t->epoll_armed = false;
				/* An error or cancellation too: epoll_wait will tell. */
				t->epoll_ready = true;
				continue;
			}
			c->ring_op = 0;
			t->ring_inflight--;
			if (c->zombie) {
				if (d->buf >= 0)
					uring_buf_put(t->ring, d->buf);
				if (op == TAG_SEND && d->res > 0)	/* sent before the cancel */
					stats_add(&t->w.stats, STAT_TCP_BYTES_OUT, (uint64_t)d->res);
				close(c->fd);
				free(c->out);
				free(c);
			} else if (op == TAG_RECV)
				conn_ring_received(t, c, d->res, d->buf, d->more, now);
			else
				conn_ring_sent(t, c, d->res, now);
		}
	}
	if (t->ring_grow) {
		t->ring_grow = false;
		if (uring_buf_grow(t->ring))
			log_debug("io_uring: %u receive buffers now (all were taken at once)",
			    uring_buf_count(t->ring));
	}
}

/* Submit what is queued and wait up to timeout ms for a completion. */
static void
tcp_ring_wait(struct tcp_worker *t, int timeout)
{
	int r = uring_wait(t->ring, timeout);

	if (r < 0 && !uring_transient(r))
		fatal("io_uring_enter: %s", strerror(-r));
}

/* Watch the epoll set through the ring. */
static void
tcp_ring_arm_epoll(struct tcp_worker *t)
{
	if (t->epoll_armed)
		return;
	uring_poll(t->ring, t->w.epfd, (uint64_t)(uintptr_t)t | TAG_EPOLL);
	t->epoll_armed = true;
}

/*
 * Stopping or freezing: take every connection off the ring (to epoll) and
 * return once nothing is in flight.  Cancellations end at once; what
 * completed before them is handled as usual.
 */
static void
tcp_ring_quiesce(struct tcp_worker *t)
{
	t->ring_on = false;
	for (struct tcp_conn *c = t->head; c != NULL; c = c->next)
		if (c->ring_op != 0)
			uring_cancel(t->ring, conn_tag(c, c->ring_op));
	if (t->epoll_armed)
		uring_cancel(t->ring, (uint64_t)(uintptr_t)t | TAG_EPOLL);
	while (t->ring_inflight > 0 || t->epoll_armed) {
		tcp_ring_wait(t, WORKER_TICK_MS);
		tcp_ring_reap_all(t, clock_ms());
	}
	t->epoll_ready = false;	/* epoll_wait will see them */
}

/* Make the ring if the settings ask for it; serve on it unless stopping or frozen. */
static void
tcp_ring_apply(struct tcp_worker *t)
{
	const struct worker_params *p = &t->w.params;
	bool want;

	if (p->io_uring && t->ring == NULL && !t->ring_failed && !p->draining) {
		const char *step = "";
		int err = 0;

		if ((t->ring = uring_open(URING_ENTRIES, URING_NBUFS, URING_BUFSIZE, &err,
		    &step)) == NULL) {
			t->ring_failed = true;
			log_warnx("cannot set up io_uring (%s: %s): this worker uses epoll",
			    step, strerror(err));
		}
	}
	want = t->ring != NULL && !p->draining && !p->frozen;
	if (t->ring_on && !want)
		tcp_ring_quiesce(t);
	else if (!t->ring_on && want) {
		t->ring_on = true;
		tcp_ring_arm_epoll(t);
	}
	/* The kernel sends and receives within the ring's waits: count them busy. */
	t->w.cpu_meter = t->ring_on;
}

static bool
tcp_wait(struct worker *w, int timeout)
{
	struct tcp_worker *t = (struct tcp_worker *)w;

	if (!t->ring_on)
		return false;
	tcp_ring_wait(t, timeout);
	return true;
}

static int
tcp_reap(struct worker *w, struct epoll_event *ev, int max, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;
	int n;

	tcp_ring_reap_all(t, now);
	if (!t->epoll_ready) {
		n = 0;
	} else {
		t->epoll_ready = false;
		n = epoll_wait(w->epfd, ev, max, 0);
	}
	if (t->ring_on)
		tcp_ring_arm_epoll(t);		/* unless it is armed already */
	return n;
}

/* ------------------------------------------------------------ PROXY protocol */

_Static_assert(PROXY_MAX_LEN <= TCP_READ_CHUNK,
    "the client bytes after a PROXY header must fit one conn_serve()");

/* Close c, still without a valid header, counted in id; the log names the proxy. */
static void
conn_proxy_refuse(struct tcp_worker *t, struct tcp_conn *c, enum stat_id id,
    const char *why, uint64_t now)
{
	stats_add(&t->w.stats, id, 1);
	conn_log(t, c, TCP_LOG_PROXY, now, "closed the connection from",
	    " (proxy_protocol listener): %s", why);
	conn_close(t, c, CONN_END_DONE);
}

/*
 * The header is whole: from now on the client is the one it names (a
 * LOCAL header, the proxy's health check, keeps the proxy's own address),
 * for the access rules and per-source limits now, and for the log.  Then
 * the bytes that came after the header are its first input.
 */
static void
conn_proxy_done(struct tcp_worker *t, struct tcp_conn *c, const struct proxy_hdr *h,
    const uint8_t *rest, size_t restlen, uint64_t now)
{
	char what[64];
	enum stat_id why;
	int rule;

	/* A reload may have taken the proxy off trusted_proxies meanwhile. */
	rule = -1;
	if (t->w.params.trusted_proxies != NULL)
		access_allows(t->w.params.trusted_proxies, &c->peer.sa, &rule);
	if (rule < 0) {
		conn_proxy_refuse(t, c, STAT_TCP_PROXY_UNTRUSTED,
		    "no longer one of trusted_proxies (reloaded)", now);
		return;
	}
	stats_add(&t->w.stats, STAT_TCP_PROXY_HEADERS, 1);
	c->state = CONN_READING;
	t->nproxy--;
	if (h->use_addrs && h->src_len <= (socklen_t)sizeof(c->peer)) {
		memcpy(&c->peer, &h->src, h->src_len);
		c->peerlen = h->src_len;
	}
	if (!access_allows(t->w.params.access, &c->peer.sa, &rule)) {
		stats_add(&t->w.stats, STAT_TCP_REFUSED_ACCESS, 1);
		snprintf(what, sizeof(what), ": denied by access rule %d", rule + 1);
		conn_log(t, c, TCP_LOG_DENIED, now, "refused a connection from", "%s", what);
		conn_close(t, c, CONN_END_DONE);
		return;
	}
	if (!tcp_source_admit(t, c, &c->peer.sa, now, &why)) {
		stats_add(&t->w.stats, why, 1);
		conn_log(t, c, TCP_LOG_SOURCE, now, "refused a connection from", ": %s",
		    why == STAT_TCP_REFUSED_RATE ? "limits.connection_rate reached" :
		    "limits.connections_per_source reached");
		conn_close(t, c, CONN_END_DONE);
		return;
	}
	if (restlen > 0)
		conn_serve(t, c, rest, restlen, now);
}

/*
 * CONN_PROXY: read what has come of the header, and act on it when it is
 * whole.  Most headers come in one segment and are parsed from the
 * worker's buffer; one that comes in pieces is kept in c->pp (at most
 * PROXY_MAX_LEN bytes, the parser's promise), and nothing past
 * PROXY_MAX_LEN is read before the header is known.
 */
static void
conn_proxy_read(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	struct proxy_hdr h;
	enum proxy_result r;
	uint8_t *buf, *held;
	size_t consumed, len;
	ssize_t n;

	if (c->pp == NULL)
		n = recv(c->fd, t->rbuf, PROXY_MAX_LEN, 0);
	else
		n = recv(c->fd, c->pp + c->pplen, PROXY_MAX_LEN - c->pplen, 0);
	if (n == 0) {
		conn_proxy_refuse(t, c, STAT_TCP_PROXY_TRUNCATED,
		    "the input ended before a whole PROXY header", now);
		return;
	}
	if (n < 0) {
		if (errno != EAGAIN && errno != EINTR)
			conn_fail(t, c, "read", errno, now);
		return;
	}
	buf = c->pp != NULL ? c->pp : t->rbuf;
	len = (c->pp != NULL ? c->pplen : 0) + (size_t)n;
	r = proxy_parse(buf, len, &h, &consumed);
	if (r == PROXY_NEED_MORE) {
		if (c->pp == NULL) {
			if ((c->pp = malloc(PROXY_MAX_LEN)) == NULL) {
				conn_log(t, c, TCP_LOG_NOMEM, now, "closed the connection from",
				    ": out of memory for its PROXY header");
				conn_close(t, c, CONN_END_ERROR);
				return;
			}
			memcpy(c->pp, t->rbuf, len);
		}
		c->pplen = len;
		return;
	}
	if (r != PROXY_OK) {
		char why[96];

		snprintf(why, sizeof(why), "invalid PROXY header (%s)", proxy_reason(r));
		conn_proxy_refuse(t, c, STAT_TCP_PROXY_INVALID, why, now);
		return;
	}
	/* The client's first bytes may be in buf (c->pp): keep it until they are served. */
	held = c->pp;
	c->pp = NULL;
	c->pplen = 0;
	conn_proxy_done(t, c, &h, buf + consumed, len - consumed, now);
	free(held);
}

/* Connections whose header is not whole within proxy_timeout. */
static void
tcp_sweep_proxy(struct tcp_worker *t, uint64_t now)
{
	struct tcp_conn *c, *next;

	for (c = t->head; c != NULL && t->nproxy > 0; c = next) {
		next = c->next;
		if (c->state == CONN_PROXY && now >= c->pp_deadline_ms)
			conn_proxy_refuse(t, c, STAT_TCP_PROXY_TIMEOUTS,
			    "no whole PROXY header within proxy_timeout", now);
	}
}

/* Send pending output (FLUSHING or DRAINING).  Returns the new state. */
static enum conn_state
conn_flush(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	ssize_t k = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);

	if (k == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return c->state;
		return conn_fail(t, c, "write", errno, now);
	}
	return conn_sent(t, c, (size_t)k, now, false);
}

/*
 * Stopping: serve what the socket already holds; once there is no output
 * pending, nothing left to read and nothing has come for STOP_QUIET_MS,
 * end the input: send the held-back bytes of an incomplete sequence, and
 * linger (conn_owed_sent).  The pause matters for a client we held back:
 * what it sent while we were not reading waits in its own kernel, and
 * comes as we read, but not always before the next read finds nothing.
 * A client that never pauses has its input ended halfway through
 * shutdown_timeout (stop_input_ms), so that what it is owed has the other
 * half to reach it.  What a client sends after its input ended is not
 * served.  shutdown_timeout bounds the whole drain (a client that does not
 * read what it is owed).
 */
static void
conn_stop_step(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	if (now >= t->stop_input_ms) {
		conn_end_input(t, c, now, true);
		return;
	}
	for (int i = 0; i < 16; i++) {
		switch (conn_read(t, c, now)) {
		case CONN_READ_SERVED:
			if (c->state != CONN_READING)
				return;		/* wait for EPOLLOUT */
			continue;
		case CONN_READ_EMPTY:
			if (now - c->last_ms >= STOP_QUIET_MS)
				conn_end_input(t, c, now, true);
			return;		/* else tcp_stop_visit() comes back */
		case CONN_READ_EOF:
		case CONN_READ_CLOSED:
			return;
		}
	}
}

static void
conn_event(struct tcp_worker *t, struct tcp_conn *c, uint32_t ev, uint64_t now)
{
	if (c->state == CONN_LINGERING) {
		conn_linger_step(t, c, now);
		return;
	}
	if (c->state == CONN_PROXY) {
		/* Stopping: nothing is owed to a connection that has not begun. */
		if (t->w.params.draining)
			conn_close(t, c, CONN_END_DONE);
		else
			conn_proxy_read(t, c, now);
		return;
	}
	if (c->state != CONN_READING) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) ||
		    conn_flush(t, c, now) != CONN_READING || !t->w.params.draining)
			return;
		/* flushed while stopping: see whether more is owed */
	}
	if (t->w.params.draining)
		conn_stop_step(t, c, now);
	else if (conn_read(t, c, now) != CONN_READ_CLOSED && t->ring_on &&
	    c->state == CONN_READING && !c->streaming)
		conn_want_input(t, c, now, true);	/* back to the ring */
}

/* ------------------------------------------------------------ accepting */

static void
tcp_listen_add(struct tcp_worker *t, struct ev_tag *tag)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = tag };

	char a[SOCK_NAME_MAX];

	if (epoll_ctl(t->w.epfd, EPOLL_CTL_ADD, tag->fd, &e) == -1 && errno != EEXIST)
		log_warn("cannot watch listener tcp %s", sock_name(tag->fd, a, sizeof(a)));
}

static void
tcp_set_listening(struct tcp_worker *t, bool on)
{
	if (on == t->listening)
		return;
	for (size_t i = 0; i < t->nlst; i++) {
		if (on)
			tcp_listen_add(t, &t->lst[i]);
		else
			epoll_ctl(t->w.epfd, EPOLL_CTL_DEL, t->lst[i].fd, NULL);
	}
	t->listening = on;
}

/* Listen, or not, as the worker's state and its peers' load ask (see balance.h). */
static void
tcp_update_listening(struct tcp_worker *t, uint64_t now)
{
	const struct worker_pool *pool = t->w.pool;
	enum balance_verdict was = t->verdict;
	struct balance_view v = {
		.self = t->w.id,
		.nworkers = worker_pool_size(pool),
		.self_busy = t->w.meter.busy,
		.mine = t->nconns,
		.total = (size_t)__atomic_load_n(tcp_open_count(t), __ATOMIC_RELAXED),
	};

	/* Usually worker 0, at once: the scan ends at the first light one. */
	for (v.first_light = 0; v.first_light < v.nworkers; v.first_light++)
		if (v.first_light == v.self ? !v.self_busy :
		    !worker_busy(worker_pool_get(pool, v.first_light)))
			break;
	t->verdict = t->w.params.draining ? BALANCE_ACCEPT : balance_decide(&v, was);
	if ((t->verdict != BALANCE_ACCEPT && was == BALANCE_ACCEPT) ||
	    v.self_busy != t->was_busy) {
		/*
		 * Stepping back, or busy or light now: have the others look
		 * again now, not at their next tick, so the one that should
		 * accept is listening at once and no burst of connections
		 * overflows the backlog meanwhile.
		 */
		worker_wake_others(&t->w);
	}
	t->was_busy = v.self_busy;
	if (t->emfile_until_ms != 0 && now >= t->emfile_until_ms)
		t->emfile_until_ms = 0;		/* the pause is over */
	tcp_set_listening(t, !t->w.params.draining && !t->w.params.frozen &&
	    t->emfile_until_ms == 0 && t->verdict == BALANCE_ACCEPT);
}

/* Close fd at once, counted in why; the log names the client and what refused it. */
static void
tcp_refuse(struct tcp_worker *t, int fd, enum stat_id why, enum tcp_log_kind k,
    const char *what, const struct sockaddr *sa, socklen_t salen, uint64_t now)
{
	stats_add(&t->w.stats, why, 1);	/* before the client can see it */
	close(fd);
	tcp_log_client(t, k, sa, salen, now, "refused a connection from", ": %s", what);
}

/* The access rules; true if they let the source in (else fd is closed). */
static bool
tcp_access(struct tcp_worker *t, int fd, const struct sockaddr *sa, socklen_t salen,
    uint64_t now)
{
	char what[64];
	int rule;

	if (access_allows(t->w.params.access, sa, &rule))
		return true;
	snprintf(what, sizeof(what), "denied by access rule %d", rule + 1);
	tcp_refuse(t, fd, STAT_TCP_REFUSED_ACCESS, TCP_LOG_DENIED, what, sa, salen, now);
	return false;
}

/*
 * Out of descriptors or memory: trying again at once would fail again (and
 * spin, the listener staying readable), so stop accepting for a while.
 * err: the errno to log, or 0.
 */
static void
tcp_accept_pause(struct tcp_worker *t, const char *what, int err, uint64_t now)
{
	stats_add(&t->w.stats, STAT_TCP_ACCEPT_ERRORS, 1);
	if (ratelimit_allow(&t->rl_accept, now))
		log_warnx("%s (pausing %d ms; %llu more since the last message)%s%s", what,
		    EMFILE_PAUSE_MS, (unsigned long long)ratelimit_take_suppressed(&t->rl_accept),
		    err != 0 ? ": " : "", err != 0 ? strerror(err) : "");
	t->emfile_until_ms = now + EMFILE_PAUSE_MS;
	tcp_set_listening(t, false);
}

/*
 * Serve a connection just accepted, or close it.  False: out of memory,
 * stop accepting.  On a proxy_protocol listener (proxy) the peer must be
 * a trusted proxy; the access rules and per-source limits wait for the
 * client its header names (conn_proxy_done).
 */
static bool
tcp_new_conn(struct tcp_worker *t, int fd, const struct sockaddr *sa, socklen_t salen,
    bool proxy, uint64_t now)
{
	struct epoll_event e = { .events = EPOLLIN };
	char what[160], a[SOCK_NAME_MAX];
	struct tcp_conn *c;
	enum stat_id why;

	if (proxy) {
		int rule = -1;

		if (t->w.params.trusted_proxies != NULL)
			access_allows(t->w.params.trusted_proxies, sa, &rule);
		if (rule < 0) {
			tcp_refuse(t, fd, STAT_TCP_PROXY_UNTRUSTED, TCP_LOG_PROXY,
			    "not one of trusted_proxies (proxy_protocol listener)", sa, salen,
			    now);
			return true;
		}
	} else if (!tcp_access(t, fd, sa, salen, now))
		return true;
	if (__atomic_add_fetch(tcp_open_count(t), 1, __ATOMIC_RELAXED) >
	    t->w.params.max_connections) {
		__atomic_sub_fetch(tcp_open_count(t), 1, __ATOMIC_RELAXED);
		snprintf(what, sizeof(what), "max_connections (%d) reached",
		    t->w.params.max_connections);
		tcp_refuse(t, fd, STAT_TCP_REFUSED_MAXCONN, TCP_LOG_FULL, what, sa, salen, now);
		return true;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		close(fd);
		__atomic_sub_fetch(tcp_open_count(t), 1, __ATOMIC_RELAXED);
		snprintf(what, sizeof(what), "out of memory accepting a connection from %s, "
		    "closed it", addr_format(sa, salen, a, sizeof(a)));
		tcp_accept_pause(t, what, 0, now);
		return false;
	}
	if (!proxy && !tcp_source_admit(t, c, sa, now, &why)) {
		tcp_refuse(t, fd, why, TCP_LOG_SOURCE, why == STAT_TCP_REFUSED_RATE ?
		    "limits.connection_rate reached" : "limits.connections_per_source reached",
		    sa, salen, now);
		free(c);
		goto fail;
	}
	c->kind = EV_CONN;
	c->fd = fd;
	c->state = proxy ? CONN_PROXY : CONN_READING;
	c->pp_deadline_ms = now + (uint64_t)t->w.params.proxy_timeout_ms;
	c->events = EPOLLIN;
	c->last_ms = c->start_ms = c->rx_ms = now;
	c->peerlen = salen < (socklen_t)sizeof(c->peer) ? salen : (socklen_t)sizeof(c->peer);
	memcpy(&c->peer, sa, c->peerlen);
	transform_init(&c->tf, t->w.params.charset);
	e.data.ptr = c;
	if (!t->ring_on || proxy) {	/* else on the ring: conn_want_input below */
		if (epoll_ctl(t->w.epfd, EPOLL_CTL_ADD, fd, &e) == -1) {
			conn_log(t, c, TCP_LOG_ERROR, now, "closed the connection from",
			    ": epoll_ctl: %s", strerror(errno));
			if (c->counted)
				tcp_source_release(t, &c->source);
			free(c);
			close(fd);
			goto fail;
		}
		c->in_epoll = true;
	}
	conn_append(t, c);
	t->nconns++;
	t->nproxy += proxy;
	stats_add(&t->w.stats, STAT_TCP_ACCEPTED, 1);
	if (!c->in_epoll)
		conn_want_input(t, c, now, false);
	return true;
fail:
	__atomic_sub_fetch(tcp_open_count(t), 1, __ATOMIC_RELAXED);
	return true;
}

static void
tcp_accept(struct tcp_worker *t, int lfd, bool proxy, uint64_t now)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		struct sockaddr_storage ss;
		socklen_t sslen = sizeof(ss);
		int fd = accept4(lfd, (struct sockaddr *)&ss, &sslen, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			if (!tcp_new_conn(t, fd, (struct sockaddr *)&ss, sslen, proxy, now))
				return;		/* paused */
			continue;
		}
		switch (sock_accept_error(errno)) {
		case SOCK_ACCEPT_EMPTY:
			return;
		case SOCK_ACCEPT_RETRY:
			continue;
		case SOCK_ACCEPT_BACKOFF:
			tcp_accept_pause(t, "accept", errno, now);
			return;
		case SOCK_ACCEPT_FAILED:
			stats_add(&t->w.stats, STAT_TCP_ACCEPT_ERRORS, 1);
			if (ratelimit_allow(&t->rl_accept, now))
				log_warn("accept");
			return;
		}
	}
}

/* ------------------------------------------------------------ worker_ops */

static struct worker *
tcp_create(void)
{
	struct tcp_worker *t = calloc(1, sizeof(*t));
	uint64_t now = clock_ms();

	if (t == NULL)
		return NULL;
	ratelimit_init(&t->rl_accept, 1, 10000, now);
	ratelimit_init(&t->rl_table, 1, 10000, now);
	for (int k = 0; k < TCP_LOG_KINDS; k++)
		ratelimit_init(&t->rl_log[k], 1, TCP_LOG_INTERVAL_MS, now);
	t->last_sweep_ms = now;
	return &t->w;
}

static void
tcp_destroy(struct worker *w)
{
	uring_close(((struct tcp_worker *)w)->ring);
	free(w);
}

/* Make the worker's listener set match w->params (none while draining). */
static void
tcp_apply(struct worker *w, const struct worker_params *old, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;

	if (w->params.draining && !old->draining) {
		uint64_t dl = w->params.drain_deadline_ms;

		t->stop_input_ms = now + (dl > now ? (dl - now) / 2 : 0);
	}
	tcp_ring_apply(t);
	tcp_set_listening(t, false);
	t->nlst = 0;
	for (size_t i = 0; i < w->params.nlfds; i++) {
		int one = 1;

		/*
		 * An accepted socket inherits TCP_NODELAY from its listener: set
		 * there (on activated and handed-over ones too), not once per
		 * connection.
		 */
		setsockopt(w->params.lfds[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		t->lst[t->nlst].kind = EV_LISTENER;
		t->lst[t->nlst].fd = w->params.lfds[i];
		t->lproxy[t->nlst] = w->params.lproxy[i];
		t->nlst++;
	}
	tcp_update_listening(t, now);
}

static void
tcp_event(struct worker *w, void *tag, uint32_t events, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;
	struct ev_tag *e = tag;

	if (e->kind == EV_CONN)
		conn_event(t, tag, events, now);
	else if (e->kind == EV_LISTENER && t->listening)
		tcp_accept(t, e->fd, t->lproxy[e - t->lst], now);
}

static void
tcp_sweep_idle(struct tcp_worker *t, uint64_t now)
{
	uint64_t limit = (uint64_t)t->w.params.idle_timeout * 1000;

	while (t->head != NULL && now - t->head->last_ms >= limit) {
		conn_log(t, t->head, TCP_LOG_IDLE, now, "closed the idle connection from",
		    " (idle_timeout %d s)", t->w.params.idle_timeout);
		conn_close_owed(t, t->head, CONN_END_IDLE);
	}
}

/*
 * Slow clients: one that trickles a byte now and then is never idle, and
 * many of them could hold every slot.  While more than half the slots of
 * max_connections are taken, a connection at least min_rate_window old
 * whose client sent less than min_rate bytes/s on average since it
 * connected is closed.  Without pressure nobody is cut off, however slowly
 * they type.
 */
static void
tcp_sweep_slow(struct tcp_worker *t, uint64_t now)
{
	const struct worker_params *p = &t->w.params;
	uint64_t window = (uint64_t)p->min_rate_window * 1000;
	struct tcp_conn *c, *next;

	/* Stopping, nobody new waits for a slot: what is owed may take its time. */
	if (p->min_rate == 0 || p->draining ||
	    2 * (uint64_t)__atomic_load_n(tcp_open_count(t), __ATOMIC_RELAXED) <=
	    (uint64_t)p->max_connections)
		return;
	for (c = t->head; c != NULL; c = next) {
		uint64_t age = now - c->start_ms;

		next = c->next;
		if (age >= window && c->bytes_in * 1000 < (uint64_t)p->min_rate * age) {
			conn_log(t, c, TCP_LOG_SLOW, now, "closed the slow connection from",
			    " (%llu bytes in %llu s, below limits.min_rate %d bytes/s)",
			    (unsigned long long)c->bytes_in, (unsigned long long)(age / 1000),
			    p->min_rate);
			conn_close_owed(t, c, CONN_END_SLOW);
		}
	}
}

/*
 * Stopping: visit every connection that is reading or lingering, at once
 * and then every WORKER_TICK_MS.  Again, because conn_stop_step() leaves
 * one reading when all its reads were served: if its client sends nothing
 * more, no event brings it back, and it would wait for shutdown_timeout
 * with its held-back bytes; and no event says that a lingering one's
 * client has acknowledged everything.  Both may move one to the tail
 * (activity): visit only as many as there were, or a busy one comes
 * round again.
 */
static void
tcp_stop_visit(struct tcp_worker *t, uint64_t now)
{
	struct tcp_conn *c = t->head, *next;
	size_t n = t->nconns;

	if (t->drain_begun && now - t->drain_visit_ms < WORKER_TICK_MS)
		return;
	t->drain_begun = true;
	t->drain_visit_ms = now;
	for (; c != NULL && n > 0; c = next, n--) {
		next = c->next;
		if (c->state == CONN_READING)
			conn_stop_step(t, c, now);
		else if (c->state == CONN_LINGERING)
			conn_linger_step(t, c, now);
		else if (c->state == CONN_PROXY)
			conn_close(t, c, CONN_END_DONE);
	}
}

static void
tcp_tick(struct worker *w, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;

	if (w->params.draining)
		tcp_stop_visit(t, now);
	tcp_update_listening(t, now);
	/*
	 * The sweep walks every connection, and tick comes after every batch
	 * of events: behind a busy proxy some connection nearly always waits
	 * for its header, and walking them all per batch doubled the echo
	 * round trip with 8000 open (12.6 to 25.5 us).  Timeouts are whole
	 * seconds.
	 */
	if (t->nproxy > 0 && now - t->last_proxy_sweep_ms >= WORKER_TICK_MS) {
		tcp_sweep_proxy(t, now);
		t->last_proxy_sweep_ms = now;
	}
	if (now - t->last_sweep_ms >= 1000) {
		tcp_sweep_idle(t, now);
		tcp_sweep_slow(t, now);
		t->last_sweep_ms = now;
	}
}

/* The tick, or sooner when an EMFILE pause ends before it. */
static int
tcp_timeout(struct worker *w, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;

	if (t->emfile_until_ms == 0)
		return WORKER_TICK_MS;
	if (now >= t->emfile_until_ms)
		return 0;
	return t->emfile_until_ms - now < WORKER_TICK_MS ?
	    (int)(t->emfile_until_ms - now) : WORKER_TICK_MS;
}

static bool
tcp_drained(struct worker *w)
{
	return ((struct tcp_worker *)w)->nconns == 0;
}

static void
tcp_finish(struct worker *w)
{
	struct tcp_worker *t = (struct tcp_worker *)w;

	struct tcp_conn *c;
	size_t lingering = 0;

	for (c = t->head; c != NULL; c = c->next)
		if (c->state == CONN_LINGERING)
			lingering++;
	if (t->nconns > 0)
		log_warnx("%s, closing %zu connections"
		    " (%zu of them sent all they are owed, not yet taken by their clients)",
		    worker_hurried(w) ? "stop asked for again" : "shutdown_timeout reached",
		    t->nconns, lingering);
	while (t->head != NULL)
		conn_close_owed(t, t->head, CONN_END_SHUTDOWN);
	/* Stopping quiesced it: nothing is in flight.  Closed by the thread that made it. */
	uring_close(t->ring);
	t->ring = NULL;
}

/* Main thread: the per-source table, as big as limits.table_size says. */
static void
tcp_pool_apply(void *shared, const struct worker_params *p)
{
	struct tcp_shared *sh = shared;
	uint32_t want = p->limits.table_size;
	struct srctable *n;

	if (!sh->ready) {
		pthread_mutex_init(&sh->mu, NULL);
		sh->ready = true;
	}
	pthread_mutex_lock(&sh->mu);
	if ((n = srctable_fit(sh->sources, want)) == NULL && sh->sources == NULL)
		fatal("out of memory for limits.table_size = %u", want);
	if (n == NULL)
		log_warn("limits.table_size = %u: keeping %zu entries", want,
		    srctable_capacity(sh->sources));
	else
		sh->sources = n;
	pthread_mutex_unlock(&sh->mu);
}

static void
tcp_pool_destroy(void *shared)
{
	struct tcp_shared *sh = shared;

	if (!sh->ready)
		return;
	srctable_free(sh->sources);
	pthread_mutex_destroy(&sh->mu);
}

/* ------------------------------------------------------------ snapshots */

static const char *
conn_state_name(enum conn_state s)
{
	switch (s) {
	case CONN_READING:   return "reading";
	case CONN_FLUSHING:  return "flushing";
	case CONN_DRAINING:  return "draining";
	case CONN_LINGERING: return "lingering";
	case CONN_PROXY:     return "proxy";
	case CONN_CLOSED:    break;
	}
	return "closed";
}

/*
 * upcase --connections: one line per connection, tab-separated (the
 * control socket's "connections" answer, upcased(8)): client, listener
 * (our local address of the connection), worker, age and idle time in
 * milliseconds, bytes in and out, state.  In list order: the longest idle
 * first.  One getsockname per connection; nothing else is asked of the
 * kernel, and nothing changes.
 */
static void
tcp_snapshot(struct worker *w, struct worker_snap *b, uint32_t limit, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;
	const struct tcp_conn *c;
	char peer[SOCK_NAME_MAX], local[SOCK_NAME_MAX];

	(void)limit;
	for (c = t->head; c != NULL && !b->failed; c = c->next) {
		addr_format(&c->peer.sa, c->peerlen, peer, sizeof(peer));
		sock_name(c->fd, local, sizeof(local));
		worker_snap_printf(b, "%s\t%s\ttcp%d\t%llu\t%llu\t%llu\t%llu\t%s\n", peer, local,
		    w->id, (unsigned long long)(now - c->start_ms),
		    (unsigned long long)(now - c->last_ms), (unsigned long long)c->bytes_in,
		    (unsigned long long)c->bytes_out, conn_state_name(c->state));
	}
}

size_t
tcp_pool_top_sources(struct worker_pool *pool, struct src_entry *out, size_t n)
{
	struct tcp_shared *sh = worker_pool_shared(pool);
	size_t k;

	if (!sh->ready)
		return 0;
	/* Held for one pass over the table; what we keep is the copy. */
	pthread_mutex_lock(&sh->mu);
	k = srctable_top(sh->sources, out, n);
	pthread_mutex_unlock(&sh->mu);
	return k;
}

/* ------------------------------------------------------------ live upgrade */

long
tcp_pool_export(struct worker_pool *pool, struct handover_buf *b, struct fdvec *fds)
{
	long n = 0;

	for (int i = 0; i < worker_pool_size(pool); i++) {
		const struct tcp_worker *t = (const struct tcp_worker *)worker_pool_get(pool, i);

		for (const struct tcp_conn *c = t->head; c != NULL; c = c->next) {
			struct ho_conn h;

			memset(&h, 0, sizeof(h));
			switch (c->state) {
			case CONN_READING:  h.state = HO_CONN_READING; break;
			case CONN_FLUSHING: h.state = HO_CONN_FLUSHING; break;
			case CONN_DRAINING: h.state = HO_CONN_DRAINING; break;
			case CONN_PROXY:    h.state = HO_CONN_PROXY; break;
			case CONN_LINGERING:
			case CONN_CLOSED:
				continue;	/* stopping only: no upgrade then */
			}
			if ((h.fd = fdvec_push(fds, c->fd)) == UINT32_MAX)
				return -1;
			h.charset = (uint8_t)c->tf.charset;
			h.ncarry = c->tf.ncarry;
			memcpy(h.carry, c->tf.carry, sizeof(h.carry));
			h.start_ms = c->start_ms;
			h.last_ms = c->last_ms;
			h.rx_ms = c->rx_ms;
			h.bytes_in = c->bytes_in;
			h.bytes_out = c->bytes_out;
			h.proxy_deadline_ms = c->pp_deadline_ms;
			memcpy(&h.peer, &c->peer, c->peerlen);
			h.peerlen = c->peerlen;
			if (c->out != NULL) {
				h.out = c->out + c->outoff;
				h.outlen = c->outlen - c->outoff;
			}
			if (c->state == CONN_PROXY && c->pp != NULL) {
				h.proxy = c->pp;
				h.proxylen = c->pplen;
			}
			handover_put_conn(b, &h);
			n++;
		}
	}
	return b->failed ? -1 : n;
}

/* Oldest activity first, as the list keeps them (tcp_sweep_idle looks at the head). */
static int
adopt_order(const void *a, const void *b)
{
	const struct tcp_conn *x = *(struct tcp_conn *const *)a;
	const struct tcp_conn *y = *(struct tcp_conn *const *)b;

	return x->last_ms < y->last_ms ? -1 : x->last_ms > y->last_ms;
}

/*
 * A connection handed over counts against its source's per-source limit
 * as it did in the old process (no rate is charged: it was admitted
 * already).  No room in the table: uncounted, as at accept.
 */
static void
tcp_adopt_source(struct tcp_worker *t, struct tcp_conn *c, uint64_t now)
{
	const struct worker_source_limits *l = &t->w.params.limits;
	struct tcp_shared *sh = tcp_shared(t);
	struct src_entry *e;

	if (c->state == CONN_PROXY || tcp_source_unlimited(l, &c->peer.sa) ||
	    src_key_from_sockaddr(&c->peer.sa, l->ipv4_prefix, l->ipv6_prefix, false,
	    &c->source) == -1)
		return;
	pthread_mutex_lock(&sh->mu);
	if ((e = srctable_get(sh->sources, &c->source, now)) != NULL) {
		e->open++;
		c->counted = true;
	}
	pthread_mutex_unlock(&sh->mu);
}

static struct tcp_conn *
tcp_adopt_one(struct tcp_worker *t, const struct ho_conn *h, int fd, uint64_t now)
{
	struct epoll_event e;
	struct tcp_conn *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	c->kind = EV_CONN;
	c->fd = fd;
	switch (h->state) {
	case HO_CONN_READING:  c->state = CONN_READING; break;
	case HO_CONN_FLUSHING: c->state = CONN_FLUSHING; break;
	case HO_CONN_DRAINING: c->state = CONN_DRAINING; break;
	case HO_CONN_PROXY:    c->state = CONN_PROXY; break;
	}
	transform_init(&c->tf, (enum transform_charset)h->charset);
	c->tf.ncarry = h->ncarry;
	memcpy(c->tf.carry, h->carry, sizeof(c->tf.carry));
	c->start_ms = h->start_ms;
	c->last_ms = h->last_ms;
	c->rx_ms = h->rx_ms;
	c->bytes_in = h->bytes_in;
	c->bytes_out = h->bytes_out;
	c->pp_deadline_ms = h->proxy_deadline_ms;
	c->peerlen = h->peerlen <= sizeof(c->peer) ? h->peerlen : (socklen_t)sizeof(c->peer);
	memcpy(&c->peer, &h->peer, c->peerlen);
	if (h->outlen > 0) {
		if ((c->out = malloc(h->outlen)) == NULL)
			goto fail;
		memcpy(c->out, h->out, h->outlen);
		c->outlen = h->outlen;
	} else if (c->state == CONN_FLUSHING)
		c->state = CONN_READING;	/* nothing pending after all */
	if (c->state == CONN_PROXY && h->proxylen > 0) {
		if (h->proxylen > PROXY_MAX_LEN || (c->pp = malloc(PROXY_MAX_LEN)) == NULL)
			goto fail;
		memcpy(c->pp, h->proxy, h->proxylen);
		c->pplen = h->proxylen;
	}
	c->events = c->state == CONN_FLUSHING || c->state == CONN_DRAINING ? EPOLLOUT : EPOLLIN;
	e.events = c->events;
	e.data.ptr = c;
	if (epoll_ctl(t->w.epfd, EPOLL_CTL_ADD, fd, &e) == -1)
		goto fail;
	c->in_epoll = true;	/* to the ring, if it serves there, at its next read */
	tcp_adopt_source(t, c, now);
	return c;
fail:
	free(c->out);
	free(c->pp);
	free(c);
	return NULL;
}

static void
tcp_adopt(struct worker *w, void *arg, uint64_t now)
{
	struct tcp_worker *t = (struct tcp_worker *)w;
	const struct tcp_adopt *a = arg;
	struct tcp_conn **v;
	size_t k = 0, lost = 0;

	if ((v = calloc(a->n ? a->n : 1, sizeof(*v))) == NULL)
		fatal("out of memory adopting %zu connections", a->n);
	for (size_t i = 0; i < a->n; i++) {
		if ((v[k] = tcp_adopt_one(t, a->c[i], a->fd[i], now)) != NULL)
			k++;
		else {
			close(a->fd[i]);
			lost++;
		}
	}
	qsort(v, k, sizeof(*v), adopt_order);
	for (size_t i = 0; i < k; i++) {
		conn_append(t, v[i]);
		t->nconns++;
		t->nproxy += v[i]->state == CONN_PROXY;
		__atomic_add_fetch(tcp_open_count(t), 1, __ATOMIC_RELAXED);
		/* The old process's total counted it accepted: the caller takes one off there. */
		stats_add(&t->w.stats, STAT_TCP_ACCEPTED, 1);
	}
	free(v);
	if (lost > 0)
		log_warnx("live upgrade: closed %zu of the connections handed over: out of "
		    "memory", lost);
	tcp_update_listening(t, now);
}

const struct worker_ops tcp_worker_ops = {
	.name        = "tcp",
	.shared_size = sizeof(struct tcp_shared),
	.pool_apply  = tcp_pool_apply,
	.pool_destroy = tcp_pool_destroy,
	.create      = tcp_create,
	.destroy     = tcp_destroy,
	.apply       = tcp_apply,
	.adopt       = tcp_adopt,
	.wait        = tcp_wait,
	.reap        = tcp_reap,
	.event       = tcp_event,
	.tick        = tcp_tick,
	.timeout     = tcp_timeout,
	.drained     = tcp_drained,
	.finish      = tcp_finish,
	.snapshot    = tcp_snapshot,
};
