/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"

#include "kmod/symvers.h"

struct dk_symvers {
	char *text; /* the file, tabs and newlines replaced by NULs */
	struct dk_symvers_entry *entries;
	size_t n;
};

void dk_symvers_free(struct dk_symvers *sv)
{
	if (!sv)
		return;
	free(sv->entries);
	free(sv->text);
	free(sv);
}

static int cmp_entry(const void *a, const void *b)
{
	const struct dk_symvers_entry *x = a, *y = b;

	return strcmp(x->symbol, y->symbol);
}

static int parse_crc(const char *s, uint32_t *out)
{
	unsigned long long v = 0;
	size_t n = 0;

	if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X'))
		return -EINVAL;
	for (s += 2; *s; s++, n++) {
		int d = dk_hexval(*s);

		if (d < 0)
			return -EINVAL;
		v = v << 4 | (unsigned)d;
		if (n >= 8)
			return -ERANGE;
	}
	if (n == 0)
		return -EINVAL;
	*out = (uint32_t)v;
	return 0;
}

/* Splits line (NUL-terminated, no newline) at tabs into at most max fields. */
static size_t split_tabs(char *line, char **fields, size_t max)
{
	size_t n = 0;

	fields[n++] = line;
	for (char *c = line; *c; c++)
		if (*c == '\t') {
			*c = '\0';
			if (n == max)
				return max + 1; /* too many */
			fields[n++] = c + 1;
		}
	return n;
}

static int parse_line(const char *name, size_t lineno, char *line,
		      struct dk_symvers_entry *e, struct dk_error **err)
{
	char *f[5];
	size_t n = split_tabs(line, f, ARRAY_SIZE(f));

	if (n < 4 || n > 5)
		return dk_error_set(
			err, EBADMSG,
			"%s:%zu: expected 4 or 5 tab-separated fields "
			"(crc, symbol, module, export type[, namespace]), got "
			"%s%zu",
			name, lineno, n > 5 ? "more than " : "", n > 5 ? (size_t)5 : n);
	if (parse_crc(f[0], &e->crc) < 0)
		return dk_error_set(err, EBADMSG,
				    "%s:%zu: bad CRC '%s' (expected 0x and up to 8 hex "
				    "digits)",
				    name, lineno, f[0]);
	if (!*f[1])
		return dk_error_set(err, EBADMSG, "%s:%zu: empty symbol name", name,
				    lineno);
	if (!startswith(f[3], "EXPORT_"))
		return dk_error_set(err, EBADMSG,
				    "%s:%zu: bad export type '%s' (expected "
				    "EXPORT_SYMBOL or EXPORT_SYMBOL_GPL)",
				    name, lineno, f[3]);
	e->symbol = f[1];
	e->module = f[2];
	e->export_type = f[3];
	e->ns = n == 5 ? f[4] : "";
	e->gpl = strstr(f[3], "_GPL") != NULL;
	return 0;
}

int dk_symvers_parse(const char *name, const char *text, size_t len,
		     struct dk_symvers **out, struct dk_error **err)
{
	_cleanup_symvers_ struct dk_symvers *sv = NULL;
	size_t lines = 0, lineno = 0;
	char *p, *end;
	int r;

	*out = NULL;
	sv = calloc(1, sizeof(*sv));
	if (!sv)
		return dk_error_set(err, ENOMEM, "out of memory");
	sv->text = malloc(len + 1);
	if (!sv->text)
		return dk_error_set(err, ENOMEM, "out of memory");
	memcpy(sv->text, text, len);
	sv->text[len] = '\0';
	for (size_t i = 0; i < len; i++)
		if (text[i] == '\n')
			lines++;
	sv->entries = calloc(lines + 1, sizeof(*sv->entries));
	if (!sv->entries)
		return dk_error_set(err, ENOMEM, "out of memory");
	p = sv->text;
	end = sv->text + len;
	while (p < end) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		if (!nl)
			nl = end;
		*nl = '\0';
		lineno++;
		if (nl > p && nl[-1] == '\r')
			nl[-1] = '\0';
		if (*p) {
			r = parse_line(name, lineno, p, &sv->entries[sv->n], err);
			if (r < 0)
				return r;
			sv->n++;
		}
		p = nl + 1;
	}
	qsort(sv->entries, sv->n, sizeof(*sv->entries), cmp_entry);
	*out = TAKE_PTR(sv);
	return 0;
}

int dk_symvers_load(const char *path, struct dk_symvers **out, struct dk_error **err)
{
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	*out = NULL;
	r = dk_read_file(path, 256u << 20, &text, &len);
	if (r < 0)
		return dk_error_set(err, -r, "%s: %s", path, strerror(-r));
	return dk_symvers_parse(path, text, len, out, err);
}

const struct dk_symvers_entry *dk_symvers_find(const struct dk_symvers *sv,
					       const char *symbol)
{
	struct dk_symvers_entry key = {.symbol = symbol};

	return bsearch(&key, sv->entries, sv->n, sizeof(key), cmp_entry);
}

size_t dk_symvers_count(const struct dk_symvers *sv)
{
	return sv->n;
}
