/* SPDX-License-Identifier: ISC */
/*
 * test_srctable.c: per-source keys, the fixed-capacity table (insert,
 * LRU, pinning, resize, the memory bound) and the loop guard.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <malloc.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "loopguard.h"
#include "srctable.h"

#define SEED	0x5eed5eed5eed5eedULL

static struct src_key
key4(const char *text, uint16_t port, int prefix, bool with_port)
{
	struct sockaddr_in sin;
	struct src_key k;

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	sin.sin_port = htons(port);
	assert_int_equal(inet_pton(AF_INET, text, &sin.sin_addr), 1);
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin, prefix,
	    128, with_port, &k), 0);
	return k;
}

static struct src_key
key6(const char *text, uint16_t port, int v4prefix, int prefix, bool with_port)
{
	struct sockaddr_in6 sin6;
	struct src_key k;

	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(port);
	assert_int_equal(inet_pton(AF_INET6, text, &sin6.sin6_addr), 1);
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin6,
	    v4prefix, prefix, with_port, &k), 0);
	return k;
}

/* The n-th of many distinct IPv4 keys. */
static struct src_key
keyn(uint32_t n)
{
	struct src_key k;

	memset(&k, 0, sizeof(k));
	k.family = 4;
	k.prefix = 32;
	n = htonl(n);
	memcpy(k.addr, &n, 4);
	return k;
}

static void
assert_addr(const struct src_key *k, int family, const char *text)
{
	uint8_t want[16];

	memset(want, 0, sizeof(want));
	assert_int_equal(inet_pton(family, text, want), 1);
	assert_memory_equal(k->addr, want, 16);
}

static void
test_key_v4(void **state)
{
	struct src_key k;

	(void)state;
	k = key4("203.0.113.77", 5353, 32, false);
	assert_int_equal(k.family, 4);
	assert_int_equal(k.prefix, 32);
	assert_int_equal(k.port, 0);
	assert_addr(&k, AF_INET, "203.0.113.77");
	k = key4("203.0.113.77", 5353, 24, false);
	assert_int_equal(k.prefix, 24);
	assert_addr(&k, AF_INET, "203.0.113.0");
	k = key4("203.0.113.77", 5353, 20, false);	/* 113 = 0x71 */
	assert_addr(&k, AF_INET, "203.0.112.0");
	k = key4("203.0.113.77", 5353, 0, false);
	assert_addr(&k, AF_INET, "0.0.0.0");
	/* One /24, one key; the next /24 another. */
	k = key4("203.0.113.1", 1, 24, false);
	assert_true(memcmp(&k, &(struct src_key){ .family = 4, .prefix = 24,
	    .addr = { 203, 0, 113, 0 } }, sizeof(k)) == 0);
	k = key4("203.0.114.1", 1, 24, false);
	assert_int_equal(k.addr[2], 114);
}

static void
test_key_v6(void **state)
{
	static const char a[] = "2001:db8:1234:5678:9abc:def0:1234:5678";
	struct src_key k;

	(void)state;
	k = key6(a, 53, 32, 56, false);
	assert_int_equal(k.family, 6);
	assert_int_equal(k.prefix, 56);
	assert_addr(&k, AF_INET6, "2001:db8:1234:5600::");
	k = key6(a, 53, 32, 64, false);
	assert_addr(&k, AF_INET6, "2001:db8:1234:5678::");
	k = key6(a, 53, 32, 128, false);
	assert_addr(&k, AF_INET6, a);
	k = key6(a, 53, 32, 61, false);			/* 0x78 -> 0x78 & 0xf8 */
	assert_addr(&k, AF_INET6, "2001:db8:1234:5678::");
	k = key6(a, 53, 32, 60, false);
	assert_addr(&k, AF_INET6, "2001:db8:1234:5670::");
	k = key6(a, 53, 32, 0, false);
	assert_addr(&k, AF_INET6, "::");
}

static void
test_key_mapped_and_port(void **state)
{
	struct src_key k4, k6;
	struct sockaddr_in sin;
	struct sockaddr sa;

	(void)state;
	/* An IPv4-mapped address is the IPv4 address, with the v4 prefix. */
	k4 = key4("192.0.2.55", 4000, 24, true);
	k6 = key6("::ffff:192.0.2.99", 4000, 24, 56, true);
	assert_memory_equal(&k4, &k6, sizeof(k4));
	assert_int_equal(k6.family, 4);
	assert_int_equal(k6.prefix, 24);
	k6 = key6("::ffff:192.0.2.55", 4000, 32, 128, true);
	assert_addr(&k6, AF_INET, "192.0.2.55");
	/* Not mapped: an IPv4-compatible or NAT64 address is IPv6. */
	k6 = key6("64:ff9b::192.0.2.55", 4000, 32, 128, true);
	assert_int_equal(k6.family, 6);

	/* The port: host order when kept, else 0, so ports share a key. */
	k4 = key4("192.0.2.55", 4000, 32, true);
	assert_int_equal(k4.port, 4000);
	k6 = key4("192.0.2.55", 4001, 32, true);
	assert_memory_not_equal(&k4, &k6, sizeof(k4));
	k4 = key4("192.0.2.55", 4000, 32, false);
	k6 = key4("192.0.2.55", 4001, 32, false);
	assert_memory_equal(&k4, &k6, sizeof(k4));
	k6 = key6("2001:db8::1", 4000, 32, 128, true);
	assert_int_equal(k6.port, 4000);

	/* Other families and prefixes out of range. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_family = AF_UNIX;
	assert_int_equal(src_key_from_sockaddr(&sa, 32, 128, false, &k4), -1);
	sa.sa_family = AF_UNSPEC;
	assert_int_equal(src_key_from_sockaddr(&sa, 32, 128, false, &k4), -1);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin, 33, 128,
	    false, &k4), -1);
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin, 32, 129,
	    false, &k4), -1);
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin, -1, 64,
	    false, &k4), -1);
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin, 32, -1,
	    false, &k4), -1);
}

static void
test_insert_find(void **state)
{
	struct srctable *t = srctable_create_seeded(100, SEED);
	struct src_key a = key4("198.51.100.1", 0, 32, false);
	struct src_key b = key4("198.51.100.2", 0, 32, false);
	struct src_entry *e;

	(void)state;
	assert_non_null(t);
	assert_int_equal(srctable_capacity(t), 128);
	assert_int_equal(srctable_count(t), 0);
	assert_null(srctable_find(t, &a));
	e = srctable_get(t, &a, 1000);
	assert_non_null(e);
	assert_memory_equal(&e->key, &a, sizeof(a));
	assert_int_equal(e->last_ms, 1000);
	assert_int_equal(e->open, 0);
	assert_int_equal(e->bucket.spent, 0);
	assert_int_equal(e->reply_ms, 0);
	for (int i = 0; i < LOOPGUARD_SLOTS; i++) {
		assert_int_equal(e->loop.hash[i], 0);
		assert_int_equal(e->loop.count[i], 0);
	}
	assert_int_equal(srctable_count(t), 1);
	assert_ptr_equal(srctable_find(t, &a), e);
	assert_null(srctable_find(t, &b));
	/* get marks the entry used, find does not; state stays. */
	e->open = 3;
	assert_ptr_equal(srctable_get(t, &a, 2000), e);
	assert_int_equal(e->last_ms, 2000);
	assert_int_equal(e->open, 3);
	assert_ptr_equal(srctable_find(t, &a), e);
	assert_int_equal(e->last_ms, 2000);
	assert_int_equal(srctable_count(t), 1);
	assert_non_null(srctable_get(t, &b, 2001));
	assert_int_equal(srctable_count(t), 2);
	assert_int_equal(srctable_evictions(t), 0);
	/* A zeroed key is no key (it would read as a free entry). */
	assert_null(srctable_get(t, &(struct src_key){ 0 }, 1));
	assert_null(srctable_find(t, &(struct src_key){ 0 }));
	srctable_free(t);
	srctable_free(NULL);
}

static void
test_capacity_and_bytes(void **state)
{
	struct srctable *t;

	(void)state;
	assert_int_equal(srctable_bytes(65536) - srctable_bytes(32768),
	    32768 * 64);
	assert_true(srctable_bytes(65536) <= 65536 * 64 + 64);
	assert_int_equal(srctable_bytes(65535), srctable_bytes(65536));
	assert_int_equal(srctable_bytes(0), srctable_bytes(SRCTABLE_MIN));
	t = srctable_create_seeded(0, SEED);
	assert_int_equal(srctable_capacity(t), SRCTABLE_MIN);
	srctable_free(t);
	t = srctable_create_seeded(65537, SEED);
	assert_int_equal(srctable_capacity(t), 131072);
	srctable_free(t);
}

/* A million forged sources: the table replaces, never grows. */
static void
test_flood(void **state)
{
	struct srctable *t = srctable_create(65536);
	struct mallinfo2 before, after;
	struct src_key k;
	struct src_entry *e;
	uint32_t i;

	(void)state;
	assert_non_null(t);
	before = mallinfo2();
	for (i = 0; i < 1000000; i++) {
		k = keyn(0x0a000000 + i);
		e = srctable_get(t, &k, i);
		assert_non_null(e);
		assert_int_equal(tbucket_take(&e->bucket, 1, 1, 0, i),
		    TBUCKET_PASS);
		if (i % 65536 == 0)
			assert_true(srctable_count(t) <= 65536);
	}
	after = mallinfo2();
	assert_int_equal(after.uordblks, before.uordblks);
	assert_int_equal(after.hblkhd, before.hblkhd);
	assert_int_equal(srctable_capacity(t), 65536);
	assert_true(srctable_count(t) <= 65536);
	/* Random keys over 8192 sets of 8: every set is full by now. */
	assert_int_equal(srctable_count(t), 65536);
	assert_int_equal(srctable_evictions(t), 1000000 - 65536);
	assert_int_equal(srctable_bytes(65536), 65536 * 64 +
	    (srctable_bytes(8) - 8 * 64));
	/* The latest sources are still there. */
	for (i = 1000000 - 100; i < 1000000; i++) {
		k = keyn(0x0a000000 + i);
		assert_non_null(srctable_find(t, &k));
	}
	srctable_free(t);
}

static void
test_lru_one_set(void **state)
{
	struct srctable *t = srctable_create_seeded(SRCTABLE_WAYS, SEED);
	struct src_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < SRCTABLE_WAYS; i++) {
		k = keyn(i);
		assert_non_null(srctable_get(t, &k, 100 + i));
	}
	k = keyn(0);
	srctable_get(t, &k, 200);		/* 0 is now the newest */
	k = keyn(100);
	assert_non_null(srctable_get(t, &k, 201));
	assert_int_equal(srctable_evictions(t), 1);
	assert_int_equal(srctable_count(t), SRCTABLE_WAYS);
	k = keyn(0);
	assert_non_null(srctable_find(t, &k));
	k = keyn(1);
	assert_null(srctable_find(t, &k));	/* the oldest went */
	for (i = 2; i < SRCTABLE_WAYS; i++) {
		k = keyn(i);
		assert_non_null(srctable_find(t, &k));
	}
	/* A source that keeps sending stays through any flood. */
	for (i = 1000; i < 2000; i++) {
		k = keyn(i);
		assert_non_null(srctable_get(t, &k, 1000 + i));
		k = keyn(0);
		assert_non_null(srctable_get(t, &k, 1000 + i));
	}
	assert_non_null(srctable_find(t, &k));
	srctable_free(t);
}

/* Keys sharing a set of a 64-entry table seeded with SEED. */
static void
colliding_keys(struct src_key *out, int n)
{
	struct srctable *t = srctable_create_seeded(64, SEED);
	struct src_key k;
	uintptr_t set = 0;
	uint32_t i;
	int found = 0;

	for (i = 0; found < n; i++) {
		k = keyn(i);
		if (found == 0)
			set = srctable_set_of(srctable_get(t, &k, i));
		else if (srctable_set_of(srctable_get(t, &k, i)) != set)
			continue;
		out[found++] = k;
	}
	srctable_free(t);
}

static void
test_lru_in_a_set(void **state)
{
	struct srctable *t = srctable_create_seeded(64, SEED);
	struct src_key k[SRCTABLE_WAYS + 2];
	struct src_entry *e[SRCTABLE_WAYS];
	int i;

	(void)state;
	colliding_keys(k, SRCTABLE_WAYS + 2);
	for (i = 0; i < SRCTABLE_WAYS; i++) {
		e[i] = srctable_get(t, &k[i], 10 + (uint64_t)i);
		assert_int_equal(srctable_set_of(e[i]), srctable_set_of(e[0]));
	}
	srctable_get(t, &k[0], 30);
	srctable_get(t, &k[1], 31);
	assert_ptr_equal(srctable_get(t, &k[SRCTABLE_WAYS], 32), e[2]);
	assert_ptr_equal(srctable_get(t, &k[SRCTABLE_WAYS + 1], 33), e[3]);
	assert_ptr_equal(srctable_find(t, &k[0]), e[0]);
	assert_ptr_equal(srctable_find(t, &k[1]), e[1]);
	assert_null(srctable_find(t, &k[2]));
	assert_null(srctable_find(t, &k[3]));
	srctable_free(t);
}

static void
test_pinned(void **state)
{
	struct srctable *t = srctable_create_seeded(SRCTABLE_WAYS, SEED);
	struct src_entry *e[SRCTABLE_WAYS], *n;
	struct src_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < SRCTABLE_WAYS; i++) {
		k = keyn(i);
		e[i] = srctable_get(t, &k, i);
		e[i]->open = 1;
	}
	/* All pinned: refused, nothing replaced. */
	for (i = 100; i < 200; i++) {
		k = keyn(i);
		assert_null(srctable_get(t, &k, 1000));
	}
	assert_int_equal(srctable_evictions(t), 0);
	assert_int_equal(srctable_count(t), SRCTABLE_WAYS);
	/* Those present are still found and used. */
	k = keyn(3);
	assert_ptr_equal(srctable_get(t, &k, 1000), e[3]);
	/* One unpinned, the newest: it is the one replaced. */
	e[7]->open = 0;
	k = keyn(500);
	n = srctable_get(t, &k, 2000);
	assert_ptr_equal(n, e[7]);
	assert_int_equal(n->open, 0);
	for (i = 0; i < 7; i++) {
		k = keyn(i);
		assert_ptr_equal(srctable_find(t, &k), e[i]);
		assert_int_equal(e[i]->open, 1);
	}
	/* A closed connection's count goes down through find. */
	k = keyn(2);
	srctable_find(t, &k)->open--;
	k = keyn(501);
	assert_ptr_equal(srctable_get(t, &k, 3000), e[2]);
	srctable_free(t);
}

/* A rate entry (even i) or a loop entry (odd i): bucket and loop overlap. */
static void
fill_state(struct src_entry *e, uint32_t i)
{
	int j;

	if (i % 2 == 0) {
		e->bucket.spent = i * 7;
		e->bucket.over = i % 5;
		e->bucket.last_ms = 5000 + i;
		return;
	}
	for (j = 0; j < LOOPGUARD_SLOTS; j++) {
		e->loop.hash[j] = (i + (uint32_t)j) * 2654435761u;
		e->loop.count[j] = (uint8_t)(i % 3 + (uint32_t)j);
	}
	e->reply_ms = 6000 + i;
}

static void
test_resize_bigger(void **state)
{
	struct srctable *t = srctable_create_seeded(64, SEED), *old;
	struct src_entry *e, want;
	struct src_key k;
	uint32_t i;

	(void)state;
	for (i = 0; i < 1000; i++) {
		k = keyn(i);
		fill_state(srctable_get(t, &k, i), i);
	}
	assert_int_equal(srctable_count(t), 64);
	old = t;
	assert_ptr_equal(srctable_resize(t, 60), old);	/* rounds to 64: kept */
	t = srctable_resize(t, 1024);
	assert_non_null(t);
	assert_int_equal(srctable_capacity(t), 1024);
	/* Growing keeps every entry, and its state. */
	assert_int_equal(srctable_count(t), 64);
	assert_int_equal(srctable_evictions(t), 1000 - 64);
	for (i = 0; i < 1000; i++) {
		k = keyn(i);
		if ((e = srctable_find(t, &k)) == NULL)
			continue;
		memset(&want, 0, sizeof(want));
		want.key = k;
		want.last_ms = i;
		fill_state(&want, i);
		assert_memory_equal(e, &want, sizeof(want));
	}
	for (i = 1000; i < 1900; i++) {
		k = keyn(i);
		srctable_get(t, &k, i);
	}
	assert_true(srctable_count(t) > 64);
	srctable_free(t);
}

/* srctable_fit: create when there is no table, else resize (state kept). */
static void
test_fit(void **state)
{
	struct srctable *t, *old;
	struct src_key k = keyn(7);

	(void)state;
	assert_non_null(t = srctable_fit(NULL, 100));
	assert_int_equal(srctable_capacity(t), 128);
	srctable_get(t, &k, 5)->open = 3;
	old = t;
	assert_ptr_equal(srctable_fit(t, 128), old);
	assert_non_null(t = srctable_fit(t, 4096));
	assert_int_equal(srctable_capacity(t), 4096);
	assert_int_equal(srctable_find(t, &k)->open, 3);
	srctable_free(t);
}

static void
test_resize_smaller(void **state)
{
	struct srctable *t = srctable_create_seeded(256, SEED);
	struct src_key k;
	uint32_t i, kept = 0;

	(void)state;
	for (i = 0; i < 200; i++) {
		k = keyn(i);
		srctable_get(t, &k, 1000 + i)->open = i < 3;	/* oldest pinned */
	}
	t = srctable_resize(t, SRCTABLE_WAYS);
	assert_int_equal(srctable_capacity(t), SRCTABLE_WAYS);
	assert_int_equal(srctable_count(t), SRCTABLE_WAYS);
	assert_int_equal(srctable_evictions(t), 200 - SRCTABLE_WAYS);
	/* The pinned ones, then the 5 most recently used. */
	for (i = 0; i < 200; i++) {
		k = keyn(i);
		if (srctable_find(t, &k) != NULL) {
			assert_true(i < 3 || i >= 200 - (SRCTABLE_WAYS - 3));
			kept++;
		}
	}
	assert_int_equal(kept, SRCTABLE_WAYS);
	for (i = 0; i < 3; i++) {
		k = keyn(i);
		assert_int_equal(srctable_find(t, &k)->open, 1);
	}
	srctable_free(t);
}

static void
test_loop_hash(void **state)
{
	static uint8_t big[65536];
	uint64_t h[256 + 1];
	uint8_t buf[256];
	size_t i, j;

	(void)state;
	assert_int_equal(loopguard_hash("HELLO", 5), loopguard_hash("HELLO", 5));
	assert_int_not_equal(loopguard_hash("HELLO", 5),
	    loopguard_hash("HELLP", 5));
	assert_int_not_equal(loopguard_hash("", 0), loopguard_hash("\0", 1));
	assert_int_not_equal(loopguard_hash("\0", 1), loopguard_hash("\0\0", 2));
	/* Every length of one buffer, and one-bit changes: all different. */
	for (i = 0; i < sizeof(buf); i++)
		buf[i] = (uint8_t)(i * 31);
	for (i = 0; i <= sizeof(buf); i++)
		h[i] = loopguard_hash(buf, i);
	for (i = 0; i <= sizeof(buf); i++)
		for (j = 0; j < i; j++)
			assert_int_not_equal(h[i], h[j]);
	for (i = 0; i < 100 * 8; i++) {
		buf[i / 8] ^= (uint8_t)(1 << i % 8);
		assert_int_not_equal(loopguard_hash(buf, 100), h[100]);
		/* The stored top half differs too. */
		assert_int_not_equal(loopguard_hash(buf, 100) >> 32, h[100] >> 32);
		buf[i / 8] ^= (uint8_t)(1 << i % 8);
	}
	/* Short payloads (read as overlapping words): every bit of every byte. */
	for (i = 1; i <= 48; i++) {
		h[0] = loopguard_hash(buf, i);
		for (j = 0; j < i * 8; j++) {
			buf[j / 8] ^= (uint8_t)(1 << j % 8);
			assert_int_not_equal(loopguard_hash(buf, i), h[0]);
			buf[j / 8] ^= (uint8_t)(1 << j % 8);
		}
	}
	/* The whole payload counts: the last byte of 64 KiB. */
	h[0] = loopguard_hash(big, sizeof(big));
	big[sizeof(big) - 1] = 1;
	assert_int_not_equal(loopguard_hash(big, sizeof(big)), h[0]);
	big[sizeof(big) / 2] = 1;
	assert_int_not_equal(loopguard_hash(big, sizeof(big)), h[0]);
}

/* 64 bytes, a cache line; the loop slots share the bucket's bytes. */
static void
test_entry_layout(void **state)
{
	(void)state;
	assert_int_equal(sizeof(struct src_entry), 64);
	assert_int_equal(offsetof(struct src_entry, loop),
	    offsetof(struct src_entry, bucket));
	assert_true(offsetof(struct src_entry, loop) + sizeof(((struct src_entry *)0)->loop) <=
	    offsetof(struct src_entry, reply_ms));
	assert_int_equal(offsetof(struct src_entry, reply_ms), 56);
	assert_int_equal(LOOPGUARD_SLOTS, 4);
	assert_int_equal(LOOPGUARD_REPEATS, 8);
	assert_int_equal(LOOPGUARD_WINDOW_MS, 250);
}

/* The first of the two slots a reply may take. */
static unsigned
slot(uint64_t h)
{
	return (unsigned)(h % LOOPGUARD_SLOTS);
}

static uint64_t
hash_str(const char *s)
{
	return loopguard_hash(s, strlen(s));
}

/*
 * One datagram with payload hash h at now, upper case (the reply is the
 * payload), as udp.c does: true when dropped as a loop.
 */
static bool
arrive(struct src_entry *e, uint64_t h, uint64_t now, uint32_t repeats)
{
	if (loopguard_is_echo(e, h, now, LOOPGUARD_WINDOW_MS, repeats))
		return true;
	loopguard_sent(e, h, now);
	return false;
}

/* n <= LOOPGUARD_SLOTS "LOOP i" payloads, each in a slot of its own. */
static void
payloads_apart(uint64_t *h, int n)
{
	bool used[LOOPGUARD_SLOTS] = { false };
	char buf[32];
	int i = 0, tries;

	for (tries = 0; i < n; tries++) {
		assert_true(tries < 1000);
		snprintf(buf, sizeof(buf), "LOOP %d", tries);
		h[i] = hash_str(buf);
		if (!used[slot(h[i])]) {
			used[slot(h[i])] = true;
			i++;
		}
	}
}

/*
 * n loops interleaved with one peer (their payloads come round in turn,
 * as on a path that keeps the order): the round at which each is first
 * dropped, or -1 when not within 100 rounds.  Once dropped, a loop is
 * over: nothing comes back of it.
 */
static void
interleave(const uint64_t *h, int n, uint32_t repeats, int *dropped_at)
{
	struct src_entry e;
	uint64_t now = 100000;
	int r, i, left = n;

	memset(&e, 0, sizeof(e));
	for (i = 0; i < n; i++)
		dropped_at[i] = -1;
	for (r = 0; r < 100 && left > 0; r++)
		for (i = 0; i < n; i++) {
			if (dropped_at[i] >= 0)
				continue;
			if (arrive(&e, h[i], now++, repeats)) {
				dropped_at[i] = r;
				left--;
			}
		}
}

static void
test_loop_window(void **state)
{
	struct src_entry e;
	uint64_t hello = hash_str("HELLO");
	uint64_t other = hash_str("OTHER");

	(void)state;
	memset(&e, 0, sizeof(e));
	/* Never replied: nothing is an echo, not even a hash of 0. */
	assert_false(loopguard_is_echo(&e, 0, 0, 250, 1));
	assert_false(loopguard_is_echo(&e, hello, 0, 250, 1));
	assert_false(loopguard_is_echo(&e, (uint64_t)1 << 32, 0, 250, 1));

	/* repeats 1: the first echo inside the window (inclusive) drops. */
	loopguard_sent(&e, hello, 1000);
	assert_true(loopguard_is_echo(&e, hello, 1250, 250, 1));
	assert_false(loopguard_is_echo(&e, other, 1000, 250, 1));
	assert_false(loopguard_is_echo(&e, hello, 1251, 250, 1));
	/* A clock read before the reply's is inside the window. */
	assert_true(loopguard_is_echo(&e, hello, 900, 250, 0));

	/* A top half of 0 is kept (as 1): such a payload is seen too. */
	memset(&e, 0, sizeof(e));
	loopguard_sent(&e, 2, 1000);
	assert_int_equal(e.loop.hash[slot(2)], 1);
	assert_true(loopguard_is_echo(&e, 2, 1001, 250, 1));

	/*
	 * The window runs from the last reply to the address and port, in
	 * any slot: a late datagram resets every count.
	 */
	other = hash_str("WORLD");
	assert_int_not_equal(slot(other), slot(hello));
	memset(&e, 0, sizeof(e));
	loopguard_sent(&e, hello, 2000);
	assert_false(loopguard_is_echo(&e, hello, 2001, 250, 3));
	assert_false(loopguard_is_echo(&e, hello, 2002, 250, 3));
	assert_int_equal(e.loop.count[slot(hello)], 2);
	loopguard_sent(&e, hello, 2002);
	assert_false(loopguard_is_echo(&e, other, 2253, 250, 3));	/* late */
	assert_int_equal(e.loop.count[slot(hello)], 0);
	loopguard_sent(&e, other, 2253);
	assert_false(loopguard_is_echo(&e, hello, 2260, 250, 3));
	assert_int_equal(e.loop.count[slot(hello)], 1);
}

static void
test_loop_repeats(void **state)
{
	struct src_entry e;
	uint64_t hello = hash_str("HELLO");
	uint32_t i;

	(void)state;
	/* repeats 8: a loop ends at its 8th echo; 7 are answered. */
	memset(&e, 0, sizeof(e));
	assert_false(arrive(&e, hello, 5000, LOOPGUARD_REPEATS));	/* forged */
	for (i = 1; i < LOOPGUARD_REPEATS; i++) {
		assert_false(arrive(&e, hello, 5000 + i, LOOPGUARD_REPEATS));
		assert_int_equal(e.loop.count[slot(hello)], i);
	}
	assert_true(arrive(&e, hello, 5008, LOOPGUARD_REPEATS));
	/* Dropped until the window from the last reply (5007) has passed... */
	assert_true(arrive(&e, hello, 5257, LOOPGUARD_REPEATS));
	/* ... then answered (a client's retry), and counted from 0 again. */
	assert_false(arrive(&e, hello, 5258, LOOPGUARD_REPEATS));
	assert_int_equal(e.loop.count[slot(hello)], 0);
	assert_false(arrive(&e, hello, 5300, LOOPGUARD_REPEATS));
	assert_int_equal(e.loop.count[slot(hello)], 1);
}

/*
 * The case one remembered reply missed: 2 and 4 loops with one peer,
 * interleaved, each echo arriving after our reply to another payload.
 * Each is counted in its own slot and dropped at its 8th echo.
 */
static void
test_loop_interleaved(void **state)
{
	uint64_t h[LOOPGUARD_SLOTS];
	int at[LOOPGUARD_SLOTS], n, i;

	(void)state;
	payloads_apart(h, LOOPGUARD_SLOTS);
	for (n = 1; n <= LOOPGUARD_SLOTS; n++) {
		interleave(h, n, LOOPGUARD_REPEATS, at);
		for (i = 0; i < n; i++)
			assert_int_equal(at[i], LOOPGUARD_REPEATS);
	}
	/* Another count: the same. */
	interleave(h, 2, 3, at);
	assert_int_equal(at[0], 3);
	assert_int_equal(at[1], 3);
}

/*
 * t_udpguard.py's storms between two daemons use these payloads (the
 * replies to its forged lower-case datagrams): they must be in different
 * slots for the storms to end by the count alone; pick others if the hash
 * changes.
 */
static void
test_loop_storm_payloads(void **state)
{
	static const char *p[] = { "STORM HELLO", "STORM ONE", "STORM TWO" };
	uint64_t h[3];
	int at[3], i, j;

	(void)state;
	for (i = 0; i < 3; i++)
		h[i] = hash_str(p[i]);
	for (i = 0; i < 3; i++)
		for (j = 0; j < i; j++)
			assert_int_not_equal(slot(h[i]), slot(h[j]));
	interleave(h, 3, LOOPGUARD_REPEATS, at);
	for (i = 0; i < 3; i++)
		assert_int_equal(at[i], LOOPGUARD_REPEATS);
	/* t_udpguard.py's shared-slot storm: these two do share one. */
	assert_int_equal(slot(hash_str("STORM ONE")), slot(hash_str("STORM THREE")));
}

/*
 * The limit: loops whose payloads share a slot take it from each other
 * and are not counted; once one of them is lost (a rate-limit drop), the
 * other is alone in the slot and is dropped after 8 more echoes.
 */
/* The two slots a reply may take, as loopguard.c picks them. */
static void
slots(uint64_t h, unsigned s[2])
{
	s[0] = (unsigned)(h % LOOPGUARD_SLOTS);
	s[1] = (unsigned)(h / LOOPGUARD_SLOTS % LOOPGUARD_SLOTS);
	if (s[1] == s[0])
		s[1] = (s[0] + 1) % LOOPGUARD_SLOTS;
}

/* A "LOOP i" payload other than the one hashed to a whose two slots are a's. */
static uint64_t
same_slots(uint64_t a, uint64_t not)
{
	unsigned sa[2], sb[2];
	char buf[32];

	slots(a, sa);
	for (int i = 1; i < 100000; i++) {
		uint64_t h;

		snprintf(buf, sizeof(buf), "LOOP %d", i);
		h = hash_str(buf);
		slots(h, sb);
		if (h != a && h != not && sb[0] == sa[0] && sb[1] == sa[1])
			return h;
	}
	fail_msg("no payload shares both slots");
	return 0;
}

/* Two loops whose first slot is one: the second takes its other slot, and both end. */
static void
test_loop_shared_slot(void **state)
{
	struct src_entry e;
	uint64_t a = hash_str("LOOP 0"), b = same_slots(a, 0), now = 7000;
	int r;

	(void)state;
	memset(&e, 0, sizeof(e));
	/* Round 0 answers both; 7 echoes of each are answered, the 8th dropped. */
	for (r = 0; r < LOOPGUARD_REPEATS; r++) {
		assert_false(arrive(&e, a, now++, LOOPGUARD_REPEATS));
		assert_false(arrive(&e, b, now++, LOOPGUARD_REPEATS));
	}
	assert_true(arrive(&e, a, now++, LOOPGUARD_REPEATS));
	assert_true(arrive(&e, b, now++, LOOPGUARD_REPEATS));
	/* Ended loops stay dropped while their echoes come within the window. */
	assert_true(arrive(&e, a, now++, LOOPGUARD_REPEATS));
}

/* A payload its slot does not hold changes no other slot's count. */
static void
test_loop_slots_apart(void **state)
{
	struct src_entry e;
	uint64_t h[LOOPGUARD_SLOTS], lower = hash_str("loop 0"), x;
	int i;

	(void)state;
	payloads_apart(h, LOOPGUARD_SLOTS);
	memset(&e, 0, sizeof(e));
	assert_false(arrive(&e, h[0], 8000, LOOPGUARD_REPEATS));
	for (i = 1; i <= 5; i++)
		assert_false(arrive(&e, h[0], 8000 + i, LOOPGUARD_REPEATS));
	assert_int_equal(e.loop.count[slot(h[0])], 5);
	/* Other upper-case payloads, in every other slot, again and again. */
	for (i = 0; i < 20; i++)
		assert_false(arrive(&e, h[1 + i % 3], 8010 + i, LOOPGUARD_REPEATS));
	/* A payload of h[0]'s slot that it does not hold. */
	x = h[0] ^ (uint64_t)1 << 63;
	assert_false(loopguard_is_echo(&e, x, 8030, LOOPGUARD_WINDOW_MS,
	    LOOPGUARD_REPEATS));
	/* A lower-case payload, answered in upper case: its reply is h[0]. */
	assert_false(loopguard_is_echo(&e, lower, 8031, LOOPGUARD_WINDOW_MS,
	    LOOPGUARD_REPEATS));
	loopguard_sent(&e, h[0], 8031);
	assert_int_equal(e.loop.count[slot(h[0])], 5);
	/* h[0] goes on from 5: answered twice more, dropped at the 8th. */
	assert_false(arrive(&e, h[0], 8040, LOOPGUARD_REPEATS));
	assert_false(arrive(&e, h[0], 8041, LOOPGUARD_REPEATS));
	assert_true(arrive(&e, h[0], 8042, LOOPGUARD_REPEATS));
	/*
	 * While another loop goes on, the window is renewed, and h[0] (a
	 * second loop with the same payload) stays dropped.
	 */
	for (i = 0; i < 20; i++) {
		assert_true(arrive(&e, h[0], 8100 + i * 200, LOOPGUARD_REPEATS));
		assert_false(loopguard_is_echo(&e, lower, 8100 + i * 200 + 1,
		    LOOPGUARD_WINDOW_MS, LOOPGUARD_REPEATS));
		loopguard_sent(&e, h[1], 8100 + i * 200 + 1);
	}
}

/*
 * A third reply for two full slots takes the one with fewer echoes, and
 * an ended loop's slot before that: the loop being counted keeps its.
 */
static void
test_loop_replaced_slot(void **state)
{
	struct src_entry e;
	uint64_t a = hash_str("LOOP 0"), b = same_slots(a, 0), c = same_slots(a, b);
	unsigned s[2];
	int i;

	(void)state;
	slots(a, s);
	memset(&e, 0, sizeof(e));
	for (i = 0; i < 6; i++)
		assert_false(arrive(&e, a, 9000 + i, LOOPGUARD_REPEATS));
	assert_int_equal(e.loop.count[s[0]], 5);
	/* The same reply again keeps the count. */
	loopguard_sent(&e, a, 9010);
	assert_int_equal(e.loop.count[s[0]], 5);
	/* b takes the other slot, c then b's (0 echoes against a's 5). */
	loopguard_sent(&e, b, 9011);
	assert_int_equal(e.loop.hash[s[1]], (uint32_t)(b >> 32));
	loopguard_sent(&e, c, 9012);
	assert_int_equal(e.loop.hash[s[1]], (uint32_t)(c >> 32));
	assert_int_equal(e.loop.count[s[1]], 0);
	assert_false(loopguard_is_echo(&e, b, 9013, LOOPGUARD_WINDOW_MS, LOOPGUARD_REPEATS));
	/* a still counts: 6, 7, then dropped at 8, and its slot may go. */
	assert_false(arrive(&e, a, 9014, LOOPGUARD_REPEATS));
	assert_false(arrive(&e, a, 9015, LOOPGUARD_REPEATS));
	assert_true(arrive(&e, a, 9016, LOOPGUARD_REPEATS));
	for (i = 0; i < 5; i++)		/* c has more echoes than ended a's slot... */
		assert_false(arrive(&e, c, 9017 + i, LOOPGUARD_REPEATS));
	loopguard_sent(&e, b, 9030);	/* ... yet b takes a's ended slot, not c's */
	assert_int_equal(e.loop.hash[s[0]], (uint32_t)(b >> 32));
	assert_int_equal(e.loop.hash[s[1]], (uint32_t)(c >> 32));
	assert_int_equal(e.loop.count[s[1]], 5);
	/* A late datagram finds every loop over: counts start again. */
	assert_false(loopguard_is_echo(&e, c, 9030 + LOOPGUARD_WINDOW_MS + 1,
	    LOOPGUARD_WINDOW_MS, LOOPGUARD_REPEATS));
	assert_int_equal(e.loop.count[s[1]], 0);
}

/*
 * A client sending one upper-case line again and again, each right after
 * our reply: 8 answered, the 9th within the window dropped, answered
 * again after it.
 */
static void
test_loop_client(void **state)
{
	struct src_entry e;
	uint64_t line = hash_str("THE SAME LINE"), now = 20000;
	int i;

	(void)state;
	memset(&e, 0, sizeof(e));
	for (i = 0; i < 8; i++)
		assert_false(arrive(&e, line, now += 2, LOOPGUARD_REPEATS));
	assert_true(arrive(&e, line, now + 2, LOOPGUARD_REPEATS));
	assert_true(arrive(&e, line, now + LOOPGUARD_WINDOW_MS, LOOPGUARD_REPEATS));
	now += LOOPGUARD_WINDOW_MS + 1;
	assert_false(arrive(&e, line, now, LOOPGUARD_REPEATS));
	/* ... and that starts the count again: 7 more quick ones answered. */
	for (i = 0; i < 7; i++)
		assert_false(arrive(&e, line, now += 2, LOOPGUARD_REPEATS));
	assert_true(arrive(&e, line, now + 2, LOOPGUARD_REPEATS));
}

static void
test_loop_slow_client_and_storm(void **state)
{
	struct src_entry e;
	uint64_t hello = hash_str("HELLO");

	(void)state;
	/* A client sending the same upper-case line slower than the window. */
	memset(&e, 0, sizeof(e));
	for (uint64_t t = 10000; t < 20000; t += 251)
		assert_false(arrive(&e, hello, t, LOOPGUARD_REPEATS));
	/* The count saturates: an endless storm stays dropped. */
	e.loop.count[slot(hello)] = UINT8_MAX - 1;
	loopguard_sent(&e, hello, 30000);
	assert_true(loopguard_is_echo(&e, hello, 30001, 250, LOOPGUARD_REPEATS));
	assert_true(loopguard_is_echo(&e, hello, 30002, 250, LOOPGUARD_REPEATS));
	assert_int_equal(e.loop.count[slot(hello)], UINT8_MAX);
	/* More repeats than the count holds count as 255. */
	memset(&e, 0, sizeof(e));
	loopguard_sent(&e, hello, 40000);
	for (int i = 1; i < 255; i++)
		assert_false(loopguard_is_echo(&e, hello, 40000, 250, 1000));
	assert_true(loopguard_is_echo(&e, hello, 40000, 250, 1000));
}

/* ------------------------------------------------------------ counting, listing */

static void
test_key_format(void **state)
{
	struct sockaddr_in6 sin6;
	struct src_key k, none;
	char buf[SRC_KEY_TEXT_MAX];

	(void)state;
	k = key4("192.0.2.77", 5353, 32, false);
	assert_string_equal(src_key_format(&k, buf, sizeof(buf)), "192.0.2.77");
	k = key4("192.0.2.77", 5353, 24, true);
	assert_string_equal(src_key_format(&k, buf, sizeof(buf)), "192.0.2.0/24:5353");
	memset(&sin6, 0, sizeof(sin6));
	sin6.sin6_family = AF_INET6;
	sin6.sin6_port = htons(9);
	assert_int_equal(inet_pton(AF_INET6, "2001:db8:1:2:3::4", &sin6.sin6_addr), 1);
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin6, 32, 56, false, &k), 0);
	assert_string_equal(src_key_format(&k, buf, sizeof(buf)), "2001:db8:1::/56");
	assert_int_equal(src_key_from_sockaddr((struct sockaddr *)&sin6, 32, 128, true, &k), 0);
	assert_string_equal(src_key_format(&k, buf, sizeof(buf)), "[2001:db8:1:2:3::4]:9");
	memset(&none, 0, sizeof(none));
	assert_string_equal(src_key_format(&none, buf, sizeof(buf)), "?");
	/* Cut short, never overrun. */
	assert_string_equal(src_key_format(&k, buf, 6), "[2001");
}

static void
test_count_use_saturates(void **state)
{
	struct srctable *t = srctable_create_seeded(64, SEED);
	struct src_key k = key4("192.0.2.1", 0, 32, false);
	struct src_entry *e;

	(void)state;
	assert_non_null(t);
	e = srctable_get(t, &k, 1);
	assert_non_null(e);
	assert_int_equal(e->seen, 0);
	assert_int_equal(e->limited, 0);
	srctable_count_use(e, false);
	srctable_count_use(e, true);
	srctable_count_use(e, true);
	assert_int_equal(e->seen, 3);
	assert_int_equal(e->limited, 2);
	/* The bucket shares no byte with the counters. */
	assert_int_equal(tbucket_take(&e->bucket, 1, 1, 0, 1), TBUCKET_PASS);
	assert_int_equal(e->seen, 3);
	e->seen = UINT32_MAX - 1;
	e->limited = UINT32_MAX;
	srctable_count_use(e, true);
	srctable_count_use(e, true);
	assert_int_equal(e->seen, UINT32_MAX);
	assert_int_equal(e->limited, UINT32_MAX);
	srctable_free(t);
}

static void
test_next_visits_each_once(void **state)
{
	struct srctable *t = srctable_create_seeded(4096, SEED);
	static uint8_t visited[1000];
	const struct src_entry *e;
	size_t cursor = 0, n = 0;
	char a[32];

	(void)state;
	assert_non_null(t);
	assert_null(srctable_next(t, &cursor));		/* empty */
	for (int i = 0; i < 1000; i++) {
		struct src_key k;

		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		k = key4(a, 0, 32, false);
		assert_non_null(srctable_get(t, &k, (uint64_t)i));
	}
	memset(visited, 0, sizeof(visited));
	cursor = 0;
	while ((e = srctable_next(t, &cursor)) != NULL) {
		int i = e->key.addr[2] * 256 + e->key.addr[3];

		assert_int_equal(e->key.family, 4);
		assert_true(i < 1000);
		visited[i]++;
		n++;
	}
	assert_int_equal(n, srctable_count(t));
	for (int i = 0; i < 1000; i++)
		assert_int_equal(visited[i], 1);
	assert_null(srctable_next(t, &cursor));		/* stays at the end */
	srctable_free(t);
}

static int
busier_qsort(const void *a, const void *b)
{
	return srctable_busier(a, b);
}

static void
test_top(void **state)
{
	struct srctable *t = srctable_create_seeded(1024, SEED);
	static struct src_entry all[300], top[40];
	const struct src_entry *e;
	size_t cursor = 0, n = 0, got;
	char a[32];

	(void)state;
	assert_non_null(t);
	assert_int_equal(srctable_top(t, top, 10), 0);
	for (int i = 0; i < 300; i++) {
		struct src_key k;
		struct src_entry *en;

		snprintf(a, sizeof(a), "198.51.%d.%d", i / 200, i % 200);
		k = key4(a, 0, 32, false);
		en = srctable_get(t, &k, 1);
		assert_non_null(en);
		/* Many ties on seen: limited and open break them, then the key. */
		for (int j = 0; j < (i * 7919) % 37; j++)
			srctable_count_use(en, j % 3 == 0);
		en->open = (uint32_t)(i % 5);
	}
	while ((e = srctable_next(t, &cursor)) != NULL)
		all[n++] = *e;
	assert_int_equal(n, 300);
	qsort(all, n, sizeof(all[0]), busier_qsort);
	for (size_t want = 0; want <= 40; want += 13) {
		got = srctable_top(t, top, want);
		assert_int_equal(got, want);
		for (size_t i = 0; i < got; i++)
			assert_memory_equal(&top[i], &all[i], sizeof(top[i]));
	}
	/* Busiest first, strictly. */
	got = srctable_top(t, top, 40);
	for (size_t i = 1; i < got; i++)
		assert_true(srctable_busier(&top[i - 1], &top[i]) < 0);
	srctable_free(t);
	/* More asked for than there are: all of them. */
	t = srctable_create_seeded(64, SEED);
	for (int i = 0; i < 3; i++) {
		struct src_key k;

		snprintf(a, sizeof(a), "203.0.113.%d", i);
		k = key4(a, 0, 32, false);
		assert_non_null(srctable_get(t, &k, 1));
	}
	assert_int_equal(srctable_top(t, top, 40), 3);
	srctable_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_key_v4),
		cmocka_unit_test(test_key_v6),
		cmocka_unit_test(test_key_mapped_and_port),
		cmocka_unit_test(test_insert_find),
		cmocka_unit_test(test_capacity_and_bytes),
		cmocka_unit_test(test_entry_layout),
		cmocka_unit_test(test_flood),
		cmocka_unit_test(test_lru_one_set),
		cmocka_unit_test(test_lru_in_a_set),
		cmocka_unit_test(test_pinned),
		cmocka_unit_test(test_resize_bigger),
		cmocka_unit_test(test_resize_smaller),
		cmocka_unit_test(test_fit),
		cmocka_unit_test(test_loop_hash),
		cmocka_unit_test(test_loop_window),
		cmocka_unit_test(test_loop_repeats),
		cmocka_unit_test(test_loop_interleaved),
		cmocka_unit_test(test_loop_storm_payloads),
		cmocka_unit_test(test_loop_shared_slot),
		cmocka_unit_test(test_loop_slots_apart),
		cmocka_unit_test(test_loop_replaced_slot),
		cmocka_unit_test(test_loop_client),
		cmocka_unit_test(test_loop_slow_client_and_storm),
		cmocka_unit_test(test_key_format),
		cmocka_unit_test(test_count_use_saturates),
		cmocka_unit_test(test_next_visits_each_once),
		cmocka_unit_test(test_top),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
