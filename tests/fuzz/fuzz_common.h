/* Shared by the libFuzzer targets in tests/fuzz: a temporary mail root
 * made once per fuzzer process, with one user's mailbox that is put back
 * exactly as it was before every input (QUIT may have removed messages,
 * a scan may have rewritten the size cache). Not part of the server. */
#ifndef POP3S_FUZZ_COMMON_H
#define POP3S_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define FZ_USER "alice"
/* Lower case and a space: never a user name, never a command word, so a
 * log record that holds it has leaked it. */
#define FZ_PASSWORD "Open sesame"
#define FZ_NMSG 7

struct fz_msg {
	const char *relpath;   /* inside HOME/alice */
	const char *text;
	size_t len;
	long mtime;
};

/* The messages, in the order the scan numbers them (by mtime). */
extern const struct fz_msg fz_msgs[FZ_NMSG];

/* Makes the temporary directory (under $TMPDIR or /tmp), the users file
 * (alice, a $6$ hash of FZ_PASSWORD at 1000 rounds: cheap, but real
 * crypt(3)) and the mailbox; registers its removal at exit. Aborts with a
 * message on any failure: a fuzzer without its fixture is useless. */
void fz_setup(void);

const char *fz_home(void);        /* the mail root */
const char *fz_users_file(void);
const char *fz_userdir(void);     /* HOME/alice */

/* Puts every message back (content, mtime); removes the size cache too if
 * drop_cache, else leaves it: a message put back has the same content, so
 * the sizes in the cache stay right whether its entry matches or not. */
void fz_mailbox_reset(bool drop_cache);

/* The inode of message i (0-based in fz_msgs), and its length on disk. */
uint64_t fz_inode(size_t i);
size_t fz_msg_len(size_t i);

/* HOME/alice/.pop3s-sizes */
const char *fz_cache_path(void);

/* Writes len octets to path, replacing it. Aborts on failure. */
void fz_write_file(const char *path, const void *data, size_t len);

/* Prints "fuzz: what" and aborts: libFuzzer reports it with the input. */
void fz_fail(const char *what) __attribute__((noreturn));

#endif
