/* libFuzzer target: the size cache HOME/USER/.pop3s-sizes, which anyone
 * who can write the mailbox directory controls. The input becomes the
 * cache file of a real mailbox (fuzz_common.c: Maildir new/ and cur/ and
 * the plain layout), then mailbox_open() + mailbox_scan() read it
 * (maildir.c, maildir_cache.c, maildir_uidl.c) and rewrite it.
 *
 * Inode numbers differ on every run, so "@0".."@6" in the input stand for
 * the inodes of messages 0..6 (fz_msgs order); sizes and mtimes are fixed
 * (tests/fuzz/corpus/sizecache has valid caches to start from).
 *
 * Checked after every scan (any failure aborts):
 *  - the same messages, in the same order, with the same UIDLs and all
 *    readable, as a scan without a cache: the cache only ever gives sizes;
 *  - a second scan, reading the cache the first one wrote, gives the same
 *    sizes: what the writer writes, the reader reads back;
 *  - every size within what the file can give:
 *    st_size <= size <= 2 * st_size + 2 (a forged cache entry with a size
 *    outside that is not believed). */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "fuzz_common.h"
#include "maildir.h"

/* Room for the input with every "@N" (2 octets) replaced by an inode
 * (at most 20 digits). */
#define EXPAND(n) ((n) * 10 + 1)

static struct mailbox_msg want[FZ_NMSG];
static uint64_t st_sizes[FZ_NMSG], inodes[FZ_NMSG];
static char *buf;
static size_t bufsize;

static struct mailbox *
scan(void)
{
	struct mailbox *mb;
	int r;

	r = mailbox_open(fz_home(), FZ_USER, &mb);
	if (r < 0)
		fz_fail("mailbox_open failed");
	r = mailbox_scan(mb);
	if (r < 0)
		fz_fail("mailbox_scan failed");
	return mb;
}

static void
check(const struct mailbox *mb, const char *when)
{
	size_t i;

	if (mb->count != FZ_NMSG) {
		fprintf(stderr, "fuzz_sizecache: %s: %zu messages, not %d\n", when, mb->count, FZ_NMSG);
		fz_fail("the cache changed the message list");
	}
	for (i = 0; i < FZ_NMSG; i++) {
		const struct mailbox_msg *m = &mb->msgs[i];

		if (strcmp(m->relpath, want[i].relpath) != 0 || strcmp(m->uidl, want[i].uidl) != 0 ||
		    !m->readable || m->deleted) {
			fprintf(stderr, "fuzz_sizecache: %s: message %zu is %s uidl %s readable %d\n",
			        when, i + 1, m->relpath, m->uidl, m->readable);
			fz_fail("the cache changed a message's name, UIDL or readability");
		}
		if (m->size < st_sizes[i] || m->size > 2 * st_sizes[i] + 2) {
			fprintf(stderr, "fuzz_sizecache: %s: message %zu (%" PRIu64 " octets on disk) "
			        "has size %" PRIu64 "\n", when, i + 1, st_sizes[i], m->size);
			fz_fail("a cached size the file cannot have was believed");
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct mailbox *mb;
	size_t i;

	(void)argc;
	(void)argv;
	fz_setup();
	fz_mailbox_reset(true);
	mb = scan();
	if (mb->count != FZ_NMSG)
		fz_fail("the fixture mailbox does not scan to its messages");
	for (i = 0; i < FZ_NMSG; i++) {
		want[i] = mb->msgs[i];
		want[i].relpath = strdup(mb->msgs[i].relpath);
		if (want[i].relpath == NULL)
			fz_fail("out of memory");
		/* The order is by mtime, as fz_msgs lists them. */
		if (strcmp(want[i].relpath, fz_msgs[i].relpath) != 0)
			fz_fail("the fixture mailbox scans in an unexpected order");
	}
	mailbox_free(mb);
	for (i = 0; i < FZ_NMSG; i++)
		st_sizes[i] = fz_msg_len(i);
	return 0;
}

/* Copies data into buf with every "@N" replaced by the inode of message N. */
static size_t
expand(const uint8_t *data, size_t size)
{
	size_t i, n = 0;

	if (bufsize < EXPAND(size)) {
		free(buf);
		bufsize = EXPAND(size);
		buf = malloc(bufsize);
		if (buf == NULL)
			fz_fail("out of memory");
	}
	for (i = 0; i < size; i++) {
		if (data[i] == '@' && i + 1 < size && data[i + 1] >= '0' &&
		    data[i + 1] < '0' + FZ_NMSG) {
			n += (size_t)sprintf(buf + n, "%" PRIu64, inodes[data[i + 1] - '0']);
			i++;
		} else {
			buf[n++] = (char)data[i];
		}
	}
	return n;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct mailbox *mb;
	uint64_t sizes[FZ_NMSG];
	size_t i, n;

	fz_mailbox_reset(true);
	for (i = 0; i < FZ_NMSG; i++)
		inodes[i] = fz_inode(i);
	n = expand(data, size);
	fz_write_file(fz_cache_path(), buf, n);
	mb = scan();
	check(mb, "first scan");
	for (i = 0; i < FZ_NMSG; i++)
		sizes[i] = mb->msgs[i].size;
	mailbox_free(mb);

	mb = scan();
	check(mb, "second scan");
	for (i = 0; i < FZ_NMSG; i++) {
		if (mb->msgs[i].size != sizes[i]) {
			fprintf(stderr, "fuzz_sizecache: message %zu: size %" PRIu64 " on the first "
			        "scan, %" PRIu64 " from the cache it wrote\n", i + 1, sizes[i],
			        mb->msgs[i].size);
			fz_fail("the rewritten cache does not give back the sizes");
		}
	}
	mailbox_free(mb);
	return 0;
}
