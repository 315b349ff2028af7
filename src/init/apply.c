/* SPDX-License-Identifier: Apache-2.0 */
/* Carrying out a plan: sign, replace, load, firmware; and stop on SIGTERM. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "kmod/sign.h"
#include "init/init-run.h"

struct dk_remove_opts dk_init_remove_opts(struct dk_init *in, int64_t start)
{
	return (struct dk_remove_opts){
		.deadline_ms = start + (int64_t)in->cfg->grace_period * 1000,
		.wait = dk_init_shutdown_wait,
		.userdata = in,
	};
}

struct dk_remove_opts dk_init_remove_opts_of(const struct dk_init *in,
					     const struct dk_remove_opts *ro,
					     const char *name)
{
	struct dk_remove_opts o = *ro;

	for (size_t i = 0; i < in->cfg->n_components; i++) {
		const struct dk_config_component *c = &in->cfg->components[i];

		for (size_t j = 0; j < c->n_modules; j++)
			if (streq(c->modules[j].name, name)) {
				o.devices = (const char *const *)c->devices;
				o.n_devices = c->n_devices;
				return o;
			}
	}
	return o;
}

/* The signer of the config's signing: (key, certificate, hash, passphrase): what a
 * start signs with, and what a dry run checks it can load. */
int dk_init_signer(const struct dk_init *in, struct dk_signer **out,
		   struct dk_error **err)
{
	const struct dk_config_signing *cs = in->cfg->signing;
	struct dk_signer_opts so = {.key_path = cs->key,
				    .cert_path = cs->cert,
				    .hash = cs->hash,
				    .passphrase_file = cs->passphrase_file};

	if (dk_signer_new(&so, out, err) < 0)
		return dk_error_wrap(err, "%s", PHASE(SIGN));
	return 0;
}

/* Signs what we load when a key is configured. The source directory may be
 * read-only (an image layer): signed copies go to <state_dir>/signed/. */
int dk_init_sign(struct dk_init *in, struct dk_error **err)
{
	const struct dk_config_signing *cs = in->cfg->signing;
	_cleanup_signer_ struct dk_signer *signer = NULL;
	_cleanup_free_ char *dir = NULL;
	int64_t t = dk_now_ms();
	size_t n = 0;
	int r;

	if (!cs)
		return 0;
	dir = dk_path_join(in->cfg->state_dir, "signed");
	if (!dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < in->d.n_mods; i++) {
		struct dk_modfile *f = dk_init_file(in, i);
		_cleanup_free_ char *base = NULL, *out = NULL;

		if (!dk_plan_act_inserts(in->d.mods[i].act))
			continue;
		if (!signer) {
			r = dk_init_signer(in, &signer, err);
			if (r < 0)
				return r;
			r = dk_mkdir_p(dir, 0700);
			if (r < 0)
				return dk_error_set(err, -r, "%s: create %s: %s",
						    PHASE(SIGN), dir, strerror(-r));
			/* we hold the lock: a temporary here is a killed signer's */
			r = dk_remove_stale_temps(dir, NULL);
			if (r > 0)
				dk_info("%s: removed %d temporary files in %s left by an "
					"instance killed while it signed",
					PHASE(SIGN), r, dir);
		}
		base = dk_strdup_printf("%s.ko", f->name);
		out = base ? dk_path_join(dir, base) : NULL;
		if (!out)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = dk_sign_file(signer, f->path, out, DK_SIGN_RESIGN, err);
		if (r < 0)
			return dk_error_wrap(err, "%s: component %s: %s", PHASE(SIGN),
					     in->d.mods[i].comp->name, f->name);
		free(in->source[i]);
		in->source[i] = f->path;
		f->path = TAKE_PTR(out);
		n++;
	}
	if (n)
		dk_info("%s: %zu modules signed with %s (%s) into %s (%lld ms)",
			PHASE(SIGN), n, cs->cert, cs->hash, dir,
			(long long)(dk_now_ms() - t));
	return 0;
}

/* Unloads what the plan says must go, remembering in the state file what we
 * unloaded and did not load (saved after each). */
int dk_init_replace(struct dk_init *in, struct dk_error **err)
{
	struct dk_remove_opts ro = dk_init_remove_opts(in, dk_now_ms());
	int r;

	for (size_t i = 0; i < in->d.n_unload; i++) {
		const struct dk_plan_unload *u = &in->d.unload[i];

		r = dk_module_remove(in->m, u->name, &ro, err);
		if (r < 0 && u->comp)
			return dk_error_wrap(err, "%s: component %s", PHASE(REPLACE),
					     u->comp->name);
		if (r < 0)
			return dk_error_wrap(err, "%s: %s", PHASE(REPLACE),
					     u->ours ? "another build of one of ours"
						     : "a user of a replaced module");
		in->removed[i] = r == 0;
		dk_state_remove_module(&in->state, u->name);
		if (!u->was_ours &&
		    dk_state_add_replaced(&in->state, u->name,
					  u->comp ? u->comp->name : NULL, u->restore) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = dk_init_save_state(in, err);
		if (r < 0)
			return dk_error_wrap(err, "%s", PHASE(REPLACE));
		if (in->skip_waits)
			in->term = true;
	}
	return 0;
}

static bool is_loaded(const struct dk_modctx *m, const char *name)
{
	struct dk_modstate st;
	bool loaded;

	if (dk_module_state(m, name, &st) < 0)
		return false;
	loaded = st.state != DK_LOADED_NO && st.state != DK_LOADED_BUILTIN;
	dk_modstate_release(&st);
	return loaded;
}

/* Inserts one of ours and remembers the in-tree dependencies that the insert
 * loaded (even when the insert itself then failed), so a failed start can unload
 * them too. */
static int insert_tracked(struct dk_init *in, const struct dk_modfile *f,
			  struct dk_error **err)
{
	_cleanup_free_ bool *absent =
		calloc(f->n_depends ? f->n_depends : 1, sizeof(bool));
	int r;

	if (!absent)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < f->n_depends; i++)
		absent[i] = !dk_init_is_ours(in, f->depends[i]) &&
			    !is_loaded(in->m, f->depends[i]);
	r = dk_module_insert(in->m, f, err);
	for (size_t i = 0; i < f->n_depends; i++)
		if (absent[i] && is_loaded(in->m, f->depends[i]) &&
		    dk_state_add_probed(&in->state, f->depends[i]) < 0)
			dk_warn("%s: out of memory: in-tree %s (loaded for %s) is not "
				"tracked and stays loaded on stop",
				PHASE(LOAD), f->depends[i], f->name);
	return r;
}

/* Inserts in load order, saving the state after each insert (what the kernel now
 * holds must be on disk before the next step); adopted modules join the state in
 * memory, already on disk from the predecessor, and are written with the next save
 * (at the latest before ready). Stops early on SIGTERM. */
int dk_init_load(struct dk_init *in, struct dk_error **err)
{
	for (size_t i = 0; i < in->d.n_mods && !in->term; i++) {
		struct dk_plan_mod *pm = &in->d.mods[i];
		struct dk_modfile *f = dk_init_file(in, i);
		int r;

		if (pm->act == DK_PLAN_ACT_SKIP) {
			in->done[i] = true;
			continue;
		}
		if (dk_state_add_module(&in->state, f->name, pm->comp->name, f->path,
					in->source[i], f->srcversion, f->version) < 0 ||
		    dk_state_add_devices(&in->state, f->name,
					 (const char *const *)pm->comp->devices,
					 pm->comp->n_devices) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (dk_plan_act_inserts(pm->act)) {
			free(f->params);
			f->params = TAKE_PTR(pm->params);
			/* On disk before the insert: killed right after it, the next
			 * instance must know the module is ours (see state.h). */
			dk_state_set_loading(&in->state, f->name, true);
			r = dk_init_save_state(in, err);
			if (r < 0)
				return dk_error_wrap(err, "%s", PHASE(STATE));
			r = insert_tracked(in, f, err);
			if (r < 0) {
				dk_state_remove_module(&in->state, f->name);
				in->state_saved = false;
				return dk_error_wrap(err, "%s: component %s", PHASE(LOAD),
						     pm->comp->name);
			}
			in->inserted[i] = true;
			dk_state_set_loading(&in->state, f->name, false);
		}
		in->done[i] = true;
		if (!in->inserted[i]) {
			in->state_saved = false;
		} else if ((r = dk_init_save_state(in, err)) < 0) {
			return dk_error_wrap(err, "%s", PHASE(STATE));
		}
		if (dk_init_drain_signals(in))
			in->term = true;
	}
	return 0;
}

void dk_init_firmware(struct dk_init *in)
{
	_cleanup_free_ char *p =
		dk_path_join(in->m->sysfs, "module/firmware_class/parameters/path");
	_cleanup_free_ char *cur = NULL;
	_cleanup_close_ int fd = -1;
	const char *want = in->cfg->firmware_path;
	int r;

	if (!p || !want)
		return;
	r = dk_read_line(p, &cur);
	if (r < 0) {
		dk_warn("%s: cannot read %s: %s; firmware search path not set to %s: "
			"mount the host's /sys, or boot with firmware_class.path=%s",
			PHASE(FIRMWARE), p, strerror(-r), want, want);
		return;
	}
	if (*cur) {
		if (!streq(cur, want))
			dk_warn("%s: the firmware search path is already '%s'; keeping "
				"it "
				"(wanted '%s')",
				PHASE(FIRMWARE), cur, want);
		return;
	}
	fd = open(p, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, want, strlen(want)) < 0) {
		dk_warn("%s: write %s: %s; firmware search path not set to %s: mount "
			"/sys read-write, or boot with firmware_class.path=%s",
			PHASE(FIRMWARE), p, strerror(errno), want, want);
		return;
	}
	dk_info("%s: search path set to %s", PHASE(FIRMWARE), want);
}

static void save_or_warn(struct dk_init *in)
{
	_cleanup_error_ struct dk_error *err = NULL;

	if (dk_init_save_state(in, &err) < 0)
		dk_warn("%s", err->msg);
}

/* Our modules, in reverse load order. */
static int unload_ours(struct dk_init *in, const struct dk_remove_opts *ro,
		       struct strbuf *failure)
{
	_cleanup_error_ struct dk_error *err = NULL;
	int r;

	while (in->state.n_modules > 0) {
		const char *name = in->state.modules[in->state.n_modules - 1].name;
		struct dk_remove_opts o = dk_init_remove_opts_of(in, ro, name);

		r = dk_module_remove(in->m, name, &o, &err);
		if (r < 0) {
			strbuf_printf(failure, "%s: %s", PHASE(STOP), err->msg);
			if (err->errnum != EBUSY && err->hint)
				strbuf_printf(failure, " (%s)", err->hint);
			return -err->errnum;
		}
		if (r == 1)
			dk_info("%s: %s was not loaded any more", PHASE(STOP), name);
		dk_state_remove_module(&in->state, name);
		save_or_warn(in);
	}
	return 0;
}

/* Replaced in-tree modules, providers first. */
static int restore_replaced(struct dk_init *in, const struct dk_remove_opts *ro,
			    struct strbuf *failure)
{
	_cleanup_error_ struct dk_error *err = NULL;
	int r;

	while (in->state.n_replaced > 0) {
		const struct dk_state_replaced *rp =
			&in->state.replaced[in->state.n_replaced - 1];
		_cleanup_free_ char *name = strdup(rp->name);

		if (!name)
			return -ENOMEM;
		if (rp->restore) {
			if (dk_now_ms() >= ro->deadline_ms) {
				strbuf_printf(failure,
					      "%s: the grace period ended before in-tree "
					      "%s could be reloaded: load it by hand "
					      "(modprobe %s) and raise grace_period",
					      PHASE(RESTORE), name, name);
				return -ETIMEDOUT;
			}
			r = dk_module_probe(in->m, name, &err);
			if (r < 0) {
				strbuf_printf(failure, "%s: %s", PHASE(RESTORE),
					      err->msg);
				return -err->errnum;
			}
		}
		dk_state_remove_replaced(&in->state, name);
		save_or_warn(in);
	}
	return 0;
}

/* Unloads name, an in-tree dependency our inserts loaded (state.probed), unless
 * something uses it (the restored stack may): 0 unloaded (or already gone) and
 * dropped from the state, 1 in use (it stays), -errno with *err. */
int dk_init_unload_probed(struct dk_init *in, const char *name,
			  const struct dk_remove_opts *ro, struct dk_error **err)
{
	struct dk_modstate st;
	bool unused;
	int r;

	if (dk_module_state(in->m, name, &st) < 0) {
		dk_state_remove_probed(&in->state, name);
		return 0;
	}
	unused = st.state == DK_LOADED_LIVE && st.refcnt == 0 && st.n_holders == 0;
	dk_modstate_release(&st);
	if (!unused)
		return 1;
	r = dk_module_remove(in->m, name, ro, err);
	if (r < 0)
		return r;
	dk_state_remove_probed(&in->state, name);
	return 0;
}

/* The in-tree dependencies our inserts loaded (tls for OFED's mlx5_core), this
 * run's or a predecessor's: unloaded after the restore when nothing uses them any
 * more, so the node is left with the modules it had. */
static void unload_probed(struct dk_init *in, const struct dk_remove_opts *ro)
{
	for (size_t i = in->state.n_probed; i-- > 0;) {
		_cleanup_free_ char *name = strdup(in->state.probed[i]);
		_cleanup_error_ struct dk_error *e = NULL;
		int r;

		if (!name)
			return;
		r = dk_init_unload_probed(in, name, ro, &e);
		if (r > 0)
			dk_info("%s: in-tree %s (loaded for ours) stays: in use",
				PHASE(STOP), name);
		else if (r < 0)
			dk_warn("%s: in-tree %s (loaded for ours) stays: %s", PHASE(STOP),
				name, e->msg);
		else
			dk_info("%s: unloaded in-tree %s (loaded for ours)", PHASE(STOP),
				name);
	}
}

static int shutdown_modules(struct dk_init *in, struct strbuf *failure)
{
	int64_t start = dk_now_ms();
	struct dk_remove_opts ro = dk_init_remove_opts(in, start);
	int r;

	if (unlink(in->cfg->ready_file) == 0)
		dk_info("%s: removed %s", PHASE(STOP), in->cfg->ready_file);
	dk_init_status(in, "stopping", NULL);
	if (!in->m)
		return 0;
	r = unload_ours(in, &ro, failure);
	if (r >= 0)
		r = restore_replaced(in, &ro, failure);
	if (r < 0)
		return r;
	unload_probed(in, &ro);
	if (unlink(in->state_path) < 0 && errno != ENOENT)
		dk_warn("%s: remove the state file %s: %s: the next drvkit init finds "
			"nothing of it loaded and ignores it",
			PHASE(STOP), in->state_path, strerror(errno));
	dk_info("%s: everything unloaded in %lld ms", PHASE(STOP),
		(long long)(dk_now_ms() - start));
	return 0;
}

/* On SIGTERM/SIGINT: returns the exit code. */
int dk_init_stop(struct dk_init *in)
{
	struct strbuf failure;
	int r;

	strbuf_init(&failure);
	r = shutdown_modules(in, &failure);
	if (r < 0) {
		const char *msg = failure.len ? failure.s : strerror(-r);

		dk_err("%s", msg);
		dk_init_termination_log(in, msg);
		dk_init_status(in, "failed", msg);
		strbuf_release(&failure);
		return DK_EXIT_FAILURE;
	}
	dk_init_status(in, "stopped", NULL);
	strbuf_release(&failure);
	return DK_EXIT_OK;
}
