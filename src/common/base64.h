/* RFC 4648 base64 (standard alphabet, padded): the SASL PLAIN message
 * (sasl_plain.c) and the session ticket key's text form (ticket_key.c). */
#ifndef POP3S_BASE64_H
#define POP3S_BASE64_H

#include <stddef.h>

/* Length of the encoding of n octets, without the NUL. */
#define BASE64_LEN(n) ((((n) + 2) / 3) * 4)

/* Writes the encoding of in[0..n) and a NUL to out, which must hold
 * BASE64_LEN(n) + 1 octets. */
void base64_encode(const unsigned char *in, size_t n, char *out);

/*
 * Decodes in[0..len) strictly: the length is a non-zero multiple of 4,
 * only the alphabet, '=' padding only at the very end (at most two), and
 * the bits a padded quantum leaves unused are zero (RFC 4648 section
 * 3.5), so every octet string has exactly one accepted encoding.
 * Returns the decoded length; -EINVAL for text that is not such base64;
 * -EMSGSIZE when the result would not fit in cap octets. out may hold
 * part of the result after a failure: callers with secrets wipe it.
 */
int base64_decode(const char *in, size_t len, unsigned char *out, size_t cap);

#endif
