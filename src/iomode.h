/* SPDX-License-Identifier: ISC */
/*
 * iomode.h: which event API the TCP workers run on (upcased.conf(5): io),
 * decided from the setting and what a probe of io_uring found.  Pure: the
 * probe itself is in uring.c, which touches the kernel.
 *
 * "auto" takes io_uring when the probe found it usable and epoll
 * otherwise, and says why in one line; "uring" with io_uring unusable is
 * a start-up error that says why; "epoll" never probes.
 */
#ifndef UPCASE_IOMODE_H
#define UPCASE_IOMODE_H

#include <stdbool.h>
#include <stddef.h>

enum iomode {
	IOMODE_AUTO,
	IOMODE_EPOLL,
	IOMODE_URING,
};

/* "auto", "epoll", "uring": the mode, or -1. */
int iomode_from_name(const char *name);
const char *iomode_name(enum iomode m);

/* What a probe of io_uring found (uring_probe). */
struct iomode_probe {
	bool        built;      /* this upcased was built with liburing */
	int         err;        /* 0: usable; else the errno of the step that failed */
	const char *step;       /* that step: "io_uring_setup", "IORING_REGISTER_PBUF_RING", ... */
	int         disabled;   /* kernel.io_uring_disabled: 0, 1, 2; -1: not known */
};

/*
 * The mode to run (IOMODE_EPOLL or IOMODE_URING), or -1 when the setting
 * asks for io_uring and it cannot be had.  why (always written, len > 0)
 * says in one sentence without a final stop what was chosen and, when not
 * io_uring, why not: for the log line of "auto", or the error of "uring".
 */
int iomode_choose(enum iomode setting, const struct iomode_probe *p, char *why, size_t len);

#endif
