/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

/* What drvkit init loaded and replaced, kept in <state_dir>/state.json so a
 * restarted instance (after SIGKILL) recognises its predecessor's modules and
 * `drvkit status` can report them. */
struct dk_state_module {
	char *name;
	char *component;
	char *path;
	char *source; /* the file before signing (path is the signed copy); NULL: path */
	char *srcversion;
	char *version;
	/* Listed before its insert and cleared after: a SIGKILL between the insert and
	 * the next save leaves it "loading", and the next instance adopts it if it is in
	 * (not taking it for someone else's) or loads it if not. */
	bool loading;
	/* Its component's devices: globs, so that `drvkit status` (which has no config)
	 * finds the processes holding those nodes as the stop does. */
	char **devices;
	size_t n_devices;
};

struct dk_state_replaced {
	char *name;
	char *component;
	bool restore;
};

struct dk_state {
	long pid;
	char *kernel;
	struct dk_state_module *modules; /* in load order */
	size_t n_modules;
	struct dk_state_replaced *replaced; /* in removal order (users first) */
	size_t n_replaced;
	/* In-tree dependencies our inserts loaded (tls for OFED's mlx5_core), in load
	 * order: a restarted instance unloads them on stop like its predecessor would. */
	char **probed;
	size_t n_probed;
};

/* Reads path. A missing file gives an empty state and returns 0. */
int dk_state_read(const char *path, struct dk_state *st,
		  struct dk_error **err) _must_check_;
/* Writes path atomically (temp + rename). */
int dk_state_write(const char *path, const struct dk_state *st,
		   struct dk_error **err) _must_check_;
void dk_state_release(struct dk_state *st);

int dk_state_add_module(struct dk_state *st, const char *name, const char *component,
			const char *path, const char *source, const char *srcversion,
			const char *version) _must_check_;
void dk_state_remove_module(struct dk_state *st, const char *name);
/* Appends globs to the devices: globs of name (added before); 0 or -ENOMEM. */
int dk_state_add_devices(struct dk_state *st, const char *name, const char *const *globs,
			 size_t n) _must_check_;
/* Marks name (added before) as being inserted, or done. */
void dk_state_set_loading(struct dk_state *st, const char *name, bool loading);
const struct dk_state_module *dk_state_find_module(const struct dk_state *st,
						   const char *name);
int dk_state_add_replaced(struct dk_state *st, const char *name, const char *component,
			  bool restore) _must_check_;
void dk_state_remove_replaced(struct dk_state *st, const char *name);
int dk_state_add_probed(struct dk_state *st, const char *name) _must_check_;
void dk_state_remove_probed(struct dk_state *st, const char *name);
