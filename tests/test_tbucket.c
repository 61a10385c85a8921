/* SPDX-License-Identifier: ISC */
/* test_tbucket.c: the per-source token bucket with leak, on a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "tbucket.h"

/* Passes in n takes at one instant. */
static unsigned
passes(struct tbucket *b, uint32_t rate, uint32_t burst, uint32_t leak,
    uint64_t now, unsigned n)
{
	unsigned i, p = 0;

	for (i = 0; i < n; i++)
		p += tbucket_take(b, rate, burst, leak, now) == TBUCKET_PASS;
	return p;
}

static void
test_fresh_is_full(void **state)
{
	struct tbucket b;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(sizeof(b), 16);
	assert_int_equal(tbucket_tokens(&b, 10, 5, 0), 5);
	assert_int_equal(tbucket_tokens(&b, 10, 5, 123456789), 5);
	/* At time 0 too: a zeroed bucket is full, whatever the clock. */
	assert_int_equal(tbucket_take(&b, 10, 5, 0, 0), TBUCKET_PASS);
	assert_int_equal(tbucket_tokens(&b, 10, 5, 0), 4);
}

static void
test_exactly_burst_at_one_instant(void **state)
{
	static const uint32_t bursts[] = { 1, 2, 7, 100, 1000000 };
	struct tbucket b;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bursts) / sizeof(bursts[0]); i++) {
		memset(&b, 0, sizeof(b));
		assert_int_equal(passes(&b, 1, bursts[i], 0, 5000,
		    bursts[i] + 10), bursts[i]);
		assert_int_equal(tbucket_take(&b, 1, bursts[i], 0, 5000),
		    TBUCKET_DROP);
		assert_int_equal(tbucket_tokens(&b, 1, bursts[i], 5000), 0);
	}
}

static void
test_refill_at_rate(void **state)
{
	struct tbucket b;
	uint64_t t;

	(void)state;
	/* rate 100: one token every 10 ms. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(tbucket_take(&b, 100, 1, 0, 1000), TBUCKET_PASS);
	for (t = 1000; t < 2000; t += 10) {
		assert_int_equal(tbucket_take(&b, 100, 1, 0, t + 9), TBUCKET_DROP);
		assert_int_equal(tbucket_take(&b, 100, 1, 0, t + 10), TBUCKET_PASS);
	}
	/* Part of a token is kept: 15 ms give 1.5, the next 0.5 in 5 ms. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 100, 2, 0, 0, 3), 2);
	assert_int_equal(tbucket_take(&b, 100, 2, 0, 15), TBUCKET_PASS);
	assert_int_equal(tbucket_take(&b, 100, 2, 0, 19), TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 100, 2, 0, 20), TBUCKET_PASS);
	/* A quiet spell refills up to the burst, no more. */
	assert_int_equal(passes(&b, 100, 2, 0, 100000, 5), 2);
	/* rate 3: not a whole number of ms per token, still exact. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(tbucket_take(&b, 3, 1, 0, 0), TBUCKET_PASS);
	assert_int_equal(tbucket_take(&b, 3, 1, 0, 333), TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 3, 1, 0, 334), TBUCKET_PASS);
	assert_int_equal(passes(&b, 3, 1, 0, 334 + 3000, 10) +
	    passes(&b, 3, 1, 0, 334 + 6000, 10), 2);
}

static void
test_leak_one_in_n(void **state)
{
	struct tbucket b;
	unsigned i, leaks = 0;
	enum tbucket_verdict v;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(tbucket_take(&b, 1, 1, 3, 0), TBUCKET_PASS);
	for (i = 1; i <= 30; i++) {
		v = tbucket_take(&b, 1, 1, 3, 0);
		/* The 3rd, 6th, ... over-limit event. */
		assert_int_equal(v, i % 3 == 0 ? TBUCKET_LEAK : TBUCKET_DROP);
		leaks += v == TBUCKET_LEAK;
	}
	assert_int_equal(leaks, 10);
	/* A leak takes no token: the next second brings exactly one. */
	assert_int_equal(passes(&b, 1, 1, 3, 999, 1), 0);
	assert_int_equal(passes(&b, 1, 1, 3, 1000, 1), 1);
	/* The count goes on over the pass: 1 (the 999 drop) + 2 more. */
	assert_int_equal(tbucket_take(&b, 1, 1, 3, 1000), TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 1, 1, 3, 1000), TBUCKET_LEAK);

	/* leak 1: every over-limit event passes, none takes a token. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(tbucket_take(&b, 1, 1, 1, 0), TBUCKET_PASS);
	for (i = 0; i < 100; i++)
		assert_int_equal(tbucket_take(&b, 1, 1, 1, 0), TBUCKET_LEAK);
	assert_int_equal(tbucket_take(&b, 1, 1, 1, 1000), TBUCKET_PASS);

	/* Exact over a long run: 1,000,000 over-limit events, leak 7. */
	leaks = 0;
	for (i = 0; i < 1000000; i++)
		leaks += tbucket_take(&b, 1, 1, 7, 1000) == TBUCKET_LEAK;
	assert_int_equal(leaks, 1000000 / 7);
}

static void
test_leak_zero_never(void **state)
{
	struct tbucket b;
	unsigned i;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 10, 4, 0, 0, 4), 4);
	for (i = 0; i < 100000; i++)
		assert_int_equal(tbucket_take(&b, 10, 4, 0, 0), TBUCKET_DROP);
	assert_int_equal(b.over, 0);
}

static void
test_time_backwards(void **state)
{
	struct tbucket b;
	unsigned i, p = 0;

	(void)state;
	/* A stale reading, within TBUCKET_SKEW_MS: no refill, and no reset. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 10000), TBUCKET_PASS);
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 10000 - TBUCKET_SKEW_MS),
	    TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 10999), TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 11000), TBUCKET_PASS);

	/* Two threads' readings alternating 1 ms apart earn no extra tokens. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 100, 1, 0, 5000, 1), 1);
	for (i = 0; i < 1000; i++) {
		p += passes(&b, 100, 1, 0, 5000 + i, 1);
		p += passes(&b, 100, 1, 0, 5000 + i - 1, 1);
	}
	assert_int_equal(p, 999 / 10);

	/* Far back: a restarted clock; the bucket goes on from there. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 1000000000), TBUCKET_PASS);
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 5), TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 1004), TBUCKET_DROP);
	assert_int_equal(tbucket_take(&b, 1, 1, 0, 1005), TBUCKET_PASS);
}

static void
test_huge_gap(void **state)
{
	struct tbucket b;

	(void)state;
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, TBUCKET_MAX, TBUCKET_MAX, 0, 0,
	    TBUCKET_MAX), TBUCKET_MAX);
	/* No overflow: the whole gap would be 1.8e25 milli-tokens. */
	assert_int_equal(tbucket_tokens(&b, TBUCKET_MAX, TBUCKET_MAX,
	    UINT64_MAX), TBUCKET_MAX);
	assert_int_equal(passes(&b, 1, 3, 0, UINT64_MAX, 5), 3);
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 7, 2, 0, 0, 2), 2);
	assert_int_equal(passes(&b, 7, 2, 0, (uint64_t)1 << 63, 5), 2);
	assert_int_equal(passes(&b, 7, 2, 0, ((uint64_t)1 << 63) + 142, 5), 0);
	assert_int_equal(passes(&b, 7, 2, 0, ((uint64_t)1 << 63) + 143, 5), 1);
}

static void
test_high_rates(void **state)
{
	struct tbucket b;

	(void)state;
	/* 1e6 a second is 1000 a millisecond. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 1000000, 1000000, 0, 0, 2000000), 1000000);
	assert_int_equal(passes(&b, 1000000, 1000000, 0, 1, 2000), 1000);
	assert_int_equal(passes(&b, 1000000, 1000000, 0, 11, 20000), 10000);
	/* Above the maximum: clamped, not wrapped. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, UINT32_MAX, UINT32_MAX, 0, 0, 3000000),
	    TBUCKET_MAX);
	assert_int_equal(passes(&b, UINT32_MAX, UINT32_MAX, 0, 2, 3000), 2000);
	/* rate 1e6 with burst 1: one a microsecond, so 1000 in 1 ms, cap 1. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 1000000, 1, 0, 0, 10), 1);
	assert_int_equal(passes(&b, 1000000, 1, 0, 1, 10), 1);
}

static void
test_settings_change(void **state)
{
	struct tbucket b;

	(void)state;
	/* burst 0 counts as 1; rate 0 never refills. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 0, 0, 0, 0, 3), 1);
	assert_int_equal(passes(&b, 0, 0, 0, 1000000000, 3), 0);
	/* A lower burst: empty, not a debt, and not wrapped to a full one. */
	memset(&b, 0, sizeof(b));
	assert_int_equal(passes(&b, 1, 10, 0, 0, 8), 8);
	assert_int_equal(tbucket_tokens(&b, 1, 10, 0), 2);
	assert_int_equal(tbucket_tokens(&b, 1, 3, 0), 0);
	assert_int_equal(passes(&b, 1, 3, 0, 0, 5), 0);
	assert_int_equal(passes(&b, 1, 3, 0, 1000, 5), 1);
	/* A higher one adds the difference. */
	assert_int_equal(passes(&b, 1, 5, 0, 1000, 5), 2);
	/* tbucket_tokens changes nothing. */
	assert_int_equal(tbucket_tokens(&b, 1, 5, 10000), 5);
	assert_int_equal(tbucket_tokens(&b, 1, 5, 1000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_fresh_is_full),
		cmocka_unit_test(test_exactly_burst_at_one_instant),
		cmocka_unit_test(test_refill_at_rate),
		cmocka_unit_test(test_leak_one_in_n),
		cmocka_unit_test(test_leak_zero_never),
		cmocka_unit_test(test_time_backwards),
		cmocka_unit_test(test_huge_gap),
		cmocka_unit_test(test_high_rates),
		cmocka_unit_test(test_settings_change),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
