/* SPDX-License-Identifier: ISC */
/*
 * sock.c: descriptor helpers (see sock.h).
 */
#include "config.h"

#include <errno.h>
#include <unistd.h>

#include "sock.h"

void
sock_close_keep_errno(int fd)
{
	int saved = errno;

	close(fd);
	errno = saved;
}

enum sock_accept_error
sock_accept_error(int err)
{
	switch (err) {
	case EAGAIN:
		return SOCK_ACCEPT_EMPTY;
	case EINTR:
	case ECONNABORTED:
	case EPROTO:
	case EPERM:		/* a firewall rule refused it */
		return SOCK_ACCEPT_RETRY;
	case EMFILE:
	case ENFILE:
	case ENOBUFS:
	case ENOMEM:
		return SOCK_ACCEPT_BACKOFF;
	default:
		return SOCK_ACCEPT_FAILED;
	}
}
