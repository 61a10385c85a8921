/* SPDX-License-Identifier: ISC */
/*
 * runfile.c: the pidfile's content and rule, process names, the kinds of
 * files (see runfile.h).
 */
#include "config.h"

#include <limits.h>
#include <sys/stat.h>

#include "runfile.h"

const char *
runfile_kind(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:  return "a regular file";
	case S_IFDIR:  return "a directory";
	case S_IFIFO:  return "a FIFO";
	case S_IFLNK:  return "a symbolic link";
	case S_IFSOCK: return "a socket";
	case S_IFCHR:  return "a character device";
	case S_IFBLK:  return "a block device";
	default:       return "a file of unknown type";
	}
}

enum runfile_pid
runfile_parse_pid(const char *buf, size_t len, long *pid)
{
	long v = 0;
	size_t i, digits;

	if (len == 0)
		return RUNFILE_EMPTY;
	digits = buf[len - 1] == '\n' ? len - 1 : len;
	if (digits == 0 || digits > 10 || buf[0] == '0')
		return RUNFILE_NOT_PID;
	for (i = 0; i < digits; i++) {
		int d = buf[i] - '0';

		if (buf[i] < '0' || buf[i] > '9' || v > (INT_MAX - d) / 10)
			return RUNFILE_NOT_PID;
		v = v * 10 + d;
	}
	*pid = v;
	return RUNFILE_PID;
}

enum runfile_verdict
runfile_pidfile_rule(const struct runfile_facts *f)
{
	bool running = f->content == RUNFILE_PID && f->alive && !f->self;

	if (!f->linked)
		return RUNFILE_RETRY;
	if (!f->locked) {
		if (f->content == RUNFILE_NOT_PID)
			return RUNFILE_LOCKED;
		return running ? RUNFILE_RUNNING : RUNFILE_STARTING;
	}
	if (f->content == RUNFILE_NOT_PID)
		return RUNFILE_FOREIGN;
	return running ? RUNFILE_LIVE : RUNFILE_TAKE;
}

size_t
runfile_comm(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t n = 0;

	if (len > 0 && buf[len - 1] == '\n')
		len--;
	for (size_t i = 0; i < len && n + 1 < outlen; i++)
		out[n++] = buf[i] >= 0x20 && buf[i] < 0x7f ? buf[i] : '?';
	out[n] = '\0';
	return n;
}
