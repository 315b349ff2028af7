/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "shared/strbuf.h"

/* Minimal streaming JSON writer: tracks whether a comma is due at each
 * nesting level so callers only say what to emit. Output is compact
 * unless `pretty` is set (two-space indentation). */
#define JSON_MAX_DEPTH 32

struct json_writer {
	struct strbuf out;
	int depth;
	bool need_comma[JSON_MAX_DEPTH];
	bool after_key;
	bool pretty;
};

void json_init(struct json_writer *w, bool pretty);
void json_release(struct json_writer *w);
void json_begin_object(struct json_writer *w);
void json_end_object(struct json_writer *w);
void json_begin_array(struct json_writer *w);
void json_end_array(struct json_writer *w);
void json_key(struct json_writer *w, const char *key);
void json_string(struct json_writer *w, const char *s); /* NULL -> null */
void json_int(struct json_writer *w, int64_t v);
void json_bool(struct json_writer *w, bool v);
void json_null(struct json_writer *w);

/* key + value shorthands */
void json_kv_string(struct json_writer *w, const char *key, const char *s);
void json_kv_int(struct json_writer *w, const char *key, int64_t v);
void json_kv_bool(struct json_writer *w, const char *key, bool v);
/* "key": [ v[0], ... ]: n strings at most, ending early at a NULL entry (SIZE_MAX for a
 * NULL-terminated vector); v == NULL gives []. */
void json_kv_strv(struct json_writer *w, const char *key, char *const *v, size_t n);

/* Appends the JSON escaping of s (without quotes) to b. */
void json_escape(struct strbuf *b, const char *s);
const char *json_str(const struct json_writer *w);
