/* The per-connection I/O loop: TLS records in, lines to the state machine,
 * replies out; the deadlines; SIGTERM. */
#ifndef POP3S_SESSION_LOOP_H
#define POP3S_SESSION_LOOP_H

#include "config.h"

struct tls_server;
struct logclient;

/* Runs one POP3 session over an established TLS connection until QUIT,
 * the peer closes, an error, the idle timeout (no complete command line
 * within cfg->timeout seconds of the server starting to wait for it,
 * however the octets are paced: the session ends with no reply and no
 * UPDATE), a client reading replies slower than cfg->min_send_rate
 * octets/s over a window of cfg->timeout seconds (no UPDATE), or
 * SIGTERM/SIGINT (no UPDATE). Sends the DISCONNECT record with the reason.
 * DISCONNECT reasons: "quit", "closed-by-server" (e.g. too many failed
 * logins), "eof", "tls-error", "timeout", "send-timeout", "terminated", or
 * a local error.
 * enter_mailbox and its ctx go to the state machine (pop3_params).
 * Returns 0 when the session ended normally or because of the client
 * (all of the above), -errno for a local failure (memory, poll). */
int session_loop_run(const struct pop3s_config *cfg, struct tls_server *tls,
                     struct logclient *log,
                     int (*enter_mailbox)(void *ctx, int dirfd, char *err, size_t errlen),
                     void *enter_mailbox_ctx);

/* The filter's spool directory: $TMPDIR if it is an absolute path, else
 * /tmp (private to the session under PrivateTmp=yes). confine.c lets the
 * session write there when FILTER= is set. */
const char *session_loop_filter_tmpdir(void);

#endif
