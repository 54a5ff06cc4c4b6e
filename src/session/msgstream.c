/* The message as POP3 sends it (see msgstream.h). One converter serves
 * both the sizes of STAT/LIST and the octets of RETR/TOP, so the two can
 * never disagree; everything goes through fixed-size buffers. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "msgstream.h"

/* Read chunk; the converted output of a chunk is at most twice as long. */
#define MSGSTREAM_CHUNK (64 * 1024)

void
msgstream_init(struct msgstream *m, bool dotstuff, long body_lines)
{
	memset(m, 0, sizeof(*m));
	m->dotstuff = dotstuff;
	m->body_lines = body_lines < 0 ? MSGSTREAM_ALL_LINES : body_lines;
	m->line_start = true;
	m->line_empty = true;
}

/* True if every octet of p[0..len) is a CR: such a line counts as the
 * blank line that ends the header. */
static bool
all_cr(const char *p, size_t len)
{
	size_t i;

	for (i = 0; i < len; i++)
		if (p[i] != '\r')
			return false;
	return true;
}

/* A line (its CRLF included) has just been written: track the header/body
 * boundary and the TOP limit. */
static void
end_of_line(struct msgstream *m)
{
	m->line_start = true;
	m->prev_cr = false;
	if (!m->in_body) {
		if (m->line_empty) {
			m->in_body = true;
			if (m->body_lines == 0)
				m->stopped = true;
		}
	} else if (m->body_lines > 0) {
		if (--m->body_lines == 0)
			m->stopped = true;
	}
	m->line_empty = true;
}

size_t
msgstream_feed(struct msgstream *m, const char *in, size_t inlen, char *out, size_t outcap)
{
	size_t i = 0, o = 0, stuffed = 0;

	/* Every input octet yields at most two output octets: an LF gets a
	 * CR, a leading '.' gets another '.'. A smaller buffer is a caller
	 * bug that would otherwise corrupt memory or silently lose mail. */
	if (inlen > outcap / 2)
		abort();
	m->in_octets += inlen;
	while (i < inlen && !m->stopped) {
		const char *nl;
		size_t span;

		if (m->line_start) {
			m->line_start = false;
			m->line_empty = true;
			m->prev_cr = false;
			if (m->dotstuff && in[i] == '.') {
				out[o++] = '.';
				stuffed++;
			}
		}
		/* The rest of the line up to its LF is copied unchanged (a
		 * bare CR included): memchr keeps long lines cheap. */
		nl = memchr(in + i, '\n', inlen - i);
		span = (nl != NULL ? (size_t)(nl - in) : inlen) - i;
		if (span > 0) {
			memcpy(out + o, in + i, span);
			if (m->line_empty)
				m->line_empty = all_cr(in + i, span);
			m->prev_cr = in[i + span - 1] == '\r';
			o += span;
			i += span;
		}
		if (nl == NULL)
			break;
		/* The LF: a CR before it (perhaps in the previous chunk)
		 * already made it a CRLF; otherwise add the CR. */
		if (!m->prev_cr)
			out[o++] = '\r';
		out[o++] = '\n';
		i++;
		end_of_line(m);
	}
	m->out_octets += o - stuffed;
	return o;
}

size_t
msgstream_finish(struct msgstream *m, char *out, size_t outcap)
{
	if (outcap < 2)
		abort();
	if (m->stopped)
		return 0;
	/* A last line without a newline is completed; an empty message is
	 * sent as one empty line because some clients (mutt) reject a
	 * message with no octets at all. A trailing bare CR stays bare:
	 * "a\r" becomes "a\r\r\n", as any other bare CR is left alone. */
	if (!m->line_start || m->in_octets == 0) {
		out[0] = '\r';
		out[1] = '\n';
		end_of_line(m);
		m->stopped = true;
		m->out_octets += 2;
		return 2;
	}
	m->stopped = true;
	return 0;
}

/* One buffer for input and output so a single allocation can fail. */
struct msgstream_buf {
	char in[MSGSTREAM_CHUNK];
	char out[2 * MSGSTREAM_CHUNK];
};

/* read(2) from the current offset (off < 0) or pread(2) at off, retrying
 * EINTR. Returns the octets read (0 at EOF) or -errno. */
static ssize_t
read_some(int fd, char *buf, size_t len, int64_t off)
{
	for (;;) {
		ssize_t n;

		if (off < 0)
			n = read(fd, buf, len);
		else
			n = pread(fd, buf, len, (off_t)off);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -errno;
	}
}

int
msgstream_size_fd(int fd, uint64_t *ret_size)
{
	struct msgstream_buf *b;
	struct msgstream m;
	uint64_t size = 0;
	ssize_t n;

	b = malloc(sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	msgstream_init(&m, false, MSGSTREAM_ALL_LINES);
	/* A short read is not the end: only a read of 0 octets is. */
	while ((n = read_some(fd, b->in, sizeof(b->in), -1)) > 0)
		size += msgstream_feed(&m, b->in, (size_t)n, b->out, sizeof(b->out));
	if (n < 0) {
		free(b);
		return (int)n;
	}
	size += msgstream_finish(&m, b->out, sizeof(b->out));
	free(b);
	*ret_size = size;
	return 0;
}

/* The file changed between the two fstat calls. */
static bool
file_changed(const struct stat *a, const struct stat *b)
{
	return a->st_dev != b->st_dev || a->st_ino != b->st_ino || a->st_size != b->st_size ||
	       a->st_mtim.tv_sec != b->st_mtim.tv_sec || a->st_mtim.tv_nsec != b->st_mtim.tv_nsec;
}

int
msgstream_send_fd(int fd, long body_lines, uint64_t size, const char *header,
                  struct transport *t, bool *ret_started)
{
	struct msgstream_buf *b;
	struct msgstream m;
	struct stat st0, st1;
	int64_t off = 0;
	ssize_t n;
	size_t len;
	int r;

	if (ret_started != NULL)
		*ret_started = false;
	if (fstat(fd, &st0) < 0)
		return -errno;
	b = malloc(sizeof(*b));
	if (b == NULL)
		return -ENOMEM;
	/* The first chunk decides whether the message can be read at all,
	 * before anything is promised to the client. */
	n = read_some(fd, b->in, sizeof(b->in), off);
	if (n < 0) {
		free(b);
		return (int)n;
	}
	if (ret_started != NULL)
		*ret_started = true;
	r = transport_puts(t, header);
	msgstream_init(&m, true, body_lines);
	while (r == 0 && n > 0) {
		off += n;
		len = msgstream_feed(&m, b->in, (size_t)n, b->out, sizeof(b->out));
		/* Grown since it was sized: not one octet past the size. */
		if (m.out_octets > size) {
			r = -ERANGE;
			break;
		}
		r = transport_write(t, b->out, len);
		if (r < 0 || m.stopped)
			break;
		n = read_some(fd, b->in, sizeof(b->in), off);
		if (n < 0)
			r = (int)n;
	}
	if (r == 0 && !m.stopped) {
		/* Read to its end: the message must have exactly its size. */
		len = msgstream_finish(&m, b->out, sizeof(b->out));
		if (size != MSGSTREAM_SIZE_ANY && m.out_octets != size)
			r = -ERANGE;
		else
			r = transport_write(t, b->out, len);
	}
	/* The octets sent all come from one unchanged file, or the reply
	 * stays unterminated. */
	if (r == 0 && fstat(fd, &st1) < 0)
		r = -errno;
	if (r == 0 && file_changed(&st0, &st1))
		r = -ESTALE;
	if (r == 0)
		r = transport_puts(t, ".\r\n");
	free(b);
	/* What is left in t's buffer is flushed by the caller with the rest
	 * of its replies (pipelining); a later write error is sticky in t. */
	return r;
}
