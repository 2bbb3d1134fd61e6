/* http-01: the built-in responder (answers and a real socket) and webroot. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "challenge.h"
#include "fs.h"
#include "t.h"

#define LISTEN "127.0.0.1:18099"
#define PORT 18099
#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define TOKEN2 "DGyRejmCefe7v4NfDGDKfA"
#define KEYAUTH TOKEN ".nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
#define KEYAUTH2 TOKEN2 ".nP1qzpXGymHBrUEepNY9HCsQk7K8KhOypzEt62jcerQ"
#define GET(path) "GET " path " HTTP/1.1\r\nHost: www.example.org\r\n\r\n"

static void
test_answers(struct http01 *h)
{
	static const struct {
		const char *req;
		int status;
		const char *body; /* NULL: don't care */
	} rows[] = {
	    {GET(HTTP01_PREFIX TOKEN), 200, KEYAUTH},
	    {GET(HTTP01_PREFIX TOKEN2), 200, KEYAUTH2},
	    {"GET " HTTP01_PREFIX TOKEN " HTTP/1.0\n\n", 200, KEYAUTH},
	    {GET(HTTP01_PREFIX "unknownTOKEN"), 404, NULL},
	    {GET(HTTP01_PREFIX), 404, NULL},
	    {GET(HTTP01_PREFIX "../" TOKEN), 404, NULL},
	    {GET(HTTP01_PREFIX "..%2f" TOKEN), 404, NULL},
	    {GET(HTTP01_PREFIX "%2e%2e"), 404, NULL},
	    {GET(HTTP01_PREFIX TOKEN "/../" TOKEN), 404, NULL},
	    {GET(HTTP01_PREFIX TOKEN "?x=1"), 404, NULL},
	    {GET("/.well-known/acme-challenge" TOKEN), 404, NULL},
	    {GET("/" TOKEN), 404, NULL},
	    {GET("/.well-known/ACME-CHALLENGE/" TOKEN), 404, NULL},
	    {"POST " HTTP01_PREFIX TOKEN " HTTP/1.1\r\n\r\n", 405, NULL},
	    {"PUT " HTTP01_PREFIX TOKEN " HTTP/1.1\r\n\r\n", 405, NULL},
	    {"get " HTTP01_PREFIX TOKEN " HTTP/1.1\r\n\r\n", 405, NULL},
	    {"garbage", 405, NULL}, {"", 405, NULL},
	    {"GET " HTTP01_PREFIX TOKEN, 400, NULL}, /* no end of the target */
	};
	char body[600];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		int st;

		memset(body, 'x', sizeof(body));
		st = http01_answer(
		    h, rows[i].req, strlen(rows[i].req), body, sizeof(body));
		if (st != rows[i].status)
			fprintf(stderr, "request %zu \"%.60s\": status %d\n", i,
			    rows[i].req, st);
		T_CHECK(st == rows[i].status);
		T_CHECK(memchr(body, '\0', sizeof(body)) != NULL);
		if (rows[i].body != NULL)
			T_STREQ(body, rows[i].body);
		else
			T_CHECK(strstr(body, TOKEN) ==
			    NULL); /* no key authorization leaks */
	}
}

/* "len" is honoured: the space after the target lies beyond it. */
static void
test_answer_len(struct http01 *h)
{
	static const char req[] = GET(HTTP01_PREFIX TOKEN);
	char body[600];

	T_CHECK(http01_answer(h, req, strlen(req), body, sizeof(body)) == 200);
	T_CHECK(http01_answer(h, req, 4 + strlen(HTTP01_PREFIX TOKEN), body,
		    sizeof(body)) == 400);
	T_CHECK(http01_answer(h, req, 3, body, sizeof(body)) == 405);
	/* A small body buffer is never overrun. */
	memset(body, 'x', sizeof(body));
	T_CHECK(http01_answer(h, req, strlen(req), body, 10) == 200);
	T_CHECK(strlen(body) == 9 && strncmp(body, KEYAUTH, 9) == 0);
	T_CHECK(body[10] == 'x');
}

/* Without a listen address: no socket, same answers, and a size cap. */
static void
test_memory_only(void)
{
	static const char req[] = GET(HTTP01_PREFIX TOKEN);
	struct http01 *h = NULL;
	char body[600], *big;

	T_CHECK(http01_start(NULL, &h) == 0 && h != NULL);
	if (h == NULL)
		return;
	T_CHECK(http01_add(h, TOKEN, KEYAUTH) == 0);
	T_CHECK(http01_answer(h, req, strlen(req), body, sizeof(body)) == 200);
	T_STREQ(body, KEYAUTH);
	if ((big = malloc(HTTP01_REQUEST_MAX + 1)) != NULL) {
		memset(big, ' ', HTTP01_REQUEST_MAX + 1);
		memcpy(big, req, strlen(req));
		T_CHECK(http01_answer(h, big, HTTP01_REQUEST_MAX, body, sizeof(body)) == 200);
		T_CHECK(http01_answer(h, big, HTTP01_REQUEST_MAX + 1, body, sizeof(body)) == 400);
		T_CHECK(strstr(body, TOKEN) == NULL);
		free(big);
	}
	/* A NUL inside the target is not the token's path (a fuzz harness finding). */
	{
		static const char nul[] = "GET " HTTP01_PREFIX TOKEN "\0x HTTP/1.1\r\n\r\n";

		T_CHECK(http01_answer(h, nul, sizeof(nul) - 1, body, sizeof(body)) == 400);
		T_CHECK(strstr(body, TOKEN) == NULL);
	}
	http01_stop(h);
}

/* Send "req" over TCP and read the whole response into "out". */
static bool
roundtrip(const char *req, char *out, size_t size)
{
	struct sockaddr_in sin = {
	    .sin_family = AF_INET, .sin_port = htons(PORT)};
	struct timeval tv = {.tv_sec = 5};
	size_t got = 0;
	ssize_t n;
	int fd;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return false;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req)) {
		close(fd);
		return false;
	}
	while (got + 1 < size && (n = read(fd, out + got, size - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return got > 0;
}

static void
test_socket(void)
{
	char resp[2048], want[128];

	T_CHECK(roundtrip(GET(HTTP01_PREFIX TOKEN), resp, sizeof(resp)));
	T_CHECK(strncmp(resp, "HTTP/1.1 200 OK\r\n", 17) == 0);
	snprintf(
	    want, sizeof(want), "\r\nContent-Length: %zu\r\n", strlen(KEYAUTH));
	T_CHECK(strstr(resp, want) != NULL);
	T_CHECK(strstr(resp, "\r\n\r\n" KEYAUTH) != NULL);
	T_CHECK(strlen(resp) >= strlen(KEYAUTH) &&
	    strcmp(resp + strlen(resp) - strlen(KEYAUTH), KEYAUTH) == 0);

	T_CHECK(roundtrip(GET(HTTP01_PREFIX "nope"), resp, sizeof(resp)));
	T_CHECK(strncmp(resp, "HTTP/1.1 404 ", 13) == 0);
	T_CHECK(strstr(resp, KEYAUTH) == NULL);
	T_CHECK(roundtrip("DELETE / HTTP/1.1\r\n\r\n", resp, sizeof(resp)));
	T_CHECK(strncmp(resp, "HTTP/1.1 405 ", 13) == 0);
}

static void
test_responder(void)
{
	struct http01 *h = NULL;
	char body[600];

	T_CHECK(http01_start("127.0.0.1", &h) == -EINVAL && h == NULL);
	T_CHECK(http01_start("127.0.0.1:0", &h) == -EINVAL && h == NULL);
	T_CHECK(http01_start("127.0.0.1:99999", &h) == -EINVAL && h == NULL);
	T_CHECK(http01_start("[::1:18099", &h) == -EINVAL && h == NULL);
	T_CHECK(http01_start("example.org:80", &h) == -EINVAL && h == NULL);

	T_CHECK(http01_start(LISTEN, &h) == 0);
	if (h == NULL)
		return;
	T_STREQ(http01_address(h), LISTEN);
	T_CHECK(http01_add(h, TOKEN, KEYAUTH) == 0);
	T_CHECK(http01_add(h, TOKEN2, KEYAUTH2) == 0);
	test_answers(h);
	test_answer_len(h);
	test_socket();

	/* Removed tokens are no longer served; others still are. */
	http01_remove(h, TOKEN);
	T_CHECK(
	    http01_answer(h, GET(HTTP01_PREFIX TOKEN),
		strlen(GET(HTTP01_PREFIX TOKEN)), body, sizeof(body)) == 404);
	T_CHECK(
	    http01_answer(h, GET(HTTP01_PREFIX TOKEN2),
		strlen(GET(HTTP01_PREFIX TOKEN2)), body, sizeof(body)) == 200);
	http01_remove(h, "never-added");
	http01_stop(h);
	http01_stop(NULL);
}

static size_t
entries(const char *dir)
{
	struct dirent *de;
	size_t n = 0;
	DIR *d;

	if ((d = opendir(dir)) == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (strcmp(de->d_name, ".") != 0 &&
		    strcmp(de->d_name, "..") != 0)
			n++;
	closedir(d);
	return n;
}

static void
test_webroot(void)
{
	char dir[] = "/tmp/acmed-test-webroot-XXXXXX", path[256], sub[256],
	     *data = NULL;
	struct stat st;
	size_t len = 0;
	mode_t old = umask(077); /* the mode must not depend on the umask */

	T_CHECK(mkdtemp(dir) != NULL);
	if (access(dir, W_OK) < 0) {
		umask(old);
		return;
	}
	/* Hostile tokens are refused and create nothing at all. */
	T_CHECK(webroot_put(dir, "../x", "evil") == -EINVAL);
	T_CHECK(webroot_put(dir, "a/b", "evil") == -EINVAL);
	T_CHECK(webroot_put(dir, "", "evil") == -EINVAL);
	T_CHECK(entries(dir) == 0);

	T_CHECK(webroot_put(dir, TOKEN, KEYAUTH) == 0);
	snprintf(path, sizeof(path), "%s" HTTP01_PREFIX TOKEN, dir);
	T_CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & 07777) == 0644);
	T_CHECK(fs_read_file(path, 4096, &data, &len) == 0);
	T_CHECK(len == strlen(KEYAUTH) && data != NULL &&
	    strcmp(data, KEYAUTH) == 0);
	free(data);
	/* The directories are readable by the web server too. */
	snprintf(sub, sizeof(sub), "%s/.well-known/acme-challenge", dir);
	T_CHECK(stat(sub, &st) == 0 && (st.st_mode & 0555) == 0555);
	T_CHECK(entries(sub) == 1); /* no temporary file left behind */

	/* Rewriting replaces; removing removes; removing twice is harmless. */
	T_CHECK(webroot_put(dir, TOKEN, KEYAUTH2) == 0);
	T_CHECK(fs_read_file(path, 4096, &data, &len) == 0 &&
	    strcmp(data, KEYAUTH2) == 0);
	free(data);
	webroot_remove(dir, TOKEN);
	T_CHECK(stat(path, &st) < 0 && errno == ENOENT);
	webroot_remove(dir, TOKEN);
	webroot_remove(dir, "../x");
	T_CHECK(entries(sub) == 0);

	rmdir(sub);
	snprintf(sub, sizeof(sub), "%s/.well-known", dir);
	rmdir(sub);
	T_CHECK(rmdir(dir) == 0);
	umask(old);
}

int
main(void)
{
	test_memory_only();
	test_responder();
	test_webroot();
	return T_DONE();
}
