/* SPDX-License-Identifier: ISC */
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
#include "runfile.h"
#include "sock.h"

/* ------------------------------------------------------------ the path */

static int
control_address(struct sockaddr_un *sun, const char *path)
{
	memset(sun, 0, sizeof(*sun));
	sun->sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun->sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sun->sun_path, path, strlen(path));
	return 0;
}

static int
control_not_socket(const char *path, mode_t mode, char *err, size_t errlen)
{
	snprintf(err, errlen, "control_socket %s is %s, not a socket: "
	    "refusing to replace it", path, runfile_kind(mode));
	return CONTROL_NOT_SOCKET;
}

int
control_check_path(const char *path, char *err, size_t errlen)
{
	struct stat st;

	if (lstat(path, &st) == -1 || S_ISSOCK(st.st_mode))
		return 0;	/* missing (made at start), a socket, or not ours to see */
	control_not_socket(path, st.st_mode, err, errlen);
	return -1;
}

/*
 * Make room for our socket at path: nothing there, or a stale socket,
 * removed.  A socket somebody answers on is in use; anything else than a
 * socket is never touched.  0, or a CONTROL_* code with err set.
 */
static int
control_clear_path(const char *path, const struct sockaddr_un *sun, char *err, size_t errlen)
{
	struct stat st;
	int s, r, e;

	if (lstat(path, &st) == -1) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return CONTROL_FAILED;
	}
	if (!S_ISSOCK(st.st_mode))
		return control_not_socket(path, st.st_mode, err, errlen);
	/*
	 * Ask.  Non-blocking: a listener whose backlog is full is busy, not
	 * gone.  A daemon that answers just sees a client that said nothing.
	 */
	if ((s = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return CONTROL_FAILED;
	}
	r = connect(s, (const struct sockaddr *)sun, sizeof(*sun));
	e = errno;
	close(s);
	if (r == 0 || e == EAGAIN || e == EINPROGRESS) {
		snprintf(err, errlen, "control_socket %s is in use by another upcased? "
		    "(something answers on it): refusing to replace it", path);
		return CONTROL_IN_USE;
	}
	if (e != ECONNREFUSED) {
		snprintf(err, errlen, "control socket %s: cannot tell whether it is in use: %s",
		    path, strerror(e));
		errno = e;
		return CONTROL_FAILED;
	}
	log_info("control socket %s: replacing a stale socket (nobody answers on it)", path);
	if (unlink(path) == -1 && errno != ENOENT) {
		snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
		return CONTROL_FAILED;
	}
	return 0;
}

int
control_open(struct control *c, const char *path, mode_t mode, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	char dir[sizeof(sun.sun_path)];
	struct stat st;
	mode_t old_umask;
	int fd, r;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (control_address(&sun, path) == -1)
		goto failed;
	memcpy(c->path, sun.sun_path, sizeof(c->path));
	memcpy(dir, sun.sun_path, sizeof(dir));
	if (mkdir(dirname(dir), 0755) == 0)
		c->made_dir = true;
	else if (errno != EEXIST)
		goto failed;
	if ((r = control_clear_path(path, &sun, err, errlen)) != 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		goto failed;
	/*
	 * bind(2) creates the socket with 0777 less the umask: with this one
	 * it never exists with more than mode, not even until the chmod, which
	 * then makes it exactly mode whatever a default ACL says.  Start-up
	 * only, before any thread: nothing else creates files meanwhile.
	 */
	old_umask = umask(~mode & 0777);
	r = bind(fd, (struct sockaddr *)&sun, sizeof(sun));
	umask(old_umask);
	if (r == -1 && errno == EADDRINUSE) {
		/* Someone made one there since we looked. */
		close(fd);
		snprintf(err, errlen, "control_socket %s is in use by another upcased? "
		    "(it was made meanwhile): refusing to replace it", path);
		return CONTROL_IN_USE;
	}
	/* What control_close() may remove: this socket, and no other. */
	if (r == -1 || lstat(path, &st) == -1 || chmod(path, mode) == -1 ||
	    listen(fd, 16) == -1) {
		sock_close_keep_errno(fd);
		goto failed;
	}
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->fd = fd;
	return 0;
failed:
	snprintf(err, errlen, "control socket %s: %s", path, strerror(errno));
	return CONTROL_FAILED;
}

/* ------------------------------------------------------------ serving */

struct control_answer {
	size_t (*fn)(char *, size_t, void *);
	void *arg;
	bool made;
	size_t len;
	char buf[CONTROL_ANSWER_MAX];
};

/*
 * Answer client k and close it.  drain: read once more first, so that a
 * request that came since the last look is not left unread (closing with
 * unread data makes the client's read fail with ECONNRESET).
 */
static void
control_answer(struct control *c, int k, struct control_answer *a, bool drain)
{
	struct control_client *cl = &c->clients[k];
	char buf[CONTROL_REQUEST_MAX];
	ssize_t sent;

	if (drain)
		(void)recv(cl->fd, buf, CONTROL_REQUEST_MAX - cl->got, MSG_DONTWAIT);
	if (!a->made) {
		a->len = a->fn(a->buf, sizeof(a->buf), a->arg);
		a->made = true;
	}
	sent = send(cl->fd, a->buf, a->len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (sent != (ssize_t)a->len)
		log_debug("control socket: short answer (%zd of %zu)", sent, a->len);
	close(cl->fd);
	*cl = c->clients[--c->nclients];
}

/* One read from client k: true once its request is in. */
static bool
control_read(struct control_client *cl)
{
	char buf[CONTROL_REQUEST_MAX];
	ssize_t n = recv(cl->fd, buf, CONTROL_REQUEST_MAX - cl->got, MSG_DONTWAIT);

	if (n > 0) {
		cl->got += (size_t)n;
		return memchr(buf, '\n', (size_t)n) != NULL || cl->got >= CONTROL_REQUEST_MAX;
	}
	if (n == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return false;
	return true;	/* its end of file, or an error: the answer goes, or fails */
}

static int
control_find(const struct control *c, int fd)
{
	for (int k = 0; k < c->nclients; k++)
		if (c->clients[k].fd == fd)
			return k;
	return -1;
}

/* Accept up to CONTROL_ACCEPT_MAX clients.  -1: out of descriptors. */
static int
control_accept(struct control *c, uint64_t now, struct control_answer *a)
{
	for (int i = 0; i < CONTROL_ACCEPT_MAX; i++) {
		struct control_client *cl;
		int fd = accept4(c->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd == -1) {
			switch (sock_accept_error(errno)) {
			case SOCK_ACCEPT_EMPTY:
				return 0;
			case SOCK_ACCEPT_RETRY:
				continue;
			case SOCK_ACCEPT_BACKOFF:
				return -1;	/* the caller backs off */
			case SOCK_ACCEPT_FAILED:
				log_warn("control socket: accept");
				return 0;
			}
		}
		if (c->nclients == CONTROL_MAX_CLIENTS) {
			/* Full: the one waiting longest gets its answer now. */
			int old = 0;

			for (int k = 1; k < c->nclients; k++)
				if (c->clients[k].deadline < c->clients[old].deadline)
					old = k;
			control_answer(c, old, a, true);
		}
		cl = &c->clients[c->nclients++];
		cl->fd = fd;
		cl->deadline = now + CONTROL_WAIT_MS;
		cl->got = 0;
		/* The request usually came with the connection. */
		if (control_read(cl))
			control_answer(c, c->nclients - 1, a, false);
	}
	return 0;
}

int
control_pollfds(const struct control *c, struct pollfd *p, bool listen,
    uint64_t now, int *timeout_ms)
{
	int n = 0;

	if (c->fd == -1)
		return 0;
	if (listen)
		p[n++] = (struct pollfd){ .fd = c->fd, .events = POLLIN };
	for (int k = 0; k < c->nclients; k++) {
		uint64_t d = c->clients[k].deadline;
		uint64_t left = d > now ? d - now : 0;

		p[n++] = (struct pollfd){ .fd = c->clients[k].fd, .events = POLLIN };
		if (*timeout_ms < 0 || left < (uint64_t)*timeout_ms)
			*timeout_ms = (int)left;
	}
	return n;
}

int
control_serve(struct control *c, const struct pollfd *p, int n, uint64_t now,
    size_t (*answer)(char *, size_t, void *), void *arg)
{
	struct control_answer a = { .fn = answer, .arg = arg };
	bool incoming = false;
	int k;

	if (c->fd == -1)
		return 0;
	for (int i = 0; i < n; i++) {
		if (p[i].revents == 0)
			continue;
		if (p[i].fd == c->fd) {
			incoming = true;
			continue;
		}
		/* Only fds of clients we hold: none is closed and reused before the accepts. */
		if ((k = control_find(c, p[i].fd)) != -1 && control_read(&c->clients[k]))
			control_answer(c, k, &a, false);
	}
	for (k = c->nclients - 1; k >= 0; k--)
		if (c->clients[k].deadline <= now)
			control_answer(c, k, &a, true);	/* said nothing in time */
	return incoming ? control_accept(c, now, &a) : 0;
}

/* ------------------------------------------------------------ ownership, stop */

int
control_chown(const struct control *c, uid_t uid, gid_t gid)
{
	char dir[PATH_MAX];

	if (lchown(c->path, uid, gid) == -1)
		return -1;
	if (!c->made_dir)
		return 0;	/* not ours to hand over (e.g. /tmp) */
	snprintf(dir, sizeof(dir), "%s", c->path);
	return chown(dirname(dir), uid, gid);
}

void
control_close(struct control *c)
{
	struct stat st;

	if (c->fd == -1)
		return;
	while (c->nclients > 0)
		close(c->clients[--c->nclients].fd);
	close(c->fd);
	c->fd = -1;
	/* Only the socket we made: one put there since is somebody else's. */
	if (lstat(c->path, &st) == -1) {
		if (errno != ENOENT)
			log_warn("%s", c->path);
	} else if (!S_ISSOCK(st.st_mode) || st.st_dev != c->dev || st.st_ino != c->ino)
		log_info("control socket %s was replaced while we ran: leaving it", c->path);
	else if (unlink(c->path) == -1 && errno != ENOENT)
		log_warn("%s", c->path);
}
