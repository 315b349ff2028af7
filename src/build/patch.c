/* SPDX-License-Identifier: Apache-2.0 */
/* Unified diffs applied (build/patch.h): hunks to a buffer (exact context, nearest offset
 * first, and GNU patch -F0's anchoring of a hunk whose context is cut short by the start
 * or end of the file), then all or nothing to a tree. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"

#include "build/patch.h"

/* A file's lines: line i is buf[off[i] .. off[i + 1]), its newline included. 32-bit
 * offsets: a target is at most DK_PATCH_MAX_TARGET. */
struct lines {
	const char *buf;
	size_t n;
	uint32_t *off;
};

static int lines_index(struct lines *t, const char *buf, size_t len)
{
	const char *p, *end = buf + len, *nl;
	size_t n = 0;

	for (p = buf; p < end && (nl = memchr(p, '\n', (size_t)(end - p))); p = nl + 1)
		n++;
	n += p < end;
	t->off = malloc((n + 1) * sizeof(*t->off));
	if (!t->off)
		return -ENOMEM;
	t->buf = buf;
	t->n = n;
	t->off[0] = 0;
	for (size_t i = 0, o = 0; i < n; i++) {
		nl = memchr(buf + o, '\n', len - o);
		o = nl ? (size_t)(nl + 1 - buf) : len;
		t->off[i + 1] = (uint32_t)o;
	}
	return 0;
}

static bool line_has_nl(const struct lines *t, size_t i)
{
	return t->buf[t->off[i + 1] - 1] == '\n';
}

static bool line_is(const struct lines *t, size_t i, const struct dk_patch_line *l)
{
	size_t s = t->off[i], e = t->off[i + 1];
	bool nl = line_has_nl(t, i);

	return nl == !l->nonl && e - s - nl == l->len &&
	       !memcmp(t->buf + s, l->text, l->len);
}

/* One side of a hunk: the lines the file has before it ('-': context and removed) or
 * after it ('+': context and added), and where it must sit. */
struct side {
	const struct dk_patch_line **v;
	size_t n;
	size_t base;   /* the 0-based line the header puts it at */
	size_t suffix; /* context lines after the last change */
	enum { ANCHOR_NONE, ANCHOR_START, ANCHOR_END } anchor;
};

static int side_of(const struct dk_patch_hunk *h, char op, struct side *s)
{
	size_t pre = 0, suf = 0, start = op == '-' ? h->old_start : h->new_start;
	size_t count = op == '-' ? h->old_count : h->new_count;

	s->v = calloc(count ? count : 1, sizeof(*s->v));
	if (!s->v)
		return -ENOMEM;
	s->n = 0;
	for (size_t i = 0; i < h->n_lines && s->n < count; i++)
		if (h->lines[i].op == ' ' || h->lines[i].op == op)
			s->v[s->n++] = &h->lines[i];
	/* "-5,0" inserts after line 5; "-5,3" starts at line 5. */
	s->base = count && start ? start - 1 : start;
	while (pre < h->n_lines && h->lines[pre].op == ' ')
		pre++;
	while (suf < h->n_lines - pre && h->lines[h->n_lines - 1 - suf].op == ' ')
		suf++;
	s->suffix = suf;
	s->anchor = ANCHOR_NONE;
	if (pre < suf && start <= 1)
		s->anchor = ANCHOR_START;
	else if (suf < pre && pre < h->n_lines)
		s->anchor = ANCHOR_END;
	return 0;
}

/* The first line of s the file does not have at pos (s->n when all match); *at is
 * its line in the file. */
static size_t mismatch(const struct lines *t, const struct side *s, size_t pos,
		       size_t *at)
{
	for (size_t k = 0; k < s->n; k++)
		if (pos + k >= t->n || !line_is(t, pos + k, s->v[k])) {
			*at = pos + k;
			return k;
		}
	return s->n;
}

/* Where s is in the file, never before min: nearest to guess first, later before
 * earlier at the same distance, as GNU patch. On failure *pos is the position a
 * message reports. Each try stops at its first differing line. */
static bool locate(const struct lines *t, const struct side *s, long long guess,
		   size_t min, size_t *pos)
{
	size_t max, g, at;

	g = guess < (long long)min ? min : guess > (long long)t->n ? t->n : (size_t)guess;
	*pos = g;
	if (t->n < s->n || t->n - s->n < min)
		return false;
	max = t->n - s->n;
	if (s->anchor != ANCHOR_NONE) {
		*pos = s->anchor == ANCHOR_START ? 0 : max;
		return *pos >= min && mismatch(t, s, *pos, &at) == s->n;
	}
	g = MIN(g, max);
	*pos = g;
	for (size_t d = 0; d <= max - g || d <= g - min; d++) {
		if (d <= max - g && mismatch(t, s, g + d, &at) == s->n) {
			*pos = g + d;
			return true;
		}
		if (d && d <= g - min && mismatch(t, s, g - d, &at) == s->n) {
			*pos = g - d;
			return true;
		}
	}
	return false;
}

/* Appends s quoted for a message: control characters escaped (a tab against spaces is
 * the usual reason a pasted patch fails), long lines cut. */
static void put_quoted(struct strbuf *b, const char *s, size_t len)
{
	const size_t max = 160;

	strbuf_putc(b, '\'');
	for (size_t i = 0; i < len && i < max; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '\t')
			strbuf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			strbuf_printf(b, "\\x%02x", c);
		else
			strbuf_putc(b, (char)c);
	}
	strbuf_puts(b, len > max ? "...'" : "'");
}

/* Why old is not at pos: its first line that differs, quoted with the file's. */
static void explain(struct strbuf *why, const struct lines *t, const struct side *old,
		    size_t pos)
{
	size_t at, k = mismatch(t, old, pos, &at);
	const struct dk_patch_line *l;

	if (k == old->n) {
		strbuf_puts(why, "it overlaps the hunk before it");
		return;
	}
	l = old->v[k];
	strbuf_printf(why, "line %zu expected ", at + 1);
	put_quoted(why, l->text, l->len);
	if (l->nonl)
		strbuf_puts(why, " without newline at end of file");
	if (at >= t->n) {
		strbuf_puts(why, ", found the end of the file");
	} else {
		strbuf_puts(why, ", found ");
		put_quoted(why, t->buf + t->off[at],
			   t->off[at + 1] - t->off[at] - line_has_nl(t, at));
		if (!line_has_nl(t, at))
			strbuf_puts(why, " without newline at end of file");
	}
	if (old->anchor != ANCHOR_NONE)
		strbuf_printf(why,
			      " (its context is cut short, so it applies only at the %s "
			      "of the file)",
			      old->anchor == ANCHOR_START ? "start" : "end");
}

static int hunk_fails(const struct dk_patch *p, const char *path,
		      const struct dk_patch_hunk *h, size_t hn, const struct lines *t,
		      const struct side *old, size_t tried, struct dk_error **err)
{
	_cleanup_strbuf_ struct strbuf why = {0};
	_cleanup_free_ const struct dk_patch_line **nv = NULL;
	struct side new_side;
	bool changes = false, context = false, found;
	size_t rpos;

	for (size_t i = 0; i < h->n_lines; i++) {
		changes |= h->lines[i].op != ' ';
		context |= h->lines[i].op == ' ';
	}
	if (side_of(h, '+', &new_side) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	nv = new_side.v;
	/* The reversed hunk applies: what the hunk makes is there already. Without
	 * context (diff -U0) away from the hunk's line, that may be chance: said as a
	 * question. */
	found = changes && new_side.n &&
		locate(t, &new_side, (long long)new_side.base, 0, &rpos);
	if (found && (context || rpos == new_side.base)) {
		strbuf_printf(&why, "already applied (its result is at line %zu)",
			      rpos + 1);
	} else {
		explain(&why, t, old, tried);
		if (found)
			strbuf_printf(&why,
				      " (already applied? its result is at line %zu)",
				      rpos + 1);
	}
	if (why.oom)
		return dk_error_set(err, ENOMEM, "out of memory");
	return dk_error_set(err, EBADMSG, "%s: hunk #%zu (%s) of %s does not apply: %s",
			    p->name, hn, h->header, path, why.s);
}

/* f creates path, which exists with content in. */
static int exists_error(const struct dk_patch *p, const struct dk_patch_file *f,
			const char *path, const char *in, size_t in_len,
			struct dk_error **err)
{
	_cleanup_error_ struct dk_error *e = NULL;
	_cleanup_free_ char *made = NULL;
	size_t len;

	if (dk_patch_apply_file(p, f, path, NULL, 0, &made, &len, &e) >= 0 &&
	    len == in_len && !memcmp(made, in, len))
		return dk_error_set(
			err, EEXIST,
			"%s: %s already exists with the content the patch gives "
			"it: already applied",
			p->name, path);
	return dk_error_set(err, EEXIST, "%s: %s already exists and the patch creates it",
			    p->name, path);
}

/* Ends the line b stops in (a file's last line or a hunk's "\ No newline at end of
 * file") when more follows, as GNU patch does: the marker holds only at the end. */
static void end_line(struct strbuf *b)
{
	if (b->len && b->s[b->len - 1] != '\n')
		strbuf_putc(b, '\n');
}

static void put_more(struct strbuf *b, const char *s, size_t n)
{
	if (n)
		end_line(b);
	strbuf_putn(b, s, n);
}

/* Applies h at the nearest place from its header's line (moved by shift) on, appending
 * the file up to there and the hunk's new side to b. */
static int apply_hunk(const struct dk_patch *p, const char *path,
		      const struct dk_patch_hunk *h, size_t hn, const struct lines *t,
		      long long *shift, size_t *min, struct strbuf *b,
		      struct dk_error **err)
{
	_cleanup_free_ const struct dk_patch_line **ov = NULL;
	struct side old;
	size_t pos;

	if (side_of(h, '-', &old) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	ov = old.v;
	if (!locate(t, &old, (long long)old.base + *shift, *min, &pos))
		return hunk_fails(p, path, h, hn, t, &old, pos, err);
	put_more(b, t->buf + t->off[*min], t->off[pos] - t->off[*min]);
	/* The context after the last change stays in the file, where the next hunk's
	 * context may overlap it, as in GNU patch. */
	for (size_t i = 0; i < h->n_lines - old.suffix; i++) {
		const struct dk_patch_line *l = &h->lines[i];

		if (l->op == '-')
			continue;
		end_line(b);
		strbuf_putn(b, l->text, l->len);
		if (!l->nonl)
			strbuf_putc(b, '\n');
	}
	*min = pos + old.n - old.suffix;
	*shift = (long long)pos - (long long)old.base;
	return 0;
}

int dk_patch_apply_file(const struct dk_patch *p, const struct dk_patch_file *f,
			const char *path, const char *in, size_t in_len, char **out,
			size_t *out_len, struct dk_error **err)
{
	_cleanup_strbuf_ struct strbuf b = {0};
	_cleanup_free_ uint32_t *off = NULL;
	struct lines t;
	long long shift = 0;
	size_t min = 0;
	int ret;

	*out = NULL;
	*out_len = 0;
	path = path ? path : dk_patch_file_path(f);
	if (!in && !f->creates)
		return dk_error_set(
			err, ENOENT, "%s: %s does not exist%s", p->name, path,
			f->deletes ? " (the patch deletes it: already applied?)" : "");
	if (in && in_len && f->creates)
		return exists_error(p, f, path, in, in_len, err);
	if (in_len > DK_PATCH_MAX_TARGET)
		return dk_error_set(err, EFBIG,
				    "%s: %s has %zu bytes, more than the %zu a "
				    "patched file may have",
				    p->name, path, in_len, DK_PATCH_MAX_TARGET);
	if (lines_index(&t, in ? in : "", in_len) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	off = t.off;
	for (size_t i = 0; i < f->n_hunks; i++) {
		ret = apply_hunk(p, path, &f->hunks[i], i + 1, &t, &shift, &min, &b, err);
		if (ret < 0)
			return ret;
	}
	put_more(&b, t.buf + t.off[min], t.off[t.n] - t.off[min]);
	if (b.oom)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (f->deletes) {
		if (b.len)
			return dk_error_set(
				err, EBADMSG,
				"%s: %s keeps %zu bytes the patch does not know "
				"after it removes its lines, and the patch deletes it",
				p->name, path, b.len);
		return 0;
	}
	*out_len = b.len;
	*out = strbuf_steal(&b);
	return *out ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

/* ---- the tree ---- */

/* The directory holding rel below dirfd, reached without following a symlink; missing
 * directories are created when mkdirs. Returns an fd or -errno (-ENOENT missing, -ELOOP
 * a symlink, -ENOTDIR a file where a directory belongs); *base: rel's last component. */
static int open_parent(int dirfd, const char *rel, bool mkdirs, const char **base)
{
	_cleanup_close_ int cur = fcntl(dirfd, F_DUPFD_CLOEXEC, 3);
	const char *s = rel, *slash;

	if (cur < 0)
		return -errno;
	while ((slash = strchr(s, '/'))) {
		char comp[NAME_MAX + 1];
		size_t n = (size_t)(slash - s);
		struct stat st;
		int fd;

		if (n > NAME_MAX)
			return -ENAMETOOLONG;
		memcpy(comp, s, n);
		comp[n] = '\0';
		fd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 && errno == ENOENT && mkdirs) {
			if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
				return -errno;
			fd = openat(cur, comp,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		}
		/* O_DIRECTORY finds a symlink before O_NOFOLLOW does: ENOTDIR. */
		if (fd < 0 && errno == ENOTDIR &&
		    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			return -ELOOP;
		if (fd < 0)
			return -errno;
		close(cur);
		cur = fd;
		s = slash + 1;
	}
	*base = s;
	return TAKE_FD(cur);
}

static int path_error(const char *pname, const char *dir, const char *rel, int e,
		      struct dk_error **err)
{
	if (e == ELOOP)
		return dk_error_set(
			err, ELOOP,
			"%s: %s in %s goes through a symbolic link: refused (a "
			"patch changes only files inside the tree)",
			pname, rel, dir);
	if (e == ENOTDIR)
		return dk_error_set(
			err, ENOTDIR,
			"%s: %s in %s: a file stands where a directory belongs", pname,
			rel, dir);
	return dk_error_set(err, e, "%s: %s in %s: %s", pname, rel, dir, strerror(e));
}

/* A file of the tree: what the patch makes of it, staged before anything is written. */
struct stage {
	const char *path;
	char *data; /* the content, NULL when it does not exist */
	size_t len;
	bool existed;
	mode_t mode;
	char tmp[64]; /* the temp file written beside it, "" when none */
};

struct stages {
	struct stage *v;
	size_t n;
};

static void stages_free(struct stages *st)
{
	for (size_t i = 0; st->v && i < st->n; i++)
		free(st->v[i].data);
	free(st->v);
}

static int read_target(int dirfd, const char *pname, const char *dir, struct stage *s,
		       struct dk_error **err)
{
	_cleanup_close_ int pfd = -1, fd = -1;
	const char *base;
	struct stat st;
	size_t n = 0;

	pfd = open_parent(dirfd, s->path, false, &base);
	if (pfd == -ENOENT)
		return 0;
	if (pfd < 0)
		return path_error(pname, dir, s->path, -pfd, err);
	/* O_NONBLOCK: a FIFO put there must not hang the build. */
	fd = openat(pfd, base, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0 && errno == ENOENT)
		return 0;
	if (fd < 0 || fstat(fd, &st) < 0)
		return path_error(pname, dir, s->path, errno, err);
	if (!S_ISREG(st.st_mode))
		return dk_error_set(err, EINVAL, "%s: %s in %s is not a regular file",
				    pname, s->path, dir);
	if ((size_t)st.st_size > DK_PATCH_MAX_TARGET)
		return dk_error_set(err, EFBIG,
				    "%s: %s in %s has %lld bytes, more than the %zu a "
				    "patched file may have",
				    pname, s->path, dir, (long long)st.st_size,
				    DK_PATCH_MAX_TARGET);
	s->data = malloc((size_t)st.st_size + 1);
	if (!s->data)
		return dk_error_set(err, ENOMEM, "out of memory");
	while (n < (size_t)st.st_size) {
		ssize_t r = read(fd, s->data + n, (size_t)st.st_size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return dk_error_set(err, errno, "%s: read %s in %s: %s", pname,
					    s->path, dir, strerror(errno));
		if (r == 0)
			break;
		n += (size_t)r;
	}
	s->data[n] = '\0';
	s->len = n;
	s->existed = true;
	s->mode = st.st_mode & 07777;
	return 0;
}

static int stage_file(const struct dk_patch *p, const struct dk_patch_file *f,
		      const char *dir, struct stage *s, struct dk_error **err)
{
	char *data = NULL;
	size_t len = 0;
	int ret;

	if (!s->data && !f->creates)
		return dk_error_set(
			err, ENOENT, "%s: %s does not exist in %s%s", p->name, s->path,
			dir,
			f->deletes ? " (the patch deletes it: already applied?)" : "");
	ret = dk_patch_apply_file(p, f, s->path, s->data, s->len, &data, &len, err);
	if (ret < 0)
		return ret;
	if (!s->data)
		s->mode = 0644;
	if (f->mode)
		s->mode = f->mode;
	free(s->data);
	s->data = data;
	s->len = len;
	return 0;
}

static bool exists_below(int dirfd, const char *rel)
{
	const char *base;
	_cleanup_close_ int pfd = open_parent(dirfd, rel, false, &base);
	struct stat st;

	return pfd >= 0 && fstatat(pfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0;
}

static size_t count_slashes(const char *s)
{
	size_t n = 0;

	while ((s = strchr(s, '/')))
		n++, s++;
	return n;
}

/* The file a section patches. A plain `diff -u x.c.orig x.c` names two: the one that
 * exists, and of two that do, GNU patch's pick (fewest components, shortest base name,
 * shortest name). */
static const char *target_of(int dirfd, const struct dk_patch_file *f)
{
	const char *o = f->old_path, *n = f->new_path, *ob, *nb;

	if (!o || !n || streq(o, n) || !exists_below(dirfd, o))
		return dk_patch_file_path(f);
	if (!exists_below(dirfd, n))
		return o;
	ob = strrchr(o, '/') ? strrchr(o, '/') + 1 : o;
	nb = strrchr(n, '/') ? strrchr(n, '/') + 1 : n;
	if (count_slashes(o) != count_slashes(n))
		return count_slashes(o) < count_slashes(n) ? o : n;
	if (strlen(ob) != strlen(nb))
		return strlen(ob) < strlen(nb) ? o : n;
	return strlen(o) < strlen(n) ? o : n;
}

struct item {
	const char *path;
	size_t i;
};

static int item_cmp(const void *a, const void *b)
{
	const struct item *x = a, *y = b;
	int c = strcmp(x->path, y->path);

	return c ? c : x->i < y->i ? -1 : x->i > y->i;
}

/* Reads every target once and applies its sections in patch order (sorted by path, so
 * a patch of many files stays n log n). */
static int stage_all(int dirfd, const char *dir, const struct dk_patch *p,
		     struct stages *st, struct dk_error **err)
{
	_cleanup_free_ struct item *items = calloc(p->n_files, sizeof(*items));
	size_t i = 0;

	st->v = calloc(p->n_files, sizeof(*st->v));
	if (!items || !st->v)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t k = 0; k < p->n_files; k++)
		items[k] = (struct item){target_of(dirfd, &p->files[k]), k};
	qsort(items, p->n_files, sizeof(*items), item_cmp);
	while (i < p->n_files) {
		struct stage *s = &st->v[st->n++];
		int ret;

		s->path = items[i].path;
		ret = read_target(dirfd, p->name, dir, s, err);
		for (; ret >= 0 && i < p->n_files && streq(items[i].path, s->path); i++)
			ret = stage_file(p, &p->files[items[i].i], dir, s, err);
		if (ret < 0)
			return ret;
	}
	return 0;
}

static int write_all(int fd, const char *data, size_t len)
{
	while (len) {
		ssize_t r = write(fd, data, len);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		data += r;
		len -= (size_t)r;
	}
	return 0;
}

/* Writes s's content to a temp file beside it (no fsync: the tree is a build's
 * scratch copy, which a crash throws away). */
static int write_temp(int dirfd, const char *pname, const char *dir, struct stage *s,
		      size_t idx, struct dk_error **err)
{
	_cleanup_close_ int pfd = -1, fd = -1;
	const char *base;
	int ret;

	pfd = open_parent(dirfd, s->path, true, &base);
	if (pfd < 0)
		return path_error(pname, dir, s->path, -pfd, err);
	for (unsigned i = 0; fd < 0; i++) {
		snprintf(s->tmp, sizeof(s->tmp), ".dk-patch.%ld.%zu.%u", (long)getpid(),
			 idx, i);
		fd = openat(pfd, s->tmp,
			    O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
		if (fd < 0 && (errno != EEXIST || i >= 16)) {
			int e = errno;

			s->tmp[0] = '\0';
			return dk_error_set(err, e,
					    "%s: create a temp file for %s in %s: %s",
					    pname, s->path, dir, strerror(e));
		}
	}
	ret = write_all(fd, s->data, s->len);
	if (ret >= 0 && fchmod(fd, s->mode) < 0)
		ret = -errno;
	if (ret >= 0 && close(TAKE_FD(fd)) < 0)
		ret = -errno;
	if (ret < 0)
		return dk_error_set(err, -ret, "%s: write %s in %s: %s", pname, s->path,
				    dir, strerror(-ret));
	return 0;
}

/* Renames the temp files over their targets and removes deleted files. */
static int commit(int dirfd, const char *pname, const char *dir, struct stages *st,
		  struct dk_error **err)
{
	for (size_t i = 0; i < st->n; i++) {
		struct stage *s = &st->v[i];
		const char *base;
		_cleanup_close_ int pfd = -1;
		int r = 0;

		if (!s->tmp[0] && !(s->existed && !s->data))
			continue;
		pfd = open_parent(dirfd, s->path, false, &base);
		if (pfd < 0)
			r = -pfd;
		else if (s->tmp[0] && renameat(pfd, s->tmp, pfd, base) < 0)
			r = errno;
		else if (!s->tmp[0] && unlinkat(pfd, base, 0) < 0)
			r = errno;
		if (r)
			return dk_error_set(
				err, r,
				"%s: %s %s in %s: %s (%zu files before it are "
				"patched)",
				pname, s->tmp[0] ? "replace" : "delete", s->path, dir,
				strerror(r), i);
		s->tmp[0] = '\0';
	}
	return 0;
}

static void remove_temps(int dirfd, struct stages *st)
{
	for (size_t i = 0; i < st->n; i++) {
		const char *base;
		_cleanup_close_ int pfd = -1;

		if (!st->v[i].tmp[0])
			continue;
		pfd = open_parent(dirfd, st->v[i].path, false, &base);
		if (pfd >= 0)
			(void)unlinkat(pfd, st->v[i].tmp, 0);
	}
}

int dk_patch_apply(const char *dir, const char *patch_file, int strip,
		   struct dk_error **err)
{
	_cleanup_(stages_free) struct stages st = {NULL, 0};
	_cleanup_patch_ struct dk_patch *p = NULL;
	_cleanup_free_ char *text = NULL;
	_cleanup_close_ int dirfd = -1;
	struct stat pst;
	size_t len;
	int ret;

	ret = dk_read_regular(patch_file, DK_PATCH_MAX_PATCH, &text, &len, &pst, err);
	if (ret < 0)
		return ret;
	ret = dk_patch_parse(patch_file, text, len, strip, &p, err);
	if (ret < 0)
		return ret;
	free(TAKE_PTR(text)); /* p has its copy */
	dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dirfd < 0)
		return dk_error_set(err, errno, "%s: %s: %s", patch_file, dir,
				    strerror(errno));
	ret = stage_all(dirfd, dir, p, &st, err);
	for (size_t i = 0; ret >= 0 && i < st.n; i++)
		if (st.v[i].data)
			ret = write_temp(dirfd, patch_file, dir, &st.v[i], i, err);
	if (ret >= 0)
		ret = commit(dirfd, patch_file, dir, &st, err);
	if (ret < 0)
		remove_temps(dirfd, &st);
	return ret;
}
