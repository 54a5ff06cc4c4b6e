/* base64.c (RFC 4648 test vectors, strictness, the size bound) and
 * fdio.c's path_split. */
#include <errno.h>
#include <string.h>
#include "base64.h"
#include "fdio.h"
#include "testhelp.h"

/* RFC 4648 section 10 */
static const struct {
	const char *plain, *text;
} vectors[] = {
	{ "f", "Zg==" },         { "fo", "Zm8=" },         { "foo", "Zm9v" },
	{ "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
};

START_TEST(test_vectors)
{
	const char *plain = vectors[_i].plain, *text = vectors[_i].text;
	char enc[16];
	unsigned char dec[16];

	base64_encode((const unsigned char *)plain, strlen(plain), enc);
	ck_assert_str_eq(enc, text);
	ck_assert_uint_eq(strlen(enc), BASE64_LEN(strlen(plain)));
	ck_assert_int_eq(base64_decode(text, strlen(text), dec, sizeof(dec)), (int)strlen(plain));
	ck_assert_mem_eq(dec, plain, strlen(plain));
}
END_TEST

/* Every octet value at every position of a quantum survives the trip. */
START_TEST(test_round_trip)
{
	unsigned char in[256], out[256];
	char text[BASE64_LEN(256) + 1];
	size_t n, i;

	for (i = 0; i < sizeof(in); i++)
		in[i] = (unsigned char)(255 - i);
	for (n = 1; n <= sizeof(in); n++) {
		base64_encode(in + sizeof(in) - n, n, text);
		ck_assert_int_eq(base64_decode(text, strlen(text), out, sizeof(out)), (int)n);
		ck_assert_mem_eq(out, in + sizeof(in) - n, n);
	}
}
END_TEST

static const char *const invalid[] = {
	"",          /* nothing */
	"Zg=",       /* not a multiple of 4 */
	"Zg",        /* unpadded */
	"Z===",      /* three '=' */
	"====",      /* padding only */
	"Zg=a",      /* data after padding */
	"Zg==Zg==",  /* padding before the end */
	"Zh==",      /* unused bits set: only "Zg==" encodes "f" */
	"Zm9=",      /* unused bits set: only "Zm8=" encodes "fo" */
	"Zm9v\n",    /* a line break */
	"Zm 9",      /* a blank */
	"Zm-9",      /* the URL-safe alphabet */
	"Zm_9",
};

START_TEST(test_invalid)
{
	unsigned char out[16];

	ck_assert_msg(base64_decode(invalid[_i], strlen(invalid[_i]), out, sizeof(out)) == -EINVAL,
	              "'%s'", invalid[_i]);
}
END_TEST

START_TEST(test_capacity)
{
	unsigned char out[6];

	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 6), 6);
	ck_assert_int_eq(base64_decode("Zm9vYmFy", 8, out, 5), -EMSGSIZE);
	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, out, 4), 4);
	ck_assert_int_eq(base64_decode("Zm9vYg==", 8, out, 3), -EMSGSIZE);
	ck_assert_int_eq(base64_decode("Zg==", 4, out, 0), -EMSGSIZE);
	/* a bad character is reported as such even past the bound */
	ck_assert_int_eq(base64_decode("Zm9v*mFy", 8, out, 6), -EINVAL);
}
END_TEST

START_TEST(test_path_split)
{
	char dir[16];
	const char *name;

	ck_assert_int_eq(path_split("/run/pop3s/ticket-key", dir, sizeof(dir), &name), 0);
	ck_assert_str_eq(dir, "/run/pop3s");
	ck_assert_str_eq(name, "ticket-key");
	ck_assert_int_eq(path_split("/users", dir, sizeof(dir), &name), 0);
	ck_assert_str_eq(dir, "/");
	ck_assert_str_eq(name, "users");
	ck_assert_int_eq(path_split("users", dir, sizeof(dir), &name), 0);
	ck_assert_str_eq(dir, ".");
	ck_assert_str_eq(name, "users");
	ck_assert_int_eq(path_split("etc/pop3s/", dir, sizeof(dir), &name), -EISDIR);
	ck_assert_int_eq(path_split("/", dir, sizeof(dir), &name), -EISDIR);
	ck_assert_int_eq(path_split("/0123456789abcdef/x", dir, sizeof(dir), &name), -ENAMETOOLONG);
	ck_assert_int_eq(path_split("/0123456789abcde/x", dir, sizeof(dir), &name), -ENAMETOOLONG);
	ck_assert_int_eq(path_split("/0123456789abcd/x", dir, sizeof(dir), &name), 0);
	ck_assert_str_eq(dir, "/0123456789abcd");
}
END_TEST

static Suite *
base64_suite(void)
{
	Suite *s = suite_create("base64");
	TCase *tc = tcase_create("Core");

	tcase_add_loop_test(tc, test_vectors, 0, sizeof(vectors) / sizeof(vectors[0]));
	tcase_add_test(tc, test_round_trip);
	tcase_add_loop_test(tc, test_invalid, 0, sizeof(invalid) / sizeof(invalid[0]));
	tcase_add_test(tc, test_capacity);
	tcase_add_test(tc, test_path_split);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(base64_suite)
