/* SPDX-License-Identifier: Apache-2.0 */
/* Kernel text parsers, root-relative symlinks, and a detect run on fixture roots. */
#include <errno.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "base/rootfs.h"
#include "host/detect.h"
#include "host/headers.h"
#include "host/kconfig.h"
#include "host/kparse.h"

#include "tap.h"

static void cc(const char *line, const char *name, const char *version, const char *text)
{
	struct dk_cc_info c;
	int r = dk_proc_version_cc_parse(line, &c);

	is_int(r, 0, "proc/version parses: %.40s...", text);
	is_str(c.name, name, "compiler name %s", name);
	is_str(c.version, version, "compiler version %s", version);
	is_str(c.text, text, "compiler text");
	dk_cc_info_free(&c);
}

static void test_proc_version(void)
{
	struct dk_cc_info c;

	cc("Linux version 6.1.0-18-amd64 (debian-kernel@lists.debian.org) (gcc-12 "
	   "(Debian "
	   "12.2.0-14) 12.2.0, GNU ld (GNU Binutils for Debian) 2.40) #1 SMP "
	   "PREEMPT_DYNAMIC Debian 6.1.76-1 (2024-02-01)\n",
	   "gcc", "12.2.0", "gcc-12 (Debian 12.2.0-14) 12.2.0");
	cc("Linux version 5.15.0-131-generic (buildd@lcy02-amd64-057) (gcc (Ubuntu "
	   "11.4.0-1ubuntu1~22.04) 11.4.0, GNU ld (GNU Binutils for Ubuntu) 2.38) "
	   "#141-Ubuntu",
	   "gcc", "11.4.0", "gcc (Ubuntu 11.4.0-1ubuntu1~22.04) 11.4.0");
	cc("Linux version 4.18.0-553.el8_10.x86_64 (mockbuild@x86-vm-07.build.eng.bos."
	   "redhat.com) (gcc version 8.5.0 20210514 (Red Hat 8.5.0-18) (GCC)) #1 SMP Thu",
	   "gcc", "8.5.0", "gcc version 8.5.0 20210514 (Red Hat 8.5.0-18) (GCC)");
	cc("Linux version 6.18.44-fc-v669 (builder@sandboxing) (gcc (GCC) 15.3.0, GNU ld "
	   "(GNU Binutils) 2.46) #1 SMP PREEMPT_DYNAMIC @0",
	   "gcc", "15.3.0", "gcc (GCC) 15.3.0");
	cc("Linux version 5.14.0-427.26.1.el9_4.x86_64 (mockbuild@x86-64-01) (gcc (GCC) "
	   "11.4.1 20231218 (Red Hat 11.4.1-3), GNU ld version 2.35.2-43.el9) #1 SMP",
	   "gcc", "11.4.1", "gcc (GCC) 11.4.1 20231218 (Red Hat 11.4.1-3)");
	cc("Linux version 6.6.30 (u@h) (Android (1234, based on r487747c) clang version "
	   "17.0.2, LLD 17.0.2) #1 SMP",
	   "clang", "17.0.2", "Android (1234, based on r487747c) clang version 17.0.2");
	is_int(dk_proc_version_cc_parse("Linux version 6.1.0 (root@x) #1 SMP", &c),
	       -ENODATA, "no compiler -> ENODATA");
	is_int(dk_proc_version_cc_parse("", &c), -ENODATA, "empty -> ENODATA");
	is_int(dk_proc_version_cc_parse("Linux (gcc (unbalanced 1.2", &c), -ENODATA,
	       "unbalanced parens -> ENODATA");
}

static void test_lockdown(void)
{
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL;

	is_int(dk_lockdown_parse("none [integrity] confidentiality", &a), 0, "lockdown");
	is_str(a, "integrity", "lockdown integrity");
	is_int(dk_lockdown_parse("[none] integrity confidentiality\n", &b), 0,
	       "lockdown");
	is_str(b, "none", "lockdown none");
	is_int(dk_lockdown_parse("none integrity [confidentiality]", &c), 0, "lockdown");
	is_str(c, "confidentiality", "lockdown confidentiality");
	is_int(dk_lockdown_parse("none integrity", &c), -EBADMSG,
	       "no brackets -> EBADMSG");
	is_int(dk_lockdown_parse("none [] x", &c), -EBADMSG, "empty brackets -> EBADMSG");
}

static void test_nvidia(void)
{
	struct dk_nvidia_version v;

	is_int(dk_nvidia_version_parse(
		       "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  "
		       "550.54.14  "
		       "Release Build  (dvs-builder@U16-I3-B03-4-3)  Thu Feb 22 01:25:25 "
		       "UTC "
		       "2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14) \n",
		       &v),
	       0, "open driver version parses");
	is_str(dk_nvidia_flavour_name(v.flavour), "open", "open flavour");
	is_str(v.version, "550.54.14", "open version");
	is_str(v.gcc, "gcc version 12.2.0 (Debian 12.2.0-14)", "GCC line");
	dk_nvidia_version_free(&v);
	is_int(dk_nvidia_version_parse("NVRM version: NVIDIA UNIX x86_64 Kernel Module  "
				       "535.183.01  Sun May 12 19:39:15 UTC 2024\n",
				       &v),
	       0, "proprietary driver version parses");
	is_str(dk_nvidia_flavour_name(v.flavour), "proprietary", "proprietary flavour");
	is_str(v.version, "535.183.01", "proprietary version");
	ok(v.gcc == NULL, "no GCC line");
	dk_nvidia_version_free(&v);
	is_int(dk_nvidia_version_parse("NVRM version: NVIDIA UNIX Open Kernel Module for "
				       "aarch64  570.86.15  Release Build\n",
				       &v),
	       0, "aarch64 open parses");
	is_str(v.version, "570.86.15", "aarch64 version");
	dk_nvidia_version_free(&v);
	is_int(dk_nvidia_version_parse("garbage\n", &v), -EBADMSG, "garbage -> EBADMSG");
	is_int(dk_nvidia_version_parse("NVRM version: NVIDIA UNIX x86_64 Kernel Module  "
				       "Release\n",
				       &v),
	       -EBADMSG, "no version -> EBADMSG");
}

static void test_dtk(void)
{
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_dtk_release d;
	static const char *const bad[] = {
		"",
		"[]",
		"{",
		"{\"KERNEL_VERSION\": \"5.14\"",
		"{\"KERNEL_VERSION\" \"5.14\"}",
		"{\"KERNEL_VERSION\": 5.14}",
		"{\"KERNEL_VERSION\": \"5.14\",}",
		"{\"KERNEL_VERSION\": \"5.14\"} trailing",
		"{\"KERNEL_VERSION\": \"5.1\\x\"}",
		"{\"KERNEL_VERSION\": \"5.14\n\"}",
		"{\"X\": {\"nested\": 1}}",
		"{'KERNEL_VERSION': '5.14'}",
	};

	is_int(dk_dtk_parse(
		       "{\n  \"KERNEL_VERSION\": \"5.14.0-427.26.1.el9_4.x86_64\",\n"
		       "  \"RT_KERNEL_VERSION\": \"5.14.0-427.26.1.el9_4.x86_64+rt\",\n"
		       "  \"RHEL_VERSION\": \"9.4\", \"OTHER\": 3, \"B\": true,\n"
		       "  \"ESC\": \"a\\\"\\u00e9\\/\"\n}\n",
		       &d, &err),
	       0, "DTK release parses");
	is_str(d.kernel_version, "5.14.0-427.26.1.el9_4.x86_64", "KERNEL_VERSION");
	is_str(d.rt_kernel_version, "5.14.0-427.26.1.el9_4.x86_64+rt",
	       "RT_KERNEL_VERSION");
	is_str(d.rhel_version, "9.4", "RHEL_VERSION");
	dk_dtk_release_free(&d);
	is_int(dk_dtk_parse("{}", &d, &err), 0, "empty object parses");
	ok(d.kernel_version == NULL, "empty object: no KERNEL_VERSION");
	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		dk_error_free(&err);
		is_int(dk_dtk_parse(bad[i], &d, &err), -EBADMSG,
		       "malformed #%zu rejected", i);
		ok(err && err->msg && strstr(err->msg, "malformed JSON"),
		   "malformed #%zu has a message (%s)", i, err ? err->msg : "none");
	}
}

static void test_proc_modules(void)
{
	struct dk_proc_module *m = NULL;
	size_t n = 0;

	is_int(dk_proc_modules_parse(
		       "nvidia_uvm 1794048 0 - Live 0x0000000000000000 (POE)\n"
		       "nvidia 56664064 14 nvidia_uvm,nvidia_modeset, Live 0xffffffffc0 "
		       "(POE)\n"
		       "broken line\n"
		       "ib_core 450560 4 rdma_ucm,mlx5_ib,ib_uverbs, Live 0x0\n"
		       "nounload 16384 - - Live 0x0\n"
		       "bad 12x 0 - Live 0x0\n"
		       "mlx5_core 2084864 1 mlx5_ib, Unloading 0x0",
		       &m, &n),
	       0, "/proc/modules parses");
	is_int(n, 5, "malformed lines skipped");
	is_str(m[0].name, "nvidia_uvm", "name");
	is_int(m[0].size, 1794048, "size");
	is_int(m[0].refcnt, 0, "refcnt 0");
	is_int(dk_strv_len(m[0].used_by), 0, "'-' means no users");
	is_int(m[1].refcnt, 14, "refcnt 14");
	is_int(dk_strv_len(m[1].used_by), 2, "two users");
	is_str(m[1].used_by[1], "nvidia_modeset", "trailing comma dropped");
	is_int(dk_strv_len(m[2].used_by), 3, "ib_core users");
	is_int(m[3].refcnt, -1, "'-' refcnt is -1");
	is_str(m[4].state, "Unloading", "state");
	dk_proc_modules_free(m, n);
	ok(dk_detect_module_of_interest("nvidia_peermem"),
	   "nvidia_peermem is of interest");
	ok(dk_detect_module_of_interest("mlx_compat"), "mlx_compat is of interest");
	ok(dk_detect_module_of_interest("rdma_cm"), "rdma_cm is of interest");
	ok(!dk_detect_module_of_interest("ext4"), "ext4 is not");
	ok(!dk_detect_module_of_interest("mlxfw"), "mlxfw is not");
}

static void test_kconfig(void)
{
	const char *cfg = "CONFIG_CC_VERSION_TEXT=\"gcc (GCC) 11.4.1\"\n"
			  "CONFIG_GCC_VERSION=110401\n"
			  "CONFIG_MODULE_UNLOAD=y\n"
			  "CONFIG_MODULE_UNLOAD_TAINT=y\n"
			  "# CONFIG_MODVERSIONS is not set\n";
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *d = NULL, *u = NULL;

	is_int(dk_kconfig_get(cfg, "CC_VERSION_TEXT", &a), 0, "string option");
	is_str(a, "gcc (GCC) 11.4.1", "string option unquoted");
	is_int(dk_kconfig_get(cfg, "GCC_VERSION", &b), 0, "int option");
	is_str(b, "110401", "int value");
	is_int(dk_kconfig_get(cfg, "MODULE_UNLOAD", &c), 0, "bool option");
	is_str(c, "y", "prefix of another symbol not confused");
	is_int(dk_kconfig_get(cfg, "MODVERSIONS", &d), 0, "not set option");
	is_str(d, "n", "is not set -> n");
	is_int(dk_kconfig_get(cfg, "MODULE_SIG", &u), -ENOENT, "absent -> ENOENT");
	is_int(dk_utsrelease_parse("#define UTS_RELEASE \"6.1.0-18-amd64\"\n", &u), 0,
	       "utsrelease.h");
	is_str(u, "6.1.0-18-amd64", "UTS_RELEASE");
	{
		_cleanup_free_ char *r = NULL, *s = NULL;

		is_int(dk_utsrelease_parse("/* UTS_RELEASE \"x\" */\n#define "
					   "UTS_RELEASE_X \"y\"\n#define\tUTS_RELEASE "
					   "\"6.1.0-19-amd64\"\n",
					   &r),
		       0, "utsrelease.h with a comment and a longer name");
		is_str(r, "6.1.0-19-amd64", "only #define UTS_RELEASE counts");
		is_int(dk_define_string_get("#define OTHER \"a\"\n", "UTS_RELEASE", &s),
		       -ENOENT, "absent #define -> ENOENT");
	}
}

static void test_root_resolve(void)
{
	char dir[] = "/tmp/dk-resolve-XXXXXX";
	_cleanup_free_ char *a = NULL, *b = NULL, *c = NULL, *want = NULL, *e = NULL;
	_cleanup_free_ char *sub = NULL, *link = NULL, *rel = NULL, *loop = NULL;

	ok(mkdtemp(dir) != NULL, "mkdtemp");
	sub = dk_path_join(dir, "usr/src/hdr");
	want = dk_path_join(dir, "usr/src/hdr");
	{
		_cleanup_free_ char *u = dk_path_join(dir, "usr");
		_cleanup_free_ char *us = dk_path_join(dir, "usr/src");
		_cleanup_free_ char *lm = dk_path_join(dir, "lib");

		ok(mkdir(u, 0755) == 0 && mkdir(us, 0755) == 0 && mkdir(sub, 0755) == 0 &&
			   mkdir(lm, 0755) == 0,
		   "mkdirs");
	}
	link = dk_path_join(dir, "lib/build");
	rel = dk_path_join(dir, "lib/rel");
	loop = dk_path_join(dir, "lib/loop");
	ok(symlink("/usr/src/hdr", link) == 0, "absolute symlink");
	ok(symlink("../../../../usr/src/hdr", rel) == 0,
	   "relative symlink climbing above");
	ok(symlink("/lib/loop", loop) == 0, "loop symlink");
	is_int(dk_root_resolve(dir, "/lib/build", &a), 0, "resolve absolute link");
	is_str(a, want, "absolute link target stays inside the root");
	is_int(dk_root_resolve(dir, "/lib/rel/.", &b), 0, "resolve relative link");
	is_str(b, want, "'..' does not climb above the root");
	is_int(dk_root_resolve(dir, "/lib/missing/x", &c), 0, "missing path resolves");
	ok(c && strstr(c, "/lib/missing/x"), "missing components kept (%s)", c);
	is_int(dk_root_resolve(dir, "/lib/loop", &e), -ELOOP, "symlink loop -> ELOOP");
	unlink(link);
	unlink(rel);
	unlink(loop);
	{
		_cleanup_free_ char *lm = dk_path_join(dir, "lib");
		_cleanup_free_ char *u = dk_path_join(dir, "usr");
		_cleanup_free_ char *us = dk_path_join(dir, "usr/src");

		rmdir(sub);
		rmdir(us);
		rmdir(u);
		rmdir(lm);
	}
	rmdir(dir);
}

/* headers.c: the places, the usability check and the explanation of a miss. */
static void test_headers_scan(void)
{
	static const char *const dirs[] = {
		"lib",
		"lib/modules",
		"lib/modules/9.9.9-t",
		"usr",
		"usr/src",
		"usr/src/linux-headers-9.9.9-t",
		"usr/src/linux-headers-9.9.9-t/include",
		"usr/src/linux-headers-9.9.9-t/include/generated"};
	static const char uts[] = "#define UTS_RELEASE \"9.9.9-t\"\n";
	char root[] = "/tmp/dk-headers-XXXXXX";
	_cleanup_free_ char *tree = NULL, *link = NULL, *u = NULL, *cfg = NULL,
			    *sym = NULL;
	_cleanup_free_ char *why = NULL;
	struct dk_headers_info *info = NULL;
	_cleanup_error_ struct dk_error *err = NULL;

	ok(mkdtemp(root) != NULL, "mkdtemp");
	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		_cleanup_free_ char *d = dk_path_join(root, dirs[i]);

		if (mkdir(d, 0755) < 0)
			break;
	}
	tree = dk_path_join(root, "usr/src/linux-headers-9.9.9-t");
	link = dk_path_join(root, "lib/modules/9.9.9-t/build");
	u = dk_path_join(tree, "include/generated/utsrelease.h");
	cfg = dk_path_join(tree, ".config");
	sym = dk_path_join(tree, "Module.symvers");
	ok(symlink("/usr/src/linux-headers-9.9.9-t", link) == 0 &&
		   dk_write_file_atomic(u, uts, strlen(uts), 0644) == 0 &&
		   dk_write_file_atomic(cfg, "", 0, 0644) == 0,
	   "a tree without Module.symvers behind an absolute build link");
	is_int(dk_headers_scan(root, "9.9.9-t", "x86_64", DK_HEADERS_ALL, &info, &err), 0,
	       "scan");
	ok(info && !info->build_dir && info->n_cands == 4 && info->cands[0].exists &&
		   streq(info->cands[0].path, tree) &&
		   streq(info->cands[0].reason, "no Module.symvers"),
	   "build link resolved inside the root, rejected for Module.symvers");
	why = info ? dk_headers_explain(info) : NULL;
	ok(why && strstr(why, "-> ") && strstr(why, "(the same tree)") &&
		   strstr(why, "without Module.symvers"),
	   "explained: where it resolved, the duplicate, what is missing (%s)", why);
	dk_headers_info_free(info);
	info = NULL;
	ok(dk_write_file_atomic(sym, "", 0, 0644) == 0, "add Module.symvers");
	is_int(dk_headers_scan(root, "9.9.9-t", NULL, DK_HEADERS_RHEL, &info, &err), 0,
	       "scan one place");
	ok(info && info->n_cands == 1 && !info->build_dir &&
		   streq(info->cands[0].kind, "rhel"),
	   "only the places asked for");
	dk_headers_info_free(info);
	info = NULL;
	is_int(dk_headers_scan(root, "9.9.9-t", NULL, DK_HEADERS_ALL, &info, &err), 0,
	       "scan again");
	is_str(info ? info->build_dir : NULL, tree, "now usable");
	dk_headers_info_free(info);
	is_int(dk_headers_scan(root, "../x", NULL, DK_HEADERS_ALL, &info, &err), -EINVAL,
	       "a release that is no file name -> EINVAL");
	unlink(sym);
	unlink(cfg);
	unlink(u);
	unlink(link);
	for (size_t i = ARRAY_SIZE(dirs); i-- > 0;) {
		_cleanup_free_ char *d = dk_path_join(root, dirs[i]);

		rmdir(d);
	}
	rmdir(root);
}

static void test_suse_path(void)
{
	_cleanup_free_ char *p =
		dk_suse_headers_path("5.14.21-150500.55.65-default", "x86_64");
	_cleanup_free_ char *q = dk_suse_headers_path("5.15.0-131-generic", "aarch64");

	is_str(p, "/usr/src/linux-5.14.21-150500.55.65-obj/x86_64/default", "SUSE path");
	is_str(q, "/usr/src/linux-5.15.0-131-obj/aarch64/generic", "flavour split");
	ok(dk_suse_headers_path("5.14.0-427.26.1.el9_4.x86_64", "x86_64") == NULL,
	   "no flavour -> NULL");
}

static const struct dk_loaded_module *find_mod(const struct dk_detect *d, const char *n)
{
	for (size_t i = 0; i < d->modules.n; i++)
		if (streq(d->modules.v[i].name, n))
			return &d->modules.v[i];
	return NULL;
}

static void test_run_ubuntu(const char *fixtures)
{
	_cleanup_free_ char *root = dk_path_join(fixtures, "detect/ubuntu2204-gpu");
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_loaded_module *m;
	struct dk_detect d;
	struct dk_ctx ctx;

	dk_ctx_init(&ctx);
	ctx.host_root = root;
	is_int(dk_detect_run(&ctx, &d, &err), 0, "detect on ubuntu2204-gpu");
	is_str(d.kernel.release.value, "5.15.0-131-generic", "release from procfs");
	is_str(d.kernel.built_by.version, "11.4.0", "built with gcc 11.4.0");
	is_str(d.os.osr.id, "ubuntu", "os id");
	ok(!d.dtk.present && d.dtk.broken == DK_TRI_UNKNOWN, "no DTK");
	ok(d.headers.selected >= 0, "headers selected");
	if (d.headers.selected >= 0) {
		const struct dk_header_dir *h = &d.headers.dirs[d.headers.selected];

		is_str(h->kind, "build", "build link selected");
		ok(h->resolved && strstr(h->resolved, root) &&
			   strstr(h->resolved,
				  "/usr/src/linux-headers-5.15.0-131-generic"),
		   "absolute build link resolved inside the root");
		ok(h->has_config && h->has_symvers, ".config and Module.symvers");
		is_str(h->config_gcc_version, "110400", "CONFIG_GCC_VERSION");
	}
	is_int(d.policy.sig_enforce.value, DK_SIG_ENFORCE_YES, "sig_enforce");
	is_int(d.policy.lockdown.value, DK_LOCKDOWN_INTEGRITY, "lockdown");
	is_int(d.policy.secure_boot.value, DK_SECURE_BOOT_YES, "secure boot");
	is_int(d.policy.module_unload.value, DK_MODULE_UNLOAD_YES, "module unload");
	is_int(d.policy.modversions.value, DK_MODVERSIONS_YES, "modversions");
	is_int(d.devices.n, 5, "5 devices of interest (Intel, audio skipped)");
	m = find_mod(&d, "ib_core");
	ok(m && dk_strv_len(m->holders) == 4,
	   "ib_core holders union of procfs and sysfs");
	ok(find_mod(&d, "ext4") == NULL && find_mod(&d, "mlxfw") == NULL,
	   "uninteresting modules filtered");
	is_int(d.nvidia.ver.flavour, DK_NVIDIA_OPEN, "open driver");
	dk_detect_free(&d);
}

static void test_run_empty(void)
{
	char dir[] = "/tmp/dk-empty-XXXXXX";
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_detect d;
	struct dk_ctx ctx;

	ok(mkdtemp(dir) != NULL, "mkdtemp");
	dk_ctx_init(&ctx);
	ctx.host_root = dir;
	ctx.kernel = "6.1.0-18-amd64";
	is_int(dk_detect_run(&ctx, &d, &err), 0, "detect on an empty root succeeds");
	ok(d.os.reason &&
		   strstr(d.os.reason, "/etc/os-release: No such file or directory"),
	   "os unknown with reason (%s)", d.os.reason);
	ok(d.kernel.built_cc.value == NULL && d.kernel.built_cc.reason,
	   "built-with unknown with reason");
	ok(d.policy.sig_enforce.value == DK_SIG_ENFORCE_UNKNOWN &&
		   d.policy.sig_enforce.why,
	   "sig_enforce unknown with reason");
	ok(d.policy.modversions.value == DK_MODVERSIONS_UNKNOWN &&
		   d.policy.modversions.why,
	   "modversions unknown with reason");
	ok(d.devices.reason != NULL && d.devices.n == 0, "devices unknown with reason");
	ok(d.modules.reason != NULL, "modules unknown with reason");
	ok(d.headers.selected == -1 && d.headers.n > 0, "no headers selected");
	dk_detect_free(&d);
	rmdir(dir);
}

int main(void)
{
	const char *fixtures = getenv("DK_FIXTURES");

	test_proc_version();
	test_lockdown();
	test_nvidia();
	test_dtk();
	test_proc_modules();
	test_kconfig();
	test_root_resolve();
	test_suse_path();
	test_headers_scan();
	if (fixtures)
		test_run_ubuntu(fixtures);
	else
		skip("DK_FIXTURES not set");
	test_run_empty();
	return tap_done();
}
