/*
 * loopguard.h: breaking UDP reply loops (pure: the caller passes the
 * time).  Owns the payload hash and the loop state of a struct src_entry
 * (reply_ms, reply_hash, echoes, replied), in a table keyed by address
 * and port (src_key_from_sockaddr(sa, 32, 128, true, &k)).
 *
 * The loop: a forged datagram "from" another upcased, or an echo or
 * chargen port, makes us reply there; that service answers back, and since
 * upper-casing upper-case text gives it unchanged, the two answer each
 * other for ever, at the speed of the path between them.  Its signature:
 * the payload from a source is the reply we last sent to that same address
 * and port, back within a round trip.
 *
 * A real client can look the same: one that sends "HELLO", gets "HELLO",
 * and sends "HELLO" again (a line-mode client piping a file with repeated
 * upper-case or blank lines; a retry after a lost reply; a probe).  No
 * content or timing rule tells the two apart at the server; what differs
 * is that a loop never stops.  Hence two conditions, both needed to drop:
 *
 *  - the window, LOOPGUARD_WINDOW_MS = 250 ms from our reply: longer than
 *    the round trip of the loops worth breaking (on a LAN or inside a
 *    data centre, a loop runs at thousands of datagrams a second; across
 *    most of the Internet under 250 ms), shorter than the gaps of clients
 *    that repeat on a timer: the upcase client resends after 0.5 s at the
 *    earliest, most UDP protocols after 1 s, probes come every second or
 *    more, and those are never dropped.  A loop with a longer round trip
 *    is not seen: it runs at under 4 datagrams a second, and every loop
 *    with one peer shares that peer's reply-rate bucket;
 *  - repeats, LOOPGUARD_REPEATS = 4 echoes in a row: the datagram that
 *    started it and the first three echoes are answered, the fourth echo
 *    is dropped, which ends the loop (nothing comes back to an unanswered
 *    datagram): a storm is over after 4 replies and 4 echoes.  A client
 *    is dropped only when it sends the same upper-case payload 5 times in
 *    a row, each within 250 ms of our reply to the one before; its retry
 *    after its timeout is outside the window and is answered (and starts
 *    the count again).  A larger count spares such clients a little more
 *    and makes every storm longer; 1 would drop a client's second
 *    identical line, which is common (two blank lines).
 *
 * Any other payload from the source, or the same after the window, resets
 * the count.  While the count is reached, every echo is dropped until the
 * window since our last reply has passed (a drop sends no reply, so the
 * window is not renewed): several identical loops with one peer all end.
 * One reply is remembered per source, so loops with different payloads
 * interleaved on one address and port are not seen: the reply-rate bucket
 * of the peer bounds those, each over-limit drop ending one loop.
 * Refusing service ports (source port below 1024, or the daemon's own) is
 * a cheaper, complementary rule for the caller.
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
#define LOOPGUARD_REPEATS	4

/*
 * A 64-bit hash of the whole payload (a wyhash-style multiply-mix, tens
 * of GB/s: under the cost of upper-casing the same bytes).  Whole, not a
 * prefix and the length: messages of one length that share a header
 * would otherwise all look like one.  Not keyed: a collision only makes a
 * source's own datagrams look like echoes of our reply to it, which needs
 * that source's address (and then its rate bucket is easier to exhaust),
 * and 4 collisions in a row.  Only the top 32 bits are kept per entry.
 */
uint64_t loopguard_hash(const void *data, size_t len);

/* We sent a reply with this hash to e's source at now_ms. */
void loopguard_sent(struct src_entry *e, uint64_t reply_hash, uint64_t now_ms);

/*
 * A datagram with this payload hash came from e's source at now_ms: true
 * to drop it as a loop, when it is our last reply there, back within
 * window_ms of it, for the repeats-th time in a row or more (0 counts as
 * 1).  Counts the echo in e, so call it once per datagram.
 */
bool loopguard_is_echo(struct src_entry *e, uint64_t payload_hash,
    uint64_t now_ms, uint32_t window_ms, uint32_t repeats);

#endif
