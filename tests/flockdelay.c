/* SPDX-License-Identifier: ISC */
/*
 * flockdelay.c: an LD_PRELOAD shim that holds up a process's first
 * flock(2) until the test says go, for tests/t_paths.py: the daemon has
 * opened its pidfile and not yet locked it, and the test changes what is
 * at the path meanwhile (another daemon stops and removes it, or a new
 * one is made); or, with FLOCKDELAY_AFTER, it has locked it and not yet
 * written its pid, and another daemon starts.  Built by make check as
 * tests/flockdelay.so.
 *
 * Environment, read at the first call:
 *   FLOCKDELAY_READY  a path, created when the first flock is entered
 *                     (so the test knows the daemon is waiting there)
 *   FLOCKDELAY_GO     a path: the first flock waits until it exists, at
 *                     most 30 seconds, then locks as asked
 *   FLOCKDELAY_AFTER  set: lock first, then wait (READY is made once the
 *                     lock is taken)
 * Either unset: the shim changes nothing.  Later calls, and the first one
 * once done, go straight to the system call.
 */
#include "config.h"

#include <sys/stat.h>
#include <sys/syscall.h>

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int flock(int fd, int op);

static bool fd_done;		/* atomic: the first call went by */

/* stdio may allocate: say things with one write(2). */
static void
fd_say(const char *msg)
{
	if (write(STDERR_FILENO, msg, strlen(msg)) == -1) {
		/* nowhere to say it */
	}
}

static void
fd_wait(void)
{
	const char *ready = getenv("FLOCKDELAY_READY"), *go = getenv("FLOCKDELAY_GO");
	struct timespec tick = { 0, 10 * 1000 * 1000 };
	struct stat st;
	int fd;

	if (ready == NULL || go == NULL)
		return;
	if ((fd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644)) == -1) {
		fd_say("flockdelay: cannot create FLOCKDELAY_READY\n");
		return;
	}
	close(fd);
	fd_say("flockdelay: holding up at the first flock\n");
	for (int i = 0; i < 3000 && stat(go, &st) == -1; i++)
		nanosleep(&tick, NULL);
	fd_say("flockdelay: go\n");
}

int
flock(int fd, int op)
{
	bool first = !__atomic_exchange_n(&fd_done, true, __ATOMIC_ACQ_REL);
	bool after = getenv("FLOCKDELAY_AFTER") != NULL;
	int r;

	if (first && !after)
		fd_wait();
	r = (int)syscall(SYS_flock, fd, op);
	if (first && after) {
		int e = errno;

		fd_wait();
		errno = e;
	}
	return r;
}
