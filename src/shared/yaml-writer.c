/* SPDX-License-Identifier: Apache-2.0 */
#include <stdarg.h>
#include <string.h>

#include "shared/json-writer.h"
#include "shared/yaml-writer.h"

void yaml_indent(struct strbuf *b, int level)
{
	strbuf_printf(b, "%*s", 2 * level, "");
}

static void key(struct strbuf *b, const char *k)
{
	if (*k && strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ01234567"
			    "89._/-") == strlen(k))
		strbuf_puts(b, k);
	else
		yaml_str(b, k);
	strbuf_puts(b, ":");
}

void yaml_str(struct strbuf *b, const char *s)
{
	strbuf_putc(b, '"');
	json_escape(b, s ? s : "");
	strbuf_putc(b, '"');
}

void yaml_key(struct strbuf *b, int level, const char *k)
{
	yaml_indent(b, level);
	key(b, k);
	strbuf_putc(b, '\n');
}

void yaml_kv(struct strbuf *b, int level, const char *k, const char *value)
{
	yaml_indent(b, level);
	key(b, k);
	strbuf_putc(b, ' ');
	yaml_str(b, value);
	strbuf_putc(b, '\n');
}

void yaml_kraw(struct strbuf *b, int level, const char *k, const char *fmt, ...)
{
	va_list ap;

	yaml_indent(b, level);
	key(b, k);
	strbuf_putc(b, ' ');
	va_start(ap, fmt);
	strbuf_vprintf(b, fmt, ap);
	va_end(ap);
	strbuf_putc(b, '\n');
}

void yaml_kflow(struct strbuf *b, int level, const char *k, const char *const *v,
		size_t n)
{
	yaml_indent(b, level);
	key(b, k);
	strbuf_puts(b, " [");
	for (size_t i = 0; i < n; i++) {
		if (i)
			strbuf_puts(b, ", ");
		yaml_str(b, v[i]);
	}
	strbuf_puts(b, "]\n");
}

void yaml_item(struct strbuf *b, int level, const char *s)
{
	yaml_indent(b, level);
	strbuf_puts(b, "- ");
	yaml_str(b, s);
	strbuf_putc(b, '\n');
}

void yaml_item_kv(struct strbuf *b, int level, const char *k, const char *value)
{
	yaml_indent(b, level);
	strbuf_puts(b, "- ");
	key(b, k);
	strbuf_putc(b, ' ');
	yaml_str(b, value);
	strbuf_putc(b, '\n');
}
