/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* NVIDIA and Mellanox PCI functions under <sysfs>/bus/pci/devices. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

struct dk_pci_dev {
	char *address; /* 0000:3b:00.0 */
	unsigned vendor, device, class_code;
	const char *kind; /* "gpu", "nvswitch", "nvidia", "mellanox" */
	char *driver;	  /* bound driver or NULL */
	bool numa_known;
	int numa_node; /* -1: no NUMA affinity */
};

struct dk_detect_devices {
	char *source;
	char *reason;
	struct dk_pci_dev *v; /* sorted by address */
	size_t n;
};

/* The functions of interest under <sysfs>/bus/pci/devices. An unreadable
 * directory is no error: out->reason says why. Returns 0 or -ENOMEM; free with
 * dk_pci_devices_free() in both cases. */
int dk_pci_devices_read(const char *sysfs, struct dk_detect_devices *out) _must_check_;
void dk_pci_devices_free(struct dk_detect_devices *dv);
