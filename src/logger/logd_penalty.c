/* Failed logins per source, published for the sessions (logd_penalty.h). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "logd_penalty.h"

int
logd_penalty_init(struct logd_penalty *lp, const char *path, unsigned window)
{
	int r;

	memset(lp, 0, sizeof(*lp));
	snprintf(lp->path, sizeof(lp->path), "%s", path);
	lp->window = window;
	r = penalty_file_read(path, &lp->table);
	if (r < 0)
		penalty_table_init(&lp->table);
	return r;
}

void
logd_penalty_record(struct logd_penalty *lp, const struct logrec *r, uint64_t now)
{
	struct penalty_key k;

	if (r->type != LOGREC_AUTH_FAIL || penalty_key_from_ip(r->client_ip, &k) < 0)
		return;
	penalty_table_fail(&lp->table, &k, now, lp->window);
	lp->dirty = true;
}

uint64_t
logd_penalty_next_ms(const struct logd_penalty *lp, uint64_t now_ms)
{
	uint64_t due = lp->published_ms + LOGD_PENALTY_PUBLISH_MS;

	if (!lp->dirty)
		return UINT64_MAX;
	return lp->published_ms == 0 || due <= now_ms ? 0 : due - now_ms;
}

int
logd_penalty_tick(struct logd_penalty *lp, uint64_t now_ms, uint64_t now, bool force)
{
	int r;

	if (!lp->dirty || (!force && logd_penalty_next_ms(lp, now_ms) != 0))
		return 0;
	penalty_table_expire(&lp->table, now, lp->window);
	lp->published_ms = now_ms;
	r = penalty_file_write(lp->path, &lp->table);
	if (r == 0)
		lp->dirty = false;
	return r;
}
