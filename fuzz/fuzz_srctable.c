/* SPDX-License-Identifier: ISC */
/*
 * fuzz_srctable.c: fuzz target for src/srctable.c, src/tbucket.c and
 * src/loopguard.c, against a naive model.
 *
 * Input: six header bytes (capacity, rate, burst, leak, loop window,
 * loop repeats: each byte picks from a small list), then operations, one
 * byte each (a letter, or any byte modulo the number of operations) and
 * its argument bytes:
 *	g K	srctable_get of model key K	f K	srctable_find
 *	p K	get, then open++ (pin)		u K	find, then open-- (unpin)
 *	e K	get, then tbucket_take on the entry's bucket (key K % 32)
 *	l K P	get, then the loop guard with payload P (key 32 + K % 16)
 *	r C	srctable_resize to capacity C	k A..	a key from raw bytes
 *	t N	the clock forward		b N	the clock back
 *	T	tbucket_take on a bucket of its own, against a reference
 *	i	srctable_next over the table, and srctable_top
 * A table has one use (srctable.h): its entries' bucket and loop state
 * share their bytes, so e takes the keys without a port (IPv4 hosts,
 * IPv6 prefixes), l those with one (address and port).  In the seed
 * files (fuzz/corpus/srctable), written by hand, the header is digits
 * ("003238": capacity 8, rate 1, burst 5, no leak, 250 ms, 8 repeats)
 * and key K is the byte '0' + K: "g0g1p2" gets keys 0 and 1 and pins key
 * 2; P picks payload P % 4 ('0' "", '1' "HELLO", '2' "hello", '3' "\n":
 * "HELLO" and "\n" share a loop guard slot, the others have one each),
 * and P >= 0x80 makes the reply the next payload instead.
 *
 * Checked after every operation:
 *  - count == the keys the model holds, <= capacity; evictions counted;
 *  - a key found stays at its place with its state, byte for byte, unless
 *    replaced; only a get of a new key into a full set replaces, exactly
 *    one entry, never a pinned one, and the least recently used of the
 *    set; get returns NULL only when some set is all pinned;
 *  - a resize keeps every entry when it grows, and the state of those it
 *    keeps; it keeps at least min(count, SRCTABLE_WAYS);
 *  - tbucket_take gives the verdicts of a reference written another way
 *    (tokens left, lifetime over-limit count), passes at most burst +
 *    rate * (time the clock moved forward), leaks over-limit / leak;
 *  - loopguard_is_echo agrees with the rule of loopguard.h, modelled as
 *    a map from slot to (reply, count) and the time of the last reply,
 *    and each slot's count and emptiness are the model's;
 *  - src_key_from_sockaddr masks: nothing past the prefix, and a masked
 *    address gives the same key again.
 */
#include "config.h"

#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "loopguard.h"
#include "srctable.h"
#include "tbucket.h"

#define NKEYS		48		/* more than the largest capacity */
#define NPAYLOADS	4

struct model_key {
	struct src_key	 key;
	bool		 present;
	struct src_entry *ptr;		/* where it was last seen */
	struct src_entry copy;		/* what it held then */
	/* The loop guard's rule, kept apart from the entry. */
	struct model_slot {
		bool	 used;
		uint64_t reply;		/* the whole hash */
		unsigned echoes;
	} slot[LOOPGUARD_SLOTS];
	uint64_t	 reply_ms;
};

/* The bucket rule written another way: tokens left, lifetime counts. */
struct ref_bucket {
	int64_t		 avail;		/* milli-tokens */
	uint64_t	 last;
	uint64_t	 passes, leaks, overs;
	bool		 started;
	uint64_t	 epoch_start, epoch_max, credited;
};

struct fuzz {
	const uint8_t	*p, *end;
	struct srctable	*t;
	struct model_key k[NKEYS];
	uint64_t	 now;
	uint32_t	 rate, burst, leak, window, repeats;
	struct tbucket	 bucket;
	struct ref_bucket ref;
	uint64_t	 payload[NPAYLOADS];
};

static unsigned
next(struct fuzz *f)
{
	return f->p < f->end ? *f->p++ : 0;
}

static size_t
pick_capacity(unsigned b)
{
	return (size_t)SRCTABLE_WAYS << (b % 4);	/* 8..64 */
}

static void
header(struct fuzz *f)
{
	static const uint32_t rates[] = { 1, 2, 3, 7, 10, 100, 1000, 1000000 };
	static const uint32_t bursts[] = { 1, 2, 3, 5, 10, 100, 0, 1000000 };
	static const uint32_t leaks[] = { 0, 1, 2, 3, 10 };
	static const uint32_t windows[] = { 0, 1, 10, 250 };

	f->t = srctable_create_seeded(pick_capacity(next(f)), 42);
	if (f->t == NULL)
		fuzz_fail("srctable_create_seeded: out of memory");
	f->rate = rates[next(f) % 8];
	f->burst = bursts[next(f) % 8];
	f->leak = leaks[next(f) % 5];
	f->window = windows[next(f) % 4];
	f->repeats = next(f) % 16;	/* 0 counts as 1; '0'..'9' are 0..9 */
}

/* Keys: IPv4 hosts, IPv6 /56 prefixes, IPv4 address and port. */
static void
make_keys(struct fuzz *f)
{
	struct model_key *m;
	int i;

	memset(f->k, 0, sizeof(f->k));
	for (i = 0; i < NKEYS; i++) {
		m = &f->k[i];
		if (i < 16) {
			m->key.family = 4;
			m->key.prefix = 32;
			memcpy(m->key.addr, (uint8_t[]){ 198, 51, 100, (uint8_t)i }, 4);
		} else if (i < 32) {
			m->key.family = 6;
			m->key.prefix = 56;
			memcpy(m->key.addr, (uint8_t[]){ 0x20, 0x01, 0x0d, 0xb8,
			    0, 0, (uint8_t)i }, 7);
		} else {
			m->key.family = 4;
			m->key.prefix = 32;
			m->key.port = (uint16_t)(1000 + i);
			memcpy(m->key.addr, (uint8_t[]){ 203, 0, 113, 1 }, 4);
		}
	}
}

static struct model_key *
key_arg(struct fuzz *f)
{
	return &f->k[next(f) % NKEYS];
}

/* Keys 0..31, without a port: rate and TCP tables. */
static struct model_key *
bucket_key_arg(struct fuzz *f)
{
	return &f->k[next(f) % 32];
}

/* Keys 32..47, address and port: the loop table. */
static struct model_key *
loop_key_arg(struct fuzz *f)
{
	return &f->k[32 + next(f) % (NKEYS - 32)];
}

static size_t
model_count(const struct fuzz *f)
{
	size_t i, n = 0;

	for (i = 0; i < NKEYS; i++)
		n += f->k[i].present;
	return n;
}

/* Keys the model holds in the set of e (as they were before the op). */
static int
set_members(const struct fuzz *f, const struct src_entry *e, bool pinned_only)
{
	int i, n = 0;

	for (i = 0; i < NKEYS; i++)
		if (f->k[i].present && srctable_set_of(f->k[i].ptr) ==
		    srctable_set_of(e) && (!pinned_only || f->k[i].copy.open > 0))
			n++;
	return n;
}

/* Was j, which went, the right one to replace? */
static void
check_evicted(const struct fuzz *f, const struct model_key *j,
    const struct model_key *by, bool fresh, const struct src_entry *e)
{
	int i;

	if (!fresh || e == NULL || j->ptr != e)
		fuzz_fail("an entry went without a get putting another in its place");
	if (j->copy.open > 0)
		fuzz_fail("a pinned entry (open %u) was replaced", j->copy.open);
	for (i = 0; i < NKEYS; i++) {
		const struct model_key *o = &f->k[i];

		if (o == j || o == by || !o->present || o->copy.open > 0 ||
		    srctable_set_of(o->ptr) != srctable_set_of(e))
			continue;
		if (o->copy.last_ms < j->copy.last_ms)
			fuzz_fail("replaced an entry used at %llu, not the one used"
			    " at %llu", (unsigned long long)j->copy.last_ms,
			    (unsigned long long)o->copy.last_ms);
	}
}

/* Some set holds SRCTABLE_WAYS pinned keys. */
static bool
some_set_pinned(const struct fuzz *f)
{
	int i;

	for (i = 0; i < NKEYS; i++)
		if (f->k[i].present && f->k[i].copy.open > 0 &&
		    set_members(f, f->k[i].ptr, true) == SRCTABLE_WAYS)
			return true;
	return false;
}

/* e is what srctable_get(m) returned: is it right? */
static void
check_got(const struct fuzz *f, const struct model_key *m,
    const struct src_entry *e)
{
	if (e == NULL) {
		if (m->present)
			fuzz_fail("get refused a key that is in the table");
		if (!some_set_pinned(f))
			fuzz_fail("get refused, but no set is all pinned");
		return;
	}
	if (memcmp(&e->key, &m->key, sizeof(m->key)) != 0)
		fuzz_fail("get returned an entry of another key");
	if (e->last_ms != f->now)
		fuzz_fail("get did not mark the entry used");
	if (m->present && e != m->ptr)
		fuzz_fail("get moved an entry");
	if (!m->present) {
		int j;

		if (e->open != 0 || e->bucket.spent != 0 ||
		    e->bucket.over != 0 || e->bucket.last_ms != 0 ||
		    e->reply_ms != 0)
			fuzz_fail("a new entry is not zeroed");
		for (j = 0; j < LOOPGUARD_SLOTS; j++)
			if (e->loop.hash[j] != 0 || e->loop.count[j] != 0)
				fuzz_fail("a new entry has a loop slot set");
	}
}

static void
check_count(const struct fuzz *f)
{
	if (srctable_count(f->t) != model_count(f) ||
	    srctable_count(f->t) > srctable_capacity(f->t))
		fuzz_fail("count %zu, model %zu, capacity %zu",
		    srctable_count(f->t), model_count(f),
		    srctable_capacity(f->t));
}

/*
 * After an operation that called get for m (e what it returned) or none
 * (m NULL): every other key is where it was with what it held, or was
 * replaced by m.  Then the model takes the table's state.
 */
static void
sync(struct fuzz *f, struct model_key *m, struct src_entry *e,
    uint64_t ev_before)
{
	bool fresh = m != NULL && !m->present;
	int i, gone = 0, full = 0;
	struct model_key *o;
	struct src_entry *x;

	if (fresh && e != NULL)
		full = set_members(f, e, false);
	for (i = 0; i < NKEYS; i++) {
		if ((o = &f->k[i]) == m)
			continue;
		x = srctable_find(f->t, &o->key);
		if (!o->present) {
			if (x != NULL)
				fuzz_fail("a key no get put in is in the table");
			continue;
		}
		if (x == NULL) {
			check_evicted(f, o, m, fresh, e);
			o->present = false;
			gone++;
		} else if (x != o->ptr || memcmp(x, &o->copy, sizeof(*x)) != 0)
			fuzz_fail("an entry changed under another key's operation");
	}
	if (gone > 1)
		fuzz_fail("one get replaced %d entries", gone);
	if (fresh && e != NULL && (full == SRCTABLE_WAYS) != (gone == 1))
		fuzz_fail("a set of %d entries, %d replaced", full, gone);
	if (srctable_evictions(f->t) != ev_before + (uint64_t)gone)
		fuzz_fail("evictions not counted");
	if (m != NULL && e != NULL) {
		if (fresh) {
			memset(m->slot, 0, sizeof(m->slot));
			m->reply_ms = 0;
		}
		m->present = true;
		m->ptr = e;
		m->copy = *e;
	}
	check_count(f);
}

static struct src_entry *
op_get(struct fuzz *f, struct model_key *m)
{
	uint64_t ev = srctable_evictions(f->t);
	struct src_entry *e = srctable_get(f->t, &m->key, f->now);

	check_got(f, m, e);
	sync(f, m, e, ev);
	return e;
}

static struct src_entry *
op_find(struct fuzz *f, struct model_key *m)
{
	struct src_entry *e = srctable_find(f->t, &m->key);

	if (m->present ? e != m->ptr : e != NULL)
		fuzz_fail("find after get gives another entry");
	sync(f, NULL, NULL, srctable_evictions(f->t));
	return e;
}

static void
op_pin(struct fuzz *f, struct model_key *m, bool pin)
{
	struct src_entry *e = pin ? op_get(f, m) : op_find(f, m);

	if (e == NULL)
		return;
	if (pin)
		e->open++;
	else if (e->open > 0)
		e->open--;
	m->copy = *e;
}

static void
op_take_entry(struct fuzz *f, struct model_key *m)
{
	struct src_entry *e = op_get(f, m);

	if (e != NULL) {
		tbucket_take(&e->bucket, f->rate, f->burst, f->leak, f->now);
		m->copy = *e;
	}
}

/*
 * The rule of loopguard.h, for the model: per key, slots of (reply,
 * echoes); a reply may sit in one of two, h mod 4 and h / 4 mod 4 (the
 * next one when those are the same).
 */
_Static_assert(LOOPGUARD_SLOTS == 4, "the model's slots are 4");

static struct model_slot *
model_choice(struct model_key *m, uint64_t h, int which)
{
	unsigned a = (unsigned)(h % 4), b = (unsigned)(h / 4 % 4);

	if (b == a)
		b = (a + 1) % 4;
	return &m->slot[which == 0 ? a : b];
}

static struct model_slot *
model_holding(struct model_key *m, uint64_t h)
{
	for (int w = 0; w < 2; w++) {
		struct model_slot *sl = model_choice(m, h, w);

		if (sl->used && sl->reply == h)
			return sl;
	}
	return NULL;
}

static bool
model_echo(struct fuzz *f, struct model_key *m, uint64_t h)
{
	struct model_slot *sl;
	unsigned need = f->repeats == 0 ? 1 : f->repeats > 255 ? 255 :
	    f->repeats;
	int j;

	if (f->now > m->reply_ms && f->now - m->reply_ms > f->window) {
		for (j = 0; j < LOOPGUARD_SLOTS; j++)
			m->slot[j].echoes = 0;
		return false;
	}
	if ((sl = model_holding(m, h)) == NULL)
		return false;
	if (sl->echoes < 255)
		sl->echoes++;
	if (sl->echoes < need)
		return false;
	sl->echoes = 255;	/* ended: dropped from now on, its slot may go */
	return true;
}

static void
model_sent(struct fuzz *f, struct model_key *m, uint64_t reply)
{
	struct model_slot *a = model_choice(m, reply, 0), *b = model_choice(m, reply, 1), *sl;

	m->reply_ms = f->now;
	if (model_holding(m, reply) != NULL)
		return;
	sl = !a->used ? a : !b->used ? b : a->echoes == 255 ? a : b->echoes == 255 ? b :
	    b->echoes < a->echoes ? b : a;
	sl->used = true;
	sl->reply = reply;
	sl->echoes = 0;
}

/* The entry's loop slots hold what the model's do. */
static void
check_slots(const struct model_key *m, const struct src_entry *e)
{
	int j;

	for (j = 0; j < LOOPGUARD_SLOTS; j++) {
		if ((e->loop.hash[j] != 0) != m->slot[j].used)
			fuzz_fail("loop slot %d is %s, the model's %s", j,
			    e->loop.hash[j] != 0 ? "set" : "empty",
			    m->slot[j].used ? "set" : "empty");
		if (e->loop.count[j] != m->slot[j].echoes)
			fuzz_fail("loop slot %d counts %u echoes, the model %u",
			    j, e->loop.count[j], m->slot[j].echoes);
	}
	if (e->reply_ms != m->reply_ms)
		fuzz_fail("last reply at %llu, the model's at %llu",
		    (unsigned long long)e->reply_ms,
		    (unsigned long long)m->reply_ms);
}

static void
op_loop(struct fuzz *f, struct model_key *m)
{
	unsigned a = next(f);
	uint64_t h = f->payload[a % NPAYLOADS], reply;
	struct src_entry *e = op_get(f, m);
	bool want, got;

	if (e == NULL)
		return;
	want = model_echo(f, m, h);
	got = loopguard_is_echo(e, h, f->now, f->window, f->repeats);
	if (got != want)
		fuzz_fail("loopguard_is_echo %d, the rule says %d (payload %u)",
		    got, want, a % NPAYLOADS);
	check_slots(m, e);
	if (!got) {
		/* Mostly the reply is the payload (upper-case text). */
		reply = a & 0x80 ? f->payload[(a + 1) % NPAYLOADS] : h;
		loopguard_sent(e, reply, f->now);
		model_sent(f, m, reply);
		check_slots(m, e);
	}
	m->copy = *e;
}

static void
op_resize(struct fuzz *f)
{
	size_t cap = pick_capacity(next(f)), n = model_count(f), lost = 0;
	size_t pinned_kept = 0, pinned_lost = 0, kept;
	bool grow = srctable_bytes(cap) >= srctable_bytes(srctable_capacity(f->t));
	uint64_t ev = srctable_evictions(f->t);
	struct srctable *nt;
	struct src_entry *x;
	int i;

	if ((nt = srctable_resize(f->t, cap)) == NULL)
		fuzz_fail("srctable_resize: out of memory");
	f->t = nt;
	for (i = 0; i < NKEYS; i++) {
		struct model_key *m = &f->k[i];

		if (!m->present)
			continue;
		if ((x = srctable_find(f->t, &m->key)) == NULL) {
			if (grow)
				fuzz_fail("growing the table lost an entry");
			pinned_lost += m->copy.open > 0;
			m->present = false;
			lost++;
			continue;
		}
		if (memcmp(x, &m->copy, sizeof(*x)) != 0)
			fuzz_fail("an entry changed in a resize");
		pinned_kept += m->copy.open > 0;
		m->ptr = x;
	}
	kept = n - lost;
	if (kept < (n < SRCTABLE_WAYS ? n : SRCTABLE_WAYS))
		fuzz_fail("a resize kept %zu of %zu entries", kept, n);
	if (pinned_lost > 0 && pinned_kept < SRCTABLE_WAYS)
		fuzz_fail("a resize lost a pinned entry, kept only %zu", pinned_kept);
	if (srctable_evictions(f->t) != ev + lost)
		fuzz_fail("entries a resize left out are not counted");
	sync(f, NULL, NULL, srctable_evictions(f->t));
}

static void
op_time(struct fuzz *f, bool forward)
{
	static const uint64_t scale[] = { 1, 10, 1000, 1000000000 };
	unsigned a = next(f);
	uint64_t d;

	if (forward) {
		d = (a & 63) * scale[a >> 6];
		f->now = f->now > UINT64_MAX - d ? UINT64_MAX : f->now + d;
	} else {
		/* Odd: up to 1016 ms, across TBUCKET_SKEW_MS; even: far back. */
		d = a & 1 ? (uint64_t)(a >> 1) * 8 : (uint64_t)(a >> 1) * 1000000000;
		f->now = f->now > d ? f->now - d : 0;
	}
}

/* The reference bucket: tokens left, refilled the same way. */
static enum tbucket_verdict
ref_take(struct fuzz *f)
{
	struct ref_bucket *r = &f->ref;
	int64_t cap = (int64_t)(f->burst > 0 ? f->burst : 1) * 1000;
	uint64_t dt;

	if (!r->started) {
		r->started = true;
		r->avail = cap;
		r->epoch_start = r->epoch_max = f->now;
	}
	if (f->now >= r->last) {
		dt = f->now - r->last;
		r->avail = dt > (uint64_t)cap || r->avail + (int64_t)dt * f->rate
		    > cap ? cap : r->avail + (int64_t)dt * f->rate;
		r->last = f->now;
	} else if (r->last - f->now > TBUCKET_SKEW_MS)
		r->last = f->now;
	/* The time the bucket can have been credited: forward moves only. */
	if (f->now > r->epoch_max)
		r->epoch_max = f->now;
	else if (r->epoch_max - f->now > TBUCKET_SKEW_MS) {
		r->credited += r->epoch_max - r->epoch_start;
		r->epoch_start = r->epoch_max = f->now;
	}
	if (r->avail >= 1000) {
		r->avail -= 1000;
		r->passes++;
		return TBUCKET_PASS;
	}
	r->overs++;
	if (f->leak > 0 && r->overs % f->leak == 0) {
		r->leaks++;
		return TBUCKET_LEAK;
	}
	return TBUCKET_DROP;
}

static void
op_take(struct fuzz *f)
{
	enum tbucket_verdict got, want;
	struct ref_bucket *r = &f->ref;
	uint64_t span, burst = f->burst > 0 ? f->burst : 1;

	got = tbucket_take(&f->bucket, f->rate, f->burst, f->leak, f->now);
	want = ref_take(f);
	if (got != want)
		fuzz_fail("tbucket_take %d at %llu, the reference %d", got,
		    (unsigned long long)f->now, want);
	if (tbucket_tokens(&f->bucket, f->rate, f->burst, f->now) !=
	    (uint64_t)r->avail / 1000)
		fuzz_fail("tbucket_tokens %u, the reference %lld",
		    tbucket_tokens(&f->bucket, f->rate, f->burst, f->now),
		    (long long)r->avail / 1000);
	span = r->credited + (r->epoch_max - r->epoch_start);
	if (span < (uint64_t)1 << 40 &&
	    r->passes * 1000 > burst * 1000 + f->rate * span)
		fuzz_fail("%llu passes: more than burst %llu + rate %u * %llu ms",
		    (unsigned long long)r->passes, (unsigned long long)burst,
		    f->rate, (unsigned long long)span);
	if (f->leak > 0 && r->leaks != r->overs / f->leak)
		fuzz_fail("%llu leaks for %llu over the limit, leak %u",
		    (unsigned long long)r->leaks, (unsigned long long)r->overs,
		    f->leak);
}

static bool
bit(const uint8_t *a, unsigned i)
{
	return a[i / 8] >> (7 - i % 8) & 1;
}

/* What a key must hold for an address a of family (4 or 6 bytes long). */
static void
check_masked(const struct src_key *k, const uint8_t *a, unsigned len,
    unsigned prefix)
{
	unsigned i;

	if (k->prefix != prefix)
		fuzz_fail("key prefix %u, asked for %u", k->prefix, prefix);
	for (i = 0; i < 128; i++)
		if (bit(k->addr, i) != (i < prefix && i < len * 8 && bit(a, i)))
			fuzz_fail("key bit %u of /%u is wrong", i, prefix);
}

struct key_input {
	struct sockaddr_in6 sin6;
	struct sockaddr_in sin;
	struct sockaddr	*sa;		/* one of the two */
	uint8_t		 a[16];
	uint16_t	 port;
	unsigned	 v4p, v6p;
	bool		 with_port, mapped;
};

/* k A*16 P P 4 6 F: address bytes, port, prefixes (some too long), flags. */
static void
key_input(struct fuzz *f, struct key_input *in)
{
	unsigned i, flags;

	memset(in, 0, sizeof(*in));
	for (i = 0; i < 16; i++)
		in->a[i] = (uint8_t)next(f);
	in->port = (uint16_t)(next(f) << 8 | next(f));
	in->v4p = next(f) % 40;
	in->v6p = next(f) % 140;
	flags = next(f);
	in->with_port = flags & 1;
	if (flags & 2)			/* often an IPv4-mapped address */
		memcpy(in->a, (uint8_t[]){ 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
		    0xff, 0xff }, 12);
	in->sin.sin_family = AF_INET;
	in->sin.sin_port = htons(in->port);
	memcpy(&in->sin.sin_addr, in->a, 4);
	in->sin6.sin6_family = AF_INET6;
	in->sin6.sin6_port = htons(in->port);
	memcpy(&in->sin6.sin6_addr, in->a, 16);
	in->sa = flags & 4 ? (struct sockaddr *)&in->sin6 :
	    (struct sockaddr *)&in->sin;
	in->mapped = flags & 4 && IN6_IS_ADDR_V4MAPPED(&in->sin6.sin6_addr);
}

/* A key from raw bytes: masked right, and the same from its own address. */
static void
op_key(struct fuzz *f)
{
	struct key_input in;
	struct src_key k, again;
	bool bad;

	key_input(f, &in);
	bad = in.v4p > 32 || in.v6p > 128;
	if (src_key_from_sockaddr(in.sa, (int)in.v4p, (int)in.v6p,
	    in.with_port, &k) != (bad ? -1 : 0))
		fuzz_fail("src_key_from_sockaddr: prefixes /%u /%u", in.v4p, in.v6p);
	if (bad)
		return;
	if (k.family != (in.sa->sa_family == AF_INET || in.mapped ? 4 : 6))
		fuzz_fail("key family %u", k.family);
	if (k.port != (in.with_port ? in.port : 0))
		fuzz_fail("key port %u", k.port);
	if (k.family == 4)
		check_masked(&k, in.mapped ? in.a + 12 : in.a, 4, in.v4p);
	else
		check_masked(&k, in.a, 16, in.v6p);
	if (in.mapped)
		memcpy(&in.sin6.sin6_addr.s6_addr[12], k.addr, 4);
	else if (k.family == 6)
		memcpy(&in.sin6.sin6_addr, k.addr, 16);
	else
		memcpy(&in.sin.sin_addr, k.addr, 4);
	if (src_key_from_sockaddr(in.sa, (int)in.v4p, (int)in.v6p,
	    in.with_port, &again) != 0 || memcmp(&k, &again, sizeof(k)) != 0)
		fuzz_fail("masking a masked address changed the key");
}

/* Iterate: every entry in use once, each found by its key; the top sorted. */
static void
op_iterate(struct fuzz *f)
{
	struct src_entry top[8];
	const struct src_entry *e;
	size_t cursor = 0, n = 0, k, want;

	while ((e = srctable_next(f->t, &cursor)) != NULL) {
		if (srctable_find(f->t, &e->key) != e)
			fuzz_fail("srctable_next: an entry that find does not give");
		n++;
	}
	if (n != srctable_count(f->t))
		fuzz_fail("srctable_next: %zu entries, count says %zu", n,
		    srctable_count(f->t));
	want = n < 8 ? n : 8;
	if ((k = srctable_top(f->t, top, 8)) != want)
		fuzz_fail("srctable_top: %zu of %zu", k, n);
	for (size_t i = 1; i < k; i++)
		if (srctable_busier(&top[i - 1], &top[i]) >= 0)
			fuzz_fail("srctable_top: out of order at %zu", i);
}

static void
run(struct fuzz *f, unsigned op)
{
	static const char ops[] = "gfpuelrktbiT";

	if (op == 0 || strchr(ops, (int)op) == NULL)
		op = (unsigned char)ops[op % (sizeof(ops) - 1)];
	switch (op) {
	case 'g': op_get(f, key_arg(f)); break;
	case 'f': op_find(f, key_arg(f)); break;
	case 'p': op_pin(f, key_arg(f), true); break;
	case 'u': op_pin(f, key_arg(f), false); break;
	case 'e': op_take_entry(f, bucket_key_arg(f)); break;
	case 'l': op_loop(f, loop_key_arg(f)); break;
	case 'r': op_resize(f); break;
	case 'k': op_key(f); break;
	case 't': op_time(f, true); break;
	case 'b': op_time(f, false); break;
	case 'i': op_iterate(f); break;
	default: op_take(f); break;
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *payloads[NPAYLOADS] = { "", "HELLO", "hello", "\n" };
	struct fuzz f;
	int i;

	memset(&f, 0, sizeof(f));
	f.p = data;
	f.end = data + size;
	header(&f);
	make_keys(&f);
	for (i = 0; i < NPAYLOADS; i++)
		f.payload[i] = loopguard_hash(payloads[i], strlen(payloads[i]));
	f.now = 1000;
	while (f.p < f.end)
		run(&f, next(&f));
	srctable_free(f.t);
	return 0;
}
