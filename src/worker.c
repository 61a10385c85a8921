/* SPDX-License-Identifier: ISC */
/*
 * worker.c: the one worker loop, the pools that run it, and the mailbox
 * through which the main thread hands them settings (see worker.h for the
 * threading model).
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "worker.h"

#define WORKER_EPOLL_BATCH 256

/* The main thread posts settings; each worker takes them and acknowledges. */
struct mailbox {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	uint64_t gen;                 /* bumped on every post */
	int      nacked;              /* workers that applied gen */
	struct worker_params params;  /* protected by mu */
};

struct worker_pool {
	const struct worker_ops *ops;
	struct mailbox mb;
	struct worker **w;
	pthread_t *threads;
	int      n;
	void    *shared;              /* ops->shared_size bytes */
	int      running;             /* atomic: workers not yet out of their loop and finish */
	int      donefd;              /* eventfd: readable once running is 0 */
	bool     hurry;               /* atomic: draining, the deadline is now */
	/* Snapshots (worker.h): seq and busy are the main thread's. */
	uint64_t snap_seq;            /* the last asked for */
	bool     snap_busy;           /* asked for, not yet seen ready by the main thread */
	uint32_t snap_limit;          /* written before the workers are told (release) */
	int      snap_pending;        /* atomic: workers yet to write their rows */
	int      snapfd;              /* eventfd: readable once snap_pending is 0 */
};

/* Anyone may wake a worker; its eventfd's epoll tag is the worker itself. */
static void
worker_wake(const struct worker *w)
{
	uint64_t one = 1;

	while (write(w->evfd, &one, sizeof(one)) == -1 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ mailbox */

/* Main thread: publish p, wake every worker, wait until each applied it. */
static void
mailbox_post(struct worker_pool *pool, const struct worker_params *p)
{
	struct mailbox *mb = &pool->mb;

	pthread_mutex_lock(&mb->mu);
	mb->params = *p;
	mb->gen++;
	mb->nacked = 0;
	pthread_mutex_unlock(&mb->mu);
	for (int i = 0; i < pool->n; i++)
		worker_wake(pool->w[i]);
	pthread_mutex_lock(&mb->mu);
	while (mb->nacked < pool->n)
		pthread_cond_wait(&mb->cv, &mb->mu);
	pthread_mutex_unlock(&mb->mu);
}

/* Worker: the posted params, if the generation moved. */
static bool
mailbox_take(struct mailbox *mb, uint64_t *gen, struct worker_params *out)
{
	bool moved = false;

	pthread_mutex_lock(&mb->mu);
	if (*gen != mb->gen) {
		*out = mb->params;
		*gen = mb->gen;
		moved = true;
	}
	pthread_mutex_unlock(&mb->mu);
	return moved;
}

static void
mailbox_ack(struct mailbox *mb)
{
	pthread_mutex_lock(&mb->mu);
	mb->nacked++;
	pthread_cond_broadcast(&mb->cv);
	pthread_mutex_unlock(&mb->mu);
}

/* ------------------------------------------------------------ the loop */

/* Apply what the mailbox holds, if new; the ack tells the main thread we let go. */
static void
worker_take_params(struct worker *w, uint64_t now)
{
	struct worker_params p, old;
	uint64_t v;

	while (read(w->evfd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
	if (!mailbox_take(&w->pool->mb, &w->gen, &p))
		return;		/* woken by a peer (worker_wake_others) */
	old = w->params;
	w->params = p;
	w->pool->ops->apply(w, &old, now);
	mailbox_ack(&w->pool->mb);
}

static void
worker_thread_setup(const struct worker *w)
{
	char name[16];
	sigset_t all;

	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, NULL);
	snprintf(name, sizeof(name), "%s%d", w->pool->ops->name, w->id);
	log_set_thread_name(name);
	snprintf(name, sizeof(name), "upcased-%s%d", w->pool->ops->name, w->id);
	pthread_setname_np(pthread_self(), name);
}

/* ------------------------------------------------------------ snapshots */

void
worker_snap_append(struct worker_snap *b, const void *p, size_t len)
{
	/* Nothing (p may then be NULL: memcpy must not be given it). */
	if (b->failed || len == 0)
		return;
	if (b->cap - b->len < len) {
		size_t cap = b->cap ? b->cap : 4096;
		char *n;

		while (cap - b->len < len)
			cap *= 2;
		if ((n = realloc(b->buf, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->buf = n;
		b->cap = cap;
	}
	memcpy(b->buf + b->len, p, len);
	b->len += len;
}

void
worker_snap_printf(struct worker_snap *b, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		worker_snap_append(b, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

/* Worker: write the rows asked for, if a snapshot was; the last one tells the main thread. */
static void
worker_take_snapshot(struct worker *w, uint64_t now)
{
	struct worker_pool *pool = w->pool;
	uint64_t want = __atomic_load_n(&w->snap_want, __ATOMIC_SEQ_CST);
	uint64_t claimed = __atomic_load_n(&w->snap_claim, __ATOMIC_ACQUIRE);
	uint64_t one = 1;

	if (want == claimed || !__atomic_compare_exchange_n(&w->snap_claim, &claimed, want,
	    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;		/* none asked for, or the main thread answered for us */
	w->snap.len = 0;
	w->snap.failed = false;
	if (pool->ops->snapshot != NULL)
		pool->ops->snapshot(w, &w->snap, pool->snap_limit, now);
	if (__atomic_sub_fetch(&pool->snap_pending, 1, __ATOMIC_ACQ_REL) == 0)
		while (write(pool->snapfd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
}

bool
worker_pool_snapshot_begin(struct worker_pool *pool, uint32_t limit)
{
	if (pool->snap_busy || worker_pool_done(pool))
		return false;
	pool->snap_busy = true;
	pool->snap_seq++;
	pool->snap_limit = limit;
	__atomic_store_n(&pool->snap_pending, pool->n, __ATOMIC_RELEASE);
	for (int i = 0; i < pool->n; i++) {
		__atomic_store_n(&pool->w[i]->snap_want, pool->snap_seq, __ATOMIC_SEQ_CST);
		worker_wake(pool->w[i]);
	}
	/*
	 * A worker out of its loop answers no more: answer for it, unless it
	 * claimed this one in its last look.  Sequentially consistent with
	 * its "out, then one last look": either it sees our number, or we
	 * see it out.
	 */
	for (int i = 0; i < pool->n; i++) {
		struct worker *w = pool->w[i];
		uint64_t claimed = __atomic_load_n(&w->snap_claim, __ATOMIC_ACQUIRE);
		uint64_t one = 1;

		if (!__atomic_load_n(&w->out, __ATOMIC_SEQ_CST) || claimed == pool->snap_seq ||
		    !__atomic_compare_exchange_n(&w->snap_claim, &claimed, pool->snap_seq,
		    false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
			continue;
		w->snap.len = 0;	/* it writes no more: no rows */
		w->snap.failed = false;
		if (__atomic_sub_fetch(&pool->snap_pending, 1, __ATOMIC_ACQ_REL) == 0)
			while (write(pool->snapfd, &one, sizeof(one)) == -1 && errno == EINTR)
				;
	}
	return true;
}

bool
worker_pool_snapshot_busy(const struct worker_pool *pool)
{
	return pool->snap_busy;
}

bool
worker_pool_snapshot_ready(const struct worker_pool *pool)
{
	return pool->snap_busy && __atomic_load_n(&pool->snap_pending, __ATOMIC_ACQUIRE) == 0;
}

int
worker_pool_snapshot_fd(const struct worker_pool *pool)
{
	return pool->snapfd;
}

void
worker_pool_snapshot_clear(struct worker_pool *pool)
{
	uint64_t v;

	if (worker_pool_snapshot_ready(pool))
		pool->snap_busy = false;
	while (read(pool->snapfd, &v, sizeof(v)) == -1 && errno == EINTR)
		;
}

const struct worker_snap *
worker_pool_snapshot(const struct worker_pool *pool, int i)
{
	return &pool->w[i]->snap;
}

/*
 * Frozen (live upgrade): only the mailbox and snapshots, so that nothing
 * a client sent is read, and nothing is written, while the state is
 * handed over; the heartbeat goes on, the watchdog must not fire.
 */
static void
worker_frozen_turn(struct worker *w)
{
	struct pollfd p = { .fd = w->evfd, .events = POLLIN };
	uint64_t now;

	if (poll(&p, 1, WORKER_TICK_MS) == -1 && errno != EINTR)
		fatal("poll");
	now = clock_ms();
	if (p.revents & POLLIN)
		worker_take_params(w, now);
	worker_take_snapshot(w, now);
	__atomic_add_fetch(&w->heartbeat, 1, __ATOMIC_RELAXED);
}

static void *
worker_main(void *arg)
{
	struct worker *w = arg;
	const struct worker_ops *ops = w->pool->ops;
	struct epoll_event ev[WORKER_EPOLL_BATCH];
	struct worker_params none;
	uint64_t woke_us;

	worker_thread_setup(w);
	memset(&none, 0, sizeof(none));
	woke_us = clock_usec();
	balance_meter_init(&w->meter, woke_us);
	ops->apply(w, &none, woke_us / 1000);
	if (w->adopt != NULL && ops->adopt != NULL)
		ops->adopt(w, w->adopt, clock_ms());
	w->adopt = NULL;
	mailbox_ack(&w->pool->mb);	/* started: worker_pool_create may return */
	for (;;) {
		uint64_t sleep_us, now;
		int timeout, n;
		bool wake = false;

		if (w->params.frozen) {
			worker_frozen_turn(w);
			woke_us = clock_usec();	/* frozen is not busy */
			continue;
		}
		/* The two clock reads of a turn also measure how busy we are. */
		sleep_us = clock_usec();

		if (w->cpu_meter)
			balance_meter_add(&w->meter, woke_us, sleep_us);
		if (w->cpu_meter ? balance_meter_due(&w->meter, sleep_us) &&
		    balance_meter_cpu(&w->meter, sleep_us, clock_thread_cpu_usec()) :
		    balance_meter_turn(&w->meter, woke_us, sleep_us)) {
			__atomic_store_n(&w->load_share, w->meter.share, __ATOMIC_RELAXED);
			__atomic_store_n(&w->load_busy, w->meter.busy, __ATOMIC_RELAXED);
		}
		timeout = ops->timeout ? ops->timeout(w, sleep_us / 1000) : WORKER_TICK_MS;
		if (ops->wait != NULL && ops->wait(w, timeout)) {
			woke_us = clock_usec();
			now = woke_us / 1000;
			n = ops->reap(w, ev, WORKER_EPOLL_BATCH, now);
		} else {
			n = epoll_wait(w->epfd, ev, WORKER_EPOLL_BATCH, timeout);
			woke_us = clock_usec();
			now = woke_us / 1000;
		}
		if (n == -1 && errno != EINTR)
			fatal("epoll_wait");
		for (int i = 0; i < n; i++) {
			if (ev[i].data.ptr == w)
				wake = true;
			else
				ops->event(w, ev[i].data.ptr, ev[i].events, now);
		}
		/* Settings change only here, after the batch, so no event points at a stale tag. */
		if (wake)
			worker_take_params(w, now);
		/*
		 * Frozen just now: the ack went out, the main thread reads our
		 * connections; the tick's sweeps would close some under it.
		 */
		if (w->params.frozen)
			continue;
		worker_take_snapshot(w, now);
		if (ops->tick != NULL)
			ops->tick(w, now);
		__atomic_add_fetch(&w->heartbeat, 1, __ATOMIC_RELAXED);
		if (w->params.draining && (ops->drained == NULL || ops->drained(w) ||
		    now >= w->params.drain_deadline_ms || worker_hurried(w)))
			break;
	}
	if (ops->finish != NULL)
		ops->finish(w);
	/* Out: from now on the main thread answers for us; one asked for meanwhile is ours. */
	__atomic_store_n(&w->out, true, __ATOMIC_SEQ_CST);
	worker_take_snapshot(w, clock_ms());
	/* The last one out tells the main thread, which serves on meanwhile. */
	if (__atomic_sub_fetch(&w->pool->running, 1, __ATOMIC_ACQ_REL) == 0) {
		uint64_t one = 1;

		while (write(w->pool->donefd, &one, sizeof(one)) == -1 && errno == EINTR)
			;
	}
	return NULL;
}

/* ------------------------------------------------------------ the pool */

static struct worker *
worker_create(struct worker_pool *pool, int id, const struct worker_params *p)
{
	struct worker *w = pool->ops->create();
	struct epoll_event e = { .events = EPOLLIN };

	if (w == NULL)
		fatal("out of memory for a worker");
	w->id = id;
	w->pool = pool;
	w->gen = pool->mb.gen;
	w->params = *p;
	if ((w->epfd = epoll_create1(EPOLL_CLOEXEC)) == -1)
		fatal("epoll_create1");
	if ((w->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	e.data.ptr = w;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->evfd, &e) == -1)
		fatal("epoll_ctl");
	return w;
}

struct worker_pool *
worker_pool_create(const struct worker_ops *ops, int n, const struct worker_params *p)
{
	return worker_pool_create_adopt(ops, n, p, NULL);
}

struct worker_pool *
worker_pool_create_adopt(const struct worker_ops *ops, int n, const struct worker_params *p,
    void *const *adopt)
{
	struct worker_pool *pool = calloc(1, sizeof(*pool));

	if (pool == NULL || (pool->w = calloc((size_t)n, sizeof(*pool->w))) == NULL ||
	    (pool->threads = calloc((size_t)n, sizeof(*pool->threads))) == NULL ||
	    (pool->shared = calloc(1, ops->shared_size ? ops->shared_size : 1)) == NULL)
		fatal("calloc");
	pool->ops = ops;
	pool->n = n;
	pthread_mutex_init(&pool->mb.mu, NULL);
	pthread_cond_init(&pool->mb.cv, NULL);
	pool->mb.gen = 1;
	pool->mb.params = *p;
	pool->running = n;
	if ((pool->donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1 ||
	    (pool->snapfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)) == -1)
		fatal("eventfd");
	if (ops->pool_apply != NULL)
		ops->pool_apply(pool->shared, p);
	/* Every worker exists before any runs: a worker may wake its peers. */
	for (int i = 0; i < n; i++) {
		pool->w[i] = worker_create(pool, i, p);
		pool->w[i]->adopt = adopt != NULL ? adopt[i] : NULL;
	}
	for (int i = 0; i < n; i++) {
		int e = pthread_create(&pool->threads[i], NULL, worker_main, pool->w[i]);

		if (e != 0) {
			errno = e;
			fatal("pthread_create");
		}
	}
	/* Return once every worker has taken its listeners: start-up failed or not. */
	pthread_mutex_lock(&pool->mb.mu);
	while (pool->mb.nacked < n)
		pthread_cond_wait(&pool->mb.cv, &pool->mb.mu);
	pthread_mutex_unlock(&pool->mb.mu);
	return pool;
}

void
worker_pool_apply(struct worker_pool *pool, const struct worker_params *p)
{
	if (pool->ops->pool_apply != NULL)
		pool->ops->pool_apply(pool->shared, p);
	mailbox_post(pool, p);
}

void
worker_pool_freeze(struct worker_pool *pool, bool on)
{
	struct worker_params p = pool->mb.params;	/* only the main thread writes it */

	p.frozen = on;
	mailbox_post(pool, &p);
}

void
worker_pool_drain(struct worker_pool *pool, uint64_t deadline_ms)
{
	struct worker_params p = pool->mb.params;	/* only the main thread writes it */

	p.draining = true;
	p.drain_deadline_ms = deadline_ms;
	p.nlfds = 0;
	mailbox_post(pool, &p);
}

void
worker_pool_hurry(struct worker_pool *pool)
{
	__atomic_store_n(&pool->hurry, true, __ATOMIC_RELEASE);
	for (int i = 0; i < pool->n; i++)
		worker_wake(pool->w[i]);
}

bool
worker_hurried(const struct worker *w)
{
	return __atomic_load_n(&w->pool->hurry, __ATOMIC_ACQUIRE);
}

int
worker_pool_done_fd(const struct worker_pool *pool)
{
	return pool->donefd;
}

bool
worker_pool_done(const struct worker_pool *pool)
{
	return __atomic_load_n(&pool->running, __ATOMIC_ACQUIRE) == 0;
}

void
worker_pool_join(struct worker_pool *pool)
{
	for (int i = 0; i < pool->n; i++)
		pthread_join(pool->threads[i], NULL);
}

void
worker_pool_destroy(struct worker_pool *pool)
{
	if (pool == NULL)
		return;
	for (int i = 0; i < pool->n; i++) {
		close(pool->w[i]->epfd);
		close(pool->w[i]->evfd);
		free(pool->w[i]->snap.buf);
		pool->ops->destroy(pool->w[i]);
	}
	if (pool->ops->pool_destroy != NULL)
		pool->ops->pool_destroy(pool->shared);
	pthread_cond_destroy(&pool->mb.cv);
	pthread_mutex_destroy(&pool->mb.mu);
	close(pool->donefd);
	close(pool->snapfd);
	free(pool->shared);
	free(pool->threads);
	free(pool->w);
	free(pool);
}

int
worker_pool_size(const struct worker_pool *pool)
{
	return pool->n;
}

const struct worker *
worker_pool_get(const struct worker_pool *pool, int i)
{
	return pool->w[i];
}

void
worker_pool_stats(const struct worker_pool *pool, struct stats *total)
{
	for (int i = 0; i < pool->n; i++)
		stats_sum_into(total, &pool->w[i]->stats);
}

void *
worker_pool_shared(const struct worker_pool *pool)
{
	return pool->shared;
}

void
worker_wake_others(const struct worker *w)
{
	for (int i = 0; i < w->pool->n; i++)
		if (w->pool->w[i] != w)
			worker_wake(w->pool->w[i]);
}

unsigned
worker_busy_share(const struct worker *w)
{
	return __atomic_load_n(&w->load_share, __ATOMIC_RELAXED);
}

bool
worker_busy(const struct worker *w)
{
	return __atomic_load_n(&w->load_busy, __ATOMIC_RELAXED);
}

uint64_t
worker_heartbeat(const struct worker *w)
{
	return __atomic_load_n(&w->heartbeat, __ATOMIC_RELAXED);
}
