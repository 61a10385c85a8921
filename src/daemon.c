/*
 * daemon.c: detaching, pidfile, privilege drop, descriptor limit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
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

int
daemon_pidfile_check(const char *path, char *err, size_t errlen)
{
	struct stat st;
	long pid;
	int fd;
	enum runfile_pid what;

	if (lstat(path, &st) == -1)
		return 0;	/* missing (made at start), or not ours to look at */
	if (!S_ISREG(st.st_mode))
		return pidfile_refuse(-1, err, errlen,
		    "pidfile %s is %s, not a regular file: refusing to replace it",
		    path, runfile_kind(st.st_mode));
	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC)) == -1)
		return 0;	/* unreadable here: start-up will say */
	what = pidfile_read(fd, &pid);
	close(fd);
	if (what == RUNFILE_NOT_PID)
		return pidfile_refuse(-1, err, errlen,
		    "pidfile %s holds something other than a pid: refusing to overwrite it",
		    path);
	return 0;
}

int
daemon_pidfile_open(const char *path, char *err, size_t errlen)
{
	struct stat st;
	long pid = 0;
	bool made = false;
	int fd = -1;

	if (strlen(path) >= sizeof(pidfile.path))
		return pidfile_refuse(-1, err, errlen, "pidfile %s: %s", path,
		    strerror(ENAMETOOLONG));
	/* Never open a device, a FIFO or a link to find out. */
	if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode))
		return pidfile_refuse(-1, err, errlen,
		    "pidfile %s is %s, not a regular file: refusing to replace it",
		    path, runfile_kind(st.st_mode));
	for (int tries = 0; fd == -1; tries++) {
		fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd != -1) {
			made = true;
			break;
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
	if (fstat(fd, &st) == -1)
		return pidfile_refuse(fd, err, errlen, "pidfile %s: %s", path, strerror(errno));
	if (!S_ISREG(st.st_mode))	/* swapped since the lstat */
		return pidfile_refuse(fd, err, errlen,
		    "pidfile %s is %s, not a regular file: refusing to replace it",
		    path, runfile_kind(st.st_mode));
	if (flock(fd, LOCK_EX | LOCK_NB) == -1) {
		/* Held: whoever has it owns the file, even one we just made. */
		if (errno != EWOULDBLOCK)
			return pidfile_refuse(fd, err, errlen, "pidfile %s: lock: %s", path,
			    strerror(errno));
		if (pidfile_read(fd, &pid) == RUNFILE_PID)
			return pidfile_refuse(fd, err, errlen,
			    "pidfile %s: upcased is already running (pid %ld)", path, pid);
		return pidfile_refuse(fd, err, errlen,
		    "pidfile %s: locked by another process (upcased already running?)", path);
	}
	switch (pidfile_read(fd, &pid)) {
	case RUNFILE_NOT_PID:
		return pidfile_refuse(fd, err, errlen,
		    "pidfile %s holds something other than a pid: refusing to overwrite it", path);
	case RUNFILE_PID:
		/* Nobody holds the lock: that upcased is gone. */
		log_info("pidfile %s: replacing the stale pid %ld", path, pid);
		break;
	case RUNFILE_EMPTY:
		break;
	}
	memcpy(pidfile.path, path, strlen(path) + 1);
	pidfile.dev = st.st_dev;
	pidfile.ino = st.st_ino;
	pidfile.ours = made;
	pidfile.fd = fd;
	return 0;
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
