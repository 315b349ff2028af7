/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Getting a component's modules for one kernel: from the build cache, a precompiled
 * package, or a build from source, in the order of its `get:` (config/config.h).
 * `drvkit build` and `drvkit init` both come here. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "config/config.h"
#include "build/manifest.h"

struct dk_build_opts {
	const struct dk_config *cfg;
	const char *kernel;    /* the target kernel release */
	const char *headers;   /* a build tree given by the user; NULL: find one */
	const char *host_root; /* where to find headers and /sys ("/") */
	const char *sysfs;     /* devices for flavor auto; NULL: <host_root>/sys */
	const char *procfs;    /* the kernel's compiler when .config lacks it */
	const char *cache_dir; /* NULL: cfg->cache_dir */
	const char *path_env;  /* PATH for finding make and the compiler; NULL: system */
	int jobs;	       /* make -j (0: the CPUs) */
	int cancel_fd;	       /* > 0: readable means stop (SIGTERM) */
	bool tty, quiet;       /* progress line / no build output on stderr */
	const char *only;      /* only this component (and what it uses) */
	/* Steps to use instead of each component's get: (drvkit build: cache, build). */
	const enum dk_get_step *steps;
	size_t n_steps;
	bool dry_run; /* look only: the cache is read, nothing is downloaded or built */
};

enum dk_got_from {
	DK_GOT_NONE,
	DK_GOT_CACHE,
	DK_GOT_PRECOMPILED,
	DK_GOT_BUILD,
};

/* One component's modules. */
struct dk_got {
	const struct dk_config_component *c;
	enum dk_got_from from; /* NONE in a dry run that would download or build */
	char *dir;	       /* *.ko, manifest.json, Module.symvers, exports */
	struct dk_manifest *m;
	char *manifest_sha256;
	char *flavor;	  /* NVIDIA components: open/proprietary */
	char *flavor_why; /* how auto chose */
	char *why;	  /* the steps tried and their outcome, for the plan and logs */
	char *key, *alias;
	int64_t ms; /* time taken */
};

/* Gets every component of o->cfg that has build: or precompiled: (in dependency
 * order: uses, after), independent builds in parallel. *out lists them in that
 * order. Errors name the component and the step. */
int dk_get_components(const struct dk_build_opts *o, struct dk_got **out, size_t *n,
		      struct dk_error **err) _must_check_;
void dk_got_free(struct dk_got *v, size_t n);
const char *dk_got_from_name(enum dk_got_from f);

/* The order in which components are built and loaded: uses and after first, else
 * config order. idx gets n component indexes. */
int dk_build_order(const struct dk_config *cfg, size_t *idx) _must_check_;

/* Writes OUT/<kernel>/<component>/ (a copy of each component's cache entry) and
 * OUT/<kernel>/manifest.json (every component's manifest), each directory built
 * under a temp name and renamed. */
int dk_build_write_out(const struct dk_got *got, size_t n, const char *kernel,
		       const char *out, struct dk_error **err) _must_check_;
/* The same as one .tar.zst (entries <kernel>/...): a precompiled package. */
int dk_build_write_package(const struct dk_got *got, size_t n, const char *kernel,
			   const char *cache_dir, const char *file,
			   struct dk_error **err) _must_check_;
