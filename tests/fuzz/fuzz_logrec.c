/* libFuzzer target: what pop3s-logger reads from its message queue, which
 * every session (and any local process in group pop3s) can write. The
 * input is a run of queue messages, each cut at the length its header
 * announces (octets 2-3; the rest of the input if that is 0 or too long),
 * as logrec_decode() receives them one by one; then what the logger does
 * with a record: the log file line (logd_file_format), the journal fields
 * (logrec_journal_fields) and the metrics (logd_metrics_record, in memory).
 * The session's side, logrec_command_word(), gets each message as a line.
 *
 * Checked (any failure aborts):
 *  - an accepted record encodes (logrec_encode) back to the very same
 *    octets: the decoder takes one form only and loses nothing;
 *  - its log file line has exactly three columns of printable ASCII and
 *    one final LF, whatever the fields hold;
 *  - the journal has at most LOGREC_JOURNAL_FIELDS fields, each one
 *    KEY=value, NUL-terminated within its slot, iov pointing at it;
 *  - the metrics track at most LOGD_METRICS_LIVE_MAX live sessions and
 *    sessions_current never exceeds the peak;
 *  - a command word is 1..LOGREC_COMMAND_MAX octets of 0x21-0x7E.
 * Seeds: tests/fuzz/corpus/logrec (valid records of every type). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include "fuzz_common.h"
#include "logd_file.h"
#include "logd_metrics.h"
#include "logrec.h"

static struct logd_metrics lm;

static void
check_token(const char *s, size_t len, const char *what)
{
	size_t i;

	if (len == 0) {
		fprintf(stderr, "fuzz_logrec: empty %s\n", what);
		fz_fail("empty token");
	}
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x21 || (unsigned char)s[i] > 0x7e) {
			fprintf(stderr, "fuzz_logrec: %s holds octet 0x%02x at %zu\n", what,
			        (unsigned char)s[i], i);
			fz_fail("octet outside 0x21-0x7E in a token");
		}
}

static void
check_file_line(const struct logrec *r)
{
	char line[1024];
	const char *p, *sp1, *sp2;
	int n = logd_file_format(r, line, sizeof(line));

	if (n < 0)
		fz_fail("logd_file_format failed on a valid record");
	if (n == 0) {
		if (r->type == LOGREC_COMMAND)
			fz_fail("no log file line for a COMMAND record");
		return;
	}
	if ((size_t)n != strlen(line) || line[n - 1] != '\n')
		fz_fail("the log file line does not end in its one LF");
	sp1 = memchr(line, ' ', (size_t)n);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(line + n - sp1 - 1)) : NULL;
	if (sp1 == NULL || sp2 == NULL || memchr(sp2 + 1, ' ', (size_t)(line + n - sp2 - 1)))
		fz_fail("the log file line does not have three columns");
	p = line;
	check_token(p, (size_t)(sp1 - p), "the time column");
	check_token(sp1 + 1, (size_t)(sp2 - sp1 - 1), "the address column");
	check_token(sp2 + 1, (size_t)(line + n - 1 - sp2 - 1), "the command column");
}

static void
check_journal(const struct logrec *r)
{
	static char text[LOGREC_JOURNAL_FIELDS + 1][LOGREC_JOURNAL_FIELD_MAX];
	struct iovec iov[LOGREC_JOURNAL_FIELDS + 1];
	size_t n, i;

	n = logrec_journal_fields(r, "pop3s-fuzz", "POP3_FUZZ=1", text, iov,
	                          LOGREC_JOURNAL_FIELDS + 1);
	if (n == 0 || n > LOGREC_JOURNAL_FIELDS)
		fz_fail("logrec_journal_fields gave no fields or too many");
	for (i = 0; i < n; i++) {
		const char *f = text[i], *eq;

		if (memchr(f, '\0', LOGREC_JOURNAL_FIELD_MAX) == NULL)
			fz_fail("a journal field is not NUL-terminated in its slot");
		if (iov[i].iov_base != text[i] || iov[i].iov_len != strlen(f))
			fz_fail("a journal iovec does not point at its field");
		eq = strchr(f, '=');
		if (eq == NULL || eq == f)
			fz_fail("a journal field is not KEY=value");
		for (; f < eq; f++)
			if (!((*f >= 'A' && *f <= 'Z') || (*f >= '0' && *f <= '9') || *f == '_'))
				fz_fail("a journal field name holds an octet journald refuses");
	}
}

static void
check_metrics(void)
{
	if (lm.nlive > LOGD_METRICS_LIVE_MAX || lm.m.sessions_current != lm.nlive ||
	    lm.m.sessions_current > lm.m.sessions_peak)
		fz_fail("the metrics' live sessions are out of bounds");
}

static void
one(const uint8_t *msg, size_t len)
{
	uint8_t back[LOGREC_MAX_SIZE];
	char word[LOGREC_COMMAND_MAX + 1];
	struct logrec r;
	int n;

	logrec_command_word((const char *)msg, len, word);
	check_token(word, strnlen(word, sizeof(word)), "the command word");

	memset(&r, 0x5a, sizeof(r));
	n = logrec_decode(msg, len, &r);
	if (n == -EBADMSG) {
		logd_metrics_malformed(&lm);
		return;
	}
	if (n != 0)
		fz_fail("logrec_decode returned neither 0 nor -EBADMSG");
	n = logrec_encode(&r, back, sizeof(back));
	if (n < 0 || (size_t)n != len || memcmp(back, msg, len) != 0)
		fz_fail("a decoded record does not encode back to its octets");
	if (strcmp(logrec_type_name(r.type), "UNKNOWN") == 0)
		fz_fail("a decoded record has an unknown type");
	check_file_line(&r);
	check_journal(&r);
	logd_metrics_record(&lm, &r);
	check_metrics();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;

	logd_metrics_init(&lm, "/nonexistent");
	while (off < size) {
		size_t rest = size - off, len = rest;
		uint8_t *msg;

		if (rest >= 4) {
			len = (size_t)data[off + 2] << 8 | data[off + 3];
			if (len == 0 || len > rest)
				len = rest;
		}
		/* Exactly len octets of its own, as mq_receive leaves it, so
		 * ASan sees any read past the message. */
		msg = malloc(len);
		if (msg == NULL)
			fz_fail("out of memory");
		memcpy(msg, data + off, len);
		one(msg, len);
		free(msg);
		off += len;
	}
	return 0;
}
