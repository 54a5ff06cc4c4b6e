/* What a users file hash is: its crypt(3) method, whether that method is
 * too weak to accept, and a rough estimate of what one verification costs,
 * so that a login for an unknown user can cost as much as the dearest hash
 * in the file. Pure string inspection: no crypt(3) call, no I/O. */
#ifndef POP3S_HASH_METHOD_H
#define POP3S_HASH_METHOD_H

#include <stdbool.h>
#include <stdint.h>

enum hash_kind {
	HASH_NONE,      /* not a hash: "*", "!...", empty, plaintext: locked */
	HASH_WEAK,      /* a legacy method that is refused: see name */
	HASH_OK,        /* a method that is verified */
};

struct hash_method {
	enum hash_kind kind;
	const char *name;       /* "yescrypt", "MD5-crypt ($1$)", ...; "" for NONE */
	/* Estimated cost of one verification in nanoseconds on a 2-core x86
	 * build machine (libxcrypt 4.4 on Debian 12), from the method and its
	 * cost parameters; 0 when unknown. Only compared, never waited for. */
	uint64_t cost_ns;
};

/* Classifies hash (the text after "user:"). Refused as weak: MD5-crypt
 * ($1$), NT hash ($3$), Sun MD5 ($md5), SHA1-crypt ($sha1$), BSDi extended
 * DES (_...), traditional DES (13 characters of [./0-9A-Za-z]). OK: every
 * other "$id$" string (libxcrypt decides whether it is valid). */
struct hash_method hash_method_classify(const char *hash);

#endif
