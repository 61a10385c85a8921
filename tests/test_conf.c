/* SPDX-License-Identifier: ISC */
/*
 * test_conf.c: unit tests of conf.c, the upcased.conf parser.  Every error
 * case checks the whole message, line number included.
 */
#include "config.h"

#include <sys/stat.h>

#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "conf.h"

#define NAME "t.conf"

static char errbuf[1024];

/* Load text, which must fail, and return the message. */
static const char *
load_err(const char *text)
{
	struct conf *c;

	memset(errbuf, 0, sizeof(errbuf));
	c = conf_load_string(text, NAME, errbuf, sizeof(errbuf));
	if (c != NULL) {
		conf_free(c);
		fail_msg("accepted: %s", text);
	}
	return errbuf;
}

static struct conf *
load_ok(const char *text)
{
	struct conf *c;

	errbuf[0] = '\0';
	c = conf_load_string(text, NAME, errbuf, sizeof(errbuf));
	if (c == NULL)
		fail_msg("rejected: %s\n  with: %s", text, errbuf);
	return c;
}

static void
expect_err(const char *text, const char *want)
{
	assert_string_equal(load_err(text), want);
}

/* l holds exactly the n strings of want. */
static void
assert_list(const struct conf_list *l, const char *const *want, size_t n)
{
	size_t i;

	assert_int_equal(l->n, n);
	if (n == 0)
		assert_null(l->v);
	for (i = 0; i < n; i++)
		assert_string_equal(l->v[i], want[i]);
}

static const char *const loopback[] = { "127.0.0.0/8", "::1" };

/* The defaults; control_socket as given (the compiled one, or the docs' spelling). */
static void
assert_defaults_but_socket(const struct conf *c, const char *control_socket)
{
	assert_int_equal(c->nlisteners, 1);
	assert_string_equal(c->listeners[0].address, "*");
	assert_int_equal(c->listeners[0].port, 12000);
	assert_true(c->listeners[0].tcp);
	assert_true(c->listeners[0].udp);
	assert_int_equal(c->tcp_threads, 0);
	assert_int_equal(c->tcp_send_buffer, 65536);
	assert_int_equal(c->tcp_receive_buffer, 65536);
	assert_int_equal(c->max_connections, 10000);
	assert_int_equal(c->idle_timeout, 300);
	assert_int_equal(c->backlog, 1024);
	assert_int_equal(c->shutdown_timeout, 10);
	assert_int_equal(c->charset, TRANSFORM_UTF8);
	assert_list(&c->access, NULL, 0);
	assert_true(c->udp.guard);
	assert_int_equal(c->udp.rate_limit, 100);
	assert_int_equal(c->udp.burst, 200);
	assert_int_equal(c->udp.leak, 4);
	assert_list(&c->udp.exempt, loopback, 2);
	assert_int_equal(c->udp.ipv4_prefix, 32);
	assert_int_equal(c->udp.ipv6_prefix, 56);
	assert_int_equal(c->udp.table_size, 65536);
	assert_int_equal(c->limits.connections_per_source, 64);
	assert_int_equal(c->limits.connection_rate, 50);
	assert_int_equal(c->limits.connection_burst, 100);
	assert_int_equal(c->limits.ipv4_prefix, 32);
	assert_int_equal(c->limits.ipv6_prefix, 64);
	assert_list(&c->limits.exempt, loopback, 2);
	assert_int_equal(c->limits.table_size, 65536);
	assert_int_equal(c->limits.min_rate, 2);
	assert_int_equal(c->limits.min_rate_window, 60);
	assert_int_equal(c->log_level, LOG_INFO);
	assert_int_equal(c->log_facility, LOG_DAEMON);
	assert_null(c->user);
	assert_null(c->pidfile);
	assert_string_equal(c->control_socket, control_socket);
	assert_int_equal(c->control_mode, 0660);
}

static void
assert_defaults(const struct conf *c)
{
	assert_defaults_but_socket(c, CONF_DEFAULT_CONTROL_SOCKET);
}

static void
test_defaults(void **state)
{
	struct conf *c;

	(void)state;
	assert_non_null(c = conf_default());
	assert_defaults(c);
	conf_free(c);

	c = load_ok("");
	assert_defaults(c);
	assert_string_equal(c->path, NAME);
	conf_free(c);

	c = load_ok("# only a comment, and no newline at the end");
	assert_defaults(c);
	conf_free(c);

	/* Empty groups leave their settings at the defaults. */
	c = load_ok("tcp = { };\nlog = { };\nlisten = ( { } );\nudp = { };\n"
	    "limits = { };\n");
	assert_defaults(c);
	conf_free(c);
	conf_free(NULL);
}

static void
test_full(void **state)
{
	static const char *const rules[] = {
		"deny 192.0.2.0/24", "allow 2001:db8::/32", "deny all",
	}, *const ten[] = { "10.0.0.0/8" };
	struct conf *c;

	(void)state;
	c = load_ok(
	    "# every setting, none at its default\n"
	    "listen = (\n"
	    "  { address = \"127.0.0.1\"; port = 7; tcp = true; udp = false; },\n"
	    "  { address = \"::1\"; port = 65535; tcp = false; },\n"
	    "  { port = 1; }\n"
	    ");\n"
	    "tcp = { threads = 8; send_buffer = 0; receive_buffer = 1048576; };\n"
	    "max_connections = 12345;\n"
	    "idle_timeout = 60;\n"
	    "backlog = 128;\n"
	    "shutdown_timeout = 0;\n"
	    "charset = \"ascii\";\n"
	    "access = ( \"deny 192.0.2.0/24\", \"allow 2001:db8::/32\", \"deny all\" );\n"
	    "udp = { guard = false; rate_limit = 0; burst = 1; leak = 0;\n"
	    "  exempt = [ ]; ipv4_prefix = 24; ipv6_prefix = 48; table_size = 1024; };\n"
	    "limits = { connections_per_source = 0; connection_rate = 0;\n"
	    "  connection_burst = 7; ipv4_prefix = 0; ipv6_prefix = 128;\n"
	    "  exempt = ( \"10.0.0.0/8\" ); table_size = 16777216; min_rate = 0;\n"
	    "  min_rate_window = 86400; };\n"
	    "log = { level = \"debug\"; facility = \"local3\"; };\n"
	    "user = \"nobody\";\n"
	    "pidfile = \"/run/upcased.pid\";\n"
	    "control_socket = \"\";\n"
	    "control_mode = \"0600\";\n");
	assert_int_equal(c->nlisteners, 3);
	assert_string_equal(c->listeners[0].address, "127.0.0.1");
	assert_int_equal(c->listeners[0].port, 7);
	assert_true(c->listeners[0].tcp);
	assert_false(c->listeners[0].udp);
	assert_int_equal(c->listeners[0].line, 3);
	assert_string_equal(c->listeners[1].address, "::1");
	assert_int_equal(c->listeners[1].port, 65535);
	assert_false(c->listeners[1].tcp);
	assert_true(c->listeners[1].udp);
	assert_int_equal(c->listeners[1].line, 4);
	assert_string_equal(c->listeners[2].address, "*");
	assert_int_equal(c->listeners[2].port, 1);
	assert_true(c->listeners[2].tcp && c->listeners[2].udp);
	assert_int_equal(c->tcp_threads, 8);
	assert_int_equal(c->tcp_send_buffer, 0);
	assert_int_equal(c->tcp_receive_buffer, 1048576);
	assert_int_equal(c->max_connections, 12345);
	assert_int_equal(c->idle_timeout, 60);
	assert_int_equal(c->backlog, 128);
	assert_int_equal(c->shutdown_timeout, 0);
	assert_int_equal(c->charset, TRANSFORM_ASCII);
	assert_list(&c->access, rules, 3);
	assert_false(c->udp.guard);
	assert_int_equal(c->udp.rate_limit, 0);
	assert_int_equal(c->udp.burst, 1);
	assert_int_equal(c->udp.leak, 0);
	assert_list(&c->udp.exempt, NULL, 0);
	assert_int_equal(c->udp.ipv4_prefix, 24);
	assert_int_equal(c->udp.ipv6_prefix, 48);
	assert_int_equal(c->udp.table_size, 1024);
	assert_int_equal(c->limits.connections_per_source, 0);
	assert_int_equal(c->limits.connection_rate, 0);
	assert_int_equal(c->limits.connection_burst, 7);
	assert_int_equal(c->limits.ipv4_prefix, 0);
	assert_int_equal(c->limits.ipv6_prefix, 128);
	assert_list(&c->limits.exempt, ten, 1);
	assert_int_equal(c->limits.table_size, 16777216);
	assert_int_equal(c->limits.min_rate, 0);
	assert_int_equal(c->limits.min_rate_window, 86400);
	assert_int_equal(c->log_level, LOG_DEBUG);
	assert_int_equal(c->log_facility, LOG_LOCAL3);
	assert_string_equal(c->user, "nobody");
	assert_string_equal(c->pidfile, "/run/upcased.pid");
	assert_null(c->control_socket);
	assert_int_equal(c->control_mode, 0600);
	conf_free(c);
}

static void
test_log_names(void **state)
{
	static const struct { const char *name; int value; } levels[] = {
		{ "err", LOG_ERR }, { "warning", LOG_WARNING },
		{ "notice", LOG_NOTICE }, { "info", LOG_INFO },
		{ "debug", LOG_DEBUG },
	}, facilities[] = {
		{ "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local7", LOG_LOCAL7 },
	};
	char text[128];
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(levels) / sizeof(levels[0]); i++) {
		snprintf(text, sizeof(text), "log = { level = \"%s\"; };", levels[i].name);
		c = load_ok(text);
		assert_int_equal(c->log_level, levels[i].value);
		conf_free(c);
	}
	for (i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++) {
		snprintf(text, sizeof(text), "log = { facility = \"%s\"; };", facilities[i].name);
		c = load_ok(text);
		assert_int_equal(c->log_facility, facilities[i].value);
		conf_free(c);
	}
	expect_err("log = {\n level = \"verbose\";\n};",
	    NAME ":2: log.level must be one of err, warning, notice, info, debug");
	expect_err("log = { level = \"crit\"; };",
	    NAME ":1: log.level must be one of err, warning, notice, info, debug");
	expect_err("\nlog = { facility = \"kern\"; };",
	    NAME ":2: log.facility must be one of daemon, user, local0 to local7");
	expect_err("log = \"info\";",
	    NAME ":1: log must be a group, such as "
	    "{ level = \"info\"; facility = \"daemon\"; }");
}

/* One integer setting: the text around its value (on line 2), its range. */
struct int_case {
	const char *before, *after;
	const char *name;    /* as messages name it */
	long long   min, max;
	size_t      off;     /* where the value lands in struct conf, or -1 */
};

static const struct int_case int_cases[] = {
	{ "\nmax_connections = ", ";", "max_connections", 1,
	    CONF_MAX_CONNECTIONS_MAX, offsetof(struct conf, max_connections) },
	{ "\nidle_timeout = ", ";", "idle_timeout", 1, CONF_IDLE_TIMEOUT_MAX,
	    offsetof(struct conf, idle_timeout) },
	{ "\nbacklog = ", ";", "backlog", 1, CONF_BACKLOG_MAX,
	    offsetof(struct conf, backlog) },
	{ "\nshutdown_timeout = ", ";", "shutdown_timeout", 0,
	    CONF_SHUTDOWN_TIMEOUT_MAX, offsetof(struct conf, shutdown_timeout) },
	{ "tcp = {\n threads = ", "; };", "tcp.threads", 0, CONF_MAX_THREADS,
	    offsetof(struct conf, tcp_threads) },
	{ "tcp = {\n send_buffer = ", "; };", "tcp.send_buffer", 0,
	    67108864, offsetof(struct conf, tcp_send_buffer) },
	{ "tcp = {\n receive_buffer = ", "; };", "tcp.receive_buffer", 0,
	    67108864, offsetof(struct conf, tcp_receive_buffer) },
	{ "listen = (\n { port = ", "; } );", "listen.port", 1, 65535,
	    (size_t)-1 },
#define UDP(m, lo, hi) { "udp = {\n " #m " = ", "; };", "udp." #m, lo, hi, \
	    offsetof(struct conf, udp.m) }
	UDP(rate_limit, 0, 1000000),
	UDP(burst, 1, 1000000),
	UDP(leak, 0, 1000000),
	UDP(ipv4_prefix, 0, 32),
	UDP(ipv6_prefix, 0, 128),
	UDP(table_size, 1024, 16777216),
#undef UDP
#define LIMITS(m, lo, hi) { "limits = {\n " #m " = ", "; };", "limits." #m, \
	    lo, hi, offsetof(struct conf, limits.m) }
	LIMITS(connections_per_source, 0, 1000000),
	LIMITS(connection_rate, 0, 1000000),
	LIMITS(connection_burst, 1, 1000000),
	LIMITS(ipv4_prefix, 0, 32),
	LIMITS(ipv6_prefix, 0, 128),
	LIMITS(table_size, 1024, 16777216),
	LIMITS(min_rate, 0, 1000000),
	LIMITS(min_rate_window, 1, 86400),
#undef LIMITS
};

static int
int_value(const struct conf *c, const struct int_case *ic)
{
	if (ic->off == (size_t)-1)
		return c->listeners[0].port;
	return *(const int *)(const void *)((const char *)c + ic->off);
}

static void
check_int(const struct int_case *ic, long long v, bool ok)
{
	char text[256], want[256];
	struct conf *c;

	snprintf(text, sizeof(text), "%s%lld%s", ic->before, v, ic->after);
	if (ok) {
		c = load_ok(text);
		assert_int_equal(int_value(c, ic), v);
		conf_free(c);
		return;
	}
	snprintf(want, sizeof(want), NAME ":2: %s must be between %lld and %lld",
	    ic->name, ic->min, ic->max);
	expect_err(text, want);
}

static void
test_int_ranges(void **state)
{
	const struct int_case *ic;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
		ic = &int_cases[i];
		check_int(ic, ic->min, true);
		check_int(ic, ic->max, true);
		check_int(ic, ic->min - 1, false);
		check_int(ic, ic->max + 1, false);
		check_int(ic, -1000000000, false);
	}
}

static void
test_int_types(void **state)
{
	static const char *const bad[] = { "1.0", "\"10\"", "true", "[ 1 ]", "{ }" };
	const struct int_case *ic;
	char text[256], want[256];
	size_t i, j;

	(void)state;
	for (i = 0; i < sizeof(int_cases) / sizeof(int_cases[0]); i++) {
		ic = &int_cases[i];
		snprintf(want, sizeof(want), NAME ":2: %s must be an integer", ic->name);
		for (j = 0; j < sizeof(bad) / sizeof(bad[0]); j++) {
			snprintf(text, sizeof(text), "%s%s%s", ic->before, bad[j], ic->after);
			expect_err(text, want);
		}
	}
}

/*
 * libconfig 1.5 truncates decimal and hex literals that do not fit an int
 * (4294979296 would read as 12000): they must still be out of range.
 */
static void
test_int_overflow(void **state)
{
	struct conf *c;

	(void)state;
	expect_err("listen = ( { port = 4294979296; } );",
	    NAME ":1: listen.port must be between 1 and 65535");
	expect_err("listen = ( { port = 1; },\n { port = 4294967297; } );",
	    NAME ":2: listen.port must be between 1 and 65535");
	expect_err("idle_timeout = 0x10000012C;",
	    NAME ":1: idle_timeout must be between 1 and 86400");
	expect_err("backlog: -4294966272;",
	    NAME ":1: backlog must be between 1 and 65535");
	expect_err("max_connections = 99999999999999999999;",
	    NAME ":1: max_connections must be between 1 and 1000000");
	/* Comments and line breaks around '=' do not hide the literal. */
	expect_err("max_connections = /* c */ 4294967297;",
	    NAME ":1: max_connections must be between 1 and 1000000");
	expect_err("tcp = { threads = /**/4294967296; };",
	    NAME ":1: tcp.threads must be between 0 and 1024");
	/* 2^32 + 1024 would read as 1024, in range; the same name in two groups. */
	expect_err("udp = { ipv4_prefix = 32; };\nlimits = { ipv4_prefix = 32;\n"
	    " table_size = 4294968320; };",
	    NAME ":3: limits.table_size must be between 1024 and 16777216");
	expect_err("backlog =\n  0x100000400;",
	    NAME ":1: backlog must be between 1 and 65535");
	expect_err("backlog /* x */ = # y\n 4294967297;",
	    NAME ":1: backlog must be between 1 and 65535");
	/* int64 literals are accepted and range-checked like the others. */
	expect_err("tcp = { threads = 4294967300L; };",
	    NAME ":1: tcp.threads must be between 0 and 1024");
	c = load_ok("backlog = 100L;");
	assert_int_equal(c->backlog, 100);
	conf_free(c);
	c = load_ok("backlog = 0x100;");
	assert_int_equal(c->backlog, 256);
	conf_free(c);
	/* A huge number in a comment or a string is not a value. */
	c = load_ok("backlog = 5; # backlog = 99999999999\n"
	    "user = \"idle_timeout = 99999999999\"; idle_timeout = 7; "
	    "/* idle_timeout = 99999999999 */\n"
	    "tcp = { threads = 1; }; // threads = 99999999999");
	assert_int_equal(c->backlog, 5);
	assert_int_equal(c->idle_timeout, 7);
	assert_int_equal(c->tcp_threads, 1);
	assert_string_equal(c->user, "idle_timeout = 99999999999");
	conf_free(c);
}

static void
test_other_types(void **state)
{
	(void)state;
	expect_err("\n\ncharset = 8;", NAME ":3: charset must be a string");
	expect_err("user = 0;", NAME ":1: user must be a string");
	expect_err("user = [ \"a\" ];", NAME ":1: user must be a string");
	expect_err("pidfile = true;", NAME ":1: pidfile must be a string");
	expect_err("control_socket = 1.5;", NAME ":1: control_socket must be a string");
	expect_err("log = { level = 6; };", NAME ":1: log.level must be a string");
	expect_err("log = { facility = 3; };", NAME ":1: log.facility must be a string");
	expect_err("listen = ( {\n address = 127; } );",
	    NAME ":2: listen.address must be a string");
	expect_err("listen = ( {\n\n tcp = 1; } );",
	    NAME ":3: listen.tcp must be true or false");
	expect_err("listen = ( { udp = \"yes\"; } );",
	    NAME ":1: listen.udp must be true or false");
	expect_err("tcp = 4;", NAME ":1: tcp must be a group, such as { threads = 0; "
	    "send_buffer = 65536; receive_buffer = 65536; }");
	expect_err("tcp = ( );", NAME ":1: tcp must be a group, such as { threads = 0; "
	    "send_buffer = 65536; receive_buffer = 65536; }");
	expect_err("charset = \"latin1\";", NAME ":1: charset must be \"utf-8\" or \"ascii\"");
	expect_err("udp = {\n guard = \"no\"; };", NAME ":2: udp.guard must be true or false");
	expect_err("udp = {\n guard = 0; };", NAME ":2: udp.guard must be true or false");
	/* A group's example shows its members at their defaults, lists as lists. */
	expect_err("udp = 1;", NAME ":1: udp must be a group, such as { guard = true; "
	    "rate_limit = 100; burst = 200; leak = 4; exempt = ( \"127.0.0.0/8\", "
	    "\"::1\" ); ipv4_prefix = 32; ipv6_prefix = 56; table_size = 65536; threads = 1; }");
	expect_err("\nlimits = ( );", NAME ":2: limits must be a group, such as { "
	    "connections_per_source = 64; connection_rate = 50; connection_burst = 100; "
	    "ipv4_prefix = 32; ipv6_prefix = 64; exempt = ( \"127.0.0.0/8\", \"::1\" ); "
	    "table_size = 65536; min_rate = 2; min_rate_window = 60; }");
}

static void
test_lists(void **state)
{
	static const char *const two[] = { "10.0.0.0/8", "2001:db8::/32" },
	    *const rules[] = { "allow 10.0.0.0/8", "deny all" };
	char text[64 * 1024];
	struct conf *c;
	size_t len, i;

	(void)state;
	/* A list, an array, an empty list or array; other lists keep their defaults. */
	c = load_ok("access = ( \"allow 10.0.0.0/8\", \"deny all\" );");
	assert_list(&c->access, rules, 2);
	assert_list(&c->udp.exempt, loopback, 2);
	assert_list(&c->limits.exempt, loopback, 2);
	conf_free(c);
	c = load_ok("access = [ \"allow 10.0.0.0/8\",\n \"deny all\" ];\n"
	    "udp = { exempt = [ \"10.0.0.0/8\", \"2001:db8::/32\" ]; };\n");
	assert_list(&c->access, rules, 2);
	assert_list(&c->udp.exempt, two, 2);
	assert_list(&c->limits.exempt, loopback, 2);
	conf_free(c);
	c = load_ok("access = ( );\nudp = { exempt = ( ); };\nlimits = { exempt = [ ]; };");
	assert_list(&c->access, NULL, 0);
	assert_list(&c->udp.exempt, NULL, 0);
	assert_list(&c->limits.exempt, NULL, 0);
	conf_free(c);
	/* libconfig joins adjacent strings into one. */
	c = load_ok("limits = { exempt = ( \"10.0.0.0\" \"/8\", \"2001:db8::/32\" ); };");
	assert_list(&c->limits.exempt, two, 2);
	conf_free(c);

	/* CONF_MAX_LIST_ITEMS items are fine, one more is not. */
	len = (size_t)snprintf(text, sizeof(text), "access = (\n");
	for (i = 0; i < CONF_MAX_LIST_ITEMS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "%s\"deny 10.%zu.%zu.0/24\"\n", i ? "," : "", i / 256, i % 256);
	snprintf(text + len, sizeof(text) - len, ");\n");
	c = load_ok(text);
	assert_int_equal(c->access.n, CONF_MAX_LIST_ITEMS);
	assert_string_equal(c->access.v[CONF_MAX_LIST_ITEMS - 1], "deny 10.3.255.0/24");
	conf_free(c);
	snprintf(text + len, sizeof(text) - len, ", \"allow all\" );\n");
	expect_err(text, NAME ":1: access must have at most 1024 entries");
	len = (size_t)snprintf(text, sizeof(text), "\nudp = { exempt = [");
	for (i = 0; i <= CONF_MAX_LIST_ITEMS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\"::1\"",
		    i ? "," : "");
	snprintf(text + len, sizeof(text) - len, "]; };");
	expect_err(text, NAME ":2: udp.exempt must have at most 1024 entries");

	/* conf_list_equal: the same strings in the same order. */
	c = load_ok("udp = { exempt = ( \"::1\", \"127.0.0.0/8\" ); };\n"
	    "limits = { exempt = ( \"127.0.0.0/8\", \"::1\" ); };");
	assert_false(conf_list_equal(&c->udp.exempt, &c->limits.exempt));
	assert_false(conf_list_equal(&c->udp.exempt, &c->access));
	assert_true(conf_list_equal(&c->access, &c->access));
	conf_list_free(&c->udp.exempt);
	assert_list(&c->udp.exempt, NULL, 0);
	assert_true(conf_list_equal(&c->udp.exempt, &c->access));
	conf_free(c);	/* frees what is left */
}

static void
test_list_errors(void **state)
{
	(void)state;
	/* Each item at its own line, named by its position from 1. */
	expect_err("backlog = 5;\naccess = (\n  \"allow 10.0.0.0/8\",\n"
	    "  \"allow ::1\",\n  \"deny 10.0.0.0/33\",\n  \"deny all\"\n);\n",
	    NAME ":5: access rule 3: '10.0.0.0/33' is not a CIDR");
	expect_err("access = (\n \"allow all\",\n \"permit 10.0.0.0/8\" );",
	    NAME ":3: access rule 2: 'permit' is not 'allow' or 'deny'");
	expect_err("access = ( \"allow 10.0.0.1/8\" );",
	    NAME ":1: access rule 1: '10.0.0.1/8' has host bits set "
	    "(did you mean '10.0.0.0/8'?)");
	expect_err("access = ( \"\" );",
	    NAME ":1: access rule 1: empty rule (expected 'allow' or 'deny', "
	    "then a CIDR or 'all')");
	expect_err("udp = {\n exempt = (\n \"127.0.0.0/8\",\n \"localhost\" ); };",
	    NAME ":4: udp.exempt entry 2: 'localhost' is not a CIDR");
	expect_err("limits = { exempt = [\n\n \"10.0.0.0/8\", \"10.0.0.0/08\" ]; };",
	    NAME ":3: limits.exempt entry 2: '10.0.0.0/08' is not a CIDR");
	expect_err("limits = { exempt = ( \"192.0.2.1/24\" ); };",
	    NAME ":1: limits.exempt entry 1: '192.0.2.1/24' has host bits set "
	    "(did you mean '192.0.2.0/24'?)");
	/* An item that is not a string. */
	expect_err("access = (\n \"allow all\",\n 5 );", NAME ":3: access rule 2 must be a string");
	expect_err("access = ( ( \"deny all\" ) );", NAME ":1: access rule 1 must be a string");
	expect_err("access = ( { } );", NAME ":1: access rule 1 must be a string");
	expect_err("access = [ 1, 2 ];", NAME ":1: access rule 1 must be a string");
	expect_err("udp = { exempt = (\n \"::1\", [ ] ); };",
	    NAME ":2: udp.exempt entry 2 must be a string");
	expect_err("limits = { exempt = ( true ); };",
	    NAME ":1: limits.exempt entry 1 must be a string");
	/* Not a list at all. */
	expect_err("\naccess = \"deny all\";", NAME ":2: access must be a list of "
	    "strings, such as ( \"allow 192.0.2.0/24\", \"deny all\" )");
	expect_err("access = { };", NAME ":1: access must be a list of "
	    "strings, such as ( \"allow 192.0.2.0/24\", \"deny all\" )");
	expect_err("udp = { exempt = \"::1\"; };", NAME ":1: udp.exempt must be a "
	    "list of strings, such as ( \"127.0.0.0/8\", \"::1\" )");
	expect_err("limits = { exempt = 0; };", NAME ":1: limits.exempt must be a "
	    "list of strings, such as ( \"127.0.0.0/8\", \"::1\" )");
	/* libconfig's own rule: an array's items share one type. */
	expect_err("access = [ \"deny all\", 1 ];",
	    NAME ":1: mismatched element type in array");
}

static void
test_charset(void **state)
{
	struct conf *c;

	(void)state;
	c = load_ok("charset = \"utf-8\";");
	assert_int_equal(c->charset, TRANSFORM_UTF8);
	conf_free(c);
	c = load_ok("charset = \"ascii\";");
	assert_int_equal(c->charset, TRANSFORM_ASCII);
	conf_free(c);
}

static void
test_unknown(void **state)
{
	(void)state;
	expect_err("backlog = 5;\nidle_timout = 3;",
	    NAME ":2: unknown setting 'idle_timout' (did you mean 'idle_timeout'?)");
	expect_err("\n\nfrobnicate = true;", NAME ":3: unknown setting 'frobnicate'");
	expect_err("threads = 4;", NAME ":1: unknown setting 'threads'");
	expect_err("tcp = {\n  treads = 4;\n};",
	    NAME ":2: unknown setting 'tcp.treads' (did you mean 'tcp.threads'?)");
	expect_err("tcp = { threads = 1; nodelay = true; };",
	    NAME ":1: unknown setting 'tcp.nodelay'");
	expect_err("log = {\n level = \"info\";\n levl = \"x\"; };",
	    NAME ":3: unknown setting 'log.levl' (did you mean 'log.level'?)");
	expect_err("listen = (\n { port = 1; },\n { adress = \"::1\"; } );",
	    NAME ":3: unknown setting 'listen.adress' (did you mean 'listen.address'?)");
	expect_err("listen = ( { port = 1; ssl = true; } );",
	    NAME ":1: unknown setting 'listen.ssl'");
	expect_err("udp = {\n rate_limt = 5; };",
	    NAME ":2: unknown setting 'udp.rate_limt' (did you mean 'udp.rate_limit'?)");
	expect_err("limits = { conections_per_source = 5; };",
	    NAME ":1: unknown setting 'limits.conections_per_source' "
	    "(did you mean 'limits.connections_per_source'?)");
	expect_err("acess = ( );",
	    NAME ":1: unknown setting 'acess' (did you mean 'access'?)");
	expect_err("udp = { exempt = ( ); allow = ( ); };",
	    NAME ":1: unknown setting 'udp.allow'");
	/* Unknown names are caught even when another setting is also wrong. */
	expect_err("bakclog = 0;\nbacklog = 0;",
	    NAME ":1: unknown setting 'bakclog' (did you mean 'backlog'?)");
}

static void
test_syntax(void **state)
{
	(void)state;
	expect_err("backlog = 5;\nidle_timeout = ;\n", NAME ":2: syntax error");
	expect_err("backlog = 5;\nidle_timeout 6;\n", NAME ":2: syntax error");
	/* At end of file: the last line, not the one after it. */
	expect_err("log = { level = \"info\";\n", NAME ":1: syntax error (unexpected end of file)");
	expect_err("backlog = 5;\nx = ", NAME ":2: syntax error (unexpected end of file)");
	expect_err("backlog = 5;\n\nbacklog = 6;\n", NAME ":3: duplicate setting name");
}

static void
test_addresses(void **state)
{
	static const char *const good[] = {
		"*", "0.0.0.0", "127.0.0.1", "192.0.2.255", "::", "::1",
		"fe80::1", "2001:db8::42", "::ffff:127.0.0.1",
	};
	static const char *const bad[] = {
		"localhost", "", "1.2.3", "256.1.1.1", "::g", "127.0.0.1:80",
		"[::1]", "**", " 127.0.0.1", "fe80::1%lo",
	};
	char text[256], want[512];
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "listen = ( { address = \"%s\"; } );", good[i]);
		c = load_ok(text);
		assert_string_equal(c->listeners[0].address, good[i]);
		conf_free(c);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(text, sizeof(text), "listen = (\n{ port = 5;\n address = \"%s\"; } );", bad[i]);
		snprintf(want, sizeof(want), NAME ":3: listen.address must be \"*\" "
		    "or a numeric IPv4 or IPv6 address, not \"%s\" (host names "
		    "are not resolved)", bad[i]);
		expect_err(text, want);
	}
}

static void
test_listen_shape(void **state)
{
	char text[8192];
	struct conf *c;
	size_t len;
	int i;

	(void)state;
	expect_err("backlog = 1;\nlisten = ( );",
	    NAME ":2: listen must have between 1 and 64 entries");
	expect_err("listen = { port = 1; };",
	    NAME ":1: listen must be a list of groups, such as "
	    "( { address = \"*\"; port = 12000; } )");
	expect_err("listen = [ 1, 2 ];",
	    NAME ":1: listen must be a list of groups, such as "
	    "( { address = \"*\"; port = 12000; } )");
	expect_err("listen = ( { port = 1; },\n 5 );",
	    NAME ":2: listen entries must be groups, such as { port = 12000; }");
	expect_err("listen = (\n { port = 1; tcp = false; udp = false; } );",
	    NAME ":2: listen entry has neither tcp nor udp enabled");

	/* CONF_MAX_LISTENERS is fine, one more is not. */
	len = (size_t)snprintf(text, sizeof(text), "listen = (\n");
	for (i = 0; i < CONF_MAX_LISTENERS; i++)
		len += (size_t)snprintf(text + len, sizeof(text) - len,
		    "%s{ address = \"127.0.0.1\"; port = %d; }\n", i ? "," : "", 1000 + i);
	snprintf(text + len, sizeof(text) - len, ");\n");
	c = load_ok(text);
	assert_int_equal(c->nlisteners, CONF_MAX_LISTENERS);
	assert_int_equal(c->listeners[CONF_MAX_LISTENERS - 1].port,
	    1000 + CONF_MAX_LISTENERS - 1);
	assert_int_equal(c->listeners[CONF_MAX_LISTENERS - 1].line, CONF_MAX_LISTENERS + 1);
	conf_free(c);
	snprintf(text + len, sizeof(text) - len, ",{ port = 1; }\n);\n");
	expect_err(text, NAME ":1: listen must have between 1 and 64 entries");
}

static void
test_duplicates(void **state)
{
	struct conf *c;

	(void)state;
	expect_err("listen = (\n { port = 5; },\n { port = 6; },\n { port = 5; } );",
	    NAME ":4: duplicate listener * port 5 tcp (first on line 2)");
	expect_err("listen = (\n { address = \"::1\"; port = 5; tcp = false; },\n"
	    " { address = \"0:0::1\"; port = 5; } );",
	    NAME ":3: duplicate listener 0:0::1 port 5 udp (first on line 2)");
	expect_err("listen = (\n { address = \"127.0.0.1\"; udp = false; },\n"
	    " { address = \"127.0.0.1\"; tcp = true; udp = false; } );",
	    NAME ":3: duplicate listener 127.0.0.1 port 12000 tcp (first on line 2)");
	/* A wildcard and an address it covers cannot both bind. */
	expect_err("listen = (\n { address = \"*\"; port = 5; },\n"
	    " { address = \"127.0.0.1\"; port = 5; } );",
	    NAME ":3: listener 127.0.0.1 port 5 tcp overlaps * on line 2 "
	    "(a wildcard address covers the other)");
	expect_err("listen = (\n { address = \"::1\"; port = 5; tcp = false; },\n"
	    " { address = \"::\"; port = 5; } );",
	    NAME ":3: listener :: port 5 udp overlaps ::1 on line 2 "
	    "(a wildcard address covers the other)");
	expect_err("listen = (\n { address = \"0.0.0.0\"; port = 5; },\n"
	    " { address = \"10.1.2.3\"; port = 5; } );",
	    NAME ":3: listener 10.1.2.3 port 5 tcp overlaps 0.0.0.0 on line 2 "
	    "(a wildcard address covers the other)");
	/* The IPv4 and IPv6 wildcards are separate (:: is IPv6-only here). */
	c = load_ok("listen = (\n { address = \"0.0.0.0\"; port = 5; },\n"
	    " { address = \"::\"; port = 5; },\n { address = \"::1\"; port = 6; },\n"
	    " { address = \"127.0.0.1\"; port = 6; } );");
	assert_int_equal(c->nlisteners, 4);
	conf_free(c);
	/* Another port, protocol or address is a different listener. */
	c = load_ok("listen = (\n"
	    " { address = \"127.0.0.1\"; port = 5; udp = false; },\n"
	    " { address = \"127.0.0.1\"; port = 5; tcp = false; },\n"
	    " { address = \"127.0.0.1\"; port = 6; },\n"
	    " { address = \"::1\"; port = 5; },\n"
	    " { address = \"*\"; port = 7; } );");
	assert_int_equal(c->nlisteners, 5);
	conf_free(c);
}

static void
test_paths(void **state)
{
	char text[512], path[200];
	struct conf *c;

	(void)state;
	c = load_ok("user = \"\";\npidfile = \"\";\ncontrol_socket = \"\";");
	assert_null(c->user);
	assert_null(c->pidfile);
	assert_null(c->control_socket);
	conf_free(c);
	c = load_ok("user = \"upcased\";\npidfile = \"/run/u.pid\";\n"
	    "control_socket = \"/tmp/u.sock\";");
	assert_string_equal(c->user, "upcased");
	assert_string_equal(c->pidfile, "/run/u.pid");
	assert_string_equal(c->control_socket, "/tmp/u.sock");
	conf_free(c);
	expect_err("\npidfile = \"run/upcased.pid\";",
	    NAME ":2: pidfile must be an absolute path or \"\"");
	expect_err("control_socket = \"upcased.sock\";",
	    NAME ":1: control_socket must be an absolute path or \"\"");

	/* sun_path holds 107 bytes and the NUL. */
	memset(path, 'a', sizeof(path));
	path[0] = '/';
	path[107] = '\0';
	snprintf(text, sizeof(text), "control_socket = \"%s\";", path);
	c = load_ok(text);
	assert_int_equal(strlen(c->control_socket), 107);
	conf_free(c);
	path[107] = 'a';
	path[108] = '\0';
	snprintf(text, sizeof(text), "control_socket = \"%s\";", path);
	expect_err(text, NAME ":1: control_socket must be shorter than 108 bytes");
}

static void
test_control_mode(void **state)
{
	static const struct { const char *text; mode_t mode; } good[] = {
		{ "0660", 0660 }, { "0600", 0600 }, { "0777", 0777 },
		{ "0000", 0 }, { "0", 0 }, { "644", 0644 }, { "0007", 07 },
	};
	static const char *const bad_digits[] = {
		"", "0x1ff", "0888", "rw-rw----", "07777", "-0660", "0660 ",
	};
	char text[128], want[256];
	struct conf *c;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		snprintf(text, sizeof(text), "control_mode = \"%s\";", good[i].text);
		c = load_ok(text);
		assert_int_equal(c->control_mode, good[i].mode);
		conf_free(c);
	}
	snprintf(want, sizeof(want), NAME ":2: control_mode must be a string "
	    "of octal digits, such as \"0660\"");
	for (i = 0; i < sizeof(bad_digits) / sizeof(bad_digits[0]); i++) {
		snprintf(text, sizeof(text), "\ncontrol_mode = \"%s\";", bad_digits[i]);
		expect_err(text, want);
	}
	/* An integer would be read as decimal: 0660 is 660. */
	expect_err("\ncontrol_mode = 0660;", want);
	expect_err("control_mode = \"1000\";",
	    NAME ":1: control_mode must be between 0000 and 0777");
	expect_err("control_mode = \"4755\";",
	    NAME ":1: control_mode must be between 0000 and 0777");
}

/* A scratch directory, removed by the test that made it. */
static char tmpdir[64];

static void
write_file(const char *name, const char *text, char *path, size_t pathlen)
{
	FILE *f;

	snprintf(path, pathlen, "%s/%s", tmpdir, name);
	assert_non_null(f = fopen(path, "w"));
	assert_int_equal(fputs(text, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static void
test_load_file(void **state)
{
	char path[256], inc[256], want[512];
	struct conf *c;
	FILE *f;
	int i;

	(void)state;
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_conf.XXXXXX");
	assert_non_null(mkdtemp(tmpdir));

	write_file("good.conf", "backlog = 77;\n", path, sizeof(path));
	assert_non_null(c = conf_load(path, errbuf, sizeof(errbuf)));
	assert_int_equal(c->backlog, 77);
	assert_string_equal(c->path, path);
	conf_free(c);

	write_file("bad.conf", "# a comment\nbacklog = 77;\nbacklog2 = 1;\n", path, sizeof(path));
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s:3: unknown setting 'backlog2' "
	    "(did you mean 'backlog'?)", path);
	assert_string_equal(errbuf, want);

	/*
	 * Relative @include paths are relative to the main file's directory;
	 * a setting in an included file is named by that file's path.
	 */
	write_file("inc.conf", "idle_timeout = 9;\n", inc, sizeof(inc));
	write_file("main.conf", "backlog = 3;\n@include \"inc.conf\"\n", path, sizeof(path));
	assert_non_null(c = conf_load(path, errbuf, sizeof(errbuf)));
	assert_int_equal(c->backlog, 3);
	assert_int_equal(c->idle_timeout, 9);
	conf_free(c);
	write_file("inc.conf", "\nidle_timeout = 0;\n", inc, sizeof(inc));
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s:2: idle_timeout must be between 1 and "
	    "86400", inc);
	assert_string_equal(errbuf, want);
	/* A list item in an included file: that file and the item's line. */
	write_file("inc.conf", "access = (\n \"deny all\",\n 7 );\n", inc, sizeof(inc));
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s:3: access rule 2 must be a string", inc);
	assert_string_equal(errbuf, want);
	/* Its integer literals are re-read too: libconfig 1.5 would cut this to 5. */
	write_file("inc.conf", "\n\nbacklog = 0x100000005;\n", inc, sizeof(inc));
	write_file("main.conf", "@include \"inc.conf\"\n", path, sizeof(path));
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s:3: backlog must be between 1 and 65535", inc);
	assert_string_equal(errbuf, want);
	/* An @include of a directory: the directive's file and line, and why. */
	write_file("main.conf", "backlog = 3;\n@include \"/tmp\"\n", path, sizeof(path));
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s:2: @include \"/tmp\": is a directory", path);
	assert_string_equal(errbuf, want);

	assert_int_equal(unlink(inc), 0);
	assert_int_equal(unlink(path), 0);

	/* A NUL byte would hide the rest of the file from libconfig. */
	write_file("nul.conf", "backlog = 1;\n", path, sizeof(path));
	assert_non_null(f = fopen(path, "a"));
	assert_int_equal(fwrite("\0backlog = 0;\n", 1, 14, f), 14);
	assert_int_equal(fclose(f), 0);
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s: contains a NUL byte", path);
	assert_string_equal(errbuf, want);
	assert_int_equal(unlink(path), 0);

	/* 1 MiB is the most; this one is a valid file, only too big. */
	write_file("big.conf", "backlog = 1;\n", path, sizeof(path));
	assert_non_null(f = fopen(path, "a"));
	for (i = 0; i < 1024 * 1024 / 64; i++)
		fputs("# a comment line, 64 bytes long ...............................\n", f);
	assert_int_equal(fclose(f), 0);
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s: larger than 1048576 bytes", path);
	assert_string_equal(errbuf, want);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/good.conf", tmpdir);
	assert_int_equal(unlink(path), 0);
	snprintf(path, sizeof(path), "%s/bad.conf", tmpdir);
	assert_int_equal(unlink(path), 0);

	/* A directory, and a missing file: the path exactly as given. */
	assert_null(conf_load(tmpdir, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s: is a directory", tmpdir);
	assert_string_equal(errbuf, want);
	assert_int_equal(rmdir(tmpdir), 0);
	assert_null(conf_load(path, errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "%s: %s", path, strerror(ENOENT));
	assert_string_equal(errbuf, want);
	assert_null(conf_load("no/such.conf", errbuf, sizeof(errbuf)));
	snprintf(want, sizeof(want), "no/such.conf: %s", strerror(ENOENT));
	assert_string_equal(errbuf, want);
}

/* A small error buffer gets a truncated, still NUL-terminated message. */
static void
test_small_buffer(void **state)
{
	char small[8];

	(void)state;
	memset(small, 'x', sizeof(small));
	assert_null(conf_load_string("backlog = 0;", NAME, small, sizeof(small)));
	assert_string_equal(small, "t.conf:");
	assert_null(conf_load_string("backlog = ;", NAME, small, sizeof(small)));
	assert_string_equal(small, "t.conf:");
}

static void
test_shipped(void **state)
{
	const char *top = getenv("TOP_SRCDIR");
	char path[PATH_MAX];
	struct conf *c;

	(void)state;
	if (top == NULL || *top == '\0')
		skip();
	snprintf(path, sizeof(path), "%s/etc/upcased.conf", top);
	c = conf_load(path, errbuf, sizeof(errbuf));
	if (c == NULL)
		fail_msg("%s", errbuf);
	/* The sample shows the defaults (make install writes another RUNSTATEDIR in). */
	assert_defaults_but_socket(c, UPCASE_DOCS_CONTROL_SOCKET);
	conf_free(c);
}

/* The rules conf.c relies on, which the compiler cannot check. */
static void
test_table(void **state)
{
	const struct conf_setting *t, *r, *q;
	const char *dot;
	size_t n, i, j, plen;

	(void)state;
	t = conf_settings(&n);
	assert_true(n > 0);
	for (i = 0; i < n; i++) {
		r = &t[i];
		dot = strchr(r->name, '.');
		/* One level of groups; every name part gets a "did you mean". */
		assert_true(dot == NULL || strchr(dot + 1, '.') == NULL);
		assert_true(strcspn(r->name, ".") < 32 && strlen(r->name) < 64);
		/* The listen rows, and only they, are fields of a listener ... */
		assert_int_equal(r->listener, strncmp(r->name, "listen.", 7) == 0);
		/* ... and come and go with its socket. */
		if (r->listener)
			assert_int_equal(r->reload, CONF_APPLIED);
		assert_true(r->doc != NULL && r->doc[0] != '\0');
		assert_non_null(r->def);
		assert_int_equal(r->type == CONF_T_ENUM, r->set_enum != NULL);
		assert_int_equal(r->type == CONF_T_ENUM || r->type == CONF_T_LIST,
		    r->expect != NULL);
		assert_int_equal(r->type == CONF_T_LIST, r->item != NULL);
		if (r->type != CONF_T_LIST)
			assert_null(r->check_item);
		else
			assert_true(r->min == 0 && r->max == CONF_MAX_LIST_ITEMS &&
			    r->size == sizeof(struct conf_list));
		assert_true(r->min <= r->max);
		if (r->type == CONF_T_INT)
			assert_true(r->min >= INT_MIN && r->max <= INT_MAX &&
			    (r->size != sizeof(uint16_t) ||
			    (r->min >= 0 && r->max <= 65535)));
		plen = dot != NULL ? (size_t)(dot - r->name) + 1 : 0;
		for (j = 0; j < i; j++) {
			q = &t[j];
			assert_string_not_equal(q->name, r->name);
			/* The rows of a group are adjacent. */
			if (plen > 0 && j + 1 < i && strncmp(q->name, r->name, plen) == 0)
				assert_memory_equal(t[i - 1].name, r->name, plen);
		}
	}
}

struct kept {
	char names[256];
};

static void
record_kept(const char *name, void *arg)
{
	struct kept *k = arg;
	size_t len = strlen(k->names);

	snprintf(k->names + len, sizeof(k->names) - len, "%s%s", len ? " " : "", name);
}

static void
test_keep_restart_only(void **state)
{
	static const char *const deny[] = { "deny 192.0.2.0/24" },
	    *const ten[] = { "10.0.0.0/8" };
	struct conf *old, *new;
	struct kept k = { "" };

	(void)state;
	old = load_ok("user = \"a\";\ncontrol_socket = \"/run/a.sock\";\n");
	new = load_ok("listen = ( { port = 5; } );\n"
	    "tcp = { threads = 3; send_buffer = 0; receive_buffer = 4096; };\n"
	    "max_connections = 7;\nidle_timeout = 8;\nbacklog = 9;\n"
	    "shutdown_timeout = 1;\ncharset = \"ascii\";\n"
	    "log = { level = \"debug\"; facility = \"user\"; };\n"
	    "pidfile = \"/run/b.pid\";\ncontrol_socket = \"\";\n"
	    "control_mode = \"0600\";\n"
	    "access = ( \"deny 192.0.2.0/24\" );\n"
	    "udp = { guard = false; rate_limit = 1; exempt = ( ); table_size = 2048; };\n"
	    "limits = { connections_per_source = 2; exempt = ( \"10.0.0.0/8\" );\n"
	    "  min_rate = 3; };\n");
	assert_int_equal(conf_keep_restart_only(old, new, record_kept, &k), 0);
	/* In table order; each keeps its running value. */
	assert_string_equal(k.names,
	    "tcp.threads user pidfile control_socket control_mode");
	assert_int_equal(new->tcp_threads, 0);
	assert_string_equal(new->user, "a");
	assert_null(new->pidfile);
	assert_string_equal(new->control_socket, "/run/a.sock");
	assert_int_equal(new->control_mode, 0660);
	/* What a reload applies is left alone. */
	assert_int_equal(new->listeners[0].port, 5);
	assert_int_equal(new->tcp_send_buffer, 0);
	assert_int_equal(new->tcp_receive_buffer, 4096);
	assert_int_equal(new->max_connections, 7);
	assert_int_equal(new->idle_timeout, 8);
	assert_int_equal(new->backlog, 9);
	assert_int_equal(new->shutdown_timeout, 1);
	assert_int_equal(new->charset, TRANSFORM_ASCII);
	assert_int_equal(new->log_level, LOG_DEBUG);
	assert_int_equal(new->log_facility, LOG_USER);
	assert_list(&new->access, deny, 1);
	assert_false(new->udp.guard);
	assert_int_equal(new->udp.rate_limit, 1);
	assert_list(&new->udp.exempt, NULL, 0);
	assert_int_equal(new->udp.table_size, 2048);
	assert_int_equal(new->limits.connections_per_source, 2);
	assert_list(&new->limits.exempt, ten, 1);
	assert_int_equal(new->limits.min_rate, 3);
	/* Nothing left to keep: no report; and the report is optional. */
	k.names[0] = '\0';
	assert_int_equal(conf_keep_restart_only(old, new, record_kept, &k), 0);
	assert_string_equal(k.names, "");
	conf_free(new);
	new = load_ok("user = \"b\";");
	assert_int_equal(conf_keep_restart_only(old, new, NULL, NULL), 0);
	assert_string_equal(new->user, "a");
	assert_ptr_not_equal(new->user, old->user);	/* a copy: old is freed apart */
	assert_string_equal(new->control_socket, "/run/a.sock");
	conf_free(new);
	conf_free(old);
}

/* Socket activation warns when listen changes: what counts as a change. */
static void
test_listen_equal(void **state)
{
	static const struct {
		const char *a, *b;
		bool same;
	} cases[] = {
		{ "", "", true },
		{ "listen = ( { address = \"::1\"; port = 1; } );",
		  "listen = ( { address = \"0::1\"; port = 1; } );", true },
		{ "listen = ( { address = \"::1\"; port = 1; }, { port = 2; } );",
		  "\n\nlisten = ( { port = 2; },\n { address = \"::1\"; port = 1; } );", true },
		{ "listen = ( { port = 1; } );", "listen = ( { port = 2; } );", false },
		{ "listen = ( { port = 1; } );", "listen = ( { port = 1; udp = false; } );", false },
		{ "listen = ( { port = 1; } );", "listen = ( { port = 1; tcp = false; } );", false },
		{ "listen = ( { address = \"127.0.0.1\"; port = 1; } );",
		  "listen = ( { address = \"127.0.0.2\"; port = 1; } );", false },
		{ "listen = ( { port = 1; } );",
		  "listen = ( { port = 1; }, { address = \"::1\"; port = 2; } );", false },
		{ "", "listen = ( { address = \"*\"; port = 12000; } );", true },	/* the default */
		{ "", "backlog = 5;", true },
		/* reuse_port is not applied to systemd's sockets either. */
		{ "listen = ( { port = 1; } );",
		  "listen = ( { port = 1; reuse_port = true; } );", false },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct conf *a = load_ok(cases[i].a), *b = load_ok(cases[i].b);

		if (conf_listen_equal(a, b) != cases[i].same || conf_listen_equal(b, a) != cases[i].same)
			fail_msg("case %zu: %s / %s: want %s", i, cases[i].a, cases[i].b,
			    cases[i].same ? "same" : "different");
		conf_free(a);
		conf_free(b);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_log_names),
		cmocka_unit_test(test_int_ranges),
		cmocka_unit_test(test_int_types),
		cmocka_unit_test(test_int_overflow),
		cmocka_unit_test(test_other_types),
		cmocka_unit_test(test_lists),
		cmocka_unit_test(test_list_errors),
		cmocka_unit_test(test_charset),
		cmocka_unit_test(test_unknown),
		cmocka_unit_test(test_syntax),
		cmocka_unit_test(test_addresses),
		cmocka_unit_test(test_listen_shape),
		cmocka_unit_test(test_duplicates),
		cmocka_unit_test(test_paths),
		cmocka_unit_test(test_control_mode),
		cmocka_unit_test(test_load_file),
		cmocka_unit_test(test_small_buffer),
		cmocka_unit_test(test_shipped),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_keep_restart_only),
		cmocka_unit_test(test_listen_equal),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
