/* SPDX-License-Identifier: ISC */
/*
 * fuzz_runfile.c: fuzz target for src/runfile.c.
 *
 * The input is a pidfile's content.  Checked on every input:
 *  - runfile_parse_pid agrees with a plain reading of the rule in
 *    runfile.h (empty; or 1-10 digits, no leading 0, at most INT_MAX, an
 *    optional newline; anything else is not a pid), done with strtoll on
 *    a copy;
 *  - it reads only the len bytes (the copy is allocated at exactly len,
 *    so AddressSanitizer sees a byte too many) and leaves *pid alone
 *    unless it returns RUNFILE_PID;
 *  - a pid it accepts, written back as upcased writes it ("%ld\n"),
 *    parses to the same pid, and is at most RUNFILE_PID_MAX_LEN bytes;
 *  - runfile_kind names every mode built from the first two bytes.
 */
#include "config.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"
#include "runfile.h"

static enum runfile_pid
ref_parse(const uint8_t *data, size_t size, long *pid)
{
	char text[16];
	size_t digits;
	long long v;

	if (size == 0)
		return RUNFILE_EMPTY;
	digits = data[size - 1] == '\n' ? size - 1 : size;
	if (digits == 0 || digits > 10 || data[0] == '0')
		return RUNFILE_NOT_PID;
	for (size_t i = 0; i < digits; i++)
		if (data[i] < '0' || data[i] > '9')
			return RUNFILE_NOT_PID;
	memcpy(text, data, digits);
	text[digits] = '\0';
	v = strtoll(text, NULL, 10);
	if (v > INT_MAX)
		return RUNFILE_NOT_PID;
	*pid = (long)v;
	return RUNFILE_PID;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *copy = xmalloc(size), back[32];
	long got = -7, want = -7;
	enum runfile_pid r, ref;
	int n;

	/* Exactly size bytes: an over-read shows.  An empty input: no byte at all. */
	if (size > 0)
		memcpy(copy, data, size);
	r = runfile_parse_pid(size > 0 ? copy : NULL, size, &got);
	ref = ref_parse(data, size, &want);
	if (r != ref)
		fuzz_fail("runfile_parse_pid: %d, the rule says %d (%zu bytes)", r, ref, size);
	if (r != RUNFILE_PID && got != -7)
		fuzz_fail("runfile_parse_pid wrote *pid (%ld) for a non-pid", got);
	if (r == RUNFILE_PID) {
		if (got != want || got <= 0)
			fuzz_fail("runfile_parse_pid: pid %ld, want %ld", got, want);
		n = snprintf(back, sizeof(back), "%ld\n", got);
		if (n > RUNFILE_PID_MAX_LEN)
			fuzz_fail("pid %ld takes %d bytes, more than RUNFILE_PID_MAX_LEN", got, n);
		want = -7;
		if (runfile_parse_pid(back, (size_t)n, &want) != RUNFILE_PID || want != got)
			fuzz_fail("pid %ld written back does not parse again", got);
	}
	if (size >= 2) {
		mode_t mode = (mode_t)(data[0] | data[1] << 8) << 4;
		const char *k = runfile_kind(mode);

		if (k == NULL || k[0] == '\0')
			fuzz_fail("runfile_kind(0%o) has no name", (unsigned)mode);
	}
	free(copy);
	return 0;
}
