/* pop3s.conf: KEY=VALUE lines, '#' comments, shared by every program.
 * One typed key table (config.c) defines names, defaults and validation;
 * errors name the file, the line and the problem. */
#ifndef POP3S_CONFIG_H
#define POP3S_CONFIG_H

#include <limits.h>
#include <stddef.h>
#include <stdio.h>

#define CONFIG_DEFAULT_PATH SYSCONFDIR "/pop3s/pop3s.conf"
#define CONFIG_ERR_MAX 512

/* Debian 12's GnuTLS NORMAL still enables TLS 1.0/1.1, RSA key exchange and
 * CBC; this allows only TLS 1.2/1.3 with ECDHE and AEAD ciphers. */
#define CONFIG_DEFAULT_PRIORITY \
	"NORMAL:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:" \
	"-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:+CHACHA20-POLY1305:-MAC-ALL:+AEAD:" \
	"-GROUP-ALL:+GROUP-X25519:+GROUP-SECP256R1:+GROUP-SECP384R1:%SERVER_PRECEDENCE"

enum config_key {
	CONF_HOME,              /* mailbox root: user U's mail is in HOME/U */
	CONF_USERS,             /* users file, "user:crypt-hash" lines */
	CONF_LOGS,              /* log file written by pop3s-logger */
	CONF_TIMEOUT,           /* idle seconds before a session is dropped (>= 600 per RFC 1939 unless lowered) */
	CONF_HANDSHAKE_TIMEOUT, /* seconds from accept to the greeting */
	CONF_CERT,              /* PEM certificate (chain) */
	CONF_KEY,               /* PEM private key */
	CONF_PRIORITY,          /* GnuTLS priority string */
	CONF_QUEUE,             /* POSIX message queue name, "/name" */
	CONF_QUEUE_DEPTH,       /* depth when pop3s-logger creates the queue itself */
	CONF_QUEUE_TIMEOUT_MS,  /* how long a session waits on a full queue */
	CONF_AUTH_DELAY_MS,     /* delay before answering a failed login */
	CONF_MAX_AUTH_FAILURES, /* failed logins before the connection is closed */
	CONF_STATE,             /* pop3s-logger's state directory (metrics) */
	CONF_FILTER,            /* message filter command for RETR/TOP; empty = none */
	CONF_FILTER_TIMEOUT_MS, /* how long the filter may take per message */
	CONF_FILTER_MAX_BYTES,  /* most output the filter may write per message */
	CONF_MAX_BAD_COMMANDS,  /* unknown/invalid commands before the connection is closed */
	CONF_MAX_LOG_RECORDS,   /* log records per session, plus an allowance per message */
	CONF_AUTH_PENALTY_MS,   /* wait before a password check per recent failure of the source */
	CONF_AUTH_PENALTY_MAX_MS, /* longest such wait */
	CONF_AUTH_PENALTY_WINDOW, /* seconds without a failure after which a source is forgiven */
	CONF_AUTH_PENALTY_FILE, /* per-source failures, written by pop3s-logger, read by sessions */
	CONF_MIN_SEND_RATE,     /* octets/s a client must read replies at, per TIMEOUT window */
	CONF_LANDLOCK,          /* auto: confine if the kernel can; required: refuse to serve otherwise */
	CONF_KEY_COUNT
};

struct pop3s_config {
	const char *path;                 /* file it was read from (not owned) */
	unsigned line[CONF_KEY_COUNT];    /* line each key was set on, 0 = default */
	char home[PATH_MAX];
	char users[PATH_MAX];
	char logs[PATH_MAX];
	char cert[PATH_MAX];
	char key[PATH_MAX];
	char priority[1024];
	char queue[256];
	char state[PATH_MAX];
	char filter[1024];
	char auth_penalty_file[PATH_MAX];
	char landlock[16];                /* "auto" or "required" */
	unsigned timeout;
	unsigned handshake_timeout;
	unsigned queue_depth;
	unsigned queue_timeout_ms;
	unsigned auth_delay_ms;
	unsigned max_auth_failures;
	unsigned filter_timeout_ms;
	unsigned filter_max_bytes;
	unsigned max_bad_commands;
	unsigned max_log_records;
	unsigned auth_penalty_ms;
	unsigned auth_penalty_max_ms;
	unsigned auth_penalty_window;
	unsigned min_send_rate;
};

/* Fills *c with the built-in defaults. */
void config_defaults(struct pop3s_config *c);

/* Reads path over the defaults in *c. Returns 0, or -errno with a one-line
 * message "FILE:LINE: problem" (or "FILE: problem") in err. Unknown keys,
 * duplicate keys, bad numbers and unreadable files are all errors.
 * Does not open CERT or KEY: tls.c checks those and names the line. */
int config_load(const char *path, struct pop3s_config *c, char *err, size_t errlen);

/* Validates and stores one KEY=VALUE. Returns 0, or -EINVAL with the
 * problem (without file and line) in err. */
int config_set(struct pop3s_config *c, const char *key, const char *value,
               char *err, size_t errlen);

/* Name of a key, e.g. "HOME". */
const char *config_key_name(enum config_key k);

/* Formats "FILE:LINE: " for key k into buf (just "FILE: " when the key
 * came from the defaults); used to report problems found later, such as a
 * certificate that cannot be read. Returns buf. */
const char *config_where(const struct pop3s_config *c, enum config_key k,
                         char *buf, size_t len);

/* Writes the effective configuration as KEY=VALUE lines (for -n). */
void config_dump(const struct pop3s_config *c, FILE *out);

#endif
