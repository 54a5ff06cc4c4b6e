/* GnuTLS behind a narrow seam: no other file includes <gnutls/gnutls.h>. */
#ifndef POP3S_TLS_H
#define POP3S_TLS_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "config.h"

struct tls_server;

/*
 * Session resumption: tls_server_new takes the ticket key shared by all
 * sessions from the environment (POP3S_TICKET_KEY, see ticket_key.h),
 * wiping it there. With a key, the handshake issues tickets that any
 * later session accepts for TLS_TICKET_LIFETIME_S; without one, none (no
 * message); with a malformed one, a line on stderr and none.
 */
#define TLS_TICKET_LIFETIME_S (6 * 3600)

/* Loads CERT and KEY and compiles PRIORITY from cfg. Returns 0, or -errno
 * with a one-line message naming the config file and line of the offending
 * key in err ("pop3s.conf:7: CERT /x.pem: cannot read: No such file or
 * directory", "... KEY does not match CERT", "... PRIORITY: syntax error at
 * ..."). */
int tls_server_new(const struct pop3s_config *cfg, struct tls_server **ret,
                   char *err, size_t errlen);

/*
 * Deadlines. All socket I/O goes through tls.c's own transport functions:
 * non-blocking recv()/sendmsg(), and ppoll() with the time left when the
 * socket is not ready. A deadline is absolute (monotonic clock): octets
 * trickling in or out never extend it, unlike SO_RCVTIMEO/SO_SNDTIMEO,
 * which restart with every recv()/send().
 */

/* Runs the server handshake on connected socket fd; it must be complete
 * within timeout_ms of this call, however the client paces its octets,
 * and so must the sending of the server's flight. ALPN: "pop3" is
 * advertised; a client offering ALPN without "pop3" is refused with a
 * no_application_protocol alert before any application data; a client
 * offering no ALPN is accepted. Protocol errors are answered with the
 * matching alert. Returns 0 or -1 with the reason (gnutls_strerror, or
 * "timed out after N ms") in err. */
int tls_handshake(struct tls_server *t, int fd, unsigned timeout_ms,
                  char *err, size_t errlen);

/* Reads fail with -ETIMEDOUT once the monotonic clock (monotime_ms())
 * reaches deadline_ms, even in the middle of a record; 0: no deadline. */
void tls_set_read_deadline(struct tls_server *t, uint64_t deadline_ms);

/* The slowest reader tolerated: while the server has octets to send, the
 * client must accept at least min_octets within every window_ms (counted
 * from tls_send_restart, then from the moment the previous window's
 * octets were all accepted), else writes fail with -ETIMEDOUT. A client
 * that stops reading is cut window_ms after its buffers fill; one that
 * reads below min_octets / window_ms on average, at the end of a window.
 * window_ms 0: no limit. Restarts the window. */
void tls_set_send_rate(struct tls_server *t, unsigned window_ms, uint64_t min_octets);

/* Starts a new send window now: the session calls it when a command
 * arrives, so the time the client took to send it does not count. */
void tls_send_restart(struct tls_server *t);

/* Waits for the socket are cancelled (reads give -EAGAIN, writes -EINTR)
 * when *flag is non-zero: set by a handler of a signal in stopset. The
 * signals in stopset are blocked while *flag is checked and unblocked
 * only inside ppoll(), so a stop request cannot slip in between. */
void tls_set_cancel(struct tls_server *t, volatile sig_atomic_t *flag,
                    const sigset_t *stopset);

/* Reads up to len decrypted octets, waiting for them until the read
 * deadline. Returns >0, 0 on orderly close by the peer (or EOF, or a close
 * without close_notify), -ETIMEDOUT when the read deadline has passed (a
 * partial record may be buffered: the session must end), -EAGAIN if
 * interrupted by a signal or after a non-fatal event (warning alert,
 * declined renegotiation), or -EIO/-ECONNRESET on failure. */
ssize_t tls_read(struct tls_server *t, void *buf, size_t len);

/* Writes all of buf. Returns 0 or -errno: -ETIMEDOUT when the client
 * reads too slowly (tls_set_send_rate), -EINTR when a stop is requested
 * (tls_set_cancel: the stream is then cut in the middle of a record and
 * the session must end), -EPIPE/-ECONNRESET/-EIO otherwise. Suitable as
 * transport write_all. */
int tls_write_all(void *tls_server, const void *buf, size_t len);

/* Sends close_notify: best effort, given at most TLS_BYE_MS to leave. */
#define TLS_BYE_MS 1000
void tls_bye(struct tls_server *t);

/* Protocol, cipher suite, key exchange group, ALPN and "resumed" for a
 * session resumed from a ticket, as text for the connect record, e.g.
 * "TLS1.3 TLS_AES_256_GCM_SHA384 X25519 alpn=pop3 resumed".
 * Returns buf. */
const char *tls_describe(struct tls_server *t, char *buf, size_t len);

/* Frees t and its session; does not close the socket. NULL allowed. */
void tls_server_free(struct tls_server *t);

#endif
