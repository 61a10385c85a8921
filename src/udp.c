/*
 * udp.c: the UDP worker.  Replies leave from the address the request came
 * to (the listener turned on IP_PKTINFO / IPV6_RECVPKTINFO), so a
 * multi-homed host answers from the right address even on a wildcard
 * socket.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "proto.h"
#include "ratelimit.h"
#include "transform.h"
#include "udp.h"

#define UDP_MAX_DGRAM 65536
#define UDP_BUDGET    64      /* batches per socket per wake-up, for fairness */
#define CMSG_SPACE_PKTINFO CMSG_SPACE(sizeof(struct in6_pktinfo) > sizeof(struct in_pktinfo) ? \
    sizeof(struct in6_pktinfo) : sizeof(struct in_pktinfo))

struct udp_worker {
	pthread_t thread;
	int      epfd;
	int      evfd;
	struct mailbox mb;
	uint64_t gen;
	struct worker_params params;
	int      fds[WORKER_MAX_LISTENERS];   /* sockets in epoll */
	size_t   nfds;
	/* batch buffers */
	uint8_t *in;                          /* UDP_BATCH * UDP_MAX_DGRAM */
	uint8_t *out;                         /* UDP_BATCH * TRANSFORM_BOUND(UDP_MAX_DGRAM) */
	struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
	struct sockaddr_storage peer[UDP_BATCH];
	uint8_t rctl[UDP_BATCH][CMSG_SPACE_PKTINFO];
	uint8_t sctl[UDP_BATCH][CMSG_SPACE_PKTINFO];
	struct ratelimit rl;
	uint64_t heartbeat;
	struct stats stats;
};

static size_t
udp_max_reply(const struct sockaddr_storage *ss)
{
	const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

	if (ss->ss_family == AF_INET6 && !IN6_IS_ADDR_V4MAPPED(&s6->sin6_addr))
		return UPCASE_UDP_MAX_PAYLOAD6;
	return UPCASE_UDP_MAX_PAYLOAD4;
}

/* Copy the destination address of request i into the reply's source. */
static size_t
udp_reply_control(struct udp_worker *u, int i, struct msghdr *rh)
{
	struct cmsghdr *c, *s;

	for (c = CMSG_FIRSTHDR(rh); c != NULL; c = CMSG_NXTHDR(rh, c)) {
		s = (struct cmsghdr *)u->sctl[i];
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;

			/*
			 * The kernel put the local address it would answer from in
			 * ipi_spec_dst (the interface's own address when the request
			 * went to a broadcast address): keep it.
			 */
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_ifindex = 0;
			s->cmsg_level = IPPROTO_IP;
			s->cmsg_type = IP_PKTINFO;
			s->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(s), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			s->cmsg_level = IPPROTO_IPV6;
			s->cmsg_type = IPV6_PKTINFO;
			s->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(s), &pi, sizeof(pi));
			return CMSG_SPACE(sizeof(pi));
		}
	}
	return 0;
}

static void
udp_prepare_recv(struct udp_worker *u)
{
	for (int i = 0; i < UDP_BATCH; i++) {
		struct msghdr *h = &u->rmsg[i].msg_hdr;

		u->riov[i].iov_base = u->in + (size_t)i * UDP_MAX_DGRAM;
		u->riov[i].iov_len = UDP_MAX_DGRAM;
		memset(h, 0, sizeof(*h));
		h->msg_name = &u->peer[i];
		h->msg_namelen = sizeof(u->peer[i]);
		h->msg_iov = &u->riov[i];
		h->msg_iovlen = 1;
		h->msg_control = u->rctl[i];
		h->msg_controllen = sizeof(u->rctl[i]);
	}
}

static void
udp_send_batch(struct udp_worker *u, int fd, int nsend, uint64_t now)
{
	int off = 0;

	while (off < nsend) {
		int k = sendmmsg(fd, u->smsg + off, (unsigned)(nsend - off), MSG_DONTWAIT);

		if (k > 0) {
			for (int i = off; i < off + k; i++)
				stats_add(&u->stats, STAT_UDP_BYTES_OUT, u->smsg[i].msg_len);
			stats_add(&u->stats, STAT_UDP_DATAGRAMS_OUT, (uint64_t)k);
			off += k;
			continue;
		}
		if (k == -1 && errno == EINTR)
			continue;
		if (u->smsg[off].msg_hdr.msg_control != NULL && errno != EAGAIN) {
			/*
			 * The source address we asked for was refused (a request to a
			 * multicast or mapped broadcast address): let the kernel choose.
			 */
			u->smsg[off].msg_hdr.msg_control = NULL;
			u->smsg[off].msg_hdr.msg_controllen = 0;
			continue;
		}
		/* This datagram cannot go (buffer full, peer unreachable): drop it, go on. */
		stats_add(&u->stats, STAT_UDP_DROPPED_SENDFAIL, 1);
		if (ratelimit_allow(&u->rl, now))
			log_warn("udp: sendmmsg");
		off++;
	}
}

/* One recvmmsg batch.  Returns the number of datagrams, 0 when none are left. */
static int
udp_serve_batch(struct udp_worker *u, int fd, uint64_t now)
{
	int n, nsend = 0;

	udp_prepare_recv(u);
	n = recvmmsg(fd, u->rmsg, UDP_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0) {
		if (n == -1 && errno != EAGAIN && errno != EINTR && ratelimit_allow(&u->rl, now))
			log_warn("udp: recvmmsg");
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *rh = &u->rmsg[i].msg_hdr, *sh = &u->smsg[nsend].msg_hdr;
		uint8_t *out = u->out + (size_t)nsend * TRANSFORM_BOUND(UDP_MAX_DGRAM);
		size_t len = u->rmsg[i].msg_len, outlen;

		stats_add(&u->stats, STAT_UDP_DATAGRAMS_IN, 1);
		stats_add(&u->stats, STAT_UDP_BYTES_IN, len);
		outlen = transform_buffer(u->params.charset, u->riov[i].iov_base, len, out);
		if (outlen > udp_max_reply(&u->peer[i])) {
			stats_add(&u->stats, STAT_UDP_DROPPED_TOOLARGE, 1);
			continue;
		}
		u->siov[nsend].iov_base = out;
		u->siov[nsend].iov_len = outlen;
		memset(sh, 0, sizeof(*sh));
		sh->msg_name = &u->peer[i];
		sh->msg_namelen = rh->msg_namelen;
		sh->msg_iov = &u->siov[nsend];
		sh->msg_iovlen = 1;
		sh->msg_control = u->sctl[nsend];
		sh->msg_controllen = udp_reply_control(u, nsend, rh);
		if (sh->msg_controllen == 0)
			sh->msg_control = NULL;
		nsend++;
	}
	udp_send_batch(u, fd, nsend, now);
	return n;
}

static void
udp_serve(struct udp_worker *u, int fd, uint64_t now)
{
	for (int b = 0; b < UDP_BUDGET; b++)
		if (udp_serve_batch(u, fd, now) < UDP_BATCH)
			return;
}

static void
udp_sync_sockets(struct udp_worker *u, const struct worker_params *p)
{
	for (size_t i = 0; i < u->nfds; i++)
		epoll_ctl(u->epfd, EPOLL_CTL_DEL, u->fds[i], NULL);
	u->nfds = 0;
	for (size_t i = 0; i < p->nlfds; i++) {
		struct epoll_event e = { .events = EPOLLIN, .data.fd = p->lfds[i] };

		if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, p->lfds[i], &e) == -1) {
			log_warn("udp: cannot watch socket %d", p->lfds[i]);
			continue;
		}
		u->fds[u->nfds++] = p->lfds[i];
	}
}

static void *
udp_main(void *arg)
{
	struct udp_worker *u = arg;
	struct epoll_event ev[WORKER_MAX_LISTENERS + 1];

	worker_thread_setup("upcased-udp");
	for (;;) {
		int n = epoll_wait(u->epfd, ev, WORKER_MAX_LISTENERS + 1, WORKER_TICK_MS);
		uint64_t now = worker_now_ms();
		struct worker_params p;
		bool wake = false;

		if (n == -1 && errno != EINTR)
			fatal("udp: epoll_wait");
		for (int i = 0; i < n; i++) {
			if (ev[i].data.fd == u->evfd)
				wake = true;
			else
				udp_serve(u, ev[i].data.fd, now);
		}
		__atomic_add_fetch(&u->heartbeat, 1, __ATOMIC_RELAXED);
		if (!wake)
			continue;
		worker_eventfd_drain(u->evfd);
		if (!mailbox_take(&u->mb, &u->gen, &p))
			continue;
		if (p.draining) {
			/* answer what is already queued, then leave (the main thread joins us) */
			mailbox_done(&u->mb);
			for (size_t i = 0; i < u->nfds; i++)
				udp_serve(u, u->fds[i], now);
			break;
		}
		udp_sync_sockets(u, &p);
		u->params = p;
		mailbox_done(&u->mb);
	}
	return NULL;
}

struct udp_worker *
udp_worker_create(const struct worker_params *p)
{
	struct udp_worker *u = calloc(1, sizeof(*u));
	struct epoll_event e = { .events = EPOLLIN };
	int err;

	if (u == NULL)
		fatal("calloc");
	u->in = malloc((size_t)UDP_BATCH * UDP_MAX_DGRAM);
	u->out = malloc((size_t)UDP_BATCH * TRANSFORM_BOUND(UDP_MAX_DGRAM));
	if (u->in == NULL || u->out == NULL)
		fatal("malloc");
	u->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (u->epfd == -1)
		fatal("epoll_create1");
	u->evfd = worker_eventfd();
	e.data.fd = u->evfd;
	if (epoll_ctl(u->epfd, EPOLL_CTL_ADD, u->evfd, &e) == -1)
		fatal("epoll_ctl");
	ratelimit_init(&u->rl, 1, 10000, worker_now_ms());
	mailbox_init(&u->mb, 1, p);
	u->gen = u->mb.gen;
	u->params = *p;
	udp_sync_sockets(u, p);
	if ((err = pthread_create(&u->thread, NULL, udp_main, u)) != 0) {
		errno = err;
		fatal("pthread_create");
	}
	return u;
}

void
udp_worker_apply(struct udp_worker *u, const struct worker_params *p)
{
	mailbox_post(&u->mb, p, &u->evfd, 1);
}

void
udp_worker_stop(struct udp_worker *u)
{
	struct worker_params p = u->mb.params;

	p.draining = true;
	mailbox_post(&u->mb, &p, &u->evfd, 1);
	pthread_join(u->thread, NULL);
}

void
udp_worker_destroy(struct udp_worker *u)
{
	if (u == NULL)
		return;
	close(u->epfd);
	close(u->evfd);
	mailbox_destroy(&u->mb);
	free(u->in);
	free(u->out);
	free(u);
}

void
udp_worker_stats(const struct udp_worker *u, struct stats *total)
{
	stats_sum_into(total, &u->stats);
}

uint64_t
udp_worker_heartbeat(const struct udp_worker *u)
{
	return __atomic_load_n(&u->heartbeat, __ATOMIC_RELAXED);
}
