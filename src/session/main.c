/* pop3s-session: serves one POP3S connection and exits. systemd's
 * pop3s.socket (Accept=yes) starts one per connection through
 * pop3s@.service; it never listens itself.
 *
 * Exit status: 0 when the session ended normally or because of the
 * client (bad TLS, timeout, dropped connection: not service failures);
 * 1 for usage and configuration errors, a missing connection, or a local
 * failure such as lack of memory. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include "auth.h"
#include "config.h"
#include "confine.h"
#include "confine_probe.h"
#include "exitcode.h"
#include "listen_fds.h"
#include "logclient.h"
#include "logrec.h"
#include "session_loop.h"
#include "tls.h"

#define PROG "pop3s-session"

static void
usage(FILE *out)
{
	fprintf(out,
	        "usage: " PROG " [-c FILE] [-n | -T] [-h]\n"
	        "  -c FILE  configuration file (default " CONFIG_DEFAULT_PATH ")\n"
	        "  -n       check the configuration, certificate, key and priority\n"
	        "           string, print the effective configuration and exit\n"
	        "  -T       diagnostic: start up and confine as for a connection, then\n"
	        "           instead of TLS write to it in plain text what the confined\n"
	        "           session can and cannot do; exit 0 if all is as expected\n"
	        "  -h       show this help\n"
	        "Serves one connection passed by systemd (pop3s@.service) or\n"
	        "systemd-socket-activate --accept, or on standard input.\n");
}

/* The connected socket: fd 3 from socket activation (Accept=yes), else
 * standard input if it is a stream socket (inetd style). Returns the fd
 * or -1 with a message on stderr. */
static int
connection_fd(void)
{
	int n, r;

	/* The message names sd_listen_fds(3), whose protocol listen_fds()
	 * implements: that is where an administrator looks it up. */
	n = listen_fds();
	if (n < 0) {
		fprintf(stderr, PROG ": sd_listen_fds: %s\n", strerror(-n));
		return -1;
	}
	if (n > 1) {
		fprintf(stderr, PROG ": got %d sockets from systemd, expected 1 "
		        "(the socket unit needs Accept=yes)\n", n);
		return -1;
	}
	if (n == 1) {
		/* A listening socket here means Accept=no: refuse rather
		 * than serve only the first client. */
		r = fd_is_stream_socket(LISTEN_FDS_START);
		if (r <= 0) {
			fprintf(stderr, PROG ": fd %d is not a connected stream socket "
			        "(the socket unit needs Accept=yes)\n", LISTEN_FDS_START);
			return -1;
		}
		return LISTEN_FDS_START;
	}
	if (fd_is_stream_socket(STDIN_FILENO) > 0)
		return STDIN_FILENO;
	fprintf(stderr, PROG ": no connection: run from pop3s@.service or "
	        "systemd-socket-activate --accept\n");
	return -1;
}

/* True if s is usable as the client address field of a log record. */
static bool
ip_text_ok(const char *s)
{
	size_t i, n = strlen(s);

	if (n == 0 || n > LOGREC_IP_MAX)
		return false;
	for (i = 0; i < n; i++)
		if (s[i] <= 0x20 || s[i] >= 0x7f)
			return false;
	return true;
}

/* The peer address as text: $REMOTE_ADDR (set by systemd for Accept=yes
 * services), else getpeername(). Kept raw: the logger shows IPv4-mapped
 * IPv6 addresses as IPv4. */
static void
client_ip(int fd, char *buf, size_t len)
{
	const char *env = getenv("REMOTE_ADDR");
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	const void *addr = NULL;

	if (env != NULL && ip_text_ok(env)) {
		snprintf(buf, len, "%s", env);
		return;
	}
	snprintf(buf, len, "unknown");
	if (getpeername(fd, (struct sockaddr *)&ss, &sl) < 0)
		return;
	if (ss.ss_family == AF_INET)
		addr = &((struct sockaddr_in *)&ss)->sin_addr;
	else if (ss.ss_family == AF_INET6)
		addr = &((struct sockaddr_in6 *)&ss)->sin6_addr;
	else if (ss.ss_family == AF_UNIX)
		snprintf(buf, len, "local");
	if (addr != NULL && inet_ntop(ss.ss_family, addr, buf, (socklen_t)len) == NULL)
		snprintf(buf, len, "unknown");
}

static int
check_config(const struct pop3s_config *cfg)
{
	char err[CONFIG_ERR_MAX + PATH_MAX];
	struct tls_server *tls;

	if (tls_server_new(cfg, &tls, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return POP3S_EXIT_ERROR;
	}
	tls_server_free(tls);
	config_dump(cfg, stdout);
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, PROG ": writing the configuration: %s\n", strerror(errno));
		return POP3S_EXIT_ERROR;
	}
	return POP3S_EXIT_OK;
}

/* The session's confinement, narrowed to the mailbox after login. */
struct confinement {
	struct confine_params p;
	struct confine_status st;
};

static int
enter_mailbox(void *ctx, int dirfd, char *err, size_t errlen)
{
	const struct confinement *c = ctx;

	return confine_mailbox(&c->p, &c->st, dirfd, err, errlen);
}

/* Confines the session (confine.h); a warning or the error goes to
 * stderr, the journal under systemd. Returns 0 or -errno. */
static int
confine(const struct pop3s_config *cfg, struct confine_params *cp, struct confine_status *st)
{
	char err[256];
	int r;

	*cp = (struct confine_params){
		.home = cfg->home,
		.users = cfg->users,
		.penalty_file = cfg->auth_penalty_file,
		.filter = cfg->filter,
		.filter_tmpdir = session_loop_filter_tmpdir(),
		.landlock_required = strcmp(cfg->landlock, "required") == 0,
	};
	r = confine_apply(cp, st, err, sizeof(err));
	if (r < 0)
		fprintf(stderr, PROG ": confinement failed, not serving: %s\n", err);
	else if (st->warning[0] != '\0')
		fprintf(stderr, PROG ": warning: %s\n", st->warning);
	return r;
}

/* Serves the connection on fd; with probe_only (-T), stops after the
 * confinement and reports what it allows on fd instead. */
static int
serve(const struct pop3s_config *cfg, int fd, bool probe_only)
{
	struct confinement cf;
	char err[CONFIG_ERR_MAX + PATH_MAX];
	char ip[LOGREC_IP_MAX + 1];
	char detail[LOGREC_DETAIL_MAX + 1];
	struct tls_server *tls;
	struct logclient *log;
	unsigned hs_ms;
	int r, status = POP3S_EXIT_OK;

	client_ip(fd, ip, sizeof(ip));
	auth_set_penalty(&(struct auth_penalty){ cfg->auth_penalty_file, ip, cfg->auth_penalty_ms,
	                                         cfg->auth_penalty_max_ms,
	                                         cfg->auth_penalty_window });
	/* Credentials are loaded per connection so that a renewed
	 * certificate applies to the next connection without a restart. */
	if (tls_server_new(cfg, &tls, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return POP3S_EXIT_ERROR;
	}
	log = logclient_new(cfg->queue, cfg->queue_timeout_ms, ip);
	if (log == NULL) {
		fprintf(stderr, PROG ": cannot create log client: %s\n", strerror(ENOMEM));
		tls_server_free(tls);
		return POP3S_EXIT_ERROR;
	}
	logclient_set_limit(log, cfg->max_log_records);
	logclient_open_queue(log);

	/* Everything from here on handles the client's input: confined. */
	if (confine(cfg, &cf.p, &cf.st) < 0) {
		status = POP3S_EXIT_ERROR;
		goto out;
	}
	if (probe_only) {
		status = confine_probe(fd, &cf.p, &cf.st) == 0 ? POP3S_EXIT_OK : POP3S_EXIT_ERROR;
		goto out;
	}

	hs_ms = cfg->handshake_timeout > UINT_MAX / 1000 ? UINT_MAX
	                                                 : cfg->handshake_timeout * 1000;
	if (tls_handshake(tls, fd, hs_ms, err, sizeof(err)) < 0) {
		/* the client's doing (scanner, plain-text client, old TLS):
		 * logged, but not a failure of the service */
		snprintf(detail, sizeof(detail), "tls-handshake: %.*s",
		         (int)(sizeof(detail) - sizeof("tls-handshake: ")), err);
		logclient_send(log, LOGREC_DISCONNECT, NULL, 0, "", detail);
		fprintf(stderr, PROG ": %s: TLS handshake failed: %s\n", ip, err);
	} else {
		logclient_send(log, LOGREC_CONNECT, NULL, 0, "",
		               tls_describe(tls, detail, sizeof(detail)));
		r = session_loop_run(cfg, tls, log, enter_mailbox, &cf);
		if (r < 0)
			status = POP3S_EXIT_ERROR;
	}
out:
	logclient_free(log);
	tls_server_free(tls);
	close(fd);
	return status;
}

int
main(int argc, char **argv)
{
	static struct pop3s_config cfg;   /* large: PATH_MAX buffers */
	const char *conf = CONFIG_DEFAULT_PATH;
	char err[CONFIG_ERR_MAX];
	bool check_only = false, probe_only = false;
	int c, fd;

	while ((c = getopt(argc, argv, "c:nTh")) != -1) {
		switch (c) {
		case 'c':
			conf = optarg;
			break;
		case 'n':
			check_only = true;
			break;
		case 'T':
			probe_only = true;
			break;
		case 'h':
			usage(stdout);
			return POP3S_EXIT_OK;
		default:
			usage(stderr);
			return POP3S_EXIT_USAGE;
		}
	}
	if (check_only && probe_only) {
		fprintf(stderr, PROG ": -n and -T exclude each other\n");
		usage(stderr);
		return POP3S_EXIT_USAGE;
	}
	if (optind != argc) {
		fprintf(stderr, PROG ": unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return POP3S_EXIT_USAGE;
	}

	/* The process holds the private key and, briefly, passwords: no core
	 * dumps, no ptrace by other processes of the same user. (Skipped
	 * under AddressSanitizer, whose leak checker needs ptrace.) */
#ifndef __SANITIZE_ADDRESS__
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
#endif
	/* GnuTLS sends with MSG_NOSIGNAL; this covers everything else. */
	signal(SIGPIPE, SIG_IGN);

	config_defaults(&cfg);
	if (config_load(conf, &cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, PROG ": %s\n", err);
		return POP3S_EXIT_ERROR;
	}
	if (check_only)
		return check_config(&cfg);

	fd = connection_fd();
	if (fd < 0)
		return POP3S_EXIT_ERROR;
	return serve(&cfg, fd, probe_only);
}
