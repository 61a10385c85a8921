/*
 * worker.h: the threading model, and the mailbox the main thread uses to
 * hand settings to the workers.
 *
 * THREADING MODEL (this is the one place it is written down)
 *
 * - The main thread owns signals (a signalfd), start-up, reload, shutdown,
 *   the listener set, the control socket and systemd notifications.
 * - tcp.threads TCP workers and one UDP worker each run their own epoll
 *   loop.  All block every signal.  Each owns its struct: epoll fd,
 *   eventfd, its connections, its counters (struct stats, single writer)
 *   and its copy of the settings.  Nothing in a worker is touched by
 *   another thread except: the counters and the heartbeat, read with
 *   relaxed atomics by the main thread; and the pool's open-connection
 *   count (an atomic shared by the TCP workers, for max_connections).
 * - TCP workers share the listening sockets, each registered in every
 *   worker's epoll with EPOLLEXCLUSIVE: the kernel wakes one worker per
 *   incoming connection, and that worker owns the connection until it
 *   closes.  Connections never move between workers.  A worker holding
 *   clearly more than its share takes the listeners out of its own epoll
 *   set for a while (tcp.c, worker_over_share), and wakes the others so
 *   one of them takes over; it touches no other worker's state.
 * - Listening sockets belong to the main thread.  It changes what workers
 *   listen on, and their settings, only through struct mailbox: it posts a
 *   new generation and waits until every worker has applied it; only then
 *   does it close a listener that was removed.  So no worker ever polls a
 *   closed fd.
 */
#ifndef UPCASE_WORKER_H
#define UPCASE_WORKER_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "transform.h"

#define WORKER_MAX_LISTENERS 128
/* Every worker loop turns at least this often (idle sweeps, heartbeat). */
#define WORKER_TICK_MS 250

/* What the main thread hands to workers.  Plain values: copied by value. */
struct worker_params {
	int      max_connections;
	int      idle_timeout;               /* seconds */
	enum transform_charset charset;      /* for new connections */
	int      lfds[WORKER_MAX_LISTENERS]; /* listening sockets of the worker's kind */
	size_t   nlfds;
	bool     draining;                   /* stop accepting, finish, exit */
	uint64_t drain_deadline_ms;          /* monotonic */
};

struct mailbox {
	pthread_mutex_t mu;
	pthread_cond_t  cv;
	uint64_t gen;                 /* bumped on every post */
	int      nworkers;
	int      nacked;              /* workers that took gen */
	struct worker_params params;  /* protected by mu */
};

void mailbox_init(struct mailbox *mb, int nworkers, const struct worker_params *p);
void mailbox_destroy(struct mailbox *mb);
/* Main thread: publish p, wake each eventfd, wait until every worker applied it. */
void mailbox_post(struct mailbox *mb, const struct worker_params *p,
    const int *evfds, int nevfds);
/*
 * Worker: copy the params if the generation moved; true if it did.  Then,
 * once it no longer polls any listener the new params dropped, it calls
 * mailbox_done(): only after that may the main thread close those.
 */
bool mailbox_take(struct mailbox *mb, uint64_t *gen, struct worker_params *out);
void mailbox_done(struct mailbox *mb);

/* Eventfd helpers for waking a worker. */
int  worker_eventfd(void);
void worker_wake(int evfd);
void worker_eventfd_drain(int evfd);

/* Monotonic clock in milliseconds. */
uint64_t worker_now_ms(void);

/* Block every signal in the calling thread; name it (for top -H, gdb). */
void worker_thread_setup(const char *name);

#endif
