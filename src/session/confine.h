/* Confinement of a session by itself, once start-up is done (config read,
 * connection found, certificate and key loaded, log queue opened) and
 * before the first octet from the client is parsed. Three layers, each
 * one system call or a few, microseconds in all:
 *
 *  1. no_new_privs: no set-uid or file-capability gain, ever again;
 *  2. Landlock: the file system shrinks to HOME (read-write), the
 *     directories of USERS and AUTH_PENALTY_FILE (read files) and, for
 *     the log queue, /dev/mqueue (write); every right the running
 *     kernel's Landlock ABI knows is handled, TCP bind/connect are denied
 *     (ABI >= 4), abstract unix sockets and signals stay inside (ABI >= 6);
 *  3. seccomp: a BPF allow-list compiled into the program
 *     (confine_syscalls.h); other calls fail with EPERM, a foreign
 *     architecture or x32 call kills the process.
 *
 * With FILTER= set, the seccomp list also has fork/exec/wait and what a
 * filter program needs, and Landlock adds the filter program (execute),
 * /usr (read, execute), /etc (read), /dev/null and the spool directory
 * (read-write). See CONFINEMENT in pop3s-session(8). */
#ifndef POP3S_CONFINE_H
#define POP3S_CONFINE_H

/* Set in AddressSanitizer builds, whose leak checker needs a few more
 * calls and files (confine.c) and may ptrace (confine_probe.c). */
#if defined(__SANITIZE_ADDRESS__)
#define CONFINE_SANITIZER 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CONFINE_SANITIZER 1
#endif
#endif

#include <stdbool.h>
#include <stddef.h>

struct confine_params {
	const char *home;           /* mailbox root: read-write beneath */
	const char *users;          /* users file: its directory is readable */
	const char *penalty_file;   /* AUTH_PENALTY_FILE: its directory is readable */
	const char *filter;         /* FILTER= command line; NULL or "" = none */
	const char *filter_tmpdir;  /* spool directory of the filter */
	bool landlock_required;     /* LANDLOCK=required */
};

/* Which system-call filter the session serves under. */
enum confine_seccomp {
	CONFINE_SECCOMP_OFF,        /* none (no list for this architecture) */
	CONFINE_SECCOMP_OWN,        /* pop3s's own list is installed */
	CONFINE_SECCOMP_OUTER       /* seccomp() was refused by a filter
	                             * already in place (the unit's
	                             * SystemCallFilter=): only that one */
};

struct confine_status {
	int landlock_abi;           /* ABI in force, 0 = no Landlock */
	enum confine_seccomp seccomp;
	bool no_new_privs;
	bool filter_variant;        /* the FILTER= widening is in force */
	char warning[512];          /* non-empty: say it once on stderr */
};

/* Applies the three layers in that order. Returns 0 (st filled; with
 * LANDLOCK=auto on a kernel without Landlock, st->landlock_abi is 0 and
 * st->warning says so; when a system-call filter already in place refuses
 * seccomp() with EPERM, st->seccomp is CONFINE_SECCOMP_OUTER and st->warning says
 * so), or -errno and a one-line message in err: a layer that failed, or
 * no Landlock with LANDLOCK=required. On failure the process may be
 * partly confined and must not serve. */
int confine_apply(const struct confine_params *p, struct confine_status *st,
                  char *err, size_t errlen);

/* After login: one more Landlock layer, read-write narrowed from HOME to
 * the user's mailbox directory dirfd and no more reading of the users and
 * penalty files' directories (FILTER='s rules and the log queue stay), so
 * that nothing the session does afterwards reaches another user's mail.
 * Nothing to do without Landlock (st->landlock_abi 0). Returns 0, or
 * -errno and a message in err: the session must not go on. */
int confine_mailbox(const struct confine_params *p, const struct confine_status *st, int dirfd,
                    char *err, size_t errlen);

/* The Landlock ABI of the running kernel, 0 if none (for messages and
 * tests; does not confine). */
int confine_landlock_abi(void);

/* True if this build has a seccomp filter for its architecture. */
bool confine_have_seccomp(void);

#endif
