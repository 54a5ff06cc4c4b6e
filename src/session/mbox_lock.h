/* Exclusive per-mailbox lock held for the whole TRANSACTION state. It is a
 * flock(2) on the user's mailbox directory: the kernel drops it whenever the
 * process dies, however it dies, so there are no stale lock files. */
#ifndef POP3S_MBOX_LOCK_H
#define POP3S_MBOX_LOCK_H

/* Takes the lock on dirfd without waiting. Returns 0, -EWOULDBLOCK if
 * another session holds it ([IN-USE]), or -errno. */
int mbox_lock_try(int dirfd);

/* Releases the lock (closing dirfd releases it too). */
void mbox_lock_release(int dirfd);

#endif
