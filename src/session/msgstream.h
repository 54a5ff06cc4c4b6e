/* The message as POP3 sends it: LF line endings become CRLF (an existing
 * CRLF stays), a last line without a newline gets CRLF, an empty message is
 * one empty line, lines starting with '.' are dot-stuffed for RETR/TOP.
 * The size used by STAT/LIST is exactly what RETR sends before
 * dot-stuffing, computed by the same converter so the two cannot disagree.
 * Everything streams through fixed buffers: memory does not depend on the
 * size of the message. */
#ifndef POP3S_MSGSTREAM_H
#define POP3S_MSGSTREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "transport.h"

#define MSGSTREAM_ALL_LINES (-1L)
/* msgstream_send_fd without a size to hold the message to. */
#define MSGSTREAM_SIZE_ANY UINT64_MAX

struct msgstream {
	bool dotstuff;       /* double a leading '.' (on the wire, not for sizes) */
	long body_lines;     /* TOP n: body lines still to send; -1 = all */
	bool line_start;     /* next octet starts a line */
	bool prev_cr;        /* previous octet was CR */
	bool in_body;        /* the blank line after the header has been seen */
	bool line_empty;     /* current line has no octet other than CR so far */
	bool stopped;        /* TOP limit reached: ignore the rest */
	uint64_t in_octets;  /* octets of input seen */
	uint64_t out_octets; /* octets produced, not counting stuffed dots */
};

void msgstream_init(struct msgstream *m, bool dotstuff, long body_lines);

/* Converts inlen octets of input, appending to out (outcap must be at least
 * 2 * inlen; a smaller buffer is a caller bug and aborts). Returns the
 * number of octets written to out. */
size_t msgstream_feed(struct msgstream *m, const char *in, size_t inlen, char *out, size_t outcap);

/* Ends the message: writes the CRLF a last line without a newline needs
 * (and a single CRLF for an empty message) to out (outcap >= 2); returns
 * the number of octets written. A trailing bare CR stays: "a\r" ends as
 * "a\r\r\n". */
size_t msgstream_finish(struct msgstream *m, char *out, size_t outcap);

/* Reads fd from its current offset to EOF and stores the size RETR would
 * send (before dot-stuffing). Returns 0 or -errno. */
int msgstream_size_fd(int fd, uint64_t *ret_size);

/* Sends "header" (the "+OK ..." line, with CRLF), then the message in fd
 * (from offset 0) dot-stuffed, limited to body_lines lines of body
 * (MSGSTREAM_ALL_LINES for RETR), then the terminating ".\r\n".
 *
 * size is the size (before dot-stuffing) the whole message must have: the
 * size RETR announced, or LIST showed for TOP (MSGSTREAM_SIZE_ANY: no
 * check). The stream never sends more than size octets of message, and
 * never sends the terminating line unless the message had exactly size
 * octets (when read to its end) and the file did not change while being
 * sent (device, inode, size and mtime by fstat before the first read and
 * after the last): -ERANGE for a wrong size, -ESTALE for a change, both
 * with *ret_started true. A client thus never gets a complete-looking
 * reply whose octet count differs from the announced one; it gets a
 * connection closed mid-reply instead.
 *
 * The first chunk is read before the header is written, so a message that
 * cannot be read at all returns -errno with nothing sent and the caller can
 * answer -ERR. Returns 0; -errno with *ret_started false if nothing was
 * sent; or -errno with *ret_started true if the file failed mid-way (the
 * connection must then be closed: a half message cannot be taken back).
 * The end of the reply may still be buffered in t: the caller flushes it
 * with its other replies. ret_started may be NULL. */
int msgstream_send_fd(int fd, long body_lines, uint64_t size, const char *header,
                      struct transport *t, bool *ret_started);

#endif
