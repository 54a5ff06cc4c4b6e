/* The monotonic clock in whole units, for deadlines that must not jump
 * with the wall clock. */
#ifndef POP3S_MONOTIME_H
#define POP3S_MONOTIME_H

#include <stdint.h>
#include <time.h>

static inline uint64_t
monotime_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static inline uint64_t
monotime_ms(void)
{
	return monotime_us() / 1000u;
}

#endif
