/* SPDX-License-Identifier: ISC */
/*
 * tbucket.h: a token bucket with leak, for per-source limits (pure: the
 * caller passes the time, the bucket holds no settings).  UDP replies use
 * it with a leak, as DNS Response Rate Limiting does: one in N over-limit
 * datagrams is still answered, so a forger flooding with a victim's
 * address cannot cut the real victim off entirely.  New TCP connections
 * use it without.  Not to be confused with ratelimit.h (log lines).
 *
 * rate, burst and leak are arguments of every call, not state: a reload
 * that changes them applies to the buckets already in the table.  A
 * bucket is 16 bytes and a zeroed one is full, so a fresh table entry
 * needs no set-up.
 */
#ifndef UPCASE_TBUCKET_H
#define UPCASE_TBUCKET_H

#include <stdint.h>

/* The largest rate (per second) and burst: larger values are clamped. */
#define TBUCKET_MAX		1000000u
/* Fixed point: a token is this many milli-tokens. */
#define TBUCKET_UNIT		1000u
/*
 * A clock that goes back by at most this much is a caller that read it
 * before taking the lock: ignored (no refill, the bucket keeps its own
 * time, so alternating stale readings never earn tokens twice).  Further
 * back is a clock that was restarted: the bucket restarts from the new
 * time, keeping its tokens.
 */
#define TBUCKET_SKEW_MS		1000u

struct tbucket {
	uint32_t spent;		/* milli-tokens taken out of a full bucket:
				 * 0 is full, so zeroed is full */
	uint32_t over;		/* over-limit events since the last leak */
	uint64_t last_ms;	/* time the bucket was last refilled to */
};

enum tbucket_verdict {
	TBUCKET_PASS,		/* within the limit: a token was taken */
	TBUCKET_LEAK,		/* over the limit, let through: one in leak */
	TBUCKET_DROP		/* over the limit */
};

/*
 * One event at now_ms: rate tokens per second (0 never refills), burst
 * tokens at most (0 counts as 1), leak 0 never leaks, N lets the Nth,
 * 2Nth, ... over-limit event through.  Refill is exact: rate milli-tokens
 * per millisecond, no rounding, so rate 100 is one token every 10 ms.
 * Over any run, PASS verdicts <= burst + rate * (time the clock moved
 * forward) / 1000; LEAK verdicts = over-limit events / leak exactly (for
 * a constant leak); a LEAK takes no token.
 */
enum tbucket_verdict tbucket_take(struct tbucket *b, uint32_t rate,
    uint32_t burst, uint32_t leak, uint64_t now_ms);

/* Whole tokens available at now_ms, without taking any (for tests, stats). */
uint32_t tbucket_tokens(const struct tbucket *b, uint32_t rate, uint32_t burst,
    uint64_t now_ms);

#endif
