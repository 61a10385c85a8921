/* SPDX-License-Identifier: ISC */
/*
 * conf.h: the configuration, parsed from upcased.conf (libconfig) into a
 * fresh value.  conf_load() validates all of it; the caller swaps it in
 * only when it is valid (start-up, -t and SIGHUP run this same code).
 * Runtime state never lives here.
 */
#ifndef UPCASE_CONF_H
#define UPCASE_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "iomode.h"
#include "proto.h"
#include "transform.h"

/* Limits, checked by conf_load() and documented in upcased.conf(5). */
#define CONF_MAX_LISTENERS        64
#define CONF_MAX_THREADS          1024
#define CONF_MAX_CONNECTIONS_MAX  1000000
#define CONF_IDLE_TIMEOUT_MAX     86400
#define CONF_BACKLOG_MAX          65535
#define CONF_SHUTDOWN_TIMEOUT_MAX 3600
#define CONF_UPGRADE_TIMEOUT_MAX 600
#define CONF_MAX_LIST_ITEMS       1024      /* in any list of strings */
#define CONF_RATE_MAX             1000000   /* rates, bursts, counts per source */
#define CONF_TABLE_SIZE_MIN       1024      /* udp.table_size, limits.table_size */
#define CONF_TABLE_SIZE_MAX       16777216
#define CONF_MIN_RATE_WINDOW_MAX  86400
#define CONF_SOCKET_BUFFER_MAX    67108864  /* tcp.send_buffer, tcp.receive_buffer */
#define CONF_MAX_FILE_SIZE        (1024 * 1024)  /* the main file and its includes together */

/*
 * A list of strings: ( "a", "b" ), [ "a", "b" ] or ( ) in the file.
 * Each string passed its row's check_item, and they are in the file's order;
 * v is NULL when n is 0.  conf_free() frees the lists of a conf.
 */
struct conf_list {
	char  **v;
	size_t  n;
};

/*
 * Every field of these four, but path, listeners, nlisteners, file and line,
 * is a row of the settings table in conf.c: a new setting is a field
 * here, a row there and its documentation.
 */

/* The group udp: what UDP datagrams get an answer (all reload: applied). */
struct conf_udp {
	bool     guard;                /* drop datagrams that could start a loop or a reflection */
	int      rate_limit;           /* replies per second per source; 0 = no limit */
	int      burst;                /* replies a source may get at once (bucket depth) */
	int      leak;                 /* over the limit, answer 1 in leak anyway; 0 = none */
	struct conf_list exempt;       /* CIDRs (cidr_parse) that skip the rate limit */
	int      ipv4_prefix;          /* a source is an IPv4 address cut to this prefix ... */
	int      ipv6_prefix;          /* ... or an IPv6 one cut to this */
	int      table_size;           /* sources remembered, per table and UDP worker */
	int      threads;              /* UDP workers; 0 = one per CPU the process may use */
};

/* The group metrics: the Prometheus endpoint (restart). */
struct conf_metrics {
	char    *address;              /* "*" or a numeric IPv4 or IPv6 address */
	int      port;                 /* 0: no endpoint */
};

/* The group limits: per-source TCP limits (all reload: applied). */
struct conf_limits {
	int      connections_per_source; /* open connections; 0 = unlimited */
	int      connection_rate;      /* new connections per second; 0 = unlimited */
	int      connection_burst;     /* new connections at once (bucket depth) */
	int      ipv4_prefix;          /* a source is an IPv4 address cut to this prefix ... */
	int      ipv6_prefix;          /* ... or an IPv6 one cut to this */
	struct conf_list exempt;       /* CIDRs (cidr_parse) that skip these limits */
	int      table_size;           /* sources tracked */
	int      min_rate;             /* bytes per second, under pressure; 0 = off */
	int      min_rate_window;      /* seconds: a connection is judged from this age on */
};

struct conf_listener {
	char    *address;    /* "*" = every address (IPv6 dual-stack, else IPv4); or a numeric IPv4/IPv6 address */
	uint16_t port;
	bool     tcp;
	bool     udp;
	bool     reuse_port; /* SO_REUSEPORT: other processes may bind it too */
	bool     proxy_protocol; /* TCP: a PROXY protocol header from a trusted proxy comes first */
	char    *file;       /* the file it is in (the main one or an included one) ... */
	int      line;       /* ... and its line there, for messages; NULL and 0 by default */
};

struct conf {
	char    *path;                 /* file it came from */
	struct conf_listener *listeners;
	size_t   nlisteners;

	int      tcp_threads;          /* tcp.threads: 0 = number of online CPUs */
	enum iomode io;                /* io: the TCP workers' event API */
	int      tcp_send_buffer;      /* tcp.send_buffer: SO_SNDBUF of the listeners; 0 = the kernel's */
	int      tcp_receive_buffer;   /* tcp.receive_buffer: SO_RCVBUF of the listeners; 0 = the kernel's */
	int      max_connections;      /* open TCP connections, all workers together */
	int      idle_timeout;         /* seconds */
	int      backlog;              /* listen(2) backlog */
	int      shutdown_timeout;     /* seconds */
	int      upgrade_timeout;      /* seconds: SIGUSR2, until the new binary holds the state */
	enum transform_charset charset;

	struct conf_list access;       /* access rules (access_rule_parse), first match wins */
	struct conf_list trusted_proxies; /* CIDRs whose PROXY protocol headers are believed */
	int      proxy_timeout;        /* seconds a PROXY protocol header may take */
	struct conf_udp    udp;
	struct conf_limits limits;
	struct conf_metrics metrics;

	int      log_level;            /* LOG_ERR .. LOG_DEBUG */
	int      log_facility;         /* LOG_DAEMON, LOG_LOCAL0, ... */

	char    *user;                 /* NULL: do not drop privileges */
	char    *pidfile;              /* NULL: none */
	char    *control_socket;       /* NULL or "": no control socket */
	mode_t   control_mode;         /* control socket permissions */
};

/*
 * The default control socket: a row of the settings table, and what the
 * client reads the statistics from when given no path.  Every other
 * default is in the table only (conf.c).
 */
#define CONF_DEFAULT_CONTROL_SOCKET   UPCASE_DEFAULT_CONTROL_SOCKET

/*
 * The settings table: one row per setting of upcased.conf.  It drives the
 * parser, the defaults, the unknown-name check and its "did you mean"
 * hint, conf_free() and conf_keep_restart_only(); tests/test_conf_doc.c
 * holds it against upcased.conf(5) and etc/upcased.conf.  A row's name is
 * its path in the file: "backlog", "tcp.threads" (member of the group
 * tcp), "listen.port" (member of every group of the listen list).
 */
enum conf_type {
	CONF_T_INT,      /* int (or uint16_t), from min to max */
	CONF_T_BOOL,     /* bool: true or false */
	CONF_T_STRING,   /* char *: any string; "" is stored as NULL (none) */
	CONF_T_PATH,     /* char *: "" (NULL) or an absolute path shorter than max bytes */
	CONF_T_MODE,     /* mode_t: a string of octal digits, from min to max */
	CONF_T_ENUM,     /* a name, stored by the row's set_enum */
	CONF_T_LIST,     /* struct conf_list: a list or array of at most max strings,
	                    each accepted by check_item if not NULL; the default is
	                    written as the file writes it: "( )", "( \"::1\" )" */
};

enum conf_reload {
	CONF_APPLIED,    /* SIGHUP applies the new value */
	CONF_RESTART,    /* SIGHUP keeps the running value (and says so) */
};

struct conf_setting {
	const char      *name;
	enum conf_type   type;
	long long        min, max;  /* see enum conf_type */
	const char      *def;       /* the default, as the file spells it, unquoted: "0", "true", "utf-8", "", "( )" */
	enum conf_reload reload;    /* always CONF_APPLIED in the listen list */
	size_t           offset;    /* of the field in struct conf, or in struct conf_listener ... */
	size_t           size;      /* ... and its size */
	bool             listener;  /* ... if this is true */
	/* CONF_T_ENUM: store the value named text into field (0), or -1 if it names none. */
	int            (*set_enum)(const char *text, void *field);
	const char      *expect;    /* CONF_T_ENUM, CONF_T_LIST: "must be one of ...", after the name in the error */
	/*
	 * CONF_T_LIST: whether one item is valid: 0, or -1 with why not in
	 * reason ("'10.0.0.0/33' is not a CIDR"); NULL: any string is.
	 */
	int            (*check_item)(const char *text, char *reason, size_t len);
	const char      *item;      /* CONF_T_LIST: an item in messages: "rule" ("access rule 3: ...") */
	const char      *doc;       /* one line */
};

/* The table, read-only; *n gets its number of rows. */
const struct conf_setting *conf_settings(size_t *n);

/*
 * Parse and validate the file at path.  On success returns a new conf
 * (free with conf_free).  On failure returns NULL and writes one message of
 * the form "FILE:LINE: what is wrong" (or "FILE: reason" when there is no
 * line, e.g. the file cannot be opened) into err.
 */
struct conf *conf_load(const char *path, char *err, size_t errlen);
/*
 * Same, from a string (for tests); name stands in for the file name in
 * messages, and relative @include paths are relative to the working
 * directory.
 */
struct conf *conf_load_string(const char *text, const char *name, char *err, size_t errlen);
/*
 * Same, from a configuration that confsrc_expand() read (conf_load and
 * conf_load_string do that first): messages name the file and line each
 * setting came from.
 */
struct confsrc;
struct conf *conf_load_src(const struct confsrc *src, char *err, size_t errlen);
/* A conf with every default of the table, and one listener with the listen defaults. */
struct conf *conf_default(void);
void conf_free(struct conf *c);

/* Whether a and b hold the same strings in the same order. */
bool conf_list_equal(const struct conf_list *a, const struct conf_list *b);
/*
 * Whether a and b listen alike: the same entries (the same address as
 * addr_same says, port, tcp, udp and reuse_port), in any order.  Where they are in
 * the files does not count.
 */
bool conf_listen_equal(const struct conf *a, const struct conf *b);
/* Free l's strings and array; l is then the empty list. */
void conf_list_free(struct conf_list *l);

/*
 * For a reload: every setting of the table that needs a restart and differs
 * between old and new gets old's value in new, after changed(name, arg) is
 * called with its name (changed may be NULL).  Returns 0, or -1 when out
 * of memory (new is then only partly updated: free it).
 */
int conf_keep_restart_only(const struct conf *old, struct conf *new,
    void (*changed)(const char *name, void *arg), void *arg);

#endif
