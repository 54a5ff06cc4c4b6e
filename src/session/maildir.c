/* A user's mailbox: HOME/USER as a Maildir (new/, cur/) and as the plain
 * layout (regular files directly in HOME/USER), both at once.
 *
 * Everything is opened relative to the user directory with O_NOFOLLOW and
 * only regular files count: a symlink could point outside the mailbox
 * root. Sizes are what RETR sends (msgstream.c computes them); they are
 * cached in HOME/USER/.pop3s-sizes so that a login to a large mailbox
 * costs readdir + fstatat and never opens a message whose file is
 * unchanged (the cache and the sizes: maildir_cache.c; the UIDLs:
 * maildir_uidl.c). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>
#include "maildir.h"
#include "maildir_internal.h"

static const char *const dir_names[DIR_COUNT] = { "", "new", "cur" };

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
	r->dev = (uint64_t)st->st_dev;
	r->ino = (uint64_t)st->st_ino;
	r->st_size = (int64_t)st->st_size;
	r->mtime_sec = (int64_t)st->st_mtim.tv_sec;
	r->mtime_nsec = st->st_mtim.tv_nsec;
	s->count++;
	return 0;
}

/* Calls visit for every entry of the directory open as fd except dot
 * files; fd is taken over and closed. Stops at the first negative return
 * of visit. Returns 0, that return, or -errno from reading the directory. */
static int
each_entry(int fd, int (*visit)(void *arg, int dfd, const struct dirent *de), void *arg)
{
	struct dirent *de;
	DIR *d;
	int r = 0;

	d = fdopendir(fd);
	if (d == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	for (;;) {
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno != 0)
				r = -errno;
			break;
		}
		if (de->d_name[0] == '.')
			continue;
		r = visit(arg, dirfd(d), de);
		if (r < 0)
			break;
	}
	closedir(d);
	return r;
}

struct scan_dir_arg {
	struct scan *s;
	enum msg_dir dir;
};

static int
scan_visit(void *arg, int dfd, const struct dirent *de)
{
	struct scan_dir_arg *a = arg;
	struct stat st;

	/* d_type, when known, spares a stat of what cannot be a message
	 * (the Maildir subdirectories, symlinks, ...). */
	if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN)
		return 0;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : -errno;   /* ENOENT: vanished since readdir */
	if (!S_ISREG(st.st_mode))
		return 0;
	return add_rec(a->s, a->dir, de->d_name, &st);
}

/* Adds every regular file of directory fd (dot files excluded). */
static int
scan_dir(struct scan *s, enum msg_dir dir)
{
	struct scan_dir_arg a = { s, dir };
	int fd;

	/* A new open file description: readdir moves its offset, and the
	 * caller's dirfd (which carries the lock) stays untouched. */
	fd = openat(s->fds[dir], ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	return each_entry(fd, scan_visit, &a);
}

int
maildir_cmp_relpath(const void *a, const void *b)
{
	const struct rec *x = a, *y = b;

	return strcmp(x->relpath, y->relpath);
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
		qsort(s.recs, s.count, sizeof(*s.recs), maildir_cmp_relpath);
	maildir_cache_read(&s);
	for (i = 0; i < s.count; i++)
		if (!s.recs[i].have_size)
			maildir_size_compute(&s, &s.recs[i]);
	if (s.cache_changed)
		(void)maildir_cache_write(&s);

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
	r = maildir_uidl_assign(&s);
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
		msgs[i].id.dev = s.recs[i].dev;
		msgs[i].id.ino = s.recs[i].ino;
		msgs[i].id.st_size = s.recs[i].st_size;
		msgs[i].id.mtime_sec = s.recs[i].mtime_sec;
		msgs[i].id.mtime_nsec = s.recs[i].mtime_nsec;
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

/* --- open, free ----------------------------------------------------- */

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

/* True if st is the file id describes: same device and inode, and not
 * modified since (size and mtime). */
static bool
ident_same(const struct mailbox_ident *id, const struct stat *st)
{
	return id->dev == (uint64_t)st->st_dev && id->ino == (uint64_t)st->st_ino &&
	       id->st_size == (int64_t)st->st_size &&
	       id->mtime_sec == (int64_t)st->st_mtim.tv_sec &&
	       id->mtime_nsec == st->st_mtim.tv_nsec;
}

int
mailbox_msg_unchanged(const struct mailbox *mb, size_t idx, int fd)
{
	struct stat st;

	if (idx >= mb->count)
		return -EINVAL;
	if (fstat(fd, &st) < 0)
		return -errno;
	return S_ISREG(st.st_mode) && ident_same(&mb->msgs[idx].id, &st) ? 0 : -ESTALE;
}

uint64_t
mailbox_total(const struct mailbox *mb, bool with_deleted, size_t *ret_count)
{
	uint64_t total = 0;
	size_t i, count = 0;

	for (i = 0; i < mb->count; i++) {
		if (mb->msgs[i].deleted && !with_deleted)
			continue;
		count++;
		/* Saturate: a sum of plausible sizes of huge (sparse) files
		 * may exceed 64 bits; it must never wrap to a small one. */
		if (mb->msgs[i].size > UINT64_MAX - total)
			total = UINT64_MAX;
		else
			total += mb->msgs[i].size;
	}
	if (ret_count != NULL)
		*ret_count = count;
	return total;
}

int
mailbox_cache_drop(struct mailbox *mb)
{
	if (unlinkat(mb->dirfd, MAILDIR_CACHE_NAME, 0) < 0 && errno != ENOENT)
		return -errno;
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
	if (!ident_same(&mb->msgs[idx].id, &st)) {
		/* Another file under its name, or this one modified: its
		 * listed size no longer holds and it is not what the client
		 * was shown. */
		close(fd);
		return -ESTALE;
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

/* --- expunge ------------------------------------------------------------------ */

/* A deleted Maildir message that is not under its scan-time name: another
 * reader may have renamed it (new/ to cur/, other flags); it is looked
 * for by its base name. */
struct lost {
	const char *base;   /* the message's file name, up to ':' */
	size_t len;
	size_t idx;         /* in mb->msgs */
	int why;            /* -ENOENT: nothing there; -ESTALE: another file */
	bool done;          /* found (removed, or failed to) */
};

static size_t
base_len(const char *name)
{
	const char *colon = strchr(name, ':');

	return colon != NULL ? (size_t)(colon - name) : strlen(name);
}

static int
cmp_lost(const void *a, const void *b)
{
	const struct lost *x = a, *y = b;
	int c = memcmp(x->base, y->base, x->len < y->len ? x->len : y->len);

	if (c != 0)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

/* Counts a message that was not removed; a real error is preferred over
 * -ESTALE as the one returned. */
static void
not_removed(struct mailbox_expunge_result *res, int r)
{
	if (r == -ESTALE)
		res->changed++;
	else
		res->failed++;
	if (res->first_error == 0 || (res->first_error == -ESTALE && r != -ESTALE))
		res->first_error = r;
}

/* Removes m under its scan-time name if the file there is still the one
 * scanned. Returns 0 (removed), -ENOENT (nothing there), -ESTALE (another
 * file, or this one modified) or -errno.
 *
 * fstatat then unlinkat by name: Linux has no unlink-if-inode, so a file
 * swapped in during the microseconds between the two calls would still
 * be removed. Renaming it aside first would close that window but leave
 * a hidden message behind if the session died in between. */
static int
remove_exact(struct mailbox *mb, const struct mailbox_msg *m)
{
	const char *name;
	struct stat st;
	int dfd, r;

	r = open_parent(mb, m->relpath, &dfd, &name);
	if (r < 0)
		return r;   /* -ENOENT if new/ or cur/ is gone */
	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	else if (!S_ISREG(st.st_mode) || !ident_same(&m->id, &st))
		r = -ESTALE;
	else if (unlinkat(dfd, name, 0) < 0)
		r = -errno;
	if (dfd != mb->dirfd)
		close(dfd);
	return r;
}

struct follow_arg {
	struct mailbox *mb;
	struct lost *lost;
	size_t n;
	struct mailbox_expunge_result *res;
};

/* One directory entry: removes it if it is a lost message. */
static int
follow_visit(void *arg, int dfd, const struct dirent *de)
{
	struct follow_arg *a = arg;
	struct lost key, *hit, *end = a->lost + a->n;
	struct stat st;

	key.base = de->d_name;
	key.len = base_len(de->d_name);
	hit = bsearch(&key, a->lost, a->n, sizeof(*a->lost), cmp_lost);
	if (hit == NULL)
		return 0;
	while (hit > a->lost && cmp_lost(hit - 1, &key) == 0)
		hit--;
	if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return 0;
	for (; hit < end && cmp_lost(hit, &key) == 0; hit++) {
		if (hit->done)
			continue;
		if (!ident_same(&a->mb->msgs[hit->idx].id, &st)) {
			/* Its name, another file: modified since the scan,
			 * unless a match comes later. */
			hit->why = -ESTALE;
			continue;
		}
		hit->done = true;
		if (unlinkat(dfd, de->d_name, 0) < 0)
			not_removed(a->res, -errno);
		else
			a->res->removed++;
		break;
	}
	return 0;
}

/* Looks through new/ and cur/ once for the messages of lost (n of them,
 * sorted by cmp_lost) and removes each file whose base name and identity
 * are those of a lost message. Returns 0 or -errno if a directory could
 * not be read (the messages not found then count as failures). */
static int
follow_renamed(struct mailbox *mb, struct lost *lost, size_t n,
               struct mailbox_expunge_result *res)
{
	struct follow_arg a = { mb, lost, n, res };
	int d;

	for (d = DIR_NEW; d < DIR_COUNT; d++) {
		int fd, r;

		fd = openat(mb->dirfd, dir_names[d], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0) {
			if (errno == ENOENT || errno == ENOTDIR || errno == ELOOP)
				continue;   /* no such Maildir part: nothing there */
			return -errno;
		}
		r = each_entry(fd, follow_visit, &a);
		if (r < 0)
			return r;
	}
	return 0;
}

static void
sync_dirs(struct mailbox *mb)
{
	int d;

	/* Make the removals durable before the client is told +OK. Errors
	 * here change nothing for the client: the unlinks are done. */
	(void)fsync(mb->dirfd);
	for (d = DIR_NEW; d < DIR_COUNT; d++) {
		int fd = openat(mb->dirfd, dir_names[d], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

		if (fd >= 0) {
			(void)fsync(fd);
			close(fd);
		}
	}
}

int
mailbox_expunge(struct mailbox *mb, struct mailbox_expunge_result *res)
{
	struct lost *lost = NULL;
	size_t i, nlost = 0;
	int r;

	memset(res, 0, sizeof(*res));
	for (i = 0; i < mb->count; i++) {
		const struct mailbox_msg *m = &mb->msgs[i];
		const char *slash;

		if (!m->deleted)
			continue;
		r = remove_exact(mb, m);
		if (r == 0) {
			res->removed++;
			continue;
		}
		slash = strrchr(m->relpath, '/');
		if (slash == NULL || (r != -ENOENT && r != -ESTALE)) {
			/* The plain layout has no renames to follow. */
			if (r == -ENOENT)
				res->gone++;
			else
				not_removed(res, r);
			continue;
		}
		if (lost == NULL) {
			lost = calloc(mb->count, sizeof(*lost));
			if (lost == NULL) {
				not_removed(res, -ENOMEM);
				continue;
			}
		}
		lost[nlost].base = slash + 1;
		lost[nlost].len = base_len(slash + 1);
		lost[nlost].idx = i;
		lost[nlost].why = r;
		lost[nlost].done = false;
		nlost++;
	}
	if (nlost > 0) {
		qsort(lost, nlost, sizeof(*lost), cmp_lost);
		r = follow_renamed(mb, lost, nlost, res);
		for (i = 0; i < nlost; i++) {
			if (lost[i].done)
				continue;
			if (r < 0)
				not_removed(res, r);
			else if (lost[i].why == -ENOENT)
				res->gone++;
			else
				not_removed(res, lost[i].why);
		}
	}
	free(lost);
	if (res->removed > 0)
		sync_dirs(mb);
	return res->changed + res->failed > 0 ? res->first_error : 0;
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
