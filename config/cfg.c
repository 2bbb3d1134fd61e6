#include "cfg.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <yaml.h>

#include "crypto.h"
#include "fs.h"
#include "log.h"

enum field_type {
	F_STR,
	F_STRLIST,
	F_MAP, /* nested mapping whose keys fill the same struct */
};

struct field {
	const char *key;
	enum field_type type;
	size_t off;  /* F_STR: char *; F_STRLIST: char ** then size_t count */
	size_t noff; /* F_STRLIST: offset of the count */
	const struct field *sub;
	bool required;
};

#define STR(k, s, m, req) {k, F_STR, offsetof(s, m), 0, NULL, req}
#define LIST(k, s, m, n, req) \
	{k, F_STRLIST, offsetof(s, m), offsetof(s, n), NULL, req}

static const struct field global_fields[] = {
    STR("max_parallel", struct cfg_global, max_parallel_text, false),
    STR("hook_timeout", struct cfg_global, hook_timeout_text, false),
    STR("order_timeout", struct cfg_global, order_timeout_text, false),
    LIST("post_renew_hook", struct cfg_global, post_renew_hook, npost_renew_hook, false),
    STR("profile", struct cfg_global, profile, false),
    STR("profile_mode", struct cfg_global, profile_mode_text, false),
    {NULL, F_STR, 0, 0, NULL, false},
};

static const struct field eab_fields[] = {
    STR("kid", struct cfg_ca, eab_kid, true),
    STR("hmac_key_file", struct cfg_ca, eab_hmac_key_file, true),
    {NULL, F_STR, 0, 0, NULL, false},
};

static const struct field ca_fields[] = {
    STR("name", struct cfg_ca, name, true),
    STR("directory", struct cfg_ca, directory, true),
    LIST("contact", struct cfg_ca, contact, ncontact, false),
    STR("ca_bundle", struct cfg_ca, ca_bundle, false),
    STR("account_key", struct cfg_ca, account_key_text, false),
    {"eab", F_MAP, 0, 0, eab_fields, false},
    STR("http_timeout", struct cfg_ca, http_timeout_text, false),
    {NULL, F_STR, 0, 0, NULL, false},
};

static const struct field challenge_fields[] = {
    STR("type", struct cfg_cert, challenge_type, true),
    STR("listen", struct cfg_cert, http_listen, false),
    STR("webroot", struct cfg_cert, webroot, false),
    LIST("hook", struct cfg_cert, dns_hook, ndns_hook, false),
    {NULL, F_STR, 0, 0, NULL, false},
};

static const struct field cert_fields[] = {
    STR("name", struct cfg_cert, name, true),
    LIST("domains", struct cfg_cert, domains, ndomains, true),
    STR("ca", struct cfg_cert, ca_name, false),
    STR("profile", struct cfg_cert, profile, false),
    STR("profile_mode", struct cfg_cert, profile_mode_text, false),
    STR("key", struct cfg_cert, key_text, false),
    STR("key_reuse", struct cfg_cert, key_reuse_text, false),
    STR("preferred_chain", struct cfg_cert, preferred_chain, false),
    {"challenge", F_MAP, 0, 0, challenge_fields, true},
    STR("output", struct cfg_cert, output, true),
    LIST("reload", struct cfg_cert, reload, nreload, false),
    LIST("reload_units", struct cfg_cert, reload_units, nreload_units, false),
    {NULL, F_STR, 0, 0, NULL, false},
};

struct parse {
	const char *file;
	yaml_document_t *doc;
	struct cfg *cfg;
	struct cfg_diag *diag;
	int oom;
};

static void __attribute__((format(printf, 4, 5)))
diag_add(struct cfg_diag *d, const char *file, const yaml_mark_t *m,
    const char *fmt, ...)
{
	char raw[512], msg[1024], *line, **grown;
	va_list ap;
	int n;

	va_start(ap, fmt);
	vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	/* Messages quote the file's values; they go to a terminal or the log. */
	log_escape(msg, sizeof(msg), raw, strlen(raw));
	if (m != NULL)
		n = snprintf(NULL, 0, "%s:%zu:%zu: %s", file, m->line + 1, m->column + 1, msg);
	else
		n = snprintf(NULL, 0, "%s: %s", file, msg);
	if (n < 0 || (line = malloc((size_t)n + 1)) == NULL)
		return;
	if (m != NULL)
		snprintf(line, (size_t)n + 1, "%s:%zu:%zu: %s", file, m->line + 1, m->column + 1, msg);
	else
		snprintf(line, (size_t)n + 1, "%s: %s", file, msg);
	if ((grown = realloc(d->msgs, (d->nmsgs + 1) * sizeof(char *))) == NULL) {
		free(line);
		return;
	}
	d->msgs = grown;
	d->msgs[d->nmsgs++] = line;
}

static const char *
scalar(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	return (const char *)n->data.scalar.value;
}

static int
set_str(struct parse *p, yaml_node_t *val, const char *key, char **dst)
{
	const char *s = scalar(val);

	if (s == NULL) {
		diag_add(p->diag, p->file, &val->start_mark, "\"%s\" must be a string", key);
		return -EINVAL;
	}
	if (strlen(s) != val->data.scalar.length) {
		diag_add(p->diag, p->file, &val->start_mark, "\"%s\" contains a NUL byte", key);
		return -EINVAL;
	}
	if ((*dst = strdup(s)) == NULL)
		return -ENOMEM;
	return 0;
}

static int
set_list(struct parse *p, yaml_node_t *val, const char *key, char ***dst,
    size_t *ndst)
{
	yaml_node_item_t *it;
	size_t n, i = 0;
	char **v;
	int r;

	if (val->type != YAML_SEQUENCE_NODE) {
		diag_add(p->diag, p->file, &val->start_mark, "\"%s\" must be a list", key);
		return -EINVAL;
	}
	n = (size_t)(val->data.sequence.items.top - val->data.sequence.items.start);
	if ((v = calloc(n + 1, sizeof(char *))) == NULL)
		return -ENOMEM;
	*dst = v;
	for (it = val->data.sequence.items.start; it < val->data.sequence.items.top; it++) {
		if ((r = set_str(p, yaml_document_get_node(p->doc, *it), key, &v[i])) < 0)
			return r;
		*ndst = ++i;
	}
	return 0;
}

static int parse_map(struct parse *p, yaml_node_t *map, const struct field *fields,
    void *obj, const char *what);

static int
parse_field(struct parse *p, const struct field *f, yaml_node_t *val, void *obj)
{
	char *base = obj;

	switch (f->type) {
	case F_STR:
		return set_str(p, val, f->key, (char **)(void *)(base + f->off));
	case F_STRLIST:
		return set_list(p, val, f->key, (char ***)(void *)(base + f->off),
		    (size_t *)(void *)(base + f->noff));
	case F_MAP:
		return parse_map(p, val, f->sub, obj, f->key);
	}
	return -EINVAL;
}

/*
 * Fill "obj" from a mapping using a key table: unknown, duplicate and
 * missing required keys are errors with the position of the offending node.
 */
static int
parse_map(struct parse *p, yaml_node_t *map, const struct field *fields,
    void *obj, const char *what)
{
	bool seen[16] = {false};
	yaml_node_pair_t *pair;
	size_t i;
	int r = 0, e;

	if (map->type != YAML_MAPPING_NODE) {
		diag_add(p->diag, p->file, &map->start_mark, "%s must be a mapping", what);
		return -EINVAL;
	}
	for (pair = map->data.mapping.pairs.start; pair < map->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key = scalar(k);

		for (i = 0; key != NULL && fields[i].key != NULL; i++)
			if (strcmp(fields[i].key, key) == 0)
				break;
		if (key == NULL || fields[i].key == NULL) {
			diag_add(p->diag, p->file, &k->start_mark, "unknown key \"%s\" in %s", key != NULL ? key : "?", what);
			r = -EINVAL;
			continue;
		}
		if (seen[i]) {
			diag_add(p->diag, p->file, &k->start_mark, "duplicate key \"%s\" in %s", key, what);
			r = -EINVAL;
			continue;
		}
		seen[i] = true;
		if ((e = parse_field(p, &fields[i], v, obj)) == -ENOMEM)
			return e;
		if (e < 0)
			r = e;
	}
	for (i = 0; fields[i].key != NULL; i++)
		if (fields[i].required && !seen[i]) {
			diag_add(p->diag, p->file, &map->start_mark, "%s is missing required key \"%s\"", what, fields[i].key);
			r = -EINVAL;
		}
	return r;
}

static void *
grow(void *arr, size_t n, size_t size)
{
	void *g = realloc(arr, (n + 1) * size);

	if (g != NULL)
		memset((char *)g + n * size, 0, size);
	return g;
}

/*
 * The name of the file being parsed, one copy per file that the CAs and
 * certificates in it share (10,000 certificates: half a megabyte less).
 */
static const char *
file_of(struct parse *p)
{
	struct cfg *c = p->cfg;
	char **g;

	if (c->nfiles > 0 && strcmp(c->files[c->nfiles - 1], p->file) == 0)
		return c->files[c->nfiles - 1];
	if ((g = realloc(c->files, (c->nfiles + 1) * sizeof(*g))) == NULL)
		return NULL;
	c->files = g;
	if ((c->files[c->nfiles] = strdup(p->file)) == NULL)
		return NULL;
	return c->files[c->nfiles++];
}

static int
parse_list(struct parse *p, yaml_node_t *seq, bool is_ca)
{
	yaml_node_item_t *it;
	int r = 0, e;

	if (seq->type != YAML_SEQUENCE_NODE) {
		diag_add(p->diag, p->file, &seq->start_mark, "\"%s\" must be a list", is_ca ? "cas" : "certificates");
		return -EINVAL;
	}
	for (it = seq->data.sequence.items.start; it < seq->data.sequence.items.top; it++) {
		yaml_node_t *n = yaml_document_get_node(p->doc, *it);
		struct cfg *c = p->cfg;
		void *g;

		if (is_ca) {
			if ((g = grow(c->cas, c->ncas, sizeof(*c->cas))) == NULL)
				return -ENOMEM;
			c->cas = g;
			c->cas[c->ncas].line = (unsigned)n->start_mark.line + 1;
			if ((c->cas[c->ncas].file = file_of(p)) == NULL)
				return -ENOMEM;
			e = parse_map(p, n, ca_fields, &c->cas[c->ncas++], "a CA");
		} else {
			if ((g = grow(c->certs, c->ncerts, sizeof(*c->certs))) == NULL)
				return -ENOMEM;
			c->certs = g;
			c->certs[c->ncerts].line = (unsigned)n->start_mark.line + 1;
			if ((c->certs[c->ncerts].file = file_of(p)) == NULL)
				return -ENOMEM;
			e = parse_map(p, n, cert_fields, &c->certs[c->ncerts++], "a certificate");
		}
		if (e == -ENOMEM)
			return e;
		if (e < 0)
			r = e;
	}
	return r;
}

/* "global" may appear in one file only. */
static int
parse_global(struct parse *p, yaml_node_t *v)
{
	struct cfg_global *g = &p->cfg->global;

	if (g->file != NULL) {
		diag_add(p->diag, p->file, &v->start_mark, "\"global\" is already given at %s:%u", g->file, g->line);
		return -EINVAL;
	}
	if ((g->file = strdup(p->file)) == NULL)
		return -ENOMEM;
	g->line = (unsigned)v->start_mark.line + 1;
	return parse_map(p, v, global_fields, g, "global");
}

static int
parse_root(struct parse *p, yaml_node_t *root)
{
	yaml_node_pair_t *pair;
	int r = 0, e;

	if (root == NULL) /* an empty file is fine */
		return 0;
	if (root->type != YAML_MAPPING_NODE) {
		diag_add(p->diag, p->file, &root->start_mark, "top level must be a mapping with \"cas\" and \"certificates\"");
		return -EINVAL;
	}
	for (pair = root->data.mapping.pairs.start; pair < root->data.mapping.pairs.top; pair++) {
		yaml_node_t *k = yaml_document_get_node(p->doc, pair->key);
		yaml_node_t *v = yaml_document_get_node(p->doc, pair->value);
		const char *key = scalar(k);

		if (key != NULL && strcmp(key, "cas") == 0)
			e = parse_list(p, v, true);
		else if (key != NULL && strcmp(key, "certificates") == 0)
			e = parse_list(p, v, false);
		else if (key != NULL && strcmp(key, "global") == 0)
			e = parse_global(p, v);
		else {
			diag_add(p->diag, p->file, &k->start_mark, "unknown top-level key \"%s\" (expected \"global\", \"cas\" or \"certificates\")", key != NULL ? key : "?");
			e = -EINVAL;
		}
		if (e == -ENOMEM)
			return e;
		if (e < 0)
			r = e;
	}
	return r;
}

static int
parse_file(const char *path, struct cfg *cfg, struct cfg_diag *diag)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct parse p = {.file = path, .doc = &doc, .cfg = cfg, .diag = diag};
	char *text;
	size_t len;
	int r;

	if ((r = fs_read_file(path, CFG_FILE_MAX, &text, &len)) < 0) {
		diag_add(diag, path, NULL, "cannot read: %s", strerror(-r));
		return r == -ENOMEM ? r : -EINVAL;
	}
	if (!yaml_parser_initialize(&parser)) {
		free(text);
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_mark_t m = parser.problem_mark;

		diag_add(diag, path, &m, "YAML syntax error: %s%s%s", parser.problem ? parser.problem : "unknown", parser.context ? " " : "", parser.context ? parser.context : "");
		yaml_parser_delete(&parser);
		free(text);
		return -EINVAL;
	}
	r = parse_root(&p, yaml_document_get_root_node(&doc));
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	free(text);
	return r;
}

bool
cfg_is_ip(const char *name)
{
	unsigned char buf[16];

	return inet_pton(AF_INET, name, buf) == 1 || inet_pton(AF_INET6, name, buf) == 1;
}

/* RFC 1035 / 5890 preferred name syntax, with an optional "*." prefix. */
static int
check_dns_name(const char *name, const char **why)
{
	const char *label = name, *p;
	size_t len = strlen(name);

	if (len == 0 || len > 253) {
		*why = "name must have 1 to 253 characters";
		return -EINVAL;
	}
	if (strncmp(name, "*.", 2) == 0)
		label = name + 2;
	for (p = label;; p++) {
		if (*p == '.' || *p == '\0') {
			if (p == label || p - label > 63) {
				*why = "each label must have 1 to 63 characters";
				return -EINVAL;
			}
			if (label[0] == '-' || p[-1] == '-') {
				*why = "a label may not start or end with '-'";
				return -EINVAL;
			}
			if (*p == '\0')
				break;
			label = p + 1;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '-')) {
			*why = "names may hold only letters, digits, '-' and '.' (and a leading \"*.\")";
			return -EINVAL;
		}
	}
	if (strchr(name, '.') == NULL) {
		*why = "name must have at least two labels";
		return -EINVAL;
	}
	return 0;
}

int
cfg_normalise_identifier(char *name, const char **why)
{
	unsigned char buf[16];
	char *p;
	size_t len = strlen(name);

	if (len > 0 && name[len - 1] == '.')
		name[--len] = '\0';
	for (p = name; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	if (inet_pton(AF_INET, name, buf) == 1)
		return 0;
	if (inet_pton(AF_INET6, name, buf) == 1) {
		/* RFC 8738 section 3: IPv6 in RFC 5952 canonical text form. */
		char canon[INET6_ADDRSTRLEN];

		if (inet_ntop(AF_INET6, buf, canon, sizeof(canon)) == NULL || strlen(canon) > len) {
			*why = "cannot canonicalise IPv6 address";
			return -EINVAL;
		}
		strcpy(name, canon);
		return 0;
	}
	return check_dns_name(name, why);
}

static bool
valid_cert_name(const char *s)
{
	if (*s == '\0' || strlen(s) > 64 || *s == '.' || *s == '-')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
			(*s >= '0' && *s <= '9') || *s == '-' || *s == '_' || *s == '.'))
			return false;
	return true;
}

/* Position of an object for validation messages (no column known). */
#define AT(o) (o)->file, (o)->line

static void __attribute__((format(printf, 4, 5)))
vdiag(struct cfg_diag *d, const char *file, unsigned line, const char *fmt, ...)
{
	yaml_mark_t m = {.line = line - 1, .column = 0};
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	diag_add(d, file, &m, "%s", msg);
}

static long number(const char *s, long lo, long hi);

static int
validate_ca(struct cfg *c, size_t i, struct cfg_diag *d)
{
	struct cfg_ca *ca = &c->cas[i];
	int r = 0;
	size_t j;

	if (!valid_cert_name(ca->name)) {
		vdiag(d, AT(ca), "CA name \"%s\" must be 1-64 letters, digits, '-', '_' or '.'", ca->name);
		r = -EINVAL;
	}
	if (strncmp(ca->directory, "https://", 8) != 0) {
		vdiag(d, AT(ca), "CA \"%s\": directory must be an https:// URL", ca->name);
		r = -EINVAL;
	}
	if (ca->ca_bundle != NULL && ca->ca_bundle[0] != '/') {
		vdiag(d, AT(ca), "CA \"%s\": ca_bundle must be an absolute path", ca->name);
		r = -EINVAL;
	}
	for (j = 0; j < ca->ncontact; j++)
		if (strncmp(ca->contact[j], "mailto:", 7) != 0) {
			vdiag(d, AT(ca), "CA \"%s\": contact \"%s\" must start with mailto:", ca->name, ca->contact[j]);
			r = -EINVAL;
		}
	ca->account_key_type = KEY_EC_P256;
	if (ca->account_key_text != NULL && (ca->account_key_type = key_type_from_name(ca->account_key_text)) < 0) {
		vdiag(d, AT(ca), "CA \"%s\": account_key \"%s\" is not one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096", ca->name, ca->account_key_text);
		r = -EINVAL;
	}
	ca->http_timeout = CFG_HTTP_TIMEOUT_DEFAULT;
	if (ca->http_timeout_text != NULL) {
		long v = number(ca->http_timeout_text, 1, CFG_HTTP_TIMEOUT_MAX);

		if (v < 0) {
			vdiag(d, AT(ca), "CA \"%s\": http_timeout must be a number of seconds from 1 to %d", ca->name, CFG_HTTP_TIMEOUT_MAX);
			r = -EINVAL;
		} else {
			ca->http_timeout = (unsigned)v;
		}
	}
	if (ca->eab_hmac_key_file != NULL && ca->eab_hmac_key_file[0] != '/') {
		vdiag(d, AT(ca), "CA \"%s\": eab hmac_key_file must be an absolute path", ca->name);
		r = -EINVAL;
	}
	for (j = 0; j < i; j++)
		if (strcmp(c->cas[j].name, ca->name) == 0) {
			vdiag(d, AT(ca), "CA \"%s\" is already defined at %s:%u", ca->name, c->cas[j].file, c->cas[j].line);
			r = -EINVAL;
		}
	return r;
}

static int
validate_domains(struct cfg_cert *ce, struct cfg_diag *d)
{
	const char *why;
	size_t j, k;
	int r = 0;

	if (ce->ndomains == 0 || ce->ndomains > CFG_NAMES_MAX) {
		vdiag(d, AT(ce), "certificate \"%s\": domains must list 1 to %d names", ce->name, CFG_NAMES_MAX);
		return -EINVAL;
	}
	for (j = 0; j < ce->ndomains; j++) {
		if (cfg_normalise_identifier(ce->domains[j], &why) < 0) {
			vdiag(d, AT(ce), "certificate \"%s\": \"%s\": %s", ce->name, ce->domains[j], why);
			r = -EINVAL;
			continue;
		}
		if (cfg_is_ip(ce->domains[j]) && strcmp(ce->challenge_type, "dns-01") == 0) {
			vdiag(d, AT(ce), "certificate \"%s\": IP address \"%s\" cannot use dns-01 (RFC 8738)", ce->name, ce->domains[j]);
			r = -EINVAL;
		}
		if (ce->domains[j][0] == '*' && strcmp(ce->challenge_type, "dns-01") != 0) {
			vdiag(d, AT(ce), "certificate \"%s\": wildcard \"%s\" needs the dns-01 challenge", ce->name, ce->domains[j]);
			r = -EINVAL;
		}
		for (k = 0; k < j; k++)
			if (strcmp(ce->domains[k], ce->domains[j]) == 0) {
				vdiag(d, AT(ce), "certificate \"%s\": \"%s\" is listed twice", ce->name, ce->domains[j]);
				r = -EINVAL;
			}
	}
	return r;
}

/* "ADDRESS:PORT" with a numeric port in 1..65535. */
static bool
valid_listen(const char *s)
{
	const char *colon = strrchr(s, ':');
	size_t n;

	if (colon == NULL || colon == s || (n = strlen(colon + 1)) == 0 || n > 5 ||
	    strspn(colon + 1, "0123456789") != n)
		return false;
	return atoi(colon + 1) >= 1 && atoi(colon + 1) <= 65535;
}

static int
validate_challenge(struct cfg_cert *ce, struct cfg_diag *d)
{
	const char *t = ce->challenge_type;
	int r = 0;

	if (strcmp(t, "http-01") != 0 && strcmp(t, "dns-01") != 0 && strcmp(t, "tls-alpn-01") != 0) {
		vdiag(d, AT(ce), "certificate \"%s\": challenge type \"%s\" is not supported (http-01, dns-01, tls-alpn-01)", ce->name, t);
		return -EINVAL;
	}
	if (strcmp(t, "http-01") == 0 && ce->http_listen == NULL && ce->webroot == NULL) {
		vdiag(d, AT(ce), "certificate \"%s\": http-01 needs \"listen\" (built-in responder) or \"webroot\"", ce->name);
		r = -EINVAL;
	}
	if (strcmp(t, "tls-alpn-01") == 0 && ce->http_listen == NULL) {
		vdiag(d, AT(ce), "certificate \"%s\": tls-alpn-01 needs \"listen\" for the built-in responder", ce->name);
		r = -EINVAL;
	}
	if (strcmp(t, "dns-01") == 0 && (ce->dns_hook == NULL || ce->ndns_hook == 0 || ce->dns_hook[0][0] != '/')) {
		vdiag(d, AT(ce), "certificate \"%s\": dns-01 needs \"hook\", a list whose first item is an absolute program path", ce->name);
		r = -EINVAL;
	}
	if (strcmp(t, "http-01") != 0 && ce->webroot != NULL) {
		vdiag(d, AT(ce), "certificate \"%s\": webroot applies to http-01 only", ce->name);
		r = -EINVAL;
	}
	if (strcmp(t, "dns-01") != 0 && ce->dns_hook != NULL) {
		vdiag(d, AT(ce), "certificate \"%s\": hook applies to dns-01 only", ce->name);
		r = -EINVAL;
	}
	if (ce->webroot != NULL && ce->webroot[0] != '/') {
		vdiag(d, AT(ce), "certificate \"%s\": webroot must be an absolute path", ce->name);
		r = -EINVAL;
	}
	if (ce->http_listen != NULL && !valid_listen(ce->http_listen)) {
		vdiag(d, AT(ce), "certificate \"%s\": listen \"%s\" must be ADDRESS:PORT", ce->name, ce->http_listen);
		r = -EINVAL;
	}
	return r;
}

/*
 * A certificate's profile and mode, defaulting to the global ones.  An
 * empty "profile" opts out of the global default (the empty name itself
 * is never sent); without a default it is an error, as it means nothing.
 */
static int
validate_profile(struct cfg *c, struct cfg_cert *ce, struct cfg_diag *d)
{
	const char *mode = ce->profile_mode_text != NULL ? ce->profile_mode_text : c->global.profile_mode_text;

	ce->profile_mode = CFG_PROFILE_REQUIRED;
	if (mode != NULL && strcmp(mode, "preferred") == 0)
		ce->profile_mode = CFG_PROFILE_PREFERRED;
	else if (mode != NULL && strcmp(mode, "required") != 0) {
		vdiag(d, AT(ce), "certificate \"%s\": profile_mode must be \"required\" or \"preferred\"", ce->name);
		return -EINVAL;
	}
	if (ce->profile == NULL && c->global.profile != NULL && (ce->profile = strdup(c->global.profile)) == NULL)
		return -ENOMEM;
	if (ce->profile != NULL && ce->profile[0] == '\0') {
		free(ce->profile);
		ce->profile = NULL;
		if (c->global.profile == NULL) {
			vdiag(d, AT(ce), "certificate \"%s\": profile must not be empty (leave it out to ask for none)", ce->name);
			return -EINVAL;
		}
	}
	return 0;
}

static int
validate_cert(struct cfg *c, size_t i, struct cfg_diag *d)
{
	struct cfg_cert *ce = &c->certs[i];
	int r = 0;
	size_t j;

	if (!valid_cert_name(ce->name)) {
		vdiag(d, AT(ce), "certificate name \"%s\" must be 1-64 letters, digits, '-', '_' or '.'", ce->name);
		r = -EINVAL;
	}
	for (j = 0; j < i; j++)
		if (strcmp(c->certs[j].name, ce->name) == 0) {
			vdiag(d, AT(ce), "certificate \"%s\" is already defined at %s:%u", ce->name, c->certs[j].file, c->certs[j].line);
			r = -EINVAL;
		}
	/* Both, even if the first fails: every problem is reported. */
	if (validate_challenge(ce, d) < 0)
		r = -EINVAL;
	if (validate_domains(ce, d) < 0)
		r = -EINVAL;
	if (ce->ca_name == NULL && c->ncas == 1)
		ce->ca = &c->cas[0];
	else if (ce->ca_name == NULL || (ce->ca = cfg_find_ca(c, ce->ca_name)) == NULL) {
		vdiag(d, AT(ce), "certificate \"%s\": %s", ce->name, ce->ca_name != NULL ? "no CA of that name is defined" : c->ncas == 0 ? "no CA is defined" : "several CAs are defined; say which with \"ca\"");
		r = -EINVAL;
	}
	if (validate_profile(c, ce, d) < 0)
		r = -EINVAL;
	ce->key_type = KEY_EC_P256;
	if (ce->key_text != NULL && (ce->key_type = key_type_from_name(ce->key_text)) < 0) {
		vdiag(d, AT(ce), "certificate \"%s\": key \"%s\" is not one of ec-p256, ec-p384, rsa-2048, rsa-3072, rsa-4096", ce->name, ce->key_text);
		r = -EINVAL;
	}
	ce->key_reuse = false;
	if (ce->key_reuse_text != NULL) {
		if (strcmp(ce->key_reuse_text, "true") == 0 || strcmp(ce->key_reuse_text, "yes") == 0)
			ce->key_reuse = true;
		else if (strcmp(ce->key_reuse_text, "false") != 0 && strcmp(ce->key_reuse_text, "no") != 0) {
			vdiag(d, AT(ce), "certificate \"%s\": key_reuse must be true or false", ce->name);
			r = -EINVAL;
		}
	}
	if (ce->output[0] != '/') {
		vdiag(d, AT(ce), "certificate \"%s\": output must be an absolute path", ce->name);
		r = -EINVAL;
	}
	for (j = 0; j < ce->nreload_units; j++)
		if (strspn(ce->reload_units[j], "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789:-_.@\\") != strlen(ce->reload_units[j]) ||
		    strchr(ce->reload_units[j], '.') == NULL) {
			vdiag(d, AT(ce), "certificate \"%s\": reload_units entry \"%s\" is not a unit name like nginx.service", ce->name, ce->reload_units[j]);
			r = -EINVAL;
		}
	if ((ce->dns_hook != NULL && ce->ndns_hook > CFG_HOOK_ARGS_MAX) || (ce->reload != NULL && ce->nreload > CFG_HOOK_ARGS_MAX)) {
		vdiag(d, AT(ce), "certificate \"%s\": a hook may have at most %d arguments", ce->name, CFG_HOOK_ARGS_MAX);
		r = -EINVAL;
	}
	if (ce->reload != NULL && (ce->nreload == 0 || ce->reload[0][0] != '/')) {
		vdiag(d, AT(ce), "certificate \"%s\": reload must be a list whose first item is an absolute program path", ce->name);
		r = -EINVAL;
	}
	return r;
}

/* A decimal number in [lo, hi]; -1 if "s" is not one. */
static long
number(const char *s, long lo, long hi)
{
	long v;

	if (*s == '\0' || strlen(s) > 9 || strspn(s, "0123456789") != strlen(s))
		return -1;
	v = strtol(s, NULL, 10);
	return v >= lo && v <= hi ? v : -1;
}

static int
validate_global(struct cfg_global *g, struct cfg_diag *d)
{
	const char *file = g->file != NULL ? g->file : "global";
	unsigned line = g->line > 0 ? g->line : 1;
	long v;
	int r = 0;

	g->max_parallel = 4;
	g->hook_timeout = 60;
	g->order_timeout = 600;
	if (g->max_parallel_text != NULL) {
		if ((v = number(g->max_parallel_text, 1, 64)) < 0) {
			vdiag(d, file, line, "max_parallel must be a number from 1 to 64");
			r = -EINVAL;
		} else {
			g->max_parallel = (unsigned)v;
		}
	}
	if (g->hook_timeout_text != NULL) {
		if ((v = number(g->hook_timeout_text, 1, 3600)) < 0) {
			vdiag(d, file, line, "hook_timeout must be a number of seconds from 1 to 3600");
			r = -EINVAL;
		} else {
			g->hook_timeout = (unsigned)v;
		}
	}
	if (g->profile != NULL && g->profile[0] == '\0') {
		vdiag(d, file, line, "profile must not be empty (leave it out for no default profile)");
		r = -EINVAL;
	}
	if (g->order_timeout_text != NULL) {
		if ((v = number(g->order_timeout_text, 5, 86400)) < 0) {
			vdiag(d, file, line, "order_timeout must be a number of seconds from 5 to 86400");
			r = -EINVAL;
		} else {
			g->order_timeout = (unsigned)v;
		}
	}
	if (g->post_renew_hook != NULL && (g->npost_renew_hook == 0 || g->post_renew_hook[0][0] != '/' ||
		g->npost_renew_hook > CFG_HOOK_ARGS_MAX)) {
		vdiag(d, file, line, "post_renew_hook must be a list of at most %d items whose first is an absolute program path", CFG_HOOK_ARGS_MAX);
		r = -EINVAL;
	}
	return r;
}

static int
validate(struct cfg *c, struct cfg_diag *d)
{
	int r = validate_global(&c->global, d);
	size_t i;

	for (i = 0; i < c->ncas; i++)
		if (validate_ca(c, i, d) < 0)
			r = -EINVAL;
	for (i = 0; i < c->ncerts; i++)
		if (validate_cert(c, i, d) < 0)
			r = -EINVAL;
	return r;
}

int
cfg_load_files(char *const *paths, size_t npaths, struct cfg **ret,
    struct cfg_diag *diag)
{
	struct cfg *c;
	int r = 0, e;
	size_t i;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return -ENOMEM;
	for (i = 0; i < npaths; i++) {
		if ((e = parse_file(paths[i], c, diag)) == -ENOMEM) {
			cfg_free(c);
			return e;
		}
		if (e < 0)
			r = e;
	}
	/* Validate only what parsed: half-filled objects give noise. */
	if (r == 0)
		r = validate(c, diag);
	if (r < 0) {
		cfg_free(c);
		return r;
	}
	*ret = c;
	return 0;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The configuration files of "dir": its *.yaml, in name order. */
static int
list_files(const char *dir, char ***ret, size_t *ret_n, struct cfg_diag *diag)
{
	char **paths = NULL, **g;
	size_t n = 0, i;
	struct dirent *de;
	DIR *dp;
	int r = -ENOMEM;

	if ((dp = opendir(dir)) == NULL) {
		diag_add(diag, dir, NULL, "cannot open configuration directory: %s", strerror(errno));
		return -EINVAL;
	}
	while ((de = readdir(dp)) != NULL) {
		size_t len = strlen(de->d_name);

		if (len < 6 || de->d_name[0] == '.' || strcmp(de->d_name + len - 5, ".yaml") != 0)
			continue;
		if ((g = realloc(paths, (n + 1) * sizeof(char *))) == NULL)
			goto out;
		paths = g;
		if ((paths[n] = malloc(strlen(dir) + len + 2)) == NULL)
			goto out;
		sprintf(paths[n++], "%s/%s", dir, de->d_name);
	}
	if (n > 1) /* qsort(NULL, 0, ...) is undefined: an empty directory */
		qsort(paths, n, sizeof(char *), cmp_str);
	*ret = paths;
	*ret_n = n;
	paths = NULL;
	n = 0;
	r = 0;
out:
	closedir(dp);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return r;
}

int
cfg_load_dir(const char *dir, struct cfg **ret, struct cfg_diag *diag)
{
	char **paths = NULL;
	size_t n = 0, i;
	int r;

	if ((r = list_files(dir, &paths, &n, diag)) < 0)
		return r;
	r = cfg_load_files(paths, n, ret, diag);
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return r;
}

int
cfg_copy_dir(const char *dir, const char *dst, struct cfg_diag *diag)
{
	char **paths = NULL, *text = NULL, *out;
	size_t n = 0, i, len = 0;
	int r;

	if ((r = list_files(dir, &paths, &n, diag)) < 0)
		return r;
	for (i = 0; r == 0 && i < n; i++) {
		if ((out = malloc(strlen(dst) + strlen(paths[i]) + 2)) == NULL) {
			r = -ENOMEM;
			break;
		}
		sprintf(out, "%s/%s", dst, strrchr(paths[i], '/') + 1);
		if ((r = fs_read_file(paths[i], CFG_FILE_MAX, &text, &len)) < 0 ||
		    (r = fs_write_atomic(out, text, len, 0600)) < 0)
			diag_add(diag, paths[i], NULL, "cannot copy to %s: %s", out, strerror(-r));
		free(text);
		text = NULL;
		free(out);
	}
	for (i = 0; i < n; i++)
		free(paths[i]);
	free(paths);
	return r;
}

/* "path" must be there for "mode" (R_OK, X_OK); else one diagnostic. */
static int
check_path(struct cfg_diag *d, const char *file, unsigned line, const char *who,
    const char *what, const char *path, int mode)
{
	if (path == NULL || access(path, mode) == 0)
		return 0;
	vdiag(d, file, line, "%s: %s %s: %s", who, what, path, strerror(errno));
	return -EINVAL;
}

int
cfg_check_paths(const struct cfg *c, struct cfg_diag *d)
{
	const struct cfg_global *g = &c->global;
	char who[160];
	size_t i;
	int r = 0;

	if (g->post_renew_hook != NULL)
		r |= check_path(d, g->file != NULL ? g->file : "global", g->line > 0 ? g->line : 1, "global",
		    "post_renew_hook program", g->post_renew_hook[0], X_OK);
	for (i = 0; i < c->ncas; i++) {
		const struct cfg_ca *ca = &c->cas[i];

		snprintf(who, sizeof(who), "CA \"%s\"", ca->name);
		r |= check_path(d, AT(ca), who, "ca_bundle", ca->ca_bundle, R_OK);
		r |= check_path(d, AT(ca), who, "eab hmac_key_file", ca->eab_hmac_key_file, R_OK);
	}
	for (i = 0; i < c->ncerts; i++) {
		const struct cfg_cert *ce = &c->certs[i];

		snprintf(who, sizeof(who), "certificate \"%s\"", ce->name);
		r |= check_path(d, AT(ce), who, "reload program", ce->nreload > 0 ? ce->reload[0] : NULL, X_OK);
		r |= check_path(d, AT(ce), who, "dns-01 hook program", ce->ndns_hook > 0 ? ce->dns_hook[0] : NULL, X_OK);
		r |= check_path(d, AT(ce), who, "webroot", ce->webroot, F_OK);
	}
	return r < 0 ? -EINVAL : 0;
}

static void
free_list(char **v, size_t n)
{
	size_t i;

	for (i = 0; v != NULL && i < n; i++)
		free(v[i]);
	free(v);
}

void
cfg_free(struct cfg *c)
{
	size_t i;

	if (c == NULL)
		return;
	for (i = 0; i < c->ncas; i++) {
		struct cfg_ca *ca = &c->cas[i];

		free(ca->name);
		free(ca->directory);
		free_list(ca->contact, ca->ncontact);
		free(ca->ca_bundle);
		free(ca->account_key_text);
		free(ca->eab_kid);
		free(ca->eab_hmac_key_file);
		free(ca->http_timeout_text);
	}
	for (i = 0; i < c->ncerts; i++) {
		struct cfg_cert *ce = &c->certs[i];

		free(ce->name);
		free_list(ce->domains, ce->ndomains);
		free(ce->ca_name);
		free(ce->profile);
		free(ce->profile_mode_text);
		free(ce->key_text);
		free(ce->challenge_type);
		free(ce->http_listen);
		free(ce->webroot);
		free_list(ce->dns_hook, ce->ndns_hook);
		free(ce->key_reuse_text);
		free(ce->preferred_chain);
		free(ce->output);
		free_list(ce->reload, ce->nreload);
		free_list(ce->reload_units, ce->nreload_units);
	}
	free(c->global.max_parallel_text);
	free(c->global.profile);
	free(c->global.profile_mode_text);
	free(c->global.hook_timeout_text);
	free(c->global.order_timeout_text);
	free_list(c->global.post_renew_hook, c->global.npost_renew_hook);
	free(c->global.file);
	for (i = 0; i < c->nfiles; i++)
		free(c->files[i]);
	free(c->files);
	free(c->cas);
	free(c->certs);
	free(c);
}

void
cfg_diag_fini(struct cfg_diag *d)
{
	free_list(d->msgs, d->nmsgs);
	d->msgs = NULL;
	d->nmsgs = 0;
}

const struct cfg_cert *
cfg_find_cert(const struct cfg *c, const char *name)
{
	size_t i;

	for (i = 0; i < c->ncerts; i++)
		if (strcmp(c->certs[i].name, name) == 0)
			return &c->certs[i];
	return NULL;
}

const struct cfg_ca *
cfg_find_ca(const struct cfg *c, const char *name_or_url)
{
	size_t i;

	for (i = 0; i < c->ncas; i++)
		if (strcmp(c->cas[i].name, name_or_url) == 0 ||
		    strcmp(c->cas[i].directory, name_or_url) == 0)
			return &c->cas[i];
	return NULL;
}
