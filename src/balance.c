/* SPDX-License-Identifier: ISC */
/*
 * balance.c: spreading connections over TCP workers (see balance.h).
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
