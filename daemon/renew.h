/*
 * One renewal pass: for each selected certificate that is due (or forced),
 * obtain a new key and certificate, verify them, install them atomically,
 * record the result, and run the reload hook.  One ACME session (directory,
 * nonces, account) per CA per pass.  A failing certificate never stops the
 * others.
 */
#ifndef ACMED_RENEW_H
#define ACMED_RENEW_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct cfg;
struct cfg_cert;
struct store;
struct store_cert;

struct renew_result {
	unsigned renewed;
	unsigned skipped; /* not due */
	unsigned failed;
};

/*
 * "names" selects certificates (NULL: all configured).  With "force" they
 * are renewed even if not due.  Logs per certificate.  Units and the
 * global hook run once after all certificates, in configuration order.
 * Returns 0 (outcomes in "res"), or -ENOMEM before any work was done.
 */
int renew_pass(const struct cfg *cfg, struct store *st, const char *state_dir,
    char *const *names, size_t nnames, bool force, struct renew_result *res);

/*
 * Configuration fingerprint of a certificate: the text of what makes it a
 * different certificate (CA directory, profile, key type, sorted names, a
 * line each), for the state to compare with.  The caller frees "ret".
 */
int renew_fingerprint(const struct cfg_cert *c, char **ret);

/* When is "c" due, and why (reads the state row and the output files)? */
int renew_due(const struct cfg_cert *c, struct store *st, time_t *ret_due,
    const char **ret_reason);

/*
 * What the scheduler keeps of a certificate: its name, output directory and
 * configuration fingerprint, all the daemon needs to plan, so that it can
 * free the parsed configuration (a few hundred bytes a certificate).
 */
struct renew_plan_cert {
	char *name;
	char *output;
	char *fingerprint;
};

/* Fill "ret" from "c"; 0 or -ENOMEM (then nothing to free). */
int renew_plan_cert_init(const struct cfg_cert *c, struct renew_plan_cert *ret);
void renew_plan_cert_fini(struct renew_plan_cert *pc);

/*
 * For the scheduler, from one read of the state row: the earlier of the
 * renewal time and the next renewalInfo fetch, and whether the last
 * attempt failed.
 */
int renew_next(const struct renew_plan_cert *pc, struct store *st, time_t now,
    time_t *ret_next, bool *ret_failing);

#endif
