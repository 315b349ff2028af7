/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/strbuf.h"

void strbuf_init(struct strbuf *b)
{
	memset(b, 0, sizeof(*b));
}

void strbuf_release(struct strbuf *b)
{
	free(b->s);
	strbuf_init(b);
}

static bool strbuf_reserve(struct strbuf *b, size_t extra)
{
	size_t need, cap;
	char *n;

	if (b->oom)
		return false;
	need = b->len + extra + 1;
	if (need <= b->cap)
		return true;
	cap = b->cap ? b->cap : 64;
	while (cap < need)
		cap *= 2;
	n = realloc(b->s, cap);
	if (!n) {
		b->oom = true;
		return false;
	}
	b->s = n;
	b->cap = cap;
	return true;
}

void strbuf_putn(struct strbuf *b, const char *s, size_t n)
{
	if (!strbuf_reserve(b, n))
		return;
	memcpy(b->s + b->len, s, n);
	b->len += n;
	b->s[b->len] = '\0';
}

void strbuf_puts(struct strbuf *b, const char *s)
{
	strbuf_putn(b, s, strlen(s));
}

void strbuf_putc(struct strbuf *b, char c)
{
	strbuf_putn(b, &c, 1);
}

void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap)
{
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(NULL, 0, fmt, aq);
	va_end(aq);
	if (n < 0 || !strbuf_reserve(b, (size_t)n))
		return;
	vsnprintf(b->s + b->len, (size_t)n + 1, fmt, ap);
	b->len += (size_t)n;
}

void strbuf_printf(struct strbuf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	strbuf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *strbuf_steal(struct strbuf *b)
{
	char *s;

	if (b->oom) {
		strbuf_release(b);
		return NULL;
	}
	s = b->s ? b->s : strdup("");
	strbuf_init(b);
	return s;
}

const char *strbuf_str(const struct strbuf *b)
{
	return b->s ? b->s : "";
}

bool dk_strv_contains(const char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

int dk_strv_push(char ***v, size_t *n, const char *s)
{
	char *c = strdup(s), **nv;

	if (!c)
		return -ENOMEM;
	nv = realloc(*v, (*n + 1) * sizeof(*nv));
	if (!nv) {
		free(c);
		return -ENOMEM;
	}
	nv[(*n)++] = c;
	*v = nv;
	return 0;
}

char *dk_strdup_vprintf(const char *fmt, va_list ap)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_vprintf(&b, fmt, ap);
	return strbuf_steal(&b);
}

char *dk_strdup_printf(const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	return s;
}

void dk_modname_kernel(char *s)
{
	for (; s && *s; s++)
		if (*s == '-')
			*s = '_';
}

int dk_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

char *dk_expand_placeholders(const char *t, const char *const *names,
			     const char *const *values, size_t n, bool strict,
			     const char **bad)
{
	struct strbuf s;

	*bad = NULL;
	strbuf_init(&s);
	strbuf_puts(&s, "");
	while (*t) {
		const char *close = *t == '{' ? strchr(t, '}') : NULL;
		size_t i = n;

		if (*t != '{') {
			strbuf_putc(&s, *t++);
			continue;
		}
		for (i = 0; close && i < n; i++)
			if (strlen(names[i]) == (size_t)(close - t - 1) &&
			    strncmp(t + 1, names[i], (size_t)(close - t - 1)) == 0)
				break;
		if ((!close || i == n || !values[i]) && !strict) {
			strbuf_putc(&s, *t++);
			continue;
		}
		if (!close || i == n || !values[i]) {
			*bad = t;
			strbuf_release(&s);
			return NULL;
		}
		strbuf_puts(&s, values[i]);
		t = close + 1;
	}
	return strbuf_steal(&s);
}
