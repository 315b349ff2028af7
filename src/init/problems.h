/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What stands between this node and a start, all at once: the planner, the check and
 * the signature trust each add what they find and go on, so that `drvkit init
 * --dry-run` lists every problem with what to do, and a start refuses with all of them
 * before anything on the node changes. Anyone may add a kind: keep it a short static
 * word ("other-build", "storage", ...). */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

struct dk_problem {
	const char
		*kind;	 /* static: "other-build", "builtin", "protected",
			  * "cannot-unload", "no-unload-on-stop", "wrong-kernel",
			  * "unsigned", "untrusted-key", "signing-key", "trust-unknown" */
	int errnum;	 /* what a start fails with; 0: a warning, a start goes on */
	char *component; /* NULL: not one component's */
	char *module;	 /* NULL: the node's, not one module's */
	char *msg;	 /* what is wrong, where, as it was found */
	char *hint;	 /* what to do; NULL: nothing to add */
};

struct dk_problems {
	struct dk_problem *v; /* in the order found (phase order) */
	size_t n;
	bool oom; /* one could not be recorded */
};

/* Records a problem (errnum 0: a warning). Strings are copied; component, module and
 * hint may be NULL. Out of memory marks ps->oom. */
void dk_problems_add(struct dk_problems *ps, int errnum, const char *kind,
		     const char *component, const char *module, const char *hint,
		     const char *fmt, ...) _printf_format_(7, 8);
/* The first problem that refuses a start (errnum != 0), NULL when none does. */
const struct dk_problem *dk_problems_first_blocker(const struct dk_problems *ps);
size_t dk_problems_blockers(const struct dk_problems *ps);
/* The exit code a start would end with: that of the first blocker (phase order, as a
 * start meets them), 0 when none (README "Exit codes"). */
int dk_problems_exit_code(const struct dk_problems *ps);
/* When something refuses a start: sets *err (errnum of the first blocker) to every
 * blocker, each with what to do ("msg: hint" for a single one), and returns -errnum;
 * 0 when nothing refuses; -ENOMEM when ps->oom. */
int dk_problems_error(const struct dk_problems *ps, struct dk_error **err) _must_check_;
/* Moves src's problems to the end of dst. */
void dk_problems_move(struct dk_problems *dst, struct dk_problems *src);
void dk_problems_release(struct dk_problems *ps);
