#include "account.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include "acme.h"
#include "b64.h"
#include "cfg.h"
#include "crypto.h"
#include "fs.h"
#include "log.h"
#include "store.h"

#define KEY_FILE_MAX (64 * 1024)

/* Load the CA's account key, creating it (0600, under a lock) if missing. */
int
account_key(const char *state_dir, const struct cfg_ca *ca, struct key **ret)
{
	char dir[4096], path[4200], lock[4200], *pem = NULL;
	size_t len = 0;
	int fd, r;

	snprintf(dir, sizeof(dir), "%s/accounts", state_dir);
	snprintf(path, sizeof(path), "%s/%s.key", dir, ca->name);
	snprintf(lock, sizeof(lock), "%s/%s.lock", dir, ca->name);
	if ((r = fs_mkdir_p(dir, 0700)) < 0) {
		log_err("%s: cannot create %s: %s", ca->name, dir, strerror(-r));
		return r;
	}
	if ((fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600)) < 0 || flock(fd, LOCK_EX) < 0) {
		r = -errno;
		log_err("%s: cannot lock %s: %s", ca->name, lock, strerror(errno));
		if (fd >= 0)
			close(fd);
		return r;
	}
	r = fs_read_file(path, KEY_FILE_MAX, &pem, &len);
	if (r == 0) {
		if ((r = crypto_key_from_pem(pem, len, ret)) < 0)
			log_err("%s: account key %s is not a usable private key", ca->name, path);
		crypto_secret_free(pem, len);
	} else if (r == -ENOENT) {
		struct key *k = NULL;

		if ((r = crypto_key_generate((enum key_type)ca->account_key_type, &k)) == 0 &&
		    (r = crypto_key_to_pem(k, &pem, &len)) == 0) {
			r = fs_write_atomic(path, pem, len, 0600);
			crypto_secret_free(pem, len);
		}
		if (r < 0) {
			log_err("%s: cannot create account key %s: %s", ca->name, path, strerror(-r));
			crypto_key_free(k);
		} else {
			log_notice("%s: created account key %s", ca->name, path);
			*ret = k;
		}
	} else {
		log_err("%s: cannot read account key %s: %s", ca->name, path, strerror(-r));
	}
	close(fd); /* releases the lock */
	return r;
}

/* The EAB MAC key file holds the CA's base64url secret (whitespace ignored). */
static int
load_eab(const struct cfg_ca *ca, struct acme *a)
{
	unsigned char *key = NULL;
	size_t len = 0, klen = 0;
	char *text = NULL;
	int r;

	if ((r = fs_read_file(ca->eab_hmac_key_file, KEY_FILE_MAX, &text, &len)) < 0) {
		log_err("%s: cannot read EAB key %s: %s", ca->name, ca->eab_hmac_key_file, strerror(-r));
		return r;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	if ((r = b64url_decode(text, &key, &klen)) < 0 || klen == 0) {
		log_err("%s: EAB key %s is not base64url", ca->name, ca->eab_hmac_key_file);
		r = -EINVAL;
	} else {
		r = acme_set_eab(a, ca->eab_kid, key, klen);
	}
	crypto_secret_free(text, len);
	crypto_secret_free(key, klen);
	return r;
}

int
account_open(const struct cfg_ca *ca, const char *state_dir, struct store *st,
    struct acme **ret_acme, struct key **ret_key)
{
	struct acme *a = NULL;
	struct key *k = NULL;
	char *known = NULL;
	int r;

	if ((r = acme_new(ca->directory, ca->ca_bundle, &a)) < 0)
		return r;
	*ret_acme = a; /* even on failure: its last error explains */
	acme_set_timeout(a, ca->http_timeout);
	acme_set_subject(a, ca->name);
	if ((r = acme_load_directory(a)) < 0 || (r = account_key(state_dir, ca, &k)) < 0)
		return r;
	*ret_key = k;
	if (ca->eab_kid != NULL && (r = load_eab(ca, a)) < 0)
		return r;
	r = store_account_get(st, ca->directory, &known);
	if (r < 0 && r != -ENOENT)
		return r;
	r = acme_account(a, k, ca->contact, ca->ncontact, known);
	free(known);
	if (r < 0)
		return r;
	return store_account_put(st, ca->directory, acme_account_url(a));
}

