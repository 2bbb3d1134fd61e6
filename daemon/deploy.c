#include "deploy.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "crypto.h"
#include "fs.h"
#include "log.h"

#define VERSION_PREFIX ".v-"
#define LIVE ".live"
#define FILE_READ_MAX (256 * 1024)

const char *const deploy_files[DEPLOY_FILES] = {"privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"};

int
deploy_present(const struct cfg_cert *c)
{
	return deploy_present_in(c->output);
}

int
deploy_present_in(const char *output)
{
	char path[PATH_MAX];
	size_t i;

	for (i = 0; i < DEPLOY_FILES; i++) {
		snprintf(path, sizeof(path), "%s/%s", output, deploy_files[i]);
		if (access(path, F_OK) < 0)
			return 0;
	}
	return 1;
}

void
deploy_tidy(const struct cfg_cert *c)
{
	static const char *const names[] = {LIVE, "privkey.pem", "cert.pem", "chain.pem", "fullchain.pem"};
	int n = fs_remove_stale_tmp(c->output, names, sizeof(names) / sizeof(names[0]));

	if (n > 0)
		log_notice("%s: removed %d staging link(s) an interrupted install left in %s", c->name, n, c->output);
}

/* Remove versions other than "keep" and the one .live pointed to before. */
static void
prune(const struct cfg_cert *c, const char *keep, const char *previous)
{
	char path[PATH_MAX];
	struct dirent *de;
	DIR *dp;

	if ((dp = opendir(c->output)) == NULL)
		return;
	while ((de = readdir(dp)) != NULL) {
		if (strncmp(de->d_name, VERSION_PREFIX, strlen(VERSION_PREFIX)) != 0 ||
		    strcmp(de->d_name, keep) == 0 || (previous != NULL && strcmp(de->d_name, previous) == 0))
			continue;
		snprintf(path, sizeof(path), "%s/%s", c->output, de->d_name);
		if (fs_remove_flat_dir(path) < 0)
			log_warn("%s: cannot remove old version %s", c->name, path);
	}
	closedir(dp);
}

/* Write the four files into a fresh version directory. */
static int
write_version(const struct cfg_cert *c, const char *dir, const char *const *data,
    const size_t *lens)
{
	char path[PATH_MAX];
	size_t i;
	int r;

	(void)fs_remove_flat_dir(dir); /* leftovers of an interrupted attempt */
	if (mkdir(dir, 0755) < 0 || chmod(dir, 0755) < 0) {
		r = -errno;
		log_err("%s: cannot create %s: %s", c->name, dir, strerror(errno));
		return r;
	}
	for (i = 0; i < DEPLOY_FILES; i++) {
		if ((size_t)snprintf(path, sizeof(path), "%s/%s", dir, deploy_files[i]) >= sizeof(path))
			return -ENAMETOOLONG;
		if ((r = fs_write_atomic(path, data[i], lens[i], i == 0 ? 0600 : 0644)) < 0) {
			log_err("%s: cannot write %s: %s", c->name, path, strerror(-r));
			return r;
		}
	}
	return fs_sync_dir(dir);
}

/* Is "link" a symlink whose target text is exactly "target"? */
static int
link_is(const char *link, const char *target)
{
	char cur[PATH_MAX];
	ssize_t m = readlink(link, cur, sizeof(cur) - 1);

	return m > 0 && (size_t)m == strlen(target) && memcmp(cur, target, (size_t)m) == 0;
}

int
deploy_install(const struct cfg_cert *c, const char *key_pem, size_t key_len,
    const struct cert_info *ci)
{
	const char *data[DEPLOY_FILES] = {key_pem, ci->leaf_pem, ci->chain_pem, ci->fullchain_pem};
	size_t lens[DEPLOY_FILES] = {key_len, strlen(ci->leaf_pem), strlen(ci->chain_pem), strlen(ci->fullchain_pem)};
	char name[128], dir[PATH_MAX], live[PATH_MAX], link[PATH_MAX], target[64], previous[128] = "";
	ssize_t n;
	size_t i;
	int r;

	if ((r = fs_mkdir_p(c->output, 0755)) < 0) {
		log_err("%s: cannot create %s: %s", c->name, c->output, strerror(-r));
		return r;
	}
	snprintf(name, sizeof(name), VERSION_PREFIX "%s", ci->serial_hex);
	snprintf(dir, sizeof(dir), "%s/%s", c->output, name);
	snprintf(live, sizeof(live), "%s/" LIVE, c->output);
	if ((n = readlink(live, previous, sizeof(previous) - 1)) > 0)
		previous[n] = '\0';
	deploy_tidy(c);
	if ((r = write_version(c, dir, data, lens)) < 0)
		return r;
	/* The switch: one rename makes the new pair live. */
	if ((r = fs_symlink_atomic(name, live)) < 0 || (r = fs_sync_dir(c->output)) < 0) {
		log_err("%s: cannot switch %s to %s: %s", c->name, live, name, strerror(-r));
		return r;
	}
	/* Stable names through .live (first install, or an older layout). */
	for (i = 0; i < DEPLOY_FILES; i++) {
		snprintf(link, sizeof(link), "%s/%s", c->output, deploy_files[i]);
		snprintf(target, sizeof(target), LIVE "/%s", deploy_files[i]);
		if (link_is(link, target))
			continue;
		if ((r = fs_symlink_atomic(target, link)) < 0) {
			log_err("%s: cannot link %s: %s", c->name, link, strerror(-r));
			return r;
		}
	}
	if ((r = fs_sync_dir(c->output)) < 0)
		return r;
	prune(c, name, previous[0] ? previous : NULL);
	return 0;
}

int
deploy_read(const struct cfg_cert *c, struct cert_info **ret)
{
	char path[PATH_MAX], *pem = NULL, *key_pem = NULL, err[256];
	size_t len = 0, key_len = 0;
	struct key *k = NULL;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/privkey.pem", c->output) >= sizeof(path))
		return -ENAMETOOLONG;
	if ((r = fs_read_file(path, FILE_READ_MAX, &key_pem, &key_len)) < 0)
		return r;
	r = crypto_key_from_pem(key_pem, key_len, &k);
	crypto_secret_free(key_pem, key_len);
	if (r < 0)
		return -EPROTO;
	snprintf(path, sizeof(path), "%s/fullchain.pem", c->output);
	if ((r = fs_read_file(path, FILE_READ_MAX, &pem, &len)) == 0) {
		if ((r = crypto_chain_inspect(pem, len, k, ret, err, sizeof(err))) < 0)
			log_warn("%s: installed %s: %s", c->name, path, err);
		free(pem);
	}
	crypto_key_free(k);
	return r;
}
