/* The optional message filter (FILTER= in pop3s.conf): each message passes
 * through it on RETR and TOP (message on stdin, transformed message on
 * stdout), e.g. a spam tagger. It runs without a shell (the value is split
 * on spaces into argv), with FILTER_TIMEOUT_MS and FILTER_MAX_BYTES. Its
 * output is spooled to an unlinked temporary file before anything is sent,
 * so a filter that fails, crashes, hangs or writes too much never makes the
 * session send half a message: the client gets -ERR [SYS/TEMP] for that
 * message, and the reason goes to the log. */
#ifndef POP3S_FILTER_H
#define POP3S_FILTER_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

struct filter_config {
	const char *command;        /* FILTER value; NULL or "" = no filter */
	unsigned timeout_ms;
	uint64_t max_bytes;
	const char *tmpdir;         /* where the spool file is made */
	/* If not NULL and nonzero (set by a SIGTERM handler), the filter is
	 * killed and filter_run returns -ECANCELED: a stopping session does
	 * not wait out FILTER_TIMEOUT_MS. NULL: never cancelled. */
	const volatile sig_atomic_t *cancel;
};

/* Runs the filter on the message in in_fd (read from offset 0). On success
 * returns 0 and a readable fd (offset 0) holding the filter's output in
 * *ret_fd. On failure returns -errno and a one-line reason in why
 * ("filter exited with status 3", "filter timed out after 10000 ms",
 * "filter output exceeds 67108864 bytes", "cannot run /x: No such file",
 * "filter cancelled: the session is stopping"). */
int filter_run(const struct filter_config *fc, int in_fd, int *ret_fd, char *why, size_t whylen);

#endif
