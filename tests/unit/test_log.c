/* log_escape(): escaping of untrusted bytes, truncation, no overflow. */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "t.h"

#define CANARY 0x5a

static const struct {
	const char *src;
	size_t src_len;
	const char *want;
} rows[] = {
    {"hello", 5, "hello"}, {"", 0, ""}, {"a\nb", 3, "a\\x0ab"},
    {"\r\t", 2, "\\x0d\\x09"}, {"\x1b[31mred", 8, "\\x1b[31mred"},
    {"del\x7f", 4, "del\\x7f"}, {"\x80\xff", 2, "\\x80\\xff"},
    {"caf\xc3\xa9", 5, "caf\\xc3\\xa9"}, {"back\\slash", 10, "back\\x5cslash"},
    {"nul\0byte", 8, "nul\\x00byte"},
    {"~ !\"", 4, "~ !\""},    /* printable ASCII edges stay */
    {"only part", 4, "only"}, /* src_len, not strlen */
};

static void
test_escape(void)
{
	char dst[64];
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		T_CHECK(log_escape(dst, sizeof(dst), rows[i].src,
			    rows[i].src_len) == dst);
		T_STREQ(dst, rows[i].want);
	}
}

/* Output that fits exactly is not truncated; one byte less is. */
static void
test_fit(void)
{
	char dst[32];

	log_escape(dst, 6, "hello", 5);
	T_STREQ(dst, "hello");
	log_escape(dst, 5, "hello", 5);
	T_STREQ(dst, "h...");
	log_escape(dst, 9, "a\nb", 3);
	T_STREQ(dst, "a\\x0ab");
	log_escape(dst, 7, "a\nb", 3);
	T_STREQ(dst, "a\\x0ab");
	log_escape(dst, 6, "a\nb", 3);
	T_STREQ(dst, "a...");
	log_escape(dst, 12, "0123456789abcdef", 16);
	T_STREQ(dst, "01234567...");
	/* Never split an escape: "\x0" would be a lie. */
	log_escape(dst, 9, "ab\n\n\n", 5);
	T_STREQ(dst, "ab...");
}

/* True if cutting the escaped text "full" after "k" bytes splits no "\xNN". */
static bool
cut_ok(const char *full, size_t k)
{
	size_t j;

	for (j = k >= 3 ? k - 3 : 0; j < k; j++)
		if (full[j] == '\\')
			return false;
	return true;
}

/*
 * Every buffer size from 0 to 40 on a long input mixing plain and escaped
 * bytes: nothing written past dst_size, always terminated, "..." when cut,
 * and what precedes "..." is a prefix of the full escaped text.
 */
static void
test_all_sizes(void)
{
	static const char src[] =
	    "GET /\x1b[2J\\evil\nHost: x\xff\xfe and some more plain text here";
	char full[512], buf[64];
	size_t size, n, src_len = sizeof(src) - 1;

	log_escape(full, sizeof(full), src, src_len);
	T_CHECK(strlen(full) > 40);
	T_CHECK(
	    strstr(full, "\\x1b[2J\\x5cevil\\x0aHost: x\\xff\\xfe") != NULL);
	for (size = 0; size <= 40; size++) {
		bool canaries_ok = true;

		memset(buf, CANARY, sizeof(buf));
		log_escape(buf, size, src, src_len);
		for (n = size; n < sizeof(buf); n++)
			if ((unsigned char)buf[n] != CANARY)
				canaries_ok = false;
		T_CHECK(canaries_ok);
		if (size == 0) {
			T_CHECK((unsigned char)buf[0] == CANARY);
			continue;
		}
		n = strnlen(buf, size);
		T_CHECK(n < size);
		if (size >= 4) {
			T_CHECK(n >= 3 && strcmp(buf + n - 3, "...") == 0);
			T_CHECK(strncmp(buf, full, n - 3) == 0);
			T_CHECK(cut_ok(full, n - 3));
		}
	}
}

int
main(void)
{
	test_escape();
	test_fit();
	test_all_sizes();
	return T_DONE();
}
