/* A user's mailbox: HOME/USER as a Maildir (new/, cur/) and as the plain
 * layout (regular files directly in HOME/USER), both at once.
 *
 * Everything is opened relative to the user directory with O_NOFOLLOW and
 * only regular files count: a symlink could point outside the mailbox
 * root. Sizes are what RETR sends (msgstream.c computes them); they are
 * cached in HOME/USER/.pop3s-sizes so that a login to a large mailbox
 * costs readdir + fstatat and never opens a message whose file is
 * unchanged. The cache is only ever trusted for a file whose inode, size
 * and mtime match the entry exactly, and it is parsed strictly with
 * bounded lines: a corrupt or hostile cache costs a recomputation, never a
 * wrong size or a crash.
 *
 * Cache format (all printable ASCII, one entry a line, sorted by relpath):
 *   pop3s-sizes 1
 *   <inode> <st_size> <mtime sec> <mtime nsec> <pop3 size> <relpath>
 * numbers in canonical decimal (no leading zeros, only the seconds may be
 * negative), relpath with every octet outside 0x21-0x7E and '%' written
 * as %XX (upper-case hex), so names with spaces or newlines round-trip. */
#include <dirent.h>
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
#include "msgstream.h"

#define CACHE_HEADER "pop3s-sizes 1"
/* Longest cache line accepted: a relpath is at most "new/" + NAME_MAX
 * octets, each written as up to 3 characters, plus five numbers. */
#define CACHE_LINE_MAX 1024
#define CACHE_RELPATH_MAX 512
#define CACHE_BUFSIZE (64 * 1024)

enum msg_dir {
	DIR_PLAIN,
	DIR_NEW,
	DIR_CUR,
	DIR_COUNT
};

static const char *const dir_names[DIR_COUNT] = { "", "new", "cur" };

/* One message while scanning; becomes a struct mailbox_msg at the end. */
struct rec {
	char *relpath;            /* malloc'd, "new/NAME", "cur/NAME" or "NAME" */
	const char *name;         /* the file name inside relpath */
	enum msg_dir dir;
	uint64_t ino;
	int64_t st_size;
	int64_t mtime_sec;
	long mtime_nsec;
	uint64_t size;            /* POP3 size, valid if have_size */
	bool have_size;           /* from the cache or computed */
	bool cached_line;         /* a cache line named this relpath */
	bool readable;
	bool gone;                /* vanished or replaced by a non-file */
	char uidl[MAILDIR_UIDL_MAX + 1];
};

struct scan {
	int dirfd;                    /* the user directory (not owned) */
	int fds[DIR_COUNT];           /* directories scanned; -1 if absent */
	struct rec *recs;
	size_t count, cap;
	bool cache_changed;           /* the cache file must be rewritten */
};

/* --- enumeration ---------------------------------------------------------- */

static int
add_rec(struct scan *s, enum msg_dir dir, const char *name, const struct stat *st)
{
	struct rec *r;
	size_t plen = dir == DIR_PLAIN ? 0 : strlen(dir_names[dir]) + 1;
	size_t nlen = strlen(name);

	if (s->count == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 64;
		struct rec *n;

		if (ncap > SIZE_MAX / sizeof(*n))
			return -ENOMEM;
		n = realloc(s->recs, ncap * sizeof(*n));
		if (n == NULL)
			return -ENOMEM;
		s->recs = n;
		s->cap = ncap;
	}
	r = &s->recs[s->count];
	memset(r, 0, sizeof(*r));
	r->relpath = malloc(plen + nlen + 1);
	if (r->relpath == NULL)
		return -ENOMEM;
	if (plen > 0) {
		memcpy(r->relpath, dir_names[dir], plen - 1);
		r->relpath[plen - 1] = '/';
	}
	memcpy(r->relpath + plen, name, nlen + 1);
	r->name = r->relpath + plen;
	r->dir = dir;
	r->ino = (uint64_t)st->st_ino;
	r->st_size = (int64_t)st->st_size;
	r->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	r->mtime_nsec = st->st_mtim.tv_nsec;
	s->count++;
	return 0;
}

/* Adds every regular file of directory fd (dot files excluded). */
static int
scan_dir(struct scan *s, enum msg_dir dir)
{
	int fd, r = 0;
	DIR *d;
	struct dirent *de;

	/* A new open file description: readdir moves its offset, and the
	 * caller's dirfd (which carries the lock) stays untouched. */
	fd = openat(s->fds[dir], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		struct stat st;

		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				r = -errno;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		/* d_type, when known, spares a stat of what cannot be a
		 * message (the Maildir subdirectories, symlinks, ...). */
		if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
			continue;
		if (fstatat(s->fds[dir], de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno == ENOENT)
				continue;   /* vanished since readdir */
			r = -errno;
			break;
		}
		if (!S_ISREG(st.st_mode))
			continue;
		r = add_rec(s, dir, de->d_name, &st);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

static int
cmp_relpath(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return strcmp(x->relpath, y->relpath);
}

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

/* One cache line (without its LF): if well-formed and its relpath is a
 * message of this scan with exactly the same inode, size and mtime, the
 * message takes the cached size. Anything else means the rewritten cache
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
	r = bsearch(&key, s->recs, s->count, sizeof(*s->recs), cmp_relpath);
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
	r->size = size;
	r->have_size = true;
	r->readable = true;
}

/* Applies the cache file to s->recs (sorted by relpath). Never fails: at
 * worst every size is recomputed. */
static void
cache_read(struct scan *s)
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
static int
cache_write(struct scan *s)
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
static void
compute_size(struct scan *s, struct rec *r)
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

/* --- UIDLs ------------------------------------------------------------------ */

#define FNV_PRIME 0x100000001b3ULL
#define FNV_BASIS 0xcbf29ce484222325ULL

static uint64_t
fnv1a(uint64_t h, const void *p, size_t len)
{
	const unsigned char *s = p;
	size_t i;

	for (i = 0; i < len; i++) {
		h ^= s[i];
		h *= FNV_PRIME;
	}
	return h;
}

/* Two independent 64-bit FNV-1a variants: the standard one, and one whose
 * start is the standard hash of a fixed tag. */
static void
digest128(const char *p, size_t len, uint64_t *a, uint64_t *b)
{
	static const char tag[] = "pop3s-uidl";

	*a = fnv1a(FNV_BASIS, p, len);
	*b = fnv1a(fnv1a(FNV_BASIS, tag, sizeof(tag)), p, len);
}

static bool
uidl_chars_ok(const char *p, size_t len)
{
	size_t i;

	if (len < 1 || len > MAILDIR_UIDL_MAX)
		return false;
	for (i = 0; i < len; i++)
		if ((unsigned char)p[i] < 0x21 || (unsigned char)p[i] > 0x7e)
			return false;
	return true;
}

/* The name part a UIDL stands for: a Maildir name without its ":2,FLAGS"
 * (flags change when a client reads mail; the message stays the same). */
static size_t
uidl_base_len(const struct rec *r)
{
	const char *colon;

	if (r->dir == DIR_PLAIN)
		return strlen(r->name);
	colon = strchr(r->name, ':');
	return colon != NULL ? (size_t)(colon - r->name) : strlen(r->name);
}

static void
uidl_make(struct rec *r)
{
	size_t len = uidl_base_len(r);
	uint64_t a, b;

	if (uidl_chars_ok(r->name, len)) {
		memcpy(r->uidl, r->name, len);
		r->uidl[len] = '\0';
		return;
	}
	digest128(r->name, len, &a, &b);
	snprintf(r->uidl, sizeof(r->uidl), "x%016" PRIx64 "%016" PRIx64, a, b);
}

/* A set of UIDL strings (open addressing, never full: cap >= 2 * n). */
struct uset {
	const char **slot;
	size_t mask;
};

static int
uset_init(struct uset *u, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n + 16) {
		if (cap > SIZE_MAX / 2 / sizeof(*u->slot))
			return -ENOMEM;
		cap *= 2;
	}
	u->slot = calloc(cap, sizeof(*u->slot));
	if (u->slot == NULL)
		return -ENOMEM;
	u->mask = cap - 1;
	return 0;
}

/* Adds s unless present; returns true if it was added. */
static bool
uset_add(struct uset *u, const char *s)
{
	size_t i = (size_t)fnv1a(FNV_BASIS, s, strlen(s)) & u->mask;

	while (u->slot[i] != NULL) {
		if (strcmp(u->slot[i], s) == 0)
			return false;
		i = (i + 1) & u->mask;
	}
	u->slot[i] = s;
	return true;
}

/* Gives r a UIDL derived from its own name that no other message has: the
 * (truncated) UIDL, '-', 16 hex of a hash of the message's directory and
 * base name (so a flag change keeps it), then of the full relpath, then
 * salted; a last exhaustive fallback guarantees termination. */
static void
uidl_unique(struct uset *u, struct rec *r)
{
	/* Room for "-" and 16 hex digits after the kept part. */
	char base[MAILDIR_UIDL_MAX - 17 + 1];
	size_t keep = strlen(r->uidl);
	uint64_t salt, h;

	if (keep > sizeof(base) - 1)
		keep = sizeof(base) - 1;
	memcpy(base, r->uidl, keep);
	base[keep] = '\0';
	for (salt = 0; salt < 64; salt++) {
		if (salt == 0) {
			size_t dlen = r->dir == DIR_PLAIN ? 0 : (size_t)(r->name - r->relpath);

			h = fnv1a(FNV_BASIS, r->relpath, dlen + uidl_base_len(r));
		} else {
			unsigned char sb[8];
			int k;

			/* Byte order fixed: the same UIDL on any machine. */
			for (k = 0; k < 8; k++)
				sb[k] = (unsigned char)(salt >> (8 * k));
			h = fnv1a(FNV_BASIS, r->relpath, strlen(r->relpath));
			if (salt > 1)
				h = fnv1a(h, sb, sizeof(sb));
		}
		snprintf(r->uidl, sizeof(r->uidl), "%s-%016" PRIx64, base, h);
		if (uset_add(u, r->uidl))
			return;
	}
	for (salt = 0;; salt++) {
		snprintf(r->uidl, sizeof(r->uidl), "u%" PRIu64, salt);
		if (uset_add(u, r->uidl))
			return;
	}
}

/* recs are in message order: the first message with a given UIDL keeps
 * it, later ones get a derived one, so a duplicate appearing or going
 * away never changes the UIDL of the older message. */
static int
uidl_assign(struct scan *s)
{
	struct uset u;
	bool *dup;
	size_t i;
	int r;

	for (i = 0; i < s->count; i++)
		uidl_make(&s->recs[i]);
	r = uset_init(&u, s->count);
	if (r < 0)
		return r;
	dup = calloc(s->count + 1, sizeof(*dup));
	if (dup == NULL) {
		free(u.slot);
		return -ENOMEM;
	}
	for (i = 0; i < s->count; i++)
		dup[i] = !uset_add(&u, s->recs[i].uidl);
	for (i = 0; i < s->count; i++)
		if (dup[i])
			uidl_unique(&u, &s->recs[i]);
	free(dup);
	free(u.slot);
	return 0;
}

/* --- scan ------------------------------------------------------------------- */

static int
cmp_order(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;
	int c;

	if (x->mtime_sec != y->mtime_sec)
		return x->mtime_sec < y->mtime_sec ? -1 : 1;
	if (x->mtime_nsec != y->mtime_nsec)
		return x->mtime_nsec < y->mtime_nsec ? -1 : 1;
	c = strcmp(x->name, y->name);
	if (c != 0)
		return c;
	return strcmp(x->relpath, y->relpath);
}

static void
scan_free(struct scan *s)
{
	size_t i;
	int d;

	for (i = 0; i < s->count; i++)
		free(s->recs[i].relpath);
	free(s->recs);
	for (d = DIR_NEW; d < DIR_COUNT; d++)
		if (s->fds[d] >= 0)
			close(s->fds[d]);
}

int
mailbox_scan(struct mailbox *mb)
{
	struct scan s;
	struct mailbox_msg *msgs;
	size_t i, j;
	int d, r;

	memset(&s, 0, sizeof(s));
	s.dirfd = mb->dirfd;
	s.fds[DIR_PLAIN] = mb->dirfd;
	for (d = DIR_NEW; d < DIR_COUNT; d++)
		s.fds[d] = -1;
	for (d = DIR_NEW; d < DIR_COUNT; d++) {
		s.fds[d] = openat(mb->dirfd, dir_names[d],
		                  O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		/* Absent, or not a real directory: no Maildir part there. */
		if (s.fds[d] < 0 && errno != ENOENT && errno != ENOTDIR && errno != ELOOP) {
			r = -errno;
			goto out;
		}
	}
	for (d = 0; d < DIR_COUNT; d++) {
		if (s.fds[d] < 0)
			continue;
		r = scan_dir(&s, (enum msg_dir)d);
		if (r < 0)
			goto out;
	}

	/* Sizes: the cache, then the files the cache did not cover. */
	if (s.count > 0)
		qsort(s.recs, s.count, sizeof(*s.recs), cmp_relpath);
	cache_read(&s);
	for (i = 0; i < s.count; i++)
		if (!s.recs[i].have_size)
			compute_size(&s, &s.recs[i]);
	if (s.cache_changed)
		(void)cache_write(&s);

	/* Drop what vanished, number the rest. */
	for (i = j = 0; i < s.count; i++) {
		if (s.recs[i].gone)
			free(s.recs[i].relpath);
		else
			s.recs[j++] = s.recs[i];
	}
	s.count = j;
	if (s.count > 0)
		qsort(s.recs, s.count, sizeof(*s.recs), cmp_order);
	r = uidl_assign(&s);
	if (r < 0)
		goto out;

	msgs = calloc(s.count + 1, sizeof(*msgs));
	if (msgs == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (i = 0; i < s.count; i++) {
		msgs[i].relpath = s.recs[i].relpath;
		s.recs[i].relpath = NULL;
		memcpy(msgs[i].uidl, s.recs[i].uidl, sizeof(msgs[i].uidl));
		msgs[i].size = s.recs[i].size;
		msgs[i].readable = s.recs[i].readable;
		msgs[i].deleted = false;
	}
	for (i = 0; i < mb->count; i++)
		free(mb->msgs[i].relpath);
	free(mb->msgs);
	mb->msgs = msgs;
	mb->count = s.count;
	r = 0;
out:
	scan_free(&s);
	return r;
}

/* --- open, expunge, free ----------------------------------------------------- */

int
mailbox_open(const char *home, const char *user, struct mailbox **ret)
{
	struct mailbox *mb;
	int hfd, fd;

	/* The caller validated user; refuse anything that is not a single
	 * path component all the same. */
	if (home == NULL || user == NULL || user[0] == '\0' || strchr(user, '/') != NULL ||
	    strcmp(user, ".") == 0 || strcmp(user, "..") == 0)
		return -EINVAL;
	hfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hfd < 0)
		return -errno;
	if (mkdirat(hfd, user, 0700) < 0 && errno != EEXIST) {
		int e = -errno;

		close(hfd);
		return e;
	}
	/* O_NOFOLLOW: a user directory that is a symlink is refused, as
	 * it could lead anywhere. */
	fd = openat(hfd, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		int e = -errno;

		close(hfd);
		return e;
	}
	close(hfd);
	mb = calloc(1, sizeof(*mb));
	if (mb == NULL) {
		close(fd);
		return -ENOMEM;
	}
	mb->dirfd = fd;
	*ret = mb;
	return 0;
}

/* Opens the directory holding relpath (returned in *ret_dfd, to close if
 * it differs from mb->dirfd) and points *ret_name at the file name. */
static int
open_parent(const struct mailbox *mb, const char *relpath, int *ret_dfd, const char **ret_name)
{
	const char *slash = strrchr(relpath, '/');
	char dir[CACHE_RELPATH_MAX];
	int fd;

	if (slash == NULL) {
		*ret_dfd = mb->dirfd;
		*ret_name = relpath;
		return 0;
	}
	if ((size_t)(slash - relpath) >= sizeof(dir))
		return -ENAMETOOLONG;
	memcpy(dir, relpath, (size_t)(slash - relpath));
	dir[slash - relpath] = '\0';
	fd = openat(mb->dirfd, dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	*ret_dfd = fd;
	*ret_name = slash + 1;
	return 0;
}

int
mailbox_msg_open(struct mailbox *mb, size_t idx, int *ret_fd)
{
	const char *name;
	struct stat st;
	int dfd, fd, r, fl;

	if (idx >= mb->count)
		return -EINVAL;
	/* Unreadable at scan time: its listed size is only st_size, so
	 * sending it now would contradict LIST. */
	if (!mb->msgs[idx].readable)
		return -EACCES;
	r = open_parent(mb, mb->msgs[idx].relpath, &dfd, &name);
	if (r < 0)
		return r;
	fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
	r = fd < 0 ? -errno : 0;
	if (dfd != mb->dirfd)
		close(dfd);
	if (r < 0)
		return r;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (!S_ISREG(st.st_mode)) {
		/* Replaced by something that is not a message. */
		close(fd);
		return -ENOENT;
	}
	/* O_NONBLOCK only guarded the open against a FIFO. */
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int
mailbox_expunge(struct mailbox *mb, size_t *ret_failed)
{
	size_t i, failed = 0;
	int first = 0, d;
	bool removed = false;

	for (i = 0; i < mb->count; i++) {
		const char *name;
		int dfd, r;

		if (!mb->msgs[i].deleted)
			continue;
		r = open_parent(mb, mb->msgs[i].relpath, &dfd, &name);
		if (r == 0) {
			if (unlinkat(dfd, name, 0) < 0)
				r = -errno;
			if (dfd != mb->dirfd)
				close(dfd);
		}
		if (r == 0) {
			removed = true;
		} else if (r != -ENOENT) {
			/* Already gone counts as removed; anything else is
			 * reported, and the other messages are still tried. */
			failed++;
			if (first == 0)
				first = r;
		}
	}
	/* Make the removals durable before the client is told +OK. Errors
	 * here change nothing for the client: the unlinks are done. */
	if (removed) {
		(void)fsync(mb->dirfd);
		for (d = DIR_NEW; d < DIR_COUNT; d++) {
			int fd = openat(mb->dirfd, dir_names[d],
			                O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

			if (fd >= 0) {
				(void)fsync(fd);
				close(fd);
			}
		}
	}
	if (ret_failed != NULL)
		*ret_failed = failed;
	return first;
}

void
mailbox_free(struct mailbox *mb)
{
	size_t i;

	if (mb == NULL)
		return;
	for (i = 0; i < mb->count; i++)
		free(mb->msgs[i].relpath);
	free(mb->msgs);
	if (mb->dirfd >= 0)
		close(mb->dirfd);
	free(mb);
}
