/* SPDX-License-Identifier: Apache-2.0 */
/* The Network Operator's convention (reference.md section 10): the OFED container
 * shares its ofa_kernel headers and Module.symvers at /run/mellanox/drivers/usr/src so
 * that the GPU container builds nvidia-peermem against them:
 *
 *   <share>/ofa_kernel/<arch>/<kernel>/include/...
 *   <share>/ofa_kernel/<arch>/<kernel>/Module.symvers
 *   <share>/ofa_kernel/default -> <arch>/<kernel>
 *
 * Copied, not bind-mounted: the copy outlives this container (a consumer that builds
 * while the OFED pod restarts still finds them), pins nothing of our root filesystem
 * on the host, needs no mount propagation, and can be replaced atomically: a reader
 * sees the old tree or the new one, never half of each. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/tree.h"
#include "init/init-run.h"
#include "init/share-headers.h"

/* Fills tmp with the entry's exports (default include) and Module.symvers. */
static int fill(const struct dk_got *g, const char *tmp, struct dk_error **err)
{
	const struct dk_config_build *b = g->c->build;
	static const char *const dflt[] = {"include"};
	const char *const *ex =
		b && b->n_exports ? (const char *const *)b->exports : dflt;
	size_t n = b && b->n_exports ? b->n_exports : 1;
	_cleanup_free_ char *sym = dk_path_join(g->dir, "Module.symvers");
	_cleanup_free_ char *dsym = dk_path_join(tmp, "Module.symvers");
	_cleanup_free_ char *text = NULL;
	size_t len = 0;
	int r;

	if (!sym || !dsym)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		_cleanup_free_ char *src = dk_path_join(g->dir, ex[i]);
		_cleanup_free_ char *dst = dk_path_join(tmp, ex[i]);
		char *slash;

		if (!src || !dst)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (!dk_is_dir(src))
			continue;
		slash = strrchr(dst, '/');
		*slash = '\0';
		r = dk_mkdir_p(dst, 0755);
		*slash = '/';
		if (r < 0)
			return dk_error_set(err, -r, "create %s: %s", dst, strerror(-r));
		r = dk_tree_copy(src, dst, err);
		if (r < 0)
			return r;
	}
	r = dk_read_file_err(sym, 0, &text, &len, err);
	if (r < 0)
		return dk_error_wrap(err, "the component's Module.symvers");
	r = dk_write_file_atomic(dsym, text, len, 0644);
	if (r < 0)
		return dk_error_set(err, -r, "write %s: %s", dsym, strerror(-r));
	return 0;
}

/* base/default -> rel, replaced by rename. */
static int point_default(const char *base, const char *rel, struct dk_error **err)
{
	_cleanup_free_ char *link = dk_path_join(base, "default");
	_cleanup_free_ char *tmp = dk_path_join(base, ".default.tmp");

	if (!link || !tmp)
		return dk_error_set(err, ENOMEM, "out of memory");
	(void)unlink(tmp);
	if (symlink(rel, tmp) < 0 || rename(tmp, link) < 0)
		return dk_error_set(err, errno, "point %s at %s: %s", link, rel,
				    strerror(errno));
	return 0;
}

static int share_one(const struct dk_init *in, const struct dk_got *g,
		     struct dk_error **err)
{
	const char *kver = in->m->kver;
	struct utsname u;
	const char *arch = g->m && g->m->arch ? g->m->arch
					      : (uname(&u) == 0 ? u.machine : "unknown");
	_cleanup_free_ char *base = dk_path_join(g->c->share_headers, "ofa_kernel");
	_cleanup_free_ char *adir = base ? dk_path_join(base, arch) : NULL;
	_cleanup_free_ char *final = adir ? dk_path_join(adir, kver) : NULL;
	_cleanup_free_ char *tmp =
		adir ? dk_strdup_printf("%s/.%s.tmp", adir, kver) : NULL;
	_cleanup_free_ char *rel = dk_strdup_printf("%s/%s", arch, kver);
	int r;

	if (!final || !tmp || !rel)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_mkdir_p(adir, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "create %s: %s", adir, strerror(-r));
	/* we hold the lock: a temporary here is a killed predecessor's */
	(void)dk_rm_rf(tmp);
	if (mkdir(tmp, 0755) < 0)
		return dk_error_set(err, errno, "create %s: %s", tmp, strerror(errno));
	r = fill(g, tmp, err);
	if (r >= 0 && renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_EXCHANGE) < 0) {
		if (errno == ENOENT && rename(tmp, final) == 0)
			r = 0;
		else
			r = dk_error_set(err, errno, "rename %s to %s: %s", tmp, final,
					 strerror(errno));
	}
	(void)dk_rm_rf(tmp); /* the old tree after the exchange, or a failed one */
	if (r >= 0)
		r = point_default(base, rel, err);
	if (r < 0)
		return dk_error_wrap(err, "share_headers of component %s", g->c->name);
	dk_info("share headers: component %s: include and Module.symvers at %s (%s "
		"points there)",
		g->c->name, final, "ofa_kernel/default");
	return 0;
}

int dk_init_share_headers(struct dk_init *in, struct dk_error **err)
{
	for (size_t i = 0; i < in->n_got; i++) {
		const struct dk_got *g = &in->got[i];
		int r;

		if (!g->c->share_headers || !g->dir)
			continue;
		r = share_one(in, g, err);
		if (r < 0)
			return r;
	}
	return 0;
}
