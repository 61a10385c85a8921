/* SPDX-License-Identifier: ISC */
/*
 * steer.h: which UDP worker a datagram goes to, when there are several
 * (udp.threads), each with its own socket in one SO_REUSEPORT group.
 *
 * Left to itself the kernel picks the socket by a hash of the source and
 * destination addresses and ports, so a source that sends from many ports
 * reaches every worker, and each worker's per-source rate limit and loop
 * breaker sees only its share: a forger would get udp.threads times the
 * rate.  So upcased attaches a classic BPF program to the group
 * (SO_ATTACH_REUSEPORT_CBPF) that returns the socket's index from the
 * source address alone, cut to the same prefixes that make one source for
 * the rate limit (udp.ipv4_prefix, udp.ipv6_prefix): every datagram of one
 * source reaches the same worker.  A packet that is neither IPv4 nor IPv6
 * gets an index past the group, which makes the kernel fall back to its
 * own hash.
 *
 * The program reads the IP header through the SKF_NET_OFF window (for a
 * UDP socket it otherwise starts at the payload).  An IPv4 source
 * (also on a dual-stack IPv6 socket, where the packet is still IPv4) is
 * masked and multiplied by a 32-bit odd constant, an IPv6 one is masked
 * and its four words folded with xor first; the product's high 16 bits
 * modulo the number of sockets is the index.  Which worker a source gets
 * does not matter, only that it is always the same one while the sockets
 * stay (indices are the order the sockets joined the group, which
 * listener.c keeps as the shards' order).
 *
 * Pure: steer_program() only fills in the instructions; listener.c
 * attaches them; tests/test_steer.c runs them in a small interpreter.
 */
#ifndef UPCASE_STEER_H
#define UPCASE_STEER_H

#include <linux/filter.h>
#include <stddef.h>
#include <stdint.h>

/* Instructions steer_program() writes, at most. */
#define STEER_MAX_INSNS 32

/*
 * The program for nsocks sockets (1 to 65535) and these prefix lengths
 * (0-32, 0-128) into out (room for STEER_MAX_INSNS): returns the number
 * of instructions, or 0 if an argument is out of range.
 */
size_t steer_program(struct sock_filter *out, unsigned int nsocks, int ipv4_prefix,
    int ipv6_prefix);

/* The multiplier of the hash (Knuth's 2^32 / golden ratio, odd). */
#define STEER_MULTIPLIER 2654435761u

#endif
