/* SPDX-License-Identifier: ISC */
/*
 * listener.c: opening, reusing and closing listening sockets.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "addr.h"
#include "handover.h"
#include "listener.h"
#include "log.h"
#include "notify.h"
#include "sock.h"
#include "steer.h"

/*
 * listener_set_fds() hands each worker the sockets of one kind (the TCP
 * workers the stream ones, the UDP worker the datagram ones), and drops
 * what does not fit in lfds.  A config entry opens at most one socket of
 * each kind ("*" is one dual-stack socket, or IPv4 alone), so a config
 * gives at most CONF_MAX_LISTENERS of a kind: all of them must fit.
 * (Sockets from systemd are capped at WORKER_MAX_LISTENERS of each kind
 * when they are taken.)  A worker given both kinds would need twice that.
 */
_Static_assert(CONF_MAX_LISTENERS <= WORKER_MAX_LISTENERS,
    "a worker must be able to take every socket of its kind that a config opens");

/*
 * Datagram sockets report each request's destination address, so the UDP
 * worker can answer from it.  Either option may fail, depending on the
 * socket's family: that is fine.
 */
static void
listener_set_pktinfo(int fd)
{
	int one = 1;

	setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
	setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
}

/*
 * The kernel buffers of a TCP listener (tcp.send_buffer, tcp.receive_buffer):
 * every connection accepted from it inherits them, with the lock that
 * keeps the kernel from growing them, so they bound the kernel memory one
 * connection can hold.  The receive buffer also sets the window scale
 * offered in each SYN-ACK.  0 leaves the kernel's default (autotuning);
 * a buffer once set cannot be handed back to it.  -1 (errno) on failure.
 */
static int
listener_buffers(int fd, int sndbuf, int rcvbuf)
{
	if (sndbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof(sndbuf)) == -1)
		return -1;
	if (rcvbuf > 0 &&
	    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf)) == -1)
		return -1;
	return 0;
}

static int
listener_socket(int family, int type, const struct sockaddr *sa, socklen_t len,
    bool dualstack, bool reuse_port, const struct conf *c)
{
	int fd, one = 1, v6only = dualstack ? 0 : 1;

	fd = socket(family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd == -1)
		return -1;
	if (type == SOCK_STREAM) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		/* Inherited by every connection, from the first (tcp_apply: others'). */
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	}
	/* Before bind(): only sockets that all asked for it share a port. */
	if (reuse_port && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) == -1)
		goto fail;
	if (family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &v6only, sizeof(v6only)) == -1)
		goto fail;
	/* Before listen(), as tcp(7) asks. */
	if (type == SOCK_STREAM &&
	    listener_buffers(fd, c->tcp_send_buffer, c->tcp_receive_buffer) == -1)
		goto fail;
	if (bind(fd, sa, len) == -1)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, c->backlog) == -1)
		goto fail;
	if (type == SOCK_DGRAM)
		listener_set_pktinfo(fd);
	return fd;
fail:
	sock_close_keep_errno(fd);
	return -1;
}

/* "*": IPv6 dual-stack, or IPv4 where the kernel has no IPv6. */
static int
listener_open_one(const char *address, uint16_t port, int type, bool reuse_port,
    const struct conf *c)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int fd;

	if (strcmp(address, "*") == 0) {
		addr_parse_numeric("::", port, &ss, &len);
		fd = listener_socket(AF_INET6, type, (struct sockaddr *)&ss, len, true,
		    reuse_port, c);
		if (fd != -1 || (errno != EAFNOSUPPORT && errno != EADDRNOTAVAIL))
			return fd;
		addr_parse_numeric("0.0.0.0", port, &ss, &len);
		return listener_socket(AF_INET, type, (struct sockaddr *)&ss, len, false,
		    reuse_port, c);
	}
	if (addr_parse_numeric(address, port, &ss, &len) == -1) {
		errno = EINVAL;
		return -1;
	}
	return listener_socket(ss.ss_family, type, (struct sockaddr *)&ss, len, false,
	    reuse_port, c);
}

static void
listener_name(struct listener *l)
{
	const char *proto = l->type == SOCK_STREAM ? "tcp" : "udp";
	char a[SOCK_NAME_MAX];

	/* The bound address, never a descriptor number: that names nothing to a reader. */
	if (l->address != NULL && strcmp(l->address, "*") == 0)
		snprintf(l->name, sizeof(l->name), "%s *:%u", proto, l->port);
	else
		snprintf(l->name, sizeof(l->name), "%s %s", proto,
		    sock_name(l->fd, a, sizeof(a)));
}

/*
 * The old socket of this listener (and shard), however its address is
 * written ("::1", "0::1"), with whether it was bound with SO_REUSEPORT;
 * -1 if none.
 */
static int
listener_take(struct listener_set *old, const char *address, uint16_t port, int type,
    int shard, bool *reuse_port)
{
	if (old == NULL || old->activated)
		return -1;
	for (size_t i = 0; i < old->n; i++) {
		struct listener *l = &old->v[i];

		if (l->fd != -1 && l->type == type && l->port == port && l->shard == shard &&
		    addr_same(l->address, address)) {
			int fd = l->fd;
			l->fd = -1;
			*reuse_port = l->reuse_port;
			return fd;
		}
	}
	return -1;
}

/* Put back sockets moved out of old when the new set fails. */
static void
listener_give_back(struct listener_set *out, struct listener_set *old)
{
	for (size_t i = 0; i < out->n; i++) {
		struct listener *l = &out->v[i];
		bool returned = false;

		for (size_t j = 0; old != NULL && j < old->n && !returned; j++) {
			struct listener *o = &old->v[j];

			if (o->fd == -1 && o->type == l->type && o->port == l->port &&
			    o->shard == l->shard && addr_same(o->address, l->address)) {
				o->fd = l->fd;
				l->fd = -1;
				returned = true;
			}
		}
	}
	listener_set_close(out);
}

/*
 * Send each source to one shard of a UDP listener (steer.h): the program
 * is the group's, attached through any of its sockets.  Not for a
 * listener shared with other processes (listen.reuse_port): the indices
 * would name their sockets too, and the kernel's hash is left to spread
 * among them all.
 */
static void
listener_steer(const struct listener *l, int nshards, const struct conf *c)
{
	struct sock_filter code[STEER_MAX_INSNS];
	struct sock_fprog prog = { .filter = code };

	prog.len = (unsigned short)steer_program(code, (unsigned int)nshards,
	    c->udp.ipv4_prefix, c->udp.ipv6_prefix);
	if (prog.len == 0 ||
	    setsockopt(l->fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &prog, sizeof(prog)) == -1)
		log_warn("%s: cannot steer sources to UDP workers (each worker's rate "
		    "limit then sees only the datagrams the kernel gives it)", l->name);
}

static int
listener_add(struct listener_set *out, const struct conf *c, const struct conf_listener *cl,
    int type, int shard, struct listener_set *old, char *err, size_t errlen)
{
	struct listener *l = &out->v[out->n];
	bool had_reuse_port = false;

	l->type = type;
	l->port = cl->port;
	l->shard = shard;
	l->reuse_port = cl->reuse_port || shard != -1;
	l->proxy = type == SOCK_STREAM && cl->proxy_protocol;
	l->address = strdup(cl->address);
	if (l->address == NULL)
		fatal("strdup");
	l->fd = listener_take(old, cl->address, cl->port, type, shard, &had_reuse_port);
	if (l->fd != -1 && had_reuse_port != l->reuse_port) {
		log_warnx("%s:%d: reuse_port of %s port %u (%s) changes at restart: the "
		    "listener stays open as it was", cl->file != NULL ? cl->file :
		    c->path != NULL ? c->path : "config", cl->line, cl->address, cl->port,
		    type == SOCK_STREAM ? "tcp" : "udp");
		l->reuse_port = had_reuse_port;
	}
	if (l->fd == -1)
		l->fd = listener_open_one(cl->address, cl->port, type, l->reuse_port, c);
	if (l->fd == -1) {
		int saved = errno;

		snprintf(err, errlen, "%s:%d: cannot listen on %s port %u (%s): %s%s",
		    cl->file != NULL ? cl->file : c->path != NULL ? c->path : "config",
		    cl->line, cl->address, cl->port,
		    type == SOCK_STREAM ? "tcp" : "udp", strerror(saved),
		    saved == EADDRINUSE && old != NULL ? " (replacing a listener by an "
		    "overlapping one on the same port, such as \"*\" and a specific "
		    "address, needs a restart)" : "");
		free(l->address);
		return -1;
	}
	listener_name(l);
	out->n++;
	return 0;
}

size_t
listener_udp_sockets(const struct conf *c, int udp_shards)
{
	size_t n = 0;

	for (size_t i = 0; i < c->nlisteners; i++)
		n += c->listeners[i].udp;
	return n * (size_t)(udp_shards > 1 ? udp_shards : 1);
}

int
listener_set_open(struct listener_set *out, const struct conf *c, int udp_shards,
    struct listener_set *old, char *err, size_t errlen)
{
	int nshards = udp_shards > 1 ? udp_shards : 1;

	memset(out, 0, sizeof(*out));
	if (listener_udp_sockets(c, udp_shards) > WORKER_MAX_LISTENERS) {
		snprintf(err, errlen, "%s: %zu UDP listeners with %d UDP threads would "
		    "need %zu sockets, more than the %d a worker can watch",
		    c->path != NULL ? c->path : "config", listener_udp_sockets(c, 1), nshards,
		    listener_udp_sockets(c, udp_shards), WORKER_MAX_LISTENERS);
		return -1;
	}
	out->v = calloc((1 + (size_t)nshards) * c->nlisteners + 1, sizeof(*out->v));
	if (out->v == NULL)
		fatal("calloc");
	for (size_t i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *cl = &c->listeners[i];

		if (cl->tcp && listener_add(out, c, cl, SOCK_STREAM, -1, old, err, errlen) == -1)
			goto fail;
		if (cl->udp && nshards == 1 &&
		    listener_add(out, c, cl, SOCK_DGRAM, -1, old, err, errlen) == -1)
			goto fail;
		for (int k = 0; cl->udp && nshards > 1 && k < nshards; k++)
			if (listener_add(out, c, cl, SOCK_DGRAM, k, old, err, errlen) == -1)
				goto fail;
		/* Once every shard is in the group (kept ones have it already). */
		if (cl->udp && nshards > 1 && !cl->reuse_port)
			listener_steer(&out->v[out->n - 1], nshards, c);
	}
	return 0;
fail:
	listener_give_back(out, old);
	return -1;
}

int
listener_set_add(struct listener_set *s, int fd, int type, int shard, uint16_t port,
    const char *address, bool proxy, bool reuse_port)
{
	struct listener *v = realloc(s->v, (s->n + 1) * sizeof(*v)), *l;

	if (v == NULL)
		return -1;
	s->v = v;
	l = &s->v[s->n];
	memset(l, 0, sizeof(*l));
	l->fd = fd;
	l->type = type;
	l->shard = shard;
	l->port = port;
	l->proxy = type == SOCK_STREAM && proxy;
	l->reuse_port = reuse_port;
	if (address != NULL && address[0] != '\0' && (l->address = strdup(address)) == NULL)
		return -1;
	s->n++;
	listener_name(l);
	return 0;
}

int
listener_set_activated(struct listener_set *out, struct listener_set *stored, char *err,
    size_t errlen)
{
	struct notify_fd v[2 * WORKER_MAX_LISTENERS];
	int n = notify_listen_fds(v, sizeof(v) / sizeof(v[0]), err, errlen);

	memset(out, 0, sizeof(*out));
	memset(stored, 0, sizeof(*stored));
	if (n <= 0)
		return n;
	/* Stream sockets first, as the workers' listener lists always had them. */
	for (int pass = 0; pass < 2; pass++)
		for (int i = 0; i < n; i++) {
			int want = pass == 0 ? SOCK_STREAM : SOCK_DGRAM, type, shard, one = 0;
			char address[256];
			uint16_t port;
			socklen_t len = sizeof(one);

			if (v[i].type != want)
				continue;
			if (handover_fdname_parse(v[i].name, &type, &shard, &port, address,
			    sizeof(address)) && type == v[i].type) {
				/* Ours, kept by systemd's fd store: to reuse as a reload would. */
				getsockopt(v[i].fd, SOL_SOCKET, SO_REUSEPORT, &one, &len);
				if (listener_set_add(stored, v[i].fd, type, shard, port, address,
				    false, one != 0) == -1)
					fatal("out of memory");
				continue;
			}
			if (listener_set_add(out, v[i].fd, v[i].type, -1, 0, NULL, false,
			    false) == -1)
				fatal("out of memory");
			if (v[i].type == SOCK_DGRAM)
				listener_set_pktinfo(v[i].fd);
		}
	if (stored->n > WORKER_MAX_LISTENERS || out->n > WORKER_MAX_LISTENERS) {
		snprintf(err, errlen, "more than %d sockets passed", WORKER_MAX_LISTENERS);
		return -1;
	}
	if (stored->n > 0)
		for (size_t i = 0; i < stored->n; i++)
			if (stored->v[i].type == SOCK_DGRAM)
				listener_set_pktinfo(stored->v[i].fd);
	out->activated = out->n > 0;
	return 1;
}

void
listener_set_fdstore(const struct listener_set *s, const struct listener_set *gone)
{
	char name[256];

	if (!notify_fdstore_enabled())
		return;
	for (size_t i = 0; gone != NULL && i < gone->n; i++) {
		const struct listener *l = &gone->v[i];

		/* fd -1: moved into s (kept), not gone. */
		if (l->fd != -1 && l->address != NULL && handover_fdname(name, sizeof(name),
		    l->type, l->shard, l->port, l->address) > 0)
			notify_fdstore_remove(name);
	}
	if (s->activated)
		return;		/* systemd holds those already */
	for (size_t i = 0; i < s->n; i++) {
		const struct listener *l = &s->v[i];

		if (l->fd != -1 && l->address != NULL &&
		    handover_fdname(name, sizeof(name), l->type, l->shard, l->port,
		    l->address) > 0)
			notify_fdstore_add(l->fd, name);
	}
}

/* Whether the socket bound at ss is where cl listens (port, and address or wildcard). */
static bool
listener_bound_at(const struct sockaddr_storage *ss, const struct conf_listener *cl)
{
	static const unsigned char zero[16];
	struct addr_listen a;
	const unsigned char *bytes;
	uint16_t port;
	size_t n;

	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s4 = (const struct sockaddr_in *)ss;

		bytes = (const unsigned char *)&s4->sin_addr;
		port = ntohs(s4->sin_port);
		n = 4;
	} else if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s6 = (const struct sockaddr_in6 *)ss;

		bytes = (const unsigned char *)&s6->sin6_addr;
		port = ntohs(s6->sin6_port);
		n = 16;
	} else
		return false;
	if (port != cl->port || addr_listen_parse(cl->address, &a) == -1)
		return false;
	if (a.family == AF_UNSPEC)	/* "*": :: or 0.0.0.0 */
		return memcmp(bytes, zero, n) == 0;
	return a.family == ss->ss_family && memcmp(bytes, a.bytes, n) == 0;
}

void
listener_set_match_proxy(struct listener_set *s, const struct conf *c)
{
	for (size_t j = 0; j < c->nlisteners; j++) {
		const struct conf_listener *cl = &c->listeners[j];
		bool found = false;

		if (!cl->tcp || !cl->proxy_protocol)
			continue;
		for (size_t i = 0; i < s->n; i++) {
			struct sockaddr_storage ss;
			socklen_t len = sizeof(ss);

			if (s->v[i].type != SOCK_STREAM || s->v[i].fd == -1 ||
			    getsockname(s->v[i].fd, (struct sockaddr *)&ss, &len) == -1 ||
			    !listener_bound_at(&ss, cl))
				continue;
			found = true;
		}
		if (!found)
			log_warnx("%s:%d: proxy_protocol of %s port %u: none of the sockets "
			    "from systemd is bound there, so it is used on none",
			    cl->file != NULL ? cl->file : c->path != NULL ? c->path : "config",
			    cl->line, cl->address, cl->port);
	}
	for (size_t i = 0; i < s->n; i++) {
		struct listener *l = &s->v[i];
		struct sockaddr_storage ss;
		socklen_t len = sizeof(ss);

		l->proxy = false;
		if (l->type != SOCK_STREAM || l->fd == -1 ||
		    getsockname(l->fd, (struct sockaddr *)&ss, &len) == -1)
			continue;
		for (size_t j = 0; j < c->nlisteners && !l->proxy; j++)
			l->proxy = c->listeners[j].tcp && c->listeners[j].proxy_protocol &&
			    listener_bound_at(&ss, &c->listeners[j]);
	}
}

void
listener_set_close(struct listener_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->v[i].fd != -1)
			close(s->v[i].fd);
		free(s->v[i].address);
	}
	free(s->v);
	memset(s, 0, sizeof(*s));
}

void
listener_set_fds(const struct listener_set *s, int type, struct worker_params *p)
{
	p->nlfds = 0;
	for (size_t i = 0; i < s->n && p->nlfds < WORKER_MAX_LISTENERS; i++)
		if (s->v[i].type == type && s->v[i].fd != -1) {
			p->lshard[p->nlfds] = (int16_t)s->v[i].shard;
			p->lproxy[p->nlfds] = s->v[i].proxy;
			p->lfds[p->nlfds++] = s->v[i].fd;
		}
}

void
listener_set_backlog(const struct listener_set *s, int backlog)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].type == SOCK_STREAM && !s->activated &&
		    listen(s->v[i].fd, backlog) == -1)
			log_warn("%s: listen", s->v[i].name);
}

void
listener_set_buffers(const struct listener_set *s, int sndbuf, int rcvbuf)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->v[i].type == SOCK_STREAM && s->v[i].fd != -1 &&
		    listener_buffers(s->v[i].fd, sndbuf, rcvbuf) == -1)
			log_warn("%s: socket buffers", s->v[i].name);
}

void
listener_set_describe(const struct listener_set *s, char *buf, size_t buflen)
{
	size_t len = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < s->n && len < buflen; i++) {
		int n;

		if (s->v[i].shard > 0)
			continue;       /* the other workers' sockets of the same listener */
		n = snprintf(buf + len, buflen - len, "%s%s", len ? ", " : "", s->v[i].name);
		if (n < 0)
			break;
		len += (size_t)n;
	}
}
