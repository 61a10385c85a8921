/* SPDX-License-Identifier: ISC */
/*
 * runfile.h: the rules for the files the daemon leaves at run time, the
 * pidfile and the control socket, apart from the I/O (daemon.c and
 * control.c do that): what to call a file found at their path, whether
 * a pidfile's content is a process ID, and what upcased may do with a
 * pidfile given what it found (its lock, its content, whether its pid
 * runs): replace it only when it is stale, a file no running process
 * can be said to own.  Pure.
 */
#ifndef UPCASE_RUNFILE_H
#define UPCASE_RUNFILE_H

#include <stdbool.h>
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

/*
 * What daemon.c found about a pidfile it opened: the facts the rule
 * below decides on.  A daemon that runs holds the file's lock (flock)
 * and has its pid in it; most other programs never lock theirs.
 */
struct runfile_facts {
	bool locked;            /* we got the lock: nobody else holds it */
	bool linked;            /* the path still names the file opened (lstat = fstat) */
	enum runfile_pid content;
	long pid;               /* content RUNFILE_PID: the pid ... */
	bool self;              /* ... is our own (getpid()) */
	bool alive;             /* ... is a running process's (kill(pid, 0): 0 or EPERM) */
};

enum runfile_verdict {
	RUNFILE_TAKE,           /* ours to write: empty, or a pid nobody runs with (stale) */
	RUNFILE_RETRY,          /* the path lost this file (removed, replaced): open it again */
	RUNFILE_RUNNING,        /* locked by a running upcased, whose pid it holds */
	RUNFILE_STARTING,       /* locked, no running pid in it yet: an upcased starting */
	RUNFILE_LOCKED,         /* locked, something other than a pid in it */
	RUNFILE_FOREIGN,        /* holds something other than a pid: never ours */
	RUNFILE_LIVE,           /* not locked, the pid of a running process: another program's */
};

/*
 * The pidfile rule.  A lock on a file the path no longer names proves
 * nothing: RETRY comes first, whatever else is true.  Then a file
 * somebody else holds the lock of is a running daemon's (RUNNING with a
 * running pid, STARTING with none: a daemon between its lock and its
 * write; LOCKED with other content).  A file we locked is FOREIGN unless
 * it holds nothing or a pid; a pid is stale, and TAKE, if it is our own
 * (a restart that got the same pid, as in a container) or no process
 * has it; the pid of a running process that holds no lock is LIVE:
 * another program's pidfile (most daemons never lock theirs), or an
 * upcased too old to lock it.
 */
enum runfile_verdict runfile_pidfile_rule(const struct runfile_facts *f);

/*
 * A process name as /proc/PID/comm gives it (len bytes of buf, no NUL;
 * a trailing newline dropped), fit for a log line: every byte outside
 * printable ASCII becomes '?'.  At most outlen - 1 bytes go into out,
 * NUL-terminated; outlen must be at least 1.  Returns the length.
 */
size_t runfile_comm(const char *buf, size_t len, char *out, size_t outlen);

#endif
