/* Journal output of pop3s-logger: a thin layer over the shared, pure field
 * builder in logrec.c, so the logger and the sessions' fallback agree. */
#include <errno.h>
#include <systemd/sd-journal.h>
#include "logd_journal.h"

void
logd_journal_build(const struct logrec *r, const char *extra,
                   struct logd_journal_entry *e)
{
	e->n = logrec_journal_fields(r, LOGD_JOURNAL_IDENTIFIER, extra,
	                             e->text, e->iov, LOGD_JOURNAL_FIELDS);
}

int
logd_journal_send(const struct logrec *r, const char *extra)
{
	struct logd_journal_entry e;
	int ret;

	logd_journal_build(r, extra, &e);
	ret = sd_journal_sendv(e.iov, (int)e.n);
	return ret < 0 ? ret : 0;
}
