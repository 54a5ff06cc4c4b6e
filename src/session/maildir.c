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
