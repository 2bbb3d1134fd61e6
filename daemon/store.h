/*
 * Renewal state in SQLite (the only file that includes <sqlite3.h>):
 * one row per certificate and one per ACME account.  WAL, synchronous=FULL,
 * a busy timeout so the CLI can read while the daemon writes, and schema
 * migrations keyed on PRAGMA user_version.  Logs sqlite's message once.
 */
#ifndef ACMED_STORE_H
#define ACMED_STORE_H

#include <time.h>

#define STORE_FILE "acmed.db"

struct store;

struct store_cert {
	char *name;
	char *ca;
	char *domains; /* comma-separated, as configured */
	char *fingerprint;
	char *profile_requested;
	char *profile_issued;
	char *serial;
	time_t not_before;
	time_t not_after;
	time_t last_attempt;
	time_t last_success;
	char *last_error;
	int failures;
	time_t next_check;
	char *next_reason;
	/* RFC 9773 renewal information for the installed certificate. */
	char *ari_id;
	time_t ari_start;
	time_t ari_end;
	time_t ari_chosen;     /* our random pick in the window; 0: none */
	time_t ari_next_fetch; /* 0: do not poll */
	int ari_failures;
	char *ari_explanation;
	time_t revoked_at; /* we revoked the installed certificate */
	int hook_pending;  /* installed, reload hook not yet finished */
	int hook_status;   /* exit status of the last reload hook */
};

/* The order in flight for a certificate, so a restart resumes it. */
struct store_order {
	char *ca;
	char *url;
	char *fingerprint; /* of the configuration it was placed for */
	char *step;        /* "ordered", "finalizing" */
	time_t created;
};

/* Creates the database if needed and migrates it to the current schema. */
int store_open(const char *state_dir, struct store **ret);
/*
 * For readers such as "acmed status": opens the database read-only, never
 * creates a file, never migrates; a schema version other than the current
 * one is an error (-EPROTO, logged).  Without a database every read finds
 * no row and every write fails with -EROFS.
 */
int store_open_readonly(const char *state_dir, struct store **ret);
void store_close(struct store *s);

/*
 * Run the reads between these two in one read transaction: one snapshot
 * and one round of file locking instead of one per statement.  For a
 * single thread's batch of reads only (the scheduler's plan).
 */
int store_read_begin(struct store *s);
void store_read_end(struct store *s);
/* -ENOENT when no row exists. */
int store_cert_get(struct store *s, const char *name, struct store_cert **ret);
void store_cert_free(struct store_cert *c);
/* Insert or replace the whole row. */
int store_cert_put(struct store *s, const struct store_cert *c);

/* -ENOENT when none. */
int store_order_get(struct store *s, const char *name, struct store_order *ret);
void store_order_fini(struct store_order *o);
int store_order_put(struct store *s, const char *name,
    const struct store_order *o);
int store_order_del(struct store *s, const char *name);

/*
 * The attempt ledger: one row per renewal attempt with its outcome
 * ("issued", "failed", "deferred") per CA and identifier set, the basis
 * for staying under CA rate limits.
 */
int store_attempt_add(struct store *s, const char *name, const char *ca,
    const char *identifiers, time_t when, const char *outcome,
    const char *error_type, const char *detail);
int store_attempt_count(struct store *s, const char *ca,
    const char *identifiers, time_t since, const char *outcome, unsigned *ret);

int store_account_get(struct store *s, const char *ca_url, char **ret_url);
int store_account_put(struct store *s, const char *ca_url,
    const char *account_url);

#endif
