#include "alpn.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "crypto.h"
#include "log.h"

#define ENTRIES_MAX 128
#define HANDSHAKE_TIMEOUT_S 10

struct entry {
	char sni[256];
	X509 *cert;
	EVP_PKEY *key;
};

struct alpn {
	int fd;
	int wake[2];
	pthread_t thread;
	pthread_mutex_t mu;
	SSL_CTX *ctx;
	struct entry entries[ENTRIES_MAX];
	size_t nentries;
	char address[80];
};

int
alpn_sni_name(const char *identifier, char *buf, unsigned size)
{
	unsigned char ip[16];
	unsigned o = 0;
	int i;

	if (inet_pton(AF_INET, identifier, ip) == 1) {
		if (snprintf(buf, size, "%u.%u.%u.%u.in-addr.arpa", ip[3], ip[2], ip[1], ip[0]) >= (int)size)
			return -EINVAL;
		return 0;
	}
	if (inet_pton(AF_INET6, identifier, ip) == 1) {
		static const char hex[] = "0123456789abcdef";

		if (size < 16 * 4 + 9)
			return -EINVAL;
		for (i = 15; i >= 0; i--) {
			buf[o++] = hex[ip[i] & 15];
			buf[o++] = '.';
			buf[o++] = hex[ip[i] >> 4];
			buf[o++] = '.';
		}
		memcpy(buf + o, "ip6.arpa", 9);
		return 0;
	}
	if (snprintf(buf, size, "%s", identifier) >= (int)size)
		return -EINVAL;
	return 0;
}

/* Self-signed validation certificate (RFC 8737 3). */
static int
make_cert(const char *identifier, const char *keyauth, X509 **ret_cert,
    EVP_PKEY **ret_key)
{
	unsigned char digest[32], ipbuf[16];
	ASN1_OCTET_STRING *inner = NULL, *extdata = NULL;
	ASN1_OBJECT *oid = NULL;
	X509_EXTENSION *ext = NULL;
	GENERAL_NAMES *gens = NULL;
	GENERAL_NAME *gen = NULL;
	unsigned char *der = NULL;
	EVP_PKEY *key = NULL;
	X509 *x = NULL;
	int derlen, iplen = 0, r = -ENOMEM;

	crypto_sha256(keyauth, strlen(keyauth), digest);
	if (inet_pton(AF_INET, identifier, ipbuf) == 1)
		iplen = 4;
	else if (inet_pton(AF_INET6, identifier, ipbuf) == 1)
		iplen = 16;
	if ((key = EVP_EC_gen("P-256")) == NULL || (x = X509_new()) == NULL)
		goto out;
	if (!X509_set_version(x, 2) || !ASN1_INTEGER_set(X509_get_serialNumber(x), 1) ||
	    !X509_gmtime_adj(X509_getm_notBefore(x), -3600) ||
	    !X509_gmtime_adj(X509_getm_notAfter(x), 7 * 24 * 3600) || !X509_set_pubkey(x, key))
		goto out;
	/* SAN: exactly the identifier. */
	if ((gens = GENERAL_NAMES_new()) == NULL || (gen = GENERAL_NAME_new()) == NULL)
		goto out;
	if (iplen > 0) {
		ASN1_OCTET_STRING *os = ASN1_OCTET_STRING_new();

		if (os == NULL || !ASN1_OCTET_STRING_set(os, ipbuf, iplen)) {
			ASN1_OCTET_STRING_free(os);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, GEN_IPADD, os);
	} else {
		ASN1_IA5STRING *ia5 = ASN1_IA5STRING_new();

		if (ia5 == NULL || !ASN1_STRING_set(ia5, identifier, -1)) {
			ASN1_IA5STRING_free(ia5);
			goto out;
		}
		GENERAL_NAME_set0_value(gen, GEN_DNS, ia5);
	}
	if (!sk_GENERAL_NAME_push(gens, gen))
		goto out;
	gen = NULL;
	if (!X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT))
		goto out;
	/* id-pe-acmeIdentifier, critical: OCTET STRING (DER of OCTET STRING(digest)). */
	if ((inner = ASN1_OCTET_STRING_new()) == NULL || !ASN1_OCTET_STRING_set(inner, digest, 32) ||
	    (derlen = i2d_ASN1_OCTET_STRING(inner, &der)) <= 0)
		goto out;
	if ((oid = OBJ_txt2obj("1.3.6.1.5.5.7.1.31", 1)) == NULL || (extdata = ASN1_OCTET_STRING_new()) == NULL ||
	    !ASN1_OCTET_STRING_set(extdata, der, derlen) ||
	    (ext = X509_EXTENSION_create_by_OBJ(NULL, oid, 1, extdata)) == NULL || !X509_add_ext(x, ext, -1))
		goto out;
	if (!X509_sign(x, key, EVP_sha256()))
		goto out;
	*ret_cert = x;
	*ret_key = key;
	x = NULL;
	key = NULL;
	r = 0;
out:
	X509_free(x);
	EVP_PKEY_free(key);
	GENERAL_NAME_free(gen);
	GENERAL_NAMES_free(gens);
	ASN1_OCTET_STRING_free(inner);
	ASN1_OCTET_STRING_free(extdata);
	ASN1_OBJECT_free(oid);
	X509_EXTENSION_free(ext);
	OPENSSL_free(der);
	ERR_clear_error();
	return r;
}

/* Pick the validation certificate by SNI; refuse unknown names. */
static int
on_servername(SSL *ssl, int *alert, void *arg)
{
	struct alpn *a = arg;
	const char *sni = SSL_get_servername(ssl, TLSEXT_NAMETYPE_host_name);
	int r = SSL_TLSEXT_ERR_ALERT_FATAL;
	size_t i;

	*alert = SSL_AD_UNRECOGNIZED_NAME;
	if (sni == NULL)
		return r;
	pthread_mutex_lock(&a->mu);
	for (i = 0; i < a->nentries; i++)
		if (strcasecmp(a->entries[i].sni, sni) == 0) {
			if (SSL_use_certificate(ssl, a->entries[i].cert) == 1 &&
			    SSL_use_PrivateKey(ssl, a->entries[i].key) == 1)
				r = SSL_TLSEXT_ERR_OK;
			break;
		}
	pthread_mutex_unlock(&a->mu);
	return r;
}

/*
 * Whether the ClientHello's ALPN extension (RFC 7301 3.1) offers
 * "acme-tls/1".  Pure; "ext" is the extension body as sent.
 */
static bool
offers_acme(const unsigned char *ext, size_t len)
{
	size_t list_len, i;

	if (len < 2)
		return false;
	list_len = (size_t)ext[0] << 8 | ext[1];
	if (list_len != len - 2)
		return false;
	for (i = 2; i < len; i += 1 + ext[i]) {
		if (i + 1 + ext[i] > len)
			return false;
		if (ext[i] == strlen(ALPN_ACME) && memcmp(ext + i + 1, ALPN_ACME, ext[i]) == 0)
			return true;
	}
	return false;
}

/*
 * RFC 8737 3/5: the validation certificate is for acme-tls/1 only.  A
 * ClientHello that does not offer it (or offers no ALPN at all, in which
 * case on_alpn() is never called) is refused before the certificate is
 * chosen, under TLS 1.2 as under 1.3.
 */
static int
on_client_hello(SSL *ssl, int *alert, void *arg)
{
	const unsigned char *ext;
	size_t len;

	(void)arg;
	if (SSL_client_hello_get0_ext(ssl, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext, &len) != 1 ||
	    !offers_acme(ext, len)) {
		*alert = SSL_AD_NO_APPLICATION_PROTOCOL;
		return SSL_CLIENT_HELLO_ERROR;
	}
	return SSL_CLIENT_HELLO_SUCCESS;
}

/* RFC 8737 4: only "acme-tls/1" is acceptable. */
static int
on_alpn(SSL *ssl, const unsigned char **out, unsigned char *outlen,
    const unsigned char *in, unsigned int inlen, void *arg)
{
	static const unsigned char proto[] = "\x0a" ALPN_ACME;
	unsigned char *sel;

	(void)ssl;
	(void)arg;
	if (SSL_select_next_proto(&sel, outlen, proto, sizeof(proto) - 1, in, inlen) != OPENSSL_NPN_NEGOTIATED)
		return SSL_TLSEXT_ERR_ALERT_FATAL;
	*out = sel;
	return SSL_TLSEXT_ERR_OK;
}

static void
serve(struct alpn *a, int fd)
{
	struct timeval tv = {HANDSHAKE_TIMEOUT_S, 0};
	SSL *ssl;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if ((ssl = SSL_new(a->ctx)) == NULL)
		return;
	SSL_set_fd(ssl, fd);
	if (SSL_accept(ssl) == 1)
		SSL_shutdown(ssl);
	SSL_free(ssl);
	ERR_clear_error();
}

static void *
run(void *arg)
{
	struct alpn *a = arg;
	struct pollfd pfd[2] = {{.fd = a->fd, .events = POLLIN}, {.fd = a->wake[0], .events = POLLIN}};
	int c;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if ((c = accept4(a->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve(a, c);
		close(c);
	}
	return NULL;
}

static int
listen_on(const char *addr, int *ret_fd)
{
	struct sockaddr_storage ss = {0};
	struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
	const char *colon = strrchr(addr, ':');
	char host[64];
	socklen_t len;
	size_t hlen;
	long port;
	int fd, one = 1;

	if (colon == NULL || (hlen = (size_t)(colon - addr)) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return -EINVAL;
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		len = sizeof(*in6);
	} else {
		if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
			return -EINVAL;
		in4->sin_family = AF_INET;
		in4->sin_port = htons((unsigned short)port);
		len = sizeof(*in4);
	}
	if ((fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(fd, (struct sockaddr *)&ss, len) < 0 || listen(fd, 64) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret_fd = fd;
	return 0;
}

int
alpn_start(const char *listen_addr, struct alpn **ret)
{
	struct alpn *a;
	int r;

	if ((a = calloc(1, sizeof(*a))) == NULL)
		return -ENOMEM;
	a->fd = a->wake[0] = a->wake[1] = -1;
	snprintf(a->address, sizeof(a->address), "%s", listen_addr);
	pthread_mutex_init(&a->mu, NULL);
	if ((r = listen_on(listen_addr, &a->fd)) < 0) {
		log_err("tls-alpn-01 responder: cannot listen on %s: %s", listen_addr, strerror(-r));
		goto fail;
	}
	r = -ENOMEM;
	if ((a->ctx = SSL_CTX_new(TLS_server_method())) == NULL || pipe2(a->wake, O_CLOEXEC) < 0)
		goto fail;
	SSL_CTX_set_min_proto_version(a->ctx, TLS1_2_VERSION);
	SSL_CTX_set_client_hello_cb(a->ctx, on_client_hello, NULL);
	SSL_CTX_set_tlsext_servername_callback(a->ctx, on_servername);
	SSL_CTX_set_tlsext_servername_arg(a->ctx, a);
	SSL_CTX_set_alpn_select_cb(a->ctx, on_alpn, a);
	if ((r = -pthread_create(&a->thread, NULL, run, a)) < 0)
		goto fail;
	*ret = a;
	return 0;
fail:
	if (a->fd >= 0)
		close(a->fd);
	if (a->wake[0] >= 0) {
		close(a->wake[0]);
		close(a->wake[1]);
	}
	SSL_CTX_free(a->ctx);
	pthread_mutex_destroy(&a->mu);
	free(a);
	return r;
}

const char *
alpn_address(const struct alpn *a)
{
	return a->address;
}

int
alpn_add(struct alpn *a, const char *identifier, const char *keyauth)
{
	struct entry e = {0};
	int r;

	if (alpn_sni_name(identifier, e.sni, sizeof(e.sni)) < 0)
		return -EINVAL;
	if ((r = make_cert(identifier, keyauth, &e.cert, &e.key)) < 0)
		return r;
	pthread_mutex_lock(&a->mu);
	if (a->nentries == ENTRIES_MAX)
		r = -ENOSPC;
	else
		a->entries[a->nentries++] = e;
	pthread_mutex_unlock(&a->mu);
	if (r < 0) {
		X509_free(e.cert);
		EVP_PKEY_free(e.key);
	}
	return r;
}

void
alpn_remove(struct alpn *a, const char *identifier)
{
	char sni[256];
	size_t i;

	if (alpn_sni_name(identifier, sni, sizeof(sni)) < 0)
		return;
	pthread_mutex_lock(&a->mu);
	for (i = 0; i < a->nentries; i++)
		if (strcmp(a->entries[i].sni, sni) == 0) {
			X509_free(a->entries[i].cert);
			EVP_PKEY_free(a->entries[i].key);
			a->entries[i] = a->entries[--a->nentries];
			break;
		}
	pthread_mutex_unlock(&a->mu);
}

void
alpn_stop(struct alpn *a)
{
	size_t i;

	if (a == NULL)
		return;
	(void)!write(a->wake[1], "x", 1);
	pthread_join(a->thread, NULL);
	close(a->fd);
	close(a->wake[0]);
	close(a->wake[1]);
	for (i = 0; i < a->nentries; i++) {
		X509_free(a->entries[i].cert);
		EVP_PKEY_free(a->entries[i].key);
	}
	SSL_CTX_free(a->ctx);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
