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

/* "1.2.3.4:80" / "[::1]:80" into buf. */
const char *addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen);

#endif
