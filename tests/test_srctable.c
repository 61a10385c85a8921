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
	assert_int_equal(e->replied, 0);
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
	assert_int_equal(sizeof(struct src_entry), 64);
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

static void
fill_state(struct src_entry *e, uint32_t i)
{
	e->bucket.spent = i * 7;
	e->bucket.over = i % 5;
	e->bucket.last_ms = 5000 + i;
	e->reply_hash = i * 2654435761u;
	e->reply_ms = 6000 + i;
	e->echoes = (uint16_t)(i % 3);
	e->replied = 1;
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

static void
test_loop_window(void **state)
{
	struct src_entry e;
	uint64_t hello = loopguard_hash("HELLO", 5);
	uint64_t other = loopguard_hash("OTHER", 5);

	(void)state;
	memset(&e, 0, sizeof(e));
	/* Never replied: nothing is an echo, not even a hash of 0. */
	assert_false(loopguard_is_echo(&e, 0, 0, 250, 1));
	assert_false(loopguard_is_echo(&e, hello, 0, 250, 1));

	/* repeats 1: the first echo inside the window (inclusive) drops. */
	loopguard_sent(&e, hello, 1000);
	assert_true(loopguard_is_echo(&e, hello, 1250, 250, 1));
	assert_false(loopguard_is_echo(&e, other, 1000, 250, 1));
	assert_false(loopguard_is_echo(&e, hello, 1251, 250, 1));
	/* A clock read before the reply's is inside the window. */
	assert_true(loopguard_is_echo(&e, hello, 900, 250, 0));

}

static void
test_loop_repeats(void **state)
{
	struct src_entry e;
	uint64_t hello = loopguard_hash("HELLO", 5);
	uint64_t other = loopguard_hash("OTHER", 5);

	(void)state;
	/* repeats 4: a loop ends at its 4th echo; 3 are answered. */
	memset(&e, 0, sizeof(e));
	assert_false(loopguard_is_echo(&e, hello, 5000, 250, 4)); /* forged */
	loopguard_sent(&e, hello, 5000);
	assert_false(loopguard_is_echo(&e, hello, 5001, 250, 4));
	loopguard_sent(&e, hello, 5001);
	assert_false(loopguard_is_echo(&e, hello, 5002, 250, 4));
	loopguard_sent(&e, hello, 5002);
	assert_false(loopguard_is_echo(&e, hello, 5003, 250, 4));
	loopguard_sent(&e, hello, 5003);
	assert_true(loopguard_is_echo(&e, hello, 5004, 250, 4));
	/* Dropped until the window from the last reply has passed... */
	assert_true(loopguard_is_echo(&e, hello, 5253, 250, 4));
	/* ... then answered (a client's retry), and counted from 0 again. */
	assert_false(loopguard_is_echo(&e, hello, 5254, 250, 4));
	assert_int_equal(e.echoes, 0);
	loopguard_sent(&e, hello, 5254);
	assert_false(loopguard_is_echo(&e, hello, 5300, 250, 4));
	assert_int_equal(e.echoes, 1);

	/* Another payload in between resets the count. */
	memset(&e, 0, sizeof(e));
	loopguard_sent(&e, hello, 6000);
	assert_false(loopguard_is_echo(&e, hello, 6001, 250, 2));
	loopguard_sent(&e, hello, 6001);
	assert_false(loopguard_is_echo(&e, other, 6002, 250, 2));
	loopguard_sent(&e, other, 6002);
	assert_false(loopguard_is_echo(&e, hello, 6003, 250, 2));
	loopguard_sent(&e, hello, 6003);
	assert_false(loopguard_is_echo(&e, hello, 6004, 250, 2));
	loopguard_sent(&e, hello, 6004);
	assert_true(loopguard_is_echo(&e, hello, 6005, 250, 2));

}

static void
test_loop_slow_client_and_storm(void **state)
{
	struct src_entry e;
	uint64_t hello = loopguard_hash("HELLO", 5);

	(void)state;
	/* A client sending the same upper-case line slower than the window. */
	memset(&e, 0, sizeof(e));
	for (uint64_t t = 10000; t < 20000; t += 251) {
		assert_false(loopguard_is_echo(&e, hello, t, LOOPGUARD_WINDOW_MS,
		    LOOPGUARD_REPEATS));
		loopguard_sent(&e, hello, t);
	}
	/* The count saturates: an endless storm stays dropped. */
	e.echoes = UINT16_MAX - 1;
	loopguard_sent(&e, hello, 30000);
	assert_true(loopguard_is_echo(&e, hello, 30001, 250, 4));
	assert_true(loopguard_is_echo(&e, hello, 30002, 250, 4));
	assert_int_equal(e.echoes, UINT16_MAX);
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
		cmocka_unit_test(test_loop_slow_client_and_storm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
