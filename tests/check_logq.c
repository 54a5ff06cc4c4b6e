/* logq (the POSIX message queue wrapper) and logclient (the session side
 * that sends through it, falling back to the journal). */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "logclient.h"
#include "logq.h"
#include "logrec.h"
#include "testhelp.h"

#define NQUEUES 32

/* Queue names carry the test runner's pid and a per-test index; the
 * unchecked teardown (in the runner) unlinks them all, even those of a
 * test that failed halfway. */
static pid_t runner;

static const char *
qname(int i)
{
	static char name[64];

	ck_assert_int_lt(i, NQUEUES);
	snprintf(name, sizeof(name), "/pop3s-check-%d-%d", (int)runner, i);
	mq_unlink(name);
	return name;
}

static void
setup_runner(void)
{
	runner = getpid();
}

static void
unlink_all(void)
{
	int i;

	for (i = 0; i < NQUEUES; i++) {
		char name[64];

		snprintf(name, sizeof(name), "/pop3s-check-%d-%d", (int)runner, i);
		mq_unlink(name);
	}
}

static int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static mqd_t
receiver(const char *name, long depth)
{
	mqd_t q;

	ck_assert_int_eq(logq_open_receiver(name, depth, &q), 0);
	return q;
}

static mqd_t
sender(const char *name)
{
	mqd_t q;

	ck_assert_int_eq(logq_open_sender(name, &q), 0);
	return q;
}

/* Receives one record and decodes it. */
static void
receive_rec(mqd_t q, struct logrec *r)
{
	uint8_t buf[LOGQ_MSGSIZE];
	long n = logq_receive(q, buf, sizeof(buf));

	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(logrec_decode(buf, (size_t)n, r), 0);
}

static void
fill(mqd_t q, int n)
{
	while (n-- > 0)
		ck_assert_int_eq(logq_send(q, "x", 1, 0), 0);
}

/* --- logq: Core ---------------------------------------------------- */

START_TEST(test_create_with_depth)
{
	const char *name = qname(0);
	struct mq_attr a;
	struct stat st;
	mqd_t q;

	umask(077);     /* the mode must not depend on the umask */
	q = receiver(name, 3);
	ck_assert_int_eq(mq_getattr(q, &a), 0);
	ck_assert_int_eq(a.mq_maxmsg, 3);
	ck_assert_int_eq(a.mq_msgsize, LOGQ_MSGSIZE);
	ck_assert_int_eq(a.mq_curmsgs, 0);
	ck_assert(a.mq_flags & O_NONBLOCK);
	ck_assert_int_eq(fstat((int)q, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0620);
	mq_close(q);
	mq_unlink(name);
}
END_TEST

START_TEST(test_round_trip)
{
	static const char *const msgs[] = { "a", "hello", "", "third message" };
	const char *name = qname(1);
	mqd_t r = receiver(name, 5), s = sender(name);
	char buf[LOGQ_MSGSIZE];
	size_t i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(logq_send(s, msgs[i], strlen(msgs[i]), 100), 0);
	for (i = 0; i < 4; i++) {
		long n = logq_receive(r, buf, sizeof(buf));

		ck_assert_int_eq(n, (long)strlen(msgs[i]));
		ck_assert_mem_eq(buf, msgs[i], (size_t)n);
	}
	ck_assert_int_eq(logq_receive(r, buf, sizeof(buf)), -EAGAIN);
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

/* What survives a logger restart: the queue and what is in it. */
START_TEST(test_reopen_keeps_messages)
{
	const char *name = qname(2);
	mqd_t r = receiver(name, 4), s;
	char buf[LOGQ_MSGSIZE];

	mq_close(r);
	s = sender(name);
	ck_assert_int_eq(logq_send(s, "kept", 4, 0), 0);
	r = receiver(name, 7);   /* existing queue: depth is not changed */
	ck_assert_int_eq(logq_receive(r, buf, sizeof(buf)), 4);
	ck_assert_mem_eq(buf, "kept", 4);
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

START_TEST(test_pollable)
{
	const char *name = qname(3);
	mqd_t r = receiver(name, 2), s = sender(name);
	struct pollfd p = { .fd = (int)r, .events = POLLIN };

	ck_assert_int_eq(poll(&p, 1, 0), 0);
	ck_assert_int_eq(logq_send(s, "x", 1, 0), 0);
	ck_assert_int_eq(poll(&p, 1, 1000), 1);
	ck_assert(p.revents & POLLIN);
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

/* --- logq: Limits -------------------------------------------------- */

START_TEST(test_full_queue_times_out)
{
	static const unsigned timeouts[] = { 0, 50, 200 };
	const char *name = qname(4);
	mqd_t r = receiver(name, 2), s = sender(name);
	size_t i;

	fill(s, 2);
	for (i = 0; i < sizeof(timeouts) / sizeof(timeouts[0]); i++) {
		int64_t t0 = mono_ms();

		ck_assert_int_eq(logq_send(s, "y", 1, timeouts[i]), -EAGAIN);
		ck_assert_int_ge(mono_ms() - t0, (int64_t)timeouts[i]);
	}
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

START_TEST(test_send_waits_for_room)
{
	const char *name = qname(5);
	mqd_t r = receiver(name, 1), s = sender(name);
	char buf[LOGQ_MSGSIZE];
	int status;
	pid_t pid;

	fill(s, 1);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		usleep(150 * 1000);
		_exit(logq_receive(r, buf, sizeof(buf)) == 1 ? 0 : 1);
	}
	ck_assert_int_eq(logq_send(s, "z", 1, 10000), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ck_assert_int_eq(logq_receive(r, buf, sizeof(buf)), 1);
	ck_assert_int_eq(buf[0], 'z');
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

START_TEST(test_message_size)
{
	const char *name = qname(6);
	mqd_t r = receiver(name, 2), s = sender(name);
	static char big[LOGQ_MSGSIZE + 1];
	char small[LOGQ_MSGSIZE - 1];

	ck_assert_int_eq(logq_send(s, big, LOGQ_MSGSIZE + 1, 0), -EMSGSIZE);
	ck_assert_int_eq(logq_send(s, big, LOGQ_MSGSIZE, 0), 0);
	/* A buffer smaller than the queue's message size is refused. */
	ck_assert_int_eq(logq_receive(r, small, sizeof(small)), -EMSGSIZE);
	ck_assert_int_eq(logq_receive(r, big, LOGQ_MSGSIZE), LOGQ_MSGSIZE);
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

START_TEST(test_bad_depth)
{
	static const long depths[] = { 0, -1 };
	const char *name = qname(7);
	size_t i;

	for (i = 0; i < sizeof(depths) / sizeof(depths[0]); i++) {
		mqd_t q;

		ck_assert_int_eq(logq_open_receiver(name, depths[i], &q), -EINVAL);
		ck_assert_int_eq(logq_open_sender(name, &q), -ENOENT);
	}
}
END_TEST

/* --- logq: Errors -------------------------------------------------- */

START_TEST(test_missing_queue)
{
	mqd_t q;

	ck_assert_int_eq(logq_open_sender(qname(8), &q), -ENOENT);
}
END_TEST

START_TEST(test_bad_name)
{
	mqd_t q;

	ck_assert_int_eq(logq_open_sender("no-slash", &q), -EINVAL);
	ck_assert_int_eq(logq_open_receiver("no-slash", 2, &q), -EINVAL);
}
END_TEST

START_TEST(test_existing_small_queue)
{
	const char *name = qname(9);
	struct mq_attr a = { .mq_maxmsg = 2, .mq_msgsize = 256 };
	mqd_t q = mq_open(name, O_RDWR | O_CREAT, 0600, &a), q2;

	ck_assert_int_ne(q, (mqd_t)-1);
	ck_assert_int_eq(logq_open_receiver(name, 2, &q2), -EMSGSIZE);
	mq_close(q);
	mq_unlink(name);
}
END_TEST

START_TEST(test_wrong_direction)
{
	const char *name = qname(10);
	mqd_t r = receiver(name, 2), s = sender(name);
	char buf[LOGQ_MSGSIZE];

	ck_assert_int_eq(logq_receive(r, buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(logq_send(r, "x", 1, 0), -EBADF);
	ck_assert_int_eq(logq_receive(s, buf, sizeof(buf)), -EBADF);
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

/* --- logclient ----------------------------------------------------- */

static uint64_t
real_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

START_TEST(test_client_records)
{
	const char *name = qname(11);
	mqd_t r = receiver(name, 5);
	struct logclient *lc = logclient_new(name, 100, "::ffff:194.10.15.3");
	const char *sid;
	struct logrec rec;
	uint64_t t0 = real_us(), t1;
	size_t i;

	ck_assert_ptr_nonnull(lc);
	sid = logclient_session_id(lc);
	ck_assert_uint_eq(strlen(sid), 16);
	for (i = 0; i < 16; i++)
		ck_assert_ptr_nonnull(strchr("0123456789abcdef", sid[i]));

	logclient_send(lc, LOGREC_CONNECT, NULL, 0, "", "");
	logclient_set_user(lc, "alice");
	logclient_send(lc, LOGREC_COMMAND, "pass secret", 11, "OK", NULL);
	logclient_add_bytes(lc, 40);
	logclient_add_bytes(lc, 2);
	logclient_send(lc, LOGREC_DISCONNECT, NULL, 0, NULL, "QUIT");
	t1 = real_us();
	ck_assert_uint_eq(logclient_fallbacks(lc), 0);

	receive_rec(r, &rec);
	ck_assert_int_eq(rec.type, LOGREC_CONNECT);
	ck_assert_str_eq(rec.user, "");
	ck_assert_str_eq(rec.command, "");
	receive_rec(r, &rec);
	ck_assert_int_eq(rec.type, LOGREC_COMMAND);
	ck_assert_str_eq(rec.command, "PASS");
	ck_assert_str_eq(rec.status, "OK");
	ck_assert_str_eq(rec.user, "alice");
	ck_assert_str_eq(rec.client_ip, "::ffff:194.10.15.3");
	ck_assert_str_eq(rec.session, sid);
	ck_assert_uint_eq(rec.pid, (uint32_t)getpid());
	ck_assert_uint_ge(rec.time_us, t0);
	ck_assert_uint_le(rec.time_us, t1);
	ck_assert_uint_eq(rec.bytes, 0);
	receive_rec(r, &rec);
	ck_assert_int_eq(rec.type, LOGREC_DISCONNECT);
	ck_assert_uint_eq(rec.bytes, 42);
	ck_assert_str_eq(rec.detail, "QUIT");
	ck_assert_str_eq(rec.session, sid);
	logclient_free(lc);
	logclient_free(NULL);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

START_TEST(test_client_session_ids_differ)
{
	struct logclient *a = logclient_new(NULL, 0, "1.2.3.4");
	struct logclient *b = logclient_new(NULL, 0, "1.2.3.4");

	ck_assert_str_ne(logclient_session_id(a), logclient_session_id(b));
	logclient_free(a);
	logclient_free(b);
}
END_TEST

/* The logger may start after the session: the queue is opened lazily. */
START_TEST(test_client_lazy_open)
{
	const char *name = qname(12);
	struct logclient *lc = logclient_new(name, 50, "1.2.3.4");
	struct logrec rec;
	mqd_t r;

	logclient_send(lc, LOGREC_CONNECT, NULL, 0, "", "");
	ck_assert_uint_eq(logclient_fallbacks(lc), 1);
	r = receiver(name, 2);
	logclient_send(lc, LOGREC_COMMAND, "USER bob", 8, "OK", "");
	ck_assert_uint_eq(logclient_fallbacks(lc), 1);
	receive_rec(r, &rec);
	ck_assert_str_eq(rec.command, "USER");
	logclient_free(lc);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

/* Network-supplied text cannot make a record unencodable. */
START_TEST(test_client_sanitizes)
{
	const char *name = qname(13);
	mqd_t r = receiver(name, 2);
	struct logclient *lc = logclient_new(name, 50, "1.2.3.4 FAKE\n");
	char longuser[200];
	struct logrec rec;

	memset(longuser, 'u', sizeof(longuser) - 1);
	longuser[sizeof(longuser) - 1] = '\0';
	longuser[3] = '\n';
	logclient_set_user(lc, longuser);
	logclient_send(lc, LOGREC_LOGIN_FAIL, NULL, 0, "E R R", "bad\x01pass\tword");
	ck_assert_uint_eq(logclient_fallbacks(lc), 0);
	receive_rec(r, &rec);
	ck_assert_str_eq(rec.client_ip, "1.2.3.4?FAKE?");
	ck_assert_uint_eq(strlen(rec.user), LOGREC_USER_MAX);
	ck_assert_int_eq(rec.user[3], '?');
	ck_assert_str_eq(rec.status, "E?R?R");
	ck_assert_str_eq(rec.detail, "bad?pass?word");
	logclient_set_user(lc, "");
	logclient_send(lc, LOGREC_CONNECT, NULL, 0, "", "");
	receive_rec(r, &rec);
	ck_assert_str_eq(rec.user, "");
	logclient_free(lc);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

/* A full queue costs one record at most timeout_ms, then later records
 * do not wait until the queue takes one again. */
START_TEST(test_client_full_queue_falls_back)
{
	const char *name = qname(14);
	mqd_t r = receiver(name, 1), s = sender(name);
	struct logclient *lc = logclient_new(name, 300, "1.2.3.4");
	struct logrec rec;
	char buf[LOGQ_MSGSIZE];
	int64_t t0;

	fill(s, 1);
	t0 = mono_ms();
	logclient_send(lc, LOGREC_COMMAND, "STAT", 4, "OK", "");
	ck_assert_int_ge(mono_ms() - t0, 300);
	ck_assert_uint_eq(logclient_fallbacks(lc), 1);
	t0 = mono_ms();
	logclient_send(lc, LOGREC_COMMAND, "LIST", 4, "OK", "");
	ck_assert_int_lt(mono_ms() - t0, 300);
	ck_assert_uint_eq(logclient_fallbacks(lc), 2);

	ck_assert_int_eq(logq_receive(r, buf, sizeof(buf)), 1);
	logclient_send(lc, LOGREC_COMMAND, "RETR 1", 6, "OK", "");
	ck_assert_uint_eq(logclient_fallbacks(lc), 2);
	receive_rec(r, &rec);
	ck_assert_str_eq(rec.command, "RETR");
	logclient_free(lc);
	mq_close(s);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

/* Receives every queued record, counting them by type; returns the last. */
static struct logrec
drain_count(mqd_t q, unsigned counts[LOGREC_TYPE_MAX + 1], unsigned *limit_records)
{
	struct logrec rec, last;
	uint8_t buf[LOGQ_MSGSIZE];
	long n;

	memset(&last, 0, sizeof(last));
	while ((n = logq_receive(q, buf, sizeof(buf))) > 0) {
		ck_assert_int_eq(logrec_decode(buf, (size_t)n, &rec), 0);
		if (rec.type == LOGREC_COMMAND && strcmp(rec.command, LOGCLIENT_LIMIT_COMMAND) == 0)
			(*limit_records)++;
		else
			counts[rec.type]++;
		last = rec;
	}
	ck_assert_int_eq(n, -EAGAIN);
	return last;
}

/* The flood bound: the limit's COMMAND records, one LOG-LIMIT record, then
 * only counting; connection, login and UPDATE records always go out, and
 * the DISCONNECT says how many were suppressed. */
START_TEST(test_client_record_limit)
{
	const char *name = qname(15);
	mqd_t r = receiver(name, 10);
	struct logclient *lc = logclient_new(name, 100, "1.2.3.4");
	unsigned counts[LOGREC_TYPE_MAX + 1] = { 0 }, limit_records = 0, i;
	struct logrec rec, notice;

	logclient_set_limit(lc, 5);
	logclient_send(lc, LOGREC_CONNECT, NULL, 0, "", "");
	for (i = 0; i < 100000; i++) {
		logclient_send(lc, LOGREC_COMMAND, "CAPA", 4, "OK", "");
		rec = drain_count(r, counts, &limit_records);
		if (limit_records == 1 && rec.type == LOGREC_COMMAND)
			notice = rec;
	}
	ck_assert_uint_eq(counts[LOGREC_CONNECT], 1);
	ck_assert_uint_eq(counts[LOGREC_COMMAND], 5);
	ck_assert_uint_eq(limit_records, 1);
	ck_assert_str_eq(notice.command, "LOG-LIMIT");
	ck_assert_str_eq(notice.detail, "log record limit of this session reached (5): "
	                 "records beyond it are counted, not sent");
	ck_assert_uint_eq(logclient_suppressed(lc), 100000 - 5);

	/* failed logins: up to LOGCLIENT_LOGIN_FAIL_MAX, whatever the limit */
	for (i = 0; i < LOGCLIENT_LOGIN_FAIL_MAX + 10; i++) {
		logclient_send(lc, LOGREC_LOGIN_FAIL, NULL, 0, "ERR", "wrong password");
		drain_count(r, counts, &limit_records);
	}
	ck_assert_uint_eq(counts[LOGREC_LOGIN_FAIL], LOGCLIENT_LOGIN_FAIL_MAX);
	logclient_send(lc, LOGREC_LOGIN_OK, NULL, 0, "OK", "");
	drain_count(r, counts, &limit_records);
	ck_assert_uint_eq(counts[LOGREC_LOGIN_OK], 1);

	/* a mailbox of 2 messages: 10 more commands, and no second notice */
	logclient_allow_messages(lc, 2);
	for (i = 0; i < 50; i++) {
		logclient_send(lc, LOGREC_COMMAND, "RETR 1", 6, "OK", "");
		drain_count(r, counts, &limit_records);
	}
	ck_assert_uint_eq(counts[LOGREC_COMMAND], 5 + 2 * LOGCLIENT_RECORDS_PER_MESSAGE);
	ck_assert_uint_eq(limit_records, 1);
	logclient_send_update(lc, 1, "OK", "");
	logclient_send(lc, LOGREC_DISCONNECT, NULL, 0, "", "quit");
	rec = drain_count(r, counts, &limit_records);
	ck_assert_uint_eq(counts[LOGREC_UPDATE], 1);
	ck_assert_uint_eq(counts[LOGREC_DISCONNECT], 1);
	ck_assert_str_eq(rec.detail, "quit; 100045 log records suppressed");
	ck_assert_uint_eq(logclient_suppressed(lc), 100000 - 5 + 10 + 50 - 10);
	ck_assert_uint_eq(logclient_fallbacks(lc), 0);

	/* the allowance saturates instead of wrapping */
	logclient_allow_messages(lc, UINT64_MAX);
	logclient_allow_messages(lc, UINT64_MAX / 2);
	logclient_send(lc, LOGREC_COMMAND, "NOOP", 4, "OK", "");
	drain_count(r, counts, &limit_records);
	ck_assert_uint_eq(counts[LOGREC_COMMAND], 5 + 2 * LOGCLIENT_RECORDS_PER_MESSAGE + 1);
	logclient_free(lc);
	mq_close(r);
	mq_unlink(name);
}
END_TEST

START_TEST(test_client_no_queue)
{
	struct logclient *lc = logclient_new(NULL, 100, "1.2.3.4");
	int64_t t0 = mono_ms();
	int i;

	for (i = 0; i < 3; i++)
		logclient_send(lc, LOGREC_COMMAND, "NOOP", 4, "OK", "");
	ck_assert_uint_eq(logclient_fallbacks(lc), 3);
	/* Nothing to wait for without a queue. */
	ck_assert_int_lt(mono_ms() - t0, 100 * 3);
	logclient_free(lc);
}
END_TEST

/* The fallback reaches the journal by the native protocol: one entry per
 * record, the same fields as the logger's, POP3_LOG_FALLBACK=1. Sending
 * needs no new descriptor (the socket is made by logclient_new, before the
 * session is confined): it works with RLIMIT_NOFILE used up. */
START_TEST(test_client_journal_fallback)
{
	const char *path = th_path(th_dir, "journal.sock");
	struct logclient *lc = logclient_new(NULL, 100, "::ffff:192.0.2.9");
	int rx = th_dgram_bind(path), n;
	struct th_jfield f[LOGREC_JOURNAL_FIELDS + 3];
	struct rlimit old, none;
	char buf[8192];
	long len;

	ck_assert_int_eq(logclient_set_journal(lc, path), 0);
	ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &old), 0);
	none = old;
	none.rlim_cur = 0;
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &none), 0);
	logclient_set_user(lc, "alice");
	logclient_send(lc, LOGREC_COMMAND, "RETR 1", 6, "OK", "sent\n1 message");
	ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &old), 0);
	ck_assert_uint_eq(logclient_fallbacks(lc), 1);

	len = th_dgram_recv(rx, buf, sizeof(buf), 2000);
	ck_assert_int_gt(len, 0);
	n = th_journal_decode(buf, (size_t)len, f, LOGREC_JOURNAL_FIELDS + 3);
	ck_assert_int_gt(n, 0);
	TH_JOURNAL_EQ(f, n, "POP3_LOG_FALLBACK", "1");
	TH_JOURNAL_EQ(f, n, "SYSLOG_IDENTIFIER", "pop3s-session");
	TH_JOURNAL_EQ(f, n, "MESSAGE", "alice@192.0.2.9 RETR OK: sent?1 message");
	TH_JOURNAL_EQ(f, n, "POP3_COMMAND", "RETR");
	TH_JOURNAL_EQ(f, n, "POP3_SESSION", logclient_session_id(lc));
	TH_JOURNAL_EQ(f, n, "CODE_FUNC", "send_journal");

	/* Back to journald's socket (absent here or not: no error either way). */
	ck_assert_int_eq(logclient_set_journal(lc, NULL), 0);
	logclient_send(lc, LOGREC_DISCONNECT, NULL, 0, "", "");
	ck_assert_uint_eq(logclient_fallbacks(lc), 2);
	ck_assert_int_eq(th_dgram_recv(rx, buf, sizeof(buf), 100), -1);
	logclient_free(lc);
	close(rx);
}
END_TEST

static Suite *
logq_suite(void)
{
	Suite *s = suite_create("logq");
	TCase *core = tcase_create("Core");
	TCase *limits = tcase_create("Limits");
	TCase *errors = tcase_create("Errors");
	TCase *journal = tcase_create("Journal");

	tcase_add_unchecked_fixture(core, setup_runner, unlink_all);
	tcase_add_test(core, test_create_with_depth);
	tcase_add_test(core, test_round_trip);
	tcase_add_test(core, test_reopen_keeps_messages);
	tcase_add_test(core, test_pollable);
	tcase_add_test(core, test_client_records);
	tcase_add_test(core, test_client_session_ids_differ);
	tcase_add_test(core, test_client_lazy_open);
	suite_add_tcase(s, core);

	tcase_add_unchecked_fixture(limits, setup_runner, unlink_all);
	tcase_add_test(limits, test_full_queue_times_out);
	tcase_add_test(limits, test_send_waits_for_room);
	tcase_add_test(limits, test_message_size);
	tcase_add_test(limits, test_bad_depth);
	tcase_add_test(limits, test_client_full_queue_falls_back);
	tcase_add_test(limits, test_client_record_limit);
	suite_add_tcase(s, limits);

	tcase_add_unchecked_fixture(errors, setup_runner, unlink_all);
	tcase_add_test(errors, test_missing_queue);
	tcase_add_test(errors, test_bad_name);
	tcase_add_test(errors, test_existing_small_queue);
	tcase_add_test(errors, test_wrong_direction);
	tcase_add_test(errors, test_client_sanitizes);
	tcase_add_test(errors, test_client_no_queue);
	suite_add_tcase(s, errors);

	tcase_add_checked_fixture(journal, th_dir_setup, th_dir_teardown);
	tcase_add_test(journal, test_client_journal_fallback);
	suite_add_tcase(s, journal);
	return s;
}

TH_MAIN(logq_suite)
