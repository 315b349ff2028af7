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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/archive-dl.h"
#include "base/log.h"
#include "get/archive.h"

static void archive_read_freep(struct archive **a)
{
	if (*a)
		(void)dk_sym_archive_read_free(*a);
}
#define _cleanup_archive_ _cleanup_(archive_read_freep)

#define STAGE_PREFIX ".drvkit-extract-"
#define MAX_SYMLINK_HOPS 40
#define READ_BLOCK (128 * 1024)

struct staged_link {
	char *path;  /* relative to the staging root */
	char *label; /* "archive: entry" for messages */
};

struct dk_extract {
	char *dir;
	int dirfd;
	char *stage_name; /* basename of the staging dir inside dir */
	int stagefd;
	bool created_dir;
	bool committed;
	struct dk_archive_opts opts;
	struct dk_archive_stats stats;
	bool member_matched, nested_matched;
	struct staged_link *links;
	size_t n_links, cap_links;
	/* the last parent directory opened, reused by consecutive entries */
	char *cache_path;
	int cache_fd;
};

/* ---- helpers ---- */

static int refuse(struct dk_error **err, const char *aname, const char *entry,
		  const char *fmt, ...) _printf_format_(4, 5);
static int refuse(struct dk_error **err, const char *aname, const char *entry,
		  const char *fmt, ...)
{
	_cleanup_strbuf_ struct strbuf b = {0};
	va_list ap;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	return dk_error_set(err, EBADMSG, "%s: %s: %s", aname, entry,
			    b.oom ? "refused" : strbuf_str(&b));
}

static int sys_error(struct dk_error **err, int errnum, const char *aname,
		     const char *entry, const char *what)
{
	return dk_error_set(err, errnum, "%s: %s: %s: %s", aname, entry, what,
			    strerror(errnum));
}

/* Removes name (a file, link or whole directory tree) below pfd, never following
 * symlinks. Returns 0 or the first -errno. */
static int rm_rf_at(int pfd, const char *name)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	int fd, r = 0;

	if (unlinkat(pfd, name, 0) == 0 || errno == ENOENT)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	d = fdopendir(fd);
	if (!d) {
		int e = errno;

		close(fd);
		return -e;
	}
	while ((de = readdir(d))) {
		int q;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		q = rm_rf_at(dirfd(d), de->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

/* Normalises an entry path: drops "./", empty and "." components. Sets *out to the
 * normalised path ("" for the archive root). Returns 0, or a static reason why the
 * path is refused. */
static const char *normalise_path(const char *p, char **out)
{
	_cleanup_strbuf_ struct strbuf b = {0};
	const char *c = p;

	*out = NULL;
	if (!p || !*p)
		return "empty path";
	if (p[0] == '/')
		return "absolute path";
	strbuf_init(&b);
	while (*c) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 2 && c[0] == '.' && c[1] == '.')
			return "path contains a '..' component";
		if (n > NAME_MAX)
			return "path component longer than NAME_MAX";
		if (n > 0 && !(n == 1 && c[0] == '.')) {
			if (b.len > 0)
				strbuf_putc(&b, '/');
			strbuf_putn(&b, c, n);
		}
		c = *end ? end + 1 : end;
	}
	if (b.len >= PATH_MAX)
		return "path longer than PATH_MAX";
	if (b.oom)
		return "out of memory";
	strbuf_puts(&b, "");
	*out = strbuf_steal(&b);
	return *out ? NULL : "out of memory";
}

/* Drops n leading components; returns a pointer into p, NULL when nothing is left. */
static const char *strip_components(const char *p, unsigned n)
{
	while (n > 0) {
		const char *s = strchr(p, '/');

		if (!s)
			return NULL;
		p = s + 1;
		n--;
	}
	return *p ? p : NULL;
}

/* Does a glob select path (the path itself or one of its parent directories)? */
static bool glob_selects(const char *const *globs, const char *path)
{
	size_t len = strlen(path);
	char buf[PATH_MAX];

	if (len >= sizeof(buf))
		return false;
	for (size_t i = 0; globs[i]; i++) {
		const char *g = globs[i];

		while (g[0] == '.' && g[1] == '/')
			g += 2;
		memcpy(buf, path, len + 1);
		for (;;) {
			char *slash;

			if (fnmatch(g, buf, 0) == 0)
				return true;
			slash = strrchr(buf, '/');
			if (!slash)
				break;
			*slash = '\0';
		}
	}
	return false;
}

static bool have_globs(const char *const *globs)
{
	return globs && globs[0];
}

static int add_link(struct dk_extract *x, const char *path, const char *aname)
{
	struct staged_link *l;

	if (x->n_links == x->cap_links) {
		size_t cap = x->cap_links ? x->cap_links * 2 : 64;
		struct staged_link *n = realloc(x->links, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		x->links = n;
		x->cap_links = cap;
	}
	l = &x->links[x->n_links];
	l->path = strdup(path);
	l->label = dk_strdup_printf("%s: %s", aname, path);
	if (!l->path || !l->label) {
		free(l->path);
		free(l->label);
		return -ENOMEM;
	}
	x->n_links++;
	return 0;
}

/* Returns a borrowed fd of directory rel (a normalised path, "" = staging root),
 * creating missing directories. Never follows a symlink. */
static int parent_fd(struct dk_extract *x, const char *rel, const char *aname,
		     const char *entry, int *out, struct dk_error **err)
{
	_cleanup_close_ int cur = -1;
	_cleanup_free_ char *copy = NULL;
	char *comp, *save = NULL;

	if (!*rel) {
		*out = x->stagefd;
		return 0;
	}
	if (x->cache_path && streq(x->cache_path, rel)) {
		*out = x->cache_fd;
		return 0;
	}
	copy = strdup(rel);
	if (!copy)
		return dk_error_set(err, ENOMEM, "out of memory");
	cur = fcntl(x->stagefd, F_DUPFD_CLOEXEC, 3);
	if (cur < 0)
		return sys_error(err, errno, aname, entry, "dup");
	for (comp = strtok_r(copy, "/", &save); comp; comp = strtok_r(NULL, "/", &save)) {
		int nfd;

		if (mkdirat(cur, comp, 0755) < 0 && errno != EEXIST)
			return sys_error(err, errno, aname, entry, "create directory");
		nfd = openat(cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (nfd < 0) {
			struct stat st;

			if ((errno == ELOOP || errno == ENOTDIR) &&
			    fstatat(cur, comp, &st, AT_SYMLINK_NOFOLLOW) == 0)
				return refuse(err, aname, entry,
					      "leading component '%s' is a %s, not a "
					      "directory",
					      comp,
					      S_ISLNK(st.st_mode) ? "symlink" : "file");
			return sys_error(err, errno, aname, entry, "open directory");
		}
		close(cur);
		cur = nfd;
	}
	if (x->cache_fd >= 0)
		close(x->cache_fd);
	free(x->cache_path);
	x->cache_path = strdup(rel);
	x->cache_fd = -1;
	if (!x->cache_path)
		return dk_error_set(err, ENOMEM, "out of memory");
	x->cache_fd = TAKE_FD(cur);
	*out = x->cache_fd;
	return 0;
}

/* Makes room for a new non-directory entry called name: removes an existing
 * non-directory of that name (later archive entries win, as with tar). */
static int make_room(int pfd, const char *name, const char *aname, const char *entry,
		     struct dk_error **err)
{
	struct stat st;

	if (fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return errno == ENOENT ? 0 : sys_error(err, errno, aname, entry, "stat");
	if (S_ISDIR(st.st_mode))
		return refuse(err, aname, entry, "already extracted as a directory");
	if (unlinkat(pfd, name, 0) < 0)
		return sys_error(err, errno, aname, entry, "replace");
	return 0;
}

static int check_size(struct dk_extract *x, uint64_t add, const char *aname,
		      const char *entry, struct dk_error **err)
{
	if (add > x->opts.max_size || x->stats.bytes > x->opts.max_size - add)
		return refuse(err, aname, entry,
			      "total uncompressed size exceeds the limit of %llu bytes",
			      (unsigned long long)x->opts.max_size);
	return 0;
}

static int write_data(struct dk_extract *x, struct archive *a, int fd, const char *aname,
		      const char *entry, struct dk_error **err)
{
	for (;;) {
		const void *buf;
		size_t size;
		la_int64_t off;
		const char *p;
		int r;

		r = dk_sym_archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return dk_error_set(err, EBADMSG, "%s: %s: %s", aname, entry,
					    dk_sym_archive_error_string(a));
		r = check_size(x, size, aname, entry, err);
		if (r < 0)
			return r;
		x->stats.bytes += size;
		p = buf;
		while (size > 0) {
			ssize_t w = pwrite(fd, p, size, off);

			if (w < 0) {
				if (errno == EINTR)
					continue;
				return sys_error(err, errno, aname, entry, "write");
			}
			p += w;
			off += w;
			size -= (size_t)w;
		}
	}
	return 0;
}

static int write_file(struct dk_extract *x, struct archive *a, struct archive_entry *e,
		      int pfd, const char *name, const char *aname, const char *entry,
		      struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	mode_t mode = dk_sym_archive_entry_perm(e) & 0777;
	int r;

	if (dk_sym_archive_entry_size_is_set(e) && dk_sym_archive_entry_size(e) > 0) {
		r = check_size(x, (uint64_t)dk_sym_archive_entry_size(e), aname, entry,
			       err);
		if (r < 0)
			return r;
	}
	r = make_room(pfd, name, aname, entry, err);
	if (r < 0)
		return r;
	fd = openat(pfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0600);
	if (fd < 0)
		return sys_error(err, errno, aname, entry, "create");
	r = write_data(x, a, fd, aname, entry, err);
	if (r < 0)
		return r;
	if (dk_sym_archive_entry_size_is_set(e) &&
	    ftruncate(fd, dk_sym_archive_entry_size(e)) < 0)
		return sys_error(err, errno, aname, entry, "truncate");
	if (fchmod(fd, mode) < 0)
		return sys_error(err, errno, aname, entry, "chmod");
	if (dk_sym_archive_entry_mtime_is_set(e)) {
		struct timespec ts[2] = {
			{.tv_nsec = UTIME_OMIT},
			{.tv_sec = dk_sym_archive_entry_mtime(e),
			 .tv_nsec = dk_sym_archive_entry_mtime_nsec(e)},
		};

		(void)futimens(fd, ts);
	}
	if (close(TAKE_FD(fd)) < 0)
		return sys_error(err, errno, aname, entry, "write");
	return 0;
}

static int write_dir(struct archive_entry *e, int pfd, const char *name,
		     const char *aname, const char *entry, struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;

	if (mkdirat(pfd, name, 0700) < 0 && errno != EEXIST)
		return sys_error(err, errno, aname, entry, "create directory");
	fd = openat(pfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		if ((errno == ELOOP || errno == ENOTDIR) &&
		    fstatat(pfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			return refuse(err, aname, entry,
				      "already extracted as a non-directory");
		return sys_error(err, errno, aname, entry, "open directory");
	}
	/* owner always keeps rwx so the rest of the tree can be written */
	if (fchmod(fd, (dk_sym_archive_entry_perm(e) & 0777) | 0700) < 0)
		return sys_error(err, errno, aname, entry, "chmod");
	return 0;
}

/* Makes an absolute target /t relative to the extraction root, seen from a link
 * whose parent directory is depth levels below the root. */
static char *rewrite_absolute(const char *target, unsigned depth)
{
	_cleanup_strbuf_ struct strbuf norm = {0};
	struct strbuf b;
	const char *c = target;

	strbuf_init(&norm);
	while (*c) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 2 && c[0] == '.' && c[1] == '.') {
			char *slash = norm.s ? strrchr(norm.s, '/') : NULL;

			/* "/.." is "/" */
			norm.len = slash ? (size_t)(slash - norm.s) : 0;
			if (norm.s)
				norm.s[norm.len] = '\0';
		} else if (n > 0 && !(n == 1 && c[0] == '.')) {
			if (norm.len > 0)
				strbuf_putc(&norm, '/');
			strbuf_putn(&norm, c, n);
		}
		c = *end ? end + 1 : end;
	}
	strbuf_init(&b);
	for (unsigned i = 0; i < depth; i++)
		strbuf_puts(&b, i + 1 < depth || norm.len > 0 ? "../" : "..");
	if (norm.len > 0)
		strbuf_puts(&b, norm.s);
	else if (depth == 0)
		strbuf_puts(&b, ".");
	if (norm.oom) {
		strbuf_release(&b);
		return NULL;
	}
	return strbuf_steal(&b);
}

/* Lexical check of a relative target from a link whose parent is depth levels
 * below the root: may it climb above the root? */
static bool target_escapes(const char *target, unsigned depth)
{
	long d = depth;
	const char *c = target;

	while (*c) {
		const char *end = strchrnul(c, '/');
		size_t n = (size_t)(end - c);

		if (n == 2 && c[0] == '.' && c[1] == '.') {
			if (--d < 0)
				return true;
		} else if (n > 0 && !(n == 1 && c[0] == '.')) {
			d++;
		}
		c = *end ? end + 1 : end;
	}
	return false;
}

static unsigned path_depth(const char *rel)
{
	unsigned d = *rel ? 1 : 0;

	for (const char *c = rel; *c; c++)
		if (*c == '/')
			d++;
	return d;
}

static int write_symlink(struct dk_extract *x, struct archive_entry *e, int pfd,
			 const char *parent, const char *name, const char *rel,
			 const char *aname, const char *entry, struct dk_error **err)
{
	_cleanup_free_ char *rewritten = NULL;
	const char *target = dk_sym_archive_entry_symlink(e);
	unsigned depth = path_depth(parent);
	int r;

	if (!target || !*target)
		return refuse(err, aname, entry, "symlink without a target");
	if (target[0] == '/') {
		if (!(x->opts.flags & DK_ARCHIVE_REWRITE_ABS_SYMLINKS))
			return refuse(err, aname, entry,
				      "symlink to absolute path '%s' is refused", target);
		rewritten = rewrite_absolute(target, depth);
		if (!rewritten)
			return dk_error_set(err, ENOMEM, "out of memory");
		dk_debug("%s: %s: symlink %s rewritten as %s", aname, entry, target,
			 rewritten);
		target = rewritten;
	} else if (target_escapes(target, depth)) {
		return refuse(err, aname, entry,
			      "symlink target '%s' points outside the extraction "
			      "directory",
			      target);
	}
	r = make_room(pfd, name, aname, entry, err);
	if (r < 0)
		return r;
	if (symlinkat(target, pfd, name) < 0)
		return sys_error(err, errno, aname, entry, "create symlink");
	if (add_link(x, rel, aname) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int write_hardlink(struct dk_extract *x, struct archive *a,
			  struct archive_entry *e, const char *hardlink,
			  const char *parent, const char *name, const char *aname,
			  const char *entry, struct dk_error **err)
{
	_cleanup_free_ char *norm = NULL;
	_cleanup_free_ char *tparent = NULL;
	const char *why, *target, *tname;
	struct stat st;
	int tfd, pfd, r;

	why = normalise_path(hardlink, &norm);
	if (why)
		return refuse(err, aname, entry, "hardlink target '%s': %s", hardlink,
			      why);
	target = strip_components(norm, x->opts.strip);
	if (!target)
		return refuse(err, aname, entry,
			      "hardlink target '%s' is outside the extracted tree",
			      hardlink);
	tname = strrchr(target, '/');
	tparent = tname ? strndup(target, (size_t)(tname - target)) : strdup("");
	if (!tparent)
		return dk_error_set(err, ENOMEM, "out of memory");
	tname = tname ? tname + 1 : target;
	/* parent_fd() hands out the cached fd, which the next call may replace:
	 * keep a duplicate of the target's directory */
	r = parent_fd(x, tparent, aname, entry, &tfd, err);
	if (r < 0)
		return r;
	if (fstatat(tfd, tname, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
		return refuse(err, aname, entry,
			      "hardlink target '%s' is not a regular file extracted "
			      "earlier",
			      hardlink);
	tfd = fcntl(tfd, F_DUPFD_CLOEXEC, 3);
	if (tfd < 0)
		return sys_error(err, errno, aname, entry, "dup");
	{
		_cleanup_close_ int tfd_owned = tfd;

		r = parent_fd(x, parent, aname, entry, &pfd, err);
		if (r < 0)
			return r;
		r = make_room(pfd, name, aname, entry, err);
		if (r < 0)
			return r;
		if (linkat(tfd_owned, tname, pfd, name, 0) < 0)
			return sys_error(err, errno, aname, entry, "create hardlink");
	}
	/* cpio (rpm payloads) stores a hardlinked file's data with its last link */
	if (dk_sym_archive_entry_size_is_set(e) && dk_sym_archive_entry_size(e) > 0) {
		_cleanup_close_ int fd = -1;

		r = check_size(x, (uint64_t)dk_sym_archive_entry_size(e), aname, entry,
			       err);
		if (r < 0)
			return r;
		fd = openat(pfd, name, O_WRONLY | O_TRUNC | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return sys_error(err, errno, aname, entry, "open");
		r = write_data(x, a, fd, aname, entry, err);
		if (r < 0)
			return r;
		if (close(TAKE_FD(fd)) < 0)
			return sys_error(err, errno, aname, entry, "write");
	}
	return 0;
}

static int write_entry(struct dk_extract *x, struct archive *a, struct archive_entry *e,
		       const char *aname, struct dk_error **err)
{
	_cleanup_free_ char *norm = NULL;
	_cleanup_free_ char *parent = NULL;
	const char *raw = dk_sym_archive_entry_pathname(e);
	const char *why, *rel, *name, *slash, *hardlink;
	int pfd, r;

	why = normalise_path(raw, &norm);
	if (why)
		return refuse(err, aname, raw ? raw : "(unnamed entry)", "%s", why);
	if (!*norm)
		return 0; /* "./", the archive's root */
	if (have_globs(x->opts.members) && !glob_selects(x->opts.members, norm))
		return 0;
	x->member_matched = true;
	rel = strip_components(norm, x->opts.strip);
	if (!rel)
		return 0;
	if (x->stats.entries >= x->opts.max_entries)
		return refuse(err, aname, raw, "more than %llu entries",
			      (unsigned long long)x->opts.max_entries);
	x->stats.entries++;
	slash = strrchr(rel, '/');
	parent = slash ? strndup(rel, (size_t)(slash - rel)) : strdup("");
	if (!parent)
		return dk_error_set(err, ENOMEM, "out of memory");
	name = slash ? slash + 1 : rel;

	hardlink = dk_sym_archive_entry_hardlink(e);
	if (hardlink)
		return write_hardlink(x, a, e, hardlink, parent, name, aname, raw, err);

	switch (dk_sym_archive_entry_filetype(e)) {
	case AE_IFDIR:
	case AE_IFREG:
	case AE_IFLNK:
		break;
	case AE_IFCHR:
		return refuse(err, aname, raw, "character device entries are refused");
	case AE_IFBLK:
		return refuse(err, aname, raw, "block device entries are refused");
	case AE_IFIFO:
		return refuse(err, aname, raw, "fifo entries are refused");
	case AE_IFSOCK:
		return refuse(err, aname, raw, "socket entries are refused");
	default:
		return refuse(err, aname, raw, "unsupported entry type");
	}
	r = parent_fd(x, parent, aname, raw, &pfd, err);
	if (r < 0)
		return r;
	switch (dk_sym_archive_entry_filetype(e)) {
	case AE_IFDIR:
		return write_dir(e, pfd, name, aname, raw, err);
	case AE_IFLNK:
		return write_symlink(x, e, pfd, parent, name, rel, aname, raw, err);
	default:
		return write_file(x, a, e, pfd, name, aname, raw, err);
	}
}

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

		r = dk_sym_archive_read_next_header(a, &e);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return dk_error_set(err, EBADMSG, "%s: %s", aname,
					    dk_sym_archive_error_string(a)
						    ? dk_sym_archive_error_string(a)
						    : "unreadable archive");
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
			    normalise_path(path, &norm) ||
			    !glob_selects(x->opts.nested_members, norm))
				continue;
			x->nested_matched = true;
			r = process_member(x, a, aname, norm, false, err);
			if (r < 0)
				return r;
			continue;
		}
		r = write_entry(x, a, e, aname, err);
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
	bool nested = have_globs(x->opts.nested_members);
	int r;

	x->member_matched = false;
	x->nested_matched = false;
	r = process(x, a, aname, nested, err);
	if (r < 0)
		return r;
	if (nested && !x->nested_matched)
		return no_match(aname, x->opts.nested_members, err);
	if (have_globs(x->opts.members) && !x->member_matched)
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
		int r = rm_rf_at(x->dirfd, x->stage_name);

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

	if (!a)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (dk_sym_archive_read_open_filename(a, path, READ_BLOCK) != ARCHIVE_OK) {
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
	r = rm_rf_at(x->dirfd, x->stage_name);
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
