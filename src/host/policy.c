/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel's module-loading policy, from sysfs and the kernel config. */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/hostfs.h"
#include "host/kparse.h"
#include "host/policy.h"

#define EFI_SECURE_BOOT_VAR "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

/* One read. Allocation failures latch `oom` (the read then fails with ENOMEM at
 * the end); the helpers take NULL strings. */
struct pol {
	const char *sysfs;
	/* The kernel config is read on first use (have_cfg): init's reads may not need
	 * it. */
	const struct dk_ctx *ctx;
	const char *kver;
	const struct dk_kconfig_more *more;
	bool running; /* dk_kernel_policy_read_running(): sysfs first, config as fallback
		       */
	bool cfg_read;
	char *cfg_path; /* the kernel config, or NULL */
	char *cfg;
	char *cfg_why; /* why there is none */
	bool oom;
};

static bool have_cfg(struct pol *st)
{
	if (!st->cfg_read) {
		st->cfg_read = true;
		if (dk_kconfig_read(st->ctx, st->kver, st->more, &st->cfg_path, &st->cfg,
				    &st->cfg_why) == -ENOMEM)
			st->oom = true;
	}
	return st->cfg != NULL;
}

static char *fmt(struct pol *st, const char *f, ...) _printf_format_(2, 3);

static char *fmt(struct pol *st, const char *f, ...)
{
	va_list ap;
	char *s;

	va_start(ap, f);
	s = dk_strdup_vprintf(f, ap);
	va_end(ap);
	if (!s)
		st->oom = true;
	return s;
}

static char *errtext(struct pol *st, const char *path, int errnum)
{
	return fmt(st, "%s: %s", path ? path : "?", strerror(errnum));
}

/* Where an answer came from; why is taken. */
static void origin(struct pol *st, enum dk_policy_from *from, char **source, char **why,
		   enum dk_policy_from f, const char *src, char *w)
{
	*from = f;
	*source = src ? strdup(src) : NULL;
	if (src && !*source)
		st->oom = true;
	*why = w;
}

#define ANSWER(st, field, v, f, src, w)                                              \
	do {                                                                         \
		(field).value = (v);                                                 \
		origin(st, &(field).from, &(field).source, &(field).why, f, src, w); \
	} while (0)

static int read_line(struct pol *st, const char *path, char **line)
{
	int r = path ? dk_read_line(path, line) : -ENOMEM;

	if (r == -ENOMEM)
		st->oom = true;
	return r;
}

/* 1 (y or m), 0 (not set; *absent when not even mentioned), or -ENOMEM. */
static int cfg_enabled(struct pol *st, const char *sym, bool *absent)
{
	int r = dk_kconfig_enabled(st->cfg, sym, absent);

	if (r < 0)
		st->oom = true;
	return r;
}

/* --- signatures, lockdown, Secure Boot --------------------------------------- */

/* Without the parameter, the config: MODULE_SIG_FORCE=y enforces, and without
 * MODULE_SIG nothing is checked at all. */
static void sig_from_config(struct pol *st, struct dk_kernel_policy *p, const char *path,
			    int errnum)
{
	bool absent = true;

	if (have_cfg(st) && cfg_enabled(st, "MODULE_SIG_FORCE", NULL) == 1)
		ANSWER(st, p->sig_enforce, DK_SIG_ENFORCE_YES, DK_POLICY_FROM_KCONFIG,
		       st->cfg_path,
		       fmt(st, "%s: %s; %s: CONFIG_MODULE_SIG_FORCE=y", path,
			   strerror(errnum), st->cfg_path));
	else if (have_cfg(st) && cfg_enabled(st, "MODULE_SIG", &absent) == 0 && !absent)
		ANSWER(st, p->sig_enforce, DK_SIG_ENFORCE_NO, DK_POLICY_FROM_KCONFIG,
		       st->cfg_path,
		       fmt(st, "%s: CONFIG_MODULE_SIG is not set: no signature checks",
			   st->cfg_path));
	else
		ANSWER(st, p->sig_enforce, DK_SIG_ENFORCE_UNKNOWN, DK_POLICY_FROM_NOTHING,
		       path, errtext(st, path, errnum));
}

static void read_sig_enforce(struct pol *st, struct dk_kernel_policy *p)
{
	_cleanup_free_ char *path =
		fmt(st, "%s/module/module/parameters/sig_enforce", st->sysfs);
	_cleanup_free_ char *line = NULL;
	int r = read_line(st, path, &line);

	if (r < 0)
		sig_from_config(st, p, path, -r);
	else if (streq(line, "Y") || streq(line, "N"))
		ANSWER(st, p->sig_enforce,
		       line[0] == 'Y' ? DK_SIG_ENFORCE_YES : DK_SIG_ENFORCE_NO,
		       DK_POLICY_FROM_SYSFS, path, NULL);
	else
		ANSWER(st, p->sig_enforce, DK_SIG_ENFORCE_UNKNOWN, DK_POLICY_FROM_NOTHING,
		       path, fmt(st, "%s: unexpected '%s'", path, line));
}

static void read_lockdown(struct pol *st, struct dk_kernel_policy *p)
{
	static const char *const modes[] = {
		[DK_LOCKDOWN_NONE] = "none",
		[DK_LOCKDOWN_INTEGRITY] = "integrity",
		[DK_LOCKDOWN_CONFIDENTIALITY] = "confidentiality",
	};
	_cleanup_free_ char *path = fmt(st, "%s/kernel/security/lockdown", st->sysfs);
	_cleanup_free_ char *line = NULL, *mode = NULL;
	int r = read_line(st, path, &line);

	if (r < 0) {
		ANSWER(st, p->lockdown, DK_LOCKDOWN_UNKNOWN, DK_POLICY_FROM_NOTHING, path,
		       errtext(st, path, -r));
		return;
	}
	r = dk_lockdown_parse(line, &mode);
	if (r == -ENOMEM)
		st->oom = true;
	if (r < 0) {
		ANSWER(st, p->lockdown, DK_LOCKDOWN_UNKNOWN, DK_POLICY_FROM_NOTHING, path,
		       fmt(st, "%s: no [mode] in '%s'", path, line));
		return;
	}
	for (size_t i = DK_LOCKDOWN_NONE; i < ARRAY_SIZE(modes); i++)
		if (streq(mode, modes[i])) {
			ANSWER(st, p->lockdown, (enum dk_lockdown)i, DK_POLICY_FROM_SYSFS,
			       path, NULL);
			return;
		}
	ANSWER(st, p->lockdown, DK_LOCKDOWN_UNKNOWN, DK_POLICY_FROM_NOTHING, path,
	       fmt(st, "%s: unknown mode '%s'", path, mode));
}

static void read_secure_boot(struct pol *st, struct dk_kernel_policy *p)
{
	_cleanup_free_ char *efi = fmt(st, "%s/firmware/efi", st->sysfs);
	_cleanup_free_ char *var = fmt(st, "%s/" EFI_SECURE_BOOT_VAR, efi);
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	int r;

	if (efi && !dk_is_dir(efi)) {
		ANSWER(st, p->secure_boot, DK_SECURE_BOOT_NO, DK_POLICY_FROM_SYSFS, efi,
		       fmt(st, "not EFI: %s does not exist", efi));
		return;
	}
	r = var ? dk_read_file(var, 16u << 20, &buf, &len) : -ENOMEM;
	if (r == -ENOMEM)
		st->oom = true;
	if (r < 0)
		ANSWER(st, p->secure_boot, DK_SECURE_BOOT_UNKNOWN, DK_POLICY_FROM_NOTHING,
		       var, errtext(st, var, -r));
	else if (len < 5 || (buf[4] != 0 && buf[4] != 1)) /* 4 bytes attributes */
		ANSWER(st, p->secure_boot, DK_SECURE_BOOT_UNKNOWN, DK_POLICY_FROM_NOTHING,
		       var, fmt(st, "%s: unexpected content (%zu bytes)", var, len));
	else
		ANSWER(st, p->secure_boot,
		       buf[4] ? DK_SECURE_BOOT_YES : DK_SECURE_BOOT_NO,
		       DK_POLICY_FROM_SYSFS, var, NULL);
}

/* --- the kernel config: unload, modversions ----------------------------------- */

/* What the running kernel shows: a loaded module has a refcnt file only with
 * MODULE_UNLOAD. *path is the file that says so (refcnt, or the initstate of a
 * module without one). */
static enum dk_module_unload unload_in_sysfs(struct pol *st, const char *mods,
					     char **path)
{
	_cleanup_closedir_ DIR *dir = mods ? opendir(mods) : NULL;
	struct dirent *de;

	*path = NULL;
	while (dir && (de = readdir(dir))) {
		_cleanup_free_ char *refcnt = NULL, *initstate = NULL;

		if (de->d_name[0] == '.')
			continue;
		refcnt = fmt(st, "%s/%s/refcnt", mods, de->d_name);
		if (refcnt && dk_path_exists(refcnt)) {
			free(*path);
			*path = TAKE_PTR(refcnt);
			return DK_MODULE_UNLOAD_YES;
		}
		/* Built-in entries have neither file: only the first loaded one counts.
		 */
		if (*path)
			continue;
		initstate = fmt(st, "%s/%s/initstate", mods, de->d_name);
		if (initstate && dk_path_exists(initstate))
			*path = TAKE_PTR(initstate);
	}
	return *path ? DK_MODULE_UNLOAD_NO : DK_MODULE_UNLOAD_UNKNOWN;
}

/* The config's answer for CONFIG_<sym>, as yes/no; it names the symbol when it
 * is not even mentioned. */
static bool config_answer(struct pol *st, const char *sym, char **why)
{
	bool absent = false;
	int r = cfg_enabled(st, sym, &absent);

	*why = r >= 0 && absent ? fmt(st, "%s: CONFIG_%s not set", st->cfg_path, sym)
				: NULL;
	return r == 1;
}

/* The running kernel decides; the config is cited when it agrees (it names the
 * option) and used when sysfs has no loaded module to look at. */
static void read_unload(struct pol *st, struct dk_kernel_policy *p)
{
	_cleanup_free_ char *mods = fmt(st, "%s/module", st->sysfs);
	_cleanup_free_ char *path = NULL, *cwhy = NULL;
	enum dk_module_unload sv = unload_in_sysfs(st, mods, &path), cv;

	if (st->running && sv != DK_MODULE_UNLOAD_UNKNOWN) {
		ANSWER(st, p->module_unload, sv, DK_POLICY_FROM_SYSFS, path,
		       sv == DK_MODULE_UNLOAD_NO
			       ? fmt(st, "a loaded module has no refcnt")
			       : NULL);
		return;
	}
	if (have_cfg(st)) {
		cv = config_answer(st, "MODULE_UNLOAD", &cwhy) ? DK_MODULE_UNLOAD_YES
							       : DK_MODULE_UNLOAD_NO;
		if (sv == DK_MODULE_UNLOAD_UNKNOWN || sv == cv) {
			ANSWER(st, p->module_unload, cv, DK_POLICY_FROM_KCONFIG,
			       st->cfg_path, TAKE_PTR(cwhy));
			return;
		}
	}
	if (sv == DK_MODULE_UNLOAD_YES)
		ANSWER(st, p->module_unload, sv, DK_POLICY_FROM_SYSFS, path,
		       have_cfg(st) ? fmt(st,
					  "%s says CONFIG_MODULE_UNLOAD is not set: not "
					  "the running kernel's config",
					  st->cfg_path)
				    : NULL);
	else if (sv == DK_MODULE_UNLOAD_NO)
		ANSWER(st, p->module_unload, sv, DK_POLICY_FROM_SYSFS, path,
		       have_cfg(st) ? fmt(st,
					  "a loaded module has no refcnt; %s says "
					  "CONFIG_MODULE_UNLOAD=y: not the running "
					  "kernel's config",
					  st->cfg_path)
				    : fmt(st, "a loaded module has no refcnt"));
	else
		ANSWER(st, p->module_unload, sv, DK_POLICY_FROM_NOTHING, mods,
		       fmt(st, "no kernel config: %s; no %s/*/refcnt", st->cfg_why,
			   mods ? mods : "?"));
}

static void read_modversions(struct pol *st, struct dk_kernel_policy *p)
{
	char *why = NULL;

	if (!have_cfg(st)) {
		ANSWER(st, p->modversions, DK_MODVERSIONS_UNKNOWN, DK_POLICY_FROM_NOTHING,
		       NULL, fmt(st, "no kernel config: %s", st->cfg_why));
		return;
	}
	ANSWER(st, p->modversions,
	       config_answer(st, "MODVERSIONS", &why) ? DK_MODVERSIONS_YES
						      : DK_MODVERSIONS_NO,
	       DK_POLICY_FROM_KCONFIG, st->cfg_path, why);
}

/* --- entry points ----------------------------------------------------------- */

static int policy_read(struct pol *st, struct dk_kernel_policy *out,
		       struct dk_error **err)
{
	_cleanup_free_ char *sysfs = dk_host_sysfs(st->ctx);
	int r = 0;

	memset(out, 0, sizeof(*out));
	st->sysfs = sysfs;
	if (!sysfs)
		return dk_error_set(err, ENOMEM, "out of memory");
	read_sig_enforce(st, out);
	read_lockdown(st, out);
	read_unload(st, out);
	if (!st->running) {
		read_secure_boot(st, out);
		read_modversions(st, out);
	}
	if (st->oom)
		r = dk_error_set(err, ENOMEM, "read the kernel policy: out of memory");
	free(st->cfg_path);
	free(st->cfg);
	free(st->cfg_why);
	return r;
}

int dk_kernel_policy_read_more(const struct dk_ctx *ctx, const char *kver,
			       const struct dk_kconfig_more *more,
			       struct dk_kernel_policy *out, struct dk_error **err)
{
	struct pol st = {.ctx = ctx, .kver = kver, .more = more};

	return policy_read(&st, out, err);
}

int dk_kernel_policy_read(const struct dk_ctx *ctx, const char *kver,
			  struct dk_kernel_policy *out, struct dk_error **err)
{
	return dk_kernel_policy_read_more(ctx, kver, NULL, out, err);
}

int dk_kernel_policy_read_running(const struct dk_ctx *ctx, const char *kver,
				  struct dk_kernel_policy *out, struct dk_error **err)
{
	struct pol st = {.ctx = ctx, .kver = kver, .running = true};

	return policy_read(&st, out, err);
}

void dk_kernel_policy_release(struct dk_kernel_policy *p)
{
	free(p->sig_enforce.source);
	free(p->sig_enforce.why);
	free(p->lockdown.source);
	free(p->lockdown.why);
	free(p->secure_boot.source);
	free(p->secure_boot.why);
	free(p->module_unload.source);
	free(p->module_unload.why);
	free(p->modversions.source);
	free(p->modversions.why);
	memset(p, 0, sizeof(*p));
}

/* --- rendering -------------------------------------------------------------- */

/* The yes/no/unknown answers share one wording (detect's text and JSON). */
static const char *answer_str(bool yes, bool no)
{
	return yes ? "yes" : no ? "no" : "unknown";
}

const char *dk_sig_enforce_str(enum dk_sig_enforce v)
{
	return answer_str(v == DK_SIG_ENFORCE_YES, v == DK_SIG_ENFORCE_NO);
}

const char *dk_secure_boot_str(enum dk_secure_boot v)
{
	return answer_str(v == DK_SECURE_BOOT_YES, v == DK_SECURE_BOOT_NO);
}

const char *dk_module_unload_str(enum dk_module_unload v)
{
	return answer_str(v == DK_MODULE_UNLOAD_YES, v == DK_MODULE_UNLOAD_NO);
}

const char *dk_modversions_str(enum dk_modversions v)
{
	return answer_str(v == DK_MODVERSIONS_YES, v == DK_MODVERSIONS_NO);
}

const char *dk_lockdown_str(enum dk_lockdown v)
{
	switch (v) {
	case DK_LOCKDOWN_NONE:
		return "none";
	case DK_LOCKDOWN_INTEGRITY:
		return "integrity";
	case DK_LOCKDOWN_CONFIDENTIALITY:
		return "confidentiality";
	case DK_LOCKDOWN_UNKNOWN:
		break;
	}
	return "unknown";
}

const char *dk_lockdown_line(enum dk_lockdown v)
{
	switch (v) {
	case DK_LOCKDOWN_NONE:
		return "[none] integrity confidentiality";
	case DK_LOCKDOWN_INTEGRITY:
		return "none [integrity] confidentiality";
	case DK_LOCKDOWN_CONFIDENTIALITY:
		return "none integrity [confidentiality]";
	case DK_LOCKDOWN_UNKNOWN:
		break;
	}
	return NULL;
}

bool dk_kernel_policy_enforcing(const struct dk_kernel_policy *p)
{
	return p->sig_enforce.value == DK_SIG_ENFORCE_YES ||
	       p->lockdown.value == DK_LOCKDOWN_INTEGRITY ||
	       p->lockdown.value == DK_LOCKDOWN_CONFIDENTIALITY;
}

char *dk_kernel_policy_enforcement(const struct dk_kernel_policy *p)
{
	const char *sig = "sig_enforce=unknown";
	const char *lock = dk_lockdown_line(p->lockdown.value);

	if (p->sig_enforce.from == DK_POLICY_FROM_SYSFS)
		sig = p->sig_enforce.value == DK_SIG_ENFORCE_YES ? "sig_enforce=Y"
								 : "sig_enforce=N";
	else if (p->sig_enforce.value == DK_SIG_ENFORCE_YES)
		sig = "CONFIG_MODULE_SIG_FORCE=y";
	else if (p->sig_enforce.value == DK_SIG_ENFORCE_NO)
		sig = "CONFIG_MODULE_SIG not set";
	return dk_strdup_printf("%s%s%s", sig, lock ? ", lockdown " : "",
				lock ? lock : "");
}

char *dk_kernel_policy_no_unload_why(const struct dk_kernel_policy *p)
{
	const char *src = p->module_unload.source ? p->module_unload.source : "?";

	if (p->module_unload.from == DK_POLICY_FROM_SYSFS) {
		/* the source is <sysfs>/module/<name>/initstate */
		const char *slash = strrchr(src, '/');

		return dk_strdup_printf("%.*s has no refcnt: the kernel is built without "
					"CONFIG_MODULE_UNLOAD and cannot unload modules",
					(int)(slash ? slash - src : (long)strlen(src)),
					src);
	}
	return dk_strdup_printf("%s says CONFIG_MODULE_UNLOAD is not set: the kernel "
				"cannot unload modules",
				src);
}
