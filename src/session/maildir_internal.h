/* Private to the mailbox code: maildir.c (enumeration, scan, open,
 * expunge), maildir_cache.c (the size cache and the sizes) and
 * maildir_uidl.c (the UIDLs) share the scan state declared here. The
 * public interface is maildir.h. */
#ifndef POP3S_MAILDIR_INTERNAL_H
#define POP3S_MAILDIR_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maildir.h"

/* Longest relpath accepted, NUL included ("new/" + NAME_MAX octets fit):
 * bounds the relpaths read from the cache and the directory part of a
 * message's relpath. */
#define CACHE_RELPATH_MAX 512

enum msg_dir {
	DIR_PLAIN,
	DIR_NEW,
	DIR_CUR,
	DIR_COUNT
};

/* One message while scanning; becomes a struct mailbox_msg at the end. */
struct rec {
	char *relpath;            /* malloc'd, "new/NAME", "cur/NAME" or "NAME" */
	const char *name;         /* the file name inside relpath */
	enum msg_dir dir;
	uint64_t dev;
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

/* strcmp of the relpaths of two struct rec: the order of the cache file,
 * and the one maildir_cache_read needs s->recs in. */
int maildir_cmp_relpath(const void *a, const void *b);

/* Applies the cache file to s->recs, which must be sorted by relpath
 * (maildir_cmp_relpath): a message whose inode, size and mtime match its
 * entry takes the cached size (have_size, readable) if that size is
 * possible for the file (maildir_size_plausible). Sets
 * s->cache_changed when the file must be rewritten. Never fails: at worst
 * every size is recomputed. */
void maildir_cache_read(struct scan *s);

/* True if size can be the POP3 size of a file of st_size octets: LF to
 * CRLF at most doubles it and a final CRLF adds 2, nothing shrinks it, and
 * an empty file is one empty line (2). */
bool maildir_size_plausible(int64_t st_size, uint64_t size);

/* Replaces the cache file atomically with the entries of s->recs (in their
 * order) that are present, readable and sized. Returns 0 or -errno; the
 * scan ignores failures (it is only a cache). */
int maildir_cache_write(struct scan *s);

/* Computes the POP3 size of r by reading its file, updating its cache key
 * (inode, size, mtime) to the file actually read. Marks r gone if it
 * vanished or is no longer a regular file, or unreadable (size = st_size)
 * if it cannot be read; sets s->cache_changed when a size was computed. */
void maildir_size_compute(struct scan *s, struct rec *r);

/* Gives every message of s->recs (in message order) its UIDL, unique
 * within the mailbox; the first message with a given UIDL keeps it.
 * Returns 0 or -ENOMEM. */
int maildir_uidl_assign(struct scan *s);

#endif
