/* SPDX-License-Identifier: ISC */
/*
 * uring.h: a TCP worker's io_uring (liburing), or none: the probe that
 * says whether io_uring can be had here, and a ring with a pool of
 * provided receive buffers.  Built without liburing (--without-liburing),
 * the probe says so and uring_open fails; nothing else changes.
 *
 * Every request carries a tag (its user_data); completions are copied
 * out of the completion queue by uring_reap, so the queue is free again
 * at once.  A receive takes one of the ring's buffers only when data
 * arrives (IOSQE_BUFFER_SELECT), so an idle connection holds none, and
 * the caller gives a buffer back (uring_buf_put) as soon as it has used
 * what came: no client can hold buffers, whether it reads or not.  With
 * every buffer taken at once a receive completes with -ENOBUFS and the
 * caller reads the socket itself.
 */
#ifndef UPCASE_URING_H
#define UPCASE_URING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "iomode.h"

struct uring;

/* One completion: the request's tag, its result, and the buffer a receive took. */
struct uring_done {
	uint64_t tag;
	int      res;            /* as the system call's result, or -errno */
	int      buf;            /* the buffer a receive filled (uring_buf), or -1 */
	bool     more;           /* a receive left data in the socket */
};

/* Whether io_uring, with all this needs, can be had by this process: into p. */
void uring_probe(struct iomode_probe *p);

/*
 * A ring of entries submission slots, with nbufs receive buffers of
 * bufsize bytes each (nbufs a power of two), and room for up to
 * URING_MAX_CHUNKS times as many (uring_buf_grow).  NULL on failure, *err
 * the errno and *step what failed.
 */
#define URING_MAX_CHUNKS 4
struct uring *uring_open(unsigned entries, unsigned nbufs, size_t bufsize, int *err,
    const char **step);
void uring_close(struct uring *u);

/* Queue requests (submitted by the next uring_wait, or when the queue is full). */
/* waiting: wait for data before the first try (nothing is expected there yet). */
void uring_recv(struct uring *u, int fd, uint64_t tag, bool waiting);
void uring_send(struct uring *u, int fd, const void *buf, size_t len, uint64_t tag);
void uring_poll(struct uring *u, int fd, uint64_t tag);     /* one POLLIN */
void uring_cancel(struct uring *u, uint64_t tag);           /* every request with tag */

/*
 * Submit what is queued and wait up to timeout_ms (-1: no limit) for a
 * completion; 0, or -errno (a signal, the time passing: -ETIME, -EINTR).
 */
int  uring_wait(struct uring *u, int timeout_ms);
/* An error of uring_wait that a later wait may not have (the time, a signal, memory). */
bool uring_transient(int r);
/* Copy up to max completions into d, leaving the queue; how many. */
unsigned uring_reap(struct uring *u, struct uring_done *d, unsigned max);
/* The data of buffer i, and giving it back to the ring. */
const uint8_t *uring_buf(struct uring *u, int i);
void uring_buf_put(struct uring *u, int i);
/*
 * nbufs more buffers, when receives found every one taken (more clients
 * send at the same moment than there are buffers): false at the most, or
 * out of memory.  A buffer is resident once the kernel has written to it.
 */
bool uring_buf_grow(struct uring *u);
unsigned uring_buf_count(const struct uring *u);

#endif
