/* The only output interface protocol code sees. tls.c provides the real
 * one; tests provide an in-memory one (tests/testhelp.c). Replies are
 * buffered here and flushed when the session has answered every complete
 * command it has received, so pipelined commands cost one TLS record. */
#ifndef POP3S_TRANSPORT_H
#define POP3S_TRANSPORT_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/types.h>

#define TRANSPORT_BUFSIZE 16384

struct transport {
	/* Writes all of buf or fails: returns 0 or -errno. */
	int (*write_all)(void *ctx, const void *buf, size_t len);
	void *ctx;
	char buf[TRANSPORT_BUFSIZE];
	size_t used;
	uint64_t bytes;   /* octets handed to write_all so far */
	int error;        /* first write error, sticky: later writes are dropped */
};

static inline int
transport_flush(struct transport *t)
{
	if (t->error)
		return t->error;
	if (t->used > 0) {
		int r = t->write_all(t->ctx, t->buf, t->used);
		if (r < 0) {
			t->error = r;
			return r;
		}
		t->bytes += t->used;
		t->used = 0;
	}
	return 0;
}

static inline int
transport_write(struct transport *t, const void *p, size_t len)
{
	const char *s = p;

	while (len > 0) {
		size_t room;

		if (t->error)
			return t->error;
		room = sizeof(t->buf) - t->used;
		if (room == 0) {
			int r = transport_flush(t);
			if (r < 0)
				return r;
			continue;
		}
		if (room > len)
			room = len;
		memcpy(t->buf + t->used, s, room);
		t->used += room;
		s += room;
		len -= room;
	}
	return t->error;
}

static inline int
transport_puts(struct transport *t, const char *s)
{
	return transport_write(t, s, strlen(s));
}

#endif
