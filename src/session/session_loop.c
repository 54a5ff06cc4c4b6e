/* One POP3 session over TLS: ppoll() on the socket with the idle deadline,
 * TLS records into the line buffer, lines into the state machine, replies
 * flushed once every pipelined command has been answered. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include "monotime.h"
#include "linebuf.h"
#include "logclient.h"
#include "logrec.h"
#include "pop3_session.h"
#include "session_loop.h"
#include "tls.h"
#include "transport.h"

#ifndef PACKAGE_VERSION
#define PACKAGE_VERSION "unknown"
#endif

static volatile sig_atomic_t stop_requested;

static void
on_stop_signal(int sig)
{
	stop_requested = sig;
}

static int
set_timeout(int fd, int opt, uint64_t ms)
{
	struct timeval tv;

	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	return setsockopt(fd, SOL_SOCKET, opt, &tv, sizeof(tv)) < 0 ? -errno : 0;
}

/* What ended the session: the DISCONNECT detail and the return value. */
struct outcome {
	const char *reason;
	int ret;            /* 0: the client's doing or an orderly end */
	bool bye;           /* send close_notify */
};

/* Reason for a failed write to the client. */
static struct outcome
write_failure(int err)
{
	if (err == -EINTR && stop_requested)
		return (struct outcome){ "terminated", 0, false };
	if (err == -ETIMEDOUT)
		return (struct outcome){ "timeout", 0, false };
	return (struct outcome){ "tls-error", 0, false };
}

/* True if line is the QUIT command (so POP3_CLOSE was an orderly QUIT,
 * not the server giving up on the client). */
static bool
is_quit(const char *line, size_t len)
{
	char word[LOGREC_COMMAND_MAX + 1];

	logrec_command_word(line, len, word);
	return strcmp(word, "QUIT") == 0;
}

/*
 * The loop proper. Signals SIGTERM and SIGINT are blocked except while
 * waiting in ppoll(), so a stop request can never slip in between the
 * flag check and the wait; they are unblocked around reads and writes too
 * (restored mask), so a long write to a slow client is interrupted.
 */
static struct outcome
run(const struct pop3s_config *cfg, struct tls_server *tls, int fd,
    struct pop3_session *s, struct transport *t, struct linebuf *lb,
    const sigset_t *stopset, const sigset_t *waitmask)
{
	const uint64_t idle_ms = (uint64_t)cfg->timeout * 1000;
	uint64_t deadline;
	int r;

	pop3_session_greet(s);
	if (transport_flush(t) < 0)
		return write_failure(t->error);
	deadline = monotime_ms() + idle_ms;

	for (;;) {
		char *space, *line;
		size_t room, len;
		unsigned flags;
		ssize_t n;
		bool got_line = false;

		if (stop_requested)
			return (struct outcome){ "terminated", 0, true };
		if (!tls_pending(tls)) {
			struct pollfd pfd = { .fd = fd, .events = POLLIN };
			struct timespec ts;
			uint64_t now;

			sigprocmask(SIG_BLOCK, stopset, NULL);
			if (stop_requested) {
				sigprocmask(SIG_SETMASK, waitmask, NULL);
				return (struct outcome){ "terminated", 0, true };
			}
			now = monotime_ms();
			if (now >= deadline) {
				sigprocmask(SIG_SETMASK, waitmask, NULL);
				/* RFC 1939 autologout: no reply, no UPDATE */
				return (struct outcome){ "timeout", 0, true };
			}
			ts.tv_sec = (time_t)((deadline - now) / 1000);
			ts.tv_nsec = (long)((deadline - now) % 1000) * 1000000;
			r = ppoll(&pfd, 1, &ts, waitmask);
			sigprocmask(SIG_SETMASK, waitmask, NULL);
			if (r < 0) {
				if (errno == EINTR)
					continue;
				fprintf(stderr, "pop3s-session: poll: %s\n", strerror(errno));
				return (struct outcome){ "poll-error", -errno, false };
			}
			if (r == 0)
				continue;   /* the deadline check above ends it */
			if (pfd.revents & POLLNVAL) {
				fprintf(stderr, "pop3s-session: poll: connection fd %d is not open\n", fd);
				return (struct outcome){ "poll-error", -EBADF, false };
			}
			/* POLLIN, POLLHUP, POLLERR: the read tells which */
		}

		/* A peer that sends part of a TLS record and stops would hold
		 * recv(): bound it by the time left until the idle deadline. */
		{
			uint64_t now = monotime_ms();

			r = set_timeout(fd, SO_RCVTIMEO, deadline > now ? deadline - now : 1);
			if (r < 0) {
				fprintf(stderr, "pop3s-session: setsockopt SO_RCVTIMEO: %s\n",
				        strerror(-r));
				return (struct outcome){ "setsockopt-error", r, false };
			}
		}
		space = linebuf_space(lb, &room);
		n = tls_read(tls, space, room);
		if (n == -EAGAIN)
			continue;
		if (n == 0)
			return (struct outcome){ "eof", 0, false };
		if (n < 0)
			return (struct outcome){ "tls-error", 0, false };
		linebuf_commit(lb, (size_t)n);

		while (linebuf_next(lb, &line, &len, &flags)) {
			enum pop3_result pr;

			got_line = true;
			pr = pop3_session_input(s, line, len, flags);
			if (pr == POP3_CLOSE) {
				bool quit = is_quit(line, len);

				if (transport_flush(t) < 0)
					return write_failure(t->error);
				return (struct outcome){ quit ? "quit" : "closed-by-server", 0, true };
			}
			if (t->error)
				return write_failure(t->error);
			if (!linebuf_has_line(lb) && transport_flush(t) < 0)
				return write_failure(t->error);
		}
		/* The idle timer restarts after each complete command has been
		 * answered, so the time spent sending a long RETR reply does
		 * not count against the client; bytes without a line end never
		 * restart it. */
		if (got_line)
			deadline = monotime_ms() + idle_ms;
	}
}

/* The filter's spool directory: $TMPDIR if it is an absolute path, else
 * /tmp (private to the session under PrivateTmp=yes). */
static const char *
filter_tmpdir(void)
{
	const char *d = getenv("TMPDIR");

	return d != NULL && d[0] == '/' ? d : "/tmp";
}

int
session_loop_run(const struct pop3s_config *cfg, struct tls_server *tls, int fd,
                 struct logclient *log)
{
	struct sigaction sa, old_term, old_int;
	sigset_t stopset, waitmask, origmask;
	struct pop3_params params;
	struct pop3_session *s;
	struct transport *t;
	struct linebuf *lb;
	struct outcome out;
	int r;

	/* heap: the transport buffer is 16 KiB */
	t = calloc(1, sizeof(*t));
	lb = calloc(1, sizeof(*lb));
	if (t == NULL || lb == NULL) {
		fprintf(stderr, "pop3s-session: %s\n", strerror(ENOMEM));
		free(t);
		free(lb);
		logclient_send(log, LOGREC_DISCONNECT, NULL, 0, "", "out-of-memory");
		return -ENOMEM;
	}
	t->write_all = tls_write_all;
	t->ctx = tls;
	linebuf_init(lb);

	memset(&params, 0, sizeof(params));
	params.home = cfg->home;
	params.users_file = cfg->users;
	params.auth_delay_ms = cfg->auth_delay_ms;
	params.max_auth_failures = cfg->max_auth_failures;
	params.max_bad_commands = cfg->max_bad_commands;
	params.implementation = "pop3s-" PACKAGE_VERSION;
	params.log = log;
	params.filter.command = cfg->filter;
	params.filter.timeout_ms = cfg->filter_timeout_ms;
	params.filter.max_bytes = cfg->filter_max_bytes;
	params.filter.tmpdir = filter_tmpdir();
	params.filter.cancel = &stop_requested;
	s = pop3_session_new(&params, t);
	if (s == NULL) {
		fprintf(stderr, "pop3s-session: cannot create session: %s\n", strerror(ENOMEM));
		free(t);
		free(lb);
		logclient_send(log, LOGREC_DISCONNECT, NULL, 0, "", "out-of-memory");
		return -ENOMEM;
	}

	/* A client that stops reading cannot hold a send() longer than the
	 * idle timeout. */
	r = set_timeout(fd, SO_SNDTIMEO, (uint64_t)cfg->timeout * 1000);
	if (r < 0)
		fprintf(stderr, "pop3s-session: setsockopt SO_SNDTIMEO: %s\n", strerror(-r));

	/* No SA_RESTART: the signal must interrupt ppoll/recv/send. */
	stop_requested = 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_stop_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = 0;
	sigaction(SIGTERM, &sa, &old_term);
	sigaction(SIGINT, &sa, &old_int);
	sigemptyset(&stopset);
	sigaddset(&stopset, SIGTERM);
	sigaddset(&stopset, SIGINT);
	sigprocmask(SIG_SETMASK, NULL, &origmask);
	waitmask = origmask;
	sigdelset(&waitmask, SIGTERM);
	sigdelset(&waitmask, SIGINT);

	out = run(cfg, tls, fd, s, t, lb, &stopset, &waitmask);

	/* close_notify only if the TLS stream is intact */
	if (out.bye && t->error == 0)
		tls_bye(tls);

	logclient_add_bytes(log, t->bytes);
	logclient_send(log, LOGREC_DISCONNECT, NULL, 0, "", out.reason);

	/* no UPDATE here: only QUIT in TRANSACTION state expunges */
	pop3_session_free(s);
	sigprocmask(SIG_SETMASK, &origmask, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	sigaction(SIGINT, &old_int, NULL);
	/* the buffer may still hold a PASS or AUTH line */
	explicit_bzero(lb, sizeof(*lb));
	free(lb);
	free(t);
	return out.ret;
}
