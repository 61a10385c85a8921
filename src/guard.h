/* SPDX-License-Identifier: ISC */
/*
 * guard.h: which UDP datagrams get no reply.  Pure classification, after
 * OpenBSD inetd's dg_badinput() and FreeBSD inetd's check_loop(): a reply
 * to a privileged port (echo 7, chargen 19, ...) or to one of our own
 * ports could start a loop between services, and a reply to a source that
 * cannot be a real client (multicast, broadcast, unspecified, ...) is
 * only ever useful to someone spoofing it.
 *
 * Subnet broadcast addresses depend on the interfaces' netmasks, which a
 * pure function cannot know, and a rule such as "x.x.x.255" would drop
 * real clients (a /23 has a host ending in .255).  guard_check() leaves
 * them out; guard_check_bcast() takes the caller's list of broadcast
 * addresses (from getifaddrs(), say).
 */
#ifndef UPCASE_GUARD_H
#define UPCASE_GUARD_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

enum guard_verdict {
	GUARD_OK,
	GUARD_LOW_PORT,		/* source port below 1024, or 0 */
	GUARD_OWN_PORT,		/* source port one of our UDP listening ports */
	GUARD_BAD_SOURCE,	/* unspecified, multicast, broadcast, class E,
				   v4-compatible, mapped nonsense, not IP */
	GUARD_LOOPBACK_SPOOF,	/* loopback source, non-loopback local address */
	GUARD_BAD_DEST		/* sent to a broadcast or multicast address */
};

/*
 * Whether to answer a datagram.  src: its source (struct sockaddr_in or
 * sockaddr_in6; a v4-mapped address counts as IPv4).  local: the address
 * it was sent to, the header's destination (ipi_addr of IP_PKTINFO,
 * ipi6_addr of IPV6_PKTINFO), or NULL if unknown: then only src is
 * judged.  own_ports: our UDP listening ports, host byte order.
 *
 * Checked in this order, the first failure deciding: src's address
 * (GUARD_BAD_SOURCE), a loopback src on a non-loopback local
 * (GUARD_LOOPBACK_SPOOF), local's address (GUARD_BAD_DEST: one datagram
 * to a broadcast address would get an answer from every host), src's port
 * (GUARD_LOW_PORT, then GUARD_OWN_PORT).
 */
enum guard_verdict guard_check(const struct sockaddr *src,
    const struct sockaddr *local, const uint16_t *own_ports, size_t nown);

/*
 * guard_check(), also treating the IPv4 addresses in bcast (the
 * interfaces' subnet broadcast addresses) as broadcast: as a source
 * GUARD_BAD_SOURCE, as local GUARD_BAD_DEST.
 */
enum guard_verdict guard_check_bcast(const struct sockaddr *src,
    const struct sockaddr *local, const uint16_t *own_ports, size_t nown,
    const struct in_addr *bcast, size_t nbcast);

/* "ok", "low_port", "own_port", "bad_source", "loopback_spoof",
   "bad_dest": stats and metric label values. */
const char *guard_verdict_name(enum guard_verdict v);

#endif
