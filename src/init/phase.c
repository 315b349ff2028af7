/* SPDX-License-Identifier: Apache-2.0 */
#include <stddef.h>

#include "shared/macro.h"

#include "init/phase.h"

static const struct {
	const char *name, *summary;
} phases[] = {
	[DK_PHASE_LOCK] = {"lock", "flock <state_dir>/lock; one instance per node"},
	[DK_PHASE_DETECT] = {"detect",
			     "kernel release, host module tree, signature policy, "
			     "the previous state file"},
	[DK_PHASE_GET] = {"get", "<source.dir>/<name>.ko of each component"},
	[DK_PHASE_PLAN] = {"plan",
			   "per module: load, skip, adopt, unload first, or refuse"},
	[DK_PHASE_CHECK] = {"check",
			    "vermagic and symbol CRCs against the kernel headers"},
	[DK_PHASE_SIGN] = {"sign", "signed copies in <state_dir>/signed/"},
	[DK_PHASE_REPLACE] = {"replace",
			      "unload replaced modules and other builds, users "
			      "first"},
	[DK_PHASE_LOAD] = {"load", "insert in dependency order with params"},
	[DK_PHASE_FIRMWARE] = {"firmware", "set the firmware search path"},
	[DK_PHASE_STATE] = {"state", "state.json after every change"},
	[DK_PHASE_READY] = {"ready", "status.json, then the ready file"},
	[DK_PHASE_WAIT] = {"wait", "block on signals, reap children"},
	[DK_PHASE_STOP] = {"stop", "remove the ready file, unload ours"},
	[DK_PHASE_RESTORE] = {"restore", "reload replaced in-tree modules"},
	[DK_PHASE_ROLLBACK] = {"rollback", "a failed start: undo what this run changed"},
};

const char *dk_phase_name(enum dk_phase p)
{
	return (size_t)p < ARRAY_SIZE(phases) && phases[p].name ? phases[p].name : "?";
}

const char *dk_phase_summary(enum dk_phase p)
{
	return (size_t)p < ARRAY_SIZE(phases) && phases[p].summary ? phases[p].summary
								   : "?";
}
