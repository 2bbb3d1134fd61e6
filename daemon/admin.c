#include "admin.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "account.h"
#include "acme.h"
#include "cfg.h"
#include "clock.h"
#include "crypto.h"
#include "fs.h"
#include "log.h"
#include "store.h"

#define FILE_MAX (256 * 1024)

int
admin_profiles(const struct cfg *cfg, const char *ca)
{
	const struct cfg_ca *known = cfg != NULL ? cfg_find_ca(cfg, ca) : NULL;
	const char *url = known != NULL ? known->directory : ca;
	struct acme *a = NULL;
	size_t i;
	int r;

	if (strncmp(url, "https://", 8) != 0) {
		log_err("%s: not a configured CA and not an https:// directory URL", ca);
		return -EINVAL;
	}
	if ((r = acme_new(url, known != NULL ? known->ca_bundle : NULL, &a)) < 0)
		return r;
	acme_set_subject(a, known != NULL ? known->name : url);
	if (known != NULL)
		acme_set_timeout(a, known->http_timeout);
	if ((r = acme_load_directory(a)) == 0) {
		if (acme_nprofiles(a) == 0)
			printf("%s offers no profiles\n", known != NULL ? known->name : url);
		for (i = 0; i < acme_nprofiles(a); i++) {
			char desc[512];
			const char *d = acme_profile_description(a, i);

			printf("%s\t%s\n", acme_profile_name(a, i), log_escape(desc, sizeof(desc), d, strlen(d)));
		}
	}
	acme_free(a);
	return r;
}

/* Read the installed certificate (and, if asked, its key). */
static int
read_installed(const struct cfg_cert *c, bool want_key, unsigned char **der,
    size_t *der_len, struct key **key)
{
	char path[PATH_MAX], *pem = NULL;
	size_t len = 0;
	int r;

	snprintf(path, sizeof(path), "%s/cert.pem", c->output);
	if ((r = fs_read_file(path, FILE_MAX, &pem, &len)) < 0) {
		log_err("%s: cannot read %s: %s", c->name, path, strerror(-r));
		return r;
	}
	r = crypto_cert_der(pem, len, der, der_len);
	free(pem);
	if (r < 0) {
		log_err("%s: %s holds no certificate", c->name, path);
		return r;
	}
	if (!want_key)
		return 0;
	snprintf(path, sizeof(path), "%s/privkey.pem", c->output);
	if ((r = fs_read_file(path, FILE_MAX, &pem, &len)) < 0) {
		log_err("%s: cannot read %s: %s", c->name, path, strerror(-r));
		return r;
	}
	r = crypto_key_from_pem(pem, len, key);
	crypto_secret_free(pem, len);
	if (r < 0)
		log_err("%s: %s is not a usable key", c->name, path);
	return r;
}

int
admin_revoke(const struct cfg *cfg, struct store *st, const char *state_dir,
    const char *name, int reason, bool with_cert_key)
{
	const struct cfg_cert *c = cfg_find_cert(cfg, name);
	struct store_cert *row = NULL;
	struct key *account = NULL, *cert_key = NULL;
	struct acme *a = NULL;
	unsigned char *der = NULL;
	size_t der_len = 0;
	int r;

	if (c == NULL) {
		log_err("%s: no such certificate in the configuration", name);
		return -ENOENT;
	}
	if ((r = read_installed(c, with_cert_key, &der, &der_len, &cert_key)) < 0)
		goto out;
	if ((r = account_open(c->ca, state_dir, st, &a, &account)) < 0)
		goto out;
	acme_set_subject(a, c->name);
	if ((r = acme_revoke(a, der, der_len, reason, cert_key)) < 0)
		goto out;
	printf("%s: revoked\n", c->name);
	log_notice("%s: certificate revoked; it will be replaced at the next pass", c->name);
	/* Make the scheduler replace it. */
	if (store_cert_get(st, c->name, &row) == 0) {
		row->revoked_at = clock_now();
		(void)store_cert_put(st, row);
	}
out:
	store_cert_free(row);
	acme_free(a);
	crypto_key_free(account);
	crypto_key_free(cert_key);
	free(der);
	return r;
}

/* The directory part of "path" (a static copy). */
static const char *
dirname_of(const char *path)
{
	static char dir[PATH_MAX];
	char *slash;

	snprintf(dir, sizeof(dir), "%s", path);
	if ((slash = strrchr(dir, '/')) != NULL)
		*slash = '\0';
	return dir;
}

int
admin_rollover(const struct cfg *cfg, struct store *st, const char *state_dir,
    const char *ca_name)
{
	const struct cfg_ca *ca = cfg_find_ca(cfg, ca_name);
	struct key *old = NULL, *fresh = NULL;
	struct acme *a = NULL;
	char path[PATH_MAX], *pem = NULL, *tmp = NULL;
	size_t len = 0;
	int r;

	if (ca == NULL) {
		log_err("%s: no such CA in the configuration", ca_name);
		return -ENOENT;
	}
	if ((r = account_open(ca, state_dir, st, &a, &old)) < 0)
		goto out;
	snprintf(path, sizeof(path), "%s/accounts/%s.key", state_dir, ca->name);
	/* Stage the new key first: a crash after keyChange must not lose it. */
	if ((r = crypto_key_generate((enum key_type)ca->account_key_type, &fresh)) < 0 ||
	    (r = crypto_key_to_pem(fresh, &pem, &len)) < 0 ||
	    (r = fs_stage(path, pem, len, 0600, &tmp)) < 0) {
		log_err("%s: cannot create the new account key: %s", ca->name, strerror(-r));
		goto out;
	}
	if ((r = acme_key_change(a, fresh)) < 0) {
		unlink(tmp);
		goto out;
	}
	if ((r = fs_commit(tmp, path)) < 0 || (r = fs_sync_dir(dirname_of(path))) < 0) {
		log_err("%s: the CA now expects the new key, but %s could not be replaced: %s (the new key is in %s)", ca->name, path, strerror(-r), tmp);
		goto out;
	}
	printf("%s: account key rolled over\n", ca->name);
	log_notice("%s: account key rolled over", ca->name);
out:
	crypto_secret_free(pem, len);
	free(tmp);
	acme_free(a);
	crypto_key_free(old);
	crypto_key_free(fresh);
	return r;
}
