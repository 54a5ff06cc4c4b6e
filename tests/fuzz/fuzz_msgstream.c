/* libFuzzer target: a message as anyone who can send mail makes it, through
 * the converter that gives RETR and TOP their octets and STAT/LIST their
 * sizes (msgstream.c). A line that reached the client as a lone "." would
 * end the reply early and let the rest of the message pose as server
 * replies, so the wire form is checked, not only memory safety.
 *
 * Input: octet 0 chooses RETR (< 0x80) or TOP with (octet & 0x7f) body
 * lines; octet 1 + 1 is the piece size of a second, chunked conversion;
 * the rest is the message.
 *
 * Checked (any failure aborts):
 *  - the output does not depend on how the message is cut into pieces
 *    (a CR at the end of one read and its LF at the start of the next);
 *  - RETR's octets: every LF preceded by CR, ending in CRLF, and no line
 *    that is exactly "." (the terminator) anywhere in it;
 *  - removing the dot-stuffing gives back exactly the unstuffed output,
 *    whose length is the size STAT and LIST announce;
 *  - TOP's octets are a prefix of RETR's, ending in CRLF.
 * Seeds: tests/fuzz/corpus/msgstream. */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "msgstream.h"

struct out {
	char *p;
	size_t len;
};

/* Converts msg in pieces of at most piece octets. */
static void
convert(const char *msg, size_t len, bool dotstuff, long body_lines, size_t piece,
        struct out *o)
{
	struct msgstream m;
	size_t off = 0;

	o->p = malloc(2 * len + 2);
	if (o->p == NULL)
		fz_fail("out of memory");
	o->len = 0;
	msgstream_init(&m, dotstuff, body_lines);
	while (off < len) {
		size_t n = len - off < piece ? len - off : piece;

		o->len += msgstream_feed(&m, msg + off, n, o->p + o->len, 2 * n);
		off += n;
	}
	o->len += msgstream_finish(&m, o->p + o->len, 2);
}

static void
same(const struct out *a, const struct out *b, const char *what)
{
	if (a->len != b->len || memcmp(a->p, b->p, a->len) != 0) {
		fprintf(stderr, "fuzz_msgstream: %s: %zu octets against %zu\n", what, a->len, b->len);
		fz_fail("the converted message depends on how it was cut");
	}
}

static bool
ends_crlf(const struct out *o)
{
	return o->len >= 2 && o->p[o->len - 2] == '\r' && o->p[o->len - 1] == '\n';
}

static void
check_wire(const struct out *s)
{
	size_t i;

	if (!ends_crlf(s))
		fz_fail("RETR's octets do not end in CRLF");
	for (i = 0; i < s->len; i++) {
		if (s->p[i] == '\n' && (i == 0 || s->p[i - 1] != '\r'))
			fz_fail("a bare LF on the wire");
		/* A line that is exactly "." (after the "+OK" line's CRLF or
		 * any other) would be taken for the end of the reply. */
		if ((i == 0 || s->p[i - 1] == '\n') && s->len - i >= 3 &&
		    memcmp(s->p + i, ".\r\n", 3) == 0) {
			fprintf(stderr, "fuzz_msgstream: a lone \".\" line at octet %zu\n", i);
			fz_fail("the message can end the reply early");
		}
	}
}

/* Removes the dot-stuffing as a client does and compares with u. */
static void
check_unstuff(const struct out *s, const struct out *u)
{
	char *p = malloc(s->len + 1);
	size_t i, n = 0;

	if (p == NULL)
		fz_fail("out of memory");
	for (i = 0; i < s->len; i++) {
		if ((i == 0 || s->p[i - 1] == '\n') && s->p[i] == '.') {
			if (i + 1 >= s->len || s->p[i + 1] != '.')
				fz_fail("a line starting with '.' is not dot-stuffed");
			i++;
		}
		p[n++] = s->p[i];
	}
	if (n != u->len || memcmp(p, u->p, n) != 0) {
		fprintf(stderr, "fuzz_msgstream: %zu octets unstuffed, size says %zu\n", n, u->len);
		fz_fail("RETR without its dot-stuffing is not what the size counts");
	}
	free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct out s, s2, u, t, t2;
	long top;
	size_t piece, len;
	char *msg;

	if (size < 2)
		return 0;
	top = data[0] < 0x80 ? MSGSTREAM_ALL_LINES : (long)(data[0] & 0x7f);
	piece = (size_t)data[1] + 1;
	len = size - 2;
	/* Exactly the message, so ASan sees a read past it. */
	msg = malloc(len ? len : 1);
	if (msg == NULL)
		fz_fail("out of memory");
	memcpy(msg, data + 2, len);

	convert(msg, len, true, MSGSTREAM_ALL_LINES, SIZE_MAX / 4, &s);
	convert(msg, len, true, MSGSTREAM_ALL_LINES, piece, &s2);
	same(&s, &s2, "RETR");
	convert(msg, len, false, MSGSTREAM_ALL_LINES, SIZE_MAX / 4, &u);
	check_wire(&s);
	check_unstuff(&s, &u);
	if (top >= 0) {
		convert(msg, len, true, top, SIZE_MAX / 4, &t);
		convert(msg, len, true, top, piece, &t2);
		same(&t, &t2, "TOP");
		if (t.len > s.len || memcmp(t.p, s.p, t.len) != 0)
			fz_fail("TOP's octets are not the start of RETR's");
		if (!ends_crlf(&t))
			fz_fail("TOP's octets do not end in CRLF");
		free(t.p);
		free(t2.p);
	}
	free(s.p);
	free(s2.p);
	free(u.p);
	free(msg);
	return 0;
}
