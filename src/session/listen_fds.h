/* Socket activation without libsystemd: the two calls pop3s-session needs,
 * with the semantics of sd_listen_fds(3) and sd_is_socket(3), so that the
 * session does not load libsystemd (and the six libraries it pulls in) for
 * every connection. See DESIGN.md "Starting a session". */
#ifndef POP3S_LISTEN_FDS_H
#define POP3S_LISTEN_FDS_H

/* The first passed descriptor (SD_LISTEN_FDS_START). */
#define LISTEN_FDS_START 3

/* As sd_listen_fds(1): if $LISTEN_PID is this process, returns $LISTEN_FDS
 * (descriptors LISTEN_FDS_START onwards, each then set FD_CLOEXEC); 0 if
 * $LISTEN_PID or $LISTEN_FDS is unset or $LISTEN_PID is another process;
 * -EINVAL or -ERANGE if either is malformed (not a decimal number, a pid
 * of 0, a count of 0 or one that overflows the descriptor range), or
 * -errno of fcntl() (EBADF: a descriptor that is not open). In every case
 * $LISTEN_PID, $LISTEN_FDS and $LISTEN_FDNAMES are removed from the
 * environment, so that no child takes them as its own. */
int listen_fds(void);

/* As sd_is_socket(fd, AF_UNSPEC, SOCK_STREAM, 0): 1 if fd is a stream
 * socket that is not listening (SO_ACCEPTCONN 0), 0 if it is something
 * else (not a socket, a datagram socket, a listening socket), -errno if
 * fstat() or getsockopt() fail. */
int fd_is_stream_socket(int fd);

#endif
