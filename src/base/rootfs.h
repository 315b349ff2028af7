/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "shared/macro.h"

/* Resolves `path` as if `root` were "/": every symlink on the way is followed,
 * absolute link targets restart at root, and ".." never climbs above it (host
 * symlinks such as lib/modules/KVER/build -> /usr/src/... stay inside a mounted
 * host root). Components that do not exist are kept literally. On success *out is
 * "<root>/<resolved>". Returns 0, -ELOOP, -ENAMETOOLONG, -ENOMEM, or the readlink
 * error. */
int dk_root_resolve(const char *root, const char *path, char **out) _must_check_;
