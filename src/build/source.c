/* SPDX-License-Identifier: Apache-2.0 */
/* A component's source tree in the work directory: copied from a directory (a build
 * writes into its tree, and the original may be a read-only image layer), or
 * downloaded and extracted in one streaming pass (the tarball inside a .deb or .rpm
 * included); then the patches, in order. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/tree.h"
#include "get/fetch-extract.h"
#include "build/build-internal.h"
#include "build/patch.h"

static int fetch_tree(const struct dk_inputs *in, const char *dst, struct dk_error **err)
{
	const char *nested[] = {in->tree.member, NULL};
	struct dk_archive_opts ao = {.nested_members = in->tree.member ? nested : NULL};
	struct dk_fetch_opts fo = {.cache_dir = in->cache, .progress = 2};
	int r;

	r = dk_mkdir_p(dst, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "mkdir %s: %s", dst, strerror(-r));
	dk_log(DK_LOG_INFO, 0, "get: component %s: source %s", in->c->name, in->tree.url);
	r = dk_fetch_extract(&fo, in->tree.url, in->tree.sha256, dst, &ao, NULL, err);
	if (r < 0)
		return dk_error_wrap(err, "component %s: source", in->c->name);
	return 0;
}

/* The tree's top: an archive usually holds one directory (project-1.2/...). */
static char *tree_top(const char *dir)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	char *only = NULL;
	int n = 0;

	while (d && (de = readdir(d))) {
		if (streq(de->d_name, ".") || streq(de->d_name, ".."))
			continue;
		n++;
		free(only);
		only = dk_path_join(dir, de->d_name);
	}
	if (n == 1 && only && dk_is_dir(only))
		return only;
	free(only);
	return strdup(dir);
}

int dk_source_prepare(const struct dk_inputs *in, const char *work, char **make_dir,
		      struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;
	_cleanup_free_ char *src = dk_path_join(work, "src"), *top = NULL;
	int r;

	if (!src)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (in->tree.url) {
		r = fetch_tree(in, src, err);
		top = r < 0 ? NULL : tree_top(src);
	} else {
		r = dk_tree_copy(in->tree.src, src, err);
		if (r < 0)
			dk_error_wrap(err, "component %s: copy the source", in->c->name);
		top = r < 0 ? NULL : strdup(src);
	}
	if (r < 0)
		return r;
	if (!top)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* subdir is relative to the archive's root, or to its one top directory. */
	*make_dir = in->tree.subdir ? dk_path_join(src, in->tree.subdir) : strdup(top);
	if (*make_dir && in->tree.subdir && !dk_is_dir(*make_dir)) {
		free(*make_dir);
		*make_dir = dk_path_join(top, in->tree.subdir);
	}
	if (!*make_dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!dk_is_dir(*make_dir))
		return dk_error_set(err, ENOENT,
				    "component %s: subdir %s is not a directory of the "
				    "source",
				    in->c->name, in->tree.subdir);
	/* Patches apply where make runs: that is the tree the user knows. */
	for (size_t i = 0; b && i < b->n_patches; i++) {
		r = dk_patch_apply(*make_dir, b->patches[i], 1, err);
		if (r < 0)
			return dk_error_wrap(err, "component %s: patch %zu of %zu",
					     in->c->name, i + 1, b->n_patches);
		dk_log(DK_LOG_INFO, 0, "get: component %s: applied %s", in->c->name,
		       b->patches[i]);
	}
	return 0;
}
