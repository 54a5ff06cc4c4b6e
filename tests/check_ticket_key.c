/* The shared session ticket key (ticket_key.c): base64 both ways, the
 * EnvironmentFile= line, and taking the key out of the environment. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <gnutls/gnutls.h>
#include "testhelp.h"
#include "ticket_key.h"

static void
sample(unsigned char key[TICKET_KEY_SIZE])
{
	int i;

	for (i = 0; i < TICKET_KEY_SIZE; i++)
		key[i] = (unsigned char)(i * 37 + 11);
}

/* The encoding is standard base64: the same text GnuTLS's own encoder
 * gives, and it decodes back to the key. */
START_TEST(test_round_trip)
{
	unsigned char key[TICKET_KEY_SIZE], back[TICKET_KEY_SIZE];
	char text[TICKET_KEY_B64_LEN + 1];
	gnutls_datum_t in = { key, TICKET_KEY_SIZE }, ref = { NULL, 0 };

	sample(key);
	ticket_key_encode(key, text);
	ck_assert_uint_eq(strlen(text), 88);
	ck_assert(gnutls_base64_encode2(&in, &ref) == 0);
	ck_assert_uint_eq(ref.size, strlen(text));
	ck_assert(memcmp(ref.data, text, ref.size) == 0);
	gnutls_free(ref.data);
	ck_assert_int_eq(ticket_key_decode(text, back), 0);
	ck_assert(memcmp(key, back, sizeof(key)) == 0);
}
END_TEST

/* A key GnuTLS generated is accepted as it is. */
START_TEST(test_gnutls_key)
{
	gnutls_datum_t k = { NULL, 0 }, b = { NULL, 0 };
	unsigned char back[TICKET_KEY_SIZE];
	char *text;

	ck_assert(gnutls_session_ticket_key_generate(&k) == 0);
	ck_assert_uint_eq(k.size, TICKET_KEY_SIZE);
	ck_assert(gnutls_base64_encode2(&k, &b) == 0);
	text = strndup((char *)b.data, b.size);
	ck_assert_int_eq(ticket_key_decode(text, back), 0);
	ck_assert(memcmp(k.data, back, TICKET_KEY_SIZE) == 0);
	free(text);
	gnutls_free(b.data);
	gnutls_free(k.data);
}
END_TEST

/* Wrong lengths: valid base64 of 63 or 65 octets, or of 48 (a key of
 * another size). */
START_TEST(test_wrong_length)
{
	unsigned char raw[80], key[TICKET_KEY_SIZE];
	gnutls_datum_t in = { raw, 0 }, b = { NULL, 0 };
	size_t sizes[] = { 63, 65, 48, 1, 66 };
	size_t i;
	char *text;

	memset(raw, 0xa5, sizeof(raw));
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		in.size = (unsigned)sizes[i];
		ck_assert(gnutls_base64_encode2(&in, &b) == 0);
		text = strndup((char *)b.data, b.size);
		memset(key, 0x5a, sizeof(key));
		ck_assert_msg(ticket_key_decode(text, key) == -EMSGSIZE, "%zu octets", sizes[i]);
		/* nothing of a rejected key is left */
		for (size_t j = 0; j < sizeof(key); j++)
			ck_assert_uint_eq(key[j], 0);
		free(text);
		gnutls_free(b.data);
		b.data = NULL;
	}
}
END_TEST

START_TEST(test_bad_base64)
{
	unsigned char key[TICKET_KEY_SIZE];
	char text[TICKET_KEY_B64_LEN + 1], bad[TICKET_KEY_B64_LEN + 2];
	const char *cases[] = { "", "abc", "ab=c", "====", "a===", "ab==ab==", "a b=" };
	size_t i;

	sample(key);
	ticket_key_encode(key, text);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		ck_assert_msg(ticket_key_decode(cases[i], key) == -EINVAL, "'%s'", cases[i]);
	/* one character outside the alphabet; a trailing newline; one missing */
	memcpy(bad, text, sizeof(text));
	bad[10] = '-';
	ck_assert_int_eq(ticket_key_decode(bad, key), -EINVAL);
	snprintf(bad, sizeof(bad), "%s\n", text);
	ck_assert_int_eq(ticket_key_decode(bad, key), -EINVAL);
	memcpy(bad, text, sizeof(text));
	bad[TICKET_KEY_B64_LEN - 1] = '\0';
	ck_assert_int_eq(ticket_key_decode(bad, key), -EINVAL);
	/* the padding only at the end */
	memcpy(bad, text, sizeof(text));
	bad[5] = '=';
	ck_assert_int_eq(ticket_key_decode(bad, key), -EINVAL);
}
END_TEST

START_TEST(test_line)
{
	unsigned char key[TICKET_KEY_SIZE];
	char line[TICKET_KEY_LINE_MAX], text[TICKET_KEY_B64_LEN + 1];
	size_t n;

	sample(key);
	ticket_key_encode(key, text);
	n = ticket_key_line(key, line);
	ck_assert_uint_eq(n, strlen("POP3S_TICKET_KEY=") + 88 + 1);
	ck_assert_uint_lt(n, sizeof(line));
	ck_assert(strncmp(line, "POP3S_TICKET_KEY=", 17) == 0);
	ck_assert(memcmp(line + 17, text, 88) == 0);
	ck_assert_int_eq(line[n - 1], '\n');
}
END_TEST

/* The variable's value is wiped where it is stored, and the variable is
 * gone from the environment: as in a real start, where the value sits in
 * the initial environment block that /proc/PID/environ shows. */
START_TEST(test_take_env)
{
	unsigned char key[TICKET_KEY_SIZE], got[TICKET_KEY_SIZE];
	char text[TICKET_KEY_B64_LEN + 1], err[256] = "";
	static char var[sizeof("POP3S_TICKET_KEY=") + TICKET_KEY_B64_LEN];
	char *value;

	sample(key);
	ticket_key_encode(key, text);
	snprintf(var, sizeof(var), "POP3S_TICKET_KEY=%s", text);
	ck_assert_int_eq(putenv(var), 0);   /* the environment holds var itself */
	value = var + strlen("POP3S_TICKET_KEY=");
	ck_assert_int_eq(ticket_key_take_env(got, err, sizeof(err)), 1);
	ck_assert(memcmp(key, got, sizeof(key)) == 0);
	ck_assert_ptr_null(getenv("POP3S_TICKET_KEY"));
	/* name and value: nothing of "POP3S_TICKET_KEY=..." is left */
	for (size_t i = 0; i < sizeof(var); i++)
		ck_assert_int_eq(var[i], '\0');
	ck_assert_ptr_eq(value, var + 17);
	/* taken once only */
	ck_assert_int_eq(ticket_key_take_env(got, err, sizeof(err)), 0);
}
END_TEST

START_TEST(test_take_env_absent_malformed)
{
	unsigned char got[TICKET_KEY_SIZE];
	char err[256] = "";
	static char var[] = "POP3S_TICKET_KEY=c2VjcmV0LXNlY3JldA==";

	unsetenv("POP3S_TICKET_KEY");
	ck_assert_int_eq(ticket_key_take_env(got, err, sizeof(err)), 0);
	ck_assert_str_eq(err, "");
	setenv("POP3S_TICKET_KEY", "", 1);
	ck_assert_int_eq(ticket_key_take_env(got, err, sizeof(err)), 0);
	ck_assert_ptr_null(getenv("POP3S_TICKET_KEY"));

	ck_assert_int_eq(putenv(var), 0);
	ck_assert_int_eq(ticket_key_take_env(got, err, sizeof(err)), -EMSGSIZE);
	ck_assert_str_eq(err, "POP3S_TICKET_KEY (from /run/pop3s/ticket-key): "
	                      "wrong length (not a key of 64 octets)");
	ck_assert_ptr_null(getenv("POP3S_TICKET_KEY"));
	ck_assert_int_eq(var[0], '\0');   /* wiped even when malformed */
	ck_assert(memchr(var, 'c', sizeof(var) - 1) == NULL);

	setenv("POP3S_TICKET_KEY", "not base64!", 1);
	ck_assert_int_eq(ticket_key_take_env(got, err, sizeof(err)), -EINVAL);
	ck_assert_str_eq(err, "POP3S_TICKET_KEY (from /run/pop3s/ticket-key): not valid base64");
	ck_assert_ptr_null(getenv("POP3S_TICKET_KEY"));
}
END_TEST

static Suite *
ticket_key_suite(void)
{
	Suite *s = suite_create("ticket_key");
	TCase *tc = tcase_create("Core");

	tcase_add_test(tc, test_round_trip);
	tcase_add_test(tc, test_gnutls_key);
	tcase_add_test(tc, test_wrong_length);
	tcase_add_test(tc, test_bad_base64);
	tcase_add_test(tc, test_line);
	tcase_add_test(tc, test_take_env);
	tcase_add_test(tc, test_take_env_absent_malformed);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(ticket_key_suite)
