/* SPDX-License-Identifier: ISC */
/*
 * test_addr.c: unit tests for src/addr.c (splitting HOST:PORT, parsing
 * ports and numeric addresses, comparing listener addresses, formatting
 * socket addresses).
 */
#include "config.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

/* Split s; on success check host and port ("-" = port left untouched). */
static void
split_ok(const char *s, const char *want_host, const char *want_port)
{
	char host[256], port[16] = "-", err[128] = "";

	assert_int_equal(addr_split_hostport(s, host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), 0);
	assert_string_equal(host, want_host);
	assert_string_equal(port, want_port);
	assert_string_equal(err, "");
}

static void
split_bad(const char *s, const char *want_reason)
{
	char host[256] = "untouched", port[16] = "untouched", err[128] = "";

	assert_int_equal(addr_split_hostport(s, host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), -1);
	assert_non_null(strstr(err, want_reason));
}

static void
test_split_forms(void **state)
{
	(void)state;
	split_ok("localhost", "localhost", "-");
	split_ok("localhost:12000", "localhost", "12000");
	split_ok("127.0.0.1", "127.0.0.1", "-");
	split_ok("127.0.0.1:80", "127.0.0.1", "80");
	split_ok("[::1]", "::1", "-");
	split_ok("[::1]:12000", "::1", "12000");
	split_ok("[fe80::1%eth0]:7", "fe80::1%eth0", "7");
	split_ok("::1", "::1", "-");
	split_ok("2001:db8::42", "2001:db8::42", "-");
	split_ok("::", "::", "-");
	/* Range and syntax of the port are addr_parse_port's business. */
	split_ok("host:99999", "host", "99999");
	split_ok("host:abc", "host", "abc");
}

static void
test_split_errors(void **state)
{
	(void)state;
	split_bad("", "empty address");
	split_bad("[::1", "missing ']'");
	split_bad("[::1]x", "after ']'");
	split_bad("[::1]:", "empty port");
	split_bad("[]", "empty address in brackets");
	split_bad("[]:80", "empty address in brackets");
	split_bad("[a[b]:80", "unexpected '['");
	split_bad("host:", "empty port");
	split_bad(":80", "empty host");
	split_bad("ho]st:80", "bracket");
	split_bad("host[:80", "bracket");
}

static void
test_split_lengths(void **state)
{
	char host[5], port[3], err[64];

	(void)state;
	/* Exactly fits: 4 characters plus the NUL. */
	assert_int_equal(addr_split_hostport("abcd:12", host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), 0);
	assert_string_equal(host, "abcd");
	assert_string_equal(port, "12");
	assert_int_equal(addr_split_hostport("abcde", host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too long"));
	assert_int_equal(addr_split_hostport("[::1]", host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), 0);
	assert_int_equal(addr_split_hostport("[1::10]", host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), -1);
	assert_int_equal(addr_split_hostport("a:123", host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), -1);
	assert_non_null(strstr(err, "port too long"));
	assert_int_equal(addr_split_hostport("[::1]:123", host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), -1);
	/* err may be omitted. */
	assert_int_equal(addr_split_hostport("[::1", host, sizeof(host),
	    port, sizeof(port), NULL, 0), -1);
	assert_int_equal(addr_split_hostport(NULL, host, sizeof(host),
	    port, sizeof(port), err, sizeof(err)), -1);
}

static void
test_parse_port(void **state)
{
	(void)state;
	assert_int_equal(addr_parse_port("1"), 1);
	assert_int_equal(addr_parse_port("80"), 80);
	assert_int_equal(addr_parse_port("12000"), 12000);
	assert_int_equal(addr_parse_port("65535"), 65535);
	assert_int_equal(addr_parse_port("0080"), 80);
	assert_int_equal(addr_parse_port("0"), -1);
	assert_int_equal(addr_parse_port("65536"), -1);
	assert_int_equal(addr_parse_port("99999999999999999999"), -1);
	assert_int_equal(addr_parse_port(""), -1);
	assert_int_equal(addr_parse_port(NULL), -1);
	assert_int_equal(addr_parse_port("+80"), -1);
	assert_int_equal(addr_parse_port("-80"), -1);
	assert_int_equal(addr_parse_port(" 80"), -1);
	assert_int_equal(addr_parse_port("80 "), -1);
	assert_int_equal(addr_parse_port("0x50"), -1);
	assert_int_equal(addr_parse_port("8O"), -1);
	assert_int_equal(addr_parse_port("http"), -1);
}

static void
test_parse_numeric_v4(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(addr_parse_numeric("192.0.2.7", 12000, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_int_equal(sin->sin_family, AF_INET);
	assert_int_equal(ntohs(sin->sin_port), 12000);
	assert_int_equal(ntohl(sin->sin_addr.s_addr), 0xc0000207);
}

static void
test_parse_numeric_v6(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(addr_parse_numeric("::1", 80, &ss, &len), 0);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(sin6->sin6_family, AF_INET6);
	assert_int_equal(ntohs(sin6->sin6_port), 80);
	assert_true(IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr));
	assert_int_equal(sin6->sin6_scope_id, 0);
	assert_int_equal(sin6->sin6_flowinfo, 0);

	assert_int_equal(addr_parse_numeric("::", 1, &ss, &len), 0);
	assert_true(IN6_IS_ADDR_UNSPECIFIED(&sin6->sin6_addr));
}

static void
test_parse_numeric_errors(void **state)
{
	struct sockaddr_storage ss;
	socklen_t len = 0;

	(void)state;
	assert_int_equal(addr_parse_numeric("localhost", 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric("", 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric(NULL, 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric("1.2.3", 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric("1.2.3.256", 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric("[::1]", 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric("::1:", 80, &ss, &len), -1);
	assert_int_equal(addr_parse_numeric(" 127.0.0.1", 80, &ss, &len), -1);
}

static void
test_listen_parse(void **state)
{
	static const char *const bad[] = {
		"", "**", "localhost", "1.2.3", "256.1.1.1", "127.0.0.1:80",
		"[::1]", " ::1", "fe80::1%lo",
	};
	struct addr_listen a;
	size_t i;

	(void)state;
	assert_int_equal(addr_listen_parse("*", &a), 0);
	assert_int_equal(a.family, AF_UNSPEC);
	assert_int_equal(addr_listen_parse("127.0.0.1", &a), 0);
	assert_int_equal(a.family, AF_INET);
	assert_memory_equal(a.bytes, "\x7f\0\0\x01", 4);
	assert_int_equal(addr_listen_parse("0::1", &a), 0);
	assert_int_equal(a.family, AF_INET6);
	assert_int_equal(a.bytes[15], 1);
	assert_int_equal(addr_listen_parse("::", NULL), 0);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(addr_listen_parse(bad[i], &a), -1);
	assert_int_equal(addr_listen_parse(NULL, &a), -1);
}

static void
test_same(void **state)
{
	(void)state;
	assert_true(addr_same("*", "*"));
	assert_true(addr_same("::1", "0::1"));
	assert_true(addr_same("0:0::1", "::1"));
	assert_true(addr_same("127.0.0.1", "127.0.0.1"));
	assert_true(addr_same("2001:DB8::42", "2001:db8:0:0::42"));
	assert_true(addr_same("::", "0::0"));
	/* Wildcards are not each other, nor the addresses they cover. */
	assert_false(addr_same("*", "0.0.0.0"));
	assert_false(addr_same("*", "::"));
	assert_false(addr_same("0.0.0.0", "::"));
	assert_false(addr_same("::", "::1"));
	/* An IPv4-mapped address is another socket address than the IPv4 one. */
	assert_false(addr_same("::ffff:127.0.0.1", "127.0.0.1"));
	assert_false(addr_same("127.0.0.1", "127.0.0.2"));
	assert_false(addr_same("::1", "127.0.0.1"));
	/* Not listener addresses: the same only as identical text. */
	assert_true(addr_same("localhost", "localhost"));
	assert_false(addr_same("localhost", "127.0.0.1"));
	assert_false(addr_same("localhost", "*"));
	assert_true(addr_same(NULL, NULL));
	assert_false(addr_same(NULL, "*"));
	assert_false(addr_same("*", NULL));
}

static void
test_overlap(void **state)
{
	(void)state;
	/* The same address, however written. */
	assert_true(addr_overlap("::1", "0::1"));
	assert_true(addr_overlap("127.0.0.1", "127.0.0.1"));
	/* "*" covers everything. */
	assert_true(addr_overlap("*", "*"));
	assert_true(addr_overlap("*", "127.0.0.1"));
	assert_true(addr_overlap("::1", "*"));
	assert_true(addr_overlap("*", "0.0.0.0"));
	assert_true(addr_overlap("*", "::"));
	/* A family's wildcard covers that family only (:: is bound IPv6-only). */
	assert_true(addr_overlap("0.0.0.0", "10.1.2.3"));
	assert_true(addr_overlap("::1", "::"));
	assert_true(addr_overlap("::", "::ffff:127.0.0.1"));
	assert_false(addr_overlap("0.0.0.0", "::"));
	assert_false(addr_overlap("::", "127.0.0.1"));
	assert_false(addr_overlap("0.0.0.0", "::1"));
	/* Distinct specific addresses. */
	assert_false(addr_overlap("127.0.0.1", "127.0.0.2"));
	assert_false(addr_overlap("::1", "127.0.0.1"));
	assert_false(addr_overlap("::ffff:127.0.0.1", "127.0.0.1"));
	/* Not listener addresses: only identical text. */
	assert_true(addr_overlap("localhost", "localhost"));
	assert_false(addr_overlap("localhost", "*"));
	assert_false(addr_overlap(NULL, "*"));
}

/* Parse then format: the text survives the round trip. */
static void
format_roundtrip(const char *host, uint16_t port, const char *want)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char buf[128];

	assert_int_equal(addr_parse_numeric(host, port, &ss, &len), 0);
	assert_string_equal(addr_format((struct sockaddr *)&ss, len,
	    buf, sizeof(buf)), want);
}

static void
test_format(void **state)
{
	(void)state;
	format_roundtrip("1.2.3.4", 80, "1.2.3.4:80");
	format_roundtrip("127.0.0.1", 65535, "127.0.0.1:65535");
	format_roundtrip("::1", 80, "[::1]:80");
	format_roundtrip("2001:db8::42", 12000, "[2001:db8::42]:12000");
	/* What a dual-stack listener reports for an IPv4 client. */
	format_roundtrip("::ffff:192.0.2.1", 443, "192.0.2.1:443");
}

static void
test_format_scope_and_truncation(void **state)
{
	struct sockaddr_storage ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	char buf[64], small[8];

	(void)state;
	assert_int_equal(addr_parse_numeric("fe80::1", 5, &ss, &len), 0);
	sin6->sin6_scope_id = 3;
	assert_string_equal(addr_format((struct sockaddr *)&ss, len,
	    buf, sizeof(buf)), "[fe80::1%3]:5");

	assert_int_equal(addr_parse_numeric("10.20.30.40", 12000, &ss, &len), 0);
	addr_format((struct sockaddr *)&ss, len, small, sizeof(small));
	assert_string_equal(small, "10.20.3");
}

static void
test_format_other(void **state)
{
	struct sockaddr_un sun;
	struct sockaddr_in sin;
	char buf[128];

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	strcpy(sun.sun_path, "/run/upcased/upcased.sock");
	assert_string_equal(addr_format((struct sockaddr *)&sun, sizeof(sun),
	    buf, sizeof(buf)), "unix:/run/upcased/upcased.sock");
	/* An unnamed peer: only the family is filled in. */
	assert_string_equal(addr_format((struct sockaddr *)&sun,
	    sizeof(sa_family_t), buf, sizeof(buf)), "unix:(unnamed)");

	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	/* Too short for its family. */
	assert_null(strstr(addr_format((struct sockaddr *)&sin, 4, buf,
	    sizeof(buf)), ":"));
	assert_string_equal(addr_format(NULL, 0, buf, sizeof(buf)),
	    "(no address)");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_split_forms),
		cmocka_unit_test(test_split_errors),
		cmocka_unit_test(test_split_lengths),
		cmocka_unit_test(test_parse_port),
		cmocka_unit_test(test_parse_numeric_v4),
		cmocka_unit_test(test_parse_numeric_v6),
		cmocka_unit_test(test_parse_numeric_errors),
		cmocka_unit_test(test_listen_parse),
		cmocka_unit_test(test_same),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_format),
		cmocka_unit_test(test_format_scope_and_truncation),
		cmocka_unit_test(test_format_other),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
