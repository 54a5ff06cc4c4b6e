/* Why a POSIX message queue between the sessions and pop3s-logger:
 *  - It is held by the kernel, not by the logger: records that sessions send
 *    while the logger restarts (upgrade, crash, SIGTERM) wait in the queue
 *    and are written once it is back. A socket would refuse them instead.
 *  - Its descriptor is pollable (POLLIN for the reader, POLLOUT for a
 *    writer waiting for room), so the logger has one poll() loop and a
 *    session can wait for room with a hard timeout.
 *  - It keeps message boundaries: one record is one message, no framing and
 *    no partial reads.
 *  - systemd can create it (pop3s-logger.socket, ListenMessageQueue=) with a
 *    deeper MessageQueueMaxMessages= than the fs.mqueue.msg_max = 10 an
 *    unprivileged creator is limited to, and hand it over via sd_listen_fds.
 *  - fs.mqueue.msgsize_max is 8192 by default, so 512-octet records fit.
 * Linux mqueue descriptors are always close-on-exec. */
#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/stat.h>
#include <time.h>
#include "monotime.h"
#include "logq.h"

/* The owner reads, the owner's group writes: sessions must run as the
 * logger's user or in its group, as pop3s-logger.socket arranges (0620,
 * group pop3s). Nobody else can forge records. */
#define LOGQ_MODE 0620

int
logq_open_sender(const char *name, mqd_t *ret)
{
	mqd_t q = mq_open(name, O_WRONLY | O_NONBLOCK);

	if (q == (mqd_t)-1)
		return -errno;
	*ret = q;
	return 0;
}

/* Waits until q has room or the deadline passes; the caller retries the
 * send either way, since another session may take the room first. */
static int
wait_room(mqd_t q, int64_t deadline)
{
	struct pollfd p = { .fd = (int)q, .events = POLLOUT };
	int64_t left = deadline - (int64_t)monotime_us();

	if (left <= 0)
		return -EAGAIN;
	/* Rounded up, so that -EAGAIN never comes before the timeout; capped
	 * so that a huge timeout cannot overflow poll's int argument. */
	left = (left + 999) / 1000;
	if (poll(&p, 1, left > 60000 ? 60000 : (int)left) < 0 && errno != EINTR)
		return -errno;
	return 0;
}

int
logq_send(mqd_t q, const void *buf, size_t len, unsigned timeout_ms)
{
	int64_t deadline = (int64_t)monotime_us() + (int64_t)timeout_ms * 1000;

	for (;;) {
		int r;

		if (mq_send(q, buf, len, 0) == 0)
			return 0;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN)
			return -errno;
		r = wait_room(q, deadline);
		if (r < 0)
			return r;
	}
}

/* Checks that an existing queue can carry our records. */
static int
check_msgsize(mqd_t q)
{
	struct mq_attr a;

	if (mq_getattr(q, &a) < 0)
		return -errno;
	return a.mq_msgsize < LOGQ_MSGSIZE ? -EMSGSIZE : 0;
}

int
logq_open_receiver(const char *name, long depth, mqd_t *ret)
{
	struct mq_attr a = { .mq_maxmsg = depth, .mq_msgsize = LOGQ_MSGSIZE };
	int flags = O_RDONLY | O_NONBLOCK;
	mqd_t q;
	int r, tries = 0;

	/* Create with O_EXCL to know whether to set the mode: mq_open applies
	 * the umask, which would take the sessions' write permission away.
	 * Retried in case the queue is unlinked between the two opens. */
	for (;;) {
		q = mq_open(name, flags | O_CREAT | O_EXCL, LOGQ_MODE, &a);
		if (q != (mqd_t)-1) {
			if (fchmod((int)q, LOGQ_MODE) < 0) {
				r = -errno;
				mq_close(q);
				return r;
			}
			*ret = q;
			return 0;
		}
		if (errno != EEXIST)
			return -errno;
		q = mq_open(name, flags);
		if (q != (mqd_t)-1)
			break;
		if (errno != ENOENT || ++tries >= 3)
			return -errno;
	}
	r = check_msgsize(q);
	if (r < 0) {
		mq_close(q);
		return r;
	}
	*ret = q;
	return 0;
}

unsigned long
logq_charge(long depth)
{
	/* struct msg_msg is 48 octets, struct posix_msg_tree_node 40 (x86_64,
	 * Linux 6.1); messages of different priorities get a node each. */
	unsigned long d = depth > 0 ? (unsigned long)depth : 0;

	return d * (48 + LOGQ_MSGSIZE) + (d < 32768 ? d : 32768) * 40;
}

int
logq_probe(const char *name, long depth)
{
	struct mq_attr a = { .mq_maxmsg = depth, .mq_msgsize = LOGQ_MSGSIZE };
	char probe[NAME_MAX + 2];
	mqd_t q;
	int r;

	q = mq_open(name, O_RDONLY);
	if (q != (mqd_t)-1) {
		mq_close(q);
		return 0;
	}
	if (errno != ENOENT)
		return -errno;
	if ((size_t)snprintf(probe, sizeof(probe), "%.*s.probe", NAME_MAX - 7, name) >= sizeof(probe))
		return -ENAMETOOLONG;
	(void)mq_unlink(probe);  /* a probe left by a killed run */
	q = mq_open(probe, O_RDONLY | O_CREAT | O_EXCL, 0600, &a);
	if (q == (mqd_t)-1)
		return -errno;
	r = mq_unlink(probe) < 0 ? -errno : 0;
	mq_close(q);
	return r;
}

long
logq_receive(mqd_t q, void *buf, size_t cap)
{
	ssize_t n;

	do
		n = mq_receive(q, buf, cap, NULL);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : (long)n;
}
