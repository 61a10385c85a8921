/* SPDX-License-Identifier: ISC */
/*
 * handover.h: the live-upgrade handover format (pure: no I/O, no
 * descriptors are touched here).  The running upcased (the writer) hands
 * its state to the new binary (the reader) as one byte string plus an
 * array of descriptors sent beside it (upgrade.c, SCM_RIGHTS); a record
 * names a descriptor by its index in that array.
 *
 * THE FORMAT (version 1).  All integers little-endian, whatever the host.
 *
 *   header, 16 bytes:
 *     magic     8 bytes   "UPCHOVR" and a NUL
 *     version   u16       HANDOVER_VERSION of the writer
 *     flags     u16       0 (a reader refuses bits it does not know)
 *     reserved  u32       0
 *   then records, until an END record (nothing may follow it):
 *     type      u16       HO_T_*
 *     flags     u16       HO_F_CRITICAL: a reader that does not know the
 *                         type must refuse the whole handover; else it
 *                         skips the record
 *     length    u32       payload bytes, at most HANDOVER_RECORD_MAX
 *     payload   length bytes, the type's fields in order:
 *       u8, u16, u32, u64   fixed size
 *       str                 u32 length (at most HANDOVER_STR_MAX) and the
 *                           bytes, no NUL among them
 *       bytes               u32 length and the bytes
 *
 * Compatibility.  A reader takes any version up to its own, and refuses a
 * newer one (the writer checks first: the reader says its version before
 * anything is sent).  Fields are only ever appended to a type's payload:
 * a reader ignores bytes after the fields it knows, and a field that a
 * version added after 1 ("since N" below) may be missing (its default
 * then); every version-1 field must be there.  A new kind of state that
 * a reader must not ignore comes as a new type flagged critical.
 *
 * Records of version 1 (C: critical):
 *   META      1     u32 pid of the writer; u64 start_wall_ms (when the
 *                   first of the line of processes started, ms since the
 *                   epoch); u64 loaded_wall_ms (configuration last
 *                   loaded); u32 upgrades (done so far, this one not
 *                   counted); str version ("0.1.0")
 *   LISTENER  2 C   u32 fd index; u8 type (1 TCP, 2 UDP); u8 flags
 *                   (HO_L_PROXY, HO_L_REUSE_PORT, HO_L_ACTIVATED); u16
 *                   shard + 1 (0: every worker); u16 port; str address as
 *                   in the configuration ("*", "::1"; empty if activated)
 *   CONN      3 C   u32 fd index; u8 state (HO_CONN_*); u8 charset
 *                   (enum transform_charset); u8 ncarry (0-3); 3 bytes
 *                   carry; u64 start_ms, last_ms, rx_ms (CLOCK_MONOTONIC
 *                   ms, which both processes share); u64 bytes_in,
 *                   bytes_out; u64 proxy_deadline_ms; bytes peer (a
 *                   struct sockaddr_in of 16 bytes or sockaddr_in6 of 28,
 *                   family AF_INET or AF_INET6); bytes out (output not
 *                   yet sent, at most HANDOVER_OUT_MAX); bytes proxy (a
 *                   PROXY header so far, state PROXY only, at most
 *                   HANDOVER_PROXY_MAX)
 *   COUNTER   4     str name (stats.c: family, and "{reason}" for a
 *                   family of reasons); u64 value
 *   HIST      5     str name (the family); u32 n (buckets, +Inf
 *                   included, 1 to HANDOVER_HIST_MAX); n x u64 counts
 *                   (not cumulative); u64 sum
 *   CONTROL   6     u32 fd index of the listening control socket; str path
 *   PIDFILE   7     u32 fd index of the open, locked pidfile; str path
 *   END   65535 C   u32 the number of records before it
 *
 * A handover that is valid names every descriptor index below the number
 * of descriptors received, and none twice.
 */
#ifndef UPCASE_HANDOVER_H
#define UPCASE_HANDOVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define HANDOVER_VERSION     1
#define HANDOVER_HEADER_LEN  16
#define HANDOVER_RECORD_MAX  (1u << 20)
#define HANDOVER_STR_MAX     4095
#define HANDOVER_OUT_MAX     (1u << 19)   /* >= TRANSFORM_BOUND(TCP_READ_CHUNK) */
#define HANDOVER_PROXY_MAX   256          /* >= PROXY_MAX_LEN */
#define HANDOVER_HIST_MAX    64

enum {
	HO_T_META = 1,
	HO_T_LISTENER = 2,
	HO_T_CONN = 3,
	HO_T_COUNTER = 4,
	HO_T_HIST = 5,
	HO_T_CONTROL = 6,
	HO_T_PIDFILE = 7,
	HO_T_END = 65535,
};
#define HO_F_CRITICAL 1u

#define HO_L_PROXY      1u
#define HO_L_REUSE_PORT 2u
#define HO_L_ACTIVATED  4u

enum ho_conn_state {
	HO_CONN_READING = 0,
	HO_CONN_FLUSHING = 1,
	HO_CONN_DRAINING = 2,    /* the client ended its input; out is what is owed */
	HO_CONN_PROXY = 3,
};

struct ho_meta {
	uint32_t pid;
	uint64_t start_wall_ms, loaded_wall_ms;
	uint32_t upgrades;
	char     version[64];           /* cut to fit, NUL-terminated */
};

struct ho_listener {
	uint32_t fd;                    /* index */
	int      type;                  /* SOCK_STREAM or SOCK_DGRAM (decoded from 1/2) */
	bool     proxy, reuse_port, activated;
	int      shard;                 /* -1: every worker */
	uint16_t port;
	char     address[256];          /* NUL-terminated; longer is invalid */
};

struct ho_conn {
	uint32_t fd;                    /* index */
	enum ho_conn_state state;
	uint8_t  charset;
	uint8_t  ncarry;
	uint8_t  carry[3];
	uint64_t start_ms, last_ms, rx_ms;
	uint64_t bytes_in, bytes_out;
	uint64_t proxy_deadline_ms;
	struct sockaddr_storage peer;   /* decoded; peerlen 16 or 28 */
	socklen_t peerlen;
	const uint8_t *out;             /* into the parsed buffer */
	size_t   outlen;
	const uint8_t *proxy;           /* into the parsed buffer */
	size_t   proxylen;
};

/* ------------------------------------------------------------ writing */

/* A growing buffer; on out of memory failed is set and nothing more goes in. */
struct handover_buf {
	uint8_t *p;
	size_t   len, cap;
	size_t   records;               /* written so far, for END */
	bool     failed;
};

/* Start (b zeroed or freed before): the header. */
void handover_begin(struct handover_buf *b);
void handover_put_meta(struct handover_buf *b, const struct ho_meta *m);
void handover_put_listener(struct handover_buf *b, const struct ho_listener *l);
/* c->out, c->proxy are copied in (they may point anywhere). */
void handover_put_conn(struct handover_buf *b, const struct ho_conn *c);
void handover_put_counter(struct handover_buf *b, const char *name, uint64_t value);
void handover_put_hist(struct handover_buf *b, const char *name, const uint64_t *counts,
    size_t n, uint64_t sum);
void handover_put_control(struct handover_buf *b, uint32_t fd, const char *path);
void handover_put_pidfile(struct handover_buf *b, uint32_t fd, const char *path);
/* The END record.  0, or -1 if anything failed (memory, a field too long). */
int  handover_end(struct handover_buf *b);
void handover_buf_free(struct handover_buf *b);

/* ------------------------------------------------------------ reading */

/*
 * Called for each record, in order, once the whole handover has been
 * checked (nothing is called for an invalid one).  Any may be NULL (the
 * records are skipped).  Pointers are good until the buffer is freed.
 * A callback returns 0, or -1 to stop (handover_parse then returns -1,
 * with "record N (TYPE) refused" in err).
 */
struct handover_visitor {
	int (*meta)(const struct ho_meta *m, void *arg);
	int (*listener)(const struct ho_listener *l, void *arg);
	int (*conn)(const struct ho_conn *c, void *arg);
	int (*counter)(const char *name, uint64_t value, void *arg);
	int (*hist)(const char *name, const uint64_t *counts, size_t n, uint64_t sum,
	    void *arg);
	int (*control)(uint32_t fd, const char *path, void *arg);
	int (*pidfile)(uint32_t fd, const char *path, void *arg);
};

/*
 * Check buf (len bytes, with nfds descriptors beside it), then visit its
 * records.  0, or -1 with why in err: bad magic, a newer version, unknown
 * header flags, a truncated or oversized record, an unknown critical
 * type, a field out of range (state, type, ncarry, peer family and
 * length, a string with a NUL or too long, proxy bytes outside state
 * PROXY), a descriptor index >= nfds or used twice, no END, bytes after
 * END, END's count wrong.  Counts are decoded into a scratch array: the
 * visitor's pointer is good for that call only.
 */
int  handover_parse(const uint8_t *buf, size_t len, size_t nfds,
    const struct handover_visitor *v, void *arg, char *err, size_t errlen);

/* ------------------------------------------------------------ systemd's fd store */

/*
 * The FDNAME= of a listening socket kept in systemd's file descriptor
 * store: "upcased-listener-" TYPE "-" SHARD "-" PORT "-" ADDRESS, TYPE tcp
 * or udp, SHARD "all" or the shard's number, ADDRESS as in the
 * configuration with every ':' written '_' (systemd refuses ':' in a
 * name); e.g. "upcased-listener-udp-1-12000-__1".  At most 255 bytes,
 * printable ASCII.  Returns the length, or -1 (too long, not printable,
 * an address with '_' in it).
 */
int  handover_fdname(char *out, size_t outlen, int type, int shard, uint16_t port,
    const char *address);
/*
 * The other way: true if name is one of ours, with its fields (address
 * gets its ':' back, NUL-terminated in addrlen bytes).  Anything else
 * (another socket's FileDescriptorName=, "upcased.socket") is false.
 */
bool handover_fdname_parse(const char *name, int *type, int *shard, uint16_t *port,
    char *address, size_t addrlen);

#endif
