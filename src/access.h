/* SPDX-License-Identifier: ISC */
/*
 * access.h: CIDRs and ordered allow/deny rules (first match wins, as
 * nginx).  Pure: no sockets, no logging, no config parsing; the config
 * layer turns its strings into rules with access_rule_parse() and the
 * daemon asks access_allows() about each peer.
 *
 * An IPv4-mapped IPv6 peer (::ffff:a.b.c.d, as a dual-stack socket shows
 * an IPv4 client) is matched as its IPv4 address: IPv4 rules cover it,
 * IPv6 rules (even ::/0) do not.  A CIDR written inside the mapped range
 * ("::ffff:10.0.0.0/104") is parsed as the IPv4 CIDR it means
 * (10.0.0.0/8), so that it matches those peers.
 */
#ifndef UPCASE_ACCESS_H
#define UPCASE_ACCESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Room for any cidr_format() result: an IPv6 address, '/', 3 digits, NUL. */
#define CIDR_STRLEN	(46 + 5)

struct cidr {
	uint8_t family;		/* AF_INET or AF_INET6 */
	uint8_t prefix;		/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network bytes, host bits zero; IPv4 uses 4 */
};

/*
 * "10.0.0.0/8", "192.0.2.1" (= /32), "::1" (= /128), "2001:db8::/32".
 * Numeric only: no names, no blanks, no scope ("%eth0").  The prefix is
 * decimal 0..32 or 0..128 with no sign and no leading zero ("/08"), and
 * nothing may follow it.  Host bits set is an error that suggests the
 * network.  Returns 0, or -1 with the reason in err, such as
 * "'10.0.0.0/33' is not a CIDR" or
 * "'10.0.0.1/8' has host bits set (did you mean '10.0.0.0/8'?)".
 * Unused bytes of out->addr are zero, so parsed CIDRs compare with memcmp.
 */
int cidr_parse(const char *text, struct cidr *out, char *err, size_t errlen);

/*
 * Whether sa (a struct sockaddr_in or sockaddr_in6) is inside c.  A
 * v4-mapped IPv6 address counts as its IPv4 address.  Other families, or
 * a NULL sa: false.  For a struct cidr not made by cidr_parse, host bits
 * are ignored and a prefix beyond the address length counts as full.
 */
bool cidr_match(const struct cidr *c, const struct sockaddr *sa);

/* "10.0.0.0/8", "::1/128" into buf (always NUL-terminated); returns buf. */
const char *cidr_format(const struct cidr *c, char *buf, size_t buflen);

struct access_rule {
	bool allow;		/* allow, or deny */
	bool all;		/* "all": any address of any family; net unused */
	struct cidr net;	/* zeroed when all */
};

/*
 * "allow CIDR", "deny CIDR", "allow all", "deny all".  Keywords are
 * lower-case only.  Blanks (spaces and tabs) are not significant: one or
 * more separate the two words, and leading or trailing ones are ignored;
 * any other character outside the words is an error.  Returns 0, or -1
 * with the reason in err ("'10.0.0.0/33' is not a CIDR", "'permit' is not
 * 'allow' or 'deny'", ...); the config layer adds where the rule is.
 */
int access_rule_parse(const char *text, struct access_rule *out, char *err, size_t errlen);

/*
 * The rules, and the same rules compiled per family into a sorted table
 * of disjoint address ranges, each holding the index of the first rule
 * that covers it: a lookup is a binary search, whatever the rule count.
 */
struct access_table;
struct access_list {
	struct access_rule *rules;
	size_t n;
	struct access_table *v4, *v6;	/* private to access.c */
	int first_all;		/* the first "all" rule, or -1: other families */
};

/*
 * Build from parsed rules (copies them); NULL on out of memory (or more
 * than INT32_MAX rules).  Building takes O(n log n) time (times at most
 * 129, the nesting depth of distinct CIDRs); a lookup then O(log n).
 */
struct access_list *access_list_create(const struct access_rule *rules, size_t n);
void access_list_free(struct access_list *l);

/*
 * A list from n texts: rules ("deny 10.0.0.0/8"), or with cidrs bare
 * CIDRs, each an "allow" rule (exempt lists: a match is rule_index >= 0).
 * *out is NULL when n is 0 (allow all, exempt none).  -1 if a text does
 * not parse (the config checked them already) or out of memory.
 */
int access_list_parse(char *const *texts, size_t n, bool cidrs, struct access_list **out);

/*
 * First match wins; no rules, no match or a NULL list: allow.  A peer of
 * another family (or a NULL sa) can only match an "all" rule.  If
 * rule_index is not NULL it gets the index of the rule that decided, or
 * -1 when none did.
 */
bool access_allows(const struct access_list *l, const struct sockaddr *sa, int *rule_index);

#endif
