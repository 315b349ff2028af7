/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The build cache: one directory per build key below <cache>/builds, holding what a
 * component's build produced (its modules, Module.symvers, exported headers) and
 * its manifest.json. Downloads share the same cache directory (base/cache:
 * <cache>/sha256).
 *
 *   builds/<key>/              an entry: complete, or absent
 *   builds/.tmp-<key>-XXXXXX/  an entry being written (renamed into place when whole)
 *   aliases/<alias>            the key of the entry built last for that alias: the
 *                              inputs known without headers and compiler (a node that
 *                              only loads precompiled modules)
 *   logs/                      build logs (kept: errors point at them)
 *   work/                      build trees (removed after a build)
 *
 * A lookup verifies every module's sha256 against the manifest; a damaged entry is
 * reported and removed, never used. Using an entry touches its manifest, so that
 * prune removes the least recently used first. */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "build/manifest.h"

struct dk_store_hit {
	char *key;
	char *dir; /* builds/<key> */
	struct dk_manifest *m;
	char *manifest_sha256;
};
void dk_store_hit_release(struct dk_store_hit *h);

/* 1 with *hit filled when the entry for key exists and verifies; 0 when there is
 * none; -EBADMSG when it exists but is damaged (*err says how; the entry has been
 * removed so that it is rebuilt); other -errno. */
int dk_store_lookup(const char *cache, const char *key, struct dk_store_hit *hit,
		    struct dk_error **err) _must_check_;
/* Same through aliases/<alias>. */
int dk_store_lookup_alias(const char *cache, const char *alias, struct dk_store_hit *hit,
			  struct dk_error **err) _must_check_;

/* A new temp directory for the entry of key: builds/.tmp-<key>-XXXXXX. */
int dk_store_begin(const char *cache, const char *key, char **tmp,
		   struct dk_error **err) _must_check_;
/* Makes tmp (holding manifest.json) the entry for key, and records alias (may be
 * NULL). An entry that appeared meanwhile (another builder) wins; tmp is removed. */
int dk_store_commit(const char *cache, const char *key, const char *alias,
		    const char *tmp, struct dk_error **err) _must_check_;
int dk_store_remove(const char *cache, const char *key,
		    struct dk_error **err) _must_check_;

/* <cache>/<sub> created; NULL with *err on failure. */
char *dk_store_subdir(const char *cache, const char *sub, struct dk_error **err);

struct dk_store_entry {
	char *key;
	struct dk_manifest *m; /* NULL when the manifest cannot be read */
	char *problem;	       /* why it is unusable (verify), else NULL */
	uint64_t bytes;
	int64_t last_used; /* seconds since the epoch */
};
/* Every entry, most recently used first. verify: check each module's sha256 (fills
 * problem). Temp directories are not listed. */
int dk_store_list(const char *cache, bool verify, struct dk_store_entry **out, size_t *n,
		  struct dk_error **err) _must_check_;
void dk_store_entries_free(struct dk_store_entry *v, size_t n);
/* Removes least recently used entries until the entries take at most max_bytes;
 * also removes temp directories and work trees older than an hour (left by a killed
 * build). *freed: bytes removed. */
int dk_store_prune(const char *cache, uint64_t max_bytes, uint64_t *freed,
		   size_t *removed, struct dk_error **err) _must_check_;
