/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* `drvkit daemonsets`: the Kubernetes objects that run the matrix's images, as one
 * multi-document YAML (stable order). The DaemonSets are made from the image jobs of
 * dk_jobs_expand() (fleet/jobs.h), so a DaemonSet runs exactly the image `drvkit matrix`
 * builds (its ref, and the config baked in as DRVKIT_CONFIG): first a ConfigMap per
 * (driver, config path) in matrix driver order, named <driver>-drvkit-config, or
 * <driver>-<arch>-drvkit-config when the driver's `config:` differs per arch ({arch});
 * then per build job (job order) one DaemonSet on the build image, followed by one
 * DaemonSet per precompiled job built FROM that image (one per kernel).
 *
 * Which node runs which DaemonSet is the nodeSelector on NFD labels (labels.h):
 * system-os_release.ID + VERSION_ID (rhcos: also OSTREE_VERSION), kubernetes.io/arch,
 * and for a precompiled one kernel-version.full (its sanitised value). A build
 * DaemonSet excludes the kernels served by precompiled ones (nodeAffinity NotIn), so
 * exactly one DaemonSet of a (driver, branch) matches a node. During an OS roll the
 * DaemonSets of the old and the new OS version (or kernel) coexist; a node changes
 * DaemonSet when its labels change.
 *
 * Pod shape (reference section 6): privileged, hostPID, updateStrategy OnDelete,
 * priorityClassName system-node-critical, tolerates every taint; command `drvkit`,
 * args `init --config /etc/drvkit/config.yaml` (the ConfigMap, mounted with subPath;
 * command replaces the image's ENTRYPOINT ["drvkit", "init"]);
 * startupProbe `test -f READY_FILE` every 10 s up to 120 times (a build from source
 * may take 20 minutes: NVIDIA's modules take 5-7 minutes on 2 cores); preStop
 * `rm -f READY_FILE`; terminationGracePeriodSeconds = the config's grace_period + 30
 * (the kubelet counts preStop and the container's own stop in the same budget, and
 * drvkit needs the whole grace_period for the unload after SIGTERM); volumes: the
 * state dir, the ready file's directory (when outside it), the build cache (hostPath,
 * DirectoryOrCreate), host /lib/modules (read-only) and /lib/firmware under the
 * config's host_root, the ConfigMap, and with `signing:` the Secret (`kubectl create
 * secret tls NAME --key K --cert C`: tls.key and tls.crt, optional key passphrase)
 * mounted read-only, mode 0400, at the config's key/cert/passphrase_file paths. */

#include <stddef.h>

#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "fleet/matrix.h"

#define DK_DS_DEFAULT_NAMESPACE "drvkit-system"
#define DK_DS_DEFAULT_SIGNING_SECRET "drvkit-signing"
#define DK_DS_CONFIG_PATH "/etc/drvkit/config.yaml"
#define DK_DS_PROBE_PERIOD 10
#define DK_DS_PROBE_FAILURES 120
#define DK_DS_GRACE_MARGIN 30

struct dk_ds_opts {
	const char *registry;	    /* image prefix; NULL: none */
	const char *namespace;	    /* NULL: DK_DS_DEFAULT_NAMESPACE */
	const char *config;	    /* for every job; NULL: each job's DRVKIT_CONFIG */
	const char *signing_secret; /* NULL: DK_DS_DEFAULT_SIGNING_SECRET */
};

/* Appends the YAML to out. Errors: those of dk_jobs_expand, a driver with neither
 * `config:` in the matrix nor --config (EINVAL, naming the matrix place), a config that
 * does not load (its errno and message), a --signing-secret when no config signs
 * (EINVAL). Object names: dk_jobs_k8s_name. */
int dk_daemonsets_render(const struct dk_matrix *m, const struct dk_ds_opts *o,
			 struct strbuf *out, struct dk_error **err) _must_check_;

/* A label value: sanitised as NFD does, at most 63 characters, alphanumeric at both
 * ends. NULL on OOM. */
char *dk_ds_label_value(const char *s);
