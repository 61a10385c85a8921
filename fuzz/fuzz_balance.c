/* SPDX-License-Identifier: ISC */
/*
 * fuzz_balance.c: fuzz target for src/balance.c.
 *
 * The input drives a pool of 1 to 8 workers through time: each step of 3
 * bytes picks a worker, has it turn its loop once (awake for one amount
 * of time, waiting for another), and opens or closes connections on it;
 * then every worker decides, all seeing the same busy flags and counts,
 * as after a round of wake-ups.  Checked on every step:
 *  - a meter's share stays within 0 to 1000 per mille, and its busy flag
 *    agrees with the marks: busy means at least BALANCE_BUSY_LOW, not busy
 *    means below BALANCE_BUSY_HIGH;
 *  - a worker that never waited in a window reads it as fully busy, one
 *    that never woke as idle (the smoothing only moves towards them),
 *    whether the meter reads the loop's clock or its CPU time (io_uring);
 *  - somebody accepts; with some worker not busy, exactly one, the
 *    lowest-numbered light one; a pool of one always accepts;
 *  - the verdict says why rightly: CONCENTRATE only for a light worker,
 *    SPREAD only for a busy one, OVER_SHARE only when all are busy.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "balance.h"
#include "fuzz.h"

#define NW 8

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct balance_meter m[NW];
	enum balance_verdict was[NW], out[NW];
	size_t conns[NW];
	uint64_t now[NW], cpu[NW];
	bool awake_all[NW], awake_none[NW];   /* so far in the window */
	int n;

	if (size < 1)
		return 0;
	n = 1 + data[0] % NW;
	data++, size--;
	for (int i = 0; i < NW; i++) {
		now[i] = 1000000;
		cpu[i] = 5000;
		balance_meter_init(&m[i], now[i]);
		was[i] = BALANCE_ACCEPT;
		conns[i] = 0;
		awake_all[i] = awake_none[i] = true;
	}
	for (; size >= 3; data += 3, size -= 3) {
		int w = data[0] % n;
		/* Up to 255 ms awake and up to 255 ms waiting, in 1 ms or 10 us steps. */
		uint64_t unit = data[0] & 0x80 ? 1000 : 10;
		uint64_t awake = (uint64_t)data[1] * unit, idle = (uint64_t)data[2] * unit;
		unsigned before = m[w].share;
		size_t total = 0;
		int first, accepting = 0;

		now[w] += idle;
		awake_all[w] = awake_all[w] && idle == 0;
		awake_none[w] = awake_none[w] && awake == 0;
		/*
		 * The first byte's 0x40 bit: this turn measures CPU time, as a
		 * worker on io_uring does (balance_meter_cpu: its CPU time is
		 * the time it was awake); switching starts a new window.
		 */
		cpu[w] += awake;
		if (data[0] & 0x40)
			balance_meter_add(&m[w], now[w], now[w] + awake);
		if ((data[0] & 0x40) ? balance_meter_cpu(&m[w], now[w] + awake, cpu[w]) :
		    balance_meter_turn(&m[w], now[w], now[w] + awake)) {
			if (m[w].share > 1000)
				fuzz_fail("share %u", m[w].share);
			if (m[w].busy ? m[w].share < BALANCE_BUSY_LOW :
			    m[w].share >= BALANCE_BUSY_HIGH)
				fuzz_fail("busy %d with share %u", m[w].busy, m[w].share);
			if (awake_all[w] && m[w].share < before)
				fuzz_fail("always awake, share fell from %u to %u", before,
				    m[w].share);
			if (awake_none[w] && m[w].share > before)
				fuzz_fail("never awake, share rose from %u to %u", before,
				    m[w].share);
			awake_all[w] = awake_none[w] = true;
		}
		now[w] += awake;
		/* Connections come and go with the second byte's low bits. */
		if (data[1] & 1)
			conns[w] += data[2];
		else if (conns[w] >= (size_t)(data[2] & 0x0f))
			conns[w] -= data[2] & 0x0f;

		for (int i = 0; i < n; i++)
			total += conns[i];
		for (first = 0; first < n && m[first].busy; first++)
			;
		for (int i = 0; i < n; i++) {
			struct balance_view v = {
				.self = i, .nworkers = n, .first_light = first,
				.self_busy = m[i].busy, .mine = conns[i], .total = total,
			};

			out[i] = balance_decide(&v, was[i]);
			accepting += out[i] == BALANCE_ACCEPT;
			if ((out[i] == BALANCE_CONCENTRATE && m[i].busy) ||
			    (out[i] == BALANCE_SPREAD && !m[i].busy) ||
			    (out[i] == BALANCE_OVER_SHARE && first < n))
				fuzz_fail("worker %d of %d: verdict %d, busy %d, first light %d",
				    i, n, out[i], m[i].busy, first);
		}
		if (accepting == 0)
			fuzz_fail("nobody accepts (%d workers, first light %d)", n, first);
		if (first < n && (accepting != 1 || out[first] != BALANCE_ACCEPT))
			fuzz_fail("light worker %d: %d accept", first, accepting);
		if (n == 1 && out[0] != BALANCE_ACCEPT)
			fuzz_fail("a pool of one stepped back");
		memcpy(was, out, sizeof(was));
	}
	return 0;
}
