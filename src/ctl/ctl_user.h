/* pop3sctl user: add, change the password of, delete and list the users
 * of the users file, and create or remove their mailboxes. */
#ifndef POP3S_CTL_USER_H
#define POP3S_CTL_USER_H

/* pop3sctl [-c path] user add [--stdin] NAME | passwd [--stdin] NAME |
 * del [--purge] NAME | list. Returns an exit status (ctl_config.h). */
int ctl_user(const char *config_path, int argc, char **argv);

#endif
