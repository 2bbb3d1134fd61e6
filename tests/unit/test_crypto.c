/*
 * crypto.c: chain inspection against a CA and leaf built here with
 * OpenSSL, CSR contents, key PEM round trips.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "jws.h"
#include "t.h"

#define NOT_BEFORE ((time_t)1700000000)
#define NOT_AFTER (NOT_BEFORE + 90 * 24 * 3600)
#define LEAF_SERIAL "0A1B2C3D4E5F"
#define LEAF_SANS                                                              \
	"DNS:A.Example.ORG,IP:192.0.2.1,DNS:www.example.org,IP:2001:db8::1"

static const char *const leaf_names[] = {
    "a.example.org",
    "192.0.2.1",
    "www.example.org",
    "2001:db8::1",
};

/* The OpenSSL key behind "k", by way of its PEM. */
static EVP_PKEY *
openssl_key(const struct key *k)
{
	EVP_PKEY *pk = NULL;
	size_t len;
	char *pem;
	BIO *bio;

	if (crypto_key_to_pem(k, &pem, &len) < 0)
		return NULL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) != NULL)
		pk = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	crypto_secret_free(pem, len);
	return pk;
}

static bool
add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	bool ok;

	X509V3_set_ctx(&ctx, issuer != NULL ? issuer : x, x, NULL, NULL, 0);
	if ((ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value)) == NULL)
		return false;
	ok = X509_add_ext(x, ext, -1) == 1;
	X509_EXTENSION_free(ext);
	return ok;
}

/*
 * A certificate for "key" named "cn", signed by "issuer_key" (self-signed
 * when "issuer" is NULL).  "sans" NULL makes a CA.
 */
static X509 *
make_cert(EVP_PKEY *key, EVP_PKEY *issuer_key, X509 *issuer, const char *cn,
    const char *serial_hex, const char *sans)
{
	X509 *x = X509_new();
	X509_NAME *name = X509_NAME_new();
	BIGNUM *bn = NULL;
	bool ok;

	ok = x != NULL && name != NULL && X509_set_version(x, 2) &&
	    BN_hex2bn(&bn, serial_hex) > 0 &&
	    BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) != NULL &&
	    X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
		(const unsigned char *)cn, -1, -1, 0) &&
	    X509_set_subject_name(x, name) &&
	    X509_set_issuer_name(
		x, issuer != NULL ? X509_get_subject_name(issuer) : name) &&
	    ASN1_TIME_set(X509_getm_notBefore(x), NOT_BEFORE) != NULL &&
	    ASN1_TIME_set(X509_getm_notAfter(x), NOT_AFTER) != NULL &&
	    X509_set_pubkey(x, key) &&
	    (sans != NULL ? add_ext(x, issuer, NID_subject_alt_name, sans)
			  : add_ext(x, issuer, NID_basic_constraints,
				"critical,CA:TRUE")) &&
	    X509_sign(x, issuer_key, EVP_sha256()) > 0;
	BN_free(bn);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

static char *
pem_of(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio != NULL && PEM_write_bio_X509(bio, x) &&
	    (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

/* Concatenate up to three strings (NULL ends the list early). */
static char *
cat(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = b ? strlen(b) : 0, lc = c ? strlen(c) : 0;
	char *out = malloc(la + lb + lc + 1);

	if (out == NULL)
		return NULL;
	memcpy(out, a, la);
	if (b != NULL)
		memcpy(out + la, b, lb);
	if (c != NULL)
		memcpy(out + la + lb, c, lc);
	out[la + lb + lc] = '\0';
	return out;
}

struct fixture {
	struct key *leaf_key, *other_key;
	EVP_PKEY *ca_pk, *leaf_pk, *ca2_pk;
	X509 *ca, *leaf, *ca2;
	char *ca_pem, *leaf_pem, *ca2_pem, *key_pem;
	size_t key_pem_len;
};

static bool
fixture_init(struct fixture *f)
{
	memset(f, 0, sizeof(*f));
	if (crypto_key_generate(KEY_EC_P256, &f->leaf_key) < 0 ||
	    crypto_key_generate(KEY_EC_P256, &f->other_key) < 0 ||
	    (f->leaf_pk = openssl_key(f->leaf_key)) == NULL ||
	    (f->ca_pk = EVP_EC_gen("P-256")) == NULL ||
	    (f->ca2_pk = EVP_EC_gen("P-256")) == NULL)
		return false;
	f->ca = make_cert(f->ca_pk, f->ca_pk, NULL, "Test CA", "01", NULL);
	f->ca2 = make_cert(f->ca2_pk, f->ca2_pk, NULL, "Other CA", "02", NULL);
	f->leaf = make_cert(f->leaf_pk, f->ca_pk, f->ca, "a.example.org",
	    LEAF_SERIAL, LEAF_SANS);
	if (f->ca == NULL || f->ca2 == NULL || f->leaf == NULL)
		return false;
	f->ca_pem = pem_of(f->ca);
	f->ca2_pem = pem_of(f->ca2);
	f->leaf_pem = pem_of(f->leaf);
	return f->ca_pem != NULL && f->ca2_pem != NULL && f->leaf_pem != NULL &&
	    crypto_key_to_pem(f->leaf_key, &f->key_pem, &f->key_pem_len) == 0;
}

static void
fixture_fini(struct fixture *f)
{
	crypto_key_free(f->leaf_key);
	crypto_key_free(f->other_key);
	EVP_PKEY_free(f->ca_pk);
	EVP_PKEY_free(f->ca2_pk);
	EVP_PKEY_free(f->leaf_pk);
	X509_free(f->ca);
	X509_free(f->ca2);
	X509_free(f->leaf);
	free(f->ca_pem);
	free(f->ca2_pem);
	free(f->leaf_pem);
	crypto_secret_free(f->key_pem, f->key_pem_len);
}

static void
test_chain_good(const struct fixture *f)
{
	struct cert_info *ci = NULL;
	char err[256] = "", *chain = cat(f->leaf_pem, f->ca_pem, NULL);
	size_t i;

	T_CHECK(crypto_chain_inspect(chain, strlen(chain), f->leaf_key, &ci,
		    err, sizeof(err)) == 0);
	T_CHECK(ci != NULL);
	if (ci != NULL) {
		T_CHECK(ci->ncerts == 2);
		T_STREQ(ci->serial_hex, "0a1b2c3d4e5f");
		T_CHECK(ci->not_before == NOT_BEFORE);
		T_CHECK(ci->not_after == NOT_AFTER);
		T_CHECK(
		    ci->nnames == sizeof(leaf_names) / sizeof(leaf_names[0]));
		for (i = 0; i < ci->nnames &&
		     i < sizeof(leaf_names) / sizeof(leaf_names[0]);
		     i++)
			T_STREQ(ci->names[i], leaf_names[i]);
		T_STREQ(ci->leaf_pem, f->leaf_pem);
		T_STREQ(ci->chain_pem, f->ca_pem);
		T_STREQ(ci->fullchain_pem, chain);
	}
	cert_info_free(ci);
	ci = NULL;

	/* Without a key to match; with text around the blocks. */
	free(chain);
	chain = cat("Subject: leaf\n", f->leaf_pem, f->ca_pem);
	T_CHECK(crypto_chain_inspect(
		    chain, strlen(chain), NULL, &ci, err, sizeof(err)) == 0);
	T_CHECK(ci != NULL && ci->ncerts == 2);
	cert_info_free(ci);
	ci = NULL;

	/* A leaf alone has an empty chain. */
	T_CHECK(crypto_chain_inspect(f->leaf_pem, strlen(f->leaf_pem),
		    f->leaf_key, &ci, err, sizeof(err)) == 0);
	T_CHECK(ci != NULL && ci->ncerts == 1);
	if (ci != NULL) {
		T_STREQ(ci->chain_pem, "");
		T_STREQ(ci->fullchain_pem, f->leaf_pem);
	}
	cert_info_free(ci);
	free(chain);
}

static void
test_chain_bad(const struct fixture *f)
{
	struct bad {
		const char *what;
		char *pem;
		const struct key *key;
		const char *err;
	} rows[] = {
	    {"private key appended", cat(f->leaf_pem, f->ca_pem, f->key_pem),
		NULL, "PRIVATE KEY"},
	    {"private key first", cat(f->key_pem, f->leaf_pem, f->ca_pem), NULL,
		"PRIVATE KEY"},
	    {"junk", cat("hello, world\n", NULL, NULL), NULL, "no certificate"},
	    {"empty", cat("", NULL, NULL), NULL, "no certificate"},
	    {"CA first", cat(f->ca_pem, f->leaf_pem, NULL), NULL, "not signed"},
	    {"wrong issuer", cat(f->leaf_pem, f->ca2_pem, NULL), NULL,
		"not signed"},
	    {"not our key", cat(f->leaf_pem, f->ca_pem, NULL), f->other_key,
		"not for our key"},
	    {"bad DER",
		cat(f->leaf_pem,
		    "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
		    NULL),
		NULL, "does not parse"},
	    {"control characters in a PEM type", cat(f->leaf_pem,
		"-----BEGIN \x1b[2JX509 CRL-----\nAAAA\n-----END \x1b[2JX509 CRL-----\n", NULL),
		NULL, "type \"\\x1b[2JX509 CRL\""},
	    {"truncated issuer", NULL, NULL, "does not parse"},
	};
	size_t i, half = strlen(f->ca_pem) / 2;

	/* A download cut short in the middle of the issuer. */
	if ((rows[9].pem = cat(f->leaf_pem, f->ca_pem, NULL)) != NULL)
		rows[9].pem[strlen(f->leaf_pem) + half] = '\0';
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct cert_info *ci = NULL;
		char err[256] = "";
		int r = rows[i].pem == NULL
		    ? -ENOMEM
		    : crypto_chain_inspect(rows[i].pem, strlen(rows[i].pem),
			  rows[i].key, &ci, err, sizeof(err));

		if (r != -EPROTO || strstr(err, rows[i].err) == NULL)
			fprintf(stderr, "%s: r=%d err=\"%s\"\n", rows[i].what,
			    r, err);
		T_CHECK(r == -EPROTO);
		T_CHECK(strstr(err, rows[i].err) != NULL && err[0] != '\0');
		T_CHECK(ci == NULL);
		cert_info_free(ci);
		free(rows[i].pem);
	}
}

/* The SAN extension of a CSR holds exactly "names", in order. */
static void
check_csr_sans(X509_REQ *req, char *const *names, size_t nnames)
{
	STACK_OF(X509_EXTENSION) *exts = X509_REQ_get_extensions(req);
	GENERAL_NAMES *gens =
	    X509V3_get_d2i(exts, NID_subject_alt_name, NULL, NULL);
	size_t i;

	T_CHECK(gens != NULL && (size_t)sk_GENERAL_NAME_num(gens) == nnames);
	for (i = 0; gens != NULL && i < nnames &&
	     i < (size_t)sk_GENERAL_NAME_num(gens);
	     i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, (int)i);
		unsigned char ip[16];
		int iplen = inet_pton(AF_INET, names[i], ip) == 1 ? 4
		    : inet_pton(AF_INET6, names[i], ip) == 1      ? 16
								  : 0;

		if (iplen > 0) {
			T_CHECK(g->type == GEN_IPADD);
			T_CHECK(g->type == GEN_IPADD &&
			    ASN1_STRING_length(g->d.iPAddress) == iplen &&
			    memcmp(ASN1_STRING_get0_data(g->d.iPAddress), ip,
				(size_t)iplen) == 0);
		} else {
			T_CHECK(g->type == GEN_DNS);
			T_CHECK(g->type == GEN_DNS &&
			    (size_t)ASN1_STRING_length(g->d.dNSName) ==
				strlen(names[i]) &&
			    memcmp(ASN1_STRING_get0_data(g->d.dNSName),
				names[i], strlen(names[i])) == 0);
		}
	}
	GENERAL_NAMES_free(gens);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
}

static void
test_csr(void)
{
	static char n0[] = "a.example.org", n1[] = "www.example.org",
		    n2[] = "192.0.2.1", n3[] = "2001:db8::1";
	char *const names[] = {n0, n1, n2, n3};
	static const struct {
		enum key_type type;
		int sig_nid;
	} rows[] = {
	    {KEY_EC_P256, NID_ecdsa_with_SHA256},
	    {KEY_EC_P384, NID_ecdsa_with_SHA384},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct key *k = NULL;
		unsigned char *der = NULL;
		const unsigned char *p;
		size_t der_len = 0;
		X509_REQ *req = NULL;
		EVP_PKEY *pk = NULL;

		T_CHECK(crypto_key_generate(rows[i].type, &k) == 0);
		T_CHECK(k != NULL && (pk = openssl_key(k)) != NULL);
		T_CHECK(
		    k != NULL && crypto_csr(k, names, 4, &der, &der_len) == 0);
		p = der;
		T_CHECK(der != NULL &&
		    (req = d2i_X509_REQ(NULL, &p, (long)der_len)) != NULL);
		if (req != NULL) {
			T_CHECK(p == der + der_len);
			check_csr_sans(req, names, 4);
			T_CHECK(X509_REQ_verify(
				    req, X509_REQ_get0_pubkey(req)) == 1);
			T_CHECK(pk != NULL &&
			    EVP_PKEY_eq(X509_REQ_get0_pubkey(req), pk) == 1);
			T_CHECK(
			    X509_REQ_get_signature_nid(req) == rows[i].sig_nid);
			/* A flipped bit in the signed part breaks the
			 * signature. */
			der[der_len / 3] ^= 0x01;
			p = der;
			X509_REQ_free(req);
			req = d2i_X509_REQ(NULL, &p, (long)der_len);
			T_CHECK(req == NULL || X509_REQ_verify(req, pk) != 1);
		}
		X509_REQ_free(req);
		OPENSSL_free(der);
		EVP_PKEY_free(pk);
		crypto_key_free(k);
	}
}

static void
test_keys(void)
{
	static const struct {
		const char *name;
		int type;
	} rows[] = {
	    {"ec-p256", KEY_EC_P256},
	    {"ec-p384", KEY_EC_P384},
	    {"rsa-2048", KEY_RSA_2048},
	    {"rsa-3072", KEY_RSA_3072},
	    {"rsa-4096", KEY_RSA_4096},
	    {"rsa-1024", -1},
	    {"EC-P256", -1},
	    {"", -1},
	};
	struct key *k = NULL, *k2 = NULL;
	char *pem = NULL, *tp = NULL, *tp2 = NULL;
	size_t i, len = 0;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		T_CHECK(key_type_from_name(rows[i].name) == rows[i].type);
		if (rows[i].type >= 0)
			T_STREQ(key_type_name((enum key_type)rows[i].type),
			    rows[i].name);
	}
	/* PEM round trip keeps the key. */
	T_CHECK(crypto_key_generate(KEY_EC_P384, &k) == 0);
	T_CHECK(k != NULL && crypto_key_to_pem(k, &pem, &len) == 0);
	T_CHECK(pem != NULL &&
	    strncmp(pem, "-----BEGIN PRIVATE KEY-----\n", 28) == 0);
	T_CHECK(pem != NULL && crypto_key_from_pem(pem, len, &k2) == 0);
	T_CHECK(k2 != NULL && strcmp(crypto_key_alg(k2), "ES384") == 0);
	T_CHECK(k != NULL && k2 != NULL && jws_thumbprint(k, &tp) == 0 &&
	    jws_thumbprint(k2, &tp2) == 0);
	T_STREQ(tp, tp2);
	crypto_secret_free(pem, len);
	crypto_key_free(k);
	crypto_key_free(k2);
	free(tp);
	free(tp2);
	k2 = NULL;
	T_CHECK(crypto_key_from_pem("junk", 4, &k2) == -EINVAL && k2 == NULL);
}

int
main(void)
{
	struct fixture f;

	T_CHECK(fixture_init(&f));
	if (f.ca_pem != NULL && f.leaf_pem != NULL && f.key_pem != NULL) {
		test_chain_good(&f);
		test_chain_bad(&f);
	}
	fixture_fini(&f);
	test_csr();
	test_keys();
	return T_DONE();
}
