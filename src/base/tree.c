/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
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
#include "base/sha256.h"
#include "base/tree.h"

/* Deeper than any source tree; stops a hostile tree from exhausting fds. */
#define TREE_MAX_DEPTH 64

int dk_rm_rf_at(int pfd, const char *name)
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
		q = dk_rm_rf_at(dirfd(d), de->d_name);
		if (q < 0 && r == 0)
			r = q;
	}
	if (unlinkat(pfd, name, AT_REMOVEDIR) < 0 && r == 0)
		r = -errno;
	return r;
}

int dk_rm_rf(const char *path)
{
	return dk_rm_rf_at(AT_FDCWD, path);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The names in a directory, sorted (bytewise), without . and .. */
static int list_sorted(int fd, char ***out, size_t *n)
{
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;
	char **v = NULL;
	size_t cap = 0;
	int dup_fd = fcntl(fd, F_DUPFD_CLOEXEC, 3);

	*n = 0;
	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		if (*n + 1 >= cap) {
			char **nv = realloc(v, (cap = cap ? cap * 2 : 16) * sizeof(*v));

			if (!nv)
				goto oom;
			v = nv;
		}
		if (!(v[*n] = strdup(de->d_name)))
			goto oom;
		(*n)++;
	}
	if (*n)
		qsort(v, *n, sizeof(*v), cmp_str);
	*out = v;
	return 0;
oom:
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	free(v);
	return -ENOMEM;
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* A link target that stays inside the tree, given the link's depth below the top. */
static bool link_inside(const char *target, int depth)
{
	if (target[0] == '/')
		return false;
	for (const char *p = target; *p;) {
		size_t len = strcspn(p, "/");

		if (len == 2 && p[0] == '.' && p[1] == '.')
			depth--;
		else if (len && !(len == 1 && p[0] == '.'))
			depth++;
		if (depth < 0)
			return false;
		p += len;
		while (*p == '/')
			p++;
	}
	return true;
}

struct walk {
	struct dk_error **err;
	const char *top;
	/* one of these per walk */
	int (*file)(struct walk *w, int dfd, const char *name, const char *rel,
		    const struct stat *st);
	int (*link)(struct walk *w, const char *rel, const char *target);
	int (*dir)(struct walk *w, const char *rel, const struct stat *st);
	struct dk_sha256 *sha;
	int dst_root;
	uint64_t total;
	/* dk_tree_copy: src as given and resolved; an absolute link into it is copied
	 * as the relative link to the same file (kbuild's $(abspath) links, e.g.
	 * NVIDIA's nvidia/nv-kernel.o -> <tree>/nvidia/nv-kernel.o_binary) */
	const char *abs_top[2];
};

static int walk_dir(struct walk *w, int dfd, const char *rel, int depth);

/* An absolute target inside w->abs_top as a relative one, for a link depth levels
 * below the top; other targets unchanged. */
static void rebase_link(const struct walk *w, char *target, size_t size, int depth)
{
	for (size_t i = 0; i < 2 && target[0] == '/'; i++) {
		const char *top = w->abs_top[i];
		size_t n = top ? strlen(top) : 0;
		char rel[PATH_MAX] = "";

		while (n > 1 && top[n - 1] == '/')
			n--;
		if (!n || strncmp(target, top, n) != 0 || target[n] != '/')
			continue;
		for (int d = 0; d < depth; d++)
			strcat(rel, "../");
		if (strlen(rel) + strlen(target + n + 1) + 1 > size)
			return;
		strcat(rel, target + n + 1);
		strcpy(target, rel);
	}
}

static int walk_entry(struct walk *w, int dfd, const char *name, const char *rel,
		      int depth)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return dk_error_set(w->err, errno, "%s/%s: %s", w->top, rel,
				    strerror(errno));
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX];
		ssize_t n = readlinkat(dfd, name, target, sizeof(target) - 1);

		if (n < 0)
			return dk_error_set(w->err, errno, "%s/%s: %s", w->top, rel,
					    strerror(errno));
		target[n] = '\0';
		rebase_link(w, target, sizeof(target), depth - 1);
		if (!link_inside(target, depth - 1))
			return dk_error_set(w->err, EXDEV,
					    "%s/%s: a symlink to %s, outside the tree",
					    w->top, rel, target);
		return w->link(w, rel, target);
	}
	if (S_ISREG(st.st_mode))
		return w->file(w, dfd, name, rel, &st);
	if (S_ISDIR(st.st_mode)) {
		_cleanup_close_ int fd = -1;
		int r;

		if (depth >= TREE_MAX_DEPTH)
			return dk_error_set(w->err, ELOOP, "%s/%s: deeper than %d levels",
					    w->top, rel, TREE_MAX_DEPTH);
		r = w->dir(w, rel, &st);
		if (r < 0)
			return r;
		fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0)
			return dk_error_set(w->err, errno, "%s/%s: %s", w->top, rel,
					    strerror(errno));
		return walk_dir(w, fd, rel, depth);
	}
	return dk_error_set(w->err, EINVAL,
			    "%s/%s: not a file, directory or symlink (a device, FIFO or "
			    "socket has no place in a source tree)",
			    w->top, rel);
}

static int walk_dir(struct walk *w, int dfd, const char *rel, int depth)
{
	char **names = NULL;
	size_t n = 0;
	int r = list_sorted(dfd, &names, &n);

	if (r < 0)
		return dk_error_set(w->err, -r, "%s/%s: %s", w->top, rel, strerror(-r));
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *sub = *rel ? dk_strdup_printf("%s/%s", rel, names[i])
						: strdup(names[i]);

		r = sub ? walk_entry(w, dfd, names[i], sub, depth + 1)
			: dk_error_set(w->err, ENOMEM, "out of memory");
	}
	names_free(names, n);
	return r;
}

static int walk_top(struct walk *w, const char *dir)
{
	_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	w->top = dir;
	if (fd < 0)
		return dk_error_set(w->err, errno, "%s: %s", dir, strerror(errno));
	return walk_dir(w, fd, "", 0);
}

/* ---- digest ---- */

static int sha_put(struct walk *w, char kind, const char *rel, const char *extra)
{
	int r = dk_sha256_update(w->sha, &kind, 1);

	if (r >= 0)
		r = dk_sha256_update(w->sha, rel, strlen(rel) + 1);
	if (r >= 0 && extra)
		r = dk_sha256_update(w->sha, extra, strlen(extra) + 1);
	return r < 0 ? dk_error_set(w->err, -r, "sha256 failed") : 0;
}

static int dg_file(struct walk *w, int dfd, const char *name, const char *rel,
		   const struct stat *st)
{
	_cleanup_close_ int fd = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char size[32];
	int r;

	if (fd < 0)
		return dk_error_set(w->err, errno, "%s/%s: %s", w->top, rel,
				    strerror(errno));
	snprintf(size, sizeof(size), "%llu", (unsigned long long)st->st_size);
	r = sha_put(w, (st->st_mode & 0111) ? 'x' : 'f', rel, size);
	if (r < 0)
		return r;
	r = dk_sha256_update_fd(w->sha, fd, (unsigned long long)st->st_size);
	return r < 0 ? dk_error_set(w->err, -r, "read %s/%s: %s", w->top, rel,
				    strerror(-r))
		     : 0;
}

static int dg_link(struct walk *w, const char *rel, const char *target)
{
	return sha_put(w, 'l', rel, target);
}

static int dg_dir(struct walk *w, const char *rel, const struct stat *st)
{
	(void)st;
	return sha_put(w, 'd', rel, NULL);
}

int dk_tree_digest(const char *dir, char hex[static 65], struct dk_error **err)
{
	_cleanup_sha256_ struct dk_sha256 sha = {0};
	struct walk w = {
		.err = err, .file = dg_file, .link = dg_link, .dir = dg_dir, .sha = &sha};
	int r = dk_sha256_reset(&sha);

	if (r < 0)
		return dk_error_set(err, -r, "sha256 failed");
	r = walk_top(&w, dir);
	if (r < 0)
		return r;
	r = dk_sha256_final_hex(&sha, hex);
	return r < 0 ? dk_error_set(err, -r, "sha256 failed") : 0;
}

/* ---- copy ---- */

static int cp_file(struct walk *w, int dfd, const char *name, const char *rel,
		   const struct stat *st)
{
	_cleanup_close_ int in = openat(dfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	_cleanup_close_ int out = -1;
	off_t left = st->st_size;

	if (in < 0)
		return dk_error_set(w->err, errno, "%s/%s: %s", w->top, rel,
				    strerror(errno));
	out = openat(w->dst_root, rel,
		     O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		     st->st_mode & 0755);
	if (out < 0)
		return dk_error_set(w->err, errno, "create %s: %s", rel, strerror(errno));
	while (left > 0) {
		ssize_t n = copy_file_range(in, NULL, out, NULL, (size_t)left, 0);

		if (n < 0 && (errno == EXDEV || errno == ENOSYS || errno == EINVAL)) {
			char buf[64 * 1024];

			n = read(in, buf, sizeof(buf));
			if (n > 0 && write(out, buf, (size_t)n) != n)
				n = -1;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return dk_error_set(w->err, n < 0 ? errno : EIO, "copy %s/%s: %s",
					    w->top, rel,
					    n < 0 ? strerror(errno) : "file shrank");
		left -= n;
	}
	return 0;
}

static int cp_link(struct walk *w, const char *rel, const char *target)
{
	if (symlinkat(target, w->dst_root, rel) < 0)
		return dk_error_set(w->err, errno, "symlink %s: %s", rel,
				    strerror(errno));
	return 0;
}

static int cp_dir(struct walk *w, const char *rel, const struct stat *st)
{
	(void)st;
	if (mkdirat(w->dst_root, rel, 0755) < 0)
		return dk_error_set(w->err, errno, "mkdir %s: %s", rel, strerror(errno));
	return 0;
}

int dk_tree_copy(const char *src, const char *dst, struct dk_error **err)
{
	struct walk w = {.err = err, .file = cp_file, .link = cp_link, .dir = cp_dir};
	_cleanup_close_ int root = -1;
	_cleanup_free_ char *real = realpath(src, NULL);
	int r;

	w.abs_top[0] = src;
	w.abs_top[1] = real;
	if (mkdir(dst, 0755) < 0)
		return dk_error_set(err, errno, "mkdir %s: %s", dst, strerror(errno));
	root = open(dst, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (root < 0) {
		r = dk_error_set(err, errno, "%s: %s", dst, strerror(errno));
		(void)dk_rm_rf(dst);
		return r;
	}
	w.dst_root = root;
	r = walk_top(&w, src);
	if (r < 0)
		(void)dk_rm_rf(dst);
	return r;
}

/* ---- size ---- */

static int sz_file(struct walk *w, int dfd, const char *name, const char *rel,
		   const struct stat *st)
{
	(void)dfd, (void)name, (void)rel;
	w->total += (uint64_t)st->st_blocks * 512;
	return 0;
}

static int sz_link(struct walk *w, const char *rel, const char *target)
{
	(void)w, (void)rel, (void)target;
	return 0;
}

static int sz_dir(struct walk *w, const char *rel, const struct stat *st)
{
	return sz_file(w, -1, NULL, rel, st);
}

int dk_tree_size(const char *dir, uint64_t *bytes)
{
	struct walk w = {.file = sz_file, .link = sz_link, .dir = sz_dir};
	int r = walk_top(&w, dir);

	*bytes = w.total;
	return r;
}
