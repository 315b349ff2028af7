/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The phases of one drvkit init run, in the order they run: the one place that
 * names them. Messages start with the name ("load: component x: ..."), never a
 * number, so a new phase (building from source) renumbers nothing. */
enum dk_phase {
	DK_PHASE_LOCK,	   /* flock <state_dir>/lock */
	DK_PHASE_DETECT,   /* kernel release, host module tree, policy, old state */
	DK_PHASE_GET,	   /* the module files of each component */
	DK_PHASE_PLAN,	   /* load, skip, adopt, unload first, or refuse */
	DK_PHASE_CHECK,	   /* vermagic and symbol CRCs against the kernel headers */
	DK_PHASE_SIGN,	   /* signed copies when signing: is set */
	DK_PHASE_REPLACE,  /* unload replaced modules and other builds, users first */
	DK_PHASE_LOAD,	   /* insert in dependency order */
	DK_PHASE_FIRMWARE, /* firmware_class search path */
	DK_PHASE_STATE,	   /* state.json after every change */
	DK_PHASE_DAEMONS,  /* start the daemons: and wait until the required are ready */
	DK_PHASE_READY,	   /* status.json, then the ready file */
	DK_PHASE_WAIT,	   /* block on the signalfd, reap children */
	DK_PHASE_STOP,	   /* on SIGTERM: unload ours, reverse load order */
	DK_PHASE_RESTORE,  /* on SIGTERM: reload replaced in-tree modules */
	DK_PHASE_ROLLBACK, /* a failed start: undo what this run changed */
};

/* "load", "replace", ...; "?" out of range. */
const char *dk_phase_name(enum dk_phase p);
