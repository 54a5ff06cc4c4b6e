/* logd_file (the command log file) and logd_journal's field building. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "logd_file.h"
#include "logd_journal.h"
#include "logrec.h"
#include "testhelp.h"


static struct logrec
rec(enum logrec_type type, uint64_t time_us, const char *ip, const char *cmd)
{
	struct logrec r;

	memset(&r, 0, sizeof(r));
	r.type = type;
	r.time_us = time_us;
	r.pid = 99;
	strcpy(r.session, "0011223344556677");
	strcpy(r.client_ip, ip);
	strcpy(r.user, "alice");
	strcpy(r.command, cmd);
	strcpy(r.status, "OK");
	return r;
}

static void
assert_file(const char *path, const char *want)
{
	char *got = th_read_file(path, NULL);

	ck_assert_ptr_nonnull(got);
	ck_assert_str_eq(got, want);
	free(got);
}

static struct logd_file *
open_ok(const char *path)
{
	struct logd_file *f = NULL;

	ck_assert_int_eq(logd_file_open(path, &f), 0);
	ck_assert_ptr_nonnull(f);
	return f;
}

/* --- Core ---------------------------------------------------------- */

START_TEST(test_format)
{
	static const struct {
		uint64_t time_us;
		const char *ip, *cmd, *want;
	} cases[] = {
		{ 1731570447000000ull, "194.10.15.3", "USER", "1731570447 194.10.15.3 USER\n" },
		{ 1731570447999999ull, "194.10.15.3", "PASS", "1731570447 194.10.15.3 PASS\n" },
		{ 1731570448000000ull, "::ffff:127.0.0.1", "RETR", "1731570448 127.0.0.1 RETR\n" },
		{ 5000000, "::FFFF:10.0.0.1", "STAT", "5 10.0.0.1 STAT\n" },
		{ 0, "2001:db8::1", "QUIT", "0 2001:db8::1 QUIT\n" },
		{ 1, "::1", "CAPA", "0 ::1 CAPA\n" },
		{ 7000000, "::ffff:abcd", "NOOP", "7 ::ffff:abcd NOOP\n" },
		{ 7000000, "", "", "7 - -\n" },
		{ UINT64_MAX, "1.2.3.4", "X", "18446744073709 1.2.3.4 X\n" },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct logrec r = rec(LOGREC_COMMAND, cases[i].time_us, cases[i].ip, cases[i].cmd);
		char buf[256];
		int n = logd_file_format(&r, buf, sizeof(buf));

		ck_assert_msg(n == (int)strlen(cases[i].want), "case %zu: %d", i, n);
		ck_assert_str_eq(buf, cases[i].want);
	}
}
END_TEST

START_TEST(test_only_commands)
{
	static const enum logrec_type others[] = {
		LOGREC_CONNECT, LOGREC_LOGIN_OK, LOGREC_LOGIN_FAIL, LOGREC_DISCONNECT,
	};
	const char *path = th_path(th_dir, "pop3s.log");
	struct logd_file *f = open_ok(path);
	size_t i;

	for (i = 0; i < sizeof(others) / sizeof(others[0]); i++) {
		struct logrec r = rec(others[i], 1000000, "1.2.3.4", "USER");
		char buf[256];

		ck_assert_int_eq(logd_file_format(&r, buf, sizeof(buf)), 0);
		ck_assert_int_eq(logd_file_write(f, &r), 0);
	}
	logd_file_close(f);
	assert_file(path, "");
}
END_TEST

START_TEST(test_write_appends)
{
	const char *path = th_path(th_dir, "pop3s.log");
	struct logrec a = rec(LOGREC_COMMAND, 1731570447000000ull, "194.10.15.3", "USER");
	struct logrec b = rec(LOGREC_COMMAND, 1731570448000000ull, "::ffff:194.10.15.3", "PASS");
	struct logd_file *f;
	struct stat st;

	umask(022);
	th_write_file(path, "old line\n", 9);
	chmod(path, 0640);
	f = open_ok(path);
	ck_assert_int_eq(logd_file_write(f, &a), 0);
	ck_assert_int_eq(logd_file_write(f, &b), 0);
	logd_file_close(f);
	assert_file(path, "old line\n1731570447 194.10.15.3 USER\n1731570448 194.10.15.3 PASS\n");

	/* A new file is created 0640. */
	path = th_path(th_dir, "new.log");
	f = open_ok(path);
	logd_file_close(f);
	ck_assert_int_eq(stat(path, &st), 0);
	ck_assert_int_eq(st.st_mode & 07777, 0640);
}
END_TEST

/* logrotate renames the file, then sends SIGHUP. */
START_TEST(test_reopen_after_rename)
{
	char *path = strdup(th_path(th_dir, "pop3s.log"));
	char *rotated = strdup(th_path(th_dir, "pop3s.log.1"));
	struct logrec a = rec(LOGREC_COMMAND, 1000000, "1.1.1.1", "USER");
	struct logrec b = rec(LOGREC_COMMAND, 2000000, "2.2.2.2", "PASS");
	struct logd_file *f = open_ok(path);

	ck_assert_int_eq(logd_file_write(f, &a), 0);
	ck_assert_int_eq(rename(path, rotated), 0);
	ck_assert_int_eq(logd_file_write(f, &a), 0);    /* still the old file */
	ck_assert_int_eq(logd_file_reopen(f), 0);
	ck_assert_int_eq(logd_file_write(f, &b), 0);
	logd_file_close(f);
	assert_file(rotated, "1 1.1.1.1 USER\n1 1.1.1.1 USER\n");
	assert_file(path, "2 2.2.2.2 PASS\n");
	free(path);
	free(rotated);
}
END_TEST

START_TEST(test_journal_build)
{
	struct logrec r = rec(LOGREC_COMMAND, 1731570447000000ull, "::ffff:194.10.15.3", "RETR");
	struct logd_journal_entry e;
	static const char *const want[] = {
		"MESSAGE=alice@194.10.15.3 RETR OK", "PRIORITY=6",
		"SYSLOG_IDENTIFIER=pop3s-logger", "POP3_TYPE=COMMAND",
		"POP3_CLIENT_IP=194.10.15.3", "POP3_USER=alice", "POP3_COMMAND=RETR",
		"POP3_STATUS=OK", "POP3_SESSION=0011223344556677", "POP3_PID=99",
		"POP3_BYTES=0", "POP3_TIME_US=1731570447000000", "X_EXTRA=1",
	};
	size_t i, k;

	logd_journal_build(&r, "X_EXTRA=1", &e);
	ck_assert_uint_eq(e.n, sizeof(want) / sizeof(want[0]));
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		int found = 0;

		for (k = 0; k < e.n; k++)
			if (e.iov[k].iov_len == strlen(want[i]) &&
			    memcmp(e.iov[k].iov_base, want[i], e.iov[k].iov_len) == 0)
				found++;
		ck_assert_msg(found == 1, "%s found %d times", want[i], found);
	}
	/* No detail: no POP3_DETAIL field at all. */
	for (k = 0; k < e.n; k++)
		ck_assert(strncmp(e.iov[k].iov_base, "POP3_DETAIL=", 12) != 0);
}
END_TEST

/* --- Limits -------------------------------------------------------- */

START_TEST(test_format_small_buffer)
{
	struct logrec r = rec(LOGREC_COMMAND, 1731570447000000ull, "194.10.15.3", "USER");
	const char *want = "1731570447 194.10.15.3 USER\n";
	size_t cap;

	for (cap = 0; cap <= strlen(want); cap++) {
		char *buf = malloc(cap ? cap : 1);

		ck_assert_int_eq(logd_file_format(&r, buf, cap), -ENOBUFS);
		free(buf);
	}
}
END_TEST

START_TEST(test_longest_line)
{
	const char *path = th_path(th_dir, "pop3s.log");
	struct logrec r = rec(LOGREC_COMMAND, UINT64_MAX, "", "");
	struct logd_file *f = open_ok(path);
	char want[256];

	memset(r.client_ip, 'f', LOGREC_IP_MAX);
	memset(r.command, 'C', LOGREC_COMMAND_MAX);
	snprintf(want, sizeof(want), "18446744073709 %s %s\n", r.client_ip, r.command);
	ck_assert_int_eq(logd_file_write(f, &r), 0);
	logd_file_close(f);
	assert_file(path, want);
}
END_TEST

/* Many lines through one descriptor stay whole and in order. */
START_TEST(test_many_lines)
{
	const char *path = th_path(th_dir, "pop3s.log");
	struct logd_file *f = open_ok(path);
	char *got, *line;
	size_t len;
	int i;

	for (i = 0; i < 2000; i++) {
		struct logrec r = rec(LOGREC_COMMAND, (uint64_t)i * 1000000, "10.0.0.1", "NOOP");

		ck_assert_int_eq(logd_file_write(f, &r), 0);
	}
	logd_file_close(f);
	got = th_read_file(path, &len);
	line = got;
	for (i = 0; i < 2000; i++) {
		char want[64];
		int n = snprintf(want, sizeof(want), "%d 10.0.0.1 NOOP\n", i);

		ck_assert_int_eq(strncmp(line, want, (size_t)n), 0);
		line += n;
	}
	ck_assert_int_eq(*line, '\0');
	free(got);
}
END_TEST

/* --- Errors -------------------------------------------------------- */

START_TEST(test_open_errors)
{
	struct logd_file *f = NULL;
	char longpath[5000];

	ck_assert_int_eq(logd_file_open(th_path(th_dir, "missing/pop3s.log"), &f), -ENOENT);
	ck_assert_int_eq(logd_file_open(th_dir, &f), -EISDIR);
	memset(longpath, 'a', sizeof(longpath) - 1);
	longpath[0] = '/';
	longpath[sizeof(longpath) - 1] = '\0';
	ck_assert_int_eq(logd_file_open(longpath, &f), -ENAMETOOLONG);
	ck_assert_ptr_null(f);
}
END_TEST

/* A failed reopen keeps writing to the old file. */
START_TEST(test_reopen_failure_keeps_old)
{
	char *sub = strdup(th_path(th_dir, "sub"));
	char *moved = strdup(th_path(th_dir, "moved"));
	struct logrec a = rec(LOGREC_COMMAND, 1000000, "1.1.1.1", "USER");
	struct logd_file *f;

	ck_assert_int_eq(mkdir(sub, 0700), 0);
	f = open_ok(th_path(sub, "pop3s.log"));
	ck_assert_int_eq(rename(sub, moved), 0);
	ck_assert_int_eq(logd_file_reopen(f), -ENOENT);
	ck_assert_int_eq(logd_file_write(f, &a), 0);
	logd_file_close(f);
	assert_file(th_path(moved, "pop3s.log"), "1 1.1.1.1 USER\n");
	free(sub);
	free(moved);
}
END_TEST

START_TEST(test_disk_full)
{
	struct logrec a = rec(LOGREC_COMMAND, 1000000, "1.1.1.1", "USER");
	struct logd_file *f;

	if (access("/dev/full", W_OK) != 0)
		return;
	f = open_ok("/dev/full");
	ck_assert_int_eq(logd_file_write(f, &a), -ENOSPC);
	ck_assert_int_eq(logd_file_write(f, &a), -ENOSPC);
	logd_file_close(f);
}
END_TEST

/* A write cut short (here by RLIMIT_FSIZE) leaves half a line; the next
 * line after space came back must start on a line of its own. */
START_TEST(test_partial_line_terminated)
{
	const char *path = th_path(th_dir, "pop3s.log");
	struct logrec a = rec(LOGREC_COMMAND, 1000000, "1.1.1.1", "USER");
	struct logrec b = rec(LOGREC_COMMAND, 2000000, "2.2.2.2", "PASS");
	struct logd_file *f = open_ok(path);
	struct rlimit lim = { 20, RLIM_INFINITY };

	signal(SIGXFSZ, SIG_IGN);
	ck_assert_int_eq(logd_file_write(f, &a), 0);            /* 15 octets */
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(logd_file_write(f, &b), -EFBIG);       /* 5 of 15 */
	ck_assert_int_eq(logd_file_write(f, &b), -EFBIG);       /* nothing */
	lim.rlim_cur = RLIM_INFINITY;
	ck_assert_int_eq(setrlimit(RLIMIT_FSIZE, &lim), 0);
	ck_assert_int_eq(logd_file_write(f, &b), 0);
	ck_assert_int_eq(logd_file_write(f, &a), 0);
	logd_file_close(f);
	assert_file(path, "1 1.1.1.1 USER\n2 2.2\n2 2.2.2.2 PASS\n1 1.1.1.1 USER\n");
}
END_TEST

static Suite *
logd_file_suite(void)
{
	Suite *s = suite_create("logd_file");
	TCase *core = tcase_create("Core");
	TCase *limits = tcase_create("Limits");
	TCase *errors = tcase_create("Errors");

	tcase_add_checked_fixture(core, th_dir_setup, th_dir_teardown);
	tcase_add_test(core, test_format);
	tcase_add_test(core, test_only_commands);
	tcase_add_test(core, test_write_appends);
	tcase_add_test(core, test_reopen_after_rename);
	tcase_add_test(core, test_journal_build);
	suite_add_tcase(s, core);

	tcase_add_checked_fixture(limits, th_dir_setup, th_dir_teardown);
	tcase_add_test(limits, test_format_small_buffer);
	tcase_add_test(limits, test_longest_line);
	tcase_add_test(limits, test_many_lines);
	suite_add_tcase(s, limits);

	tcase_add_checked_fixture(errors, th_dir_setup, th_dir_teardown);
	tcase_add_test(errors, test_open_errors);
	tcase_add_test(errors, test_reopen_failure_keeps_old);
	tcase_add_test(errors, test_disk_full);
	tcase_add_test(errors, test_partial_line_terminated);
	suite_add_tcase(s, errors);
	return s;
}

TH_MAIN(logd_file_suite)
