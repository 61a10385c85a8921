/* SPDX-License-Identifier: ISC */
/* uring.c: see uring.h. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "uring.h"

/* kernel.io_uring_disabled (Linux 6.6 and later), or -1 */
static int
uring_disabled_sysctl(void)
{
	FILE *f = fopen("/proc/sys/kernel/io_uring_disabled", "re");
	int v = -1;

	if (f != NULL) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

bool
uring_transient(int r)
{
	return r == -ETIME || r == -EINTR || r == -EAGAIN || r == -EBUSY || r == -ENOMEM;
}

#ifdef HAVE_LIBURING

#include <liburing.h>
#include <poll.h>
#include <sys/socket.h>

#define URING_BGID 0	/* the one buffer group */

struct uring {
	struct io_uring ring;
	struct io_uring_buf_ring *br;
	uint8_t *chunk[URING_MAX_CHUNKS];   /* the buffers, nbufs a chunk */
	unsigned nchunks;
	unsigned nbufs;                     /* a chunk's; the ring has room for all */
	unsigned mask;                      /* of the ring: nbufs * URING_MAX_CHUNKS - 1 */
	size_t   bufsize;
	bool     br_registered;
};

struct uring *
uring_open(unsigned entries, unsigned nbufs, size_t bufsize, int *err, const char **step)
{
	struct io_uring_params p;
	struct io_uring_buf_reg reg;
	struct uring *u = calloc(1, sizeof(*u));
	int r;

	if (u == NULL) {
		*err = ENOMEM;
		*step = "calloc";
		return NULL;
	}
	/*
	 * One thread submits (the worker that makes the ring), and the
	 * kernel's completion work runs when it waits, not by interrupting
	 * it (Linux 6.1; without them where older).  Completions beyond the
	 * queue wait in the kernel (NODROP), never lost.
	 */
	memset(&p, 0, sizeof(p));
	p.flags = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL | IORING_SETUP_COOP_TASKRUN |
	    IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN;
	p.cq_entries = entries * 4;
	if ((r = io_uring_queue_init_params(entries, &u->ring, &p)) == -EINVAL) {
		memset(&p, 0, sizeof(p));
		p.flags = IORING_SETUP_CQSIZE;
		p.cq_entries = entries * 4;
		r = io_uring_queue_init_params(entries, &u->ring, &p);
	}
	if (r < 0) {
		*err = -r;
		*step = "io_uring_setup";
		free(u);
		return NULL;
	}
	/* uring_wait's timeout in one system call, and overflow kept. */
	if (!(p.features & IORING_FEAT_EXT_ARG) || !(p.features & IORING_FEAT_NODROP) ||
	    !(p.features & IORING_FEAT_FAST_POLL)) {
		*err = EOPNOTSUPP;
		*step = "io_uring features EXT_ARG, NODROP, FAST_POLL";
		goto fail;
	}
	u->nbufs = nbufs;
	u->mask = (unsigned)io_uring_buf_ring_mask(nbufs * URING_MAX_CHUNKS);
	u->bufsize = bufsize;
	if (posix_memalign((void **)&u->br, 4096,
	    nbufs * URING_MAX_CHUNKS * sizeof(struct io_uring_buf)) != 0) {
		*err = ENOMEM;
		*step = "the receive buffer ring";
		goto fail;
	}
	io_uring_buf_ring_init(u->br);
	memset(&reg, 0, sizeof(reg));
	reg.ring_addr = (uint64_t)(uintptr_t)u->br;
	reg.ring_entries = nbufs * URING_MAX_CHUNKS;
	reg.bgid = URING_BGID;
	if ((r = io_uring_register_buf_ring(&u->ring, &reg, 0)) < 0) {
		*err = -r;
		*step = "IORING_REGISTER_PBUF_RING";
		goto fail;
	}
	u->br_registered = true;
	if (!uring_buf_grow(u)) {
		*err = ENOMEM;
		*step = "the receive buffers";
		goto fail;
	}
	return u;
fail:
	uring_close(u);
	return NULL;
}

void
uring_close(struct uring *u)
{
	if (u == NULL)
		return;
	if (u->br_registered)
		io_uring_unregister_buf_ring(&u->ring, URING_BGID);
	io_uring_queue_exit(&u->ring);
	free(u->br);
	for (unsigned i = 0; i < u->nchunks; i++)
		free(u->chunk[i]);
	free(u);
}

void
uring_probe(struct iomode_probe *p)
{
	static const int ops[] = { IORING_OP_RECV, IORING_OP_SEND, IORING_OP_POLL_ADD,
	    IORING_OP_ASYNC_CANCEL };
	struct io_uring_probe *pr;
	struct uring *u;

	memset(p, 0, sizeof(*p));
	p->built = true;
	p->disabled = uring_disabled_sysctl();
	if ((u = uring_open(8, 1, 64, &p->err, &p->step)) == NULL)
		return;
	if ((pr = io_uring_get_probe_ring(&u->ring)) == NULL) {
		p->err = EOPNOTSUPP;
		p->step = "IORING_REGISTER_PROBE";
	} else {
		for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
			if (!io_uring_opcode_supported(pr, ops[i])) {
				p->err = EOPNOTSUPP;
				p->step = "io_uring opcodes RECV, SEND, POLL_ADD, ASYNC_CANCEL";
			}
		io_uring_free_probe(pr);
	}
	uring_close(u);
}

/* A free submission slot: when the queue is full, submit it first. */
static struct io_uring_sqe *
uring_sqe(struct uring *u)
{
	struct io_uring_sqe *sqe;

	for (int tries = 0; (sqe = io_uring_get_sqe(&u->ring)) == NULL; tries++) {
		int r = io_uring_submit(&u->ring);

		/* Short of memory, or busy: a moment, then again (for a second at most). */
		if (r < 0 && (!uring_transient(r) || tries >= 1000))
			fatal("io_uring_submit: %s", strerror(-r));
		if (r < 0)
			usleep(1000);
	}
	return sqe;
}

void
uring_recv(struct uring *u, int fd, uint64_t tag, bool waiting)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	io_uring_prep_recv(sqe, fd, NULL, (unsigned)u->bufsize, 0);
	if (waiting)
		sqe->ioprio |= IORING_RECVSEND_POLL_FIRST;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_BGID;
	io_uring_sqe_set_data64(sqe, tag);
}

void
uring_send(struct uring *u, int fd, const void *buf, size_t len, uint64_t tag)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	io_uring_prep_send(sqe, fd, buf, len, MSG_NOSIGNAL);
	io_uring_sqe_set_data64(sqe, tag);
}

void
uring_poll(struct uring *u, int fd, uint64_t tag)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	io_uring_prep_poll_add(sqe, fd, POLLIN);
	io_uring_sqe_set_data64(sqe, tag);
}

void
uring_cancel(struct uring *u, uint64_t tag)
{
	struct io_uring_sqe *sqe = uring_sqe(u);

	io_uring_prep_cancel64(sqe, tag, IORING_ASYNC_CANCEL_ALL);
	/* Its own completion is tagged 0, which names no request. */
	io_uring_sqe_set_data64(sqe, 0);
}

int
uring_wait(struct uring *u, int timeout_ms)
{
	struct __kernel_timespec ts = {
		.tv_sec = timeout_ms / 1000,
		.tv_nsec = (long long)(timeout_ms % 1000) * 1000000,
	};
	struct io_uring_cqe *cqe;
	int r;

	if (io_uring_cq_ready(&u->ring) > 0) {	/* ready already: only submit */
		r = io_uring_submit(&u->ring);	/* -errno itself (errno is not set) */
		return r < 0 ? r : 0;
	}
	r = io_uring_submit_and_wait_timeout(&u->ring, &cqe, 1, timeout_ms < 0 ? NULL : &ts,
	    NULL);
	return r < 0 ? r : 0;
}

unsigned
uring_reap(struct uring *u, struct uring_done *d, unsigned max)
{
	struct io_uring_cqe *cqe;
	unsigned head, n = 0;

	io_uring_for_each_cqe(&u->ring, head, cqe) {
		if (n == max)
			break;
		d[n].tag = cqe->user_data;
		d[n].res = cqe->res;
		d[n].buf = (cqe->flags & IORING_CQE_F_BUFFER) ?
		    (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT) : -1;
		d[n].more = (cqe->flags & IORING_CQE_F_SOCK_NONEMPTY) != 0;
		n++;
	}
	io_uring_cq_advance(&u->ring, n);
	return n;
}

const uint8_t *
uring_buf(struct uring *u, int i)
{
	return u->chunk[(unsigned)i / u->nbufs] + (size_t)((unsigned)i % u->nbufs) * u->bufsize;
}

void
uring_buf_put(struct uring *u, int i)
{
	io_uring_buf_ring_add(u->br, (void *)(uintptr_t)uring_buf(u, i), (unsigned)u->bufsize,
	    (unsigned short)i, (int)u->mask, 0);
	io_uring_buf_ring_advance(u->br, 1);
}

bool
uring_buf_grow(struct uring *u)
{
	unsigned first = u->nchunks * u->nbufs;
	uint8_t *c;

	if (u->nchunks == URING_MAX_CHUNKS || (c = malloc(u->nbufs * u->bufsize)) == NULL)
		return false;
	u->chunk[u->nchunks++] = c;
	for (unsigned i = 0; i < u->nbufs; i++)
		io_uring_buf_ring_add(u->br, c + (size_t)i * u->bufsize, (unsigned)u->bufsize,
		    (unsigned short)(first + i), (int)u->mask, (int)i);
	io_uring_buf_ring_advance(u->br, (int)u->nbufs);
	return true;
}

unsigned
uring_buf_count(const struct uring *u)
{
	return u->nchunks * u->nbufs;
}

#else /* !HAVE_LIBURING */

void
uring_probe(struct iomode_probe *p)
{
	memset(p, 0, sizeof(*p));
	p->built = false;
	p->err = ENOSYS;
	p->step = "liburing";
	p->disabled = uring_disabled_sysctl();
}

struct uring *
uring_open(unsigned entries, unsigned nbufs, size_t bufsize, int *err, const char **step)
{
	(void)entries;
	(void)nbufs;
	(void)bufsize;
	*err = ENOSYS;
	*step = "built without liburing";
	return NULL;
}

void uring_close(struct uring *u) { (void)u; }
void uring_recv(struct uring *u, int fd, uint64_t tag, bool waiting)
{ (void)u; (void)fd; (void)tag; (void)waiting; }
void uring_send(struct uring *u, int fd, const void *buf, size_t len, uint64_t tag)
{ (void)u; (void)fd; (void)buf; (void)len; (void)tag; }
void uring_poll(struct uring *u, int fd, uint64_t tag) { (void)u; (void)fd; (void)tag; }
void uring_cancel(struct uring *u, uint64_t tag) { (void)u; (void)tag; }
int uring_wait(struct uring *u, int timeout_ms) { (void)u; (void)timeout_ms; return -ENOSYS; }
unsigned uring_reap(struct uring *u, struct uring_done *d, unsigned max)
{ (void)u; (void)d; (void)max; return 0; }
const uint8_t *uring_buf(struct uring *u, int i) { (void)u; (void)i; return NULL; }
bool uring_buf_grow(struct uring *u) { (void)u; return false; }
unsigned uring_buf_count(const struct uring *u) { (void)u; return 0; }
void uring_buf_put(struct uring *u, int i) { (void)u; (void)i; }

#endif
