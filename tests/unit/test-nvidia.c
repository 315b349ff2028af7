/* SPDX-License-Identifier: Apache-2.0 */
/* NVIDIA architectures by PCI device id, and the flavor `auto` picks from them. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "host/nvidia.h"
#include "host/pci.h"

#include "tap.h"

static void test_arch(void)
{
	static const struct {
		unsigned id;
		const char *arch;
		bool turing;
	} cases[] = {
		{0x0100, "unknown", false},  /* NV10: long gone */
		{0x0fc6, "Kepler", false},   /* GK107 */
		{0x1180, "Kepler", false},   /* GTX 680 */
		{0x13bd, "Maxwell", false},  /* Tesla M10 */
		{0x13f2, "Maxwell", false},  /* Tesla M60 */
		{0x17fd, "Maxwell", false},  /* Tesla M40 */
		{0x1617, "Maxwell", false},  /* GM204M */
		{0x15f8, "Pascal", false},   /* Tesla P100 */
		{0x172f, "Pascal", false},   /* GP100 later id */
		{0x1b38, "Pascal", false},   /* Tesla P40 */
		{0x1d01, "Pascal", false},   /* GT 1030 */
		{0x1db4, "Volta", false},    /* Tesla V100 PCIe */
		{0x1df6, "Volta", false},    /* V100S */
		{0x1dff, "Volta", false},    /* the last id before Turing */
		{0x1e00, "Turing", true},    /* the first */
		{0x1eb8, "Turing", true},    /* Tesla T4 */
		{0x1ff2, "Turing", true},    /* T400 (TU117) */
		{0x2182, "Turing", true},    /* GTX 1660 Ti (TU116) */
		{0x20b0, "Ampere", true},    /* A100 SXM4 */
		{0x2236, "Ampere", true},    /* A10 */
		{0x25b6, "Ampere", true},    /* A16 / A2 */
		{0x2330, "Hopper", true},    /* H100 SXM5 */
		{0x2335, "Hopper", true},    /* H200 */
		{0x2342, "Hopper", true},    /* GH200 */
		{0x26b9, "Ada", true},	     /* L40S */
		{0x27b8, "Ada", true},	     /* L4 */
		{0x2901, "Blackwell", true}, /* B200 */
		{0x2b85, "Blackwell", true}, /* RTX 5090 */
		{0x31c2, "Blackwell", true}, /* GB300 */
		{0x3f00, "unknown", true},   /* not yet named: past Turing's first id */
		{0x2240, "unknown", true},   /* a gap between GA102 and the audio ids */
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		bool t = !cases[i].turing;

		is_str(dk_nv_arch(cases[i].id, &t), cases[i].arch, "0x%04x is %s",
		       cases[i].id, cases[i].arch);
		ok(t == cases[i].turing, "0x%04x Turing or newer: %s", cases[i].id,
		   cases[i].turing ? "yes" : "no");
	}
	is_str(dk_nv_arch(0x1eb8, NULL), "Turing", "turing_or_newer may be NULL");
}

static void test_names(void)
{
	enum dk_nv_flavor f = DK_NV_OPEN;

	is_int(dk_nv_flavor_parse("auto", &f), 0, "parse auto");
	is_int(f, DK_NV_AUTO, "auto");
	is_int(dk_nv_flavor_parse("open", &f), 0, "parse open");
	is_int(f, DK_NV_OPEN, "open");
	is_int(dk_nv_flavor_parse("proprietary", &f), 0, "parse proprietary");
	is_int(f, DK_NV_PROPRIETARY, "proprietary");
	is_int(dk_nv_flavor_parse("closed", &f), -EINVAL, "closed -> EINVAL");
	is_int(dk_nv_flavor_parse("Open", &f), -EINVAL, "case matters");
	is_int(dk_nv_flavor_parse(NULL, &f), -EINVAL, "NULL -> EINVAL");
	is_str(dk_nv_flavor_name(DK_NV_AUTO), "auto", "name auto");
	is_str(dk_nv_flavor_name(DK_NV_OPEN), "open", "name open");
	is_str(dk_nv_flavor_name(DK_NV_PROPRIETARY), "proprietary", "name proprietary");
	is_str(dk_nv_flavor_name((enum dk_nv_flavor)7), "invalid", "out of range");
}

#define GPU(addr, id)                                                          \
	{                                                                      \
		(char *)(addr), 0x10de, (id), 0x030200, "gpu", NULL, false, -1 \
	}

static struct dk_pci_dev h100x2[] = {GPU("0000:1b:00.0", 0x2330),
				     GPU("0000:9b:00.0", 0x2330)};
static struct dk_pci_dev v100[] = {GPU("0000:00:05.0", 0x1db4)};
static struct dk_pci_dev t4_p100[] = {GPU("0000:3b:00.0", 0x1eb8),
				      GPU("0000:5e:00.0", 0x15f8)};
static struct dk_pci_dev p40_b200[] = {GPU("0000:3b:00.0", 0x1b38),
				       GPU("0000:5e:00.0", 0x2901)};
static struct dk_pci_dev l4_future[] = {GPU("0000:01:00.0", 0x27b8),
					GPU("0000:02:00.0", 0x3f00)};
static struct dk_pci_dev old_unknown[] = {GPU("0000:01:00.0", 0x0a20)};
/* No GPU function: NVSwitch, an A100's NVSwitch id, a ConnectX. */
static struct dk_pci_dev no_gpu[] = {
	{(char *)"0000:c1:00.0", 0x10de, 0x22a3, 0x068000, "nvswitch", NULL, false, -1},
	{(char *)"0000:17:00.0", 0x15b3, 0x1021, 0x020700, "mellanox", NULL, false, -1},
};

#define DEVS(a)                                \
	{                                      \
		NULL, NULL, (a), ARRAY_SIZE(a) \
	}

static void test_pick(void)
{
	static const struct {
		const char *name;
		struct dk_detect_devices devs;
		enum dk_nv_flavor want, got;
		const char *why;
	} cases[] = {
		{"two H100", DEVS(h100x2), DK_NV_AUTO, DK_NV_OPEN,
		 "open: every NVIDIA GPU is Turing or newer (0000:1b:00.0 10de:2330 "
		 "Hopper, "
		 "0000:9b:00.0 10de:2330 Hopper)"},
		{"V100", DEVS(v100), DK_NV_AUTO, DK_NV_PROPRIETARY,
		 "proprietary: 0000:00:05.0 10de:1db4 is Volta (open kernel modules need "
		 "Turing or newer)"},
		{"T4 and P100", DEVS(t4_p100), DK_NV_AUTO, DK_NV_PROPRIETARY,
		 "proprietary: 0000:5e:00.0 10de:15f8 is Pascal (open kernel modules "
		 "need "
		 "Turing or newer)"},
		{"P40 and B200", DEVS(p40_b200), DK_NV_AUTO, DK_NV_PROPRIETARY,
		 "proprietary: 0000:3b:00.0 10de:1b38 is Pascal (open kernel modules "
		 "need "
		 "Turing or newer); 0000:5e:00.0 10de:2901 Blackwell takes only the open "
		 "modules: no flavor drives every GPU of this node"},
		{"L4 and an unnamed newer GPU", DEVS(l4_future), DK_NV_AUTO, DK_NV_OPEN,
		 "open: every NVIDIA GPU is Turing or newer (0000:01:00.0 10de:27b8 Ada, "
		 "0000:02:00.0 10de:3f00 unknown (device id after Turing's first, "
		 "0x1e00))"},
		{"an unnamed old GPU", DEVS(old_unknown), DK_NV_AUTO, DK_NV_PROPRIETARY,
		 "proprietary: 0000:01:00.0 10de:0a20 is unknown (device id before "
		 "Turing's "
		 "first, 0x1e00) (open kernel modules need Turing or newer)"},
		{"NVSwitch and ConnectX only", DEVS(no_gpu), DK_NV_AUTO,
		 DK_NV_PROPRIETARY,
		 "proprietary: no NVIDIA GPU found; the proprietary modules drive every "
		 "GPU "
		 "from Maxwell to Hopper, the open ones only Turing and newer"},
		{"unreadable sysfs",
		 {NULL, (char *)"/sys/bus/pci/devices: No such file or directory", NULL,
		  0},
		 DK_NV_AUTO,
		 DK_NV_PROPRIETARY,
		 "proprietary: no NVIDIA GPU found (/sys/bus/pci/devices: No such file "
		 "or "
		 "directory); the proprietary modules drive every GPU from Maxwell to "
		 "Hopper, the open ones only Turing and newer"},
		{"open asked, V100", DEVS(v100), DK_NV_OPEN, DK_NV_OPEN,
		 "open: as configured; it does not drive 0000:00:05.0 10de:1db4 Volta "
		 "(open "
		 "kernel modules need Turing or newer)"},
		{"open asked, H100", DEVS(h100x2), DK_NV_OPEN, DK_NV_OPEN,
		 "open: as configured"},
		{"proprietary asked, B200", DEVS(p40_b200), DK_NV_PROPRIETARY,
		 DK_NV_PROPRIETARY,
		 "proprietary: as configured; it does not drive 0000:5e:00.0 10de:2901 "
		 "Blackwell (only the open modules do)"},
		{"proprietary asked, H100", DEVS(h100x2), DK_NV_PROPRIETARY,
		 DK_NV_PROPRIETARY, "proprietary: as configured"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_free_ char *why = NULL;

		is_int(dk_nv_flavor_pick(&cases[i].devs, cases[i].want, &why),
		       cases[i].got, "%s: %s", cases[i].name,
		       dk_nv_flavor_name(cases[i].got));
		is_str(why, cases[i].why, "%s: why", cases[i].name);
	}
	is_int(dk_nv_flavor_pick(NULL, DK_NV_AUTO, NULL), DK_NV_PROPRIETARY,
	       "no device list, no why: proprietary");
}

/* The devices as host/pci.c reads them from a sysfs tree. */
static void pick_fixture(const char *fixtures, const char *root, enum dk_nv_flavor got,
			 const char *why_want)
{
	_cleanup_free_ char *sysfs = NULL, *why = NULL;
	struct dk_detect_devices devs;

	sysfs = dk_strdup_printf("%s/%s/sys", fixtures, root);
	if (!sysfs)
		return;
	is_int(dk_pci_devices_read(sysfs, &devs), 0, "%s: read PCI devices", root);
	is_int(dk_nv_flavor_pick(&devs, DK_NV_AUTO, &why), got, "%s: %s", root,
	       dk_nv_flavor_name(got));
	is_str(why, why_want, "%s: why", root);
	dk_pci_devices_free(&devs);
}

int main(void)
{
	const char *fixtures = getenv("DK_FIXTURES");

	test_arch();
	test_names();
	test_pick();
	if (fixtures) {
		pick_fixture(fixtures, "detect/ubuntu2204-gpu", DK_NV_OPEN,
			     "open: every NVIDIA GPU is Turing or newer (0000:1b:00.0 "
			     "10de:2330 Hopper, 0000:9b:00.0 10de:2330 Hopper)");
		pick_fixture(fixtures, "nvidia/mixed-v100-a100", DK_NV_PROPRIETARY,
			     "proprietary: 0000:00:05.0 10de:1db4 is Volta (open kernel "
			     "modules need Turing or newer)");
	} else {
		skip("DK_FIXTURES not set");
	}
	return tap_done();
}
