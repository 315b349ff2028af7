/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "shared/macro.h"

#include "base/error.h"
#include "base/log.h"

/* The one way drvkit starts another program (tini's spawn() and crun are the models):
 * posix_spawn with an argv array, never a shell; the child gets an explicit
 * environment (never the caller's environ by accident), an empty signal mask and
 * default dispositions (under `init` every signal is blocked and that would be
 * inherited), stdin from /dev/null, and its own process group, so that a timeout can
 * kill everything it started. */

/* Where a child's stdout or stderr goes. */
enum dk_spawn_stream {
	DK_SPAWN_NULL,	  /* /dev/null (the default) */
	DK_SPAWN_INHERIT, /* the caller's fd 1 / fd 2 */
	DK_SPAWN_CAPTURE, /* kept in the result (capture_max bytes) */
	DK_SPAWN_LOG,	  /* each line to dk_log(log_level) as "PREFIX: line" */
	DK_SPAWN_LINES,	  /* each line to on_line() */
};

struct dk_spawn_opts {
	/* argv[0] is the program: a path, or a name looked up in the PATH of env
	 * ("/usr/bin:/bin" when env has none). */
	const char *const *argv;
	const char *const *env; /* the child's whole environment; NULL: empty */
	const char *cwd;	/* NULL: the caller's */
	enum dk_spawn_stream out, err;
	size_t capture_max; /* bytes kept per captured stream; 0: 1 MiB */
	enum dk_log_level log_level;
	const char *log_prefix; /* NULL: argv[0] */
	/* 0: no limit. When it expires the whole process group gets SIGTERM, then
	 * SIGKILL after grace_ms (0: 2000). */
	int timeout_ms;
	int grace_ms;
	/* > 0: when this fd becomes readable (a signalfd, a pipe) the whole process group
	 * is stopped as for a timeout, and dk_spawn_run() fails with -ECANCELED. The fd
	 * is only polled, never read: the caller reads it afterwards. */
	int cancel_fd;
	/* DK_SPAWN_LINES: called for each line (without its newline; stream 1 or 2), in
	 * the calling thread. */
	void (*on_line)(int stream, const char *line, void *userdata);
	/* Called in the parent once the child runs (pid logging, tests). */
	void (*on_start)(pid_t pid, void *userdata);
	void *userdata;
	/* dk_spawn_start() only: run as this user (setgroups, setgid, setuid before the
	 * exec) when set_ids. */
	bool set_ids;
	uid_t uid;
	gid_t gid;
	const gid_t *groups; /* supplementary groups; NULL: none */
	size_t n_groups;
};

struct dk_spawn_result {
	pid_t pid;
	int status;	 /* wait status */
	int exit_code;	 /* exit status, -1 when a signal ended it */
	int signo;	 /* the signal that ended it, 0 when it exited */
	bool timed_out;	 /* killed because timeout_ms expired */
	bool cancelled;	 /* killed because cancel_fd became readable */
	char *out, *err; /* captured bytes, NUL-terminated; NULL unless CAPTURE */
	size_t out_len, err_len;
	bool out_truncated, err_truncated; /* more than capture_max arrived */
};

/* Runs the program to its end. Returns 0 when it ran (whatever its exit status: see
 * *res, or dk_spawn_check()); -ETIMEDOUT when it was killed after timeout_ms (*res
 * filled, *err says so); -ECANCELED when cancel_fd stopped it; or -errno when it could
 * not be started (*err: "run PROG: reason", e.g. ENOENT for a missing program). Release
 * *res in every case. */
int dk_spawn_run(const struct dk_spawn_opts *o, struct dk_spawn_result *res,
		 struct dk_error **err) _must_check_ _nonnull_(1, 2);
void dk_spawn_result_release(struct dk_spawn_result *res);

/* 0 when *res is a zero exit; otherwise -EIO with *err "NAME exited with status N" or
 * "NAME was killed by signal S" (-ETIMEDOUT for a timeout). */
int dk_spawn_check(const struct dk_spawn_result *res, const char *name,
		   struct dk_error **err) _must_check_;

/* Starts the program and returns at once (a supervised daemon): *pid is the child,
 * in its own process group, with the environment, signal mask and stdin of
 * dk_spawn_run(), and the ids of o->set_ids. out/err: NULL or INHERIT only (nothing
 * reads a pipe). The caller reaps it (init's waitpid(-1) loop); timeouts, cancel_fd and
 * on_line are not used. Returns 0, or -errno with *err "run PROG: reason" when the
 * program could not be started (not found, not executable, setuid refused): that
 * is known before it returns. */
int dk_spawn_start(const struct dk_spawn_opts *o, pid_t *pid,
		   struct dk_error **err) _must_check_ _nonnull_(1, 2);

/* For a process-wide reaper (init's waitpid(-1) loop): call it for every pid reaped.
 * Returns 1 when pid belongs to a running dk_spawn_run(), which then takes status
 * from here instead of failing with ECHILD; 0 when the pid is not ours. */
int dk_spawn_reaped(pid_t pid, int status);
