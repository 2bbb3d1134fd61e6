/*
 * Thin wrapper over jansson, the only file that includes <jansson.h>.
 * Decoding caps size and depth and rejects duplicate keys; all JSON text
 * we send is produced here (never by printf).  Getters return borrowed
 * pointers valid while the root they came from lives.
 */
#ifndef ACMED_JSON_H
#define ACMED_JSON_H

#include <stdbool.h>
#include <stddef.h>

#define JSON_TEXT_MAX (1024 * 1024)
#define JSON_DEPTH_MAX 32

struct json;

/*
 * Parse "len" bytes.  Returns 0 and a new root in "ret" (json_free()), or
 * -EINVAL (bad JSON, duplicate key, too deep), -E2BIG, -ENOMEM.  "err"
 * (may be NULL) gets a short reason.
 */
int json_parse(const char *text, size_t len, struct json **ret, char *err,
    size_t err_size);
void json_free(struct json *j);

bool json_is_obj(const struct json *j);
const struct json *json_get(const struct json *obj, const char *key);
/* String member, or NULL if missing or not a string. */
const char *json_get_str(const struct json *obj, const char *key);
/* The string value of "j", or NULL. */
const char *json_str(const struct json *j);
/* Boolean member: 1 true, 0 false, -1 missing or not a boolean. */
int json_get_bool(const struct json *obj, const char *key);
/* Array length (0 if not an array) and element access. */
size_t json_array_len(const struct json *arr);
const struct json *json_array_at(const struct json *arr, size_t i);
/* Iterate an object: start with *iter = NULL; returns false at the end. */
bool json_object_next(const struct json *obj, void **iter, const char **ret_key,
    const struct json **ret_val);

/* Builders.  Setters and appenders take ownership of "val" even on error. */
struct json *json_object_new(void);
struct json *json_array_new(void);
struct json *json_string_new(const char *s);
struct json *json_bool_new(bool b);
struct json *json_null_new(void);
/* A string, or null for NULL. */
struct json *json_string_or_null(const char *s);
struct json *json_int_new(long long v);
int json_set(struct json *obj, const char *key, struct json *val);
int json_set_str(struct json *obj, const char *key, const char *s);
int json_append(struct json *arr, struct json *val);

/* Compact text (keys sorted when "sorted"); caller frees.  NULL on OOM. */
char *json_dump(const struct json *j, bool sorted);

#endif
