/*
 * tcp.h: the pool of TCP workers.  Each worker runs its own epoll loop over
 * many connections (see worker.h for the threading model).
 */
#ifndef UPCASE_TCP_H
#define UPCASE_TCP_H

#include <stdint.h>

#include "stats.h"
#include "worker.h"

/*
 * Per-connection memory: one struct tcp_conn, plus, only while the client
 * is not reading fast enough, the unsent part of one transformed read (at
 * most TRANSFORM_BOUND(TCP_READ_CHUNK) bytes).  While output is pending
 * the connection is not read from, so the bound holds whatever the client
 * does.  upcased.conf(5) states this bound.
 */
#define TCP_READ_CHUNK 16384

struct tcp_pool;

struct tcp_pool *tcp_pool_create(int nthreads, const struct worker_params *p);
/* Hand new settings and listeners to every worker; returns when all applied them. */
void tcp_pool_apply(struct tcp_pool *pool, const struct worker_params *p);
/*
 * Stop accepting and finish what open connections are owed, by deadline_ms.
 * Returns once no worker polls a listener any more; tcp_pool_join() then
 * waits for the workers to finish.
 */
void tcp_pool_drain(struct tcp_pool *pool, uint64_t deadline_ms);
void tcp_pool_join(struct tcp_pool *pool);
void tcp_pool_destroy(struct tcp_pool *pool);

int  tcp_pool_nthreads(const struct tcp_pool *pool);
/* Add every worker's counters into total. */
void tcp_pool_stats(const struct tcp_pool *pool, struct stats *total);
/* Connections open in worker i (how evenly accepting is spread). */
uint64_t tcp_pool_worker_open(const struct tcp_pool *pool, int i);
/* Worker i's heartbeat: it moves at least every WORKER_TICK_MS (worker.h) while the loop runs. */
uint64_t tcp_pool_heartbeat(const struct tcp_pool *pool, int i);

#endif
