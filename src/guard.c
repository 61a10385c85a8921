/* SPDX-License-Identifier: ISC */
/*
 * guard.c: the per-datagram "answer or drop" rules of guard.h.  Pure and
 * cheap: a handful of integer comparisons, plus a scan of the (small)
 * own-port and broadcast arrays.  Unit-tested by tests/test_guard.c.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdbool.h>
#include <string.h>

#include "guard.h"

/* An address as guard judges it: IPv4 (mapped ones included) or IPv6. */
struct gaddr {
	int		 family;	/* AF_INET or AF_INET6 */
	bool		 mapped;	/* IPv4 seen as ::ffff:a.b.c.d */
	uint32_t	 v4;		/* host order, when AF_INET */
	const uint8_t	*v6;		/* when AF_INET6 */
	uint16_t	 port;		/* host order */
};

static const uint8_t zero12[12];

/* Inline: called twice a datagram, and worth a third of the cost. */
static inline bool
gaddr_get(const struct sockaddr *sa, struct gaddr *g)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *b;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		g->family = AF_INET;
		g->mapped = false;
		g->v4 = ntohl(sin->sin_addr.s_addr);
		g->v6 = NULL;
		g->port = ntohs(sin->sin_port);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	b = sin6->sin6_addr.s6_addr;
	g->port = ntohs(sin6->sin6_port);
	g->mapped = IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr);
	g->family = g->mapped ? AF_INET : AF_INET6;
	memcpy(&g->v4, b + 12, sizeof(g->v4));
	g->v4 = ntohl(g->v4);
	g->v6 = b;
	return true;
}

static bool
in_bcast(uint32_t a, const struct in_addr *bcast, size_t nbcast)
{
	size_t i;

	for (i = 0; i < nbcast; i++)
		if (ntohl(bcast[i].s_addr) == a)
			return true;
	return false;
}

static bool
v6_is_loopback(const uint8_t *b)
{
	return memcmp(b, zero12, sizeof(zero12)) == 0 && b[12] == 0 &&
	    b[13] == 0 && b[14] == 0 && b[15] == 1;
}

static bool
gaddr_is_loopback(const struct gaddr *g)
{
	if (g->family == AF_INET)
		return g->v4 >> 24 == 127;
	return v6_is_loopback(g->v6);
}

/*
 * No real client sends from 0.0.0.0/8 ("this network"), 224.0.0.0/4
 * (multicast) or 240.0.0.0/4 (class E, 255.255.255.255 included).
 */
static bool
v4_bad_source(uint32_t a, const struct in_addr *bcast, size_t nbcast)
{
	return a >> 24 == 0 || a >> 28 >= 0xe || in_bcast(a, bcast, nbcast);
}

/*
 * Nor from ff00::/8 (multicast) or ::/96: "::" is unspecified and the
 * rest is the deprecated v4-compatible form (RFC 4291 2.5.5.1), which
 * only a spoofer would use now; ::1 is loopback, judged elsewhere.
 */
static bool
v6_bad_source(const uint8_t *b)
{
	if (b[0] == 0xff)
		return true;
	return memcmp(b, zero12, sizeof(zero12)) == 0 && !v6_is_loopback(b);
}

static bool
bad_source(const struct gaddr *src, const struct gaddr *local,
    const struct in_addr *bcast, size_t nbcast)
{
	if (src->family == AF_INET6)
		return v6_bad_source(src->v6);
	if (v4_bad_source(src->v4, bcast, nbcast))
		return true;
	/*
	 * A mapped source is how a dual-stack socket shows an IPv4 client,
	 * whose local address is then mapped too.  A mapped source sent to
	 * a native IPv6 address came in an IPv6 packet: forged.
	 */
	return src->mapped && local != NULL && local->family == AF_INET6;
}

/*
 * Broadcast, multicast, or unspecified / "this network" (0.0.0.0 was the
 * 4.2BSD broadcast).  v4 holds the last 4 bytes of an IPv6 address too.
 */
static bool
bad_dest(const struct gaddr *local, const struct in_addr *bcast,
    size_t nbcast)
{
	uint32_t a = local->v4;

	if (local->family == AF_INET6)
		return local->v6[0] == 0xff ||
		    (memcmp(local->v6, zero12, sizeof(zero12)) == 0 &&
		    local->v4 == 0);
	return a == UINT32_MAX || a >> 28 == 0xe || a >> 24 == 0 ||
	    in_bcast(a, bcast, nbcast);
}

static bool
own_port(uint16_t port, const uint16_t *own_ports, size_t nown)
{
	size_t i;

	for (i = 0; i < nown; i++)
		if (own_ports[i] == port)
			return true;
	return false;
}

enum guard_verdict
guard_check_bcast(const struct sockaddr *src, const struct sockaddr *local,
    const uint16_t *own_ports, size_t nown, const struct in_addr *bcast,
    size_t nbcast)
{
	struct gaddr s, l, *lp = NULL;

	if (!gaddr_get(src, &s))
		return GUARD_BAD_SOURCE;
	/* A local address of no IP family tells nothing: as if unknown. */
	if (gaddr_get(local, &l))
		lp = &l;
	if (bad_source(&s, lp, bcast, nbcast))
		return GUARD_BAD_SOURCE;
	/* Linux drops these as martians; be sure, whatever the kernel. */
	if (lp != NULL && gaddr_is_loopback(&s) && !gaddr_is_loopback(lp))
		return GUARD_LOOPBACK_SPOOF;
	if (lp != NULL && bad_dest(lp, bcast, nbcast))
		return GUARD_BAD_DEST;
	if (s.port < IPPORT_RESERVED)
		return GUARD_LOW_PORT;
	if (own_port(s.port, own_ports, nown))
		return GUARD_OWN_PORT;
	return GUARD_OK;
}

enum guard_verdict
guard_check(const struct sockaddr *src, const struct sockaddr *local,
    const uint16_t *own_ports, size_t nown)
{
	return guard_check_bcast(src, local, own_ports, nown, NULL, 0);
}

const char *
guard_verdict_name(enum guard_verdict v)
{
	switch (v) {
	case GUARD_OK:
		return "ok";
	case GUARD_LOW_PORT:
		return "low_port";
	case GUARD_OWN_PORT:
		return "own_port";
	case GUARD_BAD_SOURCE:
		return "bad_source";
	case GUARD_LOOPBACK_SPOOF:
		return "loopback_spoof";
	case GUARD_BAD_DEST:
		return "bad_dest";
	}
	return "unknown";
}
