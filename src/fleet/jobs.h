/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The kernel matrix expanded into image builds: one build image per (driver, branch, OS
 * version, arch) and one precompiled image per (driver, branch, OS version, kernel), with
 * their refs, tags, Dockerfiles and build arguments (the TSV contract with
 * scripts/build-images: README "drvkit matrix"), rendered for CI (json, github, gitlab),
 * scripts (tags) or a cluster (k8s-jobs). */

#include <stdbool.h>
#include <stddef.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/error.h"
#include "fleet/matrix.h"

enum dk_job_kind {
	DK_JOB_BUILD,
	DK_JOB_PRECOMPILED,
};

#define DK_JOB_MAX_ARGS 12

struct dk_job_arg {
	const char *name; /* static */
	char *value;	  /* "" when empty, never NULL */
};

struct dk_job {
	enum dk_job_kind kind;
	const struct dk_mx_driver *driver; /* borrowed from the matrix */
	const struct dk_mx_branch *branch;
	const struct dk_mx_os *os;
	const struct dk_mx_osver *osver;
	const char *arch;		   /* amd64, arm64 */
	const struct dk_mx_kernel *kernel; /* precompiled only */
	const char *dockerfile;		   /* static, relative to the repository root */
	char *tag;
	char *image; /* [registry/]image:tag */
	struct dk_job_arg args[DK_JOB_MAX_ARGS];
	size_t n_args;
};

struct dk_jobs {
	struct dk_job
		*jobs; /* build images first, then precompiled ones; each in order */
	size_t n_jobs;
};

struct dk_jobs_filter {
	const char *os;	    /* an OS id, or NULL for all */
	const char *driver; /* a driver name, or NULL for all */
	bool no_build, no_precompiled;
	/* Keep a build image's job once per OS version where versions share the image
	 * (rhel 9.4 and 9.6 both make ...-rhel9): DaemonSets and select pick nodes by
	 * version. Without it the image is one job, as CI builds it once. */
	bool per_version;
};

/* Expands m; the jobs borrow from m, which must outlive them. registry (may be NULL or
 * ""): prefixed to every image ref. EBADMSG (with the matrix file:line:col) for an OS
 * drvkit has no Dockerfile for. */
int dk_jobs_expand(const struct dk_matrix *m, const char *registry,
		   const struct dk_jobs_filter *filter, struct dk_jobs **out,
		   struct dk_error **err) _must_check_;
void dk_jobs_free(struct dk_jobs *j);
DK_DEFINE_CLEANUP(struct dk_jobs *, dk_jobs_free)
#define _cleanup_jobs_ _cleanup_(dk_dk_jobs_freep)

const char *dk_job_kind_name(enum dk_job_kind k);
/* The value of build argument name, or NULL. */
const char *dk_job_arg(const struct dk_job *j, const char *name);

enum dk_jobs_format {
	DK_JOBS_JSON,	/* an array of job objects, pretty */
	DK_JOBS_GITHUB, /* {"include":[...]} on one line, for strategy.matrix */
	DK_JOBS_GITLAB, /* parallel: matrix: [...] with scalar variables */
	DK_JOBS_TAGS,	/* REF KIND ARCH DOCKERFILE KEY=VALUE..., tab-separated */
	DK_JOBS_K8S,	/* batch/v1 Jobs building with rootless buildah */
};

/* "json", ... -> format; -EINVAL for an unknown name. */
int dk_jobs_format_parse(const char *name, enum dk_jobs_format *out) _must_check_;

struct dk_jobs_k8s {
	const char *context;   /* the build context buildah gets (a git URL); required */
	const char *namespace; /* NULL: none (kubectl's current namespace) */
};

/* The rendering of j in format f (k8s: k8s must be given); NUL-terminated text. */
int dk_jobs_render(const struct dk_jobs *j, enum dk_jobs_format f,
		   const struct dk_jobs_k8s *k8s, char **out,
		   struct dk_error **err) _must_check_;

/* YAML output (jobs-yaml.c): strings are written as JSON strings, which YAML reads. */
int dk_jobs_render_gitlab(const struct dk_jobs *j, char **out,
			  struct dk_error **err) _must_check_;
int dk_jobs_render_k8s(const struct dk_jobs *j, const struct dk_jobs_k8s *k8s, char **out,
		       struct dk_error **err) _must_check_;
/* A Kubernetes object name (DNS-1123 label, at most 63 characters) made of s, the one
 * rule for every name drvkit writes (Jobs, DaemonSets, ConfigMaps): lowercased, every run
 * of characters outside [a-z0-9] one '-', no '-' at either end; longer than 63: cut to 54
 * (less any '-' at the cut) and ended with '-' and the first 8 hex digits of the sha256
 * of s. NULL on OOM. */
char *dk_jobs_k8s_name(const char *s);
