/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Who keeps a module in use besides other modules: the processes that have its
 * device nodes open, found through <procfs>/PID/fd (a container with hostPID sees
 * every process of the node), with their command and, from <procfs>/PID/cgroup, the
 * Kubernetes pod and container. The one /proc scanner. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"
#include "shared/strbuf.h"

/* A process with device nodes of a module open. */
struct dk_proc_user {
	int pid;
	char *comm;	    /* <procfs>/PID/comm, control characters as '?' */
	char *cmdline;	    /* the arguments joined by spaces, at most 160 bytes, or "" */
	char *pod_uid;	    /* NULL outside a Kubernetes pod */
	char *container_id; /* NULL when the cgroup names none */
	char **paths;	    /* the device nodes it has open, as it names them */
	size_t n_paths;
};

/* What to look for: the device nodes of module, and the paths matching globs (fnmatch
 * with FNM_PATHNAME: "/dev/nvidia*", or "/dev/infiniband/" and a star). A device node
 * belongs to the module when <sysfs>/dev/{char,block}/MAJ:MIN/device/driver/module names
 * it, when <procfs>/devices names its major after it ("nvidia-uvm" is nvidia_uvm's,
 * "nvidia-frontend" is nvidia's: a longer name that is no module of its own), or when
 * its sysfs device is named after it (a misc device such as /dev/kvm). */
struct dk_proc_target {
	const char *module;
	const char *const *globs;
	size_t n_globs;
	struct dk_proc_user *users; /* out, by pid */
	size_t n_users;
};

/* The built-in device globs of a module family (NULL-terminated, empty when none):
 * nvidia*: /dev/nvidia*, /dev/nvidia-caps/ *; the RDMA stack (mlx*, ib_*, rdma_*,
 * iw_*, ...): /dev/infiniband/ *. */
const char *const *dk_proc_default_globs(const char *module);

/* Scans every <procfs>/PID/fd once for all n targets (built-in globs included) and
 * fills their users. Processes that vanish or cannot be read are skipped; *unreadable
 * (may be NULL) counts those that could not be read for another reason than exiting
 * (EACCES: not root). Returns 0, -ENOMEM, or -errno when procfs cannot be read (the
 * targets then have no users). Release with dk_proc_target_release(). */
int dk_procs_scan(const char *procfs, const char *sysfs, struct dk_proc_target *t,
		  size_t n, size_t *unreadable) _must_check_;
void dk_proc_target_release(struct dk_proc_target *t);

/* The pod UID and container ID of a <procfs>/PID/cgroup text (cgroup v1 and v2, the
 * systemd and cgroupfs drivers: ".../kubepods-burstable-pod<uid>.slice/
 * cri-containerd-<id>.scope", ".../kubepods/burstable/pod<uid>/<id>", crio-<id>,
 * docker-<id>). Returns 1 when a pod was found, 0 when not (both NULL), -ENOMEM. */
int dk_cgroup_kube(const char *text, char **pod_uid, char **container_id) _must_check_;

/* Appends "pid 4242 nvidia-smi (nvidia-smi -q) pod UID container ID12: /dev/nvidia0,
 * /dev/nvidiactl; pid ...": users while the text stays within max bytes, then "; and N
 * more" (at least one user is named). */
void dk_proc_users_describe(struct strbuf *b, const struct dk_proc_user *u, size_t n,
			    size_t max);
