/* SPDX-License-Identifier: ISC */
/*
 * notify.c: sd-daemon calls (readiness, status, reload, stop, watchdog,
 * socket activation).  Every call is harmless when not run by systemd.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <systemd/sd-daemon.h>

#include "clock.h"
#include "notify.h"

void
notify_ready(void)
{
	sd_notify(0, "READY=1");
}

void
notify_reloading(void)
{
	/* MONOTONIC_USEC lets newer systemd match the reload to our READY=1. */
	sd_notifyf(0, "RELOADING=1\nMONOTONIC_USEC=%llu",
	    (unsigned long long)clock_usec());
}

void
notify_stopping(void)
{
	sd_notify(0, "STOPPING=1");
}

void
notify_status(const char *status)
{
	sd_notifyf(0, "STATUS=%s", status);
}

uint64_t
notify_watchdog_interval(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec / 2;
}

void
notify_watchdog(void)
{
	sd_notify(0, "WATCHDOG=1");
}

int
notify_listen_fds(int *tcp, size_t *ntcp, int *udp, size_t *nudp, size_t max,
    char *err, size_t errlen)
{
	int n = sd_listen_fds(1);

	*ntcp = *nudp = 0;
	if (n < 0) {
		snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return -1;
	}
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		int fl = fcntl(fd, F_GETFL);

		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0 && *ntcp < max)
			tcp[(*ntcp)++] = fd;
		else if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0 && *nudp < max)
			udp[(*nudp)++] = fd;
		else {
			snprintf(err, errlen, "passed descriptor %d is neither a listening "
			    "stream socket nor a datagram socket (or too many)", fd);
			return -1;
		}
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	return n;
}
