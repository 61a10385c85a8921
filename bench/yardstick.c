/* SPDX-License-Identifier: ISC */
/*
 * yardstick.c: the smallest honest server of the same service, for make
 * bench to measure upcased against: one thread, one level-triggered epoll
 * loop, TCP and UDP on one port, ASCII a-z upper-cased in place and sent
 * straight back.  No configuration, no limits, no logging, no
 * back-pressure beyond not reading a connection while its reply is
 * unsent.  What is left of its CPU per reply is the kernel's and epoll's:
 * the floor an epoll server can reach.
 *
 * usage: yardstick port [address]     (address: default 127.0.0.1)
 * SIGTERM or SIGINT: exit 0.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#define BUF_SIZE 65536

struct conn {                    /* indexed by descriptor */
	uint8_t *pend;           /* reply bytes the socket did not take */
	size_t   len, off;
};

static struct conn *conns;
static size_t nconns;
static volatile sig_atomic_t stop;

static void
on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void
die(const char *what)
{
	perror(what);
	exit(1);
}

static void
upper(uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] >= 'a' && p[i] <= 'z')
			p[i] = (uint8_t)(p[i] - 'a' + 'A');
}

static void
ctl(int ep, int op, int fd, uint32_t ev)
{
	struct epoll_event e = { .events = ev, .data.fd = fd };

	if (epoll_ctl(ep, op, fd, &e) == -1 && op != EPOLL_CTL_DEL)
		die("epoll_ctl");
}

static void
drop(int ep, int fd)
{
	ctl(ep, EPOLL_CTL_DEL, fd, 0);
	close(fd);
	free(conns[fd].pend);
	conns[fd] = (struct conn){ 0 };
}

/* Send what is pending; 1: all gone, 0: the socket is full, -1: failed. */
static int
flush(int fd)
{
	struct conn *c = &conns[fd];

	while (c->off < c->len) {
		ssize_t k = send(fd, c->pend + c->off, c->len - c->off, MSG_NOSIGNAL);

		if (k == -1)
			return errno == EAGAIN ? 0 : -1;
		c->off += (size_t)k;
	}
	c->len = c->off = 0;
	return 1;
}

static void
on_tcp(int ep, int fd, uint32_t ev, uint8_t *buf)
{
	struct conn *c = &conns[fd];
	ssize_t n;
	int r;

	if (c->len > 0) {	/* waiting for room: EPOLLOUT */
		if ((r = flush(fd)) == -1)
			drop(ep, fd);
		else if (r == 1)
			ctl(ep, EPOLL_CTL_MOD, fd, EPOLLIN);
		return;
	}
	(void)ev;
	n = recv(fd, buf, BUF_SIZE, 0);
	if (n == 0 || (n == -1 && errno != EAGAIN && errno != EINTR)) {
		drop(ep, fd);
		return;
	}
	if (n == -1)
		return;
	upper(buf, (size_t)n);
	for (size_t off = 0; off < (size_t)n;) {
		ssize_t k = send(fd, buf + off, (size_t)n - off, MSG_NOSIGNAL);

		if (k == -1 && errno == EAGAIN) {
			c->pend = realloc(c->pend, (size_t)n - off);
			if (c->pend == NULL)
				die("realloc");
			memcpy(c->pend, buf + off, (size_t)n - off);
			c->len = (size_t)n - off;
			c->off = 0;
			ctl(ep, EPOLL_CTL_MOD, fd, EPOLLOUT);
			return;
		}
		if (k == -1) {
			drop(ep, fd);
			return;
		}
		off += (size_t)k;
	}
}

static void
on_udp(int fd, uint8_t *buf)
{
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage peer;
		socklen_t plen = sizeof(peer);
		ssize_t n = recvfrom(fd, buf, BUF_SIZE, MSG_DONTWAIT, (struct sockaddr *)&peer, &plen);

		if (n == -1)
			return;
		upper(buf, (size_t)n);
		sendto(fd, buf, (size_t)n, MSG_DONTWAIT, (struct sockaddr *)&peer, plen);
	}
}

int
main(int argc, char **argv)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct epoll_event ev[256];
	struct rlimit rl;
	struct sigaction sig = { .sa_handler = on_signal };
	static uint8_t buf[BUF_SIZE];
	int one = 1, lfd, ufd, ep;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: yardstick port [address]\n");
		return 2;
	}
	sa.sin_port = htons((uint16_t)atoi(argv[1]));
	if (inet_pton(AF_INET, argc == 3 ? argv[2] : "127.0.0.1", &sa.sin_addr) != 1) {
		fprintf(stderr, "yardstick: not an IPv4 address\n");
		return 2;
	}
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	nconns = getrlimit(RLIMIT_NOFILE, &rl) == 0 ? (size_t)rl.rlim_cur : 1024;
	if ((conns = calloc(nconns, sizeof(*conns))) == NULL)
		die("calloc");
	sigaction(SIGTERM, &sig, NULL);
	sigaction(SIGINT, &sig, NULL);
	signal(SIGPIPE, SIG_IGN);

	if ((lfd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) == -1 ||
	    bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == -1 || listen(lfd, 4096) == -1)
		die("tcp");
	if ((ufd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0)) == -1 ||
	    bind(ufd, (struct sockaddr *)&sa, sizeof(sa)) == -1)
		die("udp");
	if ((ep = epoll_create1(EPOLL_CLOEXEC)) == -1)
		die("epoll_create1");
	ctl(ep, EPOLL_CTL_ADD, lfd, EPOLLIN);
	ctl(ep, EPOLL_CTL_ADD, ufd, EPOLLIN);

	while (!stop) {
		int n = epoll_wait(ep, ev, 256, 1000);

		if (n == -1 && errno != EINTR)
			die("epoll_wait");
		for (int i = 0; i < n; i++) {
			int fd = ev[i].data.fd;

			if (fd == lfd) {
				int c;

				while ((c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) != -1) {
					if ((size_t)c >= nconns) {
						close(c);
						continue;
					}
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
					ctl(ep, EPOLL_CTL_ADD, c, EPOLLIN);
				}
			} else if (fd == ufd) {
				on_udp(ufd, buf);
			} else {
				on_tcp(ep, fd, ev[i].events, buf);
			}
		}
	}
	return 0;
}
