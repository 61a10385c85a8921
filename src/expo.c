/* SPDX-License-Identifier: ISC */
/*
 * expo.c: the Prometheus text exposition format (see expo.h).  Pure.
 */
#include "config.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "expo.h"

void
expo_init(struct expo *e, char *buf, size_t cap)
{
	e->buf = buf;
	e->cap = cap;
	e->len = 0;
	e->truncated = cap == 0;
	if (cap > 0)
		buf[0] = '\0';
}

size_t
expo_escape(const char *s, bool help, char *out, size_t outlen)
{
	size_t need = 0, o = 0;
	bool cut = outlen == 0;

	for (; *s != '\0'; s++) {
		char esc = 0;

		if (*s == '\\')
			esc = '\\';
		else if (*s == '\n')
			esc = 'n';
		else if (*s == '"' && !help)
			esc = '"';
		need += esc ? 2 : 1;
		if (cut)
			continue;
		if (o + (esc ? 2 : 1) >= outlen) {
			cut = true;	/* never half an escape */
			continue;
		}
		if (esc) {
			out[o++] = '\\';
			out[o++] = esc;
		} else
			out[o++] = *s;
	}
	if (outlen > 0)
		out[o] = '\0';
	return need;
}

bool
expo_name_ok(const char *name, bool label)
{
	if (name == NULL || name[0] == '\0')
		return false;
	if (label && name[0] == '_' && name[1] == '_')
		return false;	/* reserved for Prometheus itself */
	for (const char *p = name; *p != '\0'; p++) {
		char ch = *p;
		bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || ch == '_' ||
		    (!label && ch == ':') || (p != name && ch >= '0' && ch <= '9');

		if (!ok)
			return false;
	}
	return true;
}

/*
 * A line in pieces: each piece appended at e->len + *at; the line counts
 * only once expo_line_end sees it whole.
 */
struct line {
	struct expo *e;
	size_t at;
	bool full;
};

static void
line_start(struct line *l, struct expo *e)
{
	l->e = e;
	l->at = 0;
	l->full = e->truncated;
}

static void __attribute__((format(printf, 2, 3)))
line_printf(struct line *l, const char *fmt, ...)
{
	struct expo *e = l->e;
	size_t room;
	va_list ap;
	int n;

	if (l->full)
		return;
	room = e->cap - e->len - l->at;
	va_start(ap, fmt);
	n = vsnprintf(e->buf + e->len + l->at, room, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= room)
		l->full = true;
	else
		l->at += (size_t)n;
}

static void
line_escaped(struct line *l, const char *s, bool help)
{
	struct expo *e = l->e;
	size_t room, need;

	if (l->full)
		return;
	room = e->cap - e->len - l->at;
	need = expo_escape(s, help, e->buf + e->len + l->at, room);
	if (need >= room)
		l->full = true;
	else
		l->at += need;
}

static void
line_end(struct line *l)
{
	struct expo *e = l->e;

	line_printf(l, "\n");
	if (l->full) {
		e->truncated = true;
		if (e->cap > 0)
			e->buf[e->len] = '\0';	/* drop the part written */
		return;
	}
	e->len += l->at;
}

void
expo_family(struct expo *e, const char *name, const char *type, const char *help)
{
	struct line l;

	line_start(&l, e);
	line_printf(&l, "# HELP %s ", name);
	line_escaped(&l, help, true);
	line_end(&l);
	line_start(&l, e);
	line_printf(&l, "# TYPE %s %s", name, type);
	line_end(&l);
}

static void
sample_start(struct line *ln, struct expo *e, const char *name, const char *suffix,
    const struct expo_label *l, size_t n)
{
	line_start(ln, e);
	line_printf(ln, "%s%s", name, suffix != NULL ? suffix : "");
	for (size_t i = 0; i < n; i++) {
		line_printf(ln, "%s%s=\"", i == 0 ? "{" : ",", l[i].name);
		line_escaped(ln, l[i].value, false);
		line_printf(ln, "\"%s", i + 1 == n ? "}" : "");
	}
}

void
expo_sample(struct expo *e, const char *name, const char *suffix,
    const struct expo_label *l, size_t n, uint64_t value)
{
	struct line ln;

	sample_start(&ln, e, name, suffix, l, n);
	line_printf(&ln, " %" PRIu64, value);
	line_end(&ln);
}

const char *
expo_decimal(uint64_t value, uint64_t scale, bool trim, char *buf, size_t len)
{
	char frac[24];
	size_t n = 0;
	uint64_t rem = scale > 1 ? value % scale : 0;

	if (scale > 1) {
		/* The fraction's digits, most significant first. */
		for (uint64_t s = scale / 10; s > 0 && n < sizeof(frac) - 1; s /= 10) {
			frac[n++] = (char)('0' + rem / s);
			rem %= s;
		}
		if (trim)
			while (n > 0 && frac[n - 1] == '0')
				n--;
	}
	frac[n] = '\0';
	snprintf(buf, len, "%" PRIu64 "%s%s", scale > 1 ? value / scale : value,
	    n > 0 ? "." : "", frac);
	return buf;
}

void
expo_sample_scaled(struct expo *e, const char *name, const char *suffix,
    const struct expo_label *l, size_t n, uint64_t value, uint64_t scale)
{
	struct line ln;
	char num[48];

	sample_start(&ln, e, name, suffix, l, n);
	line_printf(&ln, " %s", expo_decimal(value, scale, false, num, sizeof(num)));
	line_end(&ln);
}
