/* SPDX-License-Identifier: ISC */
/*
 * sock.c: descriptor helpers (see sock.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
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

const char *
sock_name(int fd, char *buf, size_t buflen)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) == -1) {
		snprintf(buf, buflen, "(address unknown: %s)", strerror(errno));
		return buf;
	}
	return addr_format((struct sockaddr *)&ss, len, buf, buflen);
}
