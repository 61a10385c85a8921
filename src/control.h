/* SPDX-License-Identifier: ISC */
/*
 * control.h: the UNIX control socket.  A client (upcase --stats) connects,
 * may send "stats\n", and reads the counters in the Prometheus text format
 * (stats_expose) until we close.
 *
 * Served by the main thread, which must never be held up by a client: it
 * handles signals between two turns of its loop.  So every client socket
 * is non-blocking and waits in a small table, polled with the signalfd;
 * a turn does at most a few accepts and, per client that is ready, one
 * read of at most CONTROL_REQUEST_MAX bytes.  A client is answered, and
 * closed, once its request is in (a newline, or CONTROL_REQUEST_MAX bytes:
 * a writer that never stops is cut off there), at its end of file, or
 * CONTROL_WAIT_MS after it was accepted; the answer is small enough for
 * one non-blocking write, so a client that never reads costs nothing.
 * With the table full, the client waiting longest is answered to make
 * room.
 *
 * The path: control_open() replaces only a stale socket (one that nobody
 * answers on), and control_close() removes only the socket it made.
 */
#ifndef UPCASE_CONTROL_H
#define UPCASE_CONTROL_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/un.h>

#define CONTROL_MAX_CLIENTS 16     /* waiting for their request at once */
#define CONTROL_ACCEPT_MAX  4      /* accepts per turn of the loop */
#define CONTROL_WAIT_MS     200    /* for a client's request */
#define CONTROL_REQUEST_MAX 256    /* bytes read from a client, at most */
#define CONTROL_ANSWER_MAX  131072 /* bytes of an answer (the exposition), at most */
/* What control_pollfds() may fill: the listener and every client. */
#define CONTROL_POLL_MAX    (1 + CONTROL_MAX_CLIENTS)

struct control_client {
	int fd;
	uint64_t deadline;           /* answered then, request or not */
	size_t got;                  /* bytes of the request read */
};

struct control {
	int fd;                      /* the listener; -1: none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];  /* a copy: reloads free the config */
	dev_t dev;                   /* the socket we bound at path */
	ino_t ino;
	bool made_dir;               /* we created its directory */
	int nclients;
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* What control_open() found at the path, when it opened nothing. */
#define CONTROL_FAILED    (-1)   /* errno: it could not be made */
#define CONTROL_IN_USE    (-2)   /* a socket that answers: another daemon's */
#define CONTROL_NOT_SOCKET (-3)  /* something else is there: never replaced */

/*
 * Create, bind and listen at path with mode, replacing a stale socket.
 * 0, or one of the above with a reason in err; c->fd is -1 then.
 */
int  control_open(struct control *c, const char *path, mode_t mode,
    char *err, size_t errlen);
/*
 * For -t, and before anything is made at start-up: -1 with a reason in
 * err if path is there and is not a socket.  A socket is fine, whether a
 * running daemon answers on it or not: that is for start-up to tell.
 */
int  control_check_path(const char *path, char *err, size_t errlen);

/*
 * The descriptors to poll: the listener (if listen, and the caller has
 * not paused it), then every client, at most CONTROL_POLL_MAX.  Lowers
 * *timeout_ms to the nearest client's deadline.  Returns how many.
 */
int  control_pollfds(const struct control *c, struct pollfd *p, bool listen,
    uint64_t now, int *timeout_ms);
/*
 * Serve what poll() reported in p[0 .. n-1] (from control_pollfds), and
 * the clients whose time is up.  answer() formats the answer into buf (at
 * most len bytes) and returns its length; it is called at most once.
 * Returns -1 when accept ran out of descriptors or memory: the caller
 * should stop polling the listener for a while.
 */
int  control_serve(struct control *c, const struct pollfd *p, int n, uint64_t now,
    size_t (*answer)(char *buf, size_t len, void *arg), void *arg);
/*
 * Before dropping privileges: give the socket (and its directory, if we
 * created it) to the daemon's user, so it can remove them at stop.
 */
int  control_chown(const struct control *c, uid_t uid, gid_t gid);
/* Close the clients and the listener; remove the socket if it is still ours. */
void control_close(struct control *c);

#endif
