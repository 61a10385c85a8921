/* SPDX-License-Identifier: ISC */
/*
 * fuzz.h: the libFuzzer entry point every fuzz target defines.  Built
 * with clang -fsanitize=fuzzer by fuzz/run.sh, or with fuzz/replay.c as
 * a plain program that replays the seed corpus under "make check".
 */
#ifndef UPCASE_FUZZ_H
#define UPCASE_FUZZ_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_fail(const char *, ...)
    __attribute__((format(printf, 1, 2), noreturn));

/*
 * A broken property: say which, then abort() so that libFuzzer saves the
 * input (and the replay test fails).
 */
static inline void
fuzz_fail(const char *fmt, ...)
{
	va_list ap;

	fputs("fuzz: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	abort();
}

/* malloc that never returns NULL (and takes 0). */
static inline void *
xmalloc(size_t n)
{
	void *p = malloc(n > 0 ? n : 1);

	if (p == NULL)
		fuzz_fail("out of memory (%zu bytes)", n);
	return p;
}

#endif
