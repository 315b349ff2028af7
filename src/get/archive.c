/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Safe archive extraction.
 *
 * Why not archive_write_disk() with ARCHIVE_EXTRACT_SECURE_*: those flags check
 * paths with lstat() walks from the process cwd, they cannot rewrite absolute
 * symlinks relative to DIR (needed for unpacked kernel header packages), they do
 * not stop a symlink whose relative target climbs out through another symlink, and
 * they give no list of what was created for a rollback. So libarchive only reads
 * here; every write is done by this file relative to directory file descriptors:
 *
 *  - each path component is opened with openat(O_DIRECTORY | O_NOFOLLOW) from the
 *    staging directory's fd, so a symlink planted by an earlier entry (or anything
 *    else) cannot redirect a later entry: an entry whose path goes through a symlink
 *    is refused;
 *  - files are created with O_CREAT | O_EXCL | O_NOFOLLOW, links with symlinkat() /
 *    linkat() without AT_SYMLINK_FOLLOW; nothing here ever follows a symlink;
 *  - symlink targets are checked lexically when the entry is read, and once more at
 *    commit by resolving them through the staged tree (a chain of in-tree links can
 *    escape where each link alone looks fine);
 *  - everything goes to DIR/.drvkit-extract-XXXXXX first and is renamed into DIR
 *    at commit, so a failure (ENOSPC, a hostile entry, a limit) removes the whole
 *    staging directory and DIR never holds half a tree.
 */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/archive-dl.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/tree.h"
#include "get/archive-internal.h"
#include "get/stop.h"

static void archive_read_freep(struct archive **a)
{
	if (*a)
		(void)dk_sym_archive_read_free(*a);
}
#define _cleanup_archive_ _cleanup_(archive_read_freep)

#define READ_BLOCK (128 * 1024)

static struct archive *new_reader(void)
{
	struct archive *a = dk_sym_archive_read_new();

	if (!a)
		return NULL;
	/* Explicit lists, not *_all(): the mtree format reads files named inside the
	 * archive from the local filesystem, and some "program" filters spawn
	 * external tools. */
	dk_sym_archive_read_support_filter_gzip(a);
	dk_sym_archive_read_support_filter_bzip2(a);
	dk_sym_archive_read_support_filter_xz(a);
	dk_sym_archive_read_support_filter_lzma(a);
	dk_sym_archive_read_support_filter_zstd(a);
	dk_sym_archive_read_support_filter_lz4(a);
	dk_sym_archive_read_support_filter_rpm(a);
	dk_sym_archive_read_support_format_tar(a);
	dk_sym_archive_read_support_format_gnutar(a);
	dk_sym_archive_read_support_format_cpio(a);
	dk_sym_archive_read_support_format_zip(a);
	dk_sym_archive_read_support_format_ar(a);
	return a;
}

/* Reads the data of the parent archive's current entry for a nested reader. */
struct member_src {
	struct archive *parent;
	int64_t offset;
};

static la_ssize_t member_read(struct archive *a, void *userdata, const void **buf)
{
	struct member_src *s = userdata;

	for (;;) {
		size_t size = 0;
		la_int64_t off = 0;
		int r = dk_sym_archive_read_data_block(s->parent, buf, &size, &off);

		if (r == ARCHIVE_EOF)
			return 0;
		if (r < ARCHIVE_WARN) {
			dk_sym_archive_set_error(a, EBADMSG, "%s",
						 dk_sym_archive_error_string(s->parent));
			return -1;
		}
		if (off != s->offset) {
			dk_sym_archive_set_error(a, EBADMSG, "sparse archive member");
			return -1;
		}
		s->offset += (int64_t)size;
		if (size > 0)
			return (la_ssize_t)size;
	}
}

static int process(struct dk_extract *x, struct archive *a, const char *aname,
		   bool descend, struct dk_error **err);

static int process_member(struct dk_extract *x, struct archive *parent, const char *aname,
			  const char *member, bool descend, struct dk_error **err)
{
	_cleanup_archive_ struct archive *a = new_reader();
	_cleanup_free_ char *label = dk_strdup_printf("%s:%s", aname, member);
	struct member_src src = {parent, 0};

	if (!a || !label)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (dk_sym_archive_read_open(a, &src, NULL, member_read, NULL) != ARCHIVE_OK)
		return dk_error_set(err, EBADMSG, "%s: %s", label,
				    dk_sym_archive_error_string(a));
	return process(x, a, label, descend, err);
}

/* Reads every entry of a. A .deb (an ar archive starting with debian-binary) is
 * transparent: its data.tar.* member is read as the archive. descend: the
 * members matching nested_members are archives to extract from. */
static int process(struct dk_extract *x, struct archive *a, const char *aname,
		   bool descend, struct dk_error **err)
{
	bool first = true, deb = false, deb_data = false;

	for (;;) {
		struct archive_entry *e = NULL;
		const char *path;
		int r;

		r = dk_get_check_stop(aname, err);
		if (r < 0)
			return r;
		r = dk_sym_archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return dk_error_set(err, EBADMSG,
					    "%s: %s (after %llu entries: the archive is "
					    "damaged, truncated or not an archive)",
					    aname,
					    dk_sym_archive_error_string(a)
						    ? dk_sym_archive_error_string(a)
						    : "unreadable archive",
					    (unsigned long long)x->headers);
		x->headers++;
		path = dk_sym_archive_entry_pathname(e);
		if (first) {
			deb = (dk_sym_archive_format(a) & ARCHIVE_FORMAT_BASE_MASK) ==
				      ARCHIVE_FORMAT_AR &&
			      path && streq(path, "debian-binary");
			first = false;
		}
		if (deb) {
			if (path && startswith(path, "data.tar")) {
				deb_data = true;
				r = process_member(x, a, aname, path, descend, err);
				if (r < 0)
					return r;
			}
			continue;
		}
		if (descend) {
			_cleanup_free_ char *norm = NULL;

			if (dk_sym_archive_entry_filetype(e) != AE_IFREG ||
			    dk_sym_archive_entry_hardlink(e) ||
			    dk_extract_normalise_path(path, &norm) ||
			    !dk_extract_glob_selects(x->opts.nested_members, norm))
				continue;
			x->nested_matched = true;
			r = process_member(x, a, aname, norm, false, err);
			if (r < 0)
				return r;
			continue;
		}
		r = dk_extract_write_entry(x, a, e, aname, err);
		if (r < 0)
			return r;
	}
	if (deb && !deb_data)
		return dk_error_set(err, EBADMSG, "%s: .deb without a data.tar member",
				    aname);
	return 0;
}

static int no_match(const char *aname, const char *const *globs, struct dk_error **err)
{
	_cleanup_strbuf_ struct strbuf b = {0};

	strbuf_init(&b);
	for (size_t i = 0; globs[i]; i++)
		strbuf_printf(&b, "%s'%s'", i ? ", " : "", globs[i]);
	return dk_error_set(err, ENOENT, "%s: no member matches %s", aname,
			    b.oom ? "the given globs" : strbuf_str(&b));
}

static int run_reader(struct dk_extract *x, struct archive *a, const char *aname,
		      struct dk_error **err)
{
	bool nested = dk_extract_have_globs(x->opts.nested_members);
	int r;

	x->member_matched = false;
	x->nested_matched = false;
	x->headers = 0;
	r = process(x, a, aname, nested, err);
	if (r < 0 && dk_get_stop_signal()) {
		/* a read interrupted by the signal failed: say why */
		dk_error_free(err);
		return dk_get_check_stop(aname, err);
	}
	if (r < 0)
		return r;
	if (x->headers == 0)
		return dk_error_set(err, EBADMSG,
				    "%s: no entries: not an archive, or an empty one "
				    "(only zeros?)",
				    aname);
	if (nested && !x->nested_matched)
		return no_match(aname, x->opts.nested_members, err);
	if (dk_extract_have_globs(x->opts.members) && !x->member_matched)
		return no_match(aname, x->opts.members, err);
	return 0;
}

/* ---- session ---- */

int dk_extract_new(const char *dir, const struct dk_archive_opts *opts,
		   struct dk_extract **out, struct dk_error **err)
{
	_cleanup_extract_ struct dk_extract *x = NULL;
	_cleanup_free_ char *tmpl = NULL;
	const char *base;
	int r;

	/* every reader is made through a dk_extract: libarchive is loaded here */
	r = dk_archive_load(err);
	if (r < 0)
		return r;
	x = calloc(1, sizeof(*x));
	if (!x)
		return dk_error_set(err, ENOMEM, "out of memory");
	x->dirfd = x->stagefd = x->cache_fd = -1;
	if (opts)
		x->opts = *opts;
	if (x->opts.max_size == 0)
		x->opts.max_size = DK_ARCHIVE_DEFAULT_MAX_SIZE;
	if (x->opts.max_entries == 0)
		x->opts.max_entries = DK_ARCHIVE_DEFAULT_MAX_ENTRIES;
	x->dir = strdup(dir);
	if (x->dir)
		tmpl = dk_strdup_printf("%s/" STAGE_PREFIX "XXXXXX", x->dir);
	if (!tmpl)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (mkdir(dir, 0755) == 0)
		x->created_dir = true;
	else if (errno != EEXIST)
		return dk_error_set(err, errno, "create %s: %s", dir, strerror(errno));
	x->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (x->dirfd < 0)
		return dk_error_set(err, errno, "open %s: %s", dir, strerror(errno));
	if (!mkdtemp(tmpl))
		return dk_error_set(err, errno, "create staging directory in %s: %s", dir,
				    strerror(errno));
	base = strrchr(tmpl, '/') + 1;
	x->stage_name = strdup(base);
	if (!x->stage_name) {
		(void)rmdir(tmpl);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	x->stagefd = openat(x->dirfd, x->stage_name,
			    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (x->stagefd < 0)
		return dk_error_set(err, errno, "open %s: %s", tmpl, strerror(errno));
	*out = TAKE_PTR(x);
	return 0;
}

void dk_extract_free(struct dk_extract *x)
{
	if (!x)
		return;
	if (x->cache_fd >= 0)
		close(x->cache_fd);
	if (x->stagefd >= 0)
		close(x->stagefd);
	if (!x->committed && x->dirfd >= 0 && x->stage_name) {
		int r = dk_rm_rf_at(x->dirfd, x->stage_name);

		if (r < 0)
			dk_warn("cannot remove %s/%s: %s", x->dir, x->stage_name,
				strerror(-r));
	}
	if (!x->committed && x->created_dir)
		(void)rmdir(x->dir);
	if (x->dirfd >= 0)
		close(x->dirfd);
	for (size_t i = 0; i < x->n_links; i++) {
		free(x->links[i].path);
		free(x->links[i].label);
	}
	free(x->links);
	free(x->cache_path);
	free(x->stage_name);
	free(x->dir);
	free(x);
}

void dk_extract_get_stats(const struct dk_extract *x, struct dk_archive_stats *stats)
{
	*stats = x->stats;
}

int dk_extract_file(struct dk_extract *x, const char *path, struct dk_error **err)
{
	_cleanup_archive_ struct archive *a = new_reader();
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (!a)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* a regular file only, opened without blocking: a FIFO or /dev/zero would
	 * hang or read for ever */
	fd = dk_open_regular(path, SIZE_MAX, &st, err);
	if (fd < 0)
		return fd;
	if (st.st_size == 0)
		return dk_error_set(err, EBADMSG, "%s: empty file, not an archive", path);
	if (dk_sym_archive_read_open_fd(a, fd, READ_BLOCK) != ARCHIVE_OK) {
		int e = dk_sym_archive_errno(a);

		/* system errors keep their errno; format errors (EILSEQ, EINVAL...)
		 * mean bad input */
		if (e != ENOENT && e != EACCES && e != EPERM && e != EISDIR &&
		    e != ENOTDIR && e != EIO && e != ENOMEM)
			e = EBADMSG;
		return dk_error_set(err, e, "%s: %s", path,
				    dk_sym_archive_error_string(a));
	}
	return run_reader(x, a, path, err);
}

struct user_src {
	dk_archive_read_fn fn;
	void *userdata;
	struct dk_error *err;
};

static la_ssize_t user_read(struct archive *a, void *userdata, const void **buf)
{
	struct user_src *s = userdata;
	size_t len = 0;
	int r;

	r = s->fn(s->userdata, buf, &len, &s->err);
	if (r < 0) {
		dk_sym_archive_set_error(
			a, -r, "%s", s->err && s->err->msg ? s->err->msg : strerror(-r));
		if (!s->err)
			(void)dk_error_set(&s->err, -r, "%s", strerror(-r));
		return -1;
	}
	return (la_ssize_t)len;
}

int dk_extract_stream(struct dk_extract *x, const char *name, dk_archive_read_fn fn,
		      void *userdata, struct dk_error **err)
{
	_cleanup_archive_ struct archive *a = new_reader();
	struct user_src src = {fn, userdata, NULL};
	int r;

	if (!a)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (dk_sym_archive_read_open(a, &src, NULL, user_read, NULL) != ARCHIVE_OK)
		r = dk_error_set(err, EBADMSG, "%s: %s", name,
				 dk_sym_archive_error_string(a));
	else
		r = run_reader(x, a, name, err);
	if (src.err) {
		/* the source failed: its error says more than libarchive's echo of it */
		if (r < 0) {
			dk_error_free(err);
			*err = TAKE_PTR(src.err);
			return dk_error_wrap(err, "%s", name);
		}
		dk_error_free(&src.err);
	}
	return r;
}

/* Resolves the symlink at link (relative to rootfd, its parents are real
 * directories) through the tree, following in-tree symlinks, as the kernel would.
 * Returns 0 when the result stays inside rootfd, -EXDEV when it leaves it. Missing
 * components are resolved lexically. */
static int resolve_inside(int rootfd, const char *link)
{
	_cleanup_strbuf_ struct strbuf cur = {0};
	_cleanup_free_ char *rest = NULL;
	char t[PATH_MAX];
	const char *slash = strrchr(link, '/');
	bool missing = false;
	int hops = 0;
	ssize_t n;

	n = readlinkat(rootfd, link, t, sizeof(t) - 1);
	if (n < 0)
		return -errno;
	t[n] = '\0';
	if (t[0] == '/')
		return -EXDEV;
	rest = strdup(t);
	if (!rest)
		return -ENOMEM;
	strbuf_init(&cur);
	if (slash)
		strbuf_putn(&cur, link, (size_t)(slash - link));
	while (rest && *rest) {
		char *end = strchrnul(rest, '/');
		_cleanup_free_ char *comp = strndup(rest, (size_t)(end - rest));
		char *next;
		struct stat st;

		next = strdup(*end ? end + 1 : end);
		free(rest);
		rest = next;
		if (!comp || !rest)
			return -ENOMEM;
		if (!*comp || streq(comp, "."))
			continue;
		if (streq(comp, "..")) {
			char *s;

			if (cur.len == 0)
				return -EXDEV;
			s = strrchr(cur.s, '/');
			cur.len = s ? (size_t)(s - cur.s) : 0;
			cur.s[cur.len] = '\0';
			continue;
		}
		if (!missing) {
			_cleanup_free_ char *cand = dk_strdup_printf(
				"%s%s%s", cur.len ? cur.s : "", cur.len ? "/" : "", comp);

			if (!cand)
				return -ENOMEM;
			if (fstatat(rootfd, cand, &st, AT_SYMLINK_NOFOLLOW) < 0) {
				missing = true;
			} else if (S_ISLNK(st.st_mode)) {
				char *joined;

				if (++hops > MAX_SYMLINK_HOPS)
					return 0; /* a loop: broken, not escaping */
				n = readlinkat(rootfd, cand, t, sizeof(t) - 1);
				if (n < 0)
					return -errno;
				t[n] = '\0';
				if (t[0] == '/')
					return -EXDEV;
				joined = dk_strdup_printf("%s/%s", t, rest);
				if (!joined)
					return -ENOMEM;
				free(rest);
				rest = joined;
				continue;
			}
		}
		if (cur.len > 0)
			strbuf_putc(&cur, '/');
		strbuf_puts(&cur, comp);
		if (cur.oom)
			return -ENOMEM;
	}
	return 0;
}

struct name_list {
	char **names;
	size_t n, cap;
};

static void name_list_release(struct name_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->names[i]);
	free(l->names);
}

/* The entries of directory fd (collected first: renaming while readdir() walks
 * is unspecified). */
static int list_dir(int fd, struct name_list *l)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int dfd;

	dfd = openat(fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -errno;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -ENOMEM;
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (l->n == l->cap) {
			size_t cap = l->cap ? l->cap * 2 : 32;
			char **nn = realloc(l->names, cap * sizeof(*nn));

			if (!nn)
				return -ENOMEM;
			l->names = nn;
			l->cap = cap;
		}
		l->names[l->n] = strdup(de->d_name);
		if (!l->names[l->n])
			return -ENOMEM;
		l->n++;
	}
	return 0;
}

/* Moves the entries of src into dst. dry: only check for conflicts. */
static int merge(struct dk_extract *x, int src, int dst, const char *rel, bool dry,
		 struct dk_error **err)
{
	_cleanup_(name_list_release) struct name_list l = {0};
	int r;

	r = list_dir(src, &l);
	if (r < 0)
		return dk_error_set(err, -r, "%s/%s: %s", x->dir, rel, strerror(-r));
	for (size_t i = 0; i < l.n && r == 0; i++) {
		const char *name = l.names[i];
		struct stat ss, ds;

		if (fstatat(src, name, &ss, AT_SYMLINK_NOFOLLOW) < 0) {
			r = dk_error_set(err, errno, "%s/%s%s: %s", x->dir, rel, name,
					 strerror(errno));
		} else if (fstatat(dst, name, &ds, AT_SYMLINK_NOFOLLOW) < 0) {
			if (errno != ENOENT)
				r = dk_error_set(err, errno, "%s/%s%s: %s", x->dir, rel,
						 name, strerror(errno));
			else if (!dry && renameat(src, name, dst, name) < 0)
				r = dk_error_set(err, errno,
						 "move %s/%s%s into place: %s", x->dir,
						 rel, name, strerror(errno));
		} else if (S_ISDIR(ss.st_mode) && S_ISDIR(ds.st_mode)) {
			_cleanup_close_ int s2 = -1, d2 = -1;
			_cleanup_free_ char *rel2 = NULL;

			s2 = openat(src, name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			d2 = openat(dst, name,
				    O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			if (s2 < 0 || d2 < 0)
				r = dk_error_set(err, errno, "%s/%s%s: %s", x->dir, rel,
						 name, strerror(errno));
			else if (!(rel2 = dk_strdup_printf("%s%s/", rel, name)))
				r = dk_error_set(err, ENOMEM, "out of memory");
			else
				r = merge(x, s2, d2, rel2, dry, err);
		} else if (!S_ISDIR(ss.st_mode) && !S_ISDIR(ds.st_mode)) {
			if (!dry && renameat(src, name, dst, name) < 0)
				r = dk_error_set(err, errno, "replace %s/%s%s: %s",
						 x->dir, rel, name, strerror(errno));
		} else {
			r = dk_error_set(
				err, EEXIST,
				"%s/%s%s: exists as a %s, the archive has a %s", x->dir,
				rel, name,
				S_ISDIR(ds.st_mode) ? "directory" : "non-directory",
				S_ISDIR(ss.st_mode) ? "directory" : "non-directory");
		}
	}
	return r;
}

int dk_extract_commit(struct dk_extract *x, struct dk_error **err)
{
	int r;

	for (size_t i = 0; i < x->n_links; i++) {
		r = resolve_inside(x->stagefd, x->links[i].path);
		if (r == -EXDEV)
			return dk_error_set(err, EBADMSG,
					    "%s: symlink resolves outside the extraction "
					    "directory (through other symlinks)",
					    x->links[i].label);
		if (r < 0)
			return dk_error_set(err, -r, "%s: %s", x->links[i].label,
					    strerror(-r));
	}
	r = merge(x, x->stagefd, x->dirfd, "", true, err);
	if (r < 0)
		return r;
	r = merge(x, x->stagefd, x->dirfd, "", false, err);
	if (r < 0)
		return r;
	x->committed = true;
	r = dk_rm_rf_at(x->dirfd, x->stage_name);
	if (r < 0)
		dk_warn("cannot remove %s/%s: %s", x->dir, x->stage_name, strerror(-r));
	return 0;
}

int dk_extract_finish(struct dk_extract *x, struct dk_archive_stats *stats,
		      struct dk_error **err)
{
	int r = dk_extract_commit(x, err);

	if (r < 0)
		return r;
	if (stats)
		dk_extract_get_stats(x, stats);
	return 0;
}

int dk_archive_extract_file(const char *archive, const char *dir,
			    const struct dk_archive_opts *opts,
			    struct dk_archive_stats *stats, struct dk_error **err)
{
	_cleanup_extract_ struct dk_extract *x = NULL;
	int r;

	r = dk_extract_new(dir, opts, &x, err);
	if (r < 0)
		return r;
	r = dk_extract_file(x, archive, err);
	if (r < 0)
		return r;
	return dk_extract_finish(x, stats, err);
}

int dk_archive_extract_stream(const char *name, dk_archive_read_fn fn, void *userdata,
			      const char *dir, const struct dk_archive_opts *opts,
			      struct dk_archive_stats *stats, struct dk_error **err)
{
	_cleanup_extract_ struct dk_extract *x = NULL;
	int r;

	r = dk_extract_new(dir, opts, &x, err);
	if (r < 0)
		return r;
	r = dk_extract_stream(x, name, fn, userdata, err);
	if (r < 0)
		return r;
	return dk_extract_finish(x, stats, err);
}
