/* SPDX-License-Identifier: ISC */
/*
 * notify.c: sd-daemon calls (readiness, status, reload, stop, watchdog,
 * socket activation).  Every call is harmless when not run by systemd.
 */
#include "config.h"

#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
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
notify_listen_fds(struct notify_fd *v, size_t max, char *err, size_t errlen)
{
	char **names = NULL;
	int n = sd_listen_fds_with_names(1, &names);

	if (n < 0) {
		snprintf(err, errlen, "LISTEN_FDS: %s", strerror(-n));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;
		int fl = fcntl(fd, F_GETFL);
		struct notify_fd *o = &v[i];

		if ((size_t)i >= max) {
			snprintf(err, errlen, "more than %zu descriptors passed", max);
			n = -1;
			break;
		}
		o->fd = fd;
		snprintf(o->name, sizeof(o->name), "%s",
		    names != NULL && names[i] != NULL && strcmp(names[i], "unknown") != 0 ?
		    names[i] : "");
		if (sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 1) > 0)
			o->type = SOCK_STREAM;
		else if (sd_is_socket(fd, AF_UNSPEC, SOCK_DGRAM, -1) > 0)
			o->type = SOCK_DGRAM;
		else {
			snprintf(err, errlen, "passed descriptor %d is neither a listening "
			    "stream socket nor a datagram socket", fd);
			n = -1;
			break;
		}
		fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	if (names != NULL) {
		for (char **p = names; *p != NULL; p++)
			free(*p);
		free(names);
	}
	return n;
}

void
notify_mainpid(long pid)
{
	sd_notifyf(0, "MAINPID=%ld", pid);
}

int
notify_fdstore_enabled(void)
{
	const char *max = getenv("FDSTORE");

	return getenv("NOTIFY_SOCKET") != NULL && max != NULL && strtol(max, NULL, 10) > 0;
}

void
notify_fdstore_add(int fd, const char *name)
{
	char msg[300];

	snprintf(msg, sizeof(msg), "FDSTORE=1\nFDNAME=%s", name);
	sd_pid_notify_with_fds(0, 0, msg, &fd, 1);
}

void
notify_fdstore_remove(const char *name)
{
	sd_notifyf(0, "FDSTOREREMOVE=1\nFDNAME=%s", name);
}
