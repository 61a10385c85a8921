/* SPDX-License-Identifier: ISC */
/*
 * proxy.h: the PROXY protocol header (HAProxy's doc/proxy-protocol.txt,
 * versions 1 and 2) that a load balancer puts before the client's bytes
 * to say whom a TCP connection is really from.  Pure: no sockets, no
 * state between calls.  The caller gathers the first bytes of the
 * connection in a buffer and hands all of them over after every read;
 * proxy_parse() says "need more", "here is the header, it was this long"
 * or why the connection must be closed.  Bytes after the header (the same
 * segment may carry the client's first request) are the client's stream.
 *
 * Version 1, one line of text, at most PROXY_V1_MAX_LEN (107) bytes with
 * its CRLF:
 *	"PROXY TCP4 192.0.2.1 198.51.100.2 56324 443\r\n"
 *	"PROXY TCP6 2001:db8::1 2001:db8::2 56324 443\r\n"
 *	"PROXY UNKNOWN\r\n", "PROXY UNKNOWN <anything but CR, LF>\r\n"
 * Exactly one space between fields, no space before the CRLF; a lone CR
 * or LF is an error.  IPv4: four decimal numbers 0-255 with single dots,
 * no leading zero ("010" could be octal).  IPv6: what inet_pton(3) takes
 * (hex groups, one "::", an IPv4 tail as in ::ffff:192.0.2.1, which
 * haproxy sends for an IPv4 client behind an IPv6 peer) and nothing else:
 * no scope, no brackets.  The address must match the keyword: "TCP4 ::1"
 * and "TCP6 192.0.2.1" are errors.  Ports: decimal 0-65535, no sign, no
 * leading zero.  The keyword is upper-case, as the specification spells
 * it.  After UNKNOWN the rest of the line is ignored, as the specification
 * says it must be, and the connection's own addresses are used.
 *
 * Version 2, binary: a 12-byte signature (PROXY_V2_SIG), a byte of
 * version (2, high nibble) and command (LOCAL 0, PROXY 1), a byte of
 * family (UNSPEC 0, INET 1, INET6 2, UNIX 3; high nibble) and transport
 * (UNSPEC 0, STREAM 1, DGRAM 2), a 16-bit big-endian length of what
 * follows: the address block (UNSPEC 0 bytes, INET 12, INET6 36, UNIX
 * 216: addresses then ports), then TLVs (type, 16-bit length, value) up
 * to the end.  Rules:
 *  - the family byte must be one of the seven combinations the
 *    specification lists (0x00, 0x11, 0x12, 0x21, 0x22, 0x31, 0x32);
 *    another (0x10, 0x01, 0x41, ...) has no defined address layout and is
 *    PROXY_ERR_FAMILY.  This holds for LOCAL too: every sender known
 *    (haproxy, nginx, envoy, AWS) sends LOCAL as 0x00, and one rule for
 *    both commands keeps the TLVs locatable and their checksum checkable;
 *  - the length must hold the family's address block (shorter:
 *    PROXY_ERR_ADDRESS); more is allowed and must be whole TLVs: a TLV
 *    whose header or value runs past the end is PROXY_ERR_TLV.  TLVs of
 *    length 0 are fine.  The TLVs are skipped, not kept (none is of use
 *    to upcased; PP2_TYPE_SSL's sub-TLVs are not looked into), except
 *    PP2_TYPE_CRC32C, which is checked as the specification says a
 *    receiver that supports it must (value exactly 4 bytes, one such TLV
 *    at most: else PROXY_ERR_TLV; a wrong sum: PROXY_ERR_CHECKSUM);
 *  - the header may not exceed PROXY_MAX_LEN bytes (PROXY_ERR_TOO_LONG,
 *    known as soon as the first 16 bytes give the length).
 *
 * Which addresses a listener uses (hdr.use_addrs): those of the header
 * only for PROXY + TCP, that is v1 TCP4/TCP6 and v2 PROXY with INET or
 * INET6 over STREAM.  LOCAL (a health check by the proxy itself), v1
 * UNKNOWN and v2 UNSPEC keep the connection's own addresses, as the
 * specification says.  v2 UNIX and DGRAM are accepted and treated as
 * UNSPEC, which the specification allows for combinations a receiver does
 * not support: a UNIX path is no address that access rules, per-source
 * limits or logs can use, and a UDP source address was never proven by a
 * handshake (whoever sent the proxy that datagram could have forged it),
 * while the listener's rules and limits are about TCP clients.
 *
 * Incremental parsing: proxy_parse() reads the buffer from the start each
 * time (at most PROXY_MAX_LEN bytes, so this costs little) and keeps no
 * state.  It rejects as soon as the bytes it has cannot begin any valid
 * header (a byte no header could have there, a v1 field already out of
 * range, a v2 fixed part that is wrong), so that the sender of garbage is
 * dropped at once, and waits otherwise.  What it says of a buffer it
 * says of every longer buffer that begins with it: an error stays an
 * error (the same one), a header found stays found (the same, of the same
 * length).  It never waits when len >= PROXY_MAX_LEN: a caller with a
 * buffer of PROXY_MAX_LEN bytes never has to close for lack of room.
 *
 * Integration sketch (a listener with proxy_protocol on): close at once
 * a peer not among the trusted proxies (PROXY_ERR_UNTRUSTED); otherwise
 * read into a per-connection buffer of PROXY_MAX_LEN bytes (or recv with
 * MSG_PEEK into the worker's buffer, then recv exactly `consumed` bytes),
 * call proxy_parse() after each read; on PROXY_NEED_MORE wait, with a
 * short timeout of a few seconds (the specification asks for at least 3,
 * to cover a retransmit; PROXY_ERR_TIMEOUT); end of input before a header
 * is PROXY_ERR_TRUNCATED; any other error closes the connection, counted
 * under proxy_reason(); PROXY_OK: use hdr.src as the client when
 * hdr.use_addrs, and serve buf[consumed..len) as the first client bytes.
 */
#ifndef UPCASE_PROXY_H
#define UPCASE_PROXY_H

#include <sys/socket.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest version 1 line, CRLF included (UNKNOWN with two full IPv6 addresses). */
#define PROXY_V1_MAX_LEN	107
/* The fixed part of a version 2 header: signature, version/command, family, length. */
#define PROXY_V2_HDR_LEN	16
#define PROXY_V2_SIG		"\r\n\r\n\0\r\nQUIT\n"
#define PROXY_V2_SIG_LEN	12
/*
 * The longest header accepted, and so the most a caller must buffer.  The
 * v2 length field allows 16 + 65535 bytes; the specification wants a
 * header to fit in 536 bytes, but TLVs (an SSL client certificate, a
 * unique ID, a cloud endpoint ID) may make a legitimate one larger.  4096
 * (one page) holds those with room to spare and bounds what an
 * unfinished header costs per connection.  Larger: PROXY_ERR_TOO_LONG.
 */
#define PROXY_MAX_LEN		4096

enum proxy_result {
	PROXY_OK,		/* a header: *out and *consumed are set */
	PROXY_NEED_MORE,	/* a valid beginning; only when len < PROXY_MAX_LEN */
	PROXY_ERR_SIGNATURE,	/* not a PROXY header at all (neither "PROXY" nor the v2 signature) */
	PROXY_ERR_SYNTAX,	/* v1 line malformed: spaces, missing fields, a lone CR or LF */
	PROXY_ERR_VERSION,	/* v2 signature, version not 2 */
	PROXY_ERR_COMMAND,	/* v2 command neither LOCAL nor PROXY */
	PROXY_ERR_FAMILY,	/* v1 neither TCP4, TCP6 nor UNKNOWN; v2 family byte unknown */
	PROXY_ERR_ADDRESS,	/* v1 address malformed or of the wrong family; v2 block too short */
	PROXY_ERR_PORT,		/* v1 port not decimal 0-65535 */
	PROXY_ERR_TOO_LONG,	/* v1 no CRLF in 107 bytes; v2 over PROXY_MAX_LEN */
	PROXY_ERR_TLV,		/* v2 TLV running past the header, or a bad CRC32C TLV */
	PROXY_ERR_CHECKSUM,	/* v2 CRC32C TLV does not match the header */
	/*
	 * Never returned by proxy_parse(): the caller's own reasons, here so
	 * that one enum (and proxy_reason()) names every way a connection on
	 * a PROXY listener can fail before its header.
	 */
	PROXY_ERR_TRUNCATED,	/* input ended before a whole header */
	PROXY_ERR_TIMEOUT,	/* no whole header in time */
	PROXY_ERR_UNTRUSTED,	/* the peer is not a trusted proxy */
	PROXY_RESULT_COUNT
};

enum proxy_command {
	PROXY_CMD_LOCAL,	/* v2 LOCAL: the proxy's own connection (a health check) */
	PROXY_CMD_PROXY,	/* relayed for a client: v2 PROXY, and every v1 line */
};

struct proxy_hdr {
	uint8_t version;		/* 1 or 2 */
	enum proxy_command command;
	int family;			/* as announced: AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC (v1 UNKNOWN) */
	int transport;			/* as announced: SOCK_STREAM, SOCK_DGRAM, or 0 (unspecified) */
	/*
	 * Whether src and dst are the client's and what it connected to, to
	 * be used instead of the connection's own (see above): only PROXY
	 * over TCP.  When false, src and dst are all zero (AF_UNSPEC).
	 */
	bool use_addrs;
	struct sockaddr_storage src, dst;	/* sockaddr_in or sockaddr_in6 */
	socklen_t src_len, dst_len;		/* 0 when !use_addrs */
};

/*
 * Parse the PROXY header at the start of the len bytes of buf (buf may be
 * NULL when len is 0; no byte past buf[len - 1] is read, nor any past the
 * header).  PROXY_OK: *out describes the header and *consumed is its
 * length; the bytes after it belong to the client.  out and consumed are
 * written only then.  PROXY_NEED_MORE: call again with more bytes (len is
 * below PROXY_MAX_LEN).  Anything else: the reason to close.
 */
enum proxy_result proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out,
    size_t *consumed);

/*
 * A short name for r, fit for a stats label or a log line: "ok",
 * "need_more", "not_proxy", "bad_v1", "bad_version", "bad_command",
 * "bad_family", "bad_address", "bad_port", "too_long", "bad_tlv",
 * "bad_checksum", "truncated", "timeout", "untrusted"; "unknown" for a
 * value outside the enum.  Never NULL.
 */
const char *proxy_reason(enum proxy_result r);

/* CRC32C (Castagnoli, as iSCSI and SCTP: RFC 4960 appendix B) of len bytes. */
uint32_t proxy_crc32c(const uint8_t *buf, size_t len);

#endif
