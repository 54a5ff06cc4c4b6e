/* The users file writer (see users_db.h). A change is: take the lock on
 * USERS.lock, read the whole current file, build the new content in
 * memory line by line, write it to a temporary file in the same directory
 * with the old file's owner, group and mode, fsync it, rename it over the
 * old one, fsync the directory. Readers (logins) never lock: rename(2) is
 * atomic, so they open either the old file or the new one, both complete. */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "fdio.h"
#include "hash_method.h"
#include "username.h"
#include "users_db.h"

/* A users file of a million users is about 150 MB; a bigger one is a
 * mistake (or not a users file), and is refused rather than read. */
#define USERS_DB_SIZE_MAX (256UL * 1024 * 1024)
/* Same limit as auth.c: a longer line is never an entry for a login, so it
 * is never one for us either (it is kept as it is, like a comment). */
#define USERS_DB_LINE_MAX 1023
#define USERS_DB_HASH_MAX 512
#define USERS_DB_GROUP "pop3s"
#define USERS_DB_NEW_MODE 0640

/* A byte buffer that grows; owns data. */
struct buf {
	char *data;
	size_t len, cap;
};

static int
buf_reserve(struct buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *p;

	if (more > USERS_DB_SIZE_MAX || b->len > USERS_DB_SIZE_MAX - more)
		return -EFBIG;
	if (b->len + more <= b->cap)
		return 0;
	while (cap < b->len + more)
		cap *= 2;
	p = realloc(b->data, cap);
	if (p == NULL)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}

static int
buf_add(struct buf *b, const char *s, size_t len)
{
	int r = buf_reserve(b, len);

	if (r < 0)
		return r;
	memcpy(b->data + b->len, s, len);
	b->len += len;
	return 0;
}

/* The content may hold hashes: wiped before it is freed. */
static void
buf_free(struct buf *b)
{
	if (b->data != NULL)
		explicit_bzero(b->data, b->cap);
	free(b->data);
	memset(b, 0, sizeof(*b));
}

/* Reads all of fd into b. */
static int
read_all(int fd, struct buf *b)
{
	for (;;) {
		ssize_t n;
		int r = buf_reserve(b, 4096);

		if (r < 0)
			return r;
		n = read(fd, b->data + b->len, b->cap - b->len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return 0;
		b->len += (size_t)n;
	}
}

/*
 * The user of one line (without its LF), the way auth.c sees it: leading
 * blanks skipped, '#' comments and blank lines are not entries, the user is
 * everything before the first ':'. Over-long lines and lines with a NUL are
 * not entries either, since auth.c skips them. Returns false if the line
 * is not an entry.
 */
static bool
line_user(const char *line, size_t len, const char **ret_user, size_t *ret_len)
{
	const char *colon;
	size_t i = 0;

	if (len > USERS_DB_LINE_MAX || memchr(line, '\0', len) != NULL)
		return false;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	if (i == len || line[i] == '#')
		return false;
	colon = memchr(line + i, ':', len - i);
	if (colon == NULL)
		return false;
	*ret_user = line + i;
	*ret_len = (size_t)(colon - (line + i));
	return true;
}

static bool
line_is_user(const char *line, size_t len, const char *user, size_t ulen)
{
	const char *u;
	size_t n;

	return line_user(line, len, &u, &n) && n == ulen && memcmp(u, user, ulen) == 0;
}

/* Calls fn(line, len, ctx) for each line of b (without its LF); stops at
 * the first nonzero return and returns it. */
static int
each_line(const struct buf *b, int (*fn)(const char *, size_t, void *), void *ctx)
{
	size_t pos = 0;

	while (pos < b->len) {
		const char *line = b->data + pos;
		const char *nl = memchr(line, '\n', b->len - pos);
		size_t len = nl ? (size_t)(nl - line) : b->len - pos;
		int r = fn(line, len, ctx);

		if (r != 0)
			return r;
		pos += len + (nl ? 1 : 0);
	}
	return 0;
}

/* --- building the new content ------------------------------------------ */

struct edit {
	enum users_db_op op;
	const char *user;
	size_t ulen;
	const char *hash;
	bool found;
	struct buf out;
};

static int
add_entry(struct buf *out, const char *user, const char *hash)
{
	int r;

	if ((r = buf_add(out, user, strlen(user))) < 0 ||
	    (r = buf_add(out, ":", 1)) < 0 ||
	    (r = buf_add(out, hash, strlen(hash))) < 0)
		return r;
	return buf_add(out, "\n", 1);
}

/*
 * Copies every line but the user's. SET replaces the user's first line
 * (the one auth.c uses) in place and drops later ones; DELETE drops them
 * all: a later duplicate must not become the valid entry once the first
 * is gone.
 */
static int
edit_line(const char *line, size_t len, void *ctx)
{
	struct edit *e = ctx;
	bool mine = line_is_user(line, len, e->user, e->ulen);
	bool first = mine && !e->found;
	int r;

	if (mine)
		e->found = true;
	if (!mine)
		return (r = buf_add(&e->out, line, len)) < 0 ? r : buf_add(&e->out, "\n", 1);
	if (first && e->op == USERS_DB_SET)
		return add_entry(&e->out, e->user, e->hash);
	if (e->op == USERS_DB_ADD)
		return -EEXIST;
	return 0;
}

/* The new content for op, from old. Every line is copied with a LF, so
 * an entry appended to a file whose last line had none starts a line. */
static int
build(const struct buf *old, struct edit *e)
{
	int r = each_line(old, edit_line, e);

	if (r < 0)
		return r;
	if (e->op == USERS_DB_ADD)
		return add_entry(&e->out, e->user, e->hash);
	return e->found ? 0 : -ENOENT;
}

/* --- files --------------------------------------------------------------- */

/* Opens and locks PATH.lock; the lock ends when the descriptor is closed. */
static int
lock_db(const char *path)
{
	char lock[PATH_MAX];
	int fd, n;

	n = snprintf(lock, sizeof(lock), "%s.lock", path);
	if (n < 0 || (size_t)n >= sizeof(lock))
		return -ENAMETOOLONG;
	fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX) < 0) {
		int r = -errno;

		if (r == -EINTR)
			continue;
		close(fd);
		return r;
	}
	return fd;
}

/*
 * Reads the current file into b and its metadata into sb. A missing file
 * is empty, with the defaults for a new one (sb->st_ino == 0 says so). The
 * file is not followed if it is a symbolic link: renaming over a link
 * would replace the link, not the file it names.
 */
static int
read_db(const char *path, struct buf *b, struct stat *sb)
{
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 && errno == ENOENT) {
		struct group *gr = getgrnam(USERS_DB_GROUP);

		memset(sb, 0, sizeof(*sb));
		sb->st_mode = S_IFREG | USERS_DB_NEW_MODE;
		sb->st_uid = geteuid();
		sb->st_gid = gr ? gr->gr_gid : getegid();
		return 0;
	}
	if (fd < 0)
		return -errno;
	if (fstat(fd, sb) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	r = S_ISREG(sb->st_mode) ? read_all(fd, b) : -EINVAL;
	close(fd);
	return r;
}


/* A hash goes on one line after the ':'; nothing else is checked here,
 * since what is a usable hash is auth.c's business. */
static bool
hash_ok(const char *hash)
{
	size_t len, i;

	if (hash == NULL)
		return false;
	len = strlen(hash);
	if (len == 0 || len > USERS_DB_HASH_MAX)
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)hash[i];

		if (c < 0x21 || c > 0x7e || c == ':')
			return false;
	}
	return true;
}

int
users_db_change(const char *path, enum users_db_op op, const char *user, const char *hash)
{
	struct edit e = { .op = op, .user = user, .hash = hash };
	struct buf old = { 0 };
	char dir[PATH_MAX];
	const char *base;
	struct stat sb;
	int lockfd, r;

	if (user == NULL || !username_valid(user, strlen(user)))
		return -EINVAL;
	if (op != USERS_DB_DELETE && !hash_ok(hash))
		return -EINVAL;
	if (op != USERS_DB_ADD && op != USERS_DB_SET && op != USERS_DB_DELETE)
		return -EINVAL;
	e.ulen = strlen(user);
	r = path_split(path, dir, sizeof(dir), &base);
	if (r < 0)
		return r;
	lockfd = lock_db(path);
	if (lockfd < 0)
		return lockfd;
	r = read_db(path, &old, &sb);
	if (r == 0)
		r = build(&old, &e);
	if (r == 0)
		r = fd_replace_file(dir, base, e.out.data, e.out.len, 0, &sb);
	close(lockfd);
	buf_free(&old);
	buf_free(&e.out);
	return r;
}

/* --- reading ------------------------------------------------------------- */

struct lister {
	void (*fn)(const char *user, void *ctx);
	void *ctx;
};

static int
list_line(const char *line, size_t len, void *ctx)
{
	struct lister *l = ctx;
	char user[USERNAME_MAX + 1];
	const char *u;
	size_t n;

	/* Only names a login could use: anything else is not a user. */
	if (!line_user(line, len, &u, &n) || !username_valid(u, n))
		return 0;
	memcpy(user, u, n);
	user[n] = '\0';
	l->fn(user, l->ctx);
	return 0;
}

static int
read_file(const char *path, struct buf *b)
{
	struct stat sb;
	int fd, r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &sb) < 0)
		r = -errno;
	else
		r = S_ISREG(sb.st_mode) ? read_all(fd, b) : -EINVAL;
	close(fd);
	return r;
}

int
users_db_list(const char *path, void (*fn)(const char *user, void *ctx), void *ctx)
{
	struct lister l = { fn, ctx };
	struct buf b = { 0 };
	int r;

	r = read_file(path, &b);
	if (r == 0)
		r = each_line(&b, list_line, &l);
	buf_free(&b);
	return r;
}

struct weak_finder {
	void (*fn)(unsigned long lineno, const char *user, const char *method, void *ctx);
	void *ctx;
	unsigned long lineno;
};

/* The hash of an entry is what follows the first ':', without the
 * trailing blanks and CR that auth.c ignores too. */
static int
weak_line(const char *line, size_t len, void *ctx)
{
	struct weak_finder *w = ctx;
	char user[USERS_DB_LINE_MAX + 1], hash[USERS_DB_LINE_MAX + 1];
	const char *u;
	size_t n, hlen;
	struct hash_method m;

	w->lineno++;
	if (!line_user(line, len, &u, &n))
		return 0;
	hlen = len - (size_t)(u + n + 1 - line);
	memcpy(hash, u + n + 1, hlen);
	while (hlen > 0 && (hash[hlen - 1] == ' ' || hash[hlen - 1] == '\t' ||
	                    hash[hlen - 1] == '\r'))
		hlen--;
	hash[hlen] = '\0';
	m = hash_method_classify(hash);
	explicit_bzero(hash, sizeof(hash));
	if (m.kind == HASH_WEAK) {
		memcpy(user, u, n);
		user[n] = '\0';
		w->fn(w->lineno, user, m.name, w->ctx);
	}
	return 0;
}

int
users_db_weak(const char *path,
              void (*fn)(unsigned long lineno, const char *user, const char *method, void *ctx),
              void *ctx)
{
	struct weak_finder w = { fn, ctx, 0 };
	struct buf b = { 0 };
	int r;

	r = read_file(path, &b);
	if (r == 0)
		r = each_line(&b, weak_line, &w);
	buf_free(&b);
	return r;
}

struct finder {
	const char *user;
	size_t ulen;
};

static int
find_line(const char *line, size_t len, void *ctx)
{
	struct finder *f = ctx;

	return line_is_user(line, len, f->user, f->ulen) ? 1 : 0;
}

bool
users_db_exists(const char *path, const char *user)
{
	struct finder f = { user, user ? strlen(user) : 0 };
	struct buf b = { 0 };
	int r;

	if (user == NULL || !username_valid(user, f.ulen))
		return false;
	r = read_file(path, &b);
	if (r == 0)
		r = each_line(&b, find_line, &f);
	buf_free(&b);
	return r == 1;
}
