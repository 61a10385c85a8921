/* SPDX-License-Identifier: ISC */
/*
 * daemon.h: becoming a daemon without systemd: detaching (double fork,
 * setsid, chdir /, stdio to /dev/null), the pidfile, dropping privileges,
 * and the descriptor limit.
 */
#ifndef UPCASE_DAEMON_H
#define UPCASE_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/*
 * Detach.  The original process waits until the daemon calls
 * daemon_detach_done() and exits with its status (0 once serving), so the
 * shell that started us sees start-up errors; if the daemon dies without
 * a word, it exits EX_SOFTWARE.  Returns in the daemon.
 */
void daemon_detach(void);
/*
 * In the daemon: report status to the waiting parent.  0: we serve; the
 * parent exits 0 at once and stderr is pointed at /dev/null.  Anything
 * else: we are about to exit with it; the parent exits with it once we
 * are gone.  The first call reports; later ones, and calls when not
 * detached, do nothing.  Every exit of the daemon comes through here.
 */
void daemon_detach_done(int status);

/*
 * The pidfile.  daemon_pidfile_open(), before detaching: open path (made
 * if missing, and its directory too, one level, 0755, if that is missing;
 * never truncated, no link followed), which must be a regular
 * file, take its lock (flock, held until we exit), check that the path
 * still names the file locked (else start over: a daemon stopping may
 * have just removed it), and apply runfile_pidfile_rule(): the file must
 * hold nothing, or a stale pid (of no running process, or our own).  -1
 * with a reason in err when it is something else, holds something else,
 * is locked ("already running (pid N)"), or holds the pid of a running
 * process that does not hold the lock (another program's pidfile): then
 * nothing was changed.  A stale pid is replaced by daemon_pidfile_write()
 * in the detached daemon.
 * daemon_pidfile_remove(), at exit (any thread, once; every exit does
 * it): unlink the file if it is still the one we opened, and we made it
 * or wrote to it; release the lock.
 */
int  daemon_pidfile_open(const char *path, char *err, size_t errlen);
int  daemon_pidfile_write(char *err, size_t errlen);
void daemon_pidfile_remove(void);
/*
 * Live upgrade (upgrade.h).  The old process hands the pidfile's open,
 * locked descriptor (daemon_pidfile_fd: -1 if none, with its path) to the
 * new one and forgets it (closes its copy, removes nothing: the lock
 * stays with the new process's copy).  The new process adopts it, as if
 * it had opened it: daemon_pidfile_write() then writes its own pid, and
 * its exit removes the file.  -1 with a reason in err.
 */
int  daemon_pidfile_fd(const char **path);
void daemon_pidfile_forget(void);
int  daemon_pidfile_adopt(int fd, const char *path, char *err, size_t errlen);
/*
 * Before daemon_pidfile_open(), when privileges will be dropped: a
 * directory daemon_pidfile_open() makes is handed to uid/gid as it is
 * made (so that the unprivileged daemon can unlink its pidfile at exit,
 * even if this start fails and a later one finds the directory there).
 * A directory that was there is left alone.
 */
void daemon_pidfile_owner(uid_t uid, gid_t gid);
/*
 * For -t: -1 with a reason in err if path is there and is not a regular
 * file, holds something other than a pid, or holds the pid of a running
 * process that does not hold its lock.  Changes nothing, and a running
 * daemon's pidfile is fine; whether a running pid is an upcased is told
 * by its name: -t takes no lock (daemon.c says why).
 */
int  daemon_pidfile_check(const char *path, char *err, size_t errlen);

/* The uid and gid of user.  -1 with a reason in err. */
int  daemon_user_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen);
/* Switch to uid/gid, with gid as the only group; must be root.  -1 with a reason in err. */
int  daemon_drop_privileges(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen);

/* Raise RLIMIT_NOFILE's soft limit towards want (at most the hard limit); returns the new soft limit. */
long daemon_raise_nofile(long want);
/*
 * The CPUs this process may use (cpus.h): online, affinity mask and
 * cgroup CPU quota (v2 and v1, on its cgroup and its ancestors), with why
 * in why.  At least 1.
 */
int  daemon_usable_cpus(char *why, size_t whylen);

#endif
