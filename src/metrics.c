/* SPDX-License-Identifier: ISC */
/*
 * metrics.c: the Prometheus endpoint over libmicrohttpd (see metrics.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <microhttpd.h>

#include "access.h"
#include "addr.h"
#include "clock.h"
#include "expo.h"
#include "log.h"
#include "metrics.h"
#include "ratelimit.h"

#define DENIED_LOG_MS 10000	/* one line per this about refused clients */
#define MHD_LOG_BURST 5		/* libmicrohttpd's lines: this many at once, */
#define MHD_LOG_MS    10000	/* then one per this */

struct metrics {
	struct MHD_Daemon *mhd;
	metrics_render_fn render;
	void *arg;
	/*
	 * The access list: the main thread swaps it on reload, the HTTP
	 * thread reads it per connection.  Only these two take the mutex.
	 */
	pthread_mutex_t mu;
	const struct access_list *access;
	struct ratelimit denied_rl;      /* HTTP thread only */
	/*
	 * libmicrohttpd logs a line per bad request (a malformed header, no
	 * Host): any client the access rules let in could flood the log.
	 * Its logger runs in the HTTP thread and, starting and stopping, in
	 * the main one: the bucket has a mutex of its own.
	 */
	pthread_mutex_t log_mu;
	struct ratelimit log_rl;
	char where[64];
};

static const char ROOT_TEXT[] = "upcased: Prometheus metrics are at /metrics\n";
static const char NOT_FOUND_TEXT[] = "not found: the metrics are at /metrics\n";
static const char NOT_ALLOWED_TEXT[] = "method not allowed: GET or HEAD\n";

/* libmicrohttpd's own messages, into our log: rate-limited (see log_rl). */
static void
metrics_logger(void *cls, const char *fmt, va_list ap)
{
	struct metrics *m = cls;
	char msg[512];
	size_t n;
	uint64_t more = 0;
	bool ok;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	n = strlen(msg);
	while (n > 0 && msg[n - 1] == '\n')
		msg[--n] = '\0';
	pthread_mutex_lock(&m->log_mu);
	if ((ok = ratelimit_allow(&m->log_rl, clock_ms())))
		more = ratelimit_take_suppressed(&m->log_rl);
	pthread_mutex_unlock(&m->log_mu);
	if (!ok)
		log_debug("metrics: %s", msg);
	else if (more > 0)
		log_info("metrics: %s (%llu more since the last message)", msg,
		    (unsigned long long)more);
	else
		log_info("metrics: %s", msg);
}

/* Before a connection is taken: the access rules. */
static enum MHD_Result
metrics_accept_policy(void *cls, const struct sockaddr *sa, socklen_t salen)
{
	struct metrics *m = cls;
	int rule;
	bool ok;

	(void)salen;
	log_set_thread_name("metrics");
	pthread_mutex_lock(&m->mu);
	ok = access_allows(m->access, sa, &rule);
	pthread_mutex_unlock(&m->mu);
	if (!ok) {
		char host[INET6_ADDRSTRLEN + 8] = "?";
		int port = 0;

		if (sa->sa_family == AF_INET) {
			const struct sockaddr_in *in = (const struct sockaddr_in *)sa;

			inet_ntop(AF_INET, &in->sin_addr, host, sizeof(host));
			port = ntohs(in->sin_port);
		} else if (sa->sa_family == AF_INET6) {
			const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;

			inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof(host));
			port = ntohs(in6->sin6_port);
		}
		if (ratelimit_allow(&m->denied_rl, clock_ms()))
			log_notice("metrics: refused %s port %d: denied by an access rule "
			    "(%llu more since the last message)", host, port,
			    (unsigned long long)ratelimit_take_suppressed(&m->denied_rl));
		else
			log_debug("metrics: refused %s port %d: denied by an access rule",
			    host, port);
		return MHD_NO;
	}
	return MHD_YES;
}

static enum MHD_Result
metrics_reply(struct MHD_Connection *c, unsigned int status, const char *type,
    const char *body, size_t len, enum MHD_ResponseMemoryMode mode, bool allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(len, (void *)body, mode);
	enum MHD_Result ret;

	if (r == NULL) {
		if (mode == MHD_RESPMEM_MUST_FREE)
			free((void *)body);
		return MHD_NO;	/* out of memory: the connection is closed */
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	MHD_add_response_header(r, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result
metrics_handler(void *cls, struct MHD_Connection *c, const char *url,
    const char *method, const char *version, const char *upload, size_t *upload_len,
    void **req)
{
	struct metrics *m = cls;
	char *body;
	size_t len;

	(void)version;
	(void)upload;
	(void)req;
	/* Answered at the headers; a body (of a POST, say) is not read. */
	*upload_len = 0;
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return metrics_reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "text/plain; charset=utf-8",
		    NOT_ALLOWED_TEXT, sizeof(NOT_ALLOWED_TEXT) - 1, MHD_RESPMEM_PERSISTENT, true);
	if (strcmp(url, "/") == 0)
		return metrics_reply(c, MHD_HTTP_OK, "text/plain; charset=utf-8",
		    ROOT_TEXT, sizeof(ROOT_TEXT) - 1, MHD_RESPMEM_PERSISTENT, false);
	if (strcmp(url, "/metrics") != 0)
		return metrics_reply(c, MHD_HTTP_NOT_FOUND, "text/plain; charset=utf-8",
		    NOT_FOUND_TEXT, sizeof(NOT_FOUND_TEXT) - 1, MHD_RESPMEM_PERSISTENT, false);
	if ((body = malloc(METRICS_BODY_MAX)) == NULL)
		return MHD_NO;
	len = m->render(body, METRICS_BODY_MAX, m->arg);
	return metrics_reply(c, MHD_HTTP_OK, EXPO_CONTENT_TYPE, body, len,
	    MHD_RESPMEM_MUST_FREE, false);
}

struct metrics *
metrics_start(const char *address, int port, const struct access_list *access,
    metrics_render_fn render, void *arg, char *err, size_t errlen)
{
	struct addr_listen al;
	struct sockaddr_storage ss;
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
	struct metrics *m;

	if (addr_listen_parse(address, &al) == -1) {
		snprintf(err, errlen, "metrics.address %s is not an address", address);
		return NULL;
	}
	if ((m = calloc(1, sizeof(*m))) == NULL) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->render = render;
	m->arg = arg;
	m->access = access;
	pthread_mutex_init(&m->mu, NULL);
	pthread_mutex_init(&m->log_mu, NULL);
	ratelimit_init(&m->denied_rl, 1, DENIED_LOG_MS, clock_ms());
	ratelimit_init(&m->log_rl, MHD_LOG_BURST, MHD_LOG_MS, clock_ms());
	memset(&ss, 0, sizeof(ss));
	if (al.family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons((uint16_t)port);
		memcpy(&in->sin_addr, al.bytes, 4);
		snprintf(m->where, sizeof(m->where), "%s:%d", address, port);
	} else if (al.family == AF_INET6) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((uint16_t)port);
		memcpy(&in6->sin6_addr, al.bytes, 16);
		flags |= MHD_USE_IPv6;
		snprintf(m->where, sizeof(m->where), "[%s]:%d", address, port);
	} else {
		flags |= MHD_USE_DUAL_STACK;	/* "*": IPv6 and IPv4 */
		snprintf(m->where, sizeof(m->where), "*:%d", port);
	}
	errno = 0;
	m->mhd = MHD_start_daemon(flags, (uint16_t)port,
	    metrics_accept_policy, m, metrics_handler, m,
	    MHD_OPTION_EXTERNAL_LOGGER, metrics_logger, m,
	    MHD_OPTION_CONNECTION_LIMIT, (unsigned int)METRICS_CONNECTIONS,
	    MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)METRICS_PER_IP,
	    MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)METRICS_TIMEOUT_S,
	    MHD_OPTION_LISTEN_BACKLOG_SIZE, (unsigned int)METRICS_CONNECTIONS,
	    al.family == AF_UNSPEC ? MHD_OPTION_END : MHD_OPTION_SOCK_ADDR, &ss,
	    MHD_OPTION_END);
	if (m->mhd == NULL) {
		snprintf(err, errlen, "metrics: cannot serve on %s%s%s", m->where,
		    errno != 0 ? ": " : " (see the messages above)",
		    errno != 0 ? strerror(errno) : "");
		pthread_mutex_destroy(&m->mu);
		pthread_mutex_destroy(&m->log_mu);
		free(m);
		return NULL;
	}
	return m;
}

void
metrics_set_access(struct metrics *m, const struct access_list *access)
{
	if (m == NULL)
		return;
	pthread_mutex_lock(&m->mu);
	m->access = access;
	pthread_mutex_unlock(&m->mu);
}

const char *
metrics_where(const struct metrics *m)
{
	return m->where;
}

void
metrics_stop(struct metrics *m)
{
	if (m == NULL)
		return;
	MHD_stop_daemon(m->mhd);
	pthread_mutex_destroy(&m->mu);
	pthread_mutex_destroy(&m->log_mu);
	free(m);
}
