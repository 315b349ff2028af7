/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* One component's make run: the argv with its placeholders filled, a clean
 * environment pinned for reproducible modules, output to a log file and to stderr
 * (prefixed by the component; a progress line instead on a TTY), stopped as a whole
 * process group on cancel_fd. A failure quotes the compiler's first error. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

/* What the environment pins (documented in README, "Reproducible builds"). */
#define DK_KBUILD_TIMESTAMP "Thu Jan  1 00:00:00 UTC 1970"
#define DK_KBUILD_PREFIX "/drvkit-build"
#define DK_KBUILD_USES_PREFIX "/drvkit-uses" /* + /<component>: a uses: entry */

struct dk_kbuild {
	const char *component, *version, *flavor, *kernel;
	const char *build_dir; /* the kernel's build tree ({build_dir}) */
	const char *src;       /* where make runs ({src}) */
	const char *out;       /* an empty directory ({out}) */
	const char *work;      /* the work directory, mapped to DK_KBUILD_PREFIX */
	int jobs;
	char *const *configure; /* NULL: none; else run in {src} before make */
	size_t n_configure;
	char *const *make; /* NULL: make -C {build_dir} M={src} -j{jobs} modules */
	size_t n_make;
	char *const *env; /* NAME=value, over drvkit's own */
	size_t n_env;
	const char *uses_symvers; /* space-separated Module.symvers of uses:, or NULL */
	const char *uses_include; /* "-I... -I..." of uses:, or NULL */
	const char *uses_maps;	  /* " -ffile-prefix-map=..." of uses:, or NULL */
	const char *cc;		  /* the compiler to use */
	const char *log_path;
	int cancel_fd; /* > 0: stop the build when readable (SIGTERM) */
	bool tty;      /* stderr is a terminal: one progress line */
	bool quiet;    /* no output to stderr but errors */
};

/* Runs the build: configure (when given), then make, into one log. Errors: -ECANCELED
 * (stopped), -EIO for a failed step with the message "component C (version V, flavor
 * F) for kernel K: FIRST ERROR; STEP exited with status N; full log: PATH", or the
 * errno of starting it. */
int dk_kbuild_run(const struct dk_kbuild *b, struct dk_error **err) _must_check_;

/* The argv of b with its placeholders filled (NULL-terminated); NULL on OOM. */
char **dk_kbuild_argv(const struct dk_kbuild *b) _must_check_;
/* The configure argv of b, placeholders filled (NULL-terminated); NULL on OOM. */
char **dk_kbuild_configure_argv(const struct dk_kbuild *b) _must_check_;
/* The environment of b (NULL-terminated); NULL on OOM. */
char **dk_kbuild_env(const struct dk_kbuild *b) _must_check_;

/* The first compiler or modpost error of a build log: "FILE:LINE: MESSAGE (in
 * function F)", or the last make error line when there is none; NULL when the log
 * has no error line. */
char *dk_kbuild_first_error(const char *log) _must_check_;
