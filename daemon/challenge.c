#include "challenge.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "b64.h"
#include "fs.h"
#include "log.h"

#define TOKENS_MAX 256
#define REQUEST_MAX HTTP01_REQUEST_MAX
#define CLIENT_TIMEOUT_MS 5000

struct token {
	char *token;
	char *keyauth;
};

struct http01 {
	int fd;
	int wake[2];
	pthread_t thread;
	pthread_mutex_t mu;
	struct token tokens[TOKENS_MAX];
	size_t ntokens;
	char address[80];
};

static int
parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *len)
{
	struct sockaddr_in *in4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)ss;
	const char *colon = strrchr(s, ':');
	char host[64];
	size_t hlen;
	long port;

	if (colon == NULL || (hlen = (size_t)(colon - s)) >= sizeof(host))
		return -EINVAL;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	port = strtol(colon + 1, NULL, 10);
	if (port < 1 || port > 65535)
		return -EINVAL;
	memset(ss, 0, sizeof(*ss));
	if (hlen >= 2 && host[0] == '[' && host[hlen - 1] == ']') {
		host[hlen - 1] = '\0';
		if (inet_pton(AF_INET6, host + 1, &in6->sin6_addr) != 1)
			return -EINVAL;
		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons((unsigned short)port);
		*len = sizeof(*in6);
		return 0;
	}
	if (inet_pton(AF_INET, host, &in4->sin_addr) != 1)
		return -EINVAL;
	in4->sin_family = AF_INET;
	in4->sin_port = htons((unsigned short)port);
	*len = sizeof(*in4);
	return 0;
}

int
http01_answer(struct http01 *h, const char *req, size_t len, char *body,
    size_t body_size)
{
	char path[300];
	const char *sp, *token;
	size_t plen, i;
	int status = 404;

	snprintf(body, body_size, "not found\n");
	if (len > REQUEST_MAX) {
		snprintf(body, body_size, "bad request\n");
		return 400;
	}
	if (len < 4 || strncmp(req, "GET ", 4) != 0) {
		snprintf(body, body_size, "method not allowed\n");
		return len >= 5 && strncmp(req, "HEAD ", 5) == 0 ? 404 : 405;
	}
	/* A NUL would cut the target short of what the client asked for. */
	if ((sp = memchr(req + 4, ' ', len - 4)) == NULL ||
	    (plen = (size_t)(sp - (req + 4))) >= sizeof(path) || memchr(req + 4, '\0', plen) != NULL) {
		snprintf(body, body_size, "bad request\n");
		return 400;
	}
	memcpy(path, req + 4, plen);
	path[plen] = '\0';
	if (strncmp(path, HTTP01_PREFIX, strlen(HTTP01_PREFIX)) != 0)
		return 404;
	token = path + strlen(HTTP01_PREFIX);
	if (!b64url_valid(token))
		return 404;
	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->ntokens; i++)
		if (strcmp(h->tokens[i].token, token) == 0) {
			snprintf(body, body_size, "%s", h->tokens[i].keyauth);
			status = 200;
			break;
		}
	pthread_mutex_unlock(&h->mu);
	return status;
}

/* Serve one connection: read the request head, answer, close. */
static void
serve(struct http01 *h, int fd)
{
	char req[REQUEST_MAX + 1], body[600], out[900];
	struct pollfd pfd = {.fd = fd, .events = POLLIN};
	size_t got = 0;
	ssize_t n;
	int status, olen;

	while (got < REQUEST_MAX) {
		if (poll(&pfd, 1, CLIENT_TIMEOUT_MS) <= 0)
			return;
		if ((n = read(fd, req + got, REQUEST_MAX - got)) <= 0)
			return;
		got += (size_t)n;
		req[got] = '\0';
		if (strstr(req, "\r\n\r\n") != NULL || strstr(req, "\n\n") != NULL)
			break;
	}
	status = http01_answer(h, req, got, body, sizeof(body));
	olen = snprintf(out, sizeof(out),
	    "HTTP/1.1 %d %s\r\nContent-Type: text/plain\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n%s",
	    status, status == 200 ? "OK" : status == 404 ? "Not Found" : status == 405 ? "Method Not Allowed" : "Bad Request",
	    strlen(body), body);
	if (olen > 0)
		(void)!write(fd, out, (size_t)olen < sizeof(out) ? (size_t)olen : sizeof(out) - 1);
}

static void *
run(void *arg)
{
	struct http01 *h = arg;
	struct pollfd pfd[2] = {{.fd = h->fd, .events = POLLIN}, {.fd = h->wake[0], .events = POLLIN}};

	for (;;) {
		int c;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents != 0)
			break;
		if ((c = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC)) < 0)
			continue;
		serve(h, c);
		close(c);
	}
	return NULL;
}

int
http01_start(const char *listen_addr, struct http01 **ret)
{
	struct sockaddr_storage ss;
	struct http01 *h;
	socklen_t len;
	int one = 1, r;

	if (listen_addr == NULL) {
		if ((h = calloc(1, sizeof(*h))) == NULL)
			return -ENOMEM;
		h->fd = h->wake[0] = h->wake[1] = -1;
		pthread_mutex_init(&h->mu, NULL);
		*ret = h;
		return 0;
	}
	if (parse_listen(listen_addr, &ss, &len) < 0) {
		log_err("http-01 responder: cannot parse listen address \"%s\"", listen_addr);
		return -EINVAL;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL)
		return -ENOMEM;
	h->fd = h->wake[0] = h->wake[1] = -1;
	snprintf(h->address, sizeof(h->address), "%s", listen_addr);
	pthread_mutex_init(&h->mu, NULL);
	if ((h->fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) < 0 ||
	    bind(h->fd, (struct sockaddr *)&ss, len) < 0 || listen(h->fd, 64) < 0 ||
	    pipe2(h->wake, O_CLOEXEC) < 0) {
		r = -errno;
		log_err("http-01 responder: cannot listen on %s: %s", listen_addr, strerror(errno));
		goto fail;
	}
	if ((r = -pthread_create(&h->thread, NULL, run, h)) < 0) {
		log_err("http-01 responder: cannot start thread: %s", strerror(-r));
		goto fail;
	}
	log_debug("http-01 responder listening on %s", listen_addr);
	*ret = h;
	return 0;
fail:
	if (h->fd >= 0)
		close(h->fd);
	if (h->wake[0] >= 0) {
		close(h->wake[0]);
		close(h->wake[1]);
	}
	pthread_mutex_destroy(&h->mu);
	free(h);
	return r;
}

const char *
http01_address(const struct http01 *h)
{
	return h->address;
}

int
http01_add(struct http01 *h, const char *token, const char *keyauth)
{
	struct token t = {strdup(token), strdup(keyauth)};
	int r = 0;

	if (t.token == NULL || t.keyauth == NULL) {
		free(t.token);
		free(t.keyauth);
		return -ENOMEM;
	}
	pthread_mutex_lock(&h->mu);
	if (h->ntokens == TOKENS_MAX)
		r = -ENOSPC;
	else
		h->tokens[h->ntokens++] = t;
	pthread_mutex_unlock(&h->mu);
	if (r < 0) {
		free(t.token);
		free(t.keyauth);
	}
	return r;
}

void
http01_remove(struct http01 *h, const char *token)
{
	size_t i;

	pthread_mutex_lock(&h->mu);
	for (i = 0; i < h->ntokens; i++)
		if (strcmp(h->tokens[i].token, token) == 0) {
			free(h->tokens[i].token);
			free(h->tokens[i].keyauth);
			h->tokens[i] = h->tokens[--h->ntokens];
			break;
		}
	pthread_mutex_unlock(&h->mu);
}

void
http01_stop(struct http01 *h)
{
	size_t i;

	if (h == NULL)
		return;
	if (h->fd >= 0) {
		(void)!write(h->wake[1], "x", 1);
		pthread_join(h->thread, NULL);
		close(h->fd);
		close(h->wake[0]);
		close(h->wake[1]);
	}
	for (i = 0; i < h->ntokens; i++) {
		free(h->tokens[i].token);
		free(h->tokens[i].keyauth);
	}
	pthread_mutex_destroy(&h->mu);
	free(h);
}

static int
token_path(const char *dir, const char *token, char *buf, size_t size)
{
	if (!b64url_valid(token))
		return -EINVAL;
	if ((size_t)snprintf(buf, size, "%s%s%s", dir, HTTP01_PREFIX, token) >= size)
		return -ENAMETOOLONG;
	return 0;
}

int
webroot_put(const char *dir, const char *token, const char *keyauth)
{
	char path[4096];
	int r;

	if ((r = token_path(dir, token, path, sizeof(path))) < 0)
		return r;
	*strrchr(path, '/') = '\0';
	if ((r = fs_mkdir_p(path, 0755)) < 0) {
		log_err("webroot: cannot create %s: %s", path, strerror(-r));
		return r;
	}
	token_path(dir, token, path, sizeof(path));
	if ((r = fs_write_atomic(path, keyauth, strlen(keyauth), 0644)) < 0)
		log_err("webroot: cannot write %s: %s", path, strerror(-r));
	return r;
}

void
webroot_remove(const char *dir, const char *token)
{
	char path[4096];

	if (token_path(dir, token, path, sizeof(path)) == 0)
		unlink(path);
}
