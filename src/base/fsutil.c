/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "shared/json-writer.h"

#include "base/fsutil.h"

char *dk_path_join(const char *root, const char *rel)
{
	struct strbuf b;
	size_t rl;

	strbuf_init(&b);
	if (!root)
		root = "/";
	rl = strlen(root);
	while (rl > 0 && root[rl - 1] == '/')
		rl--;
	strbuf_putn(&b, root, rl);
	while (*rel == '/')
		rel++;
	strbuf_putc(&b, '/');
	strbuf_puts(&b, rel);
	return strbuf_steal(&b);
}

/* What st is, for messages: "a FIFO", "a character device"... */
const char *dk_file_type_str(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFIFO:
		return "a FIFO";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	case S_IFSOCK:
		return "a socket";
	case S_IFLNK:
		return "a symlink";
	}
	return "not a regular file";
}

/* Opens path for reading without blocking (a FIFO would block open() until a writer
 * comes) and without making it our terminal; the fd is blocking again once open. */
static int open_rd(const char *path, struct stat *st)
{
	_cleanup_close_ int fd = -1;
	int fl;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0 || fstat(fd, st) < 0)
		return -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl & ~O_NONBLOCK) < 0)
		return -errno;
	return TAKE_FD(fd);
}

/* A regular file of at most max bytes (0 bytes: /proc and sysfs, read to the end). */
static int check_regular(const char *path, const struct stat *st, size_t max,
			 struct dk_error **err)
{
	if (S_ISDIR(st->st_mode))
		return dk_error_set(err, EISDIR, "%s: is a directory, not a file", path);
	if (!S_ISREG(st->st_mode))
		return dk_error_set(err, EBADMSG,
				    "%s: is %s, not a regular file: give the path of "
				    "a file",
				    path, dk_file_type_str(st->st_mode));
	if ((uint64_t)st->st_size > max)
		return dk_error_set(err, EFBIG,
				    "%s: %lld bytes, more than the limit of %zu bytes "
				    "for this file: is it the right file?",
				    path, (long long)st->st_size, max);
	return 0;
}

int dk_read_file_err(const char *path, size_t max, char **out, size_t *len,
		     struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t cap = 4096, n = 0;
	struct stat st;
	int r;

	if (max == 0)
		max = 64u << 20;
	fd = open_rd(path, &st);
	if (fd < 0)
		return dk_error_set(err, -fd, "%s: %s", path, strerror(-fd));
	r = check_regular(path, &st, max, err);
	if (r < 0)
		return r;
	/* The size is known: one allocation (room for the NUL and for the read that
	 * sees the end) instead of doubling. /proc and sysfs files report 0 or 4096
	 * and take the loop below. */
	if (st.st_size > 0)
		cap = MAX(cap, (size_t)st.st_size + 2);
	buf = malloc(cap);
	if (!buf)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (;;) {
		ssize_t rd;

		if (n + 1 >= cap) {
			char *nb;

			if (cap > max + 1)
				break; /* grew since fstat: caught below */
			cap *= 2;
			nb = realloc(buf, cap);
			if (!nb)
				return dk_error_set(err, ENOMEM, "out of memory");
			buf = nb;
		}
		rd = read(fd, buf + n, cap - n - 1);
		if (rd < 0 && errno == EINTR)
			continue;
		if (rd < 0)
			return dk_error_set(err, errno, "read %s: %s", path,
					    strerror(errno));
		if (rd == 0)
			break;
		n += (size_t)rd;
		if (n > max)
			break;
	}
	if (n > max)
		return dk_error_set(err, EFBIG,
				    "%s: more than the limit of %zu bytes for this file: "
				    "is it the right file?",
				    path, max);
	buf[n] = '\0';
	if (len)
		*len = n;
	*out = TAKE_PTR(buf);
	return 0;
}

int dk_read_file(const char *path, size_t max, char **out, size_t *len)
{
	_cleanup_error_ struct dk_error *err = NULL;

	return dk_read_file_err(path, max, out, len, &err);
}

int dk_open_regular(const char *path, size_t max, struct stat *st, struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	int r;

	fd = open_rd(path, st);
	if (fd < 0)
		return dk_error_set(err, -fd, "%s: %s", path, strerror(-fd));
	r = check_regular(path, st, max, err);
	if (r < 0)
		return r;
	return TAKE_FD(fd);
}

int dk_read_regular(const char *path, size_t max, char **out, size_t *len,
		    struct stat *st, struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	char *buf;
	size_t n = 0, size;

	fd = dk_open_regular(path, max, st, err);
	if (fd < 0)
		return fd;
	size = (size_t)st->st_size;
	buf = malloc(size + 1);
	if (!buf)
		return dk_error_set(err, ENOMEM, "out of memory");
	while (n < size) {
		ssize_t r = read(fd, buf + n, size - n);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;

			explicit_bzero(buf, n);
			free(buf);
			return dk_error_set(err, e, "read %s: %s", path, strerror(e));
		}
		if (r == 0)
			break; /* shrank since fstat: what is there is the file */
		n += (size_t)r;
	}
	buf[n] = '\0';
	*out = buf;
	*len = n;
	return 0;
}

void dk_strip(char *s)
{
	size_t n = strlen(s);

	while (n > 0 && (s[n - 1] == '\n' || s[n - 1] == ' ' || s[n - 1] == '\t' ||
			 s[n - 1] == '\r'))
		s[--n] = '\0';
}

int dk_read_line(const char *path, char **out)
{
	char *s = NULL, *nl;
	int r;

	r = dk_read_file(path, 1u << 20, &s, NULL);
	if (r < 0)
		return r;
	nl = strchr(s, '\n');
	if (nl)
		*nl = '\0';
	dk_strip(s);
	*out = s;
	return 0;
}

static int write_all(int fd, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t w = write(fd, p, len);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

/* Copies len bytes from the start of src to dst's current offset. */
static int copy_range(int src, int dst, size_t len)
{
	off_t off = 0;
	char buf[64 * 1024];
	bool kernel_copy = true;

	while (len > 0) {
		ssize_t n;

		if (kernel_copy) {
			n = copy_file_range(src, &off, dst, NULL, len, 0);
			if (n < 0 && (errno == EXDEV || errno == ENOSYS ||
				      errno == EINVAL || errno == EOPNOTSUPP)) {
				kernel_copy = false; /* other filesystem or old kernel */
				continue;
			}
		} else {
			n = pread(src, buf, MIN(len, sizeof(buf)), off);
			if (n > 0) {
				int r = write_all(dst, buf, (size_t)n);

				if (r < 0)
					return r;
				off += n;
			}
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO; /* the source shrank under us */
		len -= (size_t)n;
	}
	return 0;
}

/* Temp file next to path, filled by fill(), fsync'd, then renamed over path. */
static int write_atomic(const char *path, mode_t mode,
			int (*fill)(int fd, void *userdata), void *userdata)
{
	_cleanup_free_ char *tmp = NULL;
	_cleanup_close_ int fd = -1;
	int r;

	tmp = dk_strdup_printf("%s.tmp.XXXXXX", path);
	if (!tmp)
		return -ENOMEM;
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0)
		return -errno;
	r = fill(fd, userdata);
	if (r == 0 && (fchmod(fd, mode) < 0 || fsync(fd) < 0 || rename(tmp, path) < 0))
		r = -errno;
	if (r < 0)
		unlink(tmp);
	return r;
}

int dk_remove_stale_temps(const char *dir, const char *base)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	size_t bl = base ? strlen(base) : 0;
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d))) {
		const char *t = strstr(de->d_name, ".tmp.");

		/* write_atomic's names: <base>.tmp. and mkostemp's six characters */
		if (!t || strlen(t) != 5 + 6 ||
		    (base &&
		     (t - de->d_name != (ptrdiff_t)bl || strncmp(de->d_name, base, bl))))
			continue;
		if (unlinkat(dirfd(d), de->d_name, 0) == 0)
			n++;
	}
	return n;
}

int dk_remove_stale_temps_of(const char *path)
{
	const char *slash = strrchr(path, '/');
	_cleanup_free_ char *dir = NULL;

	if (!slash)
		return dk_remove_stale_temps(".", path);
	dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	return dir ? dk_remove_stale_temps(dir, slash + 1) : -ENOMEM;
}

struct atomic_src {
	int src_fd;
	size_t len;
	const void *tail;
	size_t tail_len;
};

static int fill_from(int fd, void *userdata)
{
	const struct atomic_src *s = userdata;
	int r = 0;

	if (s->src_fd >= 0)
		r = copy_range(s->src_fd, fd, s->len);
	if (r == 0 && s->tail_len > 0)
		r = write_all(fd, s->tail, s->tail_len);
	return r;
}

int dk_write_file_atomic(const char *path, const void *data, size_t len, mode_t mode)
{
	struct atomic_src s = {-1, 0, data, len};

	return write_atomic(path, mode, fill_from, &s);
}

int dk_copy_file_atomic(const char *path, int src_fd, size_t len, const void *tail,
			size_t tail_len, mode_t mode)
{
	struct atomic_src s = {src_fd, len, tail, tail_len};

	return write_atomic(path, mode, fill_from, &s);
}

int dk_mkdir_p(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, mode) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

int dk_mkdir_parent(const char *path, mode_t mode)
{
	_cleanup_free_ char *p = strdup(path);
	char *slash;

	if (!p)
		return -ENOMEM;
	slash = strrchr(p, '/');
	if (!slash || slash == p)
		return 0;
	*slash = '\0';
	return dk_mkdir_p(p, mode);
}

int dk_readlink_base(const char *path, char **out)
{
	char target[PATH_MAX];
	ssize_t n = readlink(path, target, sizeof(target) - 1);
	const char *base;

	*out = NULL;
	if (n < 0)
		return -errno;
	if (n == 0)
		return -EINVAL;
	target[n] = '\0';
	base = strrchr(target, '/');
	*out = strdup(base ? base + 1 : target);
	return *out ? 0 : -ENOMEM;
}

bool dk_path_exists(const char *path)
{
	return access(path, F_OK) == 0;
}

bool dk_is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

int dk_write_json_atomic(const char *path, struct json_writer *w)
{
	int r;

	strbuf_putc(&w->out, '\n');
	r = w->out.oom ? -ENOMEM : dk_write_file_atomic(path, w->out.s, w->out.len, 0644);
	json_release(w);
	return r;
}

char *dk_path_absolute(const char *path)
{
	_cleanup_free_ char *cwd = NULL;

	if (path[0] == '/')
		return strdup(path);
	cwd = getcwd(NULL, 0);
	return cwd ? dk_path_join(cwd, path) : NULL;
}
