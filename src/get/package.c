/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Deterministic packages of built modules.
 *
 * The same tree must give the same bytes whoever builds it, wherever and whenever:
 * the tree is listed first and sorted, every entry gets the same owner, mtime and one
 * of two modes, file names are limited to printable ASCII (so no locale conversion
 * enters the headers), pax "restricted" writes extended headers only for what ustar
 * cannot hold (long paths, sizes) and names them without a pid, and zstd runs
 * single-threaded at a fixed level.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/archive-dl.h"
#include "get/archive.h"
#include "get/package.h"

/* Level 9. Packaging an 80 MiB file of real ELF objects (amdgpu.ko, a vmlinux and
 * part of libLLVM; NVIDIA's nvidia.ko is of that size) with libarchive 3.6.2 and
 * libzstd 1.5.4 on one thread of a busy 2-core box, one run after the other:
 *   level 3: 1.4 s, 22.4 MiB;  level 9: 4.6 s, 19.7 MiB;  level 19: 163 s, 17.9 MiB
 * (unpacking: 0.3-0.5 s at every level). 19 costs minutes for 9% less; 9 costs 3 s
 * more than 3, once per build, for 12% less to download on every node. */
#define ZSTD_LEVEL "9"

#define COPY_BLOCK (128 * 1024)

struct pkg_entry {
	char *rel; /* relative to dir, no leading or trailing slash */
	bool dir;
	uint64_t size; /* as listed: the file must still have it when copied */
};

struct pkg_list {
	struct pkg_entry *v;
	size_t n, cap;
	uint64_t bytes; /* file data, for the size limit */
};

static void pkg_list_release(struct pkg_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].rel);
	free(l->v);
}

static void archive_write_freep(struct archive **a)
{
	if (*a)
		(void)dk_sym_archive_write_free(*a);
}
#define _cleanup_archive_write_ _cleanup_(archive_write_freep)

static void archive_entry_freep(struct archive_entry **e)
{
	if (*e)
		dk_sym_archive_entry_free(*e);
}
#define _cleanup_archive_entry_ _cleanup_(archive_entry_freep)

/* Printable ASCII only: libarchive converts other bytes through the current locale
 * (and marks them hdrcharset=BINARY where it cannot), which would make the bytes of a
 * package depend on the environment of the build. */
static bool portable_name(const char *name)
{
	for (const char *p = name; *p; p++)
		if (*p < 0x20 || *p > 0x7e)
			return false;
	return true;
}

static const char *kind_of(mode_t mode)
{
	if (S_ISLNK(mode))
		return "a symlink";
	if (S_ISFIFO(mode))
		return "a FIFO";
	if (S_ISSOCK(mode))
		return "a socket";
	if (S_ISCHR(mode) || S_ISBLK(mode))
		return "a device node";
	return "not a regular file or directory";
}

static int add_entry(struct pkg_list *l, const char *root, char *rel,
		     const struct stat *st, struct dk_error **err)
{
	_cleanup_free_ char *owned = rel;

	if (!S_ISREG(st->st_mode) && !S_ISDIR(st->st_mode))
		return dk_error_set(err, EINVAL,
				    "%s/%s is %s: a package holds only regular files and "
				    "directories",
				    root, rel, kind_of(st->st_mode));
	if (!portable_name(rel))
		return dk_error_set(err, EINVAL,
				    "%s: a name below it is not printable ASCII, which a "
				    "package needs",
				    root);
	if (l->n >= DK_PACKAGE_MAX_ENTRIES)
		return dk_error_set(err, EFBIG,
				    "%s: more than %llu entries for a package", root,
				    (unsigned long long)DK_PACKAGE_MAX_ENTRIES);
	if (S_ISREG(st->st_mode)) {
		l->bytes += (uint64_t)st->st_size;
		if (l->bytes > DK_PACKAGE_MAX_SIZE)
			return dk_error_set(
				err, EFBIG,
				"%s: more than %llu bytes of files for a package", root,
				(unsigned long long)DK_PACKAGE_MAX_SIZE);
	}
	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct pkg_entry *v = reallocarray(l->v, cap, sizeof(*v));

		if (!v)
			return dk_error_set(err, ENOMEM, "out of memory");
		l->v = v;
		l->cap = cap;
	}
	l->v[l->n].rel = TAKE_PTR(owned);
	l->v[l->n].dir = S_ISDIR(st->st_mode);
	l->v[l->n].size = S_ISREG(st->st_mode) ? (uint64_t)st->st_size : 0;
	l->n++;
	return 0;
}

/* Adds the entries of directory rel ("" for the root) to l. One directory is open at
 * a time: the list itself is the queue of directories still to read. */
static int scan_dir(int rootfd, const char *root, const char *rel, struct pkg_list *l,
		    struct dk_error **err)
{
	_cleanup_closedir_ DIR *d = NULL;
	int fd = openat(rootfd, *rel ? rel : ".",
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	int r;

	if (fd < 0 || !(d = fdopendir(fd))) {
		r = errno;
		if (fd >= 0)
			close(fd);
		return dk_error_set(err, r, "open %s%s%s: %s", root, *rel ? "/" : "", rel,
				    strerror(r));
	}
	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		char *child;

		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		child = *rel ? dk_strdup_printf("%s/%s", rel, de->d_name)
			     : strdup(de->d_name);
		if (!child)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
			r = errno;
			dk_error_set(err, r, "%s/%s: %s", root, child, strerror(r));
			free(child);
			return -r;
		}
		r = add_entry(l, root, child, &st, err);
		if (r < 0)
			return r;
	}
	if (errno)
		return dk_error_set(err, errno, "read %s%s%s: %s", root, *rel ? "/" : "",
				    rel, strerror(errno));
	return 0;
}

static int cmp_entry(const void *a, const void *b)
{
	return strcmp(((const struct pkg_entry *)a)->rel,
		      ((const struct pkg_entry *)b)->rel);
}

static int list_tree(int rootfd, const char *root, struct pkg_list *l,
		     struct dk_error **err)
{
	int r = scan_dir(rootfd, root, "", l, err);

	for (size_t i = 0; r == 0 && i < l->n; i++)
		if (l->v[i].dir)
			r = scan_dir(rootfd, root, l->v[i].rel, l, err);
	if (r == 0)
		qsort(l->v, l->n, sizeof(*l->v), cmp_entry);
	return r;
}

/* "a/b", relative, with no empty, "." or ".." component. */
static bool clean_prefix(const char *p)
{
	if (!*p || *p == '/' || !portable_name(p))
		return false;
	for (const char *c = p; c;) {
		const char *end = strchr(c, '/');
		size_t n = end ? (size_t)(end - c) : strlen(c);

		if (n == 0 || (n == 1 && c[0] == '.') || (n == 2 && !strncmp(c, "..", 2)))
			return false;
		c = end ? end + 1 : NULL;
	}
	return true;
}

static size_t prefix_depth(const char *p)
{
	size_t n = 1;

	for (; *p; p++)
		n += *p == '/';
	return n;
}

/* The output file: our own write callback, so a failed write(2) keeps its errno and
 * its text (libarchive's fd writer says only "Write error"). */
struct sink {
	int fd;
	int errnum;
};

static la_ssize_t sink_write(struct archive *a, void *userdata, const void *buf,
			     size_t len)
{
	struct sink *s = userdata;

	for (size_t done = 0; done < len;) {
		ssize_t n = write(s->fd, (const char *)buf + done, len - done);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			s->errnum = errno;
			dk_sym_archive_set_error(a, errno, "%s", strerror(errno));
			return -1;
		}
		done += (size_t)n;
	}
	return (la_ssize_t)len;
}

static int archive_fail(struct archive *a, const struct sink *s, const char *out_file,
			const char *what, struct dk_error **err)
{
	int e = s->errnum ? s->errnum : dk_sym_archive_errno(a);
	const char *msg = dk_sym_archive_error_string(a);

	return dk_error_set(err, e > 0 ? e : EIO, "write %s: %s: %s", out_file, what,
			    msg ? msg : "libarchive error");
}

static int changed(const char *root, const char *rel, struct dk_error **err)
{
	return dk_error_set(err, EAGAIN, "%s/%s changed size while it was packaged", root,
			    rel);
}

/* The fixed header of every entry; only path, type, mode and size vary. */
static int put_header(struct archive *a, const struct sink *s, const char *path, bool dir,
		      mode_t perm, int64_t size, const char *out_file,
		      struct dk_error **err)
{
	_cleanup_archive_entry_ struct archive_entry *e = dk_sym_archive_entry_new();

	if (!e)
		return dk_error_set(err, ENOMEM, "out of memory");
	dk_sym_archive_entry_set_pathname(e, path);
	dk_sym_archive_entry_set_filetype(e, dir ? AE_IFDIR : AE_IFREG);
	dk_sym_archive_entry_set_perm(e, dir || (perm & 0111) ? 0755 : 0644);
	dk_sym_archive_entry_set_size(e, dir ? 0 : size);
	dk_sym_archive_entry_set_mtime(e, 0, 0);
	dk_sym_archive_entry_set_uid(e, 0);
	dk_sym_archive_entry_set_gid(e, 0);
	dk_sym_archive_entry_set_uname(e, "root");
	dk_sym_archive_entry_set_gname(e, "root");
	/* ARCHIVE_WARN: a header libarchive had to approximate */
	if (dk_sym_archive_write_header(a, e) != ARCHIVE_OK)
		return archive_fail(a, s, out_file, path, err);
	return 0;
}

/* Copies exactly the size listed (which the limits counted); a file that changed
 * size while it was packaged fails instead of giving a package that depends on
 * timing. */
static int put_file(struct archive *a, const struct sink *s, int rootfd, const char *root,
		    const struct pkg_entry *ent, const char *path, const char *out_file,
		    struct dk_error **err)
{
	const char *rel = ent->rel;
	_cleanup_close_ int fd = openat(rootfd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_free_ char *buf = NULL;
	struct stat st;
	uint64_t left;
	int r;

	if (fd < 0 || fstat(fd, &st) < 0)
		return dk_error_set(err, errno, "open %s/%s: %s", root, rel,
				    strerror(errno));
	if (!S_ISREG(st.st_mode))
		return dk_error_set(err, EINVAL, "%s/%s: not a regular file any more",
				    root, rel);
	buf = malloc(COPY_BLOCK);
	if (!buf)
		return dk_error_set(err, ENOMEM, "out of memory");
	if ((uint64_t)st.st_size != ent->size)
		return changed(root, rel, err);
	r = put_header(a, s, path, false, st.st_mode, st.st_size, out_file, err);
	if (r < 0)
		return r;
	for (left = ent->size;;) {
		ssize_t n = read(fd, buf, COPY_BLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return dk_error_set(err, errno, "read %s/%s: %s", root, rel,
					    strerror(errno));
		if ((uint64_t)n > left || (n == 0 && left > 0))
			return changed(root, rel, err);
		if (n == 0)
			return 0;
		if (dk_sym_archive_write_data(a, buf, (size_t)n) != n)
			return archive_fail(a, s, out_file, path, err);
		left -= (uint64_t)n;
	}
}

static int put_prefix_dirs(struct archive *a, const struct sink *s, const char *prefix,
			   const char *out_file, struct dk_error **err)
{
	_cleanup_free_ char *p = strdup(prefix);
	int r;

	if (!p)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (char *slash = p;; slash++) {
		slash = strchr(slash, '/');
		if (slash)
			*slash = '\0';
		r = put_header(a, s, p, true, 0, 0, out_file, err);
		if (r < 0 || !slash)
			return r;
		*slash = '/';
	}
}

static int write_archive(int fd, int rootfd, const char *root, const char *prefix,
			 const struct pkg_list *l, const char *out_file,
			 struct dk_error **err)
{
	/* before a: its cleanup may still flush through it */
	struct sink sink = {fd, 0}, *s = &sink;
	_cleanup_archive_write_ struct archive *a = dk_sym_archive_write_new();
	int r = 0;

	if (!a)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (dk_sym_archive_write_set_format_pax_restricted(a) != ARCHIVE_OK)
		return archive_fail(a, s, out_file, "pax format", err);
	/* ARCHIVE_WARN here means a libarchive built without libzstd that would run the
	 * zstd program instead: not wanted from PID 1, nor for reproducible output. */
	if (dk_sym_archive_write_add_filter_zstd(a) != ARCHIVE_OK ||
	    dk_sym_archive_write_set_filter_option(a, "zstd", "compression-level",
						   ZSTD_LEVEL) != ARCHIVE_OK)
		return archive_fail(a, s, out_file, "zstd (libarchive without libzstd?)",
				    err);
	/* no padding of the last block: it would be bytes after the zstd frame */
	if (dk_sym_archive_write_set_bytes_in_last_block(a, 1) != ARCHIVE_OK ||
	    dk_sym_archive_write_open(a, s, NULL, sink_write, NULL) != ARCHIVE_OK)
		return archive_fail(a, s, out_file, "open", err);
	if (prefix)
		r = put_prefix_dirs(a, s, prefix, out_file, err);
	for (size_t i = 0; r == 0 && i < l->n; i++) {
		_cleanup_free_ char *path =
			prefix ? dk_strdup_printf("%s/%s", prefix, l->v[i].rel)
			       : strdup(l->v[i].rel);

		if (!path)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (l->v[i].dir)
			r = put_header(a, s, path, true, 0, 0, out_file, err);
		else
			r = put_file(a, s, rootfd, root, &l->v[i], path, out_file, err);
	}
	if (r == 0 && dk_sym_archive_write_close(a) != ARCHIVE_OK)
		return archive_fail(a, s, out_file, "finish", err);
	return r;
}

/* Makes the rename itself durable; a failure here loses nothing written. */
static void sync_parent(const char *path)
{
	_cleanup_free_ char *dir = strdup(path);
	char *slash = dir ? strrchr(dir, '/') : NULL;
	_cleanup_close_ int fd = -1;

	if (!dir)
		return;
	if (slash)
		*(slash == dir ? slash + 1 : slash) = '\0';
	fd = open(slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0)
		(void)fsync(fd);
}

int dk_package_write(const char *dir, const char *prefix, const char *out_file,
		     struct dk_error **err)
{
	_cleanup_(pkg_list_release) struct pkg_list l = {0};
	_cleanup_close_ int rootfd = -1, fd = -1;
	_cleanup_free_ char *tmp = NULL;
	int r;

	if (prefix && !clean_prefix(prefix))
		return dk_error_set(
			err, EINVAL,
			"package prefix '%s': not a relative path of printable "
			"ASCII without '.' or '..'",
			prefix);
	r = dk_archive_load(err);
	if (r < 0)
		return r;
	rootfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (rootfd < 0)
		return dk_error_set(err, errno, "open %s: %s", dir, strerror(errno));
	r = list_tree(rootfd, dir, &l, err);
	if (r < 0)
		return r;
	if (prefix && l.n + prefix_depth(prefix) > DK_PACKAGE_MAX_ENTRIES)
		return dk_error_set(err, EFBIG,
				    "%s: more than %llu entries for a package", dir,
				    (unsigned long long)DK_PACKAGE_MAX_ENTRIES);
	tmp = dk_strdup_printf("%s.tmp.XXXXXX", out_file);
	if (!tmp)
		return dk_error_set(err, ENOMEM, "out of memory");
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return dk_error_set(err, errno, "create a temp file for %s: %s", out_file,
				    strerror(errno));
	r = write_archive(fd, rootfd, dir, prefix, &l, out_file, err);
	if (r == 0 &&
	    (fchmod(fd, 0644) < 0 || fsync(fd) < 0 || rename(tmp, out_file) < 0))
		r = dk_error_set(err, errno, "write %s: %s", out_file, strerror(errno));
	if (r < 0) {
		(void)unlink(tmp);
		return r;
	}
	sync_parent(out_file);
	return 0;
}

int dk_package_unpack(const char *file, const char *dir, struct dk_error **err)
{
	const struct dk_archive_opts opts = {
		.max_size = DK_PACKAGE_MAX_SIZE,
		.max_entries = DK_PACKAGE_MAX_ENTRIES,
	};

	return dk_archive_extract_file(file, dir, &opts, NULL, err);
}
