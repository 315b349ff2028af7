/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The supervised daemons of a drvkit init (config daemons:): started after the
 * modules load through base/spawn, reaped by init's signalfd loop (supervise.c),
 * restarted with exponential backoff, and gating the ready file: it is written only
 * when every required daemon is ready and the validation command succeeded, and
 * removed while one is not. On SIGTERM they stop (each its own signal and timeout,
 * SIGKILL after) before the modules unload. */

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct dk_init;
struct json_writer;

enum dk_daemon_state {
	DK_DAEMON_PENDING,  /* not started yet */
	DK_DAEMON_STARTING, /* running, not ready yet */
	DK_DAEMON_READY,
	DK_DAEMON_BACKOFF, /* exited; restarts at next_start */
	DK_DAEMON_STOPPED, /* exited, not restarted (policy, or init stopping) */
	DK_DAEMON_SKIPPED, /* its when: condition does not hold */
};

const char *dk_daemon_state_str(enum dk_daemon_state s);

/* Evaluates the when: conditions, writes NotReady to daemons_status_file and starts
 * every daemon. A daemon that cannot start (a program not found, an unknown user)
 * goes to backoff like one that exited, with the reason as its last exit. */
int dk_init_daemons_start(struct dk_init *in);
/* The main loop while daemons run: starts, probes, validates, writes and removes the
 * ready file, until SIGTERM/SIGINT. */
void dk_init_supervise(struct dk_init *in);
/* Removes the ready file, then stops the daemons (daemon_stop_order first, then the
 * rest in reverse start order), each with its signal, SIGKILL after its timeout. */
void dk_init_daemons_stop(struct dk_init *in);
/* From the reaper: true when pid was one of the daemons. */
bool dk_init_daemon_reaped(struct dk_init *in, pid_t pid, int status);
/* The "daemons" and "waiting_for" members of status.json. */
void dk_init_daemons_json(const struct dk_init *in, struct json_writer *w);
void dk_init_daemons_free(struct dk_init *in);
