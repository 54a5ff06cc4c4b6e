/* pop3s-logger's share of the cross-connection login penalty: it counts
 * AUTH_FAIL records per client source (penalty.h) and publishes the table
 * to AUTH_PENALTY_FILE, at most every LOGD_PENALTY_PUBLISH_MS, for the
 * sessions to read before they check a password. */
#ifndef POP3S_LOGD_PENALTY_H
#define POP3S_LOGD_PENALTY_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "logrec.h"
#include "penalty.h"

#define LOGD_PENALTY_PUBLISH_MS 100

struct logd_penalty {
	struct penalty_table table;
	char path[PATH_MAX];
	unsigned window;                /* AUTH_PENALTY_WINDOW, seconds */
	bool dirty;                     /* changed since the last publication */
	uint64_t published_ms;          /* monotonic time of the last one */
};

/* Starts from the file a previous logger left, if it is valid, so a
 * restart forgives nobody. Returns 0, or the -errno of reading it
 * (-ENOENT: there was none); the table is empty then. */
int logd_penalty_init(struct logd_penalty *lp, const char *path, unsigned window);

/* Counts r if it is an AUTH_FAIL record with a usable client address;
 * now is the wall clock in seconds (the time written to the file). */
void logd_penalty_record(struct logd_penalty *lp, const struct logrec *r, uint64_t now);

/* Publishes the table if it changed and the last publication is at least
 * LOGD_PENALTY_PUBLISH_MS old (now_ms: monotonic), or at once if force,
 * dropping expired sources first (now: wall clock, seconds). Returns 0 or
 * -errno (the table stays dirty: retried). */
int logd_penalty_tick(struct logd_penalty *lp, uint64_t now_ms, uint64_t now, bool force);

/* Milliseconds until logd_penalty_tick has something to do (UINT64_MAX
 * when nothing changed). */
uint64_t logd_penalty_next_ms(const struct logd_penalty *lp, uint64_t now_ms);

#endif
