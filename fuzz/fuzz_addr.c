/* SPDX-License-Identifier: ISC */
/*
 * fuzz_addr.c: fuzz target for src/addr.c.
 *
 * The input up to its first NUL is address text, such as "[::1]:80";
 * all of it, NUL bytes included, is also used as a raw socket address.
 * Checked on every input:
 *  - addr_split_hostport: on success the parts put back together give
 *    the input again; with small buffers it fails or agrees, and never
 *    writes past them;
 *  - addr_parse_port agrees with a plain reading of "1..65535, decimal";
 *  - a numeric address that parses, formatted by addr_format, splits and
 *    parses back to the same socket address (an IPv4-mapped IPv6 address
 *    comes back as the IPv4 address: the format shows it that way);
 *  - addr_format never overruns a short buffer and ends it with a NUL,
 *    whatever the socket address holds.
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "fuzz.h"

/* The port rule of addr.h, read plainly: decimal digits, 1..65535. */
static int
ref_port(const char *s)
{
	unsigned long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (unsigned long)(*s - '0');
		if (v > 65535)
			return -1;
	}
	return v >= 1 ? (int)v : -1;
}

static void
check_port(const char *s)
{
	int got = addr_parse_port(s), want = ref_port(s);

	if (got != want)
		fuzz_fail("addr_parse_port(\"%s\") = %d, want %d", s, got, want);
}

struct split {
	int    rc;
	bool   has_port;	/* the port buffer was written */
	char  *host, *port;
};

static void
split_run(struct split *sp, const char *s, size_t hostlen, size_t portlen)
{
	char err[128];
	size_t i;

	sp->host = xmalloc(hostlen);
	sp->port = xmalloc(portlen);
	memset(sp->host, 'h', hostlen);
	memset(sp->port, 'p', portlen);
	memset(err, 'e', sizeof(err));
	sp->rc = addr_split_hostport(s, sp->host, hostlen, sp->port, portlen,
	    err, sizeof(err));
	if (sp->rc != 0 && sp->rc != -1)
		fuzz_fail("addr_split_hostport(\"%s\") returned %d", s, sp->rc);
	if (sp->rc == -1 && (memchr(err, '\0', sizeof(err)) == NULL ||
	    err[0] == '\0'))
		fuzz_fail("addr_split_hostport(\"%s\"): no error message", s);
	if (sp->rc == 0 && memchr(sp->host, '\0', hostlen) == NULL)
		fuzz_fail("addr_split_hostport(\"%s\"): host not terminated", s);
	/* A written port ends in a NUL, so it never looks untouched. */
	for (i = 0; i < portlen && sp->port[i] == 'p'; i++)
		continue;
	sp->has_port = sp->rc == 0 && i < portlen;
	if (sp->has_port && memchr(sp->port, '\0', portlen) == NULL)
		fuzz_fail("addr_split_hostport(\"%s\"): port not terminated", s);
}

static void
split_free(struct split *sp)
{
	free(sp->host);
	free(sp->port);
}

/* The parts of a successful split must rebuild the input exactly. */
static void
check_rebuild(const char *s, const struct split *sp)
{
	bool has_port = sp->has_port;
	size_t n = strlen(s) + 8;
	char *re = xmalloc(n);

	if (sp->host[0] == '\0' || strpbrk(sp->host, "[]") != NULL)
		fuzz_fail("split \"%s\": host \"%s\"", s, sp->host);
	if (has_port && sp->port[0] == '\0')
		fuzz_fail("split \"%s\": empty port", s);
	snprintf(re, n, "%s%s%s%s%s", s[0] == '[' ? "[" : "", sp->host,
	    s[0] == '[' ? "]" : "", has_port ? ":" : "",
	    has_port ? sp->port : "");
	if (strcmp(re, s) != 0)
		fuzz_fail("split \"%s\" into \"%s\" and \"%s\": rebuilt \"%s\"",
		    s, sp->host, has_port ? sp->port : "(none)", re);
	if (!has_port && s[0] != '[' && strchr(s, ':') != NULL &&
	    strchr(s, ':') == strrchr(s, ':'))
		fuzz_fail("split \"%s\": one colon but no port", s);
	free(re);
}

/* Small buffers: the split fails, or gives what the big one gave. */
static void
check_small(const char *s, const struct split *big, size_t hostlen,
    size_t portlen)
{
	struct split sm;
	bool fits;

	split_run(&sm, s, hostlen, portlen);
	fits = big->rc == 0 && strlen(big->host) < hostlen &&
	    (!big->has_port || strlen(big->port) < portlen);
	if (sm.rc == 0 && big->rc != 0)
		fuzz_fail("split \"%s\": small buffers succeed, big fail", s);
	if (fits && sm.rc != 0)
		fuzz_fail("split \"%s\": fails with room for both parts", s);
	if (sm.rc == 0 && strcmp(sm.host, big->host) != 0)
		fuzz_fail("split \"%s\": host \"%s\" vs \"%s\"", s, sm.host,
		    big->host);
	if (sm.rc == 0 && sm.has_port != big->has_port)
		fuzz_fail("split \"%s\": a port with one buffer size only", s);
	if (sm.rc == 0 && sm.has_port && strcmp(sm.port, big->port) != 0)
		fuzz_fail("split \"%s\": port \"%s\" vs \"%s\"", s, sm.port,
		    big->port);
	split_free(&sm);
}

/* What a formatted address parses back to. */
static void
expect_back(const struct sockaddr_storage *ss, socklen_t len,
    struct sockaddr_storage *want, socklen_t *wantlen)
{
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	struct sockaddr_in *sin = (struct sockaddr_in *)want;

	memcpy(want, ss, sizeof(*want));
	*wantlen = len;
	if (ss->ss_family != AF_INET6 || !IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr))
		return;
	memset(want, 0, sizeof(*want));
	sin->sin_family = AF_INET;
	sin->sin_port = sin6->sin6_port;
	memcpy(&sin->sin_addr, &sin6->sin6_addr.s6_addr[12], 4);
	*wantlen = sizeof(*sin);
}

/* Format into exactly buflen bytes: a NUL-terminated prefix of full. */
static void
check_truncated(const struct sockaddr *sa, socklen_t len, const char *full,
    size_t buflen)
{
	char *buf = xmalloc(buflen);

	if (addr_format(sa, len, buf, buflen) != buf)
		fuzz_fail("addr_format did not return its buffer");
	if (memchr(buf, '\0', buflen) == NULL ||
	    strncmp(buf, full, buflen - 1) != 0)
		fuzz_fail("addr_format in %zu bytes: \"%.*s\", full \"%s\"",
		    buflen, (int)buflen, buf, full);
	free(buf);
}

static void
check_numeric(const char *text, uint16_t port, size_t trunc)
{
	struct sockaddr_storage ss, back, want;
	socklen_t len, backlen, wantlen;
	char buf[128], portstr[8];
	struct split sp;

	if (addr_parse_numeric(text, port, &ss, &len) == -1)
		return;
	if (!(ss.ss_family == AF_INET && len == sizeof(struct sockaddr_in)) &&
	    !(ss.ss_family == AF_INET6 && len == sizeof(struct sockaddr_in6)))
		fuzz_fail("\"%s\": family %d, length %u", text, ss.ss_family,
		    (unsigned)len);
	addr_format((struct sockaddr *)&ss, len, buf, sizeof(buf));
	split_run(&sp, buf, sizeof(buf), sizeof(buf));
	snprintf(portstr, sizeof(portstr), "%u", (unsigned)port);
	if (sp.rc != 0 || !sp.has_port || strcmp(sp.port, portstr) != 0)
		fuzz_fail("\"%s\" port %u formats as \"%s\", which does not "
		    "split back", text, (unsigned)port, buf);
	if (addr_parse_numeric(sp.host, port, &back, &backlen) == -1)
		fuzz_fail("\"%s\" formats as \"%s\", which does not parse",
		    text, buf);
	expect_back(&ss, len, &want, &wantlen);
	if (backlen != wantlen || memcmp(&back, &want, wantlen) != 0)
		fuzz_fail("\"%s\" -> \"%s\" parses to another address", text, buf);
	check_truncated((struct sockaddr *)&ss, len, buf, 1 + trunc % (strlen(buf) + 1));
	split_free(&sp);
}

/* Any bytes as a socket address of any length: terminated, no overrun. */
static void
check_raw(const uint8_t *data, size_t size)
{
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX };
	size_t len = size < sizeof(struct sockaddr_storage) ? size :
	    sizeof(struct sockaddr_storage);
	struct sockaddr *sa = xmalloc(len);
	char buf[256];

	if (len > 0)
		memcpy(sa, data, len);
	if (len >= sizeof(sa->sa_family) && data[0] % 4 < 3)
		sa->sa_family = (sa_family_t)families[data[0] % 4];
	memset(buf, 'x', sizeof(buf));
	addr_format(sa, (socklen_t)len, buf, sizeof(buf));
	if (memchr(buf, '\0', sizeof(buf)) == NULL)
		fuzz_fail("addr_format of raw bytes: no NUL");
	check_truncated(sa, (socklen_t)len, buf, 1 + size % (strlen(buf) + 1));
	free(sa);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t slen = strnlen((const char *)data, size);
	char *s = xmalloc(slen + 1);
	uint16_t port = (uint16_t)(size * 2654435761u >> 7);
	struct split sp;

	memcpy(s, data, slen);
	s[slen] = '\0';
	check_port(s);
	split_run(&sp, s, slen + 1, slen + 1);
	if (sp.rc == 0) {
		check_rebuild(s, &sp);
		if (sp.has_port) {
			check_port(sp.port);
			if (addr_parse_port(sp.port) > 0)
				port = (uint16_t)addr_parse_port(sp.port);
		}
		check_numeric(sp.host, port, size);
	}
	check_small(s, &sp, 1 + size % 8, 1 + (size / 8) % 8);
	check_numeric(s, port, size / 3);
	check_raw(data, size);
	split_free(&sp);
	free(s);
	return 0;
}
