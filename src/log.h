/*
 * log.h: the daemon's one logging API, in the style of OpenBSD's log.c.
 * syslog(3) with LOG_PID and the configured facility, or stderr in the
 * foreground.  Thread-safe.  log_warn() and fatal() append strerror(errno);
 * every function preserves errno.
 */
#ifndef UPCASE_LOG_H
#define UPCASE_LOG_H

#include <stdarg.h>

void log_init(const char *ident, int to_stderr, int facility);
void log_setlevel(int level);           /* LOG_ERR .. LOG_DEBUG */
void log_setfacility(int facility);
/* The calling thread's name, put before each of its lines ("tcp0: ..."); NULL: none. */
void log_set_thread_name(const char *name);

void log_warn(const char *, ...)  __attribute__((format(printf, 1, 2)));
void log_warnx(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_notice(const char *, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *, ...)  __attribute__((format(printf, 1, 2)));
void log_debug(const char *, ...) __attribute__((format(printf, 1, 2)));
void fatal(const char *, ...)  __attribute__((format(printf, 1, 2), noreturn));
void fatalx(const char *, ...) __attribute__((format(printf, 1, 2), noreturn));

/* Name to value, for the config file ("info", "daemon", ...); -1 if unknown. */
int log_level_from_name(const char *name);
int log_facility_from_name(const char *name);

#endif
