/* SPDX-License-Identifier: ISC */
/*
 * test_proxy.c: the PROXY protocol header parser (proxy.c), case by case
 * through HAProxy's doc/proxy-protocol.txt: version 1 lines (TCP4, TCP6,
 * UNKNOWN, the length limit, spaces, CRLF, addresses, ports), version 2
 * headers (every command, family and transport, address blocks, TLVs,
 * CRC32C, the size cap), and for each header every prefix of it.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "proxy.h"

#define SIG	"\r\n\r\n\0\r\nQUIT\n"

/*
 * Parse len bytes from a heap copy of exactly that size (an over-read
 * shows under ASan); out and consumed are pre-filled with a pattern and
 * must keep it unless the result is PROXY_OK.
 */
static enum proxy_result
parse_n(const void *data, size_t len, struct proxy_hdr *out, size_t *consumed)
{
	struct proxy_hdr pattern, h;
	size_t c = (size_t)-7;
	uint8_t *copy = malloc(len > 0 ? len : 1);
	enum proxy_result r;

	assert_non_null(copy);
	if (len > 0)
		memcpy(copy, data, len);
	memset(&pattern, 0xa5, sizeof(pattern));
	h = pattern;
	r = proxy_parse(len > 0 ? copy : NULL, len, &h, &c);
	free(copy);
	if (r != PROXY_OK) {
		assert_memory_equal(&h, &pattern, sizeof(h));
		assert_true(c == (size_t)-7);
	} else
		assert_true(c >= 1 && c <= len && c <= PROXY_MAX_LEN);
	if (r == PROXY_NEED_MORE)
		assert_true(len < PROXY_MAX_LEN);
	if (out != NULL)
		*out = h;
	if (consumed != NULL)
		*consumed = c;
	return r;
}

static enum proxy_result
parse_s(const char *s, struct proxy_hdr *out, size_t *consumed)
{
	return parse_n(s, strlen(s), out, consumed);
}

/*
 * A header of len bytes that is valid, followed by nothing: every prefix
 * of it needs more, never succeeds or fails; the whole is PROXY_OK with
 * consumed = len; and so it is with client bytes after it.
 */
static void
check_prefixes_ok(const uint8_t *buf, size_t len, struct proxy_hdr *out)
{
	static const char tail[64] = "GET / HTTP/1.1\r\n\r\n\0\xff PROXY \r\n\r\n\0\r\nQUIT\n!!!!";
	uint8_t *more = malloc(len + 64);
	struct proxy_hdr h2;
	size_t c;

	assert_non_null(more);
	for (size_t i = 0; i < len; i++) {
		enum proxy_result r = parse_n(buf, i, NULL, NULL);

		if (r != PROXY_NEED_MORE)
			fail_msg("prefix of %zu of %zu bytes: %s, not need_more", i, len,
			    proxy_reason(r));
	}
	assert_int_equal(parse_n(buf, len, out, &c), PROXY_OK);
	assert_int_equal(c, len);
	memcpy(more, buf, len);
	memcpy(more + len, tail, sizeof(tail));
	for (size_t extra = 1; extra <= 64; extra += 7) {
		assert_int_equal(parse_n(more, len + extra, &h2, &c), PROXY_OK);
		assert_int_equal(c, len);
		assert_memory_equal(&h2, out, sizeof(h2));
	}
	free(more);
}

/*
 * A bad header: the whole is `want`, every prefix is need-more or
 * `want` (never OK, never another reason), and so is every extension.
 */
static void
check_bad_n(const void *data, size_t len, enum proxy_result want)
{
	uint8_t *more = malloc(len + 200);
	enum proxy_result r;

	assert_non_null(more);
	r = parse_n(data, len, NULL, NULL);
	if (r != want)
		fail_msg("%.*s (%zu bytes): %s, want %s", (int)len, (const char *)data, len,
		    proxy_reason(r), proxy_reason(want));
	for (size_t i = 0; i < len; i++) {
		r = parse_n(data, i, NULL, NULL);
		if (r != PROXY_NEED_MORE && r != want)
			fail_msg("%.*s: prefix of %zu: %s, want need_more or %s", (int)len,
			    (const char *)data, i, proxy_reason(r), proxy_reason(want));
	}
	memcpy(more, data, len);
	memset(more + len, 'x', 100);
	memcpy(more + len + 100, "\r\n 1.2.3.4 5 6\r\n\r\n\0\r\nQUIT\n", 27);
	for (size_t extra = 1; extra <= 127; extra += 9) {
		r = parse_n(more, len + extra, NULL, NULL);
		if (r != want)
			fail_msg("%.*s + %zu bytes: %s, want %s", (int)len, (const char *)data,
			    extra, proxy_reason(r), proxy_reason(want));
	}
	free(more);
}

static void
check_bad(const char *s, enum proxy_result want)
{
	check_bad_n(s, strlen(s), want);
}

static void
check_v4(const struct sockaddr_storage *ss, socklen_t len, const char *addr, uint16_t port)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	char text[INET_ADDRSTRLEN];

	assert_int_equal(ss->ss_family, AF_INET);
	assert_int_equal(len, sizeof(struct sockaddr_in));
	assert_non_null(inet_ntop(AF_INET, &sin->sin_addr, text, sizeof(text)));
	assert_string_equal(text, addr);
	assert_int_equal(ntohs(sin->sin_port), port);
}

static void
check_v6(const struct sockaddr_storage *ss, socklen_t len, const char *addr, uint16_t port)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct in6_addr want;

	assert_int_equal(ss->ss_family, AF_INET6);
	assert_int_equal(len, sizeof(struct sockaddr_in6));
	assert_int_equal(inet_pton(AF_INET6, addr, &want), 1);
	assert_memory_equal(&sin6->sin6_addr, &want, 16);
	assert_int_equal(ntohs(sin6->sin6_port), port);
	assert_int_equal(sin6->sin6_flowinfo, 0);
	assert_int_equal(sin6->sin6_scope_id, 0);
}

/* No addresses to use: src and dst all zero. */
static void
check_no_addrs(const struct proxy_hdr *h)
{
	static const struct sockaddr_storage zero;

	assert_false(h->use_addrs);
	assert_memory_equal(&h->src, &zero, sizeof(zero));
	assert_memory_equal(&h->dst, &zero, sizeof(zero));
	assert_int_equal(h->src_len, 0);
	assert_int_equal(h->dst_len, 0);
}

/* ---------------------------------------------------------------- version 1 */

/* The specification's example, before an HTTP request: the request is not eaten. */
static void
test_v1_tcp4_example(void **state)
{
	static const char line[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n";
	static const char stream[] = "PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n"
	    "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n";
	struct proxy_hdr h;
	size_t c;

	(void)state;
	assert_int_equal(parse_s(stream, &h, &c), PROXY_OK);
	assert_int_equal(c, strlen(line));
	assert_string_equal(stream + c, "GET / HTTP/1.1\r\nHost: 192.168.0.11\r\n\r\n");
	assert_int_equal(h.version, 1);
	assert_int_equal(h.command, PROXY_CMD_PROXY);
	assert_int_equal(h.family, AF_INET);
	assert_int_equal(h.transport, SOCK_STREAM);
	assert_true(h.use_addrs);
	check_v4(&h.src, h.src_len, "192.168.0.1", 56324);
	check_v4(&h.dst, h.dst_len, "192.168.0.11", 443);
	check_prefixes_ok((const uint8_t *)line, strlen(line), &h);
}

/* The longest TCP4 line (56 bytes), and the smallest values. */
static void
test_v1_tcp4_limits(void **state)
{
	static const char max[] = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
	static const char min[] = "PROXY TCP4 0.0.0.0 0.0.0.0 0 0\r\n";
	struct proxy_hdr h;

	(void)state;
	assert_int_equal(strlen(max), 56);
	check_prefixes_ok((const uint8_t *)max, strlen(max), &h);
	check_v4(&h.src, h.src_len, "255.255.255.255", 65535);
	check_v4(&h.dst, h.dst_len, "255.255.255.255", 65535);
	check_prefixes_ok((const uint8_t *)min, strlen(min), &h);
	check_v4(&h.src, h.src_len, "0.0.0.0", 0);
	check_v4(&h.dst, h.dst_len, "0.0.0.0", 0);
	assert_true(h.use_addrs);
	check_prefixes_ok((const uint8_t *)"PROXY TCP4 10.20.30.40 1.9.99.100 1 10\r\n", 40, &h);
	check_v4(&h.src, h.src_len, "10.20.30.40", 1);
	check_v4(&h.dst, h.dst_len, "1.9.99.100", 10);
}

/* TCP6: the longest line (104 bytes), compressed forms, case, an IPv4 tail. */
static void
test_v1_tcp6(void **state)
{
	static const char max[] = "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const struct { const char *line, *src, *dst; uint16_t sport, dport; } ok[] = {
		{ "PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n",
		    "2001:db8::1", "2001:db8::2", 56324, 443 },
		{ "PROXY TCP6 ::1 :: 1 0\r\n", "::1", "::", 1, 0 },
		{ "PROXY TCP6 2001:DB8:0:0:0:0:0:1 FE80::aB 80 8080\r\n",
		    "2001:db8::1", "fe80::ab", 80, 8080 },
		/* haproxy's form for an IPv4 client when the other end is IPv6 */
		{ "PROXY TCP6 ::ffff:192.0.2.1 2001:db8::2 1234 443\r\n",
		    "::ffff:192.0.2.1", "2001:db8::2", 1234, 443 },
		{ "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255 ::ffff:0.0.0.0 2 3\r\n",
		    "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255", "::ffff:0.0.0.0", 2, 3 },
		/* leading zeros in groups: inet_pton takes 1 to 4 digits */
		{ "PROXY TCP6 0001:0db8:0000:0000:0000:0000:0000:0001 1:: 5 6\r\n",
		    "1:db8::1", "1::", 5, 6 },
	};
	struct proxy_hdr h;

	(void)state;
	assert_int_equal(strlen(max), 104);
	check_prefixes_ok((const uint8_t *)max, strlen(max), &h);
	assert_int_equal(h.family, AF_INET6);
	assert_int_equal(h.transport, SOCK_STREAM);
	assert_true(h.use_addrs);
	check_v6(&h.src, h.src_len, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	check_v6(&h.dst, h.dst_len, "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 65535);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		check_prefixes_ok((const uint8_t *)ok[i].line, strlen(ok[i].line), &h);
		check_v6(&h.src, h.src_len, ok[i].src, ok[i].sport);
		check_v6(&h.dst, h.dst_len, ok[i].dst, ok[i].dport);
	}
}

/* UNKNOWN: short form, the rest of the line ignored, up to 107 bytes. */
static void
test_v1_unknown(void **state)
{
	static const char worst[] = "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
	    "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff 65535 65535\r\n";
	static const char *ok[] = {
		"PROXY UNKNOWN\r\n",
		"PROXY UNKNOWN 192.0.2.1 192.0.2.2 1 2\r\n",
		"PROXY UNKNOWN anything at all, even 999.1.1.1 or  two  spaces\r\n",
		"PROXY UNKNOWN \r\n",
		"PROXY UNKNOWN \t\x01\x7f\xff\r\n",
	};
	char over[sizeof(worst) + 1];
	struct proxy_hdr h;
	size_t c;

	(void)state;
	assert_int_equal(strlen(ok[0]), 15);
	assert_int_equal(strlen(worst), PROXY_V1_MAX_LEN);
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		check_prefixes_ok((const uint8_t *)ok[i], strlen(ok[i]), &h);
		assert_int_equal(h.version, 1);
		assert_int_equal(h.command, PROXY_CMD_PROXY);
		assert_int_equal(h.family, AF_UNSPEC);
		assert_int_equal(h.transport, 0);
		check_no_addrs(&h);
	}
	check_prefixes_ok((const uint8_t *)worst, strlen(worst), &h);
	check_no_addrs(&h);
	/* A NUL is "anything" too. */
	assert_int_equal(parse_n("PROXY UNKNOWN \0\r\n", 17, &h, &c), PROXY_OK);
	assert_int_equal(c, 17);

	/* One byte more than the worst case: too long. */
	memcpy(over, worst, 53);
	over[53] = 'f';
	memcpy(over + 54, worst + 53, sizeof(worst) - 53);
	assert_int_equal(strlen(over), PROXY_V1_MAX_LEN + 1);
	check_bad(over, PROXY_ERR_TOO_LONG);

	/* The keyword is whole and upper-case; a lone CR or LF is no end of line. */
	check_bad("PROXY UNKNOWNX\r\n", PROXY_ERR_FAMILY);
	check_bad("PROXY UNKNOW\r\n", PROXY_ERR_FAMILY);
	check_bad("PROXY unknown\r\n", PROXY_ERR_FAMILY);
	check_bad("PROXY UNKNOWN\n", PROXY_ERR_SYNTAX);
	check_bad("PROXY UNKNOWN\rX", PROXY_ERR_SYNTAX);
	check_bad("PROXY UNKNOWN abc\ndef\r\n", PROXY_ERR_SYNTAX);
	check_bad("PROXY UNKNOWN abc\rdef\r\n", PROXY_ERR_SYNTAX);
	check_bad("PROXY UNKNOWN\r\r\n", PROXY_ERR_SYNTAX);
}

/* No CRLF within 107 bytes: too long, as soon as 107 bytes are there. */
static void
test_v1_too_long(void **state)
{
	char line[300];
	size_t n;

	(void)state;
	/* 107 bytes of a line that could still be valid, but no CRLF */
	n = (size_t)snprintf(line, sizeof(line), "PROXY UNKNOWN %*s", PROXY_V1_MAX_LEN - 14, "");
	assert_int_equal(n, PROXY_V1_MAX_LEN);
	assert_int_equal(parse_n(line, PROXY_V1_MAX_LEN - 1, NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_n(line, PROXY_V1_MAX_LEN, NULL, NULL), PROXY_ERR_TOO_LONG);
	/* the CR as 107th byte, the LF 108th */
	line[PROXY_V1_MAX_LEN - 1] = '\r';
	line[PROXY_V1_MAX_LEN] = '\n';
	line[PROXY_V1_MAX_LEN + 1] = '\0';
	check_bad(line, PROXY_ERR_TOO_LONG);
	/* the CRLF as bytes 106 and 107: fits */
	line[PROXY_V1_MAX_LEN - 2] = '\r';
	line[PROXY_V1_MAX_LEN - 1] = '\n';
	assert_int_equal(parse_n(line, PROXY_V1_MAX_LEN, NULL, &n), PROXY_OK);
	assert_int_equal(n, PROXY_V1_MAX_LEN);
	/* a long run of anything is too long at 107, not later */
	memset(line, 'x', sizeof(line));
	memcpy(line, "PROXY UNKNOWN ", 14);
	assert_int_equal(parse_n(line, sizeof(line), NULL, NULL), PROXY_ERR_TOO_LONG);
}

/* Exactly one space between fields, none elsewhere; CRLF and nothing else. */
static void
test_v1_spaces_and_crlf(void **state)
{
	static const struct { const char *s; enum proxy_result want; } bad[] = {
		{ "PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8  1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1  2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY  UNKNOWN\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY\tTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4\t1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ERR_FAMILY },
		{ "PROXY TCP4 1.2.3.4\t5.6.7.8 1 2\r\n", PROXY_ERR_ADDRESS },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\t2\r\n", PROXY_ERR_PORT },
		{ "PROXYTCP4 1.2.3.4 5.6.7.8 1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY \r\n", PROXY_ERR_SYNTAX },
		/* fields missing */
		{ "PROXY TCP4\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 \r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP6 ::1 ::2 1\r\n", PROXY_ERR_SYNTAX },
		/* not CRLF */
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n\r", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4\n5.6.7.8 1 2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4 1.2.3.4 5.6.7.8 1\r2\r\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4\n", PROXY_ERR_SYNTAX },
		{ "PROXY TCP4\r", PROXY_ERR_SYNTAX },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(bad[i].s, bad[i].want);
	/* CR then nothing yet: might be CRLF */
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r", NULL, NULL),
	    PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY UNKNOWN\r", NULL, NULL), PROXY_NEED_MORE);
}

/* The line pre + field + post. */
static void
check_bad_field(const char *pre, const char *field, const char *post, enum proxy_result want)
{
	char line[256];

	snprintf(line, sizeof(line), "%s%s%s", pre, field, post);
	check_bad(line, want);
}

/* IPv4: four numbers 0-255, no leading zero; and the family must match. */
static void
test_v1_bad_ipv4(void **state)
{
	static const char *bad[] = {
		"256.1.1.1", "1.2.3.256", "1.2.3.1000", "01.2.3.4", "1.2.3.04", "1.00.3.4",
		"00.0.0.0", "1.2.3", "1.2.3.4.5", "1..2.3", ".1.2.3", "1.2.3.", "a.b.c.d",
		"1.2.3.4/8", "-1.2.3.4", "+1.2.3.4", "0x7f.0.0.1", "127.1", "2130706433",
		"1.2.3.4:80", "::1", "::ffff:1.2.3.4", "1.2.3.4a", "999.999.999.999",
		"1.2.3.-4", "1.2.3.4%", "\xff",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		check_bad_field("PROXY TCP4 ", bad[i], " 5.6.7.8 1 2\r\n", PROXY_ERR_ADDRESS);
		check_bad_field("PROXY TCP4 5.6.7.8 ", bad[i], " 1 2\r\n", PROXY_ERR_ADDRESS);
	}
	/* A NUL in an address, which a C string cannot carry. */
	check_bad_n("PROXY TCP4 1.2.\0.4 5.6.7.8 1 2\r\n", 32, PROXY_ERR_ADDRESS);
	/* Rejected at the byte that breaks it, before the CRLF. */
	assert_int_equal(parse_s("PROXY TCP4 256", NULL, NULL), PROXY_ERR_ADDRESS);
	assert_int_equal(parse_s("PROXY TCP4 25", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY TCP4 0", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY TCP4 01", NULL, NULL), PROXY_ERR_ADDRESS);
	assert_int_equal(parse_s("PROXY TCP4 ::", NULL, NULL), PROXY_ERR_ADDRESS);
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8.", NULL, NULL), PROXY_ERR_ADDRESS);
}

/* IPv6: what inet_pton takes, and nothing in a TCP6 line that is IPv4. */
static void
test_v1_bad_ipv6(void **state)
{
	static const char *bad[] = {
		"1.2.3.4", "[::1]", "fe80::1%eth0", "fe80::1%1", "1:2:3:4:5:6:7:8:9",
		"12345::", ":::", "1::2::3", ":1::", "1:2:3:4:5:6:7", "g::1", "::ffff:01.2.3.4",
		"::ffff:1.2.3.256", "::ffff:1.2.3", "0000:0000:0000:0000:0000:0000:0000:0000:0",
		"0000:0000:0000:0000:0000:0000:0000:00001", "::1/128", "-::1", " ::1",
		"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
		"::1.2.3.4.5", "1.2.3.4::",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		enum proxy_result want = bad[i][0] == ' ' ? PROXY_ERR_SYNTAX : PROXY_ERR_ADDRESS;

		check_bad_field("PROXY TCP6 ", bad[i], " ::2 1 2\r\n", want);
		check_bad_field("PROXY TCP6 ::2 ", bad[i], " 1 2\r\n", want);
	}
	/* Longer than any IPv6 text (45 bytes): rejected before its end. */
	assert_int_equal(parse_s("PROXY TCP6 0000:0000:0000:0000:0000:0000:000.000.000.0000",
	    NULL, NULL), PROXY_ERR_ADDRESS);
	assert_int_equal(parse_s("PROXY TCP6 2001:db8", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY TCP6 2001:db8%", NULL, NULL), PROXY_ERR_ADDRESS);
}

/* Ports: decimal 0-65535, no sign, no leading zero, digits only. */
static void
test_v1_bad_ports(void **state)
{
	static const char *bad[] = {
		"65536", "99999", "100000", "655350", "080", "00", "0443", "-1", "+80",
		"0x50", "1e3", "80a", "8 0", "80.0", "\xff", "٣",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		/* "8 0" has one field too many in source place, a split one as destination */
		enum proxy_result want = strchr(bad[i], ' ') ? PROXY_ERR_SYNTAX : PROXY_ERR_PORT;

		if (strchr(bad[i], ' ') == NULL)
			check_bad_field("PROXY TCP4 1.2.3.4 5.6.7.8 ", bad[i], " 2\r\n", want);
		check_bad_field("PROXY TCP4 1.2.3.4 5.6.7.8 1 ", bad[i], "\r\n", want);
		check_bad_field("PROXY TCP6 ::1 ::2 1 ", bad[i], "\r\n", want);
	}
	/* Over 65535 as soon as the digits say so. */
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 65536", NULL, NULL), PROXY_ERR_PORT);
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 6553", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 0", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 00", NULL, NULL), PROXY_ERR_PORT);
}

/* Keywords: TCP4, TCP6, UNKNOWN only, upper-case. */
static void
test_v1_bad_family(void **state)
{
	static const char *bad[] = {
		"PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY UDP4 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP 1.2.3.4 5.6.7.8 1 2\r\n",
		"PROXY TCP44 1.2.3.4 5.6.7.8 1 2\r\n", "PROXY TCP46 ::1 ::2 1 2\r\n",
		"PROXY UNIX /a /b\r\n", "PROXY X\r\n",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(bad[i], PROXY_ERR_FAMILY);
	assert_int_equal(parse_s("PROXY T", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY TX", NULL, NULL), PROXY_ERR_FAMILY);
	assert_int_equal(parse_s("PROXY UNK", NULL, NULL), PROXY_NEED_MORE);
}

/* The wrong family for the addresses: an IPv4 address in TCP6, IPv6 in TCP4. */
static void
test_v1_family_mismatch(void **state)
{
	(void)state;
	check_bad("PROXY TCP6 192.0.2.1 192.0.2.2 1 2\r\n", PROXY_ERR_ADDRESS);
	check_bad("PROXY TCP4 ::ffff:192.0.2.1 192.0.2.2 1 2\r\n", PROXY_ERR_ADDRESS);
	check_bad("PROXY TCP4 192.0.2.1 ::ffff:192.0.2.2 1 2\r\n", PROXY_ERR_ADDRESS);
	check_bad("PROXY TCP4 192.0.2.1 ::1 1 2\r\n", PROXY_ERR_ADDRESS);
	check_bad("PROXY TCP6 ::1 192.0.2.2 1 2\r\n", PROXY_ERR_ADDRESS);
}

/* Neither "PROXY" nor the v2 signature: not a PROXY header, at the first wrong byte. */
static void
test_not_proxy(void **state)
{
	static const char *bad[] = {
		"GET / HTTP/1.1\r\n", "proxy TCP4 1.2.3.4 5.6.7.8 1 2\r\n", "PROXZ", "PRXY",
		"\x16\x03\x01\x02\x00", "SSH-2.0-OpenSSH\r\n", "hello\n", " PROXY UNKNOWN\r\n",
		"\rX", "\r\n\r\n\r\n", "POST / HTTP/1.0\r\n",
	};
	struct proxy_hdr h;
	size_t c;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		check_bad(bad[i], PROXY_ERR_SIGNATURE);
	check_bad_n("\0", 1, PROXY_ERR_SIGNATURE);
	check_bad_n("\r\n\r\n\0\r\nQUIX\n\x21\x11\x00\x00", 16, PROXY_ERR_SIGNATURE);
	check_bad_n("\r\n\r\n\1\r\nQUIT\n\x21\x11\x00\x00", 16, PROXY_ERR_SIGNATURE);
	/* Nothing yet, or a beginning of either: wait. */
	assert_int_equal(proxy_parse(NULL, 0, &h, &c), PROXY_NEED_MORE);
	assert_int_equal(parse_s("P", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROX", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_s("PROXY ", NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_n(SIG, 5, NULL, NULL), PROXY_NEED_MORE);
	assert_int_equal(parse_n(SIG, 12, NULL, NULL), PROXY_NEED_MORE);
}

/* ---------------------------------------------------------------- version 2 */

/* A v2 header: signature, ver_cmd, fam, length of body, body. */
static size_t
v2(uint8_t *out, uint8_t ver_cmd, uint8_t fam, const void *body, size_t blen)
{
	memcpy(out, SIG, 12);
	out[12] = ver_cmd;
	out[13] = fam;
	out[14] = (uint8_t)(blen >> 8);
	out[15] = (uint8_t)blen;
	if (blen > 0)
		memcpy(out + 16, body, blen);
	return 16 + blen;
}

static const uint8_t addr4[12] = {
	192, 0, 2, 1,  198, 51, 100, 2,  0xdc, 0x04,  0x01, 0xbb,	/* 56324, 443 */
};
static const uint8_t addr6[36] = {
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
	0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02,
	0x00, 0x00,  0xff, 0xff,					/* 0, 65535 */
};

static void
test_v2_tcp4(void **state)
{
	uint8_t buf[64];
	struct proxy_hdr h;
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x11, addr4, sizeof(addr4));
	assert_int_equal(n, 28);
	check_prefixes_ok(buf, n, &h);
	assert_int_equal(h.version, 2);
	assert_int_equal(h.command, PROXY_CMD_PROXY);
	assert_int_equal(h.family, AF_INET);
	assert_int_equal(h.transport, SOCK_STREAM);
	assert_true(h.use_addrs);
	check_v4(&h.src, h.src_len, "192.0.2.1", 56324);
	check_v4(&h.dst, h.dst_len, "198.51.100.2", 443);
}

static void
test_v2_tcp6(void **state)
{
	uint8_t buf[64];
	struct proxy_hdr h;
	size_t n;

	(void)state;
	n = v2(buf, 0x21, 0x21, addr6, sizeof(addr6));
	assert_int_equal(n, 52);
	check_prefixes_ok(buf, n, &h);
	assert_int_equal(h.family, AF_INET6);
	assert_int_equal(h.transport, SOCK_STREAM);
	assert_true(h.use_addrs);
	check_v6(&h.src, h.src_len, "2001:db8::1", 0);
	check_v6(&h.dst, h.dst_len, "2001:db8::2", 65535);
}

/*
 * UDP over IPv4/IPv6, UNIX stream/datagram, UNSPEC: accepted, announced
 * as such, and the connection's own addresses kept (see proxy.h).
 */
static void
test_v2_other_families(void **state)
{
	static const struct { uint8_t fam; size_t alen; int family, transport; } cases[] = {
		{ 0x12, 12, AF_INET, SOCK_DGRAM },
		{ 0x22, 36, AF_INET6, SOCK_DGRAM },
		{ 0x31, 216, AF_UNIX, SOCK_STREAM },
		{ 0x32, 216, AF_UNIX, SOCK_DGRAM },
		{ 0x00, 0, AF_UNSPEC, 0 },
	};
	uint8_t body[300], buf[400];
	struct proxy_hdr h;

	(void)state;
	memset(body, 0, sizeof(body));
	memcpy(body, "/run/client.sock", 16);
	memcpy(body + 108, "/run/server.sock", 16);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (uint8_t cmd = 0x20; cmd <= 0x21; cmd++) {
			size_t n = v2(buf, cmd, cases[i].fam, body, cases[i].alen);

			check_prefixes_ok(buf, n, &h);
			assert_int_equal(h.version, 2);
			assert_int_equal(h.command, cmd == 0x21 ? PROXY_CMD_PROXY : PROXY_CMD_LOCAL);
			assert_int_equal(h.family, cases[i].family);
			assert_int_equal(h.transport, cases[i].transport);
			check_no_addrs(&h);
		}
	}
}

/* LOCAL: a health check; accepted with or without an address block, addresses never used. */
static void
test_v2_local(void **state)
{
	static const uint8_t tlvs[] = { 0x04, 0x00, 0x02, 'h', 'i', 0x05, 0x00, 0x01, 'x' };
	uint8_t body[64], buf[128];
	struct proxy_hdr h;
	size_t n;

	(void)state;
	/* haproxy's: family UNSPEC, length 0 */
	n = v2(buf, 0x20, 0x00, NULL, 0);
	assert_int_equal(n, 16);
	check_prefixes_ok(buf, n, &h);
	assert_int_equal(h.command, PROXY_CMD_LOCAL);
	assert_int_equal(h.family, AF_UNSPEC);
	check_no_addrs(&h);
	/* with TLVs, which start right after the 16 bytes */
	n = v2(buf, 0x20, 0x00, tlvs, sizeof(tlvs));
	check_prefixes_ok(buf, n, &h);
	check_no_addrs(&h);
	/* with an address block (the length must not be assumed 0) */
	n = v2(buf, 0x20, 0x11, addr4, sizeof(addr4));
	check_prefixes_ok(buf, n, &h);
	assert_int_equal(h.command, PROXY_CMD_LOCAL);
	assert_int_equal(h.family, AF_INET);
	check_no_addrs(&h);
	/* address block and TLVs */
	memcpy(body, addr6, 36);
	memcpy(body + 36, tlvs, sizeof(tlvs));
	n = v2(buf, 0x20, 0x21, body, 36 + sizeof(tlvs));
	check_prefixes_ok(buf, n, &h);
	check_no_addrs(&h);
	/* LOCAL follows the same rules: a family byte not listed, a block too short */
	n = v2(buf, 0x20, 0x41, NULL, 0);
	check_bad_n(buf, n, PROXY_ERR_FAMILY);
	n = v2(buf, 0x20, 0x11, addr4, 4);
	check_bad_n(buf, n, PROXY_ERR_ADDRESS);
}

/* Version nibble 2 only; commands 0 and 1 only; seen as soon as byte 13 is. */
static void
test_v2_version_command(void **state)
{
	uint8_t buf[64];
	size_t n;

	(void)state;
	for (unsigned vc = 0; vc < 256; vc++) {
		enum proxy_result want = (vc >> 4) != 2 ? PROXY_ERR_VERSION :
		    (vc & 15) > 1 ? PROXY_ERR_COMMAND : PROXY_OK;

		n = v2(buf, (uint8_t)vc, 0x11, addr4, sizeof(addr4));
		if (want == PROXY_OK) {
			assert_int_equal(parse_n(buf, n, NULL, NULL), PROXY_OK);
			continue;
		}
		check_bad_n(buf, n, want);
		assert_int_equal(parse_n(buf, 13, NULL, NULL), want);
	}
}

/* Exactly the seven family bytes the specification lists; seen at byte 14. */
static void
test_v2_family_bytes(void **state)
{
	uint8_t body[300], buf[400];
	size_t n;

	(void)state;
	memset(body, 0, sizeof(body));
	for (unsigned fam = 0; fam < 256; fam++) {
		bool valid = fam == 0x00 || fam == 0x11 || fam == 0x12 || fam == 0x21 ||
		    fam == 0x22 || fam == 0x31 || fam == 0x32;

		n = v2(buf, 0x21, (uint8_t)fam, body, 216);
		if (valid) {
			enum proxy_result r = parse_n(buf, n, NULL, NULL);

			/* 216 zero bytes after a shorter block are TLVs of type 0, length 0 */
			assert_int_equal(r, PROXY_OK);
			continue;
		}
		check_bad_n(buf, n, PROXY_ERR_FAMILY);
		assert_int_equal(parse_n(buf, 14, NULL, NULL), PROXY_ERR_FAMILY);
	}
}

/* An address block shorter than the family's: rejected, from the 16 bytes alone. */
static void
test_v2_short_address(void **state)
{
	static const struct { uint8_t fam; size_t alen; } cases[] = {
		{ 0x11, 12 }, { 0x12, 12 }, { 0x21, 36 }, { 0x22, 36 }, { 0x31, 216 }, { 0x32, 216 },
	};
	uint8_t body[300], buf[400];

	(void)state;
	memset(body, 0, sizeof(body));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (size_t l = 0; l < cases[i].alen; l++) {
			size_t n = v2(buf, 0x21, cases[i].fam, body, l);

			check_bad_n(buf, n, PROXY_ERR_ADDRESS);
			assert_int_equal(parse_n(buf, 16, NULL, NULL), PROXY_ERR_ADDRESS);
		}
	}
}

/* Valid TLVs: several, of length 0, up to the very end; the addresses still read. */
static void
test_v2_tlvs(void **state)
{
	static const uint8_t tlvs[] = {
		0x01, 0x00, 0x02, 'h', '2',				/* ALPN */
		0x02, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
		0x04, 0x00, 0x00,					/* NOOP, empty */
		0x05, 0x00, 0x03, 1, 2, 3,				/* UNIQUE_ID */
		0x20, 0x00, 0x0d, 0x01, 0, 0, 0, 0,			/* SSL, with ... */
		0x21, 0x00, 0x05, 'T', 'L', 'S', 'v', '1',		/* ... a VERSION sub-TLV */
		0x30, 0x00, 0x00,					/* NETNS, empty */
		0xe0, 0x00, 0x01, 0xff,					/* custom */
		0xff, 0x00, 0x00,					/* future */
	};
	uint8_t body[512], buf[600];
	struct proxy_hdr h;
	size_t n;

	(void)state;
	memcpy(body, addr4, 12);
	memcpy(body + 12, tlvs, sizeof(tlvs));
	n = v2(buf, 0x21, 0x11, body, 12 + sizeof(tlvs));
	check_prefixes_ok(buf, n, &h);
	assert_true(h.use_addrs);
	check_v4(&h.src, h.src_len, "192.0.2.1", 56324);
	check_v4(&h.dst, h.dst_len, "198.51.100.2", 443);
	/* only empty TLVs */
	memcpy(body, addr6, 36);
	memcpy(body + 36, "\x04\x00\x00\x00\x00\x00\x04\x00\x00", 9);
	n = v2(buf, 0x21, 0x21, body, 36 + 9);
	check_prefixes_ok(buf, n, &h);
	check_v6(&h.src, h.src_len, "2001:db8::1", 0);
	/* TLVs after a UNIX block */
	memset(body, 0, 216);
	memcpy(body + 216, tlvs, sizeof(tlvs));
	n = v2(buf, 0x21, 0x31, body, 216 + sizeof(tlvs));
	check_prefixes_ok(buf, n, &h);
	check_no_addrs(&h);
}

/* TLVs that do not fit: a header cut short (1 or 2 bytes left), a value overrunning. */
static void
test_v2_bad_tlvs(void **state)
{
	static const struct { const char *t; size_t n; } bad[] = {
		{ "\x04", 1 },					/* 1 byte: no room for a TLV header */
		{ "\x04\x00", 2 },				/* 2 bytes */
		{ "\x04\x00\x01", 3 },				/* value of 1 byte missing */
		{ "\x01\x00\x03h2", 5 },			/* one byte short */
		{ "\x04\x00\x00\x04", 4 },			/* a good one, then a stray byte */
		{ "\x04\x00\x00\x04\x00", 5 },
		{ "\x04\xff\xff", 3 },				/* 65535 announced */
		{ "\x04\x00\x02xy\x05\x00\x05" "abcd", 12 },	/* the second overruns */
		{ "\x03\x00\x03\x00\x00\x00", 6 },		/* CRC32C of 3 bytes */
		{ "\x03\x00\x05\x00\x00\x00\x00\x00", 8 },	/* CRC32C of 5 bytes */
		{ "\x03\x00\x00", 3 },				/* CRC32C of 0 bytes */
	};
	uint8_t body[64], buf[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		size_t n;

		memcpy(body, addr4, 12);
		memcpy(body + 12, bad[i].t, bad[i].n);
		n = v2(buf, 0x21, 0x11, body, 12 + bad[i].n);
		check_bad_n(buf, n, PROXY_ERR_TLV);
		/* the same after no address block (LOCAL, UNSPEC) */
		n = v2(buf, 0x20, 0x00, bad[i].t, bad[i].n);
		check_bad_n(buf, n, PROXY_ERR_TLV);
	}
}

/* Set the CRC32C of the n-byte header whose sum field is at `at`. */
static void
set_crc(uint8_t *buf, size_t n, size_t at)
{
	uint32_t c;

	memset(buf + at, 0, 4);
	c = proxy_crc32c(buf, n);
	buf[at] = (uint8_t)(c >> 24);
	buf[at + 1] = (uint8_t)(c >> 16);
	buf[at + 2] = (uint8_t)(c >> 8);
	buf[at + 3] = (uint8_t)c;
}

/* PP2_TYPE_CRC32C: checked over the whole header, the sum taken as zero. */
static void
test_v2_crc32c(void **state)
{
	uint8_t body[64], buf[128], good[128];
	struct proxy_hdr h;
	size_t n;

	(void)state;
	/* RFC 3720 / the usual check value */
	assert_int_equal(proxy_crc32c((const uint8_t *)"123456789", 9), 0xe3069283);
	assert_int_equal(proxy_crc32c(NULL, 0), 0);
	{
		uint8_t zeros[32] = { 0 };

		assert_int_equal(proxy_crc32c(zeros, 32), 0x8a9136aa);	/* RFC 3720 B.4 */
	}

	/* addresses, then NOOP, CRC32C, ALPN: the sum in the middle */
	memcpy(body, addr4, 12);
	memcpy(body + 12, "\x04\x00\x01z" "\x03\x00\x04\0\0\0\0" "\x01\x00\x02h2", 16);
	n = v2(buf, 0x21, 0x11, body, 28);
	set_crc(buf, n, 16 + 12 + 4 + 3);
	memcpy(good, buf, n);
	check_prefixes_ok(buf, n, &h);
	check_v4(&h.src, h.src_len, "192.0.2.1", 56324);
	/* any bit flipped anywhere else (where the header stays well-formed): wrong sum */
	for (size_t i = 16; i < n; i++) {
		/* a TLV's type or length: the layout changes */
		if ((i >= 28 && i <= 30) || (i >= 32 && i <= 34) || (i >= 39 && i <= 41))
			continue;
		for (int bit = 0; bit < 8; bit++) {
			memcpy(buf, good, n);
			buf[i] ^= (uint8_t)(1 << bit);
			check_bad_n(buf, n, PROXY_ERR_CHECKSUM);
		}
	}
	/* the version/command and family bytes are covered too */
	memcpy(buf, good, n);
	buf[12] = 0x20;		/* LOCAL */
	check_bad_n(buf, n, PROXY_ERR_CHECKSUM);
	set_crc(buf, n, 16 + 12 + 4 + 3);
	assert_int_equal(parse_n(buf, n, &h, NULL), PROXY_OK);
	assert_int_equal(h.command, PROXY_CMD_LOCAL);
	/* LOCAL, no address block, a sum alone (as haproxy can send) */
	n = v2(buf, 0x20, 0x00, "\x03\x00\x04\0\0\0\0", 7);
	set_crc(buf, n, 19);
	check_prefixes_ok(buf, n, &h);
	buf[19] ^= 0x80;
	check_bad_n(buf, n, PROXY_ERR_CHECKSUM);
	/* two sums: a bad TLV, whatever they hold */
	n = v2(buf, 0x20, 0x00, "\x03\x00\x04\0\0\0\0\x03\x00\x04\0\0\0\0", 14);
	check_bad_n(buf, n, PROXY_ERR_TLV);
}

/* The size cap: PROXY_MAX_LEN bytes accepted, one more rejected from the 16 bytes. */
static void
test_v2_too_long(void **state)
{
	uint8_t *buf = calloc(1, 16 + 65535 + 16), *body = calloc(1, 65535);
	struct proxy_hdr h;
	size_t n, c;

	(void)state;
	assert_non_null(buf);
	assert_non_null(body);
	/* addresses and one NOOP TLV filling the header to exactly PROXY_MAX_LEN */
	memcpy(body, addr4, 12);
	body[12] = 0x04;
	body[13] = (uint8_t)((PROXY_MAX_LEN - 16 - 12 - 3) >> 8);
	body[14] = (uint8_t)(PROXY_MAX_LEN - 16 - 12 - 3);
	n = v2(buf, 0x21, 0x11, body, PROXY_MAX_LEN - 16);
	assert_int_equal(n, PROXY_MAX_LEN);
	check_prefixes_ok(buf, n, &h);
	assert_true(h.use_addrs);
	/* one byte more */
	body[14]++;
	n = v2(buf, 0x21, 0x11, body, PROXY_MAX_LEN - 16 + 1);
	assert_int_equal(parse_n(buf, 16, NULL, NULL), PROXY_ERR_TOO_LONG);
	check_bad_n(buf, n, PROXY_ERR_TOO_LONG);
	/* the largest the field allows */
	n = v2(buf, 0x21, 0x11, body, 65535);
	assert_int_equal(parse_n(buf, 16, NULL, NULL), PROXY_ERR_TOO_LONG);
	assert_int_equal(parse_n(buf, n, NULL, &c), PROXY_ERR_TOO_LONG);
	/* TOO_LONG comes after the fixed checks, before the address check */
	n = v2(buf, 0x21, 0x41, body, 65535);
	assert_int_equal(parse_n(buf, 16, NULL, NULL), PROXY_ERR_FAMILY);
	free(buf);
	free(body);
}

/* A header and the client's first bytes in one segment: consumed exact, the rest served. */
static void
test_trailing_bytes(void **state)
{
	uint8_t buf[128];
	struct proxy_hdr h;
	size_t n, c;

	(void)state;
	n = v2(buf, 0x21, 0x11, addr4, 12);
	memcpy(buf + n, "hello world\n", 12);
	assert_int_equal(parse_n(buf, n + 12, &h, &c), PROXY_OK);
	assert_int_equal(c, 28);
	assert_memory_equal(buf + c, "hello world\n", 12);
	/* the client's bytes may look like a header: they are data */
	memcpy(buf + n, SIG "\x21\x11\x00\x0c", 16);
	assert_int_equal(parse_n(buf, n + 16, &h, &c), PROXY_OK);
	assert_int_equal(c, 28);
	memcpy(buf, "PROXY UNKNOWN\r\nPROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n", 47);
	assert_int_equal(parse_n(buf, 47, &h, &c), PROXY_OK);
	assert_int_equal(c, 15);
	check_no_addrs(&h);
	/* a v1 header followed by a byte that would break the line: not looked at */
	assert_int_equal(parse_s("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\r\n\n\n\xff", &h, &c), PROXY_OK);
	assert_int_equal(c, 32);
}

/* Stats labels: every result named, distinct, label-safe. */
static void
test_reasons(void **state)
{
	(void)state;
	assert_string_equal(proxy_reason(PROXY_OK), "ok");
	assert_string_equal(proxy_reason(PROXY_NEED_MORE), "need_more");
	assert_string_equal(proxy_reason(PROXY_ERR_SIGNATURE), "not_proxy");
	assert_string_equal(proxy_reason(PROXY_ERR_SYNTAX), "bad_v1");
	assert_string_equal(proxy_reason(PROXY_ERR_TOO_LONG), "too_long");
	assert_string_equal(proxy_reason(PROXY_ERR_TLV), "bad_tlv");
	assert_string_equal(proxy_reason(PROXY_ERR_TIMEOUT), "timeout");
	assert_string_equal(proxy_reason(PROXY_ERR_UNTRUSTED), "untrusted");
	assert_string_equal(proxy_reason(PROXY_RESULT_COUNT), "unknown");
	assert_string_equal(proxy_reason((enum proxy_result)-1), "unknown");
	for (int i = 0; i < PROXY_RESULT_COUNT; i++) {
		const char *a = proxy_reason((enum proxy_result)i);

		assert_string_not_equal(a, "unknown");
		assert_true(strlen(a) > 0 && strspn(a, "abcdefghijklmnopqrstuvwxyz0123456789_") == strlen(a));
		for (int j = 0; j < i; j++)
			assert_string_not_equal(a, proxy_reason((enum proxy_result)j));
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_v1_tcp4_example),
		cmocka_unit_test(test_v1_tcp4_limits),
		cmocka_unit_test(test_v1_tcp6),
		cmocka_unit_test(test_v1_unknown),
		cmocka_unit_test(test_v1_too_long),
		cmocka_unit_test(test_v1_spaces_and_crlf),
		cmocka_unit_test(test_v1_bad_ipv4),
		cmocka_unit_test(test_v1_bad_ipv6),
		cmocka_unit_test(test_v1_bad_ports),
		cmocka_unit_test(test_v1_bad_family),
		cmocka_unit_test(test_v1_family_mismatch),
		cmocka_unit_test(test_not_proxy),
		cmocka_unit_test(test_v2_tcp4),
		cmocka_unit_test(test_v2_tcp6),
		cmocka_unit_test(test_v2_other_families),
		cmocka_unit_test(test_v2_local),
		cmocka_unit_test(test_v2_version_command),
		cmocka_unit_test(test_v2_family_bytes),
		cmocka_unit_test(test_v2_short_address),
		cmocka_unit_test(test_v2_tlvs),
		cmocka_unit_test(test_v2_bad_tlvs),
		cmocka_unit_test(test_v2_crc32c),
		cmocka_unit_test(test_v2_too_long),
		cmocka_unit_test(test_trailing_bytes),
		cmocka_unit_test(test_reasons),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
