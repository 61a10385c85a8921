/* SPDX-License-Identifier: ISC */
/*
 * bpfrun.h: a classic BPF interpreter for the tests of src/steer.c
 * (tests/test_steer.c, fuzz/fuzz_steer.c), enough of the instruction set
 * for the programs it makes and strict about the rest: an instruction it
 * does not know, a jump out of the program, a load outside the packet, a
 * division by zero, or falling off the end fails the run (-1), where the
 * kernel's checker would have refused the program or dropped the packet.
 *
 * The packet is what a UDP socket's reuseport program sees: loads at
 * SKF_NET_OFF + k read byte k of the IP header (net, netlen); other
 * loads read the payload (data, len).
 */
#ifndef UPCASE_BPFRUN_H
#define UPCASE_BPFRUN_H

#include <linux/filter.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Read size bytes at k, big-endian, into *v; 0, or -1 outside the packet. */
static int
bpfrun_load(const uint8_t *net, size_t netlen, const uint8_t *data, size_t len,
    uint32_t k, unsigned int size, uint32_t *v)
{
	const uint8_t *p;
	size_t plen, off;

	if (k >= (uint32_t)SKF_NET_OFF) {
		p = net;
		plen = netlen;
		off = k - (uint32_t)SKF_NET_OFF;
	} else if (k < 0x80000000u) {
		p = data;
		plen = len;
		off = k;
	} else
		return -1;
	if (off + size > plen || p == NULL)
		return -1;
	*v = 0;
	for (unsigned int i = 0; i < size; i++)
		*v = (*v << 8) | p[off + i];
	return 0;
}

/* Run prog (n instructions); the returned value into *ret: 0, or -1 (see above). */
static int
bpfrun(const struct sock_filter *prog, size_t n, const uint8_t *net, size_t netlen,
    const uint8_t *data, size_t len, uint32_t *ret)
{
	uint32_t a = 0, x = 0, m[BPF_MEMWORDS] = { 0 }, v;
	size_t pc = 0;
	int steps = 0;

	while (pc < n && steps++ < 4096) {
		const struct sock_filter *f = &prog[pc++];
		uint32_t src = BPF_SRC(f->code) == BPF_X ? x : f->k;

		switch (BPF_CLASS(f->code)) {
		case BPF_LD:
			if (BPF_MODE(f->code) == BPF_ABS) {
				unsigned int size = BPF_SIZE(f->code) == BPF_W ? 4 :
				    BPF_SIZE(f->code) == BPF_H ? 2 : 1;
				if (BPF_SIZE(f->code) != BPF_W && BPF_SIZE(f->code) != BPF_H &&
				    BPF_SIZE(f->code) != BPF_B)
					return -1;
				if (bpfrun_load(net, netlen, data, len, f->k, size, &v) == -1)
					return -1;
				a = v;
			} else if (BPF_MODE(f->code) == BPF_IMM)
				a = f->k;
			else if (BPF_MODE(f->code) == BPF_MEM && f->k < BPF_MEMWORDS)
				a = m[f->k];
			else
				return -1;
			break;
		case BPF_ST:
			if (f->k >= BPF_MEMWORDS)
				return -1;
			m[f->k] = a;
			break;
		case BPF_ALU:
			switch (BPF_OP(f->code)) {
			case BPF_ADD: a += src; break;
			case BPF_SUB: a -= src; break;
			case BPF_MUL: a *= src; break;
			case BPF_AND: a &= src; break;
			case BPF_OR:  a |= src; break;
			case BPF_XOR: a ^= src; break;
			case BPF_LSH: if (src >= 32) return -1; a <<= src; break;
			case BPF_RSH: if (src >= 32) return -1; a >>= src; break;
			case BPF_DIV: if (src == 0) return -1; a /= src; break;
			case BPF_MOD: if (src == 0) return -1; a %= src; break;
			case BPF_NEG: a = -a; break;
			default: return -1;
			}
			break;
		case BPF_JMP: {
			bool t;

			if (BPF_OP(f->code) == BPF_JA) {
				if (f->k >= n - pc)
					return -1;
				pc += f->k;
				break;
			}
			switch (BPF_OP(f->code)) {
			case BPF_JEQ: t = a == src; break;
			case BPF_JGT: t = a > src; break;
			case BPF_JGE: t = a >= src; break;
			case BPF_JSET: t = (a & src) != 0; break;
			default: return -1;
			}
			if ((size_t)(t ? f->jt : f->jf) >= n - pc)
				return -1;
			pc += t ? f->jt : f->jf;
			break;
		}
		case BPF_RET:
			*ret = BPF_RVAL(f->code) == BPF_A ? a : f->k;
			return 0;
		case BPF_MISC:
			if (BPF_MISCOP(f->code) == BPF_TAX)
				x = a;
			else
				a = x;
			break;
		default:
			return -1;
		}
	}
	return -1;
}

#endif
