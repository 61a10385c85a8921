/* SPDX-License-Identifier: ISC */
/* iomode.c: see iomode.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "iomode.h"

static const char *const iomode_names[] = {
	[IOMODE_AUTO]  = "auto",
	[IOMODE_EPOLL] = "epoll",
	[IOMODE_URING] = "uring",
};

int
iomode_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(iomode_names) / sizeof(iomode_names[0]); i++)
		if (strcmp(name, iomode_names[i]) == 0)
			return (int)i;
	return -1;
}

const char *
iomode_name(enum iomode m)
{
	return (unsigned)m < sizeof(iomode_names) / sizeof(iomode_names[0]) ?
	    iomode_names[m] : "?";
}

/* Why io_uring cannot be had, as p says, into buf. */
static void
iomode_reason(const struct iomode_probe *p, char *buf, size_t len)
{
	const char *step = p->step != NULL ? p->step : "io_uring";

	if (!p->built)
		snprintf(buf, len, "this upcased was built without liburing");
	else if (p->disabled == 2)
		snprintf(buf, len, "the kernel.io_uring_disabled sysctl is 2 (%s: %s)", step,
		    strerror(p->err));
	else if (p->disabled == 1 && p->err == EPERM)
		snprintf(buf, len, "the kernel.io_uring_disabled sysctl is 1 and the process "
		    "is not in kernel.io_uring_group (%s: %s)", step, strerror(p->err));
	else if (p->err == ENOSYS)
		snprintf(buf, len, "%s: %s (a kernel without io_uring, or a seccomp filter "
		    "such as a container's or systemd's SystemCallFilter=)", step,
		    strerror(p->err));
	else if (p->err == EPERM || p->err == EACCES)
		snprintf(buf, len, "%s: %s (a seccomp filter such as systemd's "
		    "SystemCallFilter= or a container's, or a security module)", step,
		    strerror(p->err));
	else if (p->err == EINVAL || p->err == EOPNOTSUPP)
		snprintf(buf, len, "%s: %s (the kernel is too old: Linux 5.19 or later is "
		    "needed)", step, strerror(p->err));
	else
		snprintf(buf, len, "%s: %s", step, strerror(p->err));
}

int
iomode_choose(enum iomode setting, const struct iomode_probe *p, char *why, size_t len)
{
	char reason[256];

	switch (setting) {
	case IOMODE_EPOLL:
		snprintf(why, len, "TCP workers use epoll (io = \"epoll\")");
		return IOMODE_EPOLL;
	case IOMODE_AUTO:
	case IOMODE_URING:
		break;
	}
	if (p->built && p->err == 0) {
		snprintf(why, len, "TCP workers use io_uring (io = \"%s\")", iomode_name(setting));
		return IOMODE_URING;
	}
	iomode_reason(p, reason, sizeof(reason));
	if (setting == IOMODE_URING) {
		snprintf(why, len, "io = \"uring\", but io_uring cannot be used: %s", reason);
		return -1;
	}
	snprintf(why, len, "io_uring cannot be used, TCP workers use epoll: %s", reason);
	return IOMODE_EPOLL;
}
