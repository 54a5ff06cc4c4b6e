/* RFC 4648 base64. See base64.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include "base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
base64_encode(const unsigned char *in, size_t n, char *out)
{
	size_t i, o = 0;

	for (i = 0; i < n; i += 3) {
		size_t left = n - i;
		uint32_t v = (uint32_t)in[i] << 16;

		if (left > 1)
			v |= (uint32_t)in[i + 1] << 8;
		if (left > 2)
			v |= in[i + 2];
		out[o++] = alphabet[(v >> 18) & 63];
		out[o++] = alphabet[(v >> 12) & 63];
		out[o++] = left > 1 ? alphabet[(v >> 6) & 63] : '=';
		out[o++] = left > 2 ? alphabet[v & 63] : '=';
	}
	out[o] = '\0';
}

/* The value of a base64 alphabet character, or -1. */
static int
value(unsigned char c)
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

int
base64_decode(const char *in, size_t len, unsigned char *out, size_t cap)
{
	size_t i, n = 0;
	uint32_t q = 0;
	int r = -EINVAL;

	if (len == 0 || len % 4 != 0 || len / 4 > (size_t)INT32_MAX / 3)
		return -EINVAL;
	for (i = 0; i < len; i += 4) {
		bool last = (i + 4 == len);
		size_t pad = 0, k;

		q = 0;
		for (k = 0; k < 4; k++) {
			unsigned char c = (unsigned char)in[i + k];
			int v;

			if (c == '=' && last && k >= 2) {
				pad++;
				q <<= 6;
				continue;
			}
			/* data after padding ("ab=c") or '=' anywhere else */
			v = value(c);
			if (pad > 0 || v < 0)
				goto out;
			q = q << 6 | (uint32_t)v;
		}
		if ((pad == 1 && (q & 0xff) != 0) || (pad == 2 && (q & 0xffff) != 0))
			goto out;
		if (n + 3 - pad > cap) {
			r = -EMSGSIZE;
			goto out;
		}
		out[n++] = (unsigned char)(q >> 16);
		if (pad < 2)
			out[n++] = (unsigned char)(q >> 8);
		if (pad < 1)
			out[n++] = (unsigned char)q;
	}
	r = (int)n;
out:
	explicit_bzero(&q, sizeof(q));
	return r;
}
