/*
 * udp.c: the UDP kind of worker (see udp.h and worker.h).  Replies leave
 * from the address the request came to (the listener turned on IP_PKTINFO
 * / IPV6_RECVPKTINFO), so a multi-homed host answers from the right
 * address even on a wildcard socket.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "proto.h"
#include "ratelimit.h"
#include "transform.h"
#include "udp.h"

#define UDP_MAX_DGRAM 65536
#define UDP_BUDGET    64      /* batches per socket per wake-up, for fairness */
#define CMSG_SPACE_PKTINFO CMSG_SPACE(sizeof(struct in6_pktinfo) > sizeof(struct in_pktinfo) ? \
    sizeof(struct in6_pktinfo) : sizeof(struct in_pktinfo))

/* The epoll tag of a socket. */
struct udp_sock {
	int fd;
};

struct udp_worker {
	struct worker w;                      /* first: see struct worker_ops */
	struct udp_sock socks[WORKER_MAX_LISTENERS];   /* sockets in epoll */
	size_t   nsocks;
	/* batch buffers */
	uint8_t *in;                          /* UDP_BATCH * UDP_MAX_DGRAM */
	uint8_t *out;                         /* UDP_BATCH * TRANSFORM_BOUND(UDP_MAX_DGRAM) */
	struct mmsghdr rmsg[UDP_BATCH], smsg[UDP_BATCH];
	struct iovec riov[UDP_BATCH], siov[UDP_BATCH];
	struct sockaddr_storage peer[UDP_BATCH];
	uint8_t rctl[UDP_BATCH][CMSG_SPACE_PKTINFO];
	uint8_t sctl[UDP_BATCH][CMSG_SPACE_PKTINFO];
	struct ratelimit rl;
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
				stats_add(&u->w.stats, STAT_UDP_BYTES_OUT, u->smsg[i].msg_len);
			stats_add(&u->w.stats, STAT_UDP_DATAGRAMS_OUT, (uint64_t)k);
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
		stats_add(&u->w.stats, STAT_UDP_DROPPED_SENDFAIL, 1);
		if (ratelimit_allow(&u->rl, now))
			log_warn("sendmmsg");
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
			log_warn("recvmmsg");
		return 0;
	}
	for (int i = 0; i < n; i++) {
		struct msghdr *rh = &u->rmsg[i].msg_hdr, *sh = &u->smsg[nsend].msg_hdr;
		uint8_t *out = u->out + (size_t)nsend * TRANSFORM_BOUND(UDP_MAX_DGRAM);
		size_t len = u->rmsg[i].msg_len, outlen;

		stats_add(&u->w.stats, STAT_UDP_DATAGRAMS_IN, 1);
		stats_add(&u->w.stats, STAT_UDP_BYTES_IN, len);
		outlen = transform_buffer(u->w.params.charset, u->riov[i].iov_base, len, out);
		if (outlen > udp_max_reply(&u->peer[i])) {
			stats_add(&u->w.stats, STAT_UDP_DROPPED_TOOLARGE, 1);
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
udp_forget_sockets(struct udp_worker *u)
{
	for (size_t i = 0; i < u->nsocks; i++)
		epoll_ctl(u->w.epfd, EPOLL_CTL_DEL, u->socks[i].fd, NULL);
	u->nsocks = 0;
}

/* ------------------------------------------------------------ worker_ops */

static struct worker *
udp_create(void)
{
	struct udp_worker *u = calloc(1, sizeof(*u));

	if (u == NULL)
		return NULL;
	u->in = malloc((size_t)UDP_BATCH * UDP_MAX_DGRAM);
	u->out = malloc((size_t)UDP_BATCH * TRANSFORM_BOUND(UDP_MAX_DGRAM));
	if (u->in == NULL || u->out == NULL) {
		free(u->in);
		free(u->out);
		free(u);
		return NULL;
	}
	ratelimit_init(&u->rl, 1, 10000, clock_ms());
	return &u->w;
}

static void
udp_destroy(struct worker *w)
{
	struct udp_worker *u = (struct udp_worker *)w;

	free(u->in);
	free(u->out);
	free(u);
}

/*
 * Watch the sockets in w->params.  Stopping: first answer what is already
 * queued on the sockets we had, then let go of them all.
 */
static void
udp_apply(struct worker *w, const struct worker_params *old, uint64_t now)
{
	struct udp_worker *u = (struct udp_worker *)w;

	if (w->params.draining && !old->draining)
		for (size_t i = 0; i < u->nsocks; i++)
			udp_serve(u, u->socks[i].fd, now);
	udp_forget_sockets(u);
	if (w->params.draining)
		return;
	for (size_t i = 0; i < w->params.nlfds; i++) {
		struct udp_sock *s = &u->socks[u->nsocks];
		struct epoll_event e = { .events = EPOLLIN, .data.ptr = s };

		s->fd = w->params.lfds[i];
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->fd, &e) == -1) {
			log_warn("cannot watch socket %d", s->fd);
			continue;
		}
		u->nsocks++;
	}
}

static void
udp_event(struct worker *w, void *tag, uint32_t events, uint64_t now)
{
	(void)events;
	udp_serve((struct udp_worker *)w, ((struct udp_sock *)tag)->fd, now);
}

const struct worker_ops udp_worker_ops = {
	.name        = "udp",
	.create      = udp_create,
	.destroy     = udp_destroy,
	.apply       = udp_apply,
	.event       = udp_event,
	/* A datagram is answered as it is read: once the sockets are let go, nothing is owed. */
};
