/* SPDX-License-Identifier: ISC */
/*
 * test_worker.c: the worker loop (worker.c) with a kind of our own: what
 * a worker may still do once it acknowledged a freeze (live upgrade).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <poll.h>
#include <stdbool.h>
#include <stdlib.h>

#include "clock.h"
#include "worker.h"

/* Turns of the loop whose timers ran with the worker frozen; all turns. */
static unsigned frozen_ticks, ticks;

static struct worker *
fake_create(void)
{
	return calloc(1, sizeof(struct worker));
}

static void
fake_destroy(struct worker *w)
{
	free(w);
}

static void
fake_apply(struct worker *w, const struct worker_params *old, uint64_t now)
{
	(void)w, (void)old, (void)now;
}

static void
fake_event(struct worker *w, void *tag, uint32_t events, uint64_t now)
{
	(void)w, (void)tag, (void)events, (void)now;
}

/* A real kind's tick closes idle connections: never while the main thread reads them. */
static void
fake_tick(struct worker *w, uint64_t now)
{
	(void)now;
	__atomic_add_fetch(&ticks, 1, __ATOMIC_RELAXED);
	if (w->params.frozen)
		__atomic_add_fetch(&frozen_ticks, 1, __ATOMIC_RELAXED);
}

static const struct worker_ops fake_ops = {
	.name = "fake", .create = fake_create, .destroy = fake_destroy,
	.apply = fake_apply, .event = fake_event, .tick = fake_tick,
};

/* From the freeze's return to the thaw, no tick: the sweeps would close what is handed over. */
static void
test_no_tick_once_frozen(void **state)
{
	struct worker_params p = { .max_connections = 1 };
	struct worker_pool *pool = worker_pool_create(&fake_ops, 2, &p);
	unsigned before;

	(void)state;
	assert_non_null(pool);
	for (int round = 0; round < 20; round++) {
		worker_pool_freeze(pool, true);
		before = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
		poll(NULL, 0, 30);
		assert_int_equal(__atomic_load_n(&frozen_ticks, __ATOMIC_RELAXED), 0);
		assert_int_equal(__atomic_load_n(&ticks, __ATOMIC_RELAXED), before);
		worker_pool_freeze(pool, false);
	}
	/* Thawed, the timers run again. */
	before = __atomic_load_n(&ticks, __ATOMIC_RELAXED);
	poll(NULL, 0, 2 * WORKER_TICK_MS + 100);
	assert_true(__atomic_load_n(&ticks, __ATOMIC_RELAXED) > before);
	worker_pool_drain(pool, clock_ms() + 1000);
	worker_pool_join(pool);
	worker_pool_destroy(pool);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_no_tick_once_frozen),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
