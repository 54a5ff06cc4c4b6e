/* The server side of implicit TLS (RFC 8314) with GnuTLS: credentials and
 * priorities from the configuration, the handshake with ALPN "pop3"
 * (RFC 9325 section 3.8), and record I/O for the session loop. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include "monotime.h"
#include "ticket_key.h"
#include "tls.h"

#define ALPN_POP3 "pop3"

struct tls_server {
	gnutls_certificate_credentials_t cred;
	gnutls_priority_t prio;
	gnutls_session_t session;   /* NULL until tls_handshake succeeds */
	bool tickets;               /* ticket_key holds the shared key */
	unsigned char ticket_key[TICKET_KEY_SIZE];

	/* The transport (see "Deadlines" in tls.h); times in monotime_ms() */
	int fd;
	uint64_t recv_deadline;     /* 0: none */
	uint64_t send_deadline;     /* absolute (handshake, bye); 0: the window rule */
	uint64_t window_ms;         /* the window rule; 0: none */
	uint64_t window_min;        /* octets the client must accept per window */
	uint64_t window_start;
	uint64_t window_sent;
	bool timed_out;             /* a deadline ended the last I/O */
	volatile sig_atomic_t *cancel;
	sigset_t stopset;
};

/* "FILE:LINE: KEY" for a key set in the file, or "FILE: KEY (default)"
 * (config_where's wording) for one left at its default. */
static const char *
key_where(const struct pop3s_config *cfg, enum config_key k, char *buf, size_t len)
{
	size_t n;

	config_where(cfg, k, buf, len);
	n = strlen(buf);
	if (cfg->line[k] != 0) {
		snprintf(buf + n, len - n, "%s", config_key_name(k));
	} else if (n >= 2 && strcmp(buf + n - 2, ": ") == 0) {
		buf[n - 2] = '\0';
	}
	return buf;
}

/* Checks that path names a readable regular file, so that the message can
 * say why ("No such file or directory", "Permission denied") instead of
 * GnuTLS's generic "Error while reading file". Returns 0 or -errno. */
static int
check_readable(const char *path)
{
	struct stat sb;
	int fd, r = 0;

	/* O_NONBLOCK: a FIFO in place of the file must not hang us */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0)
		r = -errno;
	else if (S_ISDIR(sb.st_mode))
		r = -EISDIR;
	else if (!S_ISREG(sb.st_mode))
		r = -EINVAL;
	close(fd);
	return r;
}

/* Frees a datum from gnutls_load_file, wiping it first (it may hold the
 * private key). */
static void
datum_wipe_free(gnutls_datum_t *d)
{
	if (d->data != NULL) {
		explicit_bzero(d->data, d->size);
		gnutls_free(d->data);
	}
	d->data = NULL;
	d->size = 0;
}

/* gnutls_certificate_set_x509_key_file2 failed for a reason other than a
 * mismatch: find out which file is at fault by parsing each on its own. */
static void
diagnose_files(const struct pop3s_config *cfg, int gnutls_err, char *err, size_t errlen)
{
	char where[PATH_MAX + 32];
	gnutls_datum_t data = { NULL, 0 };
	gnutls_x509_crt_t *crts = NULL;
	gnutls_x509_privkey_t key = NULL;
	unsigned n = 0, i;
	int r;

	r = gnutls_load_file(cfg->cert, &data);
	if (r >= 0)
		r = gnutls_x509_crt_list_import2(&crts, &n, &data, GNUTLS_X509_FMT_PEM, 0);
	datum_wipe_free(&data);
	if (r < 0) {
		snprintf(err, errlen, "%s %s: not a PEM certificate: %s",
		         key_where(cfg, CONF_CERT, where, sizeof(where)),
		         cfg->cert, gnutls_strerror(r));
		return;
	}
	for (i = 0; i < n; i++)
		gnutls_x509_crt_deinit(crts[i]);
	gnutls_free(crts);

	r = gnutls_load_file(cfg->key, &data);
	if (r >= 0)
		r = gnutls_x509_privkey_init(&key);
	if (r >= 0)
		r = gnutls_x509_privkey_import2(key, &data, GNUTLS_X509_FMT_PEM, NULL, 0);
	datum_wipe_free(&data);
	if (key != NULL)
		gnutls_x509_privkey_deinit(key);
	if (r < 0) {
		snprintf(err, errlen, "%s %s: not a PEM private key: %s",
		         key_where(cfg, CONF_KEY, where, sizeof(where)),
		         cfg->key, gnutls_strerror(r));
		return;
	}
	snprintf(err, errlen, "%s %s with KEY %s: %s",
	         key_where(cfg, CONF_CERT, where, sizeof(where)),
	         cfg->cert, cfg->key, gnutls_strerror(gnutls_err));
}

/* The largest private key file read from standard input. */
#define KEY_STDIN_MAX (256 * 1024)

/* True if standard input is the KEY file itself, opened for us by systemd
 * (StandardInput=file:KEY in pop3s@.service): the key then stays readable
 * by root only, and no credential mount is needed per connection. The
 * same device and inode prove it is that file, not just any input. */
static bool
key_on_stdin(const char *key)
{
	struct stat in, path;

	if (fstat(STDIN_FILENO, &in) < 0 || !S_ISREG(in.st_mode))
		return false;
	if (stat(key, &path) < 0)
		return false;
	return in.st_dev == path.st_dev && in.st_ino == path.st_ino;
}

/* Reads the key from standard input (from offset 0: sessions started by
 * one activator may share the file offset), then points standard input at
 * /dev/null so the key is not left open. Returns 0 or -errno. */
static int
read_key_stdin(gnutls_datum_t *ret)
{
	unsigned char *buf;
	size_t len = 0;
	ssize_t n;
	int null;

	buf = gnutls_malloc(KEY_STDIN_MAX);
	if (buf == NULL)
		return -ENOMEM;
	while (len < KEY_STDIN_MAX) {
		n = pread(STDIN_FILENO, buf + len, KEY_STDIN_MAX - len, (off_t)len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int e = errno;

			explicit_bzero(buf, len);
			gnutls_free(buf);
			return -e;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null >= 0) {
		dup2(null, STDIN_FILENO);
		close(null);
	}
	if (len == KEY_STDIN_MAX) {
		explicit_bzero(buf, len);
		gnutls_free(buf);
		return -EFBIG;
	}
	ret->data = buf;
	ret->size = (unsigned)len;
	return 0;
}

/* The key comes from standard input: load the certificate from its file
 * and both from memory. */
static int
load_with_stdin_key(struct tls_server *t, const struct pop3s_config *cfg, char *err,
                    size_t errlen)
{
	char where[PATH_MAX + 32];
	gnutls_datum_t cert = { NULL, 0 }, key = { NULL, 0 };
	int r;

	r = read_key_stdin(&key);
	if (r < 0) {
		snprintf(err, errlen, "%s %s (passed on standard input): cannot read: %s",
		         key_where(cfg, CONF_KEY, where, sizeof(where)), cfg->key, strerror(-r));
		return r;
	}
	r = gnutls_load_file(cfg->cert, &cert);
	if (r >= 0)
		r = gnutls_certificate_set_x509_key_mem2(t->cred, &cert, &key, GNUTLS_X509_FMT_PEM,
		                                         NULL, 0);
	datum_wipe_free(&key);
	datum_wipe_free(&cert);
	if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		snprintf(err, errlen, "%s %s (passed on standard input) does not match CERT %s",
		         key_where(cfg, CONF_KEY, where, sizeof(where)), cfg->key, cfg->cert);
		return -EINVAL;
	}
	if (r < 0) {
		snprintf(err, errlen, "%s %s with KEY %s (passed on standard input): %s",
		         key_where(cfg, CONF_CERT, where, sizeof(where)), cfg->cert, cfg->key,
		         gnutls_strerror(r));
		return -EINVAL;
	}
	return 0;
}

static int
load_credentials(struct tls_server *t, const struct pop3s_config *cfg, char *err, size_t errlen)
{
	char where[PATH_MAX + 32];
	bool stdin_key = key_on_stdin(cfg->key);
	int r;

	r = check_readable(cfg->cert);
	if (r < 0) {
		snprintf(err, errlen, "%s %s: cannot read: %s",
		         key_where(cfg, CONF_CERT, where, sizeof(where)),
		         cfg->cert, r == -EINVAL ? "not a regular file" : strerror(-r));
		return r;
	}
	r = stdin_key ? 0 : check_readable(cfg->key);
	if (r < 0) {
		snprintf(err, errlen, "%s %s: cannot read: %s",
		         key_where(cfg, CONF_KEY, where, sizeof(where)),
		         cfg->key, r == -EINVAL ? "not a regular file" : strerror(-r));
		return r;
	}

	r = gnutls_certificate_allocate_credentials(&t->cred);
	if (r < 0) {
		snprintf(err, errlen, "cannot allocate TLS credentials: %s", gnutls_strerror(r));
		t->cred = NULL;
		return -ENOMEM;
	}
	if (stdin_key)
		return load_with_stdin_key(t, cfg, err, errlen);
	/* Only the server's own chain and key: no trust store (client
	 * certificates are not requested) and no DH parameters (the
	 * priority string allows ECDHE key exchange only). */
	r = gnutls_certificate_set_x509_key_file2(t->cred, cfg->cert, cfg->key,
	                                          GNUTLS_X509_FMT_PEM, NULL, 0);
	if (r == GNUTLS_E_CERTIFICATE_KEY_MISMATCH) {
		snprintf(err, errlen, "%s %s does not match CERT %s",
		         key_where(cfg, CONF_KEY, where, sizeof(where)),
		         cfg->key, cfg->cert);
		return -EINVAL;
	}
	if (r < 0) {
		diagnose_files(cfg, r, err, errlen);
		return -EINVAL;
	}
	return 0;
}

static int
load_priority(struct tls_server *t, const struct pop3s_config *cfg, char *err, size_t errlen)
{
	char where[PATH_MAX + 32];
	const char *pos = NULL;
	int r;

	key_where(cfg, CONF_PRIORITY, where, sizeof(where));
	if (cfg->priority[0] == '\0') {
		snprintf(err, errlen, "%s is empty", where);
		return -EINVAL;
	}
	r = gnutls_priority_init2(&t->prio, cfg->priority, &pos, 0);
	if (r == 0)
		return 0;
	t->prio = NULL;
	if (r == GNUTLS_E_INVALID_REQUEST && pos != NULL &&
	    pos >= cfg->priority && pos < cfg->priority + strlen(cfg->priority)) {
		/* Show the offending element: from pos up to the next ':'. */
		size_t off = (size_t)(pos - cfg->priority);
		size_t elen = strcspn(pos, ":");

		snprintf(err, errlen, "%s: syntax error at character %zu: \"%.*s\"",
		         where, off + 1, (int)(elen > 64 ? 64 : elen), pos);
	} else if (r == GNUTLS_E_NO_PRIORITIES_WERE_SET) {
		snprintf(err, errlen, "%s enables no usable protocol version, "
		         "key exchange or cipher", where);
	} else {
		snprintf(err, errlen, "%s: %s", where, gnutls_strerror(r));
	}
	return r == GNUTLS_E_MEMORY_ERROR ? -ENOMEM : -EINVAL;
}

/* The session ticket key shared by all sessions (pop3s@.service's
 * EnvironmentFile=, written by `pop3sctl ticket-key`): taken out of the
 * environment at start-up, before anything else could see it. Absent: no
 * tickets, silently (a plain installation without the timer). Malformed:
 * one line on stderr, and no tickets. */
static void
load_ticket_key(struct tls_server *t)
{
	char msg[256];
	int r;

	r = ticket_key_take_env(t->ticket_key, msg, sizeof(msg));
	t->tickets = r > 0;
	if (r < 0)
		fprintf(stderr, "pop3s-session: %s; serving without TLS session resumption\n", msg);
}

int
tls_server_new(const struct pop3s_config *cfg, struct tls_server **ret,
               char *err, size_t errlen)
{
	struct tls_server *t;
	int r;

	*ret = NULL;
	t = calloc(1, sizeof(*t));
	if (t == NULL) {
		snprintf(err, errlen, "cannot allocate TLS state: %s", strerror(ENOMEM));
		return -ENOMEM;
	}
	load_ticket_key(t);
	r = load_credentials(t, cfg, err, errlen);
	if (r == 0)
		r = load_priority(t, cfg, err, errlen);
	if (r < 0) {
		tls_server_free(t);
		return r;
	}
	*ret = t;
	return 0;
}

/* --- the transport: non-blocking I/O, waits bounded by absolute deadlines */

/* Waits until fd is ready for events, or until deadline (0: no limit), or
 * for a stop request. Returns 1 when ready, 0 when the deadline has
 * passed, -EINTR on a stop request or signal, -errno on failure. */
static int
wait_ready(struct tls_server *t, short events, uint64_t deadline)
{
	struct pollfd pfd = { .fd = t->fd, .events = events };
	struct timespec ts, *tsp = NULL;
	sigset_t old;
	int r;

	if (deadline != 0) {
		uint64_t now = monotime_ms();
		uint64_t left = deadline > now ? deadline - now : 0;

		if (left == 0)
			return 0;
		ts.tv_sec = (time_t)(left / 1000);
		ts.tv_nsec = (long)(left % 1000) * 1000000;
		tsp = &ts;
	}
	if (t->cancel == NULL) {
		r = ppoll(&pfd, 1, tsp, NULL);
		return r < 0 ? -errno : r > 0;
	}
	/* The stop signals are unblocked only inside ppoll(): a request
	 * arriving after the check below interrupts the wait. */
	sigprocmask(SIG_BLOCK, &t->stopset, &old);
	if (*t->cancel)
		r = -EINTR;
	else if ((r = ppoll(&pfd, 1, tsp, &old)) < 0)
		r = -errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	return r < 0 ? r : r > 0;
}

/* Ends a transport call with errno = e (what GnuTLS reads). */
static ssize_t
fail_errno(int e)
{
	errno = e;
	return -1;
}

static ssize_t
transport_pull(gnutls_transport_ptr_t ptr, void *buf, size_t len)
{
	struct tls_server *t = ptr;

	for (;;) {
		ssize_t n = recv(t->fd, buf, len, MSG_DONTWAIT);
		int r;

		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		r = wait_ready(t, POLLIN, t->recv_deadline);
		if (r == 0) {
			/* ETIMEDOUT is a pull error: fatal to GnuTLS too */
			t->timed_out = true;
			return fail_errno(ETIMEDOUT);
		}
		if (r < 0)
			return fail_errno(-r);
	}
}

/* Used by GnuTLS to wait for data with a limit of its own (ms), e.g. its
 * handshake timeout: the earlier of that and the read deadline. Returns
 * >0 when data can be read, 0 on timeout, -1 with errno. */
static int
transport_pull_timeout(gnutls_transport_ptr_t ptr, unsigned ms)
{
	struct tls_server *t = ptr;
	uint64_t deadline = t->recv_deadline;
	int r;

	if (ms == 0) {
		struct pollfd pfd = { .fd = t->fd, .events = POLLIN };

		r = poll(&pfd, 1, 0);
		return r < 0 ? -1 : r;
	}
	if (ms != GNUTLS_INDEFINITE_TIMEOUT) {
		uint64_t own = monotime_ms() + ms;

		if (deadline == 0 || own < deadline)
			deadline = own;
	}
	r = wait_ready(t, POLLIN, deadline);
	if (r == 0 && t->recv_deadline != 0 && monotime_ms() >= t->recv_deadline)
		t->timed_out = true;
	return r < 0 ? (int)fail_errno(-r) : r;
}

/* The deadline for the octets waiting to be sent now. */
static uint64_t
send_deadline(const struct tls_server *t)
{
	if (t->send_deadline != 0)
		return t->send_deadline;
	if (t->window_ms == 0)
		return 0;
	return t->window_start + t->window_ms;
}

static void
count_sent(struct tls_server *t, size_t n)
{
	if (t->window_ms == 0)
		return;
	t->window_sent += n;
	if (t->window_sent >= t->window_min) {
		/* this window's quota is met: the next one starts now */
		t->window_start = monotime_ms();
		t->window_sent = 0;
	}
}

static ssize_t
transport_push(gnutls_transport_ptr_t ptr, const giovec_t *iov, int iovcnt)
{
	struct tls_server *t = ptr;
	struct msghdr m;

	memset(&m, 0, sizeof(m));
	m.msg_iov = (struct iovec *)iov;
	m.msg_iovlen = (size_t)iovcnt;
	for (;;) {
		ssize_t n = sendmsg(t->fd, &m, MSG_DONTWAIT | MSG_NOSIGNAL);
		int r;

		if (n >= 0) {
			count_sent(t, (size_t)n);
			return n;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -1;
		r = wait_ready(t, POLLOUT, send_deadline(t));
		if (r == 0) {
			t->timed_out = true;
			return fail_errno(ETIMEDOUT);
		}
		if (r < 0)
			return fail_errno(-r);
	}
}

void
tls_set_read_deadline(struct tls_server *t, uint64_t deadline_ms)
{
	t->recv_deadline = deadline_ms;
}

void
tls_set_send_rate(struct tls_server *t, unsigned window_ms, uint64_t min_octets)
{
	t->window_ms = window_ms;
	t->window_min = min_octets;
	tls_send_restart(t);
}

void
tls_send_restart(struct tls_server *t)
{
	t->window_start = monotime_ms();
	t->window_sent = 0;
}

void
tls_set_cancel(struct tls_server *t, volatile sig_atomic_t *flag, const sigset_t *stopset)
{
	t->cancel = flag;
	if (stopset != NULL)
		t->stopset = *stopset;
	else
		sigemptyset(&t->stopset);
}

/* Errors after which sending an alert is pointless or could block: the
 * peer is gone, silent, or already told us why it is leaving. */
static int
is_transport_error(int r)
{
	return r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
	       r == GNUTLS_E_TIMEDOUT || r == GNUTLS_E_PULL_ERROR ||
	       r == GNUTLS_E_PUSH_ERROR || r == GNUTLS_E_PREMATURE_TERMINATION ||
	       r == GNUTLS_E_FATAL_ALERT_RECEIVED;
}

int
tls_handshake(struct tls_server *t, int fd, unsigned timeout_ms, char *err, size_t errlen)
{
	static const gnutls_datum_t alpn = {
		(unsigned char *)ALPN_POP3, sizeof(ALPN_POP3) - 1
	};
	gnutls_session_t s;
	uint64_t deadline;
	int r;

	if (t->session != NULL) {
		snprintf(err, errlen, "TLS handshake already done");
		return -1;
	}
	/* One absolute deadline for everything up to the end of the
	 * handshake, reads and writes alike (tls.h, "Deadlines"). */
	deadline = monotime_ms() + timeout_ms;
	t->fd = fd;
	t->recv_deadline = deadline;
	t->send_deadline = deadline;
	t->timed_out = false;

	/* Every session is its own process: a ticket can be redeemed by a
	 * later session only if all share the key. Without one, no tickets
	 * (GNUTLS_NO_TICKETS), so that clients do not keep useless ones. */
	r = gnutls_init(&s, GNUTLS_SERVER | GNUTLS_NO_SIGNAL |
	                    (t->tickets ? 0 : GNUTLS_NO_TICKETS));
	if (r < 0) {
		snprintf(err, errlen, "gnutls_init: %s", gnutls_strerror(r));
		return -1;
	}
	r = gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, t->cred);
	if (r >= 0 && t->tickets) {
		const gnutls_datum_t key = { t->ticket_key, TICKET_KEY_SIZE };

		/* TLS 1.3 NewSessionTicket after the handshake, and the
		 * TLS 1.2 SessionTicket extension if the priority string
		 * allows TLS 1.2. The lifetime is what the client is told
		 * and bounds how old a ticket is accepted; the master key
		 * itself is replaced every 12 h (pop3s-ticket-key.timer). */
		r = gnutls_session_ticket_enable_server(s, &key);
		if (r >= 0)
			gnutls_db_set_cache_expiration(s, TLS_TICKET_LIFETIME_S);
	}
	if (r >= 0)
		r = gnutls_priority_set(s, t->prio);
	/*
	 * RFC 9325 section 3.8: refuse a client that offers ALPN without
	 * "pop3" (it is speaking another protocol: cross-protocol attacks),
	 * but accept one that offers no ALPN at all, as most POP3 clients
	 * do. With GnuTLS 3.7.9, GNUTLS_ALPN_MANDATORY does exactly that:
	 * the check runs only when the client sends the extension, and the
	 * handshake then fails with GNUTLS_E_NO_APPLICATION_PROTOCOL before
	 * the server's Finished, so no application data can flow.
	 * tests/integration/test_tls.py checks both cases, in case a later
	 * GnuTLS changes this.
	 */
	if (r >= 0)
		r = gnutls_alpn_set_protocols(s, &alpn, 1, GNUTLS_ALPN_MANDATORY);
	if (r < 0) {
		snprintf(err, errlen, "TLS session setup: %s", gnutls_strerror(r));
		gnutls_deinit(s);
		return -1;
	}
	gnutls_transport_set_ptr(s, t);
	gnutls_transport_set_pull_function(s, transport_pull);
	gnutls_transport_set_pull_timeout_function(s, transport_pull_timeout);
	gnutls_transport_set_vec_push_function(s, transport_push);
	gnutls_handshake_set_timeout(s, timeout_ms);

	do {
		r = gnutls_handshake(s);
	} while (r < 0 && !gnutls_error_is_fatal(r) && !t->timed_out &&
	         monotime_ms() < deadline);

	if (r < 0) {
		if (t->timed_out || r == GNUTLS_E_AGAIN || r == GNUTLS_E_INTERRUPTED ||
		    r == GNUTLS_E_TIMEDOUT) {
			snprintf(err, errlen, "timed out after %u ms", timeout_ms);
		} else if (r == GNUTLS_E_FATAL_ALERT_RECEIVED) {
			const char *a = gnutls_alert_get_name(gnutls_alert_get(s));

			snprintf(err, errlen, "%s (%s)", gnutls_strerror(r), a ? a : "unknown alert");
		} else {
			snprintf(err, errlen, "%s", gnutls_strerror(r));
		}
		/* Tell the client why (protocol_version, handshake_failure,
		 * no_application_protocol, ...); bounded by the deadline. */
		if (!t->timed_out && !is_transport_error(r))
			(void)gnutls_alert_send_appropriate(s, r);
		gnutls_deinit(s);
		return -1;
	}
	t->session = s;
	/* From here on the session loop sets the deadlines. */
	t->recv_deadline = 0;
	t->send_deadline = 0;
	return 0;
}

ssize_t
tls_read(struct tls_server *t, void *buf, size_t len)
{
	ssize_t r;

	if (t->session == NULL)
		return -EINVAL;
	t->timed_out = false;
	errno = 0;
	r = gnutls_record_recv(t->session, buf, len);
	if (r >= 0)
		return r;
	if (t->timed_out)
		return -ETIMEDOUT;
	switch (r) {
	case GNUTLS_E_PREMATURE_TERMINATION:
		/* closed without close_notify: POP3 has its own end marker
		 * (QUIT), so this is just the peer going away */
		return 0;
	case GNUTLS_E_AGAIN:
	case GNUTLS_E_INTERRUPTED:
		return -EAGAIN;
	case GNUTLS_E_REHANDSHAKE:
		/* TLS 1.2 client-initiated renegotiation: decline and carry
		 * on; the client may continue or give up. */
		(void)gnutls_alert_send(t->session, GNUTLS_AL_WARNING, GNUTLS_A_NO_RENEGOTIATION);
		return -EAGAIN;
	case GNUTLS_E_PULL_ERROR:
		return errno == ECONNRESET ? -ECONNRESET : -EIO;
	default:
		/* warning alerts other than close_notify are not fatal */
		return gnutls_error_is_fatal((int)r) ? -EIO : -EAGAIN;
	}
}

int
tls_write_all(void *tls_server, const void *buf, size_t len)
{
	struct tls_server *t = tls_server;
	const char *p = buf;

	if (t->session == NULL)
		return -EINVAL;
	t->timed_out = false;
	/* A window that ran out while the server was not sending (a filter
	 * or a password hash running long) was the server's time, not a
	 * slow client's: a client that did stall would have been cut. */
	if (t->window_ms != 0 && monotime_ms() >= t->window_start + t->window_ms)
		tls_send_restart(t);
	while (len > 0) {
		ssize_t r;

		errno = 0;
		r = gnutls_record_send(t->session, p, len);
		if (r > 0) {
			p += r;
			len -= (size_t)r;
			continue;
		}
		if (t->timed_out)
			return -ETIMEDOUT;   /* the client reads too slowly */
		switch (r) {
		case GNUTLS_E_AGAIN:
			/* the socket took part of the record (a partial
			 * sendmsg): call again with the same data for the
			 * rest, which then waits for room in the push */
			continue;
		case GNUTLS_E_INTERRUPTED:
			/* A caught signal means "stop" (SIGTERM, SIGINT): give
			 * up rather than finish a long write. The record is
			 * half sent, so the session must end. */
			return -EINTR;
		case GNUTLS_E_PUSH_ERROR:
			return (errno == EPIPE || errno == ECONNRESET) ? -errno : -EIO;
		default:
			return -EIO;
		}
	}
	return 0;
}

void
tls_bye(struct tls_server *t)
{
	int i, r;

	if (t->session == NULL)
		return;
	/* SHUT_WR: send close_notify without waiting for the peer's, for at
	 * most TLS_BYE_MS; a few retries if a signal interrupts. */
	t->send_deadline = monotime_ms() + TLS_BYE_MS;
	t->timed_out = false;
	for (i = 0; i < 3; i++) {
		r = gnutls_bye(t->session, GNUTLS_SHUT_WR);
		if (r != GNUTLS_E_INTERRUPTED)
			break;
	}
}

const char *
tls_describe(struct tls_server *t, char *buf, size_t len)
{
	const char *proto, *suite, *group = NULL;
	gnutls_datum_t sel;
	int have_alpn;
	gnutls_session_t s = t->session;

	if (len == 0)
		return buf;
	if (s == NULL) {
		snprintf(buf, len, "no TLS session");
		return buf;
	}
	proto = gnutls_protocol_get_name(gnutls_protocol_get_version(s));
#if GNUTLS_VERSION_NUMBER >= 0x030703
	suite = gnutls_ciphersuite_get(s);
#else
	suite = gnutls_cipher_get_name(gnutls_cipher_get(s));
#endif
	if (gnutls_group_get(s) != 0)
		group = gnutls_group_get_name(gnutls_group_get(s));
	have_alpn = gnutls_alpn_get_selected_protocol(s, &sel) == 0;
	snprintf(buf, len, "%s %s%s%s%s%.*s%s",
	         proto ? proto : "unknown", suite ? suite : "unknown",
	         group ? " " : "", group ? group : "",
	         have_alpn ? " alpn=" : "", have_alpn ? (int)sel.size : 0,
	         have_alpn ? (const char *)sel.data : "",
	         gnutls_session_is_resumed(s) ? " resumed" : "");
	return buf;
}

void
tls_server_free(struct tls_server *t)
{
	if (t == NULL)
		return;
	if (t->session != NULL)
		gnutls_deinit(t->session);
	if (t->prio != NULL)
		gnutls_priority_deinit(t->prio);
	if (t->cred != NULL)
		gnutls_certificate_free_credentials(t->cred);
	explicit_bzero(t->ticket_key, sizeof(t->ticket_key));
	free(t);
}
