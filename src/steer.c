/* SPDX-License-Identifier: ISC */
/* steer.c: the classic BPF program that sends each UDP source to one worker (see steer.h). */
#include "config.h"

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

#include "steer.h"

/* The mask of word w (0-3) of an address cut to prefix bits. */
static uint32_t
prefix_word(int prefix, int w)
{
	int bits = prefix - 32 * w;

	if (bits <= 0)
		return 0;
	if (bits >= 32)
		return 0xffffffffu;
	return 0xffffffffu << (32 - bits);
}

#define EMIT(c, jt, jf, k) (out[n++] = (struct sock_filter)BPF_JUMP((c), (k), (jt), (jf)))
#define STMT(c, k)         (out[n++] = (struct sock_filter)BPF_STMT((c), (k)))

size_t
steer_program(struct sock_filter *out, unsigned int nsocks, int ipv4_prefix, int ipv6_prefix)
{
	size_t n = 0, v6;

	if (nsocks < 1 || nsocks > 65535 || ipv4_prefix < 0 || ipv4_prefix > 32 ||
	    ipv6_prefix < 0 || ipv6_prefix > 128)
		return 0;
	/* 0: A = version, the high nibble of the first byte. */
	STMT(BPF_LD | BPF_B | BPF_ABS, (uint32_t)SKF_NET_OFF + 0);
	STMT(BPF_ALU | BPF_RSH | BPF_K, 4);
	/* 2: IPv4 falls through; else to the IPv6 check (offset filled below). */
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, 0, 0, 4);
	/* IPv4: the source address, bytes 12-15. */
	STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 12);
	STMT(BPF_ALU | BPF_AND | BPF_K, prefix_word(ipv4_prefix, 0));
	STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_MULTIPLIER);
	STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
	STMT(BPF_ALU | BPF_MOD | BPF_K, nsocks);
	STMT(BPF_RET | BPF_A, 0);
	v6 = n;
	out[2].jf = (uint8_t)(v6 - 3);
	/* Not 6 either: past the group, so the kernel's own hash decides. */
	EMIT(BPF_JMP | BPF_JEQ | BPF_K, 1, 0, 6);
	STMT(BPF_RET | BPF_K, 0xffffffffu);
	/* IPv6: the source address, bytes 8-23, four words folded with xor. */
	STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8);
	STMT(BPF_ALU | BPF_AND | BPF_K, prefix_word(ipv6_prefix, 0));
	STMT(BPF_MISC | BPF_TAX, 0);
	for (int w = 1; w < 4; w++) {
		STMT(BPF_LD | BPF_W | BPF_ABS, (uint32_t)SKF_NET_OFF + 8 + 4 * (uint32_t)w);
		STMT(BPF_ALU | BPF_AND | BPF_K, prefix_word(ipv6_prefix, w));
		STMT(BPF_ALU | BPF_XOR | BPF_X, 0);
		STMT(BPF_MISC | BPF_TAX, 0);
	}
	STMT(BPF_MISC | BPF_TXA, 0);
	STMT(BPF_ALU | BPF_MUL | BPF_K, STEER_MULTIPLIER);
	STMT(BPF_ALU | BPF_RSH | BPF_K, 16);
	STMT(BPF_ALU | BPF_MOD | BPF_K, nsocks);
	STMT(BPF_RET | BPF_A, 0);
	return n;
}
