/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/ctx.h"
#include "base/error.h"
#include "kmod/loader.h"
#include "config/config.h"
#include "init/problems.h"
#include "init/state.h"

/* One line of the plan `drvkit init --dry-run` prints. */
enum dk_plan_verb {
	DK_PLAN_UNLOAD,	  /* unload a loaded module (replaced, or another version) */
	DK_PLAN_GET,	  /* where a component's modules come from: cache,
			   * precompiled package or build, and why */
	DK_PLAN_CHECK,	  /* check against the running kernel */
	DK_PLAN_SIGN,	  /* sign with the configured key */
	DK_PLAN_LOAD,	  /* insert */
	DK_PLAN_SKIP,	  /* already loaded and identical */
	DK_PLAN_FIRMWARE, /* set the firmware search path */
	DK_PLAN_RESTORE,  /* on exit: reload a replaced in-tree module */
	DK_PLAN_MOUNT,	  /* the driver root (driver_root:) */
};

struct dk_plan_step {
	enum dk_plan_verb verb;
	char *module; /* or the path for FIRMWARE and MOUNT */
	char *detail;
};

struct dk_plan {
	char *kernel;
	struct dk_plan_step *steps;
	size_t n_steps;
	/* Every problem found, warnings too: dk_init_plan() fails with all that refuse
	 * a start (dk_problems_error), the exit code a start would have. */
	struct dk_problems problems;
};

const char *dk_plan_verb_str(enum dk_plan_verb v);
void dk_plan_release(struct dk_plan *plan);

/* The detect, get, plan and check phases without changing anything: what init
 * would do and why, and every problem that would refuse a start (plan->problems). It also
 * loads the signing key and certificate, as a start would. On a failure after the plan
 * was made (signing) *plan holds it, else p->kernel is NULL: the caller prints a plan
 * with a kernel, then releases it in both cases. */
int dk_init_plan(struct dk_ctx *ctx, const struct dk_config *cfg, struct dk_plan *plan,
		 struct dk_error **err) _must_check_;

/* The whole lifecycle (phases: init/phase.h): lock, plan, replace, load, state +
 * ready, block on signals, unload on SIGTERM/SIGINT. Returns an exit code (0 after a
 * clean unload, 1 when the unload failed: the reason is in termination_log), or -errno
 * with *err set when start-up failed (also written to termination_log). */
int dk_init_run(struct dk_ctx *ctx, const struct dk_config *cfg,
		struct dk_error **err) _must_check_;

/* For `drvkit status`: compares a module of the state file with the kernel. */
enum dk_status_check {
	DK_STATUS_LOADED,
	DK_STATUS_MISSING,
	DK_STATUS_DIFFERENT,
};
enum dk_status_check dk_status_check_module(const struct dk_modctx *m,
					    const struct dk_state_module *sm,
					    char **detail);
const char *dk_status_check_str(enum dk_status_check c);

/* The daemons of status.json, for `drvkit status`. */
struct dk_daemon_report {
	char *name, *state, *last_exit, *why;
	long pid, restarts, restart_in_ms;
	long long since; /* wall clock, seconds */
	bool required;
};
struct dk_status_daemons {
	char *phase;
	char *waiting_for; /* why there is no ready file, NULL when there is */
	struct dk_daemon_report *d;
	size_t n;
};
/* Reads the daemons of a status.json; a missing file gives none and returns 0. */
int dk_status_daemons_read(const char *path, struct dk_status_daemons *out,
			   struct dk_error **err) _must_check_;
void dk_status_daemons_release(struct dk_status_daemons *s);
