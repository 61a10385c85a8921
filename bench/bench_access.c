/* SPDX-License-Identifier: ISC */
/*
 * bench_access.c: what access_allows() and guard_check() cost per
 * datagram.  Built and run by "make bench-access" (and "make bench"),
 * never by "make" or "make check".
 *
 * access_allows is timed with 0, 10 and 300 rules (half IPv4, half IPv6)
 * over peers that match none of them (IPv4, IPv6 and v4-mapped mixed):
 * a linear scan's worst case.  For comparison the same 300 rules are
 * also timed as a plain linear scan of precomputed masks, and the floor
 * is a call that does nothing but read the peer's family.  Each figure is
 * the best of several rounds, as the machines are shared and noisy.
 *
 * usage: bench_access [ROUND_MS]   (default 200 ms a round, 5 rounds)
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "access.h"
#include "guard.h"

#define NPEERS	1024
#define ROUNDS	5

static struct sockaddr_storage peers[NPEERS];
static volatile unsigned sink;	/* keeps the calls from being optimized out */
static long round_ms = 200;

static double
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static uint32_t
rnd(void)
{
	static uint64_t s = 0x2545f4914f6cdd1dull;

	s ^= s << 13;
	s ^= s >> 7;
	s ^= s << 17;
	return (uint32_t)(s >> 16);
}

/* Peers outside every rule below: 198.18/15, 2001:db9::/32, mapped. */
static void
make_peers(void)
{
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;
	uint32_t r;
	int i;

	for (i = 0; i < NPEERS; i++) {
		memset(&peers[i], 0, sizeof(peers[i]));
		sin = (struct sockaddr_in *)&peers[i];
		sin6 = (struct sockaddr_in6 *)&peers[i];
		r = rnd();
		if (i % 3 == 0) {
			sin->sin_family = AF_INET;
			sin->sin_port = htons(40000);
			sin->sin_addr.s_addr = htonl(0xc6120000u | (r & 0x1ffff));
			continue;
		}
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(40000);
		if (i % 3 == 1) {
			sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
			sin6->sin6_addr.s6_addr[12] = 198;
			sin6->sin6_addr.s6_addr[13] = (uint8_t)(18 + (r >> 16) % 2);
			sin6->sin6_addr.s6_addr[14] = (uint8_t)(r >> 8);
			sin6->sin6_addr.s6_addr[15] = (uint8_t)r;
		} else {
			memcpy(sin6->sin6_addr.s6_addr, "\x20\x01\x0d\xb9", 4);
			memcpy(&sin6->sin6_addr.s6_addr[4], &r, 4);
		}
	}
}

/* n rules, alternately IPv4 in 10/8 (/16 to /28), IPv6 (/48 to /64). */
static struct access_rule *
make_rules(size_t n)
{
	struct access_rule *rules = calloc(n + 1, sizeof(*rules));
	char text[80], err[128];
	size_t i;

	for (i = 0; rules != NULL && i < n; i++) {
		if (i % 2 == 0)
			snprintf(text, sizeof(text), "deny 10.%zu.0.0/%zu",
			    i / 2 % 256, 16 + i / 2 % 13);
		else
			snprintf(text, sizeof(text), "allow 2001:db8:%zx::/%zu",
			    i, 48 + i / 2 % 17);
		if (access_rule_parse(text, &rules[i], err, sizeof(err)) == -1) {
			fprintf(stderr, "bench_access: %s: %s\n", text, err);
			exit(1);
		}
	}
	return rules;
}

/* The design a lookup table replaces: every rule's mask, in order. */
struct linear {
	size_t n;
	struct { int fam; uint32_t net4, mask4; uint64_t net6[2], mask6[2]; } *r;
};

static uint64_t
be64(const uint8_t *p)
{
	uint64_t v = 0;
	int i;

	for (i = 0; i < 8; i++)
		v = v << 8 | p[i];
	return v;
}

static void
linear_init(struct linear *lin, const struct access_rule *rules, size_t n)
{
	size_t i;
	unsigned p;

	lin->n = n;
	lin->r = calloc(n + 1, sizeof(*lin->r));
	for (i = 0; lin->r != NULL && i < n; i++) {
		p = rules[i].net.prefix;
		lin->r[i].fam = rules[i].net.family;
		lin->r[i].net4 = (uint32_t)(be64(rules[i].net.addr) >> 32);
		lin->r[i].mask4 = p == 0 ? 0 : p >= 32 ? UINT32_MAX :
		    UINT32_MAX << (32 - p);
		lin->r[i].net6[0] = be64(rules[i].net.addr);
		lin->r[i].net6[1] = be64(rules[i].net.addr + 8);
		lin->r[i].mask6[0] = p == 0 ? 0 : p >= 64 ? UINT64_MAX :
		    UINT64_MAX << (64 - p);
		lin->r[i].mask6[1] = p <= 64 ? 0 : UINT64_MAX << (128 - p);
	}
}

static int
linear_find(const struct linear *lin, const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *b = sin6->sin6_addr.s6_addr;
	uint64_t hi, lo;
	uint32_t a;
	size_t i;

	if (sa->sa_family == AF_INET6 && memcmp(b, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		hi = be64(b), lo = be64(b + 8);
		for (i = 0; i < lin->n; i++)
			if (lin->r[i].fam == AF_INET6 &&
			    (hi & lin->r[i].mask6[0]) == lin->r[i].net6[0] &&
			    (lo & lin->r[i].mask6[1]) == lin->r[i].net6[1])
				return (int)i;
		return -1;
	}
	a = sa->sa_family == AF_INET ?
	    ntohl(((const struct sockaddr_in *)sa)->sin_addr.s_addr) :
	    (uint32_t)be64(b + 4);
	for (i = 0; i < lin->n; i++)
		if (lin->r[i].fam == AF_INET &&
		    (a & lin->r[i].mask4) == lin->r[i].net4)
			return (int)i;
	return -1;
}

/* The floor: a call that only reads the peer's family. */
static int __attribute__((noinline))
empty_call(const struct sockaddr *sa)
{
	__asm__ volatile("" ::: "memory");
	return sa->sa_family;
}

enum what { EMPTY, ALLOWS, LINEAR, GUARD };

/* One pass over the peers; returns something that depends on every call. */
static unsigned
pass(enum what w, const struct access_list *l, const struct linear *lin)
{
	static const uint16_t own[] = { 12000, 12001 };
	struct sockaddr_in local;
	unsigned acc = 0;
	int i, idx;

	memset(&local, 0, sizeof(local));
	local.sin_family = AF_INET;
	local.sin_addr.s_addr = htonl(0xc0000201);
	for (i = 0; i < NPEERS; i++) {
		const struct sockaddr *sa = (const struct sockaddr *)&peers[i];

		if (w == ALLOWS)
			acc += access_allows(l, sa, &idx) + (unsigned)idx;
		else if (w == EMPTY)
			acc += (unsigned)empty_call(sa);
		else if (w == LINEAR)
			acc += (unsigned)linear_find(lin, sa);
		else
			acc += guard_check(sa, (struct sockaddr *)&local, own, 2);
	}
	return acc;
}

/* ns per call: the best round of ROUNDS, each about round_ms long. */
static double
measure(enum what w, const struct access_list *l, const struct linear *lin)
{
	double best = 1e30, t0, t;
	long calls;
	int r;

	for (r = 0; r < ROUNDS; r++) {
		calls = 0;
		t0 = now_ns();
		do {
			sink += pass(w, l, lin);
			calls += NPEERS;
		} while ((t = now_ns()) - t0 < (double)round_ms * 1e6);
		if ((t - t0) / (double)calls < best)
			best = (t - t0) / (double)calls;
	}
	return best;
}

int
main(int argc, char *argv[])
{
	static const size_t counts[] = { 0, 10, 300 };
	struct access_rule *rules;
	struct access_list *l;
	struct linear lin;
	double base = 0, ns, t0;
	size_t i;

	if (argc > 1 && (round_ms = atol(argv[1])) <= 0)
		round_ms = 200;
	make_peers();
	printf("empty call (the floor)       : %8.1f ns/call\n",
	    measure(EMPTY, NULL, NULL));
	for (i = 0; i < sizeof(counts) / sizeof(counts[0]); i++) {
		rules = make_rules(counts[i]);
		t0 = now_ns();
		l = access_list_create(rules, counts[i]);
		if (rules == NULL || l == NULL)
			return 1;
		printf("access_list_create %3zu rules: %8.1f us\n", counts[i],
		    (now_ns() - t0) / 1e3);
		ns = measure(ALLOWS, l, NULL);
		if (counts[i] == 0)
			base = ns;
		printf("access_allows      %3zu rules: %8.1f ns/call  %5.2fx "
		    "0 rules\n", counts[i], ns, ns / base);
		if (counts[i] == 300) {
			linear_init(&lin, rules, counts[i]);
			ns = measure(LINEAR, NULL, &lin);
			printf("linear scan        %3zu rules: %8.1f ns/call  %5.2fx "
			    "0 rules (comparison only)\n", counts[i], ns, ns / base);
			free(lin.r);
		}
		access_list_free(l);
		free(rules);
	}
	ns = measure(GUARD, NULL, NULL);
	printf("guard_check                  : %8.1f ns/call  %5.2fx "
	    "access_allows with 0 rules\n", ns, ns / base);
	return 0;
}
