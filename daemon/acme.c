#include "acme.h"
#include "acme_int.h"

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


_Thread_local struct acme_call acme_tls;

const char *const acme_status_names[] = {
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

	for (i = 0; s != NULL && i < sizeof(acme_status_names) / sizeof(acme_status_names[0]); i++)
		if (strcmp(s, acme_status_names[i]) == 0)
			return (enum acme_status)i;
	return ACME_UNKNOWN;
}

int
acme_new(const char *directory_url, const char *ca_bundle, struct acme **ret)
{
	const char *host;
	struct acme *a;
	pthread_condattr_t attr;
	size_t olen;
	int r;

	if (strncmp(directory_url, "https://", 8) != 0)
		return -EINVAL;
	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	a->order_timeout = ORDER_TIMEOUT_DEFAULT_S;
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&a->nonce_back, &attr);
	pthread_condattr_destroy(&attr);
	host = directory_url + 8;
	olen = 8 + strcspn(host, "/?#");
	if ((a->dir_url = strdup(directory_url)) == NULL ||
	    (a->origin = strndup(directory_url, olen)) == NULL ||
	    (ca_bundle != NULL && (a->ca_bundle = strdup(ca_bundle)) == NULL)) {
		acme_free(a);
		return -ENOMEM;
	}
	if ((r = http_new(ca_bundle, &a->idle[0])) < 0) {
		acme_free(a);
		return r;
	}
	a->nidle = 1;
	*ret = a;
	return 0;
}

void
acme_free(struct acme *a)
{
	size_t i;

	if (a == NULL)
		return;
	for (i = 0; i < a->nidle; i++)
		http_free(a->idle[i]);
	free(a->ca_bundle);
	free(a->dir_url);
	free(a->origin);
	free(a->new_nonce);
	free(a->new_account);
	free(a->new_order);
	free(a->renewal_info);
	free(a->revoke_cert);
	free(a->key_change);
	for (i = 0; i < a->nprofiles * 2; i++)
		free(a->profiles[i]);
	free(a->profiles);
	for (i = 0; i < a->nnonces; i++)
		free(a->nonces[i]);
	free(a->kid);
	free(a->eab_kid);
	crypto_secret_free(a->eab_key, a->eab_key_len);
	pthread_mutex_destroy(&a->mu);
	pthread_cond_destroy(&a->nonce_back);
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
acme_set_timeout(struct acme *a, unsigned secs)
{
	size_t i;

	pthread_mutex_lock(&a->mu);
	a->http_timeout = secs;
	for (i = 0; i < a->nidle; i++)
		http_set_timeout(a->idle[i], secs);
	pthread_mutex_unlock(&a->mu);
}

void
acme_set_subject(struct acme *a, const char *subject)
{
	(void)a; /* per thread, see acme.h */
	snprintf(acme_tls.subject, sizeof(acme_tls.subject), "%s", subject);
	acme_tls.last_error[0] = '\0';
	acme_tls.last_type[0] = '\0';
	acme_tls.retry_after = 0;
}

void
acme_set_order_timeout(struct acme *a, unsigned seconds)
{
	a->order_timeout = seconds;
}

const char *
acme_last_error(const struct acme *a)
{
	(void)a; /* per thread, see acme.h */
	return acme_tls.last_error;
}

const char *
acme_last_problem(const struct acme *a)
{
	(void)a; /* per thread, see acme.h */
	return acme_tls.last_type;
}

long
acme_retry_after(const struct acme *a)
{
	(void)a; /* per thread, see acme.h */
	return acme_tls.retry_after;
}

const char *
acme_status_name(enum acme_status st)
{
	return st < ACME_UNKNOWN ? acme_status_names[st] : "unknown";
}

/* A certID: two base64url parts joined by one dot. */
bool
acme_b64url_valid_id(const char *id)
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

/*
 * A copy of server text that is kept and shown later (profile names):
 * control and non-ASCII bytes escaped as log_escape() does, never cut.
 * Caller frees; NULL on OOM.
 */
char *
acme_dup_escaped(const char *s)
{
	size_t len = strlen(s), size = len * 4 + 4;
	char *out;

	if ((out = malloc(size)) == NULL)
		return NULL;
	return log_escape(out, size, s, len);
}

/* Record and log a failure: one line, subject first. */
void
acme_fail(struct acme *a, const char *fmt, ...)
{
	va_list ap;

	(void)a;
	va_start(ap, fmt);
	vsnprintf(acme_tls.last_error, sizeof(acme_tls.last_error), fmt, ap);
	va_end(ap);
	log_err("%s: %s", acme_tls.subject, acme_tls.last_error);
}

static int
hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * Path tricks in a URL on our origin: a "." or ".." segment (curl and
 * servers resolve them, so "/finalize-order/../../revoke-cert" names
 * another resource than it seems to), or a percent escape that is
 * malformed or decodes to a dot, slash, backslash, "%" or a control
 * character (which a server may decode into the same).  "path" is the
 * part after the origin, starting with "/".
 */
static bool
path_tricky(const char *path)
{
	const char *seg = path, *p;
	size_t n;

	while (*seg == '/') {
		seg++;
		n = strcspn(seg, "/?#");
		if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.'))
			return true;
		seg += n;
	}
	for (p = path; (p = strchr(p, '%')) != NULL; p++) {
		int hi = hexval(p[1]), lo = hi < 0 ? -1 : hexval(p[2]), v;

		if (lo < 0)
			return true;
		v = hi * 16 + lo;
		if (v == '.' || v == '/' || v == '\\' || v == '%' || v < 0x20 || v == 0x7f)
			return true;
	}
	return false;
}

/*
 * Why a URL from the server is not to be used, or NULL if it is fine: it
 * must be https on the directory's origin (so no other host, port or
 * userinfo), of sane length, free of control characters, spaces and
 * backslashes, and of path tricks.
 */
static const char *
url_problem(const struct acme *a, const char *url)
{
	size_t olen = strlen(a->origin), i;

	if (strlen(url) > URL_LEN_MAX)
		return "is too long";
	if (strncmp(url, a->origin, olen) != 0 || url[olen] != '/')
		return "is not https on the CA's origin";
	for (i = 0; url[i] != '\0'; i++)
		if ((unsigned char)url[i] <= 0x20 || (unsigned char)url[i] >= 0x7f || url[i] == '\\')
			return "has a space, backslash, control or non-ASCII character";
	if (path_tricky(url + olen))
		return "has a \".\" or \"..\" path segment or an encoded dot, slash or control character";
	return NULL;
}

bool
acme_url_ok(const struct acme *a, const char *url)
{
	return url != NULL && url_problem(a, url) == NULL;
}

int
acme_check_url(struct acme *a, const char *what, const char *url)
{
	const char *why = url != NULL ? url_problem(a, url) : "is missing";
	char esc[160];

	if (why == NULL)
		return 0;
	acme_fail(a, "%s URL \"%s\" %s (directory origin %s)", what,
	    url != NULL ? log_escape(esc, sizeof(esc), url, strlen(url)) : "", why, a->origin);
	return -EPROTO;
}

int
acme_take_url(struct acme *a, const char *what, const char *url, char **dst)
{
	int r;

	if ((r = acme_check_url(a, what, url)) < 0)
		return r;
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

/* An idle HTTP handle of the session, or a new one. */
static int
take_http(struct acme *a, struct http **ret)
{
	int r;

	pthread_mutex_lock(&a->mu);
	*ret = a->nidle > 0 ? a->idle[--a->nidle] : NULL;
	pthread_mutex_unlock(&a->mu);
	if (*ret != NULL)
		return 0;
	if ((r = http_new(a->ca_bundle, ret)) == 0)
		http_set_timeout(*ret, a->http_timeout);
	return r;
}

/* Back to the idle handles (freed if there are enough). */
static void
give_http(struct acme *a, struct http *h)
{
	pthread_mutex_lock(&a->mu);
	if (a->nidle < HTTP_IDLE_MAX) {
		a->idle[a->nidle++] = h;
		h = NULL;
	}
	pthread_mutex_unlock(&a->mu);
	http_free(h);
}

int
acme_request(struct acme *a, const char *method, const char *url, const char *body,
    const char *accept, struct http_resp **ret)
{
	struct http *h;
	int r;

	/*
	 * A curl handle serves one request at a time; the session's lock is
	 * not held while the server answers (max_parallel, README).
	 */
	if ((r = take_http(a, &h)) < 0)
		return r;
	r = http_request(h, method, url, body != NULL ? "application/jose+json" : NULL,
	    body, body != NULL ? strlen(body) : 0, accept, ret);
	give_http(a, h);
	if (r == 0) {
		pthread_mutex_lock(&a->mu);
		keep_nonce(a, *ret);
		pthread_mutex_unlock(&a->mu);
	}
	if (r == -EAGAIN || r == -E2BIG)
		snprintf(acme_tls.last_error, sizeof(acme_tls.last_error), "%s: %s", url, r == -EAGAIN ? "transport failure" : "response too large");
	return r;
}

/* A request counted in nonces_coming was answered (or failed). */
static void
nonce_answered(struct acme *a)
{
	pthread_mutex_lock(&a->mu);
	a->nonces_coming--;
	pthread_cond_broadcast(&a->nonce_back);
	pthread_mutex_unlock(&a->mu);
}

/*
 * Take the newest pooled nonce (RFC 8555 7.2), counting it in
 * nonces_coming: the caller calls nonce_answered() once its request is
 * answered.  With the pool empty, wait a little (NONCE_WAIT_MS) while
 * requests under way will bring one back, so that threads sharing a session
 * do not each ask for their own; then, or with none under way, fetch one
 * (HEAD newNonce).  The wait is bounded so that a request the CA is slow to
 * answer holds up no other certificate.
 */
static int
acme_get_nonce(struct acme *a, char **ret)
{
	struct http_resp *resp = NULL;
	struct timespec until;
	unsigned tries;
	int r;

	/* Another thread may take the nonce a HEAD brought in; try twice. */
	for (tries = 0; tries < 3; tries++) {
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += NONCE_WAIT_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&a->mu);
		while (a->nnonces == 0 && a->nonces_coming > 0)
			if (pthread_cond_timedwait(&a->nonce_back, &a->mu, &until) == ETIMEDOUT)
				break;
		*ret = a->nnonces > 0 ? a->nonces[--a->nnonces] : NULL;
		a->nonces_coming++; /* the caller's request, or our HEAD */
		pthread_mutex_unlock(&a->mu);
		if (*ret != NULL)
			return 0;
		r = acme_request(a, "HEAD", a->new_nonce, NULL, NULL, &resp);
		nonce_answered(a);
		if (r < 0)
			return r;
		/* An error answer (503 + Retry-After) is not asked again at once. */
		r = resp->status >= 400 ? acme_http_failure(a, "newNonce", resp) : 0;
		http_resp_free(resp);
		if (r < 0)
			return r;
	}
	acme_fail(a, "newNonce gave no usable Replay-Nonce");
	return -EPROTO;
}


/* Pull type and detail from a problem document; tolerate any body. */
void
acme_parse_problem(const struct http_resp *resp, struct problem *p)
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

/*
 * RFC 8555 6.7.1: log one line per subproblem of the problem document or
 * error object "err", naming its identifier (at most 20).
 */
void
acme_log_subproblems(const struct json *err)
{
	const struct json *subs = json_get(err, "subproblems"), *sp;
	const char *v, *type, *detail;
	char id[256], t[100], d[300];
	size_t i;

	for (i = 0; i < json_array_len(subs) && i < 20; i++) {
		sp = json_array_at(subs, i);
		v = json_get_str(json_get(sp, "identifier"), "value");
		type = json_get_str(sp, "type");
		detail = json_get_str(sp, "detail");
		log_err("%s: %s: %s: %s", acme_tls.subject, v != NULL ? log_escape(id, sizeof(id), v, strlen(v)) : "?",
		    type != NULL ? log_escape(t, sizeof(t), type, strlen(type)) : "error",
		    detail != NULL ? log_escape(d, sizeof(d), detail, strlen(detail)) : "");
	}
}

/* Remember a problem type, without its URN prefix, as this call's last. */
void
acme_note_problem(const char *type)
{
	if (type != NULL && strncmp(type, ERR_TYPE_PREFIX, strlen(ERR_TYPE_PREFIX)) == 0)
		type += strlen(ERR_TYPE_PREFIX);
	log_escape(acme_tls.last_type, sizeof(acme_tls.last_type), type != NULL ? type : "", type != NULL ? strlen(type) : 0);
}

/* Map an error response to our errno classes, and remember Retry-After. */
int
acme_http_failure(struct acme *a, const char *what, const struct http_resp *resp)
{
	struct json *j = NULL;
	struct problem p;
	long ra = 0;

	acme_parse_problem(resp, &p);
	memcpy(acme_tls.last_type, p.type, sizeof(acme_tls.last_type));
	if (resp->retry_after != NULL && clock_parse_retry_after(resp->retry_after, clock_now(), &ra) == 0) {
		/* A CA may defer us, but not until the certificate expires. */
		if (ra > RETRY_AFTER_MAX_S) {
			log_notice("%s: %s: Retry-After of %ld s capped to %d s", acme_tls.subject, what, ra, RETRY_AFTER_MAX_S);
			ra = RETRY_AFTER_MAX_S;
		}
		acme_tls.retry_after = ra;
	}
	acme_fail(a, "%s: HTTP %ld%s%s%s%s%s", what, resp->status, p.type[0] ? " " : "", p.type,
	    p.detail[0] ? ": " : "", p.detail, ra > 0 ? " (the CA asks to wait before retrying)" : "");
	if (json_parse(resp->body, resp->body_len, &j, NULL, 0) == 0)
		acme_log_subproblems(j);
	json_free(j);
	if (ra > 0)
		log_notice("%s: %s: the CA asks for %ld s before a retry", acme_tls.subject, what, ra);
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
	acme_parse_problem(resp, &p);
	return strcmp(p.type, "badNonce") == 0;
}

/*
 * Signed POST (RFC 8555 6.2).  "payload" is JSON text, or "" for
 * POST-as-GET.  badNonce answers are retried here with the fresh nonce
 * they carry, at most BAD_NONCE_TRIES times.  "use_jwk" signs with the
 * key itself instead of the account URL (newAccount).
 */

int
acme_post(struct acme *a, const char *url, const char *payload, const char *accept,
    bool use_jwk, struct http_resp **ret)
{
	return acme_post_as(a, a->key, url, payload, accept, use_jwk, ret);
}

/* As acme_post(), signed by "signer" (with its jwk when "use_jwk"). */
int
acme_post_as(struct acme *a, const struct key *signer, const char *url,
    const char *payload, const char *accept, bool use_jwk,
    struct http_resp **ret)
{
	struct http_resp *resp = NULL;
	char *nonce = NULL, *body = NULL;
	unsigned tries;
	int r;

	for (tries = 0; tries < BAD_NONCE_TRIES; tries++) {
		if ((r = acme_get_nonce(a, &nonce)) < 0)
			return r;
		r = jws_sign(signer, use_jwk ? NULL : a->kid, nonce, url, payload, &body);
		free(nonce);
		if (r == 0)
			r = acme_request(a, "POST", url, body, accept, &resp);
		nonce_answered(a);
		free(body);
		body = NULL;
		if (r < 0)
			return r;
		if (!is_bad_nonce(resp)) {
			*ret = resp;
			return 0;
		}
		log_debug("%s: %s: badNonce, retrying", acme_tls.subject, url);
		http_resp_free(resp);
	}
	acme_fail(a, "%s: server rejected %d nonces in a row", url, BAD_NONCE_TRIES);
	return -EAGAIN;
}

int
acme_parse_body(struct acme *a, const char *what, const struct http_resp *resp,
    struct json **ret)
{
	char err[160];
	int r;

	if ((r = json_parse(resp->body, resp->body_len, ret, err, sizeof(err))) < 0) {
		acme_fail(a, "%s: %s", what, err);
		return r == -ENOMEM ? r : -EPROTO;
	}
	if (!json_is_obj(*ret)) {
		json_free(*ret);
		acme_fail(a, "%s: answer is not a JSON object", what);
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

	/* A re-read directory replaces what an earlier read found. */
	for (n = 0; n < a->nprofiles * 2; n++)
		free(a->profiles[n]);
	free(a->profiles);
	a->profiles = NULL;
	a->nprofiles = n = 0;
	if (profiles == NULL)
		return 0;
	if (!json_is_obj(profiles)) {
		acme_fail(a, "directory: meta.profiles is not an object");
		return -EPROTO;
	}
	while (json_object_next(profiles, &it, &name, &v))
		n++;
	if (n > PROFILES_MAX) {
		acme_fail(a, "directory: more than %d profiles", PROFILES_MAX);
		return -EPROTO;
	}
	if (n == 0 || (a->profiles = calloc(n * 2, sizeof(char *))) == NULL)
		return n == 0 ? 0 : -ENOMEM;
	it = NULL;
	while (json_object_next(profiles, &it, &name, &v)) {
		const char *desc = json_str(v) != NULL ? json_str(v) : "";

		if ((a->profiles[a->nprofiles * 2] = acme_dup_escaped(name)) == NULL ||
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

	if ((r = acme_request(a, "GET", a->dir_url, NULL, NULL, &resp)) < 0) {
		log_err("%s: directory: %s", acme_tls.subject, acme_tls.last_error);
		return r;
	}
	if (resp->status != 200) {
		r = acme_http_failure(a, "directory", resp);
		goto out;
	}
	if ((r = acme_parse_body(a, "directory", resp, &dir)) < 0)
		goto out;
	if ((r = acme_take_url(a, "newNonce", json_get_str(dir, "newNonce"), &a->new_nonce)) < 0 ||
	    (r = acme_take_url(a, "newAccount", json_get_str(dir, "newAccount"), &a->new_account)) < 0 ||
	    (r = acme_take_url(a, "newOrder", json_get_str(dir, "newOrder"), &a->new_order)) < 0 ||
	    (r = load_profiles(a, json_get(dir, "meta"))) < 0)
		goto out;
	if (json_get(dir, "revokeCert") != NULL &&
	    (r = acme_take_url(a, "revokeCert", json_get_str(dir, "revokeCert"), &a->revoke_cert)) < 0)
		goto out;
	if (json_get(dir, "keyChange") != NULL &&
	    (r = acme_take_url(a, "keyChange", json_get_str(dir, "keyChange"), &a->key_change)) < 0)
		goto out;
	if (json_get(dir, "renewalInfo") != NULL &&
	    (r = acme_take_url(a, "renewalInfo", json_get_str(dir, "renewalInfo"), &a->renewal_info)) < 0)
		goto out;
	r = 0;
out:
	json_free(dir);
	http_resp_free(resp);
	return r;
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
	r = acme_post(a, a->new_account, payload, NULL, true, &resp);
	free(payload);
	if (r < 0)
		return r;
	if (resp->status == 200 || resp->status == 201) {
		r = acme_take_url(a, "account", resp->location, &a->kid);
		if (r == 0)
			log_info("%s: %s account %s", acme_tls.subject, resp->status == 201 ? "registered new" : "using existing", a->kid);
	} else {
		acme_parse_problem(resp, &p);
		if (only_existing && strcmp(p.type, "accountDoesNotExist") == 0) {
			*ret_missing = true;
			r = 0;
		} else {
			r = acme_http_failure(a, "newAccount", resp);
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
		log_notice("%s: the CA no longer knows account %s; registering again", acme_tls.subject, known_url);
	}
	return new_account(a, contact, ncontact, false, &missing);
}

int
acme_revoke(struct acme *a, const unsigned char *der, size_t der_len,
    int reason, const struct key *cert_key)
{
	struct http_resp *resp = NULL;
	struct json *p = NULL;
	char *cert64 = NULL, *payload = NULL;
	int r;

	if (a->revoke_cert == NULL) {
		acme_fail(a, "the CA's directory has no revokeCert");
		return -EPROTO;
	}
	if ((r = b64url_encode(der, der_len, &cert64)) < 0)
		return r;
	r = -ENOMEM;
	if ((p = json_object_new()) == NULL || json_set_str(p, "certificate", cert64) < 0 ||
	    (reason >= 0 && json_set(p, "reason", json_int_new(reason)) < 0) ||
	    (payload = json_dump(p, false)) == NULL)
		goto out;
	/* RFC 8555 7.6: signed by the account (kid) or the certificate key (jwk). */
	if ((r = acme_post_as(a, cert_key != NULL ? cert_key : a->key, a->revoke_cert, payload, NULL,
		 cert_key != NULL, &resp)) < 0)
		goto out;
	r = resp->status == 200 ? 0 : acme_http_failure(a, "revokeCert", resp);
out:
	http_resp_free(resp);
	json_free(p);
	free(cert64);
	free(payload);
	return r;
}

int
acme_key_change(struct acme *a, const struct key *new_key)
{
	struct http_resp *resp = NULL;
	struct json *inner = NULL, *old_jwk = NULL;
	char *inner_payload = NULL, *inner_jws = NULL;
	int r;

	if (a->key_change == NULL || a->kid == NULL) {
		acme_fail(a, "no keyChange URL or no account");
		return -EPROTO;
	}
	r = -ENOMEM;
	if ((inner = json_object_new()) == NULL || json_set_str(inner, "account", a->kid) < 0)
		goto out;
	if ((r = crypto_key_jwk(a->key, &old_jwk)) < 0 || (r = json_set(inner, "oldKey", old_jwk)) < 0)
		goto out;
	r = -ENOMEM;
	if ((inner_payload = json_dump(inner, false)) == NULL)
		goto out;
	/* RFC 8555 7.3.5: inner JWS by the new key, with jwk and no nonce. */
	if ((r = jws_sign(new_key, NULL, NULL, a->key_change, inner_payload, &inner_jws)) < 0)
		goto out;
	if ((r = acme_post(a, a->key_change, inner_jws, NULL, false, &resp)) < 0)
		goto out;
	if (resp->status == 409) {
		acme_fail(a, "keyChange: the new key is already in use by %s", resp->location != NULL && acme_url_ok(a, resp->location) ? resp->location : "another account");
		r = -EEXIST;
	} else if (resp->status != 200) {
		r = acme_http_failure(a, "keyChange", resp);
	} else {
		a->key = new_key;
		r = 0;
	}
out:
	http_resp_free(resp);
	json_free(inner);
	free(inner_payload);
	free(inner_jws);
	return r;
}
