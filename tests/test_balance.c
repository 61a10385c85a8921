/* SPDX-License-Identifier: ISC */
/* test_balance.c: the rule that spreads TCP connections over workers. */
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include "balance.h"

static void
test_one_worker_always_accepts(void **state)
{
	(void)state;
	assert_false(balance_over_share(0, 0, 1, false));
	assert_false(balance_over_share(100000, 100000, 1, false));
	assert_false(balance_over_share(100000, 100000, 1, true));
}

static void
test_slack_before_stepping_back(void **state)
{
	(void)state;
	/* 4 workers, 400 open: share 100, step back above 100 + 12 + 16. */
	assert_false(balance_over_share(128, 400, 4, false));
	assert_true(balance_over_share(129, 400, 4, false));
	/* Two workers, one holding all: 36 > 18 + 2 + 16 is false, 37 > 18 + 2 + 16 true. */
	assert_false(balance_over_share(36, 36, 2, false));
	assert_true(balance_over_share(37, 37, 2, false));
}

static void
test_hysteresis(void **state)
{
	(void)state;
	/* Having stepped back, come back only at share + BALANCE_SLACK / 2. */
	assert_true(balance_over_share(120, 400, 4, true));
	assert_true(balance_over_share(109, 400, 4, true));
	assert_false(balance_over_share(108, 400, 4, true));
	/* Without the previous answer, 120 would still be accepted. */
	assert_false(balance_over_share(120, 400, 4, false));
}

/* Whatever the counts, the least loaded worker is never over its share. */
static void
test_least_loaded_never_over(void **state)
{
	(void)state;
	for (int n = 2; n <= 16; n++)
		for (size_t total = 0; total < 5000; total += 7) {
			size_t least = total / (size_t)n;	/* at most the mean */

			assert_false(balance_over_share(least, total, n, false));
			assert_false(balance_over_share(least, total, n, true));
		}
}

/* A stale total (two relaxed loads) below mine must not wrap around. */
static void
test_total_below_mine(void **state)
{
	(void)state;
	assert_true(balance_over_share(1000, 10, 2, false));
	assert_false(balance_over_share(3, 0, 2, false));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_one_worker_always_accepts),
		cmocka_unit_test(test_slack_before_stepping_back),
		cmocka_unit_test(test_hysteresis),
		cmocka_unit_test(test_least_loaded_never_over),
		cmocka_unit_test(test_total_below_mine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
