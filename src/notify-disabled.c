/* SPDX-License-Identifier: ISC */
/*
 * notify-disabled.c: built with --without-systemd.  No notifications, no
 * socket activation.
 */
#include "config.h"

#include <stddef.h>
#include <stdint.h>

#include "notify.h"

void notify_ready(void) {}
void notify_reloading(void) {}
void notify_stopping(void) {}
void notify_status(const char *status) { (void)status; }
uint64_t notify_watchdog_interval(void) { return 0; }
void notify_watchdog(void) {}

int
notify_listen_fds(int *tcp, size_t *ntcp, int *udp, size_t *nudp, size_t max,
    char *err, size_t errlen)
{
	(void)tcp; (void)udp; (void)max; (void)err; (void)errlen;
	*ntcp = *nudp = 0;
	return 0;
}
