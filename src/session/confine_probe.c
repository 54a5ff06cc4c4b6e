/* pop3s-session -T: each probe tries one thing a compromised session might
 * want, for real, and reports whether the kernel let it. Expected: all
 * denied but the two in HOME; with FILTER= set, what the filter's
 * widening allows (CONFINEMENT in pop3s-session(8)). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "confine_probe.h"
#include "fdio.h"

struct report {
	int fd;
	unsigned failed;
	bool write_error;
};

static void __attribute__((format(printf, 2, 3)))
say(struct report *rp, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(line))
		n = (int)strlen(line);
	if (fd_write_all(rp->fd, line, (size_t)n) < 0)
		rp->write_error = true;
}

/* err: 0 if the operation succeeded, else its errno; allow: success is
 * the expected outcome; note: said after "allowed" (NULL: nothing);
 * counts = false for a probe reported but not judged. */
static void
outcome(struct report *rp, const char *name, int err, bool allow, const char *note, bool counts)
{
	if (err != 0)
		say(rp, "PROBE %s: denied (%s)\n", name, strerror(err));
	else if (note != NULL)
		say(rp, "PROBE %s: allowed (%s)\n", name, note);
	else
		say(rp, "PROBE %s: allowed\n", name);
	if (counts && (err == 0) != allow)
		rp->failed++;
}

static int
try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);

	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

/* exec of /bin/true, in a child if fork is allowed (FILTER=, sanitizer
 * builds), else in this very process: a successful exec then replaces it
 * and the report ends without PROBE-END, which is a failure too. */
static int
try_exec(void)
{
	static char *const argv[] = { "/bin/true", NULL };
	static char *const envp[] = { NULL };
	int status;
	pid_t pid = fork();

	if (pid < 0) {
		execve(argv[0], argv, envp);
		return errno;
	}
	if (pid == 0) {
		execve(argv[0], argv, envp);
		_exit(errno > 0 && errno < 256 ? errno : 255);
	}
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return errno;
	if (!WIFEXITED(status))
		return ECHILD;
	return WEXITSTATUS(status);
}

static const char *
seccomp_word(enum confine_seccomp s)
{
	switch (s) {
	case CONFINE_SECCOMP_OWN:
		return "on";
	case CONFINE_SECCOMP_OUTER:
		return "outer";
	case CONFINE_SECCOMP_OFF:
		break;
	}
	return "off";
}

int
confine_probe(int fd, const struct confine_params *p, const struct confine_status *st)
{
	struct report rp = { fd, 0, false };
	bool filter = st->filter_variant;
	bool tmp_widened = filter && strcmp(p->filter_tmpdir ? p->filter_tmpdir : "/tmp", "/tmp") == 0;
	const char *widening = "FILTER= widening";
	char path[PATH_MAX], abi[12];
	DIR *d;
	int e;

	snprintf(abi, sizeof(abi), "%d", st->landlock_abi);
	say(&rp, "CONFINEMENT landlock=%s seccomp=%s no_new_privs=%s\n",
	    st->landlock_abi > 0 ? abi : "off", seccomp_word(st->seccomp),
	    st->no_new_privs ? "on" : "off");

	/* With FILTER=, /etc is readable and only file permissions keep
	 * /etc/shadow: reported, not judged (a session never runs as root). */
	outcome(&rp, "read_shadow", try_open("/etc/shadow", O_RDONLY), false,
	        filter ? "FILTER= widening, file permissions only" : NULL, !filter);
	/* world-readable: only Landlock stands in the way */
	outcome(&rp, "read_outside", try_open("/etc/passwd", O_RDONLY), filter,
	        filter ? widening : NULL, true);

	snprintf(path, sizeof(path), "/tmp/pop3s-probe.%ld", (long)getpid());
	e = try_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW);
	if (e == 0)
		unlink(path);
	outcome(&rp, "write_outside", e, tmp_widened, tmp_widened ? widening : NULL, true);
	e = mkdir(path, 0700) < 0 ? errno : 0;
	if (e == 0)
		unlinkat(AT_FDCWD, path, AT_REMOVEDIR);  /* rmdir is not on the list */
	outcome(&rp, "mkdir_outside", e, tmp_widened, tmp_widened ? widening : NULL, true);

	e = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	outcome(&rp, "socket_inet", e < 0 ? errno : (close(e), 0), false, NULL, true);
	e = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	outcome(&rp, "socket_unix", e < 0 ? errno : (close(e), 0), false, NULL, true);

	outcome(&rp, "exec", try_exec(), filter, filter ? widening : NULL, true);

	/* A pid that cannot exist: the kernel itself would answer ESRCH, so
	 * any other error is the filter's refusal, and no process is ever
	 * stopped by this probe. */
	e = ptrace(PTRACE_ATTACH, (pid_t)INT_MAX, NULL, NULL) < 0 ? errno : 0;
	if (e == ESRCH)
		e = 0;
#ifdef CONFINE_SANITIZER
	outcome(&rp, "ptrace", e, false, e == 0 ? "sanitizer build" : NULL, false);
#else
	outcome(&rp, "ptrace", e, false, NULL, true);
#endif

	snprintf(path, sizeof(path), "%s/.pop3s-probe.%ld", p->home, (long)getpid());
	e = try_open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW);
	if (e == 0 && unlink(path) < 0)
		e = errno;
	outcome(&rp, "home_write", e, true, NULL, true);
	d = opendir(p->home);
	e = d == NULL ? errno : (closedir(d), 0);
	outcome(&rp, "home_read", e, true, NULL, true);

	if (rp.failed == 0)
		say(&rp, "PROBE-END ok\n");
	else
		say(&rp, "PROBE-END failed %u\n", rp.failed);
	return rp.failed == 0 && !rp.write_error ? 0 : 1;
}
