/* SPDX-License-Identifier: ISC */
/*
 * ratelimit.h: a token bucket, pure (the caller passes the time).
 * Used to keep repeated log lines (refused connections, EMFILE) from
 * flooding the log.  Not thread-safe: one bucket per owner.
 */
#ifndef UPCASE_RATELIMIT_H
#define UPCASE_RATELIMIT_H

#include <stdbool.h>
#include <stdint.h>

struct ratelimit {
	uint32_t burst;        /* bucket size */
	uint32_t interval_ms;  /* one token every interval_ms */
	uint32_t tokens;
	uint64_t last_ms;      /* time of the last refill */
	uint64_t suppressed;   /* events refused since the last allowed one */
};

void ratelimit_init(struct ratelimit *rl, uint32_t burst, uint32_t interval_ms, uint64_t now_ms);
/* True if the event may go ahead; false counts it as suppressed. */
bool ratelimit_allow(struct ratelimit *rl, uint64_t now_ms);
/* Suppressed count since the last allowed event, and reset it. */
uint64_t ratelimit_take_suppressed(struct ratelimit *rl);

#endif
