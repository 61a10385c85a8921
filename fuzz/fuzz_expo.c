/* SPDX-License-Identifier: ISC */
/*
 * fuzz_expo.c: fuzz target for src/expo.c.
 *
 * The input (NULs cut out) is a label value, a HELP text and, from its
 * first bytes, a buffer size and a number.  Checked on every input:
 *  - expo_escape says how long the escaped text is, and at that size
 *    writes all of it; unescaped by the format's rules (\\ \" \n) it is the
 *    input again, and it holds no raw newline, and for a label value no
 *    unescaped quote; any smaller buffer gets a prefix of it, cut at a
 *    whole escape, NUL-terminated, nothing written past the size;
 *  - a family and a sample written with the label make exactly three
 *    lines; the sample line re-parses (name, {l="..."}, value) to the
 *    same value and number;
 *  - in a buffer of the size the input asks for, what is written is a
 *    prefix of the whole of whole lines, and truncated says whether
 *    something was left out;
 *  - expo_decimal of the number at scales 1 to 10^6 reads back (strtoull
 *    of the digits without the point) as the number.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expo.h"
#include "fuzz.h"

#define GUARD 8

/* Undo the label escapes of s[0 .. n-1] into out; -1 if an escape is bad or a quote is raw. */
static long
unescape(const char *s, size_t n, bool help, char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n')
			return -1;
		if (s[i] == '"' && !help)
			return -1;
		if (s[i] != '\\') {
			out[o++] = s[i];
			continue;
		}
		if (++i == n)
			return -1;
		if (s[i] == 'n')
			out[o++] = '\n';
		else if (s[i] == '\\' || (s[i] == '"' && !help))
			out[o++] = s[i];
		else
			return -1;
	}
	return (long)o;
}

static void
check_escape(const char *text, size_t len, bool help)
{
	size_t need = expo_escape(text, help, NULL, 0);
	char *full = xmalloc(need + 1), *back = xmalloc(len + 1), *cut;

	if (expo_escape(text, help, full, need + 1) != need || strlen(full) != need)
		fuzz_fail("escape: told %zu, wrote %zu", need, strlen(full));
	if (unescape(full, need, help, back) != (long)len || memcmp(back, text, len) != 0)
		fuzz_fail("escape: does not read back");
	cut = xmalloc(need + 1 + GUARD);
	for (size_t n = 1; n <= need && n < 64; n++) {
		size_t got;

		memset(cut, 'X', need + 1 + GUARD);
		expo_escape(text, help, cut, n);
		got = strlen(cut);
		if (got >= n || memcmp(cut, full, got) != 0)
			fuzz_fail("escape: cut at %zu is not a prefix", n);
		if (unescape(cut, got, help, back) == -1)
			fuzz_fail("escape: cut at %zu in an escape", n);
		for (size_t i = n; i < n + GUARD; i++)
			if (cut[i] != 'X')
				fuzz_fail("escape: wrote past %zu", n);
	}
	free(cut);
	free(back);
	free(full);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = xmalloc(size + 1), *buf, *line, *back;
	size_t len = 0, cap, flen;
	uint64_t num = 0;
	struct expo e;
	struct expo_label l;
	char dec[32];

	for (size_t i = 0; i < size; i++)
		if (data[i] != '\0')
			text[len++] = (char)data[i];
	text[len] = '\0';
	check_escape(text, len, false);
	check_escape(text, len, true);

	/* The whole: a family and a labelled sample. */
	for (size_t i = 0; i < size && i < 8; i++)
		num = num << 8 | data[i];
	flen = 64 + 4 * len + 64;
	buf = xmalloc(flen + GUARD);
	expo_init(&e, buf, flen);
	expo_family(&e, "m_total", "counter", text);
	l = (struct expo_label){ "l", text };
	expo_sample(&e, "m_total", NULL, &l, 1, num);
	if (expo_truncated(&e))
		fuzz_fail("a buffer of %zu was too small", flen);
	flen = expo_len(&e);
	{
		int lines = 0;

		for (size_t i = 0; i < flen; i++)
			lines += buf[i] == '\n';
		if (lines != 3 || buf[flen - 1] != '\n')
			fuzz_fail("%d lines, not 3", lines);
	}
	line = strrchr(buf, '\n');
	*line = '\0';
	line = strrchr(buf, '\n') + 1;
	*strrchr(buf, '\0') = '\n';
	back = xmalloc(len + 1);
	{
		const char *q;
		char *end;
		uint64_t v;

		if (strncmp(line, "m_total{l=\"", 11) != 0)
			fuzz_fail("sample line starts wrong");
		q = line + 11;
		/* The value ends at the first unescaped quote. */
		while (*q != '"') {
			if (*q == '\\')
				q++;
			q++;
		}
		if (unescape(line + 11, (size_t)(q - line - 11), false, back) != (long)len ||
		    memcmp(back, text, len) != 0)
			fuzz_fail("sample label does not read back");
		if (q[1] != '}' || q[2] != ' ')
			fuzz_fail("sample line: no '} ' after the label");
		v = strtoull(q + 3, &end, 10);
		if (v != num || *end != '\n')
			fuzz_fail("sample value %" PRIu64 " reads back as %" PRIu64, num, v);
	}

	/* A buffer as small as the input says: whole lines, a prefix. */
	cap = size > 0 ? data[0] % (flen + 2) : 0;
	{
		char *small = xmalloc(cap + GUARD);
		size_t got;

		memset(small, 'X', cap + GUARD);
		expo_init(&e, small, cap);
		expo_family(&e, "m_total", "counter", text);
		expo_sample(&e, "m_total", NULL, &l, 1, num);
		got = expo_len(&e);
		if (got > flen || memcmp(small, buf, got) != 0 || (got > 0 && small[got - 1] != '\n'))
			fuzz_fail("cap %zu: not a prefix of whole lines", cap);
		if (expo_truncated(&e) != (got < flen))
			fuzz_fail("cap %zu: truncated %d with %zu of %zu", cap,
			    expo_truncated(&e), got, flen);
		if (cap > 0 && small[got] != '\0')
			fuzz_fail("cap %zu: not NUL-terminated", cap);
		for (size_t i = cap; i < cap + GUARD; i++)
			if (small[i] != 'X')
				fuzz_fail("cap %zu: wrote past it", cap);
		free(small);
	}

	/* Decimals. */
	for (uint64_t scale = 1; scale <= 1000000; scale *= 10) {
		char digits[32];
		size_t n = 0;

		expo_decimal(num, scale, false, dec, sizeof(dec));
		for (const char *p = dec; *p != '\0'; p++)
			if (*p != '.')
				digits[n++] = *p;
		digits[n] = '\0';
		if (strtoull(digits, NULL, 10) != num)
			fuzz_fail("decimal %s of %" PRIu64 " / %" PRIu64, dec, num, scale);
	}
	free(back);
	free(buf);
	free(text);
	return 0;
}
