/* Plain descriptor I/O that the standard calls leave to every caller. */
#ifndef POP3S_FDIO_H
#define POP3S_FDIO_H

#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

/* Splits path into its directory ("." when it has no slash, "/" for
 * "/name") and its last component, which points into path. Returns 0,
 * -EISDIR when the last component is empty ("dir/"), -ENAMETOOLONG when
 * the directory does not fit in dirlen. */
int path_split(const char *path, char *dir, size_t dirlen, const char **name);

/* Writes all len octets to fd, retrying short writes and EINTR.
 * Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);

/* Writes len octets to a new file dir/.name.XXXXXX with mode (or, if like
 * is not NULL, like's owner, group and mode), synced to disk; its path goes
 * to tmp. On failure nothing is left behind. Returns 0 or -errno. */
int fd_temp_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                 const struct stat *like, char *tmp, size_t tmplen);

/* Renames tmp over dir/name, then syncs dir so the rename survives a
 * crash. On failure of the rename tmp is removed. Returns 0 or -errno. */
int fd_commit_file(const char *tmp, const char *dir, const char *name);

/* Replaces dir/name atomically (fd_temp_file, then fd_commit_file): a
 * reader sees the old content or the new, never a part of either. */
int fd_replace_file(const char *dir, const char *name, const void *data, size_t len,
                    mode_t mode, const struct stat *like);

#endif
