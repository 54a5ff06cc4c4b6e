/* A session confines itself: no_new_privs, Landlock, one seccomp filter
 * compiled into the program (see confine.h). Raw system calls only: no
 * libseccomp, and Landlock constants newer than the build host's headers
 * are defined here. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/landlock.h>
#include <linux/seccomp.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include "confine.h"

/* --- Landlock: constants beyond Debian 12's headers (ABI 1-2) -------- */
#ifndef LANDLOCK_ACCESS_FS_REFER
#define LANDLOCK_ACCESS_FS_REFER (1ULL << 13)
#endif
#ifndef LANDLOCK_ACCESS_FS_TRUNCATE
#define LANDLOCK_ACCESS_FS_TRUNCATE (1ULL << 14)
#endif
#ifndef LANDLOCK_ACCESS_FS_IOCTL_DEV
#define LANDLOCK_ACCESS_FS_IOCTL_DEV (1ULL << 15)
#endif
#ifndef LANDLOCK_ACCESS_NET_BIND_TCP
#define LANDLOCK_ACCESS_NET_BIND_TCP (1ULL << 0)
#define LANDLOCK_ACCESS_NET_CONNECT_TCP (1ULL << 1)
#endif
#ifndef LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET
#define LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET (1ULL << 0)
#define LANDLOCK_SCOPE_SIGNAL (1ULL << 1)
#endif
#ifndef LANDLOCK_CREATE_RULESET_VERSION
#define LANDLOCK_CREATE_RULESET_VERSION (1U << 0)
#endif
#ifndef MQUEUE_MAGIC
#define MQUEUE_MAGIC 0x19800202
#endif

/* The ruleset attribute as of ABI 6; older kernels get a prefix of it. */
struct ll_ruleset_attr {
	uint64_t handled_access_fs;
	uint64_t handled_access_net;  /* ABI 4 */
	uint64_t scoped;              /* ABI 6 */
};

#define FS_ABI1 ((1ULL << 13) - 1)  /* EXECUTE .. MAKE_SYM */
#define FS_RW_EXCLUDED (LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_MAKE_CHAR | \
	LANDLOCK_ACCESS_FS_MAKE_BLOCK | LANDLOCK_ACCESS_FS_MAKE_FIFO | LANDLOCK_ACCESS_FS_MAKE_SOCK)

/* --- seccomp: the program, built by the compiler ---------------------- */
#if defined(__x86_64__) && !defined(__ILP32__)
#define CONFINE_AUDIT_ARCH AUDIT_ARCH_X86_64
#define CONFINE_X32_BIT 0x40000000U  /* __X32_SYSCALL_BIT */
#elif defined(__aarch64__)
#define CONFINE_AUDIT_ARCH AUDIT_ARCH_AARCH64
#elif defined(__i386__)
#define CONFINE_AUDIT_ARCH AUDIT_ARCH_I386
#endif

#ifdef CONFINE_AUDIT_ARCH
/* Wrong architecture (a 32-bit call from a 64-bit process...): kill. */
#define BPF_HEAD_ARCH \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)), \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, CONFINE_AUDIT_ARCH, 1, 0), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS), \
	BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr))
#ifdef CONFINE_X32_BIT
/* x32 calls share the x86-64 audit arch; they are told by this bit. */
#define BPF_HEAD BPF_HEAD_ARCH, \
	BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, CONFINE_X32_BIT, 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS)
#else
#define BPF_HEAD BPF_HEAD_ARCH
#endif
/* Two instructions a call: no jump ever exceeds the 8-bit offsets. */
#define BPF_ANSWER(nr, ret) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), BPF_STMT(BPF_RET | BPF_K, (ret))
#define SC(name) BPF_ANSWER(__NR_##name, SECCOMP_RET_ALLOW),
#define SC_ENOSYS(name) BPF_ANSWER(__NR_##name, SECCOMP_RET_ERRNO | ENOSYS),
#define BPF_TAIL BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM)

/* AddressSanitizer's leak check runs at exit: it stops the process with
 * a helper made by clone() that ptrace()s it and reads /proc/self (see
 * the Landlock side in add_sanitizer_rules). Only in sanitizer builds
 * (CONFINE_SANITIZER, confine.h). */
#ifdef CONFINE_SANITIZER
#ifdef __NR_getdents
#define SANITIZER_GETDENTS SC(getdents)  /* its thread list, on x86-64 */
#else
#define SANITIZER_GETDENTS
#endif
#define SANITIZER_CALLS SANITIZER_GETDENTS SC(clone) SC(ptrace) SC(wait4) SC(prctl) SC(sched_getaffinity) \
	SC(getppid) SC(readlink) SC(readlinkat) SC(kill) SC(set_robust_list) SC(rseq) \
	SC(set_tid_address) SC(sched_yield) SC(getrlimit) SC(setrlimit)
#else
#define SANITIZER_CALLS
#endif

static const struct sock_filter serve_filter[] = {
	BPF_HEAD,
#include "confine_syscalls.h"
	SANITIZER_CALLS
	BPF_TAIL
};

static const struct sock_filter filter_filter[] = {
	BPF_HEAD,
#include "confine_syscalls.h"
#define CONFINE_SYSCALLS_EXTRA
#include "confine_syscalls.h"
#undef CONFINE_SYSCALLS_EXTRA
	SANITIZER_CALLS
	BPF_TAIL
};
#undef SC
#undef SC_ENOSYS
#endif /* CONFINE_AUDIT_ARCH */

bool
confine_have_seccomp(void)
{
#ifdef CONFINE_AUDIT_ARCH
	return true;
#else
	return false;
#endif
}

static int __attribute__((format(printf, 3, 4)))
fail(char *err, size_t errlen, const char *fmt, ...)
{
	int e = errno;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return e > 0 ? -e : -EPERM;
}

/* Adds a sentence to st->warning ("; " between two). */
static void __attribute__((format(printf, 2, 3)))
add_warning(struct confine_status *st, const char *fmt, ...)
{
	size_t n = strlen(st->warning);
	va_list ap;

	if (n > 0 && n + 2 < sizeof(st->warning)) {
		memcpy(st->warning + n, "; ", 3);
		n += 2;
	}
	va_start(ap, fmt);
	vsnprintf(st->warning + n, sizeof(st->warning) - n, fmt, ap);
	va_end(ap);
}

int
confine_landlock_abi(void)
{
	long abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);

	return abi < 0 ? 0 : (int)abi;
}

/* Adds "beneath fd (named path in messages): access" to the ruleset. */
static int
add_rule_fd(int rfd, int fd, const char *path, uint64_t access, uint64_t handled, char *err,
            size_t errlen)
{
	struct landlock_path_beneath_attr pb;
	struct stat st;
	int r;

	/* Rights on a file: only those that apply to files. */
	if (fstat(fd, &st) == 0 && !S_ISDIR(st.st_mode))
		access &= LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_WRITE_FILE |
		          LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_TRUNCATE |
		          LANDLOCK_ACCESS_FS_IOCTL_DEV;
	memset(&pb, 0, sizeof(pb));
	pb.allowed_access = access & handled;
	pb.parent_fd = fd;
	r = pb.allowed_access == 0 ? 0
	    : (int)syscall(SYS_landlock_add_rule, rfd, LANDLOCK_RULE_PATH_BENEATH, &pb, 0);
	if (r < 0)
		r = fail(err, errlen, "landlock: rule for %s: %s", path, strerror(errno));
	return r;
}

/* Adds "beneath path: access" to the ruleset. A path that does not exist
 * gets no rule (nothing to allow); other errors are returned. */
static int
add_rule(int rfd, const char *path, uint64_t access, uint64_t handled, char *err, size_t errlen)
{
	int fd, r;

	fd = open(path, O_PATH | O_CLOEXEC);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		return fail(err, errlen, "landlock: %s: %s", path, strerror(errno));
	}
	r = add_rule_fd(rfd, fd, path, access, handled, err, errlen);
	close(fd);
	return r;
}

/* The directory holding path ("/" for "/x"), into buf. */
static const char *
dir_of(const char *path, char *buf, size_t len)
{
	const char *slash = strrchr(path, '/');
	size_t n = slash == NULL ? 0 : (size_t)(slash - path);

	if (n == 0)
		n = 1;
	if (n >= len)
		n = len - 1;
	memcpy(buf, path, n);
	buf[n] = '\0';
	return buf;
}

/* The filter program: the first word of FILTER=. */
static const char *
filter_program(const char *cmd, char *buf, size_t len)
{
	size_t n = strcspn(cmd, " ");

	if (n >= len)
		n = len - 1;
	memcpy(buf, cmd, n);
	buf[n] = '\0';
	return buf;
}

#ifdef CONFINE_SANITIZER
/* The leak check lists the threads in /proc/self/task and reads
 * /proc/self/maps at exit. */
static int
add_sanitizer_rules(int rfd, uint64_t handled, char *err, size_t errlen)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%ld", (long)getpid());
	return add_rule(rfd, path, LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR,
	                handled, err, errlen);
}
#endif

/* One Landlock layer: read-write beneath HOME and read in the users
 * file's and penalty file's directories; or, after login (home_fd not
 * -1), read-write beneath the user's mailbox directory home_fd alone.
 * Both with the log queue and FILTER='s rules. */
static int
apply_landlock(const struct confine_params *p, int abi, int home_fd, char *err, size_t errlen)
{
	struct ll_ruleset_attr attr;
	size_t attr_size = sizeof(attr.handled_access_fs);
	uint64_t fs = FS_ABI1, rw;
	char dir[4096], prog[1024];
	bool filter = p->filter != NULL && p->filter[0] != '\0';
	struct statfs sfs;
	int rfd, r = 0;

	memset(&attr, 0, sizeof(attr));
	if (abi >= 2)
		fs |= LANDLOCK_ACCESS_FS_REFER;
	if (abi >= 3)
		fs |= LANDLOCK_ACCESS_FS_TRUNCATE;
	if (abi >= 5)
		fs |= LANDLOCK_ACCESS_FS_IOCTL_DEV;
	attr.handled_access_fs = fs;
	if (abi >= 4) {
		/* Handled with no rule: no TCP bind or connect at all. */
		attr.handled_access_net = LANDLOCK_ACCESS_NET_BIND_TCP |
		                          LANDLOCK_ACCESS_NET_CONNECT_TCP;
		attr_size = offsetof(struct ll_ruleset_attr, scoped);
	}
	if (abi >= 6) {
		attr.scoped = LANDLOCK_SCOPE_ABSTRACT_UNIX_SOCKET | LANDLOCK_SCOPE_SIGNAL;
		attr_size = sizeof(attr);
	}
	rfd = (int)syscall(SYS_landlock_create_ruleset, &attr, attr_size, 0);
	if (rfd < 0)
		return fail(err, errlen, "landlock_create_ruleset (ABI %d): %s", abi, strerror(errno));

	rw = fs & ~FS_RW_EXCLUDED;
	if (home_fd >= 0) {
		/* After login neither the users file nor the penalty file is
		 * read again, and their directories might hold HOME. */
		r = add_rule_fd(rfd, home_fd, "the mailbox", rw, fs, err, errlen);
	} else {
		r = add_rule(rfd, p->home, rw, fs, err, errlen);
		if (r == 0)
			r = add_rule(rfd, dir_of(p->users, dir, sizeof(dir)),
			             LANDLOCK_ACCESS_FS_READ_FILE, fs, err, errlen);
		if (r == 0)
			r = add_rule(rfd, dir_of(p->penalty_file, dir, sizeof(dir)),
			             LANDLOCK_ACCESS_FS_READ_FILE, fs, err, errlen);
	}
	/* The log queue: reopened there if the logger was not up at start
	 * (mq_open checks Landlock on the queue's file system). */
	if (r == 0 && statfs("/dev/mqueue", &sfs) == 0 && sfs.f_type == MQUEUE_MAGIC)
		r = add_rule(rfd, "/dev/mqueue", LANDLOCK_ACCESS_FS_WRITE_FILE, fs, err, errlen);
	if (r == 0 && filter) {
		static const char *const sys_dirs[] = { "/usr", "/bin", "/lib", "/lib64", "/sbin" };
		uint64_t rx = LANDLOCK_ACCESS_FS_READ_FILE | LANDLOCK_ACCESS_FS_READ_DIR |
		              LANDLOCK_ACCESS_FS_EXECUTE;
		size_t i;

		r = add_rule(rfd, filter_program(p->filter, prog, sizeof(prog)),
		             LANDLOCK_ACCESS_FS_EXECUTE | LANDLOCK_ACCESS_FS_READ_FILE, fs, err, errlen);
		for (i = 0; r == 0 && i < sizeof(sys_dirs) / sizeof(sys_dirs[0]); i++)
			r = add_rule(rfd, sys_dirs[i], rx, fs, err, errlen);
		if (r == 0)
			r = add_rule(rfd, "/etc", LANDLOCK_ACCESS_FS_READ_FILE, fs, err, errlen);
		if (r == 0)
			r = add_rule(rfd, "/dev/null", LANDLOCK_ACCESS_FS_READ_FILE |
			             LANDLOCK_ACCESS_FS_WRITE_FILE, fs, err, errlen);
		if (r == 0)
			r = add_rule(rfd, p->filter_tmpdir ? p->filter_tmpdir : "/tmp", rw, fs,
			             err, errlen);
	}
#ifdef CONFINE_SANITIZER
	if (r == 0)
		r = add_sanitizer_rules(rfd, fs, err, errlen);
#endif
	if (r == 0 && syscall(SYS_landlock_restrict_self, rfd, 0) < 0)
		r = fail(err, errlen, "landlock_restrict_self: %s", strerror(errno));
	close(rfd);
	return r;
}

static int
apply_seccomp(bool filter, struct confine_status *st, char *err, size_t errlen)
{
#ifdef CONFINE_AUDIT_ARCH
	struct sock_fprog prog;

	if (filter) {
		prog.len = (unsigned short)(sizeof(filter_filter) / sizeof(filter_filter[0]));
		prog.filter = (struct sock_filter *)filter_filter;
	} else {
		prog.len = (unsigned short)(sizeof(serve_filter) / sizeof(serve_filter[0]));
		prog.filter = (struct sock_filter *)serve_filter;
	}
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) {
		int e = errno;

		/* The unit's own SystemCallFilter= (systemd 252 lists neither
		 * seccomp() nor Landlock's calls in any group) with
		 * SystemCallErrorNumber=EPERM: the process is filtered already,
		 * by the administrator's list; serve under it and say how to
		 * get both. */
		if (e != EPERM || prctl(PR_GET_SECCOMP, 0, 0, 0, 0) != 2)
			return fail(err, errlen, "seccomp: %s", strerror(e));
		st->seccomp = CONFINE_SECCOMP_OUTER;
		add_warning(st, "seccomp() refused by the unit's system-call filter: serving under "
		            "that filter, not pop3s's own; add SystemCallFilter=seccomp "
		            "landlock_create_ruleset landlock_add_rule landlock_restrict_self");
		return 0;
	}
	st->seccomp = CONFINE_SECCOMP_OWN;
#else
	(void)filter;
	(void)err;
	(void)errlen;
	add_warning(st, "no seccomp filter: this build's architecture has no system-call list");
#endif
	return 0;
}

int
confine_apply(const struct confine_params *p, struct confine_status *st, char *err, size_t errlen)
{
	bool filter = p->filter != NULL && p->filter[0] != '\0';
	struct utsname u;
	const char *why;
	long abi;
	int r;

	memset(st, 0, sizeof(*st));
	st->filter_variant = filter;
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return fail(err, errlen, "prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	st->no_new_privs = true;

	abi = syscall(SYS_landlock_create_ruleset, NULL, 0, LANDLOCK_CREATE_RULESET_VERSION);
	if (abi < 0) {
		int e = errno;

		/* EPERM: a seccomp filter of the container or manager
		 * (systemd-nspawn 252 knows no Landlock calls) hides it. */
		if (e != ENOSYS && e != EOPNOTSUPP && e != EPERM)
			return fail(err, errlen, "landlock_create_ruleset: %s", strerror(e));
		why = e == ENOSYS ? "not built in"
		      : e == EPERM ? "blocked by a system call filter" : "disabled at boot, see lsm=";
		if (uname(&u) < 0)
			snprintf(u.release, sizeof(u.release), "?");
		if (p->landlock_required) {
			errno = e;
			return fail(err, errlen, "LANDLOCK=required but no Landlock on kernel %s (%s): "
			            "not serving", u.release, why);
		}
		add_warning(st, "no Landlock on kernel %s (%s): file system not confined, "
		            "serving with seccomp and no_new_privs (LANDLOCK=auto)", u.release, why);
	} else {
		r = apply_landlock(p, (int)abi, -1, err, errlen);
		if (r < 0)
			return r;
		st->landlock_abi = (int)abi;
	}
	return apply_seccomp(filter, st, err, errlen);
}

int
confine_mailbox(const struct confine_params *p, const struct confine_status *st, int dirfd,
                char *err, size_t errlen)
{
	if (st->landlock_abi == 0)
		return 0;
	return apply_landlock(p, st->landlock_abi, dirfd, err, errlen);
}
