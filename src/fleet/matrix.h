/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The kernel matrix (the .yaml files of kernel-matrix/): which OS versions and kernels a
 * fleet runs, where each kernel's headers come from, and which driver branches to build
 * for them. Read by `drvkit matrix` (CI jobs, image tags), `select` (which image a node
 * runs) and `daemonsets` (one DaemonSet per OS version). Schema: README "The kernel
 * matrix".
 *
 *   version: 1
 *   drivers:                        # component sets (any file; usually drivers.yaml)
 *     - name: nvidia                # [a-z0-9-], unique in the matrix
 *       image: driver               # image repository under --registry (default: name)
 *       config: configs/nvidia-{arch}.yaml # the drvkit config its images run
 *                                   # (relative to the file; {arch}: amd64|arm64)
 *       branches:
 *         - { branch: "535", version: 535.261.03 }
 *       node_selector:              # labels a node must carry to run it (optional)
 *         feature.node.kubernetes.io/pci-10de.present: "true"
 *   os:                             # one OS per file
 *     id: debian                    # os-release ID (NFD system-os_release.ID)
 *     versions:
 *       - version: "12"             # VERSION_ID
 *         ostree_version: ...       # rhcos: OSTREE_VERSION (required there)
 *         dtk_image: ~              # rhcos: Driver Toolkit image; null = the user's to
 * fill base_image: debian:12     # FROM of its images (default per OS) drivers: # what to
 * build here
 *           - { name: nvidia, branches: ["535"] }
 *         kernels:
 *           - release: 6.1.0-56-amd64
 *             arch: amd64           # amd64 | arm64 (x86_64, aarch64 accepted)
 *             headers:              # packages: [{url, sha256}] | installed | dtk
 *               packages:
 *                 - { url: http://..., sha256: ... }
 */

#include <stdbool.h>
#include <stddef.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/error.h"

/* Where a kernel's headers come from when an image is built for it. */
enum dk_mx_headers {
	DK_MX_HEADERS_PACKAGES,	 /* downloaded from pinned package URLs */
	DK_MX_HEADERS_INSTALLED, /* the build image's package manager installs them */
	DK_MX_HEADERS_DTK,	 /* the Driver Toolkit image carries them (rhcos) */
};

struct dk_mx_pos {
	const char *file; /* borrowed from the matrix's file list */
	size_t line, column;
};

struct dk_mx_package {
	char *url;
	char *sha256;
	struct dk_mx_pos pos;
};

struct dk_mx_kernel {
	char *release;
	char *arch; /* normalised to Kubernetes' names: amd64, arm64 */
	enum dk_mx_headers headers;
	struct dk_mx_package *packages;
	size_t n_packages;
	struct dk_mx_pos pos;
};

struct dk_mx_use { /* an OS version's "build driver X, branches ..." */
	char *driver;
	char **branches; /* NULL-terminated */
	size_t n_branches;
	struct dk_mx_pos pos;
};

struct dk_mx_osver {
	char *version;	      /* VERSION_ID */
	char *ostree_version; /* rhcos */
	char *dtk_image;      /* rhcos; NULL: not filled in yet */
	char *base_image;     /* NULL: the OS's default */
	struct dk_mx_use *uses;
	size_t n_uses;
	struct dk_mx_kernel *kernels;
	size_t n_kernels;
	struct dk_mx_pos pos;
	struct dk_mx_pos dtk_pos; /* where dtk_image: was given (line 0: not given) */
};

struct dk_mx_os {
	char *id;
	struct dk_mx_osver *versions;
	size_t n_versions;
	struct dk_mx_pos pos;
};

struct dk_mx_branch {
	char *branch;  /* "535" */
	char *version; /* "535.261.03" */
};

struct dk_mx_label { /* one label: value of a driver's node_selector */
	char *key;
	char *value; /* may be "" */
};

struct dk_mx_driver {
	char *name;
	char *image;
	char *config; /* path as given joined to the matrix file's directory; may be NULL
		       */
	struct dk_mx_branch *branches;
	size_t n_branches;
	/* node_selector: the labels a node must carry (with these values) for the
	 * driver's DaemonSets to run there, sorted by key; none: every node of the OS
	 * version (and arch). */
	struct dk_mx_label *node_selector;
	size_t n_node_selector;
	struct dk_mx_pos pos;
};

struct dk_matrix {
	char *dir;    /* as given */
	char **files; /* the files read, sorted; dk_mx_pos.file points here */
	size_t n_files;
	struct dk_mx_os *oses; /* sorted by id */
	size_t n_oses;
	struct dk_mx_driver *drivers; /* sorted by name */
	size_t n_drivers;
};

/* Reads every *.yaml of dir (sorted) or one file. Every error is "FILE:LINE:COL: key:
 * expected ..." (EBADMSG); cross-file checks (an OS or version given twice, a driver or
 * branch an OS version uses that no file defines, a kernel listed twice) name both
 * places. ENOENT when dir does not exist or holds no *.yaml. */
int dk_matrix_load(const char *dir, struct dk_matrix **out,
		   struct dk_error **err) _must_check_;
void dk_matrix_free(struct dk_matrix *m);
DK_DEFINE_CLEANUP(struct dk_matrix *, dk_matrix_free)
#define _cleanup_matrix_ _cleanup_(dk_dk_matrix_freep)

/* The "<os><version>" part of image tags: rhel, rocky, ol, centos, almalinux: the major
 * version only ("rhel9"); rhcos: "rhcos4.16"; else ID + VERSION_ID ("ubuntu22.04"). */
char *dk_mx_os_tag(const char *id, const char *version);

/* Image tags: precompiled "<branch>-<kernel>-<ostag>", build "<driver version>-<ostag>".
 */
char *dk_mx_precompiled_tag(const char *branch, const char *kernel, const char *ostag);
char *dk_mx_build_tag(const char *driver_version, const char *ostag);

/* A driver's config path for one arch ({arch} replaced); "" when the driver has none.
 * NULL on OOM. */
char *dk_mx_driver_config(const struct dk_mx_driver *d, const char *arch);
/* path with {arch} replaced; NULL with *bad at an unknown placeholder, NULL with *bad
 * NULL on OOM. */
char *dk_mx_driver_config_expand(const char *path, const char *arch, const char **bad);

/* "amd64"/"arm64" for amd64, x86_64, arm64, aarch64; NULL otherwise. */
const char *dk_mx_arch_normalise(const char *arch);

/* Image tags allow [A-Za-z0-9_.-] only: the tag functions above turn any other character
 * (Debian's "6.12.22+deb12-amd64") into '_', as NFD does for label values. */

/* Versions compared as versions: runs of digits numerically ("6.12" > "6.9"), the rest
 * byte by byte; <0, 0, >0. */
int dk_mx_version_cmp(const char *a, const char *b);

/* "packages", "installed", "dtk". */
const char *dk_mx_headers_name(enum dk_mx_headers h);

/* The driver named name, or NULL. */
const struct dk_mx_driver *dk_mx_driver_find(const struct dk_matrix *m, const char *name);
