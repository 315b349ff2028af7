/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* What `drvkit select` knows about a node: its kernel, OS and architecture, read from
 * its Node Feature Discovery labels or from drvkit's own detection (host/detect.h, which
 * the cli runs). A labels file is YAML or JSON, one of:
 *
 *   - a flat mapping label: value (`kubectl get node X -o jsonpath='{.metadata.labels}'`)
 *   - a Node object (`kubectl get node X -o yaml`): its metadata.labels
 *   - a List/NodeList holding exactly one Node (`kubectl get nodes -l ... -o yaml`)
 *
 * The labels read (reference section 6):
 *   feature.node.kubernetes.io/kernel-version.full          kernel release
 *   feature.node.kubernetes.io/system-os_release.ID         os id
 *   feature.node.kubernetes.io/system-os_release.VERSION_ID os version
 *   feature.node.kubernetes.io/system-os_release.OSTREE_VERSION   rhcos
 *   kubernetes.io/arch   else derived from the kernel release's suffix
 *
 * NFD sanitises label values ([^-A-Za-z0-9_.] -> _): a kernel read from labels is
 * the sanitised form ("6.12.117_deb12-amd64"); compare kernels with
 * dk_label_sanitise() applied to both sides. */

#include <stdbool.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/error.h"

#define DK_LABEL_KERNEL "feature.node.kubernetes.io/kernel-version.full"
#define DK_LABEL_OS_ID "feature.node.kubernetes.io/system-os_release.ID"
#define DK_LABEL_OS_VERSION "feature.node.kubernetes.io/system-os_release.VERSION_ID"
#define DK_LABEL_OSTREE "feature.node.kubernetes.io/system-os_release.OSTREE_VERSION"
#define DK_LABEL_ARCH "kubernetes.io/arch"

struct dk_node_label {
	char *key;
	char *value; /* as the file gives it ("" for an empty value) */
};

struct dk_node_facts {
	char *source;	       /* the labels file, or "detection" */
	char *node;	       /* metadata.name of a Node object; NULL otherwise */
	char *kernel;	       /* kernel release (sanitised when read from labels) */
	char *os_id;	       /* os-release ID */
	char *os_version;      /* VERSION_ID */
	char *ostree_version;  /* OSTREE_VERSION (rhcos) */
	char *arch;	       /* amd64 | arm64, or the raw value when not one of those */
	const char *arch_from; /* static: where arch came from */
	/* Every label of the node, in file order (a driver's node_selector is checked
	 * against them); has_labels false: the facts came from detection, which knows
	 * no labels. */
	struct dk_node_label *labels;
	size_t n_labels;
	bool has_labels;
};

void dk_node_facts_release(struct dk_node_facts *f);
/* The value of label key, or NULL when the node has no such label. */
const char *dk_node_facts_label(const struct dk_node_facts *f, const char *key);
#define _cleanup_node_facts_ _cleanup_(dk_node_facts_release)

/* A label value as NFD writes it: every byte outside [-A-Za-z0-9_.] becomes '_'.
 * NULL on OOM. */
char *dk_label_sanitise(const char *s);
/* Whether two kernel releases are equal once both are sanitised. */
bool dk_label_kernel_equal(const char *a, const char *b);

/* "amd64" / "arm64" from a kernel release's arch suffix ("-amd64", ".x86_64",
 * "-arm64", ".aarch64", with '_' or '+' separators too), else NULL (Ubuntu's
 * "-generic" carries none). */
const char *dk_label_arch_from_kernel(const char *release);

/* Reads a labels file into *out (release with dk_node_facts_release, also after a
 * failure). Errors: EBADMSG "FILE:LINE:COL: ..." for a file that is none of the three
 * shapes, a label value that is not a scalar, a list of several nodes; the errno of
 * reading it. Missing labels are left NULL (dk_node_facts_check says what is needed). */
int dk_labels_load(const char *path, struct dk_node_facts *out,
		   struct dk_error **err) _must_check_;
/* Same from memory; name starts messages. */
int dk_labels_parse(const char *name, const char *data, size_t len,
		    struct dk_node_facts *out, struct dk_error **err) _must_check_;

/* Facts from detection (the cli runs dk_detect_run): kernel release, uname machine,
 * os-release ID / VERSION_ID / OSTREE_VERSION; unknown ones stay NULL. -ENOMEM only. */
struct dk_detect;
int dk_node_facts_from_detect(const struct dk_detect *d, struct dk_node_facts *out,
			      struct dk_error **err) _must_check_;

/* EBADMSG naming the first missing fact (os id, os version, kernel unless
 * have_kernel, arch) and the label that gives it. */
int dk_node_facts_check(const struct dk_node_facts *f, bool have_kernel,
			struct dk_error **err) _must_check_;
