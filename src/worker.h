/* SPDX-License-Identifier: ISC */
/*
 * worker.h: the threading model, and the one worker loop that the TCP and
 * UDP pools both run.
 *
 * THREADING MODEL (this is the one place it is written down)
 *
 * - The main thread owns signals (a signalfd), start-up, reload, shutdown,
 *   the listener set, the control socket and systemd notifications.
 * - Workers come in pools of one kind (struct worker_ops): tcp.threads TCP
 *   workers, and the UDP workers.  Every worker runs the same loop
 *   (worker_main in worker.c) over its own epoll set, blocks every signal
 *   and is named ("upcased-tcp0"; log lines carry "tcp0: ").  Each owns
 *   its struct worker: epoll fd, eventfd, its copy of the settings, its
 *   counters (struct stats, single writer) and, in the kind's struct that
 *   embeds it, its connections and buffers.  Nothing in a worker is
 *   touched by another thread except: the counters and the heartbeat, read
 *   with relaxed atomics by the main thread; the pool's shared area (for
 *   TCP, the open-connection count behind max_connections, an atomic, and
 *   the per-source table behind limits, under its mutex); and its eventfd,
 *   which anyone may write to wake it.
 * - TCP workers share the listening sockets, each registered in every
 *   worker's epoll with EPOLLEXCLUSIVE: the kernel wakes one worker per
 *   incoming connection, and that worker owns the connection until it
 *   closes.  Connections never move between workers.  Who accepts follows
 *   load (balance.h): a worker that should not takes the listeners out of
 *   its own epoll set for a while, and wakes the others so one of them
 *   takes over; it reads its peers' published busy flags (relaxed) and
 *   touches no other worker's state.
 * - Listening sockets belong to the main thread.  It changes what workers
 *   listen on, and their settings, only through the pool's mailbox: it
 *   posts a new generation and waits until every worker has applied it
 *   (by then a worker has let go of every listener the new settings
 *   dropped); only then does it close a listener that was removed.  So no
 *   worker ever polls a closed fd.
 * - Stopping is a generation like any other, with draining set: by its
 *   acknowledgement a worker has let go of every listener (UDP first
 *   answers what is queued), then finishes what it owes by the deadline
 *   (or at once, after worker_pool_hurry()) and leaves its loop.  The
 *   main thread serves the control socket and signals meanwhile, and
 *   polls the pool's done descriptor, which the last worker out makes
 *   readable; then worker_pool_join() reaps the threads.
 * - Snapshots (upcase --connections, --sources) are not settings: they
 *   never go through the mailbox and never wait.  The main thread bumps
 *   the pool's snapshot number, stores it in every worker (release) and
 *   wakes them; each worker, at its next turn, sees the number move,
 *   writes its rows into a buffer of its own (struct worker_snap), and
 *   counts itself done (release); the last one makes the pool's snapshot
 *   descriptor readable.  The main thread polls that descriptor with the
 *   signalfd and reads the buffers only once every worker is done
 *   (acquire), and starts no other snapshot before: so a buffer has one
 *   writer at a time, and the data path pauses only for as long as a
 *   worker takes to write its own rows.  A worker that has left its loop
 *   (stopping: the others may still drain) says so, then answers once
 *   more; the main thread answers (no rows) for a worker it sees out.
 *   Whoever claims the number first (compare-and-swap) answers, so each
 *   snapshot is answered once per worker, and none waits for ever.
 */
#ifndef UPCASE_WORKER_H
#define UPCASE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "balance.h"
#include "stats.h"
#include "transform.h"

#define WORKER_MAX_LISTENERS 128
/* Every worker loop turns at least this often (idle sweeps, heartbeat). */
#define WORKER_TICK_MS 250

struct access_list;
struct epoll_event;

/* Per-source limits of one protocol (see upcased.conf(5): udp, limits). */
struct worker_source_limits {
	uint32_t rate;                       /* per second; 0: no rate limit */
	uint32_t burst;
	uint32_t leak;                       /* UDP: one in leak over the limit answered; 0: none */
	uint32_t per_source;                 /* TCP: open connections per source; 0: unlimited */
	uint8_t  ipv4_prefix, ipv6_prefix;   /* what counts as one source */
	uint32_t table_size;                 /* sources remembered */
	const struct access_list *exempt;    /* sources the limits skip */
};

/*
 * What the main thread hands to workers, copied by value.  The access
 * lists pointed to are immutable and belong to the main thread, which
 * frees them only once every worker has applied params that no longer
 * point to them.
 */
struct worker_params {
	int      max_connections;
	int      idle_timeout;               /* seconds */
	enum transform_charset charset;      /* for new connections */
	const struct access_list *access;    /* NULL: allow all */
	struct worker_source_limits limits;  /* of the pool's kind */
	bool     udp_guard;                  /* drop datagrams from bad sources and ports */
	uint32_t min_rate;                   /* TCP: bytes/s a connection must average ... */
	uint32_t min_rate_window;            /* ... over this many seconds, under pressure */
	int      lfds[WORKER_MAX_LISTENERS]; /* listening sockets of the pool's kind */
	int16_t  lshard[WORKER_MAX_LISTENERS]; /* lfds[i] is for worker lshard[i] only; -1: for all */
	bool     lproxy[WORKER_MAX_LISTENERS]; /* TCP: lfds[i] takes a PROXY protocol header first */
	const struct access_list *trusted_proxies; /* TCP: whose PROXY headers count; NULL: none */
	int      proxy_timeout_ms;           /* TCP: a PROXY header must be whole by then */
	bool     io_uring;                   /* TCP: serve connections on io_uring (iomode.h) */
	size_t   nlfds;
	bool     draining;                   /* let go of listeners, finish, exit */
	bool     frozen;                     /* live upgrade: serve nothing, poll nothing
	                                        but the mailbox (worker_pool_freeze) */
	uint64_t drain_deadline_ms;          /* monotonic */
};

struct worker_pool;

/* A worker's snapshot rows: written by the worker, read by the main thread (see above). */
struct worker_snap {
	char    *buf;                      /* NULL: none yet, or out of memory */
	size_t   len, cap;
	bool     failed;                   /* out of memory: buf holds what fit */
};

/* One worker.  A kind's own struct starts with it (see struct worker_ops). */
struct worker {
	/* Set before the thread starts, then read-only. */
	int      id;
	struct worker_pool *pool;
	int      epfd;
	int      evfd;
	/* The worker's own. */
	uint64_t gen;                      /* mailbox generation applied */
	struct worker_params params;
	/* Written by the worker only; read by the main thread (relaxed atomics). */
	uint64_t heartbeat;
	struct stats stats;
	/*
	 * Its busy share (balance.h): measured by its loop, published for its
	 * peers (relaxed atomics) once a window, on a cache line of its own so
	 * that peers reading it every turn do not share the line written
	 * every turn.
	 */
	struct balance_meter meter;
	bool     cpu_meter;                /* the kind's waits do work (io_uring): the
	                                      meter reads the thread's CPU time */
	char     load_pad0[64];
	unsigned load_share;               /* atomic: meter.share */
	bool     load_busy;                /* atomic: meter.busy */
	char     load_pad1[64];
	/* Snapshots (see the threading model). */
	uint64_t snap_want;                /* atomic, main thread: the snapshot asked for */
	uint64_t snap_claim;               /* atomic: the last one answered, claimed by
	                                      the worker or, once it is out, the main thread */
	bool     out;                      /* atomic: the worker left its loop */
	void    *adopt;                    /* ops->adopt's argument, before the loop */
	struct worker_snap snap;
};

/*
 * What makes a pool TCP or UDP.  Every hook runs in the worker's thread,
 * except create, destroy and the pool hooks (main thread).
 * tick, timeout, drained and finish may be NULL (nothing to do; the
 * WORKER_TICK_MS tick; nothing owed once the listeners are let go).
 */
struct worker_ops {
	const char *name;                  /* "tcp": threads upcased-tcp0, ... */
	size_t   shared_size;              /* bytes of pool-wide state (zeroed at first) */
	/*
	 * Main thread, before the workers see p (at creation, and on every
	 * apply): fit the pool-wide state to p.  May be NULL.
	 */
	void (*pool_apply)(void *shared, const struct worker_params *p);
	void (*pool_destroy)(void *shared);   /* after join; may be NULL */
	/* A zeroed kind struct whose first member is the struct worker; NULL on failure. */
	struct worker *(*create)(void);
	void (*destroy)(struct worker *w);
	/*
	 * w->params just changed (also once at start, from zeroed old params):
	 * by its return the worker must poll no listener outside w->params.
	 */
	void (*apply)(struct worker *w, const struct worker_params *old, uint64_t now);
	/*
	 * Live upgrade, in the new process: take over what arg holds (the
	 * connections handed to this worker), before the loop's first turn.
	 * May be NULL.
	 */
	void (*adopt)(struct worker *w, void *arg, uint64_t now);
	/*
	 * A kind with its own way to wait (the TCP workers' io_uring): wait
	 * blocks up to timeout ms for anything, epoll_wait's events included,
	 * and returns false if this worker has none (then epoll_wait waits);
	 * reap, after it, handles what completed and returns the events
	 * ready in epfd (at most max), as epoll_wait would.  NULL: none.
	 */
	bool (*wait)(struct worker *w, int timeout);
	int  (*reap)(struct worker *w, struct epoll_event *ev, int max, uint64_t now);
	/* An epoll event whose data.ptr the kind registered. */
	void (*event)(struct worker *w, void *tag, uint32_t events, uint64_t now);
	/* After every turn of the loop (timers, listening on or off). */
	void (*tick)(struct worker *w, uint64_t now);
	/* Milliseconds until tick is next needed; NULL: WORKER_TICK_MS. */
	int  (*timeout)(struct worker *w, uint64_t now);
	/* Draining: true once nothing is owed any more, and the loop may end. */
	bool (*drained)(struct worker *w);
	/* After the loop: close what is left (the deadline passed). */
	void (*finish)(struct worker *w);
	/*
	 * A snapshot was asked for: append the worker's rows to b (emptied
	 * first); limit is what worker_pool_snapshot_begin was given.  May
	 * be NULL (no rows).
	 */
	void (*snapshot)(struct worker *w, struct worker_snap *b, uint32_t limit,
	    uint64_t now);
};

/* Start n workers of one kind with settings p; returns once each has applied p. */
struct worker_pool *worker_pool_create(const struct worker_ops *ops, int n,
    const struct worker_params *p);
/* The same, worker i first adopting adopt[i] (ops->adopt) before it serves. */
struct worker_pool *worker_pool_create_adopt(const struct worker_ops *ops, int n,
    const struct worker_params *p, void *const *adopt);
/*
 * Live upgrade: freeze (on) or thaw every worker; returns when each has
 * applied it.  A frozen worker polls no listener and no connection, runs
 * no timer, reads nothing and writes nothing: it waits for the mailbox
 * (and answers snapshots).  From the return of a freeze until the thaw,
 * the main thread may read the kind's state (tcp_pool_export): the
 * mailbox's acknowledgement orders the worker's last writes before.
 */
void worker_pool_freeze(struct worker_pool *pool, bool on);
/* Hand new settings and listeners to every worker; returns when all applied them. */
void worker_pool_apply(struct worker_pool *pool, const struct worker_params *p);
/*
 * Stop: every worker lets go of its listeners (returns once all have),
 * then finishes what it owes by deadline_ms.
 */
void worker_pool_drain(struct worker_pool *pool, uint64_t deadline_ms);
/*
 * Draining: make the deadline now.  Every worker wakes, leaves its loop
 * and closes what is left (finish) as if the deadline had passed.
 */
void worker_pool_hurry(struct worker_pool *pool);
/* In a worker: worker_pool_hurry() was called on its pool. */
bool worker_hurried(const struct worker *w);
/*
 * Once the pool drains, the main thread goes on serving (control socket,
 * signals) until every worker is done: worker_pool_done() says whether
 * they all left their loop and finished, and the descriptor becomes
 * readable (and stays so) when that happens, to poll for it.
 */
int  worker_pool_done_fd(const struct worker_pool *pool);
bool worker_pool_done(const struct worker_pool *pool);
/* Wait until every worker has left its loop. */
void worker_pool_join(struct worker_pool *pool);
void worker_pool_destroy(struct worker_pool *pool);

/*
 * Snapshots (see the threading model).  begin asks every worker for its
 * rows (limit is passed to ops->snapshot) and returns at once: false if
 * one is under way already (the caller shares it), or the workers have
 * left their loop (nobody would answer).  ready: every worker wrote its
 * rows (then worker_pool_snapshot() gives them, good until the next
 * begin).  The descriptor becomes readable when a snapshot is ready;
 * worker_pool_snapshot_clear() reads it empty.
 */
bool worker_pool_snapshot_begin(struct worker_pool *pool, uint32_t limit);
bool worker_pool_snapshot_busy(const struct worker_pool *pool);
bool worker_pool_snapshot_ready(const struct worker_pool *pool);
int  worker_pool_snapshot_fd(const struct worker_pool *pool);
void worker_pool_snapshot_clear(struct worker_pool *pool);
const struct worker_snap *worker_pool_snapshot(const struct worker_pool *pool, int i);
/* In ops->snapshot: append to b; on out of memory b->failed is set and nothing more goes in. */
void worker_snap_append(struct worker_snap *b, const void *p, size_t len);
void worker_snap_printf(struct worker_snap *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

int  worker_pool_size(const struct worker_pool *pool);
/* Worker i, for its counters and heartbeat (read with stats_get / worker_heartbeat). */
const struct worker *worker_pool_get(const struct worker_pool *pool, int i);
/* Add every worker's counters into total. */
void worker_pool_stats(const struct worker_pool *pool, struct stats *total);
/* The pool-wide area of ops->shared_size bytes. */
void *worker_pool_shared(const struct worker_pool *pool);
/* Wake every worker of w's pool but w (they tick at once). */
void worker_wake_others(const struct worker *w);
/* w's busy share, per mille, and whether it counts as busy (balance.h). */
unsigned worker_busy_share(const struct worker *w);
bool worker_busy(const struct worker *w);
/* It moves at least every WORKER_TICK_MS while the worker's loop runs. */
uint64_t worker_heartbeat(const struct worker *w);

#endif
