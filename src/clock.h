/* SPDX-License-Identifier: ISC */
/*
 * clock.h: the one monotonic clock, for the daemon and the client.
 * Timeouts, idle sweeps, rate limits and sd-daemon's MONOTONIC_USEC all
 * read CLOCK_MONOTONIC, so they never jump with the wall clock.
 */
#ifndef UPCASE_CLOCK_H
#define UPCASE_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
clock_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static inline uint64_t
clock_ms(void)
{
	return clock_usec() / 1000;
}

/* The calling thread's CPU time (user and system), for busy shares (balance.h). */
static inline uint64_t
clock_thread_cpu_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

#endif
