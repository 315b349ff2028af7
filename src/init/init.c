/* SPDX-License-Identifier: Apache-2.0 */
/* drvkit init: the phases in order (init/phase.h), on one struct dk_init. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "kmod/sign.h"
#include "init/driver-root.h"
#include "init/init-run.h"
#include "init/init.h"
#include "init/share-headers.h"

static void init_release(struct dk_init *in)
{
	dk_modfiles_free(in->files, in->n_files);
	dk_got_free(in->got, in->n_got);
	for (size_t i = 0; i < in->n_loaded; i++) {
		free((char *)in->loaded[i].name);
		dk_modstate_release(&in->loaded[i].st);
	}
	free(in->loaded);
	dk_names_free(in->available, in->n_available);
	free(in->cannot_unload_why);
	free(in->enforcement);
	dk_problems_release(&in->problems);
	dk_storage_release(&in->storage);
	for (size_t i = 0; in->checked && i < in->d.n_mods; i++)
		free(in->checked[i]);
	free(in->checked);
	/* per plan module: before the plan is released (n_mods) */
	for (size_t i = 0; in->source && i < in->d.n_mods; i++)
		free(in->source[i]);
	free(in->source);
	dk_plan_decisions_release(&in->d);
	free(in->done);
	free(in->inserted);
	free(in->removed);
	dk_init_daemons_free(in);
	dk_state_release(&in->state);
	free(in->state_path);
	free(in->status_path);
	free(in->lock_path);
	if (in->lock_fd >= 0)
		close(in->lock_fd);
	if (in->sfd >= 0)
		close(in->sfd);
	dk_modctx_free(in->m);
}

static int init_setup(struct dk_init *in, const struct dk_ctx *ctx,
		      const struct dk_config *cfg, struct dk_error **err)
{
	memset(in, 0, sizeof(*in));
	/* A copy: the caller's ctx stays as it was. */
	in->ctx = *ctx;
	if (cfg->kernel)
		in->ctx.kernel = cfg->kernel;
	in->ctx.host_root = cfg->host_root;
	in->cfg = cfg;
	in->lock_fd = -1;
	in->sfd = -1;
	in->t0 = dk_now_ms();
	in->state_path = dk_path_join(cfg->state_dir, "state.json");
	in->status_path = dk_path_join(cfg->state_dir, "status.json");
	in->lock_path = dk_path_join(cfg->state_dir, "lock");
	if (!in->state_path || !in->status_path || !in->lock_path)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

const char *dk_plan_verb_str(enum dk_plan_verb v)
{
	static const char *const names[] = {"unload",	"get",	   "check",
					    "sign",	"load",	   "skip",
					    "firmware", "restore", "mount"};

	return (size_t)v < ARRAY_SIZE(names) ? names[v] : "?";
}

void dk_plan_release(struct dk_plan *plan)
{
	for (size_t i = 0; i < plan->n_steps; i++) {
		free(plan->steps[i].module);
		free(plan->steps[i].detail);
	}
	free(plan->steps);
	free(plan->kernel);
	dk_problems_release(&plan->problems);
	memset(plan, 0, sizeof(*plan));
}

/* Logs one line of the plan and, with p, appends it. */
_printf_format_(4, 5) static int plan_add(struct dk_plan *p, enum dk_plan_verb verb,
					  const char *module, const char *fmt, ...)
{
	_cleanup_free_ char *detail = NULL;
	struct dk_plan_step *ns;
	va_list ap;

	va_start(ap, fmt);
	detail = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	dk_info("%s: %-8s %s: %s", PHASE(PLAN), dk_plan_verb_str(verb), module,
		detail ? detail : "");
	if (!p)
		return 0;
	ns = realloc(p->steps, (p->n_steps + 1) * sizeof(*ns));
	if (!ns)
		return -ENOMEM;
	p->steps = ns;
	ns[p->n_steps].verb = verb;
	ns[p->n_steps].module = strdup(module);
	ns[p->n_steps].detail = TAKE_PTR(detail);
	p->n_steps++;
	if (!ns[p->n_steps - 1].module || !ns[p->n_steps - 1].detail)
		return -ENOMEM;
	return 0;
}

/* Skips, unloads and checks, in the order they were decided. */
static int render_decisions(const struct dk_init *in, struct dk_plan *p)
{
	int r = 0;

	for (size_t i = 0; i < in->d.n_mods && r >= 0; i++) {
		const char *name = dk_init_file(in, i)->name;

		/* Not .same: a same build that uses a replaced module is reloaded. */
		if (!dk_plan_act_inserts(in->d.mods[i].act))
			r = plan_add(
				p, DK_PLAN_SKIP, name, "%s%s", in->d.mods[i].why,
				dk_state_find_module(&in->state, name)
					? " (loaded by a previous drvkit init: adopted)"
					: " (not loaded by drvkit: left alone on exit)");
	}
	for (size_t i = 0; i < in->d.n_unload && r >= 0; i++) {
		const struct dk_plan_unload *u = &in->d.unload[i];

		r = plan_add(p, DK_PLAN_UNLOAD, u->name, "%s",
			     u->ours   ? "another build of this module is loaded"
			     : u->comp ? "in-tree module replaced by this config"
				       : "uses a module being replaced");
	}
	for (size_t i = 0; i < in->d.n_mods && r >= 0; i++)
		if (in->checked[i])
			r = plan_add(p, DK_PLAN_CHECK, dk_init_file(in, i)->name, "%s",
				     in->checked[i]);
	return r;
}

/* The plan as `--dry-run` prints it and init logs it. */
/* Where each built or downloaded component comes from. */
static int render_get(const struct dk_init *in, struct dk_plan *p)
{
	int r = 0;

	for (size_t i = 0; i < in->n_got && r >= 0; i++) {
		const struct dk_got *g = &in->got[i];

		r = plan_add(p, DK_PLAN_GET, g->c->name, "%s%s%s%s",
			     g->from == DK_GOT_NONE ? "not available yet: " : "",
			     g->why ? g->why : "", g->flavor_why ? "; flavor " : "",
			     g->flavor_why ? g->flavor_why : "");
	}
	return r;
}

/* sign_problem: why signing cannot work (a dry run checks the key and certificate as a
 * start would), or NULL. */
static int render(const struct dk_init *in, struct dk_plan *p, const char *sign_problem)
{
	const struct dk_config *cfg = in->cfg;
	int r = render_get(in, p);

	if (r >= 0)
		r = render_decisions(in, p);

	for (size_t i = 0; i < in->d.n_mods && r >= 0; i++) {
		const struct dk_plan_mod *pm = &in->d.mods[i];
		const struct dk_modfile *f = dk_init_file(in, i);

		if (!dk_plan_act_inserts(pm->act))
			continue;
		if (cfg->signing)
			r = plan_add(p, DK_PLAN_SIGN, f->name, "with %s (%s)%s%s",
				     cfg->signing->cert, cfg->signing->hash,
				     sign_problem ? ": CANNOT SIGN: " : "",
				     sign_problem ? sign_problem : "");
		if (r >= 0)
			r = plan_add(p, DK_PLAN_LOAD, f->name,
				     "%s%s%s%s (component %s)%s", f->path,
				     pm->params ? " [" : "", pm->params ? pm->params : "",
				     pm->params ? "]" : "", pm->comp->name,
				     pm->refused ? ": REFUSED, see the problems" : "");
	}
	if (r >= 0 && cfg->driver_root)
		r = plan_add(p, DK_PLAN_MOUNT, cfg->driver_root,
			     "bind %s here (recursive, without the mounts below "
			     "%s/sys) for the container toolkit; detached on stop",
			     cfg->driver_root_source,
			     streq(cfg->driver_root_source, "/")
				     ? ""
				     : cfg->driver_root_source);
	if (r >= 0 && cfg->firmware_path)
		r = plan_add(p, DK_PLAN_FIRMWARE, cfg->firmware_path,
			     "firmware search path (kept if one is set already)");
	for (size_t i = in->d.n_unload; i-- > 0 && r >= 0;) {
		const struct dk_plan_unload *u = &in->d.unload[i];

		if (u->comp && u->comp->restore)
			r = plan_add(p, DK_PLAN_RESTORE, u->name,
				     "on exit (component %s)", u->comp->name);
	}
	return r;
}

/* A dry run loads the signing key and certificate as dk_init_sign() would, when
 * something is to be inserted: a missing or bad one fails the dry run as it fails a
 * start, with the same error. */
static int check_signing(const struct dk_init *in, struct dk_error **err)
{
	_cleanup_signer_ struct dk_signer *signer = NULL;
	bool inserts = false;

	for (size_t i = 0; i < in->d.n_mods; i++)
		inserts |= dk_plan_act_inserts(in->d.mods[i].act);
	if (!in->cfg->signing || !in->dry_run || !inserts)
		return 0;
	return dk_init_signer(in, &signer, err);
}

/* A signing key or certificate that cannot be loaded is one more problem. */
static void signing_problem(struct dk_init *in, int r, struct dk_error **err)
{
	dk_problems_add(&in->problems, -r, "signing-key", NULL, NULL,
			*err ? (*err)->hint : NULL, "%s",
			*err ? (*err)->msg : strerror(-r));
	dk_error_free(err);
}

/* Warnings a start goes on with: logged before anything is loaded. */
static void log_warnings(const struct dk_init *in)
{
	for (size_t i = 0; i < in->problems.n; i++) {
		const struct dk_problem *p = &in->problems.v[i];

		if (!p->errnum)
			dk_warn("%s%s%s", p->msg, p->hint ? "; " : "",
				p->hint ? p->hint : "");
	}
}

/* detect, get, plan, check: every problem at once (in->problems); a start is refused
 * with all of them before anything changed. */
static int plan(struct dk_init *in, struct dk_plan *p, struct dk_error **err)
{
	struct dk_plan_facts facts;
	int sr;
	size_t n;
	int r;

	r = dk_init_gather(in, err);
	if (r < 0)
		return r;
	if (p && !(p->kernel = strdup(in->m->kver)))
		return dk_error_set(err, ENOMEM, "out of memory");
	/* A dry run does not build: with a component's modules still to come, what
	 * can be said is where they will come from. */
	if (in->got_missing)
		return render_get(in, p) < 0 ? dk_error_set(err, ENOMEM, "out of memory")
					     : 0;
	dk_init_facts(in, &facts);
	r = dk_plan_decide_all(&facts, &in->d, &in->problems, err);
	if (r >= 0)
		r = dk_init_check(in, err);
	if (r >= 0)
		r = dk_init_trust(in, err);
	if (r < 0)
		return r;
	sr = check_signing(in, err);
	if (render(in, p, sr < 0 && *err ? (*err)->msg : NULL) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (sr < 0)
		signing_problem(in, sr, err);
	log_warnings(in);
	if (p)
		dk_problems_move(&p->problems, &in->problems);
	r = dk_problems_error(p ? &p->problems : &in->problems, err);
	if (r < 0)
		return r;
	n = in->d.n_mods;
	in->done = calloc(n ? n : 1, sizeof(bool));
	in->inserted = calloc(n ? n : 1, sizeof(bool));
	in->removed = calloc(in->d.n_unload ? in->d.n_unload : 1, sizeof(bool));
	in->source = calloc(n ? n : 1, sizeof(char *));
	if (!in->done || !in->inserted || !in->removed || !in->source)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

int dk_init_plan(struct dk_ctx *ctx, const struct dk_config *cfg, struct dk_plan *p,
		 struct dk_error **err)
{
	_cleanup_(init_release) struct dk_init in = {.lock_fd = -1, .sfd = -1};
	int r;

	memset(p, 0, sizeof(*p));
	r = init_setup(&in, ctx, cfg, err);
	in.dry_run = true;
	if (r >= 0)
		r = plan(&in, p, err);
	/* A plan that could not be made is not printed; one rendered and then failed
	 * (signing) is. */
	if (r < 0 && p->n_steps == 0 && p->problems.n == 0)
		dk_plan_release(p);
	return r;
}

/* Records a start-up failure where Kubernetes shows it, then returns it. */
static int startup_failed(struct dk_init *in, int r, struct dk_error **err)
{
	struct strbuf b;
	const char *hint = dk_error_hint_of(*err, -r, true);

	strbuf_init(&b);
	strbuf_printf(&b, "drvkit init: %s", *err ? (*err)->msg : strerror(-r));
	if (hint && !strstr(b.s ? b.s : "", hint))
		strbuf_printf(&b, "\nhint: %s", hint);
	strbuf_putc(&b, '\n');
	if (!b.oom)
		dk_init_termination_log(in, b.s);
	if (in->lock_fd >= 0)
		dk_init_status(in, "failed", *err ? (*err)->msg : strerror(-r));
	strbuf_release(&b);
	return r;
}

/* A start-up failure once modules may have changed: roll back, then record. */
static int changed_failed(struct dk_init *in, int r, struct dk_error **err)
{
	if (!*err)
		dk_error_set(err, -r, "%s", strerror(-r));
	dk_init_driver_root_detach(in);
	dk_init_rollback(in, err);
	return startup_failed(in, r, err);
}

/* lock; detect, get, plan, check; sign. Nothing on the node changed yet. */
static int start(struct dk_init *in, struct dk_error **err)
{
	int64_t t = dk_now_ms();
	int r;

	r = dk_init_lock(in, err);
	if (r < 0)
		return r;
	/* A ready file left by a killed predecessor must not say ready now. */
	if (unlink(in->cfg->ready_file) == 0)
		dk_info("removed stale %s", in->cfg->ready_file);
	dk_init_driver_root_clean(in);
	dk_info("%s: %s held (%lld ms)", PHASE(LOCK), in->lock_path,
		(long long)(dk_now_ms() - t));
	t = dk_now_ms();
	r = plan(in, NULL, err);
	if (r < 0)
		return r;
	dk_info("%s: %zu modules, %zu to unload first (%s to %s: %lld ms)", PHASE(PLAN),
		in->d.n_mods, in->d.n_unload, PHASE(DETECT), PHASE(CHECK),
		(long long)(dk_now_ms() - t));
	dk_init_status(in, "starting", NULL);
	return dk_init_sign(in, err);
}

/* replace, load, firmware, state, ready; 1 when a signal asked to stop. */
static int change(struct dk_init *in, struct dk_error **err)
{
	int64_t t = dk_now_ms();
	int r;

	r = dk_init_replace(in, err);
	if (r < 0)
		return r;
	if (in->d.n_unload)
		dk_info("%s: %zu modules unloaded (%lld ms)", PHASE(REPLACE),
			in->d.n_unload, (long long)(dk_now_ms() - t));
	if (in->term || dk_init_drain_signals(in))
		return 1;
	t = dk_now_ms();
	r = dk_init_load(in, err);
	if (r < 0 || in->term)
		return r < 0 ? r : 1;
	r = dk_init_driver_root(in, err);
	if (r >= 0)
		r = dk_init_share_headers(in, err);
	if (r < 0)
		return r;
	dk_init_firmware(in);
	dk_info("%s: %zu modules (%lld ms)", PHASE(LOAD), in->d.n_mods,
		(long long)(dk_now_ms() - t));
	t = dk_now_ms();
	/* replace and load saved the state after each change; write it here when
	 * something is not on disk yet (adopted modules only). */
	r = in->state_saved ? 0 : dk_init_save_state(in, err);
	if (r < 0)
		return r;
	/* With daemons, the ready file waits for them (dk_init_supervise). */
	if (in->cfg->n_daemons) {
		if (dk_init_daemons_start(in) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		return 0;
	}
	r = dk_init_ready(in, err);
	if (r < 0)
		return r;
	dk_info("%s: %s written (%lld ms); ready %lld ms after start", PHASE(READY),
		in->cfg->ready_file, (long long)(dk_now_ms() - t),
		(long long)(dk_now_ms() - in->t0));
	return 0;
}

/* The driver root goes first: no new GPU container gets the driver's files while the
 * modules unload (the toolkit's hook fails instead of handing out a driver that is
 * going away), and it goes whether or not the unload then succeeds, since a bind
 * left on the host pins this container's root filesystem after it exits. */
static int stop(struct dk_init *in)
{
	dk_init_driver_root_detach(in);
	return dk_init_stop(in);
}

int dk_init_run(struct dk_ctx *ctx, const struct dk_config *cfg, struct dk_error **err)
{
	_cleanup_(init_release) struct dk_init in = {.lock_fd = -1, .sfd = -1};
	int r;

	r = init_setup(&in, ctx, cfg, err);
	if (r < 0)
		return r;
	r = dk_init_signals(&in, err);
	if (r >= 0)
		r = start(&in, err);
	if (r == -ECANCELED && dk_init_drain_signals(&in)) {
		/* SIGTERM stopped a build: nothing was loaded, a clean stop. */
		dk_info("%s: stopped by a signal before anything was loaded: %s",
			PHASE(GET), *err ? (*err)->msg : "");
		dk_error_free(err);
		return stop(&in);
	}
	if (r < 0)
		return startup_failed(&in, r, err);
	if (dk_init_drain_signals(&in))
		return stop(&in);
	r = change(&in, err);
	if (r < 0)
		return changed_failed(&in, r, err);
	if (r > 0)
		return stop(&in);

	/* wait: keep little memory while blocking. */
	dk_modctx_drop_caches(in.m);
	for (size_t i = 0; i < in.n_files; i++) {
		free(in.files[i]->params);
		in.files[i]->params = NULL;
		dk_modfile_drop_image(in.files[i]);
	}
	dk_init_trim_memory();
	if (in.dm)
		dk_init_supervise(&in);
	else
		dk_init_wait(&in);
	/* Daemons stop first: they may hold the modules. */
	dk_init_daemons_stop(&in);
	return stop(&in);
}
