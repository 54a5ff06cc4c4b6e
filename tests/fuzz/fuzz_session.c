/* libFuzzer target: the bytes a client sends after the TLS handshake.
 * They go through the line buffer (linebuf.c), the command parser
 * (pop3_parse.c) and the POP3 state machine (pop3_session.c) with SASL
 * PLAIN, a real users file and crypt(3), a real Maildir + plain mailbox
 * (maildir*.c, msgstream.c), and log records sent by logclient.c to a real
 * POSIX message queue, as session_loop.c drives them, with replies
 * collected in memory.
 *
 * Each input runs twice, on a mailbox put back in between: once handed
 * over in the largest pieces the line buffer takes, once octet by octet.
 * The replies must be identical (how TCP cuts the stream must never
 * change an answer); any difference aborts, as does any sanitizer report.
 * Every log record the session sends must decode, and none may hold the
 * password (FZ_PASSWORD, which can be neither a user name nor a command
 * word): the queue is drained after each line.
 * With FUZZ_SESSION_PRINT=1 in the environment the replies are printed
 * (to see what a reproducer does: fuzz_session FILE).
 * Seeds: tests/fuzz/corpus/session (real client conversations). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fuzz_common.h"
#include "linebuf.h"
#include "logclient.h"
#include "logq.h"
#include "logrec.h"
#include "pop3_session.h"
#include "transport.h"

struct mem {
	struct transport t;   /* first: write_all gets the struct */
	char *out;
	size_t len, cap;
};

static int
mem_write(void *ctx, const void *buf, size_t len)
{
	struct mem *m = ctx;

	if (m->len + len > m->cap) {
		size_t ncap = (m->len + len) * 2;
		char *n = realloc(m->out, ncap);

		if (n == NULL)
			fz_fail("out of memory");
		m->out = n;
		m->cap = ncap;
	}
	memcpy(m->out + m->len, buf, len);
	m->len += len;
	return 0;
}

static struct pop3_params params;
static struct mem runs[2];
static char queue[64];
static bool print_replies;
static mqd_t rq;

static bool
holds_password(const char *field)
{
	return strstr(field, FZ_PASSWORD) != NULL;
}

/* Takes every record the session has queued: each must decode and none
 * may carry the password. */
static void
drain(void)
{
	uint8_t buf[LOGQ_MSGSIZE];
	struct logrec r;
	long n;

	while ((n = logq_receive(rq, buf, sizeof(buf))) >= 0) {
		if (logrec_decode(buf, (size_t)n, &r) < 0)
			fz_fail("the session sent a log record that does not decode");
		if (holds_password(r.user) || holds_password(r.command) ||
		    holds_password(r.status) || holds_password(r.detail) ||
		    holds_password(r.session) || holds_password(r.client_ip)) {
			fprintf(stderr, "fuzz_session: %s record: user \"%s\" command \"%s\" "
			        "detail \"%s\"\n", logrec_type_name(r.type), r.user, r.command,
			        r.detail);
			fz_fail("a log record holds the password");
		}
	}
	if (n != -EAGAIN)
		fz_fail("cannot read the log queue");
}

static void
remove_queue(void)
{
	mq_close(rq);
	mq_unlink(queue);
}

/* One session over data, handed to the line buffer piece at most
 * octets at a time; what the server sent ends up in m. */
static void
run(struct mem *m, const uint8_t *data, size_t size, size_t piece)
{
	struct linebuf lb;
	struct pop3_session *s;
	size_t off = 0;
	bool closed = false;

	m->len = 0;
	memset(&m->t, 0, sizeof(m->t));
	m->t.write_all = mem_write;
	m->t.ctx = m;
	linebuf_init(&lb);
	fz_mailbox_reset(false);
	/* A timeout of 0: a full queue would send records to the journal,
	 * but drain() empties it after every line (depth 10, and no line
	 * makes more than two records). */
	params.log = logclient_new(queue, 0, "192.0.2.7");
	s = pop3_session_new(&params, &m->t);
	if (s == NULL || params.log == NULL)
		fz_fail("out of memory");
	pop3_session_greet(s);
	transport_flush(&m->t);
	while (off < size && !closed) {
		size_t room, n;
		char *dst = linebuf_space(&lb, &room), *line;
		size_t llen;
		unsigned flags;

		if (room == 0)
			fz_fail("linebuf_space gave no room");
		n = size - off;
		if (n > room)
			n = room;
		if (n > piece)
			n = piece;
		memcpy(dst, data + off, n);
		linebuf_commit(&lb, n);
		off += n;
		while (!closed && linebuf_next(&lb, &line, &llen, &flags)) {
			if (llen >= LINEBUF_SIZE || line[llen] != '\0')
				fz_fail("linebuf_next returned a line that is not terminated in its buffer");
			if (pop3_session_input(s, line, llen, flags) == POP3_CLOSE)
				closed = true;
			drain();
			if (!linebuf_has_line(&lb))
				transport_flush(&m->t);
		}
	}
	transport_flush(&m->t);
	pop3_session_free(s);
	if (logclient_fallbacks(params.log) != 0)
		fz_fail("a log record missed the queue (went to the journal)");
	logclient_free(params.log);
	params.log = NULL;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	fz_setup();
	params.home = fz_home();
	params.users_file = fz_users_file();
	params.auth_delay_ms = 0;
	params.max_auth_failures = 3;
	params.max_bad_commands = 20;   /* MAX_BAD_COMMANDS' default */
	params.implementation = "pop3s-fuzz";
	snprintf(queue, sizeof(queue), "/pop3s-fuzz-%ld", (long)getpid());
	if (logq_open_receiver(queue, LOGQ_DEFAULT_DEPTH, &rq) < 0)
		fz_fail("cannot create the log queue");
	atexit(remove_queue);
	print_replies = getenv("FUZZ_SESSION_PRINT") != NULL;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	run(&runs[0], data, size, SIZE_MAX);
	run(&runs[1], data, size, 1);
	if (runs[0].len != runs[1].len || memcmp(runs[0].out, runs[1].out, runs[0].len) != 0) {
		fprintf(stderr, "fuzz_session: the replies depend on how the input is cut\n"
		        "--- in one piece (%zu octets):\n%.*s\n--- octet by octet (%zu octets):\n%.*s\n",
		        runs[0].len, (int)runs[0].len, runs[0].out,
		        runs[1].len, (int)runs[1].len, runs[1].out);
		fz_fail("replies differ");
	}
	if (print_replies)
		fprintf(stderr, "%.*s", (int)runs[0].len, runs[0].out);
	return 0;
}
