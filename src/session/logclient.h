/* The session's side of logging: builds log records and sends them to
 * pop3s-logger without ever letting a slow or absent logger stall a session.
 * Policy: a record waits at most QUEUE_TIMEOUT_MS for room in the queue; if
 * the queue is missing or stays full, the record goes to the journal
 * directly (same POP3_* fields, POP3_LOG_FALLBACK=1) and is counted.
 * After one timeout, later records do not wait for room until a send
 * succeeds again, so a stuck logger costs a session one timeout, not one
 * per command. A queue that is missing when the session starts is looked
 * for again at every record. The queue descriptor is kept for the whole
 * session: if an administrator removes and recreates the queue meanwhile,
 * that session's records go to the removed queue.
 *
 * Flood bound: a session sends at most limit COMMAND records (see
 * logclient_set_limit) plus LOGCLIENT_RECORDS_PER_MESSAGE per message in
 * the mailbox it logged in to. The first record over the bound is replaced
 * by one COMMAND record "LOG-LIMIT" saying so (once per session); the
 * others over the bound are only counted,
 * and the DISCONNECT record's detail ends with "; N log records
 * suppressed". CONNECT, LOGIN_OK, UPDATE and DISCONNECT (once each in a
 * session) are always sent, LOGIN_FAIL up to LOGCLIENT_LOGIN_FAIL_MAX
 * (failed logins end the session after MAX_AUTH_FAILURES, at most 100). */
#ifndef POP3S_LOGCLIENT_H
#define POP3S_LOGCLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include "logrec.h"

struct logclient;

/* Commands that name one message (LIST n, UIDL n, TOP, RETR, DELE): a
 * session may log this many records per message beyond its limit. */
#define LOGCLIENT_RECORDS_PER_MESSAGE 5
#define LOGCLIENT_LOGIN_FAIL_MAX 100
/* The command word of the record that reports the bound. */
#define LOGCLIENT_LIMIT_COMMAND "LOG-LIMIT"

/* Allocates a client for one session. queue may be missing (records then
 * fall back). client_ip is the peer address as text. Also creates the
 * socket for the journal fallback, so that records can still fall back
 * once the session is confined. Returns NULL on ENOMEM. */
struct logclient *logclient_new(const char *queue, unsigned timeout_ms,
                                const char *client_ip);

/* Sends the journal fallback's entries to the datagram socket at path
 * instead of journald's (NULL: back to journald's); for tests. Creates no
 * socket. Returns 0 or -ENAMETOOLONG. */
int logclient_set_journal(struct logclient *lc, const char *path);

/* The random session id (hex) used in every record of this session. */
const char *logclient_session_id(const struct logclient *lc);

/* Sets the user name carried in later records ("" to clear). */
void logclient_set_user(struct logclient *lc, const char *user);

/* Sets the number of COMMAND records the session may send (MAX_LOG_RECORDS;
 * a new client has no limit). */
void logclient_set_limit(struct logclient *lc, uint64_t max_records);

/* Raises the limit by LOGCLIENT_RECORDS_PER_MESSAGE per message: called at
 * login with the number of messages in the mailbox. */
void logclient_allow_messages(struct logclient *lc, uint64_t messages);

/* Records not sent because of the limit. */
uint64_t logclient_suppressed(const struct logclient *lc);

/* Adds to the count of bytes sent to the client. */
void logclient_add_bytes(struct logclient *lc, uint64_t n);

/* Sends one record. For LOGREC_COMMAND, line/len is the received command
 * line: only its first word is logged. status is "OK"/"ERR"/"" and detail
 * free text ("" for none). */
void logclient_send(struct logclient *lc, enum logrec_type type,
                    const char *line, size_t len,
                    const char *status, const char *detail);

/* Sends the UPDATE record: removed = messages removed from the mailbox,
 * status "OK"/"ERR", detail why some were not removed ("" for none). */
void logclient_send_update(struct logclient *lc, uint64_t removed,
                           const char *status, const char *detail);

/* Records that went to the journal instead of the queue. */
unsigned long logclient_fallbacks(const struct logclient *lc);

/* Frees lc; NULL is allowed. */
void logclient_free(struct logclient *lc);

/* Opens the queue now if it is not open yet (a session does so before it
 * confines itself: Landlock may then deny mq_open). A missing queue is
 * not an error: records fall back as usual. */
void logclient_open_queue(struct logclient *lc);

#endif
