/* pop3sctl log: one user's access history from the journal (the log file
 * has no user names). */
#ifndef POP3S_CTL_LOG_H
#define POP3S_CTL_LOG_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* One journal record of pop3s-logger (or a session's fallback record),
 * fields as in logrec_journal_fields; NULL or "" for a missing field. */
struct ctl_log_entry {
	uint64_t time_us;
	const char *client_ip;
	const char *type;       /* POP3_TYPE: CONNECT, COMMAND, LOGIN_OK, ... */
	const char *command;    /* POP3_COMMAND, for COMMAND records */
	const char *status;
	const char *detail;
};

/* Parses a --since argument: "YYYY-MM-DD", "YYYY-MM-DD HH:MM[:SS]" (or
 * with 'T' for the space), local time; a UNIX time in seconds, optionally
 * after '@'; or "-N" followed by s, m, h, d or w, before now. Stores
 * microseconds since the epoch. Returns 0 or -EINVAL. */
int ctl_log_parse_time(const char *s, time_t now, uint64_t *ret_usec);

/* Formats "TIME IP WHAT STATUS[ DETAIL]" without a newline: TIME in ISO
 * 8601 local time with the offset, WHAT the command for COMMAND records
 * and the type otherwise, "-" for a missing field. Control characters
 * from the journal become '?'. Returns the length (truncated to len - 1). */
size_t ctl_log_format(const struct ctl_log_entry *e, char *buf, size_t len);

/* pop3sctl [-c path] log [--since TIME] [--journal-dir DIR] USER */
int ctl_log(const char *config_path, int argc, char **argv);

#endif
