/* GnuTLS behind a narrow seam: no other file includes <gnutls/gnutls.h>. */
#ifndef POP3S_TLS_H
#define POP3S_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include "config.h"

struct tls_server;

/* Loads CERT and KEY and compiles PRIORITY from cfg. Returns 0, or -errno
 * with a one-line message naming the config file and line of the offending
 * key in err ("pop3s.conf:7: CERT /x.pem: cannot read: No such file or
 * directory", "... KEY does not match CERT", "... PRIORITY: syntax error at
 * ..."). */
int tls_server_new(const struct pop3s_config *cfg, struct tls_server **ret,
                   char *err, size_t errlen);

/* Runs the server handshake on connected socket fd within timeout_ms, and
 * sets SO_RCVTIMEO/SO_SNDTIMEO on fd to timeout_ms so that no single
 * recv/send can outlast it (the session loop sets its own values later).
 * ALPN: "pop3" is advertised; a client offering ALPN without "pop3" is
 * refused with a no_application_protocol alert before any application
 * data; a client offering no ALPN is accepted. Protocol errors are
 * answered with the matching alert. Returns 0 or -1 with the reason
 * (gnutls_strerror, or "timed out after N ms") in err. */
int tls_handshake(struct tls_server *t, int fd, unsigned timeout_ms,
                  char *err, size_t errlen);

/* True if decrypted data is buffered (poll() on the fd would not see it). */
int tls_pending(struct tls_server *t);

/* Reads up to len decrypted octets. Returns >0, 0 on orderly close by the
 * peer (or EOF, or a close without close_notify), -EAGAIN if interrupted
 * by a signal, if SO_RCVTIMEO expired (a partial record stays buffered),
 * or after a non-fatal event (warning alert, declined renegotiation), or
 * -EIO/-ECONNRESET on failure. */
ssize_t tls_read(struct tls_server *t, void *buf, size_t len);

/* Writes all of buf. Returns 0 or -errno: -ETIMEDOUT when SO_SNDTIMEO
 * expires with nothing sent (the peer stopped reading), -EINTR when a
 * caught signal interrupts it (a stop request: the stream is then cut in
 * the middle of a record and the session must end), -EPIPE/-ECONNRESET/
 * -EIO otherwise. Suitable as transport write_all. */
int tls_write_all(void *tls_server, const void *buf, size_t len);

/* Sends close_notify (best effort, bounded by the socket's send timeout). */
void tls_bye(struct tls_server *t);

/* Protocol, cipher suite, key exchange group and ALPN as text for the
 * connect record, e.g. "TLS1.3 TLS_AES_256_GCM_SHA384 X25519 alpn=pop3".
 * Returns buf. */
const char *tls_describe(struct tls_server *t, char *buf, size_t len);

/* Frees t and its session; does not close the socket. NULL allowed. */
void tls_server_free(struct tls_server *t);

#endif
