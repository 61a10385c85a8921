/* SPDX-License-Identifier: ISC */
/*
 * loopguard.h: breaking UDP reply loops (pure: the caller passes the
 * time).  Owns the payload hash and the loop state of a struct src_entry
 * (loop.hash, loop.count, reply_ms), in a table keyed by address and
 * port (src_key_from_sockaddr(sa, 32, 128, true, &k)).
 *
 * The loop: a forged datagram "from" another upcased, or an echo or
 * chargen port, makes us reply there; that service answers back, and since
 * upper-casing upper-case text gives it unchanged, the two answer each
 * other for ever, at the speed of the path between them.  Its signature:
 * the payload from a source is a reply we recently sent to that same
 * address and port, back within a round trip.  A forger can start several
 * loops with one peer, each with its own payload: they interleave, so
 * the reply a payload echoes is seldom the last one we sent there.
 *
 * A real client can look the same: one that sends "HELLO", gets "HELLO",
 * and sends "HELLO" again (a line-mode client piping a file with repeated
 * upper-case or blank lines; a retry after a lost reply; a probe).  No
 * content or timing rule tells the two apart at the server; what differs
 * is that a loop never stops.  Hence two conditions, both needed to drop:
 *
 *  - the window, LOOPGUARD_WINDOW_MS = 250 ms from our last reply to the
 *    address and port: longer than the round trip of the loops worth
 *    breaking (on a LAN or inside a data centre, a loop runs at thousands
 *    of datagrams a second; across most of the Internet under 250 ms),
 *    shorter than the gaps of clients that repeat on a timer: the upcase
 *    client resends after 0.5 s at the earliest, most UDP protocols after
 *    1 s, probes come every second or more, and those are never dropped.
 *    A loop with a longer round trip is not seen: it runs at under 4
 *    datagrams a second, and every loop with one peer shares that peer's
 *    reply-rate bucket.  A datagram that comes later than the window
 *    finds every loop with that address and port over (none answered
 *    within it): every count there starts again from 0;
 *  - repeats, LOOPGUARD_REPEATS = 8 echoes of one reply: the datagram
 *    that started a loop and its first 7 echoes are answered, the 8th
 *    echo is dropped, which ends the loop (nothing comes back to an
 *    unanswered datagram): a storm with another upcased is over after
 *    about 8 exchanges each way per loop (17 datagrams in), with an echo
 *    service after 8 replies.  A client is dropped only when it sends the
 *    same upper-case payload 9 times, each within 250 ms of our last
 *    reply to it, and no reply of another payload took its slot in
 *    between; its retry after its timeout is outside the window and is
 *    answered (and starts the count again).  A larger count spares
 *    such clients more (a file with runs of blank lines, sent faster
 *    than the replies come back) and makes every storm longer; 1 would
 *    drop a client's second identical line.
 *
 * The slots: per address and port, up to LOOPGUARD_SLOTS = 4 recent
 * replies, each slot keeping the top 32 bits of a reply's hash h (a top
 * half of 0 is kept as 1: 0 marks an empty slot) and a count of its echoes
 * (8 bits).  A reply may sit in one of two slots, h % 4 and h / 4 % 4 (the
 * next one when those are the same).  The same reply again keeps its slot
 * and count; a new one takes an empty one of its two slots, else one whose
 * loop was ended, else the one with the fewer echoes, with count 0: a loop
 * being counted keeps its slot.  A payload is an echo when one of its two
 * slots holds it and it comes within the window: that slot's count goes
 * up, and the payload is dropped once the count reaches repeats; the slot
 * is then marked ended (its echoes stay dropped, and its place may go to a
 * new reply).  A payload no slot holds changes no count: loops in
 * different slots are counted apart.  Once a loop is ended, each of its
 * echoes is dropped until the window since the last reply to that address
 * and port has passed, or a new reply takes its slot (a drop sends no
 * reply, so does not renew the window): several identical loops all end.
 *
 * Why the loops with one peer end: up to 4 loops each find a slot of their
 * own (two choices for each), are counted on every round and end after 8
 * echoes, 17 datagrams each between two upcaseds.  With more loops than
 * slots, the ones with the most echoes keep their slots and end; each end
 * frees a slot for one of the others, which is then counted and ends in
 * turn: 5 loops between two upcaseds ended after 117 datagrams.  A forger
 * who keeps injecting new loops faster than they end keeps a storm going;
 * with a peer that is not exempt from the reply-rate limit that storm is
 * bounded by the peer's reply budget (udp.rate_limit, udp.burst, and one
 * over-limit datagram in udp.leak); with an exempt one (loopback by
 * default, which a remote sender cannot forge: the kernel drops such
 * sources from outside), by how fast the forger injects.  Refusing service
 * ports (source port below 1024, or the daemon's own) is a cheaper,
 * complementary rule for the caller.
 *
 * Use, per datagram:
 *	h = loopguard_hash(payload, len);
 *	if (loopguard_is_echo(e, h, now, LOOPGUARD_WINDOW_MS,
 *	    LOOPGUARD_REPEATS))
 *		drop;
 *	... reply ...; loopguard_sent(e, loopguard_hash(reply, rlen), now);
 * (when the reply equals the payload, its hash is h).
 */
#ifndef UPCASE_LOOPGUARD_H
#define UPCASE_LOOPGUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "srctable.h"

#define LOOPGUARD_WINDOW_MS	250
#define LOOPGUARD_REPEATS	8
#define LOOPGUARD_SLOTS		SRCTABLE_LOOP_SLOTS	/* replies kept */

/*
 * A 64-bit hash of the whole payload (a wyhash-style multiply-mix, tens
 * of GB/s: under the cost of upper-casing the same bytes).  Whole, not a
 * prefix and the length: messages of one length that share a header
 * would otherwise all look like one.  Not keyed: a collision only makes a
 * source's own datagrams look like echoes of our reply to it, which needs
 * that source's address (and then its rate bucket is easier to exhaust),
 * and 8 collisions; and it lets a forger pick payloads that share a slot,
 * which 5 payloads do anyway (see above).  The low bits pick a slot and
 * the top 32 bits are kept in it.
 */
uint64_t loopguard_hash(const void *data, size_t len);

/* We sent a reply with this hash to e's source at now_ms. */
void loopguard_sent(struct src_entry *e, uint64_t reply_hash, uint64_t now_ms);

/*
 * A datagram with this payload hash came from e's source at now_ms: true
 * to drop it as a loop, when it is the reply its slot holds, within
 * window_ms of our last reply there, and that slot has now counted
 * repeats echoes or more (0 counts as 1, over 255 as 255).  Counts the
 * echo in e, so call it once per datagram.
 */
bool loopguard_is_echo(struct src_entry *e, uint64_t payload_hash,
    uint64_t now_ms, uint32_t window_ms, uint32_t repeats);

#endif
