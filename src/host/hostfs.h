/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Where the host's kernel interfaces are mounted: struct dk_ctx may name them
 * (a container with hostPID sees the host's /proc at its own /proc), else they
 * are under the host root. */

#include "shared/macro.h"

#include "base/ctx.h"

/* ctx->sysfs, else <host_root>/sys. NULL on OOM. */
char *dk_host_sysfs(const struct dk_ctx *ctx) _must_check_;
/* ctx->procfs, else <host_root>/proc. NULL on OOM. */
char *dk_host_procfs(const struct dk_ctx *ctx) _must_check_;
