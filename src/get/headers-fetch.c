/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "get/archive.h"
#include "get/headers-fetch.h"

struct dk_headers_fetcher {
	const struct dk_fetch_opts *fo;
	const char *const *urls;
	const char *const *sha256s;
	size_t n;
	char *tmpdir;		    /* NULL until the downloads ran */
	char **paths;		    /* paths[i]: the verified file for urls[i] */
	int result;		    /* the batch's result once it ran (0 or -errno) */
	struct dk_error *batch_err; /* its error, handed out once */
};

int dk_headers_fetcher_new(const struct dk_fetch_opts *fo, const char *const *urls,
			   const char *const *sha256s, size_t n,
			   struct dk_headers_fetcher **out, struct dk_error **err)
{
	struct dk_headers_fetcher *f = calloc(1, sizeof(*f));

	if (!f)
		return dk_error_set(err, ENOMEM, "out of memory");
	f->paths = calloc(n ? n : 1, sizeof(*f->paths));
	if (!f->paths) {
		free(f);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	f->fo = fo;
	f->urls = urls;
	f->sha256s = sha256s;
	f->n = n;
	*out = f;
	return 0;
}

/* Downloads every package at once into a fresh temporary directory. */
static int fetch_all(struct dk_headers_fetcher *f)
{
	_cleanup_free_ struct dk_fetch_req *reqs = calloc(f->n, sizeof(*reqs));
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (!reqs)
		return dk_error_set(&f->batch_err, ENOMEM, "out of memory");
	f->tmpdir = dk_strdup_printf("%s/drvkit-packages.XXXXXX", tmp);
	if (!f->tmpdir)
		return dk_error_set(&f->batch_err, ENOMEM, "out of memory");
	if (!mkdtemp(f->tmpdir)) {
		int e = errno;

		free(f->tmpdir);
		f->tmpdir = NULL;
		return dk_error_set(&f->batch_err, e,
				    "create a download directory in %s: %s (point TMPDIR "
				    "at a writable directory with room for the packages)",
				    tmp, strerror(e));
	}
	for (size_t i = 0; i < f->n; i++) {
		/* One file per package, named by position: URLs may share a basename. */
		f->paths[i] = dk_strdup_printf("%s/%zu.pkg", f->tmpdir, i);
		if (!f->paths[i])
			return dk_error_set(&f->batch_err, ENOMEM, "out of memory");
		reqs[i].url = f->urls[i];
		reqs[i].sha256 = f->sha256s[i];
		reqs[i].dest = f->paths[i];
	}
	return dk_fetch(f->fo, reqs, f->n, &f->batch_err);
}

int dk_headers_fetcher_fetch(void *userdata, const char *url, char **path,
			     struct dk_error **err)
{
	struct dk_headers_fetcher *f = userdata;
	size_t i;

	for (i = 0; i < f->n; i++)
		if (streq(f->urls[i], url))
			break;
	if (i == f->n)
		return dk_error_set(err, ENOENT, "%s: not among the packages to download",
				    url);
	if (!f->tmpdir && f->result == 0)
		f->result = fetch_all(f);
	if (f->result < 0) {
		if (f->batch_err) {
			*err = TAKE_PTR(f->batch_err);
			return f->result;
		}
		return dk_error_set(err, -f->result, "download %s: %s", url,
				    strerror(-f->result));
	}
	*path = strdup(f->paths[i]);
	return *path ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

void dk_headers_fetcher_free(struct dk_headers_fetcher *f)
{
	if (f->tmpdir) {
		for (size_t i = 0; i < f->n; i++)
			if (f->paths[i]) {
				(void)unlink(f->paths[i]);
				free(f->paths[i]);
			}
		(void)rmdir(f->tmpdir);
		free(f->tmpdir);
	}
	free(f->paths);
	dk_error_free(&f->batch_err);
	free(f);
}

/* Debian's linux-headers-KVER/Makefile is one line, "include
 * /usr/src/linux-headers-BASE-common/Makefile": make it find the common tree next to
 * it instead of the host's. Other absolute includes whose target is in the unpacked
 * tree are rewritten the same way. */
static int fix_makefile(const char *outdir, const char *rel_dir, struct dk_error **err)
{
	_cleanup_free_ char *mk = NULL, *text = NULL;
	_cleanup_strbuf_ struct strbuf b = {0};
	unsigned depth = 1;
	bool changed = false;
	struct stat st;
	int r;

	mk = dk_strdup_printf("%s/%s/Makefile", outdir, rel_dir);
	if (!mk)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (lstat(mk, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > 64 * 1024)
		return 0;
	r = dk_read_file(mk, 64 * 1024, &text, NULL);
	if (r < 0)
		return dk_error_set(err, -r, "read %s: %s", mk, strerror(-r));
	for (const char *c = rel_dir; *c; c++)
		depth += *c == '/';
	strbuf_init(&b);
	for (const char *l = text; *l;) {
		const char *end = strchrnul(l, '\n');
		size_t n = (size_t)(end - l);

		if (n > 9 && startswith(l, "include /")) {
			_cleanup_free_ char *target = strndup(l + 8, n - 8);
			_cleanup_free_ char *inside = NULL;

			if (!target)
				return dk_error_set(err, ENOMEM, "out of memory");
			dk_strip(target);
			inside = dk_path_join(outdir, target);
			if (inside && !strpbrk(target, " \t$") &&
			    dk_path_exists(inside)) {
				strbuf_puts(
					&b,
					"include $(dir $(lastword $(MAKEFILE_LIST)))");
				for (unsigned i = 0; i < depth; i++)
					strbuf_puts(&b, "../");
				strbuf_puts(&b, target + 1);
				changed = true;
				l = end;
				continue;
			}
		}
		strbuf_putn(&b, l, *end ? n + 1 : n);
		l = *end ? end + 1 : end;
		if (!*end)
			break;
	}
	if (!changed)
		return 0;
	if (b.oom)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_write_file_atomic(mk, b.s, b.len, st.st_mode & 0777);
	if (r < 0)
		return dk_error_set(err, -r, "rewrite %s: %s", mk, strerror(-r));
	dk_info("%s: absolute include rewritten to stay inside %s", mk, outdir);
	return 0;
}

static int local_package(const char *ref, dk_headers_fetch_fn fetch, void *fetch_data,
			 char **path, struct dk_error **err)
{
	if (startswith(ref, "file://")) {
		const char *p = ref + strlen("file://");

		if (startswith(p, "localhost/"))
			p += strlen("localhost");
		if (p[0] != '/')
			return dk_error_set(err, EINVAL, "%s: only local file:// URLs",
					    ref);
		*path = strdup(p);
	} else if (strstr(ref, "://")) {
		/* DOWNLOADER PLUG-IN POINT: http(s) packages come in through the
		 * caller's fetch callback (drvkit fetch, once it lands). */
		if (!fetch)
			return dk_error_set(
				err, ENOTSUP,
				"%s: downloading is not built in yet; fetch the "
				"package and pass its local path",
				ref);
		return fetch(fetch_data, ref, path, err);
	} else {
		*path = strdup(ref);
	}
	return *path ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

int dk_headers_materialise(const char *kver, const char *const *packages,
			   size_t n_packages, const char *outdir,
			   dk_headers_fetch_fn fetch, void *fetch_data,
			   struct dk_headers_info **out, struct dk_error **err)
{
	_cleanup_headers_info_ struct dk_headers_info *info = NULL;
	_cleanup_free_ char *d1 = NULL, *d2 = NULL;
	struct dk_archive_opts opts = {.flags = DK_ARCHIVE_REWRITE_ABS_SYMLINKS};
	int r;

	if (n_packages == 0)
		return dk_error_set(err, EINVAL, "no packages to unpack");
	{
		_cleanup_extract_ struct dk_extract *x = NULL;

		r = dk_extract_new(outdir, &opts, &x, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n_packages; i++) {
			_cleanup_free_ char *path = NULL;

			r = local_package(packages[i], fetch, fetch_data, &path, err);
			if (r < 0)
				return r;
			r = dk_extract_file(x, path, err);
			if (r < 0)
				return dk_error_wrap(err, "unpack package");
		}
		r = dk_extract_commit(x, err);
		if (r < 0)
			return r;
	}
	d1 = dk_strdup_printf("usr/src/linux-headers-%s", kver);
	d2 = dk_strdup_printf("usr/src/kernels/%s", kver);
	if (!d1 || !d2)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = fix_makefile(outdir, d1, err);
	if (r == 0)
		r = fix_makefile(outdir, d2, err);
	if (r < 0)
		return r;
	r = dk_headers_find(outdir, kver, &info, err);
	if (r < 0)
		return r;
	info->materialised = true;
	if (!info->build_dir) {
		const char *why =
			info->n_cands ? info->cands[info->n_cands - 1].reason : "?";

		for (size_t i = 0; i < info->n_cands; i++)
			if (info->cands[i].reason &&
			    !streq(info->cands[i].reason, "does not exist"))
				why = info->cands[i].reason;
		r = dk_error_set(
			err, EBADMSG,
			"the packages unpacked into %s hold no usable headers for "
			"%s: %s",
			outdir, kver, why);
		*out = TAKE_PTR(info);
		return r;
	}
	*out = TAKE_PTR(info);
	return 0;
}
