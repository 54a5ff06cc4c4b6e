/* RFC 4616 PLAIN message decoding: strict RFC 4648 base64 (base64.c),
 * then exactly authzid NUL authcid NUL passwd. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "base64.h"
#include "sasl_plain.h"

/* Three fields at their maximum plus the two NULs. */
#define PLAIN_MAX (3 * SASL_PLAIN_FIELD_MAX + 2)

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
	r = base64_decode(b64, len, buf, sizeof(buf));
	if (r < 0) {
		r = -EINVAL;
		goto fail;
	}
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
