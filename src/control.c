/*
 * control.c: the stats socket (see control.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdbool.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "sock.h"

static bool control_made_dir;   /* we created the socket's directory */

int
control_open(const char *path, mode_t mode)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	mode_t old_umask;
	int fd, r;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	strcpy(sun.sun_path, path);
	strcpy(dir, path);
	if (mkdir(dirname(dir), 0755) == 0)
		control_made_dir = true;
	else if (errno != EEXIST)
		return -1;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (unlink(path) == -1 && errno != ENOENT)
		goto fail;
	/*
	 * bind(2) creates the socket with 0777 less the umask: with this one
	 * it never exists with more than mode, not even until the chmod, which
	 * then makes it exactly mode whatever a default ACL says.  Start-up
	 * only, before any thread: nothing else creates files meanwhile.
	 */
	old_umask = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (r == -1 || chmod(path, mode) == -1 || listen(fd, 16) == -1)
		goto fail;
	return fd;
fail:
	sock_close_keep_errno(fd);
	return -1;
}

/*
 * There is one answer, but read the request ("stats\n") first: closing a
 * UNIX socket with unread data makes the client's read fail with
 * ECONNRESET.  Wait briefly, so a silent client cannot stall the main thread.
 */
static void
control_read_request(int c)
{
	struct pollfd p = { .fd = c, .events = POLLIN };
	char buf[256];

	if (poll(&p, 1, 100) == 1)
		while (recv(c, buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
}

int
control_serve(int fd, const char *text, size_t len)
{
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
	ssize_t k;

	if (c == -1) {
		switch (sock_accept_error(errno)) {
		case SOCK_ACCEPT_EMPTY:
		case SOCK_ACCEPT_RETRY:
			return 0;
		case SOCK_ACCEPT_BACKOFF:
			return -1;	/* the caller backs off */
		case SOCK_ACCEPT_FAILED:
			log_warn("control socket: accept");
			return 0;
		}
	}
	control_read_request(c);
	k = send(c, text, len, MSG_NOSIGNAL);
	if (k != (ssize_t)len)
		log_debug("control socket: short answer (%zd of %zu)", k, len);
	close(c);
	return 0;
}

int
control_chown(const char *path, uid_t uid, gid_t gid)
{
	char dir[PATH_MAX];

	if (lchown(path, uid, gid) == -1)
		return -1;
	if (!control_made_dir)
		return 0;	/* not ours to hand over (e.g. /tmp) */
	snprintf(dir, sizeof(dir), "%s", path);
	return chown(dirname(dir), uid, gid);
}

void
control_close(int fd, const char *path)
{
	if (fd == -1)
		return;
	close(fd);
	if (path != NULL && unlink(path) == -1 && errno != ENOENT)
		log_warn("%s", path);
}
