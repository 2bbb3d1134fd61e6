#include "acme.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "b64.h"
#include "clock.h"
#include "crypto.h"
#include "http.h"
#include "json.h"
#include "jws.h"
#include "log.h"

#define NONCE_POOL_MAX 8
#define NONCE_LEN_MAX 256
#define BAD_NONCE_TRIES 10
#define URL_LEN_MAX 2048
#define TOKEN_LEN_MAX 256
#define POLL_DEADLINE_S 600
#define POLL_DELAY_MAX_S 30
#define FINALIZE_TRIES 5
#define PROFILES_MAX 64
#define ERR_TYPE_PREFIX "urn:ietf:params:acme:error:"

struct acme {
	struct http *http;
	char *dir_url;
	char *origin; /* "https://host[:port]" of the directory */
	char *new_nonce;
	char *new_account;
	char *new_order;
	char *renewal_info; /* RFC 9773 base URL, or NULL */
	char **profiles; /* name, description pairs */
	size_t nprofiles;
	bool has_profiles;
	char *nonces[NONCE_POOL_MAX];
	size_t nnonces;
	const struct key *key;
	char *kid;
	char *eab_kid;
	unsigned char *eab_key;
	size_t eab_key_len;
	char subject[128];
	char last_error[512];
	long retry_after;
	unsigned long nrequests;
};

static const char *const status_names[] = {
    [ACME_PENDING] = "pending",
    [ACME_READY] = "ready",
    [ACME_PROCESSING] = "processing",
    [ACME_VALID] = "valid",
    [ACME_INVALID] = "invalid",
    [ACME_EXPIRED] = "expired",
    [ACME_DEACTIVATED] = "deactivated",
    [ACME_REVOKED] = "revoked",
};

enum acme_status
acme_status_from_string(const char *s)
{
	size_t i;

	for (i = 0; s != NULL && i < sizeof(status_names) / sizeof(status_names[0]); i++)
		if (strcmp(s, status_names[i]) == 0)
			return (enum acme_status)i;
	return ACME_UNKNOWN;
}

int
acme_new(const char *directory_url, const char *ca_bundle, struct acme **ret)
{
	const char *host;
	struct acme *a;
	size_t olen;
	int r;

	if (strncmp(directory_url, "https://", 8) != 0)
		return -EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	host = directory_url + 8;
	olen = 8 + strcspn(host, "/?#");
	if ((a->dir_url = strdup(directory_url)) == NULL ||
	    (a->origin = strndup(directory_url, olen)) == NULL) {
		acme_free(a);
		return -ENOMEM;
	}
	if ((r = http_new(ca_bundle, &a->http)) < 0) {
		acme_free(a);
		return r;
	}
	*ret = a;
	return 0;
}

void
acme_free(struct acme *a)
{
	size_t i;

	if (a == NULL)
		return;
	http_free(a->http);
	free(a->dir_url);
	free(a->origin);
	free(a->new_nonce);
	free(a->new_account);
	free(a->new_order);
	free(a->renewal_info);
	for (i = 0; i < a->nprofiles * 2; i++)
		free(a->profiles[i]);
	free(a->profiles);
	for (i = 0; i < a->nnonces; i++)
		free(a->nonces[i]);
	free(a->kid);
	free(a->eab_kid);
	crypto_secret_free(a->eab_key, a->eab_key_len);
	free(a);
}

int
acme_set_eab(struct acme *a, const char *kid, const unsigned char *mac_key,
    size_t mac_len)
{
	if ((a->eab_kid = strdup(kid)) == NULL || (a->eab_key = malloc(mac_len ? mac_len : 1)) == NULL)
		return -ENOMEM;
	memcpy(a->eab_key, mac_key, mac_len);
	a->eab_key_len = mac_len;
	return 0;
}

void
acme_set_subject(struct acme *a, const char *subject)
{
	snprintf(a->subject, sizeof(a->subject), "%s", subject);
	a->last_error[0] = '\0';
	a->retry_after = 0;
}

const char *
acme_last_error(const struct acme *a)
{
	return a->last_error;
}

long
acme_retry_after(const struct acme *a)
{
	return a->retry_after;
}

unsigned long
acme_requests(const struct acme *a)
{
	return a->nrequests;
}

/* A certID: two base64url parts joined by one dot. */
static bool
b64url_valid_id(const char *id)
{
	const char *dot = strchr(id, '.');
	char first[256];
	size_t n;

	if (dot == NULL || (n = (size_t)(dot - id)) == 0 || n >= sizeof(first) || strlen(id) > 512)
		return false;
	memcpy(first, id, n);
	first[n] = '\0';
	return b64url_valid(first) && b64url_valid(dot + 1);
}

/* Record and log a failure: one line, subject first. */
static void __attribute__((format(printf, 2, 3)))
fail(struct acme *a, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(a->last_error, sizeof(a->last_error), fmt, ap);
	va_end(ap);
	log_err("%s: %s", a->subject, a->last_error);
}

/*
 * A URL from the server is used only if it is https on the directory's
 * origin, of sane length and free of control characters and spaces.
 */
static bool
url_ok(const struct acme *a, const char *url)
{
	size_t olen = strlen(a->origin), i;

	if (url == NULL || strlen(url) > URL_LEN_MAX || strncmp(url, a->origin, olen) != 0 ||
	    url[olen] != '/')
		return false;
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\')
			return false;
	return true;
}

static int
take_url(struct acme *a, const char *what, const char *url, char **dst)
{
	char esc[160];

	if (!url_ok(a, url)) {
		fail(a, "%s URL \"%s\" is not https on the CA's origin %s", what,
		    url != NULL ? log_escape(esc, sizeof(esc), url, strlen(url)) : "(missing)", a->origin);
		return -EPROTO;
	}
	free(*dst);
	if ((*dst = strdup(url)) == NULL)
		return -ENOMEM;
	return 0;
}

static void
keep_nonce(struct acme *a, const struct http_resp *resp)
{
	const char *n = resp->replay_nonce;
	char *copy;

	if (n == NULL || strlen(n) > NONCE_LEN_MAX || !b64url_valid(n))
		return;
	if ((copy = strdup(n)) == NULL)
		return;
	if (a->nnonces == NONCE_POOL_MAX) {
		free(a->nonces[0]);
		memmove(a->nonces, a->nonces + 1, (NONCE_POOL_MAX - 1) * sizeof(char *));
		a->nnonces--;
	}
	a->nonces[a->nnonces++] = copy;
}

static int
request(struct acme *a, const char *method, const char *url, const char *body,
    const char *accept, struct http_resp **ret)
{
	int r;

	a->nrequests++;
	r = http_request(a->http, method, url, body != NULL ? "application/jose+json" : NULL,
	    body, body != NULL ? strlen(body) : 0, accept, ret);
	if (r == -EAGAIN || r == -E2BIG)
		snprintf(a->last_error, sizeof(a->last_error), "%s: %s", url, r == -EAGAIN ? "transport failure" : "response too large");
	if (r == 0)
		keep_nonce(a, *ret);
	return r;
}

/* Take the newest pooled nonce, or fetch one (HEAD newNonce). */
static int
get_nonce(struct acme *a, char **ret)
{
	struct http_resp *resp;
	int r;

	if (a->nnonces == 0) {
		if ((r = request(a, "HEAD", a->new_nonce, NULL, NULL, &resp)) < 0)
			return r;
		http_resp_free(resp);
		if (a->nnonces == 0) {
			fail(a, "newNonce gave no usable Replay-Nonce");
			return -EPROTO;
		}
	}
	*ret = a->nonces[--a->nnonces];
	return 0;
}

struct problem {
	char type[64];
	char detail[400];
};

/* Pull type and detail from a problem document; tolerate any body. */
static void
parse_problem(const struct http_resp *resp, struct problem *p)
{
	struct json *j = NULL;
	const char *type, *detail;

	p->type[0] = p->detail[0] = '\0';
	if (json_parse(resp->body, resp->body_len, &j, NULL, 0) < 0) {
		log_escape(p->detail, sizeof(p->detail), resp->body, resp->body_len);
		return;
	}
	type = json_get_str(j, "type");
	detail = json_get_str(j, "detail");
	if (type != NULL) {
		if (strncmp(type, ERR_TYPE_PREFIX, strlen(ERR_TYPE_PREFIX)) == 0)
			type += strlen(ERR_TYPE_PREFIX);
		log_escape(p->type, sizeof(p->type), type, strlen(type));
	}
	if (detail != NULL)
		log_escape(p->detail, sizeof(p->detail), detail, strlen(detail));
	json_free(j);
}

/* Map an error response to our errno classes, and remember Retry-After. */
static int
http_failure(struct acme *a, const char *what, const struct http_resp *resp)
{
	struct problem p;
	long ra = 0;

	parse_problem(resp, &p);
	if (resp->retry_after != NULL && clock_parse_retry_after(resp->retry_after, clock_now(), &ra) == 0)
		a->retry_after = ra;
	fail(a, "%s: HTTP %ld%s%s%s%s", what, resp->status, p.type[0] ? " " : "", p.type,
	    p.detail[0] ? ": " : "", p.detail);
	if (resp->status == 429 || resp->status >= 500 || strcmp(p.type, "rateLimited") == 0)
		return -EAGAIN;
	return -EACCES;
}

static bool
is_bad_nonce(const struct http_resp *resp)
{
	struct problem p;

	if (resp->status != 400)
		return false;
	parse_problem(resp, &p);
	return strcmp(p.type, "badNonce") == 0;
}

/*
 * Signed POST (RFC 8555 6.2).  "payload" is JSON text, or "" for
 * POST-as-GET.  badNonce answers are retried here with the fresh nonce
 * they carry, at most BAD_NONCE_TRIES times.  "use_jwk" signs with the
 * key itself instead of the account URL (newAccount).
 */
static int
post(struct acme *a, const char *url, const char *payload, const char *accept,
    bool use_jwk, struct http_resp **ret)
{
	struct http_resp *resp = NULL;
	char *nonce = NULL, *body = NULL;
	unsigned tries;
	int r;

	for (tries = 0; tries < BAD_NONCE_TRIES; tries++) {
		if ((r = get_nonce(a, &nonce)) < 0)
			return r;
		r = jws_sign(a->key, use_jwk ? NULL : a->kid, nonce, url, payload, &body);
		free(nonce);
		if (r < 0)
			return r;
		r = request(a, "POST", url, body, accept, &resp);
		free(body);
		if (r < 0)
			return r;
		if (!is_bad_nonce(resp)) {
			*ret = resp;
			return 0;
		}
		log_debug("%s: %s: badNonce, retrying", a->subject, url);
		http_resp_free(resp);
	}
	fail(a, "%s: server rejected %d nonces in a row", url, BAD_NONCE_TRIES);
	return -EAGAIN;
}

static int
parse_body(struct acme *a, const char *what, const struct http_resp *resp,
    struct json **ret)
{
	char err[160];
	int r;

	if ((r = json_parse(resp->body, resp->body_len, ret, err, sizeof(err))) < 0) {
		fail(a, "%s: %s", what, err);
		return r == -ENOMEM ? r : -EPROTO;
	}
	if (!json_is_obj(*ret)) {
		json_free(*ret);
		fail(a, "%s: answer is not a JSON object", what);
		return -EPROTO;
	}
	return 0;
}

static int
load_profiles(struct acme *a, const struct json *meta)
{
	const struct json *profiles = json_get(meta, "profiles"), *v;
	const char *name;
	void *it = NULL;
	size_t n = 0;

	if (profiles == NULL)
		return 0;
	if (!json_is_obj(profiles)) {
		fail(a, "directory: meta.profiles is not an object");
		return -EPROTO;
	}
	a->has_profiles = true;
	while (json_object_next(profiles, &it, &name, &v))
		n++;
	if (n > PROFILES_MAX) {
		fail(a, "directory: more than %d profiles", PROFILES_MAX);
		return -EPROTO;
	}
	if (n == 0 || (a->profiles = calloc(n * 2, sizeof(char *))) == NULL)
		return n == 0 ? 0 : -ENOMEM;
	it = NULL;
	while (json_object_next(profiles, &it, &name, &v)) {
		const char *desc = json_str(v) != NULL ? json_str(v) : "";

		if ((a->profiles[a->nprofiles * 2] = strdup(name)) == NULL ||
		    (a->profiles[a->nprofiles * 2 + 1] = strdup(desc)) == NULL) {
			a->nprofiles++;
			return -ENOMEM;
		}
		a->nprofiles++;
	}
	return 0;
}

int
acme_load_directory(struct acme *a)
{
	struct http_resp *resp = NULL;
	struct json *dir = NULL;
	int r;

	if ((r = request(a, "GET", a->dir_url, NULL, NULL, &resp)) < 0) {
		log_err("%s: directory: %s", a->subject, a->last_error);
		return r;
	}
	if (resp->status != 200) {
		r = http_failure(a, "directory", resp);
		goto out;
	}
	if ((r = parse_body(a, "directory", resp, &dir)) < 0)
		goto out;
	if ((r = take_url(a, "newNonce", json_get_str(dir, "newNonce"), &a->new_nonce)) < 0 ||
	    (r = take_url(a, "newAccount", json_get_str(dir, "newAccount"), &a->new_account)) < 0 ||
	    (r = take_url(a, "newOrder", json_get_str(dir, "newOrder"), &a->new_order)) < 0 ||
	    (r = load_profiles(a, json_get(dir, "meta"))) < 0)
		goto out;
	if (json_get(dir, "renewalInfo") != NULL &&
	    (r = take_url(a, "renewalInfo", json_get_str(dir, "renewalInfo"), &a->renewal_info)) < 0)
		goto out;
	r = 0;
out:
	json_free(dir);
	http_resp_free(resp);
	return r;
}

bool
acme_has_profiles(const struct acme *a)
{
	return a->has_profiles;
}

size_t
acme_nprofiles(const struct acme *a)
{
	return a->nprofiles;
}

const char *
acme_profile_name(const struct acme *a, size_t i)
{
	return a->profiles[i * 2];
}

const char *
acme_profile_description(const struct acme *a, size_t i)
{
	return a->profiles[i * 2 + 1];
}

bool
acme_profile_offered(const struct acme *a, const char *name)
{
	size_t i;

	for (i = 0; i < a->nprofiles; i++)
		if (strcmp(a->profiles[i * 2], name) == 0)
			return true;
	return false;
}

const char *
acme_account_url(const struct acme *a)
{
	return a->kid;
}

static int
account_payload(struct acme *a, char *const *contact, size_t ncontact,
    bool only_existing, char **ret)
{
	struct json *p = json_object_new(), *list = NULL, *eab = NULL;
	int r = -ENOMEM;
	size_t i;

	if (p == NULL)
		return -ENOMEM;
	if (!only_existing && a->eab_kid != NULL) {
		if ((r = jws_eab(a->key, a->eab_kid, a->eab_key, a->eab_key_len, a->new_account, &eab)) < 0 ||
		    (r = json_set(p, "externalAccountBinding", eab)) < 0)
			goto out;
		r = -ENOMEM;
	}
	if (only_existing) {
		if (json_set(p, "onlyReturnExisting", json_bool_new(true)) < 0)
			goto out;
	} else {
		if (json_set(p, "termsOfServiceAgreed", json_bool_new(true)) < 0)
			goto out;
		if (ncontact > 0) {
			if ((list = json_array_new()) == NULL)
				goto out;
			for (i = 0; i < ncontact; i++)
				if (json_append(list, json_string_new(contact[i])) < 0)
					goto out;
			r = json_set(p, "contact", list);
			list = NULL;
			if (r < 0)
				goto out;
		}
	}
	if ((*ret = json_dump(p, false)) != NULL)
		r = 0;
out:
	json_free(list);
	json_free(p);
	return r;
}

/* One newAccount call; 200 and 201 both give the account URL. */
static int
new_account(struct acme *a, char *const *contact, size_t ncontact,
    bool only_existing, bool *ret_missing)
{
	struct http_resp *resp = NULL;
	char *payload;
	struct problem p;
	int r;

	if ((r = account_payload(a, contact, ncontact, only_existing, &payload)) < 0)
		return r;
	r = post(a, a->new_account, payload, NULL, true, &resp);
	free(payload);
	if (r < 0)
		return r;
	if (resp->status == 200 || resp->status == 201) {
		r = take_url(a, "account", resp->location, &a->kid);
		if (r == 0)
			log_info("%s: %s account %s", a->subject, resp->status == 201 ? "registered new" : "using existing", a->kid);
	} else {
		parse_problem(resp, &p);
		if (only_existing && strcmp(p.type, "accountDoesNotExist") == 0) {
			*ret_missing = true;
			r = 0;
		} else {
			r = http_failure(a, "newAccount", resp);
		}
	}
	http_resp_free(resp);
	return r;
}

int
acme_account(struct acme *a, const struct key *k, char *const *contact,
    size_t ncontact, const char *known_url)
{
	bool missing = false;
	int r;

	a->key = k;
	free(a->kid);
	a->kid = NULL;
	if (known_url != NULL) {
		if ((r = new_account(a, contact, ncontact, true, &missing)) < 0)
			return r;
		if (!missing)
			return 0;
		log_notice("%s: the CA no longer knows account %s; registering again", a->subject, known_url);
	}
	return new_account(a, contact, ncontact, false, &missing);
}

void
acme_order_free(struct acme_order *o)
{
	size_t i;

	if (o == NULL)
		return;
	free(o->url);
	for (i = 0; i < o->nauthzs; i++)
		free(o->authzs[i]);
	free(o->authzs);
	free(o->finalize);
	free(o->certificate);
	free(o->profile);
	free(o);
}

/* Update "o" from an order object (RFC 8555 7.1.3). */
static int
order_update(struct acme *a, struct acme_order *o, const struct json *j)
{
	const struct json *authzs = json_get(j, "authorizations");
	const char *profile = json_get_str(j, "profile");
	size_t i, n = json_array_len(authzs);
	int r;

	o->status = acme_status_from_string(json_get_str(j, "status"));
	if (o->status == ACME_UNKNOWN) {
		fail(a, "order has no valid status");
		return -EPROTO;
	}
	if (o->authzs == NULL) {
		if (n == 0 || n > 100) {
			fail(a, "order lists %zu authorizations", n);
			return -EPROTO;
		}
		if ((o->authzs = calloc(n, sizeof(char *))) == NULL)
			return -ENOMEM;
		for (i = 0; i < n; i++) {
			if ((r = take_url(a, "authorization", json_str(json_array_at(authzs, i)), &o->authzs[i])) < 0)
				return r;
			o->nauthzs++;
		}
	}
	if ((r = take_url(a, "finalize", json_get_str(j, "finalize"), &o->finalize)) < 0)
		return r;
	if (json_get_str(j, "certificate") != NULL &&
	    (r = take_url(a, "certificate", json_get_str(j, "certificate"), &o->certificate)) < 0)
		return r;
	free(o->profile);
	o->profile = NULL;
	if (profile != NULL && (o->profile = strdup(profile)) == NULL)
		return -ENOMEM;
	return 0;
}

/* RFC 8738: IP literals are "ip" identifiers. */
static bool
is_ip_literal(const char *s)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

static int
order_payload(char *const *names, size_t nnames, const char *profile,
    const char *replaces, char **ret)
{
	struct json *p = json_object_new(), *ids = json_array_new(), *id;
	int r = -ENOMEM;
	size_t i;

	if (p == NULL || ids == NULL)
		goto out;
	for (i = 0; i < nnames; i++) {
		bool ip = is_ip_literal(names[i]);

		if ((id = json_object_new()) == NULL)
			goto out;
		if (json_set_str(id, "type", ip ? "ip" : "dns") < 0 ||
		    json_set_str(id, "value", names[i]) < 0 || json_append(ids, id) < 0) {
			json_free(id);
			goto out;
		}
	}
	r = json_set(p, "identifiers", ids);
	ids = NULL;
	if (r < 0)
		goto out;
	/* Never "" or null: the key is present only for a real profile. */
	if (profile != NULL && (r = json_set_str(p, "profile", profile)) < 0)
		goto out;
	/* RFC 9773 5: only toward a CA with renewalInfo (the caller checks). */
	if (replaces != NULL && (r = json_set_str(p, "replaces", replaces)) < 0)
		goto out;
	r = -ENOMEM;
	if ((*ret = json_dump(p, false)) != NULL)
		r = 0;
out:
	json_free(ids);
	json_free(p);
	return r;
}

/*
 * RFC 9773 5 and common client practice: a newOrder that failed because of
 * "replaces" (alreadyReplaced, any 409, or a 4xx/500 naming it) is worth
 * exactly one retry without it.
 */
static bool
replaces_rejected(const struct http_resp *resp)
{
	struct problem p;

	if (resp->status == 409)
		return true;
	parse_problem(resp, &p);
	if (strcmp(p.type, "alreadyReplaced") == 0)
		return true;
	if ((resp->status >= 400 && resp->status < 500) || resp->status == 500)
		return strstr(p.detail, "replace") != NULL || strstr(p.detail, "ARI") != NULL ||
		    strstr(p.detail, "renewalInfo") != NULL;
	return false;
}

int
acme_order_new(struct acme *a, char *const *names, size_t nnames,
    const char *profile, const char *replaces, struct acme_order **ret)
{
	struct http_resp *resp = NULL;
	struct acme_order *o = NULL;
	struct json *j = NULL;
	char *payload = NULL;
	int r;

	if (a->renewal_info == NULL)
		replaces = NULL;
	for (;;) {
		if ((r = order_payload(names, nnames, profile, replaces, &payload)) < 0)
			return r;
		if ((r = post(a, a->new_order, payload, NULL, false, &resp)) < 0)
			goto out;
		if (resp->status == 201 || replaces == NULL || !replaces_rejected(resp))
			break;
		(void)http_failure(a, "newOrder with replaces", resp);
		log_notice("%s: retrying the order once without \"replaces\"", a->subject);
		replaces = NULL;
		http_resp_free(resp);
		free(payload);
		resp = NULL;
		payload = NULL;
	}
	if (resp->status != 201) {
		r = http_failure(a, "newOrder", resp);
		goto out;
	}
	if ((r = parse_body(a, "newOrder", resp, &j)) < 0)
		goto out;
	r = -ENOMEM;
	if ((o = calloc(1, sizeof(*o))) == NULL)
		goto out;
	if ((r = take_url(a, "order", resp->location, &o->url)) < 0 ||
	    (r = order_update(a, o, j)) < 0)
		goto out;
	/* draft-ietf-acme-profiles: an order without the field is fine (Boulder). */
	if (profile != NULL && o->profile != NULL && strcmp(o->profile, profile) != 0) {
		fail(a, "newOrder: asked for profile \"%s\" but the order is for \"%s\"", profile, o->profile);
		r = -EPROTO;
		goto out;
	}
	log_info("%s: order %s is %s%s%s", a->subject, o->url, status_names[o->status],
	    o->profile != NULL ? ", profile " : "", o->profile != NULL ? o->profile : "");
	*ret = o;
	o = NULL;
	r = 0;
out:
	acme_order_free(o);
	json_free(j);
	http_resp_free(resp);
	free(payload);
	return r;
}

bool
acme_has_ari(const struct acme *a)
{
	return a->renewal_info != NULL;
}

int
acme_renewal_info(struct acme *a, const char *cert_id, long *ret_status,
    char **ret_body, size_t *ret_len, long *ret_retry_after)
{
	struct http_resp *resp = NULL;
	size_t blen = strlen(a->renewal_info);
	char *url;
	int r;

	if (!b64url_valid_id(cert_id))
		return -EINVAL;
	if ((url = malloc(blen + strlen(cert_id) + 2)) == NULL)
		return -ENOMEM;
	/* RFC 9773 4.1: exactly one "/" between base and certID. */
	sprintf(url, "%s%s%s", a->renewal_info, blen > 0 && a->renewal_info[blen - 1] == '/' ? "" : "/", cert_id);
	/* An unauthenticated GET: no JWS, no nonce. */
	r = request(a, "GET", url, NULL, NULL, &resp);
	free(url);
	if (r < 0)
		return r;
	*ret_retry_after = -1;
	if (resp->retry_after != NULL && clock_parse_retry_after(resp->retry_after, clock_now(), ret_retry_after) < 0)
		*ret_retry_after = -1;
	*ret_status = resp->status;
	*ret_body = resp->body;
	*ret_len = resp->body_len;
	resp->body = NULL;
	http_resp_free(resp);
	return 0;
}

/* Sleep for a poll round: the server's Retry-After, else a growing delay. */
static void
poll_sleep(const struct http_resp *resp, unsigned round)
{
	struct timespec ts = {0};
	long secs = 0;

	if (resp->retry_after == NULL ||
	    clock_parse_retry_after(resp->retry_after, clock_now(), &secs) < 0)
		secs = round < 5 ? 1 : 3;
	if (secs < 1)
		secs = 1;
	if (secs > POLL_DELAY_MAX_S)
		secs = POLL_DELAY_MAX_S;
	ts.tv_sec = secs;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* POST-as-GET an object; on 200 return its JSON and keep the response. */
static int
fetch(struct acme *a, const char *what, const char *url, struct json **ret,
    struct http_resp **ret_resp)
{
	struct http_resp *resp = NULL;
	int r;

	if ((r = post(a, url, "", NULL, false, &resp)) < 0)
		return r;
	if (resp->status != 200)
		r = http_failure(a, what, resp);
	else
		r = parse_body(a, what, resp, ret);
	if (r < 0) {
		http_resp_free(resp);
		return r;
	}
	*ret_resp = resp;
	return 0;
}

/* Log each subproblem with its identifier (RFC 8555 6.7.1). */
static void
log_error_object(struct acme *a, const char *what, const struct json *err)
{
	const struct json *subs = json_get(err, "subproblems");
	const char *type, *detail;
	char t[64], d[300], id[256];
	size_t i;

	type = json_get_str(err, "type");
	detail = json_get_str(err, "detail");
	fail(a, "%s: %s: %s", what, type != NULL ? log_escape(t, sizeof(t), type, strlen(type)) : "error",
	    detail != NULL ? log_escape(d, sizeof(d), detail, strlen(detail)) : "(no detail)");
	for (i = 0; i < json_array_len(subs) && i < 20; i++) {
		const struct json *sp = json_array_at(subs, i);
		const char *v = json_get_str(json_get(sp, "identifier"), "value");

		type = json_get_str(sp, "type");
		detail = json_get_str(sp, "detail");
		log_err("%s: %s: %s: %s", a->subject, v != NULL ? log_escape(id, sizeof(id), v, strlen(v)) : "?",
		    type != NULL ? log_escape(t, sizeof(t), type, strlen(type)) : "error",
		    detail != NULL ? log_escape(d, sizeof(d), detail, strlen(detail)) : "");
	}
}

/* Pick our challenge type from an authorization and check its token. */
static int
pick_challenge(struct acme *a, const struct json *authz, const char *type,
    const char **ret_url, const char **ret_token)
{
	const struct json *chs = json_get(authz, "challenges");
	size_t i;

	for (i = 0; i < json_array_len(chs); i++) {
		const struct json *ch = json_array_at(chs, i);
		const char *t = json_get_str(ch, "type"), *url, *token;

		if (t == NULL || strcmp(t, type) != 0)
			continue;
		url = json_get_str(ch, "url");
		token = json_get_str(ch, "token");
		if (!url_ok(a, url)) {
			fail(a, "challenge URL is not https on the CA's origin");
			return -EPROTO;
		}
		/* RFC 8555 8.3: tokens are base64url; never trust them in paths otherwise. */
		if (token == NULL || strlen(token) > TOKEN_LEN_MAX || strlen(token) < 16 || !b64url_valid(token)) {
			fail(a, "challenge token is missing or not base64url");
			return -EPROTO;
		}
		*ret_url = url;
		*ret_token = token;
		return 0;
	}
	fail(a, "the CA offers no %s challenge for this name", type);
	return -EACCES;
}

/* Poll an authorization until it leaves pending/processing. */
static int
authz_wait(struct acme *a, const char *url, const char *name)
{
	struct http_resp *resp = NULL;
	struct json *j = NULL;
	time_t deadline = clock_now() + POLL_DEADLINE_S;
	enum acme_status st;
	unsigned round;
	int r = -ETIMEDOUT;

	for (round = 0; clock_now() < deadline; round++) {
		if ((r = fetch(a, "authorization", url, &j, &resp)) < 0)
			return r;
		st = acme_status_from_string(json_get_str(j, "status"));
		if (st == ACME_VALID) {
			r = 0;
			break;
		}
		if (st != ACME_PENDING && st != ACME_PROCESSING) {
			const struct json *chs = json_get(j, "challenges");
			size_t i;

			r = -EACCES;
			fail(a, "%s: authorization is %s", name, json_get_str(j, "status") ? json_get_str(j, "status") : "unknown");
			for (i = 0; i < json_array_len(chs); i++)
				if (json_get(json_array_at(chs, i), "error") != NULL)
					log_error_object(a, name, json_get(json_array_at(chs, i), "error"));
			break;
		}
		poll_sleep(resp, round);
		json_free(j);
		http_resp_free(resp);
		j = NULL;
		resp = NULL;
		r = -ETIMEDOUT;
	}
	if (r == -ETIMEDOUT)
		fail(a, "%s: authorization still pending after %d s", name, POLL_DEADLINE_S);
	json_free(j);
	http_resp_free(resp);
	return r;
}

static int
authorize_one(struct acme *a, const char *url, const struct acme_solver *s)
{
	struct http_resp *resp = NULL, *cresp = NULL;
	struct json *j = NULL;
	const char *name, *curl, *token;
	char *keyauth = NULL, *tok = NULL, esc[300];
	enum acme_status st;
	int r;

	if ((r = fetch(a, "authorization", url, &j, &resp)) < 0)
		return r;
	name = json_get_str(json_get(j, "identifier"), "value");
	/* RFC 8555 7.1.4: a wildcard's authorization names the base domain. */
	snprintf(esc, sizeof(esc), "%s", json_get_bool(j, "wildcard") == 1 ? "*." : "");
	log_escape(esc + strlen(esc), sizeof(esc) - strlen(esc), name != NULL ? name : "?", name != NULL ? strlen(name) : 1);
	st = acme_status_from_string(json_get_str(j, "status"));
	if (st == ACME_VALID) {
		log_info("%s: %s: authorization already valid", a->subject, esc);
		r = 0;
		goto out;
	}
	if (st != ACME_PENDING) {
		fail(a, "%s: authorization is %s", esc, json_get_str(j, "status") ? json_get_str(j, "status") : "unknown");
		r = -EACCES;
		goto out;
	}
	if ((r = pick_challenge(a, j, s->type, &curl, &token)) < 0)
		goto out;
	r = -ENOMEM;
	if ((tok = strdup(token)) == NULL)
		goto out;
	if ((r = jws_key_authorization(a->key, token, &keyauth)) < 0)
		goto out;
	if ((r = s->present(s->arg, name, tok, keyauth)) < 0) {
		fail(a, "%s: cannot present the %s response", esc, s->type);
		goto out;
	}
	/* RFC 8555 7.5.1: the response is an empty JSON object. */
	r = post(a, curl, "{}", NULL, false, &cresp);
	if (r == 0 && cresp->status != 200)
		r = http_failure(a, "challenge", cresp);
	if (r == 0)
		r = authz_wait(a, url, esc);
	s->cleanup(s->arg, tok);
	if (r == 0)
		log_info("%s: %s: authorization valid", a->subject, esc);
out:
	free(keyauth);
	free(tok);
	json_free(j);
	http_resp_free(resp);
	http_resp_free(cresp);
	return r;
}

int
acme_order_authorize(struct acme *a, struct acme_order *o,
    const struct acme_solver *solver)
{
	size_t i;
	int r;

	if (o->status != ACME_PENDING)
		return 0;
	for (i = 0; i < o->nauthzs; i++)
		if ((r = authorize_one(a, o->authzs[i], solver)) < 0)
			return r;
	return 0;
}

/* Refresh the order and wait while it is pending or processing. */
static int
order_wait(struct acme *a, struct acme_order *o, enum acme_status until)
{
	struct http_resp *resp = NULL;
	struct json *j = NULL;
	time_t deadline = clock_now() + POLL_DEADLINE_S;
	unsigned round;
	int r;

	for (round = 0; clock_now() < deadline; round++) {
		if ((r = fetch(a, "order", o->url, &j, &resp)) < 0)
			return r;
		r = order_update(a, o, j);
		if (r == 0 && o->status == ACME_INVALID) {
			if (json_get(j, "error") != NULL)
				log_error_object(a, "order", json_get(j, "error"));
			else
				fail(a, "order %s became invalid", o->url);
			r = -EACCES;
		}
		json_free(j);
		j = NULL;
		if (r < 0 || o->status == until || o->status == ACME_VALID) {
			http_resp_free(resp);
			return r;
		}
		poll_sleep(resp, round);
		http_resp_free(resp);
		resp = NULL;
	}
	fail(a, "order %s did not settle within %d s", o->url, POLL_DEADLINE_S);
	return -ETIMEDOUT;
}

int
acme_order_finalize(struct acme *a, struct acme_order *o,
    const unsigned char *csr, size_t csr_len)
{
	struct http_resp *resp = NULL;
	struct json *p = NULL, *j = NULL;
	char *csr64 = NULL, *payload = NULL;
	struct problem pr;
	unsigned tries;
	int r;

	if (o->status == ACME_PENDING || o->status == ACME_PROCESSING) {
		if ((r = order_wait(a, o, ACME_READY)) < 0)
			return r;
	}
	if ((r = b64url_encode(csr, csr_len, &csr64)) < 0)
		return r;
	r = -ENOMEM;
	if ((p = json_object_new()) == NULL || json_set_str(p, "csr", csr64) < 0 ||
	    (payload = json_dump(p, false)) == NULL)
		goto out;
	for (tries = 0; o->status == ACME_READY && tries < FINALIZE_TRIES; tries++) {
		if ((r = post(a, o->finalize, payload, NULL, false, &resp)) < 0)
			goto out;
		if (resp->status == 200) {
			if ((r = parse_body(a, "finalize", resp, &j)) < 0 || (r = order_update(a, o, j)) < 0)
				goto out;
			break;
		}
		parse_problem(resp, &pr);
		if (resp->status != 403 || strcmp(pr.type, "orderNotReady") != 0) {
			r = http_failure(a, "finalize", resp);
			goto out;
		}
		/* RFC 8555 7.4: not ready yet; wait until it is, then retry. */
		http_resp_free(resp);
		resp = NULL;
		if ((r = order_wait(a, o, ACME_READY)) < 0)
			goto out;
	}
	if (o->status != ACME_VALID && (r = order_wait(a, o, ACME_VALID)) < 0)
		goto out;
	if (o->status != ACME_VALID || o->certificate == NULL) {
		fail(a, "order %s is %s without a certificate", o->url, o->status < ACME_UNKNOWN ? status_names[o->status] : "unknown");
		r = -EPROTO;
		goto out;
	}
	r = 0;
out:
	free(csr64);
	free(payload);
	json_free(p);
	json_free(j);
	http_resp_free(resp);
	return r;
}

int
acme_download(struct acme *a, const char *url, char **ret, size_t *ret_len,
    struct acme_alternates *alts)
{
	struct http_resp *resp = NULL;
	char *links[ACME_ALTERNATES_MAX];
	size_t n = 0, i;
	int r;

	if ((r = post(a, url, "", "application/pem-certificate-chain", false, &resp)) < 0)
		return r;
	if (resp->status != 200) {
		r = http_failure(a, "certificate download", resp);
		http_resp_free(resp);
		return r;
	}
	if (alts != NULL) {
		if ((r = http_links(resp->links, resp->nlinks, "alternate", links, ACME_ALTERNATES_MAX, &n)) < 0) {
			http_resp_free(resp);
			return r;
		}
		for (i = 0; i < n; i++) {
			if (url_ok(a, links[i]) && alts->n < ACME_ALTERNATES_MAX)
				alts->urls[alts->n++] = links[i];
			else
				free(links[i]);
		}
	}
	*ret = resp->body;
	*ret_len = resp->body_len;
	resp->body = NULL;
	http_resp_free(resp);
	return 0;
}

void
acme_alternates_fini(struct acme_alternates *alts)
{
	size_t i;

	for (i = 0; i < alts->n; i++)
		free(alts->urls[i]);
	alts->n = 0;
}
