/* SPDX-License-Identifier: ISC */
/*
 * balance.c: which TCP workers accept new connections (see balance.h).
 */
#include "config.h"

#include "balance.h"

bool
balance_over_share(size_t mine, size_t total, int nworkers, bool was_over)
{
	size_t share;

	if (nworkers < 2)
		return false;
	share = total / (size_t)nworkers;
	if (was_over)
		return mine > share + BALANCE_SLACK / 2;
	return mine > share + share / 8 + BALANCE_SLACK;
}

void
balance_meter_init(struct balance_meter *m, uint64_t now_us)
{
	m->win_start_us = now_us;
	m->busy_us = 0;
	m->share = 0;
	m->busy = false;
	m->cpu = false;
	m->win_cpu_us = 0;
}

/* A window ends with its busy share part (per mille): smooth it in, start the next. */
static void
balance_meter_close(struct balance_meter *m, unsigned part, uint64_t now_us)
{
	m->share = (unsigned)((3 * (uint64_t)m->share + part) / 4);
	if (m->busy)
		m->busy = m->share >= BALANCE_BUSY_LOW;
	else
		m->busy = m->share >= BALANCE_BUSY_HIGH;
	m->win_start_us = now_us;
	m->busy_us = 0;
}

bool
balance_meter_turn(struct balance_meter *m, uint64_t wake_us, uint64_t sleep_us)
{
	uint64_t span, part;

	if (m->cpu) {
		/* From the CPU meter: its window counted no turns; a new one. */
		m->cpu = false;
		m->win_start_us = wake_us;
		m->busy_us = 0;
	}
	/* A clock that went backwards (it should not: monotonic) counts nothing. */
	if (sleep_us > wake_us)
		m->busy_us += sleep_us - wake_us;
	if (sleep_us < m->win_start_us + BALANCE_WINDOW_US)
		return false;
	span = sleep_us - m->win_start_us;
	part = m->busy_us >= span ? 1000 : m->busy_us * 1000 / span;
	balance_meter_close(m, part, sleep_us);
	return true;
}

void
balance_meter_add(struct balance_meter *m, uint64_t wake_us, uint64_t sleep_us)
{
	if (m->cpu && sleep_us > wake_us)
		m->busy_us += sleep_us - wake_us;
}

bool
balance_meter_due(const struct balance_meter *m, uint64_t now_us)
{
	return !m->cpu || now_us >= m->win_start_us + BALANCE_WINDOW_US;
}

bool
balance_meter_cpu(struct balance_meter *m, uint64_t now_us, uint64_t cpu_us)
{
	uint64_t span, busy;

	if (!m->cpu || cpu_us < m->win_cpu_us || now_us < m->win_start_us) {
		/* A new window (a clock going backwards, which it should not, too). */
		m->cpu = true;
		m->win_cpu_us = cpu_us;
		m->win_start_us = now_us;
		m->busy_us = 0;
		return false;
	}
	if (now_us < m->win_start_us + BALANCE_WINDOW_US)
		return false;
	span = now_us - m->win_start_us;
	busy = cpu_us - m->win_cpu_us;
	if (busy < m->busy_us)
		busy = m->busy_us;	/* awake, but waiting for a CPU */
	balance_meter_close(m, busy >= span ? 1000 : (unsigned)(busy * 1000 / span), now_us);
	m->win_cpu_us = cpu_us;
	return true;
}

enum balance_verdict
balance_decide(const struct balance_view *v, enum balance_verdict was)
{
	if (v->nworkers < 2)
		return BALANCE_ACCEPT;
	if (v->first_light >= 0 && v->first_light < v->nworkers) {
		/* Someone has time to spare: the lowest-numbered one takes them all. */
		if (v->first_light == v->self)
			return BALANCE_ACCEPT;
		return v->self_busy ? BALANCE_SPREAD : BALANCE_CONCENTRATE;
	}
	/* All busy: everyone accepts, bar a worker holding too many. */
	if (balance_over_share(v->mine, v->total, v->nworkers, was == BALANCE_OVER_SHARE))
		return BALANCE_OVER_SHARE;
	return BALANCE_ACCEPT;
}
