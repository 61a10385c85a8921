/* SPDX-License-Identifier: ISC */
/*
 * listing.c: upcase --connections and --sources, from the workers'
 * snapshots (see listing.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "listing.h"
#include "srctable.h"
#include "tcp.h"
#include "udp.h"

_Static_assert(LISTING_SOURCES_MAX <= UDP_SNAPSHOT_MAX,
    "a UDP worker's snapshot must hold as many sources as may be asked for");

/*
 * Ready: the rows are there.  Else begin one if none is under way; a pool
 * whose workers have all left their loop has nothing to list (and would
 * never answer).  Returns whether the rows may be read.
 */
static bool
listing_ready(struct worker_pool *pool, bool *none)
{
	*none = false;
	if (worker_pool_snapshot_ready(pool))
		return true;
	if (worker_pool_done(pool)) {
		*none = true;
		return true;
	}
	if (!worker_pool_snapshot_busy(pool))
		(void)worker_pool_snapshot_begin(pool, UDP_SNAPSHOT_MAX);
	return false;
}

int
listing_connections(struct worker_pool *tcp, struct control_out *out)
{
	bool none;

	if (!listing_ready(tcp, &none))
		return CONTROL_ANSWER_LATER;
	control_out_printf(out,
	    "#client\tlistener\tworker\tage_ms\tidle_ms\tbytes_in\tbytes_out\tstate\n");
	for (int i = 0; !none && i < worker_pool_size(tcp); i++) {
		const struct worker_snap *s = worker_pool_snapshot(tcp, i);

		if (s->len > 0)
			control_out_append(out, s->buf, s->len);
		if (s->failed)
			control_out_printf(out, "#incomplete: worker tcp%d ran out of memory\n", i);
	}
	return CONTROL_ANSWER_READY;
}

/* A UDP worker's source, with the worker it is from. */
struct listing_row {
	struct src_entry e;
	int worker;
};

static int
listing_busier(const void *a, const void *b)
{
	const struct listing_row *x = a, *y = b;
	int r = srctable_busier(&x->e, &y->e);

	return r != 0 ? r : (x->worker > y->worker) - (x->worker < y->worker);
}

static void
listing_source_row(struct control_out *out, const char *proto, const char *worker,
    const struct src_entry *e)
{
	char k[SRC_KEY_TEXT_MAX];

	control_out_printf(out, "%s\t%s\t%s\t%u\t%u\t%u\n", proto,
	    src_key_format(&e->key, k, sizeof(k)), worker, e->seen, e->limited, e->open);
}

int
listing_sources(struct worker_pool *tcp, struct worker_pool *udp, const char *args,
    struct control_out *out)
{
	struct src_entry top[LISTING_SOURCES_MAX];
	struct listing_row *rows;
	size_t n = LISTING_SOURCES_DEFAULT, k = 0, per;
	int nudp = worker_pool_size(udp);
	char *end;
	bool none;

	args += strspn(args, " \t");
	if (*args != '\0') {
		unsigned long v;

		errno = 0;
		v = strtoul(args, &end, 10);
		if (errno != 0 || end == args || *end != '\0' || v == 0 ||
		    v > LISTING_SOURCES_MAX) {
			control_out_printf(out, "error: sources takes a number from 1 to %d\n",
			    LISTING_SOURCES_MAX);
			return CONTROL_ANSWER_READY;
		}
		n = v;
	}
	if (!listing_ready(udp, &none))
		return CONTROL_ANSWER_LATER;
	control_out_printf(out, "#proto\tsource\tworker\tseen\tlimited\topen\n");
	/* UDP: each worker's busiest, merged (one source may be in several). */
	if (!none && (rows = calloc((size_t)nudp * UDP_SNAPSHOT_MAX, sizeof(*rows))) != NULL) {
		for (int i = 0; i < nudp; i++) {
			const struct worker_snap *s = worker_pool_snapshot(udp, i);
			const struct src_entry *e = (const struct src_entry *)(void *)s->buf;

			per = s->len / sizeof(*e);
			for (size_t j = 0; j < per && j < UDP_SNAPSHOT_MAX; j++, k++) {
				memcpy(&rows[k].e, e + j, sizeof(*e));
				rows[k].worker = i;
			}
		}
		qsort(rows, k, sizeof(*rows), listing_busier);
		for (size_t j = 0; j < k && j < n; j++) {
			char w[16];

			snprintf(w, sizeof(w), "udp%d", rows[j].worker);
			listing_source_row(out, "udp", w, &rows[j].e);
		}
		free(rows);
	} else if (!none)
		control_out_printf(out, "#incomplete: out of memory for the UDP sources\n");
	/* TCP: one table, shared by the workers; copied out under its lock. */
	k = tcp_pool_top_sources(tcp, top, n);
	for (size_t j = 0; j < k; j++)
		listing_source_row(out, "tcp", "-", &top[j]);
	return CONTROL_ANSWER_READY;
}

void
listing_done(struct worker_pool *pool)
{
	if (worker_pool_snapshot_ready(pool))
		worker_pool_snapshot_clear(pool);
}
