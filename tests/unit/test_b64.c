/* base64url (RFC 4648 section 5, no padding): vectors, round trips, rejects. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "b64.h"
#include "t.h"

/* RFC 4648 section 10, padding removed, plus the two url-safe characters. */
static const struct {
	const char *raw;
	size_t raw_len;
	const char *enc;
} vectors[] = {
    {"", 0, ""},
    {"f", 1, "Zg"},
    {"fo", 2, "Zm8"},
    {"foo", 3, "Zm9v"},
    {"foob", 4, "Zm9vYg"},
    {"fooba", 5, "Zm9vYmE"},
    {"foobar", 6, "Zm9vYmFy"},
    {"\xfb\xef\xbe", 3, "----"},
    {"\xff\xff\xff", 3, "____"},
    {"\xfb\xff", 2, "-_8"},
    {"\x00", 1, "AA"},
    {"\x00\x00\x00\x00", 4, "AAAAAA"},
};

static void
test_vectors(void)
{
	size_t i;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		unsigned char *dec = NULL;
		size_t dec_len = 999;
		char *enc = NULL;

		T_CHECK(b64url_encode(
			    vectors[i].raw, vectors[i].raw_len, &enc) == 0);
		T_STREQ(enc, vectors[i].enc);
		T_CHECK(b64url_decode(vectors[i].enc, &dec, &dec_len) == 0);
		T_CHECK(dec_len == vectors[i].raw_len);
		T_CHECK(dec != NULL &&
		    memcmp(dec, vectors[i].raw, vectors[i].raw_len) == 0);
		free(enc);
		free(dec);
	}
}

/* Standard base64 from OpenSSL, turned into base64url without padding. */
static void
reference_encode(const unsigned char *in, size_t len, char *out)
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

/* Every length 0..70 of a pseudo-random buffer, against OpenSSL too. */
static void
test_round_trips(void)
{
	unsigned char buf[70];
	char ref[128];
	unsigned long seed = 12345;
	size_t len, i;

	for (i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245UL + 12345UL;
		buf[i] = (unsigned char)(seed >> 16);
	}
	for (len = 0; len <= sizeof(buf); len++) {
		unsigned char *dec = NULL;
		size_t dec_len = 0;
		char *enc = NULL;

		T_CHECK(b64url_encode(buf, len, &enc) == 0);
		if (enc == NULL)
			continue;
		reference_encode(buf, len, ref);
		T_STREQ(enc, ref);
		T_CHECK(strlen(enc) == (len * 4 + 2) / 3);
		T_CHECK(strchr(enc, '=') == NULL);
		T_CHECK(b64url_decode(enc, &dec, &dec_len) == 0);
		T_CHECK(dec_len == len);
		T_CHECK(dec != NULL && memcmp(dec, buf, len) == 0);
		free(enc);
		free(dec);
	}
}

static void
test_rejects(void)
{
	static const char *const bad[] = {
	    "Zg==",    /* padding */
	    "Zm9v=",   /* padding after a full quantum */
	    "Zm8=",    /* padding */
	    "Zm+v",    /* standard alphabet */
	    "Zm/v",    /* standard alphabet */
	    "Zm 9v",   /* space */
	    "Zm9v\n",  /* newline */
	    "\tZm9v",  /* tab */
	    "Z",       /* length % 4 == 1 */
	    "Zm9vY",   /* length % 4 == 1 */
	    "Zh",      /* non-zero trailing bits (canonical: "Zg") */
	    "Zm9",     /* non-zero trailing bits (canonical: "Zm8") */
	    "Zm\x80v", /* high byte */
	};
	static unsigned char sentinel[] = "untouched";
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		unsigned char *dec = sentinel;
		size_t dec_len = 4242;
		int r = b64url_decode(bad[i], &dec, &dec_len);

		if (r != -EINVAL)
			fprintf(stderr, "accepted \"%s\"\n", bad[i]);
		T_CHECK(r == -EINVAL);
		/* Out-parameters are left alone on failure. */
		T_CHECK(dec_len == 4242);
		T_CHECK(dec == sentinel);
	}
}

static void
test_valid(void)
{
	static const struct {
		const char *s;
		bool ok;
	} rows[] = {
	    {"", false},
	    {"abcXYZ019-_", true},
	    {"Z", true}, /* alphabet check only, not a length check */
	    {"ab=", false},
	    {"a+b", false},
	    {"a/b", false},
	    {"a b", false},
	    {"a.b", false},
	    {"a%2e", false},
	    {"ab\n", false},
	};
	size_t i;

	T_CHECK(!b64url_valid(NULL));
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		if (b64url_valid(rows[i].s) != rows[i].ok)
			fprintf(
			    stderr, "b64url_valid(\"%s\") wrong\n", rows[i].s);
		T_CHECK(b64url_valid(rows[i].s) == rows[i].ok);
	}
}

int
main(void)
{
	test_vectors();
	test_round_trips();
	test_rejects();
	test_valid();
	return T_DONE();
}
