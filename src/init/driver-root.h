/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* driver_root: the container's root bound (rbind) at a path the host sees, for the
 * NVIDIA container toolkit (reference.md section 10). All by mount(2)/umount2(2). */

#include <stdbool.h>

#include "shared/macro.h"

#include "base/error.h"

struct dk_init;

/* After the lock is held, before the plan: detaches what a killed predecessor left
 * mounted at driver_root (logged). Failures are warnings: the mount later fails or
 * stacks on top, and says so. */
void dk_init_driver_root_clean(struct dk_init *in);
/* After the modules load, before ready: /sys (of driver_root_source) made unbindable
 * below it, mkdir -p driver_root, rbind driver_root_source onto it; warns when the
 * mount holding it does not propagate to the host. -errno with *err naming the step. */
int dk_init_driver_root(struct dk_init *in, struct dk_error **err) _must_check_;
/* On stop (first, before the modules unload) and after a failed start: detaches every
 * mount at driver_root. Only while this instance holds the lock; no-op without
 * driver_root. */
void dk_init_driver_root_detach(struct dk_init *in);
