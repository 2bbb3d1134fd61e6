#include "renew.h"

#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "account.h"
#include "acme.h"
#include "solve.h"
#include "alpn.h"
#include "bus.h"
#include "ari.h"
#include "b64.h"
#include "cfg.h"
#include "deploy.h"
#include "challenge.h"
#include "clock.h"
#include "crypto.h"
#include "fs.h"
#include "hook.h"
#include "log.h"
#include "sched.h"
#include "store.h"

#define KEY_FILE_MAX (64 * 1024)
#define SESSIONS_MAX 16
#define RATE_WINDOW_S 3600
#define RATE_FAILURES_MAX 5
#define RESPONDERS_MAX 16
#define TOKEN_COPY_MAX 260
#define ORDER_KEEP_S (7 * 86400) /* Let's Encrypt's orders live 7 days */

/* One ACME session per CA per pass: directory, nonces and account. */
struct session {
	const struct cfg_ca *ca;
	struct acme *acme;
	struct key *account_key;
	/* Held while the session is set up, by the one thread doing it. */
	pthread_mutex_t setup;
	bool ready;
	int status; /* 0 ready, <0 setup failed */
	char error[512]; /* why setup failed */
	long retry_after; /* what the CA asked for when setup failed, or 0 */
};

#define UNITS_MAX 256

struct pass {
	const struct cfg *cfg;
	/* Per certificate of cfg: installed in this pass (batched afterwards). */
	bool *installed;
	struct store *st;
	const char *state_dir;
	struct session sessions[SESSIONS_MAX];
	size_t nsessions;
	struct solvers *solvers;
	/* Threads of the pass: the lock guards everything above and below. */
	pthread_mutex_t lock;
	char *const *names; /* the selection, or NULL for all */
	size_t nselected;
	size_t next; /* index of the next certificate to take */
	bool force;
	struct renew_result *res;
};


static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int
renew_fingerprint(const struct cfg_cert *c, char **ret)
{
	const char **names;
	char *text = NULL, *grown;
	size_t len = 0, i;
	int r = -ENOMEM;

	/* The names are a set: their order in the file changes nothing. */
	if ((names = calloc(c->ndomains + 1, sizeof(*names))) == NULL)
		return -ENOMEM;
	memcpy(names, c->domains, c->ndomains * sizeof(*names));
	qsort(names, c->ndomains, sizeof(*names), cmp_str);
	/*
	 * The canonical text itself, one item a line: exact, readable in the
	 * database, and no digest to compute (the daemon's plan needs no
	 * OpenSSL, whose provider alone would cost it 2 MB of memory).
	 */
	for (i = 0; i < c->ndomains + 4; i++) {
		const char *part = i == 0 ? c->ca->directory
		    : i == 1 ? (c->profile != NULL ? c->profile : "")
		    : i == 2 ? key_type_name((enum key_type)c->key_type)
		    : i == 3 ? "names"
			     : names[i - 4];
		size_t n = strlen(part);

		if ((grown = realloc(text, len + n + 2)) == NULL)
			goto out;
		text = grown;
		memcpy(text + len, part, n);
		len += n;
		text[len++] = '\n';
		text[len] = '\0';
	}
	*ret = text;
	text = NULL;
	r = 0;
out:
	free(text);
	free(names);
	return r;
}

/* sched_due() for "c" given its state row (NULL: none yet). */
static int
due_from_row(const struct cfg_cert *c, const struct store_cert *row,
    time_t *ret_due, const char **ret_reason)
{
	enum sched_reason why;
	char *fp;
	int r;

	if ((r = renew_fingerprint(c, &fp)) < 0)
		return r;
	*ret_due = sched_due(row, fp, deploy_present(c), &why);
	*ret_reason = sched_reason_name(why);
	free(fp);
	return 0;
}

int
renew_due(const struct cfg_cert *c, struct store *st, time_t *ret_due,
    const char **ret_reason)
{
	struct store_cert *row = NULL;
	int r;

	r = store_cert_get(st, c->name, &row);
	if (r < 0 && r != -ENOENT)
		return r;
	r = due_from_row(c, row, ret_due, ret_reason);
	store_cert_free(row);
	return r;
}

int
renew_plan_cert_init(const struct cfg_cert *c, struct renew_plan_cert *ret)
{
	struct renew_plan_cert pc = {NULL, NULL, NULL};

	if ((pc.name = strdup(c->name)) == NULL || (pc.output = strdup(c->output)) == NULL ||
	    renew_fingerprint(c, &pc.fingerprint) < 0) {
		renew_plan_cert_fini(&pc);
		return -ENOMEM;
	}
	*ret = pc;
	return 0;
}

void
renew_plan_cert_fini(struct renew_plan_cert *pc)
{
	free(pc->name);
	free(pc->output);
	free(pc->fingerprint);
	pc->name = pc->output = pc->fingerprint = NULL;
}

int
renew_next(const struct renew_plan_cert *pc, struct store *st, time_t now,
    time_t *ret_next, bool *ret_failing)
{
	struct store_cert *row = NULL;
	enum sched_reason why;
	time_t due, ari;
	int r;

	r = store_cert_get(st, pc->name, &row);
	if (r < 0 && r != -ENOENT)
		return r;
	due = sched_due(row, pc->fingerprint, deploy_present_in(pc->output), &why);
	ari = sched_ari_fetch(row, now);
	*ret_next = ari < due ? ari : due;
	*ret_failing = row != NULL && row->failures > 0;
	store_cert_free(row);
	return 0;
}

/* The pass's session for "ca", set up by the first thread that asks. */
static struct session *
session_get(struct pass *p, const struct cfg_ca *ca)
{
	struct session *s = NULL;
	size_t i;

	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->nsessions; i++)
		if (p->sessions[i].ca == ca)
			s = &p->sessions[i];
	if (s == NULL && p->nsessions < SESSIONS_MAX) {
		s = &p->sessions[p->nsessions++];
		s->ca = ca;
		pthread_mutex_init(&s->setup, NULL);
	}
	pthread_mutex_unlock(&p->lock);
	if (s == NULL)
		return NULL;
	/*
	 * Set up once, under the session's own lock: threads for this CA wait
	 * for it, those for other CAs (and the pass's lock) do not.
	 */
	pthread_mutex_lock(&s->setup);
	if (!s->ready) {
		s->status = account_open(ca, p->state_dir, p->st, &s->acme, &s->account_key);
		if (s->acme != NULL)
			acme_set_order_timeout(s->acme, p->cfg->global.order_timeout);
		if (s->status < 0) {
			snprintf(s->error, sizeof(s->error), "%s", s->acme != NULL && *acme_last_error(s->acme) ?
			    acme_last_error(s->acme) : "CA session setup failed");
			/* Per thread: keep it for every certificate of this CA. */
			s->retry_after = s->acme != NULL ? acme_retry_after(s->acme) : 0;
		}
		s->ready = true;
	}
	pthread_mutex_unlock(&s->setup);
	return s;
}

/*
 * Decide what profile to send (RFC draft-ietf-acme-profiles; SPEC 1.5):
 * none unless configured and offered; required + not offered fails.
 */
static int
choose_profile(const struct cfg_cert *c, struct acme *a, const char **ret)
{
	char offered[512] = "";
	size_t i, o = 0;

	*ret = NULL;
	if (c->profile == NULL)
		return 0;
	if (acme_profile_offered(a, c->profile)) {
		*ret = c->profile;
		return 0;
	}
	for (i = 0; i < acme_nprofiles(a) && o < sizeof(offered); i++)
		o += (size_t)snprintf(offered + o, sizeof(offered) - o, "%s%s", i ? ", " : "", acme_profile_name(a, i));
	if (c->profile_mode == CFG_PROFILE_PREFERRED) {
		log_warn("%s: profile \"%s\" is not offered by %s (%s); ordering the CA's default", c->name, c->profile, c->ca->name,
		    acme_nprofiles(a) ? offered : "the CA offers no profiles");
		return 0;
	}
	/* As the certificate's error, so that status and the state show it. */
	acme_fail(a, "required profile \"%s\" is not offered by %s: %s%s", c->profile, c->ca->name,
	    acme_nprofiles(a) ? "it offers " : "", acme_nprofiles(a) ? offered : "the CA offers no profiles");
	return -EACCES;
}

/* The new certificate must name exactly the configured identifiers. */
static int
names_match(const struct cfg_cert *c, const struct cert_info *ci)
{
	size_t i, j;

	if (ci->nnames != c->ndomains)
		return 0;
	for (i = 0; i < c->ndomains; i++) {
		for (j = 0; j < ci->nnames; j++)
			if (strcmp(c->domains[i], ci->names[j]) == 0)
				break;
		if (j == ci->nnames)
			return 0;
	}
	return 1;
}

static int
run_reload_hook(const struct cfg_cert *c, const struct cert_info *ci,
    unsigned timeout)
{
	char vars[9][4200], *env[10], names[4096] = "", na[32];
	size_t i, o = 0;
	int status;

	if (c->reload == NULL)
		return 0;
	for (i = 0; i < c->ndomains && o < sizeof(names); i++)
		o += (size_t)snprintf(names + o, sizeof(names) - o, "%s%s", i ? " " : "", c->domains[i]);
	snprintf(vars[0], sizeof(vars[0]), "ACMED_CERT_NAME=%s", c->name);
	snprintf(vars[1], sizeof(vars[1]), "ACMED_DOMAINS=%s", names);
	snprintf(vars[2], sizeof(vars[2]), "ACMED_OUTPUT_DIR=%s", c->output);
	snprintf(vars[3], sizeof(vars[3]), "ACMED_KEY_FILE=%s/privkey.pem", c->output);
	snprintf(vars[4], sizeof(vars[4]), "ACMED_CERT_FILE=%s/cert.pem", c->output);
	snprintf(vars[5], sizeof(vars[5]), "ACMED_CHAIN_FILE=%s/chain.pem", c->output);
	snprintf(vars[6], sizeof(vars[6]), "ACMED_FULLCHAIN_FILE=%s/fullchain.pem", c->output);
	snprintf(vars[7], sizeof(vars[7]), "ACMED_SERIAL=%s", ci->serial_hex);
	snprintf(vars[8], sizeof(vars[8]), "ACMED_NOT_AFTER=%s", clock_format(ci->not_after, na, sizeof(na)));
	for (i = 0; i < 9; i++)
		env[i] = vars[i];
	env[9] = NULL;
	if (hook_run(c->name, c->reload, env, (int)timeout, &status) < 0)
		status = -1;
	return status;
}

/* Run the reload hook and the batched reloads; then clear hook_pending. */
static void
after_install(struct pass *p, const struct cfg_cert *c,
    const struct cert_info *ci)
{
	struct store_cert *row = NULL;
	int status = run_reload_hook(c, ci, p->cfg->global.hook_timeout);

	pthread_mutex_lock(&p->lock);
	p->installed[c - p->cfg->certs] = true;
	pthread_mutex_unlock(&p->lock);
	if (store_cert_get(p->st, c->name, &row) == 0) {
		row->hook_pending = 0;
		row->hook_status = status;
		if (store_cert_put(p->st, row) < 0)
			log_err("%s: cannot record the hook's outcome", c->name);
	}
	store_cert_free(row);
}

/*
 * After all certificates, in configuration order: reload each unit of the
 * installed certificates once, then run the global hook once with their
 * names in ACMED_RENEWED.
 */
static void
after_pass(struct pass *p)
{
	const struct cfg_cert *c;
	char *units[UNITS_MAX], *env[2] = {NULL, NULL}, *end;
	size_t i, j, k, nunits = 0, len = sizeof("ACMED_RENEWED=");
	int status;

	for (i = 0; i < p->cfg->ncerts; i++) {
		if (!p->installed[i])
			continue;
		c = &p->cfg->certs[i];
		len += strlen(c->name) + 1;
		for (j = 0; j < c->nreload_units; j++) {
			for (k = 0; k < nunits && strcmp(units[k], c->reload_units[j]) != 0; k++)
				;
			if (k == nunits && nunits < UNITS_MAX)
				units[nunits++] = c->reload_units[j];
		}
	}
	if (len == sizeof("ACMED_RENEWED="))
		return;
	bus_reload_units(units, nunits);
	if (p->cfg->global.post_renew_hook == NULL || (env[0] = malloc(len)) == NULL)
		return;
	end = stpcpy(env[0], "ACMED_RENEWED=");
	for (i = 0; i < p->cfg->ncerts; i++)
		if (p->installed[i])
			end += sprintf(end, "%s%s", end[-1] == '=' ? "" : " ", p->cfg->certs[i].name);
	(void)hook_run("post_renew_hook", p->cfg->global.post_renew_hook, env, (int)p->cfg->global.hook_timeout, &status);
	free(env[0]);
}

/*
 * The key for the new certificate: the installed one when key_reuse is set
 * and it is of the configured type, else a fresh one.
 */
static int
certificate_key(const struct cfg_cert *c, struct key **ret)
{
	char path[4096], *pem = NULL;
	size_t len = 0;
	int r;

	if (c->key_reuse) {
		snprintf(path, sizeof(path), "%s/privkey.pem", c->output);
		if (fs_read_file(path, KEY_FILE_MAX, &pem, &len) == 0) {
			r = crypto_key_from_pem(pem, len, ret);
			crypto_secret_free(pem, len);
			if (r == 0 && crypto_key_type(*ret) == (enum key_type)c->key_type) {
				log_info("%s: reusing the installed key", c->name);
				return 0;
			}
			if (r == 0) {
				crypto_key_free(*ret);
				*ret = NULL;
			}
			log_notice("%s: the installed key cannot be reused; generating a new one", c->name);
		}
	}
	return crypto_key_generate((enum key_type)c->key_type, ret);
}

/*
 * Download and check the chain.  With preferred_chain set, take the first
 * of the default and the alternate chains (RFC 8555 7.4.2) whose topmost
 * issuer's CN matches; if none does, keep the default chain.
 */
static int
download_chain(const struct cfg_cert *c, struct acme *a, const char *url,
    const struct key *k, struct cert_info **ret)
{
	struct acme_alternates alts = {.n = 0};
	struct cert_info *ci = NULL, *alt = NULL;
	char *pem = NULL, err[256];
	size_t len = 0, i;
	int r;

	if ((r = acme_download(a, url, &pem, &len, c->preferred_chain != NULL ? &alts : NULL)) < 0)
		return r;
	r = crypto_chain_inspect(pem, len, k, &ci, err, sizeof(err));
	free(pem);
	if (r < 0) {
		/* As the certificate's error: status and the state show why. */
		acme_fail(a, "refusing the new certificate: %s", err);
		goto out;
	}
	for (i = 0; c->preferred_chain != NULL && strcmp(ci->top_issuer, c->preferred_chain) != 0 && i < alts.n; i++) {
		if (acme_download(a, alts.urls[i], &pem, &len, NULL) < 0)
			continue;
		if (crypto_chain_inspect(pem, len, k, &alt, err, sizeof(err)) < 0) {
			log_warn("%s: ignoring alternate chain %zu: %s", c->name, i + 1, err);
		} else if (strcmp(alt->serial_hex, ci->serial_hex) == 0 && strcmp(alt->top_issuer, c->preferred_chain) == 0) {
			log_info("%s: using the alternate chain issued by \"%s\"", c->name, alt->top_issuer);
			cert_info_free(ci);
			ci = alt;
		} else {
			cert_info_free(alt);
		}
		alt = NULL;
		free(pem);
		pem = NULL;
	}
	if (c->preferred_chain != NULL && strcmp(ci->top_issuer, c->preferred_chain) != 0)
		log_warn("%s: no chain issued by \"%s\"; keeping the default chain (\"%s\")", c->name, c->preferred_chain, ci->top_issuer);
	*ret = ci;
	ci = NULL;
out:
	acme_alternates_fini(&alts);
	cert_info_free(ci);
	return r;
}

/* Order, validate, finalize and download; verify before returning. */
/* STATE/pending/NAME.key: the key of the order in flight. */
static void
pending_key_path(const struct pass *p, const struct cfg_cert *c, char *buf,
    size_t size)
{
	snprintf(buf, size, "%s/pending/%s.key", p->state_dir, c->name);
}

/* Load a file-held private key; -ENOENT if there is none. */
static int
load_key_file(const char *path, struct key **ret)
{
	char *pem = NULL;
	size_t len = 0;
	int r;

	if ((r = fs_read_file(path, KEY_FILE_MAX, &pem, &len)) < 0)
		return r;
	r = crypto_key_from_pem(pem, len, ret);
	crypto_secret_free(pem, len);
	return r;
}

/* Keep the new key (0600) before the CA learns its public half. */
static int
save_pending_key(const struct pass *p, const struct cfg_cert *c,
    const struct key *k)
{
	char path[PATH_MAX], dir[PATH_MAX], *pem = NULL;
	size_t len = 0;
	int r;

	snprintf(dir, sizeof(dir), "%s/pending", p->state_dir);
	pending_key_path(p, c, path, sizeof(path));
	if ((r = fs_mkdir_p(dir, 0700)) < 0 || (r = crypto_key_to_pem(k, &pem, &len)) < 0)
		return r;
	/* A crash while staging the last one left a copy of a secret key. */
	(void)fs_remove_stale_tmp(dir, (const char *const[]){strrchr(path, '/') + 1}, 1);
	r = fs_write_atomic(path, pem, len, 0600);
	crypto_secret_free(pem, len);
	if (r < 0)
		log_err("%s: cannot save the new key to %s: %s", c->name, path, strerror(-r));
	return r;
}

/* The order is done with (installed, or beyond resuming): forget it. */
static void
forget_order(struct pass *p, const struct cfg_cert *c)
{
	char path[PATH_MAX];

	(void)store_order_del(p->st, c->name);
	pending_key_path(p, c, path, sizeof(path));
	(void)unlink(path);
}

/*
 * After a restart: pick up the order left in flight for this configuration,
 * if the CA still has it in a state we can continue from, with its key.
 * Returns -EAGAIN (error and Retry-After as the fetch left them) if the
 * CA could not answer for it now: placing another order right away would
 * ignore what it asked for.  The order is kept for the next try unless it
 * is older than ORDER_KEEP_S, so that a CA failing on it for good cannot
 * stall the certificate.  Else 0, with or without an order.
 */
static int
resume_order(struct pass *p, const struct cfg_cert *c, struct acme *a,
    const char *fp, struct acme_order **ret_o, struct key **ret_k)
{
	struct store_order so;
	struct acme_order *o = NULL;
	struct key *k = NULL;
	char path[PATH_MAX];
	int r = 0;

	if (store_order_get(p->st, c->name, &so) < 0)
		return 0;
	pending_key_path(p, c, path, sizeof(path));
	if (strcmp(so.fingerprint, fp) == 0 && strcmp(so.ca, c->ca->name) == 0 &&
	    load_key_file(path, &k) == 0 && crypto_key_type(k) == (enum key_type)c->key_type &&
	    (r = acme_order_fetch(a, so.url, &o)) == -EAGAIN) {
		if (clock_now() - so.created < ORDER_KEEP_S) {
			log_info("%s: order %s: no answer now; keeping it for the next try", c->name, so.url);
		} else {
			log_info("%s: order %s: no answer, and too old to keep; the next try orders anew", c->name, so.url);
			forget_order(p, c);
		}
		crypto_key_free(k);
		store_order_fini(&so);
		return r;
	}
	if (r < 0 || o == NULL || o->status == ACME_INVALID || o->status == ACME_UNKNOWN ||
	    (o->status == ACME_VALID && o->certificate == NULL)) {
		log_info("%s: not resuming the earlier order %s", c->name, so.url);
		acme_order_free(o);
		crypto_key_free(k);
		forget_order(p, c);
	} else {
		log_notice("%s: resuming order %s (%s)", c->name, so.url, acme_status_name(o->status));
		*ret_o = o;
		*ret_k = k;
	}
	acme_set_subject(a, c->name); /* clears the fetch's error, if any */
	store_order_fini(&so);
	return 0;
}

/* Remember the order so a restart resumes it instead of placing another. */
static void
note_order(struct pass *p, const struct cfg_cert *c, const char *fp,
    const struct acme_order *o)
{
	struct store_order so = {.ca = c->ca->name, .url = o->url, .fingerprint = (char *)(uintptr_t)fp,
	    .step = (char *)(uintptr_t) "ordered", .created = clock_now()};

	if (store_order_put(p->st, c->name, &so) < 0)
		log_warn("%s: could not record order %s; a restart would place a new one", c->name, o->url);
}

/* Order (or resume), validate, finalize and download; verify the result. */
static int
obtain(struct pass *p, const struct cfg_cert *c, struct acme *a,
    const char *fp, const char *replaces, struct key **ret_key,
    struct cert_info **ret_ci, char **ret_profile)
{
	struct acme_solver solver;
	struct acme_order *o = NULL;
	struct acme *dir = NULL; /* for a re-read of the directory */
	struct cert_info *ci = NULL;
	struct key *k = NULL;
	unsigned char *csr = NULL;
	const char *profile;
	unsigned attempt;
	size_t csr_len;
	int r;

	if ((r = choose_profile(c, a, &profile)) < 0)
		return r;
	if ((r = solve_begin(&p->solvers, &p->lock, c, p->cfg->global.hook_timeout, &solver)) < 0)
		return r;
	if ((r = resume_order(p, c, a, fp, &o, &k)) < 0)
		goto out;
	if (k == NULL && ((r = certificate_key(c, &k)) < 0 || (r = save_pending_key(p, c, k)) < 0))
		goto out;
	if ((r = crypto_csr(k, c->domains, c->ndomains, &csr, &csr_len)) < 0)
		goto out;
	for (attempt = 0;; attempt++) {
		bool finalizing = false;

		if (o == NULL && (r = acme_order_new(a, c->domains, c->ndomains, profile, replaces, &o)) == 0)
			note_order(p, c, fp, o);
		if (o != NULL && (r = acme_order_authorize(a, o, &solver)) == 0) {
			finalizing = true;
			r = acme_order_finalize(a, o, csr, csr_len);
		}
		/*
		 * SPEC 1.5: invalidProfile at finalize means the CA withdrew the
		 * profile; re-read the directory and place at most one more order.
		 */
		if (r == 0 || attempt > 0 || !finalizing || strcmp(acme_last_problem(a), "invalidProfile") != 0)
			break;
		log_notice("%s: the CA no longer issues this order's profile; re-reading its directory", c->name);
		acme_order_free(o);
		o = NULL;
		forget_order(p, c);
		/*
		 * Into a private session: the CA's is shared by the pass's
		 * threads, and re-reading it would free URLs they are using.
		 */
		if ((r = acme_new(c->ca->directory, c->ca->ca_bundle, &dir)) < 0)
			goto out;
		acme_set_timeout(dir, c->ca->http_timeout);
		if ((r = acme_load_directory(dir)) < 0 || (r = choose_profile(c, dir, &profile)) < 0 ||
		    (r = save_pending_key(p, c, k)) < 0)
			goto out;
	}
	if (r == 0)
		r = download_chain(c, a, o->certificate, k, &ci);
	/*
	 * A CA-side dead end (not a transient error) is not resumed: a
	 * refused chain (not for our key, a broken signature, a key block)
	 * or a refused download would only come again.
	 */
	if (r < 0 && r != -EAGAIN && r != -ETIMEDOUT)
		forget_order(p, c);
	if (r < 0)
		goto out;
	if (!names_match(c, ci)) {
		char got[256] = "";
		size_t i, at = 0;

		/* (collect_names() let only printable ASCII through) */
		for (i = 0; i < ci->nnames && at < sizeof(got); i++)
			at += (size_t)snprintf(got + at, sizeof(got) - at, "%s%s", i ? " " : "", ci->names[i]);
		acme_fail(a, "refusing the new certificate: its names (%s) differ from the configuration", got);
		r = -EPROTO;
		forget_order(p, c);
		goto out;
	}
	if (ci->not_after <= clock_now()) {
		acme_fail(a, "refusing the new certificate: it has already expired");
		r = -EPROTO;
		forget_order(p, c);
		goto out;
	}
	if (o->profile != NULL && (*ret_profile = strdup(o->profile)) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	*ret_key = k;
	*ret_ci = ci;
	k = NULL;
	ci = NULL;
	r = 0;
out:
	cert_info_free(ci);
	crypto_key_free(k);
	free(csr);
	solve_end(&solver);
	acme_order_free(o);
	acme_free(dir);
	return r;
}

static char *
join_domains(const struct cfg_cert *c)
{
	size_t len = 1, i;
	char *s;

	for (i = 0; i < c->ndomains; i++)
		len += strlen(c->domains[i]) + 1;
	if ((s = calloc(1, len)) == NULL)
		return NULL;
	for (i = 0; i < c->ndomains; i++) {
		if (i > 0)
			strcat(s, ",");
		strcat(s, c->domains[i]);
	}
	return s;
}

/* Replace an owned string field with a copy of "v" (may be NULL). */
static int
set_field(char **field, const char *v)
{
	char *copy = NULL;

	if (v != NULL && (copy = strdup(v)) == NULL)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

/* Record the outcome; a failure keeps the last good certificate's data. */
static int
record(struct pass *p, const struct cfg_cert *c, const char *fp,
    const struct cert_info *ci, const char *issued_profile, const char *error,
    long retry_after, bool has_ari)
{
	struct store_cert *row = NULL;
	time_t now = clock_now();
	enum sched_reason why;
	char *domains;
	int r;

	r = store_cert_get(p->st, c->name, &row);
	if (r == -ENOENT && (row = calloc(1, sizeof(*row))) != NULL)
		r = 0;
	if (r < 0 || row == NULL)
		return r < 0 ? r : -ENOMEM;
	domains = join_domains(c);
	row->last_attempt = now;
	r = domains == NULL || set_field(&row->name, c->name) < 0 ||
	    set_field(&row->ca, c->ca->name) < 0 || set_field(&row->domains, domains) < 0 ||
	    set_field(&row->profile_requested, c->profile) < 0;
	if (!r && ci != NULL) {
		r = set_field(&row->fingerprint, fp) < 0 || set_field(&row->profile_issued, issued_profile) < 0 ||
		    set_field(&row->serial, ci->serial_hex) < 0 || set_field(&row->last_error, NULL) < 0;
		row->not_before = ci->not_before;
		row->not_after = ci->not_after;
		row->last_success = now;
		/* A new certificate: forget the old window, poll for the new one. */
		free(row->ari_id);
		row->ari_id = NULL;
		if (has_ari && ci->aki != NULL &&
		    ari_cert_id(ci->aki, ci->aki_len, ci->serial_der, ci->serial_der_len, &row->ari_id) == -ENOMEM)
			r = 1;
		row->ari_start = row->ari_end = row->ari_chosen = 0;
		row->ari_next_fetch = row->ari_id != NULL ? now : 0;
		row->revoked_at = 0;
		row->ari_failures = 0;
		row->failures = 0;
		row->next_check = 0;
		/* Cleared by after_install(); a crash before that reruns the hook. */
		row->hook_pending = 1;
	} else if (!r) {
		r = set_field(&row->last_error, error) < 0;
		row->failures++;
		row->next_check = retry_after > 0 ? now + retry_after : 0;
	}
	if (!r) {
		row->next_check = sched_due(row, fp, true, &why);
		r = set_field(&row->next_reason, sched_reason_name(why)) < 0;
	}
	/* Until after_install() clears it: after a crash the hook runs again. */
	if (ci != NULL)
		row->hook_pending = 1;
	r = r ? -ENOMEM : store_cert_put(p->st, row);
	free(domains);
	store_cert_free(row);
	return r;
}

/*
 * An error answer's Retry-After (ra > 0) is the earliest next fetch, clamped
 * like a window's (RFC 9773 4.3); without one the error delay stands.
 */
static void
ari_retry_floor(struct store_cert *row, time_t now, long ra)
{
	if (ra > 0 && now + ari_poll_delay(ra) > row->ari_next_fetch)
		row->ari_next_fetch = now + ari_poll_delay(ra);
}

/*
 * Fetch renewalInfo for the installed certificate and store the outcome
 * (RFC 9773 4.2-4.3): a valid window gets a random time in it (kept while
 * the window stays the same) and the next fetch follows Retry-After,
 * clamped; temporary errors back off; anything else is a long-term error
 * that falls back to the lifetime schedule and retries in 6 h.
 */
static void
ari_refresh(struct pass *p, const struct cfg_cert *c, struct acme *a /* may be NULL */)
{
	struct store_cert *row = NULL;
	struct ari_window w;
	time_t now = clock_now();
	char *body = NULL, t1[32], t2[32], t3[32];
	long status = 0, ra = -1;
	size_t len = 0;
	int r;

	if (store_cert_get(p->st, c->name, &row) < 0 || row->ari_id == NULL)
		goto out;
	if (a != NULL && !acme_has_ari(a)) {
		/* The CA stopped offering renewalInfo: local schedule only. */
		row->ari_next_fetch = row->ari_chosen = row->ari_start = row->ari_end = 0;
		goto put;
	}
	/* Without a usable CA session this counts as a temporary error. */
	r = a == NULL ? -EAGAIN : acme_renewal_info(a, row->ari_id, &status, &body, &len, &ra);
	if (r < 0 || status >= 500) {
		row->ari_failures++;
		row->ari_next_fetch = now + ari_error_delay(row->ari_failures);
		ari_retry_floor(row, now, ra);
		log_warn("%s: renewalInfo: %s; next try in %ld s", c->name, r < 0 ? "no answer" : "server error",
		    (long)(row->ari_next_fetch - now));
	} else if (status != 200 || ari_parse(body, len, &w) < 0) {
		row->ari_failures = 0;
		row->ari_chosen = row->ari_start = row->ari_end = 0;
		row->ari_next_fetch = now + ARI_LONG_TERM;
		if (status != 200)
			ari_retry_floor(row, now, ra);
		log_warn("%s: renewalInfo: %s (HTTP %ld); using the lifetime schedule", c->name,
		    status == 200 ? "invalid window" : "not available", status);
	} else {
		row->ari_failures = 0;
		if (w.start != row->ari_start || w.end != row->ari_end || row->ari_chosen == 0) {
			row->ari_start = w.start;
			row->ari_end = w.end;
			row->ari_chosen = ari_choose(&w, crypto_random_u64());
			log_info("%s: ARI window %s .. %s, renewing at %s", c->name, clock_format(w.start, t1, sizeof(t1)),
			    clock_format(w.end, t2, sizeof(t2)), clock_format(row->ari_chosen, t3, sizeof(t3)));
		}
		if (w.explanation[0] != '\0')
			log_notice("%s: the CA explains its renewal window: %s", c->name, w.explanation);
		if (set_field(&row->ari_explanation, w.explanation[0] ? w.explanation : NULL) < 0)
			goto out;
		row->ari_next_fetch = now + ari_poll_delay(ra);
	}
put:
	if (store_cert_put(p->st, row) < 0)
		log_err("%s: cannot record renewal information", c->name);
out:
	free(body);
	store_cert_free(row);
}

/*
 * The CA session for "c" if it can be set up; NULL (logged) if not, with
 * the reason and the CA's Retry-After (0 if none) in the out-parameters.
 */
static struct session *
usable_session(struct pass *p, const struct cfg_cert *c, const char **ret_error,
    long *ret_retry_after)
{
	struct session *s = session_get(p, c->ca);

	if (s == NULL) {
		*ret_error = "too many CAs in one pass";
		return NULL;
	}
	if (s->status < 0) {
		*ret_error = s->error;
		*ret_retry_after = s->retry_after;
		return NULL;
	}
	acme_set_subject(s->acme, c->name);
	return s;
}

/* If renewalInfo for "c" is due, fetch it (setting up the CA session). */
static void
ari_poll_if_due(struct pass *p, const struct cfg_cert *c)
{
	struct store_cert *row = NULL;
	struct session *s;
	const char *err;
	long ra;
	bool due;

	if (store_cert_get(p->st, c->name, &row) < 0)
		return;
	due = sched_ari_fetch(row, clock_now()) <= clock_now();
	store_cert_free(row);
	if (!due)
		return;
	s = usable_session(p, c, &err, &ra);
	ari_refresh(p, c, s != NULL ? s->acme : NULL);
}

/*
 * Say loudly when the installed certificate is running out while we are
 * still renewing it: a warning with 1/3 of its lifetime left, an error at
 * 1/6 and once it has expired.
 */
static void
warn_expiry(struct pass *p, const struct cfg_cert *c)
{
	struct store_cert *row = NULL;
	time_t now = clock_now(), life, left;
	char when[32];

	if (store_cert_get(p->st, c->name, &row) < 0)
		return;
	life = row->not_after - row->not_before;
	left = row->not_after - now;
	if (row->serial != NULL && life > 0) {
		clock_format(row->not_after, when, sizeof(when));
		if (left <= 0)
			log_event(LOG_LVL_ERR, LOG_EV_EXPIRING, "%s: the installed certificate EXPIRED at %s", c->name, when);
		else if (left <= life / 6)
			log_event(LOG_LVL_ERR, LOG_EV_EXPIRING, "%s: the installed certificate expires at %s (1/6 of its lifetime left)", c->name, when);
		else if (left <= life / 3 && row->failures > 0)
			log_event(LOG_LVL_WARN, LOG_EV_EXPIRING, "%s: the installed certificate expires at %s and renewal keeps failing", c->name, when);
	}
	store_cert_free(row);
}

/*
 * Converge after a crash: a complete pair that is live but not recorded
 * (the process died between the switch and the database update) is
 * adopted, and a reload hook that did not finish runs now.
 */
static void
settle_installed(struct pass *p, const struct cfg_cert *c, const char *fp)
{
	struct store_cert *row = NULL;
	struct cert_info *ci = NULL;
	int pending;

	deploy_tidy(c);
	if (deploy_read(c, &ci) < 0)
		return;
	if (store_cert_get(p->st, c->name, &row) < 0)
		row = NULL;
	if ((row == NULL || row->serial == NULL || strcmp(row->serial, ci->serial_hex) != 0) &&
	    names_match(c, ci) && ci->not_after > clock_now()) {
		log_notice("%s: adopting the installed certificate %s, which the state did not record", c->name, ci->serial_hex);
		if (record(p, c, fp, ci, NULL, NULL, 0, true) == 0)
			forget_order(p, c);
		store_cert_free(row);
		if (store_cert_get(p->st, c->name, &row) < 0)
			row = NULL;
	}
	pending = row != NULL && row->hook_pending && row->serial != NULL && strcmp(row->serial, ci->serial_hex) == 0;
	store_cert_free(row);
	if (pending) {
		log_notice("%s: running the reload hook that did not finish for %s", c->name, ci->serial_hex);
		after_install(p, c, ci);
	}
	cert_info_free(ci);
}

/*
 * The per-CA ledger of attempts by identifier set.  "outcome" is
 * "issued", "failed" (the CA was asked and the attempt failed) or
 * "deferred" (nothing was sent: the guard below, or no CA session), so
 * that only what the CA saw counts against its limits.
 */
static void
ledger_add(struct pass *p, const struct cfg_cert *c, const char *outcome,
    const char *error_type, const char *detail)
{
	char *ids = join_domains(c);

	if (ids != NULL)
		(void)store_attempt_add(p->st, c->name, c->ca->name, ids, clock_now(), outcome, error_type, detail);
	free(ids);
}

/*
 * Stay under CA limits on failed validations (Let's Encrypt: 5 per
 * identifier set and hour): with that many failures in the last hour,
 * defer instead of ordering again.  Forced renewals are exempt.
 */
static int
rate_guard(struct pass *p, const struct cfg_cert *c)
{
	char *ids = join_domains(c);
	unsigned n = 0;
	int r = 0;

	if (ids == NULL)
		return 0;
	if (!p->force && store_attempt_count(p->st, c->ca->name, ids, clock_now() - RATE_WINDOW_S, "failed", &n) == 0 &&
	    n >= RATE_FAILURES_MAX) {
		log_warn("%s: %u failed attempts for these names in the last hour; deferring", c->name, n);
		r = -EAGAIN;
	}
	free(ids);
	return r;
}

/* Returns 1 renewed, 0 not due, <0 failed. */
static int
renew_one(struct pass *p, const struct cfg_cert *c, bool force)
{
	struct cert_info *ci = NULL;
	struct store_cert *row = NULL;
	struct session *s = NULL;
	struct key *k = NULL;
	char *fp = NULL, *key_pem = NULL, *issued_profile = NULL, when[32], install_error[PATH_MAX + 64];
	const char *reason, *error = "", *outcome = "deferred";
	size_t key_len = 0;
	long retry_after = 0;
	time_t due;
	int r;

	if ((r = renew_fingerprint(c, &fp)) < 0)
		return r;
	settle_installed(p, c, fp);
	ari_poll_if_due(p, c);
	if ((r = renew_due(c, p->st, &due, &reason)) < 0)
		goto out;
	if (!force && due > clock_now()) {
		log_debug("%s: not due until %s (%s)", c->name, clock_format(due, when, sizeof(when)), reason);
		r = 0;
		goto out;
	}
	log_info("%s: renewing (%s)", c->name, force ? "forced" : reason);
	warn_expiry(p, c);
	if (store_cert_get(p->st, c->name, &row) < 0)
		row = NULL;
	if (rate_guard(p, c) < 0) {
		r = -EAGAIN;
		error = "deferred: too many recent failures for these names (CA rate limits)";
	} else if ((s = usable_session(p, c, &error, &retry_after)) == NULL) {
		r = -EAGAIN;
	} else {
		/* RFC 9773 5: name the predecessor, if still valid. */
		const char *replaces = row != NULL && row->not_after > clock_now() ? row->ari_id : NULL;

		r = obtain(p, c, s->acme, fp, replaces, &k, &ci, &issued_profile);
		error = *acme_last_error(s->acme) ? acme_last_error(s->acme) : strerror(-r);
		outcome = "failed";
	}
	if (r == 0 && ((r = crypto_key_to_pem(k, &key_pem, &key_len)) < 0 || (r = deploy_install(c, key_pem, key_len, ci)) < 0)) {
		snprintf(install_error, sizeof(install_error), "cannot install into %s: %s", c->output, strerror(-r));
		error = install_error;
	}
	if (r == 0) {
		log_event(LOG_LVL_NOTICE, LOG_EV_ISSUED, "%s: installed certificate %s, valid until %s", c->name, ci->serial_hex, clock_format(ci->not_after, when, sizeof(when)));
		/*
		 * The order is done with once the pair is live: forget it first,
		 * so that a crash before the record below is settled by adopting
		 * the live pair (settle_installed), never by resuming the order.
		 */
		forget_order(p, c);
		ledger_add(p, c, "issued", NULL, NULL);
		if (record(p, c, fp, ci, issued_profile, NULL, 0, acme_has_ari(s->acme)) < 0)
			log_err("%s: installed, but the state database was not updated", c->name);
		else if (acme_has_ari(s->acme))
			ari_refresh(p, c, s->acme);
		after_install(p, c, ci);
		r = 1;
	} else {
		ledger_add(p, c, outcome, s != NULL ? acme_last_problem(s->acme) : NULL, error);
		if (record(p, c, fp, NULL, NULL, error, s != NULL ? acme_retry_after(s->acme) : retry_after, false) < 0)
			log_err("%s: the failure could not be recorded", c->name);
		log_event(LOG_LVL_ERR, LOG_EV_FAILED, "%s: renewal failed: %s", c->name, error);
	}
out:
	crypto_secret_free(key_pem, key_len);
	crypto_key_free(k);
	cert_info_free(ci);
	store_cert_free(row);
	free(issued_profile);
	free(fp);
	return r;
}

/* A thread of the pass: take certificates one by one until none is left. */
static void *
worker(void *arg)
{
	struct pass *p = arg;
	const struct cfg_cert *c;
	size_t i;
	int r;

	for (;;) {
		pthread_mutex_lock(&p->lock);
		i = p->next++;
		pthread_mutex_unlock(&p->lock);
		if (i >= p->nselected)
			break;
		c = p->names != NULL ? cfg_find_cert(p->cfg, p->names[i]) : &p->cfg->certs[i];
		if (c == NULL) {
			log_err("%s: no such certificate in the configuration", p->names[i]);
			r = -ENOENT;
		} else {
			log_set_ctx(&(struct log_ctx){c->name, c->ca->name, c->profile});
			r = renew_one(p, c, p->force);
			log_set_ctx(NULL);
		}
		pthread_mutex_lock(&p->lock);
		if (r > 0)
			p->res->renewed++;
		else if (r == 0)
			p->res->skipped++;
		else
			p->res->failed++;
		pthread_mutex_unlock(&p->lock);
	}
	return NULL;
}

int
renew_pass(const struct cfg *cfg, struct store *st, const char *state_dir,
    char *const *names, size_t nnames, bool force, struct renew_result *res)
{
	struct pass p = {.cfg = cfg, .st = st, .state_dir = state_dir, .names = names,
	    .nselected = names != NULL ? nnames : cfg->ncerts, .force = force, .res = res};
	pthread_t threads[64];
	size_t i, nthreads = cfg->global.max_parallel > 0 ? cfg->global.max_parallel : 1;

	memset(res, 0, sizeof(*res));
	if ((p.installed = calloc(cfg->ncerts + 1, sizeof(*p.installed))) == NULL)
		return -ENOMEM;
	pthread_mutex_init(&p.lock, NULL);
	if (nthreads > p.nselected)
		nthreads = p.nselected;
	if (nthreads > sizeof(threads) / sizeof(threads[0]))
		nthreads = sizeof(threads) / sizeof(threads[0]);
	/* One slow certificate never holds up the others (max_parallel). */
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&threads[i], NULL, worker, &p) != 0)
			break;
	if (i == 0)
		worker(&p); /* no thread could start: do the work here */
	nthreads = i;
	for (i = 0; i < nthreads; i++)
		pthread_join(threads[i], NULL);
	solvers_free(p.solvers);
	after_pass(&p);
	for (i = 0; i < p.nsessions; i++) {
		acme_free(p.sessions[i].acme);
		crypto_key_free(p.sessions[i].account_key);
		pthread_mutex_destroy(&p.sessions[i].setup);
	}
	pthread_mutex_destroy(&p.lock);
	free(p.installed);
	return 0;
}
