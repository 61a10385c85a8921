/* SPDX-License-Identifier: ISC */
/*
 * proxy.c: the PROXY protocol header, versions 1 and 2 (see proxy.h for
 * the format and the choices made).  Pure: inet_pton(3) is the only
 * library call beyond memory ones.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "proxy.h"

#define PP2_TYPE_CRC32C	0x03
#define PP2_TLV_HDR_LEN	3	/* type, 16-bit length */

/* ---------------------------------------------------------------- names */

static const char *const reasons[PROXY_RESULT_COUNT] = {
	[PROXY_OK]		= "ok",
	[PROXY_NEED_MORE]	= "need_more",
	[PROXY_ERR_SIGNATURE]	= "not_proxy",
	[PROXY_ERR_SYNTAX]	= "bad_v1",
	[PROXY_ERR_VERSION]	= "bad_version",
	[PROXY_ERR_COMMAND]	= "bad_command",
	[PROXY_ERR_FAMILY]	= "bad_family",
	[PROXY_ERR_ADDRESS]	= "bad_address",
	[PROXY_ERR_PORT]	= "bad_port",
	[PROXY_ERR_TOO_LONG]	= "too_long",
	[PROXY_ERR_TLV]		= "bad_tlv",
	[PROXY_ERR_CHECKSUM]	= "bad_checksum",
	[PROXY_ERR_TRUNCATED]	= "truncated",
	[PROXY_ERR_TIMEOUT]	= "timeout",
	[PROXY_ERR_UNTRUSTED]	= "untrusted",
};

const char *
proxy_reason(enum proxy_result r)
{
	if ((unsigned)r >= PROXY_RESULT_COUNT || reasons[r] == NULL)
		return "unknown";
	return reasons[r];
}

/* ---------------------------------------------------------------- CRC32C */

/* The reflected Castagnoli polynomial 0x82f63b78, four bits at a time. */
static const uint32_t crc32c_nibble[16] = {
	0x00000000, 0x105ec76f, 0x20bd8ede, 0x30e349b1,
	0x417b1dbc, 0x5125dad3, 0x61c69362, 0x7198540d,
	0x82f63b78, 0x92a8fc17, 0xa24bb5a6, 0xb21572c9,
	0xc38d26c4, 0xd3d3e1ab, 0xe330a81a, 0xf36e6f75,
};

/* Feed len bytes into a running (pre-inverted) CRC; buf NULL means zeros. */
static uint32_t
crc32c_update(uint32_t c, const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		c ^= buf != NULL ? buf[i] : 0;
		c = (c >> 4) ^ crc32c_nibble[c & 15];
		c = (c >> 4) ^ crc32c_nibble[c & 15];
	}
	return c;
}

uint32_t
proxy_crc32c(const uint8_t *buf, size_t len)
{
	return ~crc32c_update(0xffffffff, buf, len);
}

/* ---------------------------------------------------------------- version 1 */

/*
 * The line is scanned left to right, once, over at most its first
 * PROXY_V1_MAX_LEN bytes; every field is checked as its bytes come (can
 * this still begin a valid field?) and in full at its end.  Running out
 * of bytes is "need more" if the line may still end within the limit,
 * "too long" if the limit is what ran out.
 */
struct v1scan {
	const uint8_t *buf;
	size_t pos, end;	/* end: min(len, PROXY_V1_MAX_LEN) */
	bool capped;		/* end is the limit, not the data */
};

#define V1_SP_OR_CR	0	/* v1_field's term: either ends the field */

static enum proxy_result
v1_out_of_bytes(const struct v1scan *s)
{
	return s->capped ? PROXY_ERR_TOO_LONG : PROXY_NEED_MORE;
}

/* The CR at s->pos must be followed by LF; both are consumed. */
static enum proxy_result
v1_crlf(struct v1scan *s)
{
	s->pos++;
	if (s->pos == s->end)
		return v1_out_of_bytes(s);
	if (s->buf[s->pos] != '\n')
		return PROXY_ERR_SYNTAX;
	s->pos++;
	return PROXY_OK;
}

/*
 * Whether the n bytes at tok could be the start (final: all) of a field.
 * An IPv4 address: four numbers 0-255, no leading zero, single dots.
 */
static bool
v1_ip4(const uint8_t *tok, size_t n, bool final, uint8_t addr[4])
{
	unsigned v = 0, octets = 0, digits = 0;

	for (size_t i = 0; i < n; i++) {
		if (tok[i] == '.') {
			if (digits == 0 || octets == 3)
				return false;
			addr[octets++] = (uint8_t)v;
			v = digits = 0;
		} else if (tok[i] >= '0' && tok[i] <= '9') {
			if (digits == 1 && v == 0)
				return false;	/* leading zero */
			v = v * 10 + (unsigned)(tok[i] - '0');
			digits++;
			if (v > 255)
				return false;
		} else
			return false;
	}
	if (!final)
		return true;
	if (octets != 3 || digits == 0)
		return false;
	addr[3] = (uint8_t)v;
	return true;
}

/* Room for the longest IPv6 text inet_pton takes: 8 groups, or 6 and an IPv4 tail. */
#define V1_IP6_MAX	45

/* An IPv6 address: checked for its characters as it comes, by inet_pton at the end. */
static bool
v1_ip6(const uint8_t *tok, size_t n, bool final, struct in6_addr *addr)
{
	char text[V1_IP6_MAX + 1];

	if (n > V1_IP6_MAX)
		return false;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = tok[i];

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
		    (c >= 'A' && c <= 'F') || c == ':' || c == '.'))
			return false;
	}
	if (!final)
		return true;
	memcpy(text, tok, n);
	text[n] = '\0';
	return inet_pton(AF_INET6, text, addr) == 1;
}

/* A port: decimal 0-65535, no sign, no leading zero. */
static bool
v1_port(const uint8_t *tok, size_t n, bool final, uint16_t *port)
{
	unsigned v = 0;

	for (size_t i = 0; i < n; i++) {
		if (tok[i] < '0' || tok[i] > '9' || (i == 1 && tok[0] == '0'))
			return false;
		v = v * 10 + (unsigned)(tok[i] - '0');
		if (v > 65535)
			return false;
	}
	if (final && n > 0)
		*port = (uint16_t)v;
	return !final || n > 0;
}

/* The family keyword: "TCP4", "TCP6" or "UNKNOWN". */
static const char *const v1_families[] = { "TCP4", "TCP6", "UNKNOWN" };

static int
v1_family(const uint8_t *tok, size_t n, bool final)
{
	for (int i = 0; i < 3; i++) {
		size_t kl = strlen(v1_families[i]);

		if ((final ? n == kl : n <= kl) && memcmp(tok, v1_families[i], n) == 0)
			return i;
	}
	return -1;
}

enum v1_kind { V1_FAMILY, V1_IP4, V1_IP6, V1_PORT };

union v1_value {
	int family;
	uint8_t ip4[4];
	struct in6_addr ip6;
	uint16_t port;
};

static bool
v1_check(enum v1_kind kind, const uint8_t *tok, size_t n, bool final, union v1_value *v)
{
	switch (kind) {
	case V1_FAMILY:
		return (v->family = v1_family(tok, n, final)) != -1;
	case V1_IP4:
		return v1_ip4(tok, n, final, v->ip4);
	case V1_IP6:
		return v1_ip6(tok, n, final, &v->ip6);
	case V1_PORT:
		return v1_port(tok, n, final, &v->port);
	}
	return false;
}

/*
 * One field, up to its terminator: ' ', or '\r' (then '\n'), or either
 * (V1_SP_OR_CR: a space is consumed, a CR left for the caller).  A byte
 * that no valid field could have there is `bad`, as is a field that is
 * not valid when it ends; an empty field, a wrong terminator or a lone LF
 * is a syntax error.
 */
static enum proxy_result
v1_field(struct v1scan *s, enum v1_kind kind, uint8_t term, enum proxy_result bad,
    union v1_value *v)
{
	size_t start = s->pos;
	uint8_t c;

	for (;;) {
		if (s->pos == s->end)
			return v1_out_of_bytes(s);
		c = s->buf[s->pos];
		if (c == ' ' || c == '\r' || c == '\n')
			break;
		if (!v1_check(kind, s->buf + start, s->pos - start + 1, false, v))
			return bad;
		s->pos++;
	}
	if (s->pos == start || c == '\n' || (term != V1_SP_OR_CR && c != term))
		return PROXY_ERR_SYNTAX;
	if (!v1_check(kind, s->buf + start, s->pos - start, true, v))
		return bad;
	if (c == '\r')
		return term == V1_SP_OR_CR ? PROXY_OK : v1_crlf(s);
	s->pos++;
	return PROXY_OK;
}

static void
v1_fill(struct proxy_hdr *h, int family, const union v1_value *src,
    const union v1_value *dst, uint16_t sport, uint16_t dport)
{
	if (family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&h->src;
		struct sockaddr_in *d4 = (struct sockaddr_in *)&h->dst;

		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, src->ip4, 4);
		memcpy(&d4->sin_addr, dst->ip4, 4);
		s4->sin_port = htons(sport);
		d4->sin_port = htons(dport);
		h->src_len = h->dst_len = sizeof(struct sockaddr_in);
	} else {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h->src;
		struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&h->dst;

		s6->sin6_family = d6->sin6_family = AF_INET6;
		s6->sin6_addr = src->ip6;
		d6->sin6_addr = dst->ip6;
		s6->sin6_port = htons(sport);
		d6->sin6_port = htons(dport);
		h->src_len = h->dst_len = sizeof(struct sockaddr_in6);
	}
}

static enum proxy_result
v1_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out, size_t *consumed)
{
	struct v1scan s = {
		.buf = buf,
		.end = len < PROXY_V1_MAX_LEN ? len : PROXY_V1_MAX_LEN,
		.capped = len >= PROXY_V1_MAX_LEN,
	};
	union v1_value fam, src, dst, sport, dport;
	enum v1_kind addr;
	enum proxy_result r;
	struct proxy_hdr h;

	for (; s.pos < 5; s.pos++) {
		if (s.pos == s.end)
			return PROXY_NEED_MORE;
		if (buf[s.pos] != (uint8_t)"PROXY"[s.pos])
			return PROXY_ERR_SIGNATURE;
	}
	if (s.pos == s.end)
		return PROXY_NEED_MORE;
	if (buf[s.pos++] != ' ')
		return PROXY_ERR_SYNTAX;
	if ((r = v1_field(&s, V1_FAMILY, V1_SP_OR_CR, PROXY_ERR_FAMILY, &fam)) != PROXY_OK)
		return r;

	memset(&h, 0, sizeof(h));
	h.version = 1;
	h.command = PROXY_CMD_PROXY;
	if (fam.family == 2) {
		/* UNKNOWN: the rest of the line, after a space, is ignored */
		for (;;) {
			if (s.pos == s.end)
				return v1_out_of_bytes(&s);
			if (buf[s.pos] == '\n')
				return PROXY_ERR_SYNTAX;
			if (buf[s.pos] == '\r')
				break;
			s.pos++;
		}
		if ((r = v1_crlf(&s)) != PROXY_OK)
			return r;
		h.family = AF_UNSPEC;
	} else {
		/* "PROXY TCP4\r": the address field is empty, a syntax error */
		addr = fam.family == 0 ? V1_IP4 : V1_IP6;
		if ((r = v1_field(&s, addr, ' ', PROXY_ERR_ADDRESS, &src)) != PROXY_OK ||
		    (r = v1_field(&s, addr, ' ', PROXY_ERR_ADDRESS, &dst)) != PROXY_OK ||
		    (r = v1_field(&s, V1_PORT, ' ', PROXY_ERR_PORT, &sport)) != PROXY_OK ||
		    (r = v1_field(&s, V1_PORT, '\r', PROXY_ERR_PORT, &dport)) != PROXY_OK)
			return r;
		h.family = fam.family == 0 ? AF_INET : AF_INET6;
		h.transport = SOCK_STREAM;
		h.use_addrs = true;
		v1_fill(&h, h.family, &src, &dst, sport.port, dport.port);
	}
	*out = h;
	*consumed = s.pos;
	return PROXY_OK;
}

/* ---------------------------------------------------------------- version 2 */

/* The address block's length for a family byte; -1 for one the specification does not list. */
static int
v2_addr_len(uint8_t fam)
{
	switch (fam) {
	case 0x00:
		return 0;
	case 0x11: case 0x12:
		return 2 * 4 + 2 * 2;
	case 0x21: case 0x22:
		return 2 * 16 + 2 * 2;
	case 0x31: case 0x32:
		return 2 * 108;
	default:
		return -1;
	}
}

static enum proxy_result
v2_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out, size_t *consumed)
{
	static const int families[] = { AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX };
	static const int transports[] = { 0, SOCK_STREAM, SOCK_DGRAM };
	size_t total, off, crc_at = 0;
	struct proxy_hdr h;
	int addr_len;
	uint8_t cmd, fam;

	if (memcmp(buf, PROXY_V2_SIG, len < PROXY_V2_SIG_LEN ? len : PROXY_V2_SIG_LEN) != 0)
		return PROXY_ERR_SIGNATURE;
	if (len <= PROXY_V2_SIG_LEN)
		return PROXY_NEED_MORE;
	if ((buf[12] >> 4) != 2)
		return PROXY_ERR_VERSION;
	if ((cmd = buf[12] & 0x0f) > 1)
		return PROXY_ERR_COMMAND;
	if (len < 14)
		return PROXY_NEED_MORE;
	if ((addr_len = v2_addr_len(fam = buf[13])) < 0)
		return PROXY_ERR_FAMILY;
	if (len < PROXY_V2_HDR_LEN)
		return PROXY_NEED_MORE;
	total = PROXY_V2_HDR_LEN + ((size_t)buf[14] << 8 | buf[15]);
	if (total > PROXY_MAX_LEN)
		return PROXY_ERR_TOO_LONG;
	if (total < PROXY_V2_HDR_LEN + (size_t)addr_len)
		return PROXY_ERR_ADDRESS;
	if (len < total)
		return PROXY_NEED_MORE;

	/* The TLVs: each whole within the header; a CRC32C one exactly 4 bytes, once. */
	for (off = PROXY_V2_HDR_LEN + (size_t)addr_len; off < total; ) {
		size_t vlen;

		if (total - off < PP2_TLV_HDR_LEN)
			return PROXY_ERR_TLV;
		vlen = (size_t)buf[off + 1] << 8 | buf[off + 2];
		if (vlen > total - off - PP2_TLV_HDR_LEN)
			return PROXY_ERR_TLV;
		if (buf[off] == PP2_TYPE_CRC32C) {
			if (vlen != 4 || crc_at != 0)
				return PROXY_ERR_TLV;
			crc_at = off + PP2_TLV_HDR_LEN;
		}
		off += PP2_TLV_HDR_LEN + vlen;
	}
	if (crc_at != 0) {
		/* Over the whole header, the sum's own 4 bytes taken as zeros. */
		uint32_t c = crc32c_update(0xffffffff, buf, crc_at);
		uint32_t want = (uint32_t)buf[crc_at] << 24 | (uint32_t)buf[crc_at + 1] << 16 |
		    (uint32_t)buf[crc_at + 2] << 8 | buf[crc_at + 3];

		c = crc32c_update(c, NULL, 4);
		c = crc32c_update(c, buf + crc_at + 4, total - crc_at - 4);
		if (~c != want)
			return PROXY_ERR_CHECKSUM;
	}

	memset(&h, 0, sizeof(h));
	h.version = 2;
	h.command = cmd == 1 ? PROXY_CMD_PROXY : PROXY_CMD_LOCAL;
	h.family = families[fam >> 4];
	h.transport = transports[fam & 0x0f];
	h.use_addrs = h.command == PROXY_CMD_PROXY && h.transport == SOCK_STREAM &&
	    (h.family == AF_INET || h.family == AF_INET6);
	if (h.use_addrs && h.family == AF_INET) {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&h.src;
		struct sockaddr_in *d4 = (struct sockaddr_in *)&h.dst;
		const uint8_t *a = buf + PROXY_V2_HDR_LEN;

		s4->sin_family = d4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, a, 4);
		memcpy(&d4->sin_addr, a + 4, 4);
		memcpy(&s4->sin_port, a + 8, 2);	/* network order, as on the wire */
		memcpy(&d4->sin_port, a + 10, 2);
		h.src_len = h.dst_len = sizeof(struct sockaddr_in);
	} else if (h.use_addrs) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&h.src;
		struct sockaddr_in6 *d6 = (struct sockaddr_in6 *)&h.dst;
		const uint8_t *a = buf + PROXY_V2_HDR_LEN;

		s6->sin6_family = d6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, a, 16);
		memcpy(&d6->sin6_addr, a + 16, 16);
		memcpy(&s6->sin6_port, a + 32, 2);
		memcpy(&d6->sin6_port, a + 34, 2);
		h.src_len = h.dst_len = sizeof(struct sockaddr_in6);
	}
	*out = h;
	*consumed = total;
	return PROXY_OK;
}

/* ---------------------------------------------------------------- either */

enum proxy_result
proxy_parse(const uint8_t *buf, size_t len, struct proxy_hdr *out, size_t *consumed)
{
	if (len == 0)
		return PROXY_NEED_MORE;
	if (buf[0] == 'P')
		return v1_parse(buf, len, out, consumed);
	if (buf[0] == '\r')
		return v2_parse(buf, len, out, consumed);
	return PROXY_ERR_SIGNATURE;
}
