/* SPDX-License-Identifier: ISC */
/*
 * expo.h: a writer of the Prometheus text exposition format, version
 * 0.0.4 (pure).  It knows the syntax, not our metrics (stats.c does):
 *
 *   # HELP name text          text with \ and newline escaped
 *   # TYPE name counter|gauge|histogram
 *   name{label="value",...} 123
 *
 * label values with \, " and newline escaped.  Everything goes into one
 * caller's buffer; what does not fit is cut at a line's end and the
 * writer remembers it was (expo_truncated), so a reader never gets half a
 * sample.  The caller keeps to the format's rules on names (one family per
 * name, its samples together, counters ending in _total): expo_name_ok()
 * says whether a name is one.
 */
#ifndef UPCASE_EXPO_H
#define UPCASE_EXPO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The Content-Type of what the writer makes. */
#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

struct expo {
	char   *buf;
	size_t  cap;          /* bytes of buf */
	size_t  len;          /* written, always < cap: buf is NUL-terminated */
	bool    truncated;    /* a line did not fit: it and all after were left out */
};

/* One label: name="value". */
struct expo_label {
	const char *name;
	const char *value;
};

void expo_init(struct expo *e, char *buf, size_t cap);

/* "# HELP name help" and "# TYPE name type", type "counter", "gauge" or "histogram". */
void expo_family(struct expo *e, const char *name, const char *type, const char *help);

/*
 * One sample line: name, the n labels (n may be 0), the value.  suffix
 * (may be NULL) is appended to name: "_bucket", "_sum", "_count".
 */
void expo_sample(struct expo *e, const char *name, const char *suffix,
    const struct expo_label *l, size_t n, uint64_t value);

/*
 * The same with a value in units of 1/scale (scale 1, 10, 100, 1000, ...):
 * 1234 with scale 1000 is written "1.234".
 */
void expo_sample_scaled(struct expo *e, const char *name, const char *suffix,
    const struct expo_label *l, size_t n, uint64_t value, uint64_t scale);

/*
 * value / scale as a decimal (scale 1, 10, 100, ...: 1234 with 1000 is
 * "1.234"; trim: trailing zeros of the fraction cut, "0.25", "3600") into
 * buf, NUL-terminated; 32 bytes always do.  Returns buf.
 */
const char *expo_decimal(uint64_t value, uint64_t scale, bool trim, char *buf, size_t len);

/*
 * Escape s for a label value (\ " newline) or, help true, for HELP text
 * (\ newline) into out (outlen bytes, NUL-terminated, cut at a whole
 * escape).  Returns the length the whole escaped string needs: a result
 * >= outlen means out was cut.
 */
size_t expo_escape(const char *s, bool help, char *out, size_t outlen);

/* A metric name ([a-zA-Z_:][a-zA-Z0-9_:]*) or, label true, a label name ([a-zA-Z_][a-zA-Z0-9_]*, not __...). */
bool expo_name_ok(const char *name, bool label);

/* Length written; expo_truncated: whether something was left out. */
static inline size_t
expo_len(const struct expo *e)
{
	return e->len;
}

static inline bool
expo_truncated(const struct expo *e)
{
	return e->truncated;
}

#endif
