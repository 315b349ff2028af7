/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

/* One module of a set to load: its name and the names in its `depends=`. */
struct dk_order_node {
	const char *name;
	const char *const *deps;
	size_t n_deps;
};

/* Says whether a dependency outside the set can be had elsewhere (host module
 * tree, built in, already loaded). */
typedef bool (*dk_order_external_fn)(void *userdata, const char *dep);

/* Orders nodes so that every module comes after the modules of the set it
 * depends on, keeping the given order where depends= does not decide.
 * order[] receives n indexes into nodes. A cycle fails with ELOOP naming it; a
 * dependency neither in the set nor external fails with ENOENT. */
int dk_order_resolve(const struct dk_order_node *nodes, size_t n,
		     dk_order_external_fn external, void *userdata, size_t *order,
		     struct dk_error **err) _must_check_;
