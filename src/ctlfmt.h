/* SPDX-License-Identifier: ISC */
/*
 * ctlfmt.h: how upcase prints a listing from the control socket
 * (--connections, --sources): aligned columns for a reader, or JSON, one
 * object per line, for a program.  Pure: text in, text out.
 *
 * A listing (listing.h) is a header line, "#" and the field names
 * separated by tabs, then one line per row, its fields separated by
 * tabs.  Other lines that start with "#" are remarks (a worker ran out of
 * memory: the listing is incomplete); a line "error: ..." is the daemon's
 * refusal.
 *
 * Text: one line of upper-cased names, then the rows; each column as wide
 * as its widest value, two spaces apart; a column whose name ends in
 * "_ms" is shown in seconds with one decimal, under its name without
 * "_ms"; columns of numbers are aligned right.
 * JSON: {"name": value, ...} per row (JSON Lines), in header order; a
 * value of digits is a number, "-" is null, anything else a string
 * (ASCII only: other bytes are escaped as \u00XX); a row short of fields
 * has null for the missing ones.
 */
#ifndef UPCASE_CTLFMT_H
#define UPCASE_CTLFMT_H

#include <stdbool.h>
#include <stddef.h>

enum ctlfmt_result {
	CTLFMT_OK,
	CTLFMT_INCOMPLETE,    /* printed, but the daemon said it is incomplete (msg) */
	CTLFMT_REFUSED,       /* the daemon answered "error: ..." (msg) */
	CTLFMT_NOT_LISTING,   /* no header line: not an answer to a listing */
	CTLFMT_NOMEM,
};

/*
 * Render in[0 .. len-1] (json or text) into *out, a malloc'd, NUL-ended
 * string of *outlen bytes (the caller frees it; NULL unless OK or
 * INCOMPLETE).  msg gets the daemon's words for INCOMPLETE and REFUSED.
 */
enum ctlfmt_result ctlfmt_render(const char *in, size_t len, bool json, char **out,
    size_t *outlen, char *msg, size_t msglen);

#endif
