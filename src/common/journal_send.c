/* The native journal protocol, datagram form; see journal_send.h. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include "journal_send.h"

#define FIELD_NAME_MAX 64

int
journal_set_path(struct journal_sink *j, const char *path)
{
	size_t len;

	if (path == NULL)
		path = JOURNAL_SOCKET_PATH;
	len = strlen(path);
	if (len == 0 || len >= sizeof(j->addr.sun_path))
		return -ENAMETOOLONG;
	memset(&j->addr, 0, sizeof(j->addr));
	j->addr.sun_family = AF_UNIX;
	memcpy(j->addr.sun_path, path, len + 1);
	j->addr_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

int
journal_open(struct journal_sink *j, const char *path)
{
	int r;

	j->fd = -1;
	r = journal_set_path(j, path);
	if (r < 0)
		return r;
	j->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (j->fd < 0)
		return -errno;
	return 0;
}

static bool
name_ok(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > FIELD_NAME_MAX || s[0] == '_' || (s[0] >= '0' && s[0] <= '9'))
		return false;
	for (i = 0; i < len; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_'))
			return false;
	return true;
}

/* Appends len octets at *pos if they fit. */
static bool
put(char *buf, size_t cap, size_t *pos, const void *data, size_t len)
{
	if (len > cap - *pos)
		return false;
	memcpy(buf + *pos, data, len);
	*pos += len;
	return true;
}

int
journal_encode(const struct iovec *fields, size_t n, char *buf, size_t cap)
{
	size_t i, pos = 0;

	if (cap > INT32_MAX)
		cap = INT32_MAX;
	for (i = 0; i < n; i++) {
		const char *f = fields[i].iov_base;
		size_t flen = fields[i].iov_len;
		const char *eq = flen ? memchr(f, '=', flen) : NULL;
		size_t nlen, vlen;
		const char *v;
		uint64_t le = 0;
		unsigned char len8[8];
		int k;

		if (eq == NULL || !name_ok(f, (size_t)(eq - f)))
			return -EINVAL;
		nlen = (size_t)(eq - f);
		v = eq + 1;
		vlen = flen - nlen - 1;
		if (memchr(v, '\n', vlen) == NULL) {
			if (!put(buf, cap, &pos, f, flen) || !put(buf, cap, &pos, "\n", 1))
				return -EMSGSIZE;
			continue;
		}
		le = vlen;
		for (k = 0; k < 8; k++, le >>= 8)
			len8[k] = (unsigned char)(le & 0xff);
		if (!put(buf, cap, &pos, f, nlen) || !put(buf, cap, &pos, "\n", 1) ||
		    !put(buf, cap, &pos, len8, sizeof(len8)) || !put(buf, cap, &pos, v, vlen) ||
		    !put(buf, cap, &pos, "\n", 1))
			return -EMSGSIZE;
	}
	return (int)pos;
}

int
journal_send(struct journal_sink *j, const struct iovec *fields, size_t n)
{
	char buf[JOURNAL_ENTRY_MAX];
	struct iovec iov;
	struct msghdr mh = { .msg_name = &j->addr, .msg_namelen = j->addr_len,
	                     .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t r;
	int len;

	if (j->fd < 0)
		return -EBADF;
	len = journal_encode(fields, n, buf, sizeof(buf));
	if (len < 0)
		return len;
	iov.iov_base = buf;
	iov.iov_len = (size_t)len;
	/* sendmsg(), as for the client's socket (tls.c): one call less for
	 * the session's seccomp allow-list. */
	do
		r = sendmsg(j->fd, &mh, MSG_NOSIGNAL);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	return 0;
}

void
journal_close(struct journal_sink *j)
{
	if (j->fd >= 0)
		close(j->fd);
	j->fd = -1;
}
