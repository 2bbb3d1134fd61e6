/*
 * Internals shared by acme.c (transport, nonces, directory, account,
 * revocation) and acme_order.c (orders, authorizations, download, ARI).
 * Not for use outside the ACME client.
 */
#ifndef ACMED_ACME_INT_H
#define ACMED_ACME_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include "acme.h"
#include "http.h"

struct json;

/*
 * What the calling thread's current work produced: a session is shared by
 * the threads of a pass, each working on one certificate at a time.
 */
struct acme_call {
	char subject[128];
	char last_error[512];
	char last_type[64]; /* problem type of the last failure, or "" */
	long retry_after;
};
extern _Thread_local struct acme_call acme_tls;

#define NONCE_POOL_MAX 8
#define NONCE_WAIT_MS 300 /* for a nonce that a request under way brings */
#define NONCE_LEN_MAX 256
#define BAD_NONCE_TRIES 30 /* at 50 % rejection: 1 request in 10^9 fails */
#define URL_LEN_MAX 2048
#define TOKEN_LEN_MAX 256
#define ORDER_TIMEOUT_DEFAULT_S 600 /* cfg.c's default for global.order_timeout */
#define RETRY_AFTER_MAX_S (7 * 86400) /* the longest wait a failure may ask for */
#define POLL_DELAY_MAX_S 30
#define POLL_FIRST_MS 500 /* before the first poll of an authorization or order */
#define FINALIZE_TRIES 5
#define PROFILES_MAX 64
#define ERR_TYPE_PREFIX "urn:ietf:params:acme:error:"
#define HTTP_IDLE_MAX 16

struct acme {
	/*
	 * Idle HTTP handles (each keeps its connection): a request takes one
	 * or makes one, so a slow answer to one thread never holds up another.
	 */
	struct http *idle[HTTP_IDLE_MAX];
	size_t nidle;
	char *ca_bundle;
	char *dir_url;
	char *origin; /* "https://host[:port]" of the directory */
	char *new_nonce;
	char *new_account;
	char *new_order;
	char *renewal_info; /* RFC 9773 base URL, or NULL */
	char *revoke_cert;
	char *key_change;
	char **profiles; /* name, description pairs */
	size_t nprofiles;
	char *nonces[NONCE_POOL_MAX];
	size_t nnonces;
	const struct key *key;
	char *kid;
	char *eab_kid;
	unsigned char *eab_key;
	size_t eab_key_len;
	unsigned order_timeout; /* seconds one order may spend polling */
	unsigned http_timeout;  /* per request, for every handle; 0: default */
	/* Guards the idle handles and the nonce pool: threads share a session. */
	pthread_mutex_t mu;
	unsigned nonces_coming; /* requests under way that will bring a nonce */
	pthread_cond_t nonce_back; /* one of them was answered */
};

struct problem {
	char type[64];
	char detail[400];
};

extern const char *const acme_status_names[ACME_UNKNOWN];

bool acme_url_ok(const struct acme *a, const char *url);
/* As acme_url_ok(); a bad URL is recorded with acme_fail() (-EPROTO). */
int acme_check_url(struct acme *a, const char *what, const char *url);
int acme_take_url(struct acme *a, const char *what, const char *url, char **dst);
int acme_request(struct acme *a, const char *method, const char *url,
    const char *body, const char *accept, struct http_resp **ret);
void acme_parse_problem(const struct http_resp *resp, struct problem *p);
int acme_http_failure(struct acme *a, const char *what,
    const struct http_resp *resp);
void acme_log_subproblems(const struct json *err);
void acme_note_problem(const char *type);
int acme_post(struct acme *a, const char *url, const char *payload,
    const char *accept, bool use_jwk, struct http_resp **ret);
int acme_post_as(struct acme *a, const struct key *signer, const char *url,
    const char *payload, const char *accept, bool use_jwk,
    struct http_resp **ret);
int acme_parse_body(struct acme *a, const char *what,
    const struct http_resp *resp, struct json **ret);
bool acme_b64url_valid_id(const char *id);
char *acme_dup_escaped(const char *s);

#endif
