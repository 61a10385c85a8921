/* SPDX-License-Identifier: ISC */
/*
 * tbucket.c: the per-source token bucket with leak (see tbucket.h).
 *
 * The bucket counts what was spent rather than what is left, so that a
 * zeroed bucket is full, and a burst lowered by a reload clamps it
 * instead of leaving more than the new burst in it.  Refill is rate
 * milli-tokens per millisecond: integer, exact, nothing to carry over.
 */
#include "config.h"

#include "tbucket.h"

/* The bucket's size in milli-tokens: at most 1e9, fits in 32 bits. */
static uint32_t
tbucket_cap(uint32_t burst)
{
	if (burst == 0)
		burst = 1;
	if (burst > TBUCKET_MAX)
		burst = TBUCKET_MAX;
	return burst * TBUCKET_UNIT;
}

/*
 * What b has spent once refilled up to now_ms, and in *last the time it
 * is refilled to.  No overflow whatever the gap, and no division: a gap
 * over spent ms refills all (rate >= 1), and below it dt * rate is at
 * most 1e9 * 1e6.
 */
static uint32_t
tbucket_refill(const struct tbucket *b, uint32_t rate, uint32_t cap,
    uint64_t now_ms, uint64_t *last)
{
	uint32_t spent = b->spent < cap ? b->spent : cap;
	uint64_t dt;

	*last = b->last_ms;
	if (now_ms < b->last_ms) {
		/* Slightly stale: ignore.  Far back: a new clock, restart. */
		if (b->last_ms - now_ms > TBUCKET_SKEW_MS)
			*last = now_ms;
		return spent;
	}
	dt = now_ms - b->last_ms;
	*last = now_ms;
	if (rate > TBUCKET_MAX)
		rate = TBUCKET_MAX;
	if (rate == 0 || spent == 0 || dt == 0)
		return spent;
	if (dt >= spent || dt * rate >= spent)
		return 0;
	return spent - (uint32_t)(dt * rate);
}

enum tbucket_verdict
tbucket_take(struct tbucket *b, uint32_t rate, uint32_t burst, uint32_t leak,
    uint64_t now_ms)
{
	uint32_t cap = tbucket_cap(burst);

	b->spent = tbucket_refill(b, rate, cap, now_ms, &b->last_ms);
	if (cap - b->spent >= TBUCKET_UNIT) {
		b->spent += TBUCKET_UNIT;
		return TBUCKET_PASS;
	}
	if (leak == 0)
		return TBUCKET_DROP;
	/* Reset rather than wrap, so the cadence stays exact forever. */
	if (++b->over >= leak) {
		b->over = 0;
		return TBUCKET_LEAK;
	}
	return TBUCKET_DROP;
}

uint32_t
tbucket_tokens(const struct tbucket *b, uint32_t rate, uint32_t burst,
    uint64_t now_ms)
{
	uint32_t cap = tbucket_cap(burst);
	uint64_t last;

	return (cap - tbucket_refill(b, rate, cap, now_ms, &last)) /
	    TBUCKET_UNIT;
}
