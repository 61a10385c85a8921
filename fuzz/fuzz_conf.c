/* SPDX-License-Identifier: ISC */
/*
 * fuzz_conf.c: fuzz target for conf_load_string() (src/conf.c).
 *
 * The input is the text of a config file.  Whatever it holds, the parser
 * must not crash or leak, and:
 *  - on success every value is within the limits of conf.h and
 *    upcased.conf(5), and no two listeners could clash at bind time;
 *  - on failure the message is a NUL-terminated "fuzz.conf: reason" or
 *    "fuzz.conf:LINE: reason" with LINE inside the text, and a short
 *    buffer is truncated, never overrun.
 *
 * conf_load_string() follows "@include" directives in the real file
 * system, which would make the outcome depend on the machine: such inputs
 * are skipped here, and fuzz_confsrc.c gives them a fake file tree.
 * Inputs with a NUL byte are skipped too (the text is a C string;
 * conf_load() refuses them).
 */
#include "config.h"

#include <sys/socket.h>
#include <sys/un.h>

#include <ctype.h>
#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "access.h"
#include "addr.h"
#include "conf.h"
#include "fuzz.h"

#define NAME	"fuzz.conf"

static void
check_listeners(const struct conf *c)
{
	size_t i, j;

	if (c->nlisteners < 1 || c->nlisteners > CONF_MAX_LISTENERS ||
	    c->listeners == NULL)
		fuzz_fail("%zu listeners", c->nlisteners);
	for (i = 0; i < c->nlisteners; i++) {
		const struct conf_listener *l = &c->listeners[i];

		if (l->address == NULL || addr_listen_parse(l->address, NULL) == -1)
			fuzz_fail("listener %zu: bad address \"%s\"", i,
			    l->address != NULL ? l->address : "(null)");
		if (l->port < 1)
			fuzz_fail("listener %zu: port %u", i, l->port);
		if (!l->tcp && !l->udp)
			fuzz_fail("listener %zu: neither tcp nor udp", i);
		for (j = 0; j < i; j++)
			if (c->listeners[j].port == l->port &&
			    addr_same(c->listeners[j].address, l->address) &&
			    ((c->listeners[j].tcp && l->tcp) ||
			    (c->listeners[j].udp && l->udp)))
				fuzz_fail("listeners %zu and %zu clash", j, i);
	}
	/* The reload's "listen changed" test: a listen list is its own. */
	if (!conf_listen_equal(c, c))
		fuzz_fail("conf_listen_equal(c, c) is false");
}

static void
check_range(const char *name, int v, int lo, int hi)
{
	if (v < lo || v > hi)
		fuzz_fail("%s = %d, outside %d..%d", name, v, lo, hi);
}

static void
check_path(const char *name, const char *v, size_t maxlen)
{
	if (v != NULL && (v[0] != '/' || strlen(v) >= maxlen))
		fuzz_fail("%s = \"%s\": not an absolute path shorter than %zu",
		    name, v, maxlen);
}

/* At most CONF_MAX_LIST_ITEMS strings, each valid as an access rule or a CIDR. */
static void
check_list(const char *name, const struct conf_list *l, bool rules)
{
	struct access_rule rule;
	struct cidr cidr;
	size_t i;

	if (l->n > CONF_MAX_LIST_ITEMS || (l->n == 0) != (l->v == NULL))
		fuzz_fail("%s: %zu items at %p", name, l->n, (void *)l->v);
	for (i = 0; i < l->n; i++)
		if (l->v[i] == NULL || (rules ?
		    access_rule_parse(l->v[i], &rule, NULL, 0) :
		    cidr_parse(l->v[i], &cidr, NULL, 0)) == -1)
			fuzz_fail("%s: item %zu \"%s\" is not valid", name, i + 1,
			    l->v[i] != NULL ? l->v[i] : "(null)");
}

static void
check_facility(int f)
{
	static const int ok[] = {
		LOG_DAEMON, LOG_USER, LOG_LOCAL0, LOG_LOCAL1, LOG_LOCAL2,
		LOG_LOCAL3, LOG_LOCAL4, LOG_LOCAL5, LOG_LOCAL6, LOG_LOCAL7,
	};
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (f == ok[i])
			return;
	fuzz_fail("log facility %d", f);
}

static void
check_conf(const struct conf *c)
{
	if (c->path == NULL || strcmp(c->path, NAME) != 0)
		fuzz_fail("path is \"%s\"", c->path != NULL ? c->path : "(null)");
	check_listeners(c);
	check_range("tcp.threads", c->tcp_threads, 0, CONF_MAX_THREADS);
	check_range("max_connections", c->max_connections, 1,
	    CONF_MAX_CONNECTIONS_MAX);
	check_range("idle_timeout", c->idle_timeout, 1, CONF_IDLE_TIMEOUT_MAX);
	check_range("backlog", c->backlog, 1, CONF_BACKLOG_MAX);
	check_range("shutdown_timeout", c->shutdown_timeout, 0,
	    CONF_SHUTDOWN_TIMEOUT_MAX);
	if (c->charset != TRANSFORM_UTF8 && c->charset != TRANSFORM_ASCII)
		fuzz_fail("charset %d", (int)c->charset);
	check_list("access", &c->access, true);
	check_range("udp.rate_limit", c->udp.rate_limit, 0, CONF_RATE_MAX);
	check_range("udp.burst", c->udp.burst, 1, CONF_RATE_MAX);
	check_range("udp.leak", c->udp.leak, 0, CONF_RATE_MAX);
	check_list("udp.exempt", &c->udp.exempt, false);
	check_range("udp.ipv4_prefix", c->udp.ipv4_prefix, 0, 32);
	check_range("udp.ipv6_prefix", c->udp.ipv6_prefix, 0, 128);
	check_range("udp.table_size", c->udp.table_size, CONF_TABLE_SIZE_MIN,
	    CONF_TABLE_SIZE_MAX);
	check_range("limits.connections_per_source",
	    c->limits.connections_per_source, 0, CONF_RATE_MAX);
	check_range("limits.connection_rate", c->limits.connection_rate, 0,
	    CONF_RATE_MAX);
	check_range("limits.connection_burst", c->limits.connection_burst, 1,
	    CONF_RATE_MAX);
	check_range("limits.ipv4_prefix", c->limits.ipv4_prefix, 0, 32);
	check_range("limits.ipv6_prefix", c->limits.ipv6_prefix, 0, 128);
	check_list("limits.exempt", &c->limits.exempt, false);
	check_range("limits.table_size", c->limits.table_size,
	    CONF_TABLE_SIZE_MIN, CONF_TABLE_SIZE_MAX);
	check_range("limits.min_rate", c->limits.min_rate, 0, CONF_RATE_MAX);
	check_range("limits.min_rate_window", c->limits.min_rate_window, 1,
	    CONF_MIN_RATE_WINDOW_MAX);
	check_range("log.level", c->log_level, LOG_ERR, LOG_DEBUG);
	check_facility(c->log_facility);
	if (c->user != NULL && c->user[0] == '\0')
		fuzz_fail("user is \"\" instead of NULL");
	check_path("pidfile", c->pidfile, PATH_MAX);
	check_path("control_socket", c->control_socket,
	    sizeof(((struct sockaddr_un *)NULL)->sun_path));
	if (c->control_mode > 0777)
		fuzz_fail("control_mode %o", (unsigned)c->control_mode);
}

/*
 * Lines of the text as an editor counts them ("a\n" and "a" are both one
 * line): the most an error message may name, even for an error at the
 * end of the file.
 */
static unsigned long
count_lines(const char *text)
{
	unsigned long lines = 0;
	size_t len = strlen(text);

	for (; *text != '\0'; text++)
		lines += *text == '\n';
	if (len > 0 && text[-1] != '\n')
		lines++;
	return lines;
}

/* "fuzz.conf: reason" or "fuzz.conf:LINE: reason", LINE within the text. */
static void
check_message(const char *err, size_t errlen, const char *text)
{
	const char *p = err + strlen(NAME);
	unsigned long line, lines;
	char *end;

	if (memchr(err, '\0', errlen) == NULL)
		fuzz_fail("error message not NUL-terminated");
	if (strncmp(err, NAME ":", strlen(NAME ":")) != 0)
		fuzz_fail("error message \"%s\" does not start with " NAME ":",
		    err);
	if (p[1] != ' ') {
		line = strtoul(p + 1, &end, 10);
		lines = count_lines(text);
		if (!isdigit((unsigned char)p[1]) || *end != ':' || line < 1 ||
		    line > lines)
			fuzz_fail("error message \"%s\": bad line (the text has "
			    "%lu)", err, lines);
		p = end;
	}
	if (p[1] != ' ' || p[2] == '\0')
		fuzz_fail("error message \"%s\": no reason", err);
}

/* A short buffer: truncated, terminated, not a byte written past it. */
static void
check_short_buffer(const char *text, const char *full, size_t errlen)
{
	char *err = malloc(errlen);
	struct conf *c;

	if (err == NULL)
		fuzz_fail("out of memory");
	memset(err, 'x', errlen);
	if ((c = conf_load_string(text, NAME, err, errlen)) != NULL)
		fuzz_fail("second load of the same text succeeded");
	if (memchr(err, '\0', errlen) == NULL ||
	    strncmp(err, full, errlen - 1) != 0)
		fuzz_fail("message in %zu bytes is not a prefix of \"%s\"",
		    errlen, full);
	free(err);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *text;
	struct conf *c;

	if (memchr(data, '\0', size) != NULL)
		return 0;
	if ((text = malloc(size + 1)) == NULL)
		fuzz_fail("out of memory");
	memcpy(text, data, size);
	text[size] = '\0';
	if (strcasestr(text, "@include") != NULL) {
		free(text);
		return 0;
	}
	memset(err, 'x', sizeof(err));
	if ((c = conf_load_string(text, NAME, err, sizeof(err))) != NULL) {
		check_conf(c);
		conf_free(c);
	} else {
		check_message(err, sizeof(err), text);
		check_short_buffer(text, err, 1 + size % 24);
	}
	free(text);
	return 0;
}
