/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "host/kconfig.h" /* dk_kconfig_find */
#include "kmod/modfile.h"
#include "kmod/symvers.h"

/* What a kernel's headers tree says about the modules it accepts. */
struct dk_kernel {
	char *headers;	     /* the tree, symlinks resolved */
	char *release;	     /* UTS_RELEASE */
	char *vermagic;	     /* as include/linux/vermagic.h builds it */
	bool vermagic_exact; /* false when the arch or randstruct part is unknown */
	bool modversions;    /* CONFIG_MODVERSIONS */
	bool force_load;     /* CONFIG_MODULE_FORCE_LOAD */
	unsigned machine;    /* EM_* for the kernel's arch, 0 when unknown */
	struct dk_symvers *symvers;
};

/* Finds the headers of kver under host_root: the build_dir of dk_headers_scan() (every
 * place, symlinks resolved inside host_root). -ENOENT with a message saying where it
 * looked, why each existing tree was rejected and what to install. */
int dk_kernel_find_headers(const char *host_root, const char *kver, char **dir,
			   struct dk_error **err) _must_check_ _nonnull_(2, 3);
/* Reads Module.symvers, .config and include/generated/utsrelease.h from dir. */
int dk_kernel_open(const char *dir, struct dk_kernel **out,
		   struct dk_error **err) _must_check_ _nonnull_(1, 2);
void dk_kernel_free(struct dk_kernel *k);
static inline void dk_kernel_freep(struct dk_kernel **k)
{
	dk_kernel_free(*k);
}
#define _cleanup_kernel_ __attribute__((cleanup(dk_kernel_freep)))

/* The vermagic string for release and a .config text. randstruct_seed is
 * RANDSTRUCT_HASHED_SEED (NULL when unknown). Sets *exact false when a part could not
 * be computed (unknown arch, missing seed). NULL on OOM. */
char *dk_vermagic_compute(const char *release, const char *config,
			  const char *randstruct_seed, bool *exact, unsigned *machine);

enum dk_issue_kind {
	DK_ISSUE_MACHINE,   /* ELF machine differs from the kernel's arch */
	DK_ISSUE_VERMAGIC,  /* vermagic flags (or the release, without modversions) */
	DK_ISSUE_RELEASE,   /* release differs; modversions makes the kernel ignore it */
	DK_ISSUE_CRC,	    /* __versions CRC differs from the export's */
	DK_ISSUE_MISSING,   /* an undefined symbol nobody exports */
	DK_ISSUE_GPL,	    /* a GPL-only symbol used by a non-GPL module */
	DK_ISSUE_VERSIONS,  /* no __versions while the kernel wants them */
	DK_ISSUE_UNCHECKED, /* something could not be checked */
};

struct dk_check_issue {
	enum dk_issue_kind kind;
	bool fatal;	     /* false: a note, the module may still fit */
	char *symbol;	     /* for CRC/MISSING/GPL, else NULL */
	uint64_t module_crc; /* DK_ISSUE_CRC */
	uint32_t kernel_crc; /* DK_ISSUE_CRC */
	char *provider;	     /* DK_ISSUE_CRC: who exports the symbol */
	char *message;	     /* human text, no module prefix */
};

struct dk_check_result {
	const struct dk_modfile *mod;
	bool fits;
	struct dk_check_issue *issues;
	size_t n_issues;
};

/* Fits each module to k. Modules in mods count as providers of their exports for
 * each other. *out has n entries. */
int dk_check_modules(const struct dk_kernel *k, struct dk_modfile *const *mods, size_t n,
		     struct dk_check_result **out, struct dk_error **err) _must_check_;
void dk_check_results_free(struct dk_check_result *r, size_t n);
const char *dk_issue_kind_name(enum dk_issue_kind kind);

/* Whether mod was built against the exports of the modules in prov (a consumer and
 * the providers loaded with it, e.g. a peer-memory module and OFED): the number of
 * __versions CRCs that differ from a provider's export, with *why (may be NULL)
 * naming the first few: symbol, provider and both CRCs. The kernel would refuse
 * such a module with "disagrees about version of symbol". */
int dk_check_providers(const struct dk_modfile *mod, struct dk_modfile *const *prov,
		       size_t n, char **why);
