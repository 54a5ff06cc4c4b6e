/* Big-endian integers in the wire and file formats pop3s writes itself
 * (log records, the failed-login table): one pair of helpers for both. */
#ifndef POP3S_BE_H
#define POP3S_BE_H

#include <stddef.h>
#include <stdint.h>

/* Stores the low n octets of v at p, most significant first. */
static inline void
put_be(uint8_t *p, uint64_t v, size_t n)
{
	while (n-- > 0) {
		p[n] = (uint8_t)v;
		v >>= 8;
	}
}

/* Reads n (at most 8) octets at p, most significant first. */
static inline uint64_t
get_be(const uint8_t *p, size_t n)
{
	uint64_t v = 0;
	size_t i;

	for (i = 0; i < n; i++)
		v = v << 8 | p[i];
	return v;
}

#endif
