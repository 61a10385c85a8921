/* SPDX-License-Identifier: ISC */
/*
 * stats.c: names, families and formatting of the counters (pure).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "expo.h"
#include "stats.h"

/*
 * Each counter's family and, for a family of reasons, its label value.
 * A family's counters are written in this (the enum's) order.
 */
static const struct {
	const char *family;
	const char *reason;          /* NULL: the family's one sample */
} stat_defs[STAT__COUNT] = {
	[STAT_TCP_ACCEPTED]         = { "upcased_tcp_connections_accepted_total", NULL },
	[STAT_TCP_CLOSED]           = { "upcased_tcp_connections_closed_total", NULL },
	[STAT_TCP_REFUSED_MAXCONN]  = { "upcased_tcp_connections_refused_total", "max_connections" },
	[STAT_TCP_REFUSED_ACCESS]   = { "upcased_tcp_connections_refused_total", "access" },
	[STAT_TCP_REFUSED_PER_SOURCE] = { "upcased_tcp_connections_refused_total", "per_source" },
	[STAT_TCP_REFUSED_RATE]     = { "upcased_tcp_connections_refused_total", "rate" },
	[STAT_TCP_UNTRACKED]        = { "upcased_tcp_connections_untracked_total", NULL },
	[STAT_TCP_SLOW_CLOSES]      = { "upcased_tcp_connections_dropped_total", "min_rate" },
	[STAT_TCP_ACCEPT_ERRORS]    = { "upcased_tcp_accept_errors_total", NULL },
	[STAT_TCP_IDLE_TIMEOUTS]    = { "upcased_tcp_connections_dropped_total", "idle_timeout" },
	[STAT_TCP_RESETS]           = { "upcased_tcp_connections_dropped_total", "error" },
	[STAT_TCP_PROXY_HEADERS]    = { "upcased_tcp_proxy_headers_total", NULL },
	[STAT_TCP_PROXY_UNTRUSTED]  = { "upcased_tcp_proxy_refused_total", "untrusted" },
	[STAT_TCP_PROXY_INVALID]    = { "upcased_tcp_proxy_refused_total", "invalid" },
	[STAT_TCP_PROXY_TRUNCATED]  = { "upcased_tcp_proxy_refused_total", "truncated" },
	[STAT_TCP_PROXY_TIMEOUTS]   = { "upcased_tcp_proxy_refused_total", "timeout" },
	[STAT_TCP_BYTES_IN]         = { "upcased_tcp_bytes_in_total", NULL },
	[STAT_TCP_BYTES_OUT]        = { "upcased_tcp_bytes_out_total", NULL },
	[STAT_TCP_URING_NOBUFS]     = { "upcased_tcp_uring_nobufs_total", NULL },
	[STAT_UDP_DATAGRAMS_IN]     = { "upcased_udp_datagrams_in_total", NULL },
	[STAT_UDP_DATAGRAMS_OUT]    = { "upcased_udp_datagrams_out_total", NULL },
	[STAT_UDP_DROPPED_TOOLARGE] = { "upcased_udp_datagrams_dropped_total", "too_large" },
	[STAT_UDP_DROPPED_SENDFAIL] = { "upcased_udp_datagrams_dropped_total", "send_failed" },
	[STAT_UDP_DROPPED_ACCESS]   = { "upcased_udp_datagrams_dropped_total", "access" },
	[STAT_UDP_DROPPED_LOW_PORT] = { "upcased_udp_datagrams_dropped_total", "low_port" },
	[STAT_UDP_DROPPED_OWN_PORT] = { "upcased_udp_datagrams_dropped_total", "own_port" },
	[STAT_UDP_DROPPED_BAD_SOURCE] = { "upcased_udp_datagrams_dropped_total", "bad_source" },
	[STAT_UDP_DROPPED_BAD_DEST] = { "upcased_udp_datagrams_dropped_total", "bad_dest" },
	[STAT_UDP_DROPPED_LOOP]     = { "upcased_udp_datagrams_dropped_total", "loop" },
	[STAT_UDP_DROPPED_RATE]     = { "upcased_udp_datagrams_dropped_total", "rate_limit" },
	[STAT_UDP_LEAKED]           = { "upcased_udp_datagrams_leaked_total", NULL },
	[STAT_UDP_BYTES_IN]         = { "upcased_udp_bytes_in_total", NULL },
	[STAT_UDP_BYTES_OUT]        = { "upcased_udp_bytes_out_total", NULL },
	[STAT_RELOADS]              = { "upcased_reloads_total", NULL },
	[STAT_RELOAD_FAILURES]      = { "upcased_reload_failures_total", NULL },
	[STAT_UPGRADES]             = { "upcased_upgrades_total", NULL },
	[STAT_UPGRADE_FAILURES]     = { "upcased_upgrade_failures_total", NULL },
};

/* The counter families, in the order written, with their help. */
static const struct {
	const char *name;
	const char *help;
} counter_families[] = {
	{ "upcased_tcp_connections_accepted_total", "TCP connections accepted and served." },
	{ "upcased_tcp_connections_closed_total", "Served TCP connections closed, for any reason." },
	{ "upcased_tcp_connections_refused_total",
	  "TCP connections closed at once, unserved, by reason: max_connections open, "
	  "an access rule, limits.connections_per_source, limits.connection_rate." },
	{ "upcased_tcp_connections_dropped_total",
	  "Served TCP connections we closed before the client was done, by reason: "
	  "idle_timeout, min_rate (limits.min_rate under pressure), error (a read or "
	  "write failed: a reset, mostly)." },
	{ "upcased_tcp_connections_untracked_total",
	  "TCP connections let in uncounted: limits.table_size had no room for the source." },
	{ "upcased_tcp_accept_errors_total",
	  "accept(2) failures, out of descriptors (EMFILE, ENFILE) included." },
	{ "upcased_tcp_proxy_headers_total",
	  "PROXY protocol headers taken on proxy_protocol listeners." },
	{ "upcased_tcp_proxy_refused_total",
	  "Connections on proxy_protocol listeners closed without a usable header, by "
	  "reason: untrusted (not from trusted_proxies), invalid, truncated, timeout "
	  "(proxy_timeout)." },
	{ "upcased_tcp_bytes_in_total", "Bytes read from TCP clients." },
	{ "upcased_tcp_bytes_out_total", "Bytes written to TCP clients." },
	{ "upcased_tcp_uring_nobufs_total",
	  "io_uring: receives that found every shared receive buffer taken (the "
	  "connection was then read directly; nothing is lost)." },
	{ "upcased_udp_datagrams_in_total", "UDP datagrams received." },
	{ "upcased_udp_datagrams_out_total", "UDP datagrams answered." },
	{ "upcased_udp_datagrams_dropped_total",
	  "UDP datagrams received and not answered, by reason: too_large (the reply "
	  "would not fit), send_failed, access (an access rule), low_port (source "
	  "port below 1024), own_port (one of our UDP ports), bad_source, bad_dest, "
	  "loop (our own reply back), rate_limit (udp.rate_limit)." },
	{ "upcased_udp_datagrams_leaked_total",
	  "UDP datagrams over the source's rate limit answered anyway (udp.leak)." },
	{ "upcased_udp_bytes_in_total", "UDP payload bytes received." },
	{ "upcased_udp_bytes_out_total", "UDP payload bytes sent." },
	{ "upcased_reloads_total", "Configuration reloads applied." },
	{ "upcased_reload_failures_total",
	  "Configuration reloads refused; the running configuration was kept." },
	{ "upcased_upgrades_total",
	  "Live upgrades (SIGUSR2) that handed everything to a new process, since the "
	  "first of the line started." },
	{ "upcased_upgrade_failures_total",
	  "Live upgrades that failed; the old process went on serving." },
};

const uint64_t stats_hist_bounds[HIST__COUNT][HIST_BUCKETS] = {
	/* ms: 10 ms to an hour */
	[HIST_TCP_DURATION] = { 10, 50, 100, 250, 500, 1000, 5000, 10000, 30000, 60000,
	    300000, 900000, 3600000 },
	/* bytes: 1472 is the most that fits one Ethernet frame over IPv4 */
	[HIST_UDP_SIZE] = { 16, 32, 64, 128, 256, 512, 1024, 1472, 2048, 4096, 8192,
	    16384, 65536 },
};

static const struct {
	const char *name;
	const char *help;
	uint64_t scale;               /* observed units per exposed unit */
} hist_defs[HIST__COUNT] = {
	[HIST_TCP_DURATION] = { "upcased_tcp_connection_duration_seconds",
	    "How long served TCP connections lasted, counted as they close.", 1000 },
	[HIST_UDP_SIZE] = { "upcased_udp_datagram_size_bytes",
	    "Payload sizes of the UDP datagrams received.", 1 },
};

void
stats_key(enum stat_id id, char *buf, size_t len)
{
	if (stat_defs[id].reason != NULL)
		snprintf(buf, len, "%s{%s}", stat_defs[id].family, stat_defs[id].reason);
	else
		snprintf(buf, len, "%s", stat_defs[id].family);
}

int
stats_from_key(const char *key)
{
	char k[160];

	for (int i = 0; i < STAT__COUNT; i++) {
		stats_key((enum stat_id)i, k, sizeof(k));
		if (strcmp(k, key) == 0)
			return i;
	}
	return -1;
}

const char *
stats_hist_name(enum hist_id h)
{
	return hist_defs[h].name;
}

int
stats_hist_from_name(const char *name)
{
	for (int h = 0; h < HIST__COUNT; h++)
		if (strcmp(hist_defs[h].name, name) == 0)
			return h;
	return -1;
}

void
stats_sum_into(struct stats *dst, const struct stats *src)
{
	for (int i = 0; i < STAT__COUNT; i++)
		dst->v[i] += stats_get(src, (enum stat_id)i);
	for (int h = 0; h < HIST__COUNT; h++) {
		for (int b = 0; b <= HIST_BUCKETS; b++)
			dst->h[h].n[b] += __atomic_load_n(&src->h[h].n[b], __ATOMIC_RELAXED);
		dst->h[h].sum += __atomic_load_n(&src->h[h].sum, __ATOMIC_RELAXED);
	}
}

uint64_t
stats_open(const struct stats *t)
{
	uint64_t a = stats_get(t, STAT_TCP_ACCEPTED), c = stats_get(t, STAT_TCP_CLOSED);

	return a > c ? a - c : 0;
}

static void
expose_hist(struct expo *e, int h, const struct stats_hist *hi)
{
	const char *name = hist_defs[h].name;
	uint64_t scale = hist_defs[h].scale, cum = 0;
	char le[32];
	struct expo_label l = { "le", le };

	expo_family(e, name, "histogram", hist_defs[h].help);
	for (int b = 0; b <= HIST_BUCKETS; b++) {
		cum += hi->n[b];
		if (b == HIST_BUCKETS)
			snprintf(le, sizeof(le), "+Inf");
		else
			expo_decimal(stats_hist_bounds[h][b], scale, true, le, sizeof(le));
		expo_sample(e, name, "_bucket", &l, 1, cum);
	}
	/* _count is the +Inf bucket: the same snapshot, so they always agree. */
	expo_sample_scaled(e, name, "_sum", NULL, 0, hi->sum, scale);
	expo_sample(e, name, "_count", NULL, 0, cum);
}

size_t
stats_expose(const struct stats_view *v, char *buf, size_t buflen, bool *truncated)
{
	const struct stats *t = &v->total;
	struct expo e;
	struct expo_label l;
	char worker[32];

	expo_init(&e, buf, buflen);
	expo_family(&e, "upcased_build_info", "gauge",
	    "Always 1; the version label says which upcased this is.");
	l = (struct expo_label){ "version", v->version };
	expo_sample(&e, "upcased_build_info", NULL, &l, 1, 1);
	expo_family(&e, "upcased_start_time_seconds", "gauge",
	    "Start time of the process since the Unix epoch in seconds.");
	expo_sample_scaled(&e, "upcased_start_time_seconds", NULL, NULL, 0, v->start_ms, 1000);
	expo_family(&e, "upcased_last_reload_success_timestamp_seconds", "gauge",
	    "When the configuration in use was loaded (at start-up, or the last "
	    "successful reload), seconds since the Unix epoch.");
	expo_sample_scaled(&e, "upcased_last_reload_success_timestamp_seconds", NULL, NULL, 0,
	    v->loaded_ms, 1000);
	expo_family(&e, "upcased_tcp_connections_open", "gauge",
	    "TCP connections open, per TCP worker thread.");
	l = (struct expo_label){ "worker", worker };
	for (int i = 0; i < v->ntcp; i++) {
		snprintf(worker, sizeof(worker), "tcp%d", i);
		expo_sample(&e, "upcased_tcp_connections_open", NULL, &l, 1, v->open[i]);
	}
	if (v->busy != NULL) {
		expo_family(&e, "upcased_tcp_worker_busy_ratio", "gauge",
		    "Share of recent time each TCP worker spent outside epoll_wait, "
		    "smoothed; it decides who accepts (upcased.conf(5), tcp.threads).");
		for (int i = 0; i < v->ntcp; i++) {
			snprintf(worker, sizeof(worker), "tcp%d", i);
			expo_sample_scaled(&e, "upcased_tcp_worker_busy_ratio", NULL, &l, 1,
			    v->busy[i], 1000);
		}
	}
	for (size_t f = 0; f < sizeof(counter_families) / sizeof(counter_families[0]); f++) {
		const char *name = counter_families[f].name;

		expo_family(&e, name, "counter", counter_families[f].help);
		for (int i = 0; i < STAT__COUNT; i++) {
			if (strcmp(stat_defs[i].family, name) != 0)
				continue;
			l = (struct expo_label){ "reason", stat_defs[i].reason };
			expo_sample(&e, name, NULL, &l, l.value != NULL, t->v[i]);
		}
	}
	for (int h = 0; h < HIST__COUNT; h++)
		expose_hist(&e, h, &t->h[h]);
	if (truncated != NULL)
		*truncated = expo_truncated(&e);
	return expo_len(&e);
}

size_t
stats_format(const struct stats *t, char *buf, size_t buflen)
{
	size_t len = 0;
	int n;

	if (buflen == 0)
		return 0;
	buf[0] = '\0';
	n = snprintf(buf, buflen, "upcased_tcp_connections_open %" PRIu64, stats_open(t));
	for (int i = 0; n >= 0 && i < STAT__COUNT; i++) {
		len += (size_t)n;
		if (len >= buflen)
			return buflen - 1;
		if (stat_defs[i].reason != NULL)
			n = snprintf(buf + len, buflen - len, ", %s{reason=\"%s\"} %" PRIu64,
			    stat_defs[i].family, stat_defs[i].reason, t->v[i]);
		else
			n = snprintf(buf + len, buflen - len, ", %s %" PRIu64,
			    stat_defs[i].family, t->v[i]);
	}
	if (n > 0)
		len += (size_t)n;
	return len < buflen ? len : buflen - 1;
}

size_t
stats_summary(const struct stats *t, char *buf, size_t buflen)
{
	int n = snprintf(buf, buflen,
	    "%" PRIu64 " connections open, %" PRIu64 " accepted, %" PRIu64 " refused; "
	    "%" PRIu64 " datagrams served, %" PRIu64 " dropped; %" PRIu64 " bytes in, %" PRIu64 " out",
	    stats_open(t), t->v[STAT_TCP_ACCEPTED],
	    t->v[STAT_TCP_REFUSED_MAXCONN] + t->v[STAT_TCP_REFUSED_ACCESS] +
	    t->v[STAT_TCP_REFUSED_PER_SOURCE] + t->v[STAT_TCP_REFUSED_RATE],
	    t->v[STAT_UDP_DATAGRAMS_OUT],
	    t->v[STAT_UDP_DROPPED_TOOLARGE] + t->v[STAT_UDP_DROPPED_SENDFAIL] +
	    t->v[STAT_UDP_DROPPED_ACCESS] + t->v[STAT_UDP_DROPPED_LOW_PORT] +
	    t->v[STAT_UDP_DROPPED_OWN_PORT] + t->v[STAT_UDP_DROPPED_BAD_SOURCE] +
	    t->v[STAT_UDP_DROPPED_BAD_DEST] +
	    t->v[STAT_UDP_DROPPED_LOOP] + t->v[STAT_UDP_DROPPED_RATE],
	    t->v[STAT_TCP_BYTES_IN] + t->v[STAT_UDP_BYTES_IN],
	    t->v[STAT_TCP_BYTES_OUT] + t->v[STAT_UDP_BYTES_OUT]);
	if (n < 0 || buflen == 0)
		return 0;
	return (size_t)n < buflen ? (size_t)n : buflen - 1;
}
