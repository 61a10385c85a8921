/* SPDX-License-Identifier: ISC */
/*
 * stdfds.c: see stdfds.h.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "stdfds.h"

int
stdfds_ensure_open(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		int nfd;

		if (fcntl(fd, F_GETFD) != -1 || errno != EBADF)
			continue;
		/* The lowest free descriptor is fd itself; see stdfds.h for the modes. */
		nfd = open("/dev/null", fd == 0 ? O_WRONLY : O_RDONLY);
		if (nfd != fd) {
			if (nfd != -1)
				close(nfd);
			return -1;
		}
	}
	return 0;
}
