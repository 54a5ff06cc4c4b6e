/* RFC 4616 PLAIN message decoding: strict RFC 4648 base64, then exactly
 * authzid NUL authcid NUL passwd. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "sasl_plain.h"

/* Three fields at their maximum plus the two NULs. */
#define PLAIN_MAX (3 * SASL_PLAIN_FIELD_MAX + 2)

/* Value of a base64 alphabet character, or -1. */
static int
b64_value(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

/*
 * Decodes strictly: the length is a non-zero multiple of 4, only the
 * alphabet, '=' padding only at the very end (at most two), and the bits
 * a padded quantum leaves unused must be zero (RFC 4648 section 3.5), so
 * every message has exactly one accepted encoding. Returns the decoded
 * length or -EINVAL (also when it would not fit in cap).
 */
static int
b64_decode_strict(const char *in, size_t len, unsigned char *out, size_t cap)
{
	size_t i, n = 0;

	if (len == 0 || len % 4 != 0)
		return -EINVAL;
	for (i = 0; i < len; i += 4) {
		bool last = (i + 4 == len);
		int v[4];
		size_t pad = 0, k;
		uint32_t q;

		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];

			if (c == '=' && last && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			/* data after padding ("ab=c") or '=' anywhere else */
			if (pad > 0)
				return -EINVAL;
			v[k] = b64_value(c);
			if (v[k] < 0)
				return -EINVAL;
		}
		q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
		    (uint32_t)v[2] << 6 | (uint32_t)v[3];
		if ((pad == 1 && (q & 0xff) != 0) ||
		    (pad == 2 && (q & 0xffff) != 0))
			return -EINVAL;
		if (n + 3 - pad > cap)
			return -EINVAL;
		out[n++] = (unsigned char)(q >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(q >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)q;
	}
	return (int)n;
}

/* Copies one field of flen octets into dst (SASL_PLAIN_FIELD_MAX + 1). */
static int
copy_field(char *dst, const unsigned char *src, size_t flen)
{
	if (flen > SASL_PLAIN_FIELD_MAX)
		return -EINVAL;
	memcpy(dst, src, flen);
	dst[flen] = '\0';
	return 0;
}

int
sasl_plain_decode(const char *b64, size_t len, struct sasl_plain *ret)
{
	unsigned char buf[PLAIN_MAX];
	const unsigned char *nul1, *nul2;
	size_t n, zlen, clen, plen;
	int r;

	if (ret == NULL)
		return -EINVAL;
	memset(ret, 0, sizeof(*ret));
	/* Longer input cannot decode to a valid message; refuse it before
	 * touching it so the buffer bound is obvious. */
	if (b64 == NULL || len > (PLAIN_MAX + 2) / 3 * 4)
		return -EINVAL;
	r = b64_decode_strict(b64, len, buf, sizeof(buf));
	if (r < 0)
		goto fail;
	n = (size_t)r;

	r = -EINVAL;
	nul1 = memchr(buf, '\0', n);
	if (nul1 == NULL)
		goto fail;
	nul2 = memchr(nul1 + 1, '\0', n - (size_t)(nul1 + 1 - buf));
	if (nul2 == NULL)
		goto fail;
	/* exactly two NULs: the password may not contain another one */
	if (memchr(nul2 + 1, '\0', n - (size_t)(nul2 + 1 - buf)) != NULL)
		goto fail;

	zlen = (size_t)(nul1 - buf);
	clen = (size_t)(nul2 - nul1 - 1);
	plen = n - (size_t)(nul2 + 1 - buf);
	if (clen == 0 || plen == 0)
		goto fail;
	/* Acting as another user is not supported: an authzid must name
	 * the authenticating user itself. */
	if (zlen != 0 && (zlen != clen || memcmp(buf, nul1 + 1, clen) != 0))
		goto fail;
	if (copy_field(ret->authzid, buf, zlen) < 0 ||
	    copy_field(ret->authcid, nul1 + 1, clen) < 0 ||
	    copy_field(ret->passwd, nul2 + 1, plen) < 0)
		goto fail;
	explicit_bzero(buf, sizeof(buf));
	return 0;

fail:
	explicit_bzero(buf, sizeof(buf));
	explicit_bzero(ret, sizeof(*ret));
	return r < 0 ? r : -EINVAL;
}
