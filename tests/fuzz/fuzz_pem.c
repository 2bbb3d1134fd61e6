/*
 * PEM chain splitting and certificate checks (common/crypto.c):
 * crypto_chain_inspect() with and without the leaf's key, the DER of the
 * first certificate, and private key parsing.  The first input byte picks
 * the checks, the rest is the PEM text.  A chain that passes must be
 * consistent: the split PEMs parse again to the same certificates.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto.h"
#include "fuzz.h"

/* The key of the corpus' leaf certificates (a test key, nothing else). */
static const char leaf_key_pem[] =
    "-----BEGIN PRIVATE KEY-----\n"
    "MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgEfxJFLgloDcWK/Ff\n"
    "XThMOCFcT8nsCVemaqrkTrhezomhRANCAASogoyUL4g7BF2QwL9WPoKYt41wEP1w\n"
    "OAgVO/fWpPn/iYfdE17bId92lW177FFccK3xb47g7vswgfzi8Q3JARv3\n"
    "-----END PRIVATE KEY-----\n";
static struct key *leaf_key;

static void
check_info(const struct cert_info *ci)
{
	struct cert_info *again = NULL;
	char err[200];
	size_t i;

	if (ci->ncerts == 0 || ci->leaf_pem == NULL || ci->chain_pem == NULL ||
	    ci->fullchain_pem == NULL || ci->serial_hex == NULL || ci->top_issuer == NULL)
		abort();
	for (i = 0; i < ci->nnames; i++)
		if (ci->names[i] == NULL)
			abort();
	/* The full chain we would install passes the same checks again. */
	if (crypto_chain_inspect(ci->fullchain_pem, strlen(ci->fullchain_pem), NULL, &again, err, sizeof(err)) != 0 ||
	    again->ncerts != ci->ncerts || strcmp(again->serial_hex, ci->serial_hex) != 0 ||
	    again->not_after != ci->not_after || again->nnames != ci->nnames)
		abort();
	cert_info_free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_info *ci = NULL;
	unsigned char *der = NULL;
	struct key *k = NULL;
	char err[200], *pem;
	size_t der_len, len, i;
	unsigned mode;
	int r;

	if (size < 1)
		return 0;
	fuzz_quiet_logs();
	if (leaf_key == NULL && crypto_key_from_pem(leaf_key_pem, strlen(leaf_key_pem), &leaf_key) < 0)
		abort();
	mode = data[0];
	pem = fuzz_strndup(data + 1, size - 1);
	len = size - 1;
	err[0] = '\0';
	r = crypto_chain_inspect(pem, len, mode & 1 ? leaf_key : NULL, &ci, err, sizeof(err));
	if (r == 0)
		check_info(ci);
	else if ((r != -EPROTO && r != -ENOMEM) || memchr(err, '\0', sizeof(err)) == NULL)
		abort();
	/* The reason is logged as it is: no control characters from the input. */
	for (i = 0; err[i] != '\0'; i++)
		if ((unsigned char)err[i] < 0x20 || (unsigned char)err[i] == 0x7f)
			abort();
	cert_info_free(ci);
	if (crypto_cert_der(pem, len, &der, &der_len) == 0) {
		if (der_len == 0)
			abort();
		free(der);
	}
	if ((mode & 2) && crypto_key_from_pem(pem, len, &k) == 0) {
		(void)crypto_key_alg(k);
		crypto_key_free(k);
	}
	free(pem);
	return 0;
}
