#include <stdbool.h>
#include <stddef.h>
#include "username.h"

bool
username_valid(const char *name, size_t len)
{
	size_t i;

	/* A leading '.' would name a hidden (or the parent) directory; a
	 * leading '#' would make the users file line a comment. */
	if (name == NULL || len == 0 || len > USERNAME_MAX || name[0] == '.' || name[0] == '#')
		return false;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];

		/* Printable ASCII only: no controls, no space, no 8-bit. '/'
		 * and '\\' could build paths, ':' separates the users file. */
		if (c < 0x21 || c > 0x7e || c == '/' || c == '\\' || c == ':')
			return false;
	}
	return true;
}
