/* SPDX-License-Identifier: ISC */
/*
 * conf.c: read upcased.conf (libconfig syntax) into a fresh struct conf and
 * validate every setting.  Pure: it reads the file and what it includes
 * and nothing else (no sockets, no name or user look-ups, no logging), so
 * -t, start-up and SIGHUP can all run it.  The files are read by confsrc,
 * which hands libconfig one text: libconfig itself never opens a file.
 * The first problem found goes into the caller's buffer as
 * "FILE:LINE: message", FILE being the file, included or not, where it is.
 *
 * It owns the settings table, conf_table[] below: one row per setting,
 * which drives the parsing, the defaults, the unknown-name check with its
 * "did you mean" hint, conf_free() and what a reload keeps.  Hand-written
 * rules are only those between settings: the shape of the listen list,
 * each listener's address and protocols, and the listeners' overlaps.
 */
#include "config.h"

#include <sys/types.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "access.h"
#include "addr.h"
#include "conf.h"
#include "confsrc.h"
#include "iomode.h"
#include "log.h"
#include "transform.h"

/* ------------------------------------------------------------ the table */

/* CONF_T_ENUM hooks: the name's value into the field, or -1. */
static int
conf_set_charset(const char *text, void *field)
{
	int cs = transform_charset_from_name(text);

	if (cs == -1)
		return -1;
	*(enum transform_charset *)field = (enum transform_charset)cs;
	return 0;
}

static int
conf_set_io(const char *text, void *field)
{
	int m = iomode_from_name(text);

	if (m == -1)
		return -1;
	*(enum iomode *)field = (enum iomode)m;
	return 0;
}

static int
conf_set_log_level(const char *text, void *field)
{
	int n = log_level_from_name(text);

	/* log.c knows more levels (crit, ...) than the config offers. */
	if (n < LOG_ERR || n > LOG_DEBUG)
		return -1;
	*(int *)field = n;
	return 0;
}

static int
conf_set_log_facility(const char *text, void *field)
{
	int n = log_facility_from_name(text);

	if (n == -1)
		return -1;
	*(int *)field = n;
	return 0;
}

/* CONF_T_LIST hooks: whether one item is valid, with why not in reason. */
static int
conf_check_cidr(const char *text, char *reason, size_t len)
{
	struct cidr c;

	return cidr_parse(text, &c, reason, len);
}

static int
conf_check_access_rule(const char *text, char *reason, size_t len)
{
	struct access_rule a;

	return access_rule_parse(text, &a, reason, len);
}

/*
 * offsetof(struct st, f), refusing to compile unless the field has C type
 * t: the parser writes through these offsets, so a row and its field must
 * agree.
 */
#define CONF_OFFSET(st, f, t)						\
	(offsetof(struct st, f) + 0 * sizeof(char[			\
	    __builtin_types_compatible_p(__typeof__(((struct st *)0)->f), t) ? 1 : -1]))

#define CONF_ROW(n, type_, lo, hi, d, r, st, f, t, set, exp, chk, it, doc_) { \
	.name = n, .type = type_, .min = lo, .max = hi, .def = d,	\
	.reload = r, .offset = CONF_OFFSET(st, f, t),			\
	.size = sizeof(((struct st *)0)->f),				\
	.listener = __builtin_types_compatible_p(struct st, struct conf_listener), \
	.set_enum = set, .expect = exp, .check_item = chk, .item = it,	\
	.doc = doc_ }

/* One macro per field type; st is conf, or conf_listener for "listen.*". */
#define CONF_INT(n, lo, hi, d, r, st, f, doc)				\
	CONF_ROW(n, CONF_T_INT, lo, hi, d, r, st, f, int, NULL, NULL,	\
	    NULL, NULL, doc)
#define CONF_U16(n, lo, hi, d, r, st, f, doc)				\
	CONF_ROW(n, CONF_T_INT, lo, hi, d, r, st, f, uint16_t, NULL, NULL, \
	    NULL, NULL, doc)
#define CONF_BOOL(n, d, r, st, f, doc)					\
	CONF_ROW(n, CONF_T_BOOL, 0, 1, d, r, st, f, bool, NULL, NULL,	\
	    NULL, NULL, doc)
#define CONF_STRING(n, d, r, st, f, doc)				\
	CONF_ROW(n, CONF_T_STRING, 0, 0, d, r, st, f, char *, NULL, NULL, \
	    NULL, NULL, doc)
#define CONF_PATH(n, size, d, r, st, f, doc)				\
	CONF_ROW(n, CONF_T_PATH, 0, size, d, r, st, f, char *, NULL, NULL, \
	    NULL, NULL, doc)
#define CONF_MODE(n, d, r, st, f, doc)					\
	CONF_ROW(n, CONF_T_MODE, 0, 0777, d, r, st, f, mode_t, NULL, NULL, \
	    NULL, NULL, doc)
#define CONF_ENUM(n, t, set, exp, d, r, st, f, doc)			\
	CONF_ROW(n, CONF_T_ENUM, 0, 0, d, r, st, f, t, set, exp, NULL,	\
	    NULL, doc)
/* check (NULL: any string) judges an item; it names one in messages. */
#define CONF_LIST(n, check, it, exp, d, r, st, f, doc)			\
	CONF_ROW(n, CONF_T_LIST, 0, CONF_MAX_LIST_ITEMS, d, r, st, f,	\
	    struct conf_list, NULL, exp, check, it, doc)

#define SUN_PATH_SIZE sizeof(((struct sockaddr_un *)NULL)->sun_path)

/*
 * Every setting.  The order is the order of checking, so of which error a
 * file with several gets; the rows of a group are adjacent.  The listen
 * rows are the members of each group of the listen list.
 */
static const struct conf_setting conf_table[] = {
	CONF_STRING("listen.address", "*", CONF_APPLIED, conf_listener, address,
	    "\"*\" or a numeric IPv4 or IPv6 address to accept clients on"),
	CONF_U16("listen.port", 1, 65535, UPCASE_DEFAULT_PORT_STR, CONF_APPLIED,
	    conf_listener, port, "the port to accept clients on"),
	CONF_BOOL("listen.tcp", "true", CONF_APPLIED, conf_listener, tcp,
	    "whether to serve TCP on this address and port"),
	CONF_BOOL("listen.udp", "true", CONF_APPLIED, conf_listener, udp,
	    "whether to serve UDP on this address and port"),
	CONF_BOOL("listen.proxy_protocol", "false", CONF_APPLIED, conf_listener,
	    proxy_protocol, "TCP: each connection starts with a PROXY protocol "
	    "header (v1 or v2) from one of trusted_proxies, naming the client"),
	CONF_BOOL("listen.reuse_port", "false", CONF_APPLIED, conf_listener, reuse_port,
	    "SO_REUSEPORT: other upcased processes may bind the same address and "
	    "port, and the kernel spreads clients among them"),
	CONF_ENUM("io", enum iomode, conf_set_io,
	    "must be \"auto\", \"epoll\" or \"uring\"", "auto", CONF_RESTART, conf, io,
	    "the TCP workers' event API: io_uring where the kernel and the sandbox "
	    "allow it (auto), or epoll"),
	CONF_INT("tcp.threads", 0, CONF_MAX_THREADS, "0", CONF_RESTART, conf,
	    tcp_threads, "TCP worker threads; 0: one per CPU the process may use"),
	CONF_INT("tcp.send_buffer", 0, CONF_SOCKET_BUFFER_MAX, "65536", CONF_APPLIED,
	    conf, tcp_send_buffer, "SO_SNDBUF of each TCP connection, in bytes; "
	    "0: the kernel's autotuning"),
	CONF_INT("tcp.receive_buffer", 0, CONF_SOCKET_BUFFER_MAX, "65536",
	    CONF_APPLIED, conf, tcp_receive_buffer, "SO_RCVBUF of each TCP "
	    "connection, in bytes; 0: the kernel's autotuning"),
	CONF_INT("max_connections", 1, CONF_MAX_CONNECTIONS_MAX, "10000",
	    CONF_APPLIED, conf, max_connections,
	    "most TCP connections open at once, over all workers"),
	CONF_INT("idle_timeout", 1, CONF_IDLE_TIMEOUT_MAX, "300", CONF_APPLIED,
	    conf, idle_timeout, "seconds a TCP connection may make no progress"),
	CONF_INT("backlog", 1, CONF_BACKLOG_MAX, "1024", CONF_APPLIED, conf,
	    backlog, "listen(2) backlog of the TCP listeners"),
	CONF_INT("shutdown_timeout", 0, CONF_SHUTDOWN_TIMEOUT_MAX, "10",
	    CONF_APPLIED, conf, shutdown_timeout,
	    "seconds open connections get to finish after SIGTERM"),
	CONF_INT("upgrade_timeout", 1, CONF_UPGRADE_TIMEOUT_MAX, "30", CONF_APPLIED, conf,
	    upgrade_timeout, "seconds a new binary gets to take over on SIGUSR2"),
	CONF_ENUM("log.level", int, conf_set_log_level,
	    "must be one of err, warning, notice, info, debug", "info",
	    CONF_APPLIED, conf, log_level, "the least important messages logged"),
	CONF_ENUM("log.facility", int, conf_set_log_facility,
	    "must be one of daemon, user, local0 to local7", "daemon",
	    CONF_APPLIED, conf, log_facility, "the syslog facility"),
	CONF_ENUM("charset", enum transform_charset, conf_set_charset,
	    "must be \"utf-8\" or \"ascii\"", "utf-8", CONF_APPLIED, conf,
	    charset, "which letters are upper-cased: all of Unicode, or a-z"),
	CONF_LIST("access", conf_check_access_rule, "rule",
	    "must be a list of strings, such as "
	    "( \"allow 192.0.2.0/24\", \"deny all\" )", "( )", CONF_APPLIED,
	    conf, access, "allow/deny rules for clients, first match wins; "
	    "( ): allow all"),
	CONF_LIST("trusted_proxies", conf_check_cidr, "entry",
	    "must be a list of strings, such as ( \"127.0.0.1\", \"10.0.0.0/8\" )",
	    "( )", CONF_APPLIED, conf, trusted_proxies, "CIDRs of the load balancers "
	    "whose PROXY protocol headers are believed (listen.proxy_protocol)"),
	CONF_INT("proxy_timeout", 1, 60, "5", CONF_APPLIED, conf, proxy_timeout,
	    "seconds a connection on a proxy_protocol listener has to send its header"),
	CONF_BOOL("udp.guard", "true", CONF_APPLIED, conf, udp.guard,
	    "drop datagrams from privileged or own ports, martian sources, "
	    "and our own replies coming back"),
	CONF_INT("udp.rate_limit", 0, CONF_RATE_MAX, "100", CONF_APPLIED, conf,
	    udp.rate_limit, "UDP replies per second per source; 0: no limit"),
	CONF_INT("udp.burst", 1, CONF_RATE_MAX, "200", CONF_APPLIED, conf,
	    udp.burst, "UDP replies a source may get at once"),
	CONF_INT("udp.leak", 0, CONF_RATE_MAX, "4", CONF_APPLIED, conf, udp.leak,
	    "answer one in this many datagrams over the limit; 0: none"),
	CONF_LIST("udp.exempt", conf_check_cidr, "entry",
	    "must be a list of strings, such as ( \"127.0.0.0/8\", \"::1\" )",
	    "( \"127.0.0.0/8\", \"::1\" )", CONF_APPLIED, conf, udp.exempt,
	    "CIDRs whose datagrams skip the rate limit"),
	CONF_INT("udp.ipv4_prefix", 0, 32, "32", CONF_APPLIED, conf,
	    udp.ipv4_prefix, "the IPv4 prefix length that makes one source"),
	CONF_INT("udp.ipv6_prefix", 0, 128, "56", CONF_APPLIED, conf,
	    udp.ipv6_prefix, "the IPv6 prefix length that makes one source"),
	CONF_INT("udp.table_size", CONF_TABLE_SIZE_MIN, CONF_TABLE_SIZE_MAX,
	    "65536", CONF_APPLIED, conf, udp.table_size,
	    "UDP sources remembered per table and worker"),
	CONF_INT("udp.threads", 0, CONF_MAX_THREADS, "1", CONF_RESTART, conf, udp.threads,
	    "UDP worker threads, each with its own socket on every UDP listener; "
	    "0: one per CPU the process may use"),
	CONF_INT("limits.connections_per_source", 0, CONF_RATE_MAX, "64",
	    CONF_APPLIED, conf, limits.connections_per_source,
	    "open TCP connections per source; 0: unlimited"),
	CONF_INT("limits.connection_rate", 0, CONF_RATE_MAX, "50", CONF_APPLIED,
	    conf, limits.connection_rate,
	    "new TCP connections per second per source; 0: unlimited"),
	CONF_INT("limits.connection_burst", 1, CONF_RATE_MAX, "100",
	    CONF_APPLIED, conf, limits.connection_burst,
	    "new TCP connections a source may open at once"),
	CONF_INT("limits.ipv4_prefix", 0, 32, "32", CONF_APPLIED, conf,
	    limits.ipv4_prefix, "the IPv4 prefix length that makes one source"),
	CONF_INT("limits.ipv6_prefix", 0, 128, "64", CONF_APPLIED, conf,
	    limits.ipv6_prefix, "the IPv6 prefix length that makes one source"),
	CONF_LIST("limits.exempt", conf_check_cidr, "entry",
	    "must be a list of strings, such as ( \"127.0.0.0/8\", \"::1\" )",
	    "( \"127.0.0.0/8\", \"::1\" )", CONF_APPLIED, conf, limits.exempt,
	    "CIDRs whose connections skip the per-source limits"),
	CONF_INT("limits.table_size", CONF_TABLE_SIZE_MIN, CONF_TABLE_SIZE_MAX,
	    "65536", CONF_APPLIED, conf, limits.table_size,
	    "TCP sources tracked"),
	CONF_INT("limits.min_rate", 0, CONF_RATE_MAX, "2", CONF_APPLIED, conf,
	    limits.min_rate, "bytes per second a connection must average when "
	    "slots run short; 0: off"),
	CONF_INT("limits.min_rate_window", 1, CONF_MIN_RATE_WINDOW_MAX, "60",
	    CONF_APPLIED, conf, limits.min_rate_window,
	    "seconds before a connection's rate is judged"),
	CONF_STRING("user", "", CONF_RESTART, conf, user,
	    "user to switch to when started as root; \"\": stay"),
	CONF_PATH("pidfile", PATH_MAX, "", CONF_RESTART, conf, pidfile,
	    "file to write the PID to; \"\": none"),
	CONF_PATH("control_socket", SUN_PATH_SIZE, CONF_DEFAULT_CONTROL_SOCKET,
	    CONF_RESTART, conf, control_socket,
	    "UNIX socket for upcase --stats; \"\": none"),
	CONF_MODE("control_mode", "0660", CONF_RESTART, conf, control_mode,
	    "permissions of the control socket, an octal string"),
	CONF_STRING("metrics.address", "127.0.0.1", CONF_RESTART, conf, metrics.address,
	    "\"*\" or a numeric IPv4 or IPv6 address for the Prometheus endpoint"),
	CONF_INT("metrics.port", 0, 65535, "0", CONF_RESTART, conf, metrics.port,
	    "TCP port of the Prometheus endpoint (GET /metrics); 0: none"),
};

#define CONF_NROWS (sizeof(conf_table) / sizeof(conf_table[0]))
#define CONF_END   (conf_table + CONF_NROWS)

const struct conf_setting *
conf_settings(size_t *n)
{
	*n = CONF_NROWS;
	return conf_table;
}

static void *
conf_field(const struct conf_setting *r, void *base)
{
	return (char *)base + r->offset;
}

static const void *
conf_cfield(const struct conf_setting *r, const void *base)
{
	return (const char *)base + r->offset;
}

/* Length of "tcp." in "tcp.threads"; 0 for a setting outside any group. */
static size_t
conf_prefix_len(const struct conf_setting *r)
{
	const char *dot = strrchr(r->name, '.');

	return dot != NULL ? (size_t)(dot - r->name) + 1 : 0;
}

/* Its name inside its group: "threads". */
static const char *
conf_member(const struct conf_setting *r)
{
	return r->name + conf_prefix_len(r);
}

/* The first row of its group (whose rows are adjacent). */
static bool
conf_opens_group(const struct conf_setting *r)
{
	size_t len = conf_prefix_len(r);

	return len > 0 && (r == conf_table || strncmp(r[-1].name, r->name, len) != 0);
}

static bool
conf_is_string(const struct conf_setting *r)
{
	return r->type == CONF_T_STRING || r->type == CONF_T_PATH;
}

/* -------------------------------------------------------- storing values */

static void
conf_store_int(const struct conf_setting *r, void *field, long long v)
{
	if (r->size == sizeof(uint16_t))
		*(uint16_t *)field = (uint16_t)v;
	else
		*(int *)field = (int)v;
}

/* A copy of v, or NULL for "", replaces the field's string. */
static int
conf_store_string(void *field, const char *v)
{
	char *copy = NULL;

	if (*v != '\0' && (copy = strdup(v)) == NULL)
		return -1;
	free(*(char **)field);
	*(char **)field = copy;
	return 0;
}

/* A string of one to four octal digits (libconfig reads 0660 as decimal 660). */
static bool
conf_octal(const char *v, unsigned long *out)
{
	if (v == NULL || *v == '\0' || strlen(v) > 4 ||
	    strspn(v, "01234567") != strlen(v))
		return false;
	*out = strtoul(v, NULL, 8);
	return true;
}

/* ------------------------------------------------------ lists of strings */

void
conf_list_free(struct conf_list *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static bool
conf_listener_same(const struct conf_listener *a, const struct conf_listener *b)
{
	return a->port == b->port && a->tcp == b->tcp && a->udp == b->udp &&
	    a->reuse_port == b->reuse_port && addr_same(a->address, b->address);
}

/* The entries are unique (conf_check_duplicates), so each one found in the other set is enough. */
bool
conf_listen_equal(const struct conf *a, const struct conf *b)
{
	if (a->nlisteners != b->nlisteners)
		return false;
	for (size_t i = 0; i < a->nlisteners; i++) {
		size_t j;

		for (j = 0; j < b->nlisteners; j++)
			if (conf_listener_same(&a->listeners[i], &b->listeners[j]))
				break;
		if (j == b->nlisteners)
			return false;
	}
	return true;
}

bool
conf_list_equal(const struct conf_list *a, const struct conf_list *b)
{
	size_t i;

	if (a->n != b->n)
		return false;
	for (i = 0; i < a->n; i++)
		if (strcmp(a->v[i], b->v[i]) != 0)
			return false;
	return true;
}

/* A copy of src replaces dst; -1 (dst unchanged) when out of memory. */
static int
conf_list_copy(struct conf_list *dst, const struct conf_list *src)
{
	struct conf_list l = { NULL, 0 };

	if (src->n > 0 && (l.v = calloc(src->n, sizeof(*l.v))) == NULL)
		return -1;
	for (; l.n < src->n; l.n++)
		if ((l.v[l.n] = strdup(src->v[l.n])) == NULL) {
			conf_list_free(&l);
			return -1;
		}
	conf_list_free(dst);
	*dst = l;
	return 0;
}

static int conf_list_default(const struct conf_setting *r, void *field);

/* -------------------------------------------------------- defaults */

/* The row's default into its field; -1 when out of memory (or a bad default). */
static int
conf_set_default(const struct conf_setting *r, void *field)
{
	unsigned long m;
	char *end;
	long long v;

	switch (r->type) {
	case CONF_T_INT:
		errno = 0;
		v = strtoll(r->def, &end, 10);
		if (end == r->def || *end != '\0' || errno != 0 || v < r->min ||
		    v > r->max)
			return -1;
		conf_store_int(r, field, v);
		return 0;
	case CONF_T_BOOL:
		if (strcmp(r->def, "true") != 0 && strcmp(r->def, "false") != 0)
			return -1;
		*(bool *)field = strcmp(r->def, "true") == 0;
		return 0;
	case CONF_T_STRING:
	case CONF_T_PATH:
		return conf_store_string(field, r->def);
	case CONF_T_MODE:
		if (!conf_octal(r->def, &m) || m > (unsigned long)r->max)
			return -1;
		*(mode_t *)field = (mode_t)m;
		return 0;
	case CONF_T_ENUM:
		return r->set_enum(r->def, field);
	case CONF_T_LIST:
		return conf_list_default(r, field);
	}
	return -1;
}

/* Every row of struct conf (listener false) or of one listener gets its default. */
static int
conf_set_defaults(void *base, bool listener)
{
	const struct conf_setting *r;

	for (r = conf_table; r < CONF_END; r++)
		if (r->listener == listener &&
		    conf_set_default(r, conf_field(r, base)) == -1)
			return -1;
	return 0;
}

/* The strings and lists of struct conf (listener false) or of one listener. */
static void
conf_free_strings(void *base, bool listener)
{
	const struct conf_setting *r;

	for (r = conf_table; r < CONF_END; r++)
		if (r->listener == listener && conf_is_string(r))
			free(*(char **)conf_field(r, base));
		else if (r->listener == listener && r->type == CONF_T_LIST)
			conf_list_free(conf_field(r, base));
}

/* ---------------------------------------------------------------- errors */

struct conf_ctx {
	const char *name;    /* file name for messages, as the caller gave it */
	const char *text;    /* the text libconfig read, to re-read integer literals */
	const struct confsrc *src;  /* its files and lines; NULL: text is name's */
	char       *err;
	size_t      errlen;
};

/* The file and line that line of the text libconfig read came from. */
static void
conf_where(const struct conf_ctx *ctx, int line, const char **file, int *fline)
{
	*file = ctx->name;
	*fline = line;
	if (ctx->src != NULL && line > 0)
		confsrc_where(ctx->src, line, file, fline);
}

static void conf_err(struct conf_ctx *, const config_setting_t *,
    const char *, ...) __attribute__((format(printf, 3, 4)));

/*
 * "FILE:LINE: message", or "FILE: message" when there is no line: the
 * file and line the setting came from, an included file's too.
 */
static void
conf_err(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = ctx->name;
	int line = 0;
	va_list ap;
	int n;

	if (ctx->err == NULL || ctx->errlen == 0)
		return;
	if (s != NULL)
		conf_where(ctx, (int)config_setting_source_line(s), &file, &line);
	if (line > 0)
		n = snprintf(ctx->err, ctx->errlen, "%s:%d: ", file, line);
	else
		n = snprintf(ctx->err, ctx->errlen, "%s: ", file);
	if (n < 0 || (size_t)n >= ctx->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(ctx->err + n, ctx->errlen - n, fmt, ap);
	va_end(ap);
}

static int
conf_oom(struct conf_ctx *ctx)
{
	conf_err(ctx, NULL, "out of memory");
	return -1;
}

/* Edit distance, for "did you mean"; names longer than 31 bytes get none. */
static size_t
conf_distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[32], i, j;

	if (la >= 32 || lb >= 32)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		row[j] = j;
	for (i = 1; i <= la; i++) {
		size_t diag = row[0], up;

		row[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			up = row[j];
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			diag = up;
			row[j] = best;
		}
	}
	return row[lb];
}

/* --------------------------------------------------- names, did you mean */

/* Whether r is under prefix (plen bytes, "" or "tcp.") with name as its next part. */
static bool
conf_row_has(const struct conf_setting *r, const char *prefix, size_t plen,
    const char *name)
{
	size_t n = strlen(name);

	return strncmp(r->name, prefix, plen) == 0 &&
	    strncmp(r->name + plen, name, n) == 0 &&
	    (r->name[plen + n] == '\0' || r->name[plen + n] == '.');
}

/* The closest name under prefix, if close enough to be a typo of it. */
static const char *
conf_suggest(const char *name, const char *prefix, size_t plen,
    char *buf, size_t buflen)
{
	const struct conf_setting *r;
	const char *best = NULL;
	size_t bestd = 3, d, n;
	char part[32];

	for (r = conf_table; r < CONF_END; r++) {
		if (strncmp(r->name, prefix, plen) != 0 ||
		    (n = strcspn(r->name + plen, ".")) >= sizeof(part))
			continue;
		memcpy(part, r->name + plen, n);
		part[n] = '\0';
		d = conf_distance(name, part);
		if (d < bestd && d < n / 2 + 1) {
			bestd = d;
			best = buf;
			snprintf(buf, buflen, "%s", part);
		}
	}
	return best;
}

/* A typo must not silently leave a setting at its default. */
static int
conf_check_names(struct conf_ctx *ctx, const config_setting_t *group,
    const char *prefix, size_t plen)
{
	const struct conf_setting *r;
	const config_setting_t *s;
	const char *name, *hint;
	char buf[32];
	int i;

	for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
		name = config_setting_name(s);
		for (r = conf_table; r < CONF_END; r++)
			if (conf_row_has(r, prefix, plen, name))
				break;
		if (r < CONF_END)
			continue;
		hint = conf_suggest(name, prefix, plen, buf, sizeof(buf));
		if (hint != NULL)
			conf_err(ctx, s, "unknown setting '%.*s%s' (did you mean '%.*s%s'?)",
			    (int)plen, prefix, name, (int)plen, prefix, hint);
		else
			conf_err(ctx, s, "unknown setting '%.*s%s'", (int)plen, prefix,
			    name);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------- integer literals */

static bool
conf_is_name_char(char ch)
{
	return isalnum((unsigned char)ch) || ch == '_' || ch == '-' || ch == '*';
}

/* Skip white space, line breaks and comments (C, C++ and shell style), as libconfig does. */
static const char *
conf_skip_blank(const char *q)
{
	for (;;) {
		q += strspn(q, " \t\r\n");
		if (q[0] == '/' && q[1] == '*') {
			const char *e = strstr(q + 2, "*/");

			if (e == NULL)
				return q + strlen(q);
			q = e + 2;
		} else if ((q[0] == '/' && q[1] == '/') || q[0] == '#')
			q += strcspn(q, "\n");
		else
			return q;
	}
}

/* After a setting's name: true if "= literal" follows and it overflows int. */
static bool
conf_literal_overflows(const char *q)
{
	char *end;
	long long v;

	q = conf_skip_blank(q);
	if (*q != '=' && *q != ':')
		return false;
	q = conf_skip_blank(q + 1);
	errno = 0;
	v = strtoll(q, &end, strncasecmp(q + (*q == '-' || *q == '+'), "0x", 2)
	    == 0 ? 16 : 10);
	if (end == q || *end == 'L' || *end == '.' || *end == 'e' || *end == 'E')
		return false;
	return errno == ERANGE || v < INT_MIN || v > INT_MAX;
}

/*
 * libconfig 1.5 reads a decimal or hex literal without an L suffix with
 * atoi()/strtoul(), so "port = 4294979296;" arrives as 12000.  Re-read the
 * literals after "name =" (the name on the setting's line, outside strings
 * and comments; the value after any blanks and comments); true if one does
 * not fit an int (every range here is within int, so that is out of
 * range).  The text holds the included files too (confsrc), so their
 * settings are re-read as well.
 */
static bool
conf_int_overflows(const struct conf_ctx *ctx, const config_setting_t *s)
{
	const char *p = ctx->text, *q, *name = config_setting_name(s);
	size_t nlen = strlen(name);
	unsigned int line = config_setting_source_line(s);
	bool quoted = false;

	if (p == NULL)
		return false;
	for (; line > 1 && p != NULL; line--)
		if ((p = strchr(p, '\n')) != NULL)
			p++;
	for (q = p; q != NULL && *q != '\0' && *q != '\n'; q++) {
		if (quoted) {
			if (*q == '\\' && q[1] != '\0' && q[1] != '\n')
				q++;
			else if (*q == '"')
				quoted = false;
		} else if (*q == '"')
			quoted = true;
		else if (*q == '#' || (*q == '/' && (q[1] == '/' || q[1] == '*')))
			break;
		else if ((q == p || !conf_is_name_char(q[-1])) &&
		    strncmp(q, name, nlen) == 0 && !conf_is_name_char(q[nlen]) &&
		    conf_literal_overflows(q + nlen))
			return true;
	}
	return false;
}

/* ------------------------------------------------------ reading one row */

/* Ints and int64s are fine, floats are not. */
static int
conf_read_int(struct conf_ctx *ctx, const config_setting_t *s,
    const struct conf_setting *r, void *field)
{
	long long v;

	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_err(ctx, s, "%s must be an integer", r->name);
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < r->min || v > r->max || conf_int_overflows(ctx, s)) {
		conf_err(ctx, s, "%s must be between %lld and %lld", r->name,
		    r->min, r->max);
		return -1;
	}
	conf_store_int(r, field, v);
	return 0;
}

static int
conf_read_bool(struct conf_ctx *ctx, const config_setting_t *s,
    const struct conf_setting *r, void *field)
{
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_err(ctx, s, "%s must be true or false", r->name);
		return -1;
	}
	*(bool *)field = config_setting_get_bool(s) != 0;
	return 0;
}

/* CONF_T_STRING, CONF_T_PATH and CONF_T_ENUM. */
static int
conf_read_string(struct conf_ctx *ctx, const config_setting_t *s,
    const struct conf_setting *r, void *field)
{
	const char *v;

	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ctx, s, "%s must be a string", r->name);
		return -1;
	}
	v = config_setting_get_string(s);
	if (r->type == CONF_T_ENUM) {
		if (r->set_enum(v, field) == -1) {
			conf_err(ctx, s, "%s %s", r->name, r->expect);
			return -1;
		}
		return 0;
	}
	if (r->type == CONF_T_PATH && *v != '\0' && *v != '/') {
		conf_err(ctx, s, "%s must be an absolute path or \"\"", r->name);
		return -1;
	}
	if (r->type == CONF_T_PATH && strlen(v) >= (size_t)r->max) {
		conf_err(ctx, s, "%s must be shorter than %lld bytes", r->name, r->max);
		return -1;
	}
	return conf_store_string(field, v) == -1 ? conf_oom(ctx) : 0;
}

/* A string, because libconfig reads 0660 as decimal 660. */
static int
conf_read_mode(struct conf_ctx *ctx, const config_setting_t *s,
    const struct conf_setting *r, void *field)
{
	unsigned long m;

	if (!conf_octal(config_setting_get_string(s), &m)) {
		conf_err(ctx, s, "%s must be a string of octal digits, "
		    "such as \"%s\"", r->name, r->def);
		return -1;
	}
	if (m < (unsigned long)r->min || m > (unsigned long)r->max) {
		conf_err(ctx, s, "%s must be between %04llo and %04llo", r->name,
		    (unsigned long long)r->min, (unsigned long long)r->max);
		return -1;
	}
	*(mode_t *)field = (mode_t)m;
	return 0;
}

/*
 * A list or an array of strings (libconfig checks that an array's items
 * share one type).  An item's message names it by its position from 1,
 * at its own line when libconfig knows it: "access rule 3: ...".
 */
static int
conf_read_list(struct conf_ctx *ctx, const config_setting_t *s,
    const struct conf_setting *r, void *field)
{
	struct conf_list l = { NULL, 0 };
	const config_setting_t *e, *at;
	char reason[256];
	const char *v;
	int n;

	if (!config_setting_is_list(s) && !config_setting_is_array(s)) {
		conf_err(ctx, s, "%s %s", r->name, r->expect);
		return -1;
	}
	if ((n = config_setting_length(s)) > r->max) {
		conf_err(ctx, s, "%s must have at most %lld entries", r->name, r->max);
		return -1;
	}
	if (n > 0 && (l.v = calloc((size_t)n, sizeof(*l.v))) == NULL)
		return conf_oom(ctx);
	for (; l.n < (size_t)n; l.n++) {
		e = config_setting_get_elem(s, (unsigned int)l.n);
		at = config_setting_source_line(e) > 0 ? e : s;
		if (config_setting_type(e) != CONFIG_TYPE_STRING) {
			conf_err(ctx, at, "%s %s %zu must be a string", r->name,
			    r->item, l.n + 1);
			goto fail;
		}
		v = config_setting_get_string(e);
		reason[0] = '\0';
		if (r->check_item != NULL &&
		    r->check_item(v, reason, sizeof(reason)) == -1) {
			if (reason[0] == '\0')
				snprintf(reason, sizeof(reason), "'%s' is not valid", v);
			conf_err(ctx, at, "%s %s %zu: %s", r->name, r->item, l.n + 1,
			    reason);
			goto fail;
		}
		if ((l.v[l.n] = strdup(v)) == NULL) {
			conf_oom(ctx);
			goto fail;
		}
	}
	conf_list_free(field);
	*(struct conf_list *)field = l;
	return 0;
fail:
	conf_list_free(&l);
	return -1;
}

/*
 * A list row's default, which is spelt as in the file: read by libconfig
 * and conf_read_list, as a file would be.  -1 on a bad default or when
 * out of memory.
 */
static int
conf_list_default(const struct conf_setting *r, void *field)
{
	struct conf_ctx ctx = { r->name, NULL, NULL, NULL, 0 };
	const config_setting_t *s;
	size_t len = strlen(r->def) + sizeof("v = ;\n");
	config_t cfg;
	char *text;
	int rc = -1;

	if ((text = malloc(len)) == NULL)
		return -1;
	snprintf(text, len, "v = %s;\n", r->def);
	config_init(&cfg);
	if (config_read_string(&cfg, text) &&
	    (s = config_lookup(&cfg, "v")) != NULL)
		rc = conf_read_list(&ctx, s, r, field);
	config_destroy(&cfg);
	free(text);
	return rc;
}

/* Row r's member of group g, if there, into its field of base. */
static int
conf_read(struct conf_ctx *ctx, const config_setting_t *g,
    const struct conf_setting *r, void *base)
{
	const config_setting_t *s;
	void *field = conf_field(r, base);

	if ((s = config_setting_get_member(g, conf_member(r))) == NULL)
		return 0;
	switch (r->type) {
	case CONF_T_INT:
		return conf_read_int(ctx, s, r, field);
	case CONF_T_BOOL:
		return conf_read_bool(ctx, s, r, field);
	case CONF_T_STRING:
	case CONF_T_PATH:
	case CONF_T_ENUM:
		return conf_read_string(ctx, s, r, field);
	case CONF_T_MODE:
		return conf_read_mode(ctx, s, r, field);
	case CONF_T_LIST:
		return conf_read_list(ctx, s, r, field);
	}
	return -1;
}

/* ------------------------------------------------------ groups and lists */

/* "{ threads = 0; }": the group's rows at their defaults, for a message. */
static const char *
conf_example(const struct conf_setting *first, char *buf, size_t buflen)
{
	size_t plen = conf_prefix_len(first), n = 1;
	const struct conf_setting *r;
	const char *q;

	snprintf(buf, buflen, "{");
	for (r = first; r < CONF_END && n < buflen &&
	    strncmp(r->name, first->name, plen) == 0; r++) {
		q = r->type == CONF_T_INT || r->type == CONF_T_BOOL ||
		    r->type == CONF_T_LIST ? "" : "\"";
		n += (size_t)snprintf(buf + n, buflen - n, " %s = %s%s%s;",
		    conf_member(r), q, r->def, q);
	}
	if (n < buflen)
		snprintf(buf + n, buflen - n, " }");
	return buf;
}

/* The group that first's rows are members of (*out NULL if absent); -1 if it is not a group. */
static int
conf_enter_group(struct conf_ctx *ctx, const config_setting_t *root,
    const struct conf_setting *first, const config_setting_t **out)
{
	size_t plen = conf_prefix_len(first);
	const config_setting_t *g;
	char name[64], example[512];

	*out = NULL;
	snprintf(name, sizeof(name), "%.*s", (int)plen - 1, first->name);
	if ((g = config_setting_get_member(root, name)) == NULL)
		return 0;
	if (!config_setting_is_group(g)) {
		conf_err(ctx, g, "%s must be a group, such as %s", name,
		    conf_example(first, example, sizeof(example)));
		return -1;
	}
	*out = g;
	return conf_check_names(ctx, g, first->name, plen);
}

/*
 * Two listeners on one port and protocol whose addresses overlap (see
 * addr_overlap) could never both bind: what Linux refuses with EADDRINUSE
 * is found here, with a line number, before any socket.
 */
static int
conf_check_duplicates(struct conf_ctx *ctx, const config_setting_t *list,
    const struct conf *c)
{
	const struct conf_listener *a, *b;
	char first[PATH_MAX + 32];
	size_t i, j;

	for (i = 1; i < c->nlisteners; i++) {
		b = &c->listeners[i];
		for (j = 0; j < i; j++) {
			a = &c->listeners[j];
			if (a->port != b->port || !addr_overlap(a->address, b->address) ||
			    !((a->tcp && b->tcp) || (a->udp && b->udp)))
				continue;
			/* "line 3", or "inc.conf:3" when they are in two files. */
			if (strcmp(a->file, b->file) == 0)
				snprintf(first, sizeof(first), "line %d", a->line);
			else
				snprintf(first, sizeof(first), "%s:%d", a->file, a->line);
			if (addr_same(a->address, b->address))
				conf_err(ctx, config_setting_get_elem(list, i),
				    "duplicate listener %s port %u %s (first on %s)",
				    b->address, b->port, a->tcp && b->tcp ? "tcp" : "udp",
				    first);
			else
				conf_err(ctx, config_setting_get_elem(list, i),
				    "listener %s port %u %s overlaps %s on %s "
				    "(a wildcard address covers the other)",
				    b->address, b->port, a->tcp && b->tcp ? "tcp" : "udp",
				    a->address, first);
			return -1;
		}
	}
	return 0;
}

static void
conf_free_listeners(struct conf *c)
{
	size_t i;

	if (c->listeners != NULL)
		for (i = 0; i < c->nlisteners; i++) {
			conf_free_strings(&c->listeners[i], true);
			free(c->listeners[i].file);
		}
	free(c->listeners);
	c->listeners = NULL;
	c->nlisteners = 0;
}

/* One group of the listen list: the listen rows, then what ties them together. */
static int
conf_parse_listener(struct conf_ctx *ctx, const config_setting_t *g,
    const struct conf_setting *first, struct conf_listener *l)
{
	const struct conf_setting *r;
	const char *file;

	conf_where(ctx, (int)config_setting_source_line(g), &file, &l->line);
	if ((l->file = strdup(file)) == NULL || conf_set_defaults(l, true) == -1)
		return conf_oom(ctx);
	if (conf_check_names(ctx, g, first->name, conf_prefix_len(first)) == -1)
		return -1;
	for (r = first; r < CONF_END; r++)
		if (r->listener && conf_read(ctx, g, r, l) == -1)
			return -1;
	if (addr_listen_parse(l->address, NULL) == -1) {
		conf_err(ctx, config_setting_get_member(g, "address"),
		    "listen.address must be \"*\" or a numeric IPv4 or IPv6 "
		    "address, not \"%s\" (host names are not resolved)",
		    l->address != NULL ? l->address : "");
		return -1;
	}
	if (!l->tcp && !l->udp) {
		conf_err(ctx, g, "listen entry has neither tcp nor udp enabled");
		return -1;
	}
	return 0;
}

/* The listen list, whose groups have the rows from first on as members. */
static int
conf_parse_listen(struct conf_ctx *ctx, const config_setting_t *root,
    const struct conf_setting *first, struct conf *c)
{
	const config_setting_t *list, *g;
	int i, n;

	if ((list = config_setting_get_member(root, "listen")) == NULL)
		return 0;
	n = config_setting_is_list(list) ? config_setting_length(list) : -1;
	if (n == -1) {
		conf_err(ctx, list, "listen must be a list of groups, "
		    "such as ( { address = \"*\"; port = 12000; } )");
		return -1;
	}
	if (n < 1 || n > CONF_MAX_LISTENERS) {
		conf_err(ctx, list, "listen must have between 1 and %d entries",
		    CONF_MAX_LISTENERS);
		return -1;
	}
	conf_free_listeners(c);
	if ((c->listeners = calloc(n, sizeof(*c->listeners))) == NULL)
		return conf_oom(ctx);
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, i);
		if (!config_setting_is_group(g)) {
			conf_err(ctx, g, "listen entries must be groups, "
			    "such as { port = 12000; }");
			return -1;
		}
		c->nlisteners++;	/* from here on conf_free() frees it */
		if (conf_parse_listener(ctx, g, first, &c->listeners[i]) == -1)
			return -1;
	}
	return conf_check_duplicates(ctx, list, c);
}

/* Every row, in table order, each group checked when its first row comes. */
static int
conf_parse_root(struct conf_ctx *ctx, const config_setting_t *root,
    struct conf *c)
{
	const config_setting_t *g = root;
	const struct conf_setting *r;

	if (conf_check_names(ctx, root, "", 0) == -1)
		return -1;
	for (r = conf_table; r < CONF_END; r++) {
		if (r->listener) {
			if (conf_opens_group(r) &&
			    conf_parse_listen(ctx, root, r, c) == -1)
				return -1;
			continue;
		}
		if (conf_prefix_len(r) == 0)
			g = root;
		else if (conf_opens_group(r) &&
		    conf_enter_group(ctx, root, r, &g) == -1)
			return -1;
		if (g != NULL && conf_read(ctx, g, r, c) == -1)
			return -1;
	}
	if (addr_listen_parse(c->metrics.address, NULL) == -1) {
		const config_setting_t *m = config_setting_get_member(root, "metrics");

		conf_err(ctx, m != NULL ? config_setting_get_member(m, "address") : root,
		    "metrics.address must be \"*\" or a numeric IPv4 or IPv6 address, "
		    "not \"%s\" (host names are not resolved)",
		    c->metrics.address != NULL ? c->metrics.address : "");
		return -1;
	}
	/* Nobody's header would be believed: every connection refused. */
	for (size_t i = 0; i < c->nlisteners; i++)
		if (c->listeners[i].proxy_protocol && c->listeners[i].tcp &&
		    c->trusted_proxies.n == 0) {
			conf_err(ctx, config_setting_get_elem(config_setting_get_member(root,
			    "listen"), (unsigned int)i), "proxy_protocol is on but "
			    "trusted_proxies is empty: list the load balancers' addresses");
			return -1;
		}
	return 0;
}

/* ------------------------------------------------------------ loading */

/*
 * Where libconfig looks for an @include: nothing can be opened below a
 * character device.  The text has none it would act on (confsrc_expand,
 * checked again below); should one slip through, libconfig fails to open
 * it (ENOTDIR, "cannot open include file") rather than read a FIFO or a
 * directory.
 */
#define CONF_NO_INCLUDE_DIR "/dev/null"

/* Let libconfig parse ctx->text, which confsrc_expand() made. */
static int
conf_read_config(struct conf_ctx *ctx, config_t *cfg)
{
	const char *file;
	int line, last = ctx->src->lines;

	if (confsrc_live_include(ctx->text) != NULL) {
		conf_err(ctx, NULL, "internal error: an @include left in the "
		    "expanded text");
		return -1;
	}
	config_set_include_dir(cfg, CONF_NO_INCLUDE_DIR);
	if (config_read_string(cfg, ctx->text))
		return 0;
	/* At end of file libconfig names the line after the last one. */
	line = config_error_line(cfg);
	conf_where(ctx, line > last ? last : line, &file, &line);
	snprintf(ctx->err, ctx->errlen, "%s:%d: %s%s", file, line,
	    config_error_text(cfg), config_error_line(cfg) > last && last > 0 ?
	    " (unexpected end of file)" : "");
	return -1;
}

struct conf *
conf_load_src(const struct confsrc *src, char *err, size_t errlen)
{
	struct conf_ctx ctx = { src->files[0], src->text, src, err, errlen };
	struct conf *c;
	config_t cfg;
	int rc;

	if ((c = conf_default()) == NULL || (c->path = strdup(ctx.name)) == NULL) {
		conf_oom(&ctx);
		conf_free(c);
		return NULL;
	}
	config_init(&cfg);
	rc = conf_read_config(&ctx, &cfg);
	if (rc == 0)
		rc = conf_parse_root(&ctx, config_root_setting(&cfg), c);
	config_destroy(&cfg);
	if (rc == -1) {
		conf_free(c);
		return NULL;
	}
	return c;
}

/*
 * The text and its includes, read by confsrc and not by libconfig: its
 * scanner exit()s on a read error (a directory, say) and blocks in
 * open() on a FIFO; this way every file is checked first and an
 * unreadable one gets strerror.
 */
static struct conf *
conf_expand_load(const char *path, const char *text, const char *incdir,
    char *err, size_t errlen)
{
	struct confsrc src;
	struct conf *c;

	if (confsrc_expand(&conf_fs_real, path, text, incdir, CONF_MAX_FILE_SIZE,
	    &src, err, errlen) == -1)
		return NULL;
	c = conf_load_src(&src, err, errlen);
	confsrc_free(&src);
	return c;
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf *c;
	char *dir = NULL, *slash;

	/* Relative @include paths are looked up next to the main file. */
	if ((slash = strrchr(path, '/')) != NULL) {
		if ((dir = strdup(path)) == NULL) {
			snprintf(err, errlen, "%s: out of memory", path);
			return NULL;
		}
		dir[slash == path ? 1 : slash - path] = '\0';
	}
	c = conf_expand_load(path, NULL, dir, err, errlen);
	free(dir);
	return c;
}

struct conf *
conf_load_string(const char *text, const char *name, char *err, size_t errlen)
{
	return conf_expand_load(name, text, NULL, err, errlen);
}

struct conf *
conf_default(void)
{
	struct conf *c;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->listeners = calloc(1, sizeof(*c->listeners))) == NULL) {
		free(c);
		return NULL;
	}
	c->nlisteners = 1;
	if (conf_set_defaults(c, false) == -1 ||
	    conf_set_defaults(&c->listeners[0], true) == -1) {
		conf_free(c);
		return NULL;
	}
	return c;
}

void
conf_free(struct conf *c)
{
	if (c == NULL)
		return;
	conf_free_listeners(c);
	conf_free_strings(c, false);
	free(c->path);
	free(c);
}

/* ---------------------------------------------------------------- reload */

static bool
conf_same_value(const struct conf_setting *r, const struct conf *a,
    const struct conf *b)
{
	const char *sa, *sb;

	if (r->type == CONF_T_LIST)
		return conf_list_equal(conf_cfield(r, a), conf_cfield(r, b));
	if (!conf_is_string(r))
		return memcmp(conf_cfield(r, a), conf_cfield(r, b), r->size) == 0;
	sa = *(char *const *)conf_cfield(r, a);
	sb = *(char *const *)conf_cfield(r, b);
	return sa == NULL || sb == NULL ? sa == sb : strcmp(sa, sb) == 0;
}

int
conf_keep_restart_only(const struct conf *old, struct conf *new,
    void (*changed)(const char *name, void *arg), void *arg)
{
	const struct conf_setting *r;
	const char *v;

	for (r = conf_table; r < CONF_END; r++) {
		/* A listener's settings come and go with its socket. */
		if (r->reload != CONF_RESTART || r->listener ||
		    conf_same_value(r, old, new))
			continue;
		if (changed != NULL)
			changed(r->name, arg);
		if (r->type == CONF_T_LIST) {
			if (conf_list_copy(conf_field(r, new), conf_cfield(r, old)) == -1)
				return -1;
			continue;
		}
		if (!conf_is_string(r)) {
			memcpy(conf_field(r, new), conf_cfield(r, old), r->size);
			continue;
		}
		v = *(char *const *)conf_cfield(r, old);
		if (conf_store_string(conf_field(r, new), v != NULL ? v : "") == -1)
			return -1;
	}
	return 0;
}
