/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Which kernel modules serve each mounted filesystem: what a storage-safety check needs
 * before modules are unloaded (init/storage.c decides; this file only reads). From
 * mountinfo (host/mountinfo.h) and sysfs:
 *   - a block device (<sysfs>/dev/block/MAJ:MIN, followed through slaves/ for dm and md):
 *     NVMe over Fabrics (a controller's transport file: "rdma" -> nvme_rdma), a SCSI
 * host's proc_name (iSER's "iscsi_iser" -> ib_iser, "ib_srp"), the driver of each device
 * up the path (driver/module: virtio_blk, nvme, sd_mod...);
 *   - NFS with proto=rdma / rdma6 (rpcrdma, xprtrdma on old kernels);
 *   - SMB (cifs, smb3) with the rdma option: SMB Direct in cifs. */

#include <stddef.h>

#include "shared/macro.h"

#include "base/error.h"

struct dk_storage_dep {
	char *module; /* "nvme_rdma" */
	char *via;    /* how: "NVMe over Fabrics, transport rdma (nvme0)" */
};

struct dk_storage_mount {
	char *target, *source, *fstype;
	struct dk_storage_dep *deps;
	size_t n_deps;
};

struct dk_storage {
	char *mountinfo;	    /* the file read */
	char *note;		    /* why not the host's (pid 1) mounts, or NULL */
	struct dk_storage_mount *v; /* only mounts that need some module */
	size_t n;
};

/* Reads <procfs>/1/mountinfo (the host's mounts with hostPID), else
 * <procfs>/self/mountinfo (out->note says why), and for each mount the modules that
 * serve it. Errors: ENOMEM, or the errno of reading both mountinfo files (*err names
 * them). out is released on error. */
int dk_storage_read(const char *procfs, const char *sysfs, struct dk_storage *out,
		    struct dk_error **err) _must_check_;
void dk_storage_release(struct dk_storage *s);
