/*
 * JWS for ACME (RFC 8555 6.2, RFC 7515, RFC 7518 3.4) and JWK thumbprints
 * (RFC 7638), checked independently with OpenSSL.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "b64.h"
#include "crypto.h"
#include "json.h"
#include "jws.h"
#include "t.h"

#define NONCE "6S8IqOGY7eL2lsGoTZYifg"
#define URL "https://ca.example/acme/new-order"
#define KID "https://ca.example/acme/acct/evOfKhNU60wg"
#define PAYLOAD                                                                \
	"{\"identifiers\":[{\"type\":\"dns\",\"value\":\"www.example.org\"}]}"

/* RFC 7638 section 3.1: the RSA key of RFC 7517 appendix A.1. */
static const char rfc7638_n[] =
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFF"
    "xuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt"
    "7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6q"
    "MQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHa"
    "Q-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
static const char rfc7638_thumbprint[] =
    "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

/* base64url by way of OpenSSL's standard base64, independent of b64.c. */
static void
ref_b64url(const unsigned char *in, size_t len, char *out)
{
	char *p;

	EVP_EncodeBlock((unsigned char *)out, in, (int)len);
	for (p = out; *p != '\0'; p++) {
		if (*p == '+')
			*p = '-';
		else if (*p == '/')
			*p = '_';
		else if (*p == '=')
			*p = '\0';
	}
}

/* base64url(SHA-256(text)) with OpenSSL only. */
static void
ref_thumbprint(const char *text, char out[64])
{
	unsigned char md[32];
	unsigned n = sizeof(md);

	EVP_Digest(text, strlen(text), md, &n, EVP_sha256(), NULL);
	ref_b64url(md, n, out);
}

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

/* Verify a JWS signature (raw r||s for ECDSA) over "input". */
static bool
verify(EVP_PKEY *pk, const EVP_MD *md, bool is_ec, const char *input,
    const unsigned char *sig, size_t sig_len)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	unsigned char *der = NULL;
	ECDSA_SIG *esig = NULL;
	const unsigned char *vsig = sig;
	size_t vlen = sig_len;
	bool ok = false;
	int n;

	if (ctx == NULL)
		return false;
	if (is_ec) {
		BIGNUM *r = BN_bin2bn(sig, (int)sig_len / 2, NULL);
		BIGNUM *s =
		    BN_bin2bn(sig + sig_len / 2, (int)sig_len / 2, NULL);

		if ((esig = ECDSA_SIG_new()) == NULL || r == NULL ||
		    s == NULL || !ECDSA_SIG_set0(esig, r, s)) {
			BN_free(r);
			BN_free(s);
			goto out;
		}
		if ((n = i2d_ECDSA_SIG(esig, &der)) <= 0)
			goto out;
		vsig = der;
		vlen = (size_t)n;
	}
	ok = EVP_DigestVerifyInit(ctx, NULL, md, NULL, pk) == 1 &&
	    EVP_DigestVerify(ctx, vsig, vlen, (const unsigned char *)input,
		strlen(input)) == 1;
out:
	OPENSSL_free(der);
	ECDSA_SIG_free(esig);
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* Decode base64url JSON text into a tree; NULL on any failure. */
static struct json *
decode_json(const char *b64)
{
	struct json *j = NULL;
	unsigned char *text;
	size_t len;

	if (b64 == NULL || b64url_decode(b64, &text, &len) < 0)
		return NULL;
	if (json_parse((const char *)text, len, &j, NULL, 0) < 0)
		j = NULL;
	free(text);
	return j;
}

static size_t
count_members(const struct json *obj)
{
	const struct json *val;
	const char *key;
	void *iter = NULL;
	size_t n = 0;

	while (json_object_next(obj, &iter, &key, &val))
		n++;
	return n;
}

static void
test_rfc7638(void)
{
	struct json *jwk = json_object_new();
	char *tp = NULL, ref[64], *text;

	/* Insertion order differs from the canonical (sorted) one. */
	T_CHECK(json_set_str(jwk, "n", rfc7638_n) == 0);
	T_CHECK(json_set_str(jwk, "kty", "RSA") == 0);
	T_CHECK(json_set_str(jwk, "e", "AQAB") == 0);
	T_CHECK(jws_jwk_thumbprint(jwk, &tp) == 0);
	T_STREQ(tp, rfc7638_thumbprint);
	/* The harness itself agrees with the RFC. */
	if ((text = malloc(sizeof(rfc7638_n) + 64)) != NULL) {
		snprintf(text, sizeof(rfc7638_n) + 64,
		    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", rfc7638_n);
		ref_thumbprint(text, ref);
		T_STREQ(ref, rfc7638_thumbprint);
		free(text);
	}
	free(tp);
	json_free(jwk);
}

/*
 * The thumbprint of a generated key against the canonical JSON built by
 * hand from OpenSSL's view of the public key.
 */
static void
test_thumbprint_generated(
    const struct key *k, EVP_PKEY *pk, bool is_ec, const char *crv)
{
	char canon[1024], a64[700], b64[100], ref[64], *tp = NULL;
	unsigned char buf[600];
	struct json *jwk = NULL;
	size_t len = 0;
	BIGNUM *n = NULL;

	if (is_ec) {
		T_CHECK(
		    EVP_PKEY_get_octet_string_param(pk, OSSL_PKEY_PARAM_PUB_KEY,
			buf, sizeof(buf), &len) == 1);
		T_CHECK(len % 2 == 1 && buf[0] == 0x04); /* uncompressed */
		ref_b64url(buf + 1, len / 2, a64);
		ref_b64url(buf + 1 + len / 2, len / 2, b64);
		snprintf(canon, sizeof(canon),
		    "{\"crv\":\"%s\",\"kty\":\"EC\",\"x\":\"%s\",\"y\":\"%s\"}",
		    crv, a64, b64);
	} else {
		T_CHECK(
		    EVP_PKEY_get_bn_param(pk, OSSL_PKEY_PARAM_RSA_N, &n) == 1);
		len = (size_t)BN_bn2bin(n, buf);
		T_CHECK(len == 256);
		ref_b64url(buf, len, a64);
		snprintf(canon, sizeof(canon),
		    "{\"e\":\"AQAB\",\"kty\":\"RSA\",\"n\":\"%s\"}", a64);
		BN_free(n);
	}
	ref_thumbprint(canon, ref);
	T_CHECK(jws_thumbprint(k, &tp) == 0);
	T_STREQ(tp, ref);
	/* crypto_key_jwk() holds exactly the required members. */
	T_CHECK(crypto_key_jwk(k, &jwk) == 0);
	T_CHECK(count_members(jwk) == (is_ec ? 4 : 3));
	if (is_ec) {
		T_STREQ(json_get_str(jwk, "x"), a64);
		T_STREQ(json_get_str(jwk, "y"), b64);
	} else {
		T_STREQ(json_get_str(jwk, "n"), a64);
	}
	json_free(jwk);
	free(tp);
}

struct alg_row {
	enum key_type type;
	const char *alg;
	size_t sig_len;
	bool is_ec;
	const char *crv;
};

/* One flattened JWS: check its parts and its signature. */
static void
check_jws(const struct alg_row *row, const struct key *k, EVP_PKEY *pk,
    const char *kid, const char *nonce, const char *payload)
{
	const EVP_MD *md = row->sig_len == 96 ? EVP_sha384() : EVP_sha256();
	struct json *jws = NULL, *hdr = NULL;
	const char *prot, *pay, *sig64;
	unsigned char *sig = NULL, *body = NULL;
	size_t sig_len = 0, body_len = 0;
	char *text = NULL, *input, *tp = NULL, *tp_hdr = NULL;

	T_CHECK(jws_sign(k, kid, nonce, URL, payload, &text) == 0);
	if (text == NULL)
		return;
	T_CHECK(json_parse(text, strlen(text), &jws, NULL, 0) == 0);
	free(text);
	prot = json_get_str(jws, "protected");
	pay = json_get_str(jws, "payload");
	sig64 = json_get_str(jws, "signature");
	T_CHECK(prot != NULL && pay != NULL && sig64 != NULL);
	T_CHECK(count_members(jws) == 3);
	if (prot == NULL || pay == NULL || sig64 == NULL)
		goto out;

	/* Payload: base64url of the bytes given; "" stays "" (POST-as-GET). */
	T_CHECK(b64url_decode(pay, &body, &body_len) == 0);
	T_CHECK(body_len == strlen(payload) &&
	    memcmp(body, payload, body_len) == 0);
	if (payload[0] == '\0')
		T_STREQ(pay, "");

	/* Protected header (RFC 8555 6.2). */
	T_CHECK((hdr = decode_json(prot)) != NULL);
	T_STREQ(json_get_str(hdr, "alg"), row->alg);
	T_STREQ(json_get_str(hdr, "url"), URL);
	if (nonce != NULL)
		T_STREQ(json_get_str(hdr, "nonce"), nonce);
	else
		T_CHECK(json_get(hdr, "nonce") == NULL);
	if (kid != NULL) {
		T_STREQ(json_get_str(hdr, "kid"), kid);
		T_CHECK(json_get(hdr, "jwk") == NULL);
	} else {
		T_CHECK(json_get(hdr, "kid") == NULL);
		T_CHECK(json_is_obj(json_get(hdr, "jwk")));
		T_CHECK(jws_jwk_thumbprint(json_get(hdr, "jwk"), &tp_hdr) == 0);
		T_CHECK(jws_thumbprint(k, &tp) == 0);
		T_STREQ(tp_hdr, tp);
	}
	T_CHECK(count_members(hdr) == (nonce != NULL ? 4u : 3u));

	/* Signature: fixed size, verifies over "protected.payload" only. */
	T_CHECK(b64url_decode(sig64, &sig, &sig_len) == 0);
	T_CHECK(sig_len == row->sig_len);
	if ((input = malloc(strlen(prot) + strlen(pay) + 2)) != NULL) {
		sprintf(input, "%s.%s", prot, pay);
		T_CHECK(verify(pk, md, row->is_ec, input, sig, sig_len));
		input[0] ^= 1;
		T_CHECK(!verify(pk, md, row->is_ec, input, sig, sig_len));
		free(input);
	}
out:
	free(tp);
	free(tp_hdr);
	free(sig);
	free(body);
	json_free(hdr);
	json_free(jws);
}

static void
test_sign(void)
{
	static const struct alg_row rows[] = {
	    {KEY_EC_P256, "ES256", 64, true, "P-256"},
	    {KEY_EC_P384, "ES384", 96, true, "P-384"},
	    {KEY_RSA_2048, "RS256", 256, false, NULL},
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct key *k = NULL;
		EVP_PKEY *pk;

		T_CHECK(crypto_key_generate(rows[i].type, &k) == 0);
		if (k == NULL)
			continue;
		T_STREQ(crypto_key_alg(k), rows[i].alg);
		T_CHECK((pk = openssl_key(k)) != NULL);
		if (pk != NULL) {
			test_thumbprint_generated(
			    k, pk, rows[i].is_ec, rows[i].crv);
			check_jws(&rows[i], k, pk, NULL, NONCE, PAYLOAD);
			check_jws(&rows[i], k, pk, KID, NONCE, PAYLOAD);
			check_jws(&rows[i], k, pk, KID, NONCE, "");
			check_jws(&rows[i], k, pk, NULL, NULL, PAYLOAD);
		}
		EVP_PKEY_free(pk);
		crypto_key_free(k);
	}
}

/* RFC 8555 8.1: keyAuthorization = token || '.' || base64url(Thumbprint). */
static void
test_key_authorization(void)
{
	static const char token[] =
	    "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA";
	char *ka = NULL, *tp = NULL, want[128];
	struct key *k = NULL;

	T_CHECK(crypto_key_generate(KEY_EC_P256, &k) == 0);
	if (k == NULL)
		return;
	T_CHECK(jws_thumbprint(k, &tp) == 0);
	T_CHECK(tp != NULL && strlen(tp) == 43 && b64url_valid(tp));
	T_CHECK(jws_key_authorization(k, token, &ka) == 0);
	snprintf(want, sizeof(want), "%s.%s", token, tp != NULL ? tp : "");
	T_STREQ(ka, want);
	free(ka);
	free(tp);
	crypto_key_free(k);
}

int
main(void)
{
	test_rfc7638();
	test_sign();
	test_key_authorization();
	return T_DONE();
}
