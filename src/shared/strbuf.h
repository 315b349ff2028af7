/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

/* Growable NUL-terminated string. On allocation failure it latches `oom`
 * and further appends are no-ops, so callers check once at the end. */
struct strbuf {
	char *s;
	size_t len, cap;
	bool oom;
};

void strbuf_init(struct strbuf *b);
void strbuf_release(struct strbuf *b);
void strbuf_putn(struct strbuf *b, const char *s, size_t n);
void strbuf_puts(struct strbuf *b, const char *s);
void strbuf_putc(struct strbuf *b, char c);
void strbuf_printf(struct strbuf *b, const char *fmt, ...) _printf_format_(2, 3);
void strbuf_vprintf(struct strbuf *b, const char *fmt, va_list ap);
/* Returns the string (never NULL unless oom) and leaves the buffer empty. */
char *strbuf_steal(struct strbuf *b);
const char *strbuf_str(const struct strbuf *b);
/* Whether s is one of the n strings of v. */
bool dk_strv_contains(const char *const *v, size_t n, const char *s);
/* Appends a copy of s to the vector *v of *n strings: 0 or -ENOMEM (*v unchanged). */
int dk_strv_push(char ***v, size_t *n, const char *s);
/* malloc'd formatted string, NULL on OOM (asprintf without the int dance). */
char *dk_strdup_printf(const char *fmt, ...) _printf_format_(1, 2);
char *dk_strdup_vprintf(const char *fmt, va_list ap) _printf_format_(1, 0);
/* Value of a hex digit, -1 when c is not one. */
int dk_hexval(char c);
/* In place: a module name as the kernel knows it, every '-' turned into '_' (NULL is
 * left alone). */
void dk_modname_kernel(char *s);
/* t with every {NAME} replaced by values[i] where names[i] is NAME. strict: NULL with
 * *bad at the '{' of the first placeholder that is not among names or has a NULL
 * value (every other '{' counts as one); otherwise those stay as they are. NULL with
 * *bad NULL on OOM. */
char *dk_expand_placeholders(const char *t, const char *const *names,
			     const char *const *values, size_t n, bool strict,
			     const char **bad);

#define _cleanup_strbuf_ __attribute__((cleanup(strbuf_release)))
