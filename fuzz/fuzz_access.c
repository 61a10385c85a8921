/* SPDX-License-Identifier: ISC */
/*
 * fuzz_access.c: fuzz target for src/access.c.
 *
 * The input up to its first NUL is text, one item a line: a line that
 * starts with '?' is a peer address ("?10.1.2.3", "?::ffff:1.2.3.4"),
 * any other line a rule ("deny 10.0.0.0/8") and also a CIDR on its own.
 * After the NUL, every 17 bytes are one more peer: a selector byte (0
 * IPv4, 1 IPv4 shown v4-mapped, 2 IPv6; modulo 3) and the address bytes.  Checked on every input:
 *  - cidr_parse and access_rule_parse return 0, or -1 with a message,
 *    and never crash;
 *  - a parsed CIDR is well formed (known family, prefix in range, host
 *    and unused bytes zero), formats and parses back to the same, and
 *    formats into a short buffer as a terminated prefix of the full text;
 *    an IPv4 one, written as ::ffff:a.b.c.d/(96 + prefix), parses to the
 *    same CIDR;
 *  - cidr_match of a CIDR's first and last addresses is true (unless
 *    an IPv6 CIDR's end is v4-mapped: that is an IPv4 peer), and for
 *    every peer agrees with a bit-by-bit comparison;
 *  - access_allows, for every peer (and the first, last and neighbouring
 *    addresses of every rule), gives the verdict and rule index of a
 *    plain first-match scan.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"
#include "fuzz.h"

#define MAX_RULES	128
#define MAX_PEERS	1024

struct input {
	struct access_rule	 rules[MAX_RULES];
	size_t			 nrules;
	struct sockaddr_storage	 peers[MAX_PEERS];
	size_t			 npeers;
};

static unsigned
bits_of(int family)
{
	return family == AF_INET ? 32 : 128;
}

static bool
ref_bit(const uint8_t *a, unsigned i)
{
	return (a[i / 8] >> (7 - i % 8)) & 1;
}

/* The peer's family and address bytes; mapped IPv6 counts as IPv4. */
static int
ref_addr(const struct sockaddr_storage *ss, const uint8_t **a)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)ss;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)ss;
	static const uint8_t mapped[12] = { [10] = 0xff, [11] = 0xff };

	if (ss->ss_family == AF_INET) {
		*a = (const uint8_t *)&sin->sin_addr;
		return AF_INET;
	}
	if (memcmp(sin6->sin6_addr.s6_addr, mapped, 12) == 0) {
		*a = sin6->sin6_addr.s6_addr + 12;
		return AF_INET;
	}
	*a = sin6->sin6_addr.s6_addr;
	return AF_INET6;
}

/* cidr_match read plainly: same family, the first prefix bits agree. */
static bool
ref_match(const struct cidr *c, const struct sockaddr_storage *ss)
{
	const uint8_t *a;
	unsigned i;

	if (ref_addr(ss, &a) != c->family)
		return false;
	for (i = 0; i < c->prefix; i++)
		if (ref_bit(a, i) != ref_bit(c->addr, i))
			return false;
	return true;
}

static int
ref_first_match(const struct input *in, const struct sockaddr_storage *ss)
{
	size_t i;

	for (i = 0; i < in->nrules; i++)
		if (in->rules[i].all || ref_match(&in->rules[i].net, ss))
			return (int)i;
	return -1;
}

static void
make_peer(struct sockaddr_storage *ss, int family, const uint8_t *a,
    bool as_mapped)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)ss;

	memset(ss, 0, sizeof(*ss));
	if (family == AF_INET && !as_mapped) {
		sin->sin_family = AF_INET;
		memcpy(&sin->sin_addr, a, 4);
		return;
	}
	sin6->sin6_family = AF_INET6;
	if (family == AF_INET) {
		sin6->sin6_addr.s6_addr[10] = sin6->sin6_addr.s6_addr[11] = 0xff;
		memcpy(sin6->sin6_addr.s6_addr + 12, a, 4);
	} else
		memcpy(sin6->sin6_addr.s6_addr, a, 16);
}

static void
add_peer(struct input *in, int family, const uint8_t *a, bool as_mapped)
{
	if (in->npeers < MAX_PEERS)
		make_peer(&in->peers[in->npeers++], family, a, as_mapped);
}

/* Add or subtract 1 from a big-endian number of n bytes (wrapping). */
static void
step(uint8_t *a, size_t n, int delta)
{
	while (n-- > 0) {
		a[n] = (uint8_t)(a[n] + delta);
		if (a[n] != (delta > 0 ? 0x00 : 0xff))
			return;
	}
}

/* A CIDR's first and last addresses. */
static void
cidr_ends(const struct cidr *c, uint8_t *first, uint8_t *last)
{
	unsigned i;

	memcpy(first, c->addr, 16);
	memcpy(last, c->addr, 16);
	for (i = c->prefix; i < bits_of(c->family); i++)
		last[i / 8] |= (uint8_t)(0x80 >> (i % 8));
}

/* As peers: both ends, and the addresses just outside them. */
static void
add_edges(struct input *in, const struct cidr *c)
{
	size_t n = bits_of(c->family) / 8;
	uint8_t first[16], last[16];

	cidr_ends(c, first, last);
	add_peer(in, c->family, first, false);
	add_peer(in, c->family, last, c->family == AF_INET);
	step(first, n, -1);
	step(last, n, +1);
	add_peer(in, c->family, first, c->family == AF_INET);
	add_peer(in, c->family, last, false);
}

/*
 * Both ends match, whether IPv4 peers show as plain or mapped; but an
 * IPv6 CIDR never matches a v4-mapped address (::fffe:0:0/95 ends in
 * ::ffff:255.255.255.255), as that is an IPv4 peer.
 */
static void
check_ends(const char *text, const struct cidr *c)
{
	struct sockaddr_storage ss;
	uint8_t ends[2][16];
	const uint8_t *a;
	int mapped, e;
	bool want;

	cidr_ends(c, ends[0], ends[1]);
	for (mapped = 0; mapped < 2; mapped++)
		for (e = 0; e < 2; e++) {
			make_peer(&ss, c->family, ends[e], mapped);
			want = c->family == AF_INET || ref_addr(&ss, &a) == AF_INET6;
			if (cidr_match(c, (struct sockaddr *)&ss) != want)
				fuzz_fail("\"%s\" %s its %s address", text,
				    want ? "does not match" : "matches",
				    e == 0 ? "first" : "last");
		}
}

/* Well formed: family, prefix range, no host bits, unused bytes zero. */
static void
check_shape(const char *text, const struct cidr *c)
{
	unsigned i;

	if ((c->family != AF_INET && c->family != AF_INET6) ||
	    c->prefix > bits_of(c->family))
		fuzz_fail("\"%s\": family %u prefix %u", text, c->family,
		    c->prefix);
	for (i = c->prefix; i < 128; i++)
		if (ref_bit(c->addr, i))
			fuzz_fail("\"%s\": bit %u set beyond /%u", text, i,
			    c->prefix);
}

/* An IPv4 CIDR written in the v4-mapped range means the same CIDR. */
static void
check_mapped_form(const char *v4text, const struct cidr *c)
{
	char text[CIDR_STRLEN + 16], addr[INET_ADDRSTRLEN], err[128];
	struct cidr back;

	if (c->family != AF_INET)
		return;
	inet_ntop(AF_INET, c->addr, addr, sizeof(addr));
	snprintf(text, sizeof(text), "::ffff:%s/%u", addr, c->prefix + 96u);
	if (cidr_parse(text, &back, err, sizeof(err)) != 0)
		fuzz_fail("\"%s\" as \"%s\": %s", v4text, text, err);
	if (memcmp(&back, c, sizeof(back)) != 0)
		fuzz_fail("\"%s\" is not \"%s\"", text, v4text);
}

/* Formatted, it parses back to the same; short buffers truncate. */
static void
check_format(const char *text, const struct cidr *c, size_t trunc)
{
	char buf[CIDR_STRLEN], err[128], *small;
	struct cidr back;
	size_t n;

	cidr_format(c, buf, sizeof(buf));
	if (cidr_parse(buf, &back, err, sizeof(err)) != 0)
		fuzz_fail("\"%s\" formats as \"%s\": %s", text, buf, err);
	if (memcmp(&back, c, sizeof(back)) != 0)
		fuzz_fail("\"%s\" -> \"%s\" parses to another CIDR", text, buf);
	n = 1 + trunc % (strlen(buf) + 1);
	small = xmalloc(n);
	if (cidr_format(c, small, n) != small || memchr(small, '\0', n) == NULL ||
	    strncmp(small, buf, n - 1) != 0)
		fuzz_fail("cidr_format \"%s\" in %zu bytes: \"%.*s\"", buf, n,
		    (int)n, small);
	free(small);
	check_mapped_form(buf, c);
}

static void
check_cidr(struct input *in, const char *text, size_t trunc)
{
	char err[64];
	struct cidr c;
	int rc;

	memset(err, 'e', sizeof(err));
	rc = cidr_parse(text, &c, err, sizeof(err));
	if (rc == -1 && (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0'))
		fuzz_fail("cidr_parse(\"%s\"): no error message", text);
	if (rc != 0 && rc != -1)
		fuzz_fail("cidr_parse(\"%s\") returned %d", text, rc);
	if (rc != 0)
		return;
	check_shape(text, &c);
	check_format(text, &c, trunc);
	check_ends(text, &c);
	add_edges(in, &c);
}

static void
check_rule(struct input *in, const char *text)
{
	char err[128];
	struct access_rule r;
	int rc;

	memset(err, 'e', sizeof(err));
	rc = access_rule_parse(text, &r, err, sizeof(err));
	if (rc == -1 && (memchr(err, '\0', sizeof(err)) == NULL || err[0] == '\0'))
		fuzz_fail("access_rule_parse(\"%s\"): no error message", text);
	if (rc != 0 && rc != -1)
		fuzz_fail("access_rule_parse(\"%s\") returned %d", text, rc);
	if (rc != 0)
		return;
	if (!r.all) {
		check_shape(text, &r.net);
		add_edges(in, &r.net);
	}
	if (in->nrules < MAX_RULES)
		in->rules[in->nrules++] = r;
}

/* "?ADDRESS": a peer written as text. */
static void
add_text_peer(struct input *in, const char *text)
{
	uint8_t a[16];

	if (inet_pton(AF_INET, text, a) == 1)
		add_peer(in, AF_INET, a, false);
	else if (inet_pton(AF_INET6, text, a) == 1)
		add_peer(in, AF_INET6, a, false);
}

static void
read_lines(struct input *in, const char *text, size_t len)
{
	const char *p = text, *end = text + len, *nl;
	char *line;
	size_t n;

	while (p < end) {
		nl = memchr(p, '\n', (size_t)(end - p));
		n = nl != NULL ? (size_t)(nl - p) : (size_t)(end - p);
		line = xmalloc(n + 1);
		memcpy(line, p, n);
		line[n] = '\0';
		if (line[0] == '?')
			add_text_peer(in, line + 1);
		else {
			check_cidr(in, line, n);
			check_rule(in, line);
		}
		free(line);
		p += n + 1;
	}
}

/* After the NUL: 17 bytes a peer, selector then address. */
static void
read_raw_peers(struct input *in, const uint8_t *data, size_t size)
{
	for (; size >= 17; data += 17, size -= 17)
		add_peer(in, data[0] % 3 == 2 ? AF_INET6 : AF_INET, data + 1,
		    data[0] % 3 == 1);
}

static void
check_peers(const struct input *in)
{
	struct access_list *l = access_list_create(in->rules, in->nrules);
	const struct sockaddr *sa;
	size_t i, j;
	int got, want;
	bool allow;

	if (l == NULL)
		fuzz_fail("access_list_create: out of memory");
	for (i = 0; i < in->npeers; i++) {
		sa = (const struct sockaddr *)&in->peers[i];
		want = ref_first_match(in, &in->peers[i]);
		allow = access_allows(l, sa, &got);
		if (got != want || allow != (want < 0 || in->rules[want].allow))
			fuzz_fail("peer %zu: rule %d (%s), want rule %d", i, got,
			    allow ? "allow" : "deny", want);
		for (j = 0; j < in->nrules; j++)
			if (!in->rules[j].all && cidr_match(&in->rules[j].net,
			    sa) != ref_match(&in->rules[j].net, &in->peers[i]))
				fuzz_fail("cidr_match rule %zu, peer %zu", j, i);
	}
	access_list_free(l);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t tlen = strnlen((const char *)data, size);
	struct input *in = xmalloc(sizeof(*in));

	in->nrules = in->npeers = 0;
	read_lines(in, (const char *)data, tlen);
	if (tlen < size)
		read_raw_peers(in, data + tlen + 1, size - tlen - 1);
	check_peers(in);
	free(in);
	return 0;
}
