/* SPDX-License-Identifier: Apache-2.0 */
/* Storage safety for replaces: no unload under a mounted filesystem (see storage.h). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "init/phase.h"
#include "init/storage.h"

static const struct dk_plan_unload *unloading(const struct dk_plan_decisions *d,
					      const char *name)
{
	for (size_t i = 0; i < d->n_unload; i++)
		if (streq(d->unload[i].name, name))
			return &d->unload[i];
	return NULL;
}

/* ", it holds X, Y": the unloaded modules that name uses (their holders list it). */
static void holds(struct strbuf *b, const struct dk_plan_facts *f,
		  const struct dk_plan_decisions *d, const char *name)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n_loaded; i++) {
		const struct dk_modstate *st = &f->loaded[i].st;

		if (!unloading(d, f->loaded[i].name) ||
		    !dk_strv_contains((const char *const *)st->holders, st->n_holders,
				      name))
			continue;
		strbuf_printf(b, "%s%s", n++ ? ", " : ": it holds ", f->loaded[i].name);
	}
}

/* The first component that replaces something: the one the message names. */
static const char *replacer(const struct dk_plan_facts *f,
			    const struct dk_plan_decisions *d)
{
	for (size_t i = 0; i < d->n_unload; i++)
		if (d->unload[i].comp)
			return d->unload[i].comp->name;
	for (size_t c = 0; c < f->cfg->n_components; c++)
		if (f->cfg->components[c].n_replaces)
			return f->cfg->components[c].name;
	return "?";
}

void dk_plan_check_storage(const struct dk_plan_facts *f,
			   const struct dk_plan_decisions *d, struct dk_problems *ps)
{
	_cleanup_free_ char *hint = NULL;
	struct strbuf b, mods;

	if (!f->storage || !d->n_unload)
		return;
	strbuf_init(&b);
	strbuf_init(&mods);
	for (size_t i = 0; i < f->storage->n; i++) {
		const struct dk_storage_mount *m = &f->storage->v[i];

		for (size_t j = 0; j < m->n_deps; j++) {
			const struct dk_plan_unload *u = unloading(d, m->deps[j].module);

			if (!u)
				continue;
			strbuf_printf(&b,
				      "%s%s (%s on %s) needs %s [%s], which would be "
				      "unloaded",
				      b.len ? "; " : "", m->target, m->fstype, m->source,
				      u->name, m->deps[j].via);
			if (u->comp)
				strbuf_printf(&b, ": replaced by component %s",
					      u->comp->name);
			else
				holds(&b, f, d, u->name);
			if (!strstr(mods.len ? mods.s : "", u->name))
				strbuf_printf(&mods, "%s%s", mods.len ? " " : "",
					      u->name);
		}
	}
	if (!b.len && !b.oom) {
		strbuf_release(&mods);
		return;
	}
	hint = dk_strdup_printf(
		"unmount these filesystems (or drain the node and move "
		"them off RDMA), unload %s, then restart this pod (mounts "
		"from %s)",
		mods.oom ? "those modules" : mods.s, f->storage->mountinfo);
	dk_problems_add(ps, EBUSY, "storage", replacer(f, d), NULL, hint,
			"%s: refused before unloading anything: component %s replaces "
			"in-tree modules, but mounted filesystems depend on them: %s; "
			"unloading would cut this node off its storage",
			dk_phase_name(DK_PHASE_REPLACE), replacer(f, d),
			b.oom ? "(out of memory for the list)" : b.s);
	strbuf_release(&b);
	strbuf_release(&mods);
}
