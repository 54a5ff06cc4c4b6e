/* Log records sent by pop3s-session to pop3s-logger over the message queue.
 *
 * Wire format, version 1 (all integers big-endian):
 *   u8  version (=1)   u8 type   u16 total length of the record
 *   u64 time in microseconds since the epoch (CLOCK_REALTIME)
 *   u32 session process id
 *   u64 bytes sent to the client so far; for UPDATE instead the number
 *       of messages removed from the mailbox
 *   then six fields, each u8 length + that many octets, in this order:
 *   session id, client ip, user, command, status, detail
 * Every field has a maximum length (below) and must hold no NUL or control
 * octet; the decoder rejects a record that is short, long, has leftover
 * bytes, an unknown version or type, or a field over its maximum.
 *
 * Session id, client ip, command and status are tokens: printable ASCII
 * without space (0x21-0x7e), so a log file line always has exactly three
 * columns whatever a sender puts in the queue. User and detail are text:
 * any octet but a control octet (0x00-0x1f, 0x7f); UTF-8 passes through.
 * The queue is writable by every session, so the decoder treats each
 * message as hostile input. */
#ifndef POP3S_LOGREC_H
#define POP3S_LOGREC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#define LOGREC_VERSION 1
#define LOGREC_MAX_SIZE 512       /* well under the default msgsize_max 8192 */

#define LOGREC_SESSION_MAX 32
#define LOGREC_IP_MAX 45          /* INET6_ADDRSTRLEN - 1 */
#define LOGREC_USER_MAX 64
#define LOGREC_COMMAND_MAX 16
#define LOGREC_STATUS_MAX 8
#define LOGREC_DETAIL_MAX 160

enum logrec_type {
	LOGREC_CONNECT = 1,     /* TCP+TLS session started */
	LOGREC_COMMAND = 2,     /* one POP3 command: command word, status OK/ERR */
	LOGREC_LOGIN_OK = 3,    /* authentication succeeded, user set */
	LOGREC_LOGIN_FAIL = 4,  /* authentication failed, detail says why */
	LOGREC_DISCONNECT = 5,  /* session ended, detail = reason, bytes = sent */
	LOGREC_UPDATE = 6,      /* QUIT's UPDATE state ended: removed = messages
	                         * removed, status OK/ERR, detail = why not all */
	LOGREC_AUTH_FAIL = 7,   /* credentials refused, sent at once (the
	                         * LOGIN_FAIL record follows after AUTH_DELAY_MS):
	                         * counts against the client's source for the
	                         * shared penalty (penalty.h); pop3s-logger makes
	                         * no log line or journal entry of it */
	LOGREC_TYPE_MAX = 7
};

struct logrec {
	enum logrec_type type;
	uint64_t time_us;
	uint32_t pid;
	uint64_t bytes;         /* all types but UPDATE (0 there) */
	uint64_t removed;       /* UPDATE only (0 elsewhere) */
	char session[LOGREC_SESSION_MAX + 1];
	char client_ip[LOGREC_IP_MAX + 1];
	char user[LOGREC_USER_MAX + 1];
	char command[LOGREC_COMMAND_MAX + 1];
	char status[LOGREC_STATUS_MAX + 1];
	char detail[LOGREC_DETAIL_MAX + 1];
};

/* Encodes r into buf. Returns the length, or -EINVAL if a field is too long
 * or holds a control octet, -ENOBUFS if cap is too small. */
int logrec_encode(const struct logrec *r, uint8_t *buf, size_t cap);

/* Decodes exactly len octets into *ret (written only on success).
 * Returns 0 or -EBADMSG. Never reads beyond len. */
int logrec_decode(const uint8_t *buf, size_t len, struct logrec *ret);

/* "CONNECT", "COMMAND", ..., "UPDATE" or "UNKNOWN". */
const char *logrec_type_name(enum logrec_type t);

/* Copies the first word of a command line into a command field: upper-cased,
 * at most LOGREC_COMMAND_MAX octets, non-printable octets replaced by '?';
 * an empty word becomes "-". Never copies arguments: the word ends at the
 * first space, tab, CR or LF, so "PASS\tsecret" logs "PASS", not the secret.
 * Leading blanks are not skipped (the line " PASS x" gives "-").
 * Callers must not pass lines that are not commands at all, such as the
 * client's answer to an AUTH challenge: its first word is a credential. */
void logrec_command_word(const char *line, size_t len, char out[LOGREC_COMMAND_MAX + 1]);

/* The address to show for ip: an IPv4-mapped IPv6 address "::ffff:a.b.c.d"
 * is shown as "a.b.c.d" (a pointer into ip); anything else unchanged. */
const char *logrec_ip_unmap(const char *ip);

/* Journal fields for a record, shared by pop3s-logger (logd_journal.c) and
 * the sessions' fallback (logclient.c) so both produce the same entries. */
#define LOGREC_JOURNAL_FIELDS 14
#define LOGREC_JOURNAL_FIELD_MAX 256

/* Builds "KEY=value" fields for r into text[], with iov[] pointing at them:
 * POP3_TYPE, POP3_CLIENT_IP (unmapped), POP3_USER, POP3_COMMAND,
 * POP3_STATUS, POP3_SESSION, POP3_PID, POP3_BYTES (POP3_REMOVED for
 * UPDATE), POP3_DETAIL,
 * POP3_TIME_US (when the session made the record, which may be long before
 * the logger reads it), MESSAGE (e.g. "alice@194.10.15.3 RETR OK"),
 * PRIORITY=6, SYSLOG_IDENTIFIER=identifier, then extra ("KEY=value") if not
 * NULL. Empty string fields are left out; values too long for a slot are
 * cut. Pure: no I/O. Returns the number of fields (at most max). */
size_t logrec_journal_fields(const struct logrec *r, const char *identifier,
                             const char *extra,
                             char (*text)[LOGREC_JOURNAL_FIELD_MAX],
                             struct iovec *iov, size_t max);

#endif
