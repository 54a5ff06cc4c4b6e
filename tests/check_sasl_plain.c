/* sasl_plain_decode: strict base64 and the RFC 4616 message rules. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "sasl_plain.h"
#include "testhelp.h"

/* Plain RFC 4648 encoder with padding, to build valid inputs. */
static char *
b64(const void *data, size_t len)
{
	static const char al[] =
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const unsigned char *p = data;
	char *out = malloc((len + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	ck_assert_ptr_nonnull(out);
	for (i = 0; i + 2 < len; i += 3) {
		*o++ = al[p[i] >> 2];
		*o++ = al[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = al[(p[i + 1] & 15) << 2 | p[i + 2] >> 6];
		*o++ = al[p[i + 2] & 63];
	}
	if (len - i == 1) {
		*o++ = al[p[i] >> 2];
		*o++ = al[(p[i] & 3) << 4];
		*o++ = '=';
		*o++ = '=';
	} else if (len - i == 2) {
		*o++ = al[p[i] >> 2];
		*o++ = al[(p[i] & 3) << 4 | p[i + 1] >> 4];
		*o++ = al[(p[i + 1] & 15) << 2];
		*o++ = '=';
	}
	*o = '\0';
	return out;
}

/* Decodes the base64 of msg (mlen octets, NULs included). */
static int
decode_msg(const char *msg, size_t mlen, struct sasl_plain *sp)
{
	char *e = b64(msg, mlen);
	int r = sasl_plain_decode(e, strlen(e), sp);

	free(e);
	return r;
}

#define MSG(s) (s), sizeof(s) - 1

START_TEST(test_valid)
{
	struct sasl_plain sp;

	ck_assert_int_eq(decode_msg(MSG("\0tim\0tanstaaftanstaaf"), &sp), 0);
	ck_assert_str_eq(sp.authzid, "");
	ck_assert_str_eq(sp.authcid, "tim");
	ck_assert_str_eq(sp.passwd, "tanstaaftanstaaf");

	ck_assert_int_eq(decode_msg(MSG("tim\0tim\0pw"), &sp), 0);
	ck_assert_str_eq(sp.authzid, "tim");
	ck_assert_str_eq(sp.authcid, "tim");
	ck_assert_str_eq(sp.passwd, "pw");

	/* RFC 4616 example, literally */
	ck_assert_int_eq(sasl_plain_decode(MSG("AHRpbQB0YW5zdGFhZnRhbnN0YWFm"), &sp), 0);
	ck_assert_str_eq(sp.authcid, "tim");
	ck_assert_str_eq(sp.passwd, "tanstaaftanstaaf");

	/* the three padding variants: 2, 1 and 0 '=' */
	ck_assert_int_eq(decode_msg(MSG("\0a\0b"), &sp), 0);    /* 4 octets */
	ck_assert_int_eq(decode_msg(MSG("\0a\0bc"), &sp), 0);   /* 5 octets */
	ck_assert_int_eq(decode_msg(MSG("\0a\0bcd"), &sp), 0);  /* 6 octets */
	ck_assert_str_eq(sp.passwd, "bcd");

	/* spaces and UTF-8 inside the password are data */
	ck_assert_int_eq(decode_msg(MSG("\0u\0p w \xc3\xa9"), &sp), 0);
	ck_assert_str_eq(sp.passwd, "p w \xc3\xa9");
	explicit_bzero(&sp, sizeof(sp));
}
END_TEST

START_TEST(test_bad_base64)
{
	static const char *const bad[] = {
		"",                               /* empty */
		"=",                              /* RFC 5034 empty response is not PLAIN */
		"AHRpbQB0YW5zdGFhZnRhbnN0YWFm=",  /* length not a multiple of 4 */
		"AHRpbQB0YW5zdGFhZnRhbnN0YWF",    /* missing padding */
		"AGEAYg",                         /* "\0a\0b" without "==" */
		"AGEAYmM",                        /* "\0a\0bc" without "=" */
		"AGEAYg=",                        /* one '=' where two are needed */
		"AGEA Yg==",                      /* whitespace */
		"AGEAYg==\r\n",                   /* trailing CRLF */
		" AGEAYg==",                      /* leading space */
		"AGEAYg==AGEA",                   /* data after padding */
		"AG=AYg==",                       /* '=' in the middle */
		"AGEAY===",                       /* three '=' */
		"====",                           /* only padding */
		"AGEAYh==",                       /* non-zero pad bits */
		"AGEAYmN=",                       /* non-zero pad bits */
		"AGEA-g==",                       /* base64url alphabet */
		"AGEA_g==",                       /* base64url alphabet */
		"AGEAYg=\x80",                    /* 8-bit octet */
	};
	struct sasl_plain sp;
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_msg(sasl_plain_decode(bad[i], strlen(bad[i]), &sp) == -EINVAL,
		              "accepted \"%s\"", bad[i]);
	/* a NUL octet inside the encoded text */
	ck_assert_int_eq(sasl_plain_decode("AGEA\0g==", 8, &sp), -EINVAL);
	/* the length is what counts, not a terminating NUL */
	ck_assert_int_eq(sasl_plain_decode("AGEAYg==XXXX", 8, &sp), 0);
	ck_assert_int_eq(sasl_plain_decode("AGEAYg==", 6, &sp), -EINVAL);
	ck_assert_int_eq(sasl_plain_decode(NULL, 0, &sp), -EINVAL);
}
END_TEST

START_TEST(test_bad_structure)
{
	struct sasl_plain sp;

	memset(&sp, 'x', sizeof(sp));
	ck_assert_int_eq(decode_msg(MSG("timpw"), &sp), -EINVAL);           /* 0 NULs */
	/* a failed decode leaves nothing behind */
	ck_assert_str_eq(sp.authcid, "");
	ck_assert_str_eq(sp.passwd, "");
	ck_assert_int_eq(decode_msg(MSG("tim\0pw"), &sp), -EINVAL);         /* 1 NUL */
	ck_assert_int_eq(decode_msg(MSG("\0tim\0p\0w"), &sp), -EINVAL);     /* 3 NULs */
	ck_assert_int_eq(decode_msg(MSG("\0tim\0pw\0"), &sp), -EINVAL);     /* trailing NUL */
	ck_assert_int_eq(decode_msg(MSG("\0\0pw"), &sp), -EINVAL);          /* empty authcid */
	ck_assert_int_eq(decode_msg(MSG("\0tim\0"), &sp), -EINVAL);         /* empty passwd */
	ck_assert_int_eq(decode_msg(MSG("\0\0"), &sp), -EINVAL);
	ck_assert_int_eq(decode_msg(MSG("bob\0tim\0pw"), &sp), -EINVAL);    /* authzid != authcid */
	ck_assert_int_eq(decode_msg(MSG("ti\0tim\0pw"), &sp), -EINVAL);     /* prefix */
	ck_assert_int_eq(decode_msg(MSG("timx\0tim\0pw"), &sp), -EINVAL);
	ck_assert_int_eq(decode_msg(MSG("Tim\0tim\0pw"), &sp), -EINVAL);    /* case matters */
}
END_TEST

/* Builds authzid NUL authcid NUL passwd with fields of the given sizes. */
static int
decode_sized(size_t zlen, size_t clen, size_t plen, struct sasl_plain *sp)
{
	size_t n = zlen + clen + plen + 2;
	char *m = malloc(n);
	int r;

	ck_assert_ptr_nonnull(m);
	memset(m, 'u', zlen);
	m[zlen] = '\0';
	memset(m + zlen + 1, 'u', clen);
	m[zlen + 1 + clen] = '\0';
	memset(m + zlen + clen + 2, 'p', plen);
	r = decode_msg(m, n, sp);
	free(m);
	return r;
}

START_TEST(test_field_lengths)
{
	struct sasl_plain sp;

	ck_assert_int_eq(decode_sized(0, 255, 255, &sp), 0);
	ck_assert_uint_eq(strlen(sp.authcid), 255);
	ck_assert_uint_eq(strlen(sp.passwd), 255);
	ck_assert_int_eq(decode_sized(255, 255, 255, &sp), 0);
	ck_assert_uint_eq(strlen(sp.authzid), 255);
	ck_assert_int_eq(decode_sized(0, 256, 1, &sp), -EINVAL);
	ck_assert_int_eq(decode_sized(0, 1, 256, &sp), -EINVAL);
	ck_assert_int_eq(decode_sized(256, 256, 1, &sp), -EINVAL);
	ck_assert_int_eq(decode_sized(0, 1, 2000, &sp), -EINVAL);   /* long input */
	ck_assert_int_eq(decode_sized(0, 1, 1, &sp), 0);
}
END_TEST

static Suite *
sasl_plain_suite(void)
{
	Suite *s = suite_create("sasl_plain");
	TCase *tc = tcase_create("Core");

	tcase_add_test(tc, test_valid);
	tcase_add_test(tc, test_bad_base64);
	tcase_add_test(tc, test_bad_structure);
	tcase_add_test(tc, test_field_lengths);
	suite_add_tcase(s, tc);
	return s;
}

TH_MAIN(sasl_plain_suite)
