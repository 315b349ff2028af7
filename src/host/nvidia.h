/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Which NVIDIA kernel modules fit the GPUs of a node: the open ones (Turing and
 * newer only; the only ones for Blackwell and Grace Hopper) or the proprietary ones
 * (Maxwell to Ada and Hopper). Pure: works on what host/pci.h read. */

#include <stdbool.h>

#include "shared/macro.h"

#include "host/pci.h"

enum dk_nv_flavor { DK_NV_AUTO, DK_NV_OPEN, DK_NV_PROPRIETARY };

/* "auto", "open", "proprietary". */
const char *dk_nv_flavor_name(enum dk_nv_flavor f);
/* The inverse of dk_nv_flavor_name(). Returns 0 or -EINVAL. */
int dk_nv_flavor_parse(const char *s, enum dk_nv_flavor *out) _must_check_;

/* The architecture of an NVIDIA GPU from its PCI device id ("Kepler", "Maxwell",
 * "Pascal", "Volta", "Turing", "Ampere", "Ada", "Hopper", "Blackwell"), "unknown"
 * for an id in no range drvkit knows. *turing_or_newer (may be NULL) is also set
 * for an unknown id: NVIDIA has numbered its GPUs upwards since Turing (0x1e00),
 * so an unknown id at or past 0x1e00 is taken as a newer GPU, one below as older. */
const char *dk_nv_arch(unsigned device_id, bool *turing_or_newer);

/* want, unless it is DK_NV_AUTO: then open when devs holds NVIDIA GPUs (kind "gpu")
 * and every one is Turing or newer, proprietary otherwise -- NVIDIA's own rule,
 * mixed nodes included. With no NVIDIA GPU in sight (a build machine, or sysfs
 * unreadable) it is proprietary: those modules drive every GPU from Maxwell to
 * Hopper, while the open ones would leave any older GPU undriven. devs may be NULL.
 * *why (may be NULL; NULL on OOM) gets a sentence naming the devices and their
 * architectures, e.g. "open: every NVIDIA GPU is Turing or newer (0000:3b:00.0
 * 10de:2330 Hopper)", and for an explicit want the GPUs it does not drive. */
enum dk_nv_flavor dk_nv_flavor_pick(const struct dk_detect_devices *devs,
				    enum dk_nv_flavor want, char **why);
