/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The kernel's module-loading policy, read once and typed: whether signatures are
 * enforced, lockdown, Secure Boot, whether modules can be unloaded, modversions.
 * detect renders it; init and the loader decide from it. Every answer says where
 * it came from (`source`, a path) and, when that alone does not explain it or
 * the answer is unknown, `why`. 0 is "unknown" in every enum here. */

#include <stdbool.h>

#include "shared/macro.h"

#include "base/ctx.h"
#include "base/error.h"
#include "host/kconfig.h"

enum dk_sig_enforce {
	DK_SIG_ENFORCE_UNKNOWN,
	DK_SIG_ENFORCE_NO,
	DK_SIG_ENFORCE_YES, /* unsigned or untrusted modules are refused */
};

enum dk_lockdown {
	DK_LOCKDOWN_UNKNOWN,
	DK_LOCKDOWN_NONE,
	DK_LOCKDOWN_INTEGRITY,
	DK_LOCKDOWN_CONFIDENTIALITY,
};

enum dk_secure_boot {
	DK_SECURE_BOOT_UNKNOWN,
	DK_SECURE_BOOT_NO, /* off, or not an EFI boot */
	DK_SECURE_BOOT_YES,
};

enum dk_module_unload {
	DK_MODULE_UNLOAD_UNKNOWN,
	DK_MODULE_UNLOAD_NO, /* built without CONFIG_MODULE_UNLOAD */
	DK_MODULE_UNLOAD_YES,
};

enum dk_modversions {
	DK_MODVERSIONS_UNKNOWN,
	DK_MODVERSIONS_NO,
	DK_MODVERSIONS_YES,
};

/* What kind of source an answer came from. */
enum dk_policy_from {
	DK_POLICY_FROM_NOTHING,
	DK_POLICY_FROM_SYSFS,	/* the running kernel: sysfs, securityfs, efivars */
	DK_POLICY_FROM_KCONFIG, /* the kernel config (host/kconfig.h) */
};

struct dk_kernel_policy {
	/* module.sig_enforce, else CONFIG_MODULE_SIG_FORCE / CONFIG_MODULE_SIG */
	struct {
		enum dk_sig_enforce value;
		enum dk_policy_from from;
		char *source, *why;
	} sig_enforce;
	/* <sysfs>/kernel/security/lockdown */
	struct {
		enum dk_lockdown value;
		enum dk_policy_from from;
		char *source, *why;
	} lockdown;
	/* <sysfs>/firmware/efi and its SecureBoot variable */
	struct {
		enum dk_secure_boot value;
		enum dk_policy_from from;
		char *source, *why;
	} secure_boot;
	/* loaded modules' refcnt files (the running kernel decides), and
	 * CONFIG_MODULE_UNLOAD (cited when it agrees, used when sysfs is silent) */
	struct {
		enum dk_module_unload value;
		enum dk_policy_from from;
		char *source, *why;
	} module_unload;
	/* CONFIG_MODVERSIONS */
	struct {
		enum dk_modversions value;
		enum dk_policy_from from;
		char *source, *why;
	} modversions;
};

/* Reads the policy of the running kernel, and the config of kver (NULL: no
 * /boot/config-KVER). Missing or unreadable sources are no error: they leave an
 * answer unknown, with why. Returns 0 or -ENOMEM (with *err); release *out with
 * dk_kernel_policy_release() in both cases. */
int dk_kernel_policy_read(const struct dk_ctx *ctx, const char *kver,
			  struct dk_kernel_policy *out,
			  struct dk_error **err) _must_check_;
/* The same, with more places for the kernel config (detect passes the kernel
 * headers' .config). */
int dk_kernel_policy_read_more(const struct dk_ctx *ctx, const char *kver,
			       const struct dk_kconfig_more *more,
			       struct dk_kernel_policy *out,
			       struct dk_error **err) _must_check_;
/* What loading and unloading depend on (sig_enforce, lockdown, module_unload), as the
 * running kernel shows it: the kernel config is read only where sysfs leaves an
 * answer unknown, and secure_boot and modversions stay unknown. init and load call
 * it on every start; detect, which explains each answer, reads everything. */
int dk_kernel_policy_read_running(const struct dk_ctx *ctx, const char *kver,
				  struct dk_kernel_policy *out,
				  struct dk_error **err) _must_check_;
void dk_kernel_policy_release(struct dk_kernel_policy *p);
#define _cleanup_kernel_policy_ _cleanup_(dk_kernel_policy_release)

/* "yes", "no", "unknown" ("none", "integrity", "confidentiality" for lockdown). */
const char *dk_sig_enforce_str(enum dk_sig_enforce v);
const char *dk_lockdown_str(enum dk_lockdown v);
const char *dk_secure_boot_str(enum dk_secure_boot v);
const char *dk_module_unload_str(enum dk_module_unload v);
const char *dk_modversions_str(enum dk_modversions v);

/* The lockdown file as the kernel writes it: "none [integrity] confidentiality";
 * NULL when unknown. */
const char *dk_lockdown_line(enum dk_lockdown v);

/* Whether unsigned or untrusted modules will be refused: sig_enforce, or a
 * lockdown other than none. */
bool dk_kernel_policy_enforcing(const struct dk_kernel_policy *p);
/* "sig_enforce=Y, lockdown none [integrity] confidentiality" (the lockdown part
 * only when known), for messages. NULL on OOM. */
char *dk_kernel_policy_enforcement(const struct dk_kernel_policy *p) _must_check_;
/* Why modules cannot be unloaded (module_unload is no), for messages:
 * "<sysfs>/module/X has no refcnt: the kernel is built without
 * CONFIG_MODULE_UNLOAD and cannot unload modules". NULL on OOM. */
char *dk_kernel_policy_no_unload_why(const struct dk_kernel_policy *p) _must_check_;
