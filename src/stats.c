/* SPDX-License-Identifier: ISC */
/*
 * stats.c: names and formatting of the counters (pure).
 */
#include "config.h"

#include <inttypes.h>
#include <stdio.h>

#include "stats.h"

static const char *const stat_names[STAT__COUNT] = {
	[STAT_TCP_ACCEPTED]         = "upcased_tcp_connections_accepted_total",
	[STAT_TCP_CLOSED]           = "upcased_tcp_connections_closed_total",
	[STAT_TCP_REFUSED_MAXCONN]  = "upcased_tcp_connections_refused_max_connections_total",
	[STAT_TCP_REFUSED_ACCESS]   = "upcased_tcp_connections_refused_access_total",
	[STAT_TCP_REFUSED_PER_SOURCE] = "upcased_tcp_connections_refused_per_source_total",
	[STAT_TCP_REFUSED_RATE]     = "upcased_tcp_connections_refused_rate_total",
	[STAT_TCP_UNTRACKED]        = "upcased_tcp_connections_untracked_total",
	[STAT_TCP_SLOW_CLOSES]      = "upcased_tcp_slow_closes_total",
	[STAT_TCP_ACCEPT_ERRORS]    = "upcased_tcp_accept_errors_total",
	[STAT_TCP_IDLE_TIMEOUTS]    = "upcased_tcp_idle_timeouts_total",
	[STAT_TCP_RESETS]           = "upcased_tcp_connection_errors_total",
	[STAT_TCP_PROXY_HEADERS]    = "upcased_tcp_proxy_headers_total",
	[STAT_TCP_PROXY_UNTRUSTED]  = "upcased_tcp_proxy_refused_untrusted_total",
	[STAT_TCP_PROXY_INVALID]    = "upcased_tcp_proxy_refused_invalid_total",
	[STAT_TCP_PROXY_TRUNCATED]  = "upcased_tcp_proxy_refused_truncated_total",
	[STAT_TCP_PROXY_TIMEOUTS]   = "upcased_tcp_proxy_refused_timeout_total",
	[STAT_TCP_BYTES_IN]         = "upcased_tcp_bytes_in_total",
	[STAT_TCP_BYTES_OUT]        = "upcased_tcp_bytes_out_total",
	[STAT_UDP_DATAGRAMS_IN]     = "upcased_udp_datagrams_in_total",
	[STAT_UDP_DATAGRAMS_OUT]    = "upcased_udp_datagrams_out_total",
	[STAT_UDP_DROPPED_TOOLARGE] = "upcased_udp_datagrams_dropped_too_large_total",
	[STAT_UDP_DROPPED_SENDFAIL] = "upcased_udp_datagrams_dropped_send_failed_total",
	[STAT_UDP_DROPPED_ACCESS]   = "upcased_udp_datagrams_dropped_access_total",
	[STAT_UDP_DROPPED_LOW_PORT] = "upcased_udp_datagrams_dropped_low_port_total",
	[STAT_UDP_DROPPED_OWN_PORT] = "upcased_udp_datagrams_dropped_own_port_total",
	[STAT_UDP_DROPPED_BAD_SOURCE] = "upcased_udp_datagrams_dropped_bad_source_total",
	[STAT_UDP_DROPPED_BAD_DEST] = "upcased_udp_datagrams_dropped_bad_dest_total",
	[STAT_UDP_DROPPED_LOOP]     = "upcased_udp_datagrams_dropped_loop_total",
	[STAT_UDP_DROPPED_RATE]     = "upcased_udp_datagrams_dropped_rate_limit_total",
	[STAT_UDP_LEAKED]           = "upcased_udp_datagrams_leaked_total",
	[STAT_UDP_BYTES_IN]         = "upcased_udp_bytes_in_total",
	[STAT_UDP_BYTES_OUT]        = "upcased_udp_bytes_out_total",
	[STAT_RELOADS]              = "upcased_reloads_total",
	[STAT_RELOAD_FAILURES]      = "upcased_reload_failures_total",
};

void
stats_sum_into(struct stats *dst, const struct stats *src)
{
	for (int i = 0; i < STAT__COUNT; i++)
		dst->v[i] += stats_get(src, (enum stat_id)i);
}

uint64_t
stats_open(const struct stats *t)
{
	uint64_t a = stats_get(t, STAT_TCP_ACCEPTED), c = stats_get(t, STAT_TCP_CLOSED);

	return a > c ? a - c : 0;
}

size_t
stats_format(const struct stats *t, const char *sep, char *buf, size_t buflen)
{
	size_t len = 0;
	int n;

	if (buflen == 0)
		return 0;
	buf[0] = '\0';
	n = snprintf(buf, buflen, "upcased_tcp_connections_open %" PRIu64 "%s",
	    stats_open(t), sep);
	for (int i = 0; n >= 0 && i < STAT__COUNT; i++) {
		len += (size_t)n;
		if (len >= buflen)
			return buflen - 1;
		n = snprintf(buf + len, buflen - len, "%s %" PRIu64 "%s",
		    stat_names[i], t->v[i], i + 1 < STAT__COUNT || sep[0] == '\n' ? sep : "");
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
