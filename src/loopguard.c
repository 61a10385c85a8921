/* SPDX-License-Identifier: ISC */
/*
 * loopguard.c: the payload hash and the echo rule of loopguard.h.
 *
 * The hash follows wyhash (final version 4, by Wang Yi, public domain):
 * 64x64->128-bit multiplies folded back to 64 bits, three independent
 * lanes over 48-byte blocks so the multiplies overlap.  Words are read
 * in host order: the hash is only compared within one process.
 */
#include "config.h"

#include <string.h>

#include "loopguard.h"

static const uint64_t lg_secret[4] = {
	0x2d358dccaa6c78a5ULL, 0x8bb84b93962eacc9ULL,
	0x4b33a62ed433d4a3ULL, 0x4d5a2da51de1aa47ULL
};

/* a * b as 128 bits: *lo and *hi. */
static inline void
lg_mul(uint64_t a, uint64_t b, uint64_t *lo, uint64_t *hi)
{
#ifdef __SIZEOF_INT128__
	__uint128_t r = (__uint128_t)a * b;

	*lo = (uint64_t)r;
	*hi = (uint64_t)(r >> 64);
#else
	/* 32-bit targets: four 32x32 products. */
	uint64_t ll = (a & 0xffffffff) * (b & 0xffffffff);
	uint64_t lh = (a & 0xffffffff) * (b >> 32);
	uint64_t hl = (a >> 32) * (b & 0xffffffff);
	uint64_t hh = (a >> 32) * (b >> 32);
	uint64_t mid = (ll >> 32) + (lh & 0xffffffff) + (hl & 0xffffffff);

	*lo = (mid << 32) | (ll & 0xffffffff);
	*hi = hh + (lh >> 32) + (hl >> 32) + (mid >> 32);
#endif
}

static inline uint64_t
lg_mix(uint64_t a, uint64_t b)
{
	uint64_t lo, hi;

	lg_mul(a, b, &lo, &hi);
	return lo ^ hi;
}

static inline uint64_t
lg_r8(const uint8_t *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
	return v;
}

static inline uint64_t
lg_r4(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
	return v;
}

/* The blocks of a payload over 16 bytes, down to its last 16 (overlapping). */
static uint64_t
lg_blocks(const uint8_t *p, size_t len, uint64_t seed, uint64_t *a, uint64_t *b)
{
	size_t i = len;
	uint64_t s1, s2;

	if (i > 48) {
		s1 = s2 = seed;
		do {
			seed = lg_mix(lg_r8(p) ^ lg_secret[1],
			    lg_r8(p + 8) ^ seed);
			s1 = lg_mix(lg_r8(p + 16) ^ lg_secret[2],
			    lg_r8(p + 24) ^ s1);
			s2 = lg_mix(lg_r8(p + 32) ^ lg_secret[3],
			    lg_r8(p + 40) ^ s2);
			p += 48;
			i -= 48;
		} while (i > 48);
		seed ^= s1 ^ s2;
	}
	while (i > 16) {
		seed = lg_mix(lg_r8(p) ^ lg_secret[1], lg_r8(p + 8) ^ seed);
		p += 16;
		i -= 16;
	}
	*a = lg_r8(p + i - 16);
	*b = lg_r8(p + i - 8);
	return seed;
}

uint64_t
loopguard_hash(const void *data, size_t len)
{
	const uint8_t *p = data;
	uint64_t seed, a, b, lo, hi;

	seed = lg_mix(lg_secret[0], lg_secret[1]);
	if (len <= 16) {
		if (len >= 4) {
			a = lg_r4(p) << 32 | lg_r4(p + (len >> 3 << 2));
			b = lg_r4(p + len - 4) << 32 |
			    lg_r4(p + len - 4 - (len >> 3 << 2));
		} else if (len > 0) {
			a = (uint64_t)p[0] << 16 | (uint64_t)p[len >> 1] << 8 |
			    p[len - 1];
			b = 0;
		} else
			a = b = 0;
	} else
		seed = lg_blocks(p, len, seed, &a, &b);
	lg_mul(a ^ lg_secret[1], b ^ seed, &lo, &hi);
	return lg_mix(lo ^ lg_secret[0] ^ len, hi ^ lg_secret[1]);
}

/*
 * The two slots a hash may take (from its low bits; always two different
 * ones), and what a slot keeps of it (the top half, never 0: empty).
 */
static inline void
lg_slots(uint64_t h, unsigned s[2])
{
	s[0] = (unsigned)(h % LOOPGUARD_SLOTS);
	s[1] = (unsigned)((h / LOOPGUARD_SLOTS) % LOOPGUARD_SLOTS);
	if (s[1] == s[0])
		s[1] = (s[0] + 1) % LOOPGUARD_SLOTS;
}

/* A slot's count once its loop is ended: its echoes are dropped. */
#define LG_ENDED UINT8_MAX

static inline uint32_t
lg_tag(uint64_t h)
{
	uint32_t tag = (uint32_t)(h >> 32);

	return tag != 0 ? tag : 1;
}

/* The slot of e that holds h, or -1. */
static int
lg_find(const struct src_entry *e, uint64_t h)
{
	unsigned s[2];
	uint32_t tag = lg_tag(h);

	lg_slots(h, s);
	if (e->loop.hash[s[0]] == tag)
		return (int)s[0];
	if (e->loop.hash[s[1]] == tag)
		return (int)s[1];
	return -1;
}

void
loopguard_sent(struct src_entry *e, uint64_t reply_hash, uint64_t now_ms)
{
	unsigned s[2], t;

	e->reply_ms = now_ms;
	if (lg_find(e, reply_hash) != -1)
		return;		/* the same reply again: its count goes on */
	/*
	 * An empty one of its two slots, else one whose loop was ended
	 * (LG_ENDED), else the one with the fewer echoes: a loop being
	 * counted keeps its slot.
	 */
	lg_slots(reply_hash, s);
	if (e->loop.hash[s[0]] == 0)
		t = s[0];
	else if (e->loop.hash[s[1]] == 0)
		t = s[1];
	else if (e->loop.count[s[0]] == LG_ENDED)
		t = s[0];
	else if (e->loop.count[s[1]] == LG_ENDED)
		t = s[1];
	else
		t = e->loop.count[s[1]] < e->loop.count[s[0]] ? s[1] : s[0];
	e->loop.hash[t] = lg_tag(reply_hash);
	e->loop.count[t] = 0;
}

bool
loopguard_is_echo(struct src_entry *e, uint64_t payload_hash, uint64_t now_ms,
    uint32_t window_ms, uint32_t repeats)
{
	uint32_t need = repeats == 0 ? 1 : repeats > UINT8_MAX ? UINT8_MAX :
	    repeats;
	/* A clock read before the reply's counts as no time at all. */
	bool late = now_ms > e->reply_ms && now_ms - e->reply_ms > window_ms;
	int s;

	if (late) {
		/* Nothing answered here within the window: no loop is left. */
		memset(e->loop.count, 0, sizeof(e->loop.count));
		return false;
	}
	if ((s = lg_find(e, payload_hash)) == -1)
		return false;
	if (e->loop.count[s] < LG_ENDED)
		e->loop.count[s]++;
	if (e->loop.count[s] < need)
		return false;
	e->loop.count[s] = LG_ENDED;	/* its echoes are dropped; its slot may go */
	return true;
}
