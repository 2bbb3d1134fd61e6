/*
 * http_links(): Link header values (RFC 8288) as ACME servers send them for
 * alternate chains (RFC 8555 7.4.2): several headers, comma lists, quoted
 * and unquoted rel, rel lists, and junk that must not break the parser.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "t.h"

#define MAXU 8

struct got {
	char *urls[MAXU + 4];
	size_t n;
	int r;
};

static void
got_fini(struct got *g)
{
	size_t i;

	for (i = 0; i < g->n; i++)
		free(g->urls[i]);
	g->n = 0;
}

/* http_links() over writable copies of "values". */
static void
links(const char *const *values, size_t nvalues, const char *rel, size_t max, struct got *g)
{
	char *copies[16] = {NULL};
	size_t i;

	memset(g, 0, sizeof(*g));
	for (i = 0; i < nvalues && i < 16; i++)
		copies[i] = strdup(values[i]);
	g->r = http_links(copies, nvalues, rel, g->urls, max, &g->n);
	for (i = 0; i < nvalues && i < 16; i++)
		free(copies[i]);
}

/* Links of "rel" in the values, joined by " " ("" for none). */
static const char *
joined(const char *const *values, size_t nvalues, const char *rel)
{
	static char out[2048];
	struct got g;
	size_t i, o = 0;

	links(values, nvalues, rel, MAXU, &g);
	out[0] = '\0';
	if (g.r < 0)
		snprintf(out, sizeof(out), "error %d", g.r);
	for (i = 0; g.r == 0 && i < g.n; i++)
		o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", i ? " " : "", g.urls[i]);
	got_fini(&g);
	return out;
}

#define ONE(v, rel) joined((const char *[]){(v)}, 1, rel)

static void
test_single(void)
{
	/* Pebble's form, and Boulder's. */
	T_STREQ(ONE("<https://ca/cert/1/alternate/1>;rel=\"alternate\"", "alternate"), "https://ca/cert/1/alternate/1");
	T_STREQ(ONE("<https://ca/dir>;rel=\"index\"", "alternate"), "");
	T_STREQ(ONE("<https://ca/dir>;rel=\"index\"", "index"), "https://ca/dir");
	/* Unquoted rel, spaces around ';' and '=', case of "rel" and the value. */
	T_STREQ(ONE("<https://a/1>; rel=alternate", "alternate"), "https://a/1");
	T_STREQ(ONE("<https://a/1> ; REL = \"Alternate\"", "alternate"), "https://a/1");
	/* Other parameters before and after rel. */
	T_STREQ(ONE("<https://a/1>; title=\"x; y, z\"; rel=\"alternate\"; type=\"application/pem\"", "alternate"), "https://a/1");
	/* A rel that merely contains the word is not a match. */
	T_STREQ(ONE("<https://a/1>;rel=\"alternates\"", "alternate"), "");
	T_STREQ(ONE("<https://a/1>;rel=\"not-alternate\"", "alternate"), "");
	T_STREQ(ONE("<https://a/1>;relx=\"alternate\"", "alternate"), "");
	T_STREQ(ONE("<https://a/1>", "alternate"), "");
}

static void
test_lists(void)
{
	/* A comma list in one header. */
	T_STREQ(ONE("<https://a/1>;rel=\"alternate\", <https://a/dir>;rel=\"index\",<https://a/2>; rel=alternate", "alternate"),
	    "https://a/1 https://a/2");
	/* rel lists: "up alternate" matches both tokens. */
	T_STREQ(ONE("<https://a/1>;rel=\"up alternate\"", "alternate"), "https://a/1");
	T_STREQ(ONE("<https://a/1>;rel=\"up alternate\"", "up"), "https://a/1");
	T_STREQ(ONE("<https://a/1>;rel=\"up  alternate \"", "alternate"), "https://a/1");
	T_STREQ(ONE("<https://a/1>;rel=\"up index\"", "alternate"), "");
	/* A comma inside a quoted parameter does not split the link. */
	T_STREQ(ONE("<https://a/1>;title=\"a, <https://evil/>;rel=alternate\";rel=index, <https://a/2>;rel=alternate", "alternate"),
	    "https://a/2");
}

static void
test_several_headers(void)
{
	const char *v[] = {
	    "<https://a/dir>;rel=\"index\"",
	    "<https://a/alt/1>;rel=\"alternate\"",
	    "<https://a/alt/2>;rel=\"alternate\", <https://a/alt/3>;rel=\"alternate\"",
	    "<https://a/up>;rel=\"up\"",
	};

	T_STREQ(joined(v, 4, "alternate"), "https://a/alt/1 https://a/alt/2 https://a/alt/3");
	T_STREQ(joined(v, 4, "up"), "https://a/up");
	T_STREQ(joined(v, 0, "alternate"), "");
}

static void
test_junk(void)
{
	const char *v[] = {
	    "garbage without brackets",
	    "<https://a/unterminated;rel=alternate",
	    "",
	    ",,, ,",
	    "<https://a/ok>;rel=\"alternate\"",
	    "<https://a/q>;rel=\"alternate",
	    ";;;rel=alternate",
	    "<https://a/x>;rel",
	    "<https://a/y>;=alternate;rel=",
	    "<https://a/z>;rel=\"alternate\" junk, <https://a/w>;rel=alternate",
	};
	struct got g;
	size_t i;
	bool has_ok = false, has_y = false;

	links(v, sizeof(v) / sizeof(v[0]), "alternate", MAXU, &g);
	T_CHECK(g.r == 0);
	for (i = 0; i < g.n; i++) {
		T_CHECK(g.urls[i] != NULL && strncmp(g.urls[i], "https://a/", 10) == 0);
		if (strcmp(g.urls[i], "https://a/ok") == 0)
			has_ok = true;
		if (strcmp(g.urls[i], "https://a/y") == 0 || strcmp(g.urls[i], "https://a/x") == 0)
			has_y = true;
	}
	/* The good one survives the junk around it; rel without a value is no match. */
	T_CHECK(has_ok);
	T_CHECK(!has_y);
	got_fini(&g);
	/* Junk at the start of a header does not hide later headers. */
	{
		const char *w[] = {"junk", "<https://a/2>;rel=alternate"};
		T_STREQ(joined(w, 2, "alternate"), "https://a/2");
	}
	/* An empty target is taken literally (the caller checks URLs). */
	T_STREQ(ONE("<>;rel=alternate", "alternate"), "");
}

static void
test_max(void)
{
	const char *v[] = {"<https://a/1>;rel=alternate, <https://a/2>;rel=alternate, <https://a/3>;rel=alternate",
	    "<https://a/4>;rel=alternate"};
	struct got g;

	/* At most "max" are added, and they are the first ones. */
	links(v, 2, "alternate", 2, &g);
	T_CHECK(g.r == 0 && g.n == 2);
	T_STREQ(g.n > 0 ? g.urls[0] : NULL, "https://a/1");
	T_STREQ(g.n > 1 ? g.urls[1] : NULL, "https://a/2");
	got_fini(&g);
	links(v, 2, "alternate", 0, &g);
	T_CHECK(g.r == 0 && g.n == 0);
	got_fini(&g);
	/* "n" is appended to, not reset: two calls fill one array. */
	{
		char *urls[4] = {NULL}, a[128], b[64];
		char *first[] = {a}, *second[] = {b};
		size_t n = 0, i;

		snprintf(a, sizeof(a), "%s", v[0]);
		snprintf(b, sizeof(b), "%s", v[1]);
		T_CHECK(http_links(first, 1, "alternate", urls, 1, &n) == 0 && n == 1);
		T_CHECK(http_links(second, 1, "alternate", urls, 1, &n) == 0 && n == 2);
		T_STREQ(urls[0], "https://a/1");
		T_STREQ(urls[1], "https://a/4");
		for (i = 0; i < n; i++)
			free(urls[i]);
	}
}

/* http_parse_header(): raw header lines as curl hands them over. */
static void
test_header_lines(void)
{
	static const char *const lines[] = {
	    "HTTP/1.1 201 Created\r\n",
	    "replay-nonce:   abc_DEF-1 \r\n",
	    "Location: https://ca/acct/1\r\n",
	    "Link: <https://ca/dir>;rel=\"index\"\r\n",
	    "Retry-After: 120\r\n",
	    "X-Other: whatever\r\n",
	    "no colon at all\r\n",
	    "Location:\r\n",
	};
	struct http_resp r = {0};
	char *big;
	size_t i;

	for (i = 0; i < sizeof(lines) / sizeof(lines[0]); i++)
		T_CHECK(http_parse_header(&r, lines[i], strlen(lines[i])) == 0);
	T_STREQ(r.replay_nonce, "abc_DEF-1");
	T_STREQ(r.location, ""); /* the last one wins, even if empty */
	T_STREQ(r.retry_after, "120");
	T_CHECK(r.nlinks == 1);
	T_STREQ(r.links[0], "<https://ca/dir>;rel=\"index\"");
	for (i = 0; i < HTTP_LINKS_MAX + 3; i++)
		T_CHECK(http_parse_header(&r, "Link: <x>\r\n", 11) == 0);
	T_CHECK(r.nlinks == HTTP_LINKS_MAX);
	/* The cap is the parser's: an over-long line is refused, not stored. */
	if ((big = malloc(HTTP_HEADER_MAX + 1)) != NULL) {
		memset(big, 'a', HTTP_HEADER_MAX + 1);
		memcpy(big, "Retry-After:", 12);
		T_CHECK(http_parse_header(&r, big, HTTP_HEADER_MAX + 1) == -E2BIG);
		T_STREQ(r.retry_after, "120");
		T_CHECK(http_parse_header(&r, big, HTTP_HEADER_MAX) == 0);
		T_CHECK(r.retry_after != NULL && strlen(r.retry_after) == HTTP_HEADER_MAX - 12);
		free(big);
	}
	/* The final response after "100 Continue" brings its own headers. */
	T_CHECK(http_parse_header(&r, "HTTP/1.1 200 OK\r\n", 17) == 0);
	T_CHECK(r.replay_nonce == NULL && r.location == NULL && r.retry_after == NULL && r.nlinks == 0);
	T_CHECK(http_parse_header(&r, "Location: https://ca/2\r\n", 24) == 0);
	T_STREQ(r.location, "https://ca/2");
	free(r.replay_nonce);
	free(r.location);
	free(r.retry_after);
	for (i = 0; i < r.nlinks; i++)
		free(r.links[i]);
}

int
main(void)
{
	test_header_lines();
	test_single();
	test_lists();
	test_several_headers();
	test_junk();
	test_max();
	return T_DONE();
}
