/* Journal output with structured fields: POP3_TYPE, POP3_CLIENT_IP,
 * POP3_USER, POP3_COMMAND, POP3_STATUS, POP3_SESSION, POP3_PID,
 * POP3_BYTES (DISCONNECT), POP3_REMOVED (UPDATE), POP3_DETAIL, POP3_TIME_US,
 * plus a readable MESSAGE,
 * PRIORITY=6 and SYSLOG_IDENTIFIER=pop3s-logger. The fields themselves are
 * built by logrec_journal_fields() (logrec.h), which the sessions' journal
 * fallback shares. */
#ifndef POP3S_LOGD_JOURNAL_H
#define POP3S_LOGD_JOURNAL_H

#include <stddef.h>
#include <sys/uio.h>
#include "logrec.h"

#define LOGD_JOURNAL_FIELDS LOGREC_JOURNAL_FIELDS
#define LOGD_JOURNAL_FIELD_MAX LOGREC_JOURNAL_FIELD_MAX
#define LOGD_JOURNAL_IDENTIFIER "pop3s-logger"

struct logd_journal_entry {
	struct iovec iov[LOGD_JOURNAL_FIELDS];
	char text[LOGD_JOURNAL_FIELDS][LOGD_JOURNAL_FIELD_MAX];
	size_t n;
};

/* Builds the fields for r (pure; tested without a journal). extra may name
 * one more "KEY=value" field, or be NULL. */
void logd_journal_build(const struct logrec *r, const char *extra,
                        struct logd_journal_entry *e);

/* Sends r to the journal. Returns 0 or -errno from sd_journal_sendv. */
int logd_journal_send(const struct logrec *r, const char *extra);

#endif
