/* SPDX-License-Identifier: Apache-2.0 */
#include <elf.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/headers.h"
#include "host/kconfig.h"
#include "host/kparse.h"

#include "kmod/check.h"

int dk_kernel_find_headers(const char *host_root, const char *kver, char **dir,
			   struct dk_error **err)
{
	_cleanup_headers_info_ struct dk_headers_info *info = NULL;
	_cleanup_free_ char *why = NULL;
	int r;

	*dir = NULL;
	r = dk_headers_scan(host_root, kver, NULL, DK_HEADERS_ALL, &info, err);
	if (r < 0)
		return r;
	if (info->build_dir) {
		*dir = TAKE_PTR(info->build_dir);
		return 0;
	}
	why = dk_headers_explain(info);
	return dk_error_set(err, ENOENT,
			    "no usable kernel headers for %s: %s, or pass --headers DIR",
			    kver, why ? why : "out of memory");
}

static bool config_y(const char *config, const char *name)
{
	size_t len = 0;
	const char *v = dk_kconfig_find(config, name, &len);

	return v && len == 1 && v[0] == 'y';
}

static void vermagic_arch(const char *config, struct strbuf *b, bool *exact,
			  unsigned *machine)
{
	if (config_y(config, "X86_64")) {
		*machine = EM_X86_64; /* X86_64 has no MODULE_ARCH_VERMAGIC */
	} else if (config_y(config, "ARM64")) {
		*machine = EM_AARCH64;
		strbuf_puts(b, "aarch64");
	} else if (config_y(config, "RISCV")) {
		*machine = EM_RISCV;
		strbuf_puts(b, "riscv");
	} else if (config_y(config, "PPC64")) {
		*machine = EM_PPC64;
		if (config_y(config, "MPROFILE_KERNEL"))
			strbuf_puts(b, "mprofile-kernel ");
		if (config_y(config, "RELOCATABLE"))
			strbuf_puts(b, "relocatable ");
	} else if (config_y(config, "S390")) {
		*machine = EM_S390;
	} else {
		*machine = 0;
		*exact = false;
	}
}

char *dk_vermagic_compute(const char *release, const char *config,
			  const char *randstruct_seed, bool *exact, unsigned *machine)
{
	struct strbuf b;
	unsigned m = 0;
	bool ex = true;

	strbuf_init(&b);
	strbuf_printf(&b, "%s ", release);
	if (config_y(config, "SMP"))
		strbuf_puts(&b, "SMP ");
	if (config_y(config, "PREEMPT_BUILD") || config_y(config, "PREEMPT"))
		strbuf_puts(&b, "preempt ");
	else if (config_y(config, "PREEMPT_RT"))
		strbuf_puts(&b, "preempt_rt ");
	if (config_y(config, "MODULE_UNLOAD"))
		strbuf_puts(&b, "mod_unload ");
	if (config_y(config, "MODVERSIONS"))
		strbuf_puts(&b, "modversions ");
	vermagic_arch(config, &b, &ex, &m);
	if (config_y(config, "RANDSTRUCT") || config_y(config, "GCC_PLUGIN_RANDSTRUCT")) {
		if (randstruct_seed)
			strbuf_printf(&b, "%s%s",
				      config_y(config, "RANDSTRUCT")
					      ? "RANDSTRUCT_"
					      : "RANDSTRUCT_PLUGIN_",
				      randstruct_seed);
		else
			ex = false;
	}
	if (exact)
		*exact = ex;
	if (machine)
		*machine = m;
	return strbuf_steal(&b);
}

void dk_kernel_free(struct dk_kernel *k)
{
	if (!k)
		return;
	dk_symvers_free(k->symvers);
	free(k->headers);
	free(k->release);
	free(k->vermagic);
	free(k);
}

static int read_in_tree(const char *dir, const char *rel, bool required, char **text,
			struct dk_error **err)
{
	_cleanup_free_ char *path = dk_path_join(dir, rel);
	int r;

	*text = NULL;
	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_read_file(path, 0, text, NULL);
	if (r == -ENOENT && !required)
		return 0;
	if (r < 0)
		return dk_error_set(err, -r, "%s: %s", path, strerror(-r));
	return 0;
}

int dk_kernel_open(const char *dir, struct dk_kernel **out, struct dk_error **err)
{
	_cleanup_kernel_ struct dk_kernel *k = NULL;
	_cleanup_free_ char *config = NULL, *uts = NULL, *seed_h = NULL, *seed = NULL;
	_cleanup_free_ char *symvers = NULL;
	int r;

	*out = NULL;
	if (!dk_is_dir(dir))
		return dk_error_set(err, ENOENT,
				    "kernel headers directory %s does not exist; install "
				    "linux-headers-<release> (Debian/Ubuntu) or "
				    "kernel-devel-<release> (RHEL/Fedora/Rocky)",
				    dir);
	k = calloc(1, sizeof(*k));
	if (!k)
		return dk_error_set(err, ENOMEM, "out of memory");
	k->headers = strdup(dir);
	if (!k->headers)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = read_in_tree(dir, "include/generated/utsrelease.h", true, &uts, err);
	if (r < 0)
		return dk_error_wrap(err, "kernel release");
	r = dk_utsrelease_parse(uts, &k->release);
	if (r == -ENOMEM)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (r < 0)
		return dk_error_set(
			err, EBADMSG,
			"%s/include/generated/utsrelease.h: no #define "
			"UTS_RELEASE; the headers tree is incomplete, reinstall "
			"its package",
			dir);
	r = read_in_tree(dir, ".config", true, &config, err);
	if (r < 0)
		return dk_error_wrap(err, "kernel config");
	if (config_y(config, "RANDSTRUCT") || config_y(config, "GCC_PLUGIN_RANDSTRUCT")) {
		r = read_in_tree(dir, "include/generated/randstruct_hash.h", false,
				 &seed_h, err);
		if (r == 0 && !seed_h)
			r = read_in_tree(dir, "include/generated/randomize_layout_hash.h",
					 false, &seed_h, err);
		if (r < 0)
			return r;
		if (seed_h && dk_define_string_get(seed_h, "RANDSTRUCT_HASHED_SEED",
						   &seed) == -ENOMEM)
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	k->vermagic = dk_vermagic_compute(k->release, config, seed, &k->vermagic_exact,
					  &k->machine);
	if (!k->vermagic)
		return dk_error_set(err, ENOMEM, "out of memory");
	k->modversions = config_y(config, "MODVERSIONS");
	k->force_load = config_y(config, "MODULE_FORCE_LOAD");
	symvers = dk_path_join(dir, "Module.symvers");
	if (!symvers)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_symvers_load(symvers, &k->symvers, err);
	if (r < 0)
		return r;
	*out = TAKE_PTR(k);
	return 0;
}

/* ---- checking ---- */

const char *dk_issue_kind_name(enum dk_issue_kind kind)
{
	switch (kind) {
	case DK_ISSUE_MACHINE:
		return "machine";
	case DK_ISSUE_VERMAGIC:
		return "vermagic";
	case DK_ISSUE_RELEASE:
		return "release";
	case DK_ISSUE_CRC:
		return "crc";
	case DK_ISSUE_MISSING:
		return "missing";
	case DK_ISSUE_GPL:
		return "gpl";
	case DK_ISSUE_VERSIONS:
		return "versions";
	case DK_ISSUE_UNCHECKED:
		return "unchecked";
	}
	return "?";
}

static int add_issue(struct dk_check_result *res, enum dk_issue_kind kind, bool fatal,
		     const char *symbol, const char *fmt, ...) _printf_format_(5, 6);

static int add_issue(struct dk_check_result *res, enum dk_issue_kind kind, bool fatal,
		     const char *symbol, const char *fmt, ...)
{
	struct dk_check_issue *arr, *is;
	struct strbuf b;
	va_list ap;

	arr = realloc(res->issues, (res->n_issues + 1) * sizeof(*arr));
	if (!arr)
		return -ENOMEM;
	res->issues = arr;
	is = &arr[res->n_issues];
	memset(is, 0, sizeof(*is));
	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	is->message = strbuf_steal(&b);
	is->symbol = symbol ? strdup(symbol) : NULL;
	if (!is->message || (symbol && !is->symbol)) {
		free(is->message);
		free(is->symbol);
		return -ENOMEM;
	}
	is->kind = kind;
	is->fatal = fatal;
	res->n_issues++;
	if (fatal)
		res->fits = false;
	return 0;
}

/* Where a symbol comes from: another module given on the command line, or the
 * kernel's Module.symvers. */
struct provider {
	const char *who;
	uint32_t crc;
	bool has_crc;
	bool gpl;
};

static bool find_provider(const struct dk_kernel *k, struct dk_modfile *const *mods,
			  size_t n, size_t self, const char *sym, struct provider *p)
{
	const struct dk_symvers_entry *e;

	for (size_t i = 0; i < n; i++) {
		const struct dk_modfile_export *ex;

		if (i == self || !(ex = dk_modfile_export_find(mods[i], sym)))
			continue;
		p->who = dk_modfile_path(mods[i]);
		p->crc = ex->crc;
		p->has_crc = ex->has_crc;
		p->gpl = ex->gpl;
		return true;
	}
	e = dk_symvers_find(k->symvers, sym);
	if (!e)
		return false;
	p->who = e->module;
	p->crc = e->crc;
	p->has_crc = true;
	p->gpl = e->gpl;
	return true;
}

/* include/linux/license.h: license_is_gpl_compatible() */
static bool license_gpl_compatible(const char *l)
{
	static const char *const ok[] = {
		"GPL",		"GPL v2",	"GPL and additional rights",
		"Dual BSD/GPL", "Dual MIT/GPL", "Dual MPL/GPL",
	};

	if (!l)
		return false;
	for (size_t i = 0; i < ARRAY_SIZE(ok); i++)
		if (streq(l, ok[i]))
			return true;
	return false;
}

static int check_vermagic(const struct dk_kernel *k, const struct dk_modfile *mod,
			  struct dk_check_result *res)
{
	const char *vm = dk_modfile_modinfo_get(mod, "vermagic");
	const struct dk_modversion *v;
	bool has_versions = dk_modfile_versions(mod, &v) > 0;
	const char *mflags, *kflags;
	size_t mrel, krel;
	bool rel_same, flags_same;

	if (!vm)
		return add_issue(res, DK_ISSUE_VERMAGIC, true, NULL,
				 "no vermagic in .modinfo (kernel expects '%s')",
				 k->vermagic);
	mrel = strcspn(vm, " ");
	krel = strcspn(k->vermagic, " ");
	mflags = vm + mrel;
	kflags = k->vermagic + krel;
	rel_same = mrel == krel && strncmp(vm, k->vermagic, mrel) == 0;
	if (k->vermagic_exact)
		flags_same = streq(mflags, kflags);
	else /* compare what we could compute */
		flags_same = strncmp(mflags, kflags, strlen(kflags)) == 0;
	if (!flags_same)
		return add_issue(res, DK_ISSUE_VERMAGIC, true, NULL,
				 "vermagic mismatch: module '%s', kernel '%s'", vm,
				 k->vermagic);
	if (!rel_same) {
		/* kernel/module/main.c same_magic(): with CRCs, only the flags count */
		if (k->modversions && has_versions)
			return add_issue(res, DK_ISSUE_RELEASE, false, NULL,
					 "note: built for release %.*s, kernel is %s "
					 "(ignored with modversions; the CRCs decide)",
					 (int)mrel, vm, k->release);
		return add_issue(res, DK_ISSUE_VERMAGIC, true, NULL,
				 "vermagic mismatch: module '%s', kernel '%s' (release "
				 "differs and there are no CRCs to go by)",
				 vm, k->vermagic);
	}
	if (!k->vermagic_exact)
		return add_issue(res, DK_ISSUE_UNCHECKED, false, NULL,
				 "note: the arch or randstruct part of the kernel's "
				 "vermagic is unknown and was not compared");
	return 0;
}

static int check_one(const struct dk_kernel *k, struct dk_modfile *const *mods, size_t n,
		     size_t self, struct dk_check_result *res)
{
	const struct dk_modfile *mod = mods[self];
	const struct dk_modversion *v;
	const struct dk_modfile_import *im;
	size_t nv = dk_modfile_versions(mod, &v);
	size_t ni = dk_modfile_imports(mod, &im);
	bool gpl_ok = license_gpl_compatible(dk_modfile_modinfo_get(mod, "license"));
	int r;

	res->mod = mod;
	res->fits = true;
	if (k->machine && dk_modfile_machine(mod) != k->machine) {
		r = add_issue(res, DK_ISSUE_MACHINE, true, NULL,
			      "ELF machine %u does not match the kernel's (%u)",
			      dk_modfile_machine(mod), k->machine);
		if (r < 0)
			return r;
	}
	r = check_vermagic(k, mod, res);
	if (r < 0)
		return r;
	if (k->modversions && nv == 0) {
		r = add_issue(res, DK_ISSUE_VERSIONS, !k->force_load, NULL,
			      "no __versions section but the kernel has "
			      "CONFIG_MODVERSIONS%s",
			      k->force_load ? " (loads only forced, tainted)"
					    : " and no MODULE_FORCE_LOAD");
		if (r < 0)
			return r;
	}
	for (size_t i = 0; k->modversions && i < nv; i++) {
		struct provider p;

		if (!find_provider(k, mods, n, self, v[i].name, &p) || !p.has_crc)
			continue; /* unknown symbols are reported below */
		if ((uint32_t)v[i].crc == p.crc)
			continue;
		r = add_issue(res, DK_ISSUE_CRC, true, v[i].name,
			      "CRC mismatch for %s: module 0x%08llx, kernel 0x%08x%s%s",
			      v[i].name, (unsigned long long)v[i].crc, p.crc,
			      streq(p.who, "vmlinux") ? "" : " from ",
			      streq(p.who, "vmlinux") ? "" : p.who);
		if (r < 0)
			return r;
		res->issues[res->n_issues - 1].module_crc = v[i].crc;
		res->issues[res->n_issues - 1].kernel_crc = p.crc;
		res->issues[res->n_issues - 1].provider = strdup(p.who);
	}
	for (size_t i = 0; i < ni; i++) {
		struct provider p;

		if (!find_provider(k, mods, n, self, im[i].name, &p)) {
			if (im[i].weak)
				continue;
			r = add_issue(res, DK_ISSUE_MISSING, true, im[i].name,
				      "unknown symbol %s: not exported by the kernel "
				      "(Module.symvers) nor by the other modules given",
				      im[i].name);
		} else if (p.gpl && !gpl_ok) {
			r = add_issue(res, DK_ISSUE_GPL, true, im[i].name,
				      "%s is GPL-only (from %s) but the module's license "
				      "is '%s'",
				      im[i].name, p.who,
				      dk_modfile_modinfo_get(mod, "license") ?: "(none)");
		} else {
			continue;
		}
		if (r < 0)
			return r;
	}
	return 0;
}

void dk_check_results_free(struct dk_check_result *r, size_t n)
{
	if (!r)
		return;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < r[i].n_issues; j++) {
			free(r[i].issues[j].symbol);
			free(r[i].issues[j].provider);
			free(r[i].issues[j].message);
		}
		free(r[i].issues);
	}
	free(r);
}

int dk_check_modules(const struct dk_kernel *k, struct dk_modfile *const *mods, size_t n,
		     struct dk_check_result **out, struct dk_error **err)
{
	struct dk_check_result *res = calloc(n ? n : 1, sizeof(*res));

	*out = NULL;
	if (!res)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		if (check_one(k, mods, n, i, &res[i]) < 0) {
			dk_check_results_free(res, n);
			return dk_error_set(err, ENOMEM, "out of memory");
		}
	*out = res;
	return 0;
}

int dk_check_providers(const struct dk_modfile *mod, struct dk_modfile *const *prov,
		       size_t n, char **why)
{
	const struct dk_modversion *v = NULL;
	size_t nv = dk_modfile_versions(mod, &v);
	struct strbuf s;
	int bad = 0;

	strbuf_init(&s);
	for (size_t i = 0; i < nv; i++)
		for (size_t p = 0; p < n; p++) {
			const struct dk_modfile_export *ex =
				dk_modfile_export_find(prov[p], v[i].name);

			if (!ex || !ex->has_crc || (uint32_t)v[i].crc == ex->crc)
				continue;
			if (bad++ < 3)
				strbuf_printf(
					&s,
					"%s%s was built against %s with CRC 0x%08x, "
					"but %s (%s) exports it with CRC 0x%08x",
					s.len ? "; " : "", dk_modfile_name(mod),
					v[i].name, (uint32_t)v[i].crc,
					dk_modfile_name(prov[p]),
					dk_modfile_path(prov[p]), ex->crc);
		}
	if (why)
		*why = bad ? strbuf_steal(&s) : NULL;
	strbuf_release(&s);
	return bad;
}
