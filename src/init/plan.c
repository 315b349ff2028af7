/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "init/phase.h"
#include "init/plan.h"
#include "init/storage.h"

#define PLAN dk_phase_name(DK_PHASE_PLAN)

/* Users of the in-tree RDMA stack that must not be cut off by `replaces`:
 * storage over RDMA and GPUDirect (reference section 5; the OFED container
 * refuses on the same set). protected_modules in the config adds more. */
static const struct {
	const char *name, *what;
} protected_builtin[] = {
	{"ib_iser", "iSCSI over RDMA (iSER) initiator"},
	{"ib_isert", "iSCSI over RDMA (iSER) target"},
	{"ib_srp", "SCSI RDMA Protocol initiator"},
	{"ib_srpt", "SCSI RDMA Protocol target"},
	{"rpcrdma", "NFS over RDMA"},
	{"svcrdma", "NFS over RDMA server"},
	{"xprtrdma", "NFS over RDMA client"},
	{"nvme_rdma", "NVMe over Fabrics RDMA host"},
	{"nvmet_rdma", "NVMe over Fabrics RDMA target"},
	{"nvidia_peermem", "GPUDirect RDMA"},
	{"nv_peer_mem", "GPUDirect RDMA"},
	{"smc", "SMC-R sockets over RDMA"},
	{"rds_rdma", "RDS over RDMA"},
	{"cifs", "SMB client, SMB Direct over RDMA"},
	{"ksmbd", "SMB server, SMB Direct over RDMA"},
};

const char *dk_plan_protected(const struct dk_config *cfg, const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(protected_builtin); i++)
		if (streq(protected_builtin[i].name, name))
			return protected_builtin[i].what;
	for (size_t i = 0; i < cfg->n_protected; i++)
		if (streq(cfg->protected_modules[i], name))
			return "listed in protected_modules";
	return NULL;
}

void dk_plan_decisions_release(struct dk_plan_decisions *d)
{
	for (size_t i = 0; i < d->n_mods; i++) {
		free(d->mods[i].why);
		free(d->mods[i].params);
	}
	free(d->mods);
	for (size_t i = 0; i < d->n_unload; i++)
		free(d->unload[i].name);
	free(d->unload);
	memset(d, 0, sizeof(*d));
}

static int push(const char ***v, size_t *n, const char *s)
{
	const char **nv = reallocarray(*v, *n + 1, sizeof(**v));

	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

static bool replaces_name(const struct dk_config_component *c, const char *name)
{
	return dk_strv_contains((const char *const *)c->replaces, c->n_replaces, name);
}

static const struct dk_config_component *replacing(const struct dk_config *cfg,
						   const char *name)
{
	for (size_t c = 0; c < cfg->n_components; c++)
		if (replaces_name(&cfg->components[c], name))
			return &cfg->components[c];
	return NULL;
}

/* The snapshot's state of name; NULL when not loaded. */
static const struct dk_modstate *loaded(const struct dk_plan_facts *f, const char *name)
{
	for (size_t i = 0; i < f->n_loaded; i++)
		if (streq(f->loaded[i].name, name))
			return f->loaded[i].st.state == DK_LOADED_NO ? NULL
								     : &f->loaded[i].st;
	return NULL;
}

static struct dk_plan_mod *find_mod(const struct dk_plan_facts *f,
				    struct dk_plan_decisions *d, const char *name)
{
	for (size_t i = 0; i < d->n_mods; i++)
		if (streq(f->files[d->mods[i].file]->name, name))
			return &d->mods[i];
	return NULL;
}

static bool external_available(void *userdata, const char *dep)
{
	const struct dk_plan_facts *f = userdata;

	return dk_strv_contains(f->available, f->n_available, dep);
}

/* Load order (depends=), with the component and config entry of each file. */
static int order_mods(const struct dk_plan_facts *f, struct dk_plan_decisions *d,
		      struct dk_error **err)
{
	const struct dk_config *cfg = f->cfg;
	size_t n = f->n_files, k = 0;
	_cleanup_free_ size_t *order = calloc(n ? n : 1, sizeof(*order));
	_cleanup_free_ struct dk_plan_mod *byfile = calloc(n ? n : 1, sizeof(*byfile));
	int r;

	d->mods = calloc(n ? n : 1, sizeof(*d->mods));
	if (!order || !byfile || !d->mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t c = 0; c < cfg->n_components; c++)
		for (size_t j = 0; j < cfg->components[c].n_modules; j++, k++) {
			if (k >= n)
				break;
			byfile[k].file = k;
			byfile[k].comp = &cfg->components[c];
			byfile[k].cm = &cfg->components[c].modules[j];
		}
	if (k != n)
		return dk_error_set(err, EINVAL,
				    "%s: %zu module files for %zu modules in %s", PLAN, n,
				    k, cfg->path);
	r = dk_modfiles_order(f->files, n, external_available, (void *)f, order, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", PLAN);
	for (size_t i = 0; i < n; i++)
		d->mods[d->n_mods++] = byfile[order[i]];
	return 0;
}

/* Most of OFED's modules carry neither srcversion nor version: the kernel cannot
 * tell which build is loaded. The predecessor's state can: it loaded this name from
 * this very file (a cache entry's path names its build; `source` is the file it
 * signed from). */
static bool prev_loaded_this_file(const struct dk_state_module *sm,
				  const struct dk_modstate *st,
				  const struct dk_modfile *file)
{
	bool comparable =
		(file->srcversion && st->srcversion) || (file->version && st->version);

	const char *from = sm ? (sm->source ? sm->source : sm->path) : NULL;

	return sm && !comparable && from && streq(from, file->path) &&
	       st->state != DK_LOADED_BUILTIN;
}

/* What to do when a module must go and the kernel cannot unload any: nothing that
 * needs an unload (no rmmod, no unload_other_versions). */
static char *reboot_hint(const char *name)
{
	return dk_strdup_printf(
		"this kernel cannot remove a loaded module, so the only way is a reboot: "
		"preload this driver at boot instead of the host's %s (install this "
		"build "
		"on the host, or blacklist the host's %s in /etc/modprobe.d and let this "
		"pod load it after the reboot), or boot a kernel built with "
		"CONFIG_MODULE_UNLOAD",
		name, name);
}

/* Another build of one of ours is loaded and nothing allows its unload, or the
 * kernel cannot unload it: a refusal, planned as a load (for the check). */
static void refuse_other_build(const struct dk_plan_facts *f, struct dk_plan_mod *pm,
			       struct dk_problems *ps)
{
	const struct dk_modfile *file = f->files[pm->file];
	_cleanup_free_ char *hint = NULL;

	pm->act = DK_PLAN_ACT_LOAD;
	pm->refused = true;
	if (!f->can_unload) {
		hint = reboot_hint(file->name);
		dk_problems_add(
			ps, EEXIST, "other-build", pm->comp->name, file->name, hint,
			"%s: component %s: %s is already loaded and differs (%s), "
			"and %s",
			PLAN, pm->comp->name, file->name, pm->why ? pm->why : "",
			f->cannot_unload_why ? f->cannot_unload_why
					     : "the kernel cannot unload modules");
		return;
	}
	hint = dk_strdup_printf("set it to true, list %s under replaces, or unload it "
				"first",
				file->name);
	dk_problems_add(ps, EEXIST, "other-build", pm->comp->name, file->name, hint,
			"%s: component %s: %s is already loaded and differs (%s); not "
			"unloading it because unload_other_versions is false",
			PLAN, pm->comp->name, file->name, pm->why ? pm->why : "");
}

/* Load, skip, adopt or reload each module; a refusal goes to ps. */
static int decide_mod(const struct dk_plan_facts *f, struct dk_plan_mod *pm,
		      struct dk_problems *ps, struct dk_error **err)
{
	const struct dk_modfile *file = f->files[pm->file];
	const struct dk_state_module *sm =
		f->prev ? dk_state_find_module(f->prev, file->name) : NULL;
	const struct dk_modstate *st = loaded(f, file->name);
	bool prev = sm != NULL;
	_cleanup_free_ char *hint = NULL;

	if (st && prev_loaded_this_file(sm, st, file)) {
		pm->act = DK_PLAN_ACT_ADOPT;
		pm->same = true;
		pm->why = strdup("loaded from the same file as by the previous drvkit "
				 "init (no srcversion or version to compare)");
		return pm->why ? 0 : dk_error_set(err, ENOMEM, "out of memory");
	}
	switch (dk_modstate_match(st, file, &pm->why)) {
	case DK_MATCH_ABSENT:
		pm->act = DK_PLAN_ACT_LOAD;
		break;
	case DK_MATCH_SAME:
		pm->act = prev ? DK_PLAN_ACT_ADOPT : DK_PLAN_ACT_SKIP;
		pm->same = true;
		break;
	case DK_MATCH_BUILTIN:
		pm->act = DK_PLAN_ACT_LOAD;
		pm->refused = true;
		hint = dk_strdup_printf("remove it from the component's modules in %s, "
					"or use a kernel that builds it as a module",
					f->cfg->path);
		dk_problems_add(ps, EEXIST, "builtin", pm->comp->name, file->name, hint,
				"%s: component %s: %s is built into kernel %s and cannot "
				"be replaced",
				PLAN, pm->comp->name, file->name, f->kver);
		if (!pm->why)
			pm->why = strdup("built into the kernel");
		break;
	case DK_MATCH_DIFFERENT:
		if (replaces_name(pm->comp, file->name) || prev ||
		    f->cfg->unload_other_versions) {
			pm->act = DK_PLAN_ACT_RELOAD;
			break;
		}
		refuse_other_build(f, pm, ps);
		break;
	}
	if (!pm->why)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static const struct dk_modstate *snapshot_state(void *userdata, const char *name)
{
	return loaded(userdata, name);
}

/* Orders loaded modules for removal, users (holders) first; holders outside
 * want are added, recursively. Modules not loaded are left out. */
static int removal_order(const struct dk_plan_facts *f, const char **want, size_t n_want,
			 const char ***out, size_t *n_out, struct dk_error **err)
{
	int r = dk_removal_order(want, n_want, true, snapshot_state, (void *)f, out,
				 n_out);

	if (r == -ELOOP)
		return dk_error_set(
			err, ELOOP,
			"%s: order modules for unloading: holders form a cycle", PLAN);
	return r < 0 ? dk_error_set(err, -r, "out of memory") : 0;
}

/* Replaced modules (unless ours is what is loaded) and other builds of ours. */
static int wanted_unloads(const struct dk_plan_facts *f, struct dk_plan_decisions *d,
			  const char ***want, size_t *n_want)
{
	const struct dk_config *cfg = f->cfg;

	for (size_t i = 0; i < cfg->n_components; i++) {
		const struct dk_config_component *c = &cfg->components[i];

		for (size_t j = 0; j < c->n_replaces; j++) {
			const struct dk_plan_mod *ours = find_mod(f, d, c->replaces[j]);

			if (ours && !dk_plan_act_inserts(ours->act))
				continue; /* ours is what is loaded */
			if (push(want, n_want, c->replaces[j]) < 0)
				return -ENOMEM;
		}
	}
	for (size_t i = 0; i < d->n_mods; i++)
		if (d->mods[i].act == DK_PLAN_ACT_RELOAD &&
		    push(want, n_want, f->files[d->mods[i].file]->name) < 0)
			return -ENOMEM;
	return 0;
}

/* Whether a user of a replaced module is restored on a clean stop. */
static bool user_restored(const struct dk_config *cfg)
{
	for (size_t c = 0; c < cfg->n_components; c++)
		if (cfg->components[c].n_replaces && cfg->components[c].restore)
			return true;
	return false;
}

static int plan_unloads(const struct dk_plan_facts *f, struct dk_plan_decisions *d,
			struct dk_error **err)
{
	_cleanup_free_ const char **want = NULL, **rm = NULL;
	size_t n_want = 0, n_rm = 0;
	int r;

	if (wanted_unloads(f, d, &want, &n_want) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = removal_order(f, want, n_want, &rm, &n_rm, err);
	if (r < 0)
		return r;
	d->unload = calloc(n_rm ? n_rm : 1, sizeof(*d->unload));
	if (!d->unload)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n_rm; i++) {
		struct dk_plan_unload *u = &d->unload[d->n_unload];
		struct dk_plan_mod *ours = find_mod(f, d, rm[i]);

		u->name = strdup(rm[i]);
		if (!u->name)
			return dk_error_set(err, ENOMEM, "out of memory");
		d->n_unload++;
		u->comp = replacing(f->cfg, rm[i]);
		u->ours = ours != NULL;
		u->was_ours = f->prev && dk_state_find_module(f->prev, rm[i]);
		/* What we unload and did not load is remembered; users of replaced
		 * modules come back when a replacing component restores. */
		if (!u->was_ours)
			u->restore = u->comp ? u->comp->restore
					     : !ours && user_restored(f->cfg);
		/* One of ours uses a replaced module: it goes and comes back. */
		if (ours && !dk_plan_act_inserts(ours->act))
			ours->act = DK_PLAN_ACT_RELOAD;
	}
	return 0;
}

/* Refuses, before anything is unloaded, while a protected module holds a module
 * that must go. One of ours, or one the config lists under replaces itself, does
 * not protect: the config asked for it to go. */
static void check_protected(const struct dk_plan_facts *f, struct dk_plan_decisions *d,
			    struct dk_problems *ps)
{
	const struct dk_config *cfg = f->cfg;
	const struct dk_config_component *comp = NULL;
	_cleanup_free_ char *hint = NULL;
	struct strbuf b;

	strbuf_init(&b);
	for (size_t i = 0; i < d->n_unload; i++) {
		const struct dk_plan_unload *u = &d->unload[i];
		const struct dk_modstate *st = loaded(f, u->name);

		for (size_t h = 0; st && h < st->n_holders; h++) {
			const char *holder = st->holders[h];
			const char *what = dk_plan_protected(cfg, holder);

			if (!what || find_mod(f, d, holder) || replacing(cfg, holder))
				continue;
			strbuf_printf(&b, "%s%s (%s) holds %s", b.len ? "; " : "", holder,
				      what, u->name);
			if (!comp)
				comp = u->comp;
		}
	}
	if (!b.len && !b.oom)
		return;
	for (size_t c = 0; c < cfg->n_components && !comp; c++)
		if (cfg->components[c].n_replaces)
			comp = &cfg->components[c];
	hint = dk_strdup_printf("unmount the iSER/NFS-RDMA/NVMe-oF/SMB Direct users and "
				"unload those modules (or drain the node) first, then "
				"restart this pod (protected: a built-in list plus "
				"protected_modules in %s)",
				cfg->path);
	dk_problems_add(ps, EBUSY, "protected", comp ? comp->name : NULL, NULL, hint,
			"%s: refused before unloading anything: component %s replaces "
			"in-tree modules, but %s; unloading them would cut storage or "
			"GPUDirect traffic off this node",
			dk_phase_name(DK_PHASE_REPLACE), comp ? comp->name : "?",
			b.oom ? "a protected module holds them" : b.s);
	strbuf_release(&b);
}

/* The kernel cannot unload: each module that must go is a refusal; and whatever is
 * loaded now stays until a reboot (a warning, said before loading). */
static void check_unload(const struct dk_plan_facts *f, const struct dk_plan_decisions *d,
			 struct dk_problems *ps)
{
	const char *why = f->cannot_unload_why ? f->cannot_unload_why
					       : "the kernel cannot unload modules";
	struct strbuf names;

	if (f->can_unload)
		return;
	for (size_t i = 0; i < d->n_unload; i++) {
		const struct dk_plan_unload *u = &d->unload[i];
		_cleanup_free_ char *hint = reboot_hint(u->name);

		dk_problems_add(ps, EOPNOTSUPP, "cannot-unload",
				u->comp ? u->comp->name : NULL, u->name, hint,
				"%s: %s must be unloaded first, but %s (%s: %s)", PLAN,
				u->name, why, u->name,
				u->ours	  ? "another build of this module is loaded"
				: u->comp ? "in-tree module replaced by this config"
					  : "uses a module being replaced");
	}
	strbuf_init(&names);
	for (size_t i = 0; i < d->n_mods; i++)
		if (dk_plan_act_inserts(d->mods[i].act))
			strbuf_printf(&names, "%s%s", names.len ? ", " : "",
				      f->files[d->mods[i].file]->name);
	if (names.len)
		dk_problems_add(
			ps, 0, "no-unload-on-stop", NULL, NULL,
			"to change this driver later, reboot the node with the new "
			"version preloaded",
			"%s: %s: what a start loads (%s) stays loaded until the "
			"node reboots; a stop (SIGTERM) cannot unload it",
			PLAN, why, names.s);
	if (names.oom)
		ps->oom = true;
	strbuf_release(&names);
}

static int plan_params(struct dk_plan_decisions *d, struct dk_error **err)
{
	for (size_t i = 0; i < d->n_mods; i++) {
		struct dk_plan_mod *pm = &d->mods[i];
		char *params;

		if (!dk_plan_act_inserts(pm->act))
			continue;
		params = dk_params_string(pm->cm->params, pm->cm->n_params);
		if (!params)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (*params)
			pm->params = params;
		else
			free(params);
	}
	return 0;
}

static int decide(const struct dk_plan_facts *f, struct dk_plan_decisions *d,
		  struct dk_problems *ps, struct dk_error **err)
{
	int r = order_mods(f, d, err);

	for (size_t i = 0; i < d->n_mods && r >= 0; i++)
		r = decide_mod(f, &d->mods[i], ps, err);
	if (r >= 0)
		r = plan_unloads(f, d, err);
	if (r < 0)
		return r;
	/* The mount that would lose its storage first, then the generic protect list. */
	dk_plan_check_storage(f, d, ps);
	/* Nothing can be unloaded at all: what holds a module to unload matters not. */
	if (f->can_unload)
		check_protected(f, d, ps);
	check_unload(f, d, ps);
	if (ps->oom)
		return dk_error_set(err, ENOMEM, "out of memory");
	return plan_params(d, err);
}

int dk_plan_decide_all(const struct dk_plan_facts *facts, struct dk_plan_decisions *out,
		       struct dk_problems *problems, struct dk_error **err)
{
	int r;

	memset(out, 0, sizeof(*out));
	r = decide(facts, out, problems, err);
	if (r < 0)
		dk_plan_decisions_release(out);
	return r;
}

int dk_plan_decide(const struct dk_plan_facts *facts, struct dk_plan_decisions *out,
		   struct dk_error **err)
{
	struct dk_problems ps = {0};
	int r = dk_plan_decide_all(facts, out, &ps, err);

	if (r >= 0)
		r = dk_problems_error(&ps, err);
	if (r < 0)
		dk_plan_decisions_release(out);
	dk_problems_release(&ps);
	return r;
}
