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
 *  - runfile_kind names every mode built from the first two bytes;
 *  - runfile_pidfile_rule, on facts made from the first byte and the
 *    content's own kind, never lets a file be taken without our lock, on
 *    a path that lost it, or over another's text or running pid, and
 *    says "running" only for a running pid not ours;
 *  - runfile_comm, on the input as a process name and an out buffer as
 *    long as the first byte says (1 to 256), reads only len bytes,
 *    writes a NUL-terminated string of printable ASCII, as long as it
 *    says and as the input (less a final newline) allows, each byte the
 *    input's own where that one is printable.
 */
#include "config.h"

#include <limits.h>
#include <stdbool.h>
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
	if (size >= 1) {
		struct runfile_facts f = {
			.locked = data[0] & 1, .linked = data[0] & 2, .self = data[0] & 4,
			.alive = data[0] & 8, .content = r, .pid = r == RUNFILE_PID ? got : 0,
		};
		enum runfile_verdict v = runfile_pidfile_rule(&f);

		if (!f.linked && v != RUNFILE_RETRY)
			fuzz_fail("rule: %d on a path that lost the file", v);
		if (v == RUNFILE_TAKE && (!f.locked || r == RUNFILE_NOT_PID ||
		    (r == RUNFILE_PID && f.alive && !f.self)))
			fuzz_fail("rule: taken (locked %d, content %d, self %d, alive %d)",
			    f.locked, r, f.self, f.alive);
		if (v == RUNFILE_RUNNING && !(r == RUNFILE_PID && f.alive && !f.self))
			fuzz_fail("rule: running without a running pid of another");
		if (f.linked && !f.locked && v != RUNFILE_RUNNING && v != RUNFILE_STARTING &&
		    v != RUNFILE_LOCKED)
			fuzz_fail("rule: %d for a file somebody else locked", v);
	}
	if (size >= 1) {
		size_t outlen = (size_t)data[0] + 1, want_len, cn;
		size_t text = data[size - 1] == '\n' ? size - 1 : size;
		char *out = xmalloc(outlen);

		cn = runfile_comm(copy, size, out, outlen);
		want_len = text < outlen - 1 ? text : outlen - 1;
		if (cn != want_len || strlen(out) != cn)
			fuzz_fail("runfile_comm: length %zu (strlen %zu), want %zu", cn,
			    strlen(out), want_len);
		for (size_t i = 0; i < cn; i++) {
			bool printable = data[i] >= 0x20 && data[i] < 0x7f;

			if (out[i] != (printable ? (char)data[i] : '?'))
				fuzz_fail("runfile_comm: byte %zu is 0x%02x for 0x%02x", i,
				    (unsigned char)out[i], data[i]);
		}
		free(out);
	}
	free(copy);
	return 0;
}
