/* The one strict number parser: decimal digits only, no sign, no spaces,
 * no trailing bytes, overflow and range checked. */
#ifndef POP3S_PARSE_NUM_H
#define POP3S_PARSE_NUM_H

#include <stdint.h>

/* Parses s into *ret if it is all digits and lies in [min, max].
 * Returns 0, -EINVAL (empty, not digits, trailing bytes) or -ERANGE. */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret);
int parse_uint(const char *s, unsigned min, unsigned max, unsigned *ret);

#endif
