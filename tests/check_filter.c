/* The message filter: real programs run as filters, the spool contents, the
 * limits, the reasons given, and no process or descriptor left behind. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "filter.h"
#include "monotime.h"
#include "testhelp.h"

static const char msg[] = "From: a@example.org\nSubject: hi\n\nbody line\n.dot line\n";

static char *dir;
static int msg_fd;

static void
setup(void)
{
	dir = th_tmpdir();
	th_write_file(th_path(dir, "msg"), msg, sizeof(msg) - 1);
	msg_fd = open(th_path(dir, "msg"), O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(msg_fd, 0);
}

static void
teardown(void)
{
	close(msg_fd);
	th_rm_rf(dir);
	free(dir);
}

/* Every child was reaped: the process has none left at all. */
static void
assert_no_children(void)
{
	errno = 0;
	ck_assert_int_eq(waitpid(-1, NULL, WNOHANG), -1);
	ck_assert_int_eq(errno, ECHILD);
}

static int
run(const char *cmd, unsigned timeout_ms, uint64_t max, int *fd, char *why, size_t whylen)
{
	struct filter_config fc = { cmd, timeout_ms, max, dir, NULL };

	*fd = -1;
	return filter_run(&fc, msg_fd, fd, why, whylen);
}

/* Reads the whole spool (small outputs only) and closes it. */
static char *
slurp(int fd, size_t *ret_len)
{
	size_t len = 0, cap = 1 << 16;
	char *buf = malloc(cap + 1);
	ssize_t n;

	while ((n = read(fd, buf + len, cap - len)) > 0)
		len += (size_t)n;
	ck_assert_int_eq(n, 0);
	buf[len] = '\0';
	close(fd);
	*ret_len = len;
	return buf;
}

/* Runs cmd, expects success, returns the output. */
static char *
run_ok(const char *cmd, size_t *len)
{
	char why[256];
	int fd, r;

	r = run(cmd, 5000, 1 << 20, &fd, why, sizeof(why));
	ck_assert_msg(r == 0, "%s: %d %s", cmd, r, why);
	ck_assert_int_ge(fd, 0);
	assert_no_children();
	return slurp(fd, len);
}

/* Runs cmd, expects failure r with reason why. */
static void
run_fails(const char *cmd, unsigned timeout_ms, uint64_t max, int want_r, const char *want_why)
{
	char why[256];
	int fd, r;

	r = run(cmd, timeout_ms, max, &fd, why, sizeof(why));
	ck_assert_msg(r == want_r, "%s: got %d (%s), want %d", cmd, r, why, want_r);
	ck_assert_int_eq(fd, -1);
	ck_assert_str_eq(why, want_why);
	assert_no_children();
}

START_TEST(test_cat_copies)
{
	size_t len;
	char *out;
	struct stat st;
	char why[256];
	int fd;

	/* The filter reads from the start whatever the descriptor's offset. */
	lseek(msg_fd, 0, SEEK_END);
	out = run_ok("/bin/cat", &len);
	ck_assert_uint_eq(len, sizeof(msg) - 1);
	ck_assert(memcmp(out, msg, len) == 0);
	free(out);

	/* The spool is a readable, unlinked file at offset 0. */
	ck_assert_int_eq(run("/bin/cat", 5000, 1 << 20, &fd, why, sizeof(why)), 0);
	ck_assert_int_eq(fstat(fd, &st), 0);
	ck_assert(S_ISREG(st.st_mode));
	ck_assert_int_eq(st.st_nlink, 0);
	ck_assert_int_eq(st.st_size, sizeof(msg) - 1);
	ck_assert_int_eq(lseek(fd, 0, SEEK_CUR), 0);
	ck_assert(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	close(fd);
	assert_no_children();
}
END_TEST

START_TEST(test_sed_tags_header)
{
	size_t len;
	char *out, want[256];

	/* No shell: arguments are split on spaces, so the space in the header
	 * is written as sed's \x20. */
	out = run_ok("/usr/bin/sed 1iX-Spam:\\x20no", &len);
	snprintf(want, sizeof(want), "X-Spam: no\n%s", msg);
	ck_assert_str_eq(out, want);
	free(out);

	/* several arguments, and repeated spaces between them */
	out = run_ok("/usr/bin/sed   -e s/hi/HI/  -e 1d", &len);
	ck_assert_str_eq(out, "Subject: HI\n\nbody line\n.dot line\n");
	free(out);
}
END_TEST

START_TEST(test_no_shell)
{
	size_t len;
	char *out;

	/* Shell syntax reaches the program as plain words. */
	out = run_ok("/bin/echo $HOME;id `id` >x", &len);
	ck_assert_str_eq(out, "$HOME;id `id` >x\n");
	free(out);
	ck_assert_int_eq(access(th_path(dir, "x"), F_OK), -1);
}
END_TEST

START_TEST(test_environment_and_fds)
{
	size_t len;
	char *out;
	int extra;

	out = run_ok("/usr/bin/env", &len);
	ck_assert_str_eq(out, "PATH=/usr/bin:/bin\n");
	free(out);

	/* A descriptor the session leaks without close-on-exec is still not
	 * inherited: ls sees 0-2 and its own directory descriptor. */
	extra = open("/dev/null", O_RDONLY);
	ck_assert_int_ge(extra, 3);
	out = run_ok("/bin/ls /proc/self/fd", &len);
	ck_assert_str_eq(out, "0\n1\n2\n3\n");
	free(out);
	close(extra);

	/* stderr goes nowhere: only stdout is the message */
	out = run_ok("/bin/sh -c echo${IFS}noise>&2;echo${IFS}out", &len);
	ck_assert_str_eq(out, "out\n");
	free(out);
}
END_TEST

START_TEST(test_ignores_stdin)
{
	static char big[4 << 20];
	size_t len;
	char *out;

	/* A message far larger than a pipe, never read: no deadlock. */
	memset(big, 'x', sizeof(big));
	th_write_file(th_path(dir, "big"), big, sizeof(big));
	close(msg_fd);
	msg_fd = open(th_path(dir, "big"), O_RDONLY | O_CLOEXEC);
	out = run_ok("/bin/echo replaced", &len);
	ck_assert_str_eq(out, "replaced\n");
	free(out);
}
END_TEST

START_TEST(test_exit_status)
{
	run_fails("/bin/false", 5000, 1 << 20, -EIO, "filter exited with status 1");
	run_fails("/bin/sh -c exit${IFS}3", 5000, 1 << 20, -EIO, "filter exited with status 3");
}
END_TEST

START_TEST(test_signal)
{
	run_fails("/bin/sh -c kill${IFS}-SEGV${IFS}$$", 5000, 1 << 20, -EIO,
	          "filter killed by signal 11");
}
END_TEST

START_TEST(test_timeout)
{
	uint64_t t0 = monotime_ms();

	run_fails("/bin/sleep 30", 300, 1 << 20, -ETIMEDOUT, "filter timed out after 300 ms");
	ck_assert_uint_lt(monotime_ms() - t0, 1000);
	ck_assert_uint_ge(monotime_ms() - t0, 300);
}
END_TEST

START_TEST(test_timeout_after_closing_stdout)
{
	uint64_t t0 = monotime_ms();

	/* All output written and stdout closed, but the filter never exits. */
	run_fails("/bin/sh -c echo${IFS}x;exec${IFS}>&-;exec${IFS}sleep${IFS}30", 300, 1 << 20,
	          -ETIMEDOUT, "filter timed out after 300 ms");
	ck_assert_uint_lt(monotime_ms() - t0, 1000);
}
END_TEST

/* True unless pid is gone or a zombie. */
static bool
alive(pid_t pid)
{
	char path[64], *stat, *p;
	size_t len;
	bool r;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if (access(path, F_OK) < 0)
		return false;
	stat = th_read_file(path, &len);
	p = strrchr(stat, ')');
	r = p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
	free(stat);
	return r;
}

START_TEST(test_grandchild_killed)
{
	uint64_t t0 = monotime_ms();
	char why[256];
	int fd;
	pid_t bg;
	char *out;
	size_t len;

	/* The filter exits, but a background child keeps its stdout open:
	 * the time limit applies, and the whole process group dies. */
	run_fails("/bin/sh -c sleep${IFS}30&echo${IFS}x", 300, 1 << 20,
	          -ETIMEDOUT, "filter timed out after 300 ms");
	ck_assert_uint_lt(monotime_ms() - t0, 1000);

	/* A background child that closed its stdout is killed with the
	 * group when the filter itself ends. */
	ck_assert_int_eq(run("/bin/sh -c sleep${IFS}30>/dev/null&echo${IFS}$!", 5000, 1 << 20,
	                     &fd, why, sizeof(why)), 0);
	out = slurp(fd, &len);
	bg = (pid_t)atol(out);
	ck_assert_int_gt(bg, 1);
	free(out);
	/* It was reparented, so it is someone else's to reap: dead means
	 * gone or a zombie. */
	for (int i = 0; i < 100 && alive(bg); i++)
		usleep(10000);
	ck_assert(!alive(bg));
	assert_no_children();
}
END_TEST

static volatile sig_atomic_t stop_flag;

static void
on_alarm(int sig)
{
	stop_flag = sig;
}

START_TEST(test_cancel)
{
	struct filter_config fc = { "/bin/sleep 30", 20000, 1 << 20, dir, &stop_flag };
	struct sigaction sa;
	uint64_t t0 = monotime_ms();
	char why[256];
	int fd = -1;

	/* a stop signal arriving while the filter runs, as SIGTERM does in
	 * a session: no SA_RESTART, so poll() returns at once */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sigaction(SIGALRM, &sa, NULL);
	stop_flag = 0;
	ualarm(200000, 0);
	ck_assert_int_eq(filter_run(&fc, msg_fd, &fd, why, sizeof(why)), -ECANCELED);
	ck_assert_str_eq(why, "filter cancelled: the session is stopping");
	ck_assert_int_eq(fd, -1);
	ck_assert_uint_lt(monotime_ms() - t0, 1000);
	assert_no_children();
}
END_TEST

START_TEST(test_output_limit)
{
	uint64_t t0 = monotime_ms();

	/* yes never stops; 1 MiB is reached at once and nothing more is kept */
	run_fails("/usr/bin/yes", 5000, 1 << 20, -EFBIG, "filter output exceeds 1048576 bytes");
	ck_assert_uint_lt(monotime_ms() - t0, 2000);

	/* exactly at the limit is fine, one byte over is not */
	run_fails("/bin/cat", 5000, sizeof(msg) - 2, -EFBIG, "filter output exceeds 52 bytes");
	{
		char why[256];
		int fd;

		ck_assert_int_eq(run("/bin/cat", 5000, sizeof(msg) - 1, &fd, why, sizeof(why)), 0);
		close(fd);
	}
}
END_TEST

START_TEST(test_cannot_run)
{
	char why[256], want[512];
	const char *noexec = th_path(dir, "noexec");

	run_fails("/nonexistent/filter -x", 5000, 1 << 20, -ENOENT,
	          "cannot run /nonexistent/filter: No such file or directory");
	th_write_file(noexec, "#!/bin/sh\n", 10);
	chmod(noexec, 0644);
	snprintf(want, sizeof(want), "cannot run %s: Permission denied", noexec);
	run_fails(noexec, 5000, 1 << 20, -EACCES, want);
	run_fails(dir, 5000, 1 << 20, -EACCES, (snprintf(why, sizeof(why),
	          "cannot run %s: Permission denied", dir), why));
}
END_TEST

START_TEST(test_bad_command)
{
	run_fails("cat", 5000, 1 << 20, -EINVAL,
	          "filter command does not start with an absolute path");
	run_fails("   ", 5000, 1 << 20, -EINVAL,
	          "filter command does not start with an absolute path");
	run_fails("", 5000, 1 << 20, -EINVAL, "no filter configured");
	run_fails("/bin/echo a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a a",
	          5000, 1 << 20, -E2BIG, "filter command has more than 32 words");
}
END_TEST

START_TEST(test_bad_tmpdir)
{
	struct filter_config fc = { "/bin/cat", 5000, 1 << 20, "/nonexistent", NULL };
	char why[256];
	int fd = -1;

	ck_assert_int_eq(filter_run(&fc, msg_fd, &fd, why, sizeof(why)), -ENOENT);
	ck_assert_int_eq(fd, -1);
	ck_assert_str_eq(why, "cannot create a spool file in /nonexistent: No such file or directory");
}
END_TEST

static Suite *
filter_suite(void)
{
	Suite *s = suite_create("filter");
	TCase *ok = tcase_create("Success");
	TCase *bad = tcase_create("Failure");

	tcase_add_checked_fixture(ok, setup, teardown);
	tcase_add_checked_fixture(bad, setup, teardown);
	tcase_set_timeout(ok, 30);
	tcase_set_timeout(bad, 30);
	tcase_add_test(ok, test_cat_copies);
	tcase_add_test(ok, test_sed_tags_header);
	tcase_add_test(ok, test_no_shell);
	tcase_add_test(ok, test_environment_and_fds);
	tcase_add_test(ok, test_ignores_stdin);
	tcase_add_test(bad, test_exit_status);
	tcase_add_test(bad, test_signal);
	tcase_add_test(bad, test_timeout);
	tcase_add_test(bad, test_timeout_after_closing_stdout);
	tcase_add_test(bad, test_grandchild_killed);
	tcase_add_test(bad, test_output_limit);
	tcase_add_test(bad, test_cancel);
	tcase_add_test(bad, test_cannot_run);
	tcase_add_test(bad, test_bad_command);
	tcase_add_test(bad, test_bad_tmpdir);
	suite_add_tcase(s, ok);
	suite_add_tcase(s, bad);
	return s;
}

TH_MAIN(filter_suite)
