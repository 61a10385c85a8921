/* SPDX-License-Identifier: ISC */
/* test_balance.c: the rule that decides which TCP workers accept (balance.h). */
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

/* ------------------------------------------------------------ the busy meter */

/* One window of span_us in which the worker was awake busy_us of it, at the end. */
static bool
window(struct balance_meter *m, uint64_t *now, uint64_t span_us, uint64_t busy_us)
{
	*now += span_us;
	return balance_meter_turn(m, *now - busy_us, *now);
}

static void
test_meter_idle_and_saturated(void **state)
{
	struct balance_meter m;
	uint64_t now = 5000000;
	int turns;

	(void)state;
	balance_meter_init(&m, now);
	/* Idle: epoll_wait's ticks, 250 ms apart, nothing done between. */
	for (int i = 0; i < 20; i++)
		assert_true(window(&m, &now, 250000, 0));
	assert_int_equal(m.share, 0);
	assert_false(m.busy);
	/* Saturated: 1/4 of each window: 250, 437, 577, 682 per mille. */
	for (turns = 1; !m.busy; turns++) {
		assert_true(window(&m, &now, BALANCE_WINDOW_US, BALANCE_WINDOW_US));
		assert_true(turns <= 4);
	}
	assert_int_equal(turns - 1, 4);
	assert_int_equal(m.share, 682);
	for (int i = 0; i < 40; i++)
		window(&m, &now, BALANCE_WINDOW_US, BALANCE_WINDOW_US);
	assert_true(m.share >= 990 && m.share <= 1000);
	assert_true(m.busy);
	/* Idle again: light once below BALANCE_BUSY_LOW: 750, 562, 421, 316. */
	for (turns = 1; m.busy; turns++)
		window(&m, &now, BALANCE_WINDOW_US, 0);
	assert_int_equal(turns - 1, 4);
}

/* Many short turns add up; the window closes only once it is long enough. */
static void
test_meter_window(void **state)
{
	struct balance_meter m;
	uint64_t now = 0;

	(void)state;
	balance_meter_init(&m, now);
	/* 99 turns of 1 ms: 600 us awake, 400 us in epoll_wait. */
	for (int i = 0; i < 99; i++) {
		assert_false(balance_meter_turn(&m, now + 400, now + 1000));
		now += 1000;
	}
	assert_int_equal(m.share, 0);
	assert_true(balance_meter_turn(&m, now + 400, now + 1000));
	assert_int_equal(m.share, 600 / 4);
	/* A clock that went back counts nothing; a turn longer than its window counts 1000. */
	balance_meter_init(&m, 0);
	assert_true(balance_meter_turn(&m, 300000, 200000));
	assert_int_equal(m.share, 0);
	balance_meter_init(&m, 1000000);
	assert_true(balance_meter_turn(&m, 0, 1200000));
	assert_int_equal(m.share, 250);
}

/* The CPU-time meter (io_uring): the thread's CPU time per window is its busy share. */
static void
test_meter_cpu(void **state)
{
	struct balance_meter m;
	uint64_t now = 1000000, cpu = 777;
	int turns;

	(void)state;
	balance_meter_init(&m, now);
	assert_true(balance_meter_due(&m, now));	/* not measuring CPU yet: every turn */
	/* The first call starts a window; nothing is due before it is long enough. */
	assert_false(balance_meter_cpu(&m, now, cpu));
	assert_false(balance_meter_due(&m, now + BALANCE_WINDOW_US - 1));
	assert_true(balance_meter_due(&m, now + BALANCE_WINDOW_US));
	assert_false(balance_meter_cpu(&m, now + 50000, cpu + 50000));
	/* Saturated: all of the time on CPU, waits included: busy after 4 windows. */
	for (turns = 1; !m.busy; turns++) {
		now += BALANCE_WINDOW_US;
		cpu += BALANCE_WINDOW_US;
		assert_true(balance_meter_cpu(&m, now, cpu));
		assert_true(turns <= 4);
	}
	assert_int_equal(turns - 1, 4);
	assert_int_equal(m.share, 682);
	/* 30% of the time on CPU settles at 300 per mille: light again, below 400. */
	for (int i = 0; i < 30; i++) {
		now += BALANCE_WINDOW_US;
		cpu += BALANCE_WINDOW_US * 3 / 10;
		assert_true(balance_meter_cpu(&m, now, cpu));
	}
	assert_true(m.share >= 299 && m.share <= 301);
	assert_false(m.busy);
	/*
	 * Awake all the time but on the CPU 30% of it (waiting for one: a
	 * shared machine): awake counts, as the loop's clock would say.
	 */
	for (int i = 0; i < 30; i++) {
		balance_meter_add(&m, now, now + BALANCE_WINDOW_US);
		now += BALANCE_WINDOW_US;
		cpu += BALANCE_WINDOW_US * 3 / 10;
		assert_true(balance_meter_cpu(&m, now, cpu));
	}
	assert_true(m.share >= 990);
	assert_true(m.busy);
	/* Light again: 30% awake, 30% on CPU. */
	for (int i = 0; i < 30; i++) {
		balance_meter_add(&m, now, now + BALANCE_WINDOW_US * 3 / 10);
		now += BALANCE_WINDOW_US;
		cpu += BALANCE_WINDOW_US * 3 / 10;
		assert_true(balance_meter_cpu(&m, now, cpu));
	}
	assert_true(m.share >= 299 && m.share <= 301);
	assert_false(m.busy);
	/* More CPU than wall time (it should not be) counts 1000, no more. */
	now += BALANCE_WINDOW_US;
	cpu += 3 * BALANCE_WINDOW_US;
	assert_true(balance_meter_cpu(&m, now, cpu));
	assert_true(m.share <= 1000);
	/*
	 * From the CPU meter to the loop's clock mid-window: the turns the
	 * CPU meter saw are not taken for waiting (fuzz_balance found it):
	 * awake all through, the share does not fall.
	 */
	{
		unsigned share;

		for (int i = 0; i < 10; i++) {
			now += BALANCE_WINDOW_US;
			cpu += BALANCE_WINDOW_US;
			balance_meter_cpu(&m, now, cpu);
		}
		share = m.share;
		now += BALANCE_WINDOW_US / 2;
		cpu += BALANCE_WINDOW_US / 2;
		assert_false(balance_meter_cpu(&m, now, cpu));
		assert_true(balance_meter_turn(&m, now, now + BALANCE_WINDOW_US));
		assert_true(m.share >= share);
		now += BALANCE_WINDOW_US;
	}
	/* Back to the wall-clock meter, and to the CPU one: a new window, no jump. */
	assert_false(balance_meter_turn(&m, now, now + 10));
	{
		unsigned share = m.share;

		assert_false(balance_meter_cpu(&m, now + 20, cpu + 123456789));
		assert_int_equal(m.share, share);
		/* A CPU clock that went back starts a new window too. */
		assert_false(balance_meter_cpu(&m, now + 2 * BALANCE_WINDOW_US, cpu));
		assert_int_equal(m.share, share);
	}
}

/* A load that wavers around the upper threshold flips the flag once, not every window. */
static void
test_meter_hysteresis(void **state)
{
	struct balance_meter m;
	uint64_t now = 0;
	int flips = 0;
	bool was;

	(void)state;
	balance_meter_init(&m, now);
	was = m.busy;
	for (int i = 0; i < 200; i++) {
		/* 45% and 85% in turn: about 65% on average, right at HIGH. */
		window(&m, &now, BALANCE_WINDOW_US, (i % 2 ? 85 : 45) * BALANCE_WINDOW_US / 100);
		flips += m.busy != was;
		was = m.busy;
	}
	assert_true(flips <= 1);
	/* Between the marks the flag stays as it was. */
	m.share = (BALANCE_BUSY_LOW + BALANCE_BUSY_HIGH) / 2;
	m.busy = false;
	for (int i = 0; i < 50; i++)
		window(&m, &now, BALANCE_WINDOW_US, (uint64_t)m.share * BALANCE_WINDOW_US / 1000);
	assert_false(m.busy);
	m.busy = true;
	for (int i = 0; i < 50; i++)
		window(&m, &now, BALANCE_WINDOW_US, (uint64_t)m.share * BALANCE_WINDOW_US / 1000);
	assert_true(m.busy);
}

/* ------------------------------------------------------------ who accepts */

/* Every worker's verdict, all seeing the same flags busy (bit i) and counts. */
static void
decide_all(int n, unsigned busy, const size_t *conns, const enum balance_verdict *was,
    enum balance_verdict *out)
{
	size_t total = 0;
	int first;

	for (int i = 0; i < n; i++)
		total += conns[i];
	for (first = 0; first < n && (busy & (1u << first)); first++)
		;
	for (int i = 0; i < n; i++) {
		struct balance_view v = {
			.self = i, .nworkers = n, .first_light = first,
			.self_busy = (busy & (1u << i)) != 0, .mine = conns[i], .total = total,
		};

		out[i] = balance_decide(&v, was != NULL ? was[i] : BALANCE_ACCEPT);
	}
}

static void
test_light_load_concentrates(void **state)
{
	size_t conns[4] = { 5000, 0, 0, 0 };
	enum balance_verdict out[4];

	(void)state;
	/* Nobody busy: worker 0 alone accepts, however many it holds. */
	decide_all(4, 0, conns, NULL, out);
	assert_int_equal(out[0], BALANCE_ACCEPT);
	for (int i = 1; i < 4; i++)
		assert_int_equal(out[i], BALANCE_CONCENTRATE);
	/* Only a busy worker 1: still worker 0 alone. */
	decide_all(4, 1u << 1, conns, NULL, out);
	assert_int_equal(out[0], BALANCE_ACCEPT);
	assert_int_equal(out[1], BALANCE_SPREAD);
	assert_int_equal(out[2], BALANCE_CONCENTRATE);
}

static void
test_busy_load_spreads(void **state)
{
	size_t conns[4] = { 50, 0, 0, 0 };
	enum balance_verdict out[4];

	(void)state;
	/* Worker 0 busy: it steps back, worker 1 takes the new ones. */
	decide_all(4, 1u << 0, conns, NULL, out);
	assert_int_equal(out[0], BALANCE_SPREAD);
	assert_int_equal(out[1], BALANCE_ACCEPT);
	assert_int_equal(out[2], BALANCE_CONCENTRATE);
	assert_int_equal(out[3], BALANCE_CONCENTRATE);
	/* 0 and 1 busy: worker 2. */
	conns[1] = 50;
	decide_all(4, 3, conns, NULL, out);
	assert_int_equal(out[0], BALANCE_SPREAD);
	assert_int_equal(out[1], BALANCE_SPREAD);
	assert_int_equal(out[2], BALANCE_ACCEPT);
	assert_int_equal(out[3], BALANCE_CONCENTRATE);
}

/* Every worker busy: all accept, and the count guard keeps one from hoarding. */
static void
test_all_busy_count_guard(void **state)
{
	size_t even[2] = { 100, 100 }, skew[2] = { 200, 100 }, near[2] = { 170, 150 };
	enum balance_verdict out[2], was[2];

	(void)state;
	decide_all(2, 3, even, NULL, out);
	assert_int_equal(out[0], BALANCE_ACCEPT);
	assert_int_equal(out[1], BALANCE_ACCEPT);
	/* 200 of 300: share 150, over 150 + 18 + 16. */
	decide_all(2, 3, skew, NULL, out);
	assert_int_equal(out[0], BALANCE_OVER_SHARE);
	assert_int_equal(out[1], BALANCE_ACCEPT);
	/* Having stepped back it comes back only at share + 8: 170 of 320 is not yet. */
	was[0] = out[0];
	was[1] = out[1];
	decide_all(2, 3, near, was, out);
	assert_int_equal(out[0], BALANCE_OVER_SHARE);
	decide_all(2, 3, near, NULL, out);
	assert_int_equal(out[0], BALANCE_ACCEPT);
	/* Light again: the count guard is off, worker 0 takes them all. */
	decide_all(2, 0, skew, was, out);
	assert_int_equal(out[0], BALANCE_ACCEPT);
	assert_int_equal(out[1], BALANCE_CONCENTRATE);
}

/* Whatever is busy and whatever the counts, somebody accepts. */
static void
test_never_nobody_accepts(void **state)
{
	static const size_t spreads[][6] = {
		{ 0, 0, 0, 0, 0, 0 }, { 1000, 0, 0, 0, 0, 0 }, { 0, 0, 0, 0, 0, 1000 },
		{ 10, 200, 30, 400, 50, 600 }, { 300, 300, 300, 300, 300, 0 },
	};
	enum balance_verdict out[6], was[6];

	(void)state;
	for (int n = 1; n <= 6; n++)
		for (unsigned busy = 0; busy < (1u << n); busy++)
			for (size_t s = 0; s < sizeof(spreads) / sizeof(spreads[0]); s++)
				for (int w = 0; w < 3; w++) {
					int accepting = 0;

					for (int i = 0; i < n; i++)
						was[i] = w == 0 ? BALANCE_ACCEPT : w == 1 ?
						    BALANCE_OVER_SHARE : (enum balance_verdict)(i % 4);
					decide_all(n, busy, spreads[s], was, out);
					for (int i = 0; i < n; i++)
						accepting += out[i] == BALANCE_ACCEPT;
					assert_true(accepting >= 1);
					/* Some worker light: exactly one accepts. */
					if (busy != (1u << n) - 1)
						assert_int_equal(accepting, 1);
				}
}

static void
test_pool_of_one(void **state)
{
	struct balance_view v = { .self = 0, .nworkers = 1, .first_light = 1,
	    .self_busy = true, .mine = 100000, .total = 100000 };

	(void)state;
	assert_int_equal(balance_decide(&v, BALANCE_OVER_SHARE), BALANCE_ACCEPT);
	v.self_busy = false;
	v.first_light = 0;
	assert_int_equal(balance_decide(&v, BALANCE_SPREAD), BALANCE_ACCEPT);
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
		cmocka_unit_test(test_meter_idle_and_saturated),
		cmocka_unit_test(test_meter_window),
		cmocka_unit_test(test_meter_cpu),
		cmocka_unit_test(test_meter_hysteresis),
		cmocka_unit_test(test_light_load_concentrates),
		cmocka_unit_test(test_busy_load_spreads),
		cmocka_unit_test(test_all_busy_count_guard),
		cmocka_unit_test(test_never_nobody_accepts),
		cmocka_unit_test(test_pool_of_one),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
