/* SPDX-License-Identifier: ISC */
/*
 * stats.h: operator counters.  Each worker owns one struct stats and is
 * its only writer (relaxed atomic adds, no locks on the hot path); the main
 * thread and the metrics thread (metrics.c) sum them on demand, with
 * relaxed atomic loads: a reader never stops a worker.  Gauges
 * (connections open) are derived.  Two histograms with fixed buckets
 * (TCP connection duration, UDP datagram size) are counted the same way.
 *
 * What the operator sees is the Prometheus exposition (stats_expose, via
 * expo.c): each counter belongs to a family, and the counters that are
 * one family's reasons carry a label, e.g. STAT_TCP_REFUSED_ACCESS is
 * upcased_tcp_connections_refused_total{reason="access"}.  upcased(8),
 * METRICS, lists them all.
 */
#ifndef UPCASE_STATS_H
#define UPCASE_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum stat_id {
	STAT_TCP_ACCEPTED,          /* connections accepted and served */
	STAT_TCP_CLOSED,            /* connections closed (any reason) */
	STAT_TCP_REFUSED_MAXCONN,   /* closed at once: max_connections reached */
	STAT_TCP_REFUSED_ACCESS,    /* closed at once: an access rule denies the source */
	STAT_TCP_REFUSED_PER_SOURCE, /* closed at once: limits.connections_per_source */
	STAT_TCP_REFUSED_RATE,      /* closed at once: limits.connection_rate */
	STAT_TCP_UNTRACKED,         /* let in uncounted: limits.table_size had no room */
	STAT_TCP_SLOW_CLOSES,       /* closed under pressure: below limits.min_rate */
	STAT_TCP_ACCEPT_ERRORS,     /* accept(2) failures, EMFILE/ENFILE included */
	STAT_TCP_IDLE_TIMEOUTS,     /* closed by idle_timeout */
	STAT_TCP_RESETS,            /* closed on a read/write error */
	STAT_TCP_PROXY_HEADERS,     /* PROXY protocol headers taken (proxy_protocol listeners) */
	STAT_TCP_PROXY_UNTRUSTED,   /* closed at once: not from trusted_proxies */
	STAT_TCP_PROXY_INVALID,     /* closed: a malformed PROXY protocol header */
	STAT_TCP_PROXY_TRUNCATED,   /* closed: input ended before the whole header */
	STAT_TCP_PROXY_TIMEOUTS,    /* closed: no whole header within proxy_timeout */
	STAT_TCP_BYTES_IN,
	STAT_TCP_BYTES_OUT,
	STAT_TCP_URING_NOBUFS,      /* io_uring: every receive buffer was taken, read directly */
	STAT_UDP_DATAGRAMS_IN,
	STAT_UDP_DATAGRAMS_OUT,
	STAT_UDP_DROPPED_TOOLARGE,  /* reply would exceed the largest UDP payload */
	STAT_UDP_DROPPED_SENDFAIL,  /* sendmmsg failed (buffer full, unreachable) */
	STAT_UDP_DROPPED_ACCESS,    /* an access rule denies the source */
	STAT_UDP_DROPPED_LOW_PORT,  /* source port below 1024 (echo, chargen, ...) */
	STAT_UDP_DROPPED_OWN_PORT,  /* source port is one of our own UDP ports */
	STAT_UDP_DROPPED_BAD_SOURCE, /* unspecified, multicast, broadcast, spoofed loopback */
	STAT_UDP_DROPPED_BAD_DEST,  /* sent to a broadcast or multicast address */
	STAT_UDP_DROPPED_LOOP,      /* our own reply coming back: a loop */
	STAT_UDP_DROPPED_RATE,      /* over the source's udp.rate_limit */
	STAT_UDP_LEAKED,            /* over the limit but answered (udp.leak) */
	STAT_UDP_BYTES_IN,
	STAT_UDP_BYTES_OUT,
	STAT_RELOADS,
	STAT_RELOAD_FAILURES,
	STAT_UPGRADES,              /* live upgrades this line of processes went through */
	STAT_UPGRADE_FAILURES,      /* SIGUSR2s after which the old process kept serving */
	STAT__COUNT
};

/* Histograms: fixed buckets, upper bounds in stats_hist_bounds. */
enum hist_id {
	HIST_TCP_DURATION,          /* a served connection's life, in ms, at its close */
	HIST_UDP_SIZE,              /* a datagram's payload, in bytes, as received */
	HIST__COUNT
};

#define HIST_BUCKETS 13             /* finite upper bounds; one more bucket for +Inf */

/* Counts per bucket (not cumulative: the formatter adds them up) and the sum. */
struct stats_hist {
	uint64_t n[HIST_BUCKETS + 1];
	uint64_t sum;
};

struct stats {
	uint64_t v[STAT__COUNT];
	struct stats_hist h[HIST__COUNT];
};

/* Upper bounds (inclusive, as Prometheus's le) in the unit observed, ascending. */
extern const uint64_t stats_hist_bounds[HIST__COUNT][HIST_BUCKETS];

/* The owner adds; anyone may read. */
static inline void
stats_add(struct stats *s, enum stat_id id, uint64_t n)
{
	__atomic_store_n(&s->v[id], __atomic_load_n(&s->v[id], __ATOMIC_RELAXED) + n,
	    __ATOMIC_RELAXED);
}

/* The owner observes a value (ms, bytes) into histogram h. */
static inline void
stats_observe(struct stats *s, enum hist_id h, uint64_t value)
{
	struct stats_hist *hi = &s->h[h];
	int b = 0;

	while (b < HIST_BUCKETS && value > stats_hist_bounds[h][b])
		b++;
	__atomic_store_n(&hi->n[b], __atomic_load_n(&hi->n[b], __ATOMIC_RELAXED) + 1,
	    __ATOMIC_RELAXED);
	__atomic_store_n(&hi->sum, __atomic_load_n(&hi->sum, __ATOMIC_RELAXED) + value,
	    __ATOMIC_RELAXED);
}

static inline uint64_t
stats_get(const struct stats *s, enum stat_id id)
{
	return __atomic_load_n(&s->v[id], __ATOMIC_RELAXED);
}

/* Add every counter and histogram of src into dst (dst is the reader's private copy). */
/*
 * Live upgrade (handover.h's COUNTER and HIST records): a counter's key,
 * its family and, for a family of reasons, "{reason}"; a histogram's
 * family name; and back (-1: not one this version has).
 */
void stats_key(enum stat_id id, char *buf, size_t len);
int  stats_from_key(const char *key);
const char *stats_hist_name(enum hist_id h);
int  stats_hist_from_name(const char *name);
void stats_sum_into(struct stats *dst, const struct stats *src);

/*
 * TCP connections open: accepted - closed.  The two are read one after
 * the other while a worker moves them: never below 0.
 */
uint64_t stats_open(const struct stats *s);

/* What the exposition shows beyond the summed counters. */
struct stats_view {
	struct stats total;          /* every worker's counters summed, reloads included */
	const uint64_t *open;        /* TCP connections open, per TCP worker */
	const uint64_t *busy;        /* busy share per mille, per TCP worker; NULL: none */
	int ntcp;                    /* TCP workers */
	uint64_t start_ms;           /* the process started, ms since the Unix epoch */
	uint64_t loaded_ms;          /* the configuration in use was loaded, likewise */
	const char *version;         /* for upcased_build_info */
};

/*
 * The Prometheus text exposition (version 0.0.4) of v into buf: every
 * family with its # HELP and # TYPE, in a fixed order.  Returns the
 * length; what does not fit in buflen - 1 bytes is left out a whole line
 * at a time, and *truncated (may be NULL) says so.
 */
size_t stats_expose(const struct stats_view *v, char *buf, size_t buflen, bool *truncated);

/*
 * One log line: "name value" for the gauge upcased_tcp_connections_open
 * (all workers) and every counter, named as in the exposition
 * (upcased_tcp_connections_refused_total{reason="access"} 0), joined by
 * ", ".  Returns the length (truncated to buflen - 1 if needed, always
 * NUL-terminated).
 */
size_t stats_format(const struct stats *total, char *buf, size_t buflen);

/* One line for the log and systemd's STATUS=; returns its length, as stats_format(). */
size_t stats_summary(const struct stats *total, char *buf, size_t buflen);

#endif
