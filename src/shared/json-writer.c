/* SPDX-License-Identifier: Apache-2.0 */
#include <inttypes.h>
#include <string.h>

#include "shared/json-writer.h"

void json_init(struct json_writer *w, bool pretty)
{
	memset(w, 0, sizeof(*w));
	strbuf_init(&w->out);
	w->pretty = pretty;
}

void json_release(struct json_writer *w)
{
	strbuf_release(&w->out);
}

static void json_newline(struct json_writer *w)
{
	if (!w->pretty)
		return;
	strbuf_putc(&w->out, '\n');
	for (int i = 0; i < w->depth; i++)
		strbuf_puts(&w->out, "  ");
}

/* Emit the separator that must precede a new value at this level. */
static void json_prefix(struct json_writer *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		strbuf_putc(&w->out, ',');
	if (w->depth > 0)
		json_newline(w);
	w->need_comma[w->depth] = true;
}

static void json_open(struct json_writer *w, char c)
{
	json_prefix(w);
	strbuf_putc(&w->out, c);
	if (w->depth + 1 < JSON_MAX_DEPTH)
		w->depth++;
	w->need_comma[w->depth] = false;
}

static void json_close(struct json_writer *w, char c)
{
	bool had = w->need_comma[w->depth];

	if (w->depth > 0)
		w->depth--;
	if (had)
		json_newline(w);
	strbuf_putc(&w->out, c);
}

void json_begin_object(struct json_writer *w)
{
	json_open(w, '{');
}

void json_end_object(struct json_writer *w)
{
	json_close(w, '}');
}

void json_begin_array(struct json_writer *w)
{
	json_open(w, '[');
}

void json_end_array(struct json_writer *w)
{
	json_close(w, ']');
}

void json_escape(struct strbuf *b, const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
		switch (*p) {
		case '"':
			strbuf_puts(b, "\\\"");
			break;
		case '\\':
			strbuf_puts(b, "\\\\");
			break;
		case '\n':
			strbuf_puts(b, "\\n");
			break;
		case '\r':
			strbuf_puts(b, "\\r");
			break;
		case '\t':
			strbuf_puts(b, "\\t");
			break;
		default:
			if (*p < 0x20 || *p == 0x7f)
				strbuf_printf(b, "\\u%04x", *p);
			else
				strbuf_putc(b, (char)*p);
		}
	}
}

void json_key(struct json_writer *w, const char *key)
{
	json_prefix(w);
	strbuf_putc(&w->out, '"');
	json_escape(&w->out, key);
	strbuf_puts(&w->out, w->pretty ? "\": " : "\":");
	w->after_key = true;
}

void json_string(struct json_writer *w, const char *s)
{
	if (!s) {
		json_null(w);
		return;
	}
	json_prefix(w);
	strbuf_putc(&w->out, '"');
	json_escape(&w->out, s);
	strbuf_putc(&w->out, '"');
}

void json_int(struct json_writer *w, int64_t v)
{
	json_prefix(w);
	strbuf_printf(&w->out, "%" PRId64, v);
}

void json_bool(struct json_writer *w, bool v)
{
	json_prefix(w);
	strbuf_puts(&w->out, v ? "true" : "false");
}

void json_null(struct json_writer *w)
{
	json_prefix(w);
	strbuf_puts(&w->out, "null");
}

void json_kv_string(struct json_writer *w, const char *key, const char *s)
{
	json_key(w, key);
	json_string(w, s);
}

void json_kv_int(struct json_writer *w, const char *key, int64_t v)
{
	json_key(w, key);
	json_int(w, v);
}

void json_kv_bool(struct json_writer *w, const char *key, bool v)
{
	json_key(w, key);
	json_bool(w, v);
}

void json_kv_strv(struct json_writer *w, const char *key, char *const *v, size_t n)
{
	json_key(w, key);
	json_begin_array(w);
	for (size_t i = 0; v && i < n && v[i]; i++)
		json_string(w, v[i]);
	json_end_array(w);
}

const char *json_str(const struct json_writer *w)
{
	return strbuf_str(&w->out);
}
