/* SPDX-License-Identifier: ISC */
/*
 * srctable.c: the fixed-capacity, set-associative table of per-source
 * state (see srctable.h), and the keys it is indexed by.
 *
 * Entries are never deleted, only replaced, so the entries of a set fill
 * from its first way on: the first free way ends a search.
 */
#include "config.h"

#include <sys/random.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include "srctable.h"

_Static_assert(sizeof(struct src_key) == 20, "src_key has padding");
_Static_assert(sizeof(struct src_entry) == 64, "src_entry is not 64 bytes");

#define SET_BYTES	(SRCTABLE_WAYS * sizeof(struct src_entry))

struct srctable {
	struct src_entry *e;		/* capacity entries, aligned to a set */
	size_t		 capacity;	/* a power of two, >= SRCTABLE_WAYS */
	size_t		 mask;		/* sets - 1 */
	size_t		 count;		/* entries in use */
	uint64_t	 evictions;
	uint64_t	 seed;		/* kept by a resize */
	uint64_t	 k0, k1;	/* the SipHash key, from seed */
};

static void
src_key_mask(uint8_t *addr, unsigned prefix, unsigned bytes)
{
	unsigned i = prefix / 8;

	if (i < bytes && prefix % 8 != 0)
		addr[i++] &= (uint8_t)(0xff << (8 - prefix % 8));
	for (; i < bytes; i++)
		addr[i] = 0;
}

int
src_key_from_sockaddr(const struct sockaddr *sa, int v4prefix, int v6prefix,
    bool with_port, struct src_key *out)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	uint16_t port;

	if (v4prefix < 0 || v4prefix > 32 || v6prefix < 0 || v6prefix > 128)
		return -1;
	memset(out, 0, sizeof(*out));
	if (sa->sa_family == AF_INET) {
		memcpy(out->addr, &sin->sin_addr, 4);
		port = sin->sin_port;
	} else if (sa->sa_family == AF_INET6) {
		if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
			memcpy(out->addr, &sin6->sin6_addr.s6_addr[12], 4);
		else {
			memcpy(out->addr, &sin6->sin6_addr, 16);
			out->family = 6;
		}
		port = sin6->sin6_port;
	} else
		return -1;
	if (out->family == 6) {
		out->prefix = (uint8_t)v6prefix;
		src_key_mask(out->addr, (unsigned)v6prefix, 16);
	} else {
		out->family = 4;
		out->prefix = (uint8_t)v4prefix;
		src_key_mask(out->addr, (unsigned)v4prefix, 4);
	}
	out->port = with_port ? ntohs(port) : 0;
	return 0;
}

/* ------------------------------------------------------------ hashing */

#define ROTL(x, b)	(uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND(v0, v1, v2, v3) do {					\
	v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);	\
	v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;				\
	v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;				\
	v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);	\
} while (0)

/*
 * SipHash-1-3 of the 20 key bytes (two words and a last block of four
 * bytes and the length), unrolled: keyed, so that which keys share a set
 * cannot be worked out from outside, and a dozen nanoseconds.
 */
static uint64_t
srctable_hash(const struct srctable *t, const struct src_key *k)
{
	uint64_t v0 = t->k0 ^ 0x736f6d6570736575ULL;
	uint64_t v1 = t->k1 ^ 0x646f72616e646f6dULL;
	uint64_t v2 = t->k0 ^ 0x6c7967656e657261ULL;
	uint64_t v3 = t->k1 ^ 0x7465646279746573ULL;
	uint64_t m[3];
	uint32_t last;
	int i;

	memcpy(&m[0], k, 16);
	memcpy(&last, (const uint8_t *)k + 16, 4);
	m[2] = (uint64_t)sizeof(*k) << 56 | last;
	for (i = 0; i < 3; i++) {
		v3 ^= m[i];
		SIPROUND(v0, v1, v2, v3);
		v0 ^= m[i];
	}
	v2 ^= 0xff;
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* splitmix64: spreads a 64-bit seed over the 128-bit SipHash key. */
static uint64_t
srctable_mix(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* ------------------------------------------------------------ the table */

static size_t
srctable_round(size_t capacity)
{
	size_t n = SRCTABLE_MIN;

	while (n < capacity && n < SRCTABLE_MAX)
		n <<= 1;
	return n;
}

size_t
srctable_bytes(size_t capacity)
{
	return sizeof(struct srctable) +
	    srctable_round(capacity) * sizeof(struct src_entry);
}

struct srctable *
srctable_create_seeded(size_t capacity, uint64_t seed)
{
	struct srctable *t;
	void *p;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->capacity = srctable_round(capacity);
	t->mask = t->capacity / SRCTABLE_WAYS - 1;
	/* Page-aligned and zero; resident only as sets are first used. */
	p = mmap(NULL, t->capacity * sizeof(struct src_entry), PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		free(t);
		return NULL;
	}
	t->e = p;
	t->seed = seed;
	t->k0 = srctable_mix(&seed);
	t->k1 = srctable_mix(&seed);
	return t;
}

struct srctable *
srctable_create(size_t capacity)
{
	struct timespec ts;
	uint64_t seed;

	/*
	 * Never wait for entropy at boot: then the clock, which a remote
	 * sender does not know to the nanosecond either.
	 */
	if (getrandom(&seed, sizeof(seed), GRND_NONBLOCK) != sizeof(seed)) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		seed = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
		seed ^= (uint64_t)(uintptr_t)&ts;
	}
	return srctable_create_seeded(capacity, seed);
}

void
srctable_free(struct srctable *t)
{
	if (t == NULL)
		return;
	munmap(t->e, t->capacity * sizeof(struct src_entry));
	free(t);
}

static struct src_entry *
srctable_set(const struct srctable *t, const struct src_key *k)
{
	return &t->e[(srctable_hash(t, k) & t->mask) * SRCTABLE_WAYS];
}

static bool
src_key_equal(const struct src_key *a, const struct src_key *b)
{
	return memcmp(a, b, sizeof(*a)) == 0;
}

struct src_entry *
srctable_find(struct srctable *t, const struct src_key *k)
{
	struct src_entry *set = srctable_set(t, k);
	int i;

	for (i = 0; i < SRCTABLE_WAYS && set[i].key.family != 0; i++)
		if (src_key_equal(&set[i].key, k))
			return &set[i];
	return NULL;
}

struct src_entry *
srctable_get(struct srctable *t, const struct src_key *k, uint64_t now_ms)
{
	struct src_entry *set, *e, *victim = NULL;
	int i;

	if (k->family == 0)		/* not a key: would read as free */
		return NULL;
	set = srctable_set(t, k);
	for (i = 0; i < SRCTABLE_WAYS; i++) {
		e = &set[i];
		if (e->key.family == 0) {
			victim = e;
			break;
		}
		if (src_key_equal(&e->key, k)) {
			e->last_ms = now_ms;
			return e;
		}
		if (e->open == 0 && (victim == NULL ||
		    e->last_ms < victim->last_ms))
			victim = e;
	}
	if (victim == NULL)
		return NULL;		/* all pinned */
	if (victim->key.family != 0)
		t->evictions++;
	else
		t->count++;
	memset(victim, 0, sizeof(*victim));
	victim->key = *k;
	victim->last_ms = now_ms;
	return victim;
}

/* Which to keep first in a resize: pinned, then the most recently used. */
static int
srctable_keep_order(const void *a, const void *b)
{
	const struct src_entry *x = *(const struct src_entry *const *)a;
	const struct src_entry *y = *(const struct src_entry *const *)b;

	if ((x->open > 0) != (y->open > 0))
		return x->open > 0 ? -1 : 1;
	if (x->last_ms != y->last_ms)
		return x->last_ms > y->last_ms ? -1 : 1;
	return x < y ? -1 : x > y;	/* old position: a stable order */
}

/* Copy e into a free way of its set in t; false if the set is full. */
static bool
srctable_place(struct srctable *t, const struct src_entry *e)
{
	struct src_entry *set = srctable_set(t, &e->key);
	int i;

	for (i = 0; i < SRCTABLE_WAYS; i++) {
		if (set[i].key.family == 0) {
			set[i] = *e;
			t->count++;
			return true;
		}
	}
	return false;
}

struct srctable *
srctable_resize(struct srctable *t, size_t capacity)
{
	struct src_entry **order;
	struct srctable *nt;
	size_t i, n = 0;

	if (srctable_round(capacity) == t->capacity)
		return t;
	if ((nt = srctable_create_seeded(capacity, t->seed)) == NULL)
		return NULL;
	if ((order = calloc(t->count > 0 ? t->count : 1, sizeof(*order))) ==
	    NULL) {
		srctable_free(nt);
		return NULL;
	}
	for (i = 0; i < t->capacity; i++)
		if (t->e[i].key.family != 0)
			order[n++] = &t->e[i];
	qsort(order, n, sizeof(*order), srctable_keep_order);
	nt->evictions = t->evictions;
	for (i = 0; i < n; i++)
		if (!srctable_place(nt, order[i]))
			nt->evictions++;
	free(order);
	srctable_free(t);
	return nt;
}

struct srctable *
srctable_fit(struct srctable *t, size_t capacity)
{
	return t == NULL ? srctable_create(capacity) : srctable_resize(t, capacity);
}

size_t
srctable_capacity(const struct srctable *t)
{
	return t->capacity;
}

size_t
srctable_count(const struct srctable *t)
{
	return t->count;
}

uint64_t
srctable_evictions(const struct srctable *t)
{
	return t->evictions;
}

uintptr_t
srctable_set_of(const struct src_entry *e)
{
	return (uintptr_t)e / SET_BYTES;
}

/* ------------------------------------------------------------ counting, listing */

const char *
src_key_format(const struct src_key *k, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN], pfx[8] = "";
	int af = k->family == 4 ? AF_INET : AF_INET6;
	unsigned full = k->family == 4 ? 32 : 128;

	if ((k->family != 4 && k->family != 6) || inet_ntop(af, k->addr, a, sizeof(a)) == NULL) {
		snprintf(buf, len, "?");
		return buf;
	}
	if (k->prefix < full)
		snprintf(pfx, sizeof(pfx), "/%u", k->prefix);
	if (k->port == 0)
		snprintf(buf, len, "%s%s", a, pfx);
	else if (k->family == 4)
		snprintf(buf, len, "%s%s:%u", a, pfx, k->port);
	else
		snprintf(buf, len, "[%s%s]:%u", a, pfx, k->port);
	return buf;
}

void
srctable_count_use(struct src_entry *e, bool limited)
{
	if (e->seen < UINT32_MAX)
		e->seen++;
	if (limited && e->limited < UINT32_MAX)
		e->limited++;
}

const struct src_entry *
srctable_next(const struct srctable *t, size_t *cursor)
{
	size_t i = *cursor;

	while (i < t->capacity) {
		const struct src_entry *e = &t->e[i];

		if (e->key.family == 0) {
			/* A set fills from its first way: the rest of it is free too. */
			i = (i / SRCTABLE_WAYS + 1) * SRCTABLE_WAYS;
			continue;
		}
		*cursor = i + 1;
		return e;
	}
	*cursor = i;
	return NULL;
}

int
srctable_busier(const struct src_entry *a, const struct src_entry *b)
{
	if (a->seen != b->seen)
		return a->seen > b->seen ? -1 : 1;
	if (a->limited != b->limited)
		return a->limited > b->limited ? -1 : 1;
	if (a->open != b->open)
		return a->open > b->open ? -1 : 1;
	return memcmp(&a->key, &b->key, sizeof(a->key));
}

static int
srctable_busier_cmp(const void *a, const void *b)
{
	return srctable_busier(a, b);
}

/* out[0 .. n-1] is a heap with the least busy entry at the root: move out[i] down. */
static void
srctable_sift_down(struct src_entry *out, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		struct src_entry tmp;

		if (l < n && srctable_busier(&out[l], &out[m]) > 0)
			m = l;
		if (r < n && srctable_busier(&out[r], &out[m]) > 0)
			m = r;
		if (m == i)
			return;
		tmp = out[i];
		out[i] = out[m];
		out[m] = tmp;
		i = m;
	}
}

static void
srctable_sift_up(struct src_entry *out, size_t i)
{
	while (i > 0) {
		size_t p = (i - 1) / 2;
		struct src_entry tmp;

		if (srctable_busier(&out[i], &out[p]) <= 0)
			return;
		tmp = out[i];
		out[i] = out[p];
		out[p] = tmp;
		i = p;
	}
}

size_t
srctable_top(const struct srctable *t, struct src_entry *out, size_t n)
{
	const struct src_entry *e;
	size_t cursor = 0, have = 0;

	if (t == NULL || n == 0)
		return 0;
	while ((e = srctable_next(t, &cursor)) != NULL) {
		if (have < n) {
			out[have] = *e;
			srctable_sift_up(out, have++);
		} else if (srctable_busier(e, &out[0]) < 0) {
			out[0] = *e;
			srctable_sift_down(out, have, 0);
		}
	}
	qsort(out, have, sizeof(*out), srctable_busier_cmp);
	return have;
}
