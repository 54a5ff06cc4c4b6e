/* Bounded assembly of CRLF-terminated command lines from the byte stream.
 * The buffer never grows: a line that does not fit is discarded up to its
 * LF and reported once as LINEBUF_TOO_LONG. Pipelined lines come out one at
 * a time, in order. A bare LF also ends a line (as Dovecot and popa3d
 * accept); a CR not followed by LF and NUL octets are reported by flags so
 * the session can refuse the line with one defined answer. */
#ifndef POP3S_LINEBUF_H
#define POP3S_LINEBUF_H

#include <stdbool.h>
#include <stddef.h>

/* Large enough for an RFC 5034 AUTH PLAIN response of three 255-octet
 * fields in base64 (1024 octets) with its CRLF; command lines are limited
 * separately (255 octets). */
#define LINEBUF_SIZE 1040

enum linebuf_flag {
	LINEBUF_TOO_LONG = 1,   /* the line was discarded; its content is not returned */
	LINEBUF_NUL = 2,        /* the line contains a NUL octet */
	LINEBUF_BARE_CR = 4,    /* the line contains a CR not followed by LF */
};

struct linebuf {
	char buf[LINEBUF_SIZE];
	size_t start;       /* first octet not yet returned as part of a line */
	size_t len;         /* octets held, from buf[0] */
	size_t scanned;     /* octets before this have been searched for LF */
	bool discarding;    /* dropping the rest of an over-long line */
};

void linebuf_init(struct linebuf *lb);

/* Where the next read should go and how much room there is (always > 0:
 * a full buffer without a line switches to discarding). */
char *linebuf_space(struct linebuf *lb, size_t *ret_room);

/* Accounts for n octets read into linebuf_space(). */
void linebuf_commit(struct linebuf *lb, size_t n);

/* Takes the next complete line. Returns true with the line (without its
 * CRLF or LF, NUL-terminated in place, valid until the next call) in
 * ret_line and ret_len, with LINEBUF_* flags in ret_flags; or false if
 * no complete line is buffered. */
bool linebuf_next(struct linebuf *lb, char **ret_line, size_t *ret_len, unsigned *ret_flags);

/* True if a complete line is buffered (used to batch pipelined replies). */
bool linebuf_has_line(const struct linebuf *lb);

#endif
