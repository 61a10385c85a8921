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
notify_listen_fds(struct notify_fd *v, size_t max, char *err, size_t errlen)
{
	(void)v; (void)max; (void)err; (void)errlen;
	return 0;
}

void notify_mainpid(long pid) { (void)pid; }
int  notify_fdstore_enabled(void) { return 0; }
void notify_fdstore_add(int fd, const char *name) { (void)fd; (void)name; }
void notify_fdstore_remove(const char *name) { (void)name; }
