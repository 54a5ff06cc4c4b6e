/* The size cache of a user's mailbox, HOME/USER/.pop3s-sizes (see
 * maildir.c), and the sizes it does not give. The cache is only ever
 * trusted for a file whose inode, size and mtime match the entry exactly
 * and for a size that file can have (see maildir_size_plausible: a forged
 * 18446744073709551615 is never served), and it is parsed strictly with
 * bounded lines: a corrupt or hostile cache costs a recomputation, never
 * an impossible size or a crash.
 *
 * Cache format (all printable ASCII, one entry a line, sorted by relpath):
 *   pop3s-sizes 1
 *   <inode> <st_size> <mtime sec> <mtime nsec> <pop3 size> <relpath>
 * numbers in canonical decimal (no leading zeros, only the seconds may be
 * negative), relpath with every octet outside 0x21-0x7E and '%' written
 * as %XX (upper-case hex), so names with spaces or newlines round-trip. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "maildir.h"
#include "maildir_internal.h"
#include "msgstream.h"

#define CACHE_HEADER "pop3s-sizes 1"
/* Longest cache line accepted: a relpath is at most "new/" + NAME_MAX
 * octets, each written as up to 3 characters, plus five numbers. */
#define CACHE_LINE_MAX 1024
#define CACHE_BUFSIZE (64 * 1024)

/* --- the size cache: reading ---------------------------------------------- */

/* Canonical unsigned decimal followed by a space; advances *p. */
static bool
parse_u64(const char **p, const char *end, uint64_t *ret)
{
	const char *s = *p;
	uint64_t v = 0;

	if (s >= end || *s < '0' || *s > '9')
		return false;
	if (*s == '0' && s + 1 < end && s[1] >= '0' && s[1] <= '9')
		return false;   /* leading zero */
	while (s < end && *s >= '0' && *s <= '9') {
		unsigned d = (unsigned)(*s - '0');

		if (v > (UINT64_MAX - d) / 10)
			return false;
		v = v * 10 + d;
		s++;
	}
	if (s >= end || *s != ' ')
		return false;
	*p = s + 1;
	*ret = v;
	return true;
}

static bool
parse_i64(const char **p, const char *end, int64_t *ret)
{
	bool neg = false;
	uint64_t v;

	if (*p < end && **p == '-') {
		neg = true;
		(*p)++;
	}
	if (!parse_u64(p, end, &v))
		return false;
	if (neg) {
		if (v == 0 || v > (uint64_t)INT64_MAX + 1)
			return false;
		*ret = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
	} else {
		if (v > (uint64_t)INT64_MAX)
			return false;
		*ret = (int64_t)v;
	}
	return true;
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Decodes the escaped relpath that ends the line into buf. */
static bool
parse_relpath(const char *p, const char *end, char *buf, size_t bufsize)
{
	size_t n = 0;

	if (p >= end)
		return false;
	while (p < end) {
		unsigned char c = (unsigned char)*p;

		if (n + 1 >= bufsize)
			return false;
		if (c == '%') {
			int hi, lo;

			if (end - p < 3)
				return false;
			hi = hexval(p[1]);
			lo = hexval(p[2]);
			if (hi < 0 || lo < 0 || (hi == 0 && lo == 0))
				return false;
			buf[n++] = (char)(hi * 16 + lo);
			p += 3;
		} else if (c >= 0x21 && c <= 0x7e) {
			buf[n++] = (char)c;
			p++;
		} else {
			return false;
		}
	}
	buf[n] = '\0';
	return true;
}

bool
maildir_size_plausible(int64_t st_size, uint64_t size)
{
	uint64_t n;

	if (st_size < 0)
		return false;
	n = (uint64_t)st_size;
	if (n == 0)
		return size == 2;
	/* n <= INT64_MAX, so 2 * n + 2 cannot wrap. */
	return size >= n && size <= 2 * n + 2;
}

/* One cache line (without its LF): if well-formed and its relpath is a
 * message of this scan with exactly the same inode, size and mtime, the
 * message takes the cached size, if plausible for the file. Anything else means the rewritten cache
 * will differ from this one. */
static void
cache_line(struct scan *s, const char *line, size_t len)
{
	const char *p = line, *end = line + len;
	char relpath[CACHE_RELPATH_MAX];
	uint64_t ino, st_size, nsec, size;
	int64_t sec;
	struct rec key, *r;

	if (!parse_u64(&p, end, &ino) || !parse_u64(&p, end, &st_size) ||
	    !parse_i64(&p, end, &sec) || !parse_u64(&p, end, &nsec) ||
	    !parse_u64(&p, end, &size) || nsec > 999999999 ||
	    st_size > (uint64_t)INT64_MAX ||
	    !parse_relpath(p, end, relpath, sizeof(relpath))) {
		s->cache_changed = true;
		return;
	}
	key.relpath = relpath;
	r = bsearch(&key, s->recs, s->count, sizeof(*s->recs), maildir_cmp_relpath);
	if (r == NULL) {
		s->cache_changed = true;   /* the file is gone: drop the entry */
		return;
	}
	if (r->cached_line) {
		/* Two entries for one file: trust neither. */
		r->have_size = false;
		s->cache_changed = true;
		return;
	}
	r->cached_line = true;
	if (r->ino != ino || r->st_size != (int64_t)st_size ||
	    r->mtime_sec != sec || r->mtime_nsec != (long)nsec) {
		s->cache_changed = true;   /* stale */
		return;
	}
	if (!maildir_size_plausible(r->st_size, size)) {
		s->cache_changed = true;   /* forged or corrupt: measure it */
		return;
	}
	r->size = size;
	r->have_size = true;
	r->readable = true;
}

/* Applies the cache file to s->recs (sorted by relpath). Never fails: at
 * worst every size is recomputed. */
void
maildir_cache_read(struct scan *s)
{
	char *buf;
	size_t used = 0;
	bool header = false, skipping = false;
	struct stat st;
	int fd;

	fd = openat(s->dirfd, MAILDIR_CACHE_NAME,
	            O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		/* Missing: it changes only if there is something to write,
		 * which the misses will tell. */
		if (errno != ENOENT)
			s->cache_changed = true;
		return;
	}
	/* A regular file of a plausible length for the files present (the
	 * bound keeps a hostile multi-gigabyte file from costing time). */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > (2 * (uint64_t)s->count + 16) * (CACHE_LINE_MAX + 1) ||
	    (buf = malloc(CACHE_BUFSIZE)) == NULL) {
		s->cache_changed = true;
		close(fd);
		return;
	}
	for (;;) {
		ssize_t n;
		size_t start = 0, i;

		n = read(fd, buf + used, CACHE_BUFSIZE - used);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->cache_changed = true;
			break;
		}
		if (n == 0) {
			if (used > 0)
				s->cache_changed = true;   /* unterminated line */
			break;
		}
		used += (size_t)n;
		for (i = 0; i < used; i++) {
			if (buf[i] != '\n')
				continue;
			if (skipping) {
				skipping = false;
			} else if (!header) {
				header = true;
				if (i - start != strlen(CACHE_HEADER) ||
				    memcmp(buf + start, CACHE_HEADER, i - start) != 0) {
					/* Another format: ignore all of it. */
					s->cache_changed = true;
					goto out;
				}
			} else if (i - start > CACHE_LINE_MAX) {
				s->cache_changed = true;
			} else {
				cache_line(s, buf + start, i - start);
			}
			start = i + 1;
		}
		if (start == 0 && used == CACHE_BUFSIZE) {
			/* A line longer than the buffer: drop it through its
			 * end (it is corrupt in any case). */
			s->cache_changed = true;
			skipping = true;
			if (!header)
				goto out;
			used = 0;
			continue;
		}
		memmove(buf, buf + start, used - start);
		used -= start;
	}
out:
	if (!header)
		s->cache_changed = true;
	free(buf);
	close(fd);
}

/* --- the size cache: writing ---------------------------------------------- */

struct wbuf {
	int fd;
	int error;
	size_t used;
	char buf[CACHE_BUFSIZE];
};

static void
wbuf_flush(struct wbuf *w)
{
	size_t off = 0;

	while (w->error == 0 && off < w->used) {
		ssize_t n = write(w->fd, w->buf + off, w->used - off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			w->error = -errno;
		else if (n == 0)
			w->error = -EIO;
		else
			off += (size_t)n;
	}
	w->used = 0;
}

static void
wbuf_put(struct wbuf *w, const char *p, size_t len)
{
	if (len > sizeof(w->buf))
		abort();   /* callers write short pieces */
	if (w->used + len > sizeof(w->buf))
		wbuf_flush(w);
	memcpy(w->buf + w->used, p, len);
	w->used += len;
}

static void
cache_put_rec(struct wbuf *w, const struct rec *r)
{
	static const char hex[] = "0123456789ABCDEF";
	char line[CACHE_LINE_MAX + 1];
	const unsigned char *p;
	int n;
	size_t len;

	n = snprintf(line, sizeof(line), "%" PRIu64 " %" PRId64 " %" PRId64 " %ld %" PRIu64 " ",
	             r->ino, r->st_size, r->mtime_sec, r->mtime_nsec, r->size);
	if (n < 0 || (size_t)n >= sizeof(line))
		return;
	len = (size_t)n;
	for (p = (const unsigned char *)r->relpath; *p != '\0'; p++) {
		if (len + 4 > sizeof(line))
			return;   /* cannot be read back: leave it out */
		if (*p >= 0x21 && *p <= 0x7e && *p != '%') {
			line[len++] = (char)*p;
		} else {
			line[len++] = '%';
			line[len++] = hex[*p >> 4];
			line[len++] = hex[*p & 15];
		}
	}
	line[len++] = '\n';
	if (len - 1 > CACHE_LINE_MAX)
		return;
	wbuf_put(w, line, len);
}

/* Replaces the cache atomically: a temporary file in the same directory,
 * fsync, rename. Failing is harmless (it is only a cache), so errors are
 * returned for tests but the scan ignores them. */
int
maildir_cache_write(struct scan *s)
{
	char tmp[64];
	struct wbuf *w;
	int fd, r, tries;
	size_t i;

	/* A dot file, so the plain layout never lists it. */
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", MAILDIR_CACHE_NAME, (long)getpid());
	for (tries = 0;; tries++) {
		fd = openat(s->dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		            0600);
		if (fd >= 0)
			break;
		/* Left over by a crashed session with the same pid. */
		if (errno != EEXIST || tries > 0 || unlinkat(s->dirfd, tmp, 0) < 0)
			return -errno;
	}
	w = malloc(sizeof(*w));
	if (w == NULL) {
		r = -ENOMEM;
		goto fail;
	}
	w->fd = fd;
	w->error = 0;
	w->used = 0;
	wbuf_put(w, CACHE_HEADER "\n", strlen(CACHE_HEADER) + 1);
	for (i = 0; i < s->count; i++)
		if (!s->recs[i].gone && s->recs[i].readable && s->recs[i].have_size)
			cache_put_rec(w, &s->recs[i]);
	wbuf_flush(w);
	r = w->error;
	free(w);
	if (r < 0)
		goto fail;
	if (fsync(fd) < 0) {
		r = -errno;
		goto fail;
	}
	if (close(fd) < 0) {
		fd = -1;
		r = -errno;
		goto fail;
	}
	fd = -1;
	if (renameat(s->dirfd, tmp, s->dirfd, MAILDIR_CACHE_NAME) < 0) {
		r = -errno;
		goto fail;
	}
	return 0;
fail:
	if (fd >= 0)
		close(fd);
	unlinkat(s->dirfd, tmp, 0);
	return r;
}

/* --- sizes ------------------------------------------------------------------ */

/* Reads a message whose size the cache did not give. */
void
maildir_size_compute(struct scan *s, struct rec *r)
{
	struct stat st;
	uint64_t size;
	int fd;

	fd = openat(s->fds[r->dir], r->name,
	            O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	if (fd < 0) {
		if (errno == ENOENT || errno == ELOOP)
			r->gone = true;   /* removed, or replaced by a symlink */
		/* Otherwise (EACCES, EMFILE, ...) it stays in the list so the
		 * numbering does not depend on it; RETR answers -ERR. */
		r->readable = false;
		r->size = (uint64_t)r->st_size;
		return;
	}
	if (fstat(fd, &st) < 0) {
		close(fd);
		r->readable = false;
		r->size = (uint64_t)r->st_size;
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		r->gone = true;
		return;
	}
	/* The cache key describes the file actually read, in case it was
	 * replaced since fstatat. */
	r->dev = (uint64_t)st.st_dev;
	r->ino = (uint64_t)st.st_ino;
	r->st_size = (int64_t)st.st_size;
	r->mtime_sec = (int64_t)st.st_mtim.tv_sec;
	r->mtime_nsec = st.st_mtim.tv_nsec;
	if (msgstream_size_fd(fd, &size) < 0) {
		r->readable = false;
		r->size = (uint64_t)r->st_size;
	} else {
		r->readable = true;
		r->size = size;
		r->have_size = true;
		s->cache_changed = true;
	}
	close(fd);
}
