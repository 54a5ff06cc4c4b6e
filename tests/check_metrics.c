/* The metrics file (metrics.c) and the logger's folding of records into it
 * (logd_metrics.c): round trips, atomic writes, hostile files, the output
 * formats, and every counting rule. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "logd_metrics.h"
#include "metrics.h"
#include "testhelp.h"


static struct metrics
sample(void)
{
	struct metrics m = {
		.connections = 1, .sessions_current = 2, .sessions_peak = 3, .logins_ok = 4,
		.logins_failed = 5, .messages_retrieved = 6, .messages_deleted = 7,
		.bytes_sent = UINT64_MAX, .records_malformed = 9, .updated = 1700000000,
	};
	return m;
}

/* Names in th_dir, sorted, one per line. */
static void
list_dir(char *out, size_t cap)
{
	struct dirent **names;
	int n, i;

	out[0] = '\0';
	n = scandir(th_dir, &names, NULL, alphasort);
	ck_assert_int_ge(n, 0);
	for (i = 0; i < n; i++) {
		const char *name = names[i]->d_name;

		if (strcmp(name, ".") != 0 && strcmp(name, "..") != 0 &&
		    strlen(out) + strlen(name) + 2 <= cap) {
			strcat(out, name);
			strcat(out, "\n");
		}
		free(names[i]);
	}
	free(names);
}

/* --- the file ----------------------------------------------------------- */

START_TEST(test_round_trip)
{
	struct metrics a = sample(), b;

	ck_assert_int_eq(metrics_save(th_dir, &a), 0);
	memset(&b, 0xff, sizeof(b));
	ck_assert_int_eq(metrics_load(th_dir, &b), 0);
	ck_assert(memcmp(&a, &b, sizeof(a)) == 0);

	/* saving again replaces the values */
	a.connections = 12345;
	ck_assert_int_eq(metrics_save(th_dir, &a), 0);
	ck_assert_int_eq(metrics_load(th_dir, &b), 0);
	ck_assert_uint_eq(b.connections, 12345);
}
END_TEST

START_TEST(test_file_format)
{
	struct metrics a = sample();
	struct stat st;
	size_t len;
	char *text, names[256];

	ck_assert_int_eq(metrics_save(th_dir, &a), 0);
	text = th_read_file(th_path(th_dir, METRICS_FILE), &len);
	ck_assert_str_eq(text,
	                 "connections=1\nsessions_current=2\nsessions_peak=3\nlogins_ok=4\n"
	                 "logins_failed=5\nmessages_retrieved=6\nmessages_deleted=7\n"
	                 "bytes_sent=18446744073709551615\nrecords_malformed=9\nupdated=1700000000\n");
	free(text);
	/* pop3sctl may read it as another user; no temporary file is left */
	ck_assert_int_eq(stat(th_path(th_dir, METRICS_FILE), &st), 0);
	ck_assert_uint_eq(st.st_mode & 07777, 0644);
	ck_assert_int_eq(metrics_save(th_dir, &a), 0);
	list_dir(names, sizeof(names));
	ck_assert_str_eq(names, "metrics\n");
}
END_TEST

START_TEST(test_missing_file_and_dir)
{
	struct metrics m;

	memset(&m, 0xff, sizeof(m));
	ck_assert_int_eq(metrics_load(th_dir, &m), 0);
	ck_assert_uint_eq(m.connections, 0);
	ck_assert_uint_eq(m.bytes_sent, 0);
	ck_assert_int_eq(metrics_save(th_path(th_dir, "absent"), &m), -ENOENT);
	ck_assert_int_eq(metrics_load(th_path(th_dir, "absent"), &m), 0);
}
END_TEST

START_TEST(test_failed_save_keeps_old)
{
	struct metrics a = sample(), b;
	char names[256];

	ck_assert_int_eq(metrics_save(th_dir, &a), 0);
	/* a directory that cannot be written: the old file stays whole */
	if (geteuid() == 0)
		return;   /* root writes anyway */
	chmod(th_dir, 0555);
	a.connections = 99;
	ck_assert_int_eq(metrics_save(th_dir, &a), -EACCES);
	chmod(th_dir, 0755);
	ck_assert_int_eq(metrics_load(th_dir, &b), 0);
	ck_assert_uint_eq(b.connections, 1);
	list_dir(names, sizeof(names));
	ck_assert_str_eq(names, "metrics\n");
}
END_TEST

/* len 0: strlen(text); else the exact length (for embedded NULs). */
static const struct {
	const char *text;
	int r;
	uint64_t connections;
	size_t len;
} files[] = {
	{ "", 0, 0, 0 },
	{ "connections=3\n", 0, 3, 0 },
	/* unknown keys, whatever their value, are a newer writer's */
	{ "future_counter=7\nconnections=4\nnote=not a number\n", 0, 4, 0 },
	{ "connections=18446744073709551615\n", 0, UINT64_MAX, 0 },
	{ "connections=18446744073709551616\n", -EBADMSG, 0, 0 },
	{ "connections=abc\n", -EBADMSG, 0, 0 },
	{ "connections=-1\n", -EBADMSG, 0, 0 },
	{ "connections= 1\n", -EBADMSG, 0, 0 },
	{ "connections=\n", -EBADMSG, 0, 0 },
	{ "connections\n", -EBADMSG, 0, 0 },
	{ "=5\n", -EBADMSG, 0, 0 },
	{ "\n", -EBADMSG, 0, 0 },
	{ "connections=1", -EBADMSG, 0, 0 },              /* cut short */
	{ "connections=1\nconnections=2\n", -EBADMSG, 0, 0 },
	{ "connections=1\n\0bytes_sent=2\n", -EBADMSG, 0, 28 },
	{ "x=yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy"
	  "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\n", -EBADMSG, 0, 0 },
	/* values no logger writes: a forged or hand-edited file */
	{ "connections=3\nsessions_current=8192\nsessions_peak=8192\n", 0, 3, 0 },
	{ "connections=3\nsessions_current=8193\nsessions_peak=8193\n", -EBADMSG, 0, 0 },
	{ "sessions_current=0\nsessions_peak=18446744073709551615\n", -EBADMSG, 0, 0 },
	{ "sessions_current=2\nsessions_peak=1\n", -EBADMSG, 0, 0 },
	{ "sessions_current=1\n", -EBADMSG, 0, 0 },
	{ "connections=1\nupdated=253402300799\n", 0, 1, 0 },
	{ "connections=1\nupdated=253402300800\n", -EBADMSG, 0, 0 },
	/* saturated counters are what a logger writes after a flood */
	{ "connections=18446744073709551615\nbytes_sent=18446744073709551615\n", 0, UINT64_MAX, 0 },
};

START_TEST(test_hostile_files)
{
	struct metrics m;
	size_t len = files[_i].len ? files[_i].len : strlen(files[_i].text);

	th_write_file(th_path(th_dir, METRICS_FILE), files[_i].text, len);
	memset(&m, 0x5a, sizeof(m));
	ck_assert_msg(metrics_load(th_dir, &m) == files[_i].r, "row %d", _i);
	if (files[_i].r == 0) {
		ck_assert_uint_eq(m.connections, files[_i].connections);
		ck_assert_uint_eq(m.logins_ok, 0);
	} else {
		/* *ret is only written on success */
		ck_assert_uint_eq(m.connections, 0x5a5a5a5a5a5a5a5aull);
	}
}
END_TEST

START_TEST(test_json_and_human)
{
	struct metrics m = sample();
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	metrics_print(&m, 1, f);
	fclose(f);
	ck_assert_str_eq(buf,
	                 "{\"connections\":1,\"sessions_current\":2,\"sessions_peak\":3,"
	                 "\"logins_ok\":4,\"logins_failed\":5,\"messages_retrieved\":6,"
	                 "\"messages_deleted\":7,\"bytes_sent\":18446744073709551615,"
	                 "\"records_malformed\":9,\"updated\":1700000000}\n");
	free(buf);

	f = open_memstream(&buf, &len);
	metrics_print(&m, 0, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "Connections          1\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Sessions now         2\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Logins failed        5\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Bytes sent           18446744073709551615\n"));
	ck_assert_ptr_nonnull(strstr(buf, "Updated              2023-11-"));
	free(buf);

	m.updated = 0;
	f = open_memstream(&buf, &len);
	metrics_print(&m, 0, f);
	fclose(f);
	ck_assert_ptr_nonnull(strstr(buf, "Updated              never\n"));
	free(buf);
}
END_TEST

START_TEST(test_add_saturates)
{
	uint64_t c = 5;

	metrics_add(&c, 10);
	ck_assert_uint_eq(c, 15);
	metrics_add(&c, UINT64_MAX - 16);
	ck_assert_uint_eq(c, UINT64_MAX - 1);
	metrics_add(&c, 1);
	ck_assert_uint_eq(c, UINT64_MAX);
	metrics_add(&c, 1);
	ck_assert_uint_eq(c, UINT64_MAX);
	c = 2;
	metrics_add(&c, UINT64_MAX);
	ck_assert_uint_eq(c, UINT64_MAX);
	c = 0;
	metrics_add(&c, 0);
	ck_assert_uint_eq(c, 0);
}
END_TEST

/* --- folding records ---------------------------------------------------- */

static struct logd_metrics *lm;

/* Real processes named like sessions: children that rename themselves
 * (PR_SET_NAME, which /proc/PID/comm shows) and wait to be killed; they
 * die with the test process (PR_SET_DEATHSIG). */
#define MAX_KIDS 16
static pid_t kids[MAX_KIDS];
static size_t nkids;

static uint32_t
spawn(const char *comm)
{
	pid_t parent = getpid(), pid;
	int p[2];
	char c;

	ck_assert_uint_lt(nkids, MAX_KIDS);
	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		close(p[0]);
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0 || getppid() != parent ||
		    prctl(PR_SET_NAME, comm) < 0 || write(p[1], "x", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	close(p[0]);
	kids[nkids++] = pid;
	return (uint32_t)pid;
}

static uint32_t
session_proc(void)
{
	return spawn(LOGD_METRICS_SESSION_COMM);
}

static bool
tracked(uint32_t pid, const char *session)
{
	size_t i;

	for (i = 0; i < lm->nlive; i++)
		if (lm->live[i].pid == pid && strcmp(lm->live[i].session, session) == 0)
			return true;
	return false;
}

/* Kills and reaps a child: its pid is then no process's. */
static void
end_proc(uint32_t pid)
{
	ck_assert_int_eq(kill((pid_t)pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid((pid_t)pid, NULL, 0), (pid_t)pid);
}

static void
lm_setup(void)
{
	th_dir_setup();
	lm = calloc(1, sizeof(*lm));
	ck_assert_ptr_nonnull(lm);
	logd_metrics_init(lm, th_dir);
}

static void
lm_teardown(void)
{
	size_t i;

	for (i = 0; i < nkids; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
	nkids = 0;
	free(lm);
	th_dir_teardown();
}

static void
feed(enum logrec_type type, uint32_t pid, const char *session, const char *command,
     const char *status, uint64_t n)
{
	struct logrec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.pid = pid;
	snprintf(r.session, sizeof(r.session), "%s", session);
	snprintf(r.command, sizeof(r.command), "%s", command);
	snprintf(r.status, sizeof(r.status), "%s", status);
	if (type == LOGREC_UPDATE)
		r.removed = n;
	else
		r.bytes = n;
	logd_metrics_record(lm, &r);
}

/* A pid that no process has now: a child, reaped. */
static uint32_t
dead_pid(void)
{
	pid_t pid = fork();

	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(0);
	ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
	return (uint32_t)pid;
}

START_TEST(test_rules)
{
	uint32_t me = session_proc(), ppid = session_proc();
	const struct metrics *m = &lm->m;

	feed(LOGREC_CONNECT, me, "s1", "", "", 0);
	feed(LOGREC_CONNECT, ppid, "s2", "", "", 0);
	ck_assert_uint_eq(m->connections, 2);
	ck_assert_uint_eq(m->sessions_current, 2);
	ck_assert_uint_eq(m->sessions_peak, 2);
	feed(LOGREC_LOGIN_OK, me, "s1", "", "OK", 0);
	feed(LOGREC_LOGIN_FAIL, ppid, "s2", "", "ERR", 0);
	feed(LOGREC_LOGIN_FAIL, ppid, "s2", "", "ERR", 0);
	ck_assert_uint_eq(m->logins_ok, 1);
	ck_assert_uint_eq(m->logins_failed, 2);
	feed(LOGREC_COMMAND, me, "s1", "RETR", "OK", 100);
	feed(LOGREC_COMMAND, me, "s1", "RETR", "ERR", 100);
	feed(LOGREC_COMMAND, me, "s1", "TOP", "OK", 100);
	feed(LOGREC_COMMAND, me, "s1", "RETR", "OK", 200);
	ck_assert_uint_eq(m->messages_retrieved, 2);
	/* bytes come from DISCONNECT only, not from the running totals */
	ck_assert_uint_eq(m->bytes_sent, 0);
	feed(LOGREC_COMMAND, me, "s1", "DELE", "OK", 0);
	ck_assert_uint_eq(m->messages_deleted, 0);
	feed(LOGREC_UPDATE, me, "s1", "", "OK", 3);
	ck_assert_uint_eq(m->messages_deleted, 3);
	feed(LOGREC_DISCONNECT, me, "s1", "", "", 5000);
	ck_assert_uint_eq(m->bytes_sent, 5000);
	ck_assert_uint_eq(m->sessions_current, 1);
	ck_assert_uint_eq(m->sessions_peak, 2);
	/* a DISCONNECT must match both session id and pid */
	feed(LOGREC_DISCONNECT, ppid, "s1", "", "", 1);
	ck_assert_uint_eq(m->sessions_current, 1);
	feed(LOGREC_DISCONNECT, ppid, "s2", "", "", 1);
	ck_assert_uint_eq(m->sessions_current, 0);
	ck_assert_uint_eq(m->bytes_sent, 5002);
	/* a new session after all that: the peak stays */
	feed(LOGREC_CONNECT, me, "s3", "", "", 0);
	ck_assert_uint_eq(m->sessions_current, 1);
	ck_assert_uint_eq(m->sessions_peak, 2);
	ck_assert_uint_eq(m->connections, 3);
	logd_metrics_malformed(lm);
	ck_assert_uint_eq(m->records_malformed, 1);
}
END_TEST

START_TEST(test_forged_pids)
{
	uint32_t me = session_proc();

	/* 0 and >INT_MAX would make kill() address process groups; 1 is
	 * init, alive forever; no pid exceeds PID_MAX_LIMIT: none of them is
	 * tracked, all are counted */
	feed(LOGREC_CONNECT, 0, "a", "", "", 0);
	feed(LOGREC_CONNECT, 1, "b", "", "", 0);
	feed(LOGREC_CONNECT, 0x80000000u, "c", "", "", 0);
	feed(LOGREC_CONNECT, UINT32_MAX, "d", "", "", 0);
	feed(LOGREC_CONNECT, LOGD_METRICS_PID_MAX + 1, "d", "", "", 0);
	ck_assert_uint_eq(lm->m.connections, 5);
	ck_assert_uint_eq(lm->m.sessions_current, 0);
	/* live processes that are no session: this test, one named
	 * otherwise; and a pid no process has */
	feed(LOGREC_CONNECT, (uint32_t)getpid(), "f", "", "", 0);
	feed(LOGREC_CONNECT, spawn("pop3s-sessionX"), "g", "", "", 0);
	feed(LOGREC_CONNECT, dead_pid(), "h", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 0);
	ck_assert_uint_eq(lm->not_sessions, 8);
	/* the same session twice is one session */
	feed(LOGREC_CONNECT, me, "e", "", "", 0);
	feed(LOGREC_CONNECT, me, "e", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	/* a DISCONNECT of an unknown session changes only the bytes */
	feed(LOGREC_DISCONNECT, me, "zz", "", "", 7);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	ck_assert_uint_eq(lm->m.bytes_sent, 7);
}
END_TEST

/* Issue 8: forged CONNECTs pinned sessions_current at 8192. A session's
 * pid with thousands of session ids is one entry (the last id), and every
 * other live process on this machine, each with many ids, is none. */
START_TEST(test_forged_connect_flood)
{
	uint32_t s1 = session_proc();
	char id[32], comm[64], path[64];
	unsigned long others = 0;
	struct dirent *e;
	DIR *d;
	size_t i;

	for (i = 0; i < 10000; i++) {
		snprintf(id, sizeof(id), "%zx", i);
		feed(LOGREC_CONNECT, s1, id, "", "", 0);
	}
	ck_assert_uint_eq(lm->m.connections, 10000);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	ck_assert_uint_eq(lm->m.sessions_peak, 1);
	ck_assert_str_eq(lm->live[0].session, "270f");
	/* the real session's DISCONNECT (its last id) ends it */
	feed(LOGREC_DISCONNECT, s1, "270e", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	feed(LOGREC_DISCONNECT, s1, "270f", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 0);

	/* every process /proc shows that is no pop3s-session (sessions of
	 * other test runs may be live on this machine: skipped), 4 ids each */
	d = opendir("/proc");
	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)) != NULL) {
		long pid = atol(e->d_name);
		FILE *f;

		if (pid <= 1)
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/comm", pid);
		f = fopen(path, "re");
		if (f == NULL)
			continue;
		if (fgets(comm, sizeof(comm), f) != NULL &&
		    strcmp(comm, LOGD_METRICS_SESSION_COMM "\n") != 0) {
			for (i = 0; i < 4; i++) {
				snprintf(id, sizeof(id), "%ld-%zu", pid, i);
				feed(LOGREC_CONNECT, (uint32_t)pid, id, "", "", 0);
			}
			others++;
		}
		fclose(f);
	}
	closedir(d);
	ck_assert_uint_gt(others, 1);
	ck_assert_uint_eq(lm->m.sessions_current, 0);
	ck_assert_uint_eq(lm->m.sessions_peak, 1);
	ck_assert_uint_eq(lm->nlive, 0);
}
END_TEST

/* A full table is purged before a CONNECT is refused: sessions that died
 * without a DISCONNECT cannot keep new ones out. */
START_TEST(test_table_full)
{
	uint32_t a = session_proc(), b = session_proc(), c = session_proc(), d = session_proc();

	lm->live_cap = 2;
	feed(LOGREC_CONNECT, a, "a", "", "", 0);
	feed(LOGREC_CONNECT, b, "b", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 2);
	end_proc(a);
	feed(LOGREC_CONNECT, c, "c", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 2);
	ck_assert_uint_eq(lm->untracked, 0);
	ck_assert(tracked(c, "c") && tracked(b, "b") && !tracked(a, "a"));
	/* all alive: the table is full for real */
	feed(LOGREC_CONNECT, d, "d", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 2);
	ck_assert_uint_eq(lm->untracked, 1);
	/* a known pid is never refused: its entry is replaced */
	feed(LOGREC_CONNECT, b, "b2", "", "", 0);
	ck_assert_uint_eq(lm->untracked, 1);
	feed(LOGREC_DISCONNECT, b, "b2", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	ck_assert_uint_eq(lm->m.sessions_peak, 2);
}
END_TEST

/* Counters saturate instead of wrapping, and numbers no session can
 * report are not added. */
START_TEST(test_forged_numbers)
{
	uint32_t s1 = session_proc();
	struct metrics *m = &lm->m;

	feed(LOGREC_DISCONNECT, s1, "x", "", "", LOGD_METRICS_BYTES_MAX);
	ck_assert_uint_eq(m->bytes_sent, LOGD_METRICS_BYTES_MAX);
	feed(LOGREC_DISCONNECT, s1, "x", "", "", LOGD_METRICS_BYTES_MAX + 1);
	feed(LOGREC_DISCONNECT, s1, "x", "", "", UINT64_MAX);
	ck_assert_uint_eq(m->bytes_sent, LOGD_METRICS_BYTES_MAX);
	ck_assert_uint_eq(m->records_malformed, 2);
	feed(LOGREC_UPDATE, s1, "x", "", "OK", LOGD_METRICS_REMOVED_MAX);
	feed(LOGREC_UPDATE, s1, "x", "", "OK", LOGD_METRICS_REMOVED_MAX + 1);
	feed(LOGREC_UPDATE, s1, "x", "", "OK", UINT64_MAX);
	ck_assert_uint_eq(m->messages_deleted, LOGD_METRICS_REMOVED_MAX);
	ck_assert_uint_eq(m->records_malformed, 4);

	/* near the top, plausible numbers saturate */
	m->bytes_sent = UINT64_MAX - 100;
	feed(LOGREC_DISCONNECT, s1, "x", "", "", 1000);
	ck_assert_uint_eq(m->bytes_sent, UINT64_MAX);
	feed(LOGREC_DISCONNECT, s1, "x", "", "", 1);
	ck_assert_uint_eq(m->bytes_sent, UINT64_MAX);
	m->messages_deleted = UINT64_MAX - 1;
	feed(LOGREC_UPDATE, s1, "x", "", "OK", 5);
	ck_assert_uint_eq(m->messages_deleted, UINT64_MAX);
	m->connections = m->logins_ok = m->logins_failed = UINT64_MAX;
	m->messages_retrieved = m->records_malformed = UINT64_MAX;
	feed(LOGREC_CONNECT, s1, "x", "", "", 0);
	feed(LOGREC_LOGIN_OK, s1, "x", "", "OK", 0);
	feed(LOGREC_LOGIN_FAIL, s1, "x", "", "ERR", 0);
	feed(LOGREC_COMMAND, s1, "x", "RETR", "OK", 0);
	feed(LOGREC_UPDATE, s1, "x", "", "OK", UINT64_MAX);
	logd_metrics_malformed(lm);
	ck_assert_uint_eq(m->connections, UINT64_MAX);
	ck_assert_uint_eq(m->logins_ok, UINT64_MAX);
	ck_assert_uint_eq(m->logins_failed, UINT64_MAX);
	ck_assert_uint_eq(m->messages_retrieved, UINT64_MAX);
	ck_assert_uint_eq(m->records_malformed, UINT64_MAX);
	/* and the saved file still loads */
	ck_assert_int_eq(logd_metrics_save(lm, 0), 0);
	{
		struct metrics back;

		ck_assert_int_eq(metrics_load(th_dir, &back), 0);
		ck_assert_uint_eq(back.bytes_sent, UINT64_MAX);
		ck_assert_uint_eq(back.sessions_current, 1);
	}
}
END_TEST

START_TEST(test_dead_pid_purged)
{
	uint32_t me = session_proc(), dead = session_proc();

	ck_assert_int_eq(logd_metrics_load(lm, 1000), 0);
	feed(LOGREC_CONNECT, dead, "gone", "", "", 0);
	feed(LOGREC_CONNECT, me, "here", "", "", 0);
	end_proc(dead);
	ck_assert_uint_eq(lm->m.sessions_current, 2);
	/* not before the check is due */
	ck_assert_int_eq(logd_metrics_tick(lm, 1000 + LOGD_METRICS_CHECK_MS - 1), 0);
	ck_assert_uint_eq(lm->m.sessions_current, 2);
	ck_assert_int_eq(logd_metrics_tick(lm, 1000 + LOGD_METRICS_CHECK_MS), 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	ck_assert_uint_eq(lm->m.sessions_peak, 2);
	ck_assert_str_eq(lm->live[0].session, "here");
	/* the change is saved once LOGD_METRICS_SAVE_MS has passed since
	 * the save of the previous tick */
	ck_assert_uint_eq(logd_metrics_next_ms(lm, 1000 + LOGD_METRICS_CHECK_MS),
	                  LOGD_METRICS_SAVE_MS - 1);
}
END_TEST

/* Where /proc does not show a process (ProtectProc=invisible, hidepid),
 * its name cannot be read: a pid that exists counts, one that does not is
 * dropped. Simulated with an empty directory as /proc. */
START_TEST(test_proc_hidden)
{
	uint32_t other = spawn("something-else"), dead = dead_pid();

	lm->proc = th_dir;
	feed(LOGREC_CONNECT, other, "other", "", "", 0);
	feed(LOGREC_CONNECT, dead, "dead", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
	end_proc(other);
	logd_metrics_purge(lm);
	ck_assert_uint_eq(lm->m.sessions_current, 0);
	/* with /proc back, the same kind of process is no session */
	lm->proc = "/proc";
	feed(LOGREC_CONNECT, spawn("something-else"), "other", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 0);
}
END_TEST

/* EPERM from kill(pid, 0) means the process lives as another user: alive,
 * but where /proc shows its name, that name decides. */
START_TEST(test_other_users_pid)
{
	DIR *d;
	struct dirent *e;
	uint32_t other = 0;

	if (geteuid() == 0)
		return;   /* root may signal everyone: no EPERM to see */
	d = opendir("/proc");
	ck_assert_ptr_nonnull(d);
	while (other == 0 && (e = readdir(d)) != NULL) {
		struct stat st;
		long pid = atol(e->d_name);

		if (pid > 1 && stat(th_path("/proc", e->d_name), &st) == 0 && st.st_uid != geteuid())
			other = (uint32_t)pid;
	}
	closedir(d);
	if (other == 0)
		return;   /* no such process visible here */
	feed(LOGREC_CONNECT, other, "other", "", "", 0);
	ck_assert_uint_eq(lm->m.sessions_current, 0);
	lm->proc = th_dir;
	feed(LOGREC_CONNECT, other, "other", "", "", 0);
	logd_metrics_purge(lm);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
}
END_TEST

START_TEST(test_persistence)
{
	uint32_t me = session_proc(), dead = session_proc();
	struct logd_metrics *again = calloc(1, sizeof(*again));
	size_t len;
	char *text;

	ck_assert_int_eq(logd_metrics_load(lm, 0), 0);
	feed(LOGREC_CONNECT, me, "s1", "", "", 0);
	feed(LOGREC_CONNECT, dead, "s2", "", "", 0);
	feed(LOGREC_LOGIN_OK, me, "s1", "", "OK", 0);
	feed(LOGREC_UPDATE, me, "s1", "", "OK", 4);
	ck_assert_int_eq(logd_metrics_save(lm, 5), 0);
	end_proc(dead);
	text = th_read_file(th_path(th_dir, LOGD_METRICS_LIVE_FILE), &len);
	ck_assert_ptr_nonnull(strstr(text, " s1\n"));
	ck_assert_ptr_nonnull(strstr(text, " s2\n"));
	free(text);

	/* a restarted logger: counters back, the live table re-checked */
	logd_metrics_init(again, th_dir);
	ck_assert_int_eq(logd_metrics_load(again, 0), 0);
	ck_assert_uint_eq(again->m.connections, 2);
	ck_assert_uint_eq(again->m.logins_ok, 1);
	ck_assert_uint_eq(again->m.messages_deleted, 4);
	ck_assert_uint_eq(again->m.sessions_peak, 2);
	ck_assert_uint_eq(again->m.sessions_current, 1);
	ck_assert_uint_eq(again->nlive, 1);
	ck_assert_uint_ne(again->m.updated, 0);
	/* the surviving session's DISCONNECT still ends it */
	{
		struct logd_metrics *first = lm;

		lm = again;
		feed(LOGREC_DISCONNECT, me, "s1", "", "", 10);
		lm = first;
	}
	ck_assert_uint_eq(again->m.sessions_current, 0);
	free(again);
}
END_TEST

START_TEST(test_bad_state_files)
{
	uint32_t me = session_proc();
	char line[64];

	/* a malformed live table is ignored; the counters still load */
	th_write_file(th_path(th_dir, METRICS_FILE), "connections=5\n", 14);
	snprintf(line, sizeof(line), "%lu ok\nnot a line\n", (unsigned long)me);
	th_write_file(th_path(th_dir, LOGD_METRICS_LIVE_FILE), line, strlen(line));
	ck_assert_int_eq(logd_metrics_load(lm, 0), 0);
	ck_assert_uint_eq(lm->m.connections, 5);
	ck_assert_uint_eq(lm->m.sessions_current, 0);

	snprintf(line, sizeof(line), "%lu ok\n0 zero\n", (unsigned long)me);
	th_write_file(th_path(th_dir, LOGD_METRICS_LIVE_FILE), line, strlen(line));
	ck_assert_int_eq(logd_metrics_load(lm, 0), 0);
	ck_assert_uint_eq(lm->m.sessions_current, 0);

	snprintf(line, sizeof(line), "%lu ok\n", (unsigned long)me);
	th_write_file(th_path(th_dir, LOGD_METRICS_LIVE_FILE), line, strlen(line));
	ck_assert_int_eq(logd_metrics_load(lm, 0), 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);

	/* a malformed metrics file: reported, counting from zero */
	th_write_file(th_path(th_dir, METRICS_FILE), "connections=x\n", 14);
	ck_assert_int_eq(logd_metrics_load(lm, 0), -EBADMSG);
	ck_assert_uint_eq(lm->m.connections, 0);
	ck_assert_uint_eq(lm->m.sessions_current, 1);
}
END_TEST

START_TEST(test_save_throttled)
{
	struct metrics m;
	char names[256];

	ck_assert_int_eq(logd_metrics_load(lm, 100000), 0);
	/* nothing changed: no write, and no wake-up before the pid check */
	ck_assert_int_eq(logd_metrics_tick(lm, 100000 + 5000), 0);
	list_dir(names, sizeof(names));
	ck_assert_str_eq(names, "");
	ck_assert_uint_eq(logd_metrics_next_ms(lm, 105000), 5000);

	feed(LOGREC_LOGIN_OK, 2, "x", "", "OK", 0);
	ck_assert_uint_eq(logd_metrics_next_ms(lm, 105000), 0);
	ck_assert_int_eq(logd_metrics_tick(lm, 105000), 0);
	ck_assert_int_eq(metrics_load(th_dir, &m), 0);
	ck_assert_uint_eq(m.logins_ok, 1);

	/* the next change waits for LOGD_METRICS_SAVE_MS */
	feed(LOGREC_LOGIN_OK, 2, "x", "", "OK", 0);
	ck_assert_uint_eq(logd_metrics_next_ms(lm, 105400), 600);
	ck_assert_int_eq(logd_metrics_tick(lm, 105400), 0);
	ck_assert_int_eq(metrics_load(th_dir, &m), 0);
	ck_assert_uint_eq(m.logins_ok, 1);
	ck_assert_int_eq(logd_metrics_tick(lm, 106000), 0);
	ck_assert_int_eq(metrics_load(th_dir, &m), 0);
	ck_assert_uint_eq(m.logins_ok, 2);
	list_dir(names, sizeof(names));
	ck_assert_str_eq(names, "metrics\nsessions\n");

	/* a failed save is reported and tried again */
	th_rm_rf(th_dir);
	feed(LOGREC_LOGIN_OK, 2, "x", "", "OK", 0);
	ck_assert_int_eq(logd_metrics_tick(lm, 108000), -ENOENT);
	ck_assert(lm->dirty);
	mkdir(th_dir, 0700);
	ck_assert_int_eq(logd_metrics_tick(lm, 109000), 0);
	ck_assert_int_eq(metrics_load(th_dir, &m), 0);
	ck_assert_uint_eq(m.logins_ok, 3);
}
END_TEST

static Suite *
metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *file = tcase_create("File");
	TCase *fold = tcase_create("Fold");

	tcase_add_checked_fixture(file, th_dir_setup, th_dir_teardown);
	tcase_add_checked_fixture(fold, lm_setup, lm_teardown);
	tcase_add_test(file, test_round_trip);
	tcase_add_test(file, test_file_format);
	tcase_add_test(file, test_missing_file_and_dir);
	tcase_add_test(file, test_failed_save_keeps_old);
	tcase_add_loop_test(file, test_hostile_files, 0, sizeof(files) / sizeof(files[0]));
	tcase_add_test(file, test_json_and_human);
	tcase_add_test(file, test_add_saturates);
	tcase_add_test(fold, test_rules);
	tcase_add_test(fold, test_forged_pids);
	tcase_add_test(fold, test_forged_connect_flood);
	tcase_add_test(fold, test_table_full);
	tcase_add_test(fold, test_forged_numbers);
	tcase_add_test(fold, test_dead_pid_purged);
	tcase_add_test(fold, test_proc_hidden);
	tcase_add_test(fold, test_other_users_pid);
	tcase_add_test(fold, test_persistence);
	tcase_add_test(fold, test_bad_state_files);
	tcase_add_test(fold, test_save_throttled);
	suite_add_tcase(s, file);
	suite_add_tcase(s, fold);
	return s;
}

TH_MAIN(metrics_suite)
