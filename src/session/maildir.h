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
 * missing, stale or corrupt entry is recomputed and the file rewritten. */
#ifndef POP3S_MAILDIR_H
#define POP3S_MAILDIR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MAILDIR_UIDL_MAX 70
#define MAILDIR_CACHE_NAME ".pop3s-sizes"

struct mailbox_msg {
	char *relpath;                  /* e.g. "new/1700000000.M1P2.host", "1_" */
	char uidl[MAILDIR_UIDL_MAX + 1];
	uint64_t size;                  /* octets RETR sends, before dot-stuffing */
	bool readable;                  /* false: RETR/TOP answer -ERR [SYS/TEMP] */
	bool deleted;                   /* marked by DELE */
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
 * symlink). Returns 0 or -errno: -EINVAL for a bad idx, -EACCES for a
 * message that was unreadable at scan time, -ENOENT if it is gone. */
int mailbox_msg_open(struct mailbox *mb, size_t idx, int *ret_fd);

/* Removes every message marked deleted. A message already gone counts as
 * removed. Returns 0, or -errno of the first failure (the others are still
 * attempted), with the number that could not be removed in *ret_failed. */
int mailbox_expunge(struct mailbox *mb, size_t *ret_failed);

/* Frees mb and closes its directory (dropping any lock); NULL allowed. */
void mailbox_free(struct mailbox *mb);

#endif
