/* The TLS session ticket key shared by all pop3s-session processes: its
 * text form (base64), its file (written by `pop3sctl ticket-key`) and its
 * hand-over through the environment (EnvironmentFile= in pop3s@.service,
 * read by PID 1 as root). No GnuTLS here: pop3sctl uses it too. */
#ifndef POP3S_TICKET_KEY_H
#define POP3S_TICKET_KEY_H

#include <stddef.h>

/* GnuTLS's session ticket master key (TICKET_MASTER_KEY_SIZE, what
 * gnutls_session_ticket_key_generate() makes): 64 random octets. */
#define TICKET_KEY_SIZE 64
/* Its base64 form: 88 characters, the last two "=". */
#define TICKET_KEY_B64_LEN (((TICKET_KEY_SIZE + 2) / 3) * 4)
#define TICKET_KEY_ENV "POP3S_TICKET_KEY"
#define TICKET_KEY_DEFAULT_FILE "/run/pop3s/ticket-key"

/* Writes key as base64 (standard alphabet, padded) and a NUL to out,
 * which must hold TICKET_KEY_B64_LEN + 1. */
void ticket_key_encode(const unsigned char key[TICKET_KEY_SIZE], char *out);

/* Decodes base64 text into key. Returns 0; -EINVAL when text is not
 * base64 (a character outside the alphabet, bad padding, a length not a
 * multiple of 4); -EMSGSIZE when it decodes to other than TICKET_KEY_SIZE
 * octets. key is wiped on failure. */
int ticket_key_decode(const char *text, unsigned char key[TICKET_KEY_SIZE]);

/* Takes the key from the environment variable TICKET_KEY_ENV, then
 * overwrites the variable's value in place (so /proc/PID/environ no
 * longer shows it) and removes it from the environment. Returns 1 with
 * the key, 0 when the variable is absent or empty, or -EINVAL/-EMSGSIZE
 * (ticket_key_decode) when it is malformed: then also the message
 * "POP3S_TICKET_KEY (from /run/pop3s/ticket-key): ..." in err. */
int ticket_key_take_env(unsigned char key[TICKET_KEY_SIZE], char *err, size_t errlen);

/* The file: one line "POP3S_TICKET_KEY=<base64>\n", as systemd's
 * EnvironmentFile= reads it. Fills line (TICKET_KEY_LINE_MAX octets) and
 * returns its length. */
#define TICKET_KEY_LINE_MAX (sizeof(TICKET_KEY_ENV "=\n") + TICKET_KEY_B64_LEN)
size_t ticket_key_line(const unsigned char key[TICKET_KEY_SIZE], char *line);

#endif
