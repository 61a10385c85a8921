/* SPDX-License-Identifier: ISC */
/*
 * transform.c: the upper-casing transformation (see transform.h).
 *
 * The result must equal Python's
 *   data.decode("utf-8", "surrogateescape").upper().encode("utf-8", "surrogateescape")
 * so validation follows Python's strict UTF-8 decoder (no overlongs, no
 * surrogates, nothing above U+10FFFF) and an invalid byte is passed on by
 * itself, decoding resuming at the next byte.  Resuming byte by byte gives
 * the same bytes as Python's "maximal subpart" rule: every byte of a
 * rejected prefix after its lead is a continuation byte, and a
 * continuation byte alone is always invalid.
 *
 * Most traffic is ASCII, so ASCII is upper-cased a 64-bit word at a time;
 * two- and three-byte characters go through tables filled by u8_toupper;
 * only runs with four-byte characters go through u8_toupper itself.
 */
#include "config.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <unicase.h>

#include "transform.h"

/*
 * Longest run of valid UTF-8 given to u8_toupper in one call (a run may
 * end up to 3 bytes past it, on a character boundary).  Its output, at
 * most 3 times as long, is written straight into the caller's buffer.
 */
#define RUN_MAX		4096

#define ONES		0x0101010101010101ULL
#define HIGHS		0x8080808080808080ULL

/* Upper-case the bytes a-z of a word; every other byte is left alone. */
static inline uint64_t
swar_upper(uint64_t w)
{
	uint64_t low7 = w & ~HIGHS;
	/* No byte can carry into its neighbour: 0x7f + 0x1f < 0x100. */
	uint64_t ge_a = low7 + (0x80 - 'a') * ONES;
	uint64_t gt_z = low7 + (0x80 - 'z' - 1) * ONES;
	uint64_t lower = ge_a & ~gt_z & ~w & HIGHS;

	return w ^ (lower >> 2);	/* 0x80 >> 2 == 0x20, the case bit */
}

static inline uint8_t
ascii_upper(uint8_t c)
{
	return (uint8_t)(c - 'a') < 26 ? c ^ 0x20 : c;
}

static inline uint64_t
load64(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, sizeof(w));	/* alignment-safe; compiles to one load */
	return w;
}

static inline void
store64(uint8_t *p, uint64_t w)
{
	memcpy(p, &w, sizeof(w));
}

/* A whole word of ASCII at p: time to go back to the fast path. */
static inline bool
ascii_word_at(const uint8_t *p, size_t left)
{
	return left >= 8 && (load64(p) & HIGHS) == 0;
}

/* False if a three-byte table block could not be allocated (see maps_init). */
static bool map3_ok = true;

/* TRANSFORM_ASCII: map a-z, pass every other byte. */
static size_t
ascii_feed(const uint8_t *in, size_t n, uint8_t *out)
{
	uint64_t a, b, c, d;
	size_t i;

	/* All loads before the stores: in and out may alias for all gcc knows. */
	for (i = 0; n - i >= 32; i += 32) {
		a = load64(in + i);
		b = load64(in + i + 8);
		c = load64(in + i + 16);
		d = load64(in + i + 24);
		store64(out + i, swar_upper(a));
		store64(out + i + 8, swar_upper(b));
		store64(out + i + 16, swar_upper(c));
		store64(out + i + 24, swar_upper(d));
	}
	for (; n - i >= 8; i += 8)
		store64(out + i, swar_upper(load64(in + i)));
	for (; i < n; i++)
		out[i] = ascii_upper(in[i]);
	return n;
}

/* Upper-case the leading ASCII bytes of in; return how many there were. */
static size_t
ascii_prefix(const uint8_t *in, size_t n, uint8_t *out)
{
	uint64_t a, b, c, d;
	size_t i = 0;

	/*
	 * Four words per test, all loaded before any store (in and out may
	 * alias for all gcc knows): twice the speed of one word at a time.
	 */
	while (n - i >= 32) {
		a = load64(in + i);
		b = load64(in + i + 8);
		c = load64(in + i + 16);
		d = load64(in + i + 24);
		if ((a | b | c | d) & HIGHS)
			break;
		store64(out + i, swar_upper(a));
		store64(out + i + 8, swar_upper(b));
		store64(out + i + 16, swar_upper(c));
		store64(out + i + 24, swar_upper(d));
		i += 32;
	}
	for (; n - i >= 8; i += 8) {
		a = load64(in + i);
		if (a & HIGHS)
			break;
		store64(out + i, swar_upper(a));
	}
	for (; i < n && in[i] < 0x80; i++)
		out[i] = ascii_upper(in[i]);
	return i;
}

/*
 * Classify the character at s (n >= 1 bytes available): its length if it
 * is valid, 0 if the available bytes are a valid but incomplete prefix,
 * -1 if s[0] cannot start a valid character here.  The ranges are those
 * of the Unicode well-formed byte sequences table (and of Python).
 */
static int
utf8_char(const uint8_t *s, size_t n)
{
	uint8_t b = s[0], lo = 0x80, hi = 0xbf;
	int i, len;

	if (b < 0x80)
		return 1;
	if (b < 0xc2)
		return -1;	/* continuation byte or overlong lead C0/C1 */
	if (b < 0xe0)
		len = 2;
	else if (b < 0xf0) {
		len = 3;
		if (b == 0xe0)
			lo = 0xa0;	/* overlong */
		else if (b == 0xed)
			hi = 0x9f;	/* surrogates */
	} else if (b < 0xf5) {
		len = 4;
		if (b == 0xf0)
			lo = 0x90;	/* overlong */
		else if (b == 0xf4)
			hi = 0x8f;	/* above U+10FFFF */
	} else
		return -1;
	for (i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return 0;
		if (s[i] < lo || s[i] > hi)
			return -1;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

/*
 * Length of the run of valid characters at in, worth one u8_toupper
 * call.  Short ASCII stretches (spaces, punctuation) stay in the run so
 * that text in other scripts is not cut into words; a whole ASCII word
 * ends it, to go back to the fast path.
 */
static size_t
utf8_run(const uint8_t *in, size_t n)
{
	size_t i = 0;
	int len;

	while (i < n && i < RUN_MAX) {
		if (in[i] < 0x80) {
			if (ascii_word_at(in + i, n - i))
				break;
			i++;
			continue;
		}
		/* Two- and three-byte characters have tables (maps_run). */
		if (in[i] >= 0xc2 && in[i] < (map3_ok ? 0xf0 : 0xe0))
			break;
		if ((len = utf8_char(in + i, n - i)) <= 0)
			break;
		i += (size_t)len;
	}
	return i;
}

/*
 * Upper-case len bytes of valid UTF-8 into out, which has room for
 * 3 * len bytes; return the bytes written.
 */
static size_t
upcase_run(const uint8_t *in, size_t len, uint8_t *out)
{
	size_t cap = 3 * len, rlen = cap;
	uint8_t *r;

	r = u8_toupper(in, len, NULL, NULL, out, &rlen);
	if (r == NULL) {
		/* ENOMEM: better unchanged than lost. */
		memcpy(out, in, len);
		return len;
	}
	if (r != out) {
		/*
		 * libunistring allocated: it found out too small.  No case
		 * mapping grows more than 3 times, so this should not
		 * happen; never write past the caller's bound if it does.
		 */
		if (rlen > cap) {
			memcpy(out, in, len);
			rlen = len;
		} else
			memcpy(out, r, rlen);
		free(r);
	}
	return rlen;
}

/*
 * Two- and three-byte characters (U+0080..U+FFFF: Latin, Greek, Cyrillic,
 * Armenian, Georgian, Vietnamese, fullwidth and circled letters...) are
 * most non-ASCII text.  Their upper case is looked up in tables that
 * u8_toupper itself fills once, so the result is the same as calling it
 * (with no language, no mapping depends on context), at table speed.
 * Three-byte characters are kept in blocks of 64 code points (one per
 * lead and second byte); a block with no mapping at all stays NULL.
 * Four-byte characters go to u8_toupper (utf8_run).
 */
struct map2 {
	uint8_t len;
	uint8_t bytes[6];	/* at most 3 times 2 bytes (U+0390) */
};

struct map3 {
	uint8_t len;
	uint8_t bytes[9];	/* at most 3 times 3 bytes */
};

static struct map2 map2_table[0x800 - 0x80];
static struct map3 *map3_blocks[1 << 10];	/* never freed: they live as long as we do */
static pthread_once_t maps_once = PTHREAD_ONCE_INIT;

static void
maps_init_block3(unsigned k)
{
	struct map3 block[64];
	bool mapped = false;

	for (unsigned j = 0; j < 64; j++) {
		unsigned cp = k << 6 | j;
		uint8_t in[3] = { (uint8_t)(0xe0 | cp >> 12), (uint8_t)(0x80 | (cp >> 6 & 0x3f)),
		    (uint8_t)(0x80 | (cp & 0x3f)) };

		block[j].len = (uint8_t)upcase_run(in, 3, block[j].bytes);
		mapped |= block[j].len != 3 || memcmp(block[j].bytes, in, 3) != 0;
	}
	if (!mapped)
		return;		/* NULL: every character of the block is its own upper case */
	if ((map3_blocks[k] = malloc(sizeof(block))) == NULL)
		map3_ok = false;	/* then three-byte characters go to u8_toupper */
	else
		memcpy(map3_blocks[k], block, sizeof(block));
}

static void
maps_init(void)
{
	for (unsigned cp = 0x80; cp < 0x800; cp++) {
		struct map2 *e = &map2_table[cp - 0x80];
		uint8_t in[2] = { (uint8_t)(0xc0 | cp >> 6), (uint8_t)(0x80 | (cp & 0x3f)) };

		e->len = (uint8_t)upcase_run(in, 2, e->bytes);
	}
	/* U+0800 up (shorter forms are overlong), without the surrogates. */
	for (unsigned k = 0x800 >> 6; k < (1u << 10); k++)
		if (k < (0xd800 >> 6) || k > (0xdfff >> 6))
			maps_init_block3(k);
}

/*
 * Upper-case the run of one-, two- and three-byte characters at in; stop
 * at anything else, or at a whole ASCII word (back to the fast path).
 * Returns the input consumed and adds the output to *o.  The fixed-size
 * copies stay within TRANSFORM_BOUND: at most 3 output bytes per input byte.
 */
static size_t
maps_run(const uint8_t *in, size_t n, uint8_t *out, size_t *o)
{
	size_t i = 0, k = *o;

	while (i < n) {
		uint8_t b = in[i];

		if (b < 0x80) {
			if (ascii_word_at(in + i, n - i))
				break;
			out[k++] = ascii_upper(b);
			i++;
		} else if (b >= 0xc2 && b < 0xe0 && n - i >= 2 && (in[i + 1] & 0xc0) == 0x80) {
			const struct map2 *e =
			    &map2_table[((unsigned)(b & 0x1f) << 6 | (in[i + 1] & 0x3f)) - 0x80];

			memcpy(out + k, e->bytes, sizeof(e->bytes));
			k += e->len;
			i += 2;
		} else if (b >= 0xe0 && b < 0xf0 && map3_ok && utf8_char(in + i, n - i) == 3) {
			const struct map3 *block =
			    map3_blocks[(unsigned)(b & 0x0f) << 6 | (in[i + 1] & 0x3f)];

			if (block == NULL) {
				memcpy(out + k, in + i, 3);
				k += 3;
			} else {
				const struct map3 *e = &block[in[i + 2] & 0x3f];

				memcpy(out + k, e->bytes, sizeof(e->bytes));
				k += e->len;
			}
			i += 3;
		} else
			break;
	}
	*o = k;
	return i;
}

/*
 * Complete the carried prefix with the first bytes of in (n >= 1).
 * Returns the input bytes consumed and sets *olen to the output bytes.
 */
static size_t
carry_resolve(struct transform *t, const uint8_t *in, size_t n, uint8_t *out,
    size_t *olen)
{
	uint8_t buf[4];
	size_t k = t->ncarry, take = sizeof(buf) - k;
	int len;

	if (take > n)
		take = n;
	memcpy(buf, t->carry, k);
	memcpy(buf + k, in, take);
	len = utf8_char(buf, k + take);
	if (len == 0) {
		/* Still incomplete, so take == n < 4 - k: it all fits. */
		memcpy(t->carry + k, in, n);
		t->ncarry += (uint8_t)n;
		*olen = 0;
		return n;
	}
	t->ncarry = 0;
	if (len < 0) {
		/* Pass the prefix; in[0] is read again as a fresh start. */
		memcpy(out, buf, k);
		*olen = k;
		return 0;
	}
	*olen = upcase_run(buf, (size_t)len, out);
	return (size_t)len - k;
}

void
transform_init(struct transform *t, enum transform_charset cs)
{
	memset(t, 0, sizeof(*t));
	t->charset = cs;
	pthread_once(&maps_once, maps_init);
}

size_t
transform_feed(struct transform *t, const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0, len;

	if (t->charset == TRANSFORM_ASCII)
		return ascii_feed(in, n, out);
	if (t->ncarry > 0 && n > 0)
		i = carry_resolve(t, in, n, out, &o);
	while (i < n) {
		len = ascii_prefix(in + i, n - i, out + o);
		i += len;
		o += len;
		if (i == n)
			break;
		if ((len = maps_run(in + i, n - i, out, &o)) > 0) {
			i += len;
			continue;
		}
		if ((len = utf8_run(in + i, n - i)) > 0) {
			o += upcase_run(in + i, len, out + o);
			i += len;
		} else if (utf8_char(in + i, n - i) == 0) {
			/* A valid prefix cut by the end of the chunk. */
			t->ncarry = (uint8_t)(n - i);
			memcpy(t->carry, in + i, n - i);
			break;
		} else
			out[o++] = in[i++];
	}
	return o;
}

size_t
transform_finish(struct transform *t, uint8_t *out)
{
	size_t n = t->ncarry;

	if (n > 0)
		memcpy(out, t->carry, n);
	t->ncarry = 0;
	return n;
}

size_t
transform_buffer(enum transform_charset cs, const uint8_t *in, size_t n,
    uint8_t *out)
{
	struct transform t;
	size_t o;

	transform_init(&t, cs);
	o = transform_feed(&t, in, n, out);
	return o + transform_finish(&t, out + o);
}

int
transform_charset_from_name(const char *name)
{
	if (name == NULL)
		return -1;
	if (strcasecmp(name, "utf-8") == 0 || strcasecmp(name, "utf8") == 0)
		return TRANSFORM_UTF8;
	if (strcasecmp(name, "ascii") == 0)
		return TRANSFORM_ASCII;
	return -1;
}

const char *
transform_charset_name(enum transform_charset cs)
{
	switch (cs) {
	case TRANSFORM_UTF8:
		return "utf-8";
	case TRANSFORM_ASCII:
		return "ascii";
	}
	return "unknown";
}
