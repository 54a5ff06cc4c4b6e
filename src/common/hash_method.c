/* crypt(3) hash classification (see hash_method.h). The cost figures are
 * rough, measured once on the build machine at each method's default
 * cost, and scaled by the cost parameters the hash carries; they only
 * have to put methods in the right order. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "hash_method.h"

/* ns per unit of each method's cost parameter */
#define SHA512_NS_PER_ROUND 430ULL      /* 5000 rounds: ~2.2 ms */
#define SHA256_NS_PER_ROUND 560ULL      /* 5000 rounds: ~2.8 ms */
#define SHA_DEFAULT_ROUNDS 5000ULL
#define BCRYPT_NS_PER_ROUND 118000ULL   /* per 2^cost; cost 5: ~3.8 ms */
#define YESCRYPT_NS_PER_UNIT 1000ULL    /* per N*r; j9T (N 4096, r 32): ~130 ms */
#define SCRYPT_NS_PER_UNIT 1400ULL      /* per N*r*p; default: ~700 ms */

static const char itoa64[] = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

static int
atoi64(char c)
{
	const char *p = c != '\0' ? strchr(itoa64, c) : NULL;

	return p != NULL ? (int)(p - itoa64) : -1;
}

static uint64_t
mul_sat(uint64_t a, uint64_t b)
{
	if (a != 0 && b > UINT64_MAX / a)
		return UINT64_MAX;
	return a * b;
}

/* "rounds=N$" after a SHA-crypt prefix, else the default; libxcrypt
 * clamps N to 1000..999999999 the same way. */
static uint64_t
sha_rounds(const char *p)
{
	unsigned long long n;
	char *end;

	if (strncmp(p, "rounds=", 7) != 0)
		return SHA_DEFAULT_ROUNDS;
	n = strtoull(p + 7, &end, 10);
	if (end == p + 7 || *end != '$')
		return SHA_DEFAULT_ROUNDS;
	if (n < 1000)
		n = 1000;
	if (n > 999999999)
		n = 999999999;
	return n;
}

/* yescrypt's variable-length little number (decode64_uint32 in libxcrypt's
 * yescrypt-common.c). Returns the position after it, or NULL. */
static const char *
decode64_uint32(uint32_t *dst, const char *src, uint32_t min)
{
	uint32_t start = 0, end = 47, chars = 1, bits = 0;
	uint64_t v = min;
	int c = atoi64(*src++);

	if (c < 0)
		return NULL;
	while ((uint32_t)c > end) {
		v += (uint64_t)(end + 1 - start) << bits;
		start = end + 1;
		end = start + (62 - end) / 2;
		chars++;
		bits += 6;
	}
	v += (uint64_t)((uint32_t)c - start) << bits;
	while (--chars) {
		c = atoi64(*src++);
		if (c < 0)
			return NULL;
		bits -= 6;
		v += (uint64_t)c << bits;
	}
	if (v > UINT32_MAX)
		return NULL;
	*dst = (uint32_t)v;
	return src;
}

/* "$y$" and "$gy$": flavor, log2(N), r, then optional parameters. */
static uint64_t
yescrypt_cost(const char *p)
{
	uint32_t flavor, nlog2, r;

	if ((p = decode64_uint32(&flavor, p, 0)) == NULL ||
	    (p = decode64_uint32(&nlog2, p, 1)) == NULL ||
	    decode64_uint32(&r, p, 1) == NULL || nlog2 > 63)
		return 0;
	return mul_sat(mul_sat(1ULL << nlog2, r), YESCRYPT_NS_PER_UNIT);
}

/* 30-bit little-endian number in 5 characters (scrypt's "$7$" format). */
static bool
decode_u30(const char *p, uint32_t *v)
{
	int i, c;

	*v = 0;
	for (i = 0; i < 5; i++) {
		if ((c = atoi64(p[i])) < 0)
			return false;
		*v |= (uint32_t)c << (6 * i);
	}
	return true;
}

/* "$7$": log2(N) in one character, r and p in five each. */
static uint64_t
scrypt_cost(const char *p)
{
	int nlog2 = atoi64(p[0]);
	uint32_t r, pp;

	if (nlog2 < 1 || nlog2 > 63 || !decode_u30(p + 1, &r) || !decode_u30(p + 6, &pp))
		return 0;
	return mul_sat(mul_sat(mul_sat(1ULL << nlog2, r), pp), SCRYPT_NS_PER_UNIT);
}

/* "$2b$NN$": 2^NN rounds. */
static uint64_t
bcrypt_cost(const char *p)
{
	if (p[0] < '0' || p[0] > '3' || p[1] < '0' || p[1] > '9' || p[2] != '$')
		return 0;
	return mul_sat(1ULL << ((p[0] - '0') * 10 + (p[1] - '0')), BCRYPT_NS_PER_ROUND);
}

static bool
all_itoa64(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (atoi64(s[i]) < 0)
			return false;
	return true;
}

static struct hash_method
method(enum hash_kind kind, const char *name, uint64_t cost_ns)
{
	struct hash_method m = { kind, name, cost_ns };

	return m;
}

struct hash_method
hash_method_classify(const char *h)
{
	static const struct {
		const char *prefix, *name;
	} weak[] = {
		{ "$1$", "MD5-crypt ($1$)" },
		{ "$3$", "NT hash ($3$)" },
		{ "$md5", "Sun MD5-crypt ($md5)" },
		{ "$sha1$", "SHA1-crypt ($sha1$)" },
	};
	size_t i, len = strlen(h);

	for (i = 0; i < sizeof(weak) / sizeof(weak[0]); i++)
		if (strncmp(h, weak[i].prefix, strlen(weak[i].prefix)) == 0)
			return method(HASH_WEAK, weak[i].name, 0);
	if (h[0] == '_' && len == 20 && all_itoa64(h + 1, 19))
		return method(HASH_WEAK, "BSDi extended DES-crypt (_)", 0);
	if (len == 13 && all_itoa64(h, 13))
		return method(HASH_WEAK, "traditional DES-crypt (13 characters)", 0);
	if (h[0] != '$')
		return method(HASH_NONE, "", 0);
	if (strncmp(h, "$y$", 3) == 0)
		return method(HASH_OK, "yescrypt", yescrypt_cost(h + 3));
	if (strncmp(h, "$gy$", 4) == 0)
		return method(HASH_OK, "gost-yescrypt", yescrypt_cost(h + 4));
	if (strncmp(h, "$7$", 3) == 0)
		return method(HASH_OK, "scrypt", scrypt_cost(h + 3));
	if (h[1] == '2' && h[2] != '\0' && strchr("abxy", h[2]) != NULL && h[3] == '$')
		return method(HASH_OK, "bcrypt", bcrypt_cost(h + 4));
	if (strncmp(h, "$6$", 3) == 0)
		return method(HASH_OK, "SHA512-crypt",
		              mul_sat(sha_rounds(h + 3), SHA512_NS_PER_ROUND));
	if (strncmp(h, "$5$", 3) == 0)
		return method(HASH_OK, "SHA256-crypt",
		              mul_sat(sha_rounds(h + 3), SHA256_NS_PER_ROUND));
	return method(HASH_OK, "crypt(3)", 0);
}
