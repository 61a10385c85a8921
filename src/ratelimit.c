/* SPDX-License-Identifier: ISC */
/*
 * ratelimit.c: a token bucket over a caller-supplied clock (pure).
 */
#include "config.h"

#include "ratelimit.h"

void
ratelimit_init(struct ratelimit *rl, uint32_t burst, uint32_t interval_ms, uint64_t now_ms)
{
	rl->burst = burst ? burst : 1;
	rl->interval_ms = interval_ms ? interval_ms : 1;
	rl->tokens = rl->burst;
	rl->last_ms = now_ms;
	rl->suppressed = 0;
}

static void
ratelimit_refill(struct ratelimit *rl, uint64_t now_ms)
{
	uint64_t add;

	if (now_ms < rl->last_ms) {	/* clock went back: restart from here */
		rl->last_ms = now_ms;
		return;
	}
	add = (now_ms - rl->last_ms) / rl->interval_ms;
	if (add == 0)
		return;
	if (add >= rl->burst - rl->tokens)
		rl->tokens = rl->burst;
	else
		rl->tokens += (uint32_t)add;
	rl->last_ms += add * rl->interval_ms;
}

bool
ratelimit_allow(struct ratelimit *rl, uint64_t now_ms)
{
	ratelimit_refill(rl, now_ms);
	if (rl->tokens == 0) {
		rl->suppressed++;
		return false;
	}
	rl->tokens--;
	return true;
}

uint64_t
ratelimit_take_suppressed(struct ratelimit *rl)
{
	uint64_t n = rl->suppressed;

	rl->suppressed = 0;
	return n;
}
