/* SPDX-License-Identifier: ISC */
/*
 * bench_srctable.c: what the per-source limits cost per datagram, for
 * "make bench-srctable".  Times srctable_get + tbucket_take on a 65536
 * table for one source (always a hit, in cache), 1,000 sources (hits,
 * in cache), and 1,000,000 random sources (a miss and an eviction almost
 * every time, out of cache: a flood of forged addresses), then
 * loopguard_hash over 64 B, 1 KiB and 64 KiB payloads.
 *
 * usage: bench_srctable [SCALE]  (SCALE multiplies the iterations; 1)
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "loopguard.h"
#include "srctable.h"
#include "tbucket.h"

#define TABLE		65536
#define MANY		1000000

static volatile uint64_t sink;		/* keeps the work from being optimised out */

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* xorshift64*: random addresses, reproducible. */
static uint64_t
rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static struct src_key *
make_keys(size_t n, uint64_t seed)
{
	struct src_key *k = calloc(n, sizeof(*k));
	size_t i;
	uint32_t a;

	if (k == NULL) {
		fprintf(stderr, "bench_srctable: out of memory\n");
		exit(1);
	}
	for (i = 0; i < n; i++) {
		a = (uint32_t)(rnd(&seed) >> 32);
		k[i].family = 4;
		k[i].prefix = 32;
		memcpy(k[i].addr, &a, 4);
	}
	return k;
}

/*
 * ns per get + take over iters operations cycling through n keys; the
 * clock advances 1 ms every 1024 operations, as in a busy daemon.
 */
static double
bench_get(const char *what, size_t n, uint64_t iters)
{
	struct srctable *t = srctable_create_seeded(TABLE, 1);
	struct src_key *k = make_keys(n, 0x9e3779b97f4a7c15ULL);
	struct src_entry *e;
	uint64_t i, start, ns, acc = 0;
	size_t j = 0;

	/* One pass first: the steady state, not the filling. */
	for (j = 0; j < n && j < 2 * TABLE; j++)
		srctable_get(t, &k[j], 0);
	start = now_ns();
	for (i = 0, j = 0; i < iters; i++) {
		e = srctable_get(t, &k[j], 1 + (i >> 10));
		if (e != NULL)
			acc += tbucket_take(&e->bucket, 100, 200, 2,
			    1 + (i >> 10));
		if (++j == n)
			j = 0;
	}
	ns = now_ns() - start;
	sink += acc;
	printf("  %-34s %7.1f ns/op  (%zu in table, %llu evictions)\n", what,
	    (double)ns / (double)iters, srctable_count(t),
	    (unsigned long long)srctable_evictions(t));
	srctable_free(t);
	free(k);
	return (double)ns / (double)iters;
}

static void
bench_hash(size_t len, uint64_t bytes)
{
	uint8_t *buf = malloc(len);
	uint64_t i, iters = bytes / len, start, ns, acc = 0;

	if (buf == NULL)
		exit(1);
	for (i = 0; i < len; i++)
		buf[i] = (uint8_t)('a' + i % 26);
	start = now_ns();
	for (i = 0; i < iters; i++) {
		buf[0] = (uint8_t)i;	/* a new payload each time */
		acc += loopguard_hash(buf, len);
	}
	ns = now_ns() - start;
	sink += acc;
	printf("  loopguard_hash %6zu B %18.1f ns  (%.1f GB/s)\n", len,
	    (double)ns / (double)iters, (double)(iters * len) / (double)ns);
	free(buf);
}

int
main(int argc, char *argv[])
{
	uint64_t scale = argc > 1 ? strtoull(argv[1], NULL, 10) : 1;

	if (scale == 0)
		scale = 1;
	printf("srctable_get + tbucket_take, %d-entry table (%zu bytes):\n",
	    TABLE, srctable_bytes(TABLE));
	bench_get("1 source", 1, 20000000 * scale);
	bench_get("1,000 sources", 1000, 20000000 * scale);
	bench_get("1,000,000 random sources", MANY, 10000000 * scale);
	printf("loopguard_hash (whole payload):\n");
	bench_hash(64, 1000000000ULL * scale);
	bench_hash(1024, 4000000000ULL * scale);
	bench_hash(65536, 4000000000ULL * scale);
	return 0;
}
