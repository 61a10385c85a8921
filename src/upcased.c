/* SPDX-License-Identifier: ISC */
/*
 * upcased.c: the daemon's main thread: command line, start-up, the signal
 * loop (reload, stats, shutdown), systemd notifications, and the one exit
 * path (upcased_exit).  The work itself happens in the TCP pool (tcp.c)
 * and the UDP worker (udp.c); see worker.h for who owns what.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/pidfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <sysexits.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "access.h"
#include "clock.h"
#include "conf.h"
#include "control.h"
#include "daemon.h"
#include "handover.h"
#include "listener.h"
#include "listing.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "proto.h"
#include "ratelimit.h"
#include "stats.h"
#include "stdfds.h"
#include "tcp.h"
#include "udp.h"
#include "upgrade.h"
#include "uring.h"

#ifndef SYSCONFDIR
#define SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF SYSCONFDIR "/upcased.conf"
#define FD_RESERVE   64     /* descriptors beyond max_connections for listeners, logs, ... */

struct options {
	const char *conf_path;
	bool foreground;
	bool test;
	bool debug;
};

/*
 * A live upgrade under way, in the old process (upgrade.h): the new
 * binary started (waiting for its HELLO), or the state sent (waiting for
 * READY).
 */
enum upgrade_phase { UP_NONE, UP_STARTED, UP_SENT };

struct upgrade_run {
	enum upgrade_phase phase;
	pid_t    pid;
	int      chan;
	int      pidfd;                    /* the new process's, or -1 (kill by pid) */
	uint64_t began_ms, deadline_ms;
	bool     frozen;                   /* the workers are frozen */
	bool     metrics_stopped;          /* the endpoint was stopped for the new one */
	long     nconns;                   /* connections handed over */
	size_t   nlisteners;
};

/* What the old process handed over, in the new one, until it serves. */
struct inherit {
	int      chan;
	uint8_t *buf;                      /* the handover; conns point into it */
	size_t   len;
	struct fdvec fds;                  /* received; -1 once taken */
	struct listener_set handed;
	struct ho_conn *conns;
	int     *conn_fd;
	size_t   nconns, cap;
	struct stats counters;
	struct ho_meta meta;
	bool     have_meta;
	int      ctl_fd, pid_fd;
	char     ctl_path[PATH_MAX], pid_path[PATH_MAX];
};

#define UPGRADE_HANDOVER_MS 5000   /* from HELLO: the state sent, READY back */

/* Everything the main thread owns.  Workers see none of it directly. */
/*
 * The access lists the workers consult, built from the config.  Immutable
 * once posted; replaced on reload, the old ones freed only after every
 * worker applied the new (worker.h).
 */
struct policy {
	struct access_list *access;        /* access; NULL: allow all */
	struct access_list *udp_exempt;    /* udp.exempt; NULL: none */
	struct access_list *tcp_exempt;    /* limits.exempt; NULL: none */
	struct access_list *trusted;       /* trusted_proxies; NULL: none */
};

struct upcased {
	struct options opt;
	struct conf *conf;
	struct policy policy;              /* built from conf */
	struct listener_set listeners;
	struct worker_pool *tcp;
	struct worker_pool *udp;
	int udp_threads;                   /* UDP workers, so sockets per UDP listener (udp.threads) */
	/*
	 * Socket activation: the configuration the daemon started with, kept
	 * (d->conf is replaced on reload) to tell whether a reloaded file's
	 * listen still differs from it, however many reloads ago it changed.
	 */
	struct conf *conf_start;
	int sigfd;
	struct control ctl;                /* the control socket and its clients */
	struct metrics *metrics;           /* the Prometheus endpoint; NULL: none */
	struct stats reload_stats;        /* reloads and failures (main thread writes) */
	uint64_t start_ms;                 /* wall clock at start, ms since the epoch */
	uint64_t loaded_ms;                /* the running configuration was loaded (atomic) */
	uint64_t wd_interval_ms;           /* 0: no watchdog */
	uint64_t wd_last_ms;
	uint64_t *beats;                   /* workers' heartbeats at the last ping */
	bool wd_stuck_logged;
	uid_t uid;                         /* of conf->user, looked up at start */
	gid_t gid;
	uint64_t ctl_resume_ms;            /* control socket paused (EMFILE) until then */
	struct ratelimit ctl_rl;
	char exe[PATH_MAX];                /* the binary we were started from: SIGUSR2 runs it */
	struct stats inherited;            /* counters handed over by the processes before us */
	struct upgrade_run up;             /* a live upgrade under way (old process) */
	bool io_uring;                     /* the TCP workers serve on io_uring (io, at start) */
	struct inherit *in;                /* what was handed to us (new process), until we serve */
	bool upgraded;                     /* we took over from an older process */
	bool serving;                      /* start-up is over */
};

/*
 * The one exit path, for every status, fatal() included (its hook, set
 * first thing in main).  A pidfile we made or wrote goes first (once,
 * whoever gets here), so the pid in it is never a dead one's.  Detached,
 * the starting process is still waiting for our word until we serve:
 * give it the status we exit with, so the shell sees 73 for a pidfile,
 * not a guess.  Any thread may get here.
 */
/*
 * Started for a live upgrade: the channel to the old process, until it
 * says GO (-1 otherwise).  Not our parent (upgrade_spawn): it learns why
 * we fail from us.
 */
static int upgrade_chan = -1;

static void __attribute__((format(printf, 1, 2)))
upgrade_child_fail(const char *fmt, ...)
{
	static bool said;
	char why[600];
	va_list ap;

	if (upgrade_chan < 0 || said)
		return;
	said = true;
	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	upgrade_send(upgrade_chan, UPGRADE_FAIL, 0, why, strlen(why), NULL, 0, clock_ms() + 500);
}

static void __attribute__((noreturn))
upcased_exit(int status)
{
	upgrade_child_fail("exits with status %d before it was ready to take over", status);
	daemon_pidfile_remove();
	daemon_detach_done(status);
	exit(status);
}

/*
 * -h, -V and -t print to standard output and exit: what they printed must
 * have got there.  A closed stdout (stdfds.h) or a full disk is an I/O
 * error, as for the client, not a silent success.
 */
static void __attribute__((noreturn))
upcased_exit_printed(void)
{
	errno = 0;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "upcased: standard output: %s\n",
		    errno != 0 ? strerror(errno) : "write error");
		upcased_exit(EX_IOERR);
	}
	upcased_exit(EX_OK);
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: upcased [-dfhtV] [-c file]\n"
	    "Serve upper-casing over TCP and UDP (port %d by default).\n"
	    "\n"
	    "  -c, --config FILE  configuration file (default %s)\n"
	    "  -f, --foreground   do not detach; log to stderr\n"
	    "  -t, --test         check the configuration, print \"configuration OK\"\n"
	    "                     or the error, exit 0 or %d; opens no socket\n"
	    "                     and writes no file\n"
	    "  -d, --debug        log at debug level (overrides log.level)\n"
	    "  -h, --help         show this help\n"
	    "  -V, --version      show the version\n"
	    "\n"
	    "Signals: HUP reloads the configuration, TERM/INT stop gracefully\n"
	    "(a second one: at once), USR1 logs the counters, USR2 hands every\n"
	    "listener and open connection to the binary at this path (a live\n"
	    "upgrade).  See upcased(8) and upcased.conf(5).\n"
	    "\n"
	    "Report bugs to: %s\n",
	    UPCASE_DEFAULT_PORT, DEFAULT_CONF, EX_CONFIG, PACKAGE_BUGREPORT);
}

static void __attribute__((format(printf, 1, 2), noreturn))
usage_error(const char *fmt, ...)
{
	va_list ap;

	fputs("upcased: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'upcased --help' for more information.\n", stderr);
	upcased_exit(EX_USAGE);
}

static void
parse_options(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "config",     required_argument, NULL, 'c' },
		{ "foreground", no_argument,       NULL, 'f' },
		{ "test",       no_argument,       NULL, 't' },
		{ "debug",      no_argument,       NULL, 'd' },
		{ "help",       no_argument,       NULL, 'h' },
		{ "version",    no_argument,       NULL, 'V' },
		{ NULL, 0, NULL, 0 }
	};
	int ch;

	o->conf_path = DEFAULT_CONF;
	opterr = 0;	/* our own messages: one line, then where help is */
	while ((ch = getopt_long(argc, argv, ":c:fdthV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf_path = optarg; break;
		case 'f': o->foreground = true; break;
		case 't': o->test = true; break;
		case 'd': o->debug = true; break;
		case 'h': usage(stdout); upcased_exit_printed();
		case 'V': printf("upcased %s\n", PACKAGE_VERSION); upcased_exit_printed();
		case ':':
			usage_error("option %s needs an argument", argv[optind - 1]);
			break;
		default:
			if (optopt != 0)
				usage_error("unknown option -%c", optopt);
			else
				usage_error("unknown option %s", argv[optind - 1]);
		}
	}
	if (!o->foreground && !o->test && o->conf_path[0] != '/') {
		/* We chdir("/") when detaching; SIGHUP must still find the file. */
		static char abs[PATH_MAX];
		char cwd[PATH_MAX];

		if (getcwd(cwd, sizeof(cwd)) != NULL &&
		    (size_t)snprintf(abs, sizeof(abs), "%s/%s", cwd, o->conf_path) < sizeof(abs))
			o->conf_path = abs;
	}
	if (optind < argc)
		usage_error("unexpected argument '%s'", argv[optind]);
}

/* ------------------------------------------------------------ settings to workers */

/* conf_load() checked every string: only memory can fail here. */
static int
policy_build(struct policy *p, const struct conf *c)
{
	memset(p, 0, sizeof(*p));
	if (access_list_parse(c->access.v, c->access.n, false, &p->access) == -1 ||
	    access_list_parse(c->udp.exempt.v, c->udp.exempt.n, true, &p->udp_exempt) == -1 ||
	    access_list_parse(c->limits.exempt.v, c->limits.exempt.n, true, &p->tcp_exempt) == -1 ||
	    access_list_parse(c->trusted_proxies.v, c->trusted_proxies.n, true, &p->trusted) == -1) {
		access_list_free(p->access);
		access_list_free(p->udp_exempt);
		access_list_free(p->tcp_exempt);
		return -1;
	}
	return 0;
}

static void
policy_free(struct policy *p)
{
	access_list_free(p->access);
	access_list_free(p->udp_exempt);
	access_list_free(p->tcp_exempt);
	access_list_free(p->trusted);
	memset(p, 0, sizeof(*p));
}

static void
worker_params_from(struct worker_params *p, const struct conf *c,
    const struct policy *pol, const struct listener_set *ls, int type)
{
	struct worker_source_limits *l = &p->limits;

	memset(p, 0, sizeof(*p));
	p->max_connections = c->max_connections;
	p->idle_timeout = c->idle_timeout;
	p->charset = c->charset;
	p->access = pol->access;
	if (type == SOCK_DGRAM) {
		p->udp_guard = c->udp.guard;
		l->rate = (uint32_t)c->udp.rate_limit;
		l->burst = (uint32_t)c->udp.burst;
		l->leak = (uint32_t)c->udp.leak;
		l->ipv4_prefix = (uint8_t)c->udp.ipv4_prefix;
		l->ipv6_prefix = (uint8_t)c->udp.ipv6_prefix;
		l->table_size = (uint32_t)c->udp.table_size;
		l->exempt = pol->udp_exempt;
	} else {
		l->per_source = (uint32_t)c->limits.connections_per_source;
		l->rate = (uint32_t)c->limits.connection_rate;
		l->burst = (uint32_t)c->limits.connection_burst;
		l->ipv4_prefix = (uint8_t)c->limits.ipv4_prefix;
		l->ipv6_prefix = (uint8_t)c->limits.ipv6_prefix;
		l->table_size = (uint32_t)c->limits.table_size;
		l->exempt = pol->tcp_exempt;
		p->min_rate = (uint32_t)c->limits.min_rate;
		p->min_rate_window = (uint32_t)c->limits.min_rate_window;
		p->trusted_proxies = pol->trusted;
		p->proxy_timeout_ms = c->proxy_timeout * 1000;
	}
	listener_set_fds(ls, type, p);
}

/*
 * Threads for a count of n: n itself, or for 0 one per CPU the process
 * may use (its affinity mask and cgroup CPU quota, not the machine's
 * CPUs).  Why goes into why (empty for an n given), for the start-up
 * line: logged before detaching, it would reach the terminal too.
 */
static int
thread_count(const char *setting, int n, char *why, size_t whylen)
{
	char cpus[PATH_MAX + 160];

	why[0] = '\0';
	if (n > 0)
		return n;
	n = daemon_usable_cpus(cpus, sizeof(cpus));
	if (n > CONF_MAX_THREADS)
		n = CONF_MAX_THREADS;
	snprintf(why, whylen, " (%s = 0: %s)", setting, cpus);
	return n;
}

static void
upcased_check_nofile(const struct conf *c)
{
	long want = (long)c->max_connections + FD_RESERVE;
	long got = daemon_raise_nofile(want);

	if (got != -1 && got < want)
		log_warnx("descriptor limit %ld is below max_connections %d + %d: "
		    "raise LimitNOFILE (systemd) or ulimit -n", got, c->max_connections, FD_RESERVE);
}

/* ------------------------------------------------------------ stats */

/*
 * Any thread (the main one, the metrics thread): every read of worker or
 * main-thread state in here is a relaxed atomic load, so no worker is
 * ever held up by a reader.  The pools outlive every reader.
 */
static void
upcased_stats(const struct upcased *d, struct stats *total)
{
	memset(total, 0, sizeof(*total));
	worker_pool_stats(d->tcp, total);
	worker_pool_stats(d->udp, total);
	stats_sum_into(total, &d->reload_stats);
	stats_sum_into(total, &d->inherited);
}

static uint64_t
wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
upcased_update_status(const struct upcased *d)
{
	struct stats t;
	char buf[256];

	size_t n = 0;

	upcased_stats(d, &t);
	if (d->up.phase != UP_NONE)
		n = (size_t)snprintf(buf, sizeof(buf), "upgrading (to pid %ld): ",
		    (long)d->up.pid);
	stats_summary(&t, buf + n, sizeof(buf) - n);
	notify_status(buf);
}

static void
upcased_log_stats(const struct upcased *d)
{
	struct stats t;
	char buf[3584], per[256];	/* with log.c's 4096 for the line */
	size_t len = 0;

	upcased_stats(d, &t);
	stats_format(&t, buf, sizeof(buf));
	per[0] = '\0';
	for (int i = 0; i < worker_pool_size(d->tcp) && len < sizeof(per); i++) {
		int n = snprintf(per + len, sizeof(per) - len, "%s%llu", i ? " " : "",
		    (unsigned long long)stats_open(&worker_pool_get(d->tcp, i)->stats));
		len += n > 0 ? (size_t)n : 0;
	}
	log_info("stats: %s; open per tcp worker: %s", buf, per);
}

/*
 * The exposition (stats.h) into buf: the control socket's answer and the
 * metrics endpoint's body.  Any thread (see upcased_stats).
 */
static size_t
upcased_expose(char *buf, size_t len, void *arg)
{
	const struct upcased *d = arg;
	struct stats_view v;
	uint64_t open[CONF_MAX_THREADS], busy[CONF_MAX_THREADS];
	bool cut;
	size_t n;

	upcased_stats(d, &v.total);
	v.ntcp = worker_pool_size(d->tcp);
	for (int i = 0; i < v.ntcp; i++) {
		open[i] = stats_open(&worker_pool_get(d->tcp, i)->stats);
		busy[i] = worker_busy_share(worker_pool_get(d->tcp, i));
	}
	v.open = open;
	v.busy = busy;
	v.start_ms = d->start_ms;
	v.loaded_ms = __atomic_load_n(&d->loaded_ms, __ATOMIC_RELAXED);
	v.version = PACKAGE_VERSION;
	n = stats_expose(&v, buf, len, &cut);
	if (cut)
		log_warnx("metrics: the exposition did not fit in %zu bytes; lines left out", len);
	return n;
}

#define CONTROL_PAUSE_MS 1000

/*
 * The control socket's answer to req (control.h): "connections" and
 * "sources [N]" list (listing.h); anything else, "stats" or nothing, is
 * the counters, as it always was.
 */
static int
upcased_control_answer(const char *req, struct control_out *out, void *arg)
{
	struct upcased *d = arg;
	char *buf;

	if (strcmp(req, "connections") == 0)
		return listing_connections(d->tcp, out);
	if (strncmp(req, "sources", 7) == 0 && (req[7] == '\0' || req[7] == ' '))
		return listing_sources(d->tcp, d->udp, req + 7, out);
	if ((buf = control_out_reserve(out, CONTROL_ANSWER_MAX)) != NULL)
		out->len += upcased_expose(buf, CONTROL_ANSWER_MAX, d);
	return CONTROL_ANSWER_READY;
}

static void
upcased_serve_control(struct upcased *d, const struct pollfd *p, int n, uint64_t now)
{
	/*
	 * A snapshot ready before the turn is handed to every client waiting
	 * for it (control_serve asks them first), then let go; one that got
	 * ready meanwhile waits for the next turn, which its descriptor
	 * makes come at once.
	 */
	bool tcp_ready = worker_pool_snapshot_ready(d->tcp);
	bool udp_ready = worker_pool_snapshot_ready(d->udp);
	int r = control_serve(&d->ctl, p, n, now, upcased_control_answer, d);

	if (tcp_ready)
		listing_done(d->tcp);
	if (udp_ready)
		listing_done(d->udp);
	if (r == -1) {
		/* Out of descriptors: poll() would report it again at once. */
		if (ratelimit_allow(&d->ctl_rl, now))
			log_warn("control socket: accept (pausing %d ms)", CONTROL_PAUSE_MS);
		d->ctl_resume_ms = now + CONTROL_PAUSE_MS;
	}
}

/* ------------------------------------------------------------ reload */

/* What conf_keep_restart_only reports: a setting that keeps its running value. */
static void
reload_warn_restart(const char *name, void *arg)
{
	(void)arg;
	log_warnx("reload: %s changed; it takes effect on restart", name);
}

/* Settings that need a restart: warn, and keep the running value.  -1: out of memory. */
static int
reload_keep_restart_only(const struct conf *old, struct conf *new)
{
	return conf_keep_restart_only(old, new, reload_warn_restart, NULL);
}

/*
 * Where listen is written: the file of its first entry (the main file or
 * an included one) and its line; NULL when the file has no listen (the
 * default).
 */
static const char *
listen_where(const struct conf *c, int *line)
{
	if (c->nlisteners == 0 || c->listeners[0].file == NULL)
		return NULL;
	*line = c->listeners[0].line;
	return c->listeners[0].file;
}

/*
 * Socket activation: systemd's sockets are served whatever listen says,
 * with the backlog systemd gave them.  A reload that changes either
 * changes nothing: say so, rather than let it look applied.
 */
static void
reload_warn_activated(const struct conf *old, const struct conf *nc)
{
	const char *file;
	int line = 0;

	if (!conf_listen_equal(old, nc)) {
		if ((file = listen_where(nc, &line)) == NULL)
			file = nc->path != NULL ? nc->path : "the configuration";
		log_warnx("reload: listen changed in %s but the sockets come from systemd "
		    "(socket activation), so it is not used: edit upcased.socket instead "
		    "(systemctl edit upcased.socket)", file);
	}
	if (old->backlog != nc->backlog)
		log_warnx("reload: backlog changed in %s but the sockets come from systemd "
		    "(socket activation), so it is not used: set Backlog= in upcased.socket "
		    "instead", nc->path != NULL ? nc->path : "the configuration");
}

static void
upcased_reload(struct upcased *d)
{
	char err[512], desc[1024];
	struct conf *nc;
	struct listener_set nls;
	struct worker_params tp, up;
	struct policy np;

	notify_reloading();
	log_info("reloading %s", d->opt.conf_path);
	if ((nc = conf_load(d->opt.conf_path, err, sizeof(err))) == NULL) {
		log_errx("reload failed, keeping the running configuration: %s", err);
		goto fail;
	}
	if (reload_keep_restart_only(d->conf, nc) == -1 || policy_build(&np, nc) == -1) {
		log_errx("reload failed, keeping the running configuration: out of memory");
		conf_free(nc);
		goto fail;
	}
	if (d->listeners.activated) {
		reload_warn_activated(d->conf_start, nc);
		listener_set_match_proxy(&d->listeners, nc);
		nls = d->listeners;	/* systemd owns the sockets: keep them */
	}
	else if (listener_set_open(&nls, nc, d->udp_threads, &d->listeners, err,
	    sizeof(err)) == -1) {
		log_errx("reload failed, keeping the running configuration: %s", err);
		policy_free(&np);
		conf_free(nc);
		goto fail;
	}
	log_setlevel(d->opt.debug ? LOG_DEBUG : nc->log_level);
	if (nc->log_facility != d->conf->log_facility)
		log_setfacility(nc->log_facility);
	upcased_check_nofile(nc);
	worker_params_from(&tp, nc, &np, &nls, SOCK_STREAM);
	worker_params_from(&up, nc, &np, &nls, SOCK_DGRAM);
	tp.io_uring = d->io_uring;	/* io takes effect at a start only */
	worker_pool_apply(d->tcp, &tp);
	worker_pool_apply(d->udp, &up);
	/* Every worker has let go of the old sockets and lists: free what went away. */
	metrics_set_access(d->metrics, np.access);
	policy_free(&d->policy);
	d->policy = np;
	if (!d->listeners.activated) {
		listener_set_fdstore(&nls, &d->listeners);
		listener_set_close(&d->listeners);
		d->listeners = nls;
		listener_set_backlog(&d->listeners, nc->backlog);
	}
	listener_set_buffers(&d->listeners, nc->tcp_send_buffer, nc->tcp_receive_buffer);
	if ((nc->tcp_send_buffer == 0 && d->conf->tcp_send_buffer != 0) ||
	    (nc->tcp_receive_buffer == 0 && d->conf->tcp_receive_buffer != 0))
		log_warnx("reload: a TCP socket buffer size changed to 0 (the kernel's "
		    "autotuning) takes effect for listeners kept open on restart; they "
		    "keep the last size until then");
	if (d->conf != d->conf_start)
		conf_free(d->conf);
	d->conf = nc;
	stats_add(&d->reload_stats, STAT_RELOADS, 1);
	__atomic_store_n(&d->loaded_ms, wall_ms(), __ATOMIC_RELAXED);
	listener_set_describe(&d->listeners, desc, sizeof(desc));
	log_info("configuration reloaded; listening on %s", desc);
	notify_ready();		/* the main loop sends STATUS= next */
	return;
fail:
	stats_add(&d->reload_stats, STAT_RELOAD_FAILURES, 1);
	notify_ready();
}

/* ------------------------------------------------------------ watchdog */

/* Ping only while every worker's loop is turning: a wedged worker stops the pings. */
static bool
upcased_pool_alive(struct upcased *d, const struct worker_pool *pool, uint64_t *beats)
{
	bool alive = true;

	for (int i = 0; i < worker_pool_size(pool); i++) {
		uint64_t b = worker_heartbeat(worker_pool_get(pool, i));

		if (b == beats[i]) {
			alive = false;
			if (!d->wd_stuck_logged)
				log_warnx("%s worker %d made no progress: withholding the watchdog ping",
				    pool == d->tcp ? "tcp" : "udp", i);
		}
		beats[i] = b;
	}
	return alive;
}

static void
upcased_watchdog(struct upcased *d, uint64_t now)
{
	bool alive;

	if (d->wd_interval_ms == 0 || now - d->wd_last_ms < d->wd_interval_ms)
		return;
	alive = upcased_pool_alive(d, d->tcp, d->beats);
	alive = upcased_pool_alive(d, d->udp, d->beats + worker_pool_size(d->tcp)) && alive;
	d->wd_stuck_logged = !alive;
	d->wd_last_ms = now;
	if (alive)
		notify_watchdog();
}

/* ------------------------------------------------------------ live upgrade: the old process */

static void upcased_open_metrics(struct upcased *d);

/*
 * The binary to run on SIGUSR2: the path we were started from, which an
 * upgrade (apt, make install) has just replaced with a new file.  Read
 * at start: once the file is replaced, /proc/self/exe names the old one,
 * deleted.
 */
static void
upcased_find_exe(struct upcased *d)
{
	ssize_t n = readlink("/proc/self/exe", d->exe, sizeof(d->exe) - 1);

	d->exe[n > 0 ? (size_t)n : 0] = '\0';
	if (n <= 0)
		log_warn("/proc/self/exe: live upgrade (SIGUSR2) will not work");
}

/* The new process's arguments: ours, with the configuration's path made absolute. */
static char **
upcased_upgrade_argv(const struct upcased *d)
{
	static char *argv[8];
	int n = 0;

	argv[n++] = (char *)(uintptr_t)d->exe;
	argv[n++] = (char *)"-c";
	argv[n++] = (char *)(uintptr_t)d->opt.conf_path;
	if (d->opt.foreground)
		argv[n++] = (char *)"-f";
	if (d->opt.debug)
		argv[n++] = (char *)"-d";
	argv[n] = NULL;
	return argv;
}

/*
 * The new process, not our child (upgrade_spawn): if it is still there,
 * kill it, through its pidfd when we have one (no pid reuse can make us
 * kill another process).  Whoever reaps orphans reaps it.
 */
static void
upcased_upgrade_kill(struct upcased *d)
{
	struct pollfd p = { .fd = d->up.pidfd, .events = POLLIN };

	if (d->up.pidfd >= 0) {
		if (poll(&p, 1, 0) == 0 && pidfd_send_signal(d->up.pidfd, SIGKILL, NULL, 0) == -1)
			log_warn("upgrade: killing pid %ld", (long)d->up.pid);
		close(d->up.pidfd);
	} else if (d->up.pid > 0 && kill(d->up.pid, SIGKILL) == -1 && errno != ESRCH)
		log_warn("upgrade: killing pid %ld", (long)d->up.pid);
	d->up.pidfd = -1;
}

/*
 * Anything went wrong before GO: the new process is killed if need be,
 * the workers thawed, the metrics endpoint back; we serve on as if
 * nothing had happened, and a later SIGUSR2 may try again.
 */
static void __attribute__((format(printf, 2, 3)))
upcased_upgrade_fail(struct upcased *d, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	close(d->up.chan);
	upcased_upgrade_kill(d);
	if (d->up.frozen) {
		worker_pool_freeze(d->tcp, false);
		worker_pool_freeze(d->udp, false);
	}
	if (d->up.metrics_stopped)
		upcased_open_metrics(d);
	d->ctl_resume_ms = 0;
	log_errx("upgrade failed, still serving (pid %ld) with everything it had: %s",
	    (long)getpid(), why);
	stats_add(&d->reload_stats, STAT_UPGRADE_FAILURES, 1);
	memset(&d->up, 0, sizeof(d->up));
	d->up.chan = d->up.pidfd = -1;
	notify_ready();
}

static void
upcased_upgrade_begin(struct upcased *d)
{
	char err[512];

	if (d->up.phase != UP_NONE) {
		log_notice("received SIGUSR2 during an upgrade (to pid %ld): ignored",
		    (long)d->up.pid);
		return;
	}
	notify_reloading();
	if (d->exe[0] == '\0' ||
	    (d->up.pid = upgrade_spawn(d->exe, upcased_upgrade_argv(d), &d->up.chan,
	    &d->up.pidfd, err, sizeof(err))) == -1) {
		log_errx("upgrade failed, still serving: cannot start the new binary: %s",
		    d->exe[0] != '\0' ? err : "its path is not known");
		stats_add(&d->reload_stats, STAT_UPGRADE_FAILURES, 1);
		memset(&d->up, 0, sizeof(d->up));
		d->up.chan = d->up.pidfd = -1;
		notify_ready();
		return;
	}
	d->up.phase = UP_STARTED;
	d->up.began_ms = clock_ms();
	d->up.deadline_ms = d->up.began_ms + (uint64_t)d->conf->upgrade_timeout * 1000;
	log_info("upgrade: started %s (pid %ld); serving on until it is ready", d->exe,
	    (long)d->up.pid);
}

/* The state, as the new process is to take it (handover.h), with the descriptors. */
static int
upcased_upgrade_state(struct upcased *d, struct handover_buf *b, struct fdvec *fds)
{
	struct stats total;
	struct ho_meta m;
	const char *pidpath;
	int pidfd;

	handover_begin(b);
	memset(&m, 0, sizeof(m));
	m.pid = (uint32_t)getpid();
	m.start_wall_ms = d->start_ms;
	m.loaded_wall_ms = __atomic_load_n(&d->loaded_ms, __ATOMIC_RELAXED);
	upcased_stats(d, &total);
	m.upgrades = (uint32_t)stats_get(&total, STAT_UPGRADES);
	snprintf(m.version, sizeof(m.version), "%s", PACKAGE_VERSION);
	handover_put_meta(b, &m);
	for (size_t i = 0; i < d->listeners.n; i++) {
		const struct listener *l = &d->listeners.v[i];
		struct ho_listener h;

		if (l->fd == -1)
			continue;
		memset(&h, 0, sizeof(h));
		if ((h.fd = fdvec_push(fds, l->fd)) == UINT32_MAX)
			return -1;
		h.type = l->type;
		h.shard = l->shard;
		h.port = l->port;
		h.proxy = l->proxy;
		h.reuse_port = l->reuse_port;
		h.activated = d->listeners.activated;
		snprintf(h.address, sizeof(h.address), "%s", l->address != NULL ? l->address : "");
		handover_put_listener(b, &h);
	}
	d->up.nlisteners = fds->n;
	if (d->ctl.fd != -1)
		handover_put_control(b, fdvec_push(fds, d->ctl.fd), d->ctl.path);
	if ((pidfd = daemon_pidfile_fd(&pidpath)) != -1)
		handover_put_pidfile(b, fdvec_push(fds, pidfd), pidpath);
	if ((d->up.nconns = tcp_pool_export(d->tcp, b, fds)) < 0)
		return -1;
	/* Read once the workers are frozen: nothing moves them meanwhile. */
	upcased_stats(d, &total);
	for (int i = 0; i < STAT__COUNT; i++) {
		char key[160];

		stats_key((enum stat_id)i, key, sizeof(key));
		handover_put_counter(b, key, total.v[i]);
	}
	for (int h = 0; h < HIST__COUNT; h++)
		handover_put_hist(b, stats_hist_name((enum hist_id)h), total.h[h].n,
		    HIST_BUCKETS + 1, total.h[h].sum);
	return fds->failed || handover_end(b) == -1 ? -1 : 0;
}

/* HELLO came: freeze, and hand everything over. */
static void
upcased_upgrade_send(struct upcased *d, uint32_t version)
{
	struct handover_buf b;
	struct fdvec fds;
	int r;

	if (version < HANDOVER_VERSION) {
		upgrade_send(d->up.chan, UPGRADE_FAIL, 0, NULL, 0, NULL, 0, clock_ms() + 1000);
		upcased_upgrade_fail(d, "the new binary reads handover format %u, older than "
		    "this one writes (%d): a downgrade must restart", version, HANDOVER_VERSION);
		return;
	}
	/* Its port must be free for the new process; back if anything fails. */
	if (d->metrics != NULL) {
		metrics_stop(d->metrics);
		d->metrics = NULL;
		d->up.metrics_stopped = true;
	}
	worker_pool_freeze(d->udp, true);
	worker_pool_freeze(d->tcp, true);
	d->up.frozen = true;
	d->ctl_resume_ms = UINT64_MAX;	/* a control client accepted now would be lost */
	memset(&b, 0, sizeof(b));
	memset(&fds, 0, sizeof(fds));
	d->up.deadline_ms = clock_ms() + UPGRADE_HANDOVER_MS;
	if (upcased_upgrade_state(d, &b, &fds) == -1) {
		handover_buf_free(&b);
		fdvec_free(&fds);
		upcased_upgrade_fail(d, "out of memory for the handover");
		return;
	}
	r = upgrade_send_state(d->up.chan, b.p, b.len, &fds, d->up.deadline_ms);
	log_info("upgrade: handing over %ld connections, %zu listeners (%zu bytes, %zu "
	    "descriptors)", d->up.nconns, d->up.nlisteners, b.len, fds.n);
	handover_buf_free(&b);
	fdvec_free(&fds);
	if (r == -1) {
		upcased_upgrade_fail(d, "sending the handover: %s", strerror(errno));
		return;
	}
	d->up.phase = UP_SENT;
}

/*
 * READY came: the new process serves from GO on.  Under systemd it is
 * the main process from now: READY=1 first (ends our RELOADING=1:
 * systemd takes MAINPID= only while running), then MAINPID=, both before
 * GO so that it can notify as the main process at once.  Then we exit,
 * touching no socket: closing our copies changes nothing for clients.
 */
static void
upcased_upgrade_commit(struct upcased *d)
{
	notify_ready();
	notify_mainpid((long)d->up.pid);
	if (upgrade_send(d->up.chan, UPGRADE_GO, 0, NULL, 0, NULL, 0, clock_ms() + 1000) == -1) {
		/*
		 * It died after READY: it never served, so we serve on.  Under
		 * systemd with NotifyAccess=main our MAINPID= back may be refused,
		 * and the service manager then sees its main process gone.
		 */
		int e = errno;

		notify_mainpid((long)getpid());
		upcased_upgrade_fail(d, "telling pid %ld to go: %s", (long)d->up.pid,
		    strerror(e));
		return;
	}
	log_info("upgrade: pid %ld serves now (%ld connections and %zu listeners handed "
	    "over, %llu ms after SIGUSR2); exiting", (long)d->up.pid, d->up.nconns,
	    d->up.nlisteners, (unsigned long long)(clock_ms() - d->up.began_ms));
	daemon_pidfile_forget();	/* the new process holds it, and writes its pid */
	fflush(stdout);
	_exit(EX_OK);	/* nothing of ours to tear down: the workers are frozen */
}

/* The channel is readable, or the deadline passed. */
static void
upcased_upgrade_step(struct upcased *d, uint64_t now)
{
	char text[512];
	uint32_t value;
	uint8_t type;
	ssize_t n;

	n = upgrade_recv(d->up.chan, &type, &value, text, sizeof(text) - 1, NULL, now);
	if (n == -1 && errno == ETIMEDOUT) {
		if (now < d->up.deadline_ms)
			return;
		upcased_upgrade_fail(d, "pid %ld did not %s within %s", (long)d->up.pid,
		    d->up.phase == UP_STARTED ? "say it was ready to take over" :
		    "take the handover", d->up.phase == UP_STARTED ?
		    "upgrade_timeout" : "5 s");
		return;
	}
	if (n == -1) {
		upcased_upgrade_fail(d, "reading from pid %ld: %s", (long)d->up.pid,
		    strerror(errno));
		return;
	}
	if (n == 0 && type == 0) {
		upcased_upgrade_fail(d, "%s (pid %ld) went away before it was ready to take "
		    "over, without a word (a crash?)", d->exe, (long)d->up.pid);
		return;
	}
	text[n] = '\0';
	switch (type) {
	case UPGRADE_EXEC:
		upcased_upgrade_fail(d, "cannot run %s: %s", d->exe, strerror((int)value));
		return;
	case UPGRADE_FAIL:
		upcased_upgrade_fail(d, "%s (pid %ld) %s", d->exe, (long)d->up.pid, text);
		return;
	case UPGRADE_HELLO:
		if (d->up.phase == UP_STARTED) {
			upcased_upgrade_send(d, value);
			return;
		}
		break;
	case UPGRADE_READY:
		if (d->up.phase == UP_SENT) {
			upcased_upgrade_commit(d);	/* returns only if GO could not be said */
			return;
		}
		break;
	}
	upcased_upgrade_fail(d, "unexpected message '%c' from pid %ld",
	    type >= 0x20 && type < 0x7f ? type : '?', (long)d->up.pid);
}

/* ------------------------------------------------------------ start and stop */

static void upcased_open_control(struct upcased *d);

/* ------------------------------------------------------------ live upgrade: the new process */

static int
inherit_take(struct inherit *in, uint32_t i)
{
	int fd = in->fds.v[i];	/* handover_parse checked i, and that it is named once */

	in->fds.v[i] = -1;
	return fd;
}

static int
inherit_meta(const struct ho_meta *m, void *arg)
{
	struct inherit *in = arg;

	in->meta = *m;
	in->have_meta = true;
	return 0;
}

static int
inherit_listener(const struct ho_listener *l, void *arg)
{
	struct inherit *in = arg;
	int fd = inherit_take(in, l->fd);

	if (listener_set_add(&in->handed, fd, l->type, l->shard, l->port, l->address,
	    l->proxy, l->reuse_port) == -1) {
		close(fd);
		return -1;
	}
	if (l->activated)
		in->handed.activated = true;
	return 0;
}

static int
inherit_conn(const struct ho_conn *c, void *arg)
{
	struct inherit *in = arg;

	if (in->nconns == in->cap) {
		size_t cap = in->cap ? 2 * in->cap : 256;
		struct ho_conn *v = realloc(in->conns, cap * sizeof(*v));
		int *f;

		if (v == NULL)
			return -1;
		in->conns = v;
		if ((f = realloc(in->conn_fd, cap * sizeof(*f))) == NULL)
			return -1;
		in->conn_fd = f;
		in->cap = cap;
	}
	in->conns[in->nconns] = *c;	/* its out and proxy point into in->buf */
	in->conn_fd[in->nconns++] = inherit_take(in, c->fd);
	return 0;
}

static int
inherit_counter(const char *name, uint64_t value, void *arg)
{
	struct inherit *in = arg;
	int id = stats_from_key(name);

	if (id >= 0)	/* one this version does not have: dropped */
		in->counters.v[id] = value;
	return 0;
}

static int
inherit_hist(const char *name, const uint64_t *counts, size_t n, uint64_t sum, void *arg)
{
	struct inherit *in = arg;
	int h = stats_hist_from_name(name);

	/* Other buckets than ours cannot be added up: started afresh. */
	if (h >= 0 && n == HIST_BUCKETS + 1) {
		memcpy(in->counters.h[h].n, counts, n * sizeof(*counts));
		in->counters.h[h].sum = sum;
	}
	return 0;
}

static int
inherit_control(uint32_t fd, const char *path, void *arg)
{
	struct inherit *in = arg;

	in->ctl_fd = inherit_take(in, fd);
	snprintf(in->ctl_path, sizeof(in->ctl_path), "%s", path);
	return 0;
}

static int
inherit_pidfile(uint32_t fd, const char *path, void *arg)
{
	struct inherit *in = arg;

	in->pid_fd = inherit_take(in, fd);
	snprintf(in->pid_path, sizeof(in->pid_path), "%s", path);
	return 0;
}

/* Before we serve: the old process is still serving, so nothing we do may touch a client. */
static void __attribute__((noreturn, format(printf, 3, 4)))
inherit_refuse(struct inherit *in, int status, const char *fmt, ...)
{
	char why[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	(void)in;
	log_errx("upgrade: %s", why);
	upgrade_child_fail("refused: %s", why);
	upcased_exit(status);
}

/*
 * Started by a running upcased on SIGUSR2 (UPCASED_UPGRADE_FD): say so,
 * and take what it hands over.  The configuration has loaded already.
 */
static void
upcased_inherit(struct upcased *d, const char *fdvar)
{
	static const struct handover_visitor visit = {
		.meta = inherit_meta, .listener = inherit_listener, .conn = inherit_conn,
		.counter = inherit_counter, .hist = inherit_hist, .control = inherit_control,
		.pidfile = inherit_pidfile,
	};
	struct inherit *in = calloc(1, sizeof(*in));
	uint64_t deadline = clock_ms() + UPGRADE_HANDOVER_MS;
	char err[512];

	if (in == NULL)
		fatal("calloc");
	(void)fdvar;
	in->chan = upgrade_chan;
	in->ctl_fd = in->pid_fd = -1;
	if (upgrade_send(in->chan, UPGRADE_HELLO, HANDOVER_VERSION, NULL, 0, NULL, 0,
	    deadline) == -1) {
		log_warn("upgrade: saying hello to the old process");
		upcased_exit(EX_UNAVAILABLE);
	}
	if (upgrade_recv_state(in->chan, &in->buf, &in->len, &in->fds, deadline, err,
	    sizeof(err)) == -1)
		inherit_refuse(in, EX_PROTOCOL, "%s", err);
	if (handover_parse(in->buf, in->len, in->fds.n, &visit, in, err, sizeof(err)) == -1)
		inherit_refuse(in, EX_PROTOCOL, "cannot take the handover: %s", err);
	for (size_t i = 0; i < in->fds.n; i++)
		if (in->fds.v[i] != -1)
			close(in->fds.v[i]);	/* named by no record we know */
	d->in = in;
}

/* READY, then wait for GO: from then on we serve, and the old process is gone. */
static void
upcased_inherit_ready(struct upcased *d)
{
	struct inherit *in = d->in;
	uint32_t value;
	uint8_t type;
	ssize_t n;

	if (upgrade_send(in->chan, UPGRADE_READY, 0, NULL, 0, NULL, 0,
	    clock_ms() + UPGRADE_HANDOVER_MS) == -1) {
		log_warn("upgrade: telling the old process we are ready");
		upcased_exit(EX_UNAVAILABLE);
	}
	n = upgrade_recv(in->chan, &type, &value, NULL, 0, NULL, clock_ms() + UPGRADE_HANDOVER_MS);
	if (n == -1 || type != UPGRADE_GO) {
		log_warnx("upgrade: the old process did not say go (%s): it serves on; exiting",
		    n == -1 ? strerror(errno) : "it went away");
		upcased_exit(EX_UNAVAILABLE);
	}
	close(in->chan);
	upgrade_chan = -1;	/* ours from now on: nobody to tell */
}

/* After GO: the pidfile, the control socket and the counters are ours. */
static void
upcased_inherit_adopt(struct upcased *d)
{
	struct inherit *in = d->in;
	const char *pf = d->conf->pidfile, *cs = d->conf->control_socket;
	char err[512];

	if (in->pid_fd != -1 && pf != NULL && strcmp(pf, in->pid_path) == 0) {
		if (daemon_pidfile_adopt(in->pid_fd, in->pid_path, err, sizeof(err)) == -1) {
			log_warnx("upgrade: %s", err);
			close(in->pid_fd);
		}
	} else if (in->pid_fd != -1) {
		/* The file names another pidfile now: the old one goes. */
		unlink(in->pid_path);
		close(in->pid_fd);
		if (pf != NULL && daemon_pidfile_open(pf, err, sizeof(err)) == -1)
			log_warnx("%s", err);
	} else if (pf != NULL && daemon_pidfile_open(pf, err, sizeof(err)) == -1)
		log_warnx("%s", err);
	if (daemon_pidfile_write(err, sizeof(err)) == -1)
		log_warnx("%s", err);
	if (in->ctl_fd != -1 && cs != NULL && strcmp(cs, in->ctl_path) == 0 &&
	    control_adopt(&d->ctl, in->ctl_fd, in->ctl_path, err, sizeof(err)) == 0)
		ratelimit_init(&d->ctl_rl, 1, 10000, clock_ms());
	else {
		if (in->ctl_fd != -1) {
			close(in->ctl_fd);
			unlink(in->ctl_path);
		}
		upcased_open_control(d);
	}
	d->inherited = in->counters;
	/* Each worker counts the connections it adopted as accepted: not twice. */
	d->inherited.v[STAT_TCP_ACCEPTED] -= d->inherited.v[STAT_TCP_ACCEPTED] >= in->nconns ?
	    in->nconns : d->inherited.v[STAT_TCP_ACCEPTED];
	d->inherited.v[STAT_UPGRADES]++;
	if (in->have_meta)
		d->start_ms = in->meta.start_wall_ms;
}

static void
upcased_inherit_free(struct upcased *d)
{
	struct inherit *in = d->in;

	if (in == NULL)
		return;
	fdvec_free(&in->fds);
	free(in->buf);
	free(in->conns);
	free(in->conn_fd);
	free(in);
	d->in = NULL;
}

/* The TCP pool, each worker adopting its share of the connections handed over. */
static struct worker_pool *
upcased_inherit_tcp(struct upcased *d, int n, const struct worker_params *tp)
{
	struct inherit *in = d->in;
	struct tcp_adopt *a = calloc((size_t)n, sizeof(*a));
	void **arg = calloc((size_t)n, sizeof(*arg));
	const struct ho_conn **cv = calloc(in->nconns + 1, sizeof(*cv));
	int *fv = calloc(in->nconns + 1, sizeof(*fv));
	struct worker_pool *pool;
	size_t k = 0;

	if (a == NULL || arg == NULL || cv == NULL || fv == NULL)
		fatal("out of memory for the connections handed over");
	/* Dealt round: worker i takes every n-th, contiguous in cv and fv. */
	for (int i = 0; i < n; i++) {
		a[i].c = cv + k;
		a[i].fd = fv + k;
		for (size_t j = (size_t)i; j < in->nconns; j += (size_t)n) {
			cv[k] = &in->conns[j];
			fv[k++] = in->conn_fd[j];
			a[i].n++;
		}
		arg[i] = &a[i];
	}
	pool = worker_pool_create_adopt(&tcp_worker_ops, n, tp, arg);
	free(a);
	free(arg);
	free(cv);
	free(fv);
	return pool;
}



/*
 * io (upcased.conf(5)): io_uring or epoll for the TCP workers, once, at
 * start (after dropping privileges: kernel.io_uring_disabled = 1 lets
 * only a group in).  "auto" says in one line why not io_uring when it
 * cannot be had; "uring" then refuses to start.
 */
static void
upcased_choose_io(struct upcased *d)
{
	struct iomode_probe pr;
	char why[512];
	int m;

	memset(&pr, 0, sizeof(pr));
	if (d->conf->io != IOMODE_EPOLL)
		uring_probe(&pr);
	m = iomode_choose(d->conf->io, &pr, why, sizeof(why));
	if (m == -1) {
		log_warnx("%s: %s", d->conf->path, why);
		upcased_exit(EX_CONFIG);
	}
	if (m == IOMODE_EPOLL && d->conf->io == IOMODE_AUTO)
		log_notice("%s", why);
	else
		log_debug("%s", why);
	d->io_uring = m == IOMODE_URING;
}

static void
upcased_signal_set(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGHUP);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGUSR1);
	sigaddset(set, SIGUSR2);
}

/*
 * Block our signals first thing: a SIGHUP during start-up then waits for
 * the loop instead of killing us, and the threads inherit the mask, so
 * only the signalfd sees them.
 */
static void
upcased_block_signals(void)
{
	sigset_t set;

	upcased_signal_set(&set);
	if (sigprocmask(SIG_BLOCK, &set, NULL) == -1)
		fatal("sigprocmask");
	signal(SIGPIPE, SIG_IGN);
}

static int
upcased_signals(void)
{
	sigset_t set;
	int fd;

	upcased_signal_set(&set);
	if ((fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) == -1)
		fatal("signalfd");
	return fd;
}

/*
 * Sockets handed to us (a live upgrade's, or kept by systemd's fd store)
 * that the file still lists are kept, as a reload keeps them; the rest
 * are closed (the old process, or systemd, lets go of its copies).
 */
static void
upcased_reuse_listeners(struct upcased *d, struct listener_set *given, const char *whose)
{
	char err[512];

	if (listener_set_open(&d->listeners, d->conf, d->udp_threads, given, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		if (d->in != NULL)
			inherit_refuse(d->in, EX_OSERR, "%s", err);
		upcased_exit(EX_OSERR);
	}
	for (size_t i = 0; i < given->n; i++)
		if (given->v[i].fd != -1)
			log_info("%s %s: no longer in %s: closing it", whose, given->v[i].name,
			    d->opt.conf_path);
	/* Sockets made by the processes before us keep their backlog otherwise. */
	listener_set_backlog(&d->listeners, d->conf->backlog);
	/*
	 * Taking over: systemd (NotifyAccess=main) hears from us only once we
	 * are the main process, after GO: upcased_inherit_fdstore does the rest.
	 */
	if (d->in != NULL)
		return;
	listener_set_fdstore(&d->listeners, given);
	listener_set_close(given);
}

/* After GO: the fd store gets the listeners we serve and lets go of those we dropped. */
static void
upcased_inherit_fdstore(struct upcased *d)
{
	listener_set_fdstore(&d->listeners, &d->in->handed);
	listener_set_close(&d->in->handed);
}

/* Socket activation: systemd's sockets are served whatever listen says. */
static void
upcased_activated(struct upcased *d)
{
	const char *file;
	int line = 0;

	log_info("using %zu sockets passed by systemd; the listen setting is not used",
	    d->listeners.n);
	if ((file = listen_where(d->conf, &line)) != NULL)
		log_notice("%s:%d: listen is not used: the sockets come from systemd "
		    "(socket activation); edit upcased.socket instead", file, line);
	/* Every UDP worker waits on systemd's one socket per listener. */
	d->conf_start = d->conf;
	/* Else a proxy's clients would all be served as the proxy. */
	listener_set_match_proxy(&d->listeners, d->conf);
	listener_set_buffers(&d->listeners, d->conf->tcp_send_buffer,
	    d->conf->tcp_receive_buffer);
}

static void
upcased_open_listeners(struct upcased *d)
{
	struct listener_set stored;
	char err[512];
	int r;

	if (d->in != NULL) {
		if (d->in->handed.activated) {
			d->listeners = d->in->handed;
			memset(&d->in->handed, 0, sizeof(d->in->handed));
			upcased_activated(d);
		} else
			upcased_reuse_listeners(d, &d->in->handed, "listener");
		return;
	}
	if ((r = listener_set_activated(&d->listeners, &stored, err, sizeof(err))) == -1) {
		log_warnx("socket activation: %s", err);
		upcased_exit(EX_OSERR);
	}
	if (r == 1 && d->listeners.activated) {
		/* Ours in the store too: from a time before socket activation. */
		listener_set_fdstore(&d->listeners, &stored);
		listener_set_close(&stored);
		upcased_activated(d);
		return;
	}
	if (stored.n > 0) {
		log_info("taking %zu listening sockets back from systemd's file descriptor "
		    "store", stored.n);
		upcased_reuse_listeners(d, &stored, "stored listener");
		return;
	}
	listener_set_close(&stored);
	if (listener_set_open(&d->listeners, d->conf, d->udp_threads, NULL, err,
	    sizeof(err)) == -1) {
		log_warnx("%s", err);
		upcased_exit(EX_OSERR);
	}
	listener_set_fdstore(&d->listeners, NULL);
}

/*
 * The UDP workers: udp.threads, and as many as a worker can watch the
 * sockets of (each has one per UDP listener of its own).
 */
static int
udp_thread_count(const struct conf *c, char *why, size_t whylen)
{
	int n = thread_count("udp.threads", c->udp.threads, why, whylen);
	size_t per = listener_udp_sockets(c, 1);

	if (per > 0 && (size_t)n * per > WORKER_MAX_LISTENERS) {
		int max = (int)(WORKER_MAX_LISTENERS / per);

		log_warnx("udp.threads: %d threads with %zu UDP listeners would need %zu "
		    "sockets, more than the %d a worker can watch: starting %d",
		    n, per, (size_t)n * per, WORKER_MAX_LISTENERS, max);
		n = max;
	}
	return n;
}

/*
 * A stale socket is replaced; one that answers is another daemon's, as
 * if a listener's port were taken; anything else at the path is never
 * touched, an error in the configuration.  A socket that just cannot be
 * made (permissions, say) is worth a warning, not a refusal to serve.
 */
static void
upcased_open_control(struct upcased *d)
{
	const char *path = d->conf->control_socket;
	char err[512];

	d->ctl.fd = -1;
	if (path == NULL)
		return;
	ratelimit_init(&d->ctl_rl, 1, 10000, clock_ms());
	switch (control_open(&d->ctl, path, d->conf->control_mode, err, sizeof(err))) {
	case 0:
		break;
	case CONTROL_IN_USE:
		log_warnx("%s", err);
		upcased_exit(EX_OSERR);
	case CONTROL_NOT_SOCKET:
		log_errx("%s", err);
		upcased_exit(EX_CONFIG);
	default:
		log_warnx("%s (upcase --stats will not work)", err);
		break;
	}
}

/*
 * For -t: the directory of path (a pidfile or a control socket) is there,
 * or can be made as start-up makes it, one level: its own parent is a
 * directory.  -1 with the reason in err.  Whether we may write there is
 * left to start-up: -t may run as another user than the daemon.
 */
static int
upcased_check_dir(const char *setting, const char *path, char *err, size_t errlen)
{
	char dbuf[PATH_MAX], pbuf[PATH_MAX], *dir, *parent;
	const char *which;
	struct stat st;

	snprintf(dbuf, sizeof(dbuf), "%s", path);
	dir = dirname(dbuf);
	which = dir;
	if (stat(dir, &st) == -1) {
		if (errno != ENOENT)
			goto bad;
		/* Missing: made at start if its parent is a directory. */
		snprintf(pbuf, sizeof(pbuf), "%s", dir);
		parent = dirname(pbuf);
		which = parent;
		if (stat(parent, &st) == -1)
			goto bad;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s %s: %s is not a directory", setting, path, which);
		return -1;
	}
	return 0;
bad:
	snprintf(err, errlen, "%s %s: %s: %s%s", setting, path, which, strerror(errno),
	    which != dir ? " (start-up makes only the last directory)" : "");
	return -1;
}

/*
 * What -t checks beyond the file itself, as far as it can without
 * starting: the user exists; the directory of the pidfile is there or can
 * be made (the control socket's too, but that only warns); their paths
 * hold nothing
 * upcased would have to destroy.  -1 with the reason in err.  A running
 * daemon's files pass: ExecReload runs -t.
 */
static int
upcased_check_paths(const struct upcased *d, char *err, size_t errlen)
{
	const struct conf *c = d->conf;
	char why[400];
	uid_t uid;
	gid_t gid;

	if (c->user != NULL && daemon_user_lookup(c->user, &uid, &gid, why, sizeof(why)) == -1) {
		snprintf(err, errlen, "%s: user: %s", d->opt.conf_path, why);
		return -1;
	}
	if (c->pidfile != NULL && (upcased_check_dir("pidfile", c->pidfile, err, errlen) == -1 ||
	    daemon_pidfile_check(c->pidfile, err, errlen) == -1))
		return -1;
	/*
	 * A control socket that cannot be made is no error at start-up (the
	 * daemon runs without it, and says so): only a warning here, or every
	 * ExecReload of such a daemon would be refused.
	 */
	if (c->control_socket != NULL &&
	    upcased_check_dir("control_socket", c->control_socket, why, sizeof(why)) == -1)
		log_warnx("%s (start-up runs without the control socket)", why);
	else if (c->control_socket != NULL &&
	    control_check_path(c->control_socket, err, errlen) == -1)
		return -1;
	return 0;
}

/*
 * Before anything is opened or created: an unusable user, or something
 * else than a socket where the control socket goes, is a config error.
 * (The pidfile is checked as it is opened and locked: 73.)
 */
static void
upcased_check_config(struct upcased *d)
{
	const char *ctl = d->conf->control_socket;
	char err[512];

	if (ctl != NULL && control_check_path(ctl, err, sizeof(err)) == -1) {
		log_errx("%s", err);
		upcased_exit(EX_CONFIG);
	}
	if (d->conf->user == NULL)
		return;
	if (daemon_user_lookup(d->conf->user, &d->uid, &d->gid, err, sizeof(err)) == -1) {
		log_errx("%s: user: %s", d->opt.conf_path, err);
		upcased_exit(EX_CONFIG);
	}
	if (geteuid() != 0 && !(d->in != NULL && geteuid() == d->uid)) {
		log_errx("%s: user is set (%s) but upcased was not started as root",
		    d->opt.conf_path, d->conf->user);
		upcased_exit(EX_CONFIG);
	}
}

static void
upcased_drop_privileges(struct upcased *d)
{
	const char *user = d->conf->user;
	char err[512];

	if (d->ctl.fd != -1 && control_chown(&d->ctl, d->uid, d->gid) == -1)
		log_warn("control socket %s: chown to %s", d->conf->control_socket, user);
	if (daemon_drop_privileges(user, d->uid, d->gid, err, sizeof(err)) == -1)
		fatalx("%s", err);
	log_info("running as user %s", user);
}

/*
 * The Prometheus endpoint, once the workers whose counters it shows run.
 * Asked for and impossible (the port taken, say) is an error, as for a
 * listener: better than a daemon nobody can see into.
 */
static void
upcased_open_metrics(struct upcased *d)
{
	const struct conf_metrics *mc = &d->conf->metrics;
	char err[512];

	if (mc->port == 0)
		return;
	d->metrics = metrics_start(mc->address, mc->port, d->policy.access,
	    upcased_expose, d, err, sizeof(err));
	if (d->metrics == NULL) {
		log_warnx("%s", err);
		/* Taking over, or after a failed upgrade: never stop serving for it. */
		if (!d->serving && !d->upgraded)
			upcased_exit(EX_OSERR);
		return;
	}
	log_info("metrics: serving http://%s/metrics", metrics_where(d->metrics));
}

/*
 * Start-up.  Started by a running upcased for a live upgrade (d->in), the
 * same, but the listeners, pidfile and control socket are the ones it
 * hands over, nothing is served before it says GO, and we are detached
 * already.
 */
static void
upcased_start(struct upcased *d)
{
	struct worker_params tp, up;
	char desc[1024], err[512], tcp_why[PATH_MAX + 200], udp_why[PATH_MAX + 200];
	char from[160] = "";
	int ntcp;

	upcased_check_config(d);
	d->sigfd = upcased_signals();
	upcased_check_nofile(d->conf);
	upcased_find_exe(d);
	/*
	 * The pidfile's lock before the listeners: a second upcased with this
	 * pidfile says "already running", not that the port is taken.  The
	 * detached daemon holds the lock (daemon.h) and writes its pid.
	 */
	if (d->conf->user)
		daemon_pidfile_owner(d->uid, d->gid);
	if (d->in == NULL && d->conf->pidfile &&
	    daemon_pidfile_open(d->conf->pidfile, err, sizeof(err)) == -1) {
		log_warnx("%s", err);
		upcased_exit(EX_CANTCREAT);
	}
	d->udp_threads = udp_thread_count(d->conf, udp_why, sizeof(udp_why));
	upcased_open_listeners(d);
	if (d->in == NULL) {
		if (!d->opt.foreground)
			daemon_detach();
		if (daemon_pidfile_write(err, sizeof(err)) == -1) {
			log_warnx("%s", err);
			upcased_exit(EX_CANTCREAT);
		}
		upcased_open_control(d);
	}
	if (d->conf->user && geteuid() == 0)
		upcased_drop_privileges(d);
	if (policy_build(&d->policy, d->conf) == -1)
		fatal("out of memory for the access lists");
	worker_params_from(&tp, d->conf, &d->policy, &d->listeners, SOCK_STREAM);
	worker_params_from(&up, d->conf, &d->policy, &d->listeners, SOCK_DGRAM);
	upcased_choose_io(d);
	tp.io_uring = d->io_uring;
	ntcp = thread_count("tcp.threads", d->conf->tcp_threads, tcp_why, sizeof(tcp_why));
	/*
	 * UDP first: once the TCP workers accept, a flood of clients may take
	 * every descriptor left (a low ulimit -n), and a pool made after that
	 * could not get its epoll and eventfd.  And a client that saw TCP
	 * answer finds UDP ready too.
	 */
	if (d->in != NULL) {
		/*
		 * Taking over: everything that can fail is done before READY, the
		 * workers made and the connections adopted, all frozen (nothing
		 * is read or written) until the old process says GO.
		 */
		tp.frozen = up.frozen = true;
		d->udp = worker_pool_create(&udp_worker_ops, d->udp_threads, &up);
		d->tcp = upcased_inherit_tcp(d, ntcp, &tp);
		upcased_inherit_ready(d);	/* returns once the old process said GO */
		worker_pool_freeze(d->udp, false);
		worker_pool_freeze(d->tcp, false);
		upcased_inherit_fdstore(d);
		upcased_inherit_adopt(d);
		snprintf(from, sizeof(from), "; took over from pid %lu (upcased %s): %zu "
		    "connections, %zu listeners", (unsigned long)d->in->meta.pid,
		    d->in->have_meta ? d->in->meta.version : "?", d->in->nconns,
		    d->listeners.n);
	} else {
		d->udp = worker_pool_create(&udp_worker_ops, d->udp_threads, &up);
		d->tcp = worker_pool_create(&tcp_worker_ops, ntcp, &tp);
	}
	d->upgraded = d->in != NULL;
	upcased_inherit_free(d);
	d->beats = calloc((size_t)(worker_pool_size(d->tcp) + worker_pool_size(d->udp)),
	    sizeof(*d->beats));
	if (d->beats == NULL)
		fatal("calloc");
	d->wd_interval_ms = notify_watchdog_interval() / 1000;
	/*
	 * The first check comes an interval from now, not at the first turn
	 * of the main loop: a worker blocked in its first epoll_wait (up to
	 * a tick) has not moved its heartbeat yet and would be called stuck.
	 */
	d->wd_last_ms = clock_ms();
	upcased_open_metrics(d);
	if (!d->opt.foreground)
		daemon_detach_done(0);	/* serving: the starting command exits 0 */
	listener_set_describe(&d->listeners, desc, sizeof(desc));
	log_info("upcased %s started: %d tcp workers%s on %s, %d udp worker%s%s, charset %s; "
	    "listening on %s%s", PACKAGE_VERSION, worker_pool_size(d->tcp), tcp_why,
	    d->io_uring ? "io_uring" : "epoll",
	    worker_pool_size(d->udp), worker_pool_size(d->udp) == 1 ? "" : "s", udp_why,
	    transform_charset_name(d->conf->charset), desc, from);
	d->serving = true;
	notify_ready();
	upcased_update_status(d);
}

/*
 * The main loop: signals, the control socket, systemd.  Running, it
 * returns when asked to stop.  Stopping, while the workers drain (up to
 * shutdown_timeout), it goes on serving the control socket, so that
 * upcase --stats answers and shows the connections draining, and returns
 * once every worker is done.  A second SIGTERM or SIGINT then ends the
 * drain at once; SIGHUP is ignored, SIGUSR1 logs the counters as ever.
 */
static void
upcased_loop(struct upcased *d, bool stopping)
{
	bool hurried = false;

	for (;;) {
		struct pollfd p[5 + CONTROL_POLL_MAX];
		struct signalfd_siginfo si;
		int timeout = 1000, n = 0, nctl;
		uint64_t now = clock_ms();

		if (!stopping && d->wd_interval_ms && d->wd_interval_ms < 1000)
			timeout = (int)d->wd_interval_ms;
		p[n++] = (struct pollfd){ .fd = d->sigfd, .events = POLLIN };
		if (stopping) {
			/* Done stays readable: poll only a pool still at work. */
			if (!worker_pool_done(d->tcp))
				p[n++] = (struct pollfd){ .fd = worker_pool_done_fd(d->tcp),
				    .events = POLLIN };
			if (!worker_pool_done(d->udp))
				p[n++] = (struct pollfd){ .fd = worker_pool_done_fd(d->udp),
				    .events = POLLIN };
			if (n == 1)
				return;
		}
		/* A snapshot under way (listing.h): the last worker to write its rows wakes us. */
		if (worker_pool_snapshot_busy(d->tcp))
			p[n++] = (struct pollfd){ .fd = worker_pool_snapshot_fd(d->tcp),
			    .events = POLLIN };
		if (worker_pool_snapshot_busy(d->udp))
			p[n++] = (struct pollfd){ .fd = worker_pool_snapshot_fd(d->udp),
			    .events = POLLIN };
		if (d->up.phase != UP_NONE) {
			p[n++] = (struct pollfd){ .fd = d->up.chan, .events = POLLIN };
			if (d->up.deadline_ms <= now)
				timeout = 0;
			else if (d->up.deadline_ms - now < (uint64_t)timeout)
				timeout = (int)(d->up.deadline_ms - now);
		}
		nctl = control_pollfds(&d->ctl, p + n, now >= d->ctl_resume_ms, now, &timeout);
		if (poll(p, (nfds_t)(n + nctl), timeout) == -1) {
			if (errno != EINTR)
				fatal("poll");
			continue;
		}
		/*
		 * Signals first.  Whatever control clients do, the rest of the
		 * turn is bounded (control.h), so the next signal waits for at
		 * most that.
		 */
		while (read(d->sigfd, &si, sizeof(si)) == sizeof(si)) {
			switch (si.ssi_signo) {
			case SIGHUP:
				if (stopping)
					log_info("received %s while stopping: ignored",
					    strsignal((int)si.ssi_signo));
				else if (d->up.phase != UP_NONE)
					log_notice("received %s during an upgrade: ignored (the "
					    "new process reads the file as it starts)",
					    strsignal((int)si.ssi_signo));
				else
					upcased_reload(d);
				break;
			case SIGUSR2:
				if (stopping)
					log_info("received %s while stopping: ignored",
					    strsignal((int)si.ssi_signo));
				else
					upcased_upgrade_begin(d);
				break;
			case SIGUSR1:
				upcased_log_stats(d);
				break;
			case SIGTERM:
			case SIGINT:
				if (!stopping) {
					log_info("received %s", strsignal((int)si.ssi_signo));
					if (d->up.phase != UP_NONE)
						upcased_upgrade_fail(d, "stop asked for");
					return;
				}
				if (hurried)
					break;
				log_info("received %s while stopping: closing the open "
				    "connections now", strsignal((int)si.ssi_signo));
				worker_pool_hurry(d->udp);
				worker_pool_hurry(d->tcp);
				hurried = true;
				break;
			}
		}
		if (d->up.phase != UP_NONE)
			upcased_upgrade_step(d, clock_ms());
		upcased_serve_control(d, p + n, nctl, clock_ms());
		upcased_update_status(d);
		if (!stopping)
			upcased_watchdog(d, clock_ms());
	}
}

static void
upcased_stop(struct upcased *d)
{
	uint64_t deadline = clock_ms() + (uint64_t)d->conf->shutdown_timeout * 1000;

	notify_stopping();
	/* First: its thread reads the workers' counters. */
	metrics_stop(d->metrics);
	d->metrics = NULL;
	log_info("shutting down: finishing open connections (at most %d s)",
	    d->conf->shutdown_timeout);
	worker_pool_drain(d->udp, deadline);
	worker_pool_drain(d->tcp, deadline);
	/* No worker polls them now: close, so new clients are refused, not left hanging. */
	listener_set_close(&d->listeners);
	upcased_loop(d, true);	/* serving the counters until the workers are done */
	worker_pool_join(d->udp);
	worker_pool_join(d->tcp);
	upcased_log_stats(d);
	worker_pool_destroy(d->tcp);
	worker_pool_destroy(d->udp);
	policy_free(&d->policy);
	control_close(&d->ctl);
	daemon_pidfile_remove();
	close(d->sigfd);
	free(d->beats);
	if (d->conf_start != d->conf)
		conf_free(d->conf_start);
	conf_free(d->conf);
	log_info("stopped");
}

int
main(int argc, char **argv)
{
	struct upcased d;
	char err[512];

	memset(&d, 0, sizeof(d));
	d.up.chan = d.up.pidfd = -1;
	d.start_ms = d.loaded_ms = wall_ms();
	log_set_exit(upcased_exit);
	if (stdfds_ensure_open() == -1)
		upcased_exit(EX_OSERR);		/* a listener must never land on 0-2 */
	upcased_block_signals();
	parse_options(argc, argv, &d.opt);
	if (getenv(UPGRADE_ENV) != NULL) {
		/* Started by a running upcased (SIGUSR2): from now on it hears why we fail. */
		upgrade_chan = (int)strtol(getenv(UPGRADE_ENV), NULL, 10);
		if (fcntl(upgrade_chan, F_SETFD, FD_CLOEXEC) == -1 ||
		    fcntl(upgrade_chan, F_SETFL, fcntl(upgrade_chan, F_GETFL) | O_NONBLOCK) == -1) {
			fprintf(stderr, "upcased: %s=%s: %s\n", UPGRADE_ENV, getenv(UPGRADE_ENV),
			    strerror(errno));
			upgrade_chan = -1;
			upcased_exit(EX_USAGE);
		}
	}
	/*
	 * Until the configuration says where logs go: stderr, with "<3>" when
	 * it is the journal (-t under ExecReload), so config errors are
	 * errors there.
	 */
	log_init("upcased", LOG_TO_STDERR, LOG_DAEMON);
	d.conf = conf_load(d.opt.conf_path, err, sizeof(err));
	if (d.conf == NULL) {
		log_errx("%s", err);
		upgrade_child_fail("rejects the configuration (exit %d): %s", EX_CONFIG, err);
		upcased_exit(EX_CONFIG);
	}
	if (d.opt.test) {
		if (upcased_check_paths(&d, err, sizeof(err)) == -1) {
			log_errx("%s", err);
			conf_free(d.conf);
			upcased_exit(EX_CONFIG);
		}
		printf("configuration OK\n");
		conf_free(d.conf);
		upcased_exit_printed();
	}
	/*
	 * Detached, syslog is all there is once we serve; with no socket at
	 * /dev/log (a container, a host without a syslog daemon) glibc drops
	 * every line without a word.  Say so while stderr still reaches the
	 * person starting us.
	 */
	if (!d.opt.foreground && upgrade_chan < 0 && !log_syslog_reachable())
		log_warnx("%s: %s: no syslog daemon takes messages there, so once detached "
		    "every message is lost; under systemd (the journal) or another "
		    "supervisor, run upcased -f", _PATH_LOG, strerror(errno));
	/*
	 * Decided before any thread exists.  Detaching, stderr too until we
	 * serve, so start-up errors reach the person starting us.
	 */
	log_init("upcased", d.opt.foreground ? LOG_TO_STDERR :
	    LOG_TO_STDERR | LOG_TO_SYSLOG, d.conf->log_facility);
	log_setlevel(d.opt.debug ? LOG_DEBUG : d.conf->log_level);
	/* Started by a running upcased (SIGUSR2): take what it hands over. */
	if (upgrade_chan >= 0) {
		unsetenv(UPGRADE_ENV);
		upcased_inherit(&d, "");
	}
	upcased_start(&d);
	upcased_loop(&d, false);
	upcased_stop(&d);
	upcased_exit(EX_OK);
}
