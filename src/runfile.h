/* SPDX-License-Identifier: ISC */
/*
 * runfile.h: the rules for the files the daemon leaves at run time, the
 * pidfile and the control socket, apart from the I/O (daemon.c and
 * control.c do that): what to call a file found at their path, and
 * whether a pidfile's content is a process ID, which upcased may replace,
 * or something else, which it never touches.  Pure.
 */
#ifndef UPCASE_RUNFILE_H
#define UPCASE_RUNFILE_H

#include <stddef.h>
#include <sys/types.h>

/*
 * What a file of this st_mode is, for a message: "a regular file",
 * "a directory", "a FIFO", "a symbolic link", "a socket", "a character
 * device", "a block device", or "a file of unknown type".  Never NULL.
 */
const char *runfile_kind(mode_t mode);

/*
 * The longest pidfile content read as a pid, newline included: 10 digits
 * (INT_MAX) and a newline.  A longer file is never a pid: read one byte
 * more than this to know.
 */
#define RUNFILE_PID_MAX_LEN 11

enum runfile_pid {
	RUNFILE_EMPTY,      /* nothing: a pidfile made and not yet written */
	RUNFILE_PID,        /* a pid, as upcased writes one */
	RUNFILE_NOT_PID,    /* anything else: not ours to overwrite */
};

/*
 * What the len bytes of buf (a pidfile's content; not NUL-terminated;
 * NULL when len is 0) are.  A pid is 1 to 10 decimal digits, the first
 * not 0, with a value of at most INT_MAX, then an optional newline, and
 * nothing else; it is stored in *pid, which is otherwise left alone.
 * Reads no byte past buf[len - 1].
 */
enum runfile_pid runfile_parse_pid(const char *buf, size_t len, long *pid);

#endif
