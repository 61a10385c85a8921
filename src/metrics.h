/* SPDX-License-Identifier: ISC */
/*
 * metrics.h: the Prometheus endpoint (metrics.address, metrics.port).
 *
 * An HTTP server from libmicrohttpd in its internal-thread mode: one
 * thread of its own, started after the workers and stopped before them,
 * which is never a worker and never takes a lock a worker takes.  It
 * answers GET (and HEAD) /metrics with the exposition that render()
 * makes, and render() only sums the workers' counters with relaxed atomic
 * loads (stats.h), so a scrape never slows or blocks the data path.
 * GET / gets a line pointing at /metrics, any other path 404, any other
 * method 405.  The access rules (access) decide who may connect, checked
 * before the connection is taken; at most METRICS_CONNECTIONS clients at
 * once and METRICS_PER_IP from one address, each closed after
 * METRICS_TIMEOUT_S seconds of silence.  A client that trickles bytes
 * keeps its slot longer: the per-address cap keeps one such client from
 * taking them all; the access rules keep the endpoint for the scrapers.
 */
#ifndef UPCASE_METRICS_H
#define UPCASE_METRICS_H

#include <stddef.h>

#define METRICS_CONNECTIONS  16        /* clients at once */
#define METRICS_PER_IP       4         /* of them from one address */
#define METRICS_TIMEOUT_S    5         /* an idle client is closed after this */
#define METRICS_BODY_MAX     131072    /* bytes of the exposition, at most */

struct access_list;
struct metrics;

/* Makes the exposition into buf (len bytes), returns its length; any thread. */
typedef size_t (*metrics_render_fn)(char *buf, size_t len, void *arg);

/*
 * Listen on address ("*": every address, IPv6 and IPv4) and port and
 * serve.  access (NULL: allow all) must stay valid until the next
 * metrics_set_access() or metrics_stop().  NULL with the reason in err.
 */
struct metrics *metrics_start(const char *address, int port,
    const struct access_list *access, metrics_render_fn render, void *arg,
    char *err, size_t errlen);

/* New access rules; once it returns, the old list is no longer used. */
void metrics_set_access(struct metrics *m, const struct access_list *access);

/* "127.0.0.1:9412", "[::1]:9412", "*:9412", for the log. */
const char *metrics_where(const struct metrics *m);

/* Stop the thread, close every connection and the socket (NULL: nothing). */
void metrics_stop(struct metrics *m);

#endif
