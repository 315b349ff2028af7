/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* manifest.json: what one component's built modules are and what they were built
 * from. One sits in every build cache entry and in every component directory of
 * `drvkit build -o OUT` and of a package, so that a consumer can check the modules
 * (sha256 of each) and see whether the entry fits (kernel, inputs). */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/macro.h"

#include "base/error.h"

#define DK_MANIFEST_VERSION 1

struct dk_manifest_module {
	char *name; /* module name (as the kernel knows it) */
	char *file; /* file name in the component directory */
	char *sha256;
	int64_t size;
	char *srcversion; /* NULL when the module has none */
};

struct dk_manifest_use {
	char *component;
	char *manifest_sha256; /* sha256 of that component's manifest.json */
	char *symvers_sha256;
};

struct dk_manifest {
	char *key;   /* the build cache key (every input) */
	char *alias; /* the key without the headers' and compiler's digests */
	char *component;
	char *version; /* NULL when unknown */
	char *flavor;  /* NULL for non-NVIDIA components */
	char *kernel;
	char *arch;
	char *source_url; /* NULL for a source directory */
	char *source_sha256;
	char **patches; /* "FILE sha256" */
	size_t n_patches;
	char *spec_sha256;
	char *compiler; /* "gcc-12 12.2.0" */
	char *kernel_config_sha256;
	char *kernel_symvers_sha256;
	struct dk_manifest_use *uses;
	size_t n_uses;
	char *symvers_sha256; /* this component's Module.symvers; NULL when none */
	char *signer;	      /* the signing certificate's subject; NULL: unsigned */
	struct dk_manifest_module *modules;
	size_t n_modules;
};

/* Appends m as a JSON object (inside an array or after a key). */
void dk_manifest_json(struct json_writer *w, const struct dk_manifest *m);
/* Writes dir/manifest.json (temp + rename). */
int dk_manifest_write(const struct dk_manifest *m, const char *dir,
		      struct dk_error **err) _must_check_;
/* Reads dir/manifest.json. EBADMSG with "FILE: ..." for anything that is not a
 * version-1 manifest; ENOENT when missing. *sha256 (may be NULL) gets the file's
 * digest (what a consumer's key records). */
int dk_manifest_read(const char *dir, struct dk_manifest **out, char **sha256,
		     struct dk_error **err) _must_check_;
int dk_manifest_parse(const char *name, const char *data, size_t len,
		      struct dk_manifest **out, struct dk_error **err) _must_check_;
/* Checks that every module of m is in dir with its sha256 and size: 0, or EBADMSG
 * naming the file and both digests (ENOENT for a missing file). */
int dk_manifest_verify(const struct dk_manifest *m, const char *dir,
		       struct dk_error **err) _must_check_;
const struct dk_manifest_module *dk_manifest_module(const struct dk_manifest *m,
						    const char *name);
void dk_manifest_free(struct dk_manifest *m);
DK_DEFINE_CLEANUP(struct dk_manifest *, dk_manifest_free)
#define _cleanup_manifest_ __attribute__((cleanup(dk_dk_manifest_freep)))
