/* The single check that makes a user name safe to use as a path component
 * under the mailbox root and as a key in the users file. */
#ifndef POP3S_USERNAME_H
#define POP3S_USERNAME_H

#include <stdbool.h>
#include <stddef.h>

#define USERNAME_MAX 64

/* True if name is 1..64 octets of printable ASCII (0x21-0x7E) without
 * '/', '\\' or ':', and does not start with '.' or '#' (a users file
 * line starting with '#' is a comment). */
bool username_valid(const char *name, size_t len);

#endif
