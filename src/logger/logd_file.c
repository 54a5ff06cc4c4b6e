/* The command log file. Each line is formatted whole and written with one
 * write() on an O_APPEND descriptor, so lines never interleave and a
 * rotated file is never written after SIGHUP has reopened the path. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "logd_file.h"

#define LOGD_FILE_MODE 0640
/* seconds (at most 20 digits) ' ' ip ' ' command '\n' NUL */
#define LINE_MAX_LEN (20 + 1 + LOGREC_IP_MAX + 1 + LOGREC_COMMAND_MAX + 2)

struct logd_file {
	int fd;
	bool partial;   /* the last write stopped inside a line */
	char path[PATH_MAX];
};

static int
open_path(const char *path)
{
	int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOCTTY,
	              LOGD_FILE_MODE);

	return fd < 0 ? -errno : fd;
}

int
logd_file_open(const char *path, struct logd_file **ret)
{
	struct logd_file *f;
	int fd;

	if (strlen(path) >= sizeof(f->path))
		return -ENAMETOOLONG;
	fd = open_path(path);
	if (fd < 0)
		return fd;
	f = calloc(1, sizeof(*f));
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	f->fd = fd;
	memcpy(f->path, path, strlen(path) + 1);
	*ret = f;
	return 0;
}

int
logd_file_reopen(struct logd_file *f)
{
	int fd = open_path(f->path);

	if (fd < 0)
		return fd;
	close(f->fd);
	f->fd = fd;
	f->partial = false;
	return 0;
}

int
logd_file_format(const struct logrec *r, char *buf, size_t cap)
{
	const char *ip = logrec_ip_unmap(r->client_ip);
	int n;

	if (r->type != LOGREC_COMMAND)
		return 0;
	/* Empty fields would shift the columns: print "-" instead. */
	n = snprintf(buf, cap, "%llu %s %s\n",
	             (unsigned long long)(r->time_us / 1000000u),
	             *ip ? ip : "-", *r->command ? r->command : "-");
	if (n < 0 || (size_t)n >= cap)
		return -ENOBUFS;
	return n;
}

int
logd_file_write(struct logd_file *f, const struct logrec *r)
{
	char buf[LINE_MAX_LEN + 1];
	char *line = buf + 1;
	size_t len, off = 0, pre = f->partial ? 1 : 0;
	ssize_t w;
	int n, err;

	n = logd_file_format(r, line, sizeof(buf) - 1);
	if (n <= 0)
		return n;
	len = (size_t)n;
	/* After a short write (disk full) the file ends inside a line; end it
	 * so that the next line stays whole. */
	if (pre) {
		*--line = '\n';
		len++;
	}
	/* One write() normally; the loop only continues after a short write,
	 * to get the real error or to complete the line if space came back. */
	while (off < len) {
		w = write(f->fd, line + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			err = w < 0 ? -errno : -EIO;
			if (off > 0)
				f->partial = off > pre;
			return err;
		}
		off += (size_t)w;
	}
	f->partial = false;
	return 0;
}

void
logd_file_close(struct logd_file *f)
{
	if (!f)
		return;
	fsync(f->fd);
	close(f->fd);
	free(f);
}
