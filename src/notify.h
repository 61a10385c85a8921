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
 * Sockets passed by socket activation (LISTEN_FDS).  Fills tcp[] and
 * udp[] (up to max each); returns the number of sockets passed (0 if not
 * socket-activated), or -1 with a reason in err if one is of a kind we
 * cannot serve.
 */
int notify_listen_fds(int *tcp, size_t *ntcp, int *udp, size_t *nudp, size_t max,
    char *err, size_t errlen);

#endif
