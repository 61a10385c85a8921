/* SPDX-License-Identifier: ISC */
/*
 * fuzz_ctlfmt.c: fuzz target for src/ctlfmt.c.
 *
 * The input is a control socket answer, rendered both ways.  Checked on
 * every input: the result is one of the five; output comes exactly with
 * OK and INCOMPLETE, NUL-ended at its length; the JSON is printable ASCII,
 * one line per row, each "{...}"; the text has one line more than there
 * are rows (its header); msg is always a string.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ctlfmt.h"
#include "fuzz.h"

/* Rows: lines after the first that are neither empty nor remarks. */
static size_t
rows(const char *in, size_t len)
{
	size_t n = 0, i = 0, start;
	bool first = true;

	while (i < len) {
		start = i;
		while (i < len && in[i] != '\n')
			i++;
		if (!first && i > start && in[start] != '#')
			n++;
		first = false;
		i++;
	}
	return n;
}

static size_t
lines(const char *s, size_t len)
{
	size_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *in = (const char *)data;
	size_t want = rows(in, size);

	for (int json = 0; json <= 1; json++) {
		char msg[64], *out = (char *)1;
		size_t len = 1;
		enum ctlfmt_result r;

		memset(msg, 'x', sizeof(msg));
		r = ctlfmt_render(in, size, json, &out, &len, msg, sizeof(msg));
		if (memchr(msg, '\0', sizeof(msg)) == NULL)
			fuzz_fail("msg is not a string");
		if (r != CTLFMT_OK && r != CTLFMT_INCOMPLETE) {
			if (r != CTLFMT_REFUSED && r != CTLFMT_NOT_LISTING && r != CTLFMT_NOMEM)
				fuzz_fail("result %d", (int)r);
			if (out != NULL || len != 0)
				fuzz_fail("output with result %d", (int)r);
			continue;
		}
		if (out == NULL || strlen(out) != len)
			fuzz_fail("output length %zu, strlen says otherwise", len);
		if (lines(out, len) != want + !json)
			fuzz_fail("%zu lines for %zu rows (json %d)", lines(out, len), want, json);
		if (json)
			for (size_t i = 0; i < len; i++) {
				unsigned char c = (unsigned char)out[i];

				if (c == '\n') {
					if (i == 0 || out[i - 1] != '}')
						fuzz_fail("a JSON line that does not end in }");
				} else if (c < 0x20 || c > 0x7e)
					fuzz_fail("byte 0x%02x in JSON", c);
				else if ((i == 0 || out[i - 1] == '\n') && c != '{')
					fuzz_fail("a JSON line that does not start with {");
			}
		free(out);
	}
	return 0;
}
