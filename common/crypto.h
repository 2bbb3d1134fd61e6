/*
 * Everything OpenSSL: keys, JWS signatures, digests, CSRs and certificate
 * inspection.  Only this file includes OpenSSL headers.  Private key bytes
 * leave this module only as PEM text that the caller must release with
 * crypto_secret_free() (wiped before free).  Functions do not log; they
 * return negative errno values and, where "err" is given, a reason.
 */
#ifndef ACMED_CRYPTO_H
#define ACMED_CRYPTO_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct json;
struct key;

enum key_type {
	KEY_EC_P256,
	KEY_EC_P384,
	KEY_RSA_2048,
	KEY_RSA_3072,
	KEY_RSA_4096,
	KEY__MAX,
};

/* "ec-p256", "ec-p384", "rsa-2048"... <-> enum; -1 if unknown. */
int key_type_from_name(const char *name);
const char *key_type_name(enum key_type t);

int crypto_key_generate(enum key_type t, struct key **ret);
/* Parse a PEM private key; -EINVAL if it is not one we can use. */
int crypto_key_from_pem(const char *pem, size_t len, struct key **ret);
/* PEM text of the private key; free with crypto_secret_free(). */
int crypto_key_to_pem(const struct key *k, char **ret, size_t *ret_len);
void crypto_key_free(struct key *k);
void crypto_secret_free(void *p, size_t len);

enum key_type crypto_key_type(const struct key *k);
/* JWS "alg" for this key ("ES256", "ES384", "RS256"). */
const char *crypto_key_alg(const struct key *k);
/* Public JWK with only the required members (RFC 7638 section 3.2). */
int crypto_key_jwk(const struct key *k, struct json **ret);
/* JWS signature over "data": raw r||s for ECDSA (RFC 7518 3.4). */
int crypto_sign(const struct key *k, const void *data, size_t len,
    unsigned char **ret, size_t *ret_len);

void crypto_sha256(const void *data, size_t len, unsigned char out[32]);
/* HMAC-SHA-256 (for External Account Binding, RFC 8555 7.3.4). */
int crypto_hmac_sha256(const void *key, size_t key_len, const void *data,
    size_t len, unsigned char out[32]);
/* A uniformly random 64-bit value from the CSPRNG (0 if it fails). */
unsigned long long crypto_random_u64(void);

/* DER CSR for "names" (DNS names or IP literals as SANs), signed by "k". */
int crypto_csr(const struct key *k, char *const *names, size_t nnames,
    unsigned char **ret, size_t *ret_len);

/* What we need to know about a downloaded or installed chain. */
struct cert_info {
	char *serial_hex;
	time_t not_before;
	time_t not_after;
	char **names; /* SANs: lower-case DNS names and IP literals */
	size_t nnames;
	size_t ncerts;
	unsigned char *aki; /* authority key identifier, NULL if absent */
	size_t aki_len;
	unsigned char *serial_der; /* DER INTEGER content octets (sign byte kept) */
	size_t serial_der_len;
	char *top_issuer;    /* issuer CN of the last certificate, or "" */
	char *leaf_pem;      /* leaf only */
	char *chain_pem;     /* issuers only, in order */
	char *fullchain_pem; /* leaf then issuers */
};

/*
 * Split and check a PEM chain: only CERTIFICATE blocks, at least one, each
 * signed by the next.  With "key" given, the leaf must carry its public
 * key.  Returns 0, -EPROTO with a reason in "err", or -ENOMEM.
 */
int crypto_chain_inspect(const char *pem, size_t len, const struct key *key,
    struct cert_info **ret, char *err, size_t err_size);
void cert_info_free(struct cert_info *ci);

/* DER of the first certificate in PEM text (caller frees). */
int crypto_cert_der(const char *pem, size_t len, unsigned char **ret,
    size_t *ret_len);

#endif
