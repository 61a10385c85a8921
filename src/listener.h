/* SPDX-License-Identifier: ISC */
/*
 * listener.h: the set of listening sockets, owned by the main thread.
 * Opened from the config, or taken from systemd (socket activation).  On
 * reload a new set is built, reusing the sockets of listeners that stay.
 */
#ifndef UPCASE_LISTENER_H
#define UPCASE_LISTENER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"
#include "worker.h"

struct listener {
	int      fd;
	int      type;          /* SOCK_STREAM or SOCK_DGRAM */
	char    *address;       /* as in the config ("*", "::1"); NULL if activated */
	uint16_t port;
	int      shard;         /* UDP: the one worker it is for (udp.threads); -1: every worker */
	bool     reuse_port;    /* bound with SO_REUSEPORT (listen.reuse_port, or as a shard) */
	bool     proxy;         /* TCP: listen.proxy_protocol */
	char     name[104];     /* "tcp [::1]:12000", for logs */
};

struct listener_set {
	struct listener *v;
	size_t   n;
	bool     activated;     /* from LISTEN_FDS: never re-opened on reload */
};

/*
 * Open every listener of c.  A UDP listener gets udp_shards sockets when
 * that is more than 1, one per UDP worker, bound with SO_REUSEPORT and
 * steered by source address (steer.h); else one.  Sockets of old (may be
 * NULL) that match (address, port, type, shard) are moved into out, not
 * re-opened.  Returns 0, or -1 with "address: reason" in err (nothing of
 * old is touched then).
 */
int  listener_set_open(struct listener_set *out, const struct conf *c, int udp_shards,
    struct listener_set *old, char *err, size_t errlen);
/* The UDP sockets c would open with udp_shards shards, to check against WORKER_MAX_LISTENERS. */
size_t listener_udp_sockets(const struct conf *c, int udp_shards);
/*
 * Take sockets from systemd: socket activation's into out (activated
 * then), and ours that its file descriptor store kept (named by
 * handover_fdname) into stored, a set for listener_set_open to reuse as
 * a reload would.  Returns 1 if any were passed, 0 if none, -1 on error.
 */
int  listener_set_activated(struct listener_set *out, struct listener_set *stored,
    char *err, size_t errlen);
/* Append a socket taken over (live upgrade, the fd store).  -1: out of memory. */
int  listener_set_add(struct listener_set *s, int fd, int type, int shard, uint16_t port,
    const char *address, bool proxy, bool reuse_port);
/*
 * systemd's fd store (when notify_fdstore_enabled): keep every socket of
 * s (none if activated: systemd holds those), and let go of the names of
 * gone's listeners (sockets closed since; may be NULL).  systemd keeps one
 * copy of a socket however often it is given.
 */
void listener_set_fdstore(const struct listener_set *s, const struct listener_set *gone);
/*
 * Socket activation: each TCP socket from systemd bound where a listen
 * entry of c with proxy_protocol is (its address, "*" for a wildcard, and
 * port) takes that entry's PROXY protocol; every other one is plain.
 * Warns about such entries that match no socket.  Start-up and reload.
 */
void listener_set_match_proxy(struct listener_set *s, const struct conf *c);
/* Close every socket still in the set and free it. */
void listener_set_close(struct listener_set *s);
/* The fds of one type, into p->lfds, and their shards into p->lshard. */
void listener_set_fds(const struct listener_set *s, int type, struct worker_params *p);
/* listen(2) again with a new backlog (Linux applies it to a listening socket). */
void listener_set_backlog(const struct listener_set *s, int backlog);
/*
 * SO_SNDBUF, SO_RCVBUF of every TCP listener, systemd's too, for the
 * connections accepted from then on (0: leave it as it is).  Those of the
 * config's listeners are set before listen() already.
 */
void listener_set_buffers(const struct listener_set *s, int sndbuf, int rcvbuf);
/* "tcp 127.0.0.1:12000, udp 127.0.0.1:12000" */
void listener_set_describe(const struct listener_set *s, char *buf, size_t buflen);

#endif
