/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Inside the init subsystem: one run's data and the phases that act on it. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/ctx.h"
#include "base/error.h"
#include "kmod/loader.h"
#include "build/build.h"
#include "config/config.h"
#include "init/daemons.h"
#include "init/phase.h"
#include "init/plan.h"
#include "init/problems.h"
#include "init/state.h"

#define PHASE(p) dk_phase_name(DK_PHASE_##p)

struct dk_init {
	struct dk_ctx ctx; /* the caller's, with kernel and host_root of the config */
	const struct dk_config *cfg;
	struct dk_modctx *m;
	bool dry_run;
	/* facts (dk_init_gather) */
	struct dk_got *got; /* components from cache, precompiled or build */
	size_t n_got;
	bool got_missing;	   /* a dry run: some component is not available yet */
	struct dk_modfile **files; /* config order */
	size_t n_files;
	struct dk_plan_loaded *loaded;
	size_t n_loaded;
	char **available;
	size_t n_available;
	bool can_unload;
	char *cannot_unload_why;
	bool enforcing;	   /* the kernel refuses unsigned or untrusted modules */
	char *enforcement; /* "sig_enforce=Y, lockdown ..." for messages */
	int family;	   /* the host's enum dk_distro_family, for package names */
	/* what refuses a start (or warns), every one of them (init/problems.h) */
	struct dk_problems problems;
	struct dk_storage storage; /* read when a component replaces modules */
	bool storage_read;
	/* the plan, the check lines (per plan module, NULL when not inserted) */
	struct dk_plan_decisions d;
	char **checked;
	/* what this run did: per plan module, per unload */
	bool *done;	/* inserted (or skipped) in this run */
	bool *inserted; /* inserted by this run: a failed start unloads it */
	bool *removed;	/* unloaded by this run: a failed start puts it back */
	char **source;	/* per plan module: the file before signing, NULL unsigned */
	struct dk_state state; /* the predecessor's, then ours */
	char *state_path, *status_path, *lock_path;
	int lock_fd, sfd;
	bool term, skip_waits;
	bool state_saved; /* state.json holds state (every change is saved at once) */
	struct dk_daemons *dm; /* daemons.c; NULL until they start */
	int64_t t0;
};

static inline struct dk_modfile *dk_init_file(const struct dk_init *in, size_t i)
{
	return in->files[in->d.mods[i].file];
}

/* gather.c: detect, get, check */
int dk_init_gather(struct dk_init *in, struct dk_error **err) _must_check_;
void dk_init_facts(const struct dk_init *in, struct dk_plan_facts *f);
int dk_init_check(struct dk_init *in, struct dk_error **err) _must_check_;
/* The headers package of the running kernel on this host's distribution. */
char *dk_init_headers_pkg(const struct dk_init *in);

/* trust.c: with an enforcing kernel, whether it trusts the signing certificate or
 * the modules' own signatures (/proc/keys, the MOK list); problems to in->problems. */
int dk_init_trust(struct dk_init *in, struct dk_error **err) _must_check_;

/* nodefiles.c */
int dk_init_lock(struct dk_init *in, struct dk_error **err) _must_check_;
void dk_init_termination_log(const struct dk_init *in, const char *msg);
void dk_init_status(struct dk_init *in, const char *phase, const char *error);
int dk_init_save_state(struct dk_init *in, struct dk_error **err) _must_check_;
int dk_init_ready(struct dk_init *in, struct dk_error **err) _must_check_;

/* supervise.c */
int dk_init_signals(struct dk_init *in, struct dk_error **err) _must_check_;
bool dk_init_drain_signals(struct dk_init *in);
bool dk_init_shutdown_wait(void *userdata, int ms);
void dk_init_trim_memory(void);
/* Whether name is one of the config's modules. */
bool dk_init_is_ours(const struct dk_init *in, const char *name);
/* Unloads end grace_period after start; waits end early on a second SIGTERM. */
struct dk_remove_opts dk_init_remove_opts(struct dk_init *in, int64_t start);
/* ro with the device globs of the component of module name (config devices:). */
struct dk_remove_opts dk_init_remove_opts_of(const struct dk_init *in,
					     const struct dk_remove_opts *ro,
					     const char *name);
void dk_init_wait(struct dk_init *in);

/* apply.c */
struct dk_signer;
int dk_init_signer(const struct dk_init *in, struct dk_signer **out,
		   struct dk_error **err) _must_check_;
int dk_init_sign(struct dk_init *in, struct dk_error **err) _must_check_;
int dk_init_replace(struct dk_init *in, struct dk_error **err) _must_check_;
int dk_init_load(struct dk_init *in, struct dk_error **err) _must_check_;
void dk_init_firmware(struct dk_init *in);
int dk_init_unload_probed(struct dk_init *in, const char *name,
			  const struct dk_remove_opts *ro,
			  struct dk_error **err) _must_check_;
int dk_init_stop(struct dk_init *in);
/* rollback.c */
void dk_init_rollback(struct dk_init *in, struct dk_error **err);
