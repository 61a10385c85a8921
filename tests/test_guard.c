/* SPDX-License-Identifier: ISC */
/*
 * test_guard.c: unit tests for src/guard.c, every verdict for IPv4, IPv6
 * and v4-mapped sources.
 */
#include "config.h"

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "guard.h"

static const uint16_t own[] = { 12000, 12001 };
#define NOWN	(sizeof(own) / sizeof(own[0]))

/* A socket address for numeric text, IPv4 or IPv6. */
static struct sockaddr_storage
sa(const char *text, uint16_t port)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
	}
	return ss;
}

/* The verdict for src:port sent to local (NULL: unknown). */
static enum guard_verdict
check(const char *src, uint16_t port, const char *local)
{
	struct sockaddr_storage s = sa(src, port), l;

	if (local == NULL)
		return guard_check((struct sockaddr *)&s, NULL, own, NOWN);
	l = sa(local, 12000);
	return guard_check((struct sockaddr *)&s, (struct sockaddr *)&l, own,
	    NOWN);
}

#define V(want, src, port, local) \
	assert_string_equal(guard_verdict_name(check(src, port, local)), \
	    guard_verdict_name(want))

static void
test_ok(void **state)
{
	(void)state;
	V(GUARD_OK, "192.0.2.1", 40000, "192.0.2.10");
	V(GUARD_OK, "192.0.2.1", 40000, NULL);
	V(GUARD_OK, "2001:db8::1", 40000, "2001:db8::10");
	V(GUARD_OK, "fe80::1", 40000, "fe80::2");
	V(GUARD_OK, "::ffff:192.0.2.1", 40000, "::ffff:192.0.2.10");
	V(GUARD_OK, "::ffff:192.0.2.1", 40000, NULL);
	/* An address ending in .255 is a host in a /23 or wider. */
	V(GUARD_OK, "192.0.2.255", 40000, "192.0.3.10");
	V(GUARD_OK, "10.0.1.0", 40000, "10.0.0.1");
	V(GUARD_OK, "169.254.1.1", 40000, "169.254.1.2");
	V(GUARD_OK, "1.0.0.0", 40000, NULL);
	V(GUARD_OK, "223.255.255.255", 40000, NULL);
	/* Our own address as the source: a local client. */
	V(GUARD_OK, "192.0.2.10", 40000, "192.0.2.10");
}

static void
test_ports(void **state)
{
	(void)state;
	V(GUARD_LOW_PORT, "192.0.2.1", 0, "192.0.2.10");
	V(GUARD_LOW_PORT, "192.0.2.1", 7, "192.0.2.10");
	V(GUARD_LOW_PORT, "192.0.2.1", 19, "192.0.2.10");
	V(GUARD_LOW_PORT, "192.0.2.1", 1023, "192.0.2.10");
	V(GUARD_OK, "192.0.2.1", 1024, "192.0.2.10");
	V(GUARD_OK, "192.0.2.1", 65535, "192.0.2.10");
	V(GUARD_LOW_PORT, "2001:db8::1", 7, "2001:db8::10");
	V(GUARD_LOW_PORT, "2001:db8::1", 1023, NULL);
	V(GUARD_OK, "2001:db8::1", 1024, NULL);
	V(GUARD_LOW_PORT, "::ffff:192.0.2.1", 19, "::ffff:192.0.2.10");
	V(GUARD_LOW_PORT, "127.0.0.1", 7, "127.0.0.1");
	V(GUARD_OWN_PORT, "192.0.2.1", 12000, "192.0.2.10");
	V(GUARD_OWN_PORT, "192.0.2.1", 12001, NULL);
	V(GUARD_OK, "192.0.2.1", 12002, NULL);
	V(GUARD_OK, "192.0.2.1", 11999, NULL);
	V(GUARD_OWN_PORT, "2001:db8::1", 12000, "2001:db8::10");
	V(GUARD_OWN_PORT, "::ffff:192.0.2.1", 12001, "::ffff:192.0.2.10");
	V(GUARD_OWN_PORT, "127.0.0.1", 12000, "127.0.0.1");
}

static void
test_no_own_ports(void **state)
{
	struct sockaddr_storage s = sa("192.0.2.1", 12000);

	(void)state;
	assert_int_equal(guard_check((struct sockaddr *)&s, NULL, NULL, 0),
	    GUARD_OK);
	s = sa("192.0.2.1", 80);
	assert_int_equal(guard_check((struct sockaddr *)&s, NULL, NULL, 0),
	    GUARD_LOW_PORT);
}

static void
test_bad_source_v4(void **state)
{
	(void)state;
	V(GUARD_BAD_SOURCE, "0.0.0.0", 40000, "192.0.2.10");
	V(GUARD_BAD_SOURCE, "0.1.2.3", 40000, NULL);
	V(GUARD_BAD_SOURCE, "224.0.0.1", 40000, "192.0.2.10");
	V(GUARD_BAD_SOURCE, "239.255.255.255", 40000, NULL);
	V(GUARD_BAD_SOURCE, "240.0.0.1", 40000, NULL);
	V(GUARD_BAD_SOURCE, "255.255.255.254", 40000, NULL);
	V(GUARD_BAD_SOURCE, "255.255.255.255", 40000, "192.0.2.10");
	/* The address decides before the port. */
	V(GUARD_BAD_SOURCE, "255.255.255.255", 7, "192.0.2.10");
	V(GUARD_BAD_SOURCE, "0.0.0.0", 12000, NULL);
}

static void
test_bad_source_v6(void **state)
{
	(void)state;
	V(GUARD_BAD_SOURCE, "::", 40000, "2001:db8::10");
	V(GUARD_BAD_SOURCE, "::", 40000, NULL);
	V(GUARD_BAD_SOURCE, "ff02::1", 40000, "2001:db8::10");
	V(GUARD_BAD_SOURCE, "ff05::1:3", 40000, NULL);
	/* v4-compatible, deprecated */
	V(GUARD_BAD_SOURCE, "::192.0.2.1", 40000, "2001:db8::10");
	V(GUARD_BAD_SOURCE, "::2", 40000, NULL);
	V(GUARD_BAD_SOURCE, "::1:0", 40000, NULL);
}

static void
test_bad_source_mapped(void **state)
{
	(void)state;
	V(GUARD_BAD_SOURCE, "::ffff:0.0.0.0", 40000, "::ffff:192.0.2.10");
	V(GUARD_BAD_SOURCE, "::ffff:0.1.2.3", 40000, NULL);
	V(GUARD_BAD_SOURCE, "::ffff:224.0.0.1", 40000, "::ffff:192.0.2.10");
	V(GUARD_BAD_SOURCE, "::ffff:240.0.0.1", 40000, NULL);
	V(GUARD_BAD_SOURCE, "::ffff:255.255.255.255", 40000, NULL);
	/* A mapped source in a native IPv6 packet is forged. */
	V(GUARD_BAD_SOURCE, "::ffff:192.0.2.1", 40000, "2001:db8::10");
	V(GUARD_BAD_SOURCE, "::ffff:127.0.0.1", 40000, "::1");
	/* Mapped and plain IPv4 are the same thing. */
	V(GUARD_OK, "::ffff:192.0.2.1", 40000, "192.0.2.10");
	V(GUARD_OK, "192.0.2.1", 40000, "::ffff:192.0.2.10");
}

static void
test_loopback(void **state)
{
	(void)state;
	V(GUARD_OK, "127.0.0.1", 40000, "127.0.0.1");
	V(GUARD_OK, "127.1.2.3", 40000, "127.0.0.1");
	V(GUARD_OK, "127.0.0.1", 40000, NULL);
	V(GUARD_OK, "::1", 40000, "::1");
	V(GUARD_OK, "::1", 40000, NULL);
	V(GUARD_OK, "::ffff:127.0.0.1", 40000, "::ffff:127.0.0.1");
	V(GUARD_OK, "::ffff:127.0.0.1", 40000, "127.0.0.1");
	V(GUARD_OK, "127.0.0.1", 40000, "::ffff:127.0.0.1");
	V(GUARD_OK, "::ffff:127.0.0.1", 40000, NULL);
	V(GUARD_LOOPBACK_SPOOF, "127.0.0.1", 40000, "192.0.2.10");
	V(GUARD_LOOPBACK_SPOOF, "127.255.255.255", 40000, "10.0.0.1");
	V(GUARD_LOOPBACK_SPOOF, "::1", 40000, "2001:db8::10");
	V(GUARD_LOOPBACK_SPOOF, "::1", 40000, "fe80::1");
	V(GUARD_LOOPBACK_SPOOF, "::ffff:127.0.0.1", 40000, "::ffff:192.0.2.10");
	V(GUARD_LOOPBACK_SPOOF, "127.0.0.1", 40000, "::ffff:192.0.2.10");
	/* A spoof is a spoof whatever its port. */
	V(GUARD_LOOPBACK_SPOOF, "127.0.0.1", 7, "192.0.2.10");
	/* A non-loopback source on a loopback address is fine: a local host. */
	V(GUARD_OK, "192.0.2.1", 40000, "127.0.0.1");
}

static void
test_bad_dest(void **state)
{
	(void)state;
	V(GUARD_BAD_DEST, "192.0.2.1", 40000, "255.255.255.255");
	V(GUARD_BAD_DEST, "192.0.2.1", 40000, "224.0.0.251");
	V(GUARD_BAD_DEST, "192.0.2.1", 40000, "239.1.2.3");
	V(GUARD_BAD_DEST, "192.0.2.1", 40000, "0.0.0.0");
	V(GUARD_BAD_DEST, "2001:db8::1", 40000, "ff02::1");
	V(GUARD_BAD_DEST, "2001:db8::1", 40000, "::");
	V(GUARD_BAD_DEST, "::ffff:192.0.2.1", 40000, "::ffff:255.255.255.255");
	V(GUARD_BAD_DEST, "::ffff:192.0.2.1", 40000, "::ffff:224.0.0.1");
	/* The destination decides before the port. */
	V(GUARD_BAD_DEST, "192.0.2.1", 7, "255.255.255.255");
	/* A loopback source to a broadcast address: the spoof shows first. */
	V(GUARD_LOOPBACK_SPOOF, "127.0.0.1", 40000, "255.255.255.255");
}

static void
test_subnet_broadcast(void **state)
{
	struct in_addr bc[2];
	struct sockaddr_storage s, l;

	(void)state;
	inet_pton(AF_INET, "10.0.0.255", &bc[0]);
	inet_pton(AF_INET, "192.0.2.255", &bc[1]);
	s = sa("192.0.2.255", 40000);
	l = sa("192.0.2.10", 12000);
	assert_int_equal(guard_check((struct sockaddr *)&s,
	    (struct sockaddr *)&l, own, NOWN), GUARD_OK);
	assert_int_equal(guard_check_bcast((struct sockaddr *)&s,
	    (struct sockaddr *)&l, own, NOWN, bc, 2), GUARD_BAD_SOURCE);
	s = sa("::ffff:192.0.2.255", 40000);
	assert_int_equal(guard_check_bcast((struct sockaddr *)&s, NULL,
	    own, NOWN, bc, 2), GUARD_BAD_SOURCE);
	s = sa("192.0.2.1", 40000);
	l = sa("10.0.0.255", 12000);
	assert_int_equal(guard_check((struct sockaddr *)&s,
	    (struct sockaddr *)&l, own, NOWN), GUARD_OK);
	assert_int_equal(guard_check_bcast((struct sockaddr *)&s,
	    (struct sockaddr *)&l, own, NOWN, bc, 2), GUARD_BAD_DEST);
	l = sa("::ffff:10.0.0.255", 12000);
	assert_int_equal(guard_check_bcast((struct sockaddr *)&s,
	    (struct sockaddr *)&l, own, NOWN, bc, 2), GUARD_BAD_DEST);
	l = sa("10.0.0.254", 12000);
	assert_int_equal(guard_check_bcast((struct sockaddr *)&s,
	    (struct sockaddr *)&l, own, NOWN, bc, 2), GUARD_OK);
}

static void
test_other_families(void **state)
{
	struct sockaddr_un sun;
	struct sockaddr_storage s = sa("192.0.2.1", 40000);

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_int_equal(guard_check((struct sockaddr *)&sun, NULL, own, NOWN),
	    GUARD_BAD_SOURCE);
	assert_int_equal(guard_check(NULL, NULL, own, NOWN), GUARD_BAD_SOURCE);
	/* A local address of no IP family counts as unknown. */
	assert_int_equal(guard_check((struct sockaddr *)&s,
	    (struct sockaddr *)&sun, own, NOWN), GUARD_OK);
	s = sa("127.0.0.1", 40000);
	assert_int_equal(guard_check((struct sockaddr *)&s,
	    (struct sockaddr *)&sun, own, NOWN), GUARD_OK);
}

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(guard_verdict_name(GUARD_OK), "ok");
	assert_string_equal(guard_verdict_name(GUARD_LOW_PORT), "low_port");
	assert_string_equal(guard_verdict_name(GUARD_OWN_PORT), "own_port");
	assert_string_equal(guard_verdict_name(GUARD_BAD_SOURCE), "bad_source");
	assert_string_equal(guard_verdict_name(GUARD_LOOPBACK_SPOOF),
	    "loopback_spoof");
	assert_string_equal(guard_verdict_name(GUARD_BAD_DEST), "bad_dest");
	assert_string_equal(guard_verdict_name((enum guard_verdict)99),
	    "unknown");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ok),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_no_own_ports),
		cmocka_unit_test(test_bad_source_v4),
		cmocka_unit_test(test_bad_source_v6),
		cmocka_unit_test(test_bad_source_mapped),
		cmocka_unit_test(test_loopback),
		cmocka_unit_test(test_bad_dest),
		cmocka_unit_test(test_subnet_broadcast),
		cmocka_unit_test(test_other_families),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
