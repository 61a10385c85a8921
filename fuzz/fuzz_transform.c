/* SPDX-License-Identifier: ISC */
/*
 * fuzz_transform.c: fuzz target for src/transform.c.
 *
 * Input: two header bytes, then the text.  Byte 0, bit 0: the charset
 * (0 utf-8, 1 ascii); bits 1-3: how the text is cut into chunks for the
 * streaming interface.  Byte 1 seeds the chunk sizes.  The seed files
 * use printable headers: "0A" is utf-8 in one chunk, "2A" one byte at a
 * time, "1A" ascii.
 *
 * Checked on every input:
 *  - streaming (transform_feed over the chunks, then transform_finish)
 *    gives the same bytes as transform_buffer in one shot;
 *  - no call writes past TRANSFORM_BOUND (every buffer is allocated at
 *    exactly that size, so AddressSanitizer sees one byte too many);
 *  - utf-8: the output equals a slow reference that validates each
 *    character by the Unicode table of well-formed byte sequences and
 *    upper-cases it alone with u8_toupper, passing invalid bytes as is;
 *  - ascii: only a-z change, into A-Z.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unistr.h>

#include "fuzz.h"
#include "transform.h"

#define HEADER_LEN	2
#define CHUNK_MODES	8

/* Chunk sizes: a small xorshift generator, so a run is reproducible. */
struct chunker {
	unsigned mode;
	uint32_t state;
	size_t   fixed;
};

static uint32_t
chunker_rand(struct chunker *c)
{
	c->state ^= c->state << 13;
	c->state ^= c->state >> 17;
	c->state ^= c->state << 5;
	return c->state;
}

static void
chunker_init(struct chunker *c, uint8_t h0, uint8_t h1)
{
	c->mode = (h0 >> 1) % CHUNK_MODES;
	c->state = 0x9e3779b9u ^ h1;	/* never 0 */
	c->fixed = (size_t)(h1 % 16) + 1;
}

/*
 * Size of the next chunk, at most left.  The modes cover one chunk,
 * single bytes, splits inside characters, empty feeds and chunks longer
 * than transform.c's 4096-byte runs.
 */
static size_t
chunker_next(struct chunker *c, size_t left)
{
	uint32_t r = chunker_rand(c);
	size_t len;

	switch (c->mode) {
	case 0: len = left; break;
	case 1: len = 1; break;
	case 2: len = 1 + r % 4; break;
	case 3: len = r % 9; break;		/* 0: an empty feed */
	case 4: len = 1 + r % 64; break;
	case 5: len = 1 + r % 9000; break;
	case 6: len = c->fixed; break;
	default: len = (r & 1) ? (r >> 1) % 4 : 1 + (r >> 1) % 5000; break;
	}
	return len < left ? len : left;
}

/* Show where two outputs part, then stop. */
static void
fail_diff(const char *what, const uint8_t *a, size_t alen, const uint8_t *b,
    size_t blen)
{
	size_t i, k;

	for (i = 0; i < alen && i < blen && a[i] == b[i]; i++)
		continue;
	fprintf(stderr, "fuzz: %s: lengths %zu and %zu, first difference at "
	    "offset %zu\n  got:", what, alen, blen, i);
	for (k = i; k < alen && k < i + 12; k++)
		fprintf(stderr, " %02x", a[k]);
	fprintf(stderr, "\n want:");
	for (k = i; k < blen && k < i + 12; k++)
		fprintf(stderr, " %02x", b[k]);
	fputc('\n', stderr);
	fuzz_fail("%s: outputs differ", what);
}

/* One call of transform_feed on a copy of the chunk, both exactly sized. */
static size_t
stream_chunk(struct transform *t, const uint8_t *in, size_t len,
    uint8_t *res, size_t o, size_t bound)
{
	uint8_t *chunk = xmalloc(len), *buf = xmalloc(TRANSFORM_BOUND(len));
	size_t w;

	if (len > 0)
		memcpy(chunk, in, len);
	w = transform_feed(t, chunk, len, buf);
	if (w > TRANSFORM_BOUND(len))
		fuzz_fail("transform_feed of %zu bytes wrote %zu", len, w);
	if (w > bound - o)
		fuzz_fail("streaming output passes its bound of %zu bytes", bound);
	if (w > 0)
		memcpy(res + o, buf, w);
	free(buf);
	free(chunk);
	return w;
}

/* The whole input through the streaming interface; returns its output. */
static uint8_t *
stream(enum transform_charset cs, const uint8_t *in, size_t n,
    struct chunker *ch, size_t *outlen)
{
	size_t bound = TRANSFORM_BOUND(n), i = 0, o = 0, len, w;
	uint8_t *res = xmalloc(bound), *tail;
	struct transform t;

	transform_init(&t, cs);
	do {
		len = chunker_next(ch, n - i);
		o += stream_chunk(&t, in + i, len, res, o, bound);
		i += len;
	} while (i < n);
	tail = xmalloc(3);
	if ((w = transform_finish(&t, tail)) > 3)
		fuzz_fail("transform_finish wrote %zu bytes", w);
	if (w > bound - o)
		fuzz_fail("streaming output passes its bound of %zu bytes", bound);
	if (w > 0)
		memcpy(res + o, tail, w);
	free(tail);
	*outlen = o + w;
	return res;
}

/*
 * Table 3-7 of the Unicode Standard, well-formed UTF-8 byte sequences:
 * the lead byte's range, the length, and the range allowed for the second
 * byte.  Every later byte is 80..BF.
 */
static const struct wellformed {
	uint8_t lead_lo, lead_hi;
	uint8_t len;
	uint8_t second_lo, second_hi;
} wellformed[] = {
	{ 0x00, 0x7f, 1, 0x00, 0x00 },	/* U+0000..U+007F */
	{ 0xc2, 0xdf, 2, 0x80, 0xbf },	/* U+0080..U+07FF */
	{ 0xe0, 0xe0, 3, 0xa0, 0xbf },	/* U+0800..U+0FFF */
	{ 0xe1, 0xec, 3, 0x80, 0xbf },	/* U+1000..U+CFFF */
	{ 0xed, 0xed, 3, 0x80, 0x9f },	/* U+D000..U+D7FF */
	{ 0xee, 0xef, 3, 0x80, 0xbf },	/* U+E000..U+FFFF */
	{ 0xf0, 0xf0, 4, 0x90, 0xbf },	/* U+10000..U+3FFFF */
	{ 0xf1, 0xf3, 4, 0x80, 0xbf },	/* U+40000..U+FFFFF */
	{ 0xf4, 0xf4, 4, 0x80, 0x8f },	/* U+100000..U+10FFFF */
};

/* Length of the well-formed character at s (n bytes left), 0 if none. */
static size_t
ref_char_len(const uint8_t *s, size_t n)
{
	const struct wellformed *w;
	size_t k;

	for (w = wellformed; w < wellformed + sizeof(wellformed) / sizeof(*w); w++) {
		if (s[0] < w->lead_lo || s[0] > w->lead_hi)
			continue;
		if (w->len > n)
			return 0;
		if (w->len > 1 && (s[1] < w->second_lo || s[1] > w->second_hi))
			return 0;
		for (k = 2; k < w->len; k++)
			if (s[k] < 0x80 || s[k] > 0xbf)
				return 0;
		return w->len;
	}
	return 0;
}

/* u8_toupper of one character, which must stay within 3 times its length. */
static size_t
ref_upper_char(const uint8_t *s, size_t len, uint8_t *out)
{
	uint8_t buf[16], *r;
	size_t rlen = sizeof(buf);
	ucs4_t uc;

	/* A second opinion on the table: libunistring's strict decoder. */
	if (u8_mbtoucr(&uc, s, len) != (int)len)
		fuzz_fail("reference table and u8_mbtoucr disagree on a "
		    "%zu-byte character", len);
	if ((r = u8_toupper(s, len, NULL, NULL, buf, &rlen)) == NULL)
		fuzz_fail("u8_toupper failed on U+%04X", (unsigned)uc);
	if (rlen > 3 * len)
		fuzz_fail("U+%04X upper-cases to %zu bytes: TRANSFORM_BOUND "
		    "assumes at most 3 times %zu", (unsigned)uc, rlen, len);
	memcpy(out, r, rlen);
	if (r != buf)
		free(r);
	return rlen;
}

/* The slow reference for TRANSFORM_UTF8; out has room for 3 * n bytes. */
static size_t
ref_utf8(const uint8_t *in, size_t n, uint8_t *out)
{
	size_t i = 0, o = 0, len;
	ucs4_t uc;

	while (i < n) {
		if ((len = ref_char_len(in + i, n - i)) == 0) {
			if (u8_mbtoucr(&uc, in + i, n - i) > 0)
				fuzz_fail("u8_mbtoucr accepts a character at "
				    "offset %zu that the reference table rejects", i);
			out[o++] = in[i++];
			continue;
		}
		o += ref_upper_char(in + i, len, out + o);
		i += len;
	}
	return o;
}

static void
check_ascii(const uint8_t *in, size_t n, const uint8_t *out, size_t olen)
{
	size_t i;
	uint8_t want;

	if (olen != n)
		fuzz_fail("ascii: %zu bytes in, %zu out", n, olen);
	for (i = 0; i < n; i++) {
		want = in[i] >= 'a' && in[i] <= 'z' ? (uint8_t)(in[i] - 'a' + 'A') : in[i];
		if (out[i] != want)
			fuzz_fail("ascii: byte %zu: %02x became %02x, want %02x",
			    i, in[i], out[i], want);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t h0 = size > 0 ? data[0] : 0, h1 = size > 1 ? data[1] : 0;
	enum transform_charset cs = (h0 & 1) ? TRANSFORM_ASCII : TRANSFORM_UTF8;
	size_t hlen = size < HEADER_LEN ? size : HEADER_LEN;
	const uint8_t *in = data + hlen;
	size_t n = size - hlen, olen, slen, rlen;
	uint8_t *out, *sout, *rout;
	struct chunker ch;

	if (transform_charset_from_name(transform_charset_name(cs)) != (int)cs)
		fuzz_fail("charset name of %d does not map back", (int)cs);
	out = xmalloc(TRANSFORM_BOUND(n));
	olen = transform_buffer(cs, in, n, out);
	if (olen > TRANSFORM_BOUND(n))
		fuzz_fail("transform_buffer: %zu bytes out of %zu, bound %zu",
		    olen, n, TRANSFORM_BOUND(n));

	chunker_init(&ch, h0, h1);
	sout = stream(cs, in, n, &ch, &slen);
	if (slen != olen || memcmp(sout, out, olen) != 0) {
		fprintf(stderr, "fuzz: chunk mode %u, seed %u\n", ch.mode, h1);
		fail_diff("streaming vs transform_buffer", sout, slen, out, olen);
	}

	if (cs == TRANSFORM_ASCII)
		check_ascii(in, n, out, olen);
	else {
		rout = xmalloc(3 * n);
		rlen = ref_utf8(in, n, rout);
		if (rlen != olen || memcmp(out, rout, olen) != 0)
			fail_diff("transform_buffer vs per-character reference",
			    out, olen, rout, rlen);
		free(rout);
	}
	free(sout);
	free(out);
	return 0;
}
