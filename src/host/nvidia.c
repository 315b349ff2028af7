/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/strbuf.h"

#include "host/nvidia.h"

#define PCI_VENDOR_NVIDIA 0x10de
#define TURING_FIRST_ID 0x1e00

/* GPU device-id ranges by architecture. NVIDIA gives each chip a block of ids
 * (envytools' PCI id database: GK107 0x0fc0-0x0fff, ..., GM107 0x1380-0x13bf), and
 * pci.ids names the chip of every id allocated since (GP102 0x1b00, GV100 0x1db0,
 * TU102 0x1e02, GA100 0x20b0, GH100 0x2330, AD102 0x2684, GB100 0x2901, GB202
 * 0x2b85, GB110 0x3182); a block runs to the next chip's. Audio, USB and NVSwitch
 * functions share the numbering but are not "gpu" (class 0x03) functions. */
struct arch_range {
	unsigned lo, hi;
	const char *arch;
	/* Only the open modules drive it: Blackwell, and Grace Hopper (GH200), which
	 * NVIDIA supports with the open modules alone. */
	bool open_only;
};

static const struct arch_range ranges[] = {
	{0x0fc0, 0x103f, "Kepler", false},   /* GK107, GK110 */
	{0x1180, 0x11ff, "Kepler", false},   /* GK104, GK106 */
	{0x1280, 0x12bf, "Kepler", false},   /* GK208 */
	{0x1340, 0x143f, "Maxwell", false},  /* GM108, GM107, GM204, GM206 */
	{0x15c0, 0x15ff, "Pascal", false},   /* GP100 */
	{0x1600, 0x16ff, "Maxwell", false},  /* GM204 mobile, later ids */
	{0x1720, 0x173f, "Pascal", false},   /* GP100, later ids */
	{0x1740, 0x17ff, "Maxwell", false},  /* GM108/GM107 later ids, GM200 */
	{0x1b00, 0x1d7f, "Pascal", false},   /* GP102, GP104, GP106, GP107, GP108 */
	{0x1d80, 0x1dff, "Volta", false},    /* GV100 */
	{0x1e00, 0x1fff, "Turing", false},   /* TU102, TU104, TU106, TU117 */
	{0x2080, 0x20ff, "Ampere", false},   /* GA100 */
	{0x2180, 0x21ff, "Turing", false},   /* TU116 */
	{0x2200, 0x223f, "Ampere", false},   /* GA102 */
	{0x2342, 0x2342, "Hopper", true},    /* GH200 */
	{0x2348, 0x2348, "Hopper", true},    /* GH200 144G */
	{0x2300, 0x23ff, "Hopper", false},   /* GH100 */
	{0x2400, 0x25ff, "Ampere", false},   /* GA103, GA104, GA106, GA107 */
	{0x2680, 0x28ff, "Ada", false},	     /* AD102, AD103, AD104, AD106, AD107 */
	{0x2900, 0x29ff, "Blackwell", true}, /* GB100, GB102 */
	{0x2b00, 0x2fff, "Blackwell", true}, /* GB10B, GB202..GB207, GB20B, GB205 */
	{0x3180, 0x33ff, "Blackwell", true}, /* GB110 (B300), GB112, GB120 */
};

static const struct arch_range *arch_of(unsigned id)
{
	for (size_t i = 0; i < ARRAY_SIZE(ranges); i++)
		if (id >= ranges[i].lo && id <= ranges[i].hi)
			return &ranges[i];
	return NULL;
}

const char *dk_nv_arch(unsigned device_id, bool *turing_or_newer)
{
	const struct arch_range *r = arch_of(device_id);

	if (turing_or_newer)
		*turing_or_newer = device_id >= TURING_FIRST_ID;
	return r ? r->arch : "unknown";
}

static const char *const names[] = {
	[DK_NV_AUTO] = "auto",
	[DK_NV_OPEN] = "open",
	[DK_NV_PROPRIETARY] = "proprietary",
};

const char *dk_nv_flavor_name(enum dk_nv_flavor f)
{
	return (unsigned)f < ARRAY_SIZE(names) ? names[f] : "invalid";
}

int dk_nv_flavor_parse(const char *s, enum dk_nv_flavor *out)
{
	for (size_t i = 0; s && i < ARRAY_SIZE(names); i++)
		if (streq(s, names[i])) {
			*out = (enum dk_nv_flavor)i;
			return 0;
		}
	return -EINVAL;
}

static bool is_nv_gpu(const struct dk_pci_dev *p)
{
	return p->vendor == PCI_VENDOR_NVIDIA && p->kind && streq(p->kind, "gpu");
}

/* Which GPUs a list names. */
enum which { ALL, OLD, OPEN_ONLY };

static bool selected(const struct dk_pci_dev *p, enum which w)
{
	const struct arch_range *r = arch_of(p->device);

	if (!is_nv_gpu(p))
		return false;
	if (w == OLD)
		return p->device < TURING_FIRST_ID;
	if (w == OPEN_ONLY)
		return r && r->open_only;
	return true;
}

static size_t count(const struct dk_detect_devices *devs, enum which w)
{
	size_t n = 0;

	for (size_t i = 0; devs && i < devs->n; i++)
		n += selected(&devs->v[i], w);
	return n;
}

/* "0000:00:05.0 10de:1db4 Volta, ..." (verb: " is" between id and architecture). */
static void put_gpus(struct strbuf *b, const struct dk_detect_devices *devs, enum which w,
		     const char *verb)
{
	bool first = true;

	for (size_t i = 0; devs && i < devs->n; i++) {
		const struct dk_pci_dev *p = &devs->v[i];
		const char *arch;

		if (!selected(p, w))
			continue;
		arch = dk_nv_arch(p->device, NULL);
		strbuf_printf(b, "%s%s %04x:%04x%s %s", first ? "" : ", ", p->address,
			      p->vendor, p->device, verb, arch);
		if (streq(arch, "unknown"))
			strbuf_printf(b, " (device id %s Turing's first, 0x%04x)",
				      p->device < TURING_FIRST_ID ? "before" : "after",
				      TURING_FIRST_ID);
		first = false;
	}
}

static enum dk_nv_flavor pick_auto(const struct dk_detect_devices *devs, struct strbuf *b)
{
	size_t n_open_only;

	if (count(devs, ALL) == 0) {
		strbuf_puts(b, "proprietary: no NVIDIA GPU found");
		if (devs && devs->reason)
			strbuf_printf(b, " (%s)", devs->reason);
		strbuf_puts(b,
			    "; the proprietary modules drive every GPU from Maxwell to "
			    "Hopper, the open ones only Turing and newer");
		return DK_NV_PROPRIETARY;
	}
	if (count(devs, OLD) == 0) {
		strbuf_puts(b, "open: every NVIDIA GPU is Turing or newer (");
		put_gpus(b, devs, ALL, "");
		strbuf_putc(b, ')');
		return DK_NV_OPEN;
	}
	strbuf_puts(b, "proprietary: ");
	put_gpus(b, devs, OLD, " is");
	strbuf_puts(b, " (open kernel modules need Turing or newer)");
	n_open_only = count(devs, OPEN_ONLY);
	if (n_open_only > 0) {
		strbuf_puts(b, "; ");
		put_gpus(b, devs, OPEN_ONLY, "");
		strbuf_printf(b,
			      " %s only the open modules: no flavor drives every GPU of "
			      "this node",
			      n_open_only == 1 ? "takes" : "take");
	}
	return DK_NV_PROPRIETARY;
}

enum dk_nv_flavor dk_nv_flavor_pick(const struct dk_detect_devices *devs,
				    enum dk_nv_flavor want, char **why)
{
	_cleanup_strbuf_ struct strbuf b = {0};
	enum dk_nv_flavor got = want;

	if (want == DK_NV_OPEN) {
		strbuf_puts(&b, "open: as configured");
		if (count(devs, OLD) > 0) {
			strbuf_puts(&b, "; it does not drive ");
			put_gpus(&b, devs, OLD, "");
			strbuf_puts(&b, " (open kernel modules need Turing or newer)");
		}
	} else if (want == DK_NV_PROPRIETARY) {
		strbuf_puts(&b, "proprietary: as configured");
		if (count(devs, OPEN_ONLY) > 0) {
			strbuf_puts(&b, "; it does not drive ");
			put_gpus(&b, devs, OPEN_ONLY, "");
			strbuf_puts(&b, " (only the open modules do)");
		}
	} else {
		got = pick_auto(devs, &b);
	}
	if (why)
		*why = strbuf_steal(&b);
	return got;
}
