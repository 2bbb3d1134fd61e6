/* base64url without padding (RFC 4648 section 5, RFC 8555 section 6.1). */
#ifndef ACMED_B64_H
#define ACMED_B64_H

#include <stdbool.h>
#include <stddef.h>

/*
 * Encode "len" bytes of "in"; on success store a NUL-terminated string in
 * "ret" (caller frees) and return 0; -ENOMEM on failure.
 */
int b64url_encode(const void *in, size_t len, char **ret);

/*
 * Decode base64url text (no padding, no whitespace).  On success store a
 * buffer in "ret" (caller frees) and its length in "ret_len".  Returns
 * -EINVAL on any character outside the alphabet or an impossible length.
 */
int b64url_decode(const char *in, unsigned char **ret, size_t *ret_len);

/* True if "s" is non-empty and made only of base64url characters. */
bool b64url_valid(const char *s);

#endif
