/* Metrics from log records (see logd_metrics.h for the rules). Records come
 * from any process allowed to write to the queue, so nothing here trusts a
 * pid: only 2..INT_MAX is a session's, and a process that is gone is
 * noticed by kill(pid, 0). */
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
}

static bool
pid_plausible(uint32_t pid)
{
	/* 0 and negative pids address process groups in kill(); 1 is init */
	return pid > 1 && pid <= INT_MAX;
}

static bool
pid_alive(uint32_t pid)
{
	return kill((pid_t)pid, 0) == 0 || errno != ESRCH;
}

static void
update_current(struct logd_metrics *lm)
{
	lm->m.sessions_current = lm->nlive;
	if (lm->m.sessions_current > lm->m.sessions_peak)
		lm->m.sessions_peak = lm->m.sessions_current;
}

static struct logd_live *
live_find(struct logd_metrics *lm, uint32_t pid, const char *session)
{
	size_t i;

	for (i = 0; i < lm->nlive; i++)
		if (lm->live[i].pid == pid && strcmp(lm->live[i].session, session) == 0)
			return &lm->live[i];
	return NULL;
}

static void
live_add(struct logd_metrics *lm, uint32_t pid, const char *session)
{
	struct logd_live *l;

	if (!pid_plausible(pid) || live_find(lm, pid, session) != NULL)
		return;
	if (lm->nlive == LOGD_METRICS_LIVE_MAX) {
		lm->untracked++;
		return;
	}
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
		if (pid_alive(lm->live[i].pid))
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
		m->connections++;
		live_add(lm, r->pid, r->session);
		break;
	case LOGREC_DISCONNECT:
		m->bytes_sent += r->bytes;
		live_remove(lm, r->pid, r->session);
		break;
	case LOGREC_LOGIN_OK:
		m->logins_ok++;
		break;
	case LOGREC_LOGIN_FAIL:
		m->logins_failed++;
		break;
	case LOGREC_COMMAND:
		if (strcmp(r->command, "RETR") == 0 && strcmp(r->status, "OK") == 0)
			m->messages_retrieved++;
		break;
	case LOGREC_UPDATE:
		m->messages_deleted += r->removed;
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
	lm->m.records_malformed++;
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
	if (parse_u64(line, 2, INT_MAX, &v) < 0 || !session_ok(sp + 1))
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
