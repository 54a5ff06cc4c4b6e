/* The message filter: fork, execve without a shell, the message file as the
 * child's stdin, its stdout through a pipe into an unlinked spool file.
 *
 * The child reads the message file directly, so nothing we do depends on
 * whether or when it reads: a filter that never reads its input cannot
 * deadlock us, and the parent only has one descriptor to watch. The child
 * gets its own process group, so on a timeout or an overflow everything it
 * started dies with it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "fdio.h"
#include "filter.h"
#include "monotime.h"

#define FILTER_ARGV_MAX 32       /* words in FILTER=, the program included */
#define FILTER_COMMAND_MAX 1024  /* as config.h's filter[] */
#define FILTER_CHUNK 16384
#define FILTER_DEFAULT_TMPDIR "/tmp"
#define REAP_POLL_NS 5000000L    /* 5 ms between checks for the child's exit */

static int __attribute__((format(printf, 4, 5)))
fail(int err, char *why, size_t whylen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, whylen, fmt, ap);
	va_end(ap);
	return err;
}

/* Splits cmd (copied into buf) on spaces into argv. */
static int
split_command(const char *cmd, char *buf, size_t buflen, char **argv, char *why, size_t whylen)
{
	size_t argc = 0;
	char *p;

	if (strlen(cmd) >= buflen)
		return fail(-E2BIG, why, whylen, "filter command longer than %zu characters", buflen - 1);
	memcpy(buf, cmd, strlen(cmd) + 1);
	for (p = strtok(buf, " "); p != NULL; p = strtok(NULL, " ")) {
		if (argc == FILTER_ARGV_MAX)
			return fail(-E2BIG, why, whylen, "filter command has more than %d words",
			            FILTER_ARGV_MAX);
		argv[argc++] = p;
	}
	argv[argc] = NULL;
	if (argc == 0 || argv[0][0] != '/')
		return fail(-EINVAL, why, whylen, "filter command does not start with an absolute path");
	return 0;
}

/* An unlinked read-write file in dir: the spool disappears with the last
 * descriptor, whatever happens to the session. */
static int
open_spool(const char *dir, char *why, size_t whylen)
{
	char path[4096];
	int fd, n;

	fd = open(dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	if (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL)
		return fail(-errno, why, whylen, "cannot create a spool file in %s: %s", dir,
		            strerror(errno));
	n = snprintf(path, sizeof(path), "%s/pop3s-filter.XXXXXX", dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return fail(-ENAMETOOLONG, why, whylen, "spool directory name too long");
	fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return fail(-errno, why, whylen, "cannot create a spool file in %s: %s", dir,
		            strerror(errno));
	unlink(path);
	return fd;
}

/* Moves fd to a descriptor >= 3 so the dup2() calls onto 0..2 cannot
 * overwrite one another. Child only: async-signal-safe. */
static int
lift_fd(int fd)
{
	return fd >= 3 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 3);
}

static void
close_from(int lowfd)
{
#ifdef SYS_close_range
	if (syscall(SYS_close_range, (unsigned)lowfd, ~0u, 0u) == 0)
		return;
#endif
	for (int fd = lowfd; fd < 65536; fd++)
		close(fd);
}

/* In the child, between fork and exec: async-signal-safe calls only. On
 * failure the errno goes to the parent through errfd (close-on-exec, so
 * a successful exec closes it empty). */
static void __attribute__((noreturn))
child(char **argv, int in_fd, int out_fd, int err_fd)
{
	static char *const envp[] = { "PATH=/usr/bin:/bin", NULL };
	struct rlimit nocore = { 0, 0 };
	struct sigaction dfl;
	sigset_t none;
	int null_fd, e, sig;

	setpgid(0, 0);
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	/* Ignored signals (SIGPIPE in the session) stay ignored across exec. */
	for (sig = 1; sig < NSIG; sig++)
		sigaction(sig, &dfl, NULL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	setrlimit(RLIMIT_CORE, &nocore);

	err_fd = lift_fd(err_fd);
	if (err_fd < 0)
		_exit(127);
	in_fd = lift_fd(in_fd);
	out_fd = lift_fd(out_fd);
	null_fd = open("/dev/null", O_WRONLY);
	if (in_fd < 0 || out_fd < 0 || null_fd < 0 ||
	    dup2(in_fd, 0) < 0 || dup2(out_fd, 1) < 0 || dup2(null_fd, 2) < 0)
		goto out;
	if (err_fd != 3) {
		if (dup2(err_fd, 3) < 0)
			goto out;
		err_fd = 3;
		if (fcntl(3, F_SETFD, FD_CLOEXEC) < 0)
			goto out;
	}
	close_from(4);
	execve(argv[0], argv, envp);
out:
	e = errno;
	(void)!write(err_fd, &e, sizeof(e));
	_exit(127);
}

struct run {
	pid_t pid;
	int out;            /* read end of the child's stdout */
	int spool;
	uint64_t written;
	uint64_t deadline;  /* monotonic ms */
	const volatile sig_atomic_t *cancel;
};

static bool
cancelled(const struct run *rn)
{
	return rn->cancel != NULL && *rn->cancel != 0;
}

/* Copies the child's stdout to the spool until EOF. Returns 0, -ETIMEDOUT,
 * -EFBIG (more than max bytes) or -errno. */
static int
pump(struct run *rn, uint64_t max)
{
	char buf[FILTER_CHUNK];

	for (;;) {
		struct pollfd p = { .fd = rn->out, .events = POLLIN };
		uint64_t now = monotime_ms();
		ssize_t n;
		int r;

		/* The stop signal interrupts poll() (EINTR), so this is seen at
		 * once. */
		if (cancelled(rn))
			return -ECANCELED;
		if (now >= rn->deadline)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)(rn->deadline - now));
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		n = read(rn->out, buf, sizeof(buf));
		if (n < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		if ((uint64_t)n > max - rn->written)
			return -EFBIG;
		r = fd_write_all(rn->spool, buf, (size_t)n);
		if (r < 0)
			return r;
		rn->written += (uint64_t)n;
	}
}

/* Waits until the child has exited (it may have closed stdout and still be
 * running) or the deadline passes, without reaping it: while it is a
 * zombie its pid, and so its process group id, cannot be reused, so the
 * group can safely be killed before the reap. Returns 0 or -ETIMEDOUT. */
static int
wait_exit(const struct run *rn)
{
	for (;;) {
		siginfo_t si;
		struct timespec nap = { 0, REAP_POLL_NS };

		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)rn->pid, &si, WEXITED | WNOHANG | WNOWAIT) == 0 &&
		    si.si_pid == rn->pid)
			return 0;
		if (cancelled(rn))
			return -ECANCELED;
		if (monotime_ms() >= rn->deadline)
			return -ETIMEDOUT;
		nanosleep(&nap, NULL);
	}
}

/* Kills whatever is left of the child's process group and reaps the child.
 * Returns its wait status. */
static int
finish_child(pid_t pid)
{
	int status = 0;

	kill(-pid, SIGKILL);
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return status;
}

/* The exec error the child reported, or 0 if the exec succeeded. */
static int
exec_error(int err_fd)
{
	int e;

	if (read(err_fd, &e, sizeof(e)) == (ssize_t)sizeof(e))
		return e;
	return 0;
}

static int
judge(const struct filter_config *fc, const char *prog, int pumped, int status, int exec_err,
      char *why, size_t whylen)
{
	if (exec_err)
		return fail(-exec_err, why, whylen, "cannot run %s: %s", prog, strerror(exec_err));
	if (pumped == -ECANCELED)
		return fail(-ECANCELED, why, whylen, "filter cancelled: the session is stopping");
	if (pumped == -ETIMEDOUT)
		return fail(-ETIMEDOUT, why, whylen, "filter timed out after %u ms", fc->timeout_ms);
	if (pumped == -EFBIG)
		return fail(-EFBIG, why, whylen, "filter output exceeds %" PRIu64 " bytes",
		            fc->max_bytes);
	if (pumped < 0)
		return fail(pumped, why, whylen, "cannot spool the filter output: %s",
		            strerror(-pumped));
	if (WIFSIGNALED(status))
		return fail(-EIO, why, whylen, "filter killed by signal %d", WTERMSIG(status));
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return fail(-EIO, why, whylen, "filter exited with status %d", WEXITSTATUS(status));
	return 0;
}

/* Runs the started child to its end; returns as filter_run does. */
static int
supervise(const struct filter_config *fc, struct run *rn, const char *prog, int err_fd,
          char *why, size_t whylen)
{
	int pumped, status;

	pumped = pump(rn, fc->max_bytes);
	/* On success, give the child the rest of the time to exit. */
	if (pumped == 0)
		pumped = wait_exit(rn);
	status = finish_child(rn->pid);
	return judge(fc, prog, pumped, status, exec_error(err_fd), why, whylen);
}

int
filter_run(const struct filter_config *fc, int in_fd, int *ret_fd, char *why, size_t whylen)
{
	char cmd[FILTER_COMMAND_MAX];
	char *argv[FILTER_ARGV_MAX + 1];
	int outp[2] = { -1, -1 }, errp[2] = { -1, -1 };
	struct run rn = { .pid = -1, .out = -1, .spool = -1 };
	int r;

	why[0] = '\0';
	if (fc->command == NULL || fc->command[0] == '\0')
		return fail(-EINVAL, why, whylen, "no filter configured");
	r = split_command(fc->command, cmd, sizeof(cmd), argv, why, whylen);
	if (r < 0)
		return r;
	if (lseek(in_fd, 0, SEEK_SET) < 0)
		return fail(-errno, why, whylen, "cannot rewind the message: %s", strerror(errno));
	rn.spool = open_spool(fc->tmpdir ? fc->tmpdir : FILTER_DEFAULT_TMPDIR, why, whylen);
	if (rn.spool < 0)
		return rn.spool;
	if (pipe2(outp, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0) {
		r = fail(-errno, why, whylen, "cannot make a pipe: %s", strerror(errno));
		goto out;
	}
	rn.deadline = monotime_ms() + fc->timeout_ms;
	rn.cancel = fc->cancel;
	rn.pid = fork();
	if (rn.pid < 0) {
		r = fail(-errno, why, whylen, "cannot fork: %s", strerror(errno));
		goto out;
	}
	if (rn.pid == 0)
		child(argv, in_fd, outp[1], errp[1]);
	/* Also here, so the group exists before any kill(-pid). */
	setpgid(rn.pid, rn.pid);
	close(outp[1]);
	close(errp[1]);
	outp[1] = errp[1] = -1;
	rn.out = outp[0];
	r = supervise(fc, &rn, argv[0], errp[0], why, whylen);
	if (r == 0 && lseek(rn.spool, 0, SEEK_SET) < 0)
		r = fail(-errno, why, whylen, "cannot rewind the spool file: %s", strerror(errno));
out:
	if (outp[0] >= 0)
		close(outp[0]);
	if (outp[1] >= 0)
		close(outp[1]);
	if (errp[0] >= 0)
		close(errp[0]);
	if (errp[1] >= 0)
		close(errp[1]);
	if (r < 0) {
		close(rn.spool);
		return r;
	}
	*ret_fd = rn.spool;
	return 0;
}
