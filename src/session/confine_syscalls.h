/* The system calls a confined pop3s-session may make (see confine.c).
 * Included inside the initialiser of a BPF program with SC(name) (allowed)
 * and SC_ENOSYS(name) (answered ENOSYS) defined by the includer; names
 * are the kernel's (__NR_name), guarded where an architecture lacks one.
 * Anything not listed gets EPERM.
 *
 * Derived from `strace -f` of the integration tests (tests/integration):
 * logins with every hash method, the auth penalty wait, STAT, LIST, UIDL,
 * TOP, RETR, DELE + QUIT in both layouts, the size cache rewrite, the log
 * queue and its journal fallback, timeouts and SIGTERM. Not listed on
 * purpose: socket, socketpair, connect, bind, listen, accept, execve,
 * execveat, fork, clone, ptrace, process_vm_readv/writev, mount, umount2,
 * pivot_root, chroot, keyctl, add_key, bpf, perf_event_open, io_uring_*,
 * userfaultfd, init_module, kexec_*, setuid and its kind, unshare, setns.
 *
 * Ordered by frequency in a session: the BPF program compares one number
 * after the other, so the per-message calls come first. */

#ifndef CONFINE_SYSCALLS_EXTRA
/* --- I/O on the connection and the messages: every command ---------- */
SC(read)
SC(write)
SC(recvfrom)
SC(sendto)
SC(sendmsg)
SC(recvmsg)
SC(ppoll)
SC(pread64)
SC(writev)
SC(readv)
#ifdef __NR_poll
SC(poll)
#endif
SC(lseek)
SC(clock_gettime)
SC(mq_timedsend)
/* --- files in the mailbox: login, RETR, QUIT ------------------------ */
SC(openat)
#ifdef __NR_open
SC(open)
#endif
SC(close)
SC(fstat)
#ifdef __NR_newfstatat
SC(newfstatat)
#endif
#ifdef __NR_fstatat64
SC(fstatat64)
#endif
#ifdef __NR_stat
SC(stat)
#endif
#ifdef __NR_lstat
SC(lstat)
#endif
SC(statx)
SC(getdents64)
SC(fcntl)
SC(flock)
SC(fsync)
SC(fdatasync)
SC(ftruncate)
SC(renameat)
SC(renameat2)
#ifdef __NR_rename
SC(rename)
#endif
SC(unlinkat)
#ifdef __NR_unlink
SC(unlink)
#endif
SC(mkdirat)
#ifdef __NR_mkdir
SC(mkdir)
#endif
SC(fchmod)
SC(umask)
SC(dup)
SC(dup3)
SC(close_range)
/* --- memory -------------------------------------------------------- */
SC(mmap)
SC(munmap)
SC(mremap)
SC(mprotect)
SC(madvise)
SC(brk)
/* --- time, waits, signals ------------------------------------------ */
SC(nanosleep)
SC(clock_nanosleep)
SC(gettimeofday)
#ifdef __NR_time
SC(time)
#endif
SC(futex)
SC(rt_sigaction)
SC(rt_sigprocmask)
SC(rt_sigreturn)
SC(rt_sigtimedwait)
SC(restart_syscall)
SC(sigaltstack)
SC(getpid)
SC(gettid)
SC(tgkill)
SC(exit)
SC(exit_group)
/* --- the log: the queue (opened before confinement or beneath
 * /dev/mqueue), its attributes, the journal fallback on an open socket --- */
SC(mq_open)
SC(mq_getsetattr)
SC(memfd_create)
/* --- the mailbox's own Landlock layer after login (confine_mailbox):
 * a process can only narrow its own confinement with these --------- */
SC(landlock_create_ruleset)
SC(landlock_add_rule)
SC(landlock_restrict_self)
/* --- on the connected socket --------------------------------------- */
SC(getpeername)
SC(getsockname)
SC(getsockopt)
SC(setsockopt)
SC(shutdown)
/* --- odds and ends of glibc, GnuTLS and libsystemd ------------------ */
SC(getrandom)
SC(getuid)
SC(geteuid)
SC(getgid)
SC(getegid)
SC(uname)
SC(prlimit64)
SC(sched_yield)
/* glibc tries these first and falls back to older calls on ENOSYS. */
SC_ENOSYS(clone3)
SC_ENOSYS(faccessat2)
SC_ENOSYS(openat2)

#else
/* --- FILTER= only: fork, exec and wait for the filter program, and
 * what that program (a shell, sed, an interpreter) needs ------------- */
SC(clone)
#ifdef __NR_fork
SC(fork)
#endif
#ifdef __NR_vfork
SC(vfork)
#endif
SC(execve)
SC(wait4)
SC(waitid)
SC(kill)
SC(pipe2)
#ifdef __NR_pipe
SC(pipe)
#endif
#ifdef __NR_dup2
SC(dup2)
#endif
SC(setpgid)
SC(getpgid)
SC(getppid)
SC(getpgrp)
SC(setrlimit)
SC(getrlimit)
SC(set_tid_address)
SC(set_robust_list)
SC(rseq)
#ifdef __NR_arch_prctl
SC(arch_prctl)
#endif
#ifdef __NR_access
SC(access)
#endif
SC(faccessat)
#ifdef __NR_readlink
SC(readlink)
#endif
SC(readlinkat)
SC(getcwd)
SC(chdir)
SC(fchdir)
SC(ioctl)
SC(statfs)
SC(fstatfs)
SC(sysinfo)
SC(fadvise64)
SC(sched_getaffinity)
SC(getdents64)
SC(pselect6)
#ifdef __NR_select
SC(select)
#endif
SC(epoll_create1)
SC(epoll_ctl)
SC(epoll_pwait)
#ifdef __NR_epoll_wait
SC(epoll_wait)
#endif
SC(prctl)
SC(getresuid)
SC(getresgid)
SC(getgroups)
#endif
