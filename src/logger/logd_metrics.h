/* pop3s-logger's metrics: folds each decoded record into struct metrics
 * (metrics.h) and keeps them in the state directory.
 *
 * Rules: CONNECT counts a connection and makes the session current;
 * DISCONNECT ends it and adds its bytes to bytes_sent; LOGIN_OK and
 * LOGIN_FAIL count logins; a COMMAND "RETR" with status OK counts a
 * retrieved message; UPDATE adds the messages it removed. Current sessions
 * are tracked by session id and pid in a bounded table; a session killed
 * without a DISCONNECT (SIGKILL, OOM) is purged when its process is gone,
 * checked every LOGD_METRICS_CHECK_MS, at load and whenever the table is
 * full.
 *
 * Records are forgeable (any process in group pop3s may write to the
 * queue), so no field is believed blindly:
 * - a CONNECT makes a session current only if its pid is 2..PID_MAX_LIMIT
 *   and is now a process named LOGD_METRICS_SESSION_COMM
 *   (/proc/PID/comm). Where /proc hides the process (hidepid, ProtectProc=
 *   invisible) only its existence is checked (kill(pid, 0): EPERM means it
 *   lives as another user);
 * - a pid has at most one entry: a new CONNECT from the same pid replaces
 *   the old session id (a process runs one session, so the old entry was a
 *   forgery or a dead session whose pid was reused);
 * - before a CONNECT is refused for a full table, the table is purged;
 * - DISCONNECT bytes above LOGD_METRICS_BYTES_MAX and UPDATE counts above
 *   LOGD_METRICS_REMOVED_MAX are not added (the record is counted in
 *   records_malformed instead), and every counter saturates at UINT64_MAX
 *   instead of wrapping (metrics_add).
 *
 * Persistence: STATE/metrics (metrics_save) and the live table in
 * STATE/sessions ("PID SESSION" lines), both written atomically at most
 * every LOGD_METRICS_SAVE_MS while something changed, and at exit. After a
 * logger restart the live table is loaded and its pids re-checked, so
 * sessions that outlived the logger stay current and their DISCONNECT
 * later ends them; records queued meanwhile are read after the restart.
 * Records a session sent to the journal instead (queue missing or full)
 * are not counted. */
#ifndef POP3S_LOGD_METRICS_H
#define POP3S_LOGD_METRICS_H

#include <stdbool.h>
#include <stdint.h>
#include "logrec.h"
#include "metrics.h"

#define LOGD_METRICS_LIVE_MAX METRICS_SESSIONS_MAX  /* current sessions tracked */
#define LOGD_METRICS_SESSION_COMM "pop3s-session"  /* /proc/PID/comm of a session */
#define LOGD_METRICS_PID_MAX 4194304   /* PID_MAX_LIMIT: no pid is higher */
/* What one session can plausibly report: 1 TiB sent (a day at 12 MB/s),
 * 10 million messages removed. */
#define LOGD_METRICS_BYTES_MAX (UINT64_C(1) << 40)
#define LOGD_METRICS_REMOVED_MAX UINT64_C(10000000)
#define LOGD_METRICS_LIVE_FILE "sessions"
#define LOGD_METRICS_SAVE_MS 1000
#define LOGD_METRICS_CHECK_MS 10000

struct logd_live {
	uint32_t pid;
	char session[LOGREC_SESSION_MAX + 1];
};

struct logd_metrics {
	const char *dir;                   /* STATE (not owned) */
	const char *proc;                  /* "/proc" (where comm is read) */
	size_t live_cap;                   /* LOGD_METRICS_LIVE_MAX */
	struct metrics m;
	struct logd_live live[LOGD_METRICS_LIVE_MAX];
	size_t nlive;
	unsigned long untracked;           /* CONNECTs the full table dropped */
	unsigned long not_sessions;        /* CONNECTs from pids that are no session */
	bool dirty;                        /* changed since the last save */
	uint64_t saved_ms, checked_ms;     /* monotonic times of the last ones */
};

/* Zeroes lm and sets its directory; dir must outlive lm. Sets proc to
 * "/proc" and live_cap to LOGD_METRICS_LIVE_MAX (tests may lower it). */
void logd_metrics_init(struct logd_metrics *lm, const char *dir);

/* Loads STATE/metrics and the live table, then purges dead pids. Returns 0,
 * or -errno from metrics_load (-EBADMSG: malformed file): the counters then
 * start from zero and the next save replaces the file. A malformed live
 * table is ignored (sessions_current restarts from zero). */
int logd_metrics_load(struct logd_metrics *lm, uint64_t now_ms);

/* Folds one valid record in. */
void logd_metrics_record(struct logd_metrics *lm, const struct logrec *r);

/* Counts a record the logger dropped as malformed. */
void logd_metrics_malformed(struct logd_metrics *lm);

/* Removes live sessions whose process is gone or is no session now. */
void logd_metrics_purge(struct logd_metrics *lm);

/* Periodic work: the pid check when due, and the save when something
 * changed and the last save is old enough. Returns 0 or -errno of a failed
 * save (tried again at the next tick). */
int logd_metrics_tick(struct logd_metrics *lm, uint64_t now_ms);

/* Milliseconds until logd_metrics_tick has work to do. */
uint64_t logd_metrics_next_ms(const struct logd_metrics *lm, uint64_t now_ms);

/* Saves both files now. Returns 0 or -errno. */
int logd_metrics_save(struct logd_metrics *lm, uint64_t now_ms);

#endif
