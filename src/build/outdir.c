/* SPDX-License-Identifier: Apache-2.0 */
/* What `drvkit build` hands over: an output tree and a package. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/tree.h"
#include "get/package.h"
#include "build/build.h"
#include "build/store.h"

static int write_index(const struct dk_got *got, size_t n, const char *kernel,
		       const char *dir, struct dk_error **err)
{
	_cleanup_free_ char *path = dk_path_join(dir, "manifest.json");
	struct json_writer w;
	int r;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	json_init(&w, true);
	json_begin_object(&w);
	json_kv_int(&w, "drvkit_manifest", DK_MANIFEST_VERSION);
	json_kv_string(&w, "kernel", kernel);
	json_key(&w, "components");
	json_begin_array(&w);
	for (size_t i = 0; i < n; i++)
		dk_manifest_json(&w, got[i].m);
	json_end_array(&w);
	json_end_object(&w);
	r = dk_write_json_atomic(path, &w);
	return r < 0 ? dk_error_set(err, -r, "write %s: %s", path, strerror(-r)) : 0;
}

/* parent/<kernel> built in parent/.<kernel>.tmp-XXXXXX, then renamed over. */
static int write_tree(const struct dk_got *got, size_t n, const char *kernel,
		      const char *parent, char **made, struct dk_error **err)
{
	_cleanup_free_ char *tmp = dk_strdup_printf("%s/.%s.tmp-XXXXXX", parent, kernel);
	int r = dk_mkdir_p(parent, 0755);

	if (r < 0)
		return dk_error_set(err, -r, "mkdir %s: %s", parent, strerror(-r));
	if (!tmp || !mkdtemp(tmp))
		return dk_error_set(err, errno, "mkdtemp in %s: %s", parent,
				    strerror(errno));
	(void)chmod(tmp, 0755);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *to = dk_path_join(tmp, got[i].c->name);

		r = to ? dk_tree_copy(got[i].dir, to, err)
		       : dk_error_set(err, ENOMEM, "out of memory");
	}
	if (r >= 0)
		r = write_index(got, n, kernel, tmp, err);
	if (r < 0) {
		(void)dk_rm_rf(tmp);
		return r;
	}
	*made = TAKE_PTR(tmp);
	return 0;
}

int dk_build_write_out(const struct dk_got *got, size_t n, const char *kernel,
		       const char *out, struct dk_error **err)
{
	_cleanup_free_ char *tmp = NULL, *dst = dk_path_join(out, kernel), *old = NULL;
	int r = write_tree(got, n, kernel, out, &tmp, err);

	if (r < 0)
		return r;
	if (!dst)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* Replace a previous output for this kernel: move it aside, then remove it. */
	old = dk_strdup_printf("%s.old-%d", tmp, (int)getpid());
	if (old && dk_is_dir(dst) && rename(dst, old) < 0) {
		r = dk_error_set(err, errno, "rename %s: %s", dst, strerror(errno));
		(void)dk_rm_rf(tmp);
		return r;
	}
	if (rename(tmp, dst) < 0) {
		r = dk_error_set(err, errno, "rename %s to %s: %s", tmp, dst,
				 strerror(errno));
		(void)dk_rm_rf(tmp);
		return r;
	}
	if (old)
		(void)dk_rm_rf(old);
	return 0;
}

int dk_build_write_package(const struct dk_got *got, size_t n, const char *kernel,
			   const char *cache_dir, const char *file, struct dk_error **err)
{
	_cleanup_free_ char *work = dk_store_subdir(cache_dir, "work", err);
	_cleanup_free_ char *tmp = NULL;
	int r;

	if (!work)
		return -EIO;
	r = write_tree(got, n, kernel, work, &tmp, err);
	if (r < 0)
		return r;
	r = dk_package_write(tmp, kernel, file, err);
	(void)dk_rm_rf(tmp);
	return r;
}
