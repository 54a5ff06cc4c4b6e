/* The POP3 state machine. Handlers answer through reply_ok()/reply_err()
 * and return true for +OK; the dispatcher logs one record per command and
 * decides when the session ends. No socket or TLS code lives here. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include "auth.h"
#include "filter.h"
#include "linebuf.h"
#include "logclient.h"
#include "maildir.h"
#include "mbox_lock.h"
#include "msgstream.h"
#include "parse_num.h"
#include "pop3_parse.h"
#include "pop3_session.h"
#include "sasl_plain.h"
#include "username.h"

struct pop3_session {
	const struct pop3_params *p;
	struct transport *t;
	enum pop3_state state;
	char user[USERNAME_MAX + 1];   /* from USER, waiting for PASS */
	char login[USERNAME_MAX + 1];  /* authenticated user */
	bool sasl_pending;             /* "+ " sent, waiting for the PLAIN response */
	bool close;                    /* end the session after this reply */
	unsigned auth_failures;
	unsigned bad_commands;         /* see reply_bad() */
	struct mailbox *mb;
	char detail[LOGREC_DETAIL_MAX + 1]; /* for this command's log record */
};

static void
vreply(struct pop3_session *s, const char *status, const char *fmt, va_list ap)
{
	char buf[512];
	int n;

	n = snprintf(buf, sizeof(buf), "%s ", status);
	n += vsnprintf(buf + n, sizeof(buf) - (size_t)n - 2, fmt, ap);
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3;
	memcpy(buf + n, "\r\n", 2);
	transport_write(s->t, buf, (size_t)n + 2);
}

static bool __attribute__((format(printf, 2, 3)))
reply_ok(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, "+OK", fmt, ap);
	va_end(ap);
	return true;
}

static bool __attribute__((format(printf, 2, 3)))
reply_err(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vreply(s, "-ERR", fmt, ap);
	va_end(ap);
	return false;
}

/* The answer to a command the client should not have sent: unknown,
 * malformed, not valid in this state, or with bad arguments. A client that
 * keeps sending them is not a mail client: the max_bad_commands-th gets one
 * final -ERR instead and ends the session (failed logins have their own
 * limit, max_auth_failures, and are not counted here). */
static bool __attribute__((format(printf, 2, 3)))
reply_bad(struct pop3_session *s, const char *fmt, ...)
{
	va_list ap;

	if (++s->bad_commands >= s->p->max_bad_commands) {
		s->close = true;
		snprintf(s->detail, sizeof(s->detail), "too many bad commands (%u)",
		         s->bad_commands);
		return reply_err(s, "Too many bad commands, closing connection");
	}
	va_start(ap, fmt);
	vreply(s, "-ERR", fmt, ap);
	va_end(ap);
	return false;
}

static void __attribute__((format(printf, 2, 3)))
send_line(struct pop3_session *s, const char *fmt, ...)
{
	char buf[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 2, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(buf) - 3)
		n = (int)sizeof(buf) - 3;
	memcpy(buf + n, "\r\n", 2);
	transport_write(s->t, buf, (size_t)n + 2);
}

static void
log_event(struct pop3_session *s, enum logrec_type type, const char *status, const char *detail)
{
	if (s->p->log)
		logclient_send(s->p->log, type, "", 0, status, detail);
}

struct pop3_session *
pop3_session_new(const struct pop3_params *params, struct transport *t)
{
	struct pop3_session *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->p = params;
	s->t = t;
	s->state = POP3_STATE_AUTHORIZATION;
	return s;
}

void
pop3_session_free(struct pop3_session *s)
{
	if (s == NULL)
		return;
	mailbox_free(s->mb);
	explicit_bzero(s, sizeof(*s));
	free(s);
}

void
pop3_session_greet(struct pop3_session *s)
{
	reply_ok(s, "POP3 server ready");
}

enum pop3_state
pop3_session_state(const struct pop3_session *s)
{
	return s->state;
}

const char *
pop3_session_user(const struct pop3_session *s)
{
	return s->state == POP3_STATE_AUTHORIZATION ? NULL : s->login;
}

/* --- CAPA --------------------------------------------------------------- */

static bool
cmd_capa(struct pop3_session *s)
{
	reply_ok(s, "Capability list follows");
	send_line(s, "TOP");
	send_line(s, "UIDL");
	send_line(s, "RESP-CODES");
	send_line(s, "AUTH-RESP-CODE");
	send_line(s, "PIPELINING");
	if (s->state == POP3_STATE_AUTHORIZATION) {
		send_line(s, "USER");
		send_line(s, "SASL PLAIN");
	}
	send_line(s, "IMPLEMENTATION %s", s->p->implementation ? s->p->implementation : "pop3s");
	send_line(s, ".");
	return true;
}

/* --- AUTHORIZATION ------------------------------------------------------ */

static void
pause_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static bool
login_failed(struct pop3_session *s, const char *why)
{
	/* at once, for the penalty other connections of this source pay */
	log_event(s, LOGREC_AUTH_FAIL, "ERR", "");
	pause_ms(s->p->auth_delay_ms);
	s->auth_failures++;
	log_event(s, LOGREC_LOGIN_FAIL, "ERR", why);
	if (s->auth_failures >= s->p->max_auth_failures) {
		s->close = true;
		return reply_err(s, "[AUTH] Authentication failed, closing connection");
	}
	return reply_err(s, "[AUTH] Authentication failed");
}

/* Verifies the password, then opens, locks and scans the mailbox. */
static bool
login(struct pop3_session *s, const char *user, const char *password)
{
	char err[512];
	struct mailbox *mb = NULL;
	uint64_t total;
	int r;

	if (s->p->log)
		logclient_set_user(s->p->log, username_valid(user, strlen(user)) ? user : "");
	if (!username_valid(user, strlen(user)))
		return login_failed(s, "invalid user name");
	switch (auth_check(s->p->users_file, user, password, err, sizeof(err))) {
	case AUTH_OK:
		break;
	case AUTH_FAIL:
		/* err names a refused weak hash, for the administrator only */
		return login_failed(s, err[0] != '\0' ? err : "wrong user name or password");
	case AUTH_TEMPFAIL:
	default:
		log_event(s, LOGREC_LOGIN_FAIL, "ERR", err);
		return reply_err(s, "[SYS/TEMP] Authentication is temporarily unavailable");
	}

	r = mailbox_open(s->p->home, user, &mb);
	if (r < 0) {
		snprintf(err, sizeof(err), "cannot open mailbox: %s", strerror(-r));
		log_event(s, LOGREC_LOGIN_FAIL, "ERR", err);
		return reply_err(s, "[SYS/TEMP] Cannot open the mailbox");
	}
	if (s->p->enter_mailbox != NULL &&
	    s->p->enter_mailbox(s->p->enter_mailbox_ctx, mb->dirfd, err, sizeof(err)) < 0) {
		mailbox_free(mb);
		log_event(s, LOGREC_LOGIN_FAIL, "ERR", err);
		return reply_err(s, "[SYS/TEMP] Cannot open the mailbox");
	}
	r = mbox_lock_try(mb->dirfd);
	if (r < 0) {
		mailbox_free(mb);
		if (r == -EWOULDBLOCK) {
			log_event(s, LOGREC_LOGIN_FAIL, "ERR", "mailbox in use");
			return reply_err(s, "[IN-USE] Mailbox is in use by another session");
		}
		snprintf(err, sizeof(err), "cannot lock mailbox: %s", strerror(-r));
		log_event(s, LOGREC_LOGIN_FAIL, "ERR", err);
		return reply_err(s, "[SYS/TEMP] Cannot lock the mailbox");
	}
	r = mailbox_scan(mb);
	if (r < 0) {
		mailbox_free(mb);
		snprintf(err, sizeof(err), "cannot read mailbox: %s", strerror(-r));
		log_event(s, LOGREC_LOGIN_FAIL, "ERR", err);
		return reply_err(s, "[SYS/TEMP] Cannot read the mailbox");
	}
	s->mb = mb;
	s->state = POP3_STATE_TRANSACTION;
	snprintf(s->login, sizeof(s->login), "%s", user);
	total = mailbox_total(mb, true, NULL);
	/* A big mailbox needs more log records than MAX_LOG_RECORDS. */
	if (s->p->log)
		logclient_allow_messages(s->p->log, mb->count);
	log_event(s, LOGREC_LOGIN_OK, "OK", "");
	return reply_ok(s, "Logged in, %zu messages (%" PRIu64 " octets)", mb->count, total);
}

static bool
cmd_user(struct pop3_session *s, const struct pop3_cmdline *c)
{
	if (c->argc != 1)
		return reply_bad(s, "Syntax: USER name");
	if (!username_valid(c->argv[0], strlen(c->argv[0]))) {
		s->user[0] = '\0';
		if (s->p->log)
			logclient_set_user(s->p->log, "");
		return reply_bad(s, "Invalid user name");
	}
	/* The same answer for every valid name: USER must not reveal
	 * whether an account exists. */
	snprintf(s->user, sizeof(s->user), "%s", c->argv[0]);
	if (s->p->log)
		logclient_set_user(s->p->log, s->user);
	return reply_ok(s, "Send your password");
}

static bool
cmd_pass(struct pop3_session *s, const struct pop3_cmdline *c)
{
	char user[USERNAME_MAX + 1];

	if (s->user[0] == '\0')
		return reply_bad(s, "Send USER first");
	if (c->rest == NULL || c->rest[0] == '\0')
		return reply_bad(s, "Syntax: PASS password");
	/* A failed PASS needs a new USER, as after any failed login. */
	memcpy(user, s->user, sizeof(user));
	s->user[0] = '\0';
	return login(s, user, c->rest);
}

static bool
auth_plain_response(struct pop3_session *s, const char *b64, size_t len)
{
	struct sasl_plain sp;
	bool ok;

	if (sasl_plain_decode(b64, len, &sp) < 0) {
		explicit_bzero(&sp, sizeof(sp));
		return login_failed(s, "malformed SASL PLAIN response");
	}
	ok = login(s, sp.authcid, sp.passwd);
	explicit_bzero(&sp, sizeof(sp));
	return ok;
}

static bool
cmd_auth(struct pop3_session *s, const struct pop3_cmdline *c)
{
	if (c->argc == 0) {
		/* Not in RFC 5034, but Outlook and others probe with a bare
		 * AUTH and expect the mechanism list, as Dovecot sends it. */
		reply_ok(s, "Supported mechanisms follow");
		send_line(s, "PLAIN");
		send_line(s, ".");
		return true;
	}
	if (strcasecmp(c->argv[0], "PLAIN") != 0)
		return reply_bad(s, "Unsupported authentication mechanism");
	s->user[0] = '\0';
	if (c->argc == 2) {
		/* "=" is an empty initial response (RFC 5034 section 4). */
		const char *ir = strcmp(c->argv[1], "=") == 0 ? "" : c->argv[1];

		return auth_plain_response(s, ir, strlen(ir));
	}
	s->sasl_pending = true;
	send_line(s, "+ ");
	return true;
}

/* --- TRANSACTION -------------------------------------------------------- */

/* Resolves a message-number argument; answers -ERR itself on failure. */
static struct mailbox_msg *
get_msg(struct pop3_session *s, const char *arg, uint64_t *ret_num)
{
	struct mailbox_msg *m;
	uint64_t n;
	int r;

	r = pop3_parse_msgnum(arg, s->mb->count, &n);
	if (r == -EINVAL) {
		reply_bad(s, "Invalid message number");
		return NULL;
	}
	if (r < 0) {
		reply_bad(s, "No such message");
		return NULL;
	}
	m = &s->mb->msgs[n - 1];
	if (m->deleted) {
		reply_bad(s, "Message %" PRIu64 " is deleted", n);
		return NULL;
	}
	*ret_num = n;
	return m;
}

/* Saturating sum (see mailbox_total): never a wrapped total. */
static void
totals(const struct pop3_session *s, size_t *ret_count, uint64_t *ret_octets)
{
	*ret_octets = mailbox_total(s->mb, false, ret_count);
}

static bool
cmd_stat(struct pop3_session *s, const struct pop3_cmdline *c)
{
	size_t count;
	uint64_t octets;

	if (c->argc != 0)
		return reply_bad(s, "Syntax: STAT");
	totals(s, &count, &octets);
	return reply_ok(s, "%zu %" PRIu64, count, octets);
}

/* LIST and UIDL share their shape: one message, or all undeleted ones. */
static bool
cmd_listing(struct pop3_session *s, const struct pop3_cmdline *c, bool uidl)
{
	struct mailbox_msg *m;
	uint64_t n;
	size_t i;

	if (c->argc > 1)
		return reply_bad(s, "Syntax: %s [message]", uidl ? "UIDL" : "LIST");
	if (c->argc == 1) {
		m = get_msg(s, c->argv[0], &n);
		if (m == NULL)
			return false;
		if (uidl)
			return reply_ok(s, "%" PRIu64 " %s", n, m->uidl);
		return reply_ok(s, "%" PRIu64 " %" PRIu64, n, m->size);
	}
	if (uidl) {
		reply_ok(s, "Unique-ID listing follows");
	} else {
		size_t count;
		uint64_t octets;

		totals(s, &count, &octets);
		reply_ok(s, "%zu messages (%" PRIu64 " octets)", count, octets);
	}
	for (i = 0; i < s->mb->count; i++) {
		m = &s->mb->msgs[i];
		if (m->deleted)
			continue;
		if (uidl)
			send_line(s, "%zu %s", i + 1, m->uidl);
		else
			send_line(s, "%zu %" PRIu64, i + 1, m->size);
	}
	send_line(s, ".");
	return true;
}

static bool
filter_configured(const struct pop3_session *s)
{
	return s->p->filter.command != NULL && s->p->filter.command[0] != '\0';
}

/* Replaces *fd (message idx) by the filter's spooled output. On failure
 * the reason goes to this command's log record and *fd is closed. A
 * message that changed while the filter read it fails with -ESTALE. */
static int
filter_message(struct pop3_session *s, size_t idx, int *fd)
{
	char why[LOGREC_DETAIL_MAX + 1];
	int out = -1, r;

	r = filter_run(&s->p->filter, *fd, &out, why, sizeof(why));
	if (r == 0 && mailbox_msg_unchanged(s->mb, idx, *fd) < 0) {
		snprintf(why, sizeof(why), "message changed while filtered");
		close(out);
		out = -1;
		r = -ESTALE;
	}
	close(*fd);
	*fd = out;
	if (r < 0)
		snprintf(s->detail, sizeof(s->detail), "%s", why);
	return r;
}

/* The "+OK" line. RETR announces the exact size it sends: the scanned size,
 * or for a filtered message the size of the filter's output (LIST and STAT
 * keep the unfiltered sizes; see pop3s.conf(5), FILTER). */
static int
retr_header(struct pop3_session *s, const struct mailbox_msg *m, int fd, long body_lines,
            char *header, size_t len, uint64_t *ret_size)
{
	uint64_t size = m->size;
	int r;

	*ret_size = size;
	if (body_lines >= 0) {
		/* TOP announces no size; the filter's output is private and
		 * cannot change under it. */
		if (filter_configured(s))
			*ret_size = MSGSTREAM_SIZE_ANY;
		snprintf(header, len, "+OK Top of message follows\r\n");
		return 0;
	}
	if (filter_configured(s)) {
		r = msgstream_size_fd(fd, &size);
		if (r < 0) {
			snprintf(s->detail, sizeof(s->detail), "cannot read the filter output: %s",
			         strerror(-r));
			return r;
		}
	}
	snprintf(header, len, "+OK %" PRIu64 " octets\r\n", size);
	*ret_size = size;
	return 0;
}

/* RETR (body_lines < 0) and TOP. With a filter, the whole message passes
 * through it first; TOP then cuts the filter's output. A message whose
 * file is not the one scanned at login (replaced, modified) is refused
 * with [SYS/TEMP]: its listed size no longer holds. One that changes while
 * it is sent ends the connection before the terminating line (see
 * msgstream_send_fd): never an octet count other than the announced one. */
static bool
send_message(struct pop3_session *s, const char *arg, long body_lines)
{
	char header[64];
	struct mailbox_msg *m;
	bool started = false;
	uint64_t n, size;
	int fd = -1, r;

	m = get_msg(s, arg, &n);
	if (m == NULL)
		return false;
	if (!m->readable)
		return reply_err(s, "[SYS/TEMP] Message %" PRIu64 " cannot be read", n);
	r = mailbox_msg_open(s->mb, n - 1, &fd);
	if (r == -ESTALE) {
		snprintf(s->detail, sizeof(s->detail), "message changed since login");
		return reply_err(s, "[SYS/TEMP] Message %" PRIu64 " changed since login", n);
	}
	if (r < 0)
		return reply_err(s, "[SYS/TEMP] Message %" PRIu64 " cannot be read", n);
	if (filter_configured(s) && filter_message(s, n - 1, &fd) < 0)
		return reply_err(s, "[SYS/TEMP] Message %" PRIu64 " could not be filtered", n);
	if (retr_header(s, m, fd, body_lines, header, sizeof(header), &size) < 0) {
		close(fd);
		return reply_err(s, "[SYS/TEMP] Message %" PRIu64 " could not be filtered", n);
	}
	r = msgstream_send_fd(fd, body_lines, size, header, s->t, &started);
	if (r == -ERANGE && !filter_configured(s) && mailbox_msg_unchanged(s->mb, n - 1, fd) == 0) {
		/* The file is the one scanned, so its listed size was wrong:
		 * the size cache lied. The next login measures again. */
		(void)mailbox_cache_drop(s->mb);
	}
	close(fd);
	if (r == 0)
		return true;
	if (!started)
		return reply_err(s, "[SYS/TEMP] Message %" PRIu64 " cannot be read", n);
	/* Half a message cannot be taken back: end the session. */
	snprintf(s->detail, sizeof(s->detail), "%s", r == -ERANGE ? "message size changed while sent" :
	         r == -ESTALE ? "message changed while sent" : strerror(-r));
	s->close = true;
	return false;
}

static bool
cmd_retr(struct pop3_session *s, const struct pop3_cmdline *c)
{
	if (c->argc != 1)
		return reply_bad(s, "Syntax: RETR message");
	return send_message(s, c->argv[0], MSGSTREAM_ALL_LINES);
}

static bool
cmd_top(struct pop3_session *s, const struct pop3_cmdline *c)
{
	uint64_t lines;

	if (c->argc != 2)
		return reply_bad(s, "Syntax: TOP message lines");
	if (parse_u64(c->argv[1], 0, LONG_MAX, &lines) < 0)
		return reply_bad(s, "Invalid number of lines");
	return send_message(s, c->argv[0], (long)lines);
}

static bool
cmd_dele(struct pop3_session *s, const struct pop3_cmdline *c)
{
	struct mailbox_msg *m;
	uint64_t n;

	if (c->argc != 1)
		return reply_bad(s, "Syntax: DELE message");
	m = get_msg(s, c->argv[0], &n);
	if (m == NULL)
		return false;
	m->deleted = true;
	return reply_ok(s, "Message %" PRIu64 " deleted", n);
}

static bool
cmd_rset(struct pop3_session *s, const struct pop3_cmdline *c)
{
	size_t i, count;
	uint64_t octets;

	if (c->argc != 0)
		return reply_bad(s, "Syntax: RSET");
	for (i = 0; i < s->mb->count; i++)
		s->mb->msgs[i].deleted = false;
	totals(s, &count, &octets);
	return reply_ok(s, "%zu messages (%" PRIu64 " octets)", count, octets);
}

/* QUIT in TRANSACTION: the UPDATE state. Only the files the client saw are
 * removed (mailbox_expunge). As Dovecot does, a message that could not be
 * removed makes QUIT answer -ERR [SYS/TEMP] (RFC 1939: "some deleted
 * messages not removed", RFC 2449/3206 response code); a message someone
 * else already removed is not an error. Both replies and the UPDATE record
 * (the logger's deleted counter) give the number really removed now. */
static bool
cmd_quit_update(struct pop3_session *s)
{
	char why[LOGREC_DETAIL_MAX + 1], gone[64] = "";
	struct mailbox_expunge_result res;
	size_t i, marked = 0;
	int r = 0;

	s->state = POP3_STATE_UPDATE;
	s->close = true;
	memset(&res, 0, sizeof(res));
	for (i = 0; i < s->mb->count; i++)
		marked += s->mb->msgs[i].deleted;
	if (marked)
		r = mailbox_expunge(s->mb, &res);
	/* Done with the mailbox: a client that reconnects as soon as it has
	 * QUIT's reply must not meet its own lock while this process still
	 * logs and exits. */
	mbox_lock_release(s->mb->dirfd);
	if (res.gone > 0)
		snprintf(gone, sizeof(gone), ", %zu already gone", res.gone);
	if (r < 0) {
		if (res.failed > 0)
			snprintf(why, sizeof(why), "%zu of %zu messages not removed (%zu changed since "
			         "login, %zu failed: %s)", res.changed + res.failed, marked,
			         res.changed, res.failed, strerror(-res.first_error));
		else
			snprintf(why, sizeof(why), "%zu of %zu messages not removed (%zu changed since "
			         "login)", res.changed, marked, res.changed);
		snprintf(s->detail, sizeof(s->detail), "%s", why);
		if (s->p->log)
			logclient_send_update(s->p->log, res.removed, "ERR", why);
		return reply_err(s, "[SYS/TEMP] %zu deleted message%s not removed, %zu removed%s",
		                 res.changed + res.failed, res.changed + res.failed == 1 ? "" : "s",
		                 res.removed, gone);
	}
	if (res.gone > 0)
		snprintf(why, sizeof(why), "%zu already gone", res.gone);
	else
		why[0] = '\0';
	if (s->p->log)
		logclient_send_update(s->p->log, res.removed, "OK", why);
	return reply_ok(s, "Logging out, %zu message%s removed%s", res.removed,
	                res.removed == 1 ? "" : "s", gone);
}

/* --- dispatch ----------------------------------------------------------- */

static bool
dispatch_authorization(struct pop3_session *s, const struct pop3_cmdline *c)
{
	switch (c->cmd) {
	case POP3_CMD_CAPA:
		return cmd_capa(s);
	case POP3_CMD_USER:
		return cmd_user(s, c);
	case POP3_CMD_PASS:
		return cmd_pass(s, c);
	case POP3_CMD_AUTH:
		return cmd_auth(s, c);
	case POP3_CMD_QUIT:
		s->close = true;
		return reply_ok(s, "Logging out");
	case POP3_CMD_APOP:
		return reply_bad(s, "APOP is not supported");
	default:
		return reply_bad(s, "Not logged in");
	}
}

static bool
dispatch_transaction(struct pop3_session *s, const struct pop3_cmdline *c)
{
	switch (c->cmd) {
	case POP3_CMD_CAPA:
		return cmd_capa(s);
	case POP3_CMD_STAT:
		return cmd_stat(s, c);
	case POP3_CMD_LIST:
		return cmd_listing(s, c, false);
	case POP3_CMD_UIDL:
		return cmd_listing(s, c, true);
	case POP3_CMD_RETR:
		return cmd_retr(s, c);
	case POP3_CMD_TOP:
		return cmd_top(s, c);
	case POP3_CMD_DELE:
		return cmd_dele(s, c);
	case POP3_CMD_NOOP:
		if (c->argc != 0)
			return reply_bad(s, "Syntax: NOOP");
		return reply_ok(s, "Still here");
	case POP3_CMD_RSET:
		return cmd_rset(s, c);
	case POP3_CMD_QUIT:
		return cmd_quit_update(s);
	default:
		return reply_bad(s, "Already logged in");
	}
}

/* The continuation line of AUTH PLAIN: never logged, always wiped. */
static bool
sasl_continue(struct pop3_session *s, char *line, size_t len, unsigned flags)
{
	bool ok;

	s->sasl_pending = false;
	if (flags & (LINEBUF_TOO_LONG | LINEBUF_NUL | LINEBUF_BARE_CR))
		ok = login_failed(s, "malformed SASL PLAIN response");
	else if (len == 1 && line[0] == '*')
		ok = reply_err(s, "Authentication cancelled");
	else
		ok = auth_plain_response(s, line, len);
	explicit_bzero(line, len);
	return ok;
}

enum pop3_result
pop3_session_input(struct pop3_session *s, char *line, size_t len, unsigned flags)
{
	struct pop3_cmdline c;
	size_t wordlen;
	bool ok, secret;
	int r;

	s->detail[0] = '\0';
	if (s->close)
		return POP3_CLOSE;
	if (s->sasl_pending) {
		ok = sasl_continue(s, line, len, flags);
		/* The AUTH command is logged once, when its exchange ends. */
		if (s->p->log)
			logclient_send(s->p->log, LOGREC_COMMAND, "AUTH", 4, ok ? "OK" : "ERR", "");
		return s->close ? POP3_CLOSE : POP3_CONTINUE;
	}

	wordlen = strcspn(line, " ");
	if (flags & LINEBUF_TOO_LONG || len > POP3_COMMAND_MAX) {
		ok = reply_bad(s, "Line too long");
		wordlen = 0;
	} else if (flags & (LINEBUF_NUL | LINEBUF_BARE_CR)) {
		ok = reply_bad(s, "Invalid character in command");
	} else {
		r = pop3_parse(line, &c);
		if (r == -E2BIG)
			ok = reply_bad(s, "Too many arguments");
		else if (r == -EPROTO)
			ok = reply_bad(s, "Arguments must be separated by one space");
		else if (r < 0)
			ok = reply_bad(s, "Unknown command");
		else if (s->state == POP3_STATE_AUTHORIZATION)
			ok = dispatch_authorization(s, &c);
		else
			ok = dispatch_transaction(s, &c);
	}
	/* Only the first word is logged; the rest of PASS and AUTH lines is
	 * wiped as soon as it has been used. */
	secret = wordlen == 4 && (strncasecmp(line, "PASS", 4) == 0 || strncasecmp(line, "AUTH", 4) == 0);
	if (s->p->log && !s->sasl_pending)
		logclient_send(s->p->log, LOGREC_COMMAND, line, wordlen, ok ? "OK" : "ERR", s->detail);
	if (secret)
		explicit_bzero(line, len);
	return s->close ? POP3_CLOSE : POP3_CONTINUE;
}
