/*
 * journald output with structured fields (sd_journal_send): MESSAGE,
 * PRIORITY, ACMED_CERT, ACMED_CA, ACMED_PROFILE and MESSAGE_ID for events,
 * so "journalctl -u acmed ACMED_CERT=www" works.  The only file that
 * includes <systemd/sd-journal.h>.
 */
#ifndef ACMED_JOURNAL_H
#define ACMED_JOURNAL_H

/*
 * Route log lines to the journal (call when log_to_journal() is true); if
 * journald's native socket is missing, lines stay on stderr with "<N>".
 */
void journal_enable(void);

#endif
