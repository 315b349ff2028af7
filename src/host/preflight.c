/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/gcc.h"
#include "host/kconfig.h"
#include "host/kparse.h"
#include "host/preflight.h"

#define DEFAULT_PATH "/usr/local/bin:/usr/bin:/bin"

/* Who ships the tree, for the fix texts. */
enum layout { LAYOUT_OTHER, LAYOUT_DEBIAN, LAYOUT_RHEL };

struct pf {
	const char *dir;
	const char *path_env;
	const struct dk_preflight_opts *o;
	char *config;	  /* .config text, NULL when unreadable */
	char *kver;	  /* UTS_RELEASE, NULL when unknown */
	char *kbuild_pkg; /* Debian: "linux-kbuild-6.1" */
	enum layout layout;
	struct dk_preflight *out;
	bool oom;
};

static void pf_release(struct pf *pf)
{
	free(pf->config);
	free(pf->kver);
	free(pf->kbuild_pkg);
}

/* Takes what and fix (either NULL: out of memory). */
static void add(struct pf *pf, const char *item, char *what, char *fix)
{
	struct dk_preflight *out = pf->out;
	struct dk_preflight_problem *nv;

	if (!what || !fix) {
		free(what);
		free(fix);
		pf->oom = true;
		return;
	}
	nv = realloc(out->problems, (out->n_problems + 1) * sizeof(*nv));
	if (!nv) {
		free(what);
		free(fix);
		pf->oom = true;
		return;
	}
	out->problems = nv;
	nv[out->n_problems++] = (struct dk_preflight_problem){item, what, fix};
}

static bool enabled(const struct pf *pf, const char *sym)
{
	size_t len = 0;
	const char *v = pf->config ? dk_kconfig_find(pf->config, sym, &len) : NULL;

	return v && len == 1 && v[0] == 'y';
}

/* 0 for an executable regular file (symlinks followed), -ENOENT, -EACCES. Not
 * access(X_OK): for root that passes any file with one x bit, and directories. */
static int exe_state(const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -ENOENT;
	return st.st_mode & 0111 ? 0 : -EACCES;
}

/* 0 when name is an executable in a directory of path_env; -ENOENT, -ENOMEM.
 * Relative PATH entries depend on the cwd: skipped. */
static int find_exe(const char *path_env, const char *name)
{
	_cleanup_free_ char *dirs = strdup(path_env);
	char *save = NULL;

	if (!dirs)
		return -ENOMEM;
	for (char *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
		_cleanup_free_ char *full = NULL;

		if (d[0] != '/')
			continue;
		full = dk_path_join(d, name);
		if (!full)
			return -ENOMEM;
		if (exe_state(full) == 0)
			return 0;
	}
	return -ENOENT;
}

/* ---- who ships the tree ---- */

static const char *kver_or(const struct pf *pf, const char *unknown)
{
	return pf->kver ? pf->kver : unknown;
}

/* Where the tree's files come from. */
static char *fix_headers(const struct pf *pf)
{
	switch (pf->layout) {
	case LAYOUT_DEBIAN:
		return dk_strdup_printf("reinstall linux-headers-%s",
					kver_or(pf, "<kernel release>"));
	case LAYOUT_RHEL:
		return dk_strdup_printf("reinstall kernel-devel-%s",
					kver_or(pf, "<kernel release>"));
	default:
		return dk_strdup_printf("reinstall the kernel headers package of %s, or "
					"use a complete build tree",
					kver_or(pf, "this kernel"));
	}
}

/* Where the built kbuild tools come from. */
static char *fix_kbuild(const struct pf *pf)
{
	if (pf->layout == LAYOUT_DEBIAN && pf->kbuild_pkg)
		return dk_strdup_printf("install %s", pf->kbuild_pkg);
	if (pf->layout == LAYOUT_RHEL)
		return dk_strdup_printf("reinstall kernel-devel-%s",
					kver_or(pf, "<kernel release>"));
	return dk_strdup_printf("reinstall the kernel headers package of %s (it ships "
				"the kbuild tools built); in a kernel source tree run "
				"`make modules_prepare`",
				kver_or(pf, "this kernel"));
}

/* "linux-kbuild-6.1" from a link target such as ../../lib/linux-kbuild-6.1/scripts. */
static char *kbuild_from_link(const char *target)
{
	const char *p = strstr(target, "linux-kbuild-");
	size_t n;

	if (!p)
		return NULL;
	n = strcspn(p, "/");
	return strndup(p, n);
}

/* "linux-kbuild-6.1" from "6.1.0-56-amd64": Debian names the package by major.minor. */
static char *kbuild_from_kver(const char *kver)
{
	unsigned a, b;

	if (!kver || sscanf(kver, "%u.%u", &a, &b) != 2)
		return NULL;
	return dk_strdup_printf("linux-kbuild-%u.%u", a, b);
}

/* Reads what the fix texts need: the release, .config, and who ships the tree. */
static int pf_load(struct pf *pf)
{
	_cleanup_free_ char *uts =
		dk_path_join(pf->dir, "include/generated/utsrelease.h");
	_cleanup_free_ char *cfg = dk_path_join(pf->dir, ".config");
	_cleanup_free_ char *kv = dk_path_join(pf->dir, ".kernelvariables");
	_cleanup_free_ char *scripts = dk_path_join(pf->dir, "scripts");
	_cleanup_free_ char *text = NULL, *real = NULL;
	char target[PATH_MAX];
	ssize_t n;
	int r;

	if (!uts || !cfg || !kv || !scripts)
		return -ENOMEM;
	r = dk_read_file(uts, 4096, &text, NULL);
	if (r == -ENOMEM || (r == 0 && dk_utsrelease_parse(text, &pf->kver) == -ENOMEM))
		return -ENOMEM;
	r = dk_read_file(cfg, 0, &pf->config, NULL);
	if (r == -ENOMEM)
		return r;
	n = readlink(scripts, target, sizeof(target) - 1);
	if (n > 0) {
		target[n] = '\0';
		pf->kbuild_pkg = kbuild_from_link(target);
	}
	real = realpath(pf->dir, NULL);
	if (pf->kbuild_pkg || dk_path_exists(kv))
		pf->layout = LAYOUT_DEBIAN;
	else if (real && strstr(real, "/usr/src/kernels/"))
		pf->layout = LAYOUT_RHEL;
	if (pf->layout == LAYOUT_DEBIAN && !pf->kbuild_pkg)
		pf->kbuild_pkg = kbuild_from_kver(pf->kver);
	return 0;
}

/* ---- the tree's own files ---- */

/* Absolute paths the Makefile includes: Debian's linux-headers-KVER Makefile is one
 * line including linux-headers-KVER-common's, another package. */
static void check_makefile_includes(struct pf *pf, const char *makefile)
{
	_cleanup_free_ char *text = NULL;
	char *save = NULL;

	if (dk_read_file(makefile, 1 << 20, &text, NULL) == -ENOMEM) {
		pf->oom = true;
		return;
	}
	for (char *l = text ? strtok_r(text, "\n", &save) : NULL; l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *tok_save = NULL;

		if (!startswith(l, "include ") && !startswith(l, "include\t"))
			continue; /* "-include" is optional by definition */
		for (char *t = strtok_r(l + 8, " \t", &tok_save); t;
		     t = strtok_r(NULL, " \t", &tok_save)) {
			_cleanup_free_ char *pkgdir = NULL;
			char *slash;

			if (t[0] != '/' || strchr(t, '$') || dk_path_exists(t))
				continue;
			pkgdir = strdup(t);
			slash = pkgdir ? strrchr(pkgdir, '/') : NULL;
			if (slash)
				*slash = '\0';
			slash = pkgdir ? strrchr(pkgdir, '/') : NULL;
			add(pf, "Makefile",
			    dk_strdup_printf("Makefile includes %s, which does not exist",
					     t),
			    pf->layout == LAYOUT_DEBIAN && slash &&
					    startswith(slash + 1, "linux-headers-")
				    ? dk_strdup_printf("install %s", slash + 1)
				    : fix_headers(pf));
		}
	}
}

static void check_tree_files(struct pf *pf)
{
	static const struct {
		const char *rel, *item, *why;
	} files[] = {
		{"Makefile", "Makefile", "kbuild's entry point"},
		{".config", ".config", "the kernel's configuration"},
		{"include/generated/autoconf.h", "autoconf.h",
		 "the configuration as C macros"},
		{"include/config/auto.conf", "auto.conf",
		 "the configuration as make variables"},
		{"Module.symvers", "Module.symvers",
		 "the kernel's exported symbols and their CRCs; without it every "
		 "module import is unresolved"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *p = dk_path_join(pf->dir, files[i].rel);

		if (!p) {
			pf->oom = true;
			return;
		}
		if (dk_path_exists(p)) {
			if (i == 0)
				check_makefile_includes(pf, p);
			continue;
		}
		add(pf, files[i].item,
		    dk_strdup_printf("%s is missing (%s)", files[i].rel, files[i].why),
		    fix_headers(pf));
	}
}

/* " (scripts links to X, which does not exist)" when the first component of rel is a
 * dangling link; "" otherwise. */
static char *dangling_note(const struct pf *pf, const char *rel)
{
	_cleanup_free_ char *first = strndup(rel, strcspn(rel, "/"));
	_cleanup_free_ char *p = first ? dk_path_join(pf->dir, first) : NULL;
	char target[PATH_MAX];
	ssize_t n;

	if (!p)
		return NULL;
	n = readlink(p, target, sizeof(target) - 1);
	if (n <= 0 || dk_path_exists(p))
		return strdup("");
	target[n] = '\0';
	return dk_strdup_printf(" (%s links to %s, which does not exist)", first, target);
}

/* A kbuild tool the tree must hold, built for this machine. */
static void check_tool(struct pf *pf, const char *rel, const char *item, const char *role)
{
	_cleanup_free_ char *p = dk_path_join(pf->dir, rel);
	_cleanup_free_ char *note = NULL;
	int r;

	if (!p) {
		pf->oom = true;
		return;
	}
	r = exe_state(p);
	if (r == 0)
		return;
	note = dangling_note(pf, rel);
	if (!note) {
		pf->oom = true;
		return;
	}
	add(pf, item,
	    dk_strdup_printf("%s (%s) is %s%s", rel, role,
			     r == -EACCES ? "not executable" : "missing", note),
	    fix_kbuild(pf));
}

static void check_kbuild_tools(struct pf *pf)
{
	_cleanup_free_ char *scripts = dk_path_join(pf->dir, "scripts");
	_cleanup_free_ char *note = NULL;

	if (!scripts) {
		pf->oom = true;
		return;
	}
	if (!dk_is_dir(scripts)) {
		/* One problem, not one per tool: the whole kbuild part is absent. */
		note = dangling_note(pf, "scripts");
		add(pf, "scripts",
		    note ? dk_strdup_printf("scripts/ (kbuild's makefiles and tools) is "
					    "missing%s",
					    note)
			 : NULL,
		    fix_kbuild(pf));
	} else {
		check_tool(pf, "scripts/basic/fixdep", "fixdep",
			   "kbuild's dependency tool");
		check_tool(pf, "scripts/mod/modpost", "modpost",
			   "kbuild's module post-processor");
		if (enabled(pf, "MODVERSIONS"))
			check_tool(pf, "scripts/genksyms/genksyms", "genksyms",
				   "symbol CRCs, CONFIG_MODVERSIONS=y");
		if (enabled(pf, "FTRACE_MCOUNT_USE_RECORDMCOUNT"))
			check_tool(pf, "scripts/recordmcount", "recordmcount",
				   "CONFIG_FTRACE_MCOUNT_USE_RECORDMCOUNT=y");
	}
	/* CONFIG_OBJTOOL since 5.19; CONFIG_STACK_VALIDATION before. */
	if (enabled(pf, "OBJTOOL") || enabled(pf, "STACK_VALIDATION"))
		check_tool(pf, "tools/objtool/objtool", "objtool",
			   enabled(pf, "OBJTOOL") ? "CONFIG_OBJTOOL=y"
						  : "CONFIG_STACK_VALIDATION=y");
}

/* ---- programs on PATH ---- */

/* Module BTF: kbuild runs pahole and resolve_btfids on each module only when
 * build_dir/vmlinux exists -- cmd_btf_ko in scripts/Makefile.modfinal (6.1) prints
 * "Skipping BTF generation ... due to unavailability of vmlinux" otherwise, and
 * headers packages ship no vmlinux, so only full build trees need them. */
static bool btf_applies(struct pf *pf)
{
	_cleanup_free_ char *vmlinux = dk_path_join(pf->dir, "vmlinux");

	if (!vmlinux)
		pf->oom = true;
	return vmlinux && enabled(pf, "DEBUG_INFO_BTF_MODULES") &&
	       dk_path_exists(vmlinux);
}

static void check_programs(struct pf *pf)
{
	static const char *const binutils[] = {"ld", "as", "nm", "ar", "objcopy"};
	bool btf = btf_applies(pf);
	struct strbuf missing = {0};
	int r;

	r = find_exe(pf->path_env, "make");
	if (r == -ENOENT)
		add(pf, "make",
		    dk_strdup_printf("make is not on PATH (%s)", pf->path_env),
		    strdup("install make"));
	else if (r < 0)
		pf->oom = true;
	/* objcopy only feeds pahole (LLVM_OBJCOPY in cmd_btf_ko). */
	for (size_t i = 0; i < ARRAY_SIZE(binutils) - !btf; i++) {
		r = find_exe(pf->path_env, binutils[i]);
		if (r == -ENOENT)
			strbuf_printf(&missing, "%s%s", missing.len ? ", " : "",
				      binutils[i]);
		else if (r < 0)
			pf->oom = true;
	}
	if (missing.oom)
		pf->oom = true;
	else if (missing.len)
		add(pf, "binutils",
		    dk_strdup_printf("%s not on PATH (%s)", missing.s, pf->path_env),
		    strdup("install binutils"));
	strbuf_release(&missing);
	if (!btf)
		return;
	r = find_exe(pf->path_env, "pahole");
	if (r == -ENOENT)
		add(pf, "pahole",
		    dk_strdup_printf(
			    "pahole is not on PATH (%s): kbuild runs it on every "
			    "module, as CONFIG_DEBUG_INFO_BTF_MODULES=y and the "
			    "tree has a vmlinux",
			    pf->path_env),
		    strdup("install dwarves (pahole)"));
	else if (r < 0)
		pf->oom = true;
	check_tool(pf, "tools/bpf/resolve_btfids/resolve_btfids", "resolve_btfids",
		   "CONFIG_DEBUG_INFO_BTF_MODULES=y with a vmlinux");
}

/* ---- the compiler ---- */

/* The compiler the kernel was built with: the tree's .config, else the /proc/version
 * of a host that runs this kernel. Returns 1 for gcc (cc's kernel fields set), 0
 * when unknown, 2 for clang (cc->kernel_text set), -ENOMEM. */
static int kernel_cc(struct pf *pf, struct dk_preflight_cc *cc)
{
	_cleanup_free_ char *osrel_path = NULL, *osrel = NULL, *ver_path = NULL;
	_cleanup_free_ char *line = NULL;
	struct dk_cc_info info = {0};
	long v = 0;
	int r;

	if (pf->config) {
		r = dk_kconfig_get(pf->config, "CC_VERSION_TEXT", &cc->kernel_text);
		if (r == -ENOMEM)
			return r;
		r = dk_gcc_kconfig_version(pf->config, &v);
		if (r == -ENOMEM)
			return r;
		cc->source = ".config";
		if (r == 0) {
			cc->kernel_version = dk_strdup_printf("%ld.%ld.%ld", v / 10000,
							      v / 100 % 100, v % 100);
			return cc->kernel_version ? 1 : -ENOMEM;
		}
		if (enabled(pf, "CC_IS_CLANG"))
			return 2;
		cc->source = NULL;
		free(cc->kernel_text);
		cc->kernel_text = NULL;
	}
	if (!pf->o || !pf->o->procfs)
		return 0;
	osrel_path = dk_path_join(pf->o->procfs, "sys/kernel/osrelease");
	ver_path = dk_path_join(pf->o->procfs, "version");
	if (!osrel_path || !ver_path)
		return -ENOMEM;
	/* Another kernel's /proc says nothing about this tree's compiler. */
	if (dk_read_line(osrel_path, &osrel) == 0 && pf->kver && !streq(osrel, pf->kver))
		return 0;
	r = dk_read_file(ver_path, 4096, &line, NULL);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	r = dk_proc_version_cc_parse(line, &info);
	if (r < 0)
		return r == -ENOMEM ? r : 0;
	cc->source = "/proc/version";
	cc->kernel_text = TAKE_PTR(info.text);
	if (streq(info.name, "gcc"))
		cc->kernel_version = TAKE_PTR(info.version);
	r = streq(info.name, "gcc") ? 1 : 2;
	dk_cc_info_free(&info);
	return r;
}

static long major_of(const char *version)
{
	long m = -1;

	return version && sscanf(version, "%ld", &m) == 1 ? m : -1;
}

/* What to do when gcc-MAJOR is wanted: Debian, Ubuntu and SUSE package it so. */
static char *fix_gcc(long major, bool mismatch)
{
	if (major < 0)
		return strdup("install gcc");
	return dk_strdup_printf("install gcc-%ld%s", major,
				mismatch ? ", or allow a compiler mismatch in the spec"
					 : "");
}

static void check_compiler(struct pf *pf)
{
	struct dk_preflight_cc *cc = &pf->out->cc;
	const struct dk_gcc *g;
	struct dk_gcc *v = NULL;
	size_t n = 0;
	long kmajor;
	int built = kernel_cc(pf, cc);

	if (built < 0 || dk_gcc_find(pf->path_env, &v, &n) < 0) {
		pf->oom = true;
		return;
	}
	if (built == 2) {
		add(pf, "compiler",
		    dk_strdup_printf("the kernel was built with clang (%s): its modules "
				     "need clang and LLVM=1, drvkit builds with gcc",
				     cc->kernel_text ? cc->kernel_text : cc->source),
		    strdup("build against a kernel built with gcc"));
		dk_gcc_list_free(v, n);
		return;
	}
	kmajor = major_of(cc->kernel_version);
	g = dk_gcc_pick(v, n, kmajor);
	if (!g) {
		add(pf, "compiler",
		    kmajor < 0
			    ? dk_strdup_printf("no gcc on PATH (%s)", pf->path_env)
			    : dk_strdup_printf("no gcc-%ld or gcc on PATH (%s); the "
					       "kernel was built with gcc %s",
					       kmajor, pf->path_env, cc->kernel_version),
		    fix_gcc(kmajor, false));
	} else if (!g->version) {
		add(pf, "compiler",
		    dk_strdup_printf("%s does not say its version (%s)", g->path,
				     g->error),
		    kmajor < 0 ? strdup("install a working gcc")
			       : dk_strdup_printf("install a working gcc-%ld", kmajor));
	} else {
		cc->path = strdup(g->path);
		cc->version = strdup(g->version);
		if (!cc->path || !cc->version)
			pf->oom = true;
		cc->same_major = kmajor < 0 || major_of(g->version) == kmajor;
		cc->exact = cc->kernel_version && streq(g->version, cc->kernel_version);
		if (!cc->same_major && !(pf->o && pf->o->allow_compiler_mismatch))
			add(pf, "compiler",
			    dk_strdup_printf(
				    "%s is gcc %s, the kernel was built with gcc "
				    "%s (%s, from %s)",
				    g->path, g->version, cc->kernel_version,
				    cc->kernel_text ? cc->kernel_text : "?", cc->source),
			    fix_gcc(kmajor, true));
	}
	dk_gcc_list_free(v, n);
}

/* ---- all of it ---- */

int dk_preflight_check(const char *build_dir, const char *path_env,
		       const struct dk_preflight_opts *o, struct dk_preflight *out)
{
	struct pf pf = {
		.dir = build_dir,
		.path_env = path_env ? path_env : DEFAULT_PATH,
		.o = o,
		.out = out,
	};

	memset(out, 0, sizeof(*out));
	if (!dk_is_dir(build_dir)) {
		/* Everything else would only repeat it. */
		add(&pf, "build_dir",
		    dk_strdup_printf("%s is not a directory", build_dir),
		    strdup("install the kernel headers package of the target kernel"));
		return pf.oom ? -ENOMEM : 0;
	}
	if (pf_load(&pf) < 0) {
		pf_release(&pf);
		return -ENOMEM;
	}
	check_tree_files(&pf);
	check_kbuild_tools(&pf);
	check_programs(&pf);
	check_compiler(&pf);
	pf_release(&pf);
	return pf.oom ? -ENOMEM : 0;
}

void dk_preflight_release(struct dk_preflight *p)
{
	for (size_t i = 0; i < p->n_problems; i++) {
		free(p->problems[i].what);
		free(p->problems[i].fix);
	}
	free(p->problems);
	free(p->cc.path);
	free(p->cc.version);
	free(p->cc.kernel_version);
	free(p->cc.kernel_text);
	memset(p, 0, sizeof(*p));
}
