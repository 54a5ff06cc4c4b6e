/* pop3sctl ticket-key: a fresh TLS session ticket key for all sessions. */
#ifndef POP3S_CTL_TICKET_H
#define POP3S_CTL_TICKET_H

/* pop3sctl ticket-key [--file path]. Returns an exit status. */
int ctl_ticket(const char *config_path, int argc, char **argv);

#endif
