/* SPDX-License-Identifier: ISC */
/*
 * srctable.h: a fixed-capacity table of per-source state (pure: no
 * sockets, no locks, the caller passes the time).  It holds the UDP reply
 * buckets (per IPv4 address, per IPv6 /56), the loop guard's recent
 * replies (per address and port, see loopguard.h) and the TCP per-source
 * counts (per IPv4 address, per IPv6 /64): one table per use, each with
 * its own keys.  Threads sharing a table hold one mutex around every call
 * and every use of an entry.
 *
 * The memory is mapped once, at create, and never grows: a flood from any
 * number of (forged) sources only replaces entries.  Its pages are
 * zero-filled by the kernel on first use, so an idle daemon holds only
 * the sets its sources have touched, and a flood at most the bound below.  The table is
 * set-associative: a key hashes (SipHash-1-3, keyed with a per-table
 * random seed, so a remote sender cannot aim its keys at one set) to one
 * set of SRCTABLE_WAYS entries; a new key replaces the least recently used
 * entry of its set.  A source that keeps sending stays the most recently
 * used and so stays in the table, whatever the flood around it.  Entries
 * with open connections (open > 0) are pinned: never replaced, so that
 * the count a close decrements is still there.
 *
 * Memory: srctable_bytes(capacity) = sizeof(struct srctable) + 64 bytes
 * per entry, the capacity rounded up to a power of two (at least
 * SRCTABLE_WAYS): 65536 entries take 4 MiB (plus 64 bytes).  A resize
 * holds both tables and an array of 8 bytes per entry of the old one for
 * as long as it runs.
 */
#ifndef UPCASE_SRCTABLE_H
#define UPCASE_SRCTABLE_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tbucket.h"

#define SRCTABLE_WAYS		8		/* entries per set */
#define SRCTABLE_MIN		SRCTABLE_WAYS	/* capacities round up to... */
/* ...and down to: 16 GiB of entries (64 MiB where size_t is 32 bits) */
#define SRCTABLE_MAX		((size_t)1 << (sizeof(size_t) > 4 ? 28 : 20))

/*
 * Who a datagram or connection is from.  No padding, and every byte is
 * set (unused ones zero): keys compare and hash as 20 bytes.
 */
struct src_key {
	uint8_t  family;	/* 4 or 6; 0 marks a free entry */
	uint8_t  prefix;	/* bits of addr kept */
	uint16_t port;		/* host order; 0 when not part of the key */
	uint8_t  addr[16];	/* IPv4 in the first 4 bytes; masked */
};

/* Recent replies the loop guard keeps per address and port (loopguard.h). */
#define SRCTABLE_LOOP_SLOTS	4

/*
 * One source, 64 bytes (a cache line).  The caller reads and writes the
 * fields it owns: bucket (tbucket_take), open (++ on accept, -- on close),
 * seen and limited (srctable_count_use, for upcase --sources),
 * and the loop guard's (loop, reply_ms) through loopguard.h.  Each table
 * has one use: the reply-rate and TCP tables use bucket (and open), the
 * loop table loop and reply_ms, never bucket or open; so bucket and loop
 * share their bytes.  A pointer to an entry is good until the next
 * srctable_get (which may replace an unpinned entry), or, for a pinned
 * entry, until srctable_resize or srctable_free: keep the key with a
 * connection, not the pointer, and find it again on close.
 */
struct src_entry {
	struct src_key key;	/* 20 bytes */
	uint32_t open;		/* TCP tables: connections open; pinned if > 0 */
	uint64_t last_ms;	/* last srctable_get: the LRU order */
	union {
		struct {		/* rate and TCP tables, 24 bytes */
			struct tbucket bucket;	/* 16 bytes */
			uint32_t seen;		/* datagrams (UDP) or connections
						   (TCP) checked against the limits;
						   saturates */
			uint32_t limited;	/* of them, over a limit; saturates */
		};
		struct {		/* loop tables, 20 bytes (+4 unused) */
			uint32_t hash[SRCTABLE_LOOP_SLOTS];	/* 0: empty */
			uint8_t  count[SRCTABLE_LOOP_SLOTS];	/* echoes */
		} loop;
	};
	uint64_t reply_ms;	/* loop tables: the last reply to this source */
};

struct srctable;

/*
 * k as text: "192.0.2.1", "2001:db8::/56" (the prefix only when it is
 * shorter than the address), with ":PORT" (IPv6: "[...]:PORT") when the
 * key has a port.  Returns buf; "?" for a free entry's key.
 */
#define SRC_KEY_TEXT_MAX 56
const char *src_key_format(const struct src_key *k, char *buf, size_t len);

/*
 * Fill out with the key for a struct sockaddr_in or sockaddr_in6: an
 * IPv4-mapped IPv6 address counts as IPv4; the address is masked to
 * v4prefix (0..32) or v6prefix (0..128) bits; with_port keeps the port.
 * Returns 0, or -1 for another family or a prefix out of range.
 */
int src_key_from_sockaddr(const struct sockaddr *sa, int v4prefix,
    int v6prefix, bool with_port, struct src_key *out);

/*
 * A table for capacity entries (rounded up to a power of two, within
 * SRCTABLE_MIN..SRCTABLE_MAX), seeded from getrandom(); NULL when out of
 * memory.  srctable_create_seeded takes the seed, for tests and fuzzing.
 */
struct srctable *srctable_create(size_t capacity);
struct srctable *srctable_create_seeded(size_t capacity, uint64_t seed);
void srctable_free(struct srctable *t);

/*
 * The entry for k, inserted if absent (zeroed: a full bucket, no open
 * connections, no reply) in place of the least recently used unpinned
 * entry of its set.  Marks it used at now_ms.  NULL only when every entry
 * of the set is pinned (the caller refuses), or k->family is 0.
 * O(SRCTABLE_WAYS), no allocation.  Keep table_size well above the
 * connections that can be open at once (4 times or more), so that
 * pinned entries rarely fill a set.
 */
struct src_entry *srctable_get(struct srctable *t, const struct src_key *k,
    uint64_t now_ms);
/* The entry for k, or NULL; does not mark it used. */
struct src_entry *srctable_find(struct srctable *t, const struct src_key *k);

/*
 * A table for capacity entries holding as many of t's as fit: pinned
 * ones first, then the most recently used; the entries keep their state
 * and the seed stays, so growing keeps every entry.  Shrinking leaves a
 * pinned entry out only when its new set is already full of pinned ones:
 * the close that would decrement it then finds nothing and goes on.
 * Frees t and returns the new table (t itself when the rounded capacity
 * is the same); on NULL (out of memory) t is left as it was.  Prefix
 * lengths that change on reload change the keys: that needs a new table.
 */
struct srctable *srctable_resize(struct srctable *t, size_t capacity);

/*
 * t at capacity: a new table when t is NULL, else srctable_resize(t).
 * NULL when out of memory, and t is left as it was.
 */
struct srctable *srctable_fit(struct srctable *t, size_t capacity);
size_t srctable_capacity(const struct srctable *t);
size_t srctable_count(const struct srctable *t);	/* entries in use */
/* Entries replaced by get, or left out by a shrinking resize. */
uint64_t srctable_evictions(const struct srctable *t);
/* Memory a table of capacity takes, for the man page and the tests. */
size_t srctable_bytes(size_t capacity);

/*
 * Count one use of e (seen) and whether it was over a limit (limited),
 * each saturating at UINT32_MAX: for the rate and TCP tables.
 */
void srctable_count_use(struct src_entry *e, bool limited);

/*
 * Iterate: the entry in use after *cursor (start at 0), or NULL at the
 * end; *cursor moves past it.  In table order, which means nothing; good
 * while nothing calls srctable_get, srctable_resize or srctable_free.
 */
const struct src_entry *srctable_next(const struct srctable *t, size_t *cursor);

/*
 * Copy out, into out[0 .. n-1], the n busiest entries of t (most seen
 * first; then most limited, then most open; then by key, so the order is
 * total), and return how many there were (at most n).  O(capacity log n),
 * no allocation: for a caller that holds a lock, the copy is what it keeps.
 */
size_t srctable_top(const struct srctable *t, struct src_entry *out, size_t n);
/* The order srctable_top sorts in: < 0 if a is busier than b. */
int srctable_busier(const struct src_entry *a, const struct src_entry *b);

/*
 * The entries form sets of SRCTABLE_WAYS consecutive entries, aligned to
 * SRCTABLE_WAYS * sizeof(struct src_entry) bytes: two entries are in one
 * set if and only if this gives the same number (tests and the fuzzer).
 */
uintptr_t srctable_set_of(const struct src_entry *e);

#endif
