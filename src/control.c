/* SPDX-License-Identifier: ISC */
/*
 * control.c: the control socket (see control.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <libgen.h>
#include <stdarg.h>
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

int
control_adopt(struct control *c, int fd, const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun;
	struct stat st;

	memset(c, 0, sizeof(*c));
	c->fd = -1;
	if (control_address(&sun, path) == -1 || lstat(path, &st) == -1 ||
	    !S_ISSOCK(st.st_mode)) {
		snprintf(err, errlen, "control socket %s: not there to take over", path);
		return CONTROL_FAILED;
	}
	memcpy(c->path, sun.sun_path, sizeof(c->path));
	c->dev = st.st_dev;
	c->ino = st.st_ino;
	c->fd = fd;
	return 0;
}

/* ------------------------------------------------------------ answers */

void
control_out_append(struct control_out *o, const void *p, size_t len)
{
	char *at;

	if (len == 0)
		return;		/* p may be NULL then */
	if ((at = control_out_reserve(o, len)) != NULL) {
		memcpy(at, p, len);
		o->len += len;
	}
}

void
control_out_printf(struct control_out *o, const char *fmt, ...)
{
	char line[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n > 0)
		control_out_append(o, line, (size_t)n < sizeof(line) ? (size_t)n :
		    sizeof(line) - 1);
}

char *
control_out_reserve(struct control_out *o, size_t n)
{
	size_t cap;
	char *p;

	if (o->failed)
		return NULL;
	if (o->cap - o->len >= n)
		return o->p + o->len;
	if (n > o->max || o->len > o->max - n) {
		o->failed = true;
		return NULL;
	}
	for (cap = o->cap ? o->cap : 4096; cap - o->len < n; cap *= 2)
		;
	if (cap > o->max)
		cap = o->max;
	if ((p = realloc(o->p, cap)) == NULL) {
		o->failed = true;
		return NULL;
	}
	o->p = p;
	o->cap = cap;
	return o->p + o->len;
}

/* ------------------------------------------------------------ serving */

/* Close client k, free its answer, and fill its place with the last one. */
static void
control_drop(struct control *c, int k)
{
	struct control_client *cl = &c->clients[k];

	close(cl->fd);
	c->buffered -= cl->out.cap;
	free(cl->out.p);
	*cl = c->clients[--c->nclients];
}

/* Put a short answer in place of what out held (an error, or none made). */
static void
control_set_error(struct control *c, struct control_client *cl, const char *what)
{
	c->buffered -= cl->out.cap;
	free(cl->out.p);
	memset(&cl->out, 0, sizeof(cl->out));
	cl->out.max = 256;
	control_out_printf(&cl->out, "error: %s\n", what);
	c->buffered += cl->out.cap;
}

/*
 * One write of what client k is owed; close it once it has all.  Before
 * the close, read once more, so that a request that came since the last
 * look is not left unread (closing with unread data makes the client's
 * read fail with ECONNRESET).  Returns whether the client is gone.
 */
static bool
control_send(struct control *c, int k)
{
	struct control_client *cl = &c->clients[k];
	char buf[CONTROL_REQUEST_MAX];
	ssize_t sent;

	if (cl->off < cl->out.len) {
		sent = send(cl->fd, cl->out.p + cl->off, cl->out.len - cl->off,
		    MSG_NOSIGNAL | MSG_DONTWAIT);
		if (sent == -1 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
			return false;
		if (sent <= 0) {
			log_debug("control socket: client gone, %zu of %zu bytes sent",
			    cl->off, cl->out.len);
			control_drop(c, k);
			return true;
		}
		cl->off += (size_t)sent;
		if (cl->off < cl->out.len)
			return false;
	}
	(void)recv(cl->fd, buf, sizeof(buf), MSG_DONTWAIT);
	control_drop(c, k);
	return true;
}

/* Ask for client k's answer; send what is ready.  Returns whether it is gone. */
static bool
control_answer(struct control *c, int k, uint64_t now, control_answer_fn *answer,
    void *arg)
{
	struct control_client *cl = &c->clients[k];
	int r;

	if (cl->phase == CONTROL_READING) {
		cl->req[cl->got] = '\0';
		cl->req[strcspn(cl->req, "\r\n")] = '\0';
	}
	/* What is left of the total, never wrapping below 0. */
	cl->out.max = (c->buffered >= CONTROL_OUT_TOTAL ? 0 : CONTROL_OUT_TOTAL - c->buffered) +
	    cl->out.cap;
	c->buffered -= cl->out.cap;
	r = answer(cl->req, &cl->out, arg);
	c->buffered += cl->out.cap;
	if (r == CONTROL_ANSWER_LATER && !cl->out.failed) {
		if (cl->phase != CONTROL_LATER) {
			cl->phase = CONTROL_LATER;
			cl->deadline = now + CONTROL_LATER_MS;
		}
		return false;
	}
	if (cl->out.failed) {
		log_warnx("control socket: the answer to \"%s\" would not fit in memory "
		    "(control buffers hold %zu bytes at most)", cl->req, CONTROL_OUT_TOTAL);
		control_set_error(c, cl, "out of memory for the answer");
	}
	cl->phase = CONTROL_SENDING;
	cl->deadline = now + CONTROL_SEND_MS;
	cl->off = 0;
	return control_send(c, k);
}

/* One read from client k: true once its request is in. */
static bool
control_read(struct control_client *cl)
{
	ssize_t n = recv(cl->fd, cl->req + cl->got, CONTROL_REQUEST_MAX - cl->got,
	    MSG_DONTWAIT);

	if (n > 0) {
		bool nl = memchr(cl->req + cl->got, '\n', (size_t)n) != NULL;

		cl->got += (size_t)n;
		return nl || cl->got >= CONTROL_REQUEST_MAX;
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

/*
 * The table is full: answer the client waiting longest for its request;
 * if that does not free a place (its answer comes later, or is long),
 * drop the client accepted first.
 */
static void
control_make_room(struct control *c, uint64_t now, control_answer_fn *answer, void *arg)
{
	int old = -1;

	for (int k = 0; k < c->nclients; k++)
		if (c->clients[k].phase == CONTROL_READING &&
		    (old == -1 || c->clients[k].accepted < c->clients[old].accepted))
			old = k;
	if (old != -1) {
		(void)control_read(&c->clients[old]);	/* what came since the last look */
		control_answer(c, old, now, answer, arg);
	}
	if (c->nclients < CONTROL_MAX_CLIENTS)
		return;
	old = 0;
	for (int k = 1; k < c->nclients; k++)
		if (c->clients[k].accepted < c->clients[old].accepted)
			old = k;
	log_debug("control socket: %d clients at once, dropping the oldest",
	    CONTROL_MAX_CLIENTS);
	control_drop(c, old);
}

/* Accept up to CONTROL_ACCEPT_MAX clients.  -1: out of descriptors. */
static int
control_accept(struct control *c, uint64_t now, control_answer_fn *answer, void *arg)
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
		if (c->nclients == CONTROL_MAX_CLIENTS)
			control_make_room(c, now, answer, arg);
		cl = &c->clients[c->nclients++];
		memset(cl, 0, sizeof(*cl));
		cl->fd = fd;
		cl->phase = CONTROL_READING;
		cl->accepted = now;
		cl->deadline = now + CONTROL_WAIT_MS;
		/* The request usually came with the connection. */
		if (control_read(cl))
			control_answer(c, c->nclients - 1, now, answer, arg);
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
		const struct control_client *cl = &c->clients[k];
		uint64_t left = cl->deadline > now ? cl->deadline - now : 0;
		short ev = cl->phase == CONTROL_READING ? POLLIN :
		    cl->phase == CONTROL_SENDING ? POLLOUT : 0;

		/* LATER: polled for nothing (errors only); the caller's descriptor wakes us. */
		p[n++] = (struct pollfd){ .fd = cl->fd, .events = ev };
		if (*timeout_ms < 0 || left < (uint64_t)*timeout_ms)
			*timeout_ms = (int)left;
	}
	return n;
}

int
control_serve(struct control *c, const struct pollfd *p, int n, uint64_t now,
    control_answer_fn *answer, void *arg)
{
	bool incoming = false;
	int k;

	if (c->fd == -1)
		return 0;
	/* The answers made meanwhile, first: their clients waited longest. */
	for (k = c->nclients - 1; k >= 0; k--)
		if (c->clients[k].phase == CONTROL_LATER)
			control_answer(c, k, now, answer, arg);
	for (int i = 0; i < n; i++) {
		struct control_client *cl;

		if (p[i].revents == 0)
			continue;
		if (p[i].fd == c->fd) {
			incoming = true;
			continue;
		}
		/* Only fds of clients we hold: none is closed and reused before the accepts. */
		if ((k = control_find(c, p[i].fd)) == -1)
			continue;
		cl = &c->clients[k];
		if (cl->phase == CONTROL_READING && control_read(cl))
			control_answer(c, k, now, answer, arg);
		else if (cl->phase == CONTROL_SENDING)
			control_send(c, k);
		else if (cl->phase == CONTROL_LATER && (p[i].revents & (POLLHUP | POLLERR))) {
			/* Gone while its answer is made: else poll() reports it at once, again. */
			log_debug("control socket: a client left before its answer was made");
			control_drop(c, k);
		}
	}
	for (k = c->nclients - 1; k >= 0; k--) {
		struct control_client *cl = &c->clients[k];

		if (cl->deadline > now)
			continue;
		switch (cl->phase) {
		case CONTROL_READING:
			/* Said nothing in time: read once more, then the answer. */
			(void)control_read(cl);
			control_answer(c, k, now, answer, arg);
			break;
		case CONTROL_LATER:
			log_warnx("control socket: no answer to \"%s\" within %d ms",
			    cl->req, CONTROL_LATER_MS);
			control_set_error(c, cl, "the workers did not answer in time");
			cl->phase = CONTROL_SENDING;
			cl->deadline = now + CONTROL_SEND_MS;
			cl->off = 0;
			control_send(c, k);
			break;
		case CONTROL_SENDING:
			log_debug("control socket: a client took %zu of %zu bytes in %d ms: "
			    "dropped", cl->off, cl->out.len, CONTROL_SEND_MS);
			control_drop(c, k);
			break;
		}
	}
	return incoming ? control_accept(c, now, answer, arg) : 0;
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
		control_drop(c, c->nclients - 1);
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
