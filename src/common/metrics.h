/* Service metrics kept by pop3s-logger from the records it receives, and
 * read by pop3sctl stats. Stored in STATE/metrics (STATE from the config)
 * as "key=value" lines, written atomically (temporary file, fsync, rename)
 * so a reader never sees a torn file and the counters survive logger
 * restarts and reboots. */
#ifndef POP3S_METRICS_H
#define POP3S_METRICS_H

#include <stdint.h>
#include <stdio.h>

#define METRICS_FILE "metrics"
/* Most sessions the logger tracks as current: sessions_current and
 * sessions_peak are never higher. */
#define METRICS_SESSIONS_MAX 8192
/* updated is a UNIX time before the year 10000. */
#define METRICS_TIME_MAX UINT64_C(253402300799)

struct metrics {
	uint64_t connections;        /* CONNECT records ever */
	uint64_t sessions_current;   /* sessions connected now (live pids) */
	uint64_t sessions_peak;      /* highest sessions_current ever */
	uint64_t logins_ok;
	uint64_t logins_failed;
	uint64_t messages_retrieved; /* RETR answered +OK */
	uint64_t messages_deleted;   /* messages removed in UPDATE */
	uint64_t bytes_sent;         /* to clients, reported at DISCONNECT */
	uint64_t records_malformed;  /* queue records the logger dropped, or
	                              * whose numbers it did not believe */
	uint64_t updated;            /* UNIX time of the last write */
};

/* Writes m to dir/METRICS_FILE atomically. Returns 0 or -errno. */
int metrics_save(const char *dir, const struct metrics *m);

/* Reads dir/METRICS_FILE into *ret (zeroes when the file does not exist
 * yet). Unknown keys are ignored (newer writer); a malformed line is an
 * error, and so are values no logger writes: sessions_current above
 * sessions_peak, either above METRICS_SESSIONS_MAX, updated above
 * METRICS_TIME_MAX. Returns 0 or -errno (-EBADMSG for a malformed file). */
int metrics_load(const char *dir, struct metrics *ret);

/* *counter += n, saturating at UINT64_MAX instead of wrapping. */
void metrics_add(uint64_t *counter, uint64_t n);

/* Prints m for people, or as one JSON object when json is nonzero. */
void metrics_print(const struct metrics *m, int json, FILE *out);

#endif
