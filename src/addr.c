/* SPDX-License-Identifier: ISC */
/*
 * addr.c: address text <-> socket address, shared by the daemon and the
 * client.  Pure: no sockets are opened and no names are resolved, so every
 * case can be unit-tested (tests/test_addr.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

#include "addr.h"

static int
split_error(char *err, size_t errlen, const char *reason)
{
	if (err != NULL && errlen > 0)
		snprintf(err, errlen, "%s", reason);
	return -1;
}

/* Copy n bytes of src into dst (size dstlen) as a string; -1 if too long. */
static int
copy_part(char *dst, size_t dstlen, const char *src, size_t n)
{
	if (n >= dstlen)
		return -1;
	memcpy(dst, src, n);
	dst[n] = '\0';
	return 0;
}

/* "[V6ADDR]" or "[V6ADDR]:PORT"; s points at the '['. */
static int
split_bracketed(const char *s, char *host, size_t hostlen,
    char *port, size_t portlen, char *err, size_t errlen)
{
	const char *close = strchr(s, ']');
	size_t n;

	if (close == NULL)
		return split_error(err, errlen, "missing ']' after IPv6 address");
	n = (size_t)(close - s - 1);
	if (n == 0)
		return split_error(err, errlen, "empty address in brackets");
	if (memchr(s + 1, '[', n) != NULL)
		return split_error(err, errlen, "unexpected '[' in address");
	if (close[1] != '\0' && close[1] != ':')
		return split_error(err, errlen, "unexpected text after ']'");
	if (close[1] == ':' && close[2] == '\0')
		return split_error(err, errlen, "empty port after ':'");
	if (copy_part(host, hostlen, s + 1, n) == -1)
		return split_error(err, errlen, "address too long");
	if (close[1] == ':' &&
	    copy_part(port, portlen, close + 2, strlen(close + 2)) == -1)
		return split_error(err, errlen, "port too long");
	return 0;
}

int
addr_split_hostport(const char *s, char *host, size_t hostlen,
    char *port, size_t portlen, char *err, size_t errlen)
{
	const char *colon;

	if (s == NULL || *s == '\0')
		return split_error(err, errlen, "empty address");
	if (*s == '[')
		return split_bracketed(s, host, hostlen, port, portlen,
		    err, errlen);
	if (strpbrk(s, "[]") != NULL)
		return split_error(err, errlen, "unexpected bracket in address");

	colon = strchr(s, ':');
	/* No colon, or more than one: a name, IPv4 address or bare IPv6. */
	if (colon == NULL || strchr(colon + 1, ':') != NULL) {
		if (copy_part(host, hostlen, s, strlen(s)) == -1)
			return split_error(err, errlen, "address too long");
		return 0;
	}
	if (colon == s)
		return split_error(err, errlen, "empty host before ':'");
	if (colon[1] == '\0')
		return split_error(err, errlen, "empty port after ':'");
	if (copy_part(host, hostlen, s, (size_t)(colon - s)) == -1)
		return split_error(err, errlen, "address too long");
	if (copy_part(port, portlen, colon + 1, strlen(colon + 1)) == -1)
		return split_error(err, errlen, "port too long");
	return 0;
}

int
addr_parse_port(const char *s)
{
	long v = 0;

	if (s == NULL || *s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > 65535)
			return -1;
	}
	return v >= 1 ? (int)v : -1;
}

int
addr_parse_numeric(const char *text, uint16_t port,
    struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	if (text == NULL)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (inet_pton(AF_INET, text, &sin->sin_addr) == 1) {
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		*len = sizeof(*sin);
		return 0;
	}
	if (inet_pton(AF_INET6, text, &sin6->sin6_addr) == 1) {
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		*len = sizeof(*sin6);
		return 0;
	}
	memset(ss, 0, sizeof(*ss));
	return -1;
}

int
addr_listen_parse(const char *text, struct addr_listen *out)
{
	struct addr_listen a;

	memset(&a, 0, sizeof(a));
	if (text == NULL)
		return -1;
	if (strcmp(text, "*") == 0)
		a.family = AF_UNSPEC;
	else if (inet_pton(AF_INET, text, a.bytes) == 1)
		a.family = AF_INET;
	else if (inet_pton(AF_INET6, text, a.bytes) == 1)
		a.family = AF_INET6;
	else
		return -1;
	if (out != NULL)
		*out = a;
	return 0;
}

/* Both NULL, or both the same text. */
static bool
same_text(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

bool
addr_same(const char *a, const char *b)
{
	struct addr_listen la, lb;

	if (addr_listen_parse(a, &la) == -1 || addr_listen_parse(b, &lb) == -1)
		return same_text(a, b);
	return memcmp(&la, &lb, sizeof(la)) == 0;
}

/* 0.0.0.0 or :: (not "*": that one covers both families). */
static bool
family_wildcard(const struct addr_listen *a)
{
	static const unsigned char zero[16];

	return a->family != AF_UNSPEC &&
	    memcmp(a->bytes, zero, a->family == AF_INET ? 4 : 16) == 0;
}

bool
addr_overlap(const char *a, const char *b)
{
	struct addr_listen la, lb;

	if (addr_listen_parse(a, &la) == -1 || addr_listen_parse(b, &lb) == -1)
		return same_text(a, b);
	if (la.family == AF_UNSPEC || lb.family == AF_UNSPEC)
		return true;
	if (la.family != lb.family)
		return false;
	return memcmp(la.bytes, lb.bytes, sizeof(la.bytes)) == 0 ||
	    family_wildcard(&la) || family_wildcard(&lb);
}

static const char *
format_in6(const struct sockaddr_in6 *sin6, char *buf, size_t buflen)
{
	char a[INET6_ADDRSTRLEN];
	unsigned port = ntohs(sin6->sin6_port);

	/* ::ffff:1.2.3.4 is how a dual-stack socket sees an IPv4 peer. */
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		inet_ntop(AF_INET, &sin6->sin6_addr.s6_addr[12], a, sizeof(a));
		snprintf(buf, buflen, "%s:%u", a, port);
	} else {
		inet_ntop(AF_INET6, &sin6->sin6_addr, a, sizeof(a));
		if (sin6->sin6_scope_id != 0)
			snprintf(buf, buflen, "[%s%%%u]:%u", a,
			    (unsigned)sin6->sin6_scope_id, port);
		else
			snprintf(buf, buflen, "[%s]:%u", a, port);
	}
	return buf;
}

/* The daemon's control socket peers; unnamed for a connecting client. */
static const char *
format_un(const struct sockaddr_un *sun, socklen_t len, char *buf, size_t buflen)
{
	size_t off = offsetof(struct sockaddr_un, sun_path);
	size_t n;

	if ((size_t)len <= off || sun->sun_path[0] == '\0') {
		snprintf(buf, buflen, "unix:(unnamed)");
		return buf;
	}
	n = (size_t)len - off;
	if (n > sizeof(sun->sun_path))
		n = sizeof(sun->sun_path);
	snprintf(buf, buflen, "unix:%.*s", (int)strnlen(sun->sun_path, n),
	    sun->sun_path);
	return buf;
}

const char *
addr_format(const struct sockaddr *sa, socklen_t len, char *buf, size_t buflen)
{
	char a[INET_ADDRSTRLEN];

	if (buf == NULL || buflen == 0)
		return buf;
	if (sa == NULL || len < (socklen_t)sizeof(sa->sa_family)) {
		snprintf(buf, buflen, "(no address)");
		return buf;
	}
	if (sa->sa_family == AF_INET && len >= (socklen_t)sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;

		inet_ntop(AF_INET, &sin->sin_addr, a, sizeof(a));
		snprintf(buf, buflen, "%s:%u", a, (unsigned)ntohs(sin->sin_port));
	} else if (sa->sa_family == AF_INET6 &&
	    len >= (socklen_t)sizeof(struct sockaddr_in6)) {
		format_in6((const struct sockaddr_in6 *)sa, buf, buflen);
	} else if (sa->sa_family == AF_UNIX) {
		format_un((const struct sockaddr_un *)sa, len, buf, buflen);
	} else {
		snprintf(buf, buflen, "(address family %d)", (int)sa->sa_family);
	}
	return buf;
}
