/* SPDX-License-Identifier: ISC */
/*
 * fuzz_proxy.c: fuzz target for src/proxy.c.
 *
 * The input is the first bytes of a connection on a PROXY listener.
 * Checked on every input:
 *  - proxy_parse returns one of its own results (never a caller-only
 *    reason such as "timeout"), writes *out and *consumed only on
 *    PROXY_OK, and needs more only when the input is shorter than
 *    PROXY_MAX_LEN (PROXY_V1_MAX_LEN for a v1 line);
 *  - a header found is 1 to PROXY_MAX_LEN bytes, within the input; a v1
 *    one ends in CRLF within 107 bytes, a v2 one is 16 + its length field;
 *    the header alone (a buffer of exactly its size, so that a read past
 *    it shows) parses the same, and one byte less needs more;
 *  - what it says of the input it said of a shorter prefix of it, as
 *    proxy.h promises: an error stays the same error, a header the same
 *    header; if the input needs more, so does the prefix;
 *  - the result is sane: version 1 for "P", 2 for "\r"; family and
 *    transport among those defined; the addresses, used only for PROXY
 *    over TCP, of the family announced, their lengths right, and zero
 *    when not used;
 *  - a v1 TCP4 header is exactly "PROXY TCP4 a.b.c.d a.b.c.d p p\r\n"
 *    written back from what was parsed (the format allows one spelling);
 *    a v1 TCP6 header written back with inet_ntop parses to the same;
 *    a v2 header's addresses are the bytes after the 16;
 *  - a v2 header refused for its checksum alone is accepted once its
 *    CRC32C (found by a TLV walk done here) is set right.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxy.h"

/* proxy_parse on an exact-size copy, with the untouched-unless-OK check. */
static enum proxy_result
parse(const uint8_t *data, size_t len, struct proxy_hdr *out, size_t *consumed)
{
	uint8_t *copy = xmalloc(len);
	struct proxy_hdr pattern, h;
	size_t c = (size_t)-3;
	enum proxy_result r;

	if (len > 0)
		memcpy(copy, data, len);
	memset(&pattern, 0x5a, sizeof(pattern));
	h = pattern;
	r = proxy_parse(len > 0 ? copy : NULL, len, &h, &c);
	free(copy);
	if (r >= PROXY_ERR_TRUNCATED)
		fuzz_fail("proxy_parse returned %d (%s), not one of its results", r,
		    proxy_reason(r));
	if (strcmp(proxy_reason(r), "unknown") == 0)
		fuzz_fail("result %d has no name", r);
	if (r != PROXY_OK && (memcmp(&h, &pattern, sizeof(h)) != 0 || c != (size_t)-3))
		fuzz_fail("%s: out or consumed written", proxy_reason(r));
	if (r == PROXY_NEED_MORE && len >= PROXY_MAX_LEN)
		fuzz_fail("need_more with %zu bytes", len);
	if (r == PROXY_NEED_MORE && len > 0 && data[0] == 'P' && len >= PROXY_V1_MAX_LEN)
		fuzz_fail("need_more for a v1 line of %zu bytes", len);
	*out = h;
	*consumed = c;
	return r;
}

static void
check_sane(const uint8_t *data, size_t size, const struct proxy_hdr *h, size_t c)
{
	static const struct sockaddr_storage zero;

	if (c < 1 || c > size || c > PROXY_MAX_LEN)
		fuzz_fail("consumed %zu of %zu", c, size);
	if (h->version != (data[0] == 'P' ? 1 : 2) || (data[0] != 'P' && data[0] != '\r'))
		fuzz_fail("version %d for a header starting 0x%02x", h->version, data[0]);
	if (h->version == 1 && (c > PROXY_V1_MAX_LEN || c < 15 ||
	    data[c - 2] != '\r' || data[c - 1] != '\n' || memchr(data, '\n', c - 1) != NULL))
		fuzz_fail("v1 header of %zu bytes not one line ending in CRLF", c);
	if (h->version == 2 && (c < PROXY_V2_HDR_LEN ||
	    c != PROXY_V2_HDR_LEN + ((size_t)data[14] << 8 | data[15])))
		fuzz_fail("v2 header of %zu bytes, its length field says otherwise", c);
	if (h->command != PROXY_CMD_LOCAL && h->command != PROXY_CMD_PROXY)
		fuzz_fail("command %d", h->command);
	if (h->family != AF_UNSPEC && h->family != AF_INET && h->family != AF_INET6 &&
	    h->family != AF_UNIX)
		fuzz_fail("family %d", h->family);
	if (h->transport != 0 && h->transport != SOCK_STREAM && h->transport != SOCK_DGRAM)
		fuzz_fail("transport %d", h->transport);
	if (h->use_addrs) {
		socklen_t want = h->family == AF_INET ? sizeof(struct sockaddr_in) :
		    sizeof(struct sockaddr_in6);

		if (h->command != PROXY_CMD_PROXY || h->transport != SOCK_STREAM ||
		    (h->family != AF_INET && h->family != AF_INET6))
			fuzz_fail("addresses used for command %d family %d transport %d",
			    h->command, h->family, h->transport);
		if (h->src.ss_family != h->family || h->dst.ss_family != h->family ||
		    h->src_len != want || h->dst_len != want)
			fuzz_fail("addresses of family %d/%d, lengths %u/%u, for family %d",
			    h->src.ss_family, h->dst.ss_family, (unsigned)h->src_len,
			    (unsigned)h->dst_len, h->family);
	} else {
		if (memcmp(&h->src, &zero, sizeof(zero)) != 0 ||
		    memcmp(&h->dst, &zero, sizeof(zero)) != 0 || h->src_len != 0 ||
		    h->dst_len != 0)
			fuzz_fail("addresses not used but not zero");
		if (h->command == PROXY_CMD_PROXY && h->transport == SOCK_STREAM &&
		    (h->family == AF_INET || h->family == AF_INET6))
			fuzz_fail("PROXY over TCP and the addresses not used");
	}
	if (h->version == 1 && h->command != PROXY_CMD_PROXY)
		fuzz_fail("v1 with a LOCAL command");
}

/* A v1 header written back from what was parsed. */
static void
check_v1_back(const uint8_t *data, size_t c, const struct proxy_hdr *h)
{
	char a[INET6_ADDRSTRLEN], b[INET6_ADDRSTRLEN], line[256];
	struct proxy_hdr h2;
	size_t c2;
	int n;

	if (!h->use_addrs)
		return;
	if (h->family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&h->src;
		const struct sockaddr_in *d = (const struct sockaddr_in *)&h->dst;

		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		inet_ntop(AF_INET, &d->sin_addr, b, sizeof(b));
		n = snprintf(line, sizeof(line), "PROXY TCP4 %s %s %u %u\r\n", a, b,
		    ntohs(s->sin_port), ntohs(d->sin_port));
		if ((size_t)n != c || memcmp(line, data, c) != 0)
			fuzz_fail("TCP4 header is not \"%.*s\" written back", n - 2, line);
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&h->src;
		const struct sockaddr_in6 *d = (const struct sockaddr_in6 *)&h->dst;

		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		inet_ntop(AF_INET6, &d->sin6_addr, b, sizeof(b));
		n = snprintf(line, sizeof(line), "PROXY TCP6 %s %s %u %u\r\n", a, b,
		    ntohs(s->sin6_port), ntohs(d->sin6_port));
		if (n > PROXY_V1_MAX_LEN)
			return;	/* two long IPv4-tailed forms; the input spelled them shorter */
		if (parse((const uint8_t *)line, (size_t)n, &h2, &c2) != PROXY_OK ||
		    c2 != (size_t)n || memcmp(&h2, h, sizeof(h2)) != 0)
			fuzz_fail("TCP6 header written back as \"%.*s\" does not parse the same",
			    n - 2, line);
	}
}

static void
check_v2_addrs(const uint8_t *data, const struct proxy_hdr *h)
{
	const uint8_t *a = data + PROXY_V2_HDR_LEN;

	if (!h->use_addrs)
		return;
	if (h->family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)&h->src;
		const struct sockaddr_in *d = (const struct sockaddr_in *)&h->dst;

		if (memcmp(&s->sin_addr, a, 4) != 0 || memcmp(&d->sin_addr, a + 4, 4) != 0 ||
		    memcmp(&s->sin_port, a + 8, 2) != 0 || memcmp(&d->sin_port, a + 10, 2) != 0)
			fuzz_fail("v2 IPv4 addresses not those of the header");
	} else {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)&h->src;
		const struct sockaddr_in6 *d = (const struct sockaddr_in6 *)&h->dst;

		if (memcmp(&s->sin6_addr, a, 16) != 0 || memcmp(&d->sin6_addr, a + 16, 16) != 0 ||
		    memcmp(&s->sin6_port, a + 32, 2) != 0 || memcmp(&d->sin6_port, a + 34, 2) != 0)
			fuzz_fail("v2 IPv6 addresses not those of the header");
	}
}

/*
 * Refused for its checksum: set the CRC32C right and it must pass.  The
 * TLV walk here is this file's own, after proxy.h's rules.
 */
static void
check_checksum(const uint8_t *data, size_t size)
{
	size_t total, off, at = 0;
	struct proxy_hdr h;
	uint8_t *fixed;
	uint32_t crc;
	size_t c;

	if (size < PROXY_V2_HDR_LEN)
		fuzz_fail("bad_checksum with %zu bytes", size);
	total = PROXY_V2_HDR_LEN + ((size_t)data[14] << 8 | data[15]);
	switch (data[13]) {
	case 0x00: off = 16; break;
	case 0x11: case 0x12: off = 16 + 12; break;
	case 0x21: case 0x22: off = 16 + 36; break;
	case 0x31: case 0x32: off = 16 + 216; break;
	default: fuzz_fail("bad_checksum for family byte 0x%02x", data[13]);
	}
	if (total > size || total > PROXY_MAX_LEN)
		fuzz_fail("bad_checksum before the whole header (%zu of %zu)", size, total);
	while (off < total) {
		size_t vlen;

		if (total - off < 3)
			fuzz_fail("bad_checksum with a TLV header cut short");
		vlen = (size_t)data[off + 1] << 8 | data[off + 2];
		if (vlen > total - off - 3)
			fuzz_fail("bad_checksum with a TLV overrunning");
		if (data[off] == 0x03) {
			if (vlen != 4 || at != 0)
				fuzz_fail("bad_checksum with a bad CRC32C TLV");
			at = off + 3;
		}
		off += 3 + vlen;
	}
	if (at == 0)
		fuzz_fail("bad_checksum without a CRC32C TLV");
	fixed = xmalloc(total);
	memcpy(fixed, data, total);
	memset(fixed + at, 0, 4);
	crc = proxy_crc32c(fixed, total);
	fixed[at] = (uint8_t)(crc >> 24);
	fixed[at + 1] = (uint8_t)(crc >> 16);
	fixed[at + 2] = (uint8_t)(crc >> 8);
	fixed[at + 3] = (uint8_t)crc;
	if (parse(fixed, total, &h, &c) != PROXY_OK || c != total)
		fuzz_fail("the CRC32C set right, the header still fails");
	free(fixed);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proxy_hdr h, h2;
	enum proxy_result r, r2;
	size_t c, c2, p;

	r = parse(data, size, &h, &c);
	if (r == PROXY_OK) {
		check_sane(data, size, &h, c);
		if (parse(data, c, &h2, &c2) != PROXY_OK || c2 != c ||
		    memcmp(&h2, &h, sizeof(h)) != 0)
			fuzz_fail("the header alone (%zu bytes) does not parse the same", c);
		if ((r2 = parse(data, c - 1, &h2, &c2)) != PROXY_NEED_MORE)
			fuzz_fail("the header less its last byte: %s", proxy_reason(r2));
		if (h.version == 1)
			check_v1_back(data, c, &h);
		else
			check_v2_addrs(data, &h);
	}
	if (r == PROXY_ERR_CHECKSUM)
		check_checksum(data, size);

	/* A prefix, chosen by the input: consistent with the whole. */
	if (size > 0) {
		p = size > 1 ? (size_t)data[size - 1] * 257 % size : 0;
		r2 = parse(data, p, &h2, &c2);
		if (r2 == PROXY_OK && (r != PROXY_OK || c2 != c || memcmp(&h2, &h, sizeof(h)) != 0))
			fuzz_fail("prefix of %zu: a header; the whole (%zu): %s", p, size,
			    proxy_reason(r));
		if (r2 != PROXY_OK && r2 != PROXY_NEED_MORE && r2 != r)
			fuzz_fail("prefix of %zu: %s; the whole (%zu): %s", p, proxy_reason(r2),
			    size, proxy_reason(r));
		if (r == PROXY_NEED_MORE && r2 != PROXY_NEED_MORE)
			fuzz_fail("the whole needs more, a prefix of %zu: %s", p, proxy_reason(r2));
	}
	return 0;
}
