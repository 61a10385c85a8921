/* SPDX-License-Identifier: ISC */
/*
 * balance.h: the rule that spreads TCP connections over the workers
 * (pure, unit-tested).  The kernel's EPOLLEXCLUSIVE wakes the first idle
 * worker in line, so one worker would win almost every accept; a worker
 * that holds clearly more than its share steps back from accepting until
 * it is near its share again.
 */
#ifndef UPCASE_BALANCE_H
#define UPCASE_BALANCE_H

#include <stdbool.h>
#include <stddef.h>

/* Connections a worker may hold beyond its share before it steps back. */
#define BALANCE_SLACK 16

/*
 * Whether a worker holding mine of the pool's total open connections,
 * spread over nworkers, is over its share.  was_over is the previous
 * answer: a worker that stepped back comes back only below a lower mark
 * (hysteresis), so it does not flap on every accept.  The least loaded
 * worker is never over its share, so someone always accepts.
 */
bool balance_over_share(size_t mine, size_t total, int nworkers, bool was_over);

#endif
