/*
 * conf.c: read upcased.conf (libconfig syntax) into a fresh struct conf and
 * validate every setting.  Pure: it reads the file and nothing else (no
 * sockets, no name or user look-ups, no logging), so -t, start-up and
 * SIGHUP can all run it.  The first problem found goes into the caller's
 * buffer as "FILE:LINE: message".
 */
#include "config.h"

#include <sys/types.h>
#include <sys/un.h>

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libconfig.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include "addr.h"
#include "conf.h"
#include "log.h"
#include "transform.h"

/* A config file is a few hundred bytes; refuse anything absurd. */
#define CONF_MAX_FILE_SIZE (1024 * 1024)

struct conf_ctx {
	const char *name;    /* file name for messages, as the caller gave it */
	const char *text;    /* the file's text, to re-read integer literals */
	const char *prefix;  /* "", "tcp.", "log." or "listen.": for messages */
	char       *err;
	size_t      errlen;
};

static const char *const conf_top_names[] = {
	"listen", "tcp", "max_connections", "idle_timeout", "backlog",
	"shutdown_timeout", "charset", "log", "user", "pidfile",
	"control_socket", "control_mode", NULL
};
static const char *const conf_tcp_names[] = { "threads", NULL };
static const char *const conf_log_names[] = { "level", "facility", NULL };
static const char *const conf_listen_names[] = {
	"address", "port", "tcp", "udp", NULL
};

static void conf_err(struct conf_ctx *, const config_setting_t *,
    const char *, ...) __attribute__((format(printf, 3, 4)));

/* "FILE:LINE: message", or "FILE: message" when there is no line. */
static void
conf_err(struct conf_ctx *ctx, const config_setting_t *s, const char *fmt, ...)
{
	const char *file = ctx->name;
	unsigned int line = 0;
	va_list ap;
	int n;

	if (ctx->err == NULL || ctx->errlen == 0)
		return;
	if (s != NULL) {
		if (config_setting_source_file(s) != NULL)
			file = config_setting_source_file(s);
		line = config_setting_source_line(s);
	}
	if (line > 0)
		n = snprintf(ctx->err, ctx->errlen, "%s:%u: ", file, line);
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

static const char *
conf_suggest(const char *name, const char *const *known)
{
	const char *best = NULL;
	size_t bestd = 3, d;

	for (; *known != NULL; known++) {
		d = conf_distance(name, *known);
		if (d < bestd && d < strlen(*known) / 2 + 1) {
			bestd = d;
			best = *known;
		}
	}
	return best;
}

/* A typo must not silently leave a setting at its default. */
static int
conf_check_names(struct conf_ctx *ctx, const config_setting_t *group,
    const char *const *known)
{
	const config_setting_t *s;
	const char *const *k;
	const char *hint;
	int i;

	for (i = 0; (s = config_setting_get_elem(group, i)) != NULL; i++) {
		for (k = known; *k != NULL; k++)
			if (strcmp(config_setting_name(s), *k) == 0)
				break;
		if (*k != NULL)
			continue;
		hint = conf_suggest(config_setting_name(s), known);
		if (hint != NULL)
			conf_err(ctx, s, "unknown setting '%s%s' (did you mean '%s%s'?)",
			    ctx->prefix, config_setting_name(s), ctx->prefix, hint);
		else
			conf_err(ctx, s, "unknown setting '%s%s'", ctx->prefix,
			    config_setting_name(s));
		return -1;
	}
	return 0;
}

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
 * range).  Settings from @include files are not re-read.
 */
static bool
conf_int_overflows(const struct conf_ctx *ctx, const config_setting_t *s)
{
	const char *p = ctx->text, *q, *name = config_setting_name(s);
	size_t nlen = strlen(name);
	unsigned int line = config_setting_source_line(s);
	bool quoted = false;

	if (p == NULL || config_setting_source_file(s) != NULL)
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

/* Absent: leave *out alone.  Ints and int64s are fine, floats are not. */
static int
conf_get_int(struct conf_ctx *ctx, const config_setting_t *group,
    const char *name, long long min, long long max, int *out)
{
	const config_setting_t *s;
	long long v;

	if ((s = config_setting_get_member(group, name)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_INT &&
	    config_setting_type(s) != CONFIG_TYPE_INT64) {
		conf_err(ctx, s, "%s%s must be an integer", ctx->prefix, name);
		return -1;
	}
	v = config_setting_get_int64(s);
	if (v < min || v > max || conf_int_overflows(ctx, s)) {
		conf_err(ctx, s, "%s%s must be between %lld and %lld",
		    ctx->prefix, name, min, max);
		return -1;
	}
	*out = (int)v;
	return 0;
}

static int
conf_get_bool(struct conf_ctx *ctx, const config_setting_t *group,
    const char *name, bool *out)
{
	const config_setting_t *s;

	if ((s = config_setting_get_member(group, name)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_BOOL) {
		conf_err(ctx, s, "%s%s must be true or false", ctx->prefix, name);
		return -1;
	}
	*out = config_setting_get_bool(s) != 0;
	return 0;
}

/* *out points into libconfig's tree: valid until config_destroy(). */
static int
conf_get_string(struct conf_ctx *ctx, const config_setting_t *group,
    const char *name, const char **out, const config_setting_t **where)
{
	const config_setting_t *s;

	if ((s = config_setting_get_member(group, name)) == NULL)
		return 0;
	if (config_setting_type(s) != CONFIG_TYPE_STRING) {
		conf_err(ctx, s, "%s%s must be a string", ctx->prefix, name);
		return -1;
	}
	*out = config_setting_get_string(s);
	if (where != NULL)
		*where = s;
	return 0;
}

/* Absent: *out untouched; "": NULL; else an absolute path of < maxlen bytes. */
static int
conf_get_path(struct conf_ctx *ctx, const config_setting_t *group,
    const char *name, size_t maxlen, char **out)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	char *copy = NULL;

	if (conf_get_string(ctx, group, name, &v, &s) == -1)
		return -1;
	if (v == NULL)
		return 0;
	if (*v != '\0' && *v != '/') {
		conf_err(ctx, s, "%s must be an absolute path or \"\"", name);
		return -1;
	}
	if (strlen(v) >= maxlen) {
		conf_err(ctx, s, "%s must be shorter than %zu bytes", name, maxlen);
		return -1;
	}
	if (*v != '\0' && (copy = strdup(v)) == NULL)
		return conf_oom(ctx);
	free(*out);
	*out = copy;
	return 0;
}

/* A string, because libconfig reads 0660 as decimal 660. */
static int
conf_get_mode(struct conf_ctx *ctx, const config_setting_t *group,
    const char *name, mode_t *out)
{
	const config_setting_t *s;
	const char *v;
	unsigned long m;

	if ((s = config_setting_get_member(group, name)) == NULL)
		return 0;
	v = config_setting_get_string(s);
	if (v == NULL || *v == '\0' || strlen(v) > 4 ||
	    strspn(v, "01234567") != strlen(v)) {
		conf_err(ctx, s, "%s must be a string of octal digits, "
		    "such as \"0660\"", name);
		return -1;
	}
	if ((m = strtoul(v, NULL, 8)) > 0777) {
		conf_err(ctx, s, "%s must be between 0000 and 0777", name);
		return -1;
	}
	*out = (mode_t)m;
	return 0;
}

/* A group member, or NULL when absent.  -1 if it is not a group. */
static int
conf_get_group(struct conf_ctx *ctx, const config_setting_t *parent,
    const char *name, const char *example, config_setting_t **out)
{
	config_setting_t *s;

	*out = NULL;
	if ((s = config_setting_get_member(parent, name)) == NULL)
		return 0;
	if (!config_setting_is_group(s)) {
		conf_err(ctx, s, "%s must be a group, such as %s", name, example);
		return -1;
	}
	*out = s;
	return 0;
}

static int
conf_parse_listener(struct conf_ctx *ctx, const config_setting_t *g,
    struct conf_listener *l)
{
	const config_setting_t *s = NULL;
	const char *addr = "*";
	int port = CONF_DEFAULT_PORT;

	l->tcp = l->udp = true;
	l->line = (int)config_setting_source_line(g);
	if (conf_check_names(ctx, g, conf_listen_names) == -1 ||
	    conf_get_string(ctx, g, "address", &addr, &s) == -1 ||
	    conf_get_int(ctx, g, "port", 1, 65535, &port) == -1 ||
	    conf_get_bool(ctx, g, "tcp", &l->tcp) == -1 ||
	    conf_get_bool(ctx, g, "udp", &l->udp) == -1)
		return -1;
	if (addr_listen_parse(addr, NULL) == -1) {
		conf_err(ctx, s, "listen.address must be \"*\" or a numeric "
		    "IPv4 or IPv6 address, not \"%s\" (host names are not "
		    "resolved)", addr);
		return -1;
	}
	if (!l->tcp && !l->udp) {
		conf_err(ctx, g, "listen entry has neither tcp nor udp enabled");
		return -1;
	}
	l->port = (uint16_t)port;
	if ((l->address = strdup(addr)) == NULL)
		return conf_oom(ctx);
	return 0;
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
	size_t i, j;

	for (i = 1; i < c->nlisteners; i++) {
		b = &c->listeners[i];
		for (j = 0; j < i; j++) {
			a = &c->listeners[j];
			if (a->port != b->port || !addr_overlap(a->address, b->address) ||
			    !((a->tcp && b->tcp) || (a->udp && b->udp)))
				continue;
			if (addr_same(a->address, b->address))
				conf_err(ctx, config_setting_get_elem(list, i),
				    "duplicate listener %s port %u %s (first on line %d)",
				    b->address, b->port, a->tcp && b->tcp ? "tcp" : "udp",
				    a->line);
			else
				conf_err(ctx, config_setting_get_elem(list, i),
				    "listener %s port %u %s overlaps %s on line %d "
				    "(a wildcard address covers the other)",
				    b->address, b->port, a->tcp && b->tcp ? "tcp" : "udp",
				    a->address, a->line);
			return -1;
		}
	}
	return 0;
}

static int
conf_parse_listen(struct conf_ctx *ctx, const config_setting_t *root,
    struct conf *c)
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
	for (i = 0; i < (int)c->nlisteners; i++)
		free(c->listeners[i].address);
	free(c->listeners);
	c->nlisteners = 0;
	if ((c->listeners = calloc(n, sizeof(*c->listeners))) == NULL)
		return conf_oom(ctx);
	ctx->prefix = "listen.";
	for (i = 0; i < n; i++) {
		g = config_setting_get_elem(list, i);
		if (!config_setting_is_group(g)) {
			conf_err(ctx, g, "listen entries must be groups, "
			    "such as { port = 12000; }");
			return -1;
		}
		if (conf_parse_listener(ctx, g, &c->listeners[i]) == -1)
			return -1;
		c->nlisteners++;
	}
	ctx->prefix = "";
	return conf_check_duplicates(ctx, list, c);
}

static int
conf_parse_tcp(struct conf_ctx *ctx, const config_setting_t *root,
    struct conf *c)
{
	config_setting_t *g;

	if (conf_get_group(ctx, root, "tcp", "{ threads = 0; }", &g) == -1)
		return -1;
	if (g == NULL)
		return 0;
	ctx->prefix = "tcp.";
	if (conf_check_names(ctx, g, conf_tcp_names) == -1 ||
	    conf_get_int(ctx, g, "threads", 0, CONF_MAX_THREADS,
	    &c->tcp_threads) == -1)
		return -1;
	ctx->prefix = "";
	return 0;
}

static int
conf_parse_log(struct conf_ctx *ctx, const config_setting_t *root,
    struct conf *c)
{
	const config_setting_t *s = NULL;
	config_setting_t *g;
	const char *v = NULL;
	int n;

	if (conf_get_group(ctx, root, "log",
	    "{ level = \"info\"; facility = \"daemon\"; }", &g) == -1)
		return -1;
	if (g == NULL)
		return 0;
	ctx->prefix = "log.";
	if (conf_check_names(ctx, g, conf_log_names) == -1 ||
	    conf_get_string(ctx, g, "level", &v, &s) == -1)
		return -1;
	if (v != NULL) {
		n = log_level_from_name(v);
		if (n < LOG_ERR || n > LOG_DEBUG) {
			conf_err(ctx, s, "log.level must be one of err, warning, "
			    "notice, info, debug");
			return -1;
		}
		c->log_level = n;
	}
	v = NULL;
	if (conf_get_string(ctx, g, "facility", &v, &s) == -1)
		return -1;
	if (v != NULL) {
		if ((n = log_facility_from_name(v)) == -1) {
			conf_err(ctx, s, "log.facility must be one of daemon, "
			    "user, local0 to local7");
			return -1;
		}
		c->log_facility = n;
	}
	ctx->prefix = "";
	return 0;
}

static int
conf_parse_strings(struct conf_ctx *ctx, const config_setting_t *root,
    struct conf *c)
{
	const config_setting_t *s = NULL;
	const char *v = NULL;
	int cs;

	if (conf_get_string(ctx, root, "charset", &v, &s) == -1)
		return -1;
	if (v != NULL) {
		if ((cs = transform_charset_from_name(v)) == -1) {
			conf_err(ctx, s, "charset must be \"utf-8\" or \"ascii\"");
			return -1;
		}
		c->charset = (enum transform_charset)cs;
	}
	v = NULL;
	if (conf_get_string(ctx, root, "user", &v, &s) == -1)
		return -1;
	if (v != NULL) {
		free(c->user);
		c->user = NULL;
		if (*v != '\0' && (c->user = strdup(v)) == NULL)
			return conf_oom(ctx);
	}
	if (conf_get_path(ctx, root, "pidfile", PATH_MAX, &c->pidfile) == -1 ||
	    conf_get_path(ctx, root, "control_socket",
	    sizeof(((struct sockaddr_un *)NULL)->sun_path),
	    &c->control_socket) == -1 ||
	    conf_get_mode(ctx, root, "control_mode", &c->control_mode) == -1)
		return -1;
	return 0;
}

static int
conf_parse_root(struct conf_ctx *ctx, const config_setting_t *root,
    struct conf *c)
{
	if (conf_check_names(ctx, root, conf_top_names) == -1 ||
	    conf_parse_listen(ctx, root, c) == -1 ||
	    conf_parse_tcp(ctx, root, c) == -1 ||
	    conf_get_int(ctx, root, "max_connections", 1,
	    CONF_MAX_CONNECTIONS_MAX, &c->max_connections) == -1 ||
	    conf_get_int(ctx, root, "idle_timeout", 1, CONF_IDLE_TIMEOUT_MAX,
	    &c->idle_timeout) == -1 ||
	    conf_get_int(ctx, root, "backlog", 1, CONF_BACKLOG_MAX,
	    &c->backlog) == -1 ||
	    conf_get_int(ctx, root, "shutdown_timeout", 0,
	    CONF_SHUTDOWN_TIMEOUT_MAX, &c->shutdown_timeout) == -1 ||
	    conf_parse_log(ctx, root, c) == -1)
		return -1;
	return conf_parse_strings(ctx, root, c);
}

static int
conf_count_lines(const char *text)
{
	int n = 0;

	for (const char *p = text; *p != '\0'; p++)
		if (*p == '\n' || p[1] == '\0')
			n++;
	return n;
}

/*
 * Let libconfig parse ctx->text.  incdir, if not NULL, is where relative
 * @include paths are looked up, so that they do not depend on the working
 * directory.
 */
static int
conf_read_config(struct conf_ctx *ctx, config_t *cfg, const char *incdir)
{
	size_t len = strlen(ctx->text);
	char *copy;
	int ok;

	/*
	 * libconfig 1.5 calls a comment on a last line without '\n' a syntax
	 * error.  Add one only when missing: an extra one would move the line
	 * of an error at the end of the file.
	 */
	if ((copy = malloc(len + 2)) == NULL)
		return conf_oom(ctx);
	memcpy(copy, ctx->text, len + 1);
	if (len == 0 || copy[len - 1] != '\n')
		memcpy(copy + len, "\n", 2);
	if (incdir != NULL)
		config_set_include_dir(cfg, incdir);
	ok = config_read_string(cfg, copy);
	free(copy);
	if (!ok) {
		const char *file = config_error_file(cfg);
		int line = config_error_line(cfg), last = conf_count_lines(ctx->text);

		/* At end of file libconfig names the line after the last one. */
		if (file == NULL && line > last && last > 0)
			snprintf(ctx->err, ctx->errlen, "%s:%d: %s (unexpected end of file)",
			    ctx->name, last, config_error_text(cfg));
		else
			snprintf(ctx->err, ctx->errlen, "%s:%d: %s",
			    file != NULL ? file : ctx->name, line, config_error_text(cfg));
		return -1;
	}
	return 0;
}

static struct conf *
conf_parse(const char *text, const char *name, const char *incdir,
    char *err, size_t errlen)
{
	struct conf_ctx ctx = { name, text, "", err, errlen };
	struct conf *c;
	config_t cfg;
	int rc;

	if ((c = conf_default()) == NULL || (c->path = strdup(name)) == NULL) {
		conf_oom(&ctx);
		conf_free(c);
		return NULL;
	}
	config_init(&cfg);
	rc = conf_read_config(&ctx, &cfg, incdir);
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
 * Read the whole file ourselves: libconfig's scanner exit()s on a read
 * error (a directory, say), and this way an unreadable file gets strerror.
 */
static char *
conf_read_file(const char *path, char *err, size_t errlen)
{
	char *buf = NULL, *nbuf;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd, saved;

	if ((fd = open(path, O_RDONLY | O_CLOEXEC)) == -1)
		goto fail;
	for (;;) {
		if (cap - len < 4096) {
			cap = cap ? cap * 2 : 8192;
			if (cap > CONF_MAX_FILE_SIZE + 1)
				cap = CONF_MAX_FILE_SIZE + 1;
			if ((nbuf = realloc(buf, cap + 1)) == NULL)
				goto fail;
			buf = nbuf;
		}
		n = read(fd, buf + len, cap - len);
		if (n == -1 && errno == EINTR)
			continue;
		if (n == -1)
			goto fail;
		if (n == 0)
			break;
		len += n;
		if (len > CONF_MAX_FILE_SIZE) {
			snprintf(err, errlen, "%s: larger than %d bytes", path,
			    CONF_MAX_FILE_SIZE);
			goto out;
		}
	}
	close(fd);
	buf[len] = '\0';
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "%s: contains a NUL byte", path);
		free(buf);
		return NULL;
	}
	return buf;
fail:
	snprintf(err, errlen, "%s: %s", path, strerror(errno));
out:
	saved = errno;
	if (fd != -1)
		close(fd);
	free(buf);
	errno = saved;
	return NULL;
}

struct conf *
conf_load(const char *path, char *err, size_t errlen)
{
	struct conf *c;
	char *text, *dir, *slash;

	if ((text = conf_read_file(path, err, errlen)) == NULL)
		return NULL;
	if ((dir = strdup(path)) == NULL) {
		snprintf(err, errlen, "%s: out of memory", path);
		free(text);
		return NULL;
	}
	if ((slash = strrchr(dir, '/')) == NULL)
		strcpy(dir, ".");
	else if (slash == dir)
		slash[1] = '\0';
	else
		*slash = '\0';
	c = conf_parse(text, path, dir, err, errlen);
	free(dir);
	free(text);
	return c;
}

struct conf *
conf_load_string(const char *text, const char *name, char *err, size_t errlen)
{
	return conf_parse(text, name, NULL, err, errlen);
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
	if ((c->listeners[0].address = strdup("*")) == NULL ||
	    (c->control_socket = strdup(CONF_DEFAULT_CONTROL_SOCKET)) == NULL) {
		conf_free(c);
		return NULL;
	}
	c->listeners[0].port = CONF_DEFAULT_PORT;
	c->listeners[0].tcp = c->listeners[0].udp = true;
	c->tcp_threads = 0;
	c->max_connections = CONF_DEFAULT_MAX_CONNECTIONS;
	c->idle_timeout = CONF_DEFAULT_IDLE_TIMEOUT;
	c->backlog = CONF_DEFAULT_BACKLOG;
	c->shutdown_timeout = CONF_DEFAULT_SHUTDOWN_TIMEOUT;
	c->charset = TRANSFORM_UTF8;
	c->log_level = LOG_INFO;
	c->log_facility = LOG_DAEMON;
	c->control_mode = CONF_DEFAULT_CONTROL_MODE;
	return c;
}

void
conf_free(struct conf *c)
{
	size_t i;

	if (c == NULL)
		return;
	if (c->listeners != NULL)
		for (i = 0; i < c->nlisteners; i++)
			free(c->listeners[i].address);
	free(c->listeners);
	free(c->path);
	free(c->user);
	free(c->pidfile);
	free(c->control_socket);
	free(c);
}
