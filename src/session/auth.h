/* Password verification against the users file ("user:crypt-hash" lines,
 * '#' comments, blank lines ignored). The file is read at every login so
 * changes apply to the next login. Hashes are verified by libcrypt's
 * crypt_rn (yescrypt, SHA-512-crypt, bcrypt, ...); a line holding anything
 * that is not a "$id$" crypt(3) hash never matches (plaintext, "*", "!...",
 * empty). Weak legacy methods (MD5-crypt $1$, NT $3$, Sun MD5 $md5,
 * SHA1-crypt $sha1$, BSDi _..., traditional DES) never match either, and
 * the login of such a user reports the file, line and cure. Lines over
 * 1023 octets or holding a NUL are skipped; the first line for a user
 * counts.
 *
 * Timing: an unknown user, a locked entry or a weak one costs one
 * verification against the dearest hash in the file (the usable hash of
 * the highest estimated cost, hash_method.h), or a built-in yescrypt hash
 * if there is none; a known user whose hash is cheaper than that one pays
 * for it as well, after its own. So with mixed methods an unknown user
 * answers no faster than any known one. */
#ifndef POP3S_AUTH_H
#define POP3S_AUTH_H

#include <stddef.h>

enum auth_result {
	AUTH_OK,        /* user exists and the password matches */
	AUTH_FAIL,      /* unknown user or wrong password (indistinguishable) */
	AUTH_TEMPFAIL,  /* users file unreadable or similar: [SYS/TEMP] */
};

/* Checks user/password against users_file. On AUTH_TEMPFAIL, err holds a
 * one-line reason naming the file (never the password); a signal during
 * the penalty wait gives AUTH_TEMPFAIL too. On AUTH_FAIL, err
 * is empty, or for a user whose line holds a weak legacy hash
 * "FILE:LINE: user 'U': METHOD is a weak legacy hash method, refused; set
 * a new password with 'pop3sctl user passwd U'". */
enum auth_result auth_check(const char *users_file, const char *user,
                            const char *password, char *err, size_t errlen);

/* The shared penalty (penalty.h): when set, auth_check first looks the
 * client's source up in file and sleeps penalty_delay_ms(recent failures,
 * base_ms, max_ms) before it reads the users file or checks anything, so
 * a penalised source waits whatever the outcome. No file, an unreadable or
 * malformed one, or an address that is no IP (a test over a UNIX socket)
 * means no wait; a malformed file is reported once on stderr. */
struct auth_penalty {
	const char *file;       /* AUTH_PENALTY_FILE; NULL or "": none */
	const char *client_ip;  /* as text, e.g. "192.0.2.1", "::ffff:192.0.2.1" */
	unsigned base_ms;       /* AUTH_PENALTY_MS; 0: none */
	unsigned max_ms;        /* AUTH_PENALTY_MAX_MS */
	unsigned window;        /* AUTH_PENALTY_WINDOW, seconds */
};

/* Sets the penalty for the auth_check calls of this process (a session
 * serves one client). The strings are copied; NULL clears it. */
void auth_set_penalty(const struct auth_penalty *p);

/* The wait auth_check would make now for the source set by
 * auth_set_penalty, in ms (0 without one). For logs and tests. */
unsigned auth_penalty_ms(void);

/* For tests: the number of crypt(3) computations this process has done,
 * and the setting (method, cost and salt: the hash up to its last '$') of
 * the last one. They show that an unknown user costs a real computation
 * of the dearest method and cost in the file, without measuring time. */
unsigned long auth_hash_count(void);
const char *auth_last_setting(void);

#endif
