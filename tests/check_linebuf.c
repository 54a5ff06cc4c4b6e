#include <string.h>
#include "linebuf.h"
#include "testhelp.h"

/* Feeds data in chunks of at most chunk octets and collects every line as
 * "text|flags;" so whole sequences compare as one string. */
static void
feed(struct linebuf *lb, const char *data, size_t len, size_t chunk, char *out, size_t outcap)
{
	size_t off = 0;

	out[0] = '\0';
	while (off < len) {
		size_t room, n;
		char *dst = linebuf_space(lb, &room);
		char *line;
		size_t llen;
		unsigned flags;

		ck_assert_uint_gt(room, 0);
		n = len - off < chunk ? len - off : chunk;
		if (n > room)
			n = room;
		memcpy(dst, data + off, n);
		linebuf_commit(lb, n);
		off += n;
		while (linebuf_next(lb, &line, &llen, &flags)) {
			char item[2100];

			ck_assert_uint_eq(strlen(line) <= llen, 1);
			snprintf(item, sizeof(item), "%.*s|%u;", (int)(llen > 2000 ? 2000 : llen),
			         line, flags);
			for (size_t i = 0; item[i]; i++)
				if (item[i] == '\0')
					item[i] = '0';
			strncat(out, item, outcap - strlen(out) - 1);
		}
	}
}

static const struct {
	const char *in;
	const char *out;
} rows[] = {
	{ "USER a\r\n", "USER a|0;" },
	{ "USER a\n", "USER a|0;" },
	{ "USER a", "" },
	{ "\r\n", "|0;" },
	{ "STAT\r\nLIST\r\nQUIT\r\n", "STAT|0;LIST|0;QUIT|0;" },
	{ "a\rb\r\n", "a\rb|4;" },
	{ "a\r\r\n", "a\r|4;" },
	{ "\r\r\n\n", "\r|4;|0;" },
};

START_TEST(test_table)
{
	static const size_t chunks[] = { 1, 2, 3, 7, 4096 };
	size_t i;

	for (i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct linebuf lb;
		char out[4096];

		linebuf_init(&lb);
		feed(&lb, rows[_i].in, strlen(rows[_i].in), chunks[i], out, sizeof(out));
		ck_assert_msg(strcmp(out, rows[_i].out) == 0, "row %d chunk %zu: got '%s'", _i,
		              chunks[i], out);
	}
}
END_TEST

START_TEST(test_nul)
{
	struct linebuf lb;
	char *line;
	size_t len, room;
	unsigned flags;
	char *dst;

	linebuf_init(&lb);
	dst = linebuf_space(&lb, &room);
	memcpy(dst, "US\0ER\r\nNOOP\r\n", 13);
	linebuf_commit(&lb, 13);
	ck_assert(linebuf_has_line(&lb));
	ck_assert(linebuf_next(&lb, &line, &len, &flags));
	ck_assert_uint_eq(len, 5);
	ck_assert_uint_eq(flags, LINEBUF_NUL);
	ck_assert(linebuf_has_line(&lb));
	ck_assert(linebuf_next(&lb, &line, &len, &flags));
	ck_assert_str_eq(line, "NOOP");
	ck_assert_uint_eq(flags, 0);
	ck_assert(!linebuf_has_line(&lb));
	ck_assert(!linebuf_next(&lb, &line, &len, &flags));
}
END_TEST

/* A line far longer than the buffer is reported once and the next line
 * comes out intact: the buffer never grows. */
START_TEST(test_too_long)
{
	static const size_t sizes[] = { LINEBUF_SIZE - 2, LINEBUF_SIZE - 1, LINEBUF_SIZE,
	                                LINEBUF_SIZE + 1, 3 * LINEBUF_SIZE, 1000000 };
	size_t i;

	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct linebuf lb;
		size_t n = sizes[i];
		char *data = malloc(n + 20);
		char out[4096];
		char want[4096];

		memset(data, 'x', n);
		memcpy(data + n, "\r\nNOOP\r\n", 8);
		linebuf_init(&lb);
		feed(&lb, data, n + 8, 700, out, sizeof(out));
		if (n + 2 <= LINEBUF_SIZE) {
			/* fits, CRLF included */
			ck_assert_msg(strncmp(out, "xxxx", 4) == 0, "size %zu: %s", n, out);
		} else {
			snprintf(want, sizeof(want), "|%u;NOOP|0;", LINEBUF_TOO_LONG);
			ck_assert_msg(strcmp(out, want) == 0, "size %zu: got '%s'", n, out);
		}
		free(data);
	}
}
END_TEST

static Suite *
linebuf_suite(void)
{
	Suite *s = suite_create("linebuf");
	TCase *core = tcase_create("Core");
	TCase *limits = tcase_create("Limits");

	tcase_add_loop_test(core, test_table, 0, sizeof(rows) / sizeof(rows[0]));
	tcase_add_test(core, test_nul);
	tcase_add_test(limits, test_too_long);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}

TH_MAIN(linebuf_suite)
