/* SPDX-License-Identifier: ISC */
/*
 * log.h: the daemon's one logging API, in the style of OpenBSD's log.c.
 * syslog(3) with LOG_PID and the configured facility, or stderr in the
 * foreground.  Thread-safe.  log_warn() and fatal() append strerror(errno);
 * every function preserves errno.
 */
#ifndef UPCASE_LOG_H
#define UPCASE_LOG_H

#include <stdarg.h>

/*
 * Where lines go: stderr ("IDENT: message", or "<N>message" when stderr is
 * the systemd journal and syslog is not used), syslog(3) (opened at once,
 * with ident, LOG_PID and facility), or both.  Call before any thread
 * exists; the destinations never change afterwards, except that
 * log_stderr_done() drops stderr once it is going away (detached: the
 * starting terminal saw the start-up, syslog has everything).
 */
#define LOG_TO_STDERR 0x1
#define LOG_TO_SYSLOG 0x2
void log_init(const char *ident, int dest, int facility);
/* Whether fd 2 is the stream JOURNAL_STREAM ("DEV:INO") names. */
int  log_stderr_is_journal(void);
/*
 * Whether syslog(3) has anywhere to send to: a socket at _PATH_LOG
 * (/dev/log) that takes a connection, as glibc's openlog() tries it
 * (datagram, then stream).  1 if so; 0 if not, with errno (ENOENT: nothing
 * there, ECONNREFUSED: nobody listens).  glibc drops what it cannot send,
 * without a word.
 */
int  log_syslog_reachable(void);
void log_stderr_done(void);             /* no-op unless syslog is used too */
void log_setlevel(int level);           /* LOG_ERR .. LOG_DEBUG */

/*
 * Name the calling thread in its log lines (as unbound's
 * set_log_thread_id): once set, every line that thread logs starts with
 * "NAME: ", so a worker calls log_set_thread_name("tcp0") and its
 * log_warn("accept") reads "tcp0: accept: Too many open files" (after
 * "upcased: " on stderr, "upcased[PID]: " in syslog, or "<4>" in the
 * journal).  The name is copied, truncated to LOG_THREAD_NAME_MAX bytes;
 * NULL or "" removes it.  Threads start with none; the main thread keeps
 * none.
 */
#define LOG_THREAD_NAME_MAX 31
void log_set_thread_name(const char *name);
void log_setfacility(int facility);

/* Errors (LOG_ERR): a broken configuration, at start, in -t or at reload. */
void log_errx(const char *, ...)  __attribute__((format(printf, 1, 2)));
void log_warn(const char *, ...)  __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...)  __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
/* At priority pri (LOG_ERR .. LOG_DEBUG), for a caller that picks it. */
void log_at(int pri, const char *, ...) __attribute__((format(printf, 2, 3)));
/*
 * Whether a line at pri would be written now: lets a hot path (a flood of
 * refused clients) skip formatting an address nobody will read.
 */
int  log_enabled(int pri);
/* Log at LOG_CRIT, then log_exit(EX_SOFTWARE). */
void fatal(const char *, ...)  __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/*
 * fatal() ends in hook(EX_SOFTWARE): the daemon's one exit path, which
 * must not return.  Set it at start-up, before any thread exists; without
 * one (the client, the tests) fatal() calls exit().
 */
void log_set_exit(void (*hook)(int status));

/* Name to value, for the config file ("info", "daemon", ...); -1 if unknown. */
int log_level_from_name(const char *name);
int log_facility_from_name(const char *name);

#endif
