/* SPDX-License-Identifier: ISC */
/* test_ratelimit.c: the token bucket, driven by a fake clock. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "ratelimit.h"

static void
test_burst_then_refuse(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 3, 1000, 0);
	assert_true(ratelimit_allow(&rl, 0));
	assert_true(ratelimit_allow(&rl, 1));
	assert_true(ratelimit_allow(&rl, 2));
	assert_false(ratelimit_allow(&rl, 3));
	assert_false(ratelimit_allow(&rl, 999));
	assert_int_equal(ratelimit_take_suppressed(&rl), 2);
	assert_int_equal(ratelimit_take_suppressed(&rl), 0);
}

static void
test_refill_one_per_interval(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 1, 10000, 5000);
	assert_true(ratelimit_allow(&rl, 5000));
	assert_false(ratelimit_allow(&rl, 14999));
	assert_true(ratelimit_allow(&rl, 15000));
	assert_false(ratelimit_allow(&rl, 15001));
	assert_int_equal(ratelimit_take_suppressed(&rl), 2);
}

static void
test_refill_caps_at_burst(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 2, 100, 0);
	assert_true(ratelimit_allow(&rl, 0));
	assert_true(ratelimit_allow(&rl, 0));
	/* A long quiet spell refills to the burst, no more. */
	assert_true(ratelimit_allow(&rl, 1000000));
	assert_true(ratelimit_allow(&rl, 1000000));
	assert_false(ratelimit_allow(&rl, 1000000));
}

static void
test_partial_interval_is_kept(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 1, 100, 0);
	assert_true(ratelimit_allow(&rl, 0));
	assert_true(ratelimit_allow(&rl, 150));    /* the token due at 100 */
	assert_false(ratelimit_allow(&rl, 150));
	/* the 50 ms past 100 are not lost: the next token is due at 200, not 250 */
	assert_false(ratelimit_allow(&rl, 199));
	assert_true(ratelimit_allow(&rl, 200));
}

static void
test_clock_going_back(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 1, 100, 1000);
	assert_true(ratelimit_allow(&rl, 1000));
	assert_false(ratelimit_allow(&rl, 500));
	assert_false(ratelimit_allow(&rl, 550));
	assert_true(ratelimit_allow(&rl, 600));
}

static void
test_zero_parameters_are_sane(void **state)
{
	struct ratelimit rl;

	(void)state;
	ratelimit_init(&rl, 0, 0, 0);
	assert_true(ratelimit_allow(&rl, 0));
	assert_false(ratelimit_allow(&rl, 0));
	assert_true(ratelimit_allow(&rl, 1));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_burst_then_refuse),
		cmocka_unit_test(test_refill_one_per_interval),
		cmocka_unit_test(test_refill_caps_at_burst),
		cmocka_unit_test(test_partial_interval_is_kept),
		cmocka_unit_test(test_clock_going_back),
		cmocka_unit_test(test_zero_parameters_are_sane),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
