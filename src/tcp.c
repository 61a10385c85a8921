/*
 * tcp.c: TCP workers.  Each worker owns an epoll loop, its connections and
 * its counters; the listening sockets are shared, registered with
 * EPOLLEXCLUSIVE in every worker (see worker.h).
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
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "ratelimit.h"
#include "tcp.h"
#include "transform.h"

#define EV_LISTENER 1
#define EV_CONN     2
#define EV_WAKE     3

#define ACCEPT_BATCH     64      /* accepts per listener event */
#define EMFILE_PAUSE_MS  100     /* back-off when out of descriptors */
#define EPOLL_BATCH      256

struct tcp_conn {
	int      kind;               /* EV_CONN; first, see struct ev_tag */
	int      fd;
	uint32_t events;             /* current epoll interest */
	bool     rd_eof;             /* client shut down its sending side */
	struct transform tf;
	uint8_t *out;                /* unsent output, or NULL */
	size_t   outlen, outoff;
	uint64_t last_ms;            /* last progress, for idle_timeout */
	struct tcp_conn *prev, *next; /* worker's list, oldest activity first */
};

struct ev_tag {
	int kind;
	int fd;
};

struct tcp_worker {
	int      id;
	pthread_t thread;
	struct tcp_pool *pool;
	int      epfd;
	int      evfd;
	struct ev_tag wake;
	uint64_t gen;
	struct worker_params params;     /* the worker's own copy */
	struct ev_tag lst[WORKER_MAX_LISTENERS];
	size_t   nlst;
	bool     listening;              /* the listeners are in our epoll set */
	uint64_t emfile_until_ms;        /* accepting paused: out of descriptors */
	bool     over_share;             /* accepting paused: we hold too many */
	struct tcp_conn *head, *tail;
	size_t   nconns;
	uint8_t *rbuf;                   /* TCP_READ_CHUNK */
	uint8_t *wbuf;                   /* TRANSFORM_BOUND(TCP_READ_CHUNK) */
	struct ratelimit rl_refused, rl_accept;
	uint64_t last_sweep_ms;
	uint64_t heartbeat;              /* read by the main thread */
	struct stats stats;              /* written here only */
};

struct tcp_pool {
	struct mailbox mb;
	struct tcp_worker *w;
	int      n;
	int     *evfds;
	int      open;                   /* open connections, all workers (atomic) */
};

/* ------------------------------------------------------------ connection list */

static void
conn_unlink(struct tcp_worker *w, struct tcp_conn *c)
{
	if (c->prev) c->prev->next = c->next; else w->head = c->next;
	if (c->next) c->next->prev = c->prev; else w->tail = c->prev;
	c->prev = c->next = NULL;
}

static void
conn_append(struct tcp_worker *w, struct tcp_conn *c)
{
	c->prev = w->tail;
	c->next = NULL;
	if (w->tail) w->tail->next = c; else w->head = c;
	w->tail = c;
}

static void
conn_touch(struct tcp_worker *w, struct tcp_conn *c, uint64_t now)
{
	c->last_ms = now;
	if (w->tail != c) {
		conn_unlink(w, c);
		conn_append(w, c);
	}
}

static void
conn_close(struct tcp_worker *w, struct tcp_conn *c, enum stat_id why)
{
	if (why != STAT__COUNT)
		stats_add(&w->stats, why, 1);
	stats_add(&w->stats, STAT_TCP_CLOSED, 1);
	conn_unlink(w, c);
	w->nconns--;
	__atomic_sub_fetch(&w->pool->open, 1, __ATOMIC_RELAXED);
	close(c->fd);	/* also removes it from epoll */
	free(c->out);
	free(c);
}

static int
conn_set_events(struct tcp_worker *w, struct tcp_conn *c, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.ptr = c };

	if (c->events == ev)
		return 0;
	if (epoll_ctl(w->epfd, EPOLL_CTL_MOD, c->fd, &e) == -1) {
		log_warn("worker %d: epoll_ctl", w->id);
		return -1;
	}
	c->events = ev;
	return 0;
}

/* ------------------------------------------------------------ connection I/O */

/* Write buf; keep what the socket does not take.  -1: the connection is gone. */
static int
conn_send(struct tcp_worker *w, struct tcp_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t k = 0;

	if (len > 0) {
		k = send(c->fd, buf, len, MSG_NOSIGNAL);
		if (k == -1) {
			if (errno != EAGAIN && errno != EINTR) {
				conn_close(w, c, STAT_TCP_RESETS);
				return -1;
			}
			k = 0;
		}
		stats_add(&w->stats, STAT_TCP_BYTES_OUT, (uint64_t)k);
	}
	if ((size_t)k < len) {
		c->outlen = len - (size_t)k;
		c->outoff = 0;
		c->out = malloc(c->outlen);
		if (c->out == NULL) {
			log_warn("worker %d: out of memory for a connection", w->id);
			conn_close(w, c, STAT_TCP_RESETS);
			return -1;
		}
		memcpy(c->out, buf + k, c->outlen);
		if (conn_set_events(w, c, EPOLLOUT) == -1) {
			conn_close(w, c, STAT_TCP_RESETS);
			return -1;
		}
		return 0;
	}
	if (c->rd_eof) {	/* everything owed is sent */
		conn_close(w, c, STAT__COUNT);
		return -1;
	}
	return 0;
}

/* One read.  Returns 1 if data was served, 0 on EAGAIN, -1 if the connection is gone. */
static int
conn_read(struct tcp_worker *w, struct tcp_conn *c, uint64_t now)
{
	ssize_t n;
	size_t m;

	n = recv(c->fd, w->rbuf, TCP_READ_CHUNK, 0);
	if (n > 0) {
		stats_add(&w->stats, STAT_TCP_BYTES_IN, (uint64_t)n);
		conn_touch(w, c, now);
		m = transform_feed(&c->tf, w->rbuf, (size_t)n, w->wbuf);
		return conn_send(w, c, w->wbuf, m) == 0 ? 1 : -1;
	}
	if (n == 0) {
		c->rd_eof = true;
		m = transform_finish(&c->tf, w->wbuf);
		conn_send(w, c, w->wbuf, m);
		return -1;	/* closed, or now only waiting to flush */
	}
	if (errno == EAGAIN || errno == EINTR)
		return 0;
	conn_close(w, c, STAT_TCP_RESETS);
	return -1;
}

/* Send pending output.  Returns -1 if the connection is gone. */
static int
conn_flush(struct tcp_worker *w, struct tcp_conn *c, uint64_t now)
{
	ssize_t k;

	k = send(c->fd, c->out + c->outoff, c->outlen - c->outoff, MSG_NOSIGNAL);
	if (k == -1) {
		if (errno == EAGAIN || errno == EINTR)
			return 0;
		conn_close(w, c, STAT_TCP_RESETS);
		return -1;
	}
	stats_add(&w->stats, STAT_TCP_BYTES_OUT, (uint64_t)k);
	conn_touch(w, c, now);
	c->outoff += (size_t)k;
	if (c->outoff < c->outlen)
		return 0;
	free(c->out);	/* an idle connection holds no buffer */
	c->out = NULL;
	c->outlen = c->outoff = 0;
	if (c->rd_eof) {
		conn_close(w, c, STAT__COUNT);
		return -1;
	}
	if (conn_set_events(w, c, EPOLLIN) == -1) {
		conn_close(w, c, STAT_TCP_RESETS);
		return -1;
	}
	return 0;
}

/*
 * Shutting down: serve what the socket already holds, and close once
 * nothing is owed: no output pending and nothing left to read.  What a
 * client sends after that point is not served.  shutdown_timeout bounds
 * the whole drain (a client that does not read what it is owed).
 */
static void
conn_drain_step(struct tcp_worker *w, struct tcp_conn *c, uint64_t now)
{
	for (int i = 0; i < 16; i++) {
		if (c->out != NULL)
			return;		/* wait for EPOLLOUT */
		switch (conn_read(w, c, now)) {
		case -1:
			return;
		case 0:
			conn_close(w, c, STAT__COUNT);
			return;
		}
	}
}

static void
conn_event(struct tcp_worker *w, struct tcp_conn *c, uint32_t ev, uint64_t now)
{
	if (c->out != NULL) {
		if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) || conn_flush(w, c, now) == -1 ||
		    c->out != NULL || !w->params.draining)
			return;
		/* flushed while draining: see whether more is owed */
	}
	if (w->params.draining)
		conn_drain_step(w, c, now);
	else
		conn_read(w, c, now);
}

/* ------------------------------------------------------------ accepting */

static void
worker_listen_add(struct tcp_worker *w, struct ev_tag *t)
{
	struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = t };

	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, t->fd, &e) == -1 && errno != EEXIST)
		log_warn("worker %d: cannot watch listener %d", w->id, t->fd);
}

static void
worker_set_listening(struct tcp_worker *w, bool on)
{
	if (on == w->listening)
		return;
	for (size_t i = 0; i < w->nlst; i++) {
		if (on)
			worker_listen_add(w, &w->lst[i]);
		else
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, w->lst[i].fd, NULL);
	}
	w->listening = on;
}

/*
 * EPOLLEXCLUSIVE wakes the first idle worker in line, so one worker would
 * win almost every accept and keep those connections for good.  A worker
 * holding clearly more than its share stops accepting until it is back
 * near it; the least loaded worker is never over its share, so someone
 * always accepts.
 */
#define BALANCE_SLACK 16

static bool
worker_over_share(const struct tcp_worker *w)
{
	size_t share;

	if (w->pool->n < 2 || w->params.draining)
		return false;
	share = (size_t)__atomic_load_n(&w->pool->open, __ATOMIC_RELAXED) / (size_t)w->pool->n;
	if (w->over_share)
		return w->nconns > share + BALANCE_SLACK / 2;
	return w->nconns > share + share / 8 + BALANCE_SLACK;
}

/* Listen, or not, as the worker's state asks. */
static void
worker_update_listening(struct tcp_worker *w, uint64_t now)
{
	bool was_over = w->over_share;

	w->over_share = worker_over_share(w);
	if (w->over_share && !was_over) {
		/*
		 * Stepping back: have the others look again now, not at their
		 * next tick, so the least loaded one is listening at once and
		 * no burst of connections overflows the backlog meanwhile.
		 */
		for (int i = 0; i < w->pool->n; i++)
			if (&w->pool->w[i] != w)
				worker_wake(w->pool->w[i].evfd);
	}
	if (w->emfile_until_ms != 0 && now >= w->emfile_until_ms)
		w->emfile_until_ms = 0;		/* the pause is over */
	worker_set_listening(w, !w->params.draining && w->emfile_until_ms == 0 &&
	    !w->over_share);
}

static void
worker_refuse(struct tcp_worker *w, int fd, uint64_t now)
{
	stats_add(&w->stats, STAT_TCP_REFUSED_MAXCONN, 1);	/* before the client can see it */
	close(fd);
	if (ratelimit_allow(&w->rl_refused, now)) {
		uint64_t more = ratelimit_take_suppressed(&w->rl_refused);
		log_warnx("max_connections (%d) reached: refusing new connections"
		    " (%llu more refused since the last message)",
		    w->params.max_connections, (unsigned long long)more);
	}
}

static void
worker_new_conn(struct tcp_worker *w, int fd, uint64_t now)
{
	struct tcp_conn *c;
	struct epoll_event e;
	int one = 1;

	if (__atomic_add_fetch(&w->pool->open, 1, __ATOMIC_RELAXED) > w->params.max_connections) {
		__atomic_sub_fetch(&w->pool->open, 1, __ATOMIC_RELAXED);
		worker_refuse(w, fd, now);
		return;
	}
	c = calloc(1, sizeof(*c));
	if (c == NULL) {
		__atomic_sub_fetch(&w->pool->open, 1, __ATOMIC_RELAXED);
		log_warn("worker %d: out of memory accepting", w->id);
		close(fd);
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->kind = EV_CONN;
	c->fd = fd;
	c->events = EPOLLIN;
	c->last_ms = now;
	transform_init(&c->tf, w->params.charset);
	e.events = EPOLLIN;
	e.data.ptr = c;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, fd, &e) == -1) {
		__atomic_sub_fetch(&w->pool->open, 1, __ATOMIC_RELAXED);
		log_warn("worker %d: epoll_ctl add", w->id);
		close(fd);
		free(c);
		return;
	}
	conn_append(w, c);
	w->nconns++;
	stats_add(&w->stats, STAT_TCP_ACCEPTED, 1);
}

static void
worker_accept(struct tcp_worker *w, int lfd, uint64_t now)
{
	for (int i = 0; i < ACCEPT_BATCH; i++) {
		int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd >= 0) {
			worker_new_conn(w, fd, now);
			continue;
		}
		switch (errno) {
		case EAGAIN:
			return;
		case EINTR:
		case ECONNABORTED:
		case EPROTO:
		case EPERM:
			continue;
		case EMFILE:
		case ENFILE:
		case ENOBUFS:
		case ENOMEM:
			stats_add(&w->stats, STAT_TCP_ACCEPT_ERRORS, 1);
			if (ratelimit_allow(&w->rl_accept, now))
				log_warn("worker %d: accept (pausing %d ms)", w->id, EMFILE_PAUSE_MS);
			w->emfile_until_ms = now + EMFILE_PAUSE_MS;
			worker_set_listening(w, false);
			return;
		default:
			stats_add(&w->stats, STAT_TCP_ACCEPT_ERRORS, 1);
			if (ratelimit_allow(&w->rl_accept, now))
				log_warn("worker %d: accept", w->id);
			return;
		}
	}
}

/* ------------------------------------------------------------ settings */

/* Make the worker's epoll set match the listeners in params. */
/* Make the worker's listener set match w->params (none while draining). */
static void
worker_sync_listeners(struct tcp_worker *w, uint64_t now)
{
	worker_set_listening(w, false);
	w->nlst = 0;
	for (size_t i = 0; i < w->params.nlfds; i++) {
		w->lst[w->nlst].kind = EV_LISTENER;
		w->lst[w->nlst].fd = w->params.lfds[i];
		w->nlst++;
	}
	worker_update_listening(w, now);
}

static void
worker_take_params(struct tcp_worker *w, uint64_t now)
{
	struct worker_params p;
	bool was_draining = w->params.draining;

	if (!mailbox_take(&w->pool->mb, &w->gen, &p))
		return;
	w->params = p;
	worker_sync_listeners(w, now);
	mailbox_done(&w->pool->mb);
	if (p.draining && !was_draining) {
		/*
		 * conn_drain_step() may move a connection to the tail (activity):
		 * visit only as many as there were, or a busy one comes round again.
		 */
		struct tcp_conn *c = w->head, *next;
		size_t n = w->nconns;

		for (; c != NULL && n > 0; c = next, n--) {
			next = c->next;
			if (c->out == NULL)
				conn_drain_step(w, c, now);
		}
	}
}

/* ------------------------------------------------------------ the loop */

static void
worker_sweep_idle(struct tcp_worker *w, uint64_t now)
{
	uint64_t limit = (uint64_t)w->params.idle_timeout * 1000;

	while (w->head != NULL && now - w->head->last_ms >= limit) {
		log_debug("worker %d: closing idle connection %d", w->id, w->head->fd);
		conn_close(w, w->head, STAT_TCP_IDLE_TIMEOUTS);
	}
}

static void
worker_close_all(struct tcp_worker *w)
{
	while (w->head != NULL)
		conn_close(w, w->head, STAT__COUNT);
}

/* The tick, or sooner when an EMFILE pause ends before it. */
static int
worker_timeout(const struct tcp_worker *w)
{
	uint64_t now;

	if (w->emfile_until_ms == 0)
		return WORKER_TICK_MS;
	now = worker_now_ms();
	if (now >= w->emfile_until_ms)
		return 0;
	return w->emfile_until_ms - now < WORKER_TICK_MS ?
	    (int)(w->emfile_until_ms - now) : WORKER_TICK_MS;
}

static void *
worker_main(void *arg)
{
	struct tcp_worker *w = arg;
	struct epoll_event ev[EPOLL_BATCH];
	char name[16];

	snprintf(name, sizeof(name), "upcased-tcp%d", w->id);
	worker_thread_setup(name);
	for (;;) {
		int n = epoll_wait(w->epfd, ev, EPOLL_BATCH, worker_timeout(w));
		uint64_t now = worker_now_ms();
		bool wake = false;

		if (n == -1 && errno != EINTR)
			fatal("worker %d: epoll_wait", w->id);
		for (int i = 0; i < n; i++) {
			struct ev_tag *t = ev[i].data.ptr;

			if (t->kind == EV_CONN)
				conn_event(w, ev[i].data.ptr, ev[i].events, now);
			else if (t->kind == EV_LISTENER && w->listening)
				worker_accept(w, t->fd, now);
			else if (t->kind == EV_WAKE)
				wake = true;
		}
		/* Settings change only here, after the batch, so no event points at a stale tag. */
		if (wake) {
			worker_eventfd_drain(w->evfd);
			worker_take_params(w, now);
		}
		worker_update_listening(w, now);
		if (now - w->last_sweep_ms >= 1000) {
			worker_sweep_idle(w, now);
			w->last_sweep_ms = now;
		}
		__atomic_add_fetch(&w->heartbeat, 1, __ATOMIC_RELAXED);
		if (w->params.draining && (w->nconns == 0 || now >= w->params.drain_deadline_ms))
			break;
	}
	if (w->nconns > 0)
		log_warnx("worker %d: shutdown_timeout reached, closing %zu connections",
		    w->id, w->nconns);
	worker_close_all(w);
	return NULL;
}

/* ------------------------------------------------------------ the pool */

static void
worker_init(struct tcp_pool *pool, struct tcp_worker *w, int id, const struct worker_params *p)
{
	struct epoll_event e;
	uint64_t now = worker_now_ms();

	memset(w, 0, sizeof(*w));
	w->id = id;
	w->pool = pool;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (w->epfd == -1)
		fatal("epoll_create1");
	w->evfd = worker_eventfd();
	w->wake.kind = EV_WAKE;
	w->wake.fd = w->evfd;
	e.events = EPOLLIN;
	e.data.ptr = &w->wake;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &e) == -1)
		fatal("epoll_ctl");
	w->rbuf = malloc(TCP_READ_CHUNK);
	w->wbuf = malloc(TRANSFORM_BOUND(TCP_READ_CHUNK));
	if (w->rbuf == NULL || w->wbuf == NULL)
		fatal("malloc");
	ratelimit_init(&w->rl_refused, 1, 10000, now);
	ratelimit_init(&w->rl_accept, 1, 10000, now);
	w->last_sweep_ms = now;
	w->params = *p;
	w->gen = pool->mb.gen;
	worker_sync_listeners(w, now);
}

struct tcp_pool *
tcp_pool_create(int nthreads, const struct worker_params *p)
{
	struct tcp_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL || (pool->w = calloc((size_t)nthreads, sizeof(*pool->w))) == NULL ||
	    (pool->evfds = calloc((size_t)nthreads, sizeof(int))) == NULL)
		fatal("calloc");
	pool->n = nthreads;
	mailbox_init(&pool->mb, nthreads, p);
	for (int i = 0; i < nthreads; i++) {
		worker_init(pool, &pool->w[i], i, p);
		pool->evfds[i] = pool->w[i].evfd;
	}
	for (int i = 0; i < nthreads; i++) {
		int e = pthread_create(&pool->w[i].thread, NULL, worker_main, &pool->w[i]);
		if (e != 0) {
			errno = e;
			fatal("pthread_create");
		}
	}
	return pool;
}

void
tcp_pool_apply(struct tcp_pool *pool, const struct worker_params *p)
{
	mailbox_post(&pool->mb, p, pool->evfds, pool->n);
}

void
tcp_pool_drain(struct tcp_pool *pool, uint64_t deadline_ms)
{
	struct worker_params p = pool->mb.params;

	p.draining = true;
	p.drain_deadline_ms = deadline_ms;
	p.nlfds = 0;
	mailbox_post(&pool->mb, &p, pool->evfds, pool->n);
}

void
tcp_pool_join(struct tcp_pool *pool)
{
	for (int i = 0; i < pool->n; i++)
		pthread_join(pool->w[i].thread, NULL);
}

void
tcp_pool_destroy(struct tcp_pool *pool)
{
	if (pool == NULL)
		return;
	for (int i = 0; i < pool->n; i++) {
		close(pool->w[i].epfd);
		close(pool->w[i].evfd);
		free(pool->w[i].rbuf);
		free(pool->w[i].wbuf);
	}
	mailbox_destroy(&pool->mb);
	free(pool->evfds);
	free(pool->w);
	free(pool);
}

int
tcp_pool_nthreads(const struct tcp_pool *pool)
{
	return pool->n;
}

void
tcp_pool_stats(const struct tcp_pool *pool, struct stats *total)
{
	for (int i = 0; i < pool->n; i++)
		stats_sum_into(total, &pool->w[i].stats);
}

uint64_t
tcp_pool_worker_open(const struct tcp_pool *pool, int i)
{
	const struct stats *st = &pool->w[i].stats;
	uint64_t accepted = stats_get(st, STAT_TCP_ACCEPTED), closed = stats_get(st, STAT_TCP_CLOSED);

	return accepted < closed ? 0 : accepted - closed;	/* two unordered loads */
}

uint64_t
tcp_pool_heartbeat(const struct tcp_pool *pool, int i)
{
	return __atomic_load_n(&pool->w[i].heartbeat, __ATOMIC_RELAXED);
}
