/* SPDX-License-Identifier: Apache-2.0 */
/* Loaded modules: <sysfs>/module/<name>/ and <procfs>/modules. */
#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/kparse.h"
#include "host/modules.h"

/* --- <sysfs>/module/<name> ------------------------------------------------- */

/* One attribute's first line, or NULL when absent (or on OOM: *oom). */
static char *read_attr(const char *dir, const char *leaf, bool *oom)
{
	_cleanup_free_ char *p = dk_path_join(dir, leaf);
	char *s = NULL;
	int r;

	if (!p) {
		*oom = true;
		return NULL;
	}
	r = dk_read_line(p, &s);
	if (r == -ENOMEM)
		*oom = true;
	return r < 0 ? NULL : s;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int read_holders(const char *dir, struct dk_modstate *st)
{
	_cleanup_free_ char *hdir = dk_path_join(dir, "holders");
	_cleanup_closedir_ DIR *d = NULL;
	struct dirent *de;

	if (!hdir)
		return -ENOMEM;
	d = opendir(hdir);
	while (d && (de = readdir(d))) {
		char **nv;

		if (de->d_name[0] == '.')
			continue;
		nv = realloc(st->holders, (st->n_holders + 1) * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		st->holders = nv;
		st->holders[st->n_holders] = strdup(de->d_name);
		if (!st->holders[st->n_holders])
			return -ENOMEM;
		st->n_holders++;
	}
	if (st->n_holders > 1)
		qsort(st->holders, st->n_holders, sizeof(char *), cmp_str);
	return 0;
}

void dk_modstate_release(struct dk_modstate *st)
{
	free(st->srcversion);
	free(st->version);
	for (size_t i = 0; i < st->n_holders; i++)
		free(st->holders[i]);
	free(st->holders);
	memset(st, 0, sizeof(*st));
	st->refcnt = -1;
}

const char *dk_loaded_str(enum dk_loaded s)
{
	switch (s) {
	case DK_LOADED_NO:
		return "not loaded";
	case DK_LOADED_LIVE:
		return "live";
	case DK_LOADED_COMING:
		return "coming";
	case DK_LOADED_GOING:
		return "going";
	case DK_LOADED_BUILTIN:
		return "builtin";
	}
	return "?";
}

int dk_modstate_read(const char *sysfs, const char *name, struct dk_modstate *st)
{
	_cleanup_free_ char *dir = dk_strdup_printf("%s/module/%s", sysfs, name);
	_cleanup_free_ char *init = NULL, *ref = NULL;
	bool oom = false;

	memset(st, 0, sizeof(*st));
	st->refcnt = -1;
	if (!dir)
		return -ENOMEM;
	if (!dk_is_dir(dir))
		return 0;
	init = read_attr(dir, "initstate", &oom);
	if (!init)
		st->state = DK_LOADED_BUILTIN;
	else if (streq(init, "live"))
		st->state = DK_LOADED_LIVE;
	else if (streq(init, "coming"))
		st->state = DK_LOADED_COMING;
	else
		st->state = DK_LOADED_GOING;
	st->srcversion = read_attr(dir, "srcversion", &oom);
	st->version = read_attr(dir, "version", &oom);
	ref = read_attr(dir, "refcnt", &oom);
	if (ref) {
		char *end = NULL;
		long v = strtol(ref, &end, 10);

		if (end != ref && !*end)
			st->refcnt = v;
	}
	if (oom || read_holders(dir, st) < 0) {
		dk_modstate_release(st);
		return -ENOMEM;
	}
	return 0;
}

/* --- <procfs>/modules ------------------------------------------------------- */

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

/* Versions and holders from sysfs; its holders join the "used by" of
 * /proc/modules, which lists only some. */
static int add_sysfs(const char *sysfs, struct dk_loaded_module *m)
{
	struct dk_modstate st;
	int r = dk_modstate_read(sysfs, m->name, &st);

	if (r < 0)
		return r;
	m->version = TAKE_PTR(st.version);
	m->srcversion = TAKE_PTR(st.srcversion);
	for (size_t i = 0; i < st.n_holders && r >= 0; i++)
		r = dk_strv_add_unique(&m->holders, st.holders[i]);
	dk_modstate_release(&st);
	return r;
}

int dk_loaded_modules_read(const char *procfs, const char *sysfs,
			   struct dk_detect_modules *out)
{
	_cleanup_free_ char *buf = NULL;
	struct dk_proc_module *pm = NULL;
	size_t n = 0;
	int r;

	memset(out, 0, sizeof(*out));
	out->source = dk_strdup_printf("%s/modules", procfs);
	if (!out->source)
		return -ENOMEM;
	r = dk_read_file(out->source, 16u << 20, &buf, NULL);
	if (r < 0) {
		out->reason = dk_strdup_printf("%s: %s", out->source, strerror(-r));
		return r == -ENOMEM || !out->reason ? -ENOMEM : 0;
	}
	if (dk_proc_modules_parse(buf, &pm, &n) < 0)
		return -ENOMEM;
	out->v = calloc(n ? n : 1, sizeof(*out->v));
	r = out->v ? 0 : -ENOMEM;
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct dk_loaded_module *m;

		if (!dk_detect_module_of_interest(pm[i].name))
			continue;
		m = &out->v[out->n++];
		m->name = TAKE_PTR(pm[i].name);
		m->size = pm[i].size;
		m->refcnt = pm[i].refcnt;
		m->state = TAKE_PTR(pm[i].state);
		m->holders = TAKE_PTR(pm[i].used_by);
		r = add_sysfs(sysfs, m);
	}
	dk_proc_modules_free(pm, n);
	return r;
}

void dk_loaded_modules_free(struct dk_detect_modules *m)
{
	for (size_t i = 0; i < m->n; i++) {
		struct dk_loaded_module *l = &m->v[i];

		free(l->name);
		free(l->state);
		dk_strv_free(l->holders);
		free(l->version);
		free(l->srcversion);
	}
	free(m->v);
	free(m->source);
	free(m->reason);
	memset(m, 0, sizeof(*m));
}
