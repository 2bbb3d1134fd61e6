/*
 * http-01 (RFC 8555 8.3): a built-in responder that serves key
 * authorizations from memory on a listening socket (a thread of the
 * worker), and token files in an operator's webroot.  Tokens reaching this
 * module have already been checked to be base64url.
 */
#ifndef ACMED_CHALLENGE_H
#define ACMED_CHALLENGE_H

#include <stddef.h>

#define HTTP01_PREFIX "/.well-known/acme-challenge/"
#define HTTP01_REQUEST_MAX 4096

struct http01;

/*
 * Listen on "addr:port" ("[v6]:port" for IPv6) and serve until stopped.
 * With "listen_addr" NULL: no socket, answers only through http01_answer().
 */
int http01_start(const char *listen_addr, struct http01 **ret);
const char *http01_address(const struct http01 *h);
int http01_add(struct http01 *h, const char *token, const char *keyauth);
void http01_remove(struct http01 *h, const char *token);
void http01_stop(struct http01 *h);

/*
 * Build the answer to one HTTP request (pure; used by the thread and by
 * tests).  Returns the status (200, 404, 400, 405) and the body to send;
 * a request of more than HTTP01_REQUEST_MAX bytes is a 400.
 */
int http01_answer(struct http01 *h, const char *req, size_t len,
    char *body, size_t body_size);

/* Webroot files: DIR/.well-known/acme-challenge/TOKEN, mode 0644. */
int webroot_put(const char *dir, const char *token, const char *keyauth);
void webroot_remove(const char *dir, const char *token);

#endif
