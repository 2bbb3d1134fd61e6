/*
 * ARI (RFC 9773): certID (App. A vector, sign byte, 20-byte serials, no
 * padding, through real certificates), window parsing, the uniform choice
 * of a time in the window, Retry-After clamping and error backoff.
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "ari.h"
#include "b64.h"
#include "crypto.h"
#include "t.h"

/* RFC 9773 Appendix A. */
static const unsigned char rfc_aki[] = {0x69, 0x88, 0x5B, 0x6B, 0x87, 0x46, 0x40, 0x41, 0xE1, 0xB3,
    0x7B, 0x84, 0x7B, 0xA0, 0xAE, 0x2C, 0xDE, 0x01, 0xC8, 0xD4};
static const unsigned char rfc_serial[] = {0x00, 0x87, 0x65, 0x43, 0x21};
#define RFC_CERT_ID "aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE"

static void
test_cert_id_vector(void)
{
	char *id = NULL;

	T_CHECK(ari_cert_id(rfc_aki, sizeof(rfc_aki), rfc_serial, sizeof(rfc_serial), &id) == 0);
	T_STREQ(id, RFC_CERT_ID);
	free(id);
	/* Empty parts are refused, not turned into "." or ".x". */
	id = NULL;
	T_CHECK(ari_cert_id(rfc_aki, 0, rfc_serial, sizeof(rfc_serial), &id) == -EINVAL);
	T_CHECK(ari_cert_id(rfc_aki, sizeof(rfc_aki), rfc_serial, 0, &id) == -EINVAL);
	T_CHECK(id == NULL);
}

/* The certID of a certificate with "serial" (hex) and the RFC's AKI. */
static char *
cert_id_of(const char *serial_hex, size_t *ret_serial_octets)
{
	EVP_PKEY *pkey = EVP_EC_gen("P-256");
	X509 *x = X509_new();
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	AUTHORITY_KEYID *akid = AUTHORITY_KEYID_new();
	BIO *bio = BIO_new(BIO_s_mem());
	struct cert_info *ci = NULL;
	char err[200] = "", *pem, *id = NULL;
	long len;

	if (pkey == NULL || x == NULL || akid == NULL || bio == NULL || BN_hex2bn(&bn, serial_hex) == 0)
		goto out;
	serial = BN_to_ASN1_INTEGER(bn, NULL);
	akid->keyid = ASN1_OCTET_STRING_new();
	if (serial == NULL || akid->keyid == NULL ||
	    !ASN1_OCTET_STRING_set(akid->keyid, rfc_aki, sizeof(rfc_aki)) ||
	    !X509_set_version(x, 2) || !X509_set_serialNumber(x, serial) ||
	    X509_gmtime_adj(X509_getm_notBefore(x), 0) == NULL ||
	    X509_gmtime_adj(X509_getm_notAfter(x), 3600) == NULL ||
	    !X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"ari test", -1, -1, 0) ||
	    !X509_set_issuer_name(x, X509_get_subject_name(x)) || !X509_set_pubkey(x, pkey) ||
	    !X509_add1_ext_i2d(x, NID_authority_key_identifier, akid, 0, X509V3_ADD_DEFAULT) ||
	    !X509_sign(x, pkey, EVP_sha256()) || !PEM_write_bio_X509(bio, x))
		goto out;
	len = BIO_get_mem_data(bio, &pem);
	if (crypto_chain_inspect(pem, (size_t)len, NULL, &ci, err, sizeof(err)) < 0) {
		fprintf(stderr, "crypto_chain_inspect: %s\n", err);
		goto out;
	}
	if (ci->aki == NULL || ari_cert_id(ci->aki, ci->aki_len, ci->serial_der, ci->serial_der_len, &id) < 0)
		id = NULL;
	*ret_serial_octets = ci->serial_der_len;
out:
	cert_info_free(ci);
	BIO_free(bio);
	AUTHORITY_KEYID_free(akid);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_free(x);
	EVP_PKEY_free(pkey);
	return id;
}

/* The serial part of a certID decoded back to bytes. */
static bool
serial_part_is(const char *id, const unsigned char *want, size_t want_len)
{
	const char *dot = id != NULL ? strchr(id, '.') : NULL;
	unsigned char *raw = NULL;
	size_t len = 0;
	bool ok;

	if (dot == NULL || b64url_decode(dot + 1, &raw, &len) < 0)
		return false;
	ok = len == want_len && memcmp(raw, want, len) == 0;
	free(raw);
	return ok;
}

static void
test_cert_id_from_certificates(void)
{
	static const unsigned char top20[21] = {0x00, 0x80, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
	    0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13};
	static const unsigned char pos20[20] = {0x7f, 0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88,
	    0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11, 0x00, 0xfe, 0xfd, 0xfc};
	static const unsigned char small[1] = {0x01}, eighty[2] = {0x00, 0x80};
	size_t n = 0;
	char *id;

	/* The RFC's certificate: serial 0x87654321 has its top bit set. */
	id = cert_id_of("87654321", &n);
	T_STREQ(id, RFC_CERT_ID);
	T_CHECK(n == 5);
	free(id);

	/* A 20-byte serial with the top bit set keeps its sign byte (21 octets). */
	id = cert_id_of("800102030405060708090A0B0C0D0E0F10111213", &n);
	T_CHECK(id != NULL && strchr(id, '=') == NULL);
	T_CHECK(serial_part_is(id, top20, sizeof(top20)));
	T_CHECK(n == 21);
	T_CHECK(id != NULL && strncmp(id, "aYhba4dGQEHhs3uEe6CuLN4ByNQ.", 28) == 0);
	free(id);

	/* A 20-byte positive serial: exactly its 20 octets, no prefix. */
	id = cert_id_of("7FFFEEDDCCBBAA998877665544332211" "00FEFDFC", &n);
	T_CHECK(id != NULL && strchr(id, '=') == NULL);
	T_CHECK(serial_part_is(id, pos20, sizeof(pos20)));
	free(id);

	/* Small serials: 0x01 -> "AQ", 0x80 -> 00 80 -> "AIA". */
	id = cert_id_of("01", &n);
	T_CHECK(serial_part_is(id, small, sizeof(small)));
	T_CHECK(id != NULL && strcmp(strchr(id, '.'), ".AQ") == 0);
	free(id);
	id = cert_id_of("80", &n);
	T_CHECK(serial_part_is(id, eighty, sizeof(eighty)));
	T_CHECK(id != NULL && strcmp(strchr(id, '.'), ".AIA") == 0);
	free(id);
}

/* No '=' for any length of either part (padding would be 1 or 2 '='). */
static void
test_cert_id_no_padding(void)
{
	unsigned char buf[24];
	size_t a, s;
	bool clean = true, shape = true;
	char *id;

	for (a = 0; a < sizeof(buf); a++)
		buf[a] = (unsigned char)(0xA5 ^ (a * 37));
	for (a = 1; a <= 22; a++) {
		for (s = 1; s <= 21; s++) {
			id = NULL;
			if (ari_cert_id(buf, a, buf + 1, s, &id) < 0 || id == NULL) {
				clean = false;
				continue;
			}
			if (strchr(id, '=') != NULL)
				clean = false;
			/* Exactly one dot, unpadded lengths. */
			if (strchr(id, '.') != strrchr(id, '.') ||
			    (size_t)(strchr(id, '.') - id) != (a * 4 + 2) / 3 ||
			    strlen(strchr(id, '.') + 1) != (s * 4 + 2) / 3)
				shape = false;
			free(id);
		}
	}
	T_CHECK(clean);
	T_CHECK(shape);
}

static bool
parses(const char *body, struct ari_window *w)
{
	return ari_parse(body, strlen(body), w) == 0;
}

static void
test_parse(void)
{
	struct ari_window w;

	/* Z and whole seconds. */
	T_CHECK(parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}", &w));
	T_CHECK(w.start == 1735790400 && w.end == 1735876800);
	T_STREQ(w.explanation, "");
	/* Fractions (Pebble >= 2.8 sends milliseconds) are dropped, not refused. */
	T_CHECK(parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00.123Z\",\"end\":\"2025-01-02T05:00:00.999999999Z\"}}", &w));
	T_CHECK(w.start == 1735790400 && w.end == 1735790400 + 3600);
	/* Offsets: 06:00+02:00 is 04:00Z; 23:30-05:30 is 05:00Z next day. */
	T_CHECK(parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T06:00:00+02:00\",\"end\":\"2025-01-01T23:30:00.5-05:30\"}}", &w));
	T_CHECK(w.start == 1735790400 && w.end == 1735790400 + 3600);
	/* explanationURL is kept; unknown members are ignored. */
	T_CHECK(parses("{\"x\":1,\"explanationURL\":\"https://ca.example/why\",\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T04:00:01Z\",\"y\":[]}}", &w));
	T_STREQ(w.explanation, "https://ca.example/why");
	T_CHECK(w.end - w.start == 1);
	/* Control characters in explanationURL are escaped for the log. */
	T_CHECK(parses("{\"explanationURL\":\"https://x/\\n\\u001bevil\",\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T05:00:00Z\"}}", &w));
	T_CHECK(strchr(w.explanation, '\n') == NULL && strchr(w.explanation, '\x1b') == NULL);

	/* end <= start: invalid (a long-term error). */
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T04:00:00Z\"}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-03T04:00:00Z\",\"end\":\"2025-01-02T04:00:00Z\"}}", &w));
	/* The same instant written with an offset is still end == start. */
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-02T06:00:00+02:00\"}}", &w));
	/* Missing pieces. */
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\"}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{\"end\":\"2025-01-02T04:00:00Z\"}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":null}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":\"soon\"}", &w));
	T_CHECK(!parses("{}", &w));
	/* Wrong types and unparsable times. */
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":1735790400,\"end\":1735876800}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"yesterday\",\"end\":\"2025-01-02T04:00:00Z\"}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00\",\"end\":\"2025-01-03T04:00:00\"}}", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-13-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}", &w));
	/* Not JSON, or not an object. */
	T_CHECK(!parses("", &w));
	T_CHECK(!parses("<html>502</html>", &w));
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",", &w));
	T_CHECK(!parses("[]", &w));
	T_CHECK(!parses("null", &w));
	T_CHECK(!parses("42", &w));
	/* Duplicate keys are refused by the JSON layer. */
	T_CHECK(!parses("{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}", &w));
	/* Not NUL-terminated input: only "len" bytes count. */
	{
		const char *text = "{\"suggestedWindow\":{\"start\":\"2025-01-02T04:00:00Z\",\"end\":\"2025-01-03T04:00:00Z\"}}GARBAGE";
		T_CHECK(ari_parse(text, strlen(text) - 7, &w) == 0);
		T_CHECK(ari_parse(text, strlen(text), &w) < 0);
	}
}

/* xorshift64*: a reproducible spread of 64-bit "random" values. */
static unsigned long long
next_random(unsigned long long *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 2685821657736338717ULL;
}

static void
test_choose(void)
{
	struct ari_window w = {.start = 1735790400, .end = 1735790400 + 86400};
	unsigned long long s = 88172645463325252ULL;
	unsigned buckets[10] = {0};
	bool inside = true;
	size_t i;

	/* Bounds: start is reachable, end is not. */
	T_CHECK(ari_choose(&w, 0) == w.start);
	T_CHECK(ari_choose(&w, 86399) == w.end - 1);
	T_CHECK(ari_choose(&w, 86400) == w.start);
	T_CHECK(ari_choose(&w, ~0ULL) >= w.start && ari_choose(&w, ~0ULL) < w.end);
	/* A one-second window has a single choice. */
	{
		struct ari_window one = {.start = 1000, .end = 1001};
		T_CHECK(ari_choose(&one, 12345) == 1000);
	}
	/* Uniform: 100000 draws fall in [start, end) and fill 10 buckets evenly. */
	for (i = 0; i < 100000; i++) {
		time_t t = ari_choose(&w, next_random(&s));

		if (t < w.start || t >= w.end) {
			inside = false;
			continue;
		}
		buckets[(t - w.start) * 10 / 86400]++;
	}
	T_CHECK(inside);
	for (i = 0; i < 10; i++)
		T_CHECK(buckets[i] > 9400 && buckets[i] < 10600);
	/* A window in the past still yields a time inside it. */
	{
		struct ari_window past = {.start = 1000000, .end = 1000000 + 1800};
		time_t t = ari_choose(&past, 999999999ULL);
		T_CHECK(t >= past.start && t < past.end);
	}
}

static void
test_poll_delay(void)
{
	/* Missing or invalid Retry-After: the long-term interval, 6 h. */
	T_CHECK(ARI_LONG_TERM == 21600);
	T_CHECK(ari_poll_delay(-1) == 21600);
	T_CHECK(ari_poll_delay(LONG_MIN) == 21600);
	/* Clamped to [1 min, 1 day] (RFC 9773 4.3). */
	T_CHECK(ari_poll_delay(0) == 60);
	T_CHECK(ari_poll_delay(1) == 60);
	T_CHECK(ari_poll_delay(59) == 60);
	T_CHECK(ari_poll_delay(60) == 60);
	T_CHECK(ari_poll_delay(61) == 61);
	T_CHECK(ari_poll_delay(21600) == 21600);
	T_CHECK(ari_poll_delay(86400) == 86400);
	T_CHECK(ari_poll_delay(86401) == 86400);
	T_CHECK(ari_poll_delay(LONG_MAX / 2) == 86400);
	T_CHECK(ari_poll_delay(LONG_MAX) == 86400);
}

static void
test_error_delay(void)
{
	long prev = 0, d;
	int i;

	/* Starts short, grows, never exceeds the long-term interval. */
	T_CHECK(ari_error_delay(1) == 60);
	T_CHECK(ari_error_delay(2) > ari_error_delay(1));
	T_CHECK(ari_error_delay(3) > ari_error_delay(2));
	for (i = 1; i < 200; i++) {
		d = ari_error_delay(i);
		T_CHECK(d >= prev && d >= 60 && d <= ARI_LONG_TERM);
		prev = d;
	}
	/* Capped: after enough temporary errors, the long-term 6 h. */
	T_CHECK(ari_error_delay(50) == ARI_LONG_TERM);
	T_CHECK(ari_error_delay(INT_MAX) == ARI_LONG_TERM);
	/* Nonsense counts do not give 0 or negative delays. */
	T_CHECK(ari_error_delay(0) >= 60);
	T_CHECK(ari_error_delay(-5) >= 60);
}

int
main(void)
{
	test_cert_id_vector();
	test_cert_id_from_certificates();
	test_cert_id_no_padding();
	test_parse();
	test_choose();
	test_poll_delay();
	test_error_delay();
	return T_DONE();
}
