/* SPDX-License-Identifier: ISC */
/*
 * ctlfmt.c: listings from the control socket as columns or JSON (see
 * ctlfmt.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctlfmt.h"

#define CTLFMT_MAX_FIELDS 32

struct field {
	const char *p;
	size_t len;
};

struct sbuf {
	char *p;
	size_t len, cap;
	bool failed;
};

static void
sb_add(struct sbuf *b, const char *p, size_t len)
{
	if (b->failed)
		return;
	if (b->cap - b->len <= len) {
		size_t cap = b->cap ? b->cap : 1024;
		char *n;

		while (cap - b->len <= len)
			cap *= 2;
		if ((n = realloc(b->p, cap)) == NULL) {
			b->failed = true;
			return;
		}
		b->p = n;
		b->cap = cap;
	}
	memcpy(b->p + b->len, p, len);
	b->len += len;
	b->p[b->len] = '\0';
}

static void
sb_str(struct sbuf *b, const char *s)
{
	sb_add(b, s, strlen(s));
}

static void
sb_pad(struct sbuf *b, size_t n)
{
	static const char sp[] = "                                ";

	while (n > 0) {
		size_t k = n < sizeof(sp) - 1 ? n : sizeof(sp) - 1;

		sb_add(b, sp, k);
		n -= k;
	}
}

/* Split line[0 .. len-1] at tabs into at most CTLFMT_MAX_FIELDS fields. */
static size_t
split(const char *line, size_t len, struct field *f)
{
	size_t n = 0, start = 0;

	for (size_t i = 0; i <= len && n < CTLFMT_MAX_FIELDS; i++)
		if (i == len || line[i] == '\t') {
			f[n].p = line + start;
			f[n].len = i - start;
			n++;
			start = i + 1;
		}
	return n;
}

/* A JSON number: digits, no leading zero (but "0"), at most 19 of them. */
static bool
is_number(const struct field *f)
{
	if (f->len == 0 || f->len > 19 || (f->p[0] == '0' && f->len > 1))
		return false;
	for (size_t i = 0; i < f->len; i++)
		if (f->p[i] < '0' || f->p[i] > '9')
			return false;
	return true;
}

static bool
is_ms(const struct field *name)
{
	return name->len > 3 && memcmp(name->p + name->len - 3, "_ms", 3) == 0;
}

static void
json_string(struct sbuf *b, const char *p, size_t len)
{
	sb_add(b, "\"", 1);
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)p[i];
		char esc[8];

		if (c == '"' || c == '\\') {
			esc[0] = '\\';
			esc[1] = (char)c;
			sb_add(b, esc, 2);
		} else if (c < 0x20 || c >= 0x7f) {
			snprintf(esc, sizeof(esc), "\\u%04x", c);
			sb_add(b, esc, 6);
		} else
			sb_add(b, (const char *)&c, 1);
	}
	sb_add(b, "\"", 1);
}

static void
json_row(struct sbuf *b, const struct field *names, size_t nnames,
    const struct field *v, size_t nv)
{
	sb_add(b, "{", 1);
	for (size_t i = 0; i < nnames; i++) {
		if (i > 0)
			sb_add(b, ",", 1);
		json_string(b, names[i].p, names[i].len);
		sb_add(b, ":", 1);
		if (i >= nv || (v[i].len == 1 && v[i].p[0] == '-'))
			sb_str(b, "null");
		else if (is_number(&v[i]))
			sb_add(b, v[i].p, v[i].len);
		else
			json_string(b, v[i].p, v[i].len);
	}
	sb_add(b, "}\n", 2);
}

/* A text cell: milliseconds as seconds with one decimal. */
static size_t
cell(const struct field *name, const struct field *v, char *buf, size_t buflen)
{
	size_t n;

	if (is_ms(name) && is_number(v)) {
		unsigned long long ms = strtoull(v->p, NULL, 10);
		int k = snprintf(buf, buflen, "%llu.%llu", ms / 1000, ms % 1000 / 100);

		return k > 0 ? (size_t)k : 0;
	}
	n = v->len < buflen ? v->len : buflen - 1;
	/* Nothing that would move a terminal's cursor or end a C string. */
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)v->p[i];

		buf[i] = ch < 0x20 || ch == 0x7f ? '?' : (char)ch;
	}
	return n;
}

/* The lines of in: calls back with each (without its newline). */
struct lines {
	const char *p, *end;
};

static bool
next_line(struct lines *l, const char **line, size_t *len)
{
	const char *nl;

	if (l->p >= l->end)
		return false;
	nl = memchr(l->p, '\n', (size_t)(l->end - l->p));
	*line = l->p;
	*len = (size_t)((nl ? nl : l->end) - l->p);
	l->p = nl ? nl + 1 : l->end;
	return true;
}

enum ctlfmt_result
ctlfmt_render(const char *in, size_t len, bool json, char **out, size_t *outlen,
    char *msg, size_t msglen)
{
	struct field names[CTLFMT_MAX_FIELDS], v[CTLFMT_MAX_FIELDS];
	size_t width[CTLFMT_MAX_FIELDS] = { 0 }, nnames = 0, nv, llen;
	bool numeric[CTLFMT_MAX_FIELDS];
	char hdr[CTLFMT_MAX_FIELDS][64], c[64];
	struct lines l = { in, in + len };
	struct sbuf b = { 0 };
	enum ctlfmt_result r = CTLFMT_OK;
	const char *line;
	size_t hlen[CTLFMT_MAX_FIELDS];

	*out = NULL;
	*outlen = 0;
	if (msglen > 0)
		msg[0] = '\0';
	/* The header, after nothing but an error line, if any. */
	if (!next_line(&l, &line, &llen))
		return CTLFMT_NOT_LISTING;
	if (llen >= 7 && memcmp(line, "error: ", 7) == 0) {
		snprintf(msg, msglen, "%.*s", (int)(llen - 7), line + 7);
		return CTLFMT_REFUSED;
	}
	if (llen < 2 || line[0] != '#')
		return CTLFMT_NOT_LISTING;
	sb_add(&b, "", 0);	/* no rows is an empty string, not NULL */
	nnames = split(line + 1, llen - 1, names);
	for (size_t i = 0; i < nnames; i++) {
		size_t n = names[i].len - (is_ms(&names[i]) ? 3 : 0);

		if (n >= sizeof(hdr[i]))
			n = sizeof(hdr[i]) - 1;
		for (size_t j = 0; j < n; j++) {
			char ch = names[i].p[j];

			hdr[i][j] = ch >= 'a' && ch <= 'z' ? (char)(ch - 'a' + 'A') :
			    (unsigned char)ch < 0x20 || ch == 0x7f ? '?' : ch;
		}
		hlen[i] = n;
		width[i] = n;
		numeric[i] = true;
	}
	/* First pass: widths, which columns are numbers, remarks. */
	while (next_line(&l, &line, &llen)) {
		if (llen > 0 && line[0] == '#') {
			snprintf(msg, msglen, "%.*s", (int)(llen - 1), line + 1);
			r = CTLFMT_INCOMPLETE;
			continue;
		}
		if (llen == 0)
			continue;
		nv = split(line, llen, v);
		for (size_t i = 0; i < nnames && i < nv; i++) {
			size_t w = cell(&names[i], &v[i], c, sizeof(c));

			if (w > width[i])
				width[i] = w;
			if (!is_number(&v[i]))
				numeric[i] = false;
		}
	}
	if (!json) {
		for (size_t i = 0; i < nnames; i++) {
			size_t pad = width[i] - hlen[i];

			if (numeric[i])
				sb_pad(&b, pad);
			sb_add(&b, hdr[i], hlen[i]);
			if (i + 1 < nnames)
				sb_pad(&b, numeric[i] ? 2 : pad + 2);
		}
		sb_add(&b, "\n", 1);
	}
	l.p = in;
	(void)next_line(&l, &line, &llen);	/* the header again */
	while (next_line(&l, &line, &llen)) {
		if (llen == 0 || line[0] == '#')
			continue;
		nv = split(line, llen, v);
		if (json) {
			json_row(&b, names, nnames, v, nv);
			continue;
		}
		for (size_t i = 0; i < nnames; i++) {
			size_t w = i < nv ? cell(&names[i], &v[i], c, sizeof(c)) : 0;

			if (numeric[i])
				sb_pad(&b, width[i] - w);
			sb_add(&b, c, w);
			if (i + 1 < nnames)
				sb_pad(&b, numeric[i] ? 2 : width[i] - w + 2);
		}
		sb_add(&b, "\n", 1);
	}
	if (b.failed || b.p == NULL) {
		free(b.p);
		return CTLFMT_NOMEM;
	}
	*out = b.p;
	*outlen = b.len;
	return r;
}
