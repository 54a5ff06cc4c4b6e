/* pop3sctl user: the users file (through users_db.c) and the mailboxes.
 *
 * Passwords are read from the terminal without echo, or one line from
 * standard input with --stdin; they are hashed with yescrypt at once and
 * wiped, and never printed. A user is deleted only while no session holds
 * the mailbox lock (the flock a session keeps on HOME/NAME, see
 * mbox_lock.c); the lock is held by pop3sctl from the check to the end of
 * the deletion, so no login can get in between. */
#include <crypt.h>
#include <dirent.h>
#include <errno.h>
#include <error.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>
#include "config.h"
#include "ctl_config.h"
#include "ctl_user.h"
#include "username.h"
#include "users_db.h"

/* A POP3 client sends a password in PASS or AUTH PLAIN, at most 255
 * octets either way (RFC 2449, RFC 4616); a longer one could never log in. */
#define PASSWORD_MAX 255
#define SESSION_USER "pop3s"
#define TREE_DEPTH_MAX 16
#define WHAT_MAX (PATH_MAX + 128)

/* The name as given, safe to print: non-printable octets become '?'. */
static const char *
printable(const char *s, char *buf, size_t len)
{
	size_t i;

	for (i = 0; s[i] != '\0' && i + 1 < len; i++)
		buf[i] = (s[i] < 0x20 || s[i] == 0x7f) ? '?' : s[i];
	buf[i] = '\0';
	return buf;
}

static bool
check_name(const char *name)
{
	char shown[USERNAME_MAX * 2];

	if (username_valid(name, strlen(name)))
		return true;
	error(0, 0, "invalid user name '%s': 1 to %d printable ASCII characters other than "
	      "'/', '\\' and ':', not starting with '.' or '#'", printable(name, shown, sizeof(shown)),
	      USERNAME_MAX);
	return false;
}

/* --- passwords ---------------------------------------------------------------- */

/* Reads one line from fd octet by octet, so that no copy of the password
 * stays in a stdio buffer. Returns its length, -EMSGSIZE if longer than
 * cap - 1 (the rest of the line is read and dropped), -ENODATA at end of
 * input before a newline and with nothing read, -EILSEQ for a NUL or CR,
 * -EINTR, or -errno. */
static ssize_t
read_password_line(int fd, char *buf, size_t cap)
{
	size_t n = 0;
	int bad = 0;
	char c;

	for (;;) {
		ssize_t r = read(fd, &c, 1);

		if (r < 0)
			return -errno;
		if (r == 0) {
			if (n == 0 && bad == 0)
				return -ENODATA;
			break;
		}
		if (c == '\n')
			break;
		if (c == '\0' || c == '\r')
			bad = bad ? bad : -EILSEQ;
		else if (n + 1 < cap)
			buf[n++] = c;
		else
			bad = -EMSGSIZE;
	}
	buf[n] = '\0';
	c = 0;
	return bad ? bad : (ssize_t)n;
}

static volatile sig_atomic_t interrupted;

static void
on_signal(int sig)
{
	interrupted = sig;
}

/* Catches the signals that would otherwise leave the terminal without
 * echo; the read then fails with EINTR (no SA_RESTART). */
static void
catch_signals(struct sigaction *old)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	struct sigaction sa;
	size_t i;

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &sa, &old[i]);
}

static void
restore_signals(const struct sigaction *old)
{
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGTSTP };
	size_t i;

	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaction(sigs[i], &old[i], NULL);
}

/* Prompts on the terminal with echo off and reads one line. */
static ssize_t
ask(int tty, const char *prompt, char *buf, size_t cap)
{
	ssize_t r;

	if (write(tty, prompt, strlen(prompt)) < 0)
		return -errno;
	r = read_password_line(tty, buf, cap);
	/* the typed newline was not echoed */
	(void)!write(tty, "\n", 1);
	return r;
}

/* Asks twice on /dev/tty; both answers must match. */
static ssize_t
ask_twice(int tty, const char *user, char *pw, size_t cap)
{
	char again[PASSWORD_MAX + 1], prompt[USERNAME_MAX + 32];
	ssize_t r;

	snprintf(prompt, sizeof(prompt), "New password for %s: ", user);
	r = ask(tty, prompt, pw, cap);
	if (r >= 0) {
		ssize_t r2 = ask(tty, "Retype the new password: ", again, sizeof(again));

		if (r2 < 0)
			r = r2;
		else if (strcmp(pw, again) != 0)
			r = -EKEYREJECTED;
	}
	explicit_bzero(again, sizeof(again));
	return r;
}

static ssize_t
password_from_tty(const char *user, char *pw, size_t cap)
{
	struct sigaction old[5];
	struct termios saved, quiet;
	ssize_t r;
	int tty;

	tty = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (tty < 0)
		return -ENOTTY;
	if (tcgetattr(tty, &saved) < 0) {
		close(tty);
		return -ENOTTY;
	}
	quiet = saved;
	quiet.c_lflag &= ~(tcflag_t)(ECHO | ECHOE | ECHOK);
	quiet.c_lflag |= ICANON;
	interrupted = 0;
	catch_signals(old);
	if (tcsetattr(tty, TCSAFLUSH, &quiet) < 0) {
		r = -errno;
	} else {
		r = ask_twice(tty, user, pw, cap);
		(void)tcsetattr(tty, TCSAFLUSH, &saved);
	}
	restore_signals(old);
	close(tty);
	if (interrupted)
		r = -EINTR;
	return r;
}

/* The new password, from stdin or the terminal; reports its own errors. */
static int
get_password(const char *user, bool from_stdin, char *pw, size_t cap)
{
	ssize_t r = from_stdin ? read_password_line(STDIN_FILENO, pw, cap)
	                       : password_from_tty(user, pw, cap);

	if (r == 0)
		r = -EBADSLT;   /* only used here: "empty" */
	if (r >= 0)
		return 0;
	explicit_bzero(pw, cap);
	switch (r) {
	case -ENOTTY:
		error(0, 0, "no terminal to ask for the password on: use --stdin and give it "
		      "on standard input");
		break;
	case -EKEYREJECTED:
		error(0, 0, "the passwords do not match; nothing changed");
		break;
	case -EMSGSIZE:
		error(0, 0, "password longer than %d octets; nothing changed", PASSWORD_MAX);
		break;
	case -EILSEQ:
		error(0, 0, "password contains a NUL or CR; nothing changed");
		break;
	case -EBADSLT:
		error(0, 0, "empty password; nothing changed");
		break;
	case -ENODATA:
		error(0, 0, "no password on %s; nothing changed",
		      from_stdin ? "standard input" : "the terminal");
		break;
	case -EINTR:
		error(0, 0, "interrupted; nothing changed");
		break;
	default:
		error(0, (int)-r, "cannot read the password");
	}
	return (int)r;
}

/* yescrypt with libxcrypt's default cost and a random salt. */
static int
make_hash(const char *pw, char *hash, size_t cap)
{
	char salt[CRYPT_GENSALT_OUTPUT_SIZE];
	struct crypt_data *data;
	const char *out;
	int r = 0;

	if (crypt_gensalt_rn("$y$", 0, NULL, 0, salt, sizeof(salt)) == NULL)
		return errno ? -errno : -EINVAL;
	/* 32 KiB: on the heap */
	data = calloc(1, sizeof(*data));
	if (data == NULL)
		return -ENOMEM;
	out = crypt_rn(pw, salt, data, (int)sizeof(*data));
	if (out == NULL || out[0] == '*')
		r = errno ? -errno : -EINVAL;
	else if (snprintf(hash, cap, "%s", out) >= (int)cap)
		r = -ENOBUFS;
	explicit_bzero(data, sizeof(*data));
	free(data);
	return r;
}

/* Asks for the password and hashes it; the password never leaves here. */
static int
new_hash(const char *user, bool from_stdin, char *hash, size_t cap)
{
	char pw[PASSWORD_MAX + 1];
	int r;

	r = get_password(user, from_stdin, pw, sizeof(pw));
	if (r < 0)
		return r;
	r = make_hash(pw, hash, cap);
	explicit_bzero(pw, sizeof(pw));
	if (r < 0)
		error(0, -r, "cannot hash the password");
	return r;
}

/* --- mailboxes ------------------------------------------------------------------ */

/* Makes name in dfd (mode 0700) unless it exists, opens it without
 * following a link, and gives a directory it created to the session
 * user (pw, if any). Returns the descriptor or -errno. */
static int
make_dir(int dfd, const char *name, const struct passwd *pw)
{
	bool created = mkdirat(dfd, name, 0700) == 0;
	int fd;

	if (!created && errno != EEXIST)
		return -errno;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (created && (fchmod(fd, 0700) < 0 ||
	                (pw != NULL && fchown(fd, pw->pw_uid, pw->pw_gid) < 0))) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* HOME/user/{cur,new,tmp}; existing directories are left as they are. */
static int
mailbox_create(const char *home, const char *user, char *what, size_t len)
{
	static const char *const subdirs[] = { "cur", "new", "tmp" };
	const struct passwd *pw = getpwnam(SESSION_USER);
	int hfd, ufd, fd;
	size_t i;

	snprintf(what, len, "%s", home);
	hfd = open(home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hfd < 0)
		return -errno;
	snprintf(what, len, "%s/%s", home, user);
	ufd = make_dir(hfd, user, pw);
	close(hfd);
	if (ufd < 0)
		return ufd;
	for (i = 0; i < sizeof(subdirs) / sizeof(subdirs[0]); i++) {
		snprintf(what, len, "%s/%s/%s", home, user, subdirs[i]);
		fd = make_dir(ufd, subdirs[i], pw);
		if (fd < 0) {
			close(ufd);
			return fd;
		}
		close(fd);
	}
	close(ufd);
	if (pw == NULL)
		fprintf(stderr, "pop3sctl: note: there is no user '%s' on this system: "
		        "%s/%s keeps its owner; sessions must be able to write it\n",
		        SESSION_USER, home, user);
	return 0;
}

/*
 * Opens HOME/user and takes the lock a session holds while it is logged
 * in, without waiting. *ret_fd is -1 if there is no mailbox. Returns 0,
 * -EBUSY if a session holds the lock, or -errno. Closing *ret_fd releases
 * the lock.
 */
static int
mailbox_lock(int hfd, const char *user, int *ret_fd)
{
	int fd = openat(hfd, user, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	*ret_fd = -1;
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	while (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int r = errno == EWOULDBLOCK ? -EBUSY : -errno;

		if (r == -EINTR)
			continue;
		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

static int rm_children(int dfd, unsigned depth, char *what, size_t len);

/* Removes one entry of dfd, a directory with everything in it. Symbolic
 * links are removed, never followed; a directory replaced by a link
 * meanwhile fails to open (O_NOFOLLOW). */
static int
rm_entry(int dfd, const char *name, unsigned char type, unsigned depth, char *what, size_t len)
{
	struct stat sb;
	int fd, r;

	if (type == DT_UNKNOWN) {
		if (fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0)
			return errno == ENOENT ? 0 : -errno;
		type = S_ISDIR(sb.st_mode) ? DT_DIR : DT_REG;
	}
	if (type != DT_DIR)
		return unlinkat(dfd, name, 0) < 0 && errno != ENOENT ? -errno : 0;
	if (depth >= TREE_DEPTH_MAX)
		return -ELOOP;
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = rm_children(fd, depth + 1, what, len);
	close(fd);
	if (r == 0 && unlinkat(dfd, name, AT_REMOVEDIR) < 0)
		r = -errno;
	return r;
}

/* One pass over dfd; *removed counts what went. */
static int
rm_pass(int dfd, unsigned depth, char *what, size_t len, unsigned *removed)
{
	struct dirent *de;
	int fd, r = 0;
	DIR *d;

	fd = openat(dfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (d == NULL) {
		r = -errno;
		close(fd);
		return r;
	}
	while (r == 0 && (errno = 0, de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		r = rm_entry(dfd, de->d_name, de->d_type, depth, what, len);
		if (r < 0 && what[0] == '\0')
			snprintf(what, len, "%s", de->d_name);
		(*removed)++;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

/* Empties dfd. Entries removed during readdir may make it skip others,
 * so passes go on until one finds nothing left. */
static int
rm_children(int dfd, unsigned depth, char *what, size_t len)
{
	unsigned removed, passes = 0;
	int r;

	do {
		removed = 0;
		r = rm_pass(dfd, depth, what, len, &removed);
	} while (r == 0 && removed > 0 && ++passes < 100);
	return r;
}

/* Removes HOME/user; dfd is that directory, opened by mailbox_lock. */
static int
mailbox_purge(int hfd, int ufd, const char *home, const char *user, char *what, size_t len)
{
	char inner[NAME_MAX + 1] = "";
	int r;

	r = rm_children(ufd, 0, inner, sizeof(inner));
	if (r == 0 && unlinkat(hfd, user, AT_REMOVEDIR) < 0)
		r = -errno;
	/* a message cut short is still a message */
	if (r < 0 && snprintf(what, len, "%s/%s%s%s", home, user, inner[0] ? ": near " : "",
	                      inner) >= (int)len)
		what[len - 1] = '\0';
	return r;
}

/* --- commands ---------------------------------------------------------------------- */

struct user_opts {
	bool from_stdin;
	bool purge;
	const char *name;
};

/* Parses "VERB [--stdin|--purge] NAME", options before or after the name
 * ("--" ends them, for a name starting with '-'); allowed names the one
 * option this verb takes. */
static int
parse_opts(int argc, char **argv, const char *allowed, struct user_opts *o)
{
	static const struct option longopts[] = {
		{ "stdin", no_argument, NULL, 's' },
		{ "purge", no_argument, NULL, 'p' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(o, 0, sizeof(*o));
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
		if (c == '?' || strcmp(longopts[c == 's' ? 0 : 1].name, allowed) != 0) {
			error(0, 0, "user %s: unknown option '%s'", argv[0], argv[optind - 1]);
			return -EINVAL;
		}
		if (c == 's')
			o->from_stdin = true;
		else
			o->purge = true;
	}
	if (optind + 1 != argc) {
		error(0, 0, "user %s: expected one user name", argv[0]);
		return -EINVAL;
	}
	o->name = argv[optind];
	return 0;
}

static int
user_add(const struct pop3s_config *cfg, const struct user_opts *o)
{
	char hash[CRYPT_OUTPUT_SIZE], what[WHAT_MAX];
	int r;

	if (users_db_exists(cfg->users, o->name)) {
		error(0, 0, "%s: user '%s' already exists", cfg->users, o->name);
		return CTL_ERR;
	}
	if (new_hash(o->name, o->from_stdin, hash, sizeof(hash)) < 0)
		return CTL_ERR;
	r = users_db_change(cfg->users, USERS_DB_ADD, o->name, hash);
	explicit_bzero(hash, sizeof(hash));
	if (r == -EEXIST) {
		error(0, 0, "%s: user '%s' already exists", cfg->users, o->name);
		return CTL_ERR;
	}
	if (r < 0) {
		error(0, -r, "%s: cannot add user '%s'", cfg->users, o->name);
		return CTL_ERR;
	}
	r = mailbox_create(cfg->home, o->name, what, sizeof(what));
	if (r < 0) {
		error(0, -r, "user '%s' added, but its mailbox cannot be made: %s", o->name, what);
		return CTL_ERR;
	}
	printf("user %s added, mailbox %s/%s\n", o->name, cfg->home, o->name);
	return CTL_OK;
}

static int
user_passwd(const struct pop3s_config *cfg, const struct user_opts *o)
{
	char hash[CRYPT_OUTPUT_SIZE];
	int r;

	if (!users_db_exists(cfg->users, o->name)) {
		error(0, 0, "%s: no user '%s'", cfg->users, o->name);
		return CTL_ERR;
	}
	if (new_hash(o->name, o->from_stdin, hash, sizeof(hash)) < 0)
		return CTL_ERR;
	r = users_db_change(cfg->users, USERS_DB_SET, o->name, hash);
	explicit_bzero(hash, sizeof(hash));
	if (r < 0) {
		if (r == -ENOENT)
			error(0, 0, "%s: no user '%s'", cfg->users, o->name);
		else
			error(0, -r, "%s: cannot change the password of '%s'", cfg->users, o->name);
		return CTL_ERR;
	}
	printf("password of %s changed\n", o->name);
	return CTL_OK;
}

/* With the mailbox locked (if there is one): the users file entry, then
 * with --purge the mailbox. */
static int
delete_locked(const struct pop3s_config *cfg, const struct user_opts *o, int hfd, int ufd)
{
	char what[WHAT_MAX];
	int r;

	r = users_db_change(cfg->users, USERS_DB_DELETE, o->name, NULL);
	if (r == -ENOENT) {
		error(0, 0, "%s: no user '%s'", cfg->users, o->name);
		return CTL_ERR;
	}
	if (r < 0) {
		error(0, -r, "%s: cannot delete user '%s'", cfg->users, o->name);
		return CTL_ERR;
	}
	if (ufd < 0) {
		printf("user %s deleted (there was no mailbox)\n", o->name);
		return CTL_OK;
	}
	if (!o->purge) {
		printf("user %s deleted; the mail stays in %s/%s\n", o->name, cfg->home, o->name);
		return CTL_OK;
	}
	r = mailbox_purge(hfd, ufd, cfg->home, o->name, what, sizeof(what));
	if (r < 0) {
		error(0, -r, "user '%s' deleted, but its mailbox cannot be removed: %s", o->name, what);
		return CTL_ERR;
	}
	printf("user %s deleted, mailbox %s/%s removed\n", o->name, cfg->home, o->name);
	return CTL_OK;
}

static int
user_del(const struct pop3s_config *cfg, const struct user_opts *o)
{
	int hfd, ufd, r;

	if (!users_db_exists(cfg->users, o->name)) {
		error(0, 0, "%s: no user '%s'", cfg->users, o->name);
		return CTL_ERR;
	}
	hfd = open(cfg->home, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (hfd < 0) {
		error(0, errno, "%s", cfg->home);
		return CTL_ERR;
	}
	r = mailbox_lock(hfd, o->name, &ufd);
	if (r == -EBUSY) {
		error(0, 0, "user '%s' is logged in (a session holds the lock on %s/%s); "
		      "not deleted, try again later", o->name, cfg->home, o->name);
		close(hfd);
		return CTL_ERR;
	}
	if (r < 0) {
		error(0, -r, "%s/%s", cfg->home, o->name);
		close(hfd);
		return CTL_ERR;
	}
	r = delete_locked(cfg, o, hfd, ufd);
	if (ufd >= 0)
		close(ufd);
	close(hfd);
	return r;
}

static void
print_user(const char *user, void *ctx)
{
	(void)ctx;
	printf("%s\n", user);
}

/* One warning line per entry that can never log in because of its hash. */
static void
warn_weak(unsigned long lineno, const char *user, const char *method, void *ctx)
{
	char shown[USERNAME_MAX * 2];
	const char *path = ctx;

	printable(user, shown, sizeof(shown));
	error(0, 0, "%s:%lu: user '%s': %s is a weak legacy hash method, refused at login; "
	      "set a new password with 'pop3sctl user passwd %s'", path, lineno, shown, method,
	      shown);
}

static int
user_list(const struct pop3s_config *cfg)
{
	int r = users_db_list(cfg->users, print_user, NULL);

	if (r == 0)
		r = users_db_weak(cfg->users, warn_weak, (void *)cfg->users);
	if (r < 0) {
		error(0, -r, "%s", cfg->users);
		return CTL_ERR;
	}
	return CTL_OK;
}

int
ctl_user(const char *config_path, int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "";
	struct pop3s_config cfg;
	struct user_opts o;
	const char *allowed;

	if (strcmp(verb, "list") == 0) {
		if (argc != 2) {
			error(0, 0, "user list: takes no arguments");
			return CTL_USAGE;
		}
		return ctl_config_load(config_path, &cfg) < 0 ? CTL_ERR : user_list(&cfg);
	}
	if (strcmp(verb, "add") == 0 || strcmp(verb, "passwd") == 0)
		allowed = "stdin";
	else if (strcmp(verb, "del") == 0)
		allowed = "purge";
	else {
		error(0, 0, "usage: user add|passwd [--stdin] NAME | user del [--purge] NAME | user list");
		return CTL_USAGE;
	}
	if (parse_opts(argc - 1, argv + 1, allowed, &o) < 0)
		return CTL_USAGE;
	if (!check_name(o.name))
		return CTL_ERR;
	if (ctl_config_load(config_path, &cfg) < 0)
		return CTL_ERR;
	if (verb[0] == 'a')
		return user_add(&cfg, &o);
	if (verb[0] == 'p')
		return user_passwd(&cfg, &o);
	return user_del(&cfg, &o);
}
