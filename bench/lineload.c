/* SPDX-License-Identifier: ISC */
/*
 * lineload.c: a minimal closed-loop line client, for bench/balance.py.
 * C connections each send one line and wait for one newline-terminated
 * reply, then send the next, for D seconds; it prints the replies per
 * second.  bench/loadgen checks upcased's replies byte for byte but
 * speaks only upcased's protocol; this one counts lines, so the same
 * client drives upcased ("ping" comes back "PING") and redis-server (an
 * inline PING comes back "+PONG"), and their ratio compares servers, not
 * clients.  With -e, every reply must be exactly that text.
 *
 *   lineload [-c conns] [-d seconds] [-e reply] [-r request] port
 *
 * Loopback (127.0.0.1) only.  Exit status: 0 well, 1 a wrong reply, 2
 * usage, 3 errors.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 10000

struct conn {
	int      fd;
	size_t   got;                /* bytes of the current reply so far */
	char     buf[256];
};

static double
now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
usage(void)
{
	fprintf(stderr, "usage: lineload [-c conns] [-d seconds] [-e reply] [-r request] port\n");
	exit(2);
}

int
main(int argc, char **argv)
{
	const char *req = "ping\r\n", *expect = NULL;
	int nconns = 50, ch, epfd, port;
	double secs = 5, start, end;
	unsigned long long done = 0, wrong = 0;
	struct sockaddr_in sin;
	struct conn *c;
	size_t reqlen;

	while ((ch = getopt(argc, argv, "c:d:e:r:")) != -1) {
		switch (ch) {
		case 'c': nconns = atoi(optarg); break;
		case 'd': secs = atof(optarg); break;
		case 'e': expect = optarg; break;
		case 'r': req = optarg; break;
		default: usage();
		}
	}
	if (argc - optind != 1 || nconns < 1 || nconns > MAX_CONNS || secs <= 0)
		usage();
	port = atoi(argv[optind]);
	reqlen = strlen(req);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons((uint16_t)port);
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((c = calloc((size_t)nconns, sizeof(*c))) == NULL ||
	    (epfd = epoll_create1(0)) == -1) {
		perror("lineload");
		return 3;
	}
	for (int i = 0; i < nconns; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = &c[i] };
		int one = 1;

		if ((c[i].fd = socket(AF_INET, SOCK_STREAM, 0)) == -1 ||
		    connect(c[i].fd, (struct sockaddr *)&sin, sizeof(sin)) == -1) {
			perror("lineload: connect");
			return 3;
		}
		setsockopt(c[i].fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		epoll_ctl(epfd, EPOLL_CTL_ADD, c[i].fd, &e);
	}
	for (int i = 0; i < nconns; i++)
		if (write(c[i].fd, req, reqlen) != (ssize_t)reqlen) {
			perror("lineload: write");
			return 3;
		}
	start = now_s();
	end = start + secs;
	for (;;) {
		struct epoll_event ev[256];
		int n = epoll_wait(epfd, ev, 256, 100);
		double t = now_s();

		if (t >= end)
			break;
		for (int i = 0; i < n; i++) {
			struct conn *k = ev[i].data.ptr;
			ssize_t r = read(k->fd, k->buf + k->got, sizeof(k->buf) - 1 - k->got);

			if (r <= 0) {
				if (r == -1 && errno == EAGAIN)
					continue;
				fprintf(stderr, "lineload: connection closed\n");
				return 3;
			}
			k->got += (size_t)r;
			if (k->buf[k->got - 1] != '\n') {
				if (k->got == sizeof(k->buf) - 1)
					return 3;
				continue;
			}
			k->buf[k->got] = '\0';
			if (expect != NULL && (k->got != strlen(expect) + 2 ||
			    strncmp(k->buf, expect, strlen(expect)) != 0))
				wrong++;
			k->got = 0;
			done++;
			if (write(k->fd, req, reqlen) != (ssize_t)reqlen) {
				perror("lineload: write");
				return 3;
			}
		}
	}
	printf("conns=%d secs=%.3f count=%llu rate=%.1f wrong=%llu\n", nconns, now_s() - start,
	    done, (double)done / (now_s() - start), wrong);
	return wrong > 0 ? 1 : 0;
}
