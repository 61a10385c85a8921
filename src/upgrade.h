/* SPDX-License-Identifier: ISC */
/*
 * upgrade.h: live upgrade on SIGUSR2, the I/O half (the format is
 * handover.h, pure).
 *
 * THE EXCHANGE.  The running upcased (old) makes a SOCK_SEQPACKET
 * socketpair, forks, and execs the binary at the path it was started
 * from with its own arguments and UPCASED_UPGRADE_FD=N in the
 * environment (N: the new process's end).  Messages are one packet each:
 * a type byte, three zero bytes, a u32 (host order: same host), then
 * the payload; descriptors ride along as SCM_RIGHTS.
 *
 *   new -> old  HELLO    u32: the handover version it reads.  Sent once
 *                        its configuration has loaded: a file it
 *                        rejects makes it exit 78 without a word.
 *   old -> new  DATA...  payload: the next piece of the handover (at
 *                        most UPGRADE_CHUNK bytes), with up to
 *                        UPGRADE_FDS_PER_MSG descriptors, in order.
 *   old -> new  DONE     u32: the number of descriptors sent in all.
 *   new -> old  READY    it holds everything, has opened whatever the
 *                        file adds, and serves nothing yet; or
 *               FAIL     payload: why (it exits).
 *   old -> new  GO       the new process serves from now on; the old
 *                        one exits without touching a socket.
 *
 * The old process freezes its workers (worker_pool_freeze) at HELLO
 * and thaws them if anything fails before it sends GO: until then the
 * new one reads no socket, so nothing a client sent can be lost either
 * way.  The new process is started through a fork in between, which
 * sends PID (u32: the new process's pid) first; the exec itself failing
 * is reported as EXEC (u32 errno).  A new process that exits before GO
 * says why first (FAIL: "exits with status N", or the configuration
 * error) when it can; one that crashes is known by the end of file.
 */
#ifndef UPCASE_UPGRADE_H
#define UPCASE_UPGRADE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define UPGRADE_ENV          "UPCASED_UPGRADE_FD"
#define UPGRADE_CHUNK        65536
#define UPGRADE_FDS_PER_MSG  250          /* below the kernel's SCM_MAX_FD (253) */

enum upgrade_msg {
	UPGRADE_HELLO = 'H',
	UPGRADE_DATA  = 'D',
	UPGRADE_DONE  = 'E',
	UPGRADE_READY = 'R',
	UPGRADE_FAIL  = 'F',
	UPGRADE_GO    = 'G',
	UPGRADE_EXEC  = 'X',
	UPGRADE_PID   = 'P',
};

/* Descriptors to hand over, in order: a record names one by its index. */
struct fdvec {
	int     *v;
	size_t   n, cap;
	bool     failed;                  /* out of memory */
};
/* Append fd; its index, or UINT32_MAX if out of memory. */
uint32_t fdvec_push(struct fdvec *f, int fd);
void     fdvec_free(struct fdvec *f);

/*
 * Old process: start path with argv, UPCASED_UPGRADE_FD set and, when
 * WATCHDOG_PID names us, WATCHDOG_PID naming the new process (so its
 * sd_watchdog_enabled() holds).  Through a fork in between that exits at
 * once, so the new process is not our child but the orphan reaper's
 * (systemd's, for a service: see upgrade.c).  Returns its pid, with *chan
 * the old end (non-blocking, close-on-exec) and *pidfd a pidfd for it or
 * -1; or -1 with why in err.
 */
pid_t upgrade_spawn(const char *path, char *const argv[], int *chan, int *pidfd, char *err,
    size_t errlen);

/*
 * Send one message; wait for room until deadline_ms (CLOCK_MONOTONIC).
 * 0, or -1 with errno (ETIMEDOUT, EPIPE when the peer is gone).
 */
int upgrade_send(int chan, enum upgrade_msg type, uint32_t value, const void *p,
    size_t len, const int *fds, size_t nfds, uint64_t deadline_ms);
/*
 * Receive one message into buf (cap bytes); descriptors (close-on-exec)
 * are appended to fds if given, else closed.  Waits until deadline_ms.
 * Returns the payload length, 0 with *type 0 at end of file, or -1 with
 * errno (ETIMEDOUT; EMSGSIZE for a truncated message or descriptors).
 */
ssize_t upgrade_recv(int chan, uint8_t *type, uint32_t *value, void *buf, size_t cap,
    struct fdvec *fds, uint64_t deadline_ms);

/*
 * Old process: send the handover (len bytes of buf, and fds) as DATA
 * messages and DONE.  0, or -1 with errno.
 */
int upgrade_send_state(int chan, const uint8_t *buf, size_t len, const struct fdvec *fds,
    uint64_t deadline_ms);
/*
 * New process: receive DATA messages up to DONE into *buf (malloc'd,
 * *len bytes) and fds.  0, or -1 with why in err.
 */
int upgrade_recv_state(int chan, uint8_t **buf, size_t *len, struct fdvec *fds,
    uint64_t deadline_ms, char *err, size_t errlen);


#endif
