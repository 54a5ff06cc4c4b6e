/* pop3sctl ticket-key: writes a fresh session ticket key to
 * /run/pop3s/ticket-key (or --file), which pop3s@.service hands to every
 * session it starts from then on (EnvironmentFile=). Run as root by
 * pop3s-ticket-key.service, at start of pop3s.socket and by its timer.
 *
 * The file is replaced atomically (a temporary file of mode 0600 in the
 * same directory, synced, renamed over it): a session starting meanwhile
 * gets the old key or the new one, never a part. */
#include <errno.h>
#include <error.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include "ctl_config.h"
#include "ctl_ticket.h"
#include "fdio.h"
#include "ticket_key.h"

/* 64 octets from the kernel's random generator: the same as
 * gnutls_session_ticket_key_generate() makes, without linking GnuTLS. */
static int
random_key(unsigned char key[TICKET_KEY_SIZE])
{
	size_t got = 0;

	while (got < TICKET_KEY_SIZE) {
		ssize_t n = getrandom(key + got, TICKET_KEY_SIZE - got, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		got += (size_t)n;
	}
	return 0;
}

/* Splits path into its directory and name; creates the directory (mode
 * 0755, one level, like systemd-tmpfiles' "d") when it is missing. */
static int
prepare_dir(const char *path, char *dir, size_t dirlen, const char **name)
{
	int r = path_split(path, dir, dirlen, name);

	if (r < 0)
		return r;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int
ctl_ticket(const char *config_path, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ NULL, 0, NULL, 0 },
	};
	const char *path = TICKET_KEY_DEFAULT_FILE, *name;
	unsigned char key[TICKET_KEY_SIZE];
	char line[TICKET_KEY_LINE_MAX], dir[PATH_MAX];
	size_t len;
	int c, r;

	(void)config_path;   /* the key is not part of pop3s.conf */
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == 'f') {
			path = optarg;
		} else {
			error(0, 0, "ticket-key: unknown option or missing value: '%s'",
			      argv[optind - 1]);
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		error(0, 0, "ticket-key: unexpected argument '%s'", argv[optind]);
		return CTL_USAGE;
	}
	r = prepare_dir(path, dir, sizeof(dir), &name);
	if (r < 0) {
		error(0, -r, "ticket-key: %s", path);
		return CTL_ERR;
	}
	r = random_key(key);
	if (r < 0) {
		error(0, -r, "ticket-key: getrandom");
		return CTL_ERR;
	}
	len = ticket_key_line(key, line);
	explicit_bzero(key, sizeof(key));
	r = fd_replace_file(dir, name, line, len, 0600, NULL);
	explicit_bzero(line, sizeof(line));
	if (r < 0) {
		error(0, -r, "ticket-key: writing %s", path);
		return CTL_ERR;
	}
	printf("new TLS session ticket key in %s: sessions started from now on use it\n", path);
	return CTL_OK;
}
