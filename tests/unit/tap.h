/* SPDX-License-Identifier: Apache-2.0 */
/* Tiny TAP producer for unit tests: ok()/is_int()/is_str(), plan printed at the end. */
#pragma once

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int tap_n, tap_failed;

/* The description of a result and its newline; the lines after a first one (a message
 * quoted in it) become "# " comment lines, as TAP has one line per result. */
__attribute__((format(printf, 1, 2))) static inline void tap_desc(const char *fmt, ...)
{
	char *s = NULL;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&s, fmt, ap);
	va_end(ap);
	if (n < 0) {
		printf("(description: out of memory)\n");
		return;
	}
	for (char *p = s, *nl;; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl) {
			printf("%s\n", p);
			break;
		}
		printf("%.*s\n# ", (int)(nl - p), p);
	}
	free(s);
}

#define ok(cond, ...)                                                                   \
	do {                                                                            \
		int _c = !!(cond);                                                      \
		tap_n++;                                                                \
		if (!_c)                                                                \
			tap_failed++;                                                   \
		printf("%sok %d - ", _c ? "" : "not ", tap_n);                          \
		tap_desc(__VA_ARGS__);                                                  \
		if (!_c)                                                                \
			printf("#   failed at %s:%d: %s\n", __FILE__, __LINE__, #cond); \
	} while (0)

#define is_int(got, want, ...)                                           \
	do {                                                             \
		long long _g = (long long)(got), _w = (long long)(want); \
		ok(_g == _w, __VA_ARGS__);                               \
		if (_g != _w)                                            \
			printf("#   got %lld, want %lld\n", _g, _w);     \
	} while (0)

#define is_str(got, want, ...)                                                  \
	do {                                                                    \
		const char *_g = (got), *_w = (want);                           \
		int _eq = (_g && _w) ? strcmp(_g, _w) == 0 : _g == _w;          \
		ok(_eq, __VA_ARGS__);                                           \
		if (!_eq)                                                       \
			printf("#   got '%s', want '%s'\n", _g ? _g : "(null)", \
			       _w ? _w : "(null)");                             \
	} while (0)

#define skip(reason) printf("ok %d - # SKIP %s\n", ++tap_n, reason)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_n);
	return tap_failed ? 1 : 0;
}
