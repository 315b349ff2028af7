/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include "init/plan.h"
#include "init/problems.h"

/* A refusal (problem "storage", EBUSY, before anything is unloaded) while a mounted
 * filesystem (facts storage, host/storage.h) needs a module the plan unloads: a
 * replaced module or one of its users, which the holders graph added to d->unload
 * (NVMe-oF and iSER block devices, NFS over RDMA, SMB Direct...). The message names
 * each mount, its source, the module and what it holds; the hint what to unmount and
 * unload. Nothing when nothing is unloaded or no storage facts were read. */
void dk_plan_check_storage(const struct dk_plan_facts *f,
			   const struct dk_plan_decisions *d, struct dk_problems *ps);
