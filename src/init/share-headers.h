/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "shared/macro.h"

#include "base/error.h"

struct dk_init;

/* share_headers: of each component, after the modules load: its exported include
 * dirs and Module.symvers copied to <dir>/ofa_kernel/<arch>/<kernel>/ as the OFED
 * container lays them out, built under a temp name and swapped in (renameat2
 * RENAME_EXCHANGE), then <dir>/ofa_kernel/default pointed at it. -errno with *err. */
int dk_init_share_headers(struct dk_init *in, struct dk_error **err) _must_check_;
