/* SPDX-License-Identifier: ISC */
/*
 * stats.h: operator counters.  Each worker owns one struct stats and is
 * its only writer (relaxed atomic adds, no locks on the hot path); the main
 * thread sums them on demand.  Gauges (connections open) are derived.
 */
#ifndef UPCASE_STATS_H
#define UPCASE_STATS_H

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
	STAT__COUNT
};

struct stats {
	uint64_t v[STAT__COUNT];
};

/* The owner adds; anyone may read. */
static inline void
stats_add(struct stats *s, enum stat_id id, uint64_t n)
{
	__atomic_store_n(&s->v[id], __atomic_load_n(&s->v[id], __ATOMIC_RELAXED) + n,
	    __ATOMIC_RELAXED);
}

static inline uint64_t
stats_get(const struct stats *s, enum stat_id id)
{
	return __atomic_load_n(&s->v[id], __ATOMIC_RELAXED);
}

/* Add every counter of src into dst (dst is the reader's private copy). */
void stats_sum_into(struct stats *dst, const struct stats *src);

/*
 * TCP connections open: accepted - closed.  The two are read one after
 * the other while a worker moves them: never below 0.
 */
uint64_t stats_open(const struct stats *s);

/*
 * Write "name value" for every counter plus the derived gauge
 * upcased_tcp_connections_open into buf, each followed by sep: "\n" gives
 * lines (the control socket); any other sep goes between the entries only
 * (one log line).  Returns the length (truncated to buflen - 1 if needed,
 * always NUL-terminated).
 */
size_t stats_format(const struct stats *total, const char *sep, char *buf, size_t buflen);

/* One line for the log and systemd's STATUS=; returns its length, as stats_format(). */
size_t stats_summary(const struct stats *total, char *buf, size_t buflen);

#endif
