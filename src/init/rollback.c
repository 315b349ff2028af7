/* SPDX-License-Identifier: Apache-2.0 */
/* A start that failed once the replace phase began: put the node back as this
 * run found it, within grace_period. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/log.h"
#include "init/init-run.h"

struct outcome {
	struct strbuf unloaded, restored, left, not_restored, kept;
	bool acted, ours_left;
};

static void list_add(struct strbuf *b, const char *name, const char *why)
{
	strbuf_printf(b, "%s%s%s%s%s", b->len ? ", " : "", name, why ? " (" : "",
		      why ? why : "", why ? ")" : "");
}

/* What this run inserted (reverse load order), then the in-tree dependencies its
 * inserts pulled in. */
static void unload_inserted(struct dk_init *in, const struct dk_remove_opts *ro,
			    struct outcome *o)
{
	int r;

	for (size_t i = in->d.n_mods; i-- > 0;) {
		const char *name = dk_init_file(in, i)->name;
		_cleanup_error_ struct dk_error *e = NULL;
		struct dk_remove_opts ro_of;

		if (in->d.mods[i].act == DK_PLAN_ACT_ADOPT &&
		    dk_state_find_module(&in->state, name))
			list_add(&o->kept, name, NULL);
		if (!in->inserted[i])
			continue;
		o->acted = true;
		ro_of = dk_init_remove_opts_of(in, ro, name);
		r = dk_module_remove(in->m, name, &ro_of, &e);
		if (r < 0) {
			list_add(&o->left, name, e->msg);
			o->ours_left = true;
			continue;
		}
		in->inserted[i] = false;
		dk_state_remove_module(&in->state, name);
		list_add(&o->unloaded, name, NULL);
	}
	for (size_t i = in->state.n_probed; i-- > 0;) {
		_cleanup_free_ char *name = strdup(in->state.probed[i]);
		_cleanup_error_ struct dk_error *e = NULL;

		if (!name)
			return;
		/* One in use (by a module adopted from a predecessor) stays. */
		r = dk_init_unload_probed(in, name, ro, &e);
		if (r != 1)
			o->acted = true;
		if (r < 0)
			list_add(&o->left, name, e->msg);
		else if (r == 0)
			list_add(&o->unloaded, name, "in-tree dependency");
	}
}

/* What the replace phase removed, providers first, whatever restore: says. */
static void reload_removed(struct dk_init *in, const struct dk_remove_opts *ro,
			   struct outcome *o)
{
	for (size_t i = in->d.n_unload; i-- > 0;) {
		const struct dk_plan_unload *u = &in->d.unload[i];
		_cleanup_error_ struct dk_error *e = NULL;

		if (!in->removed[i])
			continue;
		o->acted = true;
		if (u->was_ours) {
			list_add(&o->not_restored, u->name,
				 "an earlier build loaded by a previous drvkit init; its "
				 "file may be gone");
			continue;
		}
		if (o->ours_left) {
			list_add(&o->not_restored, u->name,
				 "modules of this run are still loaded");
			continue;
		}
		if (dk_now_ms() >= ro->deadline_ms) {
			list_add(&o->not_restored, u->name, "the grace period ended");
			continue;
		}
		if (dk_module_probe(in->m, u->name, &e) < 0) {
			list_add(&o->not_restored, u->name, e->msg);
			continue;
		}
		dk_state_remove_replaced(&in->state, u->name);
		list_add(&o->restored, u->name, NULL);
	}
}

static void describe(const struct dk_init *in, const struct outcome *o, int64_t start,
		     struct dk_error **err)
{
	if (!o->acted) {
		dk_error_append(err, "\nnothing to roll back: this run had not loaded or "
				     "unloaded any module yet");
	} else if (!o->left.len && !o->not_restored.len) {
		dk_error_append(err, "\nrolled back in %lld ms: unloaded %s; restored %s",
				(long long)(dk_now_ms() - start),
				o->unloaded.len ? o->unloaded.s : "nothing",
				o->restored.len ? o->restored.s
						: "nothing (nothing was replaced)");
	} else {
		dk_error_append(err, "\nrollback incomplete: unloaded %s; restored %s",
				o->unloaded.len ? o->unloaded.s : "nothing",
				o->restored.len ? o->restored.s : "nothing");
		if (o->left.len)
			dk_error_append(err, "; still loaded: %s", o->left.s);
		if (o->not_restored.len)
			dk_error_append(err, "; not restored: %s", o->not_restored.s);
		dk_error_append(err,
				"\n%s describes what is left: the next drvkit init "
				"adopts or cleans it up; or unload by hand (drvkit "
				"unload NAME) once the users are gone, and load the "
				"in-tree modules (modprobe NAME)",
				in->state_path);
	}
	if (o->kept.len)
		dk_error_append(err,
				"\nkept loaded: %s (loaded by a previous drvkit init, "
				"not by this run; listed in %s)",
				o->kept.s, in->state_path);
	if (o->unloaded.oom || o->restored.oom || o->left.oom || o->not_restored.oom ||
	    o->kept.oom)
		dk_error_append(err, "\n(out of memory while describing the rollback)");
}

/* Unloads what this run inserted and the in-tree dependencies it pulled in, then
 * reloads what the replace phase removed whatever `restore:` says: `restore:
 * false` is for a clean stop, where the operator chose to leave the node without
 * the in-tree stack; a failed start provides nothing in its place, and a node
 * that lost its network or storage stack to a bad driver image is worse off than
 * one that keeps its in-tree drivers until the next try. Nothing this run did not
 * load is unloaded; modules adopted from a previous instance stay, in the state
 * file. The outcome is appended to *err. */
void dk_init_rollback(struct dk_init *in, struct dk_error **err)
{
	int64_t start = dk_now_ms();
	struct dk_remove_opts ro = dk_init_remove_opts(in, start);
	struct outcome o = {.acted = false};

	strbuf_init(&o.unloaded);
	strbuf_init(&o.restored);
	strbuf_init(&o.left);
	strbuf_init(&o.not_restored);
	strbuf_init(&o.kept);
	dk_warn("start failed: rolling back what this run changed (within %d s)",
		in->cfg->grace_period);
	unload_inserted(in, &ro, &o);
	reload_removed(in, &ro, &o);
	/* The state file keeps describing whatever is still loaded or replaced, so
	 * the next instance adopts or restores it; none left: no state. */
	if (in->state.n_modules || in->state.n_replaced) {
		_cleanup_error_ struct dk_error *e = NULL;

		if (dk_init_save_state(in, &e) < 0)
			dk_warn("%s: %s", PHASE(ROLLBACK), e->msg);
	} else if (unlink(in->state_path) < 0 && errno != ENOENT) {
		dk_warn("%s: remove the state file %s: %s: the next drvkit init finds "
			"none of it loaded and ignores it",
			PHASE(ROLLBACK), in->state_path, strerror(errno));
	}
	describe(in, &o, start, err);
	strbuf_release(&o.unloaded);
	strbuf_release(&o.restored);
	strbuf_release(&o.left);
	strbuf_release(&o.not_restored);
	strbuf_release(&o.kept);
}
