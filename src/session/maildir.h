/* A user's mailbox: HOME/USER/ as a Maildir (messages in new/ and cur/) and
 * as the plain layout (one message per regular file directly in HOME/USER,
 * dot files excluded). Both may be present at once.
 *
 * Messages are numbered at scan time, ordered by mtime, then by name; the
 * numbering is fixed for the session. UIDLs are the Maildir base name (the
 * part before ':'), or the file name, when it is 1..70 octets of 0x21-0x7E;
 * otherwise a hex digest of the name. They never depend on a cache.
 * Sizes (what RETR sends, see msgstream.h) come from HOME/USER/.pop3s-sizes,
 * a cache keyed by name, inode, size and mtime that is only a cache: a
 * missing, stale, corrupt or implausible entry is recomputed and the file
 * rewritten.
 *
 * Each message keeps the identity of the file it was at scan time (device,
 * inode, size, mtime): RETR/TOP refuse a file whose identity changed since
 * (-ESTALE) and UPDATE removes only the very file the client saw. */
#ifndef POP3S_MAILDIR_H
#define POP3S_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILDIR_UIDL_MAX 70
#define MAILDIR_CACHE_NAME ".pop3s-sizes"

/* The file a message was at scan time. */
struct mailbox_ident {
	uint64_t dev;
	uint64_t ino;
	int64_t st_size;
	int64_t mtime_sec;
	long mtime_nsec;
};

struct mailbox_msg {
	char *relpath;                  /* e.g. "new/1700000000.M1P2.host", "1_" */
	char uidl[MAILDIR_UIDL_MAX + 1];
	uint64_t size;                  /* octets RETR sends, before dot-stuffing */
	bool readable;                  /* false: RETR/TOP answer -ERR [SYS/TEMP] */
	bool deleted;                   /* marked by DELE */
	struct mailbox_ident id;        /* the file listed (and sized) */
};

struct mailbox {
	int dirfd;                      /* HOME/USER, O_DIRECTORY */
	struct mailbox_msg *msgs;
	size_t count;
};

/* Opens HOME/USER (user must already satisfy username_valid()), creating it
 * with mode 0700 if it does not exist. Returns 0 or -errno: -ENOENT if
 * HOME is missing, -EINVAL if user is not a single path component, -ELOOP
 * or -ENOTDIR if HOME/USER is a symlink or not a directory. */
int mailbox_open(const char *home, const char *user, struct mailbox **ret);

/* Lists the messages and their sizes (see above), replacing any earlier
 * list. Only regular files count (symlinks, FIFOs, directories and dot
 * files are skipped); a message that cannot be opened stays listed with
 * readable false and its file size. Failing to write the cache is not an
 * error. Returns 0 or -errno. */
int mailbox_scan(struct mailbox *mb);

/* Opens message idx (0-based) for reading (a regular file, not through a
 * symlink, with the identity it had at scan time). Returns 0 or -errno:
 * -EINVAL for a bad idx, -EACCES for a message that was unreadable at scan
 * time, -ENOENT if it is gone, -ESTALE if the file under its name is not
 * the one scanned (replaced, grown, shrunk or rewritten since). */
int mailbox_msg_open(struct mailbox *mb, size_t idx, int *ret_fd);

/* 0 if fd (opened by mailbox_msg_open) still has message idx's scan-time
 * identity, -ESTALE if it changed since, -errno if fstat fails. */
int mailbox_msg_unchanged(const struct mailbox *mb, size_t idx, int fd);

/* Sum of the sizes of the messages (the deleted ones too if
 * with_deleted), saturating at UINT64_MAX instead of wrapping; the number
 * of messages counted in *ret_count (may be NULL). */
uint64_t mailbox_total(const struct mailbox *mb, bool with_deleted, size_t *ret_count);

/* Drops the size cache (after a size proved wrong); the next scan
 * measures every message. Returns 0 or -errno. */
int mailbox_cache_drop(struct mailbox *mb);

struct mailbox_expunge_result {
	size_t removed;   /* unlinked now: the count to report */
	size_t gone;      /* found nowhere: already removed by someone else */
	size_t changed;   /* its name holds another file, or it was modified: kept */
	size_t failed;    /* found but unlink failed (first_error) */
	int first_error;  /* -errno of the first failure, 0 if none */
};

/* Removes every message marked deleted, and only the file the scan saw:
 * a file with the same name but another identity is kept (changed). A
 * Maildir message renamed since the scan (new/ to cur/, other flags) is
 * followed by its base name (the part before ':') in new/ and cur/ and
 * removed if its identity matches. Returns 0 if nothing was changed or
 * failed, else first_error (-ESTALE when the only problems are changed
 * messages); the counts go to *res. */
int mailbox_expunge(struct mailbox *mb, struct mailbox_expunge_result *res);

/* Frees mb and closes its directory (dropping any lock); NULL allowed. */
void mailbox_free(struct mailbox *mb);

#endif
