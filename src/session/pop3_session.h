/* The POP3 state machine (RFC 1939 AUTHORIZATION -> TRANSACTION -> UPDATE,
 * RFC 2449 CAPA, RFC 5034 AUTH PLAIN, RFC 3206 response codes). It reads
 * complete command lines and writes replies through a struct transport; it
 * never touches sockets or TLS, so tests drive whole sessions in memory. */
#ifndef POP3S_POP3_SESSION_H
#define POP3S_POP3_SESSION_H

#include <stdbool.h>
#include <stddef.h>
#include "filter.h"
#include "transport.h"

struct logclient;

/* RFC 2449: a command line is at most 255 octets including CRLF. A SASL
 * response line (RFC 5034 section 4) is not bound by it: it may fill the
 * whole line buffer (LINEBUF_SIZE). */
#define POP3_COMMAND_MAX 253

struct pop3_params {
	const char *home;             /* mailbox root */
	const char *users_file;
	unsigned auth_delay_ms;       /* pause before answering a failed login */
	unsigned max_auth_failures;   /* close the connection after this many */
	unsigned max_bad_commands;    /* unknown, malformed, misplaced commands or
	                               * bad arguments: the one that reaches this
	                               * count gets a final -ERR and closes */
	const char *implementation;   /* CAPA IMPLEMENTATION value */
	struct logclient *log;        /* may be NULL */
	struct filter_config filter;  /* RETR/TOP filter; command NULL or "" = none */
	/* Called with the user's mailbox directory once it is open, before
	 * anything in it is read (main.c: confine_mailbox). Returns 0, or
	 * -errno and a message in err: the login then fails. NULL: none. */
	int (*enter_mailbox)(void *ctx, int dirfd, char *err, size_t errlen);
	void *enter_mailbox_ctx;
};

enum pop3_result {
	POP3_CONTINUE,   /* keep reading */
	POP3_CLOSE,      /* the reply is queued; flush it and end the session */
};

enum pop3_state {
	POP3_STATE_AUTHORIZATION,
	POP3_STATE_TRANSACTION,
	POP3_STATE_UPDATE,
};

struct pop3_session;

/* params and t must outlive the session. Returns NULL on ENOMEM. */
struct pop3_session *pop3_session_new(const struct pop3_params *params, struct transport *t);

/* Queues the greeting. */
void pop3_session_greet(struct pop3_session *s);

/* Handles one line from linebuf (flags are LINEBUF_* values). The line is
 * modified, and wiped if it carried a password. */
enum pop3_result pop3_session_input(struct pop3_session *s, char *line, size_t len,
                                    unsigned flags);

enum pop3_state pop3_session_state(const struct pop3_session *s);

/* Authenticated user, or NULL. */
const char *pop3_session_user(const struct pop3_session *s);

/* Frees the session without UPDATE: nothing marked for deletion is removed
 * (dropped connection, timeout, signal). NULL allowed. */
void pop3_session_free(struct pop3_session *s);

#endif
