/* The message queue between sessions and pop3s-logger: a POSIX message
 * queue (see logq.c for why). The logger owns it: systemd creates it through
 * pop3s-logger.socket (ListenMessageQueue=) and hands it over, or, outside
 * systemd, the logger creates it itself. Sessions only open it to send. */
#ifndef POP3S_LOGQ_H
#define POP3S_LOGQ_H

#include <mqueue.h>
#include <stddef.h>

#define LOGQ_DEFAULT_NAME "/pop3s-log"
#define LOGQ_MSGSIZE 512            /* = LOGREC_MAX_SIZE */
#define LOGQ_DEFAULT_DEPTH 10       /* fs.mqueue.msg_max for unprivileged creators */

/* Opens an existing queue for sending, non-blocking. Returns 0 or -errno
 * (-ENOENT when no logger has created it yet). */
int logq_open_sender(const char *name, mqd_t *ret);

/* Sends one message; if the queue is full, waits up to timeout_ms for room.
 * Returns 0, -EAGAIN if it stayed full, or -errno. */
int logq_send(mqd_t q, const void *buf, size_t len, unsigned timeout_ms);

/* Opens the queue for receiving, creating it (mode 0620, depth, LOGQ_MSGSIZE)
 * if it does not exist. An existing queue whose message size is smaller than
 * LOGQ_MSGSIZE is an error (-EMSGSIZE). Returns 0 or -errno. */
int logq_open_receiver(const char *name, long depth, mqd_t *ret);

/* Octets the kernel charges to the creating user's RLIMIT_MSGQUEUE for a
 * queue depth records deep (ipc/mqueue.c: the message bodies plus a header
 * and a tree node each; an estimate to within a few percent on 64-bit). */
unsigned long logq_charge(long depth);

/* Whether a queue of depth records could be created now: 0 if name exists
 * already or a probe queue of that size can be made (it is removed at
 * once); -EMFILE when the user's RLIMIT_MSGQUEUE has no room left, -EINVAL
 * when depth exceeds fs.mqueue.msg_max for this process, or -errno. */
int logq_probe(const char *name, long depth);

/* Non-blocking receive into buf (cap >= the queue's message size).
 * Returns the message length, -EAGAIN when empty, or -errno. */
long logq_receive(mqd_t q, void *buf, size_t cap);

#endif
