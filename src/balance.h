/* SPDX-License-Identifier: ISC */
/*
 * balance.h: which TCP workers accept new connections (pure, unit-tested).
 * Connections never move between workers; only who accepts new ones
 * changes.  Every worker registers the shared listeners with
 * EPOLLEXCLUSIVE, and the kernel wakes one idle worker in line per new
 * connection; a worker that should not accept takes the listeners out of
 * its own epoll set.
 *
 * THE RULE: spreading follows load.
 *
 * - Each worker measures its busy share: the time its loop spends outside
 *   epoll_wait, per window of BALANCE_WINDOW_US, smoothed over windows
 *   (struct balance_meter; the loop's own clock reads, no more).  It is
 *   busy once the share reaches BALANCE_BUSY_HIGH, and stays busy until
 *   the share falls below BALANCE_BUSY_LOW (hysteresis: the flag, and so
 *   who accepts, does not flap around one threshold).
 * - While some worker is not busy, the lowest-numbered such worker alone
 *   accepts.  A lightly loaded daemon so concentrates its connections on
 *   worker 0: one worker handling all events per wake-up costs less than
 *   several waking for a few each and competing for shared cores, until
 *   it is actually busy.  Then worker 0 steps back and worker 1 accepts,
 *   and so on: a busy daemon spreads new connections over every worker
 *   with time to spare.
 * - When every worker is busy, all accept, and the count guard keeps one
 *   from hoarding: a worker holding clearly more than its share of the
 *   open connections (balance_over_share) steps back until it is near its
 *   share again.  The least loaded worker is never over its share.
 *
 * So somebody always accepts: the lowest-numbered worker not busy, or,
 * all busy, at least the least loaded one.  The flags are read from
 * peers with relaxed atomics and may be a moment stale; a worker whose
 * flag changes, or that steps back, wakes the others so they look again
 * at once, so a view in which nobody accepts lasts only until they have
 * (and at most a tick: every worker looks again each turn of its loop).
 * Meanwhile new connections wait in the listen backlog.  A pool of one
 * always accepts.
 */
#ifndef UPCASE_BALANCE_H
#define UPCASE_BALANCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Connections a worker may hold beyond its share before it steps back. */
#define BALANCE_SLACK 16

/* The busy share is measured over windows of at least this long. */
#define BALANCE_WINDOW_US 100000
/* Busy share, per mille: busy from HIGH up, light again below LOW. */
#define BALANCE_BUSY_HIGH 650
#define BALANCE_BUSY_LOW  400

/*
 * Whether a worker holding mine of the pool's total open connections,
 * spread over nworkers, is over its share.  was_over is the previous
 * answer: a worker that stepped back comes back only below a lower mark
 * (hysteresis), so it does not flap on every accept.  The least loaded
 * worker is never over its share, so someone always accepts.
 */
bool balance_over_share(size_t mine, size_t total, int nworkers, bool was_over);

/* A worker's busy share, measured by its own loop (one writer). */
struct balance_meter {
	uint64_t win_start_us;   /* the current window began */
	uint64_t busy_us;        /* outside epoll_wait in it, so far */
	unsigned share;          /* per mille, smoothed over windows */
	bool     busy;           /* reached HIGH, not yet below LOW */
	bool     cpu;            /* measuring CPU time (balance_meter_cpu) ... */
	uint64_t win_cpu_us;     /* ... which was this at the window's start */
};

void balance_meter_init(struct balance_meter *m, uint64_t now_us);
/*
 * One turn of the loop: awake (out of epoll_wait) from wake_us until
 * sleep_us, when it is about to wait again.  True when a window closed
 * and share and busy were brought up to date.  The smoothing weighs each
 * window 1/4, so a saturated worker turns busy about 0.4 s into its load
 * (windows of 100 ms), and light again about 1 s after it goes idle (an
 * idle worker closes a window only every WORKER_TICK_MS, 250 ms).
 */
bool balance_meter_turn(struct balance_meter *m, uint64_t wake_us, uint64_t sleep_us);
/*
 * The same for a loop whose waits do work too (io_uring: a wait submits
 * the turn's sends and receives, and the kernel does them there): every
 * turn balance_meter_add(), and then, only on a turn for which
 * balance_meter_due() is true, balance_meter_cpu() with the thread's CPU
 * time, cpu_us.  A window's busy time is the larger of the time awake
 * (as balance_meter_turn counts it: waiting for a CPU included) and the
 * CPU time (the work done in the waits included).  The first
 * balance_meter_cpu() after balance_meter_turn() (or init) only starts a
 * window.
 */
void balance_meter_add(struct balance_meter *m, uint64_t wake_us, uint64_t sleep_us);
bool balance_meter_due(const struct balance_meter *m, uint64_t now_us);
bool balance_meter_cpu(struct balance_meter *m, uint64_t now_us, uint64_t cpu_us);

/* What one worker knows when it decides whether to accept. */
struct balance_view {
	int      self;           /* this worker, 0 to nworkers - 1 */
	int      nworkers;
	int      first_light;    /* the lowest-numbered worker not busy (self
	                            included); nworkers if every one is busy */
	bool     self_busy;
	size_t   mine;           /* connections this worker holds */
	size_t   total;          /* open in the pool (may be stale) */
};

enum balance_verdict {
	BALANCE_ACCEPT,          /* listen */
	BALANCE_CONCENTRATE,     /* light: a lower-numbered light worker accepts */
	BALANCE_SPREAD,          /* busy: a light worker accepts instead */
	BALANCE_OVER_SHARE,      /* all busy, and we hold too many */
};

/* The rule above; was is the previous verdict (for the count guard's hysteresis). */
enum balance_verdict balance_decide(const struct balance_view *v, enum balance_verdict was);

#endif
