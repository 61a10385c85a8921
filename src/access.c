/* SPDX-License-Identifier: ISC */
/*
 * access.c: CIDR text <-> struct cidr, allow/deny rules, and the access
 * list compiled for per-datagram lookups (see access.h).  Pure: unit-tested
 * by tests/test_access.c, fuzzed by fuzz/fuzz_access.c, timed by
 * bench/bench_access.c.
 *
 * Addresses are handled as 128-bit unsigned numbers (two 64-bit words,
 * most significant first; an IPv4 address is a number below 2^32), so a
 * CIDR is the range [network, network | ~mask] and one algorithm serves
 * both families.  Lookups use a compact per-family table: IPv4 starts as
 * 32-bit words, IPv6 starts as word pairs.
 */
#include "config.h"

#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "access.h"

struct u128 {
	uint64_t hi, lo;
};

/* A compiled family: range i is [start[i], start[i + 1]), start[0] = 0. */
struct access_table {
	size_t		 n;
	uint32_t	*start4;	/* IPv4 */
	struct u128	*start6;	/* IPv6 */
	int32_t		*rule;		/* first rule covering range i, or -1 */
};

/* One rule as a range, in rule order, while a table is being built. */
struct span {
	struct u128	lo, hi;
	int32_t		rule;
};

/* A peer address: its family and its number. */
struct key {
	int		family;
	struct u128	a;
};

static int access_error(char *, size_t, const char *, ...)
    __attribute__((format(printf, 3, 4)));

static int
access_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err != NULL && errlen > 0) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* For "%.*s": config strings are short, but never overflow the int. */
static int
quote_len(size_t len)
{
	return len > INT_MAX ? INT_MAX : (int)len;
}

static bool
u128_le(struct u128 a, struct u128 b)
{
	return a.hi < b.hi || (a.hi == b.hi && a.lo <= b.lo);
}

static bool
u128_eq(struct u128 a, struct u128 b)
{
	return a.hi == b.hi && a.lo == b.lo;
}

/* 8 bytes in network order as a number; ntohl is a byte swap, not a loop. */
static uint64_t
load_be64(const uint8_t *p)
{
	uint32_t w[2];

	memcpy(w, p, sizeof(w));
	return (uint64_t)ntohl(w[0]) << 32 | ntohl(w[1]);
}

static uint32_t
load_be32(const uint8_t *p)
{
	uint32_t w;

	memcpy(&w, p, sizeof(w));
	return ntohl(w);
}

static unsigned
family_bits(int family)
{
	return family == AF_INET ? 32 : 128;
}

/* The largest address of a family: all ones in its width. */
static struct u128
family_max(int family)
{
	struct u128 m = { UINT64_MAX, UINT64_MAX };

	if (family == AF_INET)
		m.hi = 0, m.lo = UINT32_MAX;
	return m;
}

/* The netmask of a prefix within a family's width. */
static struct u128
prefix_mask(int family, unsigned prefix)
{
	struct u128 m = { 0, 0 };

	if (family == AF_INET) {
		if (prefix > 0)
			m.lo = (uint32_t)(UINT32_MAX << (32 - prefix));
	} else if (prefix > 64) {
		m.hi = UINT64_MAX;
		m.lo = UINT64_MAX << (128 - prefix);
	} else if (prefix > 0)
		m.hi = UINT64_MAX << (64 - prefix);
	return m;
}

/* The addresses of c as a range; false if c's family is unknown. */
static bool
cidr_range(const struct cidr *c, struct u128 *lo, struct u128 *hi)
{
	struct u128 max, mask, net;
	unsigned prefix;

	if (c->family != AF_INET && c->family != AF_INET6)
		return false;
	prefix = c->prefix < family_bits(c->family) ? c->prefix :
	    family_bits(c->family);
	if (c->family == AF_INET) {
		net.hi = 0;
		net.lo = load_be32(c->addr);
	} else {
		net.hi = load_be64(c->addr);
		net.lo = load_be64(c->addr + 8);
	}
	max = family_max(c->family);
	mask = prefix_mask(c->family, prefix);
	lo->hi = net.hi & mask.hi;
	lo->lo = net.lo & mask.lo;
	hi->hi = lo->hi | (max.hi & ~mask.hi);
	hi->lo = lo->lo | (max.lo & ~mask.lo);
	return true;
}

static const uint8_t v4mapped_prefix[12] = {
	0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
};

/* sa as a key; a v4-mapped IPv6 address becomes its IPv4 address. */
static bool
key_from_sa(const struct sockaddr *sa, struct key *k)
{
	const struct sockaddr_in *sin = (const struct sockaddr_in *)sa;
	const struct sockaddr_in6 *sin6 = (const struct sockaddr_in6 *)sa;
	const uint8_t *b;

	if (sa == NULL)
		return false;
	if (sa->sa_family == AF_INET) {
		k->family = AF_INET;
		k->a.hi = 0;
		k->a.lo = ntohl(sin->sin_addr.s_addr);
		return true;
	}
	if (sa->sa_family != AF_INET6)
		return false;
	b = sin6->sin6_addr.s6_addr;
	if (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr)) {
		k->family = AF_INET;
		k->a.hi = 0;
		k->a.lo = load_be32(b + 12);
		return true;
	}
	k->family = AF_INET6;
	k->a.hi = load_be64(b);
	k->a.lo = load_be64(b + 8);
	return true;
}

bool
cidr_match(const struct cidr *c, const struct sockaddr *sa)
{
	struct u128 lo, hi;
	struct key k;

	if (c == NULL || !key_from_sa(sa, &k) || k.family != c->family ||
	    !cidr_range(c, &lo, &hi))
		return false;
	return u128_le(lo, k.a) && u128_le(k.a, hi);
}

const char *
cidr_format(const struct cidr *c, char *buf, size_t buflen)
{
	char addr[INET6_ADDRSTRLEN];

	if (buflen == 0)
		return buf;
	if ((c->family != AF_INET && c->family != AF_INET6) ||
	    inet_ntop(c->family, c->addr, addr, sizeof(addr)) == NULL)
		snprintf(addr, sizeof(addr), "?");
	snprintf(buf, buflen, "%s/%u", addr, (unsigned)c->prefix);
	return buf;
}

/* Decimal 0..max, no sign, no leading zero, exactly n characters. */
static int
parse_prefix(const char *s, size_t n, unsigned max)
{
	unsigned v = 0;
	size_t i;

	if (n == 0 || n > 3 || (s[0] == '0' && n > 1))
		return -1;
	for (i = 0; i < n; i++) {
		if (s[i] < '0' || s[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(s[i] - '0');
	}
	return v <= max ? (int)v : -1;
}

/* The address before the '/': into c, as IPv4 or IPv6; -1 if neither. */
static int
parse_address(const char *s, size_t n, struct cidr *c)
{
	char buf[INET6_ADDRSTRLEN];

	if (n == 0 || n >= sizeof(buf) || memchr(s, '\0', n) != NULL)
		return -1;
	memcpy(buf, s, n);
	buf[n] = '\0';
	memset(c, 0, sizeof(*c));
	if (inet_pton(AF_INET, buf, c->addr) == 1)
		c->family = AF_INET;
	else if (inet_pton(AF_INET6, buf, c->addr) == 1)
		c->family = AF_INET6;
	else
		return -1;
	return 0;
}

/*
 * ::ffff:a.b.c.d/P (P >= 96) is the IPv4 CIDR a.b.c.d/(P - 96): mapped
 * peers are matched as IPv4, so only that form can ever match them.
 */
static void
cidr_unmap(struct cidr *c)
{
	if (c->family != AF_INET6 || c->prefix < 96 ||
	    memcmp(c->addr, v4mapped_prefix, sizeof(v4mapped_prefix)) != 0)
		return;
	c->family = AF_INET;
	c->prefix -= 96;
	memmove(c->addr, c->addr + 12, 4);
	memset(c->addr + 4, 0, 12);
}

/* Zero the host bits of c; whether any were set. */
static bool
cidr_clear_host(struct cidr *c)
{
	unsigned bytes = family_bits(c->family) / 8, i, keep;
	bool had = false;
	uint8_t m;

	for (i = 0; i < bytes; i++) {
		keep = c->prefix > i * 8 ? c->prefix - i * 8 : 0;
		m = keep >= 8 ? 0xff : (uint8_t)(0xff00 >> keep);
		had |= (c->addr[i] & ~m) != 0;
		c->addr[i] &= m;
	}
	return had;
}

/* cidr_parse of the n characters at text (which need not end there). */
static int
cidr_parse_n(const char *text, size_t n, struct cidr *out, char *err,
    size_t errlen)
{
	const char *slash = memchr(text, '/', n);
	size_t alen = slash != NULL ? (size_t)(slash - text) : n;
	char net[CIDR_STRLEN];
	struct cidr c;
	int prefix;

	if (parse_address(text, alen, &c) == -1 ||
	    (prefix = slash == NULL ? (int)family_bits(c.family) :
	    parse_prefix(slash + 1, n - alen - 1, family_bits(c.family))) == -1)
		return access_error(err, errlen, "'%.*s' is not a CIDR",
		    quote_len(n), text);
	c.prefix = (uint8_t)prefix;
	cidr_unmap(&c);
	if (cidr_clear_host(&c))
		return access_error(err, errlen, "'%.*s' has host bits set "
		    "(did you mean '%s'?)", quote_len(n), text,
		    cidr_format(&c, net, sizeof(net)));
	*out = c;
	return 0;
}

int
cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen)
{
	if (text == NULL)
		text = "";
	return cidr_parse_n(text, strlen(text), out, err, errlen);
}

static bool
is_blank(char ch)
{
	return ch == ' ' || ch == '\t';
}

/* The next word at or after *p: its start and length; *p moves past it. */
static size_t
next_word(const char **p, const char **word)
{
	const char *s = *p;

	while (is_blank(*s))
		s++;
	*word = s;
	while (*s != '\0' && !is_blank(*s))
		s++;
	*p = s;
	return (size_t)(s - *word);
}

static bool
word_is(const char *w, size_t n, const char *kw)
{
	return n == strlen(kw) && memcmp(w, kw, n) == 0;
}

int
access_rule_parse(const char *text, struct access_rule *out, char *err,
    size_t errlen)
{
	const char *p = text != NULL ? text : "", *kw, *target, *extra;
	size_t nkw = next_word(&p, &kw), ntarget = next_word(&p, &target);
	size_t nextra = next_word(&p, &extra);
	struct access_rule r;

	memset(&r, 0, sizeof(r));
	if (nkw == 0)
		return access_error(err, errlen, "empty rule (expected "
		    "'allow' or 'deny', then a CIDR or 'all')");
	if (!word_is(kw, nkw, "allow") && !word_is(kw, nkw, "deny"))
		return access_error(err, errlen, "'%.*s' is not 'allow' or "
		    "'deny'", quote_len(nkw), kw);
	r.allow = word_is(kw, nkw, "allow");
	if (ntarget == 0)
		return access_error(err, errlen, "'%.*s' needs a CIDR or 'all'",
		    quote_len(nkw), kw);
	if (nextra > 0)
		return access_error(err, errlen, "unexpected '%.*s' after "
		    "'%.*s' (one CIDR per rule)", quote_len(nextra), extra,
		    quote_len(ntarget), target);
	if (word_is(target, ntarget, "all"))
		r.all = true;
	else if (cidr_parse_n(target, ntarget, &r.net, err, errlen) == -1)
		return -1;
	*out = r;
	return 0;
}

/*
 * The rules that can match family, as ranges in rule order.  Rules after
 * the first "all" can never match, so the list stops there.
 */
static size_t
collect_spans(const struct access_rule *rules, size_t n, int family,
    struct span *spans)
{
	size_t i, m = 0;

	for (i = 0; i < n; i++) {
		if (rules[i].all) {
			spans[m].lo.hi = spans[m].lo.lo = 0;
			spans[m].hi = family_max(family);
			spans[m++].rule = (int32_t)i;
			break;
		}
		if (rules[i].net.family == family &&
		    cidr_range(&rules[i].net, &spans[m].lo, &spans[m].hi))
			spans[m++].rule = (int32_t)i;
	}
	return m;
}

static int
u128_cmp(const void *a, const void *b)
{
	const struct u128 *x = a, *y = b;

	if (u128_eq(*x, *y))
		return 0;
	return u128_le(*x, *y) ? -1 : 1;
}

/* By range, then rule: equal ranges end up together, first rule first. */
static int
span_cmp_range(const void *a, const void *b)
{
	const struct span *x = a, *y = b;
	int c;

	if ((c = u128_cmp(&x->lo, &y->lo)) != 0 ||
	    (c = u128_cmp(&x->hi, &y->hi)) != 0)
		return c;
	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

static int
span_cmp_rule(const void *a, const void *b)
{
	const struct span *x = a, *y = b;

	return x->rule < y->rule ? -1 : x->rule > y->rule;
}

/*
 * A rule repeating an earlier rule's range never matches: drop it.  The
 * spans left are distinct CIDRs, so at most 129 of them (one per prefix
 * length) cover any address, which bounds paint_ranges() to O(129 n).
 */
static size_t
drop_repeats(struct span *spans, size_t m)
{
	size_t i, w;

	if (m < 2)
		return m;
	qsort(spans, m, sizeof(*spans), span_cmp_range);
	for (i = 1, w = 1; i < m; i++)
		if (!u128_eq(spans[i].lo, spans[w - 1].lo) ||
		    !u128_eq(spans[i].hi, spans[w - 1].hi))
			spans[w++] = spans[i];
	qsort(spans, w, sizeof(*spans), span_cmp_rule);
	return w;
}

/*
 * Where ranges start: 0, every span's start and the address after every
 * span's end, sorted, without duplicates.  starts has room for 2m + 1.
 */
static size_t
range_starts(const struct span *spans, size_t m, int family,
    struct u128 *starts)
{
	struct u128 max = family_max(family), next;
	size_t i, k = 0, w;

	starts[k].hi = starts[k].lo = 0;
	k++;
	for (i = 0; i < m; i++) {
		starts[k++] = spans[i].lo;
		if (u128_eq(spans[i].hi, max))
			continue;
		next.lo = spans[i].hi.lo + 1;
		next.hi = spans[i].hi.hi + (next.lo == 0);
		starts[k++] = next;
	}
	qsort(starts, k, sizeof(*starts), u128_cmp);
	for (i = 1, w = 1; i < k; i++)
		if (!u128_eq(starts[i], starts[w - 1]))
			starts[w++] = starts[i];
	return w;
}

/* The index of the range that starts exactly at a (it exists). */
static size_t
find_start(const struct u128 *starts, size_t k, struct u128 a)
{
	size_t lo = 0, hi = k;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;

		if (u128_le(starts[mid], a))
			lo = mid;
		else
			hi = mid;
	}
	return lo;
}

/*
 * Give every range the first span that covers it: paint the spans last
 * to first, so that earlier rules overwrite later ones.  Span edges are
 * range edges, so a span covers a range whole or not at all.  Then merge
 * neighbours that ended up with the same rule.
 */
static size_t
paint_ranges(const struct span *spans, size_t m, struct u128 *starts,
    int32_t *rule, size_t k)
{
	size_t i, j, w;

	for (j = 0; j < k; j++)
		rule[j] = -1;
	for (i = m; i-- > 0;)
		for (j = find_start(starts, k, spans[i].lo);
		    j < k && u128_le(starts[j], spans[i].hi); j++)
			rule[j] = spans[i].rule;
	for (j = 1, w = 1; j < k; j++) {
		if (rule[j] == rule[w - 1])
			continue;
		starts[w] = starts[j];
		rule[w++] = rule[j];
	}
	return w;
}

static void
table_free(struct access_table *t)
{
	if (t == NULL)
		return;
	free(t->start4);
	free(t->start6);
	free(t->rule);
	free(t);
}

/* Keep the k ranges in the compact form lookups use; false if no memory. */
static bool
table_store(struct access_table *t, int family, struct u128 *starts,
    int32_t *rule, size_t k)
{
	size_t i;

	t->n = k;
	t->rule = rule;
	if (family == AF_INET6) {
		t->start6 = starts;
		return true;
	}
	if ((t->start4 = calloc(k, sizeof(*t->start4))) == NULL)
		return false;
	for (i = 0; i < k; i++)
		t->start4[i] = (uint32_t)starts[i].lo;
	free(starts);
	return true;
}

/* Compile the rules of one family (and "all") into a table. */
static struct access_table *
table_build(const struct access_rule *rules, size_t n, int family)
{
	struct access_table *t = calloc(1, sizeof(*t));
	struct span *spans = calloc(n + 1, sizeof(*spans));
	struct u128 *starts = calloc(2 * n + 3, sizeof(*starts));
	int32_t *rule = calloc(2 * n + 3, sizeof(*rule));
	size_t m, k;

	if (t == NULL || spans == NULL || starts == NULL || rule == NULL)
		goto fail;
	m = drop_repeats(spans, collect_spans(rules, n, family, spans));
	k = range_starts(spans, m, family, starts);
	k = paint_ranges(spans, m, starts, rule, k);
	free(spans);
	if (!table_store(t, family, starts, rule, k)) {
		table_free(t);	/* frees rule; starts is still ours */
		free(starts);
		return NULL;
	}
	return t;
fail:
	free(t);
	free(spans);
	free(starts);
	free(rule);
	return NULL;
}

struct access_list *
access_list_create(const struct access_rule *rules, size_t n)
{
	struct access_list *l;
	size_t i;

	/* Indexes are reported as int; the tables need 2n + 3 entries. */
	if (n > INT32_MAX || n > (SIZE_MAX / sizeof(struct u128) - 3) / 2)
		return NULL;
	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->first_all = -1;
	if (n > 0 && (l->rules = calloc(n, sizeof(*rules))) == NULL)
		goto fail;
	if (n > 0)
		memcpy(l->rules, rules, n * sizeof(*rules));
	l->n = n;
	for (i = 0; i < n && l->first_all == -1; i++)
		if (rules[i].all)
			l->first_all = (int)i;
	if ((l->v4 = table_build(rules, n, AF_INET)) == NULL ||
	    (l->v6 = table_build(rules, n, AF_INET6)) == NULL)
		goto fail;
	return l;
fail:
	access_list_free(l);
	return NULL;
}

int
access_list_parse(char *const *texts, size_t n, bool cidrs, struct access_list **out)
{
	struct access_rule *rules;
	char err[128];
	size_t i;
	int rc = 0;

	*out = NULL;
	if (n == 0)
		return 0;
	if ((rules = calloc(n, sizeof(*rules))) == NULL)
		return -1;
	for (i = 0; i < n && rc == 0; i++) {
		rules[i].allow = true;
		rc = cidrs ? cidr_parse(texts[i], &rules[i].net, err, sizeof(err)) :
		    access_rule_parse(texts[i], &rules[i], err, sizeof(err));
	}
	if (rc == 0 && (*out = access_list_create(rules, n)) == NULL)
		rc = -1;
	free(rules);
	return rc;
}

void
access_list_free(struct access_list *l)
{
	if (l == NULL)
		return;
	table_free(l->v4);
	table_free(l->v6);
	free(l->rules);
	free(l);
}

/*
 * The last range starting at or below a: a binary search whose loop has
 * no data-dependent branch (the compiler makes the step a cmov), so its
 * cost is log2(n) steps whatever the address.
 */
static int32_t
table4_find(const struct access_table *t, uint32_t a)
{
	const uint32_t *s = t->start4;
	size_t base = 0, len = t->n, half;

	while (len > 1) {
		half = len / 2;
		base = s[base + half] <= a ? base + half : base;
		len -= half;
	}
	return t->rule[base];
}

static int32_t
table6_find(const struct access_table *t, struct u128 a)
{
	const struct u128 *s = t->start6;
	size_t base = 0, len = t->n, half;

	while (len > 1) {
		half = len / 2;
		base = u128_le(s[base + half], a) ? base + half : base;
		len -= half;
	}
	return t->rule[base];
}

bool
access_allows(const struct access_list *l, const struct sockaddr *sa,
    int *rule_index)
{
	struct key k;
	int r = -1;

	if (l != NULL) {
		if (!key_from_sa(sa, &k))
			r = l->first_all;
		else if (k.family == AF_INET)
			r = table4_find(l->v4, (uint32_t)k.a.lo);
		else
			r = table6_find(l->v6, k.a);
	}
	if (rule_index != NULL)
		*rule_index = r;
	return r < 0 || l->rules[r].allow;
}
