/* SPDX-License-Identifier: ISC */
/*
 * gen_handover_corpus.c: writes fuzz/corpus/handover/'s seeds with the
 * handover writer (the first byte of each is the number of descriptors,
 * as fuzz_handover.c reads it).  Not built by make; after a format
 * change, from the top of a configured tree:
 *
 *   cc -I. -Isrc fuzz/gen_handover_corpus.c src/handover.c -o gen &&
 *   ./gen fuzz/corpus/handover
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "handover.h"

static const char *dir;

static void
save(const char *name, uint8_t nfds, const void *p, size_t n)
{
	char path[1024];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "wb")) == NULL || fwrite(&nfds, 1, 1, f) != 1 ||
	    (n > 0 && fwrite(p, 1, n, f) != n) || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

static void
save_buf(const char *name, uint8_t nfds, struct handover_buf *b)
{
	if (handover_end(b) == -1) {
		fprintf(stderr, "%s: the writer failed\n", name);
		exit(1);
	}
	save(name, nfds, b->p, b->len);
	handover_buf_free(b);
}

/* Records the writer has no call for, as raw bytes. */
static void
append(struct handover_buf *b, const void *p, size_t n, size_t records)
{
	if ((b->p = realloc(b->p, b->len + n)) == NULL) {
		perror("realloc");
		exit(1);
	}
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->cap = b->len;
	b->records += records;
}

static void
listener(struct handover_buf *b, uint32_t fd, int type, int shard, uint16_t port,
    const char *addr, bool proxy, bool reuse, bool activated)
{
	struct ho_listener l;

	memset(&l, 0, sizeof(l));
	l.fd = fd;
	l.type = type;
	l.shard = shard;
	l.port = port;
	l.proxy = proxy;
	l.reuse_port = reuse;
	l.activated = activated;
	snprintf(l.address, sizeof(l.address), "%s", addr);
	handover_put_listener(b, &l);
}

static void
conn4(struct handover_buf *b, uint32_t fd, enum ho_conn_state st, const char *out,
    size_t outlen, const char *proxy)
{
	struct ho_conn c;
	struct sockaddr_in *sin = (struct sockaddr_in *)&c.peer;

	memset(&c, 0, sizeof(c));
	c.fd = fd;
	c.state = st;
	c.start_ms = 1000;
	c.last_ms = 2000;
	c.rx_ms = 1500;
	c.bytes_in = 10;
	c.bytes_out = 7;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(40000);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c.peerlen = sizeof(*sin);
	c.out = (const uint8_t *)out;
	c.outlen = outlen;
	if (proxy != NULL) {
		c.proxy = (const uint8_t *)proxy;
		c.proxylen = strlen(proxy);
		c.proxy_deadline_ms = 5000;
	}
	handover_put_conn(b, &c);
}

static void
conn6(struct handover_buf *b, uint32_t fd)
{
	struct ho_conn c;
	struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&c.peer;

	memset(&c, 0, sizeof(c));
	c.fd = fd;
	c.state = HO_CONN_READING;
	c.charset = 0;
	c.ncarry = 2;
	memcpy(c.carry, "\xe2\x82\x00", 3);
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(40001);
	sin6->sin6_addr = in6addr_loopback;
	c.peerlen = sizeof(*sin6);
	handover_put_conn(b, &c);
}

static void
meta(struct handover_buf *b)
{
	struct ho_meta m;

	memset(&m, 0, sizeof(m));
	m.pid = 4242;
	m.start_wall_ms = 1700000000000ull;
	m.loaded_wall_ms = 1700000100000ull;
	m.upgrades = 1;
	snprintf(m.version, sizeof(m.version), "0.1.0");
	handover_put_meta(b, &m);
}

int
main(int argc, char **argv)
{
	static const uint64_t counts[4] = { 5, 3, 1, 0 };
	static const uint8_t later[] = {
		99, 0, 0, 0, 3, 0, 0, 0, 'n', 'e', 'w',         /* type 99, 3 bytes */
		4, 0, 0, 0, 22, 0, 0, 0, 1, 0, 0, 0, 'd',       /* COUNTER "d" = 2 */
		2, 0, 0, 0, 0, 0, 0, 0, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee, 0xee,
	};
	struct handover_buf b;
	char out[300];
	size_t n;

	if (argc != 2) {
		fprintf(stderr, "usage: gen_handover_corpus DIR\n");
		return 2;
	}
	dir = argv[1];

	/* A whole handover: everything a daemon has. */
	handover_begin(&b);
	meta(&b);
	listener(&b, 0, SOCK_STREAM, -1, 12000, "*", false, true, false);
	listener(&b, 1, SOCK_DGRAM, 0, 12000, "::1", false, true, false);
	conn4(&b, 2, HO_CONN_FLUSHING, "HELLO\n", 6, NULL);
	conn6(&b, 3);
	handover_put_counter(&b, "upcase_requests_total", 12);
	handover_put_counter(&b, "upcase_refused_total{reason}", 1);
	handover_put_hist(&b, "upcase_request_seconds", counts, 4, 77);
	handover_put_control(&b, 4, "/run/upcased/upcased.sock");
	handover_put_pidfile(&b, 5, "/run/upcased/upcased.pid");
	save_buf("full", 6, &b);

	/* END alone. */
	handover_begin(&b);
	save_buf("empty", 0, &b);

	/* Listeners of every kind. */
	handover_begin(&b);
	listener(&b, 0, SOCK_STREAM, -1, 12000, "127.0.0.1", true, false, false);
	listener(&b, 1, SOCK_STREAM, 127, 12001, "fe80::1%eth0", false, true, false);
	listener(&b, 2, SOCK_DGRAM, 3, 65535, "", false, false, true);
	save_buf("listeners", 3, &b);

	/* Connections: output owed, a PROXY header half read, draining. */
	for (n = 0; n < sizeof(out); n++)
		out[n] = (char)('A' + n % 26);
	handover_begin(&b);
	listener(&b, 0, SOCK_STREAM, -1, 12000, "*", true, false, false);
	conn4(&b, 1, HO_CONN_FLUSHING, out, sizeof(out), NULL);
	conn4(&b, 2, HO_CONN_PROXY, NULL, 0, "PROXY TCP4 127.0.0.1 ");
	conn4(&b, 3, HO_CONN_DRAINING, "TAIL", 4, NULL);
	save_buf("conns", 4, &b);

	/* The counters and histograms alone. */
	handover_begin(&b);
	meta(&b);
	handover_put_counter(&b, "upcase_connections_total", 99);
	handover_put_counter(&b, "upcase_bytes_in_total", 123456789);
	handover_put_hist(&b, "upcase_one_bucket", counts, 1, 5);
	save_buf("stats", 0, &b);

	/*
	 * A later version's: an unknown type not critical, and a COUNTER
	 * with a field more (both before END, whose count includes them).
	 */
	handover_begin(&b);
	handover_put_counter(&b, "c", 1);
	append(&b, later, sizeof(later), 2);
	save_buf("later-version", 0, &b);

	/* fd store names (the handover part is refused, the name taken). */
	save("fdname-udp", 0, "upcased-listener-udp-1-12000-__1", 32);
	save("fdname-scoped", 0, "upcased-listener-tcp-all-80-fe80__1%eth0", 40);
	return 0;
}
