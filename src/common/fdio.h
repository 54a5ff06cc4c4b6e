/* Plain descriptor I/O that the standard calls leave to every caller. */
#ifndef POP3S_FDIO_H
#define POP3S_FDIO_H

#include <stddef.h>

/* Writes all len octets to fd, retrying short writes and EINTR.
 * Returns 0 or -errno. */
int fd_write_all(int fd, const void *buf, size_t len);

#endif
