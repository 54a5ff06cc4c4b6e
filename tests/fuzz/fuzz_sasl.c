/* libFuzzer target: an RFC 5034 AUTH PLAIN client response (the base64
 * line) as sasl_plain_decode() receives it.
 *
 * The decoder is strict: every accepted response has exactly one
 * encoding. So whatever it accepts must be well-formed (fields
 * NUL-terminated within their bounds, authcid and passwd not empty,
 * authzid empty or equal to authcid), and base64 of
 * authzid NUL authcid NUL passwd, encoded here independently, must give
 * back the input octet for octet. Anything else aborts.
 * Seeds: tests/fuzz/corpus/sasl. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "sasl_plain.h"

/* Room for the encoding of three full fields and two NULs. */
#define ENC_MAX (((3 * SASL_PLAIN_FIELD_MAX + 2 + 2) / 3) * 4 + 1)

static size_t
b64_encode(const unsigned char *in, size_t len, char *out)
{
	static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	size_t i, n = 0;

	for (i = 0; i + 2 < len; i += 3) {
		uint32_t q = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8 | in[i + 2];

		out[n++] = a[q >> 18];
		out[n++] = a[(q >> 12) & 63];
		out[n++] = a[(q >> 6) & 63];
		out[n++] = a[q & 63];
	}
	if (len - i == 1) {
		uint32_t q = (uint32_t)in[i] << 16;

		out[n++] = a[q >> 18];
		out[n++] = a[(q >> 12) & 63];
		out[n++] = '=';
		out[n++] = '=';
	} else if (len - i == 2) {
		uint32_t q = (uint32_t)in[i] << 16 | (uint32_t)in[i + 1] << 8;

		out[n++] = a[q >> 18];
		out[n++] = a[(q >> 12) & 63];
		out[n++] = a[(q >> 6) & 63];
		out[n++] = '=';
	}
	return n;
}

static size_t
field(const char *f, const char *name)
{
	const char *nul = memchr(f, '\0', SASL_PLAIN_FIELD_MAX + 1);

	if (nul == NULL) {
		fprintf(stderr, "fuzz_sasl: %s is not NUL-terminated within its bound\n", name);
		fz_fail("unterminated field");
	}
	return (size_t)(nul - f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char plain[3 * (SASL_PLAIN_FIELD_MAX + 1)];
	char enc[ENC_MAX];
	struct sasl_plain sp;
	size_t lz, lc, lp, n, elen;
	char *in;
	int r;

	/* A private copy of exactly size octets, so ASan sees any read past
	 * the response (the session passes a line inside its buffer). */
	in = malloc(size ? size : 1);
	if (in == NULL)
		fz_fail("out of memory");
	memcpy(in, data, size);
	memset(&sp, 0xa5, sizeof(sp));
	r = sasl_plain_decode(in, size, &sp);
	if (r != 0 && r != -EINVAL)
		fz_fail("sasl_plain_decode returned neither 0 nor -EINVAL");
	if (r == 0) {
		lz = field(sp.authzid, "authzid");
		lc = field(sp.authcid, "authcid");
		lp = field(sp.passwd, "passwd");
		if (lc == 0 || lp == 0)
			fz_fail("accepted an empty authcid or passwd");
		if (lz != 0 && strcmp(sp.authzid, sp.authcid) != 0)
			fz_fail("accepted an authzid that is neither empty nor the authcid");
		n = 0;
		memcpy(plain + n, sp.authzid, lz), n += lz;
		plain[n++] = '\0';
		memcpy(plain + n, sp.authcid, lc), n += lc;
		plain[n++] = '\0';
		memcpy(plain + n, sp.passwd, lp), n += lp;
		elen = b64_encode(plain, n, enc);
		if (elen != size || memcmp(enc, in, size) != 0) {
			fprintf(stderr, "fuzz_sasl: accepted %zu octets that are not the encoding "
			        "(%zu octets: %.*s) of what they decoded to\n", size, elen, (int)elen, enc);
			fz_fail("non-canonical response accepted");
		}
	}
	explicit_bzero(&sp, sizeof(sp));
	free(in);
	return 0;
}
