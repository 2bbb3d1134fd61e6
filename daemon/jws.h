/* JSON Web Signatures for ACME (RFC 8555 section 6.2, RFC 7515, RFC 7638). */
#ifndef ACMED_JWS_H
#define ACMED_JWS_H

#include <stddef.h>

struct key;

/*
 * Build a flattened JWS over "payload" ("" for POST-as-GET).  The
 * protected header carries alg, nonce, url and either "kid" (when non-NULL)
 * or the key's "jwk".  On success the JSON text goes to "ret" (caller frees).
 */
int jws_sign(const struct key *k, const char *kid, const char *nonce,
    const char *url, const char *payload, char **ret);

struct json;

/* base64url(SHA-256(canonical JWK)) per RFC 7638; "jwk" holds only the
 * required members. */
int jws_jwk_thumbprint(const struct json *jwk, char **ret);
/* The same for the public half of "k". */
int jws_thumbprint(const struct key *k, char **ret);

/* keyAuthorization = token "." thumbprint (RFC 8555 section 8.1). */
int jws_key_authorization(const struct key *k, const char *token, char **ret);

/*
 * The externalAccountBinding object for newAccount (RFC 8555 7.3.4): a JWS
 * over the account's public JWK, MACed with HS256 under "mac_key", with
 * protected header {alg, kid: eab_kid, url} and no nonce.
 */
int jws_eab(const struct key *account, const char *eab_kid,
    const unsigned char *mac_key, size_t mac_len, const char *url,
    struct json **ret);

#endif
