/* SPDX-License-Identifier: Apache-2.0 */
/* The detect, get and check phases: everything init reads from the host and the
 * image before and after the pure planner decides. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/clock.h"
#include "base/log.h"
#include "host/osrelease.h"
#include "host/policy.h"
#include "host/storage.h"
#include "kmod/check.h"
#include "kmod/modfile.h"
#include "init/init-run.h"

static char *expand_kver(const char *s, const char *kver)
{
	struct strbuf b;

	strbuf_init(&b);
	while (*s) {
		if (startswith(s, "$KVER")) {
			strbuf_puts(&b, kver);
			s += 5;
		} else if (startswith(s, "${KVER}")) {
			strbuf_puts(&b, kver);
			s += 7;
		} else {
			strbuf_putc(&b, *s++);
		}
	}
	return strbuf_steal(&b);
}

/* NAME.ko in dir, else the file name kbuild gives it (nvidia_drm: nvidia-drm.ko). */
static char *module_path(const char *dir, const char *name)
{
	char *path = dk_strdup_printf("%s/%s.ko", dir, name);
	char *alt;

	if (!path || dk_path_exists(path) || !strchr(name, '_'))
		return path;
	alt = dk_strdup_printf("%s/%s.ko", dir, name);
	for (char *p = alt ? strrchr(alt, '/') : NULL; p && *p; p++)
		if (*p == '_')
			*p = '-';
	if (alt && dk_path_exists(alt)) {
		free(path);
		return alt;
	}
	free(alt);
	return path;
}

static const struct dk_got *got_of(const struct dk_init *in,
				   const struct dk_config_component *c)
{
	for (size_t i = 0; i < in->n_got; i++)
		if (in->got[i].c == c)
			return &in->got[i];
	return NULL;
}

/* The module file of a component: in its source.dir, or in the cache entry the get
 * chain (cache, precompiled, build) gave it. */
static int get_module_file(struct dk_init *in, const struct dk_config_component *c,
			   const struct dk_config_module *cm, struct dk_modfile **out,
			   struct dk_error **err)
{
	const struct dk_got *g = got_of(in, c);
	_cleanup_free_ char *dir =
		g ? strdup(g->dir) : expand_kver(c->source_dir, in->m->kver);
	_cleanup_free_ char *path = dir ? module_path(dir, cm->name) : NULL;
	int r;

	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_modfile_open(path, out, err);
	if (r == -ENOENT && g) {
		struct strbuf have;

		strbuf_init(&have);
		for (size_t i = 0; i < g->m->n_modules; i++)
			strbuf_printf(&have, "%s%s", i ? ", " : "",
				      g->m->modules[i].name);
		dk_error_free(err);
		r = dk_error_set(
			err, ENOENT,
			"%s: component %s: module %s (%s:%d) is not among the "
			"modules it got from the %s (%s: %s): fix the name under "
			"modules:, or the build (make:, subdir:) so that it makes "
			"%s.ko",
			PHASE(GET), c->name, cm->name, in->cfg->path, cm->line,
			dk_got_from_name(g->from), dir,
			have.len ? strbuf_str(&have) : "none", cm->name);
		strbuf_release(&have);
		return r;
	}
	if (r == -ENOENT) {
		dk_error_free(err);
		return dk_error_set(
			err, ENOENT,
			"%s: component %s: no %s.ko in %s (%s:%d): this image "
			"has no modules for kernel %s: run an image built for this "
			"kernel, or fix source.dir in %s",
			PHASE(GET), c->name, cm->name, dir, in->cfg->path, cm->line,
			in->m->kver, in->cfg->path);
	}
	if (r < 0)
		return dk_error_wrap(err, "%s: component %s", PHASE(GET), c->name);
	if (!streq((*out)->name, cm->name)) {
		r = dk_error_set(
			err, EBADMSG, "%s: component %s: %s holds module %s, not %s",
			PHASE(GET), c->name, (*out)->path, (*out)->name, cm->name);
		dk_modfile_free(*out);
		*out = NULL;
		return r;
	}
	return 0;
}

/* Components with build: or precompiled: sources, from the cache, a package or a
 * build (each says where from and why). */
static int get_components(struct dk_init *in, struct dk_error **err)
{
	const struct dk_config *cfg = in->cfg;
	struct dk_build_opts bo = {
		.cfg = cfg,
		.kernel = in->m->kver,
		.host_root = cfg->host_root,
		.sysfs = in->m->sysfs,
		.procfs = in->ctx.procfs,
		.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN),
		.cancel_fd = -1,
		.tty = isatty(STDERR_FILENO),
		.dry_run = in->dry_run,
	};
	bool any = false;
	int64_t t0 = dk_now_ms();
	sigset_t stop;
	int r;

	for (size_t i = 0; i < cfg->n_components; i++)
		any |= cfg->components[i].source_dir == NULL;
	if (!any)
		return 0;
	/* A build stops on SIGTERM/SIGINT only: init's own signalfd also carries
	 * SIGCHLD, which every finished compiler raises. Both see a pending signal; init
	 * reads it from its own afterwards. */
	sigemptyset(&stop);
	sigaddset(&stop, SIGTERM);
	sigaddset(&stop, SIGINT);
	bo.cancel_fd = signalfd(-1, &stop, SFD_CLOEXEC | SFD_NONBLOCK);
	r = dk_get_components(&bo, &in->got, &in->n_got, err);
	if (bo.cancel_fd >= 0)
		close(bo.cancel_fd);
	if (r < 0)
		return dk_error_wrap(err, "%s", PHASE(GET));
	for (size_t i = 0; i < in->n_got; i++) {
		const struct dk_got *g = &in->got[i];

		in->got_missing |= g->from == DK_GOT_NONE;
		dk_info("%s: component %s: %s in %lld ms (%s)%s%s", PHASE(GET),
			g->c->name, dk_got_from_name(g->from), (long long)g->ms,
			g->why ? g->why : "", g->flavor_why ? "; flavor " : "",
			g->flavor_why ? g->flavor_why : "");
	}
	dk_info("%s: %zu component%s ready in %lld ms", PHASE(GET), in->n_got,
		in->n_got == 1 ? "" : "s", (long long)(dk_now_ms() - t0));
	return 0;
}

static int get_files(struct dk_init *in, struct dk_error **err)
{
	const struct dk_config *cfg = in->cfg;
	size_t total = 0;
	int r;

	r = get_components(in, err);
	if (r < 0 || in->got_missing)
		return r;

	for (size_t i = 0; i < cfg->n_components; i++)
		total += cfg->components[i].n_modules;
	in->files = calloc(total ? total : 1, sizeof(*in->files));
	if (!in->files)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_components; i++) {
		const struct dk_config_component *c = &cfg->components[i];

		for (size_t j = 0; j < c->n_modules; j++) {
			r = get_module_file(in, c, &c->modules[j],
					    &in->files[in->n_files], err);
			if (r < 0)
				return r;
			in->n_files++;
		}
	}
	return 0;
}

static bool is_loaded_name(const struct dk_init *in, const char *name)
{
	for (size_t i = 0; i < in->n_loaded; i++)
		if (streq(in->loaded[i].name, name))
			return true;
	return false;
}

static int snap_add(struct dk_init *in, const char *name)
{
	struct dk_plan_loaded *nl;
	char *dup;

	if (is_loaded_name(in, name))
		return 0;
	nl = reallocarray(in->loaded, in->n_loaded + 1, sizeof(*nl));
	if (!nl)
		return -ENOMEM;
	in->loaded = nl;
	dup = strdup(name);
	if (!dup)
		return -ENOMEM;
	nl[in->n_loaded].name = dup;
	/* Unreadable is not loaded (what the old per-call reads did). */
	if (dk_module_state(in->m, name, &nl[in->n_loaded].st) < 0) {
		dk_modstate_release(&nl[in->n_loaded].st);
		memset(&nl[in->n_loaded].st, 0, sizeof(nl[in->n_loaded].st));
	}
	in->n_loaded++;
	return 0;
}

/* Sysfs, read once: our modules, the replaced ones and their holders. */
static int snapshot(struct dk_init *in, struct dk_error **err)
{
	const struct dk_config *cfg = in->cfg;
	int r = 0;

	for (size_t i = 0; i < in->n_files && r >= 0; i++)
		r = snap_add(in, in->files[i]->name);
	for (size_t c = 0; c < cfg->n_components && r >= 0; c++)
		for (size_t j = 0; j < cfg->components[c].n_replaces && r >= 0; j++)
			r = snap_add(in, cfg->components[c].replaces[j]);
	/* n_loaded grows while holders are added */
	for (size_t i = 0; i < in->n_loaded && r >= 0; i++)
		for (size_t h = 0; h < in->loaded[i].st.n_holders && r >= 0; h++)
			r = snap_add(in, in->loaded[i].st.holders[h]);
	if (r < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

bool dk_init_is_ours(const struct dk_init *in, const char *name)
{
	for (size_t i = 0; i < in->n_files; i++)
		if (streq(in->files[i]->name, name))
			return true;
	return false;
}

/* The dependencies outside our set that the host provides. */
static int externals(struct dk_init *in, struct dk_error **err)
{
	for (size_t i = 0; i < in->n_files; i++) {
		const struct dk_modfile *f = in->files[i];

		for (size_t j = 0; j < f->n_depends; j++) {
			const char *dep = f->depends[j];
			char **na;

			/* Several modules share a provider: one lookup each. */
			if (dk_init_is_ours(in, dep) ||
			    dk_strv_contains((const char *const *)in->available,
					     in->n_available, dep) ||
			    !dk_module_available(in->m, dep))
				continue;
			na = reallocarray(in->available, in->n_available + 1,
					  sizeof(*na));
			if (!na)
				return dk_error_set(err, ENOMEM, "out of memory");
			in->available = na;
			if (!(na[in->n_available] = strdup(dep)))
				return dk_error_set(err, ENOMEM, "out of memory");
			in->n_available++;
		}
	}
	return 0;
}

static void read_state(struct dk_init *in, struct dk_error **err)
{
	if (dk_state_read(in->state_path, &in->state, err) < 0) {
		dk_warn("%s: ignoring the previous state: %s: modules a previous drvkit "
			"init loaded count as loaded by someone else (left alone on "
			"exit)",
			PHASE(DETECT), (*err)->msg);
		dk_error_free(err);
	}
	if (in->state.kernel && !streq(in->state.kernel, in->m->kver)) {
		dk_info("%s: the state file %s is for kernel %s, not %s: ignoring it "
			"(the node rebooted into another kernel; nothing of it is "
			"loaded)",
			PHASE(DETECT), in->state_path, in->state.kernel, in->m->kver);
		dk_state_release(&in->state);
	}
	if (in->state.n_modules)
		dk_info("state file: a previous instance (pid %ld) loaded %zu modules",
			in->state.pid, in->state.n_modules);
}

/* The kernel release and the host tree, policy, the predecessor's state. */
static int detect(struct dk_init *in, struct dk_error **err)
{
	_cleanup_kernel_policy_ struct dk_kernel_policy kp = {0};
	_cleanup_free_ char *policy = NULL;
	bool enforcing = false;
	int r;

	r = dk_modctx_new(&in->ctx, &in->m, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", PHASE(DETECT));
	r = dk_kernel_policy_read_running(&in->ctx, in->m->kver, &kp, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", PHASE(DETECT));
	policy = dk_kernel_policy_enforcement(&kp);
	enforcing = dk_kernel_policy_enforcing(&kp);
	in->enforcing = enforcing;
	in->enforcement = policy ? strdup(policy) : NULL;
	in->family = (int)dk_distro_family_of_root(in->m->host_root);
	dk_info("%s: kernel %s, host modules %s, sysfs %s, %s", PHASE(DETECT),
		in->m->kver, in->m->moddir, in->m->sysfs, policy ? policy : "");
	if (!dk_path_exists(in->m->moddir))
		dk_warn("%s: %s does not exist: in-tree dependencies and replaced "
			"modules "
			"cannot be loaded; mount the host's /lib/modules and set "
			"host_root",
			PHASE(DETECT), in->m->moddir);
	if (enforcing && !in->cfg->signing)
		dk_warn("%s: the kernel enforces module signatures (%s) and no signing "
			"key "
			"is configured: only modules already signed by a trusted key "
			"will "
			"load",
			PHASE(DETECT), policy ? policy : "");
	read_state(in, err);
	/* Unknown counts as able: only a kernel that says it cannot unload refuses. */
	in->can_unload = kp.module_unload.value != DK_MODULE_UNLOAD_NO;
	if (!in->can_unload)
		in->cannot_unload_why = dk_kernel_policy_no_unload_why(&kp);
	return 0;
}

/* The mounted filesystems and the modules under them, when a component replaces
 * modules (init/storage.c refuses to unload one a filesystem needs). Unreadable
 * mountinfo is a warning: the check is skipped, the plan goes on. */
static int storage(struct dk_init *in, struct dk_error **err)
{
	_cleanup_error_ struct dk_error *e = NULL;
	bool any = false;
	int r;

	for (size_t c = 0; c < in->cfg->n_components; c++)
		any |= in->cfg->components[c].n_replaces > 0;
	if (!any)
		return 0;
	r = dk_storage_read(in->m->procfs, in->m->sysfs, &in->storage, &e);
	if (r == -ENOMEM)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (r < 0) {
		dk_warn("%s: %s: mounted filesystems are not checked before replaced "
			"modules are unloaded: mount the host's /proc (hostPID: true) "
			"or drain the node's RDMA storage first",
			PHASE(DETECT), e->msg);
		return 0;
	}
	in->storage_read = true;
	if (in->storage.note)
		dk_warn("%s: %s", PHASE(DETECT), in->storage.note);
	dk_info("%s: %zu mounted filesystems on kernel modules (%s)", PHASE(DETECT),
		in->storage.n, in->storage.mountinfo);
	return 0;
}

int dk_init_gather(struct dk_init *in, struct dk_error **err)
{
	int r = detect(in, err);

	if (r >= 0)
		r = get_files(in, err);
	if (r >= 0 && in->got_missing)
		return 0;
	if (r >= 0)
		r = snapshot(in, err);
	if (r >= 0)
		r = externals(in, err);
	if (r >= 0)
		r = storage(in, err);
	return r;
}

void dk_init_facts(const struct dk_init *in, struct dk_plan_facts *f)
{
	*f = (struct dk_plan_facts){
		.kver = in->m->kver,
		.cfg = in->cfg,
		.files = in->files,
		.n_files = in->n_files,
		.loaded = in->loaded,
		.n_loaded = in->n_loaded,
		.available = (const char *const *)in->available,
		.n_available = in->n_available,
		.can_unload = in->can_unload,
		.cannot_unload_why = in->cannot_unload_why,
		.prev = &in->state,
		.storage = in->storage_read ? &in->storage : NULL,
	};
}

/* ---- check ---- */

char *dk_init_headers_pkg(const struct dk_init *in)
{
	return dk_distro_headers_pkg((enum dk_distro_family)in->family, in->m->kver);
}

/* A module that does not fit the running kernel: a problem, the check goes on. */
static void wrong_kernel(struct dk_init *in, size_t i, const char *what)
{
	const struct dk_modfile *f = dk_init_file(in, i);
	const char *comp = in->d.mods[i].comp->name;
	_cleanup_free_ char *pkg = dk_init_headers_pkg(in);
	_cleanup_free_ char *hint = dk_strdup_printf(
		"run the image (or precompiled package) built for kernel %s, or build "
		"component %s from source against this kernel's headers (install %s on "
		"the host)",
		in->m->kver, comp, pkg ? pkg : "its headers package");

	dk_problems_add(&in->problems, ENOEXEC, "wrong-kernel", comp, f->name, hint,
			"%s: component %s: %s (%s) does not fit kernel %s: %s",
			PHASE(CHECK), comp, f->name, f->path, in->m->kver, what);
}

/* Without headers: does the vermagic release fit the running kernel? */
static int check_vermagic(struct dk_init *in, size_t i, struct dk_error **err)
{
	const struct dk_modfile *f = dk_init_file(in, i);
	size_t kl = strlen(in->m->kver);
	_cleanup_free_ char *what = NULL;

	if (!f->vermagic) {
		wrong_kernel(in, i, "it has no vermagic: not built for a kernel");
		return 0;
	}
	if (strncmp(f->vermagic, in->m->kver, kl) != 0 ||
	    (f->vermagic[kl] != ' ' && f->vermagic[kl] != '\0')) {
		what = dk_strdup_printf("it was built for '%s'", f->vermagic);
		if (!what)
			return dk_error_set(err, ENOMEM, "out of memory");
		wrong_kernel(in, i, what);
		return 0;
	}
	in->checked[i] = dk_strdup_printf("vermagic release fits (%s; no kernel headers "
					  "on the host, CRCs not checked)",
					  f->vermagic);
	return in->checked[i] ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

static int check_result(struct dk_init *in, size_t i, const struct dk_check_result *res,
			const char *hdr, struct dk_error **err)
{
	struct strbuf b;

	if (res->fits) {
		in->checked[i] = dk_strdup_printf("fits %s (vermagic, symbol CRCs)", hdr);
		return in->checked[i] ? 0 : dk_error_set(err, ENOMEM, "out of memory");
	}
	strbuf_init(&b);
	for (size_t j = 0; j < res->n_issues; j++)
		if (res->issues[j].fatal)
			strbuf_printf(&b, "%s%s", b.len ? "; " : "",
				      res->issues[j].message);
	wrong_kernel(in, i, b.oom || !b.len ? "see drvkit check" : b.s);
	strbuf_release(&b);
	return 0;
}

/* With the kernel's headers (kmod/check.c: vermagic, every __versions CRC against
 * Module.symvers, missing symbols); all our modules, as they provide symbols to
 * each other. */
static int check_headers(struct dk_init *in, const char *hdr, struct dk_error **err)
{
	_cleanup_kernel_ struct dk_kernel *k = NULL;
	_cleanup_free_ struct dk_modfile **mods = NULL;
	struct dk_check_result *res = NULL;
	size_t n = in->d.n_mods;
	int r;

	r = dk_kernel_open(hdr, &k, err);
	if (r < 0)
		return dk_error_wrap(err, "%s: kernel headers %s", PHASE(CHECK), hdr);
	mods = calloc(n ? n : 1, sizeof(*mods));
	if (!mods)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* The files opened in the get phase: each module is parsed once. */
	for (size_t i = 0; i < n; i++)
		mods[i] = dk_init_file(in, i);
	r = dk_check_modules(k, mods, n, &res, err);
	if (r < 0)
		return dk_error_wrap(err, "%s against %s", PHASE(CHECK), hdr);
	for (size_t i = 0; i < n && r >= 0; i++)
		if (dk_plan_act_inserts(in->d.mods[i].act))
			r = check_result(in, i, &res[i], hdr, err);
	dk_check_results_free(res, n);
	return r < 0 ? r : 0;
}

int dk_init_check(struct dk_init *in, struct dk_error **err)
{
	_cleanup_error_ struct dk_error *herr = NULL;
	_cleanup_free_ char *hdr = NULL;
	bool any = false;
	int r;

	in->checked = calloc(in->d.n_mods ? in->d.n_mods : 1, sizeof(*in->checked));
	if (!in->checked)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < in->d.n_mods; i++)
		any = any || dk_plan_act_inserts(in->d.mods[i].act);
	if (!any)
		return 0;
	r = dk_kernel_find_headers(in->m->host_root, in->m->kver, &hdr, &herr);
	if (r >= 0)
		return check_headers(in, hdr, err);
	dk_info("%s: %s; checking the vermagic release only", PHASE(CHECK),
		herr ? herr->msg : strerror(-r));
	for (size_t i = 0; i < in->d.n_mods; i++) {
		if (!dk_plan_act_inserts(in->d.mods[i].act))
			continue;
		r = check_vermagic(in, i, err);
		if (r < 0)
			return r;
	}
	return 0;
}
