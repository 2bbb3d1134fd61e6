/*
 * Configuration: the corpus under tests/data/cfg (good files load with
 * the values we expect, each bad file gives exactly its diagnostics at
 * the exact file:line:col), identifier normalisation, and directory
 * loading.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cfg.h"
#include "crypto.h"
#include "t.h"

#define DATA "tests/data/cfg"
#define GOOD DATA "/good/"
#define BAD DATA "/bad/"

/* Run from the top of the tree, wherever we were started from. */
static void
go_to_top(const char *argv0)
{
	char buf[PATH_MAX], *slash;
	int i;

	if (access(GOOD "full.yaml", R_OK) == 0 || realpath(argv0, buf) == NULL)
		return;
	/* BUILD_ROOT/VARIANT/tests/test_cfg */
	for (i = 0; i < 4 && (slash = strrchr(buf, '/')) != NULL; i++)
		*slash = '\0';
	if (chdir(buf) < 0)
		perror(buf);
}

/* Load "n" paths; on failure print what was said (for the test log). */
static int
load(char *const *paths, size_t n, struct cfg **ret, struct cfg_diag *d)
{
	int r = cfg_load_files(paths, n, ret, d);
	size_t i;

	for (i = 0; r == 0 && i < d->nmsgs; i++)
		fprintf(stderr, "unexpected: %s\n", d->msgs[i]);
	return r;
}

static void
test_good_full(void)
{
	static char path[] = GOOD "full.yaml";
	char *const paths[] = {path};
	struct cfg_diag d = {0};
	struct cfg *c = NULL;
	const struct cfg_cert *www, *mail;
	static const char *const domains[] = {
	    "www.example.org",
	    "example.org",
	    "192.0.2.10",
	    "2001:db8::1",
	};
	size_t i;

	T_CHECK(load(paths, 1, &c, &d) == 0);
	T_CHECK(d.nmsgs == 0);
	if (c == NULL)
		goto out;
	T_CHECK(c->ncas == 1 && c->ncerts == 2);
	T_STREQ(c->cas[0].name, "pebble");
	T_STREQ(c->cas[0].directory, "https://localhost:14000/dir");
	T_CHECK(c->cas[0].ncontact == 1);
	T_STREQ(c->cas[0].contact[0], "mailto:hostmaster@example.org");
	T_STREQ(c->cas[0].ca_bundle, "/etc/acmed/pebble.minica.pem");
	T_CHECK(c->cas[0].http_timeout == 30); /* the default */
	T_STREQ(c->cas[0].file, path);
	T_CHECK(c->cas[0].line == 3);

	www = cfg_find_cert(c, "www");
	mail = cfg_find_cert(c, "mail");
	T_CHECK(www == &c->certs[0] && mail == &c->certs[1]);
	T_CHECK(cfg_find_cert(c, "WWW") == NULL &&
	    cfg_find_cert(c, "nope") == NULL);
	if (www == NULL || mail == NULL)
		goto out;
	T_CHECK(www->ndomains == 4);
	for (i = 0; i < 4 && i < www->ndomains; i++)
		T_STREQ(www->domains[i], domains[i]);
	T_CHECK(www->ca == &c->cas[0]);
	T_STREQ(www->profile, "shortlived");
	T_CHECK(www->profile_mode == CFG_PROFILE_PREFERRED);
	T_CHECK(www->key_type == KEY_RSA_2048);
	T_STREQ(www->challenge_type, "http-01");
	T_STREQ(www->webroot, "/var/www/html");
	T_CHECK(www->http_listen == NULL);
	T_STREQ(www->output, "/etc/ssl/acmed/www");
	T_CHECK(www->nreload == 3);
	if (www->nreload == 3) {
		T_STREQ(www->reload[0], "/usr/sbin/nginx");
		T_STREQ(www->reload[1], "-s");
		T_STREQ(www->reload[2], "reload");
	}
	T_CHECK(www->line == 10);

	/* Defaults: the only CA, no profile, required mode, ec-p256. */
	T_CHECK(mail->ndomains == 1);
	T_STREQ(mail->domains[0], "mail.example.org");
	T_CHECK(mail->ca == &c->cas[0]);
	T_CHECK(mail->profile == NULL);
	T_CHECK(mail->profile_mode == CFG_PROFILE_REQUIRED);
	T_CHECK(mail->key_type == KEY_EC_P256);
	T_STREQ(mail->http_listen, "127.0.0.1:5002");
	T_CHECK(mail->webroot == NULL);
	T_CHECK(mail->reload == NULL && mail->nreload == 0);

	T_CHECK(cfg_find_ca(c, "pebble") == &c->cas[0]);
	T_CHECK(cfg_find_ca(c, "https://localhost:14000/dir") == &c->cas[0]);
	T_CHECK(cfg_find_ca(c, "staging") == NULL);
out:
	cfg_free(c);
	cfg_diag_fini(&d);
}

/* The global profile is each certificate's default; "" opts out. */
static void
test_good_global_profile(void)
{
	static char path[] = GOOD "global-profile.yaml";
	char *const paths[] = {path};
	struct cfg_diag d = {0};
	struct cfg *c = NULL;
	const struct cfg_cert *in, *over, *none;

	T_CHECK(load(paths, 1, &c, &d) == 0);
	if (c == NULL)
		goto out;
	in = cfg_find_cert(c, "inherits");
	over = cfg_find_cert(c, "overrides");
	none = cfg_find_cert(c, "none");
	T_CHECK(in != NULL && over != NULL && none != NULL);
	if (in == NULL || over == NULL || none == NULL)
		goto out;
	T_STREQ(in->profile, "shortlived");
	T_CHECK(in->profile_mode == CFG_PROFILE_PREFERRED);
	T_STREQ(over->profile, "tlsserver");
	T_CHECK(over->profile_mode == CFG_PROFILE_REQUIRED);
	T_CHECK(none->profile == NULL);
	T_CHECK(none->profile_mode == CFG_PROFILE_PREFERRED);
out:
	cfg_free(c);
	cfg_diag_fini(&d);
}

/* A CA in one file serves certificates of another; empty files are fine. */
static void
test_good_split(void)
{
	static char ca[] = GOOD "split-ca.yaml",
		    cert[] = GOOD "split-cert.yaml",
		    empty[] = GOOD "empty.yaml";
	char *const paths[] = {empty, ca, cert};
	struct cfg_diag d = {0};
	struct cfg *c = NULL;

	T_CHECK(load(paths, 3, &c, &d) == 0);
	T_CHECK(c != NULL && c->ncas == 1 && c->ncerts == 1);
	T_CHECK(c != NULL && c->ncas == 1 && c->cas[0].http_timeout == 45);
	if (c != NULL && c->ncerts == 1) {
		T_CHECK(c->certs[0].ca == &c->cas[0]);
		T_STREQ(c->certs[0].http_listen, "[::1]:5002");
		T_STREQ(c->certs[0].file, cert);
	}
	cfg_free(c);
	cfg_diag_fini(&d);

	c = NULL;
	T_CHECK(load(paths, 1, &c, &d) == 0);
	T_CHECK(c != NULL && c->ncas == 0 && c->ncerts == 0);
	cfg_free(c);
	cfg_diag_fini(&d);
}

struct want {
	const char *pos; /* "file:line:col", file relative to BAD */
	const char *msg; /* a substring of what follows */
};

static const struct {
	const char *file;
	const char *file2; /* loaded after "file", or NULL */
	size_t nmsgs;
	struct want w[3];
} bad[] = {
    /* Parsing: keys and types, at the offending node. */
    {"unknown-key.yaml", NULL, 1,
	{{"unknown-key.yaml:8:5", "unknown key \"colour\" in a certificate"}}},
    {"duplicate-key.yaml", NULL, 1,
	{{"duplicate-key.yaml:10:5", "duplicate key \"output\""}}},
    {"missing-name.yaml", NULL, 1,
	{{"missing-name.yaml:6:5", "missing required key \"name\""}}},
    {"missing-domains.yaml", NULL, 1,
	{{"missing-domains.yaml:6:5", "missing required key \"domains\""}}},
    {"missing-output.yaml", NULL, 1,
	{{"missing-output.yaml:6:5", "missing required key \"output\""}}},
    {"missing-challenge.yaml", NULL, 1,
	{{"missing-challenge.yaml:6:5", "missing required key \"challenge\""}}},
    {"missing-challenge-type.yaml", NULL, 1,
	{{"missing-challenge-type.yaml:9:7",
	    "challenge is missing required key \"type\""}}},
    {"domains-string.yaml", NULL, 1,
	{{"domains-string.yaml:7:14", "\"domains\" must be a list"}}},
    {"yaml-syntax.yaml", NULL, 1,
	{{"yaml-syntax.yaml:9:21",
	    "YAML syntax error: mapping values are not allowed"}}},
    {"yaml-indent.yaml", NULL, 1,
	{{"yaml-indent.yaml:8:6",
	    "YAML syntax error: did not find expected key"}}},
    {"yaml-unclosed.yaml", NULL, 1,
	{{"yaml-unclosed.yaml:8:14",
	    "did not find expected ',' or ']' while parsing a flow sequence"}}},
    /* Validation: at the line of the CA or certificate. */
    {"domain-underscore.yaml", NULL, 1,
	{{"domain-underscore.yaml:6:1",
	    "\"my_host.example.org\": names may hold only letters"}}},
    {"control-chars.yaml", NULL, 1,
	{{"control-chars.yaml:6:1",
	    "\"www\\x1b[31m.example.org\": names may hold only letters"}}},
    {"domain-empty-label.yaml", NULL, 1,
	{{"domain-empty-label.yaml:6:1",
	    "\"www..example.org\": each label must have 1 to 63"}}},
    {"domain-long-label.yaml", NULL, 1,
	{{"domain-long-label.yaml:6:1",
	    "each label must have 1 to 63 characters"}}},
    {"wildcard-http01.yaml", NULL, 1,
	{{"wildcard-http01.yaml:6:1",
	    "wildcard \"*.example.org\" needs the dns-01 challenge"}}},
    {"dup-name-a.yaml", "dup-name-b.yaml", 1,
	{{"dup-name-b.yaml:7:1",
	    "certificate \"www\" is already defined at " BAD
	    "dup-name-a.yaml:6"}}},
    {"unknown-ca.yaml", NULL, 1,
	{{"unknown-ca.yaml:6:1", "no CA of that name is defined"}}},
    {"no-ca.yaml", NULL, 1,
	{{"no-ca.yaml:3:1", "certificate \"www\": no CA is defined"}}},
    {"two-cas-no-ref.yaml", NULL, 1,
	{{"two-cas-no-ref.yaml:8:1",
	    "several CAs are defined; say which with \"ca\""}}},
    {"http-directory.yaml", NULL, 1,
	{{"http-directory.yaml:3:1",
	    "CA \"pebble\": directory must be an https:// URL"}}},
    {"relative-output.yaml", NULL, 1,
	{{"relative-output.yaml:6:1", "output must be an absolute path"}}},
    {"reload-relative.yaml", NULL, 1,
	{{"reload-relative.yaml:6:1",
	    "reload must be a list whose first item is an absolute program path"}}},
    {"bad-key.yaml", NULL, 1,
	{{"bad-key.yaml:6:1", "key \"rsa-1024\" is not one of"}}},
    {"http-timeout.yaml", NULL, 1,
	{{"http-timeout.yaml:3:1", "http_timeout must be a number of seconds from 1 to 600"}}},
    {"bad-profile-mode.yaml", NULL, 1,
	{{"bad-profile-mode.yaml:6:1",
	    "profile_mode must be \"required\" or \"preferred\""}}},
    {"empty-profile.yaml", NULL, 1,
	{{"empty-profile.yaml:6:1", "profile must not be empty"}}},
    {"global-empty-profile.yaml", NULL, 1,
	{{"global-empty-profile.yaml:3:1", "profile must not be empty"}}},
    {"ip-dns01.yaml", NULL, 1,
	{{"ip-dns01.yaml:6:1",
	    "IP address \"192.0.2.7\" cannot use dns-01 (RFC 8738)"}}},
    /* Every problem of a file, not just the first. */
    {"two-parse-errors.yaml", NULL, 2,
	{{"two-parse-errors.yaml:5:5", "unknown key \"email\" in a CA"},
	    {"two-parse-errors.yaml:11:5",
		"unknown key \"colour\" in a certificate"}}},
    {"two-validation-errors.yaml", NULL, 2,
	{{"two-validation-errors.yaml:6:1", "webroot must be an absolute path"},
	    {"two-validation-errors.yaml:6:1",
		"\"my_host.example.org\": names may hold only"}}},
    {"three-validation-errors.yaml", NULL, 3,
	{{"three-validation-errors.yaml:6:1", "key \"ec-p521\" is not one of"},
	    {"three-validation-errors.yaml:6:1",
		"output must be an absolute path"},
	    {"three-validation-errors.yaml:6:1", "reload must be a list"}}},
};

/* Does "msg" read "BAD<pos>: ...<want>..."? */
static bool
msg_matches(const char *msg, const struct want *w)
{
	size_t dlen = strlen(BAD), plen = strlen(w->pos);

	return strncmp(msg, BAD, dlen) == 0 &&
	    strncmp(msg + dlen, w->pos, plen) == 0 &&
	    strncmp(msg + dlen + plen, ": ", 2) == 0 &&
	    strstr(msg + dlen + plen + 2, w->msg) != NULL;
}

static void
test_bad(void)
{
	static struct cfg sentinel;
	size_t i, j;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char p1[256], p2[256];
		char *const paths[] = {p1, p2};
		struct cfg_diag d = {0};
		struct cfg *c = &sentinel;
		int r;

		snprintf(p1, sizeof(p1), BAD "%s", bad[i].file);
		snprintf(p2, sizeof(p2), BAD "%s",
		    bad[i].file2 != NULL ? bad[i].file2 : "");
		r = cfg_load_files(paths, bad[i].file2 != NULL ? 2 : 1, &c, &d);
		T_CHECK(r == -EINVAL);
		T_CHECK(c == &sentinel);
		T_CHECK(d.nmsgs == bad[i].nmsgs);
		for (j = 0; j < bad[i].nmsgs; j++) {
			bool ok =
			    j < d.nmsgs && msg_matches(d.msgs[j], &bad[i].w[j]);

			T_CHECK(ok);
			if (!ok)
				fprintf(stderr, "  %s: wanted %s: ...%s...\n",
				    bad[i].file, bad[i].w[j].pos,
				    bad[i].w[j].msg);
		}
		if (d.nmsgs != bad[i].nmsgs)
			for (j = 0; j < d.nmsgs; j++)
				fprintf(stderr, "  %s said: %s\n", bad[i].file,
				    d.msgs[j]);
		cfg_diag_fini(&d);
		T_CHECK(d.msgs == NULL && d.nmsgs == 0);
	}
}

/* A file that does not exist is a diagnostic too, not a crash. */
static void
test_missing_file(void)
{
	static char path[] = DATA "/no-such-file.yaml";
	char *const paths[] = {path};
	struct cfg_diag d = {0};
	struct cfg *c = NULL;

	T_CHECK(cfg_load_files(paths, 1, &c, &d) == -EINVAL && c == NULL);
	T_CHECK(d.nmsgs == 1 && strncmp(d.msgs[0], path, strlen(path)) == 0 &&
	    strstr(d.msgs[0], "cannot read") != NULL);
	cfg_diag_fini(&d);
}

static void
test_normalise(void)
{
	static const struct {
		const char *in;
		const char *out; /* NULL: rejected, with "why" containing ... */
		const char *why;
	} rows[] = {
	    {"Example.ORG.", "example.org", NULL},
	    {"WWW.example.org", "www.example.org", NULL},
	    {"*.Example.org", "*.example.org", NULL},
	    {"xn--bcher-kva.example", "xn--bcher-kva.example", NULL},
	    {"a-b.example.org", "a-b.example.org", NULL},
	    {"192.0.2.1", "192.0.2.1", NULL},
	    {"2001:DB8:0:0:0:0:0:1", "2001:db8::1", NULL},
	    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1", NULL},
	    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1", NULL},
	    {"::FFFF:192.0.2.1", "::ffff:192.0.2.1", NULL},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org",
		"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org",
		NULL},
	    {"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.org",
		NULL, "1 to 63"},
	    {"my_host.example.org", NULL, "letters, digits"},
	    {"www..example.org", NULL, "1 to 63"},
	    {"example.org..", NULL, "1 to 63"},
	    {".example.org", NULL, "1 to 63"},
	    {"", NULL, "1 to 253"},
	    {".", NULL, "1 to 253"},
	    {"-a.example.org", NULL, "'-'"},
	    {"a-.example.org", NULL, "'-'"},
	    {"localhost", NULL, "two labels"},
	    {"a.*.example.org", NULL, "letters, digits"},
	    {"*", NULL, "letters, digits"},
	    {"www.example.org/x", NULL, "letters, digits"},
	    {"caf\xc3\xa9.example", NULL, "letters, digits"},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char buf[300];
		const char *why = NULL;
		int r;

		snprintf(buf, sizeof(buf), "%s", rows[i].in);
		r = cfg_normalise_identifier(buf, &why);
		if ((r == 0) != (rows[i].out != NULL))
			fprintf(stderr, "normalise \"%s\": %d (%s)\n",
			    rows[i].in, r, why ? why : "");
		if (rows[i].out != NULL) {
			T_CHECK(r == 0);
			T_STREQ(buf, rows[i].out);
		} else {
			T_CHECK(r == -EINVAL);
			T_CHECK(
			    why != NULL && strstr(why, rows[i].why) != NULL);
		}
	}
	/* Longest name: 253 characters; one more is refused. */
	{
		char buf[300];
		const char *why = NULL;

		memset(buf, 'a', 253);
		buf[253] = '\0';
		for (i = 63; i < 253; i += 64)
			buf[i] = '.';
		T_CHECK(cfg_normalise_identifier(buf, &why) == 0);
		buf[253] = 'a';
		buf[254] = '\0';
		T_CHECK(cfg_normalise_identifier(buf, &why) == -EINVAL);
	}
	T_CHECK(cfg_is_ip("192.0.2.1") && cfg_is_ip("::1") &&
	    cfg_is_ip("2001:db8::1"));
	T_CHECK(!cfg_is_ip("example.org") && !cfg_is_ip("192.0.2") &&
	    !cfg_is_ip("192.0.2.256") && !cfg_is_ip("[::1]") && !cfg_is_ip(""));
}

static bool
put(const char *dir, const char *name, const char *text)
{
	char path[512];
	FILE *f;
	bool ok;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	if ((f = fopen(path, "w")) == NULL)
		return false;
	ok = fputs(text, f) >= 0;
	return fclose(f) == 0 && ok;
}

static const char dir_ca[] =
    "cas:\n  - name: pebble\n    directory: https://localhost:14000/dir\n";
static const char dir_cert_fmt[] =
    "certificates:\n  - name: %s\n    domains: [%s.example.org]\n"
    "    challenge: {type: http-01, webroot: /srv/www}\n    output: /srv/ssl/%s\n";
static const char dir_junk[] = "this: [is not: yaml\n";

/* Only *.yaml files, sorted by name; README, backups and dotfiles skipped. */
static void
test_load_dir(void)
{
	static const char *const files[] = {
	    "05-first.yaml",
	    "10-ca.yaml",
	    "20-second.yaml",
	    "README",
	    "30-old.yaml~",
	    ".hidden.yaml",
	    "notes.yml",
	    "yaml",
	    "40-bad.yaml",
	};
	char dir[] = "/tmp/acmed-test-cfg-XXXXXX", text[512], path[512];
	struct cfg_diag d = {0};
	struct cfg *c = NULL;
	size_t i;

	T_CHECK(mkdtemp(dir) != NULL);
	/* An empty directory is an empty configuration. */
	T_CHECK(cfg_load_dir(dir, &c, &d) == 0 && c != NULL && c->ncerts == 0);
	cfg_free(c);
	c = NULL;
	cfg_diag_fini(&d);

	snprintf(
	    text, sizeof(text), dir_cert_fmt, "second", "second", "second");
	T_CHECK(put(dir, "20-second.yaml", text));
	T_CHECK(put(dir, "10-ca.yaml", dir_ca));
	snprintf(text, sizeof(text), dir_cert_fmt, "first", "first", "first");
	T_CHECK(put(dir, "05-first.yaml", text));
	for (i = 3; i < 8; i++)
		T_CHECK(put(dir, files[i], dir_junk));
	T_CHECK(cfg_load_dir(dir, &c, &d) == 0);
	for (i = 0; i < d.nmsgs; i++)
		fprintf(stderr, "unexpected: %s\n", d.msgs[i]);
	T_CHECK(c != NULL && c->ncas == 1 && c->ncerts == 2);
	if (c != NULL && c->ncerts == 2) {
		T_STREQ(c->certs[0].name, "first");
		T_STREQ(c->certs[1].name, "second");
		snprintf(path, sizeof(path), "%s/05-first.yaml", dir);
		T_STREQ(c->certs[0].file, path);
	}
	cfg_free(c);
	c = NULL;
	cfg_diag_fini(&d);

	/* A broken *.yaml file is read, and named. */
	T_CHECK(put(dir, "40-bad.yaml", dir_junk));
	T_CHECK(cfg_load_dir(dir, &c, &d) == -EINVAL && c == NULL);
	snprintf(path, sizeof(path), "%s/40-bad.yaml:", dir);
	T_CHECK(d.nmsgs == 1 && strncmp(d.msgs[0], path, strlen(path)) == 0);
	cfg_diag_fini(&d);

	for (i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", dir, files[i]);
		unlink(path);
	}
	T_CHECK(rmdir(dir) == 0);

	/* A directory that is not there. */
	T_CHECK(
	    cfg_load_dir(dir, &c, &d) == -EINVAL && c == NULL && d.nmsgs == 1);
	cfg_diag_fini(&d);
}

/* Load one file holding "text" (and dir_ca); NULL-safe result in "ret". */
static int
load_text(const char *dir, const char *text, struct cfg **ret, struct cfg_diag *d)
{
	char path[512], *paths[1];

	if (!put(dir, "global.yaml", text))
		return -EIO;
	snprintf(path, sizeof(path), "%s/global.yaml", dir);
	paths[0] = path;
	return cfg_load_files(paths, 1, ret, d);
}

/* "global": defaults, values taken, and out-of-range values refused. */
static void
test_global(void)
{
	static const char *const bad_timeouts[] = {"0", "4", "86401", "-5", "10s", "abc", "\"\"", "1e3", "9999999999"};
	char dir[] = "/tmp/acmed-test-cfg-XXXXXX", text[512], path[512];
	struct cfg_diag d = {0};
	struct cfg *c = NULL;
	size_t i;

	T_CHECK(mkdtemp(dir) != NULL);
	/* Without "global": the defaults. */
	T_CHECK(load_text(dir, dir_ca, &c, &d) == 0 && c != NULL);
	if (c != NULL) {
		T_CHECK(c->global.max_parallel == 4);
		T_CHECK(c->global.hook_timeout == 60);
		T_CHECK(c->global.order_timeout == 600);
	}
	cfg_free(c);
	c = NULL;
	cfg_diag_fini(&d);

	snprintf(text, sizeof(text), "global:\n  max_parallel: 8\n  hook_timeout: 120\n  order_timeout: 5\n%s", dir_ca);
	T_CHECK(load_text(dir, text, &c, &d) == 0 && c != NULL);
	if (c != NULL) {
		T_CHECK(c->global.max_parallel == 8);
		T_CHECK(c->global.hook_timeout == 120);
		T_CHECK(c->global.order_timeout == 5);
	}
	cfg_free(c);
	c = NULL;
	cfg_diag_fini(&d);

	snprintf(text, sizeof(text), "global:\n  order_timeout: 86400\n%s", dir_ca);
	T_CHECK(load_text(dir, text, &c, &d) == 0 && c != NULL && c->global.order_timeout == 86400);
	cfg_free(c);
	c = NULL;
	cfg_diag_fini(&d);

	snprintf(path, sizeof(path), "%s/global.yaml:2:1: order_timeout must be a number of seconds from 5 to 86400", dir);
	for (i = 0; i < sizeof(bad_timeouts) / sizeof(bad_timeouts[0]); i++) {
		snprintf(text, sizeof(text), "global:\n  order_timeout: %s\n%s", bad_timeouts[i], dir_ca);
		T_CHECK(load_text(dir, text, &c, &d) == -EINVAL && c == NULL);
		T_CHECK(d.nmsgs == 1 && strcmp(d.msgs[0], path) == 0);
		if (d.nmsgs != 1 || strcmp(d.msgs[0], path) != 0)
			fprintf(stderr, "  order_timeout %s: %s\n", bad_timeouts[i], d.nmsgs > 0 ? d.msgs[0] : "no message");
		cfg_diag_fini(&d);
	}
	/* A list is not a number either. */
	snprintf(text, sizeof(text), "global:\n  order_timeout: [5]\n%s", dir_ca);
	T_CHECK(load_text(dir, text, &c, &d) == -EINVAL && c == NULL && d.nmsgs >= 1);
	cfg_diag_fini(&d);

	snprintf(path, sizeof(path), "%s/global.yaml", dir);
	unlink(path);
	T_CHECK(rmdir(dir) == 0);
}

int
main(int argc, char **argv)
{
	(void)argc;
	go_to_top(argv[0]);
	test_good_full();
	test_good_split();
	test_good_global_profile();
	test_bad();
	test_missing_file();
	test_normalise();
	test_load_dir();
	test_global();
	return T_DONE();
}
