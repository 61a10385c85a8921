/* SPDX-License-Identifier: ISC */
/*
 * udp.c: the UDP kind of worker (see udp.h and worker.h).  Replies leave
 * from the address the request came to (the listener turned on IP_PKTINFO
 * / IPV6_RECVPKTINFO), so a multi-homed host answers from the right
 * address even on a wildcard socket.
 */
#include "config.h"

#include <errno.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <syslog.h>
#include <unistd.h>

#include "access.h"
#include "addr.h"
#include "clock.h"
#include "guard.h"
#include "log.h"
#include "loopguard.h"
#include "proto.h"
#include "ratelimit.h"
#include "sock.h"
#include "srctable.h"
#include "tbucket.h"
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
	struct ratelimit rl, rl_drop;
	uint16_t own_ports[WORKER_MAX_LISTENERS];   /* of the sockets we serve */
	unsigned int lo_ifindex;              /* the loopback interface; 0: unknown */
	size_t   nown;
	struct srctable *rates;               /* per source (prefix): reply buckets */
	struct srctable *loops;               /* per source address and port: recent replies */
};

/* Why a datagram gets no reply (or does, over the limit). */
enum udp_verdict {
	UDP_ANSWER,
	UDP_ANSWER_LEAKED,    /* over the source's rate, answered as one in udp.leak */
	UDP_DROP_ACCESS,
	UDP_DROP_LOW_PORT,
	UDP_DROP_OWN_PORT,
	UDP_DROP_BAD_SOURCE,
	UDP_DROP_BAD_DEST,
	UDP_DROP_LOOP,
	UDP_DROP_RATE,
	UDP_DROP_TOO_LARGE,   /* the reply would not fit in one datagram */
};

static const struct {
	enum stat_id stat;
	const char  *why;     /* for the log line */
} udp_verdicts[] = {
	[UDP_ANSWER]          = { STAT_UDP_DATAGRAMS_IN, NULL },	/* not counted again */
	[UDP_ANSWER_LEAKED]   = { STAT_UDP_LEAKED, NULL },
	[UDP_DROP_ACCESS]     = { STAT_UDP_DROPPED_ACCESS, "denied by an access rule" },
	[UDP_DROP_LOW_PORT]   = { STAT_UDP_DROPPED_LOW_PORT, "source port below 1024" },
	[UDP_DROP_OWN_PORT]   = { STAT_UDP_DROPPED_OWN_PORT, "source port is one of ours" },
	[UDP_DROP_BAD_SOURCE] = { STAT_UDP_DROPPED_BAD_SOURCE, "source address cannot be a client" },
	[UDP_DROP_BAD_DEST]   = { STAT_UDP_DROPPED_BAD_DEST, "sent to a broadcast or multicast address" },
	[UDP_DROP_LOOP]       = { STAT_UDP_DROPPED_LOOP, "our own reply came back (a loop)" },
	[UDP_DROP_RATE]       = { STAT_UDP_DROPPED_RATE, "over udp.rate_limit" },
	[UDP_DROP_TOO_LARGE]  = { STAT_UDP_DROPPED_TOOLARGE, NULL },
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

/* Where request i arrived, from its IP_PKTINFO / IPV6_PKTINFO. */
struct udp_dest {
	struct sockaddr_storage addr;   /* the address it was sent to */
	bool known;
	bool broadcast;                 /* IPv4: sent to a broadcast address */
	unsigned int ifindex;
};

static void
udp_dest_of(struct msghdr *rh, struct udp_dest *d)
{
	struct cmsghdr *c;

	memset(d, 0, sizeof(*d));
	for (c = CMSG_FIRSTHDR(rh); c != NULL; c = CMSG_NXTHDR(rh, c)) {
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct sockaddr_in *sin = (struct sockaddr_in *)&d->addr;
			struct in_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			sin->sin_family = AF_INET;
			sin->sin_addr = pi.ipi_addr;
			/*
			 * The kernel answers from ipi_spec_dst: the address itself
			 * for a local unicast one, the interface's for a broadcast
			 * (subnet or limited) or multicast one.
			 */
			d->broadcast = pi.ipi_addr.s_addr != pi.ipi_spec_dst.s_addr;
			d->ifindex = (unsigned int)pi.ipi_ifindex;
			d->known = true;
			return;
		}
		if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
			struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&d->addr;
			struct in6_pktinfo pi;

			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			sin6->sin6_family = AF_INET6;
			sin6->sin6_addr = pi.ipi6_addr;
			d->ifindex = pi.ipi6_ifindex;
			d->known = true;
			return;
		}
	}
}

/* Source checks and access rules: what a datagram's header alone decides. */
static enum udp_verdict
udp_check_source(struct udp_worker *u, int i)
{
	const struct sockaddr *src = (const struct sockaddr *)&u->peer[i];
	const struct sockaddr *local;
	struct udp_dest d;
	int rule;

	if (u->w.params.udp_guard) {
		udp_dest_of(&u->rmsg[i].msg_hdr, &d);
		if (d.broadcast)
			return UDP_DROP_BAD_DEST;
		/*
		 * A loopback source can only have come from this host when it
		 * arrived on the loopback interface, whatever address it was
		 * sent to: the spoofing rule is for the other interfaces.
		 */
		local = d.known && (u->lo_ifindex == 0 || d.ifindex != u->lo_ifindex) ?
		    (const struct sockaddr *)&d.addr : NULL;
		switch (guard_check(src, local, u->own_ports, u->nown)) {
		case GUARD_OK:
			break;
		case GUARD_LOW_PORT:
			return UDP_DROP_LOW_PORT;
		case GUARD_OWN_PORT:
			return UDP_DROP_OWN_PORT;
		case GUARD_BAD_SOURCE:
		case GUARD_LOOPBACK_SPOOF:
			return UDP_DROP_BAD_SOURCE;
		case GUARD_BAD_DEST:
			return UDP_DROP_BAD_DEST;
		}
	}
	if (!access_allows(u->w.params.access, src, &rule))
		return UDP_DROP_ACCESS;
	return UDP_ANSWER;
}

/* The source's reply budget (udp.rate_limit, burst, leak, exempt). */
static enum udp_verdict
udp_check_rate(struct udp_worker *u, int i, uint64_t now)
{
	const struct worker_source_limits *l = &u->w.params.limits;
	const struct sockaddr *src = (const struct sockaddr *)&u->peer[i];
	struct src_entry *e;
	struct src_key k;
	int rule = -1;

	if (l->rate == 0)
		return UDP_ANSWER;
	if (l->exempt != NULL)
		access_allows(l->exempt, src, &rule);
	if (rule >= 0 || src_key_from_sockaddr(src, l->ipv4_prefix, l->ipv6_prefix, false, &k) == -1 ||
	    (e = srctable_get(u->rates, &k, now)) == NULL)
		return UDP_ANSWER;
	switch (tbucket_take(&e->bucket, l->rate, l->burst, l->leak, now)) {
	case TBUCKET_PASS:
		srctable_count_use(e, false);
		return UDP_ANSWER;
	case TBUCKET_LEAK:
		srctable_count_use(e, true);	/* over the limit, answered all the same */
		return UDP_ANSWER_LEAKED;
	case TBUCKET_DROP:
		break;
	}
	srctable_count_use(e, true);
	return UDP_DROP_RATE;
}

/*
 * The loop breaker (see loopguard.h): our own reply coming back from
 * another echo-like service, again and again, is dropped.  Every reply
 * sent is remembered per source address and port, in one of a few slots.
 * Our replies are their own upper case, so a payload that is not cannot
 * be one; it is still shown to the guard, which needs to see time pass.
 */
static enum udp_verdict
udp_check_loop(struct udp_worker *u, int i, const uint8_t *in, size_t len,
    const uint8_t *out, size_t outlen, uint64_t now)
{
	struct src_entry *e;
	struct src_key k;
	uint64_t hout, hin;

	if (!u->w.params.udp_guard ||
	    src_key_from_sockaddr((const struct sockaddr *)&u->peer[i], 32, 128, true, &k) == -1 ||
	    (e = srctable_get(u->loops, &k, now)) == NULL)
		return UDP_ANSWER;
	hout = loopguard_hash(out, outlen);
	hin = len == outlen && memcmp(in, out, len) == 0 ? hout : loopguard_hash(in, len);
	if (loopguard_is_echo(e, hin, now, LOOPGUARD_WINDOW_MS, LOOPGUARD_REPEATS))
		return UDP_DROP_LOOP;
	loopguard_sent(e, hout, now);
	return UDP_ANSWER;
}

/*
 * Whether datagram i gets a reply, which is then in out: the checks of the
 * header (guard, access), the source's budget, the transformation and
 * its size, and last the loop breaker, which needs the reply.
 */
static enum udp_verdict
udp_judge(struct udp_worker *u, int i, size_t len, uint8_t *out, size_t *outlen,
    uint64_t now)
{
	enum udp_verdict v, rate;

	if ((v = udp_check_source(u, i)) != UDP_ANSWER)
		return v;
	if ((rate = udp_check_rate(u, i, now)) == UDP_DROP_RATE)
		return rate;
	*outlen = transform_buffer(u->w.params.charset, u->riov[i].iov_base, len, out);
	if (*outlen > udp_max_reply(&u->peer[i]))
		return UDP_DROP_TOO_LARGE;
	if ((v = udp_check_loop(u, i, u->riov[i].iov_base, len, out, *outlen, now)) != UDP_ANSWER)
		return v;
	return rate;
}

/* Count a verdict; a drop also gets a rate-limited log line naming the source. */
static void
udp_count(struct udp_worker *u, int i, enum udp_verdict v, uint64_t now)
{
	const struct sockaddr *sa = (struct sockaddr *)&u->peer[i];
	socklen_t salen = u->rmsg[i].msg_hdr.msg_namelen;
	char a[SOCK_NAME_MAX];

	if (v == UDP_ANSWER)
		return;
	stats_add(&u->w.stats, udp_verdicts[v].stat, 1);
	if (udp_verdicts[v].why == NULL)
		return;
	/* One a while at notice, with the count since; every one at debug. */
	if (ratelimit_allow(&u->rl_drop, now))
		log_notice("dropped a datagram from %s: %s (%llu more dropped since the last message)",
		    addr_format(sa, salen, a, sizeof(a)), udp_verdicts[v].why,
		    (unsigned long long)ratelimit_take_suppressed(&u->rl_drop));
	else if (log_enabled(LOG_DEBUG))
		log_debug("dropped a datagram from %s: %s", addr_format(sa, salen, a, sizeof(a)),
		    udp_verdicts[v].why);
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
		size_t len = u->rmsg[i].msg_len, outlen = 0;

		enum udp_verdict v;

		stats_add(&u->w.stats, STAT_UDP_DATAGRAMS_IN, 1);
		stats_add(&u->w.stats, STAT_UDP_BYTES_IN, len);
		stats_observe(&u->w.stats, HIST_UDP_SIZE, len);
		v = udp_judge(u, i, len, out, &outlen, now);
		udp_count(u, i, v, now);	/* a leaked one, now that it is answered */
		if (v != UDP_ANSWER && v != UDP_ANSWER_LEAKED)
			continue;
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
	ratelimit_init(&u->rl_drop, 1, 10000, clock_ms());
	u->lo_ifindex = if_nametoindex("lo");
	return &u->w;
}

static void
udp_destroy(struct worker *w)
{
	struct udp_worker *u = (struct udp_worker *)w;

	srctable_free(u->rates);
	srctable_free(u->loops);
	free(u->in);
	free(u->out);
	free(u);
}

/* Our own UDP ports: a datagram from one of them is another of our sockets, or a loop. */
static void
udp_learn_ports(struct udp_worker *u)
{
	u->nown = 0;
	for (size_t i = 0; i < u->nsocks; i++) {
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);
		uint16_t port;

		if (getsockname(u->socks[i].fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		port = ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port :
		    ((struct sockaddr_in *)&ss)->sin_port;
		u->own_ports[u->nown++] = ntohs(port);
	}
}

/* One of the tables at udp.table_size; its state survives a reload. */
static void
udp_fit_table(struct srctable **t, uint32_t size)
{
	struct srctable *n = srctable_fit(*t, size);

	if (n == NULL && *t == NULL)
		fatal("out of memory for udp.table_size = %u", size);
	if (n == NULL)
		log_warn("udp.table_size = %u: keeping %zu entries", size, srctable_capacity(*t));
	else
		*t = n;
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
		/*
		 * A socket of every worker (from systemd) wakes one of them per
		 * datagram; one of a worker's own (udp.threads) only it.
		 */
		struct epoll_event e = { .events = EPOLLIN | EPOLLEXCLUSIVE, .data.ptr = s };

		if (w->params.lshard[i] != -1 && w->params.lshard[i] != w->id)
			continue;
		s->fd = w->params.lfds[i];
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, s->fd, &e) == -1) {
			char a[SOCK_NAME_MAX];

			log_warn("cannot watch socket udp %s", sock_name(s->fd, a, sizeof(a)));
			continue;
		}
		u->nsocks++;
	}
	udp_learn_ports(u);
	udp_fit_table(&u->rates, w->params.limits.table_size);
	udp_fit_table(&u->loops, w->params.limits.table_size);
}

static void
udp_event(struct worker *w, void *tag, uint32_t events, uint64_t now)
{
	(void)events;
	udp_serve((struct udp_worker *)w, ((struct udp_sock *)tag)->fd, now);
}

/*
 * upcase --sources: the limit busiest sources of the reply-rate table, as
 * struct src_entry copies (the main thread sorts and formats them).
 */
static void
udp_snapshot(struct worker *w, struct worker_snap *b, uint32_t limit, uint64_t now)
{
	struct udp_worker *u = (struct udp_worker *)w;
	struct src_entry top[UDP_SNAPSHOT_MAX];
	size_t n;

	(void)now;
	if (u->rates == NULL)
		return;
	n = srctable_top(u->rates, top, limit < UDP_SNAPSHOT_MAX ? limit : UDP_SNAPSHOT_MAX);
	worker_snap_append(b, top, n * sizeof(top[0]));
}

const struct worker_ops udp_worker_ops = {
	.name        = "udp",
	.create      = udp_create,
	.destroy     = udp_destroy,
	.apply       = udp_apply,
	.event       = udp_event,
	.snapshot    = udp_snapshot,
	/* A datagram is answered as it is read: once the sockets are let go, nothing is owed. */
};
