/* SPDX-License-Identifier: ISC */
/*
 * log.c: logging to syslog(3) or to stderr in the foreground, in the style
 * of OpenBSD's log.c.  Thread-safe: where lines go is decided by
 * log_init() before any thread exists; after that only the level (reload)
 * and the stderr flag (cleared once, by log_stderr_done()) change, and
 * everyone reads them with relaxed atomics.  When stderr is the systemd
 * journal (log_stderr_is_journal), lines carry "<N>" priority prefixes.
 */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <sysexits.h>
#include <unistd.h>

#include "log.h"

static int log_to_stderr = 1;    /* atomic: log_stderr_done() clears it */
static int log_to_syslog;        /* these three: set before any thread exists */
static int log_journal;          /* stderr is the journal: prefix "<N>" */
static const char *log_ident;
static int log_level = LOG_INFO;
static __thread char log_thread_name[LOG_THREAD_NAME_MAX + 1];  /* "": none */

static const struct {
	const char *name;
	int value;
} log_levels[] = {
	{ "err", LOG_ERR }, { "error", LOG_ERR },
	{ "warning", LOG_WARNING }, { "warn", LOG_WARNING },
	{ "notice", LOG_NOTICE },
	{ "info", LOG_INFO },
	{ "debug", LOG_DEBUG },
};

static const struct {
	const char *name;
	int value;
} log_facilities[] = {
	{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 },
	{ "local2", LOG_LOCAL2 }, { "local3", LOG_LOCAL3 },
	{ "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

/*
 * systemd sets JOURNAL_STREAM to "DEV:INO" of the stream it connected to
 * stdout and stderr; a child whose stderr was redirected still inherits
 * the variable, so it counts only if fd 2 is that very stream.
 */
int
log_stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	int n = 0;

	if (e == NULL || sscanf(e, "%llu:%llu%n", &dev, &ino, &n) != 2 || e[n] != '\0')
		return 0;
	if (fstat(STDERR_FILENO, &st) == -1)
		return 0;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

int
log_syslog_reachable(void)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int types[] = { SOCK_DGRAM, SOCK_STREAM };
	int err = 0;

	snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", _PATH_LOG);
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0), ok;

		if (fd == -1)
			return 1;	/* cannot tell: say nothing */
		ok = connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0;
		err = errno;
		close(fd);
		if (ok)
			return 1;
		if (err != EPROTOTYPE)	/* a stream socket refuses a datagram one so */
			break;
	}
	errno = err;
	return 0;
}

void
log_init(const char *ident, int dest, int facility)
{
	log_ident = ident;
	log_to_syslog = (dest & LOG_TO_SYSLOG) != 0;
	log_journal = (dest & LOG_TO_STDERR) && !log_to_syslog && log_stderr_is_journal();
	__atomic_store_n(&log_to_stderr, (dest & LOG_TO_STDERR) != 0, __ATOMIC_RELAXED);
	if (log_to_syslog)
		openlog(ident, LOG_PID | LOG_NDELAY, facility);
}

void
log_stderr_done(void)
{
	if (log_to_syslog)
		__atomic_store_n(&log_to_stderr, 0, __ATOMIC_RELAXED);
}

void
log_setfacility(int facility)
{
	if (log_to_syslog) {
		closelog();
		openlog(log_ident, LOG_PID | LOG_NDELAY, facility);
	}
}

void
log_set_thread_name(const char *name)
{
	snprintf(log_thread_name, sizeof(log_thread_name), "%s", name != NULL ? name : "");
}

void
log_setlevel(int level)
{
	__atomic_store_n(&log_level, level, __ATOMIC_RELAXED);
}

static void __attribute__((format(printf, 2, 0)))
log_vwrite(int pri, const char *fmt, va_list ap, int with_errno)
{
	char msg[4096];	/* the SIGUSR1 stats line is long */
	int saved = errno;
	size_t len = 0;

	if (pri > __atomic_load_n(&log_level, __ATOMIC_RELAXED))
		return;
	if (log_thread_name[0] != '\0')	/* at most LOG_THREAD_NAME_MAX + 2 bytes */
		len = (size_t)snprintf(msg, sizeof(msg), "%s: ", log_thread_name);
	vsnprintf(msg + len, sizeof(msg) - len, fmt, ap);
	if (with_errno) {
		len = strlen(msg);
		snprintf(msg + len, sizeof(msg) - len, ": %s", strerror(saved));
	}
	if (__atomic_load_n(&log_to_stderr, __ATOMIC_RELAXED)) {
		if (log_journal)
			fprintf(stderr, "<%d>%s\n", pri, msg);
		else
			fprintf(stderr, "%s: %s\n", log_ident ? log_ident : "upcased", msg);
	}
	if (log_to_syslog)
		syslog(pri, "%s", msg);
	errno = saved;
}

#define LOG_FN(name, pri, with_errno)				\
void								\
name(const char *fmt, ...)					\
{								\
	va_list ap;						\
	va_start(ap, fmt);					\
	log_vwrite(pri, fmt, ap, with_errno);			\
	va_end(ap);						\
}

LOG_FN(log_errx, LOG_ERR, 0)
LOG_FN(log_warn, LOG_WARNING, 1)
LOG_FN(log_warnx, LOG_WARNING, 0)
LOG_FN(log_notice, LOG_NOTICE, 0)
LOG_FN(log_info, LOG_INFO, 0)
LOG_FN(log_debug, LOG_DEBUG, 0)

void
log_at(int pri, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(pri, fmt, ap, 0);
	va_end(ap);
}

int
log_enabled(int pri)
{
	return pri <= __atomic_load_n(&log_level, __ATOMIC_RELAXED);
}

/* Set once at start-up, before any thread exists. */
static void (*log_exit_hook)(int status);

void
log_set_exit(void (*hook)(int status))
{
	log_exit_hook = hook;
}

static void __attribute__((noreturn))
log_exit(int status)
{
	if (log_exit_hook != NULL)
		log_exit_hook(status);
	exit(status);	/* no hook, or one that returned */
}

/* The one body of fatal() and fatalx(), as OpenBSD's vfatalc(). */
static void __attribute__((format(printf, 2, 0), noreturn))
vfatalc(int with_errno, const char *fmt, va_list ap)
{
	log_vwrite(LOG_CRIT, fmt, ap, with_errno);
	log_exit(EX_SOFTWARE);
}

void
fatal(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatalc(1, fmt, ap);
	va_end(ap);	/* not reached */
}

void
fatalx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vfatalc(0, fmt, ap);
	va_end(ap);	/* not reached */
}

int
log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(log_levels) / sizeof(log_levels[0]); i++)
		if (strcasecmp(name, log_levels[i].name) == 0)
			return log_levels[i].value;
	return -1;
}

int
log_facility_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(log_facilities) / sizeof(log_facilities[0]); i++)
		if (strcasecmp(name, log_facilities[i].name) == 0)
			return log_facilities[i].value;
	return -1;
}
