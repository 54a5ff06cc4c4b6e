/* The per-mailbox lock: flock(2) on the user directory (see mbox_lock.h).
 * flock belongs to the open file description, so a second open of the
 * same directory, in this process or another, conflicts with it, and the
 * kernel drops it when the last descriptor for it is closed, including
 * when the process is killed. */
#include <errno.h>
#include <sys/file.h>
#include "mbox_lock.h"

int
mbox_lock_try(int dirfd)
{
	while (flock(dirfd, LOCK_EX | LOCK_NB) < 0) {
		if (errno == EINTR)
			continue;
		/* EAGAIN and EWOULDBLOCK are the same on Linux; say it one
		 * way for the caller. */
		if (errno == EWOULDBLOCK || errno == EAGAIN)
			return -EWOULDBLOCK;
		return -errno;
	}
	return 0;
}

void
mbox_lock_release(int dirfd)
{
	int saved = errno;

	/* Nothing useful to do on failure: closing dirfd releases it too. */
	(void)flock(dirfd, LOCK_UN);
	errno = saved;
}
