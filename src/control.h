/* SPDX-License-Identifier: ISC */
/*
 * control.h: the UNIX control socket.  A client (upcase --stats,
 * --connections, --sources) connects, sends a one-line request ("stats",
 * "connections", "sources N"; anything else, or nothing, is "stats": the
 * counters in the Prometheus text format, stats_expose) and reads the
 * answer until we close (upcased(8) describes them).
 *
 * Served by the main thread, which must never be held up by a client: it
 * handles signals between two turns of its loop.  So every client socket
 * is non-blocking and waits in a small table, polled with the signalfd;
 * a turn does at most a few accepts and, per client that is ready, one
 * read of at most CONTROL_REQUEST_MAX bytes or one write of what the
 * socket takes.  A client's answer is made once its request is in (a
 * newline, or CONTROL_REQUEST_MAX bytes: a writer that never stops is cut
 * off there), at its end of file, or CONTROL_WAIT_MS after it was
 * accepted.  An answer the workers make (a snapshot of their
 * connections) comes later: the client waits, without costing a turn
 * anything, for at most CONTROL_LATER_MS.  An answer is held in a buffer
 * of the client's own and sent as its socket takes it (POLLOUT); a client
 * that has not taken all of it CONTROL_SEND_MS later is dropped, and its
 * buffer freed.  All the buffers together hold at most CONTROL_OUT_TOTAL
 * bytes: an answer that would not fit is an error line.  With the table
 * full, the client waiting longest for its request is answered to make
 * room, or else the one accepted first is dropped.
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

#define CONTROL_MAX_CLIENTS 16     /* served at once */
#define CONTROL_ACCEPT_MAX  4      /* accepts per turn of the loop */
#define CONTROL_WAIT_MS     200    /* for a client's request */
#define CONTROL_LATER_MS    2000   /* for an answer the workers make (a snapshot) */
#define CONTROL_SEND_MS     10000  /* for a client to take its whole answer */
#define CONTROL_REQUEST_MAX 256    /* bytes read from a client, at most */
#define CONTROL_ANSWER_MAX  131072 /* bytes of the counters (the exposition), at most */
#define CONTROL_OUT_TOTAL   ((size_t)64 << 20)  /* answers held for all clients at once */
/* What control_pollfds() may fill: the listener and every client. */
#define CONTROL_POLL_MAX    (1 + CONTROL_MAX_CLIENTS)

/* An answer being made: grows up to max bytes; failed once it would not fit. */
struct control_out {
	char    *p;
	size_t   len, cap, max;
	bool     failed;
};

void  control_out_append(struct control_out *o, const void *p, size_t len);
void  control_out_printf(struct control_out *o, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Room for n more bytes at o->p + o->len (add what was written to o->len), or NULL. */
char *control_out_reserve(struct control_out *o, size_t n);

enum control_phase {
	CONTROL_READING,             /* the request */
	CONTROL_LATER,               /* the answer is being made (answer() said so) */
	CONTROL_SENDING,             /* out, as the socket takes it */
};

struct control_client {
	int fd;
	enum control_phase phase;
	uint64_t accepted;
	uint64_t deadline;           /* of the phase (CONTROL_*_MS) */
	size_t got;                  /* bytes of the request read */
	char req[CONTROL_REQUEST_MAX + 1];  /* the request so far */
	struct control_out out;
	size_t off;                  /* of out, sent */
};

struct control {
	int fd;                      /* the listener; -1: none */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)];  /* a copy: reloads free the config */
	dev_t dev;                   /* the socket we bound at path */
	ino_t ino;
	bool made_dir;               /* we created its directory */
	int nclients;
	size_t buffered;             /* bytes of every client's out */
	struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* What an answer function returns. */
#define CONTROL_ANSWER_READY 0     /* out holds the answer */
#define CONTROL_ANSWER_LATER 1     /* not yet: ask again at a later control_serve */

/*
 * The answer to req (the request's first line, without its newline: ""
 * for a client that sent nothing in time), appended to out.  LATER: the
 * caller polls something that wakes the loop when it can answer, and is
 * asked again at each control_serve until CONTROL_LATER_MS have passed
 * (then the client gets an error line).
 */
typedef int control_answer_fn(const char *req, struct control_out *out, void *arg);

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
 * the clients whose time is up; answer() makes each client's answer (see
 * control_answer_fn).  Returns -1 when accept ran out of descriptors or
 * memory: the caller should stop polling the listener for a while.
 */
int  control_serve(struct control *c, const struct pollfd *p, int n, uint64_t now,
    control_answer_fn *answer, void *arg);
/*
 * Before dropping privileges: give the socket (and its directory, if we
 * created it) to the daemon's user, so it can remove them at stop.
 */
int  control_chown(const struct control *c, uid_t uid, gid_t gid);
/*
 * Live upgrade: take over fd, the listening control socket at path that
 * the old process handed over (it removes nothing when it exits); from
 * then on as if control_open had made it.  0, or CONTROL_FAILED with
 * why in err (nothing is there, or not a socket).
 */
int  control_adopt(struct control *c, int fd, const char *path, char *err, size_t errlen);

/* Close the clients and the listener; remove the socket if it is still ours. */
void control_close(struct control *c);

#endif
