/* SPDX-License-Identifier: ISC */
/* test_steer.c: the UDP steering program (steer.c), run in tests/bpfrun.h's interpreter. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "bpfrun.h"
#include "steer.h"

/* An IPv4 or IPv6 header with source address src (text), as the program sees it. */
static size_t
header(const char *src, uint8_t *h)
{
	memset(h, 0, 40);
	if (strchr(src, ':') == NULL) {
		h[0] = 0x45;
		assert_int_equal(inet_pton(AF_INET, src, h + 12), 1);
		inet_pton(AF_INET, "127.0.0.1", h + 16);
		return 20;
	}
	h[0] = 0x60;
	assert_int_equal(inet_pton(AF_INET6, src, h + 8), 1);
	inet_pton(AF_INET6, "::1", h + 24);
	return 40;
}

/* The socket index for a datagram from src, with n sockets and these prefixes. */
static uint32_t
steer(const char *src, unsigned int n, int p4, int p6)
{
	struct sock_filter prog[STEER_MAX_INSNS];
	size_t len = steer_program(prog, n, p4, p6);
	uint8_t h[40], payload[8] = "payload";
	size_t hl = header(src, h);
	uint32_t ret = 0;

	assert_true(len > 0 && len <= STEER_MAX_INSNS);
	assert_int_equal(bpfrun(prog, len, h, hl, payload, sizeof(payload), &ret), 0);
	return ret;
}

static void
test_arguments(void **state)
{
	struct sock_filter prog[STEER_MAX_INSNS];

	(void)state;
	assert_int_equal(steer_program(prog, 0, 32, 56), 0);
	assert_int_equal(steer_program(prog, 65536, 32, 56), 0);
	assert_int_equal(steer_program(prog, 2, 33, 56), 0);
	assert_int_equal(steer_program(prog, 2, -1, 56), 0);
	assert_int_equal(steer_program(prog, 2, 32, 129), 0);
	assert_true(steer_program(prog, 65535, 0, 0) > 0);
	assert_true(steer_program(prog, 1, 32, 128) <= STEER_MAX_INSNS);
}

/* Every index is in range; one socket takes everything. */
static void
test_range(void **state)
{
	char a[64];

	(void)state;
	for (unsigned int n = 1; n <= 9; n++)
		for (int i = 0; i < 256; i++) {
			snprintf(a, sizeof(a), "10.%d.%d.%d", i, (i * 7) & 255, (i * 13) & 255);
			assert_true(steer(a, n, 32, 56) < n);
			snprintf(a, sizeof(a), "2001:db8:%x::%x", i * 97, i);
			assert_true(steer(a, n, 32, 56) < n);
		}
	assert_int_equal(steer("192.0.2.1", 1, 32, 56), 0);
}

/* One source, cut to the prefix, always gets the same index. */
static void
test_prefix(void **state)
{
	(void)state;
	/* /24: the last byte does not matter. */
	for (int i = 0; i < 256; i++) {
		char a[32];

		snprintf(a, sizeof(a), "198.51.100.%d", i);
		assert_int_equal(steer(a, 7, 24, 56), steer("198.51.100.0", 7, 24, 56));
	}
	/* /56: bytes 7 on do not. */
	assert_int_equal(steer("2001:db8:1:200::1", 5, 32, 56), steer("2001:db8:1:2ff:ffff::9", 5, 32, 56));
	assert_int_equal(steer("2001:db8:1:2ff::", 5, 32, 56), steer("2001:db8:1:200::", 5, 32, 56));
	/* /0: everything is one source. */
	assert_int_equal(steer("1.2.3.4", 3, 0, 0), steer("200.1.1.1", 3, 0, 0));
	assert_int_equal(steer("2001:db8::1", 3, 0, 0), steer("fe80::1", 3, 0, 0));
	/* /128 and /32: the whole address, and a different one may differ. */
	{
		bool differ = false;

		for (int i = 1; i < 64 && !differ; i++) {
			char a[64];

			snprintf(a, sizeof(a), "2001:db8::%x", i);
			differ = steer(a, 4, 32, 128) != steer("2001:db8::", 4, 32, 128);
		}
		assert_true(differ);
	}
}

/* Sources spread: 4096 addresses over 4 sockets, each gets 20-30%. */
static void
test_spread(void **state)
{
	unsigned int count4[4] = { 0 }, count6[4] = { 0 };

	(void)state;
	for (int i = 0; i < 4096; i++) {
		char a[64];

		snprintf(a, sizeof(a), "10.0.%d.%d", i / 256, i % 256);
		count4[steer(a, 4, 32, 56)]++;
		snprintf(a, sizeof(a), "2001:db8:%x:%x00::1", i / 256, i % 256);
		count6[steer(a, 4, 32, 56)]++;
	}
	for (int k = 0; k < 4; k++) {
		assert_in_range(count4[k], 820, 1230);
		assert_in_range(count6[k], 820, 1230);
	}
}

/* Not IPv4 or IPv6: an index past any group, so the kernel hashes. */
static void
test_other_versions(void **state)
{
	struct sock_filter prog[STEER_MAX_INSNS];
	size_t len = steer_program(prog, 4, 32, 56);
	uint8_t h[40] = { 0x50 }, payload[4] = { 0 };
	uint32_t ret = 0;

	(void)state;
	assert_int_equal(bpfrun(prog, len, h, sizeof(h), payload, sizeof(payload), &ret), 0);
	assert_true(ret >= 65536);
	/* A header too short to hold the address: the kernel drops, the interpreter fails. */
	h[0] = 0x45;
	assert_int_equal(bpfrun(prog, len, h, 12, payload, sizeof(payload), &ret), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arguments),
		cmocka_unit_test(test_range),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_spread),
		cmocka_unit_test(test_other_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
