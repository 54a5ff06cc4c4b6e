/* Password verification against the users file ("user:crypt-hash" lines,
 * '#' comments, blank lines ignored). The file is read at every login so
 * changes apply to the next login. Hashes are verified by libcrypt's
 * crypt_rn (yescrypt, SHA-512-crypt, bcrypt, ...); a line holding anything
 * that is not a "$id$" crypt(3) hash never matches (plaintext, "*", "!...",
 * empty; traditional DES hashes too, as they truncate passwords to 8
 * octets). Lines over 1023 octets or holding a NUL are skipped; the first
 * line for a user counts. An unknown user costs the same
 * as a wrong password: the password is checked against another user's hash
 * (same method and cost), or a built-in yescrypt hash if there is none. */
#ifndef POP3S_AUTH_H
#define POP3S_AUTH_H

#include <stddef.h>

enum auth_result {
	AUTH_OK,        /* user exists and the password matches */
	AUTH_FAIL,      /* unknown user or wrong password (indistinguishable) */
	AUTH_TEMPFAIL,  /* users file unreadable or similar: [SYS/TEMP] */
};

/* Checks user/password against users_file. On AUTH_TEMPFAIL, err holds a
 * one-line reason naming the file (never the password). */
enum auth_result auth_check(const char *users_file, const char *user,
                            const char *password, char *err, size_t errlen);

/* For tests: the number of crypt(3) computations this process has done,
 * and the setting (method, cost and salt: the hash up to its last '$') of
 * the last one. They show that an unknown user costs a real computation
 * of the same method and cost, without measuring time. */
unsigned long auth_hash_count(void);
const char *auth_last_setting(void);

#endif
