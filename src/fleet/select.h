/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Which image a node runs (`drvkit select`): for every (driver, branch) its OS version
 * builds, the precompiled image when the matrix lists the node's exact kernel (and
 * arch) for that OS version, else the build image of that OS version (rhcos: the
 * version whose ostree_version is the node's OSTREE_VERSION, its image built on that
 * version's Driver Toolkit), else no fit: what is missing and the closest entries. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"
#include "fleet/labels.h"
#include "fleet/matrix.h"

enum dk_sel_kind {
	DK_SEL_PRECOMPILED,
	DK_SEL_BUILD,
};

/* Why nothing fits. */
enum dk_sel_missing {
	DK_SEL_FIT,
	DK_SEL_NO_OS,	     /* the OS id is in no matrix file */
	DK_SEL_NO_OSVER,     /* the OS is, this version (rhcos: OSTREE_VERSION) is not */
	DK_SEL_NO_ARCH,	     /* the OS version builds no image for the node's arch */
	DK_SEL_NO_DRIVER,    /* the OS version builds nothing (that --driver names) */
	DK_SEL_NOT_SELECTED, /* every driver it builds has a node_selector the node's
			      * labels do not match */
};

struct dk_sel_answer { /* one (driver, branch) */
	const struct dk_mx_driver *driver;
	const struct dk_mx_branch *branch;
	enum dk_sel_kind kind;
	const struct dk_mx_kernel *kernel; /* precompiled: the matrix entry */
	char *image; /* the ref of its dk_jobs_expand() job: [registry/]image:tag */
	char *reason;
};

/* A driver the OS version builds that does not run on this node: its node_selector
 * wants label = wanted, the node has has (NULL: no such label). */
struct dk_sel_skip {
	const struct dk_mx_driver *driver;
	const char *label, *wanted; /* borrowed from the matrix */
	const char *has;	    /* borrowed from the node's facts; NULL: missing */
	char *line;		    /* "needs LABEL=VALUE (the node: missing)" */
};

struct dk_selection {
	char *kernel; /* the kernel answered for: the running one, or --pending-kernel */
	bool pending;
	const struct dk_mx_os *os;	 /* NULL for DK_SEL_NO_OS */
	const struct dk_mx_osver *osver; /* NULL unless found */
	enum dk_sel_missing missing;
	char *missing_reason; /* NULL when it fits */
	char **closest;	      /* "what (file:line:col)" lines, NULL-terminated */
	size_t n_closest;
	struct dk_sel_answer *answers;
	size_t n_answers;
	struct dk_sel_skip *skipped; /* drivers whose node_selector the node misses */
	size_t n_skipped;
};

struct dk_sel_opts {
	const char *registry;	    /* NULL: no registry prefix (as dk_jobs_expand) */
	const char *pending_kernel; /* NULL: the node's running kernel */
	const char *driver;	    /* NULL: every driver */
	const char *branch;	    /* NULL: every branch */
};

/* Decides for node (dk_node_facts_check'ed here: EBADMSG when a fact is missing).
 * A driver with a node_selector is answered only when the node's labels carry every
 * one of its labels with that value (else it goes to skipped; none answered:
 * DK_SEL_NOT_SELECTED); facts from detection have no labels: the check is skipped and
 * the answer's reason says so.
 * No fit is an answer, not an error: 0 with (*out)->missing set. -ENOMEM otherwise. */
int dk_select(const struct dk_matrix *m, const struct dk_node_facts *node,
	      const struct dk_sel_opts *opts, struct dk_selection **out,
	      struct dk_error **err) _must_check_;
void dk_selection_free(struct dk_selection *s);
DK_DEFINE_CLEANUP(struct dk_selection *, dk_selection_free)
#define _cleanup_selection_ _cleanup_(dk_dk_selection_freep)

const char *dk_sel_kind_name(enum dk_sel_kind k);	/* precompiled | build */
const char *dk_sel_missing_name(enum dk_sel_missing m); /* fit | os | os-version | ... */

/* The OS version of os a node runs: rhcos matches ostree_version, others version. */
const struct dk_mx_osver *dk_sel_find_osver(const struct dk_mx_os *os,
					    const char *version,
					    const char *ostree_version);
/* Whether os id is rhcos (matched by OSTREE_VERSION). */
bool dk_sel_is_rhcos(const char *os_id);
