/* SPDX-License-Identifier: Apache-2.0 */
/* The init planner (init/plan.h), a pure function: each case builds its host
 * facts in memory (module files, sysfs module states, the predecessor's state,
 * the config) and checks the decisions. Every case runs in its own process, so
 * one that fails (or crashes) hides none of the next. */
#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/error.h"
#include "init/plan.h"

#include "tap.h"
#include "fixture.h"

#define S(x) ((char *)(x))
#define MAXN 8

/* One planner input, built in memory. */
struct fx {
	struct dk_config cfg;
	struct dk_config_component comps[2];
	struct dk_config_module mods[2][MAXN];
	char *replaces[2][MAXN];
	struct dk_modfile files[MAXN];
	struct dk_modfile *fp[MAXN];
	size_t n_files;
	struct dk_plan_loaded loaded[MAXN];
	char *holders[MAXN][MAXN];
	const char *avail[MAXN];
	struct dk_state prev;
	struct dk_plan_facts facts;
	struct dk_plan_decisions d;
	struct dk_error *err;
};

static void fx_init(struct fx *x, size_t n_components)
{
	memset(x, 0, sizeof(*x));
	x->cfg.path = S("test.yaml");
	x->cfg.components = x->comps;
	x->cfg.n_components = n_components;
	for (size_t c = 0; c < n_components; c++) {
		x->comps[c].name = S(c ? "other" : "example");
		x->comps[c].source_dir = S("/m");
		x->comps[c].modules = x->mods[c];
		x->comps[c].replaces = x->replaces[c];
	}
	x->facts.kver = "6.1.0-test";
	x->facts.cfg = &x->cfg;
	x->facts.files = x->fp;
	x->facts.loaded = x->loaded;
	x->facts.available = x->avail;
	x->facts.can_unload = true;
}

/* A module of component c in the config and its file; depends: NULL-ended. */
static struct dk_modfile *fx_module(struct fx *x, size_t c, const char *name,
				    const char *srcversion, ...)
{
	struct dk_config_component *comp = &x->comps[c];
	struct dk_modfile *f;
	va_list ap;
	const char *dep;
	static char *deps[MAXN][MAXN];

	/* files must follow the config order: component by component */
	comp->modules[comp->n_modules++] = (struct dk_config_module){.name = S(name)};
	f = &x->files[x->n_files];
	x->fp[x->n_files] = f;
	*f = (struct dk_modfile){.path = S(name),
				 .name = S(name),
				 .srcversion = S(srcversion),
				 .version = S("1.0"),
				 .vermagic = S("6.1.0-test SMP")};
	f->depends = deps[x->n_files];
	va_start(ap, srcversion);
	while ((dep = va_arg(ap, const char *)))
		f->depends[f->n_depends++] = S(dep);
	va_end(ap);
	x->n_files++;
	x->facts.n_files = x->n_files;
	return f;
}

/* A module loaded in the fake sysfs; holders: NULL-ended. */
static struct dk_plan_loaded *fx_loaded(struct fx *x, const char *name,
					const char *srcversion, ...)
{
	size_t i = x->facts.n_loaded++;
	struct dk_plan_loaded *l = &x->loaded[i];
	const char *h;
	va_list ap;

	l->name = name;
	l->st = (struct dk_modstate){.state = DK_LOADED_LIVE,
				     .srcversion = S(srcversion),
				     .version = S("1.0"),
				     .refcnt = 0,
				     .holders = x->holders[i]};
	va_start(ap, srcversion);
	while ((h = va_arg(ap, const char *)))
		l->st.holders[l->st.n_holders++] = S(h);
	va_end(ap);
	return l;
}

static void fx_replaces(struct fx *x, size_t c, const char *name)
{
	x->comps[c].replaces[x->comps[c].n_replaces++] = S(name);
}

static int fx_decide(struct fx *x)
{
	return dk_plan_decide(&x->facts, &x->d, &x->err);
}

static void fx_release(struct fx *x)
{
	dk_plan_decisions_release(&x->d);
	dk_error_free(&x->err);
	dk_state_release(&x->prev);
}

static const struct dk_plan_mod *mod(const struct fx *x, const char *name)
{
	for (size_t i = 0; i < x->d.n_mods; i++)
		if (strcmp(x->fp[x->d.mods[i].file]->name, name) == 0)
			return &x->d.mods[i];
	return NULL;
}

static int act(const struct fx *x, const char *name)
{
	const struct dk_plan_mod *m = mod(x, name);

	return m ? (int)m->act : -1;
}

static const char *load_order(const struct fx *x)
{
	static char buf[256];

	buf[0] = '\0';
	for (size_t i = 0; i < x->d.n_mods; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			 i ? " " : "", x->fp[x->d.mods[i].file]->name);
	return buf;
}

static const char *unload_order(const struct fx *x)
{
	static char buf[256];

	buf[0] = '\0';
	for (size_t i = 0; i < x->d.n_unload; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			 i ? " " : "", x->d.unload[i].name);
	return buf;
}

static const char *errmsg(const struct fx *x)
{
	return x->err ? x->err->msg : "";
}

/* ---- cases ---- */

static void case_absent_loads(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_user", "AAA", "dktest_export", NULL);
	fx_module(&x, 0, "dktest_export", "BBB", NULL);
	x.mods[0][0].params = (struct dk_config_param[]){{S("count"), S("7")}};
	x.mods[0][0].n_params = 1;
	is_int(fx_decide(&x), 0, "absent: planned");
	is_int(act(&x, "dktest_user"), DK_PLAN_ACT_LOAD, "absent: load");
	is_str(load_order(&x), "dktest_export dktest_user",
	       "depends= decides the load order");
	is_int(x.d.n_unload, 0, "nothing to unload");
	is_str(mod(&x, "dktest_user")->params, "count=7", "params for the insert");
	ok(mod(&x, "dktest_export")->params == NULL, "no params: NULL");
	ok(x.files[0].params == NULL, "the module file is not changed (params)");
	fx_release(&x);
}

static void case_same_skip(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_export", "BBB", NULL);
	fx_loaded(&x, "dktest_export", "BBB", NULL);
	is_int(fx_decide(&x), 0, "same srcversion: planned");
	is_int(act(&x, "dktest_export"), DK_PLAN_ACT_SKIP,
	       "same srcversion, not in the state file: skipped (left alone)");
	ok(mod(&x, "dktest_export")->same, "marked as found identical");
	ok(strstr(mod(&x, "dktest_export")->why, "same srcversion BBB") != NULL,
	   "why names the srcversion");
	ok(mod(&x, "dktest_export")->params == NULL, "no params for a skipped module");
	fx_release(&x);
}

static void case_same_version(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_export", NULL, NULL);
	fx_loaded(&x, "dktest_export", NULL, NULL);
	is_int(fx_decide(&x), 0, "same version: planned");
	is_int(act(&x, "dktest_export"), DK_PLAN_ACT_SKIP,
	       "no srcversion, same version: skipped");
	ok(strstr(mod(&x, "dktest_export")->why, "same version 1.0") != NULL,
	   "why names the version");
	fx_release(&x);
}

static void case_adopt(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_export", "BBB", NULL);
	fx_loaded(&x, "dktest_export", "BBB", NULL);
	ok(dk_state_add_module(&x.prev, "dktest_export", "example", "/m/x.ko", NULL,
			       "BBB", "1.0") == 0,
	   "(state file fixture)");
	x.facts.prev = &x.prev;
	is_int(fx_decide(&x), 0, "adopt: planned");
	is_int(act(&x, "dktest_export"), DK_PLAN_ACT_ADOPT,
	       "same srcversion, in the predecessor's state: adopted");
	is_int(x.prev.n_modules, 1, "the state is not changed");
	fx_release(&x);
}

/* OFED's modules carry neither srcversion nor version: the predecessor's state
 * (same name, same file) is what says the loaded one is ours. */
static void case_adopt_unversioned(void)
{
	/* state path, state source (the file before signing), adopted? */
	static const struct {
		const char *path, *source;
		bool adopt;
	} t[] = {{"ib_core", NULL, true},
		 {"/run/drvkit/signed/ib_core.ko", "ib_core", true},
		 {"/cache/builds/OTHER/ib_core.ko", NULL, false}};

	for (size_t k = 0; k < ARRAY_SIZE(t); k++) {
		struct dk_modfile *f;
		struct fx x;

		fx_init(&x, 1);
		f = fx_module(&x, 0, "ib_core", NULL, NULL);
		f->version = NULL;
		fx_replaces(&x, 0, "ib_core");
		fx_loaded(&x, "ib_core", NULL, NULL)->st.version = NULL;
		ok(dk_state_add_module(&x.prev, "ib_core", "example", t[k].path,
				       t[k].source, NULL, NULL) == 0,
		   "(state file fixture)");
		x.facts.prev = &x.prev;
		is_int(fx_decide(&x), 0, "unversioned, state path %s: planned",
		       t[k].path);
		if (t[k].adopt) {
			is_int(act(&x, "ib_core"), DK_PLAN_ACT_ADOPT,
			       "unversioned, loaded by the predecessor from this file: "
			       "adopted");
			is_int(x.d.n_unload, 0, "nothing unloaded (it is in replaces:)");
			ok(mod(&x, "ib_core") &&
				   strstr(mod(&x, "ib_core")->why, "from the same file"),
			   "why says how it was recognised");
		} else {
			is_int(act(&x, "ib_core"), DK_PLAN_ACT_RELOAD,
			       "unversioned, the predecessor loaded another file: "
			       "reloaded");
		}
		fx_release(&x);
	}
}

static void case_other_build_refused(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_params", "NEW", NULL);
	fx_loaded(&x, "dktest_params", "OLD", NULL);
	is_int(fx_decide(&x), -EEXIST, "another build loaded: refused (EEXIST)");
	ok(strstr(errmsg(&x), "plan: component example: dktest_params is already loaded "
			      "and differs (loaded with srcversion OLD, the file has "
			      "NEW); not unloading it because unload_other_versions "
			      "is false") != NULL,
	   "the refusal says why and what to set");
	is_int(x.d.n_mods, 0, "no plan on a refusal");
	fx_release(&x);
}

static void case_other_build_allowed(void)
{
	static const char *const how[] = {"unload_other_versions", "replaces",
					  "previous drvkit"};

	for (size_t k = 0; k < ARRAY_SIZE(how); k++) {
		struct fx x;

		fx_init(&x, 1);
		fx_module(&x, 0, "dktest_params", "NEW", NULL);
		fx_loaded(&x, "dktest_params", "OLD", NULL);
		if (k == 0)
			x.cfg.unload_other_versions = true;
		if (k == 1)
			fx_replaces(&x, 0, "dktest_params");
		if (k == 2) {
			ok(dk_state_add_module(&x.prev, "dktest_params", "example", "/m",
					       NULL, "OLD", "1.0") == 0,
			   "(state file fixture)");
			x.facts.prev = &x.prev;
		}
		is_int(fx_decide(&x), 0, "another build, %s: planned", how[k]);
		is_int(act(&x, "dktest_params"), DK_PLAN_ACT_RELOAD,
		       "another build, %s: reload", how[k]);
		is_str(unload_order(&x), "dktest_params", "%s: unloaded first", how[k]);
		ok(x.d.n_unload == 1 && x.d.unload[0].ours, "%s: marked as ours", how[k]);
		is_int(x.d.n_unload == 1 && x.d.unload[0].was_ours, k == 2,
		       "%s: was_ours only when the predecessor loaded it", how[k]);
		ok(x.d.n_unload == 1 && !x.d.unload[0].restore,
		   "%s: another build of ours is not restored", how[k]);
		fx_release(&x);
	}
}

static void case_builtin(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_export", "BBB", NULL);
	fx_loaded(&x, "dktest_export", NULL, NULL)->st.state = DK_LOADED_BUILTIN;
	x.cfg.unload_other_versions = true;
	is_int(fx_decide(&x), -EEXIST, "built in: refused");
	ok(strstr(errmsg(&x), "dktest_export is built into kernel 6.1.0-test") != NULL,
	   "the refusal names the kernel");
	fx_release(&x);
}

static void case_cannot_unload(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_params", "NEW", NULL);
	fx_loaded(&x, "dktest_params", "OLD", NULL);
	x.cfg.unload_other_versions = true;
	x.facts.can_unload = false;
	x.facts.cannot_unload_why = "# CONFIG_MODULE_UNLOAD is not set in /boot/config";
	is_int(fx_decide(&x), -EOPNOTSUPP, "must unload, kernel cannot: refused");
	ok(strstr(errmsg(&x), "plan: dktest_params must be unloaded first, but # "
			      "CONFIG_MODULE_UNLOAD is not set") != NULL,
	   "the refusal names the module and how we know");
	fx_release(&x);

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_params", "NEW", NULL);
	x.facts.can_unload = false;
	is_int(fx_decide(&x), 0,
	       "nothing to unload: a kernel that cannot unload is fine");
	fx_release(&x);
}

static void case_replaces_users_first(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "mlx5_core", "OURS", NULL);
	fx_replaces(&x, 0, "mlx5_core");
	x.comps[0].restore = true;
	fx_loaded(&x, "mlx5_core", "INTREE", "mlx5_ib", NULL);
	fx_loaded(&x, "mlx5_ib", "INTREE", "ib_uverbs", NULL);
	fx_loaded(&x, "ib_uverbs", "INTREE", NULL);
	is_int(fx_decide(&x), 0, "replaces with users: planned");
	is_str(unload_order(&x), "ib_uverbs mlx5_ib mlx5_core",
	       "users first, recursively");
	ok(x.d.n_unload == 3 && x.d.unload[2].comp == &x.comps[0],
	   "the replaced module names its component");
	ok(x.d.n_unload == 3 && !x.d.unload[0].comp,
	   "a user is not replaced by a component");
	ok(x.d.n_unload == 3 && x.d.unload[0].restore && x.d.unload[2].restore,
	   "restore: true restores the replaced module and its users");
	is_int(act(&x, "mlx5_core"), DK_PLAN_ACT_RELOAD, "ours replaces it: reload");
	fx_release(&x);
}

static void case_replaced_already_ours(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "mlx5_core", "OURS", NULL);
	fx_replaces(&x, 0, "mlx5_core");
	fx_loaded(&x, "mlx5_core", "OURS", NULL);
	is_int(fx_decide(&x), 0, "replaced module is ours already: planned");
	is_int(x.d.n_unload, 0, "nothing unloaded: ours is what is loaded");
	is_int(act(&x, "mlx5_core"), DK_PLAN_ACT_SKIP, "and it is skipped");
	fx_release(&x);
}

static void case_user_of_replaced_reloads(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_export", "OURS", NULL);
	fx_module(&x, 0, "dktest_user", "U", "dktest_export", NULL);
	fx_replaces(&x, 0, "dktest_export");
	fx_loaded(&x, "dktest_export", "INTREE", "dktest_user", NULL);
	fx_loaded(&x, "dktest_user", "U", NULL);
	is_int(fx_decide(&x), 0, "ours uses a replaced module: planned");
	is_int(act(&x, "dktest_user"), DK_PLAN_ACT_RELOAD,
	       "identical but using a replaced module: it goes and comes back");
	ok(mod(&x, "dktest_user")->same, "(found identical first)");
	is_str(unload_order(&x), "dktest_user dktest_export", "user first");
	fx_release(&x);
}

static void case_protected(void)
{
	static const char *const who[] = {"ib_iser", "gpfs_rdma", "nvidia_peermem"};
	static char *extra[] = {S("gpfs_rdma")};

	for (size_t k = 0; k < ARRAY_SIZE(who); k++) {
		struct fx x;

		fx_init(&x, 1);
		fx_module(&x, 0, "dktest_export", "OURS", NULL);
		fx_replaces(&x, 0, "dktest_export");
		if (k == 1) {
			x.cfg.protected_modules = extra;
			x.cfg.n_protected = 1;
		}
		if (k == 2) { /* two levels up */
			fx_loaded(&x, "dktest_export", "INTREE", "dktest_user", NULL);
			fx_loaded(&x, "dktest_user", "U", "nvidia_peermem", NULL);
		} else {
			fx_loaded(&x, "dktest_export", "INTREE", who[k], NULL);
		}
		fx_loaded(&x, who[k], "P", NULL);
		is_int(fx_decide(&x), -EBUSY, "%s holds a module to replace: refused",
		       who[k]);
		ok(strstr(errmsg(&x),
			  "replace: refused before unloading anything: "
			  "component example replaces in-tree modules, but ") != NULL,
		   "%s: refused before unloading anything", who[k]);
		ok(strstr(errmsg(&x), who[k]) != NULL, "%s: named", who[k]);
		fx_release(&x);
	}
}

static void case_protected_but_replaced(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_export", "OURS", NULL);
	fx_replaces(&x, 0, "dktest_export");
	fx_replaces(&x, 0, "ib_iser");
	fx_loaded(&x, "dktest_export", "INTREE", "ib_iser", NULL);
	fx_loaded(&x, "ib_iser", "P", NULL);
	is_int(fx_decide(&x), 0, "a protected module the config replaces does not block");
	is_str(unload_order(&x), "ib_iser dktest_export", "it is unloaded first");
	fx_release(&x);
}

static void case_order_errors(void)
{
	struct fx x;

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_user", "U", "ib_core", NULL);
	is_int(fx_decide(&x), -ENOENT, "a dependency the host lacks: refused");
	fx_release(&x);

	fx_init(&x, 1);
	fx_module(&x, 0, "dktest_user", "U", "ib_core", NULL);
	x.avail[0] = "ib_core";
	x.facts.n_available = 1;
	is_int(fx_decide(&x), 0, "the host provides it: planned");
	fx_release(&x);

	fx_init(&x, 1);
	fx_module(&x, 0, "a", "A", "b", NULL);
	fx_module(&x, 0, "b", "B", "a", NULL);
	is_int(fx_decide(&x), -ELOOP, "a depends= cycle: refused");
	fx_release(&x);
}

static void case_two_components(void)
{
	struct fx x;

	fx_init(&x, 2);
	fx_module(&x, 0, "nvidia", "N", NULL);
	fx_module(&x, 1, "nvidia_peermem", "P", "nvidia", NULL);
	is_int(fx_decide(&x), 0, "two components: planned");
	ok(mod(&x, "nvidia_peermem") && mod(&x, "nvidia_peermem")->comp == &x.comps[1],
	   "each module keeps its component");
	ok(mod(&x, "nvidia") && mod(&x, "nvidia")->cm == &x.mods[0][0],
	   "and its config entry");
	fx_release(&x);
}

int main(void)
{
	FX_RUN(case_absent_loads);
	FX_RUN(case_same_skip);
	FX_RUN(case_same_version);
	FX_RUN(case_adopt);
	FX_RUN(case_adopt_unversioned);
	FX_RUN(case_other_build_refused);
	FX_RUN(case_other_build_allowed);
	FX_RUN(case_builtin);
	FX_RUN(case_cannot_unload);
	FX_RUN(case_replaces_users_first);
	FX_RUN(case_replaced_already_ours);
	FX_RUN(case_user_of_replaced_reloads);
	FX_RUN(case_protected);
	FX_RUN(case_protected_but_replaced);
	FX_RUN(case_order_errors);
	FX_RUN(case_two_components);
	return tap_done();
}
