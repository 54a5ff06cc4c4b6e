#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "fdio.h"

int
path_split(const char *path, char *dir, size_t dirlen, const char **name)
{
	const char *slash = strrchr(path, '/');
	size_t n;

	if (slash == NULL) {
		if (dirlen < 2)
			return -ENAMETOOLONG;
		memcpy(dir, ".", 2);
		*name = path;
	} else {
		n = slash == path ? 1 : (size_t)(slash - path);
		if (n >= dirlen)
			return -ENAMETOOLONG;
		memcpy(dir, path, n);
		dir[n] = '\0';
		*name = slash + 1;
	}
	return **name == '\0' ? -EISDIR : 0;
}

int
fd_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fd_temp_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
             const struct stat *like, char *tmp, size_t tmplen)
{
	int fd, n, r = 0;

	n = snprintf(tmp, tmplen, "%s/.%s.XXXXXX", dir, name);
	if (n < 0 || (size_t)n >= tmplen)
		return -ENAMETOOLONG;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (like != NULL) {
		/* Owner first: fchown may clear set-id bits fchmod then sets. */
		if (fchown(fd, like->st_uid, like->st_gid) < 0 ||
		    fchmod(fd, like->st_mode & 07777) < 0)
			r = -errno;
	} else if (fchmod(fd, mode) < 0) {
		r = -errno;
	}
	if (r == 0)
		r = fd_write_all(fd, data, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int
fd_commit_file(const char *tmp, const char *dir, const char *name)
{
	char path[PATH_MAX];
	int fd, n, r = 0;

	n = snprintf(path, sizeof(path), "%s/%s", dir, name);
	if (n < 0 || (size_t)n >= sizeof(path)) {
		unlink(tmp);
		return -ENAMETOOLONG;
	}
	if (rename(tmp, path) < 0) {
		r = -errno;
		unlink(tmp);
		return r;
	}
	/* The rename is durable only once the directory is synced. */
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int
fd_replace_file(const char *dir, const char *name, const void *data, size_t len, mode_t mode,
                const struct stat *like)
{
	char tmp[PATH_MAX];
	int r;

	r = fd_temp_file(dir, name, data, len, mode, like, tmp, sizeof(tmp));
	if (r < 0)
		return r;
	return fd_commit_file(tmp, dir, name);
}
