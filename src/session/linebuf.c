#include <string.h>
#include "linebuf.h"

void
linebuf_init(struct linebuf *lb)
{
	memset(lb, 0, sizeof(*lb));
}

/* Moves unreturned octets to the front: the previous line is no longer
 * needed once the caller asks for more. */
static void
compact(struct linebuf *lb)
{
	if (lb->start == 0)
		return;
	memmove(lb->buf, lb->buf + lb->start, lb->len - lb->start);
	lb->len -= lb->start;
	lb->scanned -= lb->start;
	lb->start = 0;
}

char *
linebuf_space(struct linebuf *lb, size_t *ret_room)
{
	compact(lb);
	if (lb->len == sizeof(lb->buf)) {
		/* A full buffer without LF: the line is too long. Drop it and
		 * keep dropping until its LF, which linebuf_next reports. */
		lb->discarding = true;
		lb->len = lb->scanned = 0;
	}
	*ret_room = sizeof(lb->buf) - lb->len;
	return lb->buf + lb->len;
}

void
linebuf_commit(struct linebuf *lb, size_t n)
{
	lb->len += n;
}

bool
linebuf_has_line(const struct linebuf *lb)
{
	return memchr(lb->buf + lb->start, '\n', lb->len - lb->start) != NULL;
}

bool
linebuf_next(struct linebuf *lb, char **ret_line, size_t *ret_len, unsigned *ret_flags)
{
	char *line, *lf;
	size_t n;
	unsigned flags = 0;

	compact(lb);
	lf = memchr(lb->buf + lb->scanned, '\n', lb->len - lb->scanned);
	if (lf == NULL) {
		if (lb->discarding)
			lb->len = 0;
		lb->scanned = lb->len;
		return false;
	}
	line = lb->buf;
	n = (size_t)(lf - line);
	lb->start = lb->scanned = n + 1;
	if (lb->discarding) {
		lb->discarding = false;
		n = 0;
		flags |= LINEBUF_TOO_LONG;
	} else {
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (memchr(line, '\0', n))
			flags |= LINEBUF_NUL;
		if (memchr(line, '\r', n))
			flags |= LINEBUF_BARE_CR;
	}
	line[n] = '\0';
	*ret_line = line;
	*ret_len = n;
	*ret_flags = flags;
	return true;
}
