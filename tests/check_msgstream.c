/* msgstream: the wire form of a message and its size.
 *
 * read(2) and pread(2) are interposed below for one chosen descriptor
 * (inj_fd) so the tests can produce what real files rarely do on demand:
 * EINTR, short reads and an I/O error after the first chunk. Every other
 * descriptor goes straight to the kernel. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>
#include "msgstream.h"
#include "testhelp.h"

/* --- fault injection ---------------------------------------------------- */

static int inj_fd = -1;          /* the descriptor faults apply to */
static unsigned inj_calls;       /* reads seen on inj_fd */
static unsigned inj_eio_at;      /* fail this call (1-based) with EIO; 0 = never */
static size_t inj_max;           /* at most this many octets a read; 0 = no limit */
static bool inj_eintr;           /* every other call fails with EINTR first */
static unsigned inj_hook_at;     /* before this call (1-based), run inj_hook */
static void (*inj_hook)(void);   /* changes the file under the reader */

static ssize_t
inject(int fd, void *buf, size_t n, off_t off, bool positional)
{
	if (fd == inj_fd) {
		inj_calls++;
		if (inj_hook != NULL && inj_calls == inj_hook_at)
			inj_hook();
		if (inj_eintr && inj_calls % 2 == 1) {
			errno = EINTR;
			return -1;
		}
		if (inj_eio_at != 0 && inj_calls == inj_eio_at) {
			errno = EIO;
			return -1;
		}
		if (inj_max != 0 && n > inj_max)
			n = inj_max;
	}
	if (positional)
		return syscall(SYS_pread64, fd, buf, n, off);
	return syscall(SYS_read, fd, buf, n);
}

ssize_t __read_chk(int fd, void *buf, size_t n, size_t buflen);
ssize_t __pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);
ssize_t __pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen);

ssize_t
read(int fd, void *buf, size_t n)
{
	return inject(fd, buf, n, 0, false);
}

ssize_t
__read_chk(int fd, void *buf, size_t n, size_t buflen)
{
	(void)buflen;
	return inject(fd, buf, n, 0, false);
}

ssize_t
pread(int fd, void *buf, size_t n, off_t off)
{
	return inject(fd, buf, n, off, true);
}

ssize_t
pread64(int fd, void *buf, size_t n, off_t off)
{
	return inject(fd, buf, n, off, true);
}

ssize_t
__pread_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	(void)buflen;
	return inject(fd, buf, n, off, true);
}

ssize_t
__pread64_chk(int fd, void *buf, size_t n, off_t off, size_t buflen)
{
	(void)buflen;
	return inject(fd, buf, n, off, true);
}

static void
inj_reset(int fd)
{
	inj_fd = fd;
	inj_calls = 0;
	inj_eio_at = 0;
	inj_max = 0;
	inj_eintr = false;
	inj_hook_at = 0;
	inj_hook = NULL;
}

/* --- helpers ------------------------------------------------------------ */

struct buf {
	char *p;
	size_t len;
};

/* Converts in[0..len) feeding chunks of at most chunk octets (0: all at
 * once), with buffers exactly as large as the contract requires. */
static struct buf
convert(const char *in, size_t len, bool dotstuff, long lines, size_t chunk)
{
	struct msgstream m;
	struct buf b;
	size_t off = 0;

	b.p = malloc(2 * len + 2 + 1);
	ck_assert_ptr_nonnull(b.p);
	b.len = 0;
	msgstream_init(&m, dotstuff, lines);
	if (chunk == 0)
		chunk = len > 0 ? len : 1;
	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		char *tmp = malloc(2 * n);

		ck_assert_ptr_nonnull(tmp);
		n = msgstream_feed(&m, in + off, n, tmp, 2 * n);
		memcpy(b.p + b.len, tmp, n);
		b.len += n;
		free(tmp);
		off += len - off < chunk ? len - off : chunk;
	}
	b.len += msgstream_finish(&m, b.p + b.len, 2);
	b.p[b.len] = '\0';
	return b;
}

/* Writes data to a fresh temporary file and returns it opened for reading. */
static int
tmpfile_with(const char *data, size_t len, char **ret_dir)
{
	char *dir = th_tmpdir();
	const char *path = th_path(dir, "msg");
	int fd;

	th_write_file(path, data, len);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	*ret_dir = dir;
	return fd;
}

static void
tmpfile_done(int fd, char *dir)
{
	close(fd);
	th_rm_rf(dir);
	free(dir);
}

static void
assert_mem(const char *what, const char *got, size_t glen, const char *want, size_t wlen)
{
	ck_assert_msg(glen == wlen && memcmp(got, want, wlen) == 0,
	              "%s: got %zu octets, want %zu", what, glen, wlen);
}

/* --- the conversion table ------------------------------------------------ */

struct row {
	const char *in;
	const char *wire;     /* after dot-stuffing, without the final ".\r\n" */
	const char *plain;    /* before dot-stuffing: its length is the size */
	size_t ilen, wlen, plen;   /* for rows with a NUL; else 0 (strlen) */
};

#define R(in, wire, plain) { in, wire, plain, 0, 0, 0 }
static const struct row rows[] = {
	R("", "\r\n", "\r\n"),
	R("a", "a\r\n", "a\r\n"),
	R("a\n", "a\r\n", "a\r\n"),
	R("a\r\n", "a\r\n", "a\r\n"),
	R("a\r\nb", "a\r\nb\r\n", "a\r\nb\r\n"),
	R(".\n", "..\r\n", ".\r\n"),
	R(".", "..\r\n", ".\r\n"),
	R("..x\n", "...x\r\n", "..x\r\n"),
	R("a\n.\nb\n", "a\r\n..\r\nb\r\n", "a\r\n.\r\nb\r\n"),
	R("\r", "\r\r\n", "\r\r\n"),
	R("\r\r\n", "\r\r\n", "\r\r\n"),
	R("\n", "\r\n", "\r\n"),
	R("\r\n", "\r\n", "\r\n"),
	R("\n\n", "\r\n\r\n", "\r\n\r\n"),
	R("a\r.b\n", "a\r.b\r\n", "a\r.b\r\n"),
	R("x\n\r", "x\r\n\r\r\n", "x\r\n\r\r\n"),
	R("a\nb\r\nc\rd\n.e", "a\r\nb\r\nc\rd\r\n..e\r\n", "a\r\nb\r\nc\rd\r\n.e\r\n"),
	R(". \r\n.\r\n.", ".. \r\n..\r\n..\r\n", ". \r\n.\r\n.\r\n"),
	R("\r\n.\r\n", "\r\n..\r\n", "\r\n.\r\n"),
	R("x.\n\n.", "x.\r\n\r\n..\r\n", "x.\r\n\r\n.\r\n"),
	{ "caf\xc3\xa9\n\xff\x00.\n", "caf\xc3\xa9\r\n\xff\x00.\r\n", "caf\xc3\xa9\r\n\xff\x00.\r\n",
	  10, 12, 12 },
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

static size_t
row_len(const char *s, size_t i, int which)
{
	size_t n = which == 0 ? rows[i].ilen : which == 1 ? rows[i].wlen : rows[i].plen;

	return n != 0 ? n : strlen(s);
}

START_TEST(test_table_whole)
{
	size_t i;

	for (i = 0; i < NROWS; i++) {
		size_t ilen = row_len(rows[i].in, i, 0);
		size_t wlen = row_len(rows[i].wire, i, 1);
		size_t plen = row_len(rows[i].plain, i, 2);
		struct buf w = convert(rows[i].in, ilen, true, MSGSTREAM_ALL_LINES, 0);
		struct buf p = convert(rows[i].in, ilen, false, MSGSTREAM_ALL_LINES, 0);
		char what[32];

		snprintf(what, sizeof(what), "row %zu wire", i);
		assert_mem(what, w.p, w.len, rows[i].wire, wlen);
		snprintf(what, sizeof(what), "row %zu plain", i);
		assert_mem(what, p.p, p.len, rows[i].plain, plen);
		free(w.p);
		free(p.p);
	}
}
END_TEST

/* Every way of cutting the input must give the same octets: one byte at a
 * time, every two-chunk split (a CRLF or a leading '.' cut in two), and
 * three-octet chunks. */
START_TEST(test_table_chunked)
{
	size_t i, cut;

	for (i = 0; i < NROWS; i++) {
		size_t ilen = row_len(rows[i].in, i, 0);
		size_t wlen = row_len(rows[i].wire, i, 1);
		static const size_t chunks[] = { 1, 2, 3 };
		size_t c;

		for (c = 0; c < 3; c++) {
			struct buf w = convert(rows[i].in, ilen, true, MSGSTREAM_ALL_LINES, chunks[c]);

			ck_assert_msg(w.len == wlen && memcmp(w.p, rows[i].wire, wlen) == 0,
			              "row %zu chunk %zu", i, chunks[c]);
			free(w.p);
		}
		for (cut = 0; cut <= ilen; cut++) {
			struct msgstream m;
			char out[64];
			size_t n;

			msgstream_init(&m, true, MSGSTREAM_ALL_LINES);
			n = msgstream_feed(&m, rows[i].in, cut, out, 2 * cut);
			n += msgstream_feed(&m, rows[i].in + cut, ilen - cut, out + n,
			                    2 * (ilen - cut));
			n += msgstream_finish(&m, out + n, 2);
			ck_assert_msg(n == wlen && memcmp(out, rows[i].wire, wlen) == 0,
			              "row %zu cut at %zu", i, cut);
		}
	}
}
END_TEST

/* The size is exactly the non-stuffed output, through size_fd too, and
 * send_fd sends header + stuffed output + terminator. */
START_TEST(test_table_size_and_send)
{
	size_t i;

	for (i = 0; i < NROWS; i++) {
		size_t ilen = row_len(rows[i].in, i, 0);
		size_t wlen = row_len(rows[i].wire, i, 1);
		size_t plen = row_len(rows[i].plain, i, 2);
		struct mem_transport mt;
		uint64_t size = 12345;
		bool started = false;
		char *dir, *want;
		int fd = tmpfile_with(rows[i].in, ilen, &dir);

		ck_assert_int_eq(msgstream_size_fd(fd, &size), 0);
		ck_assert_msg(size == plen, "row %zu: size %llu, want %zu", i,
		              (unsigned long long)size, plen);

		mem_transport_init(&mt);
		ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, plen, "+OK x\r\n",
		                                   &mt.t, &started), 0);
		ck_assert(started);
		ck_assert_int_eq(transport_flush(&mt.t), 0);
		want = malloc(wlen + 16);
		memcpy(want, "+OK x\r\n", 7);
		memcpy(want + 7, rows[i].wire, wlen);
		memcpy(want + 7 + wlen, ".\r\n", 3);
		assert_mem("send", mt.out, mt.len, want, wlen + 10);
		free(want);
		mem_transport_free(&mt);
		tmpfile_done(fd, dir);
	}
}
END_TEST

/* --- TOP ---------------------------------------------------------------- */

static const struct {
	const char *in;
	long n;
	const char *wire;
} top_rows[] = {
	{ "Subject: a\nFrom: b\n\nl1\nl2\n.l3\n", 0, "Subject: a\r\nFrom: b\r\n\r\n" },
	{ "Subject: a\nFrom: b\n\nl1\nl2\n.l3\n", 1, "Subject: a\r\nFrom: b\r\n\r\nl1\r\n" },
	{ "Subject: a\nFrom: b\n\nl1\nl2\n.l3\n", 2, "Subject: a\r\nFrom: b\r\n\r\nl1\r\nl2\r\n" },
	{ "Subject: a\nFrom: b\n\nl1\nl2\n.l3\n", 3,
	  "Subject: a\r\nFrom: b\r\n\r\nl1\r\nl2\r\n..l3\r\n" },
	{ "Subject: a\nFrom: b\n\nl1\nl2\n.l3\n", 99,
	  "Subject: a\r\nFrom: b\r\n\r\nl1\r\nl2\r\n..l3\r\n" },
	{ "Subject: a\nFrom: b\n\nl1\nl2\n.l3\n", -1,
	  "Subject: a\r\nFrom: b\r\n\r\nl1\r\nl2\r\n..l3\r\n" },
	/* No blank line: all of it is header. */
	{ "Subject: a\nFrom: b\n", 0, "Subject: a\r\nFrom: b\r\n" },
	{ "Subject: a", 0, "Subject: a\r\n" },
	/* CRLF, and a last body line without newline. */
	{ "S: a\r\n\r\nb1\r\nb2", 0, "S: a\r\n\r\n" },
	{ "S: a\r\n\r\nb1\r\nb2", 1, "S: a\r\n\r\nb1\r\n" },
	{ "S: a\r\n\r\nb1\r\nb2", 2, "S: a\r\n\r\nb1\r\nb2\r\n" },
	{ "S: a\r\n\r\nb1\r\nb2", 3, "S: a\r\n\r\nb1\r\nb2\r\n" },
	/* The blank line ends the header, not a later one. */
	{ "H: 1\n\n\n\nx\n", 2, "H: 1\r\n\r\n\r\n\r\n" },
	{ "\nbody\n", 0, "\r\n" },
	{ "\nbody\n", 1, "\r\nbody\r\n" },
	{ "", 0, "\r\n" },
	{ "", 5, "\r\n" },
	/* A line of only CRs counts as blank. */
	{ "H: x\n\r\nb\n", 0, "H: x\r\n\r\n" },
	/* A line with a space is not blank. */
	{ "H: x\n \nb\nc\n", 0, "H: x\r\n \r\nb\r\nc\r\n" },
	{ "H: x\n\n.\n.x\n", 1, "H: x\r\n\r\n..\r\n" },
};

START_TEST(test_top)
{
	size_t i, c;

	for (i = 0; i < sizeof(top_rows) / sizeof(top_rows[0]); i++) {
		size_t ilen = strlen(top_rows[i].in);
		static const size_t chunks[] = { 0, 1, 2, 5 };

		for (c = 0; c < 4; c++) {
			struct buf w = convert(top_rows[i].in, ilen, true, top_rows[i].n, chunks[c]);

			ck_assert_msg(strcmp(w.p, top_rows[i].wire) == 0,
			              "top row %zu chunk %zu: got \"%s\"", i, chunks[c], w.p);
			free(w.p);
		}
	}
}
END_TEST

/* TOP through send_fd: same octets, and a large body is not read. */
START_TEST(test_top_send_stops_reading)
{
	const size_t body = 4 * 1024 * 1024;
	char *msg = malloc(body + 64), *dir;
	struct mem_transport mt;
	bool started;
	size_t i, len;
	int fd;

	len = (size_t)sprintf(msg, "Subject: big\n\nfirst\n");
	for (i = 0; i < body; i++)
		msg[len++] = i % 64 == 63 ? '\n' : 'b';
	fd = tmpfile_with(msg, len, &dir);
	inj_reset(fd);
	mem_transport_init(&mt);
	ck_assert_int_eq(msgstream_send_fd(fd, 1, MSGSTREAM_SIZE_ANY, "+OK\r\n", &mt.t, &started),
	                 0);
	ck_assert_int_eq(transport_flush(&mt.t), 0);
	ck_assert_str_eq(mt.out, "+OK\r\nSubject: big\r\n\r\nfirst\r\n.\r\n");
	ck_assert_uint_eq(inj_calls, 1);
	mem_transport_free(&mt);
	inj_reset(-1);
	tmpfile_done(fd, dir);
	free(msg);
}
END_TEST

/* --- size_fd details ------------------------------------------------------ */

START_TEST(test_size_from_current_offset)
{
	char *dir;
	uint64_t size;
	int fd = tmpfile_with("a\nb\n", 4, &dir);

	ck_assert_int_eq(lseek(fd, 2, SEEK_SET), 2);
	ck_assert_int_eq(msgstream_size_fd(fd, &size), 0);
	ck_assert_uint_eq(size, 3);
	tmpfile_done(fd, dir);
}
END_TEST

START_TEST(test_size_pipe)
{
	int p[2];
	uint64_t size;

	ck_assert_int_eq(pipe(p), 0);
	ck_assert_int_eq(write(p[1], "x\n.\ny", 5), 5);
	close(p[1]);
	ck_assert_int_eq(msgstream_size_fd(p[0], &size), 0);
	ck_assert_uint_eq(size, 9);   /* "x\r\n.\r\ny\r\n" */
	close(p[0]);
}
END_TEST

/* Short reads and EINTR change nothing, on both paths. */
START_TEST(test_short_reads_and_eintr)
{
	static const char msg[] = "H: 1\r\n\r\n.a\r\nb\nc\rd\n.\n";
	static const size_t maxes[] = { 1, 2, 3, 7 };
	struct buf want = convert(msg, sizeof(msg) - 1, true, MSGSTREAM_ALL_LINES, 0);
	struct buf plain = convert(msg, sizeof(msg) - 1, false, MSGSTREAM_ALL_LINES, 0);
	size_t k;

	for (k = 0; k < 4; k++) {
		struct mem_transport mt;
		uint64_t size = 0;
		bool started;
		char *dir;
		int fd = tmpfile_with(msg, sizeof(msg) - 1, &dir);

		inj_reset(fd);
		inj_max = maxes[k];
		inj_eintr = true;
		ck_assert_int_eq(msgstream_size_fd(fd, &size), 0);
		ck_assert_uint_eq(size, plain.len);
		ck_assert_uint_gt(inj_calls, 2 * ((sizeof(msg) - 1) / maxes[k]));

		inj_reset(fd);
		inj_max = maxes[k];
		inj_eintr = true;
		mem_transport_init(&mt);
		ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, plain.len, "+OK\r\n",
		                                   &mt.t, &started), 0);
		ck_assert_int_eq(transport_flush(&mt.t), 0);
		ck_assert_uint_eq(mt.len, 5 + want.len + 3);
		ck_assert(memcmp(mt.out + 5, want.p, want.len) == 0);
		mem_transport_free(&mt);
		inj_reset(-1);
		tmpfile_done(fd, dir);
	}
	free(want.p);
	free(plain.p);
}
END_TEST

/* --- Limits --------------------------------------------------------------- */

/* A 100 KB line, through every path and byte by byte. */
START_TEST(test_long_line)
{
	const size_t n = 100 * 1000;
	char *in = malloc(n + 1), *want = malloc(n + 4);
	struct buf w, b, p;

	memset(in, 'x', n);
	in[0] = '.';
	in[n] = '\n';
	want[0] = '.';
	memcpy(want + 1, in, n);
	memcpy(want + 1 + n, "\r\n", 2);
	w = convert(in, n + 1, true, MSGSTREAM_ALL_LINES, 0);
	b = convert(in, n + 1, true, MSGSTREAM_ALL_LINES, 1);
	p = convert(in, n + 1, false, MSGSTREAM_ALL_LINES, 4096);
	assert_mem("whole", w.p, w.len, want, n + 3);
	assert_mem("bytewise", b.p, b.len, want, n + 3);
	assert_mem("plain", p.p, p.len, want + 1, n + 2);
	free(w.p);
	free(b.p);
	free(p.p);
	free(in);
	free(want);
}
END_TEST

/* Input that doubles exactly fits the documented 2 * inlen. */
START_TEST(test_worst_case_expansion)
{
	static const char *const ins[] = { "\n\n\n\n", ".\n.\n.\n", "\n.\n.\n" };
	size_t i;

	for (i = 0; i < 3; i++) {
		size_t len = strlen(ins[i]);
		char *out = malloc(2 * len);
		struct msgstream m;

		msgstream_init(&m, true, MSGSTREAM_ALL_LINES);
		ck_assert_uint_eq(msgstream_feed(&m, ins[i], len, out, 2 * len), 2 * len);
		free(out);
	}
}
END_TEST

/* A transport that checks the wire stream on the fly instead of keeping
 * it: every LF after a CR, counts of octets and of stuffed dots. */
struct check_transport {
	struct transport t;
	uint64_t octets;
	uint64_t dotdots;       /* lines starting with ".." */
	bool prev_cr, line_start, dot_start;
	bool bare_lf;
	char tail[3];
};

static int
check_write(void *ctx, const void *buf, size_t len)
{
	struct check_transport *c = ctx;
	const char *p = buf;
	size_t i;

	for (i = 0; i < len; i++) {
		/* Across write boundaries too. */
		if (c->dot_start && p[i] == '.')
			c->dotdots++;
		c->dot_start = c->line_start && p[i] == '.';
		if (p[i] == '\n' && !c->prev_cr)
			c->bare_lf = true;
		c->prev_cr = p[i] == '\r';
		c->line_start = p[i] == '\n';
		c->tail[0] = c->tail[1];
		c->tail[1] = c->tail[2];
		c->tail[2] = p[i];
	}
	c->octets += len;
	return 0;
}

/* 64 MiB of lines (some starting with '.'): the size, the wire octets and
 * the memory used, which must not grow with the message. */
START_TEST(test_64mib)
{
	const size_t block = 1024 * 1024, blocks = 64;
	char *b = malloc(block), *dir;
	size_t len = 0, lfs = 0, dots = 0, i;
	struct check_transport *c = calloc(1, sizeof(*c));
	struct rusage ru0, ru1;
	uint64_t size;
	bool started;
	int fd, wfd;

	/* One 1 MiB block of whole lines, written 64 times. */
	while (len < block - 200) {
		int n;

		if (lfs % 7 == 3)
			n = snprintf(b + len, 200, ".dotted line %zu\n", lfs);
		else if (lfs % 11 == 5)
			n = snprintf(b + len, 200, ".\n");
		else
			n = snprintf(b + len, 200, "line %zu: the quick brown fox\n", lfs);
		if (b[len] == '.')
			dots++;
		len += (size_t)n;
		lfs++;
	}
	dir = th_tmpdir();
	wfd = open(th_path(dir, "big"), O_WRONLY | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(wfd, 0);
	for (i = 0; i < blocks; i++)
		ck_assert_int_eq(write(wfd, b, len), (ssize_t)len);
	close(wfd);
	free(b);
	fd = open(th_path(dir, "big"), O_RDONLY);
	ck_assert_int_ge(fd, 0);

	getrusage(RUSAGE_SELF, &ru0);
	ck_assert_int_eq(msgstream_size_fd(fd, &size), 0);
	ck_assert_uint_eq(size, blocks * (len + lfs));

	c->t.write_all = check_write;
	c->t.ctx = c;
	c->line_start = true;
	ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, size, "+OK big\r\n", &c->t,
	                                   &started), 0);
	ck_assert_int_eq(transport_flush(&c->t), 0);
	getrusage(RUSAGE_SELF, &ru1);
	ck_assert_uint_eq(c->octets, 9 + size + blocks * dots + 3);
	ck_assert_uint_eq(c->dotdots, blocks * dots);
	ck_assert(!c->bare_lf);
	ck_assert(memcmp(c->tail, ".\r\n", 3) == 0);
	/* ru_maxrss is in KiB: a few buffers, not the message. */
	ck_assert_int_lt(ru1.ru_maxrss - ru0.ru_maxrss, 8 * 1024);
	free(c);
	close(fd);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

/* 1 GiB (sparse: one 1 GiB line of NULs without newline) has a 64-bit
 * size and costs no memory. */
START_TEST(test_1gib_sparse)
{
	const uint64_t gib = 1024ULL * 1024 * 1024;
	char *dir = th_tmpdir();
	uint64_t size = 0;
	int fd;

	fd = open(th_path(dir, "huge"), O_RDWR | O_CREAT | O_TRUNC, 0600);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(ftruncate(fd, (off_t)gib), 0);
	ck_assert_int_eq(pwrite(fd, "\n", 1, (off_t)gib - 2), 1);
	ck_assert_int_eq(msgstream_size_fd(fd, &size), 0);   /* offset still 0 */
	ck_assert_uint_eq(size, gib + 1 + 2);
	close(fd);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

/* --- Errors --------------------------------------------------------------- */

static void
assert_nothing_sent(int fd, int want)
{
	struct mem_transport mt;
	bool started = true;

	mem_transport_init(&mt);
	ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, MSGSTREAM_SIZE_ANY,
	                                   "+OK\r\n", &mt.t, &started),
	                 want);
	ck_assert(!started);
	ck_assert_uint_eq(mt.t.used, 0);
	ck_assert_int_eq(transport_flush(&mt.t), 0);
	ck_assert_uint_eq(mt.len, 0);
	mem_transport_free(&mt);
}

START_TEST(test_send_unreadable)
{
	char *dir = th_tmpdir();
	int fd, p[2];
	uint64_t size;

	/* Closed descriptor. */
	fd = open(th_path(dir, "m"), O_RDWR | O_CREAT, 0600);
	ck_assert_int_ge(fd, 0);
	close(fd);
	assert_nothing_sent(fd, -EBADF);
	ck_assert_int_eq(msgstream_size_fd(fd, &size), -EBADF);
	/* Write-only. */
	fd = open(th_path(dir, "m"), O_WRONLY);
	assert_nothing_sent(fd, -EBADF);
	close(fd);
	/* A directory. */
	fd = open(dir, O_RDONLY | O_DIRECTORY);
	assert_nothing_sent(fd, -EISDIR);
	ck_assert_int_eq(msgstream_size_fd(fd, &size), -EISDIR);
	close(fd);
	/* Not seekable. */
	ck_assert_int_eq(pipe(p), 0);
	assert_nothing_sent(p[0], -ESPIPE);
	close(p[0]);
	close(p[1]);
	th_rm_rf(dir);
	free(dir);
}
END_TEST

/* An I/O error on the first read sends nothing; a later one is reported
 * after the header went out. */
START_TEST(test_read_error)
{
	const size_t len = 300 * 1024;
	char *msg = malloc(len), *dir;
	struct mem_transport mt;
	bool started;
	uint64_t size;
	int fd;

	memset(msg, 'a', len);
	msg[len - 1] = '\n';
	fd = tmpfile_with(msg, len, &dir);

	inj_reset(fd);
	inj_eio_at = 1;
	assert_nothing_sent(fd, -EIO);

	inj_reset(fd);
	inj_eio_at = 2;
	mem_transport_init(&mt);
	ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, MSGSTREAM_SIZE_ANY,
	                                   "+OK\r\n", &mt.t, &started),
	                 -EIO);
	ck_assert(started);
	ck_assert_int_eq(transport_flush(&mt.t), 0);
	ck_assert_uint_gt(mt.len, 5);
	ck_assert(memcmp(mt.out, "+OK\r\n", 5) == 0);
	ck_assert_uint_lt(mt.len, len);
	mem_transport_free(&mt);

	inj_reset(fd);
	inj_eio_at = 3;
	ck_assert_int_eq(msgstream_size_fd(fd, &size), -EIO);
	inj_reset(-1);
	tmpfile_done(fd, dir);
	free(msg);
}
END_TEST

/* A failing transport stops the transfer with its error. */
START_TEST(test_write_error)
{
	const size_t len = 200 * 1024;
	char *msg = malloc(len), *dir;
	struct mem_transport mt;
	bool started;
	int fd;

	memset(msg, 'a', len);
	msg[len - 1] = '\n';
	fd = tmpfile_with(msg, len, &dir);
	inj_reset(fd);
	mem_transport_init(&mt);
	mt.fail_after = 1000;
	ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, MSGSTREAM_SIZE_ANY,
	                                   "+OK\r\n", &mt.t, &started),
	                 -EPIPE);
	ck_assert(started);
	/* It stopped reading at the failure. */
	ck_assert_uint_le(inj_calls, 2);
	mem_transport_free(&mt);

	/* A transport already broken. */
	mem_transport_init(&mt);
	mt.t.error = -ECONNRESET;
	ck_assert_int_eq(msgstream_send_fd(fd, MSGSTREAM_ALL_LINES, MSGSTREAM_SIZE_ANY,
	                                   "+OK\r\n", &mt.t, &started),
	                 -ECONNRESET);
	mem_transport_free(&mt);
	inj_reset(-1);
	tmpfile_done(fd, dir);
	free(msg);
}
END_TEST

/* --- the announced size holds, or the reply stays unterminated ------------ */

static const char *change_path;   /* the file the hooks change */

static void
hook_grow(void)
{
	int fd = open(change_path, O_WRONLY | O_APPEND);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, "appended line\n", 14), 14);
	close(fd);
}

static void
hook_shrink(void)
{
	ck_assert_int_eq(truncate(change_path, 20), 0);
}

/* Same size, other content (as an in-place rewrite would be). */
static void
hook_rewrite(void)
{
	int fd = open(change_path, O_WRONLY);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(pwrite(fd, "XXXX", 4, 0), 4);
	close(fd);
}

/* Sends msg with reads of 16 octets, hook before read call `at`, the
 * size announced as `size`; checks the result and that the reply is never
 * terminated unless it succeeded, and never carries more than size octets
 * of message (the message has no line starting with '.'). */
static void
send_changing(const char *msg, void (*hook)(void), unsigned at, long lines, uint64_t size,
              int want)
{
	struct mem_transport mt;
	bool started = false;
	char *dir;
	int fd = tmpfile_with(msg, strlen(msg), &dir);

	struct timespec old[2] = { { 1000, 0 }, { 1000, 0 } };

	change_path = th_path(dir, "msg");
	/* An old mtime, so that a rewrite within the same clock tick as
	 * the creation still shows. */
	ck_assert_int_eq(futimens(fd, old), 0);
	inj_reset(fd);
	inj_max = 16;
	inj_hook = hook;
	inj_hook_at = at;
	mem_transport_init(&mt);
	ck_assert_int_eq(msgstream_send_fd(fd, lines, size, "+OK\r\n", &mt.t, &started), want);
	ck_assert(started);
	ck_assert_int_eq(transport_flush(&mt.t), 0);
	ck_assert_uint_ge(mt.len, 5);
	ck_assert(memcmp(mt.out, "+OK\r\n", 5) == 0);
	if (want == 0) {
		ck_assert(memcmp(mt.out + mt.len - 3, ".\r\n", 3) == 0);
		if (lines < 0)
			ck_assert_uint_eq(mt.len, 5 + size + 3);
	} else {
		ck_assert_msg(mt.len < 5 + 5 || memcmp(mt.out + mt.len - 5, "\r\n.\r\n", 5) != 0,
		              "terminated after %d", want);
		ck_assert_uint_le(mt.len - 5, size);
	}
	mem_transport_free(&mt);
	inj_reset(-1);
	tmpfile_done(fd, dir);
}

/* RETR of a file that grows, shrinks or is rewritten while it is sent:
 * never a terminated reply with another octet count than announced. */
START_TEST(test_send_file_changes)
{
	static const char msg[] = "Subject: changing\n\nline one\nline two\nline three\n"
	                          "line four\nline five\n";
	uint64_t size = sizeof(msg) - 1 + 7;   /* 7 LFs gain a CR */

	send_changing(msg, NULL, 0, MSGSTREAM_ALL_LINES, size, 0);
	send_changing(msg, hook_grow, 3, MSGSTREAM_ALL_LINES, size, -ERANGE);
	send_changing(msg, hook_shrink, 3, MSGSTREAM_ALL_LINES, size, -ERANGE);
	send_changing(msg, hook_rewrite, 3, MSGSTREAM_ALL_LINES, size, -ESTALE);
	/* Grown by its last read: the size check alone catches it. */
	send_changing(msg, hook_grow, 6, MSGSTREAM_ALL_LINES, size, -ERANGE);
	/* TOP that stops before the change still succeeds; one that reads
	 * to the end holds the message to its listed size. */
	send_changing(msg, hook_grow, 3, 0, size, 0);
	send_changing(msg, hook_shrink, 3, 100, size, -ERANGE);
	send_changing(msg, hook_rewrite, 2, 100, size, -ESTALE);
}
END_TEST

/* A wrong announced size (a lying size cache) with an unchanged file: the
 * message is cut at the size, or not terminated. */
START_TEST(test_send_wrong_size)
{
	static const char msg[] = "Subject: size\n\nbody\n";
	uint64_t size = sizeof(msg) - 1 + 3;

	send_changing(msg, NULL, 0, MSGSTREAM_ALL_LINES, size, 0);
	send_changing(msg, NULL, 0, MSGSTREAM_ALL_LINES, size + 1, -ERANGE);
	send_changing(msg, NULL, 0, MSGSTREAM_ALL_LINES, size - 1, -ERANGE);
	send_changing(msg, NULL, 0, MSGSTREAM_ALL_LINES, 0, -ERANGE);
	send_changing(msg, NULL, 0, MSGSTREAM_ALL_LINES, UINT64_MAX - 1, -ERANGE);
}
END_TEST

static Suite *
msgstream_suite(void)
{
	Suite *s = suite_create("msgstream");
	TCase *tc;

	tc = tcase_create("Core");
	tcase_add_test(tc, test_table_whole);
	tcase_add_test(tc, test_table_chunked);
	tcase_add_test(tc, test_table_size_and_send);
	tcase_add_test(tc, test_top);
	tcase_add_test(tc, test_top_send_stops_reading);
	tcase_add_test(tc, test_size_from_current_offset);
	tcase_add_test(tc, test_size_pipe);
	tcase_add_test(tc, test_short_reads_and_eintr);
	suite_add_tcase(s, tc);

	tc = tcase_create("Limits");
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_long_line);
	tcase_add_test(tc, test_worst_case_expansion);
	tcase_add_test(tc, test_64mib);
	tcase_add_test(tc, test_1gib_sparse);
	suite_add_tcase(s, tc);

	tc = tcase_create("Errors");
	tcase_add_test(tc, test_send_unreadable);
	tcase_add_test(tc, test_read_error);
	tcase_add_test(tc, test_write_error);
	tcase_add_test(tc, test_send_file_changes);
	tcase_add_test(tc, test_send_wrong_size);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(msgstream_suite)
