/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Inside the build subsystem: the inputs of one component for one kernel, and the
 * steps that get its modules. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"
#include "host/preflight.h"
#include "build/build.h"
#include "build/store.h"

struct dk_inputs {
	const struct dk_build_opts *o;
	const struct dk_config_component *c;
	const char *cache;
	char *flavor, *flavor_why;
	struct dk_config_tree tree; /* the flavor's override over the shared tree
				       (pointers into the config) */
	char *source_sha256;
	char **patch_sha256; /* per c->build->patches */
	char *spec_sha256;
	char *signing_sha256; /* the certificate and hash modules are signed with */
	const char *kernel;
	char *arch;
	char *build_dir; /* the headers; NULL when none were found */
	char *headers_why;
	char *kconfig_sha256, *ksymvers_sha256;
	struct dk_preflight pf; /* run when build_dir is known */
	char *compiler;		/* "12.2.0 (/usr/bin/gcc-12)"; NULL when none */
	struct dk_got *const *uses;
	size_t n_uses;
	char **uses_path_sha256; /* per build->uses_paths: "DIR SYMVERS INCLUDE" digests
				  */
	char *key;		 /* NULL when headers or compiler are unknown */
	char *alias;		 /* always */
};

/* inputs.c */
int dk_inputs_init(struct dk_inputs *in, const struct dk_build_opts *o,
		   const struct dk_config_component *c, struct dk_got *const *uses,
		   size_t n_uses, struct dk_error **err) _must_check_;
void dk_inputs_release(struct dk_inputs *in);
/* A message naming the component and kernel, for errors: "component C for K". */
char *dk_inputs_what(const struct dk_inputs *in);

/* source.c: the source tree of in into work/src with the patches applied; *make_dir
 * is where make runs (work/src/<subdir>). */
int dk_source_prepare(const struct dk_inputs *in, const char *work, char **make_dir,
		      struct dk_error **err) _must_check_;

/* compile.c: builds, checks, signs, and commits the cache entry; fills *g. */
int dk_compile_step(const struct dk_inputs *in, struct dk_got *g,
		    struct dk_error **err) _must_check_;
/* A cache entry dir for *g (after a hit or an import). */
int dk_got_take_hit(struct dk_got *g, struct dk_store_hit *h) _must_check_;
/* The entry just committed for key into *g (lookup, verify, take). */
int dk_got_load_entry(const char *cache, const char *key, struct dk_got *g,
		      struct dk_error **err) _must_check_;

/* precompiled.c: the URL for this kernel, placeholders filled in (EINVAL names a bad
 * one); the step: 1 when the package was found, verified and imported into the cache
 * (*g filled); 0 when the server has none (404: fall back); < 0 when it is refused. */
int dk_precompiled_url(const struct dk_inputs *in, char **url,
		       struct dk_error **err) _must_check_;
int dk_precompiled_step(const struct dk_inputs *in, struct dk_got *g,
			struct dk_error **err) _must_check_;
