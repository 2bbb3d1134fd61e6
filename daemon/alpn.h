/*
 * tls-alpn-01 (RFC 8737): a built-in TLS responder that negotiates ALPN
 * "acme-tls/1" and presents, per SNI name, a self-signed certificate with
 * the identifier as its only SAN and the critical acmeIdentifier extension
 * (1.3.6.1.5.5.7.1.31) holding SHA-256 of the key authorization.
 *
 * This is the second file that includes OpenSSL headers (ssl.h): a TLS
 * server is a concern of its own, and keeping it out of crypto.c keeps
 * that file about keys and certificates.
 */
#ifndef ACMED_ALPN_H
#define ACMED_ALPN_H

#define ALPN_ACME "acme-tls/1"

struct alpn;

int alpn_start(const char *listen_addr, struct alpn **ret);
const char *alpn_address(const struct alpn *a);
/* Serve a validation certificate for "identifier" (DNS name or IP). */
int alpn_add(struct alpn *a, const char *identifier, const char *keyauth);
void alpn_remove(struct alpn *a, const char *identifier);
void alpn_stop(struct alpn *a);

/*
 * The SNI name a validator sends for "identifier": the name itself, or
 * for an IP address its reverse name (RFC 8738 6).  Returns 0 or -EINVAL.
 */
int alpn_sni_name(const char *identifier, char *buf, unsigned size);

#endif
