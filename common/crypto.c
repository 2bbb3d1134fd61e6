#include "crypto.h"

#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "b64.h"
#include "json.h"
#include "log.h"

#define CHAIN_CERTS_MAX 10
#define PEM_TEXT_MAX (256 * 1024)

struct key {
	EVP_PKEY *pkey;
	enum key_type type;
};

static const struct {
	const char *name;
	const char *curve; /* NULL for RSA */
	unsigned bits;     /* RSA modulus or EC field size */
} key_types[KEY__MAX] = {
	[KEY_EC_P256] = {"ec-p256", "P-256", 256},
	[KEY_EC_P384] = {"ec-p384", "P-384", 384},
	[KEY_RSA_2048] = {"rsa-2048", NULL, 2048},
	[KEY_RSA_3072] = {"rsa-3072", NULL, 3072},
	[KEY_RSA_4096] = {"rsa-4096", NULL, 4096},
};

int
key_type_from_name(const char *name)
{
	int i;

	for (i = 0; i < KEY__MAX; i++)
		if (strcmp(key_types[i].name, name) == 0)
			return i;
	return -1;
}

const char *
key_type_name(enum key_type t)
{
	return key_types[t].name;
}

static int
key_wrap(EVP_PKEY *pkey, enum key_type t, struct key **ret)
{
	struct key *k;

	if ((k = calloc(1, sizeof(*k))) == NULL) {
		EVP_PKEY_free(pkey);
		return -ENOMEM;
	}
	k->pkey = pkey;
	k->type = t;
	*ret = k;
	return 0;
}

int
crypto_key_generate(enum key_type t, struct key **ret)
{
	EVP_PKEY *pkey;

	if (key_types[t].curve != NULL)
		pkey = EVP_EC_gen(key_types[t].curve);
	else
		pkey = EVP_RSA_gen(key_types[t].bits);
	if (pkey == NULL)
		return -ENOMEM;
	return key_wrap(pkey, t, ret);
}

/* Classify a parsed key into one of the types we support. */
static int
key_classify(EVP_PKEY *pkey, enum key_type *ret)
{
	char group[64];
	int bits = EVP_PKEY_get_bits(pkey);

	if (EVP_PKEY_is_a(pkey, "RSA")) {
		switch (bits) {
		case 2048:
			*ret = KEY_RSA_2048;
			return 0;
		case 3072:
			*ret = KEY_RSA_3072;
			return 0;
		case 4096:
			*ret = KEY_RSA_4096;
			return 0;
		default:
			return -EINVAL;
		}
	}
	if (!EVP_PKEY_is_a(pkey, "EC") ||
	    !EVP_PKEY_get_utf8_string_param(pkey, OSSL_PKEY_PARAM_GROUP_NAME,
		group, sizeof(group), NULL))
		return -EINVAL;
	if (strcmp(group, "prime256v1") == 0 || strcmp(group, "P-256") == 0)
		*ret = KEY_EC_P256;
	else if (strcmp(group, "secp384r1") == 0 || strcmp(group, "P-384") == 0)
		*ret = KEY_EC_P384;
	else
		return -EINVAL;
	return 0;
}

int
crypto_key_from_pem(const char *pem, size_t len, struct key **ret)
{
	EVP_PKEY *pkey;
	enum key_type t;
	BIO *bio;

	if (len > PEM_TEXT_MAX)
		return -EINVAL;
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -ENOMEM;
	pkey = PEM_read_bio_PrivateKey(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (pkey == NULL)
		return -EINVAL;
	if (key_classify(pkey, &t) < 0) {
		EVP_PKEY_free(pkey);
		return -EINVAL;
	}
	return key_wrap(pkey, t, ret);
}

int
crypto_key_to_pem(const struct key *k, char **ret, size_t *ret_len)
{
	BIO *bio;
	char *data, *out;
	long n;
	int r = -ENOMEM;

	if ((bio = BIO_new(BIO_s_secmem())) == NULL)
		return -ENOMEM;
	if (!PEM_write_bio_PrivateKey(bio, k->pkey, NULL, NULL, 0, NULL, NULL))
		goto out;
	n = BIO_get_mem_data(bio, &data);
	if (n <= 0 || (out = malloc((size_t)n + 1)) == NULL)
		goto out;
	memcpy(out, data, (size_t)n);
	out[n] = '\0';
	*ret = out;
	*ret_len = (size_t)n;
	r = 0;
out:
	BIO_free(bio); /* secmem BIOs wipe their buffer */
	return r;
}

void
crypto_key_free(struct key *k)
{
	if (k == NULL)
		return;
	EVP_PKEY_free(k->pkey);
	free(k);
}

void
crypto_secret_free(void *p, size_t len)
{
	if (p == NULL)
		return;
	OPENSSL_cleanse(p, len);
	free(p);
}

enum key_type
crypto_key_type(const struct key *k)
{
	return k->type;
}

const char *
crypto_key_alg(const struct key *k)
{
	switch (k->type) {
	case KEY_EC_P256:
		return "ES256";
	case KEY_EC_P384:
		return "ES384";
	case KEY_RSA_2048:
	case KEY_RSA_3072:
	case KEY_RSA_4096:
		return "RS256";
	case KEY__MAX:
		break;
	}
	abort();
}

/* Set "key" to base64url of "bn", left-padded with zeros to "pad" bytes. */
static int
set_bn(struct json *obj, const char *key, const BIGNUM *bn, int pad)
{
	unsigned char buf[512];
	int n = pad > 0 ? pad : BN_num_bytes(bn);
	char *s;
	int r;

	if (n <= 0 || n > (int)sizeof(buf) || BN_bn2binpad(bn, buf, n) < 0)
		return -EINVAL;
	if ((r = b64url_encode(buf, (size_t)n, &s)) < 0)
		return r;
	r = json_set_str(obj, key, s);
	free(s);
	return r;
}

int
crypto_key_jwk(const struct key *k, struct json **ret)
{
	BIGNUM *a = NULL, *b = NULL;
	struct json *jwk;
	int r = -ENOMEM, is_ec = key_types[k->type].curve != NULL;

	if ((jwk = json_object_new()) == NULL)
		return -ENOMEM;
	if (is_ec) {
		int pad = (int)(key_types[k->type].bits + 7) / 8;

		if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_X, &a) ||
		    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_EC_PUB_Y, &b))
			goto out;
		if ((r = json_set_str(jwk, "crv", key_types[k->type].curve)) < 0 ||
		    (r = json_set_str(jwk, "kty", "EC")) < 0 ||
		    (r = set_bn(jwk, "x", a, pad)) < 0 ||
		    (r = set_bn(jwk, "y", b, pad)) < 0)
			goto out;
	} else {
		if (!EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_E, &a) ||
		    !EVP_PKEY_get_bn_param(k->pkey, OSSL_PKEY_PARAM_RSA_N, &b))
			goto out;
		if ((r = set_bn(jwk, "e", a, 0)) < 0 ||
		    (r = json_set_str(jwk, "kty", "RSA")) < 0 ||
		    (r = set_bn(jwk, "n", b, 0)) < 0)
			goto out;
	}
	*ret = jwk;
	jwk = NULL;
	r = 0;
out:
	BN_free(a);
	BN_free(b);
	json_free(jwk);
	ERR_clear_error();
	return r;
}

int
crypto_sign(const struct key *k, const void *data, size_t len,
    unsigned char **ret, size_t *ret_len)
{
	EVP_MD_CTX *ctx = NULL;
	ECDSA_SIG *esig = NULL;
	unsigned char *der = NULL, *out = NULL;
	const unsigned char *p;
	const BIGNUM *r_bn, *s_bn;
	const EVP_MD *md = k->type == KEY_EC_P384 ? EVP_sha384() : EVP_sha256();
	size_t der_len = 0;
	int r = -ENOMEM, half;

	if ((ctx = EVP_MD_CTX_new()) == NULL)
		goto out;
	if (EVP_DigestSignInit(ctx, NULL, md, NULL, k->pkey) != 1 ||
	    EVP_DigestSign(ctx, NULL, &der_len, data, len) != 1 ||
	    (der = malloc(der_len)) == NULL ||
	    EVP_DigestSign(ctx, der, &der_len, data, len) != 1)
		goto out;
	if (key_types[k->type].curve == NULL) { /* RSA: already raw */
		*ret = der;
		*ret_len = der_len;
		der = NULL;
		r = 0;
		goto out;
	}
	/* ECDSA: DER SEQUENCE{r,s} -> fixed-width r||s (RFC 7518 3.4). */
	half = (int)(key_types[k->type].bits + 7) / 8;
	p = der;
	if ((esig = d2i_ECDSA_SIG(NULL, &p, (long)der_len)) == NULL)
		goto out;
	ECDSA_SIG_get0(esig, &r_bn, &s_bn);
	if ((out = malloc((size_t)half * 2)) == NULL ||
	    BN_bn2binpad(r_bn, out, half) != half ||
	    BN_bn2binpad(s_bn, out + half, half) != half)
		goto out;
	*ret = out;
	*ret_len = (size_t)half * 2;
	out = NULL;
	r = 0;
out:
	free(out);
	free(der);
	ECDSA_SIG_free(esig);
	EVP_MD_CTX_free(ctx);
	ERR_clear_error();
	return r;
}

void
crypto_sha256(const void *data, size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	EVP_Digest(data, len, out, &n, EVP_sha256(), NULL);
}

int
crypto_hmac_sha256(const void *key, size_t key_len, const void *data,
    size_t len, unsigned char out[32])
{
	unsigned int n = 32;

	if (key_len > INT_MAX || HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) == NULL || n != 32)
		return -EINVAL;
	return 0;
}

unsigned long long
crypto_random_u64(void)
{
	unsigned long long v = 0;

	if (RAND_bytes((unsigned char *)&v, sizeof(v)) != 1)
		v = 0;
	return v;
}

/* Append one SAN: an IP literal becomes iPAddress, anything else dNSName. */
static int
add_san(GENERAL_NAMES *gens, const char *name)
{
	unsigned char ip[16];
	GENERAL_NAME *gen;
	ASN1_OCTET_STRING *os;
	ASN1_IA5STRING *ia5;
	int iplen = 0;

	if (inet_pton(AF_INET, name, ip) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, name, ip) == 1)
		iplen = 16;
	if ((gen = GENERAL_NAME_new()) == NULL)
		return -ENOMEM;
	if (iplen > 0) {
		if ((os = ASN1_OCTET_STRING_new()) == NULL ||
		    !ASN1_OCTET_STRING_set(os, ip, iplen)) {
			ASN1_OCTET_STRING_free(os);
			goto fail;
		}
		GENERAL_NAME_set0_value(gen, GEN_IPADD, os);
	} else {
		if ((ia5 = ASN1_IA5STRING_new()) == NULL ||
		    !ASN1_STRING_set(ia5, name, -1)) {
			ASN1_IA5STRING_free(ia5);
			goto fail;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
	}
	if (sk_GENERAL_NAME_push(gens, gen) > 0)
		return 0;
fail:
	GENERAL_NAME_free(gen);
	return -ENOMEM;
}

int
crypto_csr(const struct key *k, char *const *names, size_t nnames,
    unsigned char **ret, size_t *ret_len)
{
	STACK_OF(X509_EXTENSION) *exts = NULL;
	GENERAL_NAMES *gens = NULL;
	X509_EXTENSION *ext = NULL;
	X509_REQ *req = NULL;
	unsigned char *der = NULL;
	const EVP_MD *md = k->type == KEY_EC_P384 ? EVP_sha384() : EVP_sha256();
	int r = -ENOMEM, n;
	size_t i;

	if ((req = X509_REQ_new()) == NULL || (gens = GENERAL_NAMES_new()) == NULL ||
	    (exts = sk_X509_EXTENSION_new_null()) == NULL)
		goto out;
	for (i = 0; i < nnames; i++)
		if ((r = add_san(gens, names[i])) < 0)
			goto out;
	r = -ENOMEM;
	if ((ext = X509V3_EXT_i2d(NID_subject_alt_name, 0, gens)) == NULL ||
	    !sk_X509_EXTENSION_push(exts, ext))
		goto out;
	ext = NULL; /* owned by exts */
	if (!X509_REQ_set_version(req, 0) || !X509_REQ_set_pubkey(req, k->pkey) ||
	    !X509_REQ_add_extensions(req, exts) || !X509_REQ_sign(req, k->pkey, md))
		goto out;
	if ((n = i2d_X509_REQ(req, &der)) <= 0)
		goto out;
	*ret = der;
	*ret_len = (size_t)n;
	r = 0;
out:
	X509_EXTENSION_free(ext);
	sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
	GENERAL_NAMES_free(gens);
	X509_REQ_free(req);
	ERR_clear_error();
	return r;
}

static int
asn1_time_to_time(const ASN1_TIME *t, time_t *ret)
{
	struct tm tm;

	if (!ASN1_TIME_to_tm(t, &tm))
		return -EPROTO;
	*ret = timegm(&tm);
	return 0;
}

static char *
x509_to_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *data, *out = NULL;
	long n;

	if (bio == NULL)
		return NULL;
	if (PEM_write_bio_X509(bio, x) && (n = BIO_get_mem_data(bio, &data)) > 0 &&
	    (out = malloc((size_t)n + 1)) != NULL) {
		memcpy(out, data, (size_t)n);
		out[n] = '\0';
	}
	BIO_free(bio);
	return out;
}

/* Concatenate the PEM of certs[from..n-1]; "" when from == n. */
static char *
join_pem(X509 **certs, size_t from, size_t n)
{
	char *out = strdup(""), *one, *grown;
	size_t len = 0, i;

	for (i = from; out != NULL && i < n; i++) {
		if ((one = x509_to_pem(certs[i])) == NULL)
			goto fail;
		if ((grown = realloc(out, len + strlen(one) + 1)) == NULL) {
			free(one);
			goto fail;
		}
		out = grown;
		memcpy(out + len, one, strlen(one) + 1);
		len += strlen(one);
		free(one);
	}
	return out;
fail:
	free(out);
	return NULL;
}

/*
 * The SANs of "x" into ci->names.  A DNS name with a NUL (which would cut
 * "victim.example.org\0.evil" short into a name we asked for) or a byte
 * outside printable ASCII makes the certificate unacceptable: -EPROTO with
 * "err" set.
 */
static int
collect_names(X509 *x, struct cert_info *ci, char *err, size_t err_size)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	int i, n = gens != NULL ? sk_GENERAL_NAME_num(gens) : 0, r = 0;

	if (n > 0 && (ci->names = calloc((size_t)n, sizeof(char *))) == NULL)
		r = -ENOMEM;
	for (i = 0; r == 0 && i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		char buf[INET6_ADDRSTRLEN], *s;
		const unsigned char *d;
		int len;

		if (g->type == GEN_DNS) {
			d = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			for (int k = 0; k < len; k++) {
				if (d[k] <= 0x20 || d[k] >= 0x7f) {
					snprintf(err, err_size, "certificate has a DNS name with a control, space or non-ASCII byte");
					r = -EPROTO;
					break;
				}
			}
			if (r < 0)
				break;
			if ((s = strndup((const char *)d, (size_t)len)) == NULL)
				r = -ENOMEM;
			for (char *p = s; p != NULL && *p; p++)
				if (*p >= 'A' && *p <= 'Z')
					*p = (char)(*p - 'A' + 'a');
		} else if (g->type == GEN_IPADD) {
			d = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if ((len != 4 && len != 16) ||
			    inet_ntop(len == 4 ? AF_INET : AF_INET6, d, buf, sizeof(buf)) == NULL)
				continue;
			if ((s = strdup(buf)) == NULL)
				r = -ENOMEM;
		} else {
			continue;
		}
		if (r == 0)
			ci->names[ci->nnames++] = s;
	}
	GENERAL_NAMES_free(gens);
	return r;
}

/*
 * The parts of an RFC 9773 certID: the AKI keyIdentifier and the serial's
 * DER content octets with the 0x00 sign byte that ASN1_STRING_get0_data()
 * and "openssl x509 -serial" leave out.
 */
static int
collect_ari_parts(X509 *x, struct cert_info *ci)
{
	const ASN1_OCTET_STRING *aki = X509_get0_authority_key_id(x);
	unsigned char *der = NULL;
	size_t hdr;
	int n;

	if (aki != NULL && ASN1_STRING_length(aki) > 0) {
		ci->aki_len = (size_t)ASN1_STRING_length(aki);
		if ((ci->aki = malloc(ci->aki_len)) == NULL)
			return -ENOMEM;
		memcpy(ci->aki, ASN1_STRING_get0_data(aki), ci->aki_len);
	}
	if ((n = i2d_ASN1_INTEGER(X509_get0_serialNumber(x), &der)) < 3)
		goto fail;
	/* Skip tag and (short or long form) length. */
	hdr = 2 + ((der[1] & 0x80) ? (size_t)(der[1] & 0x7f) : 0);
	if ((size_t)n <= hdr)
		goto fail;
	ci->serial_der_len = (size_t)n - hdr;
	if ((ci->serial_der = malloc(ci->serial_der_len)) == NULL) {
		OPENSSL_free(der);
		return -ENOMEM;
	}
	memcpy(ci->serial_der, der + hdr, ci->serial_der_len);
	OPENSSL_free(der);
	return 0;
fail:
	OPENSSL_free(der);
	return -EPROTO;
}

/* Issuer common name (UTF-8), "" if it has none; NULL on OOM. */
static char *
issuer_cn(X509 *x)
{
	X509_NAME *name = X509_get_issuer_name(x);
	int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
	unsigned char *utf8 = NULL;
	char *out;
	int n;

	if (i < 0 || (n = ASN1_STRING_to_UTF8(&utf8, X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i)))) < 0)
		return strdup("");
	out = strndup((const char *)utf8, (size_t)n);
	OPENSSL_free(utf8);
	return out;
}

/* Read PEM blocks; anything but CERTIFICATE (a private key!) is refused. */
static int
read_certs(const char *pem, size_t len, X509 **certs, size_t *ret_n, char *err,
    size_t err_size)
{
	char *name = NULL, *header = NULL;
	unsigned char *data = NULL;
	const unsigned char *p;
	long dlen;
	size_t n = 0;
	BIO *bio;
	int r = 0;

	if (len > PEM_TEXT_MAX) {
		snprintf(err, err_size, "certificate chain of %zu bytes is too large", len);
		return -EPROTO;
	}
	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -ENOMEM;
	ERR_clear_error(); /* the loop's end is judged by the last error */
	while (PEM_read_bio(bio, &name, &header, &data, &dlen)) {
		if (strcmp(name, "CERTIFICATE") != 0) {
			char type[48]; /* the CA's text: escaped, cut short */

			snprintf(err, err_size, "chain holds a PEM block of type \"%s\", not a certificate",
			    log_escape(type, sizeof(type), name, strlen(name)));
			r = -EPROTO;
		} else if (n == CHAIN_CERTS_MAX) {
			snprintf(err, err_size, "chain has more than %d certificates", CHAIN_CERTS_MAX);
			r = -EPROTO;
		} else {
			p = data;
			if ((certs[n] = d2i_X509(NULL, &p, dlen)) == NULL ||
			    p != data + dlen) {
				snprintf(err, err_size, "certificate %zu in the chain does not parse", n + 1);
				r = -EPROTO;
			}
			if (certs[n] != NULL)
				n++;
		}
		OPENSSL_free(name);
		OPENSSL_free(header);
		OPENSSL_free(data);
		name = header = NULL;
		data = NULL;
		if (r < 0)
			break;
	}
	/* Clean end of input is "no start line"; anything else is a cut block. */
	if (r == 0 && (ERR_GET_LIB(ERR_peek_last_error()) != ERR_LIB_PEM ||
	    ERR_GET_REASON(ERR_peek_last_error()) != PEM_R_NO_START_LINE)) {
		snprintf(err, err_size, "chain holds a PEM block that does not parse");
		r = -EPROTO;
	}
	BIO_free(bio);
	ERR_clear_error();
	if (r == 0 && n == 0) {
		snprintf(err, err_size, "no certificate in the chain");
		r = -EPROTO;
	}
	*ret_n = n;
	return r;
}

static int
check_chain(X509 **certs, size_t n, const struct key *key, char *err,
    size_t err_size)
{
	size_t i;

	if (key != NULL && EVP_PKEY_eq(X509_get0_pubkey(certs[0]), key->pkey) != 1) {
		snprintf(err, err_size, "certificate is not for our key");
		return -EPROTO;
	}
	for (i = 0; i + 1 < n; i++) {
		EVP_PKEY *issuer_key = X509_get0_pubkey(certs[i + 1]);

		if (issuer_key == NULL || X509_verify(certs[i], issuer_key) != 1) {
			snprintf(err, err_size, "certificate %zu is not signed by the next one in the chain", i + 1);
			return -EPROTO;
		}
	}
	return 0;
}

int
crypto_chain_inspect(const char *pem, size_t len, const struct key *key,
    struct cert_info **ret, char *err, size_t err_size)
{
	X509 *certs[CHAIN_CERTS_MAX] = {0};
	struct cert_info *ci = NULL;
	BIGNUM *bn = NULL;
	char *hex = NULL;
	size_t n = 0, i;
	int r;

	if ((r = read_certs(pem, len, certs, &n, err, err_size)) < 0 ||
	    (r = check_chain(certs, n, key, err, err_size)) < 0)
		goto out;
	r = -ENOMEM;
	if ((ci = calloc(1, sizeof(*ci))) == NULL)
		goto out;
	ci->ncerts = n;
	if ((bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(certs[0]), NULL)) == NULL ||
	    (hex = BN_bn2hex(bn)) == NULL || (ci->serial_hex = strdup(hex)) == NULL)
		goto out;
	for (char *p = ci->serial_hex; *p; p++)
		if (*p >= 'A' && *p <= 'F')
			*p = (char)(*p - 'A' + 'a');
	if (asn1_time_to_time(X509_get0_notBefore(certs[0]), &ci->not_before) < 0 ||
	    asn1_time_to_time(X509_get0_notAfter(certs[0]), &ci->not_after) < 0) {
		snprintf(err, err_size, "certificate validity dates do not parse");
		r = -EPROTO;
		goto out;
	}
	if ((r = collect_names(certs[0], ci, err, err_size)) < 0 || (r = collect_ari_parts(certs[0], ci)) < 0)
		goto out;
	r = -ENOMEM;
	if ((ci->top_issuer = issuer_cn(certs[n - 1])) == NULL)
		goto out;
	if ((ci->leaf_pem = join_pem(certs, 0, 1)) == NULL ||
	    (ci->chain_pem = join_pem(certs, 1, n)) == NULL ||
	    (ci->fullchain_pem = join_pem(certs, 0, n)) == NULL)
		goto out;
	*ret = ci;
	ci = NULL;
	r = 0;
out:
	cert_info_free(ci);
	OPENSSL_free(hex);
	BN_free(bn);
	for (i = 0; i < n; i++)
		X509_free(certs[i]);
	ERR_clear_error();
	return r;
}

void
cert_info_free(struct cert_info *ci)
{
	size_t i;

	if (ci == NULL)
		return;
	for (i = 0; i < ci->nnames; i++)
		free(ci->names[i]);
	free(ci->names);
	free(ci->serial_hex);
	free(ci->aki);
	free(ci->serial_der);
	free(ci->top_issuer);
	free(ci->leaf_pem);
	free(ci->chain_pem);
	free(ci->fullchain_pem);
	free(ci);
}

int
crypto_cert_der(const char *pem, size_t len, unsigned char **ret,
    size_t *ret_len)
{
	unsigned char *der = NULL;
	X509 *x;
	BIO *bio;
	int n;

	if (len > PEM_TEXT_MAX || (bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return -EINVAL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	ERR_clear_error();
	if (x == NULL)
		return -EINVAL;
	n = i2d_X509(x, &der);
	X509_free(x);
	if (n <= 0)
		return -ENOMEM;
	*ret = der;
	*ret_len = (size_t)n;
	return 0;
}
