/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"
#include "kmod/loader.h"
#include "config/config.h"
#include "init/problems.h"
#include "host/storage.h"
#include "init/state.h"

/* What init decides for each of its modules. */
enum dk_plan_act {
	DK_PLAN_ACT_LOAD,   /* not loaded: insert */
	DK_PLAN_ACT_RELOAD, /* another build is loaded (or it uses a replaced module):
			     * unload it, then insert */
	DK_PLAN_ACT_ADOPT,  /* loaded, identical, loaded by a previous drvkit init */
	DK_PLAN_ACT_SKIP,   /* loaded, identical, loaded by someone else: left alone */
};

/* A loaded module as sysfs showed it when init started. */
struct dk_plan_loaded {
	const char *name;
	struct dk_modstate st;
};

/* Everything the planner looks at, read beforehand (see dk_init_gather): the
 * planner reads no file and changes none of it. */
struct dk_plan_facts {
	const char *kver;
	const struct dk_config *cfg;
	/* One per module of cfg, component by component, in config order. */
	struct dk_modfile *const *files;
	size_t n_files;
	/* Module states: our modules, the replaced ones and, recursively, their
	 * holders. A name not listed is not loaded. */
	const struct dk_plan_loaded *loaded;
	size_t n_loaded;
	/* Dependencies outside our set that the host can provide (loaded, built
	 * in, or in its module tree). */
	const char *const *available;
	size_t n_available;
	bool can_unload;
	const char *cannot_unload_why; /* how we know, when !can_unload */
	/* The predecessor's state file, for this kernel; NULL: none. */
	const struct dk_state *prev;
	/* Mounted filesystems and the modules serving them; NULL: not read (no
	 * replaces, or mountinfo unreadable). */
	const struct dk_storage *storage;
};

struct dk_plan_mod {
	size_t file; /* index into facts->files */
	const struct dk_config_component *comp;
	const struct dk_config_module *cm;
	enum dk_plan_act act;
	bool same;    /* found loaded and identical (then maybe RELOAD: it uses a
		       * replaced module) */
	char *why;    /* how the file compares with what is loaded */
	char *params; /* "k=v ..." to insert with; NULL: none or not inserted */
	bool refused; /* a problem refuses it (built in, another build that may not
		       * or cannot go): planned as a load, for the check */
};

/* A module to unload before loading. */
struct dk_plan_unload {
	char *name;
	const struct dk_config_component *comp; /* the component replacing it; NULL:
						 * another build, or a user */
	bool ours;				/* another build of one of our modules */
	bool was_ours; /* a build the predecessor loaded (in prev) */
	bool restore;  /* reload it on a clean stop (not for was_ours) */
};

struct dk_plan_decisions {
	struct dk_plan_mod *mods; /* load order */
	size_t n_mods;
	struct dk_plan_unload *unload; /* removal order: users first */
	size_t n_unload;
};

/* The planner, every problem at once: per module load / skip / adopt / reload and
 * what to unload first; what refuses a start goes to *problems (EEXIST: built in,
 * or another build and nothing allows its unload or the kernel cannot unload;
 * EBUSY: a protected module holds one to unload; EOPNOTSUPP: the kernel cannot
 * unload one that must go), with a warning (errnum 0) when nothing could be
 * unloaded on stop. Returns 0, or -errno with *err when no plan can be made
 * (ELOOP/ENOENT: depends= cycle or missing dependency, ENOMEM). A pure function
 * of facts: out and problems are filled, nothing else changes. */
int dk_plan_decide_all(const struct dk_plan_facts *facts, struct dk_plan_decisions *out,
		       struct dk_problems *problems, struct dk_error **err) _must_check_;
/* The planner: per module load / skip / adopt / reload, what to unload first,
 * or a refusal (EEXIST: built in, or another build and nothing allows its
 * unload; EBUSY: a protected module holds one to unload, or a mounted filesystem
 * needs one (init/storage.h); EOPNOTSUPP: the kernel
 * cannot unload; ELOOP/ENOENT: depends= cycle or missing dependency). A pure
 * function of facts: out is filled, nothing else changes. */
int dk_plan_decide(const struct dk_plan_facts *facts, struct dk_plan_decisions *out,
		   struct dk_error **err) _must_check_;
void dk_plan_decisions_release(struct dk_plan_decisions *d);

/* Whether a plan module is inserted by this run. */
static inline bool dk_plan_act_inserts(enum dk_plan_act a)
{
	return a == DK_PLAN_ACT_LOAD || a == DK_PLAN_ACT_RELOAD;
}

/* A protected module's description ("GPUDirect RDMA", "listed in
 * protected_modules"), NULL when name is not protected. */
const char *dk_plan_protected(const struct dk_config *cfg, const char *name);
