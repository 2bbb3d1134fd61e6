/*
 * RFC 8555 client: directory, nonces, account, orders, authorizations,
 * challenges, finalize and download.  Knows no files or database: a
 * challenge is handed to the caller's solver, and results come back as
 * values.  Every URL the server gives us must be https on the directory's
 * origin.  Failures are logged once, prefixed with the subject set by
 * acme_set_subject(), and summarised in acme_last_error().
 *
 * Threads: a session may be shared by the threads of a pass.  Requests
 * are serialised on it; subject, last error and Retry-After belong to the
 * calling thread.  Account setup and key change are not to run
 * concurrently with other use.
 *
 * Return values: 0; -EAGAIN transient (network, 5xx, rateLimited; see
 * acme_retry_after()); -EPROTO the server broke the protocol; -EACCES the
 * CA refused (4xx problem); -ETIMEDOUT polling gave up; -ENOMEM.
 */
#ifndef ACMED_ACME_H
#define ACMED_ACME_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct acme;
struct key;

enum acme_status {
	ACME_PENDING,
	ACME_READY,
	ACME_PROCESSING,
	ACME_VALID,
	ACME_INVALID,
	ACME_EXPIRED,
	ACME_DEACTIVATED,
	ACME_REVOKED,
	ACME_UNKNOWN,
};

struct acme_order {
	char *url;
	enum acme_status status;
	char **authzs;
	size_t nauthzs;
	char *finalize;
	char *certificate;
	char *profile; /* as the server reports it, or NULL */
	time_t poll_deadline; /* clock_monotonic() time; 0 until the first poll */
};

/* Presents and withdraws challenge responses for the order driver. */
struct acme_solver {
	const char *type; /* "http-01" */
	int (*present)(void *arg, const char *identifier, const char *token,
	    const char *key_authorization);
	void (*cleanup)(void *arg, const char *token);
	void *arg;
};

int acme_new(const char *directory_url, const char *ca_bundle,
    struct acme **ret);
void acme_free(struct acme *a);
void acme_set_subject(struct acme *a, const char *subject);
/*
 * Bound, in seconds, on all the polling of one order together (its
 * authorizations and the order itself; SPEC 24).  Default 600.
 */
void acme_set_order_timeout(struct acme *a, unsigned seconds);
/* Limit each HTTP request to "secs" (0: HTTP_TIMEOUT_S). */
void acme_set_timeout(struct acme *a, unsigned secs);
const char *acme_last_error(const struct acme *a);
/* Record a failure as the last error (and log it, subject first). */
void acme_fail(struct acme *a, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Problem type (without the urn prefix) of the last failure, or "". */
const char *acme_last_problem(const struct acme *a);
/* Seconds the server asked us to wait with the last failure, or 0. */
long acme_retry_after(const struct acme *a);

int acme_load_directory(struct acme *a);
/* Profiles from meta.profiles: count, and name/description by index. */
size_t acme_nprofiles(const struct acme *a);
const char *acme_profile_name(const struct acme *a, size_t i);
const char *acme_profile_description(const struct acme *a, size_t i);
bool acme_profile_offered(const struct acme *a, const char *name);

/*
 * Find or create the account for "k" (which must outlive "a").  With
 * "known_url" we first ask for the existing account only.  The account
 * URL is then available from acme_account_url().
 */
/* External Account Binding for new accounts; the MAC key is copied. */
int acme_set_eab(struct acme *a, const char *kid, const unsigned char *mac_key,
    size_t mac_len);
int acme_account(struct acme *a, const struct key *k, char *const *contact,
    size_t ncontact, const char *known_url);
const char *acme_account_url(const struct acme *a);

/* Does the directory offer renewalInfo (RFC 9773)? */
bool acme_has_ari(const struct acme *a);
/*
 * GET renewalInfo for "cert_id".  Returns 0 with the HTTP status, body
 * (caller frees) and Retry-After seconds (-1 when absent or invalid), or
 * a transport error (-EAGAIN, -E2BIG).
 */
int acme_renewal_info(struct acme *a, const char *cert_id, long *ret_status,
    char **ret_body, size_t *ret_len, long *ret_retry_after);

/*
 * newOrder for "names".  "profile" is sent only when non-NULL; "replaces"
 * (the predecessor's certID) only when the CA has renewalInfo, and if the
 * CA rejects it the order is retried once without it.
 */
int acme_order_new(struct acme *a, char *const *names, size_t nnames,
    const char *profile, const char *replaces, struct acme_order **ret);
/* Fetch an existing order (to resume it after a restart). */
int acme_order_fetch(struct acme *a, const char *url, struct acme_order **ret);
int acme_order_authorize(struct acme *a, struct acme_order *o,
    const struct acme_solver *solver);
int acme_order_finalize(struct acme *a, struct acme_order *o,
    const unsigned char *csr, size_t csr_len);
#define ACME_ALTERNATES_MAX 8

/* Alternate chain URLs (RFC 8555 7.4.2), already checked like all URLs. */
struct acme_alternates {
	char *urls[ACME_ALTERNATES_MAX];
	size_t n;
};

/*
 * Download a certificate chain (PEM) from "url"; with "alts" non-NULL also
 * collect the Link rel="alternate" URLs (free with acme_alternates_fini()).
 */
int acme_download(struct acme *a, const char *url, char **ret, size_t *ret_len,
    struct acme_alternates *alts);
void acme_alternates_fini(struct acme_alternates *alts);
void acme_order_free(struct acme_order *o);

enum acme_status acme_status_from_string(const char *s);
const char *acme_status_name(enum acme_status st);

/*
 * Revoke a certificate (DER).  "reason" < 0 sends none.  Signed by the
 * account, or by "cert_key" (with its jwk) when given.
 */
int acme_revoke(struct acme *a, const unsigned char *der, size_t der_len,
    int reason, const struct key *cert_key);

/*
 * Roll the account over to "new_key" (RFC 8555 7.3.5).  On success the
 * session signs with "new_key" from then on; -EEXIST if the CA says the
 * key belongs to another account.
 */
int acme_key_change(struct acme *a, const struct key *new_key);

#endif
