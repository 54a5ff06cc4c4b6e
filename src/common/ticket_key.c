/* The shared TLS session ticket key: base64 text, the EnvironmentFile=
 * line, and taking it out of the environment. See ticket_key.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base64.h"
#include "ticket_key.h"

void
ticket_key_encode(const unsigned char key[TICKET_KEY_SIZE], char *out)
{
	base64_encode(key, TICKET_KEY_SIZE, out);
}

int
ticket_key_decode(const char *text, unsigned char key[TICKET_KEY_SIZE])
{
	int r = base64_decode(text, strlen(text), key, TICKET_KEY_SIZE);

	if (r >= 0 && r != TICKET_KEY_SIZE)
		r = -EMSGSIZE;
	if (r < 0) {
		explicit_bzero(key, TICKET_KEY_SIZE);
		return r;
	}
	return 0;
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
