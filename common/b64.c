#include "b64.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static int
value_of(unsigned char c)
{
	if (c >= 'A' && c <= 'Z')
		return c - 'A';
	if (c >= 'a' && c <= 'z')
		return c - 'a' + 26;
	if (c >= '0' && c <= '9')
		return c - '0' + 52;
	if (c == '-')
		return 62;
	if (c == '_')
		return 63;
	return -1;
}

int
b64url_encode(const void *in, size_t len, char **ret)
{
	const unsigned char *p = in;
	size_t i, o = 0;
	char *out;

	if ((out = malloc(len / 3 * 4 + 5)) == NULL)
		return -ENOMEM;
	for (i = 0; i + 2 < len; i += 3) {
		unsigned long v = (unsigned long)p[i] << 16 | p[i + 1] << 8 | p[i + 2];

		out[o++] = alphabet[v >> 18 & 63];
		out[o++] = alphabet[v >> 12 & 63];
		out[o++] = alphabet[v >> 6 & 63];
		out[o++] = alphabet[v & 63];
	}
	if (len - i == 1) {
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[(p[i] & 3) << 4];
	} else if (len - i == 2) {
		out[o++] = alphabet[p[i] >> 2];
		out[o++] = alphabet[(p[i] & 3) << 4 | p[i + 1] >> 4];
		out[o++] = alphabet[(p[i + 1] & 15) << 2];
	}
	out[o] = '\0';
	*ret = out;
	return 0;
}

int
b64url_decode(const char *in, unsigned char **ret, size_t *ret_len)
{
	size_t len = strlen(in), i, o = 0;
	unsigned long acc = 0;
	unsigned bits = 0;
	unsigned char *out;

	if (len % 4 == 1)
		return -EINVAL;
	if ((out = malloc(len / 4 * 3 + 3)) == NULL)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		int v = value_of((unsigned char)in[i]);

		if (v < 0) {
			free(out);
			return -EINVAL;
		}
		acc = (acc << 6 | (unsigned long)v) & 0xffffff;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (unsigned char)(acc >> bits);
		}
	}
	/* Leftover bits must be zero in canonical encoding. */
	if (bits > 0 && (acc & ((1UL << bits) - 1)) != 0) {
		free(out);
		return -EINVAL;
	}
	*ret = out;
	*ret_len = o;
	return 0;
}

bool
b64url_valid(const char *s)
{
	if (s == NULL || *s == '\0')
		return false;
	for (; *s != '\0'; s++)
		if (value_of((unsigned char)*s) < 0)
			return false;
	return true;
}
