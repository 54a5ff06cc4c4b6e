/* The confinement, applied for real in a forked child (so it also works
 * with CK_FORK=no): what it denies with which error, what it still allows
 * in HOME and the readable directories, the FILTER= variant, the seccomp
 * architecture checks, and LANDLOCK=required/auto on a kernel made to
 * look as if it had no Landlock. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <dirent.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include "confine.h"
#include "testhelp.h"

static char *dir;
static int kernel_abi;  /* Landlock ABI, read before any confinement */
static char home[PATH_MAX], users[PATH_MAX], penalty[PATH_MAX], outside[PATH_MAX];

static void
setup(void)
{
	dir = th_tmpdir();
	kernel_abi = confine_landlock_abi();
	snprintf(home, sizeof(home), "%s/mail", dir);
	snprintf(users, sizeof(users), "%s/etc/users", dir);
	snprintf(penalty, sizeof(penalty), "%s/run/auth-penalty", dir);
	snprintf(outside, sizeof(outside), "%s/outside", dir);
	th_write_file(th_path(home, "alice/new/1.msg"), "From: a\n\nhi\n", 12);
	ck_assert_int_eq(mkdir(th_path(home, "alice/cur"), 0700), 0);
	th_write_file(users, "alice:x\n", 8);
	th_write_file(penalty, "penalty", 7);
	th_write_file(th_path(outside, "secret"), "secret\n", 7);
}

static void
teardown(void)
{
	th_rm_rf(dir);
	free(dir);
}

static struct confine_params
params(const char *filter)
{
	return (struct confine_params){ home, users, penalty, filter, outside, false };
}

/* In the child: report a failed expectation and return 1. */
#define EXPECT(cond) do { \
		if (!(cond)) { \
			fprintf(stderr, "%s:%d: expected %s (errno %s)\n", __FILE__, __LINE__, \
			        #cond, strerror(errno)); \
			return 1; \
		} \
	} while (0)
/* The call fails with that errno. */
#define DENIED(call, e) do { errno = 0; EXPECT((call) < 0 && errno == (e)); } while (0)

typedef int (*confined_fn)(const struct confine_status *st, void *arg);

/* Forks; the child confines itself with p and exits with fn's result.
 * Returns the child's pid. */
static pid_t
fork_confined(const struct confine_params *p, confined_fn fn, void *arg)
{
	pid_t pid;

	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct confine_status st;
		char err[256];

		if (confine_apply(p, &st, err, sizeof(err)) < 0) {
			fprintf(stderr, "confine_apply: %s\n", err);
			_exit(2);
		}
		_exit(fn(&st, arg));
	}
	return pid;
}

/* fork_confined, then the child's wait status. */
static int
run_confined(const struct confine_params *p, confined_fn fn, void *arg)
{
	pid_t pid = fork_confined(p, fn, arg);
	int status;

	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

static void
assert_exit_is(int status, int code)
{
	ck_assert_msg(WIFEXITED(status), "child killed by signal %d", WTERMSIG(status));
	ck_assert_int_eq(WEXITSTATUS(status), code);
}

static void
assert_exit_ok(int status)
{
	assert_exit_is(status, 0);
}

static bool
have_landlock(void)
{
	return kernel_abi > 0;
}

/* --- the file system ---------------------------------------------------- */

static int
outside_is_denied(const struct confine_status *st, void *arg)
{
	(void)arg;
	EXPECT(st->landlock_abi == kernel_abi);
	EXPECT(st->seccomp == CONFINE_SECCOMP_OWN && st->no_new_privs && !st->filter_variant);
	DENIED(open(th_path(outside, "secret"), O_RDONLY), EACCES);
	DENIED(open("/etc/passwd", O_RDONLY), EACCES);
	DENIED(open(th_path(outside, "new"), O_WRONLY | O_CREAT, 0600), EACCES);
	DENIED(open("/tmp/pop3s-check-confine", O_WRONLY | O_CREAT, 0600), EACCES);
	DENIED(mkdir(th_path(outside, "dir"), 0700), EACCES);
	DENIED(unlink(th_path(outside, "secret")), EACCES);
	errno = 0;
	EXPECT(rename(th_path(home, "alice/new/1.msg"), th_path(outside, "stolen")) < 0 &&
	       (errno == EACCES || errno == EXDEV));
	DENIED(opendir(outside) == NULL ? -1 : 0, EACCES);
	/* the readable directories are readable, not writable */
	DENIED(open(th_path(dir, "etc/new"), O_WRONLY | O_CREAT, 0600), EACCES);
	DENIED(open(users, O_WRONLY), EACCES);
	DENIED(opendir(th_path(dir, "etc")) == NULL ? -1 : 0, EACCES);
	return 0;
}

START_TEST(test_outside_denied)
{
	struct confine_params p = params(NULL);

	if (!have_landlock())
		return;  /* the kernel cannot; test_landlock_missing covers that case */
	assert_exit_ok(run_confined(&p, outside_is_denied, NULL));
	/* and nothing happened outside */
	ck_assert_int_eq(access(th_path(outside, "new"), F_OK), -1);
	ck_assert_int_eq(access(th_path(outside, "secret"), F_OK), 0);
}
END_TEST

static int
inside_works(const struct confine_status *st, void *arg)
{
	char buf[64];
	int fd;

	(void)st;
	(void)arg;
	/* what QUIT and the size cache do in a Maildir */
	fd = open(th_path(home, "alice/.pop3s-sizes.tmp"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	EXPECT(fd >= 0);
	EXPECT(write(fd, "x", 1) == 1 && fsync(fd) == 0 && ftruncate(fd, 0) == 0);
	close(fd);
	EXPECT(rename(th_path(home, "alice/.pop3s-sizes.tmp"), th_path(home, "alice/.pop3s-sizes")) == 0);
	EXPECT(rename(th_path(home, "alice/new/1.msg"), th_path(home, "alice/cur/1.msg:2,S")) == 0);
	fd = open(th_path(home, "alice/cur/1.msg:2,S"), O_RDONLY);
	EXPECT(fd >= 0 && read(fd, buf, sizeof(buf)) == 12);
	close(fd);
	EXPECT(unlink(th_path(home, "alice/cur/1.msg:2,S")) == 0);
	EXPECT(mkdir(th_path(home, "bob"), 0700) == 0);
	EXPECT(opendir(home) != NULL);
	/* the users file and the penalty table */
	fd = open(users, O_RDONLY);
	EXPECT(fd >= 0 && read(fd, buf, sizeof(buf)) == 8);
	close(fd);
	fd = open(penalty, O_RDONLY);
	EXPECT(fd >= 0);
	close(fd);
	return 0;
}

START_TEST(test_inside_allowed)
{
	struct confine_params p = params(NULL);

	assert_exit_ok(run_confined(&p, inside_works, NULL));
	ck_assert_int_eq(access(th_path(home, "alice/.pop3s-sizes"), F_OK), 0);
}
END_TEST

/* pop3sctl and the logger replace the users file and the penalty table by
 * rename(): the new inode must be readable too. */
struct sync {
	int ready[2], go[2];
};

static int
reads_replaced_files(const struct confine_status *st, void *arg)
{
	struct sync *s = arg;
	char buf[64] = "";
	int fd;

	(void)st;
	EXPECT(write(s->ready[1], "r", 1) == 1);
	EXPECT(read(s->go[0], buf, 1) == 1);
	fd = open(users, O_RDONLY);
	EXPECT(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 15);
	EXPECT(memcmp(buf, "alice:new-hash\n", 15) == 0);
	close(fd);
	fd = open(penalty, O_RDONLY);
	EXPECT(fd >= 0 && read(fd, buf, sizeof(buf) - 1) == 3);
	close(fd);
	return 0;
}

START_TEST(test_replaced_files_readable)
{
	struct confine_params p = params(NULL);
	struct sync s;
	int status;
	pid_t pid;
	char c;

	ck_assert_int_eq(pipe(s.ready), 0);
	ck_assert_int_eq(pipe(s.go), 0);
	pid = fork_confined(&p, reads_replaced_files, &s);
	ck_assert_int_eq(read(s.ready[0], &c, 1), 1);
	/* the child is confined now: replace both files */
	th_write_file(th_path(dir, "etc/users.new"), "alice:new-hash\n", 15);
	ck_assert_int_eq(rename(th_path(dir, "etc/users.new"), users), 0);
	th_write_file(th_path(dir, "run/p.new"), "new", 3);
	ck_assert_int_eq(rename(th_path(dir, "run/p.new"), penalty), 0);
	ck_assert_int_eq(write(s.go[1], "g", 1), 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	assert_exit_ok(status);
	close(s.ready[0]), close(s.ready[1]), close(s.go[0]), close(s.go[1]);
}
END_TEST

/* --- system calls ------------------------------------------------------- */

static int
calls_denied(const struct confine_status *st, void *arg)
{
	static char *const argv[] = { "/bin/true", NULL };

	(void)arg;
	DENIED(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	DENIED(socket(AF_INET6, SOCK_DGRAM, 0), EPERM);
	DENIED(socket(AF_UNIX, SOCK_STREAM, 0), EPERM);
	DENIED(socket(AF_NETLINK, SOCK_RAW, 0), EPERM);
	DENIED(execve(argv[0], argv, argv + 1), EPERM);
	DENIED(syscall(SYS_execveat, AT_FDCWD, argv[0], argv, argv + 1, 0), EPERM);
	DENIED(mount("none", "/mnt", "tmpfs", 0, NULL), EPERM);
	DENIED(syscall(SYS_unshare, 0), EPERM);
#ifndef CONFINE_SANITIZER
	/* (the leak checker of sanitizer builds needs these) */
	DENIED(prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), EPERM);
	DENIED(ptrace(PTRACE_ATTACH, (pid_t)INT_MAX, NULL, NULL), EPERM);
	DENIED(fork(), EPERM);
#endif
	/* glibc falls back from these to older calls on ENOSYS */
	DENIED(syscall(SYS_clone3, NULL, 0), ENOSYS);
	/* scoped signals (Landlock ABI >= 6): none to processes outside */
	if (st->landlock_abi >= 6)
		DENIED(kill(getppid(), 0), EPERM);
	/* still allowed: what a session does all the time */
	EXPECT(getpid() > 0 && write(STDERR_FILENO, "", 0) == 0);
	return 0;
}

START_TEST(test_calls_denied)
{
	struct confine_params p = params(NULL);

	assert_exit_ok(run_confined(&p, calls_denied, NULL));
}
END_TEST

#if defined(__x86_64__) && !defined(__ILP32__)
static int
x32_call(const struct confine_status *st, void *arg)
{
	(void)st;
	(void)arg;
	syscall(0x40000000 | SYS_getpid);  /* __X32_SYSCALL_BIT */
	return 0;  /* not reached: killed */
}

static long
int80_getpid(void)
{
	long ret;

	__asm__ volatile("int $0x80" : "=a"(ret) : "a"(20L) : "memory");  /* i386 getpid */
	return ret;
}

static int
i386_call(const struct confine_status *st, void *arg)
{
	(void)st;
	(void)arg;
	(void)int80_getpid();
	return 0;  /* not reached: killed */
}

START_TEST(test_foreign_arch_killed)
{
	struct confine_params p = params(NULL);
	int status;
	pid_t pid;

	status = run_confined(&p, x32_call, NULL);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	              "an x32 call must kill the process (status %#x)", status);
	/* the 32-bit entry, if this kernel has it */
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0)
		_exit(int80_getpid() == (long)getpid() ? 0 : 1);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return;  /* no IA-32 emulation here */
	status = run_confined(&p, i386_call, NULL);
	ck_assert_msg(WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS,
	              "an i386 call must kill the process (status %#x)", status);
}
END_TEST
#endif

/* --- FILTER= ------------------------------------------------------------ */

/* Runs path in a child; returns its exit status, or 200 + errno. */
static int
spawn(const char *path)
{
	char *const argv[] = { (char *)path, NULL };
	char *const envp[] = { NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0)
		return 200 + errno;
	if (pid == 0) {
		execve(path, argv, envp);
		_exit(errno == EACCES ? 101 : errno == EPERM ? 102 : 103);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return 199;
	return WEXITSTATUS(status);
}

static int
filter_exec(const struct confine_status *st, void *arg)
{
	char prog[PATH_MAX];
	int fd;

	(void)arg;
	EXPECT(st->filter_variant);
	snprintf(prog, sizeof(prog), "%s/bin/filter", dir);
	EXPECT(spawn(prog) == 0);                               /* the filter */
	EXPECT(spawn(th_path(outside, "other")) == 101);        /* EACCES */
	if (access("/usr/bin/true", X_OK) == 0)
		EXPECT(spawn("/usr/bin/true") == 0);            /* /usr: libraries, interpreters */
	/* the spool directory is read-write, /dev/null too; other places not */
	fd = open(outside, O_TMPFILE | O_RDWR, 0600);
	EXPECT(fd >= 0);
	close(fd);
	fd = open("/dev/null", O_WRONLY);
	EXPECT(fd >= 0);
	close(fd);
	DENIED(open(th_path(dir, "etc/x"), O_WRONLY | O_CREAT, 0600), EACCES);
	DENIED(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	return 0;
}

START_TEST(test_filter_variant)
{
	struct confine_params p;
	char prog[PATH_MAX], cmd[PATH_MAX + 16];
	size_t len;
	char *exe = th_read_file("/bin/true", &len);

	if (!have_landlock())
		return;
	/* two copies of /bin/true outside /usr: only the configured one runs */
	snprintf(prog, sizeof(prog), "%s/bin/filter", dir);
	th_write_file(prog, exe, len);
	th_write_file(th_path(outside, "other"), exe, len);
	free(exe);
	ck_assert_int_eq(chmod(prog, 0755), 0);
	ck_assert_int_eq(chmod(th_path(outside, "other"), 0755), 0);
	snprintf(cmd, sizeof(cmd), "%s --flag", prog);
	/* the spool directory is "outside" here; "other" is in it but not
	 * executable for the session (no EXECUTE in the spool directory) */
	p = params(cmd);
	assert_exit_ok(run_confined(&p, filter_exec, NULL));
}
END_TEST

/* --- LANDLOCK= on a kernel without Landlock ------------------------------ */

/* --- after login: the mailbox layer ---------------------------------- */

struct mailbox_arg {
	const struct confine_params *p;
	bool filter;
};

static int
only_own_mailbox(const struct confine_status *st, void *arg)
{
	const struct mailbox_arg *m = arg;
	char err[256];
	DIR *d;
	int fd;

	fd = open(th_path(home, "alice"), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	EXPECT(fd >= 0);
	/* before: bob's mailbox is reachable (HOME is read-write) */
	EXPECT((d = opendir(th_path(home, "bob"))) != NULL);
	closedir(d);
	EXPECT(confine_mailbox(m->p, st, fd, err, sizeof(err)) == 0);
	/* alice's own mail: read, write, rename, delete, as a session does */
	fd = openat(fd, "new/1.msg", O_RDONLY | O_CLOEXEC);
	EXPECT(fd >= 0);
	close(fd);
	fd = open(th_path(home, "alice/tmp.cache"), O_WRONLY | O_CREAT | O_EXCL, 0600);
	EXPECT(fd >= 0);
	close(fd);
	EXPECT(rename(th_path(home, "alice/tmp.cache"), th_path(home, "alice/cache")) == 0);
	EXPECT(unlink(th_path(home, "alice/cache")) == 0);
	EXPECT(rename(th_path(home, "alice/new/1.msg"), th_path(home, "alice/cur/1.msg:2,")) == 0);
	/* everyone else's: nothing */
	DENIED(open(th_path(home, "bob/new/2.msg"), O_RDONLY), EACCES);
	DENIED(opendir(th_path(home, "bob")) == NULL ? -1 : 0, EACCES);
	DENIED(unlink(th_path(home, "bob/new/2.msg")), EACCES);
	DENIED(opendir(home) == NULL ? -1 : 0, EACCES);
	DENIED(open(th_path(home, "carol"), O_WRONLY | O_CREAT, 0600), EACCES);
	DENIED(mkdir(th_path(home, "carol"), 0700), EACCES);
	errno = 0;
	EXPECT(rename(th_path(home, "alice/cur/1.msg:2,"), th_path(home, "bob/new/3.msg")) < 0 &&
	       (errno == EACCES || errno == EXDEV));
	/* the rest of the confinement stands (FILTER= spools in outside) */
	if (!m->filter) {
		DENIED(open(th_path(outside, "secret"), O_RDONLY), EACCES);
		DENIED(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	}
	DENIED(opendir("/") == NULL ? -1 : 0, EACCES);
	/* no more logins: the users and penalty files are closed to it */
	DENIED(open(users, O_RDONLY), EACCES);
	DENIED(open(penalty, O_RDONLY), EACCES);
	return 0;
}

/* _i 0: the normal filter; 1: with FILTER= (its wider rules stay). */
START_TEST(test_mailbox_layer)
{
	struct confine_params p = params(_i == 0 ? NULL : "/bin/cat");
	struct mailbox_arg m = { &p, _i == 1 };

	if (!have_landlock())
		return;
	th_write_file(th_path(home, "bob/new/2.msg"), "From: b\n\nbob's\n", 15);
	assert_exit_ok(run_confined(&p, only_own_mailbox, &m));
}
END_TEST

static int
mailbox_without_landlock(const struct confine_status *st, void *arg)
{
	struct confine_status none = *st;
	char err[256];
	int fd = open(home, O_RDONLY | O_DIRECTORY);

	(void)arg;
	none.landlock_abi = 0;
	EXPECT(confine_mailbox(arg, &none, fd, err, sizeof(err)) == 0);
	return 0;
}

START_TEST(test_mailbox_layer_no_landlock)
{
	struct confine_params p = params(NULL);

	/* nothing to narrow: not an error */
	assert_exit_ok(run_confined(&p, mailbox_without_landlock, &p));
}
END_TEST

/* A seccomp filter that makes landlock_create_ruleset() fail with e, as
 * a kernel without Landlock (ENOSYS), one booted without it in lsm=
 * (EOPNOTSUPP) or a container manager's system-call filter (EPERM) would;
 * with seccomp_too, seccomp() as well, as systemd's
 * SystemCallFilter=@system-service with SystemCallErrorNumber=EPERM does. */
static void
refuse_calls(int e, bool seccomp_too)
{
	struct sock_filter f[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K,
		         seccomp_too ? SYS_seccomp : SYS_landlock_create_ruleset, 2, 0),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_landlock_create_ruleset, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | (unsigned)e),
	};
	struct sock_fprog prog = { sizeof(f) / sizeof(f[0]), f };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
	    syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0)
		_exit(3);
}

static const struct {
	int err;
	const char *why;
} no_landlock[] = {
	{ ENOSYS, "(not built in)" },
	{ EOPNOTSUPP, "(disabled at boot, see lsm=)" },
	{ EPERM, "(blocked by a system call filter)" },
};

/* Forks a child that makes landlock_create_ruleset() (with seccomp_too,
 * seccomp() too) fail with e, then confines itself with p. It writes the
 * error or the warning into msg and exits 10 if confine_apply() failed
 * with -e (11 with another error), else with what check() returns. */
static int
run_refused(struct confine_params p, int e, bool seccomp_too, confined_fn check, char *msg,
            size_t len)
{
	int fds[2], status;
	pid_t pid;

	ck_assert_int_eq(pipe(fds), 0);
	fflush(NULL);
	pid = fork();
	ck_assert_int_ge(pid, 0);
	if (pid == 0) {
		struct confine_status st;
		char err[256];
		int r;

		refuse_calls(e, seccomp_too);
		r = confine_apply(&p, &st, err, sizeof(err));
		(void)!write(fds[1], r < 0 ? err : st.warning, strlen(r < 0 ? err : st.warning));
		_exit(r < 0 ? (r == -e ? 10 : 11) : check(&st, NULL));
	}
	close(fds[1]);
	memset(msg, 0, len);
	ck_assert_int_gt(read(fds[0], msg, len - 1), 0);
	close(fds[0]);
	ck_assert_int_eq(waitpid(pid, &status, 0), pid);
	return status;
}

/* Served without Landlock: seccomp and no_new_privs in force. */
static int
served_without_landlock(const struct confine_status *st, void *arg)
{
	int fd;

	(void)arg;
	EXPECT(st->landlock_abi == 0 && st->seccomp == CONFINE_SECCOMP_OWN && st->no_new_privs);
	fd = open("/etc/passwd", O_RDONLY);  /* no Landlock: readable */
	EXPECT(fd >= 0);
	DENIED(socket(AF_INET, SOCK_STREAM, 0), EPERM);
	return 0;
}

/* Each reason, with LANDLOCK=required (even rows: refused, naming the
 * kernel and the reason) and auto (odd rows: served with seccomp and
 * no_new_privs, and a warning). */
START_TEST(test_landlock_missing)
{
	struct confine_params p = params(NULL);
	int e = no_landlock[_i / 2].err;
	char msg[512];

	p.landlock_required = _i % 2 == 0;
	assert_exit_is(run_refused(p, e, false, served_without_landlock, msg, sizeof(msg)),
	               p.landlock_required ? 10 : 0);
	ck_assert_msg(strstr(msg, no_landlock[_i / 2].why) != NULL, "got: %s", msg);
	if (p.landlock_required) {
		ck_assert_msg(strstr(msg, "LANDLOCK=required but no Landlock on kernel ") != NULL, "got: %s", msg);
		ck_assert_msg(strstr(msg, "not serving") != NULL, "got: %s", msg);
	} else {
		ck_assert_msg(strstr(msg, "no Landlock on kernel ") != NULL, "got: %s", msg);
		ck_assert_msg(strstr(msg, "serving with seccomp and no_new_privs") != NULL, "got: %s", msg);
	}
}
END_TEST

/* Served under the filter already in place, not its own. */
static int
served_under_outer_filter(const struct confine_status *st, void *arg)
{
	(void)arg;
	EXPECT(st->seccomp == CONFINE_SECCOMP_OUTER && st->no_new_privs && st->landlock_abi == 0);
	return 0;
}

/* A filter already in place refuses seccomp() and Landlock: with EPERM
 * (_i 0) the session serves under it and says so; with another error
 * (EACCES, _i 1) it does not serve. */
START_TEST(test_outer_filter)
{
	char msg[1024];

	if (!confine_have_seccomp())
		return;
	assert_exit_is(run_refused(params(NULL), _i == 0 ? EPERM : EACCES, true,
	                           served_under_outer_filter, msg, sizeof(msg)),
	               _i == 0 ? 0 : 10);
	if (_i == 0) {
		ck_assert_msg(strstr(msg, "(blocked by a system call filter)") != NULL, "got: %s", msg);
		ck_assert_msg(strstr(msg, "; seccomp() refused by the unit's system-call filter: serving "
		                          "under that filter") != NULL, "got: %s", msg);
		ck_assert_msg(strstr(msg, "SystemCallFilter=seccomp landlock_create_ruleset") != NULL,
		              "got: %s", msg);
	} else {
		ck_assert_msg(strstr(msg, "landlock_create_ruleset: Permission denied") != NULL ||
		              strstr(msg, "seccomp: Permission denied") != NULL, "got: %s", msg);
	}
}
END_TEST

static Suite *
confine_suite(void)
{
	Suite *s = suite_create("confine");
	TCase *tc = tcase_create("Core");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_outside_denied);
	tcase_add_test(tc, test_inside_allowed);
	tcase_add_test(tc, test_replaced_files_readable);
	tcase_add_test(tc, test_calls_denied);
#if defined(__x86_64__) && !defined(__ILP32__)
	tcase_add_test(tc, test_foreign_arch_killed);
#endif
	tcase_add_test(tc, test_filter_variant);
	tcase_add_loop_test(tc, test_outer_filter, 0, 2);
	tcase_add_loop_test(tc, test_mailbox_layer, 0, 2);
	tcase_add_test(tc, test_mailbox_layer_no_landlock);
	tcase_add_loop_test(tc, test_landlock_missing, 0, 2 * sizeof(no_landlock) / sizeof(no_landlock[0]));
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(confine_suite)
