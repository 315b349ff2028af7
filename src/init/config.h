/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/error.h"

/*
 * drvkit init configuration, version 1 (YAML, read with libyaml).
 *
 *   state_dir: /run/drvkit              # lock, state.json, status.json (default)
 *   ready_file: /run/drvkit/ready       # written last, removed first on SIGTERM
 *   termination_log: /dev/termination-log   # why we failed (<= 4096 bytes)
 *   host_root: /                        # host filesystem (lib/modules, boot, sys)
 *   kernel: 6.1.0-56-amd64              # optional: override uname -r
 *   grace_period: 25                    # seconds for the whole unload on SIGTERM
 *   unload_other_versions: false        # unload another loaded version of our modules
 *   protected_modules: [ my_rdma_fs ]   # more users that block replaces (built in:
 *                                       # ib_iser ib_isert ib_srp ib_srpt rpcrdma
 *                                       # svcrdma xprtrdma nvme_rdma nvmet_rdma smc
 *                                       # nvidia_peermem nv_peer_mem rds_rdma cifs ksmbd)
 *   firmware_path: /lib/firmware/nvidia # optional: firmware_class search path
 *   signing:                            # optional: sign before loading
 *     key: /etc/drvkit/signing.key
 *     cert: /etc/drvkit/signing.crt
 *     hash: sha256                      # sha256 (default), sha384, sha512
 *     passphrase_file: /etc/drvkit/pass # optional
 *   components:                         # at least one
 *     - name: example
 *       source: { dir: /opt/drvkit/modules/$KVER }  # $KVER = kernel release
 *       modules:                        # load order hint; depends= still wins
 *         - name: dktest_export
 *         - name: dktest_params
 *           params: { count: 7, label: hello }
 *       replaces: [ mlx5_ib, mlx5_core ] # in-tree modules unloaded first (users first)
 *       restore: true                   # reload replaced in-tree modules on exit
 *                                       # (a failed start always reloads them)
 *
 * Errors name file:line:column and the key path, e.g.
 *   config.yaml:12:5: components[0].modules[1].params: expected a mapping of name: value
 */

struct dk_config_param {
	char *name;
	char *value;
};

struct dk_config_module {
	char *name;
	struct dk_config_param *params;
	size_t n_params;
	int line; /* 1-based line of the entry, for later messages */
};

struct dk_config_component {
	char *name;
	char *source_dir; /* may contain $KVER */
	struct dk_config_module *modules;
	size_t n_modules;
	char **replaces;
	size_t n_replaces;
	bool restore;
};

struct dk_config_signing {
	char *key;
	char *cert;
	char *hash;
	char *passphrase_file;
};

struct dk_config {
	char *path;
	char *state_dir;
	char *ready_file;
	char *termination_log;
	char *host_root;
	char *kernel;
	int grace_period;
	bool unload_other_versions;
	char **protected_modules; /* added to the built-in protect list */
	size_t n_protected;
	char *firmware_path;
	struct dk_config_signing *signing; /* NULL when not configured */
	struct dk_config_component *components;
	size_t n_components;
};

/* Parses a config file. Errors: EBADMSG with "file:line:col: key: problem", or the
 * errno of opening the file. */
int dk_config_load(const char *path, struct dk_config **out, struct dk_error **err);
/* Same from memory; name is used in messages. */
int dk_config_parse(const char *name, const char *data, size_t len,
		    struct dk_config **out, struct dk_error **err);
void dk_config_free(struct dk_config *cfg);
DK_DEFINE_CLEANUP(struct dk_config *, dk_config_free)
#define _cleanup_config_ __attribute__((cleanup(dk_dk_config_freep)))

/* Module parameters file for `drvkit load --params-file`: a YAML mapping
 * `module: { name: value, ... }`. Returns the modules with their params. */
int dk_params_load(const char *path, struct dk_config_module **out, size_t *n,
		   struct dk_error **err);
void dk_params_free(struct dk_config_module *mods, size_t n);

/* "k=v k2=v2" for the kernel (values with spaces quoted); NULL on OOM. */
char *dk_params_string(const struct dk_config_param *params, size_t n);
