/* sd_listen_fds(3) and sd_is_socket(3) as pop3s-session uses them; see
 * listen_fds.h. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include "listen_fds.h"
#include "parse_num.h"

static int
set_cloexec(int fd)
{
	int flags = fcntl(fd, F_GETFD);

	if (flags < 0)
		return -errno;
	if (flags & FD_CLOEXEC)
		return 0;
	if (fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0)
		return -errno;
	return 0;
}

static int
passed_fds(void)
{
	const char *e;
	uint64_t pid;
	unsigned n;
	int r, fd;

	e = getenv("LISTEN_PID");
	if (e == NULL)
		return 0;
	r = parse_u64(e, 1, INT_MAX, &pid);
	if (r < 0)
		return r;
	if ((pid_t)pid != getpid())
		return 0;
	e = getenv("LISTEN_FDS");
	if (e == NULL)
		return 0;
	r = parse_uint(e, 1, INT_MAX - LISTEN_FDS_START, &n);
	if (r < 0)
		return -EINVAL;
	for (fd = LISTEN_FDS_START; fd < LISTEN_FDS_START + (int)n; fd++) {
		r = set_cloexec(fd);
		if (r < 0)
			return r;
	}
	return (int)n;
}

int
listen_fds(void)
{
	int r = passed_fds();

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}

static int
sockopt_int(int fd, int opt, int *val)
{
	socklen_t len = sizeof(*val);

	if (getsockopt(fd, SOL_SOCKET, opt, val, &len) < 0)
		return -errno;
	if (len != sizeof(*val))
		return -EINVAL;
	return 0;
}

int
fd_is_stream_socket(int fd)
{
	struct stat st;
	int type, accepting, r;

	if (fd < 0)
		return -EBADF;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISSOCK(st.st_mode))
		return 0;
	r = sockopt_int(fd, SO_TYPE, &type);
	if (r < 0)
		return r;
	if (type != SOCK_STREAM)
		return 0;
	r = sockopt_int(fd, SO_ACCEPTCONN, &accepting);
	if (r < 0)
		return r;
	return accepting == 0;
}
