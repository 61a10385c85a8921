/* SPDX-License-Identifier: ISC */
/*
 * tcp.h: the TCP kind of worker.  A pool of them (worker_pool_create with
 * tcp_worker_ops) shares the listening sockets; each worker runs the one
 * worker loop over many connections (see worker.h for the threading model).
 */
#ifndef UPCASE_TCP_H
#define UPCASE_TCP_H

#include <stddef.h>

#include "worker.h"

/*
 * Per-connection memory: one struct tcp_conn, plus, only while the client
 * is not reading fast enough, the unsent part of one transformed read (at
 * most TRANSFORM_BOUND(TCP_READ_CHUNK) bytes).  While output is pending
 * the connection is not read from, so the bound holds whatever the client
 * does.  upcased.conf(5) states this bound.
 */
#define TCP_READ_CHUNK 16384

extern const struct worker_ops tcp_worker_ops;

struct src_entry;
/*
 * Main thread: copy the n busiest sources of the pool's per-source table
 * (limits) into out, busiest first (srctable_top); how many.  Holds the
 * table's mutex for one pass over it.
 */
size_t tcp_pool_top_sources(struct worker_pool *pool, struct src_entry *out, size_t n);

struct handover_buf;
struct fdvec;
struct ho_conn;

/*
 * Live upgrade, old process, main thread, with the pool frozen
 * (worker_pool_freeze): every open connection into b (a CONN record
 * each, in each worker's list order), its descriptor into fds.  Changes
 * nothing; the number of connections written, or -1 (out of memory).
 */
long tcp_pool_export(struct worker_pool *pool, struct handover_buf *b, struct fdvec *fds);

/*
 * Live upgrade, new process: what worker i adopts (worker_pool_create_adopt's
 * adopt[i]): n connections, c[k] with its descriptor fd[k].  Each becomes
 * one of the worker's, in its state, with its carried bytes, unsent
 * output and counters; one that cannot be (out of memory) is closed and
 * logged.
 */
struct tcp_adopt {
	const struct ho_conn **c;
	const int *fd;
	size_t n;
};

#endif
