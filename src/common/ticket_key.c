/* The shared TLS session ticket key: base64 text, the EnvironmentFile=
 * line, and taking it out of the environment. See ticket_key.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "ticket_key.h"

static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

void
ticket_key_encode(const unsigned char key[TICKET_KEY_SIZE], char *out)
{
	size_t i, o = 0;

	for (i = 0; i < TICKET_KEY_SIZE; i += 3) {
		unsigned v = (unsigned)key[i] << 16;
		size_t n = TICKET_KEY_SIZE - i;

		if (n > 1)
			v |= (unsigned)key[i + 1] << 8;
		if (n > 2)
			v |= key[i + 2];
		out[o++] = b64[(v >> 18) & 63];
		out[o++] = b64[(v >> 12) & 63];
		out[o++] = n > 1 ? b64[(v >> 6) & 63] : '=';
		out[o++] = n > 2 ? b64[v & 63] : '=';
	}
	out[o] = '\0';
}

/* The value of a base64 character, or -1. */
static int
b64_value(char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '+')
		return 62;
	if (c == '/')
		return 63;
	return -1;
}

int
ticket_key_decode(const char *text, unsigned char key[TICKET_KEY_SIZE])
{
	size_t len = strlen(text), i, o = 0;
	int r = 0;

	if (len == 0 || len % 4 != 0)
		return -EINVAL;
	for (i = 0; i < len && r == 0; i += 4) {
		int v[4], k, pad = 0;
		unsigned bits = 0;

		for (k = 0; k < 4; k++) {
			if (text[i + k] == '=' && i + 4 == len && k >= 2) {
				v[k] = 0;
				pad++;
				continue;
			}
			v[k] = pad ? -1 : b64_value(text[i + k]);
			if (v[k] < 0) {
				r = -EINVAL;
				break;
			}
			bits = bits << 6 | (unsigned)v[k];
		}
		if (r < 0)
			break;
		bits <<= 6 * pad;
		for (k = 0; k < 3 - pad; k++) {
			if (o == TICKET_KEY_SIZE) {
				r = -EMSGSIZE;
				break;
			}
			key[o++] = (unsigned char)(bits >> (16 - 8 * k));
		}
		explicit_bzero(&bits, sizeof(bits));
	}
	if (r == 0 && o != TICKET_KEY_SIZE)
		r = -EMSGSIZE;
	if (r < 0)
		explicit_bzero(key, TICKET_KEY_SIZE);
	return r;
}

int
ticket_key_take_env(unsigned char key[TICKET_KEY_SIZE], char *err, size_t errlen)
{
	char *val = getenv(TICKET_KEY_ENV), *entry;
	size_t entry_len;
	int r;

	if (val == NULL)
		return 0;
	if (val[0] == '\0') {
		unsetenv(TICKET_KEY_ENV);
		return 0;
	}
	r = ticket_key_decode(val, key);
	/* The value lives in the process's initial environment block (the
	 * stack, shown by /proc/PID/environ) or in a string putenv/setenv
	 * stored: either way "NAME=value" in one piece. Overwrite all of it
	 * where it is, once unsetenv has dropped the variable (by name; glibc
	 * never frees environment strings). */
	entry = val - sizeof(TICKET_KEY_ENV);
	entry_len = sizeof(TICKET_KEY_ENV) + strlen(val);
	unsetenv(TICKET_KEY_ENV);
	explicit_bzero(entry, entry_len);
	if (r < 0) {
		snprintf(err, errlen, "%s (from %s): %s", TICKET_KEY_ENV, TICKET_KEY_DEFAULT_FILE,
		         r == -EMSGSIZE ? "wrong length (not a key of 64 octets)" : "not valid base64");
		return r;
	}
	return 1;
}

size_t
ticket_key_line(const unsigned char key[TICKET_KEY_SIZE], char *line)
{
	char text[TICKET_KEY_B64_LEN + 1];
	int n;

	ticket_key_encode(key, text);
	n = snprintf(line, TICKET_KEY_LINE_MAX, "%s=%s\n", TICKET_KEY_ENV, text);
	explicit_bzero(text, sizeof(text));
	return (size_t)n;
}
