/* One POP3 session over TLS: TLS records into the line buffer under an
 * absolute deadline per command, lines into the state machine, replies
 * flushed once every pipelined command has been answered, at the minimum
 * send rate. The waiting itself is in tls.c (non-blocking I/O + ppoll). */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
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
		/* below MIN_SEND_RATE for a whole TIMEOUT window */
		return (struct outcome){ "send-timeout", 0, false };
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
 * The loop proper. The read deadline is absolute per command: it starts
 * when the server waits for the next command (every reply sent) and is
 * not moved by octets that do not complete a line, nor by a TLS record
 * that arrives one octet at a time. Writes are bounded by the send rate
 * set in session_loop_run. SIGTERM and SIGINT cancel any wait (tls.c).
 */
static struct outcome
run(const struct pop3s_config *cfg, struct tls_server *tls, struct pop3_session *s,
    struct transport *t, struct linebuf *lb)
{
	const uint64_t idle_ms = (uint64_t)cfg->timeout * 1000;

	pop3_session_greet(s);
	if (transport_flush(t) < 0)
		return write_failure(t->error);
	tls_set_read_deadline(tls, monotime_ms() + idle_ms);

	for (;;) {
		char *space, *line;
		size_t room, len;
		unsigned flags;
		ssize_t n;
		bool got_line = false;

		if (stop_requested)
			return (struct outcome){ "terminated", 0, true };
		space = linebuf_space(lb, &room);
		n = tls_read(tls, space, room);
		if (n == -EAGAIN)
			continue;   /* a signal, or a non-fatal TLS event */
		if (n == -ETIMEDOUT)
			/* RFC 1939 autologout: no reply, no UPDATE */
			return (struct outcome){ "timeout", 0, true };
		if (n == 0)
			return (struct outcome){ "eof", 0, false };
		if (n < 0)
			return (struct outcome){ "tls-error", 0, false };
		linebuf_commit(lb, (size_t)n);

		/* the client's pace while sending commands is not its pace
		 * reading the replies */
		if (linebuf_has_line(lb))
			tls_send_restart(tls);
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
		/* Every command received has been answered: the next one
		 * gets TIMEOUT from now. The time spent sending a long RETR
		 * reply does not count against the client. */
		if (got_line)
			tls_set_read_deadline(tls, monotime_ms() + idle_ms);
	}
}

const char *
session_loop_filter_tmpdir(void)
{
	const char *d = getenv("TMPDIR");

	return d != NULL && d[0] == '/' ? d : "/tmp";
}

int
session_loop_run(const struct pop3s_config *cfg, struct tls_server *tls,
                 struct logclient *log,
                 int (*enter_mailbox)(void *ctx, int dirfd, char *err, size_t errlen),
                 void *enter_mailbox_ctx)
{
	struct sigaction sa, old_term, old_int;
	sigset_t stopset, waitmask, origmask;
	struct pop3_params params;
	struct pop3_session *s;
	struct transport *t;
	struct linebuf *lb;
	struct outcome out;

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
	params.filter.tmpdir = session_loop_filter_tmpdir();
	params.filter.cancel = &stop_requested;
	params.enter_mailbox = enter_mailbox;
	params.enter_mailbox_ctx = enter_mailbox_ctx;
	s = pop3_session_new(&params, t);
	if (s == NULL) {
		fprintf(stderr, "pop3s-session: cannot create session: %s\n", strerror(ENOMEM));
		free(t);
		free(lb);
		logclient_send(log, LOGREC_DISCONNECT, NULL, 0, "", "out-of-memory");
		return -ENOMEM;
	}

	/* A reply must leave at MIN_SEND_RATE or better, measured over
	 * windows of TIMEOUT: a client that stops reading is cut TIMEOUT
	 * after its buffers fill, like one that stops sending. */
	tls_set_send_rate(tls, cfg->timeout > UINT_MAX / 1000 ? UINT_MAX : cfg->timeout * 1000,
	                  (uint64_t)cfg->min_send_rate * cfg->timeout);

	/* No SA_RESTART: the signal must interrupt the waits in tls.c. */
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
	sigprocmask(SIG_SETMASK, &waitmask, NULL);
	tls_set_cancel(tls, &stop_requested, &stopset);

	out = run(cfg, tls, s, t, lb);
	tls_set_cancel(tls, NULL, NULL);

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
