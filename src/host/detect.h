/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Everything a driver init decides from: kernel, OS, Driver Toolkit, kernel
 * headers, module-loading policy, PCI devices, loaded modules. Read-only; every
 * path is taken relative to the roots in struct dk_ctx so tests and containers
 * can point them at a fixture or a mounted host. Missing or unreadable sources
 * never fail the run: they leave the fact unknown with a reason. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/macro.h"

#include "base/ctx.h"
#include "base/error.h"
#include "host/gcc.h"
#include "host/headers.h" /* dk_suse_headers_path */
#include "host/kparse.h"
#include "host/modules.h"
#include "host/osrelease.h"
#include "host/pci.h"
#include "host/policy.h"

/* One answer. value NULL means unknown, and then reason says why. A known value
 * may carry a reason too, as an explanation. source is where it came from (a
 * path, "--kernel", "uname(2)"), or NULL. */
struct dk_fact {
	char *value;
	char *source;
	char *reason;
};

struct dk_detect_kernel {
	struct dk_fact release;
	struct dk_fact arch;
	struct dk_fact built_cc;    /* value: version of the compiler in /proc/version */
	struct dk_cc_info built_by; /* name/version/text, when built_cc is known */
	struct dk_gcc *gcc;	    /* gcc and gcc-N found on PATH */
	size_t n_gcc;
	const char *gcc_matching; /* path in gcc[] whose version equals the built one */
};

struct dk_detect_os {
	char *source; /* the os-release file read (or tried last) */
	char *reason; /* why it could not be read; NULL when read */
	struct dk_osrelease osr;
};

enum dk_tri { DK_TRI_UNKNOWN, DK_TRI_NO, DK_TRI_YES };

struct dk_detect_dtk {
	bool present;
	char *source;
	char *reason; /* unreadable or malformed; NULL when parsed or simply absent */
	struct dk_dtk_release rel;
	enum dk_tri broken; /* yes when KERNEL_VERSION (and RT) != kernel release */
	char *broken_reason;
};

struct dk_header_dir {
	const char *kind; /* "build", "source", "debian", "rhel", "suse" */
	char *path;	  /* as seen on the host, e.g. /lib/modules/KVER/build */
	char *resolved;	  /* where it was looked for, under the host root */
	bool exists;
	char *reason; /* why it does not exist or could not be resolved */
	char *uts_release;
	enum dk_tri uts_matches;
	char *uts_reason;
	bool has_config;
	bool has_symvers;
	char *config_gcc_version;     /* CONFIG_GCC_VERSION, e.g. "120200" */
	char *config_cc_version_text; /* CONFIG_CC_VERSION_TEXT */
};

struct dk_detect_headers {
	struct dk_header_dir *dirs;
	size_t n;
	int selected; /* first usable candidate (see dk_headers_probe), or -1 */
};

struct dk_detect_nvidia {
	char *source;
	char *reason; /* why flavour/version are unknown */
	struct dk_nvidia_version ver;
};

struct dk_detect {
	struct dk_detect_kernel kernel;
	struct dk_detect_os os;
	struct dk_detect_dtk dtk;
	struct dk_detect_headers headers;
	struct dk_kernel_policy policy;
	struct dk_detect_devices devices;
	struct dk_detect_modules modules;
	struct dk_detect_nvidia nvidia;
};

/* Fills *out. Fails only for out-of-memory (-ENOMEM with *err set); every other
 * problem is recorded in *out as an unknown with its reason. Free with
 * dk_detect_free() also after a failure. */
int dk_detect_run(const struct dk_ctx *ctx, struct dk_detect *out,
		  struct dk_error **err) _must_check_;
void dk_detect_free(struct dk_detect *d);

const char *dk_tri_name(enum dk_tri t);
