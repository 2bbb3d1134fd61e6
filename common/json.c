#include "json.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "log.h"

/* struct json is never defined: it is json_t seen through an opaque name. */
static json_t *
J(const struct json *j)
{
	return (json_t *)(uintptr_t)j;
}

static struct json *
W(const json_t *j)
{
	return (struct json *)(uintptr_t)j;
}

static bool
depth_ok(json_t *j, unsigned depth)
{
	const char *key;
	json_t *val;
	size_t i;

	if (depth > JSON_DEPTH_MAX)
		return false;
	if (json_is_object(j)) {
		json_object_foreach(j, key, val)
		{
			if (!depth_ok(val, depth + 1))
				return false;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, val)
		{
			if (!depth_ok(val, depth + 1))
				return false;
		}
	}
	return true;
}

int
json_parse(const char *text, size_t len, struct json **ret, char *err,
    size_t err_size)
{
	json_error_t jerr;
	json_t *root;

	if (len > JSON_TEXT_MAX) {
		if (err != NULL)
			snprintf(err, err_size, "JSON text of %zu bytes exceeds the %d byte cap", len, JSON_TEXT_MAX);
		return -E2BIG;
	}
	root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (root == NULL) {
		/* jansson quotes the offending input: escape it for the log. */
		char why[sizeof(jerr.text) * 4];

		if (err != NULL)
			snprintf(err, err_size, "bad JSON at line %d: %s", jerr.line,
			    log_escape(why, sizeof(why), jerr.text, strlen(jerr.text)));
		return -EINVAL;
	}
	if (!depth_ok(root, 0)) {
		json_decref(root);
		if (err != NULL)
			snprintf(err, err_size, "JSON nested deeper than %d", JSON_DEPTH_MAX);
		return -EINVAL;
	}
	*ret = W(root);
	return 0;
}

void
json_free(struct json *j)
{
	json_decref(J(j));
}

bool
json_is_obj(const struct json *j)
{
	return j != NULL && json_is_object(J(j));
}

const struct json *
json_get(const struct json *obj, const char *key)
{
	if (obj == NULL || !json_is_object(J(obj)))
		return NULL;
	return W(json_object_get(J(obj), key));
}

const char *
json_str(const struct json *j)
{
	if (j == NULL || !json_is_string(J(j)))
		return NULL;
	return json_string_value(J(j));
}

const char *
json_get_str(const struct json *obj, const char *key)
{
	return json_str(json_get(obj, key));
}

int
json_get_bool(const struct json *obj, const char *key)
{
	const struct json *v = json_get(obj, key);

	if (v == NULL || !json_is_boolean(J(v)))
		return -1;
	return json_is_true(J(v)) ? 1 : 0;
}

size_t
json_array_len(const struct json *arr)
{
	if (arr == NULL || !json_is_array(J(arr)))
		return 0;
	return json_array_size(J(arr));
}

const struct json *
json_array_at(const struct json *arr, size_t i)
{
	if (arr == NULL || !json_is_array(J(arr)))
		return NULL;
	return W(json_array_get(J(arr), i));
}

bool
json_object_next(const struct json *obj, void **iter, const char **ret_key,
    const struct json **ret_val)
{
	void *it;

	if (obj == NULL || !json_is_object(J(obj)))
		return false;
	it = *iter == NULL ? json_object_iter(J(obj))
			   : json_object_iter_next(J(obj), *iter);
	if (it == NULL)
		return false;
	*iter = it;
	*ret_key = json_object_iter_key(it);
	*ret_val = W(json_object_iter_value(it));
	return true;
}

struct json *
json_object_new(void)
{
	return W(json_object());
}

struct json *
json_array_new(void)
{
	return W(json_array());
}

struct json *
json_string_new(const char *s)
{
	return W(json_string(s));
}

struct json *
json_bool_new(bool b)
{
	return W(json_boolean(b));
}

struct json *
json_null_new(void)
{
	return W(json_null());
}

struct json *
json_string_or_null(const char *s)
{
	return s != NULL ? json_string_new(s) : json_null_new();
}

struct json *
json_int_new(long long v)
{
	return W(json_integer(v));
}

int
json_set(struct json *obj, const char *key, struct json *val)
{
	if (val == NULL || obj == NULL) {
		json_decref(J(val));
		return -ENOMEM;
	}
	return json_object_set_new(J(obj), key, J(val)) == 0 ? 0 : -ENOMEM;
}

int
json_set_str(struct json *obj, const char *key, const char *s)
{
	return json_set(obj, key, json_string_new(s));
}

int
json_append(struct json *arr, struct json *val)
{
	if (val == NULL || arr == NULL) {
		json_decref(J(val));
		return -ENOMEM;
	}
	return json_array_append_new(J(arr), J(val)) == 0 ? 0 : -ENOMEM;
}

char *
json_dump(const struct json *j, bool sorted)
{
	size_t flags = JSON_COMPACT | (sorted ? JSON_SORT_KEYS : 0);

	return json_dumps(J(j), flags);
}
