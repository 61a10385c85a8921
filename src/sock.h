/* SPDX-License-Identifier: ISC */
/*
 * sock.h: small descriptor helpers shared by the daemon's modules and the
 * client: closing on an error path without losing its errno, and the one
 * classification of accept(2) failures.
 */
#ifndef UPCASE_SOCK_H
#define UPCASE_SOCK_H

#include <stddef.h>

/* close(fd) on an error path: errno stays that of the failure. */
void sock_close_keep_errno(int fd);

/* What an accept(2) failure means for the caller's loop. */
enum sock_accept_error {
	SOCK_ACCEPT_EMPTY,     /* EAGAIN: no connection is waiting */
	SOCK_ACCEPT_RETRY,     /* this connection went away (ECONNABORTED, ...): try the next */
	SOCK_ACCEPT_BACKOFF,   /* out of descriptors or memory: pause, or poll spins */
	SOCK_ACCEPT_FAILED,    /* anything else: log it */
};

enum sock_accept_error sock_accept_error(int err);

/*
 * The address a socket is bound to, for logs: "127.0.0.1:12000",
 * "[::1]:12000" (addr_format), or "(address unknown: REASON)".
 */
#define SOCK_NAME_MAX 96
const char *sock_name(int fd, char *buf, size_t buflen);

#endif
