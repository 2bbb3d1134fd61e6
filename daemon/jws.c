#include "jws.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "b64.h"
#include "crypto.h"
#include "json.h"

static int
protected_header(const struct key *k, const char *kid, const char *nonce,
    const char *url, char **ret)
{
	struct json *hdr = json_object_new(), *jwk = NULL;
	int r = -ENOMEM;
	char *text;

	if (hdr == NULL)
		return -ENOMEM;
	if ((r = json_set_str(hdr, "alg", crypto_key_alg(k))) < 0)
		goto out;
	if (kid != NULL)
		r = json_set_str(hdr, "kid", kid);
	else if ((r = crypto_key_jwk(k, &jwk)) == 0) {
		r = json_set(hdr, "jwk", jwk);
		jwk = NULL;
	}
	if (r < 0)
		goto out;
	if (nonce != NULL && (r = json_set_str(hdr, "nonce", nonce)) < 0)
		goto out;
	if ((r = json_set_str(hdr, "url", url)) < 0)
		goto out;
	r = -ENOMEM;
	if ((text = json_dump(hdr, false)) == NULL)
		goto out;
	r = b64url_encode(text, strlen(text), ret);
	free(text);
out:
	json_free(hdr);
	return r;
}

int
jws_sign(const struct key *k, const char *kid, const char *nonce,
    const char *url, const char *payload, char **ret)
{
	char *prot = NULL, *pay = NULL, *sig64 = NULL, *input = NULL, *text;
	unsigned char *sig = NULL;
	struct json *jws = NULL;
	size_t sig_len, input_len;
	int r;

	if ((r = protected_header(k, kid, nonce, url, &prot)) < 0 ||
	    (r = b64url_encode(payload, strlen(payload), &pay)) < 0)
		goto out;
	r = -ENOMEM;
	input_len = strlen(prot) + 1 + strlen(pay);
	if ((input = malloc(input_len + 1)) == NULL)
		goto out;
	snprintf(input, input_len + 1, "%s.%s", prot, pay);
	if ((r = crypto_sign(k, input, input_len, &sig, &sig_len)) < 0 ||
	    (r = b64url_encode(sig, sig_len, &sig64)) < 0)
		goto out;
	r = -ENOMEM;
	if ((jws = json_object_new()) == NULL ||
	    json_set_str(jws, "protected", prot) < 0 ||
	    json_set_str(jws, "payload", pay) < 0 ||
	    json_set_str(jws, "signature", sig64) < 0 ||
	    (text = json_dump(jws, false)) == NULL)
		goto out;
	*ret = text;
	r = 0;
out:
	json_free(jws);
	free(prot);
	free(pay);
	free(sig64);
	free(sig);
	free(input);
	return r;
}

int
jws_jwk_thumbprint(const struct json *jwk, char **ret)
{
	unsigned char digest[32];
	char *text;

	/* Required members only (RFC 7638 3.2), so sorted compact = canonical. */
	if ((text = json_dump(jwk, true)) == NULL)
		return -ENOMEM;
	crypto_sha256(text, strlen(text), digest);
	free(text);
	return b64url_encode(digest, sizeof(digest), ret);
}

int
jws_thumbprint(const struct key *k, char **ret)
{
	struct json *jwk;
	int r;

	if ((r = crypto_key_jwk(k, &jwk)) < 0)
		return r;
	r = jws_jwk_thumbprint(jwk, ret);
	json_free(jwk);
	return r;
}

int
jws_key_authorization(const struct key *k, const char *token, char **ret)
{
	char *tp, *out;
	size_t n;
	int r;

	if ((r = jws_thumbprint(k, &tp)) < 0)
		return r;
	n = strlen(token) + 1 + strlen(tp) + 1;
	if ((out = malloc(n)) == NULL) {
		free(tp);
		return -ENOMEM;
	}
	snprintf(out, n, "%s.%s", token, tp);
	free(tp);
	*ret = out;
	return 0;
}

int
jws_eab(const struct key *account, const char *eab_kid,
    const unsigned char *mac_key, size_t mac_len, const char *url,
    struct json **ret)
{
	struct json *hdr = NULL, *jwk = NULL, *out = NULL;
	char *hdr_text = NULL, *jwk_text = NULL, *prot = NULL, *pay = NULL, *sig = NULL, *input = NULL;
	unsigned char mac[32];
	size_t n;
	int r = -ENOMEM;

	if ((hdr = json_object_new()) == NULL || json_set_str(hdr, "alg", "HS256") < 0 ||
	    json_set_str(hdr, "kid", eab_kid) < 0 || json_set_str(hdr, "url", url) < 0 ||
	    (hdr_text = json_dump(hdr, false)) == NULL)
		goto out;
	if ((r = crypto_key_jwk(account, &jwk)) < 0)
		goto out;
	r = -ENOMEM;
	if ((jwk_text = json_dump(jwk, false)) == NULL)
		goto out;
	if ((r = b64url_encode(hdr_text, strlen(hdr_text), &prot)) < 0 ||
	    (r = b64url_encode(jwk_text, strlen(jwk_text), &pay)) < 0)
		goto out;
	r = -ENOMEM;
	n = strlen(prot) + strlen(pay) + 2;
	if ((input = malloc(n)) == NULL)
		goto out;
	snprintf(input, n, "%s.%s", prot, pay);
	if ((r = crypto_hmac_sha256(mac_key, mac_len, input, strlen(input), mac)) < 0 ||
	    (r = b64url_encode(mac, sizeof(mac), &sig)) < 0)
		goto out;
	r = -ENOMEM;
	if ((out = json_object_new()) == NULL || json_set_str(out, "protected", prot) < 0 ||
	    json_set_str(out, "payload", pay) < 0 || json_set_str(out, "signature", sig) < 0)
		goto out;
	*ret = out;
	out = NULL;
	r = 0;
out:
	json_free(hdr);
	json_free(jwk);
	json_free(out);
	free(hdr_text);
	free(jwk_text);
	free(prot);
	free(pay);
	free(sig);
	free(input);
	return r;
}
