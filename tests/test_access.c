/* SPDX-License-Identifier: ISC */
/*
 * test_access.c: unit tests for src/access.c (CIDR parsing, formatting
 * and matching; allow/deny rules; compiled access lists, checked against
 * a plain first-match scan over many random lists and addresses).
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
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "access.h"

/* A socket address for numeric text, IPv4 or IPv6 (port 9999). */
static struct sockaddr_storage
ss_of(const char *text)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;

	memset(&ss, 0, sizeof(ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(9999);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, &sin6->sin6_addr), 1);
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(9999);
	}
	return ss;
}

static struct cidr
cidr_of(const char *text)
{
	struct cidr c;
	char err[128] = "";

	if (cidr_parse(text, &c, err, sizeof(err)) != 0)
		fail_msg("cidr_parse(\"%s\"): %s", text, err);
	return c;
}

static bool
matches(const char *cidr, const char *addr)
{
	struct cidr c = cidr_of(cidr);
	struct sockaddr_storage ss = ss_of(addr);

	return cidr_match(&c, (struct sockaddr *)&ss);
}

static void
parse_ok(const char *text, const char *want)
{
	char buf[CIDR_STRLEN], err[128] = "";
	struct cidr c = cidr_of(text);

	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), want);
	assert_string_equal(err, "");
}

static void
parse_bad(const char *text, const char *want_err)
{
	struct cidr c, before;
	char err[160] = "";

	memset(&c, 0x5a, sizeof(c));
	before = c;
	assert_int_equal(cidr_parse(text, &c, err, sizeof(err)), -1);
	assert_string_equal(err, want_err);
	assert_memory_equal(&c, &before, sizeof(c));	/* untouched */
}

static void
test_cidr_parse_valid(void **state)
{
	(void)state;
	parse_ok("10.0.0.0/8", "10.0.0.0/8");
	parse_ok("192.0.2.1", "192.0.2.1/32");
	parse_ok("192.0.2.1/32", "192.0.2.1/32");
	parse_ok("0.0.0.0/0", "0.0.0.0/0");
	parse_ok("255.255.255.255", "255.255.255.255/32");
	parse_ok("10.0.0.0/7", "10.0.0.0/7");
	parse_ok("::1", "::1/128");
	parse_ok("::", "::/128");
	parse_ok("::/0", "::/0");
	parse_ok("2001:db8::/32", "2001:db8::/32");
	parse_ok("2001:DB8:0000::/32", "2001:db8::/32");
	parse_ok("fe80::/10", "fe80::/10");
	/* Inside the v4-mapped range: the IPv4 CIDR it means. */
	parse_ok("::ffff:10.0.0.0/104", "10.0.0.0/8");
	parse_ok("::ffff:192.0.2.1", "192.0.2.1/32");
	parse_ok("::ffff:0:0/96", "0.0.0.0/0");
	/* Wider than the mapped range: stays IPv6. */
	parse_ok("::fffe:0:0/95", "::fffe:0:0/95");
}

static void
test_cidr_parse_fields(void **state)
{
	struct cidr c = cidr_of("10.0.0.0/8"), zero;

	(void)state;
	memset(&zero, 0, sizeof(zero));
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(c.addr[0], 10);
	/* Unused bytes are zero, so parsed CIDRs compare with memcmp. */
	assert_memory_equal(c.addr + 1, zero.addr, 15);
	c = cidr_of("::ffff:10.0.0.0/104");
	assert_int_equal(c.family, AF_INET);
	assert_int_equal(c.prefix, 8);
	assert_int_equal(c.addr[0], 10);
	assert_memory_equal(c.addr + 1, zero.addr, 15);
	c = cidr_of("2001:db8::/32");
	assert_int_equal(c.family, AF_INET6);
	assert_int_equal(c.prefix, 32);
	assert_int_equal(c.addr[0], 0x20);
	assert_int_equal(c.addr[3], 0xb8);
}

static void
test_cidr_parse_invalid(void **state)
{
	(void)state;
	parse_bad("10.0.0.0/33", "'10.0.0.0/33' is not a CIDR");
	parse_bad("::/129", "'::/129' is not a CIDR");
	parse_bad("10.0.0.0/-1", "'10.0.0.0/-1' is not a CIDR");
	parse_bad("10.0.0.0/+8", "'10.0.0.0/+8' is not a CIDR");
	parse_bad("10.0.0.0/", "'10.0.0.0/' is not a CIDR");
	parse_bad("10.0.0.0/08", "'10.0.0.0/08' is not a CIDR");
	parse_bad("10.0.0.0/008", "'10.0.0.0/008' is not a CIDR");
	parse_bad("::/0128", "'::/0128' is not a CIDR");
	parse_bad("::/1280", "'::/1280' is not a CIDR");
	parse_bad("10.0.0.0/8x", "'10.0.0.0/8x' is not a CIDR");
	parse_bad("10.0.0.0/8/8", "'10.0.0.0/8/8' is not a CIDR");
	parse_bad("10.0.0.0//8", "'10.0.0.0//8' is not a CIDR");
	parse_bad("10.0.0.0/ 8", "'10.0.0.0/ 8' is not a CIDR");
	parse_bad("10.0.0.0 /8", "'10.0.0.0 /8' is not a CIDR");
	parse_bad(" 10.0.0.0/8", "' 10.0.0.0/8' is not a CIDR");
	parse_bad("10.0.0.0/8 ", "'10.0.0.0/8 ' is not a CIDR");
	parse_bad("localhost", "'localhost' is not a CIDR");
	parse_bad("example.com/24", "'example.com/24' is not a CIDR");
	parse_bad("", "'' is not a CIDR");
	parse_bad("/8", "'/8' is not a CIDR");
	parse_bad("10.0.0/8", "'10.0.0/8' is not a CIDR");
	parse_bad("010.0.0.0/8", "'010.0.0.0/8' is not a CIDR");
	parse_bad("10.0.0.256", "'10.0.0.256' is not a CIDR");
	parse_bad("fe80::1%eth0", "'fe80::1%eth0' is not a CIDR");
	parse_bad("1::2::3/64", "'1::2::3/64' is not a CIDR");
	parse_bad("all", "'all' is not a CIDR");
	parse_bad("0x0a000000/8", "'0x0a000000/8' is not a CIDR");
}

static void
test_cidr_parse_host_bits(void **state)
{
	(void)state;
	parse_bad("10.0.0.1/8",
	    "'10.0.0.1/8' has host bits set (did you mean '10.0.0.0/8'?)");
	parse_bad("192.0.2.77/26",
	    "'192.0.2.77/26' has host bits set (did you mean '192.0.2.64/26'?)");
	parse_bad("1.2.3.4/0",
	    "'1.2.3.4/0' has host bits set (did you mean '0.0.0.0/0'?)");
	parse_bad("11.0.0.0/7",
	    "'11.0.0.0/7' has host bits set (did you mean '10.0.0.0/7'?)");
	parse_bad("2001:db8::1/32",
	    "'2001:db8::1/32' has host bits set (did you mean '2001:db8::/32'?)");
	parse_bad("::1/127",
	    "'::1/127' has host bits set (did you mean '::/127'?)");
	parse_bad("::ffff:0:0/95",
	    "'::ffff:0:0/95' has host bits set (did you mean '::fffe:0:0/95'?)");
	parse_bad("::ffff:10.0.0.1/104",
	    "'::ffff:10.0.0.1/104' has host bits set (did you mean '10.0.0.0/8'?)");
}

static void
test_cidr_parse_err_buffers(void **state)
{
	struct cidr c;
	char err[8];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(cidr_parse("10.0.0.0/33", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "'10.0.0");
	assert_int_equal(cidr_parse("10.0.0.0/33", &c, NULL, 0), -1);
	assert_int_equal(cidr_parse("10.0.0.0/33", &c, err, 0), -1);
	assert_int_equal(cidr_parse(NULL, &c, NULL, 0), -1);
	/* An address longer than any real one is refused, not truncated. */
	assert_int_equal(cidr_parse("0000:0000:0000:0000:0000:0000:0000:0000:0",
	    &c, NULL, 0), -1);
}

static void
test_cidr_format(void **state)
{
	struct cidr c = cidr_of("2001:db8::/32");
	char buf[CIDR_STRLEN], small[6];

	(void)state;
	assert_ptr_equal(cidr_format(&c, small, sizeof(small)), small);
	assert_string_equal(small, "2001:");
	c = cidr_of("ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255/128");
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)),
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128");
	memset(&c, 0, sizeof(c));
	assert_string_equal(cidr_format(&c, buf, sizeof(buf)), "?/0");
	assert_ptr_equal(cidr_format(&c, buf, 0), buf);
}

static void
test_match_v4(void **state)
{
	(void)state;
	assert_true(matches("10.0.0.0/8", "10.0.0.0"));
	assert_true(matches("10.0.0.0/8", "10.1.2.3"));
	assert_true(matches("10.0.0.0/8", "10.255.255.255"));
	assert_false(matches("10.0.0.0/8", "11.0.0.0"));
	assert_false(matches("10.0.0.0/8", "9.255.255.255"));
	assert_true(matches("192.0.2.1", "192.0.2.1"));
	assert_false(matches("192.0.2.1", "192.0.2.2"));
	assert_false(matches("192.0.2.1", "192.0.2.0"));
	assert_true(matches("0.0.0.0/0", "0.0.0.0"));
	assert_true(matches("0.0.0.0/0", "255.255.255.255"));
	assert_false(matches("0.0.0.0/0", "::1"));
	assert_false(matches("0.0.0.0/0", "::"));
	assert_true(matches("255.255.255.255/32", "255.255.255.255"));
	assert_true(matches("128.0.0.0/1", "255.0.0.1"));
	assert_false(matches("128.0.0.0/1", "127.255.255.255"));
}

static void
test_match_v6(void **state)
{
	(void)state;
	assert_true(matches("2001:db8::/32", "2001:db8::1"));
	assert_true(matches("2001:db8::/32", "2001:db8:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(matches("2001:db8::/32", "2001:db9::"));
	assert_false(matches("2001:db8::/32", "2001:db7:ffff::"));
	assert_true(matches("::1", "::1"));
	assert_false(matches("::1", "::"));
	assert_false(matches("::1", "::2"));
	assert_false(matches("::1", "127.0.0.1"));
	assert_true(matches("::/0", "::"));
	assert_true(matches("::/0", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_false(matches("::/0", "10.0.0.1"));
	assert_true(matches("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff/128",
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"));
	assert_true(matches("::ffff:0:0:0/96", "::ffff:0:1.2.3.4"));
}

static void
test_match_mapped(void **state)
{
	(void)state;
	assert_true(matches("10.0.0.0/8", "::ffff:10.1.2.3"));
	assert_false(matches("10.0.0.0/8", "::ffff:11.1.2.3"));
	assert_true(matches("0.0.0.0/0", "::ffff:0.0.0.0"));
	assert_true(matches("::ffff:10.0.0.0/104", "::ffff:10.1.2.3"));
	assert_true(matches("::ffff:10.0.0.0/104", "10.1.2.3"));
	/* A mapped peer is an IPv4 client: IPv6 rules do not cover it. */
	assert_false(matches("::/0", "::ffff:10.1.2.3"));
	assert_false(matches("::fffe:0:0/95", "::ffff:10.1.2.3"));
	/* v4-compatible (::a.b.c.d) is an IPv6 address like any other. */
	assert_false(matches("10.0.0.0/8", "::10.1.2.3"));
	assert_true(matches("::/96", "::10.1.2.3"));
}

static void
test_match_unaligned(void **state)
{
	(void)state;
	/* /7: 10.0.0.0 - 11.255.255.255 */
	assert_true(matches("10.0.0.0/7", "11.255.255.255"));
	assert_false(matches("10.0.0.0/7", "12.0.0.0"));
	assert_false(matches("10.0.0.0/7", "9.255.255.255"));
	/* /9: 10.128.0.0 - 10.255.255.255 */
	assert_true(matches("10.128.0.0/9", "10.128.0.0"));
	assert_true(matches("10.128.0.0/9", "10.255.255.255"));
	assert_false(matches("10.128.0.0/9", "10.127.255.255"));
	assert_false(matches("10.128.0.0/9", "11.0.0.0"));
	/* /31 */
	assert_true(matches("192.0.2.6/31", "192.0.2.7"));
	assert_false(matches("192.0.2.6/31", "192.0.2.8"));
	assert_false(matches("192.0.2.6/31", "192.0.2.5"));
	/* /57: 2001:db8:0:80:: - 2001:db8:0:ff:ffff:ffff:ffff:ffff */
	assert_true(matches("2001:db8:0:80::/57", "2001:db8:0:80::"));
	assert_true(matches("2001:db8:0:80::/57",
	    "2001:db8:0:ff:ffff:ffff:ffff:ffff"));
	assert_false(matches("2001:db8:0:80::/57",
	    "2001:db8:0:7f:ffff:ffff:ffff:ffff"));
	assert_false(matches("2001:db8:0:80::/57", "2001:db8:0:100::"));
	/* /64 and /65: the edge between the two 64-bit words */
	assert_true(matches("2001:db8::/64", "2001:db8::ffff:ffff:ffff:ffff"));
	assert_false(matches("2001:db8::/64", "2001:db8:0:1::"));
	assert_true(matches("2001:db8::8000:0:0:0/65", "2001:db8::8000:0:0:1"));
	assert_false(matches("2001:db8::8000:0:0:0/65", "2001:db8::7fff:0:0:1"));
	assert_false(matches("2001:db8::/63", "2001:db8:0:2::"));
	assert_true(matches("2001:db8::/63", "2001:db8:0:1::"));
	/* /127 */
	assert_true(matches("2001:db8::2/127", "2001:db8::2"));
	assert_true(matches("2001:db8::2/127", "2001:db8::3"));
	assert_false(matches("2001:db8::2/127", "2001:db8::1"));
	assert_false(matches("2001:db8::2/127", "2001:db8::4"));
}

static void
test_match_other_families(void **state)
{
	struct sockaddr_un sun;
	struct cidr c = cidr_of("0.0.0.0/0"), junk;
	struct sockaddr_storage ss = ss_of("10.0.0.1");

	(void)state;
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_false(cidr_match(&c, (struct sockaddr *)&sun));
	assert_false(cidr_match(&c, NULL));
	/* Hand-made CIDRs: host bits ignored, long prefix clamped. */
	memset(&junk, 0, sizeof(junk));
	assert_false(cidr_match(&junk, (struct sockaddr *)&ss));
	junk.family = AF_INET;
	junk.prefix = 200;
	junk.addr[0] = 10, junk.addr[3] = 1;
	assert_true(cidr_match(&junk, (struct sockaddr *)&ss));
	junk.prefix = 8;
	assert_true(cidr_match(&junk, (struct sockaddr *)&ss));
}

static struct access_rule
rule_of(const char *text)
{
	struct access_rule r;
	char err[128] = "";

	if (access_rule_parse(text, &r, err, sizeof(err)) != 0)
		fail_msg("access_rule_parse(\"%s\"): %s", text, err);
	return r;
}

static void
rule_ok(const char *text, bool allow, bool all, const char *net)
{
	struct access_rule r = rule_of(text);
	char buf[CIDR_STRLEN];

	assert_int_equal(r.allow, allow);
	assert_int_equal(r.all, all);
	if (!all)
		assert_string_equal(cidr_format(&r.net, buf, sizeof(buf)), net);
}

static void
rule_bad(const char *text, const char *want_err)
{
	struct access_rule r;
	char err[160] = "";

	assert_int_equal(access_rule_parse(text, &r, err, sizeof(err)), -1);
	assert_string_equal(err, want_err);
}

static void
test_rule_parse(void **state)
{
	(void)state;
	rule_ok("allow 10.0.0.0/8", true, false, "10.0.0.0/8");
	rule_ok("deny 192.0.2.0/24", false, false, "192.0.2.0/24");
	rule_ok("allow ::1", true, false, "::1/128");
	rule_ok("allow all", true, true, NULL);
	rule_ok("deny all", false, true, NULL);
	/* Blanks: any run of spaces and tabs, leading and trailing ignored. */
	rule_ok("deny\t2001:db8::/32", false, false, "2001:db8::/32");
	rule_ok("  allow  \t 10.0.0.0/8 \t", true, false, "10.0.0.0/8");
	rule_ok(" deny all ", false, true, NULL);
}

static void
test_rule_parse_invalid(void **state)
{
	(void)state;
	rule_bad("allow 10.0.0.0/33", "'10.0.0.0/33' is not a CIDR");
	rule_bad("deny 10.0.0.1/8",
	    "'10.0.0.1/8' has host bits set (did you mean '10.0.0.0/8'?)");
	rule_bad("Allow all", "'Allow' is not 'allow' or 'deny'");
	rule_bad("DENY all", "'DENY' is not 'allow' or 'deny'");
	rule_bad("permit 10.0.0.0/8", "'permit' is not 'allow' or 'deny'");
	rule_bad("allow10.0.0.0/8", "'allow10.0.0.0/8' is not 'allow' or 'deny'");
	rule_bad("deny ALL", "'ALL' is not a CIDR");
	rule_bad("allow localhost", "'localhost' is not a CIDR");
	rule_bad("allow", "'allow' needs a CIDR or 'all'");
	rule_bad("deny  \t", "'deny' needs a CIDR or 'all'");
	rule_bad("allow all 10.0.0.0/8",
	    "unexpected '10.0.0.0/8' after 'all' (one CIDR per rule)");
	rule_bad("allow 10.0.0.0/8 192.0.2.0/24",
	    "unexpected '192.0.2.0/24' after '10.0.0.0/8' (one CIDR per rule)");
	rule_bad("allow\n10.0.0.0/8", "'allow\n10.0.0.0/8' is not 'allow' or 'deny'");
	rule_bad("allow 10.0.0.0/8\n", "'10.0.0.0/8\n' is not a CIDR");
	rule_bad("", "empty rule (expected 'allow' or 'deny', then a CIDR or 'all')");
	rule_bad(" \t ", "empty rule (expected 'allow' or 'deny', then a CIDR or 'all')");
	rule_bad(NULL, "empty rule (expected 'allow' or 'deny', then a CIDR or 'all')");
}

/* Build a list from rule texts. */
static struct access_list *
list_of(const char *const *texts, size_t n)
{
	struct access_rule rules[16];
	struct access_list *l;
	size_t i;

	assert_true(n <= 16);
	for (i = 0; i < n; i++)
		rules[i] = rule_of(texts[i]);
	assert_non_null(l = access_list_create(rules, n));
	return l;
}

/* The verdict and deciding rule for addr. */
static void
expect(const struct access_list *l, const char *addr, bool allow, int index)
{
	struct sockaddr_storage ss = ss_of(addr);
	int got = -2;

	if (access_allows(l, (struct sockaddr *)&ss, &got) != allow)
		fail_msg("%s: %s, want %s", addr, allow ? "denied" : "allowed",
		    allow ? "allowed" : "denied");
	assert_int_equal(got, index);
	assert_int_equal(access_allows(l, (struct sockaddr *)&ss, NULL), allow);
}

static void
test_list_default_allow(void **state)
{
	struct access_list *l;
	int idx = -2;

	(void)state;
	/* NULL list, empty list: allow, no rule. */
	expect(NULL, "192.0.2.1", true, -1);
	expect(NULL, "::1", true, -1);
	assert_non_null(l = access_list_create(NULL, 0));
	expect(l, "192.0.2.1", true, -1);
	expect(l, "2001:db8::1", true, -1);
	expect(l, "::ffff:192.0.2.1", true, -1);
	assert_true(access_allows(l, NULL, &idx));
	assert_int_equal(idx, -1);
	access_list_free(l);
	access_list_free(NULL);
	/* Rules that match nothing here: allow. */
	l = list_of((const char *[]){ "deny 10.0.0.0/8", "deny 2001:db8::/32" }, 2);
	expect(l, "192.0.2.1", true, -1);
	expect(l, "2001:db9::1", true, -1);
	expect(l, "10.0.0.1", false, 0);
	expect(l, "2001:db8::1", false, 1);
	access_list_free(l);
}

static void
test_list_first_match_wins(void **state)
{
	struct access_list *l;

	(void)state;
	/* allow then deny: the narrow allow is a hole in the deny. */
	l = list_of((const char *[]){ "allow 10.1.0.0/16", "deny 10.0.0.0/8" }, 2);
	expect(l, "10.1.2.3", true, 0);
	expect(l, "10.2.0.0", false, 1);
	expect(l, "11.0.0.0", true, -1);
	access_list_free(l);
	/* deny then allow: the deny comes first, the allow never wins there. */
	l = list_of((const char *[]){ "deny 10.0.0.0/8", "allow 10.1.0.0/16" }, 2);
	expect(l, "10.1.2.3", false, 0);
	expect(l, "10.2.0.0", false, 0);
	access_list_free(l);
	/* The same CIDR twice: the first one decides. */
	l = list_of((const char *[]){ "deny 192.0.2.0/24", "allow 192.0.2.0/24" }, 2);
	expect(l, "192.0.2.9", false, 0);
	access_list_free(l);
}

static void
test_list_issue_example(void **state)
{
	struct access_list *l;

	(void)state;
	l = list_of((const char *[]){ "deny 192.0.2.0/24", "allow 10.0.0.0/8",
	    "allow ::1", "deny all" }, 4);
	expect(l, "192.0.2.1", false, 0);
	expect(l, "10.9.8.7", true, 1);
	expect(l, "::ffff:10.9.8.7", true, 1);
	expect(l, "::1", true, 2);
	expect(l, "127.0.0.1", false, 3);
	expect(l, "2001:db8::1", false, 3);
	expect(l, "::ffff:192.0.2.1", false, 0);
	access_list_free(l);
}

static void
test_list_all_keeps_its_place(void **state)
{
	struct access_list *l;
	struct sockaddr_un sun;
	int idx = -2;

	(void)state;
	l = list_of((const char *[]){ "allow 10.0.0.0/8", "deny all",
	    "allow 192.0.2.0/24", "allow 2001:db8::/32", "allow all" }, 5);
	expect(l, "10.0.0.1", true, 0);
	expect(l, "192.0.2.1", false, 1);
	expect(l, "2001:db8::1", false, 1);
	/* Other families can only match "all". */
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	assert_false(access_allows(l, (struct sockaddr *)&sun, &idx));
	assert_int_equal(idx, 1);
	assert_false(access_allows(l, NULL, &idx));
	access_list_free(l);
	l = list_of((const char *[]){ "deny 10.0.0.0/8", "allow 2001:db8::/32",
	    "allow all" }, 3);
	expect(l, "10.0.0.1", false, 0);
	expect(l, "2001:db8::1", true, 1);
	expect(l, "::1", true, 2);
	expect(l, "1.2.3.4", true, 2);
	assert_true(access_allows(l, (struct sockaddr *)&sun, &idx));
	assert_int_equal(idx, 2);
	access_list_free(l);
	l = list_of((const char *[]){ "deny 10.0.0.0/8" }, 1);
	assert_true(access_allows(l, (struct sockaddr *)&sun, &idx));
	assert_int_equal(idx, -1);
	access_list_free(l);
}

static void
test_list_edges(void **state)
{
	struct access_list *l;

	(void)state;
	/* Ranges at both ends of each family's space. */
	l = list_of((const char *[]){ "deny 0.0.0.0/32", "deny 255.255.255.255",
	    "deny ::/128", "deny ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
	    "allow 0.0.0.0/0", "deny ::/0" }, 6);
	expect(l, "0.0.0.0", false, 0);
	expect(l, "0.0.0.1", true, 4);
	expect(l, "255.255.255.255", false, 1);
	expect(l, "255.255.255.254", true, 4);
	expect(l, "::", false, 2);
	expect(l, "::1", false, 5);
	expect(l, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", false, 3);
	expect(l, "::ffff:0.0.0.0", false, 0);
	expect(l, "::ffff:0.0.0.1", true, 4);
	access_list_free(l);
	/* The rules are copied: the caller's array may go away. */
	{
		struct access_rule r[1] = { rule_of("deny 10.0.0.0/8") };

		assert_non_null(l = access_list_create(r, 1));
		memset(r, 0, sizeof(r));
		expect(l, "10.1.1.1", false, 0);
		access_list_free(l);
	}
}

/* ---------------------------------------------------------------- random */

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

/* xorshift64*: deterministic, so a failure reproduces. */
static uint64_t
rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 2685821657736338717ull;
}

/* Whether the first prefix bits of a and b agree, one bit at a time. */
static bool
ref_prefix_equal(const uint8_t *a, const uint8_t *b, unsigned prefix)
{
	unsigned i;

	for (i = 0; i < prefix; i++)
		if (((a[i / 8] >> (7 - i % 8)) ^ (b[i / 8] >> (7 - i % 8))) & 1)
			return false;
	return true;
}

/* The plain reading of the rules: scan in order, first match decides. */
static int
ref_first_match(const struct access_rule *rules, size_t n,
    const struct sockaddr *sa)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };
	const uint8_t *a;
	int family;
	size_t i;

	if (sa->sa_family == AF_INET) {
		family = AF_INET, a = (const uint8_t *)&sin->sin_addr;
	} else if (memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
		family = AF_INET, a = sin6->sin6_addr.s6_addr + 12;
	} else
		family = AF_INET6, a = sin6->sin6_addr.s6_addr;
	for (i = 0; i < n; i++)
		if (rules[i].all || (rules[i].net.family == family &&
		    ref_prefix_equal(rules[i].net.addr, a, rules[i].net.prefix)))
			return (int)i;
	return -1;
}

/* Addresses from a few neighbourhoods, so that random rules overlap. */
static void
random_bytes(uint8_t *b, int family)
{
	uint64_t r = rng();
	size_t i, n = family == AF_INET ? 4 : 16;

	for (i = 0; i < n; i++)
		b[i] = (uint8_t)rng();
	switch (r % 4) {
	case 0:		/* anywhere */
		break;
	case 1:		/* one of 4 /8s (or /16s) */
		b[0] = (uint8_t)(10 + (r >> 8) % 4);
		if (family == AF_INET6)
			b[1] = 0x01;
		break;
	default:	/* within a /24 (v4) or /120 (v6) */
		memset(b, 0, n - 1);
		b[0] = family == AF_INET ? 192 : 0x20;
		break;
	}
}

static unsigned
bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* Zero the bits after the prefix, one at a time. */
static void
ref_clear_host(struct cidr *c)
{
	unsigned i;

	for (i = c->prefix; i < bits_of(c->family); i++)
		c->addr[i / 8] &= (uint8_t)~(0x80 >> (i % 8));
}

/*
 * A random rule, made through its text so that the parser is used.
 * Without wide, no "all" and no prefix shorter than a quarter of the
 * address: most addresses then match nothing, even with 300 rules.
 */
static void
random_rule(struct access_rule *rule, bool wide)
{
	int family = rng() % 2 ? AF_INET : AF_INET6;
	unsigned bits = bits_of(family);
	char text[CIDR_STRLEN], err[160];
	struct cidr c;
	uint64_t r;

	memset(rule, 0, sizeof(*rule));
	rule->allow = rng() % 2;
	if (wide && rng() % 500 == 0) {
		rule->all = true;
		return;
	}
	memset(&c, 0, sizeof(c));
	c.family = (uint8_t)family;
	/* Mostly long prefixes, some medium, a few of any length. */
	r = rng() % 20;
	if (r < 14)
		c.prefix = (uint8_t)(bits - rng() % (bits / 4 + 1));
	else if (r < 19 || !wide)
		c.prefix = (uint8_t)(bits / 4 + rng() % (bits * 3 / 4 + 1));
	else
		c.prefix = (uint8_t)(rng() % (bits + 1));
	random_bytes(c.addr, family);
	ref_clear_host(&c);
	cidr_format(&c, text, sizeof(text));
	if (cidr_parse(text, &rule->net, err, sizeof(err)) != 0)
		fail_msg("random rule %s: %s", text, err);
	if (rule->net.family == c.family)
		assert_memory_equal(&rule->net, &c, sizeof(c));
}

/*
 * Into b, an address inside c (random host bits) or, one time in 8, with
 * its last bit flipped: just outside a /32 or /128.  Returns the family.
 */
static int
near_rule(const struct cidr *c, uint8_t *b)
{
	unsigned i;

	memcpy(b, c->addr, 16);
	for (i = c->prefix; i < bits_of(c->family); i++)
		if (rng() % 2)
			b[i / 8] |= (uint8_t)(0x80 >> (i % 8));
	if (rng() % 8 == 0)
		b[bits_of(c->family) / 8 - 1] ^= 1;
	return c->family;
}

/* An address near a rule, or anywhere; IPv4 sometimes v4-mapped. */
static struct sockaddr_storage
random_peer(const struct access_rule *rules, size_t n)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
	uint8_t b[16];
	int family = rng() % 2 ? AF_INET : AF_INET6;
	size_t i;

	random_bytes(b, family);
	if (n > 0 && rng() % 2 && rules[i = rng() % n].net.family != 0)
		family = near_rule(&rules[i].net, b);
	memset(&ss, 0, sizeof(ss));
	if (family == AF_INET && rng() % 3) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, b, 4);
	} else if (family == AF_INET) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(sin6->sin6_addr.s6_addr + 12, b, 4);
	} else {
		sin6->sin6_family = AF_INET6;
		memcpy(sin6->sin6_addr.s6_addr, b, 16);
	}
	return ss;
}

static void
check_random_list(size_t n, int npeers, bool wide)
{
	struct access_rule rules[300];
	struct access_list *l;
	struct sockaddr_storage ss;
	int i, got, want;

	for (i = 0; i < (int)n; i++)
		random_rule(&rules[i], wide);
	assert_non_null(l = access_list_create(rules, n));
	for (i = 0; i < npeers; i++) {
		ss = random_peer(rules, n);
		want = ref_first_match(rules, n, (struct sockaddr *)&ss);
		if (access_allows(l, (struct sockaddr *)&ss, &got) !=
		    (want < 0 || rules[want].allow) || got != want)
			fail_msg("%zu rules, peer %d: rule %d, want %d", n, i,
			    got, want);
	}
	access_list_free(l);
}

static void
test_list_random_vs_reference(void **state)
{
	size_t n;

	(void)state;
	for (n = 0; n <= 12; n++) {
		check_random_list(n, 2000, false);
		check_random_list(n, 2000, true);
	}
	for (n = 20; n <= 300; n += 40) {
		check_random_list(n, 5000, false);
		check_random_list(n, 5000, true);
	}
	check_random_list(300, 100000, false);
	check_random_list(300, 100000, true);
}

/* access_list_parse: the config's strings into a list (rules, or bare CIDRs). */
static void
test_list_parse(void **state)
{
	char *rules[] = { "deny 127.0.0.66", "allow all" };
	char *exempt[] = { "127.0.0.0/8", "::1" };
	char *bad[] = { "allow all", "10.0.0.0/33" };
	struct sockaddr_storage a = ss_of("127.0.0.66"), b = ss_of("127.0.0.1"),
	    c = ss_of("::1"), d = ss_of("192.0.2.1");
	struct access_list *l;
	int rule;

	(void)state;
	assert_int_equal(access_list_parse(rules, 0, false, &l), 0);
	assert_null(l);
	assert_int_equal(access_list_parse(rules, 2, false, &l), 0);
	assert_false(access_allows(l, (struct sockaddr *)&a, &rule));
	assert_int_equal(rule, 0);
	assert_true(access_allows(l, (struct sockaddr *)&b, &rule));
	assert_int_equal(rule, 1);
	access_list_free(l);
	assert_int_equal(access_list_parse(exempt, 2, true, &l), 0);
	assert_true(access_allows(l, (struct sockaddr *)&b, &rule));
	assert_int_equal(rule, 0);
	assert_true(access_allows(l, (struct sockaddr *)&c, &rule));
	assert_int_equal(rule, 1);
	assert_true(access_allows(l, (struct sockaddr *)&d, &rule));
	assert_int_equal(rule, -1);	/* not exempt */
	access_list_free(l);
	assert_int_equal(access_list_parse(bad, 2, true, &l), -1);
	assert_null(l);
	assert_int_equal(access_list_parse(exempt, 2, false, &l), -1);	/* CIDRs are not rules */
	assert_null(l);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cidr_parse_valid),
		cmocka_unit_test(test_cidr_parse_fields),
		cmocka_unit_test(test_cidr_parse_invalid),
		cmocka_unit_test(test_cidr_parse_host_bits),
		cmocka_unit_test(test_cidr_parse_err_buffers),
		cmocka_unit_test(test_cidr_format),
		cmocka_unit_test(test_match_v4),
		cmocka_unit_test(test_match_v6),
		cmocka_unit_test(test_match_mapped),
		cmocka_unit_test(test_match_unaligned),
		cmocka_unit_test(test_match_other_families),
		cmocka_unit_test(test_rule_parse),
		cmocka_unit_test(test_rule_parse_invalid),
		cmocka_unit_test(test_list_default_allow),
		cmocka_unit_test(test_list_first_match_wins),
		cmocka_unit_test(test_list_issue_example),
		cmocka_unit_test(test_list_all_keeps_its_place),
		cmocka_unit_test(test_list_edges),
		cmocka_unit_test(test_list_random_vs_reference),
		cmocka_unit_test(test_list_parse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
