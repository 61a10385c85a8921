/* SPDX-License-Identifier: ISC */
/*
 * fuzz_steer.c: fuzz target for src/steer.c.
 *
 * The first four bytes choose the socket count (1-65535) and the two
 * prefix lengths; the rest is an IP header as the program sees it.
 * Checked on every input, running the program in tests/bpfrun.h's
 * interpreter: steer_program() accepts exactly the arguments in range
 * and fits in STEER_MAX_INSNS; the program never fails on a header long
 * enough for its version (20 bytes for 4, 40 for 6); for IPv4 and IPv6 it
 * returns an index below the count, the same for the source with the
 * bits past the prefix flipped; for any other version an index no group
 * has.
 */
#include "config.h"

#include <stdint.h>
#include <string.h>

#include "../tests/bpfrun.h"
#include "fuzz.h"
#include "steer.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sock_filter prog[STEER_MAX_INSNS];
	uint8_t h[64], flipped[64];
	unsigned int n;
	int p4, p6, ver;
	size_t len, hl;
	uint32_t r1, r2;

	if (size < 4)
		return 0;
	n = (unsigned int)(data[0] | data[1] << 8);
	p4 = data[2] % 40;
	p6 = data[3] % 140;
	len = steer_program(prog, n, p4, p6);
	if ((len != 0) != (n >= 1 && p4 <= 32 && p6 <= 128))
		fuzz_fail("steer_program(%u, %d, %d) = %zu", n, p4, p6, len);
	if (len == 0)
		return 0;
	if (len > STEER_MAX_INSNS)
		fuzz_fail("%zu instructions", len);
	hl = size - 4 < sizeof(h) ? size - 4 : sizeof(h);
	memcpy(h, data + 4, hl);
	ver = hl > 0 ? h[0] >> 4 : -1;
	if (bpfrun(prog, len, h, hl, NULL, 0, &r1) == -1) {
		if (ver == -1 || (ver == 4 && hl < 16) || (ver == 6 && hl < 24))
			return 0;
		fuzz_fail("the program failed on a %zu-byte header of version %d", hl, ver);
	}
	if (ver != 4 && ver != 6) {
		if (r1 < 65536)
			fuzz_fail("version %d got index %u", ver, r1);
		return 0;
	}
	if (r1 >= n)
		fuzz_fail("index %u of %u", r1, n);
	/* Flip every bit past the prefix of the source: the same index. */
	memcpy(flipped, h, hl);
	{
		size_t at = ver == 4 ? 12 : 8;
		int bits = ver == 4 ? 32 : 128, prefix = ver == 4 ? p4 : p6;

		for (int b = prefix; b < bits; b++)
			flipped[at + (size_t)b / 8] ^= (uint8_t)(0x80 >> (b % 8));
	}
	if (bpfrun(prog, len, flipped, hl, NULL, 0, &r2) == -1 || r2 != r1)
		fuzz_fail("bits past the prefix changed the index (%u, %u)", r1, r2);
	return 0;
}
