/* SPDX-License-Identifier: ISC */
/*
 * daemon.c: detaching, pidfile, privilege drop, descriptor limit, the CPUs
 * the process may use.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "cpus.h"
#include "daemon.h"
#include "log.h"
#include "runfile.h"
#include "sock.h"

/*
 * Write end of the pipe to the waiting parent.  Taken with an atomic
 * exchange: the status is reported once, even if a worker's fatal() and
 * the main thread get there together.
 */
static int detach_fd = -1;

void
daemon_detach(void)
{
	int p[2], devnull;
	pid_t pid;
	unsigned char status, c;

	if (pipe2(p, O_CLOEXEC) == -1)
		fatal("pipe");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0) {
		/* The original process: wait for the daemon's word. */
		close(p[1]);
		if (read(p[0], &status, 1) != 1)
			status = EX_SOFTWARE;	/* died before saying anything */
		else if (status != 0)
			while (read(p[0], &c, 1) > 0)
				;	/* return once it is gone: EOF */
		_exit(status);
	}
	close(p[0]);
	detach_fd = p[1];	/* from here on, a failure is reported to the parent */
	if (setsid() == -1)
		fatal("setsid");
	if ((pid = fork()) == -1)
		fatal("fork");
	if (pid > 0)
		_exit(0);	/* the session leader goes; we can never reacquire a tty */
	if (chdir("/") == -1)
		fatal("chdir /");
	umask(022);
	/* stderr stays until daemon_detach_done(): start-up errors reach the terminal. */
	if ((devnull = open("/dev/null", O_RDWR)) == -1)
		fatal("/dev/null");
	dup2(devnull, STDIN_FILENO);
	dup2(devnull, STDOUT_FILENO);
	if (devnull > STDERR_FILENO)
		close(devnull);
}

void
daemon_detach_done(int status)
{
	unsigned char c = (unsigned char)status;
	int fd = __atomic_exchange_n(&detach_fd, -1, __ATOMIC_ACQ_REL);
	int devnull;

	if (fd == -1)
		return;
	if (status != 0) {
		/*
		 * We are exiting.  The pipe closes with the process, so the parent
		 * returns only once we and our sockets are gone: a script that
		 * starts us again at once does not find the port still taken.
		 */
		if (write(fd, &c, 1) != 1)
			log_warn("telling the parent we failed");
		return;
	}
	log_stderr_done();	/* syslog only: stderr becomes /dev/null below */
	if (write(fd, &c, 1) != 1)
		log_warn("telling the parent we started");
	close(fd);
	if ((devnull = open("/dev/null", O_RDWR)) != -1) {
		dup2(devnull, STDERR_FILENO);
		if (devnull > STDERR_FILENO)
			close(devnull);
	}
}

/*
 * The pidfile, open and locked (flock) from daemon_pidfile_open() until
 * the daemon exits: the lock says an upcased is running, the file says
 * which.  flock belongs to the open file, which the forks of
 * daemon_detach() share, so the detached daemon holds it; the parents
 * that exit close only their copies.  Written once, before any thread.
 */
static struct {
	int fd;                 /* -1: none; taken once with an atomic exchange */
	bool ours;              /* we made the file, or wrote our pid to it */
	bool made_dir;          /* we made its directory */
	bool chown_dir;         /* ... and hand it to uid/gid (daemon_pidfile_owner) */
	uid_t uid;
	gid_t gid;
	dev_t dev;              /* the file we opened */
	ino_t ino;
	char path[PATH_MAX];
} pidfile = { .fd = -1 };

/* Read what path holds, at most RUNFILE_PID_MAX_LEN + 1 bytes. */
static enum runfile_pid
pidfile_read(int fd, long *pid)
{
	char buf[RUNFILE_PID_MAX_LEN + 1];
	ssize_t n;

	if ((n = pread(fd, buf, sizeof(buf), 0)) == -1)
		return RUNFILE_NOT_PID;		/* unreadable: not ours to touch */
	return runfile_parse_pid(buf, (size_t)n, pid);
}

static int
pidfile_refuse(int fd, char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static int
pidfile_refuse(int fd, char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (fd != -1)
		close(fd);
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

/* Whose pid f->pid is: ours, a running process's, or nobody's. */
static void
pidfile_facts_pid(struct runfile_facts *f)
{
	if (f->content != RUNFILE_PID)
		return;
	f->self = f->pid == (long)getpid();
	/* EPERM: it runs, as another user. */
	f->alive = !f->self && (kill((pid_t)f->pid, 0) == 0 || errno == EPERM);
}

/* " (NAME)" of process pid, for a message; "" if /proc cannot tell. */
static void
pidfile_comm(long pid, char *out, size_t outlen)
{
	char path[64], buf[64], name[32];
	ssize_t n = -1;
	int fd;

	out[0] = '\0';
	snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
	if ((fd = open(path, O_RDONLY | O_NOCTTY | O_CLOEXEC)) != -1) {
		n = read(fd, buf, sizeof(buf));
		close(fd);
	}
	if (n > 0 && runfile_comm(buf, (size_t)n, name, sizeof(name)) > 0)
		snprintf(out, outlen, " (%s)", name);
}

/* Whether process pid is an upcased, by its name. */
static bool
pidfile_is_upcased(long pid)
{
	char comm[48];

	pidfile_comm(pid, comm, sizeof(comm));
	return strcmp(comm, " (upcased)") == 0;
}

static int
pidfile_refuse_live(int fd, const char *path, long pid, char *err, size_t errlen)
{
	char comm[48];

	pidfile_comm(pid, comm, sizeof(comm));
	return pidfile_refuse(fd, err, errlen,
	    "pidfile %s holds pid %ld of a running process%s that does not hold "
	    "its lock, so no upcased's: refusing to replace it (remove it if stale)",
	    path, pid, comm);
}

int
daemon_pidfile_check(const char *path, char *err, size_t errlen)
{
	struct runfile_facts f = { .linked = true };
	struct stat st;
	int fd;

	if (lstat(path, &st) == -1)
		return 0;	/* missing (made at start), or not ours to look at */
	if (!S_ISREG(st.st_mode))
		return pidfile_refuse(-1, err, errlen,
		    "pidfile %s is %s, not a regular file: refusing to replace it",
		    path, runfile_kind(st.st_mode));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
		return 0;	/* unreadable here: start-up will say */
	f.content = pidfile_read(fd, &f.pid);
	if (f.content == RUNFILE_NOT_PID)
		return pidfile_refuse(fd, err, errlen,
		    "pidfile %s holds something other than a pid: refusing to overwrite it",
		    path);
	pidfile_facts_pid(&f);
	/*
	 * A running pid is fine if it is an upcased (ExecReload runs -t while
	 * the daemon runs).  -t takes no lock to find out: even a shared one
	 * for an instant could make a daemon starting meanwhile find the file
	 * locked and refuse to run, and a lock taken on a file just removed
	 * says nothing.  Start-up decides with its own exclusive lock.
	 */
	f.locked = !f.alive || !pidfile_is_upcased(f.pid);	/* "we got it": nobody holds it */
	if (runfile_pidfile_rule(&f) == RUNFILE_LIVE)
		return pidfile_refuse_live(fd, path, f.pid, err, errlen);
	close(fd);
	return 0;
}

/*
 * The directory we just made: exactly 0755 whatever the umask, and the
 * daemon's user's if privileges will be dropped.  Through a descriptor
 * that does not follow a link, so that a directory swapped for a link
 * meanwhile (by whoever may write to its parent) is not what gets
 * changed.  Failures are logged: the daemon runs, as with a pidfile it
 * may not remove at exit.
 */
static void
pidfile_fix_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd == -1 || fchmod(fd, 0755) == -1 ||
	    (pidfile.chown_dir && fchown(fd, pidfile.uid, pidfile.gid) == -1))
		log_warn("pidfile directory %s", dir);
	if (fd != -1)
		close(fd);
}

/*
 * Open path for the pidfile: made if missing (*made), else the file
 * there, never truncated; it must be a regular file (*st).  -1 with err
 * set when it cannot be opened or is something else.
 */
static int
pidfile_open_file(const char *path, bool *made, struct stat *st, char *err, size_t errlen)
{
	int fd = -1;

	*made = false;
	/* Never open a device, a FIFO or a link to find out. */
	if (lstat(path, st) == 0 && !S_ISREG(st->st_mode))
		return pidfile_refuse(-1, err, errlen,
		    "pidfile %s is %s, not a regular file: refusing to replace it",
		    path, runfile_kind(st->st_mode));
	for (int tries = 0; fd == -1; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1) {
			*made = true;
			break;
		}
		/*
		 * No directory (a fresh /run without systemd's RuntimeDirectory=):
		 * make it, one level, 0755, as control_open() does the socket's.
		 * A missing grandparent is still an error.
		 */
		if (errno == ENOENT && !pidfile.made_dir && tries < 3) {
			char dir[PATH_MAX], *slash;

			snprintf(dir, sizeof(dir), "%s", path);
			if ((slash = strrchr(dir, '/')) == NULL || slash == dir)
				break;	/* in the working directory or /: there */
			*slash = '\0';
			if (mkdir(dir, 0755) == 0) {
				pidfile.made_dir = true;
				log_info("pidfile %s: made its directory %s", path, dir);
				pidfile_fix_dir(dir);
				continue;
			}
			if (errno == EEXIST)
				continue;	/* made meanwhile by someone else */
			break;		/* ENOENT: no grandparent; EACCES ... */
		}
		if (errno != EEXIST)
			break;
		/* There already: no O_TRUNC, its content decides. */
		fd = open(path, O_RDWR | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
		if (fd == -1 && (errno != ENOENT || tries == 3))
			break;	/* ENOENT: removed meanwhile, make it */
	}
	if (fd == -1)
		return pidfile_refuse(-1, err, errlen, "pidfile %s: %s", path,
		    errno == ELOOP ? "a symbolic link (refusing to follow it)" :
		    strerror(errno));
	if (fstat(fd, st) == -1)
		return pidfile_refuse(fd, err, errlen, "pidfile %s: %s", path, strerror(errno));
	if (!S_ISREG(st->st_mode))	/* swapped since the lstat */
		return pidfile_refuse(fd, err, errlen,
		    "pidfile %s is %s, not a regular file: refusing to replace it",
		    path, runfile_kind(st->st_mode));
	return fd;
}

/* Opens that found the path naming another file once locked, at most. */
#define PIDFILE_TRIES 8

int
daemon_pidfile_open(const char *path, char *err, size_t errlen)
{
	struct runfile_facts f;
	struct stat st, now;
	bool made;
	int fd;

	if (strlen(path) >= sizeof(pidfile.path))
		return pidfile_refuse(-1, err, errlen, "pidfile %s: %s", path,
		    strerror(ENAMETOOLONG));
	for (int tries = 0; tries < PIDFILE_TRIES; tries++) {
		if ((fd = pidfile_open_file(path, &made, &st, err, errlen)) == -1)
			return -1;
		memset(&f, 0, sizeof(f));
		/* Held: whoever has it owns the file, even one we just made. */
		if (!(f.locked = flock(fd, LOCK_EX | LOCK_NB) == 0) && errno != EWOULDBLOCK)
			return pidfile_refuse(fd, err, errlen, "pidfile %s: lock: %s", path,
			    strerror(errno));
		/*
		 * Between our open and our lock, a daemon that stopped may have
		 * removed the file and let go of its lock, or another may have
		 * put a new one in its place: then we hold the lock of a file
		 * nobody else can find, and must start over with the one there.
		 */
		f.linked = lstat(path, &now) == 0 && now.st_dev == st.st_dev &&
		    now.st_ino == st.st_ino;
		f.content = pidfile_read(fd, &f.pid);
		pidfile_facts_pid(&f);
		switch (runfile_pidfile_rule(&f)) {
		case RUNFILE_RETRY:
			log_debug("pidfile %s: replaced while we locked it: opening it again", path);
			close(fd);
			continue;
		case RUNFILE_RUNNING:
			return pidfile_refuse(fd, err, errlen,
			    "pidfile %s: upcased is already running (pid %ld)", path, f.pid);
		case RUNFILE_STARTING:
			return pidfile_refuse(fd, err, errlen,
			    "pidfile %s: upcased is already running (starting: its pid is not "
			    "written yet)", path);
		case RUNFILE_LOCKED:
			return pidfile_refuse(fd, err, errlen,
			    "pidfile %s: locked by another process (upcased already running?)",
			    path);
		case RUNFILE_FOREIGN:
			return pidfile_refuse(fd, err, errlen,
			    "pidfile %s holds something other than a pid: refusing to overwrite it",
			    path);
		case RUNFILE_LIVE:
			return pidfile_refuse_live(fd, path, f.pid, err, errlen);
		case RUNFILE_TAKE:
			break;
		}
		if (f.content == RUNFILE_PID)
			log_info("pidfile %s: replacing the stale pid %ld (%s)", path, f.pid,
			    f.self ? "our own now" : "no such process");
		memcpy(pidfile.path, path, strlen(path) + 1);
		pidfile.dev = st.st_dev;
		pidfile.ino = st.st_ino;
		pidfile.ours = made;
		pidfile.fd = fd;
		return 0;
	}
	return pidfile_refuse(-1, err, errlen,
	    "pidfile %s: replaced each time we locked it (%d tries): giving up", path,
	    PIDFILE_TRIES);
}

int
daemon_pidfile_write(char *err, size_t errlen)
{
	char buf[32];
	int n;

	if (pidfile.fd == -1)
		return 0;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	pidfile.ours = true;	/* from the truncation on, the content is ours */
	errno = EIO;	/* a short write sets none */
	if (ftruncate(pidfile.fd, 0) == -1 || pwrite(pidfile.fd, buf, (size_t)n, 0) != n)
		return pidfile_refuse(-1, err, errlen, "pidfile %s: %s", pidfile.path,
		    strerror(errno));
	return 0;
}

void
daemon_pidfile_remove(void)
{
	int fd = __atomic_exchange_n(&pidfile.fd, -1, __ATOMIC_ACQ_REL);
	struct stat st;

	if (fd == -1)
		return;
	/*
	 * Only the file we opened, and only once it is ours: a stale pidfile
	 * we failed to start over stays as we found it, and a file someone
	 * put in its place meanwhile is theirs.  Unlinked before the lock
	 * goes, so no new daemon's file is removed.
	 */
	if (pidfile.ours && lstat(pidfile.path, &st) == 0 &&
	    st.st_dev == pidfile.dev && st.st_ino == pidfile.ino &&
	    unlink(pidfile.path) == -1 && errno != ENOENT)
		log_warn("%s", pidfile.path);
	close(fd);
}

int
daemon_pidfile_fd(const char **path)
{
	*path = pidfile.path;
	return __atomic_load_n(&pidfile.fd, __ATOMIC_ACQUIRE);
}

void
daemon_pidfile_forget(void)
{
	int fd = __atomic_exchange_n(&pidfile.fd, -1, __ATOMIC_ACQ_REL);

	/* The lock is the open file's: the new process's copy keeps it. */
	if (fd != -1)
		close(fd);
}

int
daemon_pidfile_adopt(int fd, const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (strlen(path) >= sizeof(pidfile.path) || fstat(fd, &st) == -1 ||
	    !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "pidfile %s: the descriptor handed over is not a "
		    "regular file", path);
		return -1;
	}
	snprintf(pidfile.path, sizeof(pidfile.path), "%s", path);
	pidfile.dev = st.st_dev;
	pidfile.ino = st.st_ino;
	pidfile.ours = true;	/* the old process made it or wrote to it */
	__atomic_store_n(&pidfile.fd, fd, __ATOMIC_RELEASE);
	return 0;
}

void
daemon_pidfile_owner(uid_t uid, gid_t gid)
{
	pidfile.chown_dir = true;
	pidfile.uid = uid;
	pidfile.gid = gid;
}

int
daemon_user_lookup(const char *user, uid_t *uid, gid_t *gid, char *err, size_t errlen)
{
	struct passwd *pw;

	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "unknown user %s%s%s", user,
		    errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	*uid = pw->pw_uid;
	*gid = pw->pw_gid;
	return 0;
}

int
daemon_drop_privileges(const char *user, uid_t uid, gid_t gid, char *err, size_t errlen)
{
	if (geteuid() != 0) {
		snprintf(err, errlen, "not root: cannot switch to user %s", user);
		return -1;
	}
	if (setgroups(1, &gid) == -1 ||
	    setresgid(gid, gid, gid) == -1 ||
	    setresuid(uid, uid, uid) == -1) {
		snprintf(err, errlen, "cannot switch to user %s: %s", user, strerror(errno));
		return -1;
	}
	/* Checked: there must be no way back. */
	if (setuid(0) != -1 || geteuid() != uid || getegid() != gid) {
		snprintf(err, errlen, "privileges of user %s were not fully dropped", user);
		return -1;
	}
	return 0;
}

long
daemon_raise_nofile(long want)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == -1)
		return -1;
	if ((rlim_t)want > rl.rlim_cur) {
		rl.rlim_cur = (rl.rlim_max == RLIM_INFINITY || (rlim_t)want < rl.rlim_max) ?
		    (rlim_t)want : rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) == -1)
			return -1;
	}
	return (long)rl.rlim_cur;
}

/* ------------------------------------------------------------ CPUs */

/*
 * The content of a small file (a proc or cgroup file) into buf, less than
 * len bytes and NUL-terminated; false on any failure or if it does not fit.
 */
static bool
read_small(const char *path, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;
	int fd;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) == -1)
		return false;
	while (got + 1 < len && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += (size_t)n;
	close(fd);
	if (got + 1 >= len)
		return false;
	buf[got] = '\0';
	return true;
}

/* CPUs in the affinity mask of the calling thread, or 0 if it cannot be read. */
static int
affinity_cpus(void)
{
	int n;

	/* The kernel refuses a set smaller than its own: grow until it fits. */
	for (n = 1024; n <= 1 << 22; n *= 2) {
		cpu_set_t *set = CPU_ALLOC((size_t)n);
		size_t size = CPU_ALLOC_SIZE((size_t)n);
		int count = -1;

		if (set == NULL)
			return 0;
		if (sched_getaffinity(0, size, set) == 0)
			count = CPU_COUNT_S(size, set);
		else if (errno != EINVAL)
			count = 0;
		CPU_FREE(set);
		if (count >= 0)
			return count;
	}
	return 0;
}

/*
 * The tightest CPU quota on the process's cgroup in hierarchy v and its
 * ancestors (a parent's quota caps its children), into *quota, *period and
 * where (the file); *quota is left alone if none is tighter.
 */
static void
cgroup_quota(enum cpus_cgroup v, char *text, size_t textlen, long long *quota,
    long long *period, char *where, size_t wherelen)
{
	char path[PATH_MAX], mnt[PATH_MAX], root[PATH_MAX], dir[PATH_MAX];
	char file[PATH_MAX + 32], qtext[64], ptext[64];

	if (!read_small("/proc/self/cgroup", text, textlen) ||
	    !cpus_cgroup_path(text, v, path, sizeof(path)))
		return;
	if (!read_small("/proc/self/mountinfo", text, textlen) ||
	    !cpus_cgroup_mount(text, v, mnt, sizeof(mnt), root, sizeof(root)) ||
	    !cpus_cgroup_dir(mnt, root, path, dir, sizeof(dir)))
		return;
	for (;;) {
		long long q, p;
		char *slash;
		int ok;

		if (v == CPUS_CGROUP_V2) {
			snprintf(file, sizeof(file), "%s/cpu.max", dir);
			ok = read_small(file, qtext, sizeof(qtext)) &&
			    cpus_parse_max(qtext, &q, &p) == 0;
		} else {
			snprintf(file, sizeof(file), "%s/cpu.cfs_period_us", dir);
			ok = read_small(file, ptext, sizeof(ptext));
			snprintf(file, sizeof(file), "%s/cpu.cfs_quota_us", dir);
			ok = ok && read_small(file, qtext, sizeof(qtext)) &&
			    cpus_parse_v1(qtext, ptext, &q, &p) == 0;
		}
		/* q/p < *quota / *period, without overflow. */
		if (ok && q >= 0 && (*quota < 0 ||
		    (long double)q * (long double)*period < (long double)*quota * (long double)p)) {
			*quota = q;
			*period = p;
			snprintf(where, wherelen, "%s", file);
		}
		if (strcmp(dir, mnt) == 0 || (slash = strrchr(dir, '/')) == NULL ||
		    (size_t)(slash - dir) < strlen(mnt))
			break;
		*slash = '\0';
	}
}

int
daemon_usable_cpus(char *why, size_t whylen)
{
	/* /proc/self/mountinfo may list many mounts. */
	size_t textlen = 256 * 1024;
	char *text = malloc(textlen), where[PATH_MAX + 32] = "";
	long online = sysconf(_SC_NPROCESSORS_ONLN);
	long long quota = -1, period = 0;

	if (text != NULL) {
		cgroup_quota(CPUS_CGROUP_V2, text, textlen, &quota, &period, where, sizeof(where));
		cgroup_quota(CPUS_CGROUP_V1, text, textlen, &quota, &period, where, sizeof(where));
		free(text);
	}
	return cpus_usable(online > 0 && online < INT_MAX ? (int)online : 1, affinity_cpus(),
	    quota, period, where[0] != '\0' ? where : NULL, why, whylen);
}
