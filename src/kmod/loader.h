/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/clock.h" /* dk_now_ms() for deadline_ms */
#include "base/ctx.h"
#include "base/error.h"
#include "host/modules.h" /* struct dk_modstate */
#include "kmod/modfile.h"
#include "kmod/order.h"

struct kmod_ctx;

/* The kernel side of modules: insert, remove, state, order and wait, on libkmod.
 * The files themselves are struct dk_modfile (kmod/modfile.h). */

/* libkmod on the host module tree plus the sysfs root we read module state from.
 * Tests point host_root / sysfs at fixture trees. */
struct dk_modctx {
	struct kmod_ctx *kmod;
	char *kver;	 /* kernel release */
	char *host_root; /* "/" or the mounted host */
	char *moddir;	 /* <host_root>/lib/modules/<kver> */
	char *sysfs;	 /* ctx->sysfs or <host_root>/sys */
	char *procfs;	 /* ctx->procfs or <host_root>/proc: who has device nodes open */
	char *kmsg;	 /* the kernel log quoted when an insert fails (host/kmsg.h):
			    /dev/kmsg (the container's /dev: it is not namespaced),
			    a file in tests, NULL: none */
};

/* ctx->kernel, or uname -r. */
int dk_kernel_release(const struct dk_ctx *ctx, char **out) _must_check_;
int dk_modctx_new(const struct dk_ctx *ctx, struct dk_modctx **out,
		  struct dk_error **err) _must_check_;
void dk_modctx_free(struct dk_modctx *m);
/* Frees libkmod's index caches (keeps a blocking init small). */
void dk_modctx_drop_caches(struct dk_modctx *m);
DK_DEFINE_CLEANUP(struct dk_modctx *, dk_modctx_free)
#define _cleanup_modctx_ __attribute__((cleanup(dk_dk_modctx_freep)))

/* <sysfs>/module/<name> (host/modules.h), under m's sysfs. */
int dk_module_state(const struct dk_modctx *m, const char *name,
		    struct dk_modstate *st) _must_check_;

enum dk_match {
	DK_MATCH_ABSENT,    /* not loaded */
	DK_MATCH_SAME,	    /* loaded with the same srcversion (or version) */
	DK_MATCH_DIFFERENT, /* another build of it is loaded */
	DK_MATCH_BUILTIN,   /* built into the kernel */
};

/* Compares a file with a module state read before (NULL: not loaded): srcversion,
 * else version; *why (may be NULL) says how. Pure: the planner calls it on its
 * snapshot. */
enum dk_match dk_modstate_match(const struct dk_modstate *st, const struct dk_modfile *f,
				char **why);
/* dk_modstate_match() of what sysfs shows now. */
enum dk_match dk_module_match(const struct dk_modctx *m, const struct dk_modfile *f,
			      char **why);

/* Whether name is loaded, built in, or known to the host module tree. */
bool dk_module_available(struct dk_modctx *m, const char *name);

/* Orders files by depends= (dk_order_resolve); external says whether a
 * dependency outside the set is available. Pure: the planner calls it. */
int dk_modfiles_order(struct dk_modfile *const *files, size_t n,
		      dk_order_external_fn external, void *userdata, size_t *order,
		      struct dk_error **err) _must_check_;
/* Orders files by depends= (see dk_order_resolve); dependencies outside the set
 * must be available on the host. */
int dk_module_order(struct dk_modctx *m, struct dk_modfile *const *files, size_t n,
		    size_t *order, struct dk_error **err) _must_check_;

/* Loads an in-tree module and its dependencies by name from the host tree
 * (nothing to do when loaded or built in). */
int dk_module_probe(struct dk_modctx *m, const char *name,
		    struct dk_error **err) _must_check_;
/* Inserts f by path with f->params, after probing (dk_module_probe) each of its
 * depends=; a dependency that is ours must have been inserted before. When the
 * kernel refuses it, the error quotes what the module printed meanwhile
 * ("... — kernel log: NVRM: No NVIDIA GPU found."). */
int dk_module_insert(struct dk_modctx *m, const struct dk_modfile *f,
		     struct dk_error **err) _must_check_;

/* Waits up to ms; returns false when told to stop waiting (second SIGTERM). */
typedef bool (*dk_wait_fn)(void *userdata, int ms);

struct dk_remove_opts {
	int64_t deadline_ms; /* CLOCK_MONOTONIC ms; 0: try once */
	dk_wait_fn wait;     /* NULL: nanosleep */
	void *userdata;
	const char *const *devices; /* more device globs of the module (host/procs.h) */
	size_t n_devices;
};

/* Removes a module, retrying with backoff while in use until the deadline.
 * Returns 0 when removed, 1 when it was not loaded, or -errno: EBUSY (in use:
 * message names holders, refcnt and the processes with its device nodes open,
 * within DK_BUSY_USERS_MAX bytes), EOPNOTSUPP (kernel cannot unload or built in),
 * others from the kernel. */
#define DK_BUSY_USERS_MAX 2048
int dk_module_remove(struct dk_modctx *m, const char *name,
		     const struct dk_remove_opts *opts,
		     struct dk_error **err) _must_check_;

/* A module's state by name (NULL: not loaded), for dk_removal_order(). */
typedef const struct dk_modstate *(*dk_modstate_fn)(void *userdata, const char *name);
/* Orders modules for removal, users (holders) first: names plus, with with_users,
 * their holders recursively; modules not loaded or built in are left out. Pure:
 * states come from lookup, and *out (free() the array) borrows the names from
 * names and the states' holders. 0, -ENOMEM, or -ELOOP (holders form a cycle). */
int dk_removal_order(const char *const *names, size_t n, bool with_users,
		     dk_modstate_fn lookup, void *userdata, const char ***out,
		     size_t *n_out) _must_check_;
/* Orders loaded modules for removal, users first, using holders. With
 * with_users, holders outside names are added (recursively). *out holds
 * strdup'ed names; modules not loaded are left out. */
int dk_module_removal_order(const struct dk_modctx *m, char *const *names, size_t n,
			    bool with_users, char ***out, size_t *n_out,
			    struct dk_error **err) _must_check_;
void dk_names_free(char **v, size_t n);

/* What happened to each module of a load. */
enum dk_load_action {
	DK_LOAD_INSERTED,
	DK_LOAD_SKIPPED, /* loaded already with the same srcversion */
};

/* Loads a set: orders it, skips identical loaded modules, refuses (EEXIST) when
 * another build is loaded, inserts the rest. actions[i] is for files[order[i]];
 * *done counts the entries of order processed. */
int dk_module_load_set(struct dk_modctx *m, struct dk_modfile *const *files, size_t n,
		       size_t *order, enum dk_load_action *actions, size_t *done,
		       struct dk_error **err) _must_check_;
