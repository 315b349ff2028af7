/* SPDX-License-Identifier: Apache-2.0 */
/* Writing one archive entry below the staging directory: path checks, parent
 * directories opened without following symlinks, files, directories, symlinks and
 * hardlinks, limits. The safety model is described at the top of archive.c. */
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/log.h"
#include "base/tree.h"
#include "get/archive-internal.h"
#include "get/stop.h"

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

/* A write that failed (ENOSPC, EDQUOT, EIO): the directory is what the reader
 * must fix (free space, a bigger volume), so it is named. */
static int write_error(const struct dk_extract *x, struct dk_error **err, int errnum,
		       const char *aname, const char *entry)
{
	return dk_error_set(err, errnum, "%s: %s: write into %s: %s", aname, entry,
			    x->dir, strerror(errnum));
}

/* Normalises an entry path: drops "./", empty and "." components. Sets *out to the
 * normalised path ("" for the archive root). Returns 0, or a static reason why the
 * path is refused. */
const char *dk_extract_normalise_path(const char *p, char **out)
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
bool dk_extract_glob_selects(const char *const *globs, const char *path)
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

bool dk_extract_have_globs(const char *const *globs)
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

		r = dk_get_check_stop(aname, err);
		if (r < 0)
			return r;
		r = dk_sym_archive_read_data_block(a, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			break;
		if (r < ARCHIVE_WARN)
			return dk_error_set(err, EBADMSG,
					    "%s: %s: %s (the archive is damaged or "
					    "truncated)",
					    aname, entry, dk_sym_archive_error_string(a));
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
				return write_error(x, err, errno, aname, entry);
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
		return write_error(x, err, errno, aname, entry);
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
	if (strlen(target) >= PATH_MAX)
		return refuse(err, aname, entry,
			      "symlink target of %zu bytes, longer than PATH_MAX (%d)",
			      strlen(target), PATH_MAX);
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

	why = dk_extract_normalise_path(hardlink, &norm);
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
			return write_error(x, err, errno, aname, entry);
	}
	return 0;
}

int dk_extract_write_entry(struct dk_extract *x, struct archive *a,
			   struct archive_entry *e, const char *aname,
			   struct dk_error **err)
{
	_cleanup_free_ char *norm = NULL;
	_cleanup_free_ char *parent = NULL;
	const char *raw = dk_sym_archive_entry_pathname(e);
	const char *why, *rel, *name, *slash, *hardlink;
	int pfd, r;

	why = dk_extract_normalise_path(raw, &norm);
	if (why && (!raw || !*raw))
		return refuse(err, aname, "entry without a name",
			      "the archive is damaged or truncated (entry %llu, at "
			      "byte %lld of the uncompressed stream)",
			      (unsigned long long)x->headers,
			      (long long)dk_sym_archive_read_header_position(a));
	if (why)
		return refuse(err, aname, raw, "%s", why);
	if (!*norm)
		return 0; /* "./", the archive's root */
	if (dk_extract_have_globs(x->opts.members) &&
	    !dk_extract_glob_selects(x->opts.members, norm))
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
