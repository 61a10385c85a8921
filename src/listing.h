/* SPDX-License-Identifier: ISC */
/*
 * listing.h: the control socket's "connections" and "sources" answers
 * (upcase --connections, --sources), made from the workers' snapshots
 * (worker.h) without stopping them.  Main thread only.
 *
 * The answers are lines of tab-separated fields, after one header line
 * that starts with "#" and names them (upcased(8), CONTROL SOCKET):
 *
 *   connections: client listener worker age_ms idle_ms bytes_in bytes_out state
 *   sources:     proto source worker seen limited open
 *
 * The client turns them into aligned columns or JSON.
 */
#ifndef UPCASE_LISTING_H
#define UPCASE_LISTING_H

#include <stdint.h>

#include "control.h"
#include "worker.h"

#define LISTING_SOURCES_DEFAULT 20   /* "sources" without a number */
#define LISTING_SOURCES_MAX     256  /* per protocol (UDP_SNAPSHOT_MAX) */

/*
 * The answer to "connections": CONTROL_ANSWER_LATER until the TCP
 * workers' snapshot is ready (one is begun if none is under way; a
 * request that comes while one is shares it), then the rows.
 */
int  listing_connections(struct worker_pool *tcp, struct control_out *out);
/*
 * The answer to "sources [N]" (args: what follows "sources"): the N
 * busiest sources of each UDP worker's reply-rate table, merged, then of
 * the TCP per-source table; an error line for a bad N.
 */
int  listing_sources(struct worker_pool *tcp, struct worker_pool *udp, const char *args,
    struct control_out *out);
/*
 * After control_serve, for a snapshot that was ready before it: it has
 * been handed to every client waiting for it; the next request asks for
 * a new one.
 */
void listing_done(struct worker_pool *pool);

#endif
