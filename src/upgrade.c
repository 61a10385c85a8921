/* SPDX-License-Identifier: ISC */
/*
 * upgrade.c: live upgrade, the I/O half: spawning the new binary and the
 * message exchange with it (see upgrade.h).
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clock.h"
#include "handover.h"
#include "upgrade.h"

extern char **environ;

#define MSG_HEAD 8

uint32_t
fdvec_push(struct fdvec *f, int fd)
{
	if (f->failed)
		return UINT32_MAX;
	if (f->n == f->cap) {
		size_t cap = f->cap ? 2 * f->cap : 64;
		int *v = realloc(f->v, cap * sizeof(*v));

		if (v == NULL) {
			f->failed = true;
			return UINT32_MAX;
		}
		f->v = v;
		f->cap = cap;
	}
	f->v[f->n] = fd;
	return (uint32_t)f->n++;
}

void
fdvec_free(struct fdvec *f)
{
	free(f->v);
	memset(f, 0, sizeof(*f));
}

/* Async-signal-safe: the decimal digits of v into buf (room for 21), NUL-terminated. */
static void
fmt_u(char *buf, unsigned long v)
{
	char tmp[24];
	int n = 0, i = 0;

	do
		tmp[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n > 0)
		buf[i++] = tmp[--n];
	buf[i] = '\0';
}

pid_t
upgrade_spawn(const char *path, char *const argv[], int *chan, int *pidfd, char *err,
    size_t errlen)
{
	static char fdvar[sizeof(UPGRADE_ENV) + 24], wdvar[48];
	char **env;
	size_t n = 0, k = 0;
	int sv[2], wd = -1, status;
	const char *wdpid = getenv("WATCHDOG_PID");
	uint32_t value;
	uint8_t type;
	pid_t a, b;

	*pidfd = -1;
	if (access(path, X_OK) == -1) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == -1) {
		snprintf(err, errlen, "socketpair: %s", strerror(errno));
		return -1;
	}
	/* Everything the children need is made before the fork: they only format and exec. */
	while (environ[n] != NULL)
		n++;
	if ((env = calloc(n + 3, sizeof(*env))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], UPGRADE_ENV "=", sizeof(UPGRADE_ENV)) == 0)
			continue;
		/* systemd's watchdog is for the main process: the child is to become it. */
		if (strncmp(environ[i], "WATCHDOG_PID=", 13) == 0 && wdpid != NULL &&
		    strtol(wdpid, NULL, 10) == (long)getpid()) {
			wd = (int)k;	/* its own pid, written in the child */
			env[k++] = wdvar;
			continue;
		}
		env[k++] = environ[i];
	}
	snprintf(fdvar, sizeof(fdvar), "%s=%d", UPGRADE_ENV, sv[1]);
	env[k++] = fdvar;
	env[k] = NULL;
	memcpy(wdvar, "WATCHDOG_PID=", 13);

	/*
	 * Two forks: the one in between exits at once, so the new process is
	 * the child of whoever reaps orphans (systemd, for a service), not
	 * ours.  systemd takes a MAINPID= that is not its own child as
	 * "alien", and at a stop then sends SIGKILL right after SIGTERM
	 * instead of waiting for the drain.  The price: we get no exit
	 * status; the new process says why it fails itself (UPGRADE_FAIL).
	 */
	if ((a = fork()) == -1) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		free(env);
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (a == 0) {
		uint8_t msg[MSG_HEAD] = { UPGRADE_PID };
		uint32_t v;

		if ((b = fork()) == 0) {
			uint8_t x[MSG_HEAD] = { UPGRADE_EXEC };
			uint32_t e;

			if (wd >= 0)
				fmt_u(wdvar + 13, (unsigned long)getpid());
			/* Our end survives the exec; every other descriptor is close-on-exec. */
			if (fcntl(sv[1], F_SETFD, 0) == -1)
				_exit(127);
			execve(path, argv, env);
			e = (uint32_t)errno;
			memcpy(x + 4, &e, sizeof(e));
			(void)!write(sv[1], x, sizeof(x));
			_exit(127);
		}
		if (b == -1)
			msg[0] = UPGRADE_EXEC;
		v = b == -1 ? (uint32_t)errno : (uint32_t)b;
		memcpy(msg + 4, &v, sizeof(v));
		(void)!write(sv[1], msg, sizeof(msg));
		_exit(0);
	}
	free(env);
	close(sv[1]);
	while (waitpid(a, &status, 0) == -1 && errno == EINTR)
		;
	fcntl(sv[0], F_SETFL, fcntl(sv[0], F_GETFL) | O_NONBLOCK);
	/* The first word is the one in between's: the new process's pid. */
	if (upgrade_recv(sv[0], &type, &value, NULL, 0, NULL, clock_ms() + 5000) == -1 ||
	    (type != UPGRADE_PID && type != UPGRADE_EXEC)) {
		snprintf(err, errlen, "starting %s: no word of its pid (%s)", path,
		    strerror(errno));
		close(sv[0]);
		return -1;
	}
	if (type == UPGRADE_EXEC) {
		snprintf(err, errlen, "cannot run %s: %s", path, strerror((int)value));
		close(sv[0]);
		return -1;
	}
	b = (pid_t)value;
	*pidfd = pidfd_open(b, 0);	/* -1 (an old kernel, a filter): kill() by pid then */
	*chan = sv[0];
	return b;
}

/* Wait for events on fd until deadline_ms: 1 ready, 0 timed out, -1 error. */
static int
wait_fd(int fd, short events, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = clock_ms();
		struct pollfd p = { .fd = fd, .events = events };
		int r;

		if (now >= deadline_ms)
			return 0;
		r = poll(&p, 1, (int)(deadline_ms - now < 1000 ? deadline_ms - now : 1000));
		if (r == -1 && errno != EINTR)
			return -1;
		if (r > 0)
			return 1;
	}
}

int
upgrade_send(int chan, enum upgrade_msg type, uint32_t value, const void *p, size_t len,
    const int *fds, size_t nfds, uint64_t deadline_ms)
{
	uint8_t head[MSG_HEAD] = { (uint8_t)type };
	struct iovec iov[2] = {
		{ .iov_base = head, .iov_len = sizeof(head) },
		{ .iov_base = (void *)(uintptr_t)p, .iov_len = len },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * UPGRADE_FDS_PER_MSG)];
		struct cmsghdr align;
	} cm;
	struct msghdr m = { .msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1 };

	if (nfds > UPGRADE_FDS_PER_MSG) {
		errno = EINVAL;
		return -1;
	}
	memcpy(head + 4, &value, sizeof(value));
	if (nfds > 0) {
		struct cmsghdr *c;

		memset(&cm, 0, sizeof(cm));
		m.msg_control = cm.buf;
		m.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		c = CMSG_FIRSTHDR(&m);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	for (;;) {
		if (sendmsg(chan, &m, MSG_NOSIGNAL) >= 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		switch (wait_fd(chan, POLLOUT, deadline_ms)) {
		case 0:
			errno = ETIMEDOUT;
			return -1;
		case -1:
			return -1;
		}
	}
}

ssize_t
upgrade_recv(int chan, uint8_t *type, uint32_t *value, void *buf, size_t cap,
    struct fdvec *fds, uint64_t deadline_ms)
{
	uint8_t head[MSG_HEAD];
	struct iovec iov[2] = {
		{ .iov_base = head, .iov_len = sizeof(head) },
		{ .iov_base = buf, .iov_len = cap },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * UPGRADE_FDS_PER_MSG)];
		struct cmsghdr align;
	} cm;
	struct msghdr m;
	struct cmsghdr *c;
	ssize_t n;

	for (;;) {
		memset(&m, 0, sizeof(m));
		m.msg_iov = iov;
		m.msg_iovlen = 2;
		m.msg_control = cm.buf;
		m.msg_controllen = sizeof(cm.buf);
		if ((n = recvmsg(chan, &m, MSG_CMSG_CLOEXEC | MSG_DONTWAIT)) >= 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -1;
		switch (wait_fd(chan, POLLIN, deadline_ms)) {
		case 0:
			errno = ETIMEDOUT;
			return -1;
		case -1:
			return -1;
		}
	}
	for (c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
		size_t k;

		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;

			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(fd));
			if (fds == NULL || fdvec_push(fds, fd) == UINT32_MAX)
				close(fd);
		}
	}
	if (n == 0) {
		*type = 0;
		*value = 0;
		return 0;
	}
	if ((m.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || (size_t)n < sizeof(head) ||
	    (fds != NULL && fds->failed)) {
		errno = EMSGSIZE;
		return -1;
	}
	*type = head[0];
	memcpy(value, head + 4, sizeof(*value));
	return n - (ssize_t)sizeof(head);
}

int
upgrade_send_state(int chan, const uint8_t *buf, size_t len, const struct fdvec *fds,
    uint64_t deadline_ms)
{
	size_t off = 0, fo = 0;

	while (off < len || fo < fds->n) {
		size_t k = len - off < UPGRADE_CHUNK ? len - off : UPGRADE_CHUNK;
		size_t nf = fds->n - fo < UPGRADE_FDS_PER_MSG ? fds->n - fo : UPGRADE_FDS_PER_MSG;

		if (upgrade_send(chan, UPGRADE_DATA, 0, buf + off, k, fds->v + fo, nf,
		    deadline_ms) == -1)
			return -1;
		off += k;
		fo += nf;
	}
	return upgrade_send(chan, UPGRADE_DONE, (uint32_t)fds->n, NULL, 0, NULL, 0, deadline_ms);
}

int
upgrade_recv_state(int chan, uint8_t **bufp, size_t *lenp, struct fdvec *fds,
    uint64_t deadline_ms, char *err, size_t errlen)
{
	uint8_t *buf = NULL, type;
	size_t len = 0, cap = 0;
	uint32_t value;

	for (;;) {
		ssize_t n;

		if (cap - len < UPGRADE_CHUNK) {
			uint8_t *nb = realloc(buf, cap + 4 * UPGRADE_CHUNK);

			if (nb == NULL) {
				snprintf(err, errlen, "out of memory for the handover");
				goto fail;
			}
			buf = nb;
			cap += 4 * UPGRADE_CHUNK;
		}
		if ((n = upgrade_recv(chan, &type, &value, buf + len, cap - len, fds,
		    deadline_ms)) == -1) {
			snprintf(err, errlen, "receiving the handover: %s", strerror(errno));
			goto fail;
		}
		if (n == 0 && type == 0) {
			snprintf(err, errlen, "the old process went away during the handover");
			goto fail;
		}
		if (type == UPGRADE_DONE) {
			if (value != fds->n) {
				snprintf(err, errlen, "received %zu descriptors of %u", fds->n,
				    value);
				goto fail;
			}
			*bufp = buf;
			*lenp = len;
			return 0;
		}
		if (type != UPGRADE_DATA) {
			snprintf(err, errlen, "unexpected message '%c' during the handover",
			    type >= 0x20 && type < 0x7f ? type : '?');
			goto fail;
		}
		len += (size_t)n;
		if (len > (size_t)1 << 31) {
			snprintf(err, errlen, "the handover is too large");
			goto fail;
		}
	}
fail:
	free(buf);
	return -1;
}
