/* SPDX-License-Identifier: ISC */
/*
 * notify.h: everything the daemon says to systemd (sd-daemon), in one
 * place.  notify.c uses libsystemd; notify-disabled.c is built instead
 * with --without-systemd, and turns every call into a no-op.
 */
#ifndef UPCASE_NOTIFY_H
#define UPCASE_NOTIFY_H

#include <stddef.h>
#include <stdint.h>

void notify_ready(void);
void notify_reloading(void);
void notify_stopping(void);
void notify_status(const char *status);
/* Watchdog ping interval in microseconds (half of WATCHDOG_USEC), 0 if off. */
uint64_t notify_watchdog_interval(void);
void notify_watchdog(void);

/*
 * Sockets passed by systemd (LISTEN_FDS, LISTEN_FDNAMES): socket
 * activation, and what the file descriptor store kept.  Fills v (up to
 * max); returns how many were passed (0 if none), or -1 with a reason in
 * err if one is of a kind we cannot serve.
 */
struct notify_fd {
	int  fd;
	int  type;                    /* SOCK_STREAM (listening) or SOCK_DGRAM */
	char name[256];               /* LISTEN_FDNAMES' name, "" if none */
};
int notify_listen_fds(struct notify_fd *v, size_t max, char *err, size_t errlen);

/* Live upgrade: the process pid is the service's main process from now on. */
void notify_mainpid(long pid);

/*
 * systemd's file descriptor store (FileDescriptorStoreMax= in the unit):
 * whether to use it (the FDSTORE variable systemd 254 and later set, which
 * our unit sets for older ones, is above 0, and NOTIFY_SOCKET is set);
 * keep fd under name; let go of what name holds.
 */
int  notify_fdstore_enabled(void);
void notify_fdstore_add(int fd, const char *name);
void notify_fdstore_remove(const char *name);

#endif
