/* SPDX-License-Identifier: ISC */
/*
 * failmalloc.c: an LD_PRELOAD shim that makes malloc, calloc and realloc
 * fail (NULL, errno ENOMEM) in chosen threads, for tests/t_fault.py.
 * Built by make check as tests/failmalloc.so.  Every other allocation,
 * and every allocation of other threads, goes to glibc unchanged
 * (__libc_malloc and friends), so free() needs no interposing.
 *
 * Environment, read once at load:
 *   FAILMALLOC_THREADS  only threads whose name (pthread_setname_np, the
 *                       kernel's comm) starts with this may fail; unset
 *                       or empty: the shim fails nothing
 *   FAILMALLOC_TRIGGER  a path: nothing fails, nor is counted, until
 *                       that file exists (so a test can let the daemon
 *                       start and warm up first); unset: from the start
 *   FAILMALLOC_SKIP     then let N allocations of those threads through
 *                       (default 0)
 *   FAILMALLOC_EVERY    after that, fail every Nth (default 1: each one)
 *   FAILMALLOC_COUNT    fail at most N in all, then none (default 0: no
 *                       end), so that a test can see the daemon recover
 *
 * It says on stderr what rule it applies, and when the last failure it
 * may inject was injected ("failmalloc: done"), so that a test knows the
 * preload took effect and when the faults have stopped.  A realloc to
 * size 0 (a free) never fails.
 */
#include "config.h"

#include <sys/prctl.h>

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* glibc's own allocator, under the names it exports for such shims. */
extern void *__libc_malloc(size_t);
extern void *__libc_calloc(size_t, size_t);
extern void *__libc_realloc(void *, size_t);

#define NAME_MAX_LEN 16		/* the kernel's comm, with its NUL */

static bool fm_on;		/* set by the constructor, before main */
static char fm_trigger[4096];	/* "": none */
static bool fm_armed;		/* atomic: the trigger file was seen */
static char fm_prefix[NAME_MAX_LEN];
static size_t fm_prefix_len;
static unsigned long fm_skip, fm_every = 1, fm_count;
static unsigned long fm_seen;	/* atomic: allocations of matching threads */
static unsigned long fm_failed;	/* atomic: failures injected */

/* stdio may allocate: say things with one write(2). */
static void __attribute__((format(printf, 1, 2)))
fm_say(const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		(void)!write(STDERR_FILENO, buf, (size_t)n < sizeof(buf) ? (size_t)n :
		    sizeof(buf) - 1);
}

static unsigned long
fm_env(const char *name, unsigned long def)
{
	const char *s = getenv(name);
	char *end;
	unsigned long v;

	if (s == NULL || *s == '\0')
		return def;
	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno != 0 || *end != '\0') {
		fm_say("failmalloc: %s=%s is not a number; using %lu\n", name, s, def);
		return def;
	}
	return v;
}

static void __attribute__((constructor))
fm_init(void)
{
	const char *p = getenv("FAILMALLOC_THREADS");

	if (p == NULL || *p == '\0')
		return;
	fm_prefix_len = strlen(p) < sizeof(fm_prefix) - 1 ? strlen(p) : sizeof(fm_prefix) - 1;
	memcpy(fm_prefix, p, fm_prefix_len);
	fm_skip = fm_env("FAILMALLOC_SKIP", 0);
	fm_every = fm_env("FAILMALLOC_EVERY", 1);
	if (fm_every == 0)
		fm_every = 1;
	fm_count = fm_env("FAILMALLOC_COUNT", 0);
	if ((p = getenv("FAILMALLOC_TRIGGER")) != NULL && *p != '\0' &&
	    strlen(p) < sizeof(fm_trigger))
		memcpy(fm_trigger, p, strlen(p) + 1);
	fm_armed = fm_trigger[0] == '\0';
	fm_say("failmalloc: threads %s*: %s%s%safter %lu allocations, failing every %lu, "
	    "at most %lu (0: no end)\n", fm_prefix, fm_armed ? "" : "once ", fm_trigger,
	    fm_armed ? "" : " exists, ", fm_skip, fm_every, fm_count);
	fm_on = true;
}

/* Whether this allocation is one to fail. */
static bool
fm_fail(void)
{
	char name[NAME_MAX_LEN] = "";
	unsigned long n, k;

	if (!fm_on)
		return false;
	if (prctl(PR_GET_NAME, name) == -1 || strncmp(name, fm_prefix, fm_prefix_len) != 0)
		return false;
	if (!__atomic_load_n(&fm_armed, __ATOMIC_RELAXED)) {
		if (access(fm_trigger, F_OK) == -1)
			return false;
		if (!__atomic_exchange_n(&fm_armed, true, __ATOMIC_RELAXED))
			fm_say("failmalloc: %s exists: counting\n", fm_trigger);
	}
	n = __atomic_add_fetch(&fm_seen, 1, __ATOMIC_RELAXED);
	if (n <= fm_skip || (n - fm_skip) % fm_every != 0)
		return false;
	k = __atomic_add_fetch(&fm_failed, 1, __ATOMIC_RELAXED);
	if (fm_count != 0 && k > fm_count)
		return false;
	if (k == fm_count)
		fm_say("failmalloc: done: %lu allocations failed (the last in %s), no more\n",
		    k, name);
	errno = ENOMEM;
	return true;
}

void *
malloc(size_t n)
{
	return fm_fail() ? NULL : __libc_malloc(n);
}

void *
calloc(size_t n, size_t size)
{
	return fm_fail() ? NULL : __libc_calloc(n, size);
}

void *
realloc(void *p, size_t n)
{
	if (p != NULL && n == 0)
		return __libc_realloc(p, n);
	return fm_fail() ? NULL : __libc_realloc(p, n);
}
