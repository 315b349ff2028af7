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
 *                                       # (default <driver_root>/lib/firmware)
 *   driver_root: /run/nvidia/driver     # optional: the container's root bound there
 *                                       # (rbind) for the NVIDIA container toolkit
 *   driver_root_source: /               # what is bound there (default /)
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
 *       share_headers: /run/mellanox/drivers/usr/src  # optional: after the load,
 *                                       # <dir>/ofa_kernel/<arch>/<kernel>/{include,
 *                                       # Module.symvers} for builds in other containers
 *       devices: [ /dev/dktest* ]       # device nodes of its modules, besides those
 *                                       # the kernel maps to them: the processes that
 *                                       # keep them open are named when an unload is
 *                                       # blocked (built in: /dev/nvidia*,
 *                                       # /dev/infiniband/ *)
 *   daemons:                            # optional: started after the modules load
 *     - name: nvidia-persistenced       # supervised; the ready file waits for them
 *       argv: [ nvidia-persistenced, --persistence-mode ]  # never a shell
 *       env: [ NAME=value ]             # the whole environment (PATH added if absent)
 *       user: nvidia-persistenced       # a name, or uid:gid (default: ours)
 *       ready: { file: /run/x.pid }     # or command: [argv], unix: PATH, tcp: HOST:PORT
 *       required: true                  # its readiness gates the ready file
 *       restart: { policy: on-failure, initial: 1s, max: 1m }  # always|on-failure|never
 *       stop: { signal: SIGTERM, timeout: 10s }
 *       when: { path_not_empty: /proc/driver/nvidia-nvswitch/devices }  # host paths
 *   daemon_stop_order: [ nv-fabricmanager ]  # stopped first; the rest in reverse start
 *   validation: { command: [ nvidia-smi ], timeout: 30s, interval: 5s }
 *   daemons_status_file: /run/nvidia/validations/.driver-daemons-status
 *
 * Errors name file:line:column and the key path, e.g.
 *   config.yaml:12:5: components[0].modules[1].params: expected a mapping of name: value
 */

/* Limits of a config (and params file), so that every check and the plan stay cheap:
 * components, modules of all components together, params of one module. */
#define DK_CONFIG_MAX_COMPONENTS 64
#define DK_CONFIG_MAX_MODULES 512
#define DK_CONFIG_MAX_PARAMS 256
/* A module name is [A-Za-z0-9_-], shorter than this (the kernel's MODULE_NAME_LEN). */
#define DK_MODULE_NAME_MAX 56

/* Whether s is a module name (config, params file, state file). */
bool dk_module_name_ok(const char *s);
/* Whether s can be a kernel release (uname -r): no '/', "..", spaces or control
 * characters, at most 64 characters; it names paths under /lib/modules. */
bool dk_kernel_release_ok(const char *s);

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

/* Where a component's source tree comes from (build:, or a flavor's override). */
struct dk_config_tree {
	char *src;    /* a directory (absolute, or relative to the config file) */
	char *url;    /* a tarball, or a .deb/.rpm holding one (member) */
	char *sha256; /* of what url serves: required with url */
	char *member; /* glob of the tarball inside a .deb/.rpm */
	char *subdir; /* the directory below the tree's top that make runs in */
};

/* The placeholders of build.make, in this order (kbuild fills them). */
#define DK_MAKE_PLACEHOLDERS                                                 \
	{                                                                    \
		"kernel", "build_dir", "src", "jobs", "out", "uses_symvers", \
			"uses_include"                                       \
	}
#define DK_MAKE_N_PLACEHOLDERS 7

/* The steps of `get:`, tried in order. */
enum dk_get_step {
	DK_GET_CACHE,
	DK_GET_PRECOMPILED,
	DK_GET_BUILD,
};
#define DK_GET_MAX 3

struct dk_config_build {
	struct dk_config_tree tree;
	char *flavor; /* NULL, "open", "proprietary" or "auto" (NVIDIA) */
	struct dk_config_tree *open, *proprietary; /* per-flavor overrides of tree */
	char **configure; /* argv run in the tree before make (same placeholders); NULL */
	size_t n_configure;
	char **make; /* argv with {kernel} {build_dir} {src} {jobs} {out}; NULL: kbuild */
	size_t n_make;
	char **env; /* NAME=value, the build's whole environment besides drvkit's own */
	size_t n_env;
	char **uses; /* components whose Module.symvers and include dirs this one uses */
	size_t n_uses;
	char **uses_paths; /* uses: { path: DIR }: providers built elsewhere (DIR holds
			    * Module.symvers and include/, as share_headers: lays out) */
	size_t n_uses_paths;
	char **after; /* components built (and loaded) before this one */
	size_t n_after;
	char **patches; /* absolute paths, applied in order with -p1 */
	size_t n_patches;
	char **exports; /* tree paths kept for consumers (default: include) */
	size_t n_exports;
	bool allow_compiler_mismatch;
	int line;
};

struct dk_config_precompiled {
	char *url; /* template: {kernel} {component} {version} {arch} {os} {os_version} */
	char *cert; /* every module must verify against it; NULL: digests only */
};

struct dk_config_component {
	char *name;
	char *version;	  /* optional: the driver version ({version}, manifests) */
	char *source_dir; /* may contain $KVER; NULL for build/precompiled sources */
	struct dk_config_build *build;		   /* NULL: no build from source */
	struct dk_config_precompiled *precompiled; /* NULL: no precompiled packages */
	enum dk_get_step get[DK_GET_MAX];
	size_t n_get;
	int line;
	struct dk_config_module *modules;
	size_t n_modules;
	char **replaces;
	size_t n_replaces;
	bool restore;
	char *share_headers; /* NULL, or where init shares include/ and Module.symvers:
			      * <dir>/ofa_kernel/<arch>/<kernel>/ (+ default link) */
	char **devices;	     /* globs of device node paths (host/procs.h) */
	size_t n_devices;
};

struct dk_config_signing {
	char *key;
	char *cert;
	char *hash;
	char *passphrase_file;
};

/* How a daemon tells it is ready (config-daemons.c). */
enum dk_ready_kind {
	DK_READY_STARTED, /* no ready: key: ready once it runs */
	DK_READY_COMMAND, /* argv exits 0 */
	DK_READY_FILE,	  /* path exists (in our root) */
	DK_READY_UNIX,	  /* a unix stream socket at path accepts */
	DK_READY_TCP,	  /* host:port accepts */
};

enum dk_restart_policy {
	DK_RESTART_ALWAYS,     /* the default */
	DK_RESTART_ON_FAILURE, /* not after exit status 0 */
	DK_RESTART_NEVER,
};

struct dk_config_ready {
	enum dk_ready_kind kind;
	char **argv; /* COMMAND */
	size_t n_argv;
	char *path; /* FILE, UNIX */
	char *host; /* TCP */
	int port;
	int interval_ms; /* between checks (default 1 s) */
	int timeout_ms;	 /* one check (a command, a connect; default 10 s) */
};

/* A condition on the host (read under host_root): the daemon runs only when it holds. */
struct dk_config_when {
	char *path_exists;
	char *path_not_empty; /* a directory with an entry, or a file with a byte */
};

struct dk_config_daemon {
	char *name;
	char **argv;
	size_t n_argv;
	char **env; /* NAME=value */
	size_t n_env;
	char *user; /* a user name, or NULL with uid/gid when has_ids */
	bool has_ids;
	unsigned uid, gid;
	struct dk_config_ready ready;
	bool required;
	enum dk_restart_policy restart;
	int backoff_initial_ms, backoff_max_ms;
	int stop_signal;
	int stop_timeout_ms;
	struct dk_config_when when;
	int line;
};

struct dk_config_validation {
	char **argv;
	size_t n_argv;
	int timeout_ms;	 /* one run (default 60 s) */
	int interval_ms; /* between failed runs (default 5 s) */
};

#define DK_CONFIG_MAX_DAEMONS 32

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
	char *driver_root;		   /* NULL: none; never "/" */
	char *driver_root_source;	   /* default "/" */
	char *cache_dir;		   /* default /var/cache/drvkit */
	struct dk_config_signing *signing; /* NULL when not configured */
	struct dk_config_component *components;
	size_t n_components;
	struct dk_config_daemon *daemons; /* in start order */
	size_t n_daemons;
	char **daemon_stop_order; /* names stopped first, in this order */
	size_t n_daemon_stop_order;
	struct dk_config_validation *validation; /* NULL: none */
	char *daemons_status_file;		 /* NULL: none */
};

struct dk_yaml_walk;
struct dk_yaml_node;
/* config-daemons.c: the daemons:, daemon_stop_order: and validation: keys. */
int dk_config_set_daemons(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			  const char *key, void *cfg);
int dk_config_set_daemon_stop_order(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
				    const char *key, void *cfg);
int dk_config_set_validation(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			     const char *key, void *cfg);
/* The rules across keys (daemon_stop_order names daemons), once the walk is done. */
int dk_config_check_daemons(struct dk_yaml_walk *w, const struct dk_config *cfg,
			    const struct dk_yaml_node *root);
void dk_config_daemons_release(struct dk_config *cfg);
const char *dk_restart_policy_str(enum dk_restart_policy p);

/* source.c: the source: mapping of a component (dir, or build/precompiled/get). */
struct dk_yaml_walk;
struct dk_yaml_node;
int dk_config_set_source(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, void *component);
/* The cross-component rules of build sources (uses/after name components that
 * exist, no cycles); called once every component is read. comps is the components
 * list node (key): messages point at the uses/after item at fault. */
int dk_config_check_sources(struct dk_yaml_walk *w, const struct dk_config *cfg,
			    const struct dk_yaml_node *comps, const char *key);
void dk_config_component_release_source(struct dk_config_component *c);
const char *dk_get_step_name(enum dk_get_step s);
/* The component named name, or NULL. */
const struct dk_config_component *dk_config_component_find(const struct dk_config *cfg,
							   const char *name);

/* Parses a config file. Errors: EBADMSG with "file:line:col: key: problem", EFBIG
 * over DK_YAML_MAX_BYTES (the limit named), or the errno of opening the file. */
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
