/* Session side of logging. A record goes to the queue if there is room
 * within timeout_ms, otherwise straight to the journal (POP3_LOG_FALLBACK=1)
 * so it is never lost silently and never stalls the client for longer than
 * that. The queue is opened lazily: pop3s-logger may start after us. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include "journal_send.h"
#include "logclient.h"
#include "logq.h"

#define SESSION_ID_OCTETS 8     /* 16 hex digits */
#define FALLBACK_IDENTIFIER "pop3s-session"

struct logclient {
	char *queue;            /* NULL: no queue, every record falls back */
	unsigned timeout_ms;
	mqd_t q;
	bool open;              /* q is valid */
	bool congested;         /* last send timed out; see send_queue() */
	char session[LOGREC_SESSION_MAX + 1];
	char client_ip[LOGREC_IP_MAX + 1];
	char user[LOGREC_USER_MAX + 1];
	uint64_t bytes;
	unsigned long fallbacks;
	uint64_t limit;         /* COMMAND records allowed (see logclient.h) */
	uint64_t commands;      /* COMMAND records sent (LOG-LIMIT not counted) */
	bool limit_noticed;     /* the LOG-LIMIT record was sent */
	uint64_t login_fails;   /* LOGIN_FAIL records sent */
	uint64_t suppressed;    /* records dropped by the limit */
	struct journal_sink journal;  /* the fallback; fd -1 if socket() failed */
};

/* Copies src into a field of max octets, replacing what the wire format
 * would reject by '?' (see logrec.h), so encoding cannot fail on content
 * that came from the network. */
static void
copy_field(char *dst, size_t max, const char *src, bool token)
{
	size_t i;

	for (i = 0; src && src[i] && i < max; i++) {
		unsigned char c = (unsigned char)src[i];
		bool ok = token ? c >= 0x21 && c <= 0x7e : c >= 0x20 && c != 0x7f;

		dst[i] = ok ? (char)c : '?';
	}
	dst[i] = '\0';
}

/* getrandom() without GRND_NONBLOCK could block early at boot; a session
 * id only has to be unique enough to group one session's records. */
static void
make_session_id(char out[2 * SESSION_ID_OCTETS + 1])
{
	static const char hex[] = "0123456789abcdef";
	unsigned char rnd[SESSION_ID_OCTETS];
	ssize_t n;
	int i;

	do
		n = getrandom(rnd, sizeof(rnd), GRND_NONBLOCK);
	while (n < 0 && errno == EINTR);
	if (n != (ssize_t)sizeof(rnd)) {
		struct timespec ts;
		uint64_t v;

		clock_gettime(CLOCK_REALTIME, &ts);
		v = (uint64_t)ts.tv_sec * 1000000007u ^ (uint64_t)ts.tv_nsec << 20 ^
		    (uint64_t)getpid();
		for (i = 0; i < SESSION_ID_OCTETS; i++, v >>= 8)
			rnd[i] = (unsigned char)v;
	}
	for (i = 0; i < SESSION_ID_OCTETS; i++) {
		out[2 * i] = hex[rnd[i] >> 4];
		out[2 * i + 1] = hex[rnd[i] & 15];
	}
	out[2 * SESSION_ID_OCTETS] = '\0';
}

struct logclient *
logclient_new(const char *queue, unsigned timeout_ms, const char *client_ip)
{
	struct logclient *lc = calloc(1, sizeof(*lc));

	if (!lc)
		return NULL;
	if (queue && *queue) {
		lc->queue = strdup(queue);
		if (!lc->queue) {
			free(lc);
			return NULL;
		}
	}
	/* The socket is made now, while the process may still create one
	 * (the session's confinement forbids socket() later). A failure
	 * only means no fallback, as a missing journald does. */
	(void)journal_open(&lc->journal, NULL);
	lc->timeout_ms = timeout_ms;
	lc->limit = UINT64_MAX;
	make_session_id(lc->session);
	copy_field(lc->client_ip, LOGREC_IP_MAX, client_ip, true);
	return lc;
}

int
logclient_set_journal(struct logclient *lc, const char *path)
{
	return journal_set_path(&lc->journal, path);
}

const char *
logclient_session_id(const struct logclient *lc)
{
	return lc->session;
}

void
logclient_set_user(struct logclient *lc, const char *user)
{
	copy_field(lc->user, LOGREC_USER_MAX, user, false);
}

void
logclient_set_limit(struct logclient *lc, uint64_t max_records)
{
	lc->limit = max_records;
}

void
logclient_allow_messages(struct logclient *lc, uint64_t messages)
{
	uint64_t more = messages > UINT64_MAX / LOGCLIENT_RECORDS_PER_MESSAGE
	                ? UINT64_MAX : messages * LOGCLIENT_RECORDS_PER_MESSAGE;

	lc->limit = lc->limit > UINT64_MAX - more ? UINT64_MAX : lc->limit + more;
}

uint64_t
logclient_suppressed(const struct logclient *lc)
{
	return lc->suppressed;
}

void
logclient_add_bytes(struct logclient *lc, uint64_t n)
{
	lc->bytes += n;
}

unsigned long
logclient_fallbacks(const struct logclient *lc)
{
	return lc->fallbacks;
}

static void
close_queue(struct logclient *lc)
{
	if (lc->open)
		mq_close(lc->q);
	lc->open = false;
}

/* Returns 0 if the record is in the queue, else -errno. After one timeout
 * the queue is only tried without waiting until a send succeeds again: a
 * stuck logger must not slow every command of the session by timeout_ms. */
static int
send_queue(struct logclient *lc, const uint8_t *buf, size_t len)
{
	int r;

	if (!lc->queue)
		return -ENOENT;
	if (!lc->open) {
		r = logq_open_sender(lc->queue, &lc->q);
		if (r < 0)
			return r;
		lc->open = true;
	}
	r = logq_send(lc->q, buf, len, lc->congested ? 0 : lc->timeout_ms);
	if (r == -EAGAIN) {
		lc->congested = true;
		return r;
	}
	lc->congested = false;
	if (r < 0)
		close_queue(lc);  /* reopened on the next record */
	return r;
}

#define CODE_FIELD(s) { .iov_base = (char *)(s), .iov_len = sizeof(s) - 1 }
#define STR(x) #x
#define XSTR(x) STR(x)

static void
send_journal(struct logclient *lc, const struct logrec *r)
{
	char text[LOGREC_JOURNAL_FIELDS][LOGREC_JOURNAL_FIELD_MAX];
	/* and the CODE_* fields sd_journal_sendv() added */
	struct iovec iov[LOGREC_JOURNAL_FIELDS + 3] = {
		CODE_FIELD("CODE_FILE=" __FILE__), CODE_FIELD("CODE_LINE=" XSTR(__LINE__)),
		CODE_FIELD("CODE_FUNC=send_journal"),
	};
	size_t n;

	n = logrec_journal_fields(r, FALLBACK_IDENTIFIER, "POP3_LOG_FALLBACK=1",
	                          text, iov + 3, LOGREC_JOURNAL_FIELDS);
	lc->fallbacks++;
	/* Nothing else to try: stderr may be the client's socket. */
	(void)journal_send(&lc->journal, iov, n + 3);
}

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

/* The flood bound (see logclient.h). Returns what to send: the record
 * (1), the LOG-LIMIT record in its place (2), or nothing (0). */
static int
within_limit(struct logclient *lc, enum logrec_type type)
{
	switch (type) {
	case LOGREC_COMMAND:
		if (lc->commands < lc->limit) {
			lc->commands++;
			return 1;
		}
		lc->suppressed++;
		if (!lc->limit_noticed) {
			lc->limit_noticed = true;
			return 2;
		}
		return 0;
	case LOGREC_LOGIN_FAIL:
		if (lc->login_fails < LOGCLIENT_LOGIN_FAIL_MAX) {
			lc->login_fails++;
			return 1;
		}
		lc->suppressed++;
		return 0;
	default:
		return 1;
	}
}

static void
send_record(struct logclient *lc, enum logrec_type type, const char *line, size_t len,
            const char *status, const char *detail, uint64_t removed)
{
	char text[LOGREC_DETAIL_MAX + 1];
	struct logrec r;
	uint8_t buf[LOGREC_MAX_SIZE];
	int n, what;

	what = within_limit(lc, type);
	if (what == 0)
		return;
	if (what == 2) {
		snprintf(text, sizeof(text), "log record limit of this session reached (%llu): "
		         "records beyond it are counted, not sent", (unsigned long long)lc->limit);
		line = LOGCLIENT_LIMIT_COMMAND;
		len = strlen(line);
		status = "";
		detail = text;
	} else if (type == LOGREC_DISCONNECT && lc->suppressed > 0) {
		snprintf(text, sizeof(text), "%.100s; %llu log records suppressed",
		         detail ? detail : "", (unsigned long long)lc->suppressed);
		detail = text;
	}
	memset(&r, 0, sizeof(r));
	r.type = type;
	r.time_us = now_us();
	r.pid = (uint32_t)getpid();
	if (type == LOGREC_UPDATE)
		r.removed = removed;
	else
		r.bytes = lc->bytes;
	memcpy(r.session, lc->session, sizeof(lc->session));
	memcpy(r.client_ip, lc->client_ip, sizeof(r.client_ip));
	memcpy(r.user, lc->user, sizeof(r.user));
	if (type == LOGREC_COMMAND)
		logrec_command_word(line, line ? len : 0, r.command);
	copy_field(r.status, LOGREC_STATUS_MAX, status, true);
	copy_field(r.detail, LOGREC_DETAIL_MAX, detail, false);

	n = logrec_encode(&r, buf, sizeof(buf));
	if (n < 0 || send_queue(lc, buf, (size_t)n) < 0)
		send_journal(lc, &r);
}

void
logclient_send(struct logclient *lc, enum logrec_type type,
               const char *line, size_t len,
               const char *status, const char *detail)
{
	send_record(lc, type, line, len, status, detail, 0);
}

void
logclient_send_update(struct logclient *lc, uint64_t removed,
                      const char *status, const char *detail)
{
	send_record(lc, LOGREC_UPDATE, NULL, 0, status, detail, removed);
}

void
logclient_free(struct logclient *lc)
{
	if (!lc)
		return;
	close_queue(lc);
	journal_close(&lc->journal);
	free(lc->queue);
	free(lc);
}

void
logclient_open_queue(struct logclient *lc)
{
	if (lc->queue && !lc->open && logq_open_sender(lc->queue, &lc->q) == 0)
		lc->open = true;
}
