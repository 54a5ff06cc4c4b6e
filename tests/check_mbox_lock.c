/* mbox_lock: one session per mailbox, and no stale locks. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>
#include "maildir.h"
#include "mbox_lock.h"
#include "testhelp.h"

static int
open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	ck_assert_int_ge(fd, 0);
	return fd;
}

/* Two opens of one directory are two open file descriptions: the second
 * cannot take the lock while the first holds it. */
START_TEST(test_same_process_conflict)
{
	char *dir = th_tmpdir();
	int a = open_dir(dir), b = open_dir(dir);

	ck_assert_int_eq(mbox_lock_try(a), 0);
	ck_assert_int_eq(mbox_lock_try(b), -EWOULDBLOCK);
	ck_assert_int_eq(mbox_lock_try(a), 0);   /* taking it again is fine */
	mbox_lock_release(a);
	ck_assert_int_eq(mbox_lock_try(b), 0);
	ck_assert_int_eq(mbox_lock_try(a), -EWOULDBLOCK);
	mbox_lock_release(b);
	close(a);
	close(b);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(test_released_on_close)
{
	char *dir = th_tmpdir();
	int a = open_dir(dir), b = open_dir(dir), a2;

	ck_assert_int_eq(mbox_lock_try(a), 0);
	/* A duplicate shares the lock; closing it alone releases nothing. */
	a2 = dup(a);
	ck_assert_int_ge(a2, 0);
	ck_assert_int_eq(mbox_lock_try(a2), 0);
	close(a2);
	ck_assert_int_eq(mbox_lock_try(b), -EWOULDBLOCK);
	close(a);
	ck_assert_int_eq(mbox_lock_try(b), 0);
	close(b);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

/* The lock the session takes on mailbox->dirfd: a scan does not disturb
 * it, mailbox_free drops it. */
START_TEST(test_mailbox_lock)
{
	char *home = th_tmpdir();
	struct mailbox *m1, *m2;

	th_write_file(th_path(home, "u/1_"), "Subject: x\n\nhi\n", 15);
	ck_assert_int_eq(mailbox_open(home, "u", &m1), 0);
	ck_assert_int_eq(mailbox_open(home, "u", &m2), 0);
	ck_assert_int_eq(mbox_lock_try(m1->dirfd), 0);
	ck_assert_int_eq(mailbox_scan(m1), 0);
	ck_assert_uint_eq(m1->count, 1);
	ck_assert_int_eq(mbox_lock_try(m2->dirfd), -EWOULDBLOCK);
	mailbox_free(m1);
	ck_assert_int_eq(mbox_lock_try(m2->dirfd), 0);
	mailbox_free(m2);
	th_rm_rf(home);
	free(home);
}
END_TEST

/* Another process holding the lock blocks us until it dies, however it
 * dies: SIGKILL leaves no stale lock. */
START_TEST(test_killed_holder)
{
	char *dir = th_tmpdir();
	int p[2], status, fd;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int cfd = open(dir, O_RDONLY | O_DIRECTORY);

		close(p[0]);
		if (cfd < 0 || mbox_lock_try(cfd) != 0)
			_exit(1);
		if (write(p[1], "L", 1) != 1)
			_exit(1);
		for (;;)
			pause();
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &c, 1), 1);
	fd = open_dir(dir);
	ck_assert_int_eq(mbox_lock_try(fd), -EWOULDBLOCK);
	ck_assert_int_eq(kill(pid, SIGKILL), 0);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
	ck_assert_int_eq(mbox_lock_try(fd), 0);
	close(fd);
	close(p[0]);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

/* And the other way round: held here, refused to another process. */
START_TEST(test_other_process_refused)
{
	char *dir = th_tmpdir();
	int fd = open_dir(dir), status;
	pid_t pid;

	ck_assert_int_eq(mbox_lock_try(fd), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int cfd = open(dir, O_RDONLY | O_DIRECTORY);

		_exit(cfd >= 0 && mbox_lock_try(cfd) == -EWOULDBLOCK ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	mbox_lock_release(fd);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int cfd = open(dir, O_RDONLY | O_DIRECTORY);

		_exit(cfd >= 0 && mbox_lock_try(cfd) == 0 ? 0 : 1);
	}
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	close(fd);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

/* Many sessions in a row: the lock changes hands every time. */
START_TEST(test_many_handovers)
{
	char *dir = th_tmpdir();
	int i;

	for (i = 0; i < 1000; i++) {
		int a = open_dir(dir), b = open_dir(dir);

		ck_assert_int_eq(mbox_lock_try(a), 0);
		ck_assert_int_eq(mbox_lock_try(b), -EWOULDBLOCK);
		close(a);
		ck_assert_int_eq(mbox_lock_try(b), 0);
		close(b);
	}
	th_rm_rf(dir);
	free(dir);
}
END_TEST

START_TEST(test_bad_fd)
{
	char *dir = th_tmpdir();
	int fd = open_dir(dir);

	ck_assert_int_eq(mbox_lock_try(-1), -EBADF);
	close(fd);
	ck_assert_int_eq(mbox_lock_try(fd), -EBADF);
	/* Releasing a bad descriptor is harmless and keeps errno. */
	errno = 1234;
	mbox_lock_release(fd);
	ck_assert_int_eq(errno, 1234);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

static Suite *
mbox_lock_suite(void)
{
	Suite *s = suite_create("mbox_lock");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_add_test(tc, test_same_process_conflict);
	tcase_add_test(tc, test_released_on_close);
	tcase_add_test(tc, test_mailbox_lock);
	tcase_add_test(tc, test_killed_holder);
	tcase_add_test(tc, test_other_process_refused);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_add_test(tc, test_many_handovers);
	suite_add_tcase(s, tc);

	tc = tcase_create("Errors");
	tcase_add_test(tc, test_bad_fd);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(mbox_lock_suite)
