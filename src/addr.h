/* SPDX-License-Identifier: ISC */
/*
 * addr.h: address parsing shared by the daemon and the client.  Pure: no
 * sockets, no name resolution.
 */
#ifndef UPCASE_ADDR_H
#define UPCASE_ADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/*
 * Split "HOST", "HOST:PORT", "[V6ADDR]", "[V6ADDR]:PORT" or a bare IPv6
 * address ("::1", more than one colon) into host and port.  host and port
 * get copies of the parts (port is left untouched when absent).  Returns 0,
 * or -1 with a reason in err for malformed input ("[::1", "host:", ...).
 */
int addr_split_hostport(const char *s, char *host, size_t hostlen,
    char *port, size_t portlen, char *err, size_t errlen);

/* Parse a port number 1..65535 (decimal, nothing else); -1 if invalid. */
int addr_parse_port(const char *s);

/*
 * Fill ss with a numeric address (IPv4 or IPv6, no names) and port.
 * Returns 0, or -1 if text is not a numeric address.
 */
int addr_parse_numeric(const char *text, uint16_t port, struct sockaddr_storage *ss, socklen_t *len);

/*
 * A listener address as upcased.conf spells it: "*" (every address,
 * dual-stack) or a numeric IPv4 or IPv6 address.  The binary form makes
 * "::1" and "0::1" one address.
 */
struct addr_listen {
	int           family;    /* AF_UNSPEC for "*", AF_INET or AF_INET6 */
	unsigned char bytes[16]; /* the address, 4 or 16 bytes; zero for "*" */
};

/* Parse text into out (may be NULL: only check); 0, or -1 if it is neither. */
int addr_listen_parse(const char *text, struct addr_listen *out);

/*
 * Whether two listener addresses are the same address ("::1" and "0::1"
 * are; "*" is only itself; "::ffff:127.0.0.1" is not "127.0.0.1").  Text
 * that is not a listener address is the same only as identical text.
 */
bool addr_same(const char *a, const char *b);

/*
 * Whether two listener addresses on one port and protocol could not both
 * be bound: the same address, or one is "*" (covers everything), or both
 * are of one family and one is that family's wildcard (0.0.0.0, ::).
 * Text that is not a listener address overlaps only what it is the same as.
 */
bool addr_overlap(const char *a, const char *b);

/* "1.2.3.4:80" / "[::1]:80" into buf. */
const char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

#endif
