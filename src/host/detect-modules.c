/* SPDX-License-Identifier: Apache-2.0 */
/* Loaded modules of interest: <procfs>/modules plus <sysfs>/module/<name>/. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "host/detect-internal.h"

bool dk_detect_module_of_interest(const char *name)
{
	static const char *const prefixes[] = {"nvidia", "mlx5", "mlx4", "ib_", "rdma_"};
	static const char *const exact[] = {"nv_peer_mem", "mlx_compat"};

	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++)
		if (startswith(name, prefixes[i]))
			return true;
	for (size_t i = 0; i < ARRAY_SIZE(exact); i++)
		if (streq(name, exact[i]))
			return true;
	return false;
}

static void add_sysfs(struct dk_det *d, struct dk_loaded_module *m)
{
	_cleanup_free_ char *dir = dk_det_fmt(d, "%s/module/%s", d->sysfs, m->name);
	_cleanup_free_ char *holders = dk_det_fmt(d, "%s/holders", dir);
	_cleanup_free_ char *version = dk_det_fmt(d, "%s/version", dir);
	_cleanup_free_ char *srcversion = dk_det_fmt(d, "%s/srcversion", dir);
	_cleanup_closedir_ DIR *hd = NULL;
	struct dirent *de;

	(void)dk_det_read_line(d, version, &m->version);
	(void)dk_det_read_line(d, srcversion, &m->srcversion);
	hd = holders ? opendir(holders) : NULL;
	while (hd && (de = readdir(hd)))
		if (de->d_name[0] != '.' &&
		    dk_strv_add_unique(&m->holders, de->d_name) < 0)
			d->oom = true;
}

void dk_detect_loaded_modules(struct dk_det *d, struct dk_detect_modules *out)
{
	_cleanup_free_ char *buf = NULL;
	struct dk_proc_module *pm = NULL;
	size_t n = 0;
	int r;

	out->source = dk_det_fmt(d, "%s/modules", d->procfs);
	r = dk_det_read(d, out->source, &buf, NULL);
	if (r < 0) {
		out->reason = dk_det_errtext(d, out->source, -r);
		return;
	}
	if (dk_proc_modules_parse(buf, &pm, &n) < 0) {
		d->oom = true;
		return;
	}
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	if (!out->v) {
		d->oom = true;
		dk_proc_modules_free(pm, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		struct dk_loaded_module *m;

		if (!dk_detect_module_of_interest(pm[i].name))
			continue;
		m = &out->v[out->n++];
		m->name = TAKE_PTR(pm[i].name);
		m->size = pm[i].size;
		m->refcnt = pm[i].refcnt;
		m->state = TAKE_PTR(pm[i].state);
		m->holders = TAKE_PTR(pm[i].used_by);
		add_sysfs(d, m);
	}
	dk_proc_modules_free(pm, n);
}
