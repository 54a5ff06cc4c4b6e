/* listen_fds: socket activation as sd_listen_fds(3) and sd_is_socket(3)
 * define it, with real sockets passed as fd 3. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>
#include "listen_fds.h"
#include "testhelp.h"

/* The passed descriptors are fd 3 and 4, where check keeps its own pipe
 * in the forked test: each case runs in a child of its own, which reports
 * the line of its first failed condition (0: none) through a pipe far
 * above them. */
#define REPORT_FD 40
#define EXPECT(cond)                                   \
	do {                                           \
		if (!(cond))                           \
			return __LINE__;               \
	} while (0)

static void
in_child(int (*fn)(void), const char *name)
{
	int p[2], line = -1, status;
	pid_t pid;

	ck_assert_int_eq(pipe(p), 0);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		int r;

		dup2(p[1], REPORT_FD);
		close(p[0]);
		close(p[1]);
		unsetenv("LISTEN_PID");
		unsetenv("LISTEN_FDS");
		unsetenv("LISTEN_FDNAMES");
		r = fn();
		if (write(REPORT_FD, &r, sizeof(r)) != (ssize_t)sizeof(r))
			_exit(2);
		_exit(0);
	}
	close(p[1]);
	ck_assert_int_eq(read(p[0], &line, sizeof(line)), (ssize_t)sizeof(line));
	close(p[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	ck_assert_msg(line == 0, "%s: condition at line %d failed", name, line);
	ck_assert_int_eq(status, 0);
}

#define CHILD_TEST(fn)                    \
	START_TEST(test_##fn)             \
	{                                 \
		in_child(fn, #fn);        \
	}                                 \
	END_TEST

static int
set_env(const char *pid, const char *fds)
{
	char mine[32];

	if (pid != NULL && strcmp(pid, "self") == 0) {
		snprintf(mine, sizeof(mine), "%ld", (long)getpid());
		pid = mine;
	}
	if (pid && setenv("LISTEN_PID", pid, 1) != 0)
		return -1;
	if (fds && setenv("LISTEN_FDS", fds, 1) != 0)
		return -1;
	return setenv("LISTEN_FDNAMES", "connection", 1);
}

static int
env_gone(void)
{
	return getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDS") == NULL &&
	       getenv("LISTEN_FDNAMES") == NULL;
}

/* One end of a connected stream socketpair as fd `at`, without
 * FD_CLOEXEC (as systemd passes it); returns the other end or -1. */
static int
connected_at(int at)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
		return -1;
	if (sv[1] == at) {            /* keep the end we return elsewhere */
		sv[1] = fcntl(at, F_DUPFD, at + 1);
		close(at);
	}
	if (sv[0] != at) {
		if (dup2(sv[0], at) != at)
			return -1;
		close(sv[0]);
	}
	/* dup2() clears FD_CLOEXEC; a socket from socketpair() has none */
	return sv[1];
}

static int
passed_connection(void)
{
	EXPECT(connected_at(3) >= 0);
	EXPECT((fcntl(3, F_GETFD) & FD_CLOEXEC) == 0);
	EXPECT(set_env("self", "1") == 0);
	EXPECT(listen_fds() == 1);
	EXPECT((fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
	EXPECT(env_gone());
	EXPECT(fd_is_stream_socket(3) == 1);
	/* The variables are gone: a second call finds nothing. */
	EXPECT(listen_fds() == 0);
	return 0;
}
CHILD_TEST(passed_connection)

static int
two_fds(void)
{
	EXPECT(connected_at(3) >= 0 && connected_at(4) >= 0);
	EXPECT(set_env("self", "2") == 0);
	EXPECT(listen_fds() == 2);
	EXPECT((fcntl(3, F_GETFD) & FD_CLOEXEC) != 0);
	EXPECT((fcntl(4, F_GETFD) & FD_CLOEXEC) != 0);
	return 0;
}
CHILD_TEST(two_fds)

/* LISTEN_FDS counts a descriptor that is not open: fcntl's error. */
static int
fd_not_open(void)
{
	EXPECT(connected_at(3) >= 0);
	close(4);
	EXPECT(set_env("self", "2") == 0);
	EXPECT(listen_fds() == -EBADF);
	EXPECT(env_gone());
	return 0;
}
CHILD_TEST(fd_not_open)

static int
nothing_passed(void)
{
	EXPECT(listen_fds() == 0);
	EXPECT(set_env(NULL, "1") == 0);
	EXPECT(listen_fds() == 0);
	EXPECT(env_gone());
	EXPECT(set_env("self", NULL) == 0);
	EXPECT(listen_fds() == 0);
	EXPECT(env_gone());
	return 0;
}
CHILD_TEST(nothing_passed)

/* Variables inherited from a parent that was activated: not ours (fd 3
 * left alone), and removed all the same. */
static int
other_pid(void)
{
	char other[32];

	EXPECT(connected_at(3) >= 0);
	snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
	EXPECT(set_env(other, "1") == 0);
	EXPECT(listen_fds() == 0);
	EXPECT(env_gone());
	EXPECT((fcntl(3, F_GETFD) & FD_CLOEXEC) == 0);
	return 0;
}
CHILD_TEST(other_pid)

static int
malformed(void)
{
	static const struct {
		const char *pid, *fds;
		int want;
	} cases[] = {
		{ "12x", "1", -EINVAL },  { "", "1", -EINVAL },     { "-1", "1", -EINVAL },
		{ "0", "1", -ERANGE },    { "99999999999999999999", "1", -ERANGE },
		{ "self", "0", -EINVAL }, { "self", "x", -EINVAL }, { "self", "1x", -EINVAL },
		{ "self", "", -EINVAL },  { "self", "-1", -EINVAL },
		{ "self", "2147483647", -EINVAL },
	};
	size_t i;

	EXPECT(connected_at(3) >= 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		EXPECT(set_env(cases[i].pid, cases[i].fds) == 0);
		if (listen_fds() != cases[i].want)
			return 1000 + (int)i;
		EXPECT(env_gone());
	}
	return 0;
}
CHILD_TEST(malformed)

START_TEST(test_is_stream_socket)
{
	int sv[2], d[2], q[2], p[2], l, tl, c, a, u, f;
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sin);
	struct sockaddr_un sun = { .sun_family = AF_UNIX };   /* abstract */

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	ck_assert_int_eq(fd_is_stream_socket(sv[0]), 1);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM, 0, d), 0);
	ck_assert_int_eq(fd_is_stream_socket(d[0]), 0);
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, q), 0);
	ck_assert_int_eq(fd_is_stream_socket(q[0]), 0);
	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(fd_is_stream_socket(p[0]), 0);

	/* Accept=no hands over the listening socket: refused. */
	l = socket(AF_UNIX, SOCK_STREAM, 0);
	ck_assert_int_ge(l, 0);
	snprintf(sun.sun_path + 1, sizeof(sun.sun_path) - 1, "pop3s-check-%ld", (long)getpid());
	ck_assert_int_eq(bind(l, (struct sockaddr *)&sun, sizeof(sun)), 0);
	ck_assert_int_eq(listen(l, 1), 0);
	ck_assert_int_eq(fd_is_stream_socket(l), 0);

	/* TCP: the listener no, both ends of the connection yes. */
	tl = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(bind(tl, (struct sockaddr *)&sin, sizeof(sin)), 0);
	ck_assert_int_eq(listen(tl, 1), 0);
	ck_assert_int_eq(getsockname(tl, (struct sockaddr *)&sin, &sl), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	ck_assert_int_eq(connect(c, (struct sockaddr *)&sin, sizeof(sin)), 0);
	a = accept(tl, NULL, NULL);
	ck_assert_int_ge(a, 0);
	ck_assert_int_eq(fd_is_stream_socket(tl), 0);
	ck_assert_int_eq(fd_is_stream_socket(a), 1);
	ck_assert_int_eq(fd_is_stream_socket(c), 1);
	u = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_eq(fd_is_stream_socket(u), 0);

	f = open("/dev/null", O_RDONLY);
	ck_assert_int_eq(fd_is_stream_socket(f), 0);
	close(f);
	ck_assert_int_eq(fd_is_stream_socket(f), -EBADF);
	ck_assert_int_eq(fd_is_stream_socket(-1), -EBADF);
	close(sv[0]); close(sv[1]); close(d[0]); close(d[1]); close(q[0]); close(q[1]); close(p[0]); close(p[1]);
	close(l); close(tl); close(c); close(a); close(u);
}
END_TEST

static Suite *
listen_fds_suite(void)
{
	Suite *s = suite_create("listen_fds");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, test_passed_connection);
	tcase_add_test(tc, test_two_fds);
	tcase_add_test(tc, test_fd_not_open);
	tcase_add_test(tc, test_nothing_passed);
	tcase_add_test(tc, test_other_pid);
	tcase_add_test(tc, test_malformed);
	tcase_add_test(tc, test_is_stream_socket);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(listen_fds_suite)
