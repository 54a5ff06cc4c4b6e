/* RFC 4616 PLAIN as used by RFC 5034 AUTH: base64 of
 * authzid NUL authcid NUL passwd. Pure; no I/O. */
#ifndef POP3S_SASL_PLAIN_H
#define POP3S_SASL_PLAIN_H

#include <stddef.h>

#define SASL_PLAIN_FIELD_MAX 255

struct sasl_plain {
	char authzid[SASL_PLAIN_FIELD_MAX + 1];
	char authcid[SASL_PLAIN_FIELD_MAX + 1];
	char passwd[SASL_PLAIN_FIELD_MAX + 1];
};

/* Decodes a base64 client response of len octets into *ret. Returns 0, or
 * -EINVAL for bad base64, a wrong number of NULs, an empty authcid or
 * passwd, a field over SASL_PLAIN_FIELD_MAX, or an authzid that is neither
 * empty nor equal to authcid. The caller wipes *ret with explicit_bzero. */
int sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *ret);

#endif
