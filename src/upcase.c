/* SPDX-License-Identifier: ISC */
/*
 * upcase.c: the command-line client.  Sends text to upcased over TCP or UDP
 * and prints what comes back; or asks the daemon's control socket for its
 * counters (--stats).
 *
 * Layout: options, addressing (resolve, connect), transports (the TCP
 * pump, the UDP exchange), then the modes (TEXT, prompt, stream, stats)
 * that main() picks from.  Errors are one line on stderr, "upcase: WHO:
 * reason", and an exit code from <sysexits.h> that travels back to main().
 */
#include "config.h"

#include <sys/types.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>

#include <netinet/in.h>
#include <arpa/inet.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "clock.h"
#include "ctlfmt.h"
#include "proto.h"
#include "stdfds.h"

#define IOBUF_SIZE     (64 * 1024)   /* each direction of the TCP pump */
#define UDP_RECV_SIZE  65536         /* more than any UDP payload */
#define TIMEOUT_MAX_S  86400.0
#define RETRIES_MAX    100
#define PROMPT         "Input lowercase sentence: "
#define STATS_REQUEST  "stats\n"
#define LISTING_MAX    ((size_t)256 << 20)  /* bytes of a listing we read, at most */
#define SOURCES_MAX    256           /* -n: the daemon's LISTING_SOURCES_MAX */

/* Returned by steps that did not end the run; exit codes are >= 0. */
#define CONTINUE       (-1)

/* ------------------------------------------------------------ errors */

static int __attribute__((format(printf, 3, 4)))
fail(int code, const char *who, const char *fmt, ...)
{
	va_list ap;

	char line[1024];
	size_t len;
	int n;

	/* One write, so lines from clients run side by side do not interleave. */
	fflush(stdout);
	n = snprintf(line, sizeof(line), "upcase: %s%s", who ? who : "", who ? ": " : "");
	len = n > 0 ? (size_t)n : 0;
	va_start(ap, fmt);
	n = vsnprintf(line + len, sizeof(line) - len, fmt, ap);
	va_end(ap);
	len += n > 0 ? (size_t)n : 0;
	if (len > sizeof(line) - 2)
		len = sizeof(line) - 2;
	line[len++] = '\n';
	if (write(STDERR_FILENO, line, len) == -1) {
		/* nowhere left to say it */
	}
	return code;
}

/* The exit code for a failed network operation, by its errno. */
static int
net_code(int err)
{
	switch (err) {
	case ETIMEDOUT:
		return EX_TEMPFAIL;
	case ECONNREFUSED:
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
	case EAFNOSUPPORT:
	case ENOENT:
	case EACCES:
		return EX_UNAVAILABLE;
	default:
		return EX_IOERR;
	}
}

static int
fail_net(const char *who, int err)
{
	return fail(net_code(err), who, "%s", strerror(err));
}

static int
write_all(int fd, const char *buf, size_t len, const char *who)
{
	ssize_t n;

	while (len > 0) {
		if ((n = write(fd, buf, len)) == -1) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (errno == EINTR)
				continue;
			/* A non-blocking descriptor shared with another program: wait. */
			if (errno == EAGAIN && poll(&p, 1, -1) >= 0)
				continue;
			return fail(EX_IOERR, who, "%s", strerror(errno));
		}
		buf += n;
		len -= (size_t)n;
	}
	return CONTINUE;
}

/* ------------------------------------------------------------ options */

struct opts {
	char     host[NI_MAXHOST];  /* "" when none given: loopback */
	char     host_port[16];    /* port given with -H, or "" */
	const char *opt_port;      /* port given with -p, or NULL */
	char     port[16];         /* the one to use, set by check_opts() */
	int      family;           /* AF_UNSPEC, or forced by -4 / -6 */
	bool     udp;
	bool     quiet;
	bool     stats;
	bool     connections;      /* --connections */
	bool     sources;          /* --sources */
	bool     json;             /* --json: for --connections, --sources */
	int      nsources;         /* -n; 0: the daemon's default */
	bool     net_opts;         /* -H, -p, -4, -6 or --retries given (not for --stats) */
	const char *control;       /* -S, or NULL for the default */
	int      timeout_ms;
	int      retries;
	char   **text;             /* TEXT words, ntext of them */
	int      ntext;
	char     who[NI_MAXHOST + 24];  /* "HOST:PORT" for messages */
};

enum { OPT_RETRIES = 256, OPT_STATS, OPT_CONNECTIONS, OPT_SOURCES, OPT_JSON };

static const struct option longopts[] = {
	{ "ipv4",    no_argument,       NULL, '4' },
	{ "ipv6",    no_argument,       NULL, '6' },
	{ "host",    required_argument, NULL, 'H' },
	{ "help",    no_argument,       NULL, 'h' },
	{ "port",    required_argument, NULL, 'p' },
	{ "quiet",   no_argument,       NULL, 'q' },
	{ "control", required_argument, NULL, 'S' },
	{ "timeout", required_argument, NULL, 'w' },
	{ "udp",     no_argument,       NULL, 'u' },
	{ "version", no_argument,       NULL, 'V' },
	{ "retries", required_argument, NULL, OPT_RETRIES },
	{ "stats",   no_argument,       NULL, OPT_STATS },
	{ "connections", no_argument,   NULL, OPT_CONNECTIONS },
	{ "sources", no_argument,       NULL, OPT_SOURCES },
	{ "json",    no_argument,       NULL, OPT_JSON },
	{ "top",     required_argument, NULL, 'n' },
	{ NULL, 0, NULL, 0 }
};

static const char usage_text[] =
    "usage: upcase [-46quV] [-H host[:port]] [-p port] [-w seconds] [--retries n]\n"
    "              [text ...]\n"
    "       upcase --stats [-S path] [-w seconds]\n"
    "       upcase --connections [--json] [-S path] [-w seconds]\n"
    "       upcase --sources [--json] [-n count] [-S path] [-w seconds]\n";

static void
usage_long(void)
{
	printf("%s\n"
	    "Send text to an upcased server and print it back in upper case.  With TEXT,\n"
	    "send the words joined by spaces; without, prompt for lines on a terminal or\n"
	    "stream standard input to the server and the reply to standard output.\n\n"
	    "  -H, --host HOST[:PORT]  server name or address (default: 127.0.0.1,\n"
	    "                          then ::1); IPv6 as [ADDR] or [ADDR]:PORT\n"
	    "  -p, --port PORT         server port (default %d)\n"
	    "  -4, --ipv4              IPv4 only\n"
	    "  -6, --ipv6              IPv6 only\n"
	    "  -u, --udp               UDP: one datagram per line\n"
	    "  -w, --timeout SECONDS   connect and reply timeout (default 5; 0.5 allowed)\n"
	    "      --retries N         UDP: resend an unanswered line N times (default 2)\n"
	    "  -q, --quiet             no prompt\n"
	    "      --stats             print the daemon's counters\n"
	    "      --connections       list the daemon's open TCP connections\n"
	    "      --sources           list the busiest sources and how often each\n"
	    "                          was limited\n"
	    "  -n, --top COUNT         --sources: that many per protocol (1 to %d;\n"
	    "                          default 20)\n"
	    "      --json              --connections, --sources: one JSON object per\n"
	    "                          line\n"
	    "  -S, --control PATH      control socket for --stats, --connections,\n"
	    "                          --sources\n"
	    "                          (default %s)\n"
	    "  -h, --help              this help\n"
	    "  -V, --version           print the version\n\n"
	    "Exit status: 0 ok, 64 usage, 69 unreachable or refused, 71 system error,\n"
	    "74 I/O error, 75 timed out.  See upcase(1).\n\n"
	    "Report bugs to: %s\n",
	    usage_text, UPCASE_DEFAULT_PORT, SOURCES_MAX, UPCASE_DEFAULT_CONTROL_SOCKET,
	    PACKAGE_BUGREPORT);
}

static int __attribute__((format(printf, 1, 2)))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "upcase: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'upcase --help' for more information.\n");
	return EX_USAGE;
}

static int
parse_timeout(const char *s, int *ms)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	/* Written so that NaN fails too. */
	if (end == s || *end != '\0' || errno != 0 ||
	    !(v > 0 && v <= TIMEOUT_MAX_S))
		return usage_error("invalid timeout '%s' (seconds, more than 0,"
		    " at most %.0f)", s, TIMEOUT_MAX_S);
	*ms = (int)(v * 1000 + 0.5);
	if (*ms < 1)
		*ms = 1;
	return CONTINUE;
}

static int
parse_retries(const char *s, int *retries)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < 0 || v > RETRIES_MAX ||
	    s[0] == '+' || s[0] == '-' || s[0] == ' ')
		return usage_error("invalid retry count '%s' (0 to %d)", s,
		    RETRIES_MAX);
	*retries = (int)v;
	return CONTINUE;
}

static int
parse_count(const char *s, int *count)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (end == s || *end != '\0' || errno != 0 || v < 1 || v > SOURCES_MAX ||
	    s[0] == '+' || s[0] == ' ')
		return usage_error("invalid count '%s' (1 to %d)", s, SOURCES_MAX);
	*count = (int)v;
	return CONTINUE;
}

static int
parse_host(struct opts *o, const char *s)
{
	char err[128];

	o->host_port[0] = '\0';
	if (addr_split_hostport(s, o->host, sizeof(o->host), o->host_port,
	    sizeof(o->host_port), err, sizeof(err)) == -1)
		return usage_error("invalid host '%s': %s", s, err);
	return CONTINUE;
}

static int
parse_family(struct opts *o, int family)
{
	if (o->family != AF_UNSPEC && o->family != family)
		return usage_error("-4 and -6 exclude each other");
	o->family = family;
	return CONTINUE;
}

static int
parse_one(struct opts *o, int ch, const char *arg)
{
	if (ch == '4' || ch == '6' || ch == 'H' || ch == 'p' || ch == OPT_RETRIES)
		o->net_opts = true;
	switch (ch) {
	case '4':
		return parse_family(o, AF_INET);
	case '6':
		return parse_family(o, AF_INET6);
	case 'H':
		return parse_host(o, arg);
	case 'p':
		if (addr_parse_port(arg) == -1)
			return usage_error("invalid port '%s' (1 to 65535)", arg);
		o->opt_port = arg;
		break;
	case 'q':
		o->quiet = true;
		break;
	case 'S':
		o->control = arg;
		break;
	case 'w':
		return parse_timeout(arg, &o->timeout_ms);
	case 'u':
		o->udp = true;
		break;
	case OPT_RETRIES:
		return parse_retries(arg, &o->retries);
	case OPT_STATS:
		o->stats = true;
		break;
	case OPT_CONNECTIONS:
		o->connections = true;
		break;
	case OPT_SOURCES:
		o->sources = true;
		break;
	case OPT_JSON:
		o->json = true;
		break;
	case 'n':
		return parse_count(arg, &o->nsources);
	case 'h':
		usage_long();
		return EX_OK;
	case 'V':
		printf("upcase %s\n", PACKAGE_VERSION);
		return EX_OK;
	default:
		return usage_error("unhandled option");
	}
	return CONTINUE;
}

/* Rules that involve more than one option. */
static int
check_opts(struct opts *o)
{
	struct sockaddr_storage ss;
	socklen_t len;
	int numeric_family;

	if (o->host_port[0] != '\0' && o->opt_port != NULL)
		return usage_error("port given twice (in -H and with -p)");
	if (o->host_port[0] != '\0' && addr_parse_port(o->host_port) == -1)
		return usage_error("invalid port '%s' (1 to 65535)", o->host_port);
	snprintf(o->port, sizeof(o->port), "%s", o->host_port[0] != '\0' ?
	    o->host_port : o->opt_port != NULL ? o->opt_port :
	    UPCASE_DEFAULT_PORT_STR);
	if (o->stats + o->connections + o->sources > 1)
		return usage_error("--stats, --connections and --sources exclude each other");
	if (o->stats && (o->ntext > 0 || o->udp || o->net_opts))
		return usage_error("--stats takes no TEXT and none of -u, -H, -p, -4, -6, "
		    "--retries (it reads the control socket: see -S)");
	if ((o->connections || o->sources) && (o->ntext > 0 || o->udp || o->net_opts))
		return usage_error("--%s takes no TEXT and none of -u, -H, -p, -4, -6, "
		    "--retries (it reads the control socket: see -S)",
		    o->connections ? "connections" : "sources");
	if (o->control != NULL && !o->stats && !o->connections && !o->sources)
		return usage_error("-S is for --stats, --connections and --sources");
	if (o->json && !o->connections && !o->sources)
		return usage_error("--json is for --connections and --sources");
	if (o->nsources != 0 && !o->sources)
		return usage_error("-n is for --sources");
	if (o->family != AF_UNSPEC &&
	    addr_parse_numeric(o->host, 0, &ss, &len) == 0) {
		numeric_family = ss.ss_family;
		if (numeric_family != o->family)
			return usage_error("%s is not an %s address", o->host,
			    o->family == AF_INET ? "IPv4" : "IPv6");
	}
	/* No host: messages name the loopback addresses that will be tried. */
	if (o->host[0] == '\0' && o->family == AF_UNSPEC)
		snprintf(o->who, sizeof(o->who), "127.0.0.1:%s, [::1]:%s",
		    o->port, o->port);
	else if (o->host[0] == '\0')
		snprintf(o->who, sizeof(o->who), o->family == AF_INET ?
		    "127.0.0.1:%s" : "[::1]:%s", o->port);
	else
		snprintf(o->who, sizeof(o->who), strchr(o->host, ':') != NULL ?
		    "[%s]:%s" : "%s:%s", o->host, o->port);
	return CONTINUE;
}

/* The option getopt_long() just rejected, as the user spelled it. */
static int
bad_option(char *argv[], int ch)
{
	const char *arg = argv[optind - 1];
	char name[64];

	/*
	 * optopt names a bad short option; in a cluster ("-xq") optind has not
	 * moved on yet, so argv[optind - 1] may be an earlier argument.
	 */
	if (optopt == 0 && strncmp(arg, "--", 2) == 0)
		snprintf(name, sizeof(name), "%.*s", (int)strcspn(arg, "="), arg);
	else
		snprintf(name, sizeof(name), "-%c", optopt);
	if (ch == ':')
		return usage_error("option %s needs an argument", name);
	return usage_error("unknown option %s", name);
}

static int
parse_opts(struct opts *o, int argc, char *argv[])
{
	int ch, rc;

	memset(o, 0, sizeof(*o));
	o->family = AF_UNSPEC;
	o->timeout_ms = 5000;
	o->retries = 2;
	opterr = 0;   /* our messages say "upcase:", not argv[0] */
	while ((ch = getopt_long(argc, argv, ":46H:hn:p:qS:uVw:", longopts,
	    NULL)) != -1) {
		if (ch == ':' || ch == '?')
			return bad_option(argv, ch);
		if ((rc = parse_one(o, ch, optarg)) != CONTINUE)
			return rc;
	}
	o->text = argv + optind;
	o->ntext = argc - optind;
	return check_opts(o);
}

/* ------------------------------------------------------------ addressing */

/*
 * Where the addresses tried come from: getaddrinfo() for a host given
 * with -H, else the loopback addresses built here.
 */
struct addrs {
	struct addrinfo *gai;      /* to free, or NULL */
	struct {
		struct addrinfo ai;
		union {
			struct sockaddr_in  sin;
			struct sockaddr_in6 sin6;
		} sa;
	} lo[2];
};

/*
 * No host: 127.0.0.1, then ::1, as -4 / -6 allow.  Not "localhost":
 * whether and how that resolves depends on /etc/hosts (some map it to
 * ::1 only, or not at all), and a daemon on either loopback should be
 * reached the same way.
 */
static void
loopback_list(const struct opts *o, int socktype, struct addrs *a,
    struct addrinfo **res)
{
	struct addrinfo *ai, **next = res;
	uint16_t port = htons((uint16_t)addr_parse_port(o->port));
	int i;

	for (i = 0; i < 2; i++) {
		ai = &a->lo[i].ai;
		if (i == 0 && o->family != AF_INET6) {
			ai->ai_family = AF_INET;
			a->lo[i].sa.sin.sin_family = AF_INET;
			a->lo[i].sa.sin.sin_port = port;
			a->lo[i].sa.sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
			ai->ai_addrlen = sizeof(a->lo[i].sa.sin);
		} else if (i == 1 && o->family != AF_INET) {
			ai->ai_family = AF_INET6;
			a->lo[i].sa.sin6.sin6_family = AF_INET6;
			a->lo[i].sa.sin6.sin6_port = port;
			a->lo[i].sa.sin6.sin6_addr = in6addr_loopback;
			ai->ai_addrlen = sizeof(a->lo[i].sa.sin6);
		} else
			continue;
		ai->ai_socktype = socktype;
		ai->ai_protocol = socktype == SOCK_STREAM ? IPPROTO_TCP :
		    IPPROTO_UDP;
		ai->ai_addr = (struct sockaddr *)&a->lo[i].sa;
		*next = ai;
		next = &ai->ai_next;
	}
	*next = NULL;
}

static int
resolve(const struct opts *o, int socktype, struct addrs *a,
    struct addrinfo **res)
{
	struct addrinfo hints;
	int rc;

	memset(a, 0, sizeof(*a));
	if (o->host[0] == '\0') {
		loopback_list(o, socktype, a, res);
		return CONTINUE;
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_family = o->family;
	hints.ai_socktype = socktype;
	/* No AI_ADDRCONFIG: "localhost" must work on a host with only lo. */
	hints.ai_flags = AI_NUMERICSERV;
	rc = getaddrinfo(o->host, o->port, &hints, res);
	if (rc == 0) {
		a->gai = *res;
		return CONTINUE;
	}
	if (rc == EAI_SYSTEM)
		return fail(EX_UNAVAILABLE, o->who, "%s", strerror(errno));
	return fail(rc == EAI_AGAIN ? EX_TEMPFAIL : EX_UNAVAILABLE,
	    o->who, "%s", gai_strerror(rc));
}

/* Wait up to timeout_ms for events on fd; 0 = timed out, -1 = error. */
static int
wait_fd(int fd, short events, int timeout_ms)
{
	struct pollfd pfd = { .fd = fd, .events = events };
	int64_t deadline = (int64_t)clock_ms() + timeout_ms, left;
	int rc;

	for (;;) {
		left = deadline - (int64_t)clock_ms();
		rc = poll(&pfd, 1, left > 0 ? (int)left : 0);
		if (rc != -1 || errno != EINTR)
			return rc;
	}
}

/* Non-blocking connect with a timeout; the socket stays non-blocking. */
static int
tcp_connect_one(const struct addrinfo *ai, int timeout_ms, int *err)
{
	socklen_t len = sizeof(*err);
	int fd, rc;

	fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
	    ai->ai_protocol);
	if (fd == -1) {
		*err = errno;
		return -1;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return fd;
	*err = errno;
	if (*err == EINPROGRESS) {
		rc = wait_fd(fd, POLLOUT, timeout_ms);
		if (rc == 0)
			*err = ETIMEDOUT;
		else if (rc == -1)
			*err = errno;
		else if (getsockopt(fd, SOL_SOCKET, SO_ERROR, err, &len) == -1)
			*err = errno;
		if (*err == 0)
			return fd;
	}
	close(fd);
	return -1;
}

/* Try every address in turn; the last one's error is the one reported. */
static int
tcp_connect(const struct opts *o, const struct addrinfo *res, int *fdp)
{
	const struct addrinfo *ai;
	int err = EADDRNOTAVAIL;

	for (ai = res; ai != NULL; ai = ai->ai_next) {
		if ((*fdp = tcp_connect_one(ai, o->timeout_ms, &err)) != -1)
			return CONTINUE;
	}
	return fail_net(o->who, err);
}

/* ------------------------------------------------------------ TCP pump */

/*
 * Moves bytes stdin -> socket and socket -> stdout at the same time, so
 * neither side can fill up and stall the other, with one bounded buffer
 * per direction.  The input is either an fd (in_fd) or a fixed span of
 * memory (in_fd -1, in_eof set).
 */
struct pump {
	int         sock;
	int         in_fd;
	bool        in_eof;
	const char *in_ptr;         /* bytes read but not yet sent */
	size_t      in_len;
	bool        shut;           /* our write side is shut down */
	bool        sock_eof;
	size_t      out_off;        /* reply bytes not yet written */
	size_t      out_len;
	bool        sent_any;       /* some input went to the server */
	bool        got_any;        /* some reply came back */
	int         timeout_ms;
	bool        waiting;        /* on the server, as of the last round */
	int64_t     idle_since;     /* since then, or its last progress */
	char        in_buf[IOBUF_SIZE];
	char        out_buf[IOBUF_SIZE];
};

/*
 * The server owes us something: bytes are waiting to go to it, or we have
 * finished sending and wait for its end.  Waiting on stdin or on a slow
 * stdout reader is not the server's fault and never times out.
 */
static bool
pump_waiting_on_server(const struct pump *p)
{
	return !p->sock_eof && p->out_len == 0 && (p->in_len > 0 || p->shut);
}

static void
pump_events(const struct pump *p, struct pollfd pfd[3])
{
	pfd[0].fd = p->in_fd >= 0 && !p->in_eof && p->in_len == 0 ? p->in_fd : -1;
	pfd[0].events = POLLIN;
	pfd[1].events = (p->in_len > 0 ? POLLOUT : 0) |
	    (!p->sock_eof && p->out_len == 0 ? POLLIN : 0);
	/* Not even for POLLHUP: it would spin while stdout drains. */
	pfd[1].fd = pfd[1].events != 0 ? p->sock : -1;
	pfd[2].fd = p->out_len > 0 ? STDOUT_FILENO : -1;
	pfd[2].events = POLLOUT;
}

static int
pump_read_stdin(struct pump *p)
{
	ssize_t n = read(p->in_fd, p->in_buf, sizeof(p->in_buf));

	if (n > 0) {
		p->in_ptr = p->in_buf;
		p->in_len = (size_t)n;
	} else if (n == 0) {
		p->in_eof = true;
	} else if (errno != EINTR && errno != EAGAIN) {
		return fail(EX_IOERR, "stdin", "%s", strerror(errno));
	}
	return CONTINUE;
}

static int
pump_send(struct pump *p, const char *who)
{
	ssize_t n = send(p->sock, p->in_ptr, p->in_len, MSG_NOSIGNAL);

	if (n >= 0) {
		p->in_ptr += n;
		p->in_len -= (size_t)n;
		p->sent_any |= n > 0;
		p->idle_since = (int64_t)clock_ms();
	} else if (errno != EINTR && errno != EAGAIN) {
		return fail(EX_IOERR, who, "%s", strerror(errno));
	}
	return CONTINUE;
}

static int
pump_recv(struct pump *p, const char *who)
{
	ssize_t n = recv(p->sock, p->out_buf, sizeof(p->out_buf), 0);

	if (n > 0) {
		p->out_off = 0;
		p->out_len = (size_t)n;
		p->got_any = true;
		p->idle_since = (int64_t)clock_ms();
	} else if (n == 0) {
		p->sock_eof = true;
	} else if (errno != EINTR && errno != EAGAIN) {
		return fail(EX_IOERR, who, "%s", strerror(errno));
	}
	return CONTINUE;
}

static int
pump_write_stdout(struct pump *p)
{
	ssize_t n = write(STDOUT_FILENO, p->out_buf + p->out_off, p->out_len);

	if (n >= 0) {
		p->out_off += (size_t)n;
		p->out_len -= (size_t)n;
	} else if (errno != EINTR && errno != EAGAIN) {
		return fail(EX_IOERR, "stdout", "%s", strerror(errno));
	}
	return CONTINUE;
}

/* One round of I/O on whatever poll() found ready. */
static int
pump_io(struct pump *p, const struct pollfd pfd[3], const char *who)
{
	short ready = POLLIN | POLLOUT | POLLHUP | POLLERR | POLLNVAL;
	int rc = CONTINUE;

	if (pfd[0].fd != -1 && (pfd[0].revents & ready))
		rc = pump_read_stdin(p);
	if (rc == CONTINUE && (pfd[1].events & POLLOUT) &&
	    (pfd[1].revents & ready))
		rc = pump_send(p, who);
	if (rc == CONTINUE && (pfd[1].events & POLLIN) &&
	    (pfd[1].revents & ready))
		rc = pump_recv(p, who);
	if (rc == CONTINUE && pfd[2].fd != -1 && (pfd[2].revents & ready))
		rc = pump_write_stdout(p);
	return rc;
}

/* A state change that needs no poll(): half-close, or the end. */
static int
pump_step(struct pump *p, const char *who)
{
	if (p->in_eof && p->in_len == 0 && !p->shut) {
		/* ENOTCONN: the peer reset first; recv() will say so. */
		if (shutdown(p->sock, SHUT_WR) == -1 && errno != ENOTCONN)
			return fail(EX_IOERR, who, "%s", strerror(errno));
		p->shut = true;
	}
	if (p->sock_eof && p->out_len == 0)
		return p->shut ? EX_OK : fail(EX_IOERR, who,
		    "server closed the connection before all input was sent");
	return CONTINUE;
}

static int
pump_run(struct pump *p, const char *who)
{
	struct pollfd pfd[3];
	int64_t left;
	int rc;

	while ((rc = pump_step(p, who)) == CONTINUE) {
		pump_events(p, pfd);
		/* The clock runs from when we started to wait, not before. */
		if (!p->waiting || !pump_waiting_on_server(p))
			p->idle_since = (int64_t)clock_ms();
		p->waiting = pump_waiting_on_server(p);
		left = p->idle_since + p->timeout_ms - (int64_t)clock_ms();
		if (left <= 0)
			return fail(EX_TEMPFAIL, who,
			    "timed out waiting for the server");
		rc = poll(pfd, 3, p->waiting ? (int)left : -1);
		if (rc == -1 && errno != EINTR)
			return fail(EX_IOERR, who, "poll: %s", strerror(errno));
		if (rc > 0 && (rc = pump_io(p, pfd, who)) != CONTINUE)
			return rc;
	}
	/* Every byte sent comes back as at least one: silence is a refusal. */
	if (rc == EX_OK && p->sent_any && !p->got_any)
		return fail(EX_IOERR, who,
		    "the server closed the connection without replying");
	return rc;
}

/* Run a pump over sock; input from in_fd, or text when in_fd is -1. */
static int
pump_with(int sock, int in_fd, const char *text, size_t len, int timeout_ms,
    const char *who)
{
	struct pump *p;
	int rc;

	if ((p = calloc(1, sizeof(*p))) == NULL)
		return fail(EX_OSERR, NULL, "%s", strerror(errno));
	p->sock = sock;
	p->in_fd = in_fd;
	p->in_eof = in_fd == -1;
	p->in_ptr = text;
	p->in_len = len;
	p->timeout_ms = timeout_ms;
	rc = pump_run(p, who);
	free(p);
	return rc;
}

/*
 * One TCP exchange for a whole message: connect, send, read to EOF, then
 * a newline.  CONTINUE when it worked.
 */
static int
tcp_message(const struct opts *o, const struct addrinfo *res,
    const char *text, size_t len)
{
	int fd, rc;

	if ((rc = tcp_connect(o, res, &fd)) != CONTINUE)
		return rc;
	rc = pump_with(fd, -1, text, len, o->timeout_ms, o->who);
	close(fd);
	if (rc != EX_OK)
		return rc;
	return write_all(STDOUT_FILENO, "\n", 1, "stdout");
}

/* ------------------------------------------------------------ UDP */

/*
 * A connected UDP socket: the kernel drops datagrams from anyone but the
 * server, and an ICMP port unreachable comes back as ECONNREFUSED.
 */
struct udp {
	int              fd;
	const struct addrinfo *list;
	const struct addrinfo *cur;
	int              naddrs;
	char             reply[UDP_RECV_SIZE];
};

enum udp_result { UDP_REPLY, UDP_LOST, UDP_REFUSED };

/*
 * A socket connected to u->cur or, when that fails (no route, no IPv6),
 * to the next address that works.
 */
static int
udp_open(struct udp *u, const struct opts *o)
{
	int i, err = EADDRNOTAVAIL;

	for (i = 0; i < u->naddrs; i++) {
		u->fd = socket(u->cur->ai_family,
		    u->cur->ai_socktype | SOCK_CLOEXEC, u->cur->ai_protocol);
		if (u->fd != -1 &&
		    connect(u->fd, u->cur->ai_addr, u->cur->ai_addrlen) == 0)
			return CONTINUE;
		err = errno;
		if (u->fd != -1)
			close(u->fd);
		u->fd = -1;
		u->cur = u->cur->ai_next != NULL ? u->cur->ai_next : u->list;
	}
	return fail_net(o->who, err);
}

/* The next address, wrapping round: the one that refused may be back. */
static int
udp_next(struct udp *u, const struct opts *o)
{
	close(u->fd);
	u->fd = -1;
	u->cur = u->cur->ai_next != NULL ? u->cur->ai_next : u->list;
	return udp_open(u, o);
}

static size_t
udp_max(const struct udp *u)
{
	return u->cur->ai_family == AF_INET6 ? UPCASE_UDP_MAX_PAYLOAD6 :
	    UPCASE_UDP_MAX_PAYLOAD4;
}

/*
 * Replies that come after we gave up on them would answer the wrong
 * line: throw away whatever is queued (and a pending ICMP error).
 */
static void
udp_drain(struct udp *u)
{
	while (recv(u->fd, u->reply, sizeof(u->reply), MSG_DONTWAIT) != -1 ||
	    errno == ECONNREFUSED || errno == EINTR)
		;
}

static int
udp_error(const struct opts *o, int err, enum udp_result *res)
{
	if (err == ECONNREFUSED) {
		*res = UDP_REFUSED;
		return CONTINUE;
	}
	return fail_net(o->who, err);
}

/* Send once and wait for the answer; *rlen gets the reply's length. */
static int
udp_try(struct udp *u, const struct opts *o, const char *msg, size_t len,
    size_t *rlen, enum udp_result *res)
{
	ssize_t n;
	int rc;

	*res = UDP_LOST;
	*rlen = 0;
	if (send(u->fd, msg, len, 0) == -1)
		return udp_error(o, errno, res);
	if ((rc = wait_fd(u->fd, POLLIN, o->timeout_ms)) == 0)
		return CONTINUE;
	if (rc == -1 || (n = recv(u->fd, u->reply, sizeof(u->reply), 0)) == -1)
		return udp_error(o, errno, res);
	*rlen = (size_t)n;
	*res = UDP_REPLY;
	return CONTINUE;
}

/*
 * Up to 1 + retries attempts.  A refusal moves on to the next address
 * without using up an attempt until every address has refused once.
 * No reply at all is a timeout (75); refused every time is 69.
 */
static int
udp_exchange(struct udp *u, const struct opts *o, const char *msg,
    size_t len, size_t *rlen)
{
	enum udp_result res;
	int attempt = 0, refusals = 0, rc;
	bool lost = false;

	if (len > udp_max(u))
		return fail(EX_USAGE, o->who, "line of %zu bytes is too"
		    " long for a UDP datagram (at most %zu)", len, udp_max(u));
	udp_drain(u);
	while (attempt <= o->retries) {
		if ((rc = udp_try(u, o, msg, len, rlen, &res)) != CONTINUE)
			return rc;
		if (res == UDP_REPLY)
			return CONTINUE;
		if (res == UDP_LOST) {
			lost = true;
			attempt++;
			continue;
		}
		if (++refusals >= u->naddrs) {
			refusals = 0;
			attempt++;
		}
		if ((rc = udp_next(u, o)) != CONTINUE)
			return rc;
	}
	if (lost)
		return fail(EX_TEMPFAIL, o->who, "no reply after %d %s",
		    o->retries + 1, o->retries == 0 ? "try" : "tries");
	return fail_net(o->who, ECONNREFUSED);
}

/* Send one line as a datagram and print the reply and a newline. */
static int
udp_line(struct udp *u, const struct opts *o, const char *msg, size_t len)
{
	size_t rlen;
	int rc;

	if ((rc = udp_exchange(u, o, msg, len, &rlen)) != CONTINUE)
		return rc;
	if ((rc = write_all(STDOUT_FILENO, u->reply, rlen, "stdout")) != CONTINUE)
		return rc;
	return write_all(STDOUT_FILENO, "\n", 1, "stdout");
}

static int
udp_create(struct udp **up, const struct opts *o, const struct addrinfo *res)
{
	struct udp *u;

	if ((u = calloc(1, sizeof(*u))) == NULL)
		return fail(EX_OSERR, NULL, "%s", strerror(errno));
	u->fd = -1;
	u->list = u->cur = res;
	for (; res != NULL; res = res->ai_next)
		u->naddrs++;
	*up = u;
	return udp_open(u, o);
}

static void
udp_destroy(struct udp *u)
{
	if (u == NULL)
		return;
	if (u->fd != -1)
		close(u->fd);
	free(u);
}

/* ------------------------------------------------------------ modes */

/* What the TEXT and prompt modes send through: TCP, or UDP when udp is set. */
struct session {
	const struct opts *o;
	struct addrinfo   *res;
	struct udp        *udp;
};

/* Send one message and print the reply and a newline; CONTINUE if it worked. */
static int
session_send(struct session *s, const char *msg, size_t len)
{
	if (s->udp != NULL)
		return udp_line(s->udp, s->o, msg, len);
	return tcp_message(s->o, s->res, msg, len);
}

/* The TEXT words, joined by single spaces, as one message. */
static int
run_text(struct session *s)
{
	size_t len = 0;
	char *buf, *q;
	int i, rc;

	for (i = 0; i < s->o->ntext; i++)
		len += strlen(s->o->text[i]) + 1;
	if ((buf = malloc(len)) == NULL)
		return fail(EX_OSERR, NULL, "%s", strerror(errno));
	for (q = buf, i = 0; i < s->o->ntext; i++) {
		if (i > 0)
			*q++ = ' ';
		q = stpcpy(q, s->o->text[i]);
	}
	rc = session_send(s, buf, (size_t)(q - buf));
	free(buf);
	return rc == CONTINUE ? EX_OK : rc;
}

/* A terminal: prompt, read a line, send it, print the reply; until EOF. */
static int
run_prompt(struct session *s)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int rc = CONTINUE;

	while (rc == CONTINUE) {
		if (!s->o->quiet) {
			fputs(PROMPT, stdout);
			fflush(stdout);
		}
		if ((n = getline(&line, &cap, stdin)) == -1)
			break;
		if (n > 0 && line[n - 1] == '\n')
			n--;
		rc = session_send(s, line, (size_t)n);
	}
	free(line);
	if (rc == CONTINUE && ferror(stdin))
		rc = fail(EX_IOERR, "stdin", "%s", strerror(errno));
	/* After ^D the cursor sits behind the prompt: end that line. */
	if (rc == CONTINUE && !s->o->quiet)
		putchar('\n');
	return rc == CONTINUE ? EX_OK : rc;
}

/* Everything on stdin through one connection, byte for byte. */
static int
run_stream_tcp(struct session *s)
{
	int fd, rc;

	if ((rc = tcp_connect(s->o, s->res, &fd)) != CONTINUE)
		return rc;
	rc = pump_with(fd, STDIN_FILENO, NULL, 0, s->o->timeout_ms, s->o->who);
	close(fd);
	return rc;
}

/* One line of stdin, without its newline, into buf; -1 at EOF. */
static ssize_t
read_line(char *buf, size_t cap)
{
	size_t n = 0;
	int c;

	while ((c = getc_unlocked(stdin)) != EOF && c != '\n') {
		if (n == cap)
			break;
		buf[n++] = (char)c;
	}
	return c == EOF && n == 0 ? -1 : (ssize_t)n;
}

/* A datagram per line of stdin; a line too long for one is an error. */
static int
run_stream_udp(struct session *s)
{
	size_t cap = UPCASE_UDP_MAX_PAYLOAD6 + 1;
	unsigned long lineno = 0;
	char *buf;
	ssize_t n;
	int rc = CONTINUE;

	if ((buf = malloc(cap)) == NULL)
		return fail(EX_OSERR, NULL, "%s", strerror(errno));
	while (rc == CONTINUE && (n = read_line(buf, cap)) != -1) {
		lineno++;
		if ((size_t)n > udp_max(s->udp))
			rc = fail(EX_USAGE, "stdin", "line %lu is longer than"
			    " the largest UDP datagram (%zu bytes)", lineno,
			    udp_max(s->udp));
		else
			rc = udp_line(s->udp, s->o, buf, (size_t)n);
	}
	free(buf);
	if (rc == CONTINUE && ferror(stdin))
		rc = fail(EX_IOERR, "stdin", "%s", strerror(errno));
	return rc == CONTINUE ? EX_OK : rc;
}

/* Connect to the daemon's control socket: CONTINUE with *fdp set (non-blocking). */
static int
control_connect(const struct opts *o, const char *path, int *fdp)
{
	struct sockaddr_un sun;
	struct timeval tv;
	int fd, rc, flags;

	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		return usage_error("control socket path too long: %s", path);
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) == -1)
		return fail(EX_OSERR, path, "%s", strerror(errno));
	/*
	 * A full backlog makes connect() wait, for as long as a send may
	 * (EAGAIN then): the timeout.  Then non-blocking, as the pump needs:
	 * a blocking recv() after a POLLOUT would wait for ever on a daemon
	 * that never answers.
	 */
	tv.tv_sec = o->timeout_ms / 1000;
	tv.tv_usec = (o->timeout_ms % 1000) * 1000;
	if (setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) == -1 ||
	    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == -1) {
		rc = fail_net(path, errno == EAGAIN ? ETIMEDOUT : errno);
		close(fd);
		return rc;
	}
	if ((flags = fcntl(fd, F_GETFL)) == -1 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) == -1) {
		rc = fail(EX_OSERR, path, "%s", strerror(errno));
		close(fd);
		return rc;
	}
	*fdp = fd;
	return CONTINUE;
}

static const char *
control_path(const struct opts *o)
{
	return o->control != NULL ? o->control : UPCASE_DEFAULT_CONTROL_SOCKET;
}

/* --stats: one request on the daemon's UNIX control socket. */
static int
run_stats(const struct opts *o)
{
	const char *path = control_path(o);
	int fd, rc;

	if ((rc = control_connect(o, path, &fd)) != CONTINUE)
		return rc;
	rc = pump_with(fd, -1, STATS_REQUEST, strlen(STATS_REQUEST),
	    o->timeout_ms, path);
	close(fd);
	return rc;
}

/*
 * Send req on fd, then read the whole answer, to the daemon's end of file,
 * into *buf (malloc'd).  The timeout is for each wait: a long listing may
 * take longer in all.
 */
static int
control_exchange(int fd, const char *req, int timeout_ms, const char *path, char **buf,
    size_t *len)
{
	size_t cap = 65536, off = 0, reqlen = strlen(req);
	char *b = malloc(cap);

	*buf = NULL;
	*len = 0;
	if (b == NULL)
		return fail(EX_OSERR, NULL, "%s", strerror(errno));
	for (;;) {
		struct pollfd p = { .fd = fd, .events = off < reqlen ? POLLOUT : POLLIN };
		ssize_t n;
		int r = poll(&p, 1, timeout_ms);

		if (r == -1 && errno == EINTR)
			continue;
		if (r == -1) {
			free(b);
			return fail(EX_IOERR, path, "poll: %s", strerror(errno));
		}
		if (r == 0) {
			free(b);
			return fail(EX_TEMPFAIL, path, "timed out waiting for the daemon");
		}
		if (off < reqlen) {
			n = send(fd, req + off, reqlen - off, MSG_NOSIGNAL);
			if (n == -1 && errno != EAGAIN && errno != EINTR) {
				free(b);
				return fail_net(path, errno);
			}
			off += n > 0 ? (size_t)n : 0;
			continue;
		}
		if (cap - *len < 4096) {
			char *nb;

			if (cap >= LISTING_MAX || (nb = realloc(b, cap * 2)) == NULL) {
				free(b);
				return fail(EX_OSERR, path, "the answer is too long to hold");
			}
			b = nb;
			cap *= 2;
		}
		n = recv(fd, b + *len, cap - *len, 0);
		if (n == 0)
			break;
		if (n == -1) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			free(b);
			return fail_net(path, errno);
		}
		*len += (size_t)n;
	}
	*buf = b;
	return CONTINUE;
}

/* --connections, --sources: ask, and print the rows as columns or JSON (ctlfmt.h). */
static int
run_listing(const struct opts *o)
{
	const char *path = control_path(o);
	char req[32], msg[256], *in, *out;
	size_t inlen, outlen;
	int fd, rc;

	if (o->connections)
		snprintf(req, sizeof(req), "connections\n");
	else if (o->nsources > 0)
		snprintf(req, sizeof(req), "sources %d\n", o->nsources);
	else
		snprintf(req, sizeof(req), "sources\n");
	if ((rc = control_connect(o, path, &fd)) != CONTINUE)
		return rc;
	rc = control_exchange(fd, req, o->timeout_ms, path, &in, &inlen);
	close(fd);
	if (rc != CONTINUE)
		return rc;
	switch (ctlfmt_render(in, inlen, o->json, &out, &outlen, msg, sizeof(msg))) {
	case CTLFMT_OK:
		rc = EX_OK;
		break;
	case CTLFMT_INCOMPLETE:
		fail(0, path, "the listing is incomplete: %s", msg);
		rc = EX_OK;
		break;
	case CTLFMT_REFUSED:
		free(in);
		return fail(EX_UNAVAILABLE, path, "the daemon says: %s", msg);
	case CTLFMT_NOT_LISTING:
		free(in);
		return fail(EX_PROTOCOL, path, "the daemon did not answer with a listing "
		    "(an upcased that does not know --%s?)",
		    o->connections ? "connections" : "sources");
	case CTLFMT_NOMEM:
	default:
		free(in);
		return fail(EX_OSERR, NULL, "%s", strerror(ENOMEM));
	}
	free(in);
	if (write_all(STDOUT_FILENO, out, outlen, "stdout") != CONTINUE)
		rc = EX_IOERR;
	free(out);
	return rc;
}

static int
run_mode(struct session *s)
{
	if (s->o->ntext > 0)
		return run_text(s);
	if (isatty(STDIN_FILENO))
		return run_prompt(s);
	return s->udp != NULL ? run_stream_udp(s) : run_stream_tcp(s);
}

/* Help, version and prompts went through stdio: make sure they got out. */
static int
finish(int rc)
{
	if (fflush(stdout) == EOF && rc == EX_OK)
		return fail(EX_IOERR, "stdout", "%s", strerror(errno));
	return rc;
}

int
main(int argc, char *argv[])
{
	struct opts o;
	struct session s;
	struct addrs a;
	int rc;

	/* A vanished reader is EPIPE, reported and exit 74, not a silent death. */
	signal(SIGPIPE, SIG_IGN);
	if (stdfds_ensure_open() == -1)
		return EX_OSERR;
	if ((rc = parse_opts(&o, argc, argv)) != CONTINUE)
		return finish(rc);
	if (o.stats)
		return finish(run_stats(&o));
	if (o.connections || o.sources)
		return finish(run_listing(&o));
	memset(&s, 0, sizeof(s));
	s.o = &o;
	rc = resolve(&o, o.udp ? SOCK_DGRAM : SOCK_STREAM, &a, &s.res);
	if (rc != CONTINUE)
		return finish(rc);
	if (!o.udp || (rc = udp_create(&s.udp, &o, s.res)) == CONTINUE)
		rc = run_mode(&s);
	udp_destroy(s.udp);
	if (a.gai != NULL)
		freeaddrinfo(a.gai);
	return finish(rc);
}
