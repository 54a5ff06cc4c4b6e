/* Helpers shared by the unit tests: an in-memory transport, temporary
 * directories and files, and the common main(). */
#ifndef POP3S_TESTHELP_H
#define POP3S_TESTHELP_H

#include <check.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "transport.h"

struct mem_transport {
	struct transport t;   /* must stay first */
	char *out;            /* everything written, NUL-terminated */
	size_t len, cap;
	long fail_after;      /* fail writes once len would exceed this; -1 = never */
};

void mem_transport_init(struct mem_transport *m);
void mem_transport_clear(struct mem_transport *m);  /* forget output so far */
void mem_transport_free(struct mem_transport *m);

/* mkdtemp under $TMPDIR or /tmp; returns a malloc'd path. */
char *th_tmpdir(void);
/* A checked fixture: th_dir is a fresh temporary directory for each test,
 * removed with everything in it afterwards. */
extern char *th_dir;
void th_dir_setup(void);
void th_dir_teardown(void);
void th_rm_rf(const char *path);
/* Writes len octets (creating parent directories). */
void th_write_file(const char *path, const void *data, size_t len);
/* Reads a whole (small) file; malloc'd, NUL-terminated, *len set. */
char *th_read_file(const char *path, size_t *len);
/* Path joining into a static rotating buffer. */
const char *th_path(const char *dir, const char *name);

/* The native journal protocol, decoded independently of journal_send.c
 * (tests of the journal fallback): "NAME=value\n" or "NAME\n" + 64-bit LE
 * length + value + "\n". */
struct th_jfield {
	char name[65];
	const char *value;    /* into the datagram; not NUL-terminated */
	size_t len;
};
/* Returns the number of fields (at most max), or -1 if buf is malformed. */
int th_journal_decode(const char *buf, size_t len, struct th_jfield *f, size_t max);
/* The value of name as a malloc'd NUL-terminated string, NULL if absent. */
char *th_journal_get(const struct th_jfield *f, int n, const char *name);
/* Asserts that field name is present with the value want. */
#define TH_JOURNAL_EQ(f, n, name, want) do {                                          \
		char *v_ = th_journal_get((f), (n), (name));                          \
		ck_assert_msg(v_ != NULL && strcmp(v_, (want)) == 0, "%s: '%s', not '%s'", \
		              (name), v_ ? v_ : "(absent)", (want));                  \
		free(v_);                                                             \
	} while (0)
/* Binds a datagram socket at path (removed first); returns the fd. */
int th_dgram_bind(const char *path);
/* Receives one datagram within timeout_ms into buf; returns its length or
 * -1 if none arrived. */
long th_dgram_recv(int fd, char *buf, size_t cap, int timeout_ms);

#define TH_MAIN(suite_fn)                                              \
	int main(void)                                                 \
	{                                                              \
		SRunner *sr = srunner_create(suite_fn());              \
		int nf;                                                \
		srunner_run_all(sr, CK_NORMAL);                        \
		nf = srunner_ntests_failed(sr);                        \
		srunner_free(sr);                                      \
		return nf == 0 ? 0 : 1;                                \
	}

#endif
