/*
 * tls-alpn-01 (RFC 8737): the built-in responder over real TLS handshakes
 * on 127.0.0.1 (an ephemeral port), the validation certificate it presents
 * (critical acmeIdentifier extension holding SHA-256 of the key
 * authorization, one SAN), refusal without "acme-tls/1", and the reverse
 * names for IP identifiers (RFC 8738 6).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "alpn.h"
#include "t.h"

#define KEYAUTH "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
#define KEYAUTH2 "DGyRejmCefe7v4NfDGDKfA.nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
#define NAME "www.example.org"

static unsigned short port;

/* A free port on 127.0.0.1: bind port 0, read it back, release it. */
static unsigned short
ephemeral_port(void)
{
	struct sockaddr_in sin = {.sin_family = AF_INET};
	socklen_t len = sizeof(sin);
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return 0;
	if (bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(fd, (struct sockaddr *)&sin, &len) < 0)
		sin.sin_port = 0;
	close(fd);
	return ntohs(sin.sin_port);
}

struct hs {
	bool ok;          /* handshake completed */
	char alpn[32];    /* negotiated protocol, "" for none */
	X509 *peer;       /* server certificate (caller frees) */
};

/*
 * One TLS handshake to the responder with SNI "sni" (NULL: none), ALPN
 * list "protos" (wire format, NULL: no ALPN extension) and maximum
 * protocol version "maxver".
 */
static void
handshake(const char *sni, const char *protos, int maxver, struct hs *h)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_port = htons(port)};
	struct timeval tv = {.tv_sec = 5};
	const unsigned char *sel;
	unsigned sel_len;
	char host[256];
	SSL_CTX *ctx = NULL;
	SSL *ssl = NULL;
	int fd;

	memset(h, 0, sizeof(*h));
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		goto out;
	if ((ctx = SSL_CTX_new(TLS_client_method())) == NULL)
		goto out;
	/* The validator checks the certificate itself, not a chain. */
	SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
	SSL_CTX_set_max_proto_version(ctx, maxver);
	if ((ssl = SSL_new(ctx)) == NULL)
		goto out;
	/* A writable copy: the macro casts away const. */
	snprintf(host, sizeof(host), "%s", sni != NULL ? sni : "");
	if (sni != NULL)
		SSL_set_tlsext_host_name(ssl, host);
	if (protos != NULL)
		SSL_set_alpn_protos(ssl, (const unsigned char *)protos, (unsigned)strlen(protos));
	SSL_set_fd(ssl, fd);
	if (SSL_connect(ssl) != 1)
		goto out;
	h->ok = true;
	SSL_get0_alpn_selected(ssl, &sel, &sel_len);
	if (sel_len < sizeof(h->alpn)) {
		memcpy(h->alpn, sel, sel_len);
		h->alpn[sel_len] = '\0';
	}
	h->peer = SSL_get1_peer_certificate(ssl);
	SSL_shutdown(ssl);
out:
	SSL_free(ssl);
	SSL_CTX_free(ctx);
	close(fd);
	ERR_clear_error();
}

/* The one SAN of "x": its type and value as text ("" if not exactly one). */
static void
only_san(X509 *x, int *ret_type, char *buf, size_t size)
{
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	const GENERAL_NAME *g;
	const unsigned char *p;
	int len;

	*ret_type = -1;
	buf[0] = '\0';
	if (gens == NULL)
		return;
	if (sk_GENERAL_NAME_num(gens) == 1) {
		g = sk_GENERAL_NAME_value(gens, 0);
		*ret_type = g->type;
		if (g->type == GEN_DNS) {
			p = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			snprintf(buf, size, "%.*s", len, (const char *)p);
		} else if (g->type == GEN_IPADD) {
			p = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if (len == 4)
				inet_ntop(AF_INET, p, buf, (socklen_t)size);
			else if (len == 16)
				inet_ntop(AF_INET6, p, buf, (socklen_t)size);
		}
	}
	GENERAL_NAMES_free(gens);
}

/*
 * RFC 8737 3: exactly one acmeIdentifier extension, critical, whose
 * extnValue is the DER of an OCTET STRING of the 32-byte SHA-256 of
 * "keyauth": 04 20 <digest>.
 */
static bool
has_acme_identifier(X509 *x, const char *keyauth)
{
	unsigned char want[34] = {0x04, 0x20};
	ASN1_OBJECT *oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1);
	X509_EXTENSION *ext;
	ASN1_OCTET_STRING *v;
	unsigned dlen = 0;
	bool ok = false;
	int i;

	if (oid == NULL)
		return false;
	if (EVP_Digest(keyauth, strlen(keyauth), want + 2, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
		goto out;
	if ((i = X509_get_ext_by_OBJ(x, oid, -1)) < 0 || X509_get_ext_by_OBJ(x, oid, i) >= 0)
		goto out;
	ext = X509_get_ext(x, i);
	v = X509_EXTENSION_get_data(ext);
	ok = X509_EXTENSION_get_critical(ext) == 1 && ASN1_STRING_length(v) == (int)sizeof(want) &&
	    memcmp(ASN1_STRING_get0_data(v), want, sizeof(want)) == 0;
out:
	ASN1_OBJECT_free(oid);
	return ok;
}

static void
test_sni_names(void)
{
	char buf[128];

	T_CHECK(alpn_sni_name("www.example.org", buf, sizeof(buf)) == 0);
	T_STREQ(buf, "www.example.org");
	/* RFC 8738 6: in-addr.arpa, octets reversed. */
	T_CHECK(alpn_sni_name("192.0.2.10", buf, sizeof(buf)) == 0);
	T_STREQ(buf, "10.2.0.192.in-addr.arpa");
	T_CHECK(alpn_sni_name("127.0.0.1", buf, sizeof(buf)) == 0);
	T_STREQ(buf, "1.0.0.127.in-addr.arpa");
	/* ip6.arpa: all 32 nibbles, least significant first (RFC 3596 2.5). */
	T_CHECK(alpn_sni_name("2001:db8::1", buf, sizeof(buf)) == 0);
	T_STREQ(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	T_CHECK(alpn_sni_name("2001:DB8:abcd:12::fe", buf, sizeof(buf)) == 0);
	T_STREQ(buf, "e.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.2.1.0.0.d.c.b.a.8.b.d.0.1.0.0.2.ip6.arpa");
	T_CHECK(alpn_sni_name("::1", buf, sizeof(buf)) == 0);
	T_STREQ(buf, "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa");
	/* Buffers too small: -EINVAL, never an overrun. */
	T_CHECK(alpn_sni_name("2001:db8::1", buf, 72) == -EINVAL);
	T_CHECK(alpn_sni_name("2001:db8::1", buf, 73) == 0 && strlen(buf) == 72);
	T_CHECK(alpn_sni_name("192.0.2.10", buf, 23) == -EINVAL);
	T_CHECK(alpn_sni_name("www.example.org", buf, 15) == -EINVAL);
}

static void
test_handshakes(void)
{
	static const int versions[] = {TLS1_2_VERSION, TLS1_3_VERSION};
	char listen[32], san[64];
	struct alpn *a = NULL;
	struct hs h;
	size_t i;
	int type;

	T_CHECK((port = ephemeral_port()) != 0);
	snprintf(listen, sizeof(listen), "127.0.0.1:%u", port);
	T_CHECK(alpn_start(listen, &a) == 0);
	if (a == NULL)
		return;
	T_STREQ(alpn_address(a), listen);
	T_CHECK(alpn_add(a, NAME, KEYAUTH) == 0);
	T_CHECK(alpn_add(a, "127.0.0.1", KEYAUTH2) == 0);
	T_CHECK(alpn_add(a, "::1", KEYAUTH2) == 0);

	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		/* ALPN acme-tls/1 and SNI: the validation certificate. */
		handshake(NAME, "\x0a" ALPN_ACME, versions[i], &h);
		T_CHECK(h.ok);
		T_STREQ(h.alpn, ALPN_ACME);
		T_CHECK(h.peer != NULL);
		if (h.peer != NULL) {
			T_CHECK(has_acme_identifier(h.peer, KEYAUTH));
			T_CHECK(!has_acme_identifier(h.peer, KEYAUTH2));
			only_san(h.peer, &type, san, sizeof(san));
			T_CHECK(type == GEN_DNS);
			T_STREQ(san, NAME);
		}
		X509_free(h.peer);

		/* acme-tls/1 among other offers is still the one chosen. */
		handshake(NAME, "\x08http/1.1\x0a" ALPN_ACME, versions[i], &h);
		T_CHECK(h.ok && strcmp(h.alpn, ALPN_ACME) == 0);
		X509_free(h.peer);
	}

	/* SNI is matched case-insensitively (DNS names). */
	handshake("WWW.Example.ORG", "\x0a" ALPN_ACME, TLS1_3_VERSION, &h);
	T_CHECK(h.ok && h.peer != NULL && has_acme_identifier(h.peer, KEYAUTH));
	X509_free(h.peer);

	/* IP identifiers: reverse-name SNI, iPAddress SAN (RFC 8738 6). */
	handshake("1.0.0.127.in-addr.arpa", "\x0a" ALPN_ACME, TLS1_3_VERSION, &h);
	T_CHECK(h.ok && h.peer != NULL);
	if (h.peer != NULL) {
		T_CHECK(has_acme_identifier(h.peer, KEYAUTH2));
		only_san(h.peer, &type, san, sizeof(san));
		T_CHECK(type == GEN_IPADD);
		T_STREQ(san, "127.0.0.1");
	}
	X509_free(h.peer);
	handshake("1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa",
	    "\x0a" ALPN_ACME, TLS1_2_VERSION, &h);
	T_CHECK(h.ok && h.peer != NULL);
	if (h.peer != NULL) {
		only_san(h.peer, &type, san, sizeof(san));
		T_CHECK(type == GEN_IPADD);
		T_STREQ(san, "::1");
	}
	X509_free(h.peer);

	/*
	 * RFC 8737 3/5: the validation certificate is for acme-tls/1 only.
	 * Other ALPN offers, no ALPN at all, no SNI or an unknown SNI: no
	 * handshake, so never the validation certificate.
	 */
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		handshake(NAME, "\x08http/1.1", versions[i], &h);
		T_CHECK(!h.ok && h.peer == NULL);
		X509_free(h.peer);
		handshake(NAME, NULL, versions[i], &h);
		T_CHECK(!h.ok && h.peer == NULL);
		X509_free(h.peer);
		handshake(NULL, "\x0a" ALPN_ACME, versions[i], &h);
		T_CHECK(!h.ok && h.peer == NULL);
		X509_free(h.peer);
		handshake("other.example.org", "\x0a" ALPN_ACME, versions[i], &h);
		T_CHECK(!h.ok && h.peer == NULL);
		X509_free(h.peer);
	}

	/* After removal the name is unknown; the others stay. */
	alpn_remove(a, NAME);
	handshake(NAME, "\x0a" ALPN_ACME, TLS1_3_VERSION, &h);
	T_CHECK(!h.ok && h.peer == NULL);
	X509_free(h.peer);
	handshake("1.0.0.127.in-addr.arpa", "\x0a" ALPN_ACME, TLS1_3_VERSION, &h);
	T_CHECK(h.ok && h.peer != NULL && has_acme_identifier(h.peer, KEYAUTH2));
	X509_free(h.peer);

	/* A fresh add replaces nothing stale: the new key authorization. */
	T_CHECK(alpn_add(a, NAME, KEYAUTH2) == 0);
	handshake(NAME, "\x0a" ALPN_ACME, TLS1_3_VERSION, &h);
	T_CHECK(h.ok && h.peer != NULL && has_acme_identifier(h.peer, KEYAUTH2));
	X509_free(h.peer);

	alpn_stop(a);
}

static void
test_bad_listen(void)
{
	struct alpn *a = NULL;

	T_CHECK(alpn_start("127.0.0.1", &a) == -EINVAL && a == NULL);
	T_CHECK(alpn_start("127.0.0.1:99999", &a) == -EINVAL && a == NULL);
	T_CHECK(alpn_start("example.org:443", &a) == -EINVAL && a == NULL);
}

int
main(void)
{
	/* As the daemon does (main.c): a peer gone mid-handshake is no signal. */
	signal(SIGPIPE, SIG_IGN);
	test_sni_names();
	test_handshakes();
	test_bad_listen();
	return T_DONE();
}
