/* SPDX-License-Identifier: Apache-2.0 */
/* What a kernel build tree lacks for building modules, on trees made here (a Debian
 * layout: scripts/ a link into linux-kbuild-6.1), and the installed headers. */
#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/preflight.h"

#include "fixture.h"
#include "tap.h"

#define KVER "6.1.0-99-amd64"
#define HDR "usr/src/linux-headers-" KVER
#define KBUILD "usr/lib/linux-kbuild-6.1"

static char root[] = "/tmp/dk-preflight-XXXXXX";
static char *tree, *bin, *path_env;

static char *at(const char *rel)
{
	return dk_strdup_printf("%s/%s", root, rel);
}

/* root/rel with its parents, mode applied after writing. */
static int put(const char *rel, const char *text, mode_t mode)
{
	_cleanup_free_ char *p = at(rel);
	_cleanup_free_ char *dir = p ? strdup(p) : NULL;

	if (!dir || dk_mkdir_p(dirname(dir), 0755) < 0)
		return -1;
	if (dk_write_file_atomic(p, text, strlen(text), mode) < 0)
		return -1;
	return chmod(p, mode);
}

static int del(const char *rel)
{
	_cleanup_free_ char *p = at(rel);

	return p ? unlink(p) : -1;
}

/* A fake program printing version (gcc -dumpfullversion) or nothing. */
static int prog(const char *name, const char *version)
{
	_cleanup_free_ char *rel = dk_strdup_printf("bin/%s", name);
	_cleanup_free_ char *text =
		dk_strdup_printf("#!/bin/sh\n%s%s\n", version ? "echo " : "exit 0",
				 version ? version : "");

	return rel && text ? put(rel, text, 0755) : -1;
}

#define BASE_CONFIG                                                     \
	"CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14) 12.2.0\"\n" \
	"CONFIG_CC_IS_GCC=y\n"                                          \
	"CONFIG_MODVERSIONS=y\n"                                        \
	"CONFIG_OBJTOOL=y\n"                                            \
	"CONFIG_DEBUG_INFO_BTF=y\n"

static int config(const char *extra)
{
	_cleanup_free_ char *text = dk_strdup_printf(BASE_CONFIG "%s", extra);

	return text ? put(HDR "/.config", text, 0644) : -1;
}

static const char *const gcc12 = "CONFIG_GCC_VERSION=120200\n";

/* A complete Debian-like tree for KVER, and a PATH dir with every tool. */
static int make_good(void)
{
	static const char *const tools[] = {"make", "ld", "as", "nm", "ar", "objcopy"};
	_cleanup_free_ char *link = at(HDR "/scripts");
	_cleanup_free_ char *tools_link = at(HDR "/tools");
	int bad = 0;

	bad |= put(HDR "/Makefile",
		   "include "
		   "/dev/null\n",
		   0644);
	bad |= config(gcc12);
	bad |= put(HDR "/include/generated/autoconf.h", "#define CONFIG_X 1\n", 0644);
	bad |= put(HDR "/include/generated/utsrelease.h",
		   "#define UTS_RELEASE \"" KVER "\"\n", 0644);
	bad |= put(HDR "/include/config/auto.conf", "CONFIG_X=y\n", 0644);
	bad |= put(HDR "/Module.symvers", "0x1\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n",
		   0644);
	bad |= put(KBUILD "/scripts/basic/fixdep", "ELF", 0755);
	bad |= put(KBUILD "/scripts/mod/modpost", "ELF", 0755);
	bad |= put(KBUILD "/scripts/genksyms/genksyms", "ELF", 0755);
	bad |= put(KBUILD "/tools/objtool/objtool", "ELF", 0755);
	if (!link || !tools_link)
		return -1;
	bad |= symlink("../../lib/linux-kbuild-6.1/scripts", link);
	bad |= symlink("../../lib/linux-kbuild-6.1/tools", tools_link);
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		bad |= prog(tools[i], NULL);
	bad |= prog("gcc-12", "12.2.0");
	bad |= prog("gcc", "13.2.0");
	return bad ? -1 : 0;
}

static const struct dk_preflight_opts strict = {0};

/* Runs the check; returns the problems' items joined by ' ' ("" when none). */
static char *items(const struct dk_preflight_opts *o, struct dk_preflight *pf)
{
	struct strbuf b = {0};

	if (dk_preflight_check(tree, path_env, o, pf) < 0)
		return NULL;
	for (size_t i = 0; i < pf->n_problems; i++) {
		strbuf_printf(&b, "%s%s", i ? " " : "", pf->problems[i].item);
		printf("# %s: %s -> %s\n", pf->problems[i].item, pf->problems[i].what,
		       pf->problems[i].fix);
	}
	return strbuf_steal(&b);
}

/* Expects exactly the problems named in want; returns the check for more tests. */
static void expect(const char *name, const struct dk_preflight_opts *o, const char *want,
		   struct dk_preflight *pf)
{
	_cleanup_free_ char *got = items(o, pf);

	is_str(got, want, "%s: problems [%s]", name, want);
}

static const struct dk_preflight_problem *find(const struct dk_preflight *pf,
					       const char *item)
{
	for (size_t i = 0; i < pf->n_problems; i++)
		if (streq(pf->problems[i].item, item))
			return &pf->problems[i];
	return NULL;
}

static void test_good(void)
{
	struct dk_preflight pf;

	expect("good tree", &strict, "", &pf);
	ok(pf.cc.path && strstr(pf.cc.path, "/bin/gcc-12"),
	   "gcc-12 chosen over gcc 13 (%s)", pf.cc.path);
	is_str(pf.cc.version, "12.2.0", "its version");
	is_str(pf.cc.kernel_version, "12.2.0", "kernel's gcc from CONFIG_GCC_VERSION");
	is_str(pf.cc.kernel_text, "gcc-12 (Debian 12.2.0-14) 12.2.0", "CC_VERSION_TEXT");
	is_str(pf.cc.source, ".config", "from .config");
	ok(pf.cc.same_major && pf.cc.exact, "same major, exact");
	dk_preflight_release(&pf);
	expect("o NULL", NULL, "", &pf);
	dk_preflight_release(&pf);
}

static void test_kbuild(void)
{
	_cleanup_free_ char *modpost = at(KBUILD "/scripts/mod/modpost");
	_cleanup_free_ char *kb = at(KBUILD), *kb2 = at("usr/lib/kbuild-away");
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(del(KBUILD "/scripts/mod/modpost") == 0, "remove modpost");
	expect("no modpost", &strict, "modpost", &pf);
	p = find(&pf, "modpost");
	ok(p && strstr(p->what, "scripts/mod/modpost") && strstr(p->what, "missing"),
	   "what names scripts/mod/modpost (%s)", p ? p->what : "");
	is_str(p ? p->fix : NULL, "install linux-kbuild-6.1", "fix: the kbuild package");
	dk_preflight_release(&pf);

	ok(put(KBUILD "/scripts/mod/modpost", "ELF", 0644) == 0, "modpost without x bit");
	expect("modpost not executable", &strict, "modpost", &pf);
	p = find(&pf, "modpost");
	ok(p && strstr(p->what, "not executable"), "says not executable");
	dk_preflight_release(&pf);
	ok(chmod(modpost, 0755) == 0, "modpost executable again");

	/* The whole of linux-kbuild-6.1 gone: scripts/ and tools/ dangle. */
	ok(rename(kb, kb2) == 0, "move linux-kbuild-6.1 away");
	expect("no linux-kbuild", &strict, "scripts objtool", &pf);
	p = find(&pf, "scripts");
	ok(p && strstr(p->what, "links to ../../lib/linux-kbuild-6.1/scripts, which does "
				"not exist"),
	   "what names the dangling link (%s)", p ? p->what : "");
	is_str(p ? p->fix : NULL, "install linux-kbuild-6.1", "fix: the kbuild package");
	dk_preflight_release(&pf);
	ok(rename(kb2, kb) == 0, "linux-kbuild-6.1 back");
}

static void test_objtool(void)
{
	_cleanup_free_ char *objtool = at(KBUILD "/tools/objtool/objtool");
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(del(KBUILD "/tools/objtool/objtool") == 0, "remove objtool");
	expect("CONFIG_OBJTOOL, no objtool", &strict, "objtool", &pf);
	p = find(&pf, "objtool");
	ok(p && strstr(p->what, "tools/objtool/objtool (CONFIG_OBJTOOL=y) is missing"),
	   "what (%s)", p ? p->what : "");
	dk_preflight_release(&pf);

	ok(put(HDR "/.config", "CONFIG_GCC_VERSION=120200\nCONFIG_STACK_VALIDATION=y\n",
	       0644) == 0,
	   "a 5.x config: CONFIG_STACK_VALIDATION");
	expect("CONFIG_STACK_VALIDATION, no objtool", &strict, "objtool", &pf);
	p = find(&pf, "objtool");
	ok(p && strstr(p->what, "CONFIG_STACK_VALIDATION=y"), "names the option");
	dk_preflight_release(&pf);

	ok(put(HDR "/.config", "CONFIG_GCC_VERSION=120200\n# CONFIG_OBJTOOL is not set\n",
	       0644) == 0,
	   "objtool off");
	expect("objtool off, no objtool", &strict, "", &pf);
	dk_preflight_release(&pf);
	ok(put(KBUILD "/tools/objtool/objtool", "ELF", 0755) == 0 && config(gcc12) == 0,
	   "objtool back");
}

static void test_btf(void)
{
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(config("CONFIG_GCC_VERSION=120200\nCONFIG_DEBUG_INFO_BTF_MODULES=y\n") == 0,
	   "BTF for modules");
	expect("BTF modules, no vmlinux: kbuild skips BTF", &strict, "", &pf);
	dk_preflight_release(&pf);

	ok(put(HDR "/vmlinux", "ELF", 0644) == 0, "add vmlinux");
	expect("BTF modules and vmlinux, no pahole", &strict, "pahole resolve_btfids",
	       &pf);
	p = find(&pf, "pahole");
	is_str(p ? p->fix : NULL, "install dwarves (pahole)", "fix: dwarves");
	ok(p && strstr(p->what, "CONFIG_DEBUG_INFO_BTF_MODULES=y"), "why it is needed");
	dk_preflight_release(&pf);

	ok(put(KBUILD "/tools/bpf/resolve_btfids/resolve_btfids", "ELF", 0755) == 0,
	   "add resolve_btfids");
	ok(del("bin/objcopy") == 0, "remove objcopy");
	expect("no pahole, no objcopy", &strict, "binutils pahole", &pf);
	p = find(&pf, "binutils");
	ok(p && strstr(p->what, "objcopy not on PATH"), "objcopy named (%s)",
	   p ? p->what : "");
	dk_preflight_release(&pf);

	ok(prog("pahole", "v1.24") == 0 && prog("objcopy", NULL) == 0, "add pahole");
	expect("pahole on PATH", &strict, "", &pf);
	dk_preflight_release(&pf);
	ok(del("bin/pahole") == 0 && del(HDR "/vmlinux") == 0 && config(gcc12) == 0,
	   "back to no vmlinux");
}

static void test_tree_files(void)
{
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(del(HDR "/Module.symvers") == 0 && del(HDR "/include/config/auto.conf") == 0,
	   "remove Module.symvers and auto.conf");
	expect("no Module.symvers, no auto.conf", &strict, "auto.conf Module.symvers",
	       &pf);
	p = find(&pf, "Module.symvers");
	is_str(p ? p->fix : NULL, "reinstall linux-headers-" KVER, "fix: the headers");
	dk_preflight_release(&pf);
	ok(put(HDR "/Module.symvers", "", 0644) == 0 &&
		   put(HDR "/include/config/auto.conf", "", 0644) == 0,
	   "files back");

	ok(put(HDR "/Makefile",
	       "include /nonexistent/linux-headers-6.1.0-99-common/Makefile\n",
	       0644) == 0,
	   "Makefile including a missing -common tree");
	expect("missing -common", &strict, "Makefile", &pf);
	p = find(&pf, "Makefile");
	is_str(p ? p->fix : NULL, "install linux-headers-6.1.0-99-common",
	       "fix: the -common package");
	dk_preflight_release(&pf);
	ok(put(HDR "/Makefile", "-include /nonexistent/optional.mk\n", 0644) == 0,
	   "an optional include");
	expect("-include is optional", &strict, "", &pf);
	dk_preflight_release(&pf);
}

static void test_programs(void)
{
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(del("bin/make") == 0 && del("bin/as") == 0 && del("bin/nm") == 0,
	   "remove make, as, nm");
	expect("no make, as, nm", &strict, "make binutils", &pf);
	p = find(&pf, "binutils");
	ok(p && startswith(p->what, "as, nm not on PATH"), "binutils named (%s)",
	   p ? p->what : "");
	is_str(p ? p->fix : NULL, "install binutils", "fix: binutils");
	dk_preflight_release(&pf);
	ok(prog("make", NULL) == 0 && prog("as", NULL) == 0 && prog("nm", NULL) == 0,
	   "back");
}

static void test_compiler(void)
{
	struct dk_preflight_opts allow = {.allow_compiler_mismatch = true};
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(del("bin/gcc-12") == 0, "only gcc 13.2.0 left");
	expect("gcc 13 for a gcc 12 kernel", &strict, "compiler", &pf);
	p = find(&pf, "compiler");
	ok(p && strstr(p->what, "is gcc 13.2.0, the kernel was built with gcc 12.2.0"),
	   "what (%s)", p ? p->what : "");
	is_str(p ? p->fix : NULL,
	       "install gcc-12, or allow a compiler mismatch in the spec", "fix");
	ok(pf.cc.path && strstr(pf.cc.path, "/bin/gcc") && !pf.cc.same_major,
	   "gcc reported as the choice, not the same major");
	dk_preflight_release(&pf);

	expect("mismatch allowed", &allow, "", &pf);
	is_str(pf.cc.version, "13.2.0", "gcc 13 used");
	dk_preflight_release(&pf);

	ok(prog("gcc", "12.3.0") == 0, "gcc 12.3.0");
	expect("same major", &strict, "", &pf);
	ok(pf.cc.same_major && !pf.cc.exact, "same major, not exact");
	dk_preflight_release(&pf);

	ok(del("bin/gcc") == 0, "no gcc at all");
	expect("no gcc", &allow, "compiler", &pf);
	p = find(&pf, "compiler");
	ok(p && strstr(p->what, "no gcc-12 or gcc on PATH"), "what (%s)",
	   p ? p->what : "");
	is_str(p ? p->fix : NULL, "install gcc-12", "fix");
	dk_preflight_release(&pf);

	ok(prog("gcc", "") == 0, "a gcc that prints nothing");
	expect("broken gcc", &strict, "compiler", &pf);
	p = find(&pf, "compiler");
	ok(p && strstr(p->what, "does not say its version"), "what (%s)",
	   p ? p->what : "");
	is_str(p ? p->fix : NULL, "install a working gcc-12", "fix");
	dk_preflight_release(&pf);

	ok(put(HDR "/.config",
	       "CONFIG_CC_VERSION_TEXT=\"Debian clang version 16.0.6\"\n"
	       "CONFIG_GCC_VERSION=0\nCONFIG_CC_IS_CLANG=y\n",
	       0644) == 0 &&
		   prog("gcc", "12.2.0") == 0,
	   "a clang-built kernel");
	expect("clang kernel", &allow, "compiler", &pf);
	p = find(&pf, "compiler");
	ok(p && strstr(p->what, "built with clang"), "what (%s)", p ? p->what : "");
	dk_preflight_release(&pf);
	ok(prog("gcc-12", "12.2.0") == 0 && prog("gcc", "13.2.0") == 0 &&
		   config(gcc12) == 0,
	   "back");
}

/* A tree whose .config names no compiler: the /proc/version of the same kernel. */
static void test_procfs(void)
{
	_cleanup_free_ char *procfs = at("proc");
	struct dk_preflight_opts o = {.procfs = procfs};
	struct dk_preflight pf;

	ok(put(HDR "/.config", "CONFIG_MODVERSIONS=y\n", 0644) == 0 &&
		   put("proc/sys/kernel/osrelease", KVER "\n", 0644) == 0 &&
		   put("proc/version",
		       "Linux version " KVER " (debian-kernel@lists.debian.org) (gcc-12 "
		       "(Debian 12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) "
		       "2.40) "
		       "#1 SMP PREEMPT_DYNAMIC Debian 6.1.99-1\n",
		       0644) == 0,
	   "no CONFIG_GCC_VERSION; /proc of " KVER);
	expect("kernel's gcc from /proc/version", &o, "", &pf);
	is_str(pf.cc.source, "/proc/version", "source");
	is_str(pf.cc.kernel_version, "12.2.0", "version");
	is_str(pf.cc.kernel_text, "gcc-12 (Debian 12.2.0-14) 12.2.0", "text");
	ok(pf.cc.path && strstr(pf.cc.path, "/bin/gcc-12"), "gcc-12 chosen");
	dk_preflight_release(&pf);

	ok(put("proc/sys/kernel/osrelease", "6.12.0-1-amd64\n", 0644) == 0,
	   "/proc of another kernel");
	expect("another kernel's /proc is not used", &o, "", &pf);
	ok(!pf.cc.source && !pf.cc.kernel_version, "kernel's gcc unknown");
	ok(pf.cc.path && strstr(pf.cc.path, "/bin/gcc") && !strstr(pf.cc.path, "gcc-"),
	   "plain gcc chosen (%s)", pf.cc.path);
	dk_preflight_release(&pf);
	ok(config(gcc12) == 0, "back");
}

/* Fix texts follow the layout: RHEL's kernel-devel, else generic. */
static void test_layouts(void)
{
	_cleanup_free_ char *rhel = at("usr/src/kernels/5.14.0-427.el9.x86_64");
	const struct dk_preflight_problem *p;
	struct dk_preflight pf;

	ok(put("usr/src/kernels/5.14.0-427.el9.x86_64/include/generated/utsrelease.h",
	       "#define UTS_RELEASE \"5.14.0-427.el9.x86_64\"\n", 0644) == 0,
	   "a RHEL tree with nothing else");
	ok(dk_preflight_check(rhel, path_env, &strict, &pf) == 0, "check it");
	p = find(&pf, "Module.symvers");
	is_str(p ? p->fix : NULL, "reinstall kernel-devel-5.14.0-427.el9.x86_64",
	       "fix: kernel-devel");
	p = find(&pf, "scripts");
	is_str(p ? p->fix : NULL, "reinstall kernel-devel-5.14.0-427.el9.x86_64",
	       "kbuild fix: kernel-devel");
	p = find(&pf, "compiler");
	ok(p == NULL, "no .config: the compiler is not judged (gcc %s)", pf.cc.version);
	dk_preflight_release(&pf);

	ok(dk_preflight_check("/nonexistent/build", path_env, &strict, &pf) == 0,
	   "a missing build dir");
	is_int(pf.n_problems, 1, "one problem");
	is_str(pf.n_problems ? pf.problems[0].item : NULL, "build_dir", "item build_dir");
	dk_preflight_release(&pf);
}

/* Newest of /usr/src/linux-headers-*-amd64, by version. */
static char *newest_headers(void)
{
	_cleanup_closedir_ DIR *d = opendir("/usr/src");
	char *best = NULL;
	struct dirent *de;

	while (d && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (!startswith(de->d_name, "linux-headers-") || n < 20 ||
		    !streq(de->d_name + n - 6, "-amd64"))
			continue;
		if (!best || strverscmp(de->d_name, best) > 0) {
			free(best);
			best = strdup(de->d_name);
		}
	}
	return best;
}

static void test_installed(void)
{
	_cleanup_free_ char *name = newest_headers(), *build = NULL;
	struct dk_preflight pf;

	if (!name) {
		skip("no /usr/src/linux-headers-*-amd64 installed");
		return;
	}
	build = dk_strdup_printf("/lib/modules/%s/build",
				 name + strlen("linux-headers-"));
	if (!build || !dk_is_dir(build)) {
		skip("no /lib/modules/KVER/build for the installed headers");
		return;
	}
	ok(dk_preflight_check(build, "/usr/local/bin:/usr/bin:/bin", &strict, &pf) == 0,
	   "check %s", build);
	for (size_t i = 0; i < pf.n_problems; i++)
		printf("# %s: %s -> %s\n", pf.problems[i].item, pf.problems[i].what,
		       pf.problems[i].fix);
	is_int(pf.n_problems, 0, "installed headers lack nothing");
	ok(pf.cc.path && pf.cc.same_major,
	   "a gcc of the kernel's major: %s %s (kernel %s)", pf.cc.path, pf.cc.version,
	   pf.cc.kernel_version);
	dk_preflight_release(&pf);
}

int main(void)
{
	if (!mkdtemp(root)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	tree = at(HDR);
	bin = at("bin");
	path_env = dk_strdup_printf("/nonexistent:relative:%s", bin);
	ok(tree && bin && path_env && make_good() == 0, "fixture tree in %s", root);
	test_good();
	test_kbuild();
	test_objtool();
	test_btf();
	test_tree_files();
	test_programs();
	test_compiler();
	test_procfs();
	test_layouts();
	test_installed();
	fx_rm_rf(root);
	free(tree);
	free(bin);
	free(path_env);
	return tap_done();
}
