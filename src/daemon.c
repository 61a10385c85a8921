/*
 * daemon.c: detaching, pidfile, privilege drop, descriptor limit.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
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

int
daemon_pidfile_write(const char *path)
{
	char buf[32];
	int fd, n;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd == -1)
		return -1;
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	errno = EIO;	/* a short write sets none */
	if (write(fd, buf, (size_t)n) != n) {
		sock_close_keep_errno(fd);
		return -1;
	}
	return close(fd);
}

void
daemon_pidfile_remove(const char *path)
{
	if (path != NULL && unlink(path) == -1 && errno != ENOENT)
		log_warn("%s", path);
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
