/*
 * Configuration: every *.yaml file of a directory, loaded with libyaml into
 * an immutable struct cfg.  Parsing (keys, types) and validation (names,
 * references, paths) are separate passes; every problem is reported as
 * "file:line:col: message" in a struct cfg_diag, all of them, not just
 * the first.  Nothing here logs.
 */
#ifndef ACMED_CFG_H
#define ACMED_CFG_H

#include <stdbool.h>
#include <stddef.h>

#define CFG_FILE_MAX (1024 * 1024)
#define CFG_NAMES_MAX 100
#define CFG_HOOK_ARGS_MAX 32
#define CFG_HTTP_TIMEOUT_DEFAULT 30
#define CFG_HTTP_TIMEOUT_MAX 600

struct cfg_ca {
	char *name;
	char *directory;
	char **contact;
	size_t ncontact;
	char *ca_bundle; /* NULL: the system trust store */
	char *account_key_text;
	int account_key_type; /* enum key_type; default ec-p256 */
	char *eab_kid;        /* External Account Binding (RFC 8555 7.3.4) */
	char *eab_hmac_key_file;
	char *http_timeout_text;
	unsigned http_timeout; /* seconds per HTTP request; default 30 */
	const char *file; /* owned by the struct cfg */
	unsigned line;
};

enum cfg_profile_mode {
	CFG_PROFILE_REQUIRED,
	CFG_PROFILE_PREFERRED,
};

struct cfg_cert {
	char *name;
	char **domains; /* normalised: lower case, no trailing dot */
	size_t ndomains;
	char *ca_name;
	const struct cfg_ca *ca;
	char *profile; /* NULL: ask for none (global default applied) */
	char *profile_mode_text;
	enum cfg_profile_mode profile_mode;
	char *key_text;
	int key_type; /* enum key_type */
	char *challenge_type; /* "http-01", "dns-01" or "tls-alpn-01" */
	char *http_listen; /* "addr:port" of the built-in responder, or NULL */
	char *webroot;     /* directory holding .well-known/acme-challenge */
	char **dns_hook;   /* dns-01: argv; "add"/"remove", name, value appended */
	size_t ndns_hook;
	char *key_reuse_text;
	bool key_reuse;        /* keep the installed key on renewal */
	char *preferred_chain; /* issuer CN of the preferred chain's top */
	char *output;      /* directory for privkey.pem, cert.pem, ... */
	char **reload;     /* argv of the reload hook, or NULL */
	size_t nreload;
	char **reload_units; /* systemd units to reload over D-Bus */
	size_t nreload_units;
	const char *file; /* owned by the struct cfg */
	unsigned line;
};

/* Settings for the whole daemon: the top-level "global" mapping. */
struct cfg_global {
	char *max_parallel_text;
	unsigned max_parallel; /* certificates renewed at once; default 4 */
	char *hook_timeout_text;
	unsigned hook_timeout; /* seconds; default 60 */
	char *order_timeout_text;
	unsigned order_timeout; /* seconds one order may poll; default 600 */
	char **post_renew_hook; /* argv run once per pass after renewals */
	size_t npost_renew_hook;
	char *profile; /* default for certificates that name none */
	char *profile_mode_text; /* default profile_mode */
	char *file; /* where "global" was given, or NULL */
	unsigned line;
};

struct cfg {
	struct cfg_global global;
	struct cfg_ca *cas;
	size_t ncas;
	struct cfg_cert *certs;
	size_t ncerts;
	char **files; /* the names of the files read, for "file" above */
	size_t nfiles;
};

struct cfg_diag {
	char **msgs;
	size_t nmsgs;
};

/*
 * Load every *.yaml file in "dir" (sorted by name).  Returns 0 and the
 * config in "ret", or -EINVAL with every problem in "diag" (which the
 * caller clears with cfg_diag_fini()), or -ENOMEM.
 */
int cfg_load_dir(const char *dir, struct cfg **ret, struct cfg_diag *diag);
/*
 * Copy the files cfg_load_dir() would read from "dir" into the existing
 * directory "dst" (each written atomically, mode 0600).  Returns 0, or a
 * negative errno with the reason in "diag".
 */
int cfg_copy_dir(const char *dir, const char *dst, struct cfg_diag *diag);
/*
 * What "acmed check" warns about, as it looks at this machine: the
 * programs of hooks are executable, ca_bundle and the EAB key file are
 * readable, a webroot exists.  Returns 0, or -EINVAL with each problem in
 * "diag" at the line of its CA or certificate.
 */
int cfg_check_paths(const struct cfg *c, struct cfg_diag *diag);
/* Load one file (used by cfg_load_dir and by tests). */
int cfg_load_files(char *const *paths, size_t npaths, struct cfg **ret,
    struct cfg_diag *diag);
void cfg_free(struct cfg *c);
void cfg_diag_fini(struct cfg_diag *d);

const struct cfg_cert *cfg_find_cert(const struct cfg *c, const char *name);
const struct cfg_ca *cfg_find_ca(const struct cfg *c, const char *name_or_url);

/*
 * Normalise a DNS name or IP literal in place (lower case, no trailing
 * dot) and check it.  Returns 0, or -EINVAL with a reason in "why".
 */
int cfg_normalise_identifier(char *name, const char **why);
bool cfg_is_ip(const char *name);

#endif
