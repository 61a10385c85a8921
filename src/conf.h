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

#include "proto.h"
#include "transform.h"

/* Limits, checked by conf_load() and documented in upcased.conf(5). */
#define CONF_MAX_LISTENERS        64
#define CONF_MAX_THREADS          1024
#define CONF_MAX_CONNECTIONS_MAX  1000000
#define CONF_IDLE_TIMEOUT_MAX     86400
#define CONF_BACKLOG_MAX          65535
#define CONF_SHUTDOWN_TIMEOUT_MAX 3600

struct conf_listener {
	char    *address;    /* "*" = every address (IPv6 dual-stack, else IPv4); or a numeric IPv4/IPv6 address */
	uint16_t port;
	bool     tcp;
	bool     udp;
	int      line;       /* line in the file, for messages */
};

struct conf {
	char    *path;                 /* file it came from */
	struct conf_listener *listeners;
	size_t   nlisteners;

	int      tcp_threads;          /* tcp.threads: 0 = number of online CPUs */
	int      max_connections;      /* open TCP connections, all workers together */
	int      idle_timeout;         /* seconds */
	int      backlog;              /* listen(2) backlog */
	int      shutdown_timeout;     /* seconds */
	enum transform_charset charset;

	int      log_level;            /* LOG_ERR .. LOG_DEBUG */
	int      log_facility;         /* LOG_DAEMON, LOG_LOCAL0, ... */

	char    *user;                 /* NULL: do not drop privileges */
	char    *pidfile;              /* NULL: none */
	char    *control_socket;       /* NULL or "": no control socket */
	mode_t   control_mode;         /* control socket permissions */
};

/* Defaults, also the values etc/upcased.conf shows. */
#define CONF_DEFAULT_PORT             12000
#define CONF_DEFAULT_MAX_CONNECTIONS  10000
#define CONF_DEFAULT_IDLE_TIMEOUT     300
#define CONF_DEFAULT_BACKLOG          1024
#define CONF_DEFAULT_SHUTDOWN_TIMEOUT 10
#define CONF_DEFAULT_CONTROL_SOCKET   UPCASE_DEFAULT_CONTROL_SOCKET
#define CONF_DEFAULT_CONTROL_MODE     0660

/*
 * Parse and validate the file at path.  On success returns a new conf
 * (free with conf_free).  On failure returns NULL and writes one message of
 * the form "FILE:LINE: what is wrong" (or "FILE: reason" when there is no
 * line, e.g. the file cannot be opened) into err.
 */
struct conf *conf_load(const char *path, char *err, size_t errlen);
/* Same, from a string (for tests); name stands in for the file name in messages. */
struct conf *conf_load_string(const char *text, const char *name, char *err, size_t errlen);
/* A conf with every default (listen on "*" port 12000, tcp and udp). */
struct conf *conf_default(void);
void conf_free(struct conf *c);

#endif
