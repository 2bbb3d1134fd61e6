/*
 * The ACME account of a configured CA: its key file under the state
 * directory (created 0600 under a lock on first use), External Account
 * Binding, and the account URL kept in the state database.
 */
#ifndef ACMED_ACCOUNT_H
#define ACMED_ACCOUNT_H

struct acme;
struct cfg_ca;
struct key;
struct store;

/* STATE/accounts/NAME.key: load, or create with the CA's key type. */
int account_key(const char *state_dir, const struct cfg_ca *ca,
    struct key **ret);

/*
 * Start a session with "ca": directory, account key, EAB, and the account
 * (looked up by its stored URL, else registered).  "ret_acme" is set even
 * on failure, so its last error can be reported; the caller frees both.
 */
int account_open(const struct cfg_ca *ca, const char *state_dir,
    struct store *st, struct acme **ret_acme, struct key **ret_key);

#endif
