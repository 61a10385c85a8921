/* SPDX-License-Identifier: ISC */
/*
 * proto.h: the protocol constants that the daemon and the client share.
 *
 * TCP: a byte stream, every byte sent comes back transformed, in order,
 * no framing.  UDP: one datagram in, one datagram out.
 */
#ifndef UPCASE_PROTO_H
#define UPCASE_PROTO_H

#define UPCASE_DEFAULT_PORT      12000
#define UPCASE_DEFAULT_PORT_STR  "12000"

/* Largest UDP payload: 65535 - 8 (UDP header) - 20 (IPv4 header). */
#define UPCASE_UDP_MAX_PAYLOAD4  65507
/* IPv6 (no jumbograms): 65535 - 8 (UDP header); the IPv6 header is not counted. */
#define UPCASE_UDP_MAX_PAYLOAD6  65527

/*
 * The control socket, where upcased creates it and upcase --stats looks,
 * unless told otherwise: in RUNSTATEDIR/upcased, the directory that the
 * systemd unit's RuntimeDirectory=upcased creates.  RUNSTATEDIR comes from
 * configure --runstatedir (default /run, whatever the prefix).
 */
#ifndef RUNSTATEDIR
#define RUNSTATEDIR "/run"
#endif
#define UPCASE_DEFAULT_CONTROL_SOCKET RUNSTATEDIR "/upcased/upcased.sock"
/*
 * The same as etc/upcased.conf and the man pages spell it in the source
 * tree; "make install" writes RUNSTATEDIR's in the copies it installs.
 */
#define UPCASE_DOCS_CONTROL_SOCKET "/run/upcased/upcased.sock"

/*
 * Exit codes: EX_* from <sysexits.h> (sysexits(3)), in the daemon and the
 * client alike; upcase(1) and upcased(8) list which mean what.
 */

#endif
