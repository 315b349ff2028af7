/* SPDX-License-Identifier: Apache-2.0 */
/* Unified diffs parsed into files and hunks (build/patch.h). The hunk's line counts, not
 * its text, say where it ends, as in GNU patch, so a removed "-- x" line is read right.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "build/patch.h"

struct reader {
	const char *name;
	const char *next, *end; /* the line after the current one */
	const char *line;	/* the current line, without its newline */
	size_t len, lineno;
	int strip;
};

static bool reader_next(struct reader *r)
{
	const char *nl;

	if (r->next >= r->end)
		return false;
	r->line = r->next;
	nl = memchr(r->line, '\n', (size_t)(r->end - r->line));
	r->len = (size_t)((nl ? nl : r->end) - r->line);
	r->next = nl ? nl + 1 : r->end;
	r->lineno++;
	return true;
}

static bool starts(const char *line, size_t len, const char *prefix)
{
	size_t n = strlen(prefix);

	return len >= n && memcmp(line, prefix, n) == 0;
}

/* Whether the line after the current one starts with prefix. */
static bool peek_starts(const struct reader *r, const char *prefix)
{
	return starts(r->next, (size_t)(r->end - r->next), prefix);
}

static int malformed(const struct reader *r, struct dk_error **err, const char *fmt, ...)
	_printf_format_(3, 4);
static int malformed(const struct reader *r, struct dk_error **err, const char *fmt, ...)
{
	_cleanup_free_ char *why = NULL;
	va_list ap;

	va_start(ap, fmt);
	why = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!why)
		return dk_error_set(err, ENOMEM, "out of memory");
	return dk_error_set(err, EBADMSG, "%s:%zu: %s", r->name, r->lineno, why);
}

/* A git C-quoted name ("a/x\ty") at s; *used is how many bytes it took. NULL when it
 * is malformed or on OOM. */
static char *unquote(const char *s, size_t len, size_t *used)
{
	_cleanup_strbuf_ struct strbuf b = {0};
	static const char esc[] = "a\ab\bf\fn\nr\rt\tv\v\\\\\"\"";
	size_t i;

	for (i = 1; i < len && s[i] != '"'; i++) {
		const char *e;

		if (s[i] != '\\') {
			strbuf_putc(&b, s[i]);
			continue;
		}
		if (++i >= len)
			return NULL;
		if (i + 2 < len && s[i] >= '0' && s[i] <= '3' && s[i + 1] >= '0' &&
		    s[i + 1] <= '7' && s[i + 2] >= '0' && s[i + 2] <= '7') {
			char c = (char)(((s[i] - '0') << 6) | ((s[i + 1] - '0') << 3) |
					(s[i + 2] - '0'));

			if (!c) /* a NUL would cut the name short */
				return NULL;
			strbuf_putc(&b, c);
			i += 2;
			continue;
		}
		e = memchr(esc, s[i], sizeof(esc) - 1);
		if (!e || (e - esc) % 2)
			return NULL;
		strbuf_putc(&b, e[1]);
	}
	if (i >= len)
		return NULL;
	*used = i + 1;
	return strbuf_steal(&b);
}

/* The name of a "--- "/"+++ " line: up to a tab (a date follows), unquoted when git
 * quoted it. *epoch: the date is the epoch, which `diff -N` writes for a missing file. */
static int header_name(const struct reader *r, char **name, bool *epoch,
		       struct dk_error **err)
{
	const char *s = r->line + 4, *tab;
	size_t len = r->len - 4, used;

	tab = memchr(s, '\t', len);
	*epoch = tab &&
		 (starts(tab + 1, len - (size_t)(tab + 1 - s), "1970-01-01 00:00:00") ||
		  starts(tab + 1, len - (size_t)(tab + 1 - s), "1969-12-31 "));
	if (len && s[0] == '"') {
		*name = unquote(s, len, &used);
		if (!*name)
			return malformed(r, err, "badly quoted file name");
		return 0;
	}
	*name = strndup(s, tab ? (size_t)(tab - s) : len);
	return *name ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

/* Strips r->strip leading components from raw, folds "." and "//", and refuses what
 * leaves the tree. *out NULL for /dev/null. */
static int strip_path(const struct reader *r, const char *raw, char **out,
		      struct dk_error **err)
{
	_cleanup_strbuf_ struct strbuf b = {0};
	const char *p = raw;

	*out = NULL;
	if (streq(raw, "/dev/null"))
		return 0;
	for (int i = 0; i < r->strip; i++) {
		const char *slash = strchr(p, '/');

		if (!slash)
			return malformed(r, err,
					 "cannot strip %d leading components from '%s'",
					 r->strip, raw);
		for (p = slash; *p == '/'; p++)
			;
	}
	if (*p == '/')
		return malformed(r, err, "'%s' is an absolute path: refused", raw);
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return malformed(r, err, "'%s' leaves the tree ('..'): refused",
					 raw);
		if (n && !(n == 1 && p[0] == '.')) {
			if (b.len)
				strbuf_putc(&b, '/');
			strbuf_putn(&b, p, n);
		}
		p += n + (p[n] == '/');
	}
	if (!b.len)
		return malformed(r, err, "no file name in '%s'", raw);
	*out = strbuf_steal(&b);
	return *out ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

static bool parse_num(const char **p, const char *end, size_t *v)
{
	const char *s = *p;

	*v = 0;
	while (s < end && *s >= '0' && *s <= '9' && *v < ((size_t)1 << 40))
		*v = *v * 10 + (size_t)(*s++ - '0');
	if (s == *p || (s < end && *s >= '0' && *s <= '9'))
		return false;
	*p = s;
	return true;
}

/* "-start[,count]" or "+start[,count]"; count defaults to 1. */
static bool parse_range(const char **p, const char *end, char sign, size_t *start,
			size_t *count)
{
	if (*p >= end || **p != sign)
		return false;
	(*p)++;
	if (!parse_num(p, end, start))
		return false;
	*count = 1;
	if (*p < end && **p == ',') {
		(*p)++;
		return parse_num(p, end, count);
	}
	return true;
}

static int parse_hunk_header(const struct reader *r, struct dk_patch_hunk *h,
			     struct dk_error **err)
{
	const char *p = r->line + 3, *end = r->line + r->len;

	if (!parse_range(&p, end, '-', &h->old_start, &h->old_count) || p >= end ||
	    *p++ != ' ' || !parse_range(&p, end, '+', &h->new_start, &h->new_count) ||
	    !starts(p, (size_t)(end - p), " @@"))
		return malformed(r, err, "malformed hunk header '%.*s'",
				 (int)MIN(r->len, 80), r->line);
	h->header = strndup(r->line, (size_t)(p + 3 - r->line));
	h->line = r->lineno;
	return h->header ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

static int add_line(struct dk_patch_hunk *h, size_t *cap, const struct dk_patch_line *l)
{
	if (h->n_lines == *cap) {
		size_t n = *cap ? *cap * 2 : 16;
		struct dk_patch_line *v = reallocarray(h->lines, n, sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->lines = v;
		*cap = n;
	}
	h->lines[h->n_lines++] = *l;
	return 0;
}

/* Marks the last line "\ No newline at end of file"; a line of its side after it would
 * make the file end twice. */
static int mark_nonl(const struct reader *r, struct dk_patch_hunk *h, size_t hn,
		     bool nonl_side[2], struct dk_error **err)
{
	struct dk_patch_line *l;

	if (!h->n_lines)
		return malformed(r, err, "'\\' line before any line of hunk #%zu", hn);
	l = &h->lines[h->n_lines - 1];
	l->nonl = true;
	nonl_side[0] |= l->op != '+';
	nonl_side[1] |= l->op != '-';
	return 0;
}

/* The body of a hunk whose header is the current line. */
static int parse_hunk(struct reader *r, struct dk_patch_hunk *h, size_t hn,
		      struct dk_error **err)
{
	size_t old_left, new_left, cap = 0;
	bool nonl_side[2] = {false, false};
	int ret;

	ret = parse_hunk_header(r, h, err);
	if (ret < 0)
		return ret;
	old_left = h->old_count;
	new_left = h->new_count;
	while (old_left || new_left) {
		struct dk_patch_line l = {.op = ' '};

		if (!reader_next(r))
			return malformed(
				r, err,
				"the patch ends inside hunk #%zu (%s): %zu old and %zu "
				"new lines missing",
				hn, h->header, old_left, new_left);
		if (r->len && r->line[0] == '\\') {
			ret = mark_nonl(r, h, hn, nonl_side, err);
			if (ret < 0)
				return ret;
			continue;
		}
		/* An empty line is an empty context line whose space a mailer ate. */
		if (r->len) {
			l.op = r->line[0];
			l.text = r->line + 1;
			l.len = (uint32_t)(r->len - 1);
		} else {
			l.text = r->line;
		}
		if (l.op != ' ' && l.op != '-' && l.op != '+')
			return malformed(
				r, err,
				"hunk #%zu (%s) has a line starting with '%c' where ' ', "
				"'-', '+' or '\\' belongs (%zu old and %zu new lines "
				"missing)",
				hn, h->header, l.op, old_left, new_left);
		if ((l.op != '+' && (!old_left || nonl_side[0])) ||
		    (l.op != '-' && (!new_left || nonl_side[1])))
			return malformed(
				r, err,
				"hunk #%zu has more lines than its header %s says", hn,
				h->header);
		old_left -= l.op != '+';
		new_left -= l.op != '-';
		if (add_line(h, &cap, &l) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	if (peek_starts(r, "\\")) {
		reader_next(r);
		return mark_nonl(r, h, hn, nonl_side, err);
	}
	/* A hunk line right after the counted ones: the header undercounts, and taking
	 * the rest for text between sections would drop lines silently ("-- " is the mail
	 * signature, "--- "/"+++ " the next section). */
	if ((peek_starts(r, " ") || peek_starts(r, "+") || peek_starts(r, "-")) &&
	    !peek_starts(r, "--- ") && !peek_starts(r, "+++ ") &&
	    !peek_starts(r, "-- \n")) {
		reader_next(r);
		return malformed(r, err,
				 "hunk #%zu has more lines than its header %s says", hn,
				 h->header);
	}
	return 0;
}

static int parse_hunks(struct reader *r, struct dk_patch_file *f, struct dk_error **err)
{
	size_t cap = 0;

	if (!peek_starts(r, "@@ "))
		return malformed(r, err, "no hunk ('@@ -l,n +l,n @@') after '%.*s'",
				 (int)MIN(r->len, 80), r->line);
	while (peek_starts(r, "@@ ")) {
		int ret;

		if (f->n_hunks == cap) {
			size_t n = cap ? cap * 2 : 4;
			struct dk_patch_hunk *v = reallocarray(f->hunks, n, sizeof(*v));

			if (!v)
				return dk_error_set(err, ENOMEM, "out of memory");
			f->hunks = v;
			cap = n;
		}
		f->hunks[f->n_hunks++] = (struct dk_patch_hunk){0};
		reader_next(r);
		ret = parse_hunk(r, &f->hunks[f->n_hunks - 1], f->n_hunks, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Whether f is one hunk "@@ -0,0" (old side) or "+0,0" (new side): with an epoch date,
 * `diff -N`'s way of saying the file is created or deleted. */
static bool only_empty_side(const struct dk_patch_file *f, bool old_side)
{
	const struct dk_patch_hunk *h = f->hunks;

	return f->n_hunks == 1 && (old_side ? !h->old_start && !h->old_count
					    : !h->new_start && !h->new_count);
}

/* "--- old" (the current line), "+++ new", then the hunks. */
static int parse_headers(struct reader *r, struct dk_patch_file *f, bool git,
			 struct dk_error **err)
{
	_cleanup_free_ char *a = NULL, *b = NULL;
	bool epoch_a, epoch_b;
	int ret;

	ret = header_name(r, &a, &epoch_a, err);
	if (ret < 0)
		return ret;
	if (!reader_next(r) || !starts(r->line, r->len, "+++ "))
		return malformed(r, err, "'+++ ' expected after '--- '");
	ret = header_name(r, &b, &epoch_b, err);
	if (ret < 0)
		return ret;
	free(f->old_path);
	free(f->new_path);
	f->new_path = NULL;
	ret = strip_path(r, a, &f->old_path, err);
	if (ret >= 0)
		ret = strip_path(r, b, &f->new_path, err);
	if (ret < 0)
		return ret;
	if (!f->old_path && !f->new_path)
		return malformed(r, err, "both files are /dev/null");
	if (git && f->old_path && f->new_path && !streq(f->old_path, f->new_path))
		return malformed(r, err, "renames (%s to %s) are not supported",
				 f->old_path, f->new_path);
	ret = parse_hunks(r, f, err);
	if (ret < 0)
		return ret;
	f->creates |= !f->old_path || (epoch_a && only_empty_side(f, true));
	f->deletes |= !f->new_path || (epoch_b && only_empty_side(f, false));
	return 0;
}

/* "diff --git a/x b/x" (the current line): the names, for sections without "---"
 * (a mode change, an empty file created or deleted). Unquoted names are split where
 * both halves have the same length, as git does; *a and *b stay NULL when that fails. */
static int git_names(const struct reader *r, char **a, char **b, struct dk_error **err)
{
	const char *s = r->line + 11;
	size_t len = r->len - 11, used;

	if (len && s[0] == '"') {
		*a = unquote(s, len, &used);
		if (!*a || used + 1 >= len || s[used] != ' ')
			return malformed(r, err, "badly quoted file name");
		s += used + 1;
		len -= used + 1;
		*b = s[0] == '"' ? unquote(s, len, &used) : strndup(s, len);
	} else if (len % 2 && s[len / 2] == ' ' && !memchr(s, '"', len)) {
		*a = strndup(s, len / 2);
		*b = strndup(s + len / 2 + 1, len / 2);
	} else {
		return 0;
	}
	return *a && *b ? 0 : malformed(r, err, "badly quoted file name");
}

static int parse_mode(const struct reader *r, const char *s, mode_t *mode,
		      struct dk_error **err)
{
	char *end;
	unsigned long m = strtoul(s, &end, 8);

	if (end == s || (*end && *end != '\n'))
		return malformed(r, err, "bad file mode '%s'", s);
	if ((m & S_IFMT) && (m & S_IFMT) != S_IFREG)
		return malformed(r, err,
				 "mode %lo is not a regular file's: not supported", m);
	*mode = (mode_t)(m & 07777);
	return 0;
}

/* The extended headers of a "diff --git" section (the current line), then the hunks. */
static int parse_git(struct reader *r, struct dk_patch_file *f, struct dk_error **err)
{
	static const char *const unsupported[] = {"rename from ",  "rename to ",
						  "copy from ",	   "copy to ",
						  "Binary files ", "GIT binary patch"};
	_cleanup_free_ char *a = NULL, *b = NULL;
	int ret = git_names(r, &a, &b, err);

	while (ret >= 0 && reader_next(r)) {
		_cleanup_free_ char *line = strndup(r->line, r->len);
		const char *l = line;

		if (!l)
			return dk_error_set(err, ENOMEM, "out of memory");
		for (size_t i = 0; i < ARRAY_SIZE(unsupported); i++)
			if (startswith(l, unsupported[i]))
				return malformed(r, err, "'%s': not supported", l);
		if (startswith(l, "--- "))
			return parse_headers(r, f, true, err);
		if (startswith(l, "new file mode ") ||
		    startswith(l, "deleted file mode ")) {
			f->creates = l[0] == 'n';
			f->deletes = l[0] == 'd';
			ret = parse_mode(r, strrchr(l, ' ') + 1, &f->mode, err);
			f->mode = f->deletes ? 0 : f->mode;
		} else if (startswith(l, "old mode ") || startswith(l, "new mode ")) {
			ret = parse_mode(r, l + 9, &f->mode, err);
		} else if (!startswith(l, "index ") &&
			   !startswith(l, "similarity index ") &&
			   !startswith(l, "dissimilarity index ")) {
			r->next = r->line; /* not ours: read it again */
			r->lineno--;
			break;
		}
	}
	if (ret < 0)
		return ret;
	/* No hunks: the names come from the "diff --git" line. */
	if (!a || !b)
		return malformed(r, err,
				 "cannot tell the file names of the section at line %zu",
				 f->line);
	ret = strip_path(r, a, &f->old_path, err);
	if (ret >= 0)
		ret = strip_path(r, b, &f->new_path, err);
	/* git writes /dev/null only on ---/+++ lines, never on "diff --git" */
	if (ret >= 0 && (!f->old_path || !f->new_path))
		return malformed(r, err,
				 "the diff --git line of the section at line %zu names "
				 "/dev/null: expected a/PATH b/PATH",
				 f->line);
	if (ret >= 0 && !streq(f->old_path, f->new_path))
		return malformed(r, err, "renames (%s to %s) are not supported",
				 f->old_path, f->new_path);
	if (ret >= 0 && f->creates)
		f->old_path = (free(f->old_path), NULL);
	if (ret >= 0 && f->deletes)
		f->new_path = (free(f->new_path), NULL);
	return ret;
}

static void free_file(struct dk_patch_file *f)
{
	for (size_t i = 0; i < f->n_hunks; i++) {
		free(f->hunks[i].header);
		free(f->hunks[i].lines);
	}
	free(f->hunks);
	free(f->old_path);
	free(f->new_path);
}

void dk_patch_free(struct dk_patch *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->n_files; i++)
		free_file(&p->files[i]);
	free(p->files);
	free(p->text);
	free(p->name);
	free(p);
}

static struct dk_patch_file *new_file(struct dk_patch *p, size_t *cap, size_t line)
{
	if (p->n_files == *cap) {
		size_t n = *cap ? *cap * 2 : 4;
		struct dk_patch_file *v = reallocarray(p->files, n, sizeof(*v));

		if (!v)
			return NULL;
		p->files = v;
		*cap = n;
	}
	p->files[p->n_files] = (struct dk_patch_file){.line = line};
	return &p->files[p->n_files++];
}

int dk_patch_parse(const char *name, const char *text, size_t len, int strip,
		   struct dk_patch **out, struct dk_error **err)
{
	_cleanup_patch_ struct dk_patch *p = NULL;
	struct reader r = {.name = name, .strip = strip};
	size_t cap = 0;

	if (len > DK_PATCH_MAX_PATCH)
		return dk_error_set(err, EFBIG,
				    "%s: %zu bytes, more than the %zu a patch may have",
				    name, len, DK_PATCH_MAX_PATCH);
	if (strip < 0)
		return dk_error_set(err, EINVAL, "%s: strip %d is negative", name, strip);
	p = calloc(1, sizeof(*p));
	if (!p || !(p->name = strdup(name)) || !(p->text = malloc(len + 1)))
		return dk_error_set(err, ENOMEM, "out of memory");
	if (len)
		memcpy(p->text, text, len);
	p->text[len] = '\0';
	p->len = len;
	r.next = p->text;
	r.end = p->text + len;
	while (reader_next(&r)) {
		bool git = starts(r.line, r.len, "diff --git ");
		struct dk_patch_file *f;
		int ret;

		/* Anything else is text around the sections (a mail, a commit message).
		 */
		if (!git && !(starts(r.line, r.len, "--- ") && peek_starts(&r, "+++ ")))
			continue;
		f = new_file(p, &cap, r.lineno);
		if (!f)
			return dk_error_set(err, ENOMEM, "out of memory");
		ret = git ? parse_git(&r, f, err) : parse_headers(&r, f, false, err);
		if (ret < 0)
			return ret;
	}
	if (!p->n_files)
		return dk_error_set(
			err, EBADMSG,
			"%s: not a unified diff: no 'diff --git' or '--- '/'+++ ' "
			"header in %zu lines",
			name, r.lineno);
	*out = TAKE_PTR(p);
	return 0;
}

const char *dk_patch_file_path(const struct dk_patch_file *f)
{
	return f->new_path ? f->new_path : f->old_path;
}
