/* Metrics from log records (see logd_metrics.h for the rules). Records come
 * from any process allowed to write to the queue, so nothing here trusts a
 * pid: only a live process named pop3s-session is a session, each pid has
 * one entry at most, and a process that is gone is noticed by kill(pid, 0). */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "fdio.h"
#include "logd_metrics.h"
#include "parse_num.h"

/* "PID SESSION\n": at most 10 digits, a space, the id, the newline. */
#define LIVE_LINE_MAX (10 + 1 + LOGREC_SESSION_MAX + 2)

void
logd_metrics_init(struct logd_metrics *lm, const char *dir)
{
	memset(lm, 0, sizeof(*lm));
	lm->dir = dir;
	lm->proc = "/proc";
	lm->live_cap = LOGD_METRICS_LIVE_MAX;
}

static bool
pid_plausible(uint32_t pid)
{
	/* 0 and negative pids address process groups in kill(); 1 is init */
	return pid > 1 && pid <= LOGD_METRICS_PID_MAX;
}

static bool
pid_alive(uint32_t pid)
{
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

/* Reads /proc/PID/comm into comm (without the newline). Returns 0, or
 * -errno: -ENOENT when the process is gone or /proc does not show it. */
static int
read_comm(const struct logd_metrics *lm, uint32_t pid, char *comm, size_t cap)
{
	char path[PATH_MAX];
	ssize_t n;
	int fd, err;

	n = snprintf(path, sizeof(path), "%s/%lu/comm", lm->proc, (unsigned long)pid);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	do
		n = read(fd, comm, cap - 1);
	while (n < 0 && errno == EINTR);
	err = errno;
	close(fd);
	if (n < 0)
		return -err;
	comm[n] = '\0';
	comm[strcspn(comm, "\n")] = '\0';
	return 0;
}

/* A live pop3s-session process. Where /proc does not show the process
 * (ProtectProc=invisible, hidepid) its name cannot be checked, only that
 * it exists. */
static bool
pid_is_session(const struct logd_metrics *lm, uint32_t pid)
{
	char comm[64];
	int r;

	if (!pid_plausible(pid))
		return false;
	r = read_comm(lm, pid, comm, sizeof(comm));
	if (r == 0)
		return strcmp(comm, LOGD_METRICS_SESSION_COMM) == 0;
	return (r == -ENOENT || r == -EACCES) && pid_alive(pid);
}

static void
update_current(struct logd_metrics *lm)
{
	lm->m.sessions_current = lm->nlive;
	if (lm->m.sessions_current > lm->m.sessions_peak)
		lm->m.sessions_peak = lm->m.sessions_current;
}

/* The entry of pid, whatever its session id. */
static struct logd_live *
live_find_pid(struct logd_metrics *lm, uint32_t pid)
{
	size_t i;

	for (i = 0; i < lm->nlive; i++)
		if (lm->live[i].pid == pid)
			return &lm->live[i];
	return NULL;
}

static struct logd_live *
live_find(struct logd_metrics *lm, uint32_t pid, const char *session)
{
	struct logd_live *l = live_find_pid(lm, pid);

	return l != NULL && strcmp(l->session, session) == 0 ? l : NULL;
}

/* Tracks (pid, session) if pid is a session now: one entry per pid, and a
 * full table is purged before the CONNECT is refused. */
static void
live_add(struct logd_metrics *lm, uint32_t pid, const char *session)
{
	struct logd_live *l;
	size_t cap = lm->live_cap < LOGD_METRICS_LIVE_MAX ? lm->live_cap : LOGD_METRICS_LIVE_MAX;

	if (!pid_is_session(lm, pid)) {
		lm->not_sessions++;
		return;
	}
	l = live_find_pid(lm, pid);
	if (l == NULL && lm->nlive >= cap)
		logd_metrics_purge(lm);
	if (l == NULL && lm->nlive >= cap) {
		lm->untracked++;
		return;
	}
	if (l == NULL)
		l = &lm->live[lm->nlive++];
	l->pid = pid;
	snprintf(l->session, sizeof(l->session), "%s", session);
}

/* Order does not matter: the last entry fills the hole. */
static void
live_remove_at(struct logd_metrics *lm, size_t i)
{
	lm->live[i] = lm->live[--lm->nlive];
}

static void
live_remove(struct logd_metrics *lm, uint32_t pid, const char *session)
{
	struct logd_live *l = live_find(lm, pid, session);

	if (l != NULL)
		live_remove_at(lm, (size_t)(l - lm->live));
}

void
logd_metrics_purge(struct logd_metrics *lm)
{
	size_t i = 0, before = lm->nlive;

	while (i < lm->nlive) {
		if (pid_is_session(lm, lm->live[i].pid))
			i++;
		else
			live_remove_at(lm, i);
	}
	if (lm->nlive != before) {
		update_current(lm);
		lm->dirty = true;
	}
}

void
logd_metrics_record(struct logd_metrics *lm, const struct logrec *r)
{
	struct metrics *m = &lm->m;

	switch (r->type) {
	case LOGREC_CONNECT:
		metrics_add(&m->connections, 1);
		live_add(lm, r->pid, r->session);
		break;
	case LOGREC_DISCONNECT:
		if (r->bytes <= LOGD_METRICS_BYTES_MAX)
			metrics_add(&m->bytes_sent, r->bytes);
		else
			metrics_add(&m->records_malformed, 1);
		live_remove(lm, r->pid, r->session);
		break;
	case LOGREC_LOGIN_OK:
		metrics_add(&m->logins_ok, 1);
		break;
	case LOGREC_LOGIN_FAIL:
		metrics_add(&m->logins_failed, 1);
		break;
	case LOGREC_COMMAND:
		if (strcmp(r->command, "RETR") == 0 && strcmp(r->status, "OK") == 0)
			metrics_add(&m->messages_retrieved, 1);
		break;
	case LOGREC_UPDATE:
		if (r->removed <= LOGD_METRICS_REMOVED_MAX)
			metrics_add(&m->messages_deleted, r->removed);
		else
			metrics_add(&m->records_malformed, 1);
		break;
	default:
		return;
	}
	update_current(lm);
	lm->dirty = true;
}

void
logd_metrics_malformed(struct logd_metrics *lm)
{
	metrics_add(&lm->m.records_malformed, 1);
	lm->dirty = true;
}

/* --- the live table file ------------------------------------------------ */

static bool
session_ok(const char *s)
{
	size_t len = strlen(s), i;

	if (len == 0 || len > LOGREC_SESSION_MAX)
		return false;
	for (i = 0; i < len; i++)
		if (s[i] < 0x21 || s[i] > 0x7e)
			return false;
	return true;
}

static int
parse_live_line(char *line, uint32_t *pid, char **session)
{
	char *sp = strchr(line, ' ');
	uint64_t v;

	if (sp == NULL)
		return -EBADMSG;
	*sp = '\0';
	if (parse_u64(line, 2, LOGD_METRICS_PID_MAX, &v) < 0 || !session_ok(sp + 1))
		return -EBADMSG;
	*pid = (uint32_t)v;
	*session = sp + 1;
	return 0;
}

/* Reads STATE/sessions into the (empty) table; all or nothing. */
static int
load_live(struct logd_metrics *lm)
{
	char path[PATH_MAX], line[LIVE_LINE_MAX + 1];
	FILE *f;
	int r = 0, n;

	n = snprintf(path, sizeof(path), "%s/" LOGD_METRICS_LIVE_FILE, lm->dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	f = fopen(path, "re");
	if (f == NULL)
		return errno == ENOENT ? 0 : -errno;
	while (r == 0 && fgets(line, sizeof(line), f) != NULL) {
		size_t len = strlen(line);
		uint32_t pid;
		char *session;

		if (len == 0 || line[len - 1] != '\n') {
			r = -EBADMSG;
			break;
		}
		line[len - 1] = '\0';
		r = parse_live_line(line, &pid, &session);
		if (r == 0)
			live_add(lm, pid, session);
	}
	if (r == 0 && ferror(f))
		r = -EIO;
	fclose(f);
	if (r < 0)
		lm->nlive = 0;
	return r;
}

static int
write_live(const struct logd_metrics *lm, int fd)
{
	char line[LIVE_LINE_MAX + 1];
	size_t i;
	int r;

	for (i = 0; i < lm->nlive; i++) {
		int n = snprintf(line, sizeof(line), "%lu %s\n",
		                 (unsigned long)lm->live[i].pid, lm->live[i].session);

		if (n < 0 || (size_t)n >= sizeof(line))
			return -ENOBUFS;
		r = fd_write_all(fd, line, (size_t)n);
		if (r < 0)
			return r;
	}
	return fsync(fd) < 0 ? -errno : 0;
}

/* STATE/sessions, written like the metrics file: temporary file, fsync,
 * rename. The directory is synced by metrics_save right after. */
static int
save_live(const struct logd_metrics *lm)
{
	char tmp[PATH_MAX], path[PATH_MAX];
	int fd, r, n;

	n = snprintf(path, sizeof(path), "%s/" LOGD_METRICS_LIVE_FILE, lm->dir);
	if (n < 0 || (size_t)n >= sizeof(path))
		return -ENAMETOOLONG;
	n = snprintf(tmp, sizeof(tmp), "%s/." LOGD_METRICS_LIVE_FILE ".XXXXXX", lm->dir);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fchmod(fd, 0644) < 0 ? -errno : write_live(lm, fd);
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

/* --- load, save, tick --------------------------------------------------- */

int
logd_metrics_load(struct logd_metrics *lm, uint64_t now_ms)
{
	int r = metrics_load(lm->dir, &lm->m);

	if (r < 0)
		memset(&lm->m, 0, sizeof(lm->m));
	lm->nlive = 0;
	lm->dirty = false;
	lm->checked_ms = now_ms;
	lm->saved_ms = now_ms;
	/* A broken live table only costs the current count: not reported. */
	(void)load_live(lm);
	/* Sessions that ended while the logger was away: their DISCONNECT
	 * is in the queue if they sent one, else their pid is gone. */
	logd_metrics_purge(lm);
	update_current(lm);
	return r;
}

int
logd_metrics_save(struct logd_metrics *lm, uint64_t now_ms)
{
	int r;

	lm->saved_ms = now_ms;
	lm->m.updated = (uint64_t)time(NULL);
	r = save_live(lm);
	if (r == 0)
		r = metrics_save(lm->dir, &lm->m);
	if (r == 0)
		lm->dirty = false;
	return r;
}

int
logd_metrics_tick(struct logd_metrics *lm, uint64_t now_ms)
{
	if (now_ms - lm->checked_ms >= LOGD_METRICS_CHECK_MS) {
		lm->checked_ms = now_ms;
		logd_metrics_purge(lm);
	}
	if (lm->dirty && now_ms - lm->saved_ms >= LOGD_METRICS_SAVE_MS)
		return logd_metrics_save(lm, now_ms);
	return 0;
}

uint64_t
logd_metrics_next_ms(const struct logd_metrics *lm, uint64_t now_ms)
{
	uint64_t check = lm->checked_ms + LOGD_METRICS_CHECK_MS;
	uint64_t next = check > now_ms ? check - now_ms : 0;

	if (lm->dirty) {
		uint64_t save = lm->saved_ms + LOGD_METRICS_SAVE_MS;
		uint64_t until = save > now_ms ? save - now_ms : 0;

		if (until < next)
			next = until;
	}
	return next;
}
