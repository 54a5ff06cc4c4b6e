/* Structured entries for systemd-journald without libsystemd: the native
 * journal protocol (systemd's docs/JOURNAL_NATIVE_PROTOCOL.md), one
 * AF_UNIX datagram per entry. pop3s-session uses it for its log fallback so
 * that it need not load libsystemd and the libraries that come with it at
 * every connection (DESIGN.md, "Starting a session").
 *
 * Only the datagram form is spoken: an entry larger than JOURNAL_ENTRY_MAX
 * is refused (-EMSGSIZE), never passed in a memfd. The session's entries
 * are a few hundred octets. */
#ifndef POP3S_JOURNAL_SEND_H
#define POP3S_JOURNAL_SEND_H

#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>

#define JOURNAL_SOCKET_PATH "/run/systemd/journal/socket"
/* Largest encoded entry sent. */
#define JOURNAL_ENTRY_MAX 8192

struct journal_sink {
	int fd;                      /* -1: not open */
	struct sockaddr_un addr;
	socklen_t addr_len;
};

/* Creates the datagram socket (close-on-exec, not connected: every entry is
 * addressed, so a journald restarted meanwhile is reached) for entries to
 * path (NULL: JOURNAL_SOCKET_PATH). Nothing needs to listen yet. Returns 0
 * or -errno (-ENAMETOOLONG for a path that does not fit sun_path); on
 * failure j->fd is -1 and journal_send() returns -EBADF. */
int journal_open(struct journal_sink *j, const char *path);

/* Sends later entries to path instead (NULL: JOURNAL_SOCKET_PATH); the
 * socket stays the same, so this needs no socket(). Returns 0 or
 * -ENAMETOOLONG (the destination is then unchanged). */
int journal_set_path(struct journal_sink *j, const char *path);

/* Encodes fields ("NAME=value", iov_len octets, value may hold any octet)
 * into buf: "NAME=value\n" when the value has no newline, else "NAME\n",
 * the value's length as 64-bit little-endian, the value, "\n". NAME must be
 * 1-64 of A-Z, 0-9, '_', not starting with a digit or '_'. Pure. Returns the
 * length, -EINVAL for a field without '=' or with a bad name, -EMSGSIZE if
 * the entry does not fit in cap. */
int journal_encode(const struct iovec *fields, size_t n, char *buf, size_t cap);

/* Sends one entry (at most JOURNAL_ENTRY_MAX encoded). Blocks while the
 * journal's socket is full, as sd_journal_sendv(3) does. Returns 0 or
 * -errno: -ENOENT/-ECONNREFUSED when no journald listens, -EINVAL/-EMSGSIZE
 * from journal_encode(). */
int journal_send(struct journal_sink *j, const struct iovec *fields, size_t n);

/* Closes the socket; a closed or never opened sink is fine. */
void journal_close(struct journal_sink *j);

#endif
