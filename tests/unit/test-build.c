/* SPDX-License-Identifier: Apache-2.0 */
/* The build subsystem's parts that run without make: manifests, the kbuild argv and
 * environment, the first error of real build logs (tests/fixtures/build, and gcc
 * run here), the cache key against every input (and against what is no input), and
 * the build order. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/tree.h"
#include "build/build-internal.h"
#include "build/kbuild.h"
#include "build/manifest.h"

#include "fixture.h"
#include "tap.h"

#define KVER "6.1.0-99-amd64"
#define SHA_A "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define SHA_B "fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210"

static char root[] = "/tmp/dk-test-build-XXXXXX";

static char *at(const char *rel)
{
	return dk_path_join(root, rel);
}

/* ---- manifest ---- */

static char *s(const char *v)
{
	return v ? strdup(v) : NULL;
}

/* Every field set, or (full false) only the required ones. */
static struct dk_manifest *make_manifest(bool full)
{
	struct dk_manifest *m = calloc(1, sizeof(*m));

	m->component = s("nvidia");
	m->kernel = s(KVER);
	m->source_sha256 = s(SHA_A);
	m->spec_sha256 = s(SHA_B);
	m->n_modules = 2;
	m->modules = calloc(2, sizeof(*m->modules));
	m->modules[0] = (struct dk_manifest_module){s("nvidia"), s("nvidia.ko"), s(SHA_A),
						    4, full ? s("0123ABCD") : NULL};
	m->modules[1] = (struct dk_manifest_module){s("nvidia_uvm"), s("nvidia-uvm.ko"),
						    s(SHA_B), 1 << 20, NULL};
	if (!full)
		return m;
	m->key = s(SHA_A);
	m->alias = s(SHA_B);
	m->version = s("535.261.03");
	m->flavor = s("open");
	m->arch = s("x86_64");
	m->source_url = s("http://deb/nvidia \"open\".deb");
	m->n_patches = 2;
	m->patches = calloc(3, sizeof(char *));
	m->patches[0] = s("one.diff " SHA_A);
	m->patches[1] = s("two.diff " SHA_B);
	m->compiler = s("12.2.0 (/usr/bin/gcc-12)");
	m->kernel_config_sha256 = s(SHA_A);
	m->kernel_symvers_sha256 = s(SHA_B);
	m->n_uses = 2;
	m->uses = calloc(2, sizeof(*m->uses));
	m->uses[0] = (struct dk_manifest_use){s("ofed"), s(SHA_A), s(SHA_B)};
	m->uses[1] = (struct dk_manifest_use){s("gdr"), s(SHA_B), NULL};
	m->symvers_sha256 = s(SHA_A);
	m->signer = s("drvkit test signer");
	return m;
}

/* The same strings, NULL matching NULL. */
static bool same(const char *a, const char *b)
{
	return a && b ? streq(a, b) : a == b;
}

static bool same_manifest(const struct dk_manifest *a, const struct dk_manifest *b)
{
#define EQ(f) same(a->f, b->f)
	bool eq = a->n_patches == b->n_patches && a->n_uses == b->n_uses &&
		  a->n_modules == b->n_modules && EQ(key) && EQ(alias) && EQ(component) &&
		  EQ(version) && EQ(flavor) && EQ(kernel) && EQ(arch) && EQ(source_url) &&
		  EQ(source_sha256) && EQ(spec_sha256) && EQ(compiler) &&
		  EQ(kernel_config_sha256) && EQ(kernel_symvers_sha256) &&
		  EQ(symvers_sha256) && EQ(signer);

	for (size_t i = 0; eq && i < a->n_patches; i++)
		eq = EQ(patches[i]);
	for (size_t i = 0; eq && i < a->n_uses; i++)
		eq = EQ(uses[i].component) && EQ(uses[i].manifest_sha256) &&
		     EQ(uses[i].symvers_sha256);
	for (size_t i = 0; eq && i < a->n_modules; i++)
		eq = EQ(modules[i].name) && EQ(modules[i].file) &&
		     EQ(modules[i].sha256) && a->modules[i].size == b->modules[i].size &&
		     EQ(modules[i].srcversion);
#undef EQ
	return eq;
}

static void test_manifest_round_trip(void)
{
	for (int full = 1; full >= 0; full--) {
		_cleanup_manifest_ struct dk_manifest *m = make_manifest(full);
		_cleanup_manifest_ struct dk_manifest *back = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		_cleanup_free_ char *dir = at(full ? "manifest-full" : "manifest-min");
		_cleanup_free_ char *file = dk_path_join(dir, "manifest.json");
		_cleanup_free_ char *digest = NULL;
		char want[DK_SHA256_HEX_LEN + 1] = "";
		const char *what = full ? "every field" : "null fields";

		ok(dk_mkdir_p(dir, 0755) == 0, "%s: dir", what);
		is_int(dk_manifest_write(m, dir, &err), 0, "%s: written", what);
		is_int(dk_manifest_read(dir, &back, &digest, &err), 0,
		       "%s: read back%s%s", what, err ? ": " : "", err ? err->msg : "");
		ok(back && same_manifest(m, back), "%s: the same manifest", what);
		ok(dk_sha256_file(file, want) == 0 && same(digest, want),
		   "%s: the digest is the file's sha256", what);
		ok(back && dk_manifest_module(back, "nvidia_uvm") == &back->modules[1] &&
			   !dk_manifest_module(back, "nvidia_drm"),
		   "%s: dk_manifest_module", what);
	}
}

static int parse_manifest(const char *text, struct dk_manifest **m, struct dk_error **err)
{
	return dk_manifest_parse("manifest.json", text, strlen(text), m, err);
}

#define MODULE_JSON(file)                                                \
	"{\"name\": \"x\", \"file\": \"" file "\", \"sha256\": \"" SHA_A \
	"\", \"size\": 4}"

static void test_manifest_refused(void)
{
	static const struct {
		const char *text, *want, *desc;
	} bad[] = {
		{"{\"drvkit_manifest\": 2, \"component\": \"c\", \"kernel\": \"k\", "
		 "\"modules\": []}",
		 "manifest.json:1:21: drvkit_manifest: manifest version 2; this drvkit "
		 "reads "
		 "version 1",
		 "version 2"},
		{"{\"drvkit_manifest\": 1, \"component\": \"c\", \"kernel\": \"k\", "
		 "\"modules\": [" MODULE_JSON("../x.ko") "]}",
		 "manifest.json:1:69: modules: module file '../x.ko' is not a file name",
		 "module file with a '/'"},
		{"{\"drvkit_manifest\": 1, \"component\": \"c\", \"kernel\": \"k\", "
		 "\"modules\": [" MODULE_JSON("..") "]}",
		 "manifest.json:1:69: modules: module file '..' is not a file name",
		 "module file '..'"},
		{"{\"drvkit_manifest\": 1, \"component\": \"c\", \"modules\": []}",
		 "manifest.json:1:1: kernel: required key is missing", "no kernel"},
		{"drvkit_manifest: 1\n", "manifest.json:1:1:", "YAML, not JSON"},
	};

	for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
		_cleanup_manifest_ struct dk_manifest *m = NULL;
		_cleanup_error_ struct dk_error *err = NULL;

		is_int(parse_manifest(bad[i].text, &m, &err), -EBADMSG, "%s: EBADMSG",
		       bad[i].desc);
		ok(err && startswith(err->msg, bad[i].want), "%s: '%s'", bad[i].desc,
		   err ? err->msg : "");
		ok(!m, "%s: no manifest", bad[i].desc);
	}
	{
		_cleanup_manifest_ struct dk_manifest *m = NULL;
		_cleanup_error_ struct dk_error *err = NULL;
		_cleanup_free_ char *dir = at("no-manifest");
		char *digest = NULL;

		is_int(dk_manifest_read(dir, &m, &digest, &err), -ENOENT,
		       "no manifest.json: ENOENT");
		ok(!digest, "no manifest.json: no digest");
	}
}

static void test_manifest_verify(void)
{
	_cleanup_free_ char *dir = at("verify");
	_cleanup_free_ char *a = dk_path_join(dir, "a.ko"),
			    *b = dk_path_join(dir, "b.ko");
	_cleanup_manifest_ struct dk_manifest *m = calloc(1, sizeof(*m));
	char ha[DK_SHA256_HEX_LEN + 1], hb[DK_SHA256_HEX_LEN + 1];
	struct {
		const char *content, *link, *want, *desc;
		int r;
	} cases[] = {
		{"AAAA", NULL, NULL, "whole", 0},
		{"AAAAA", NULL, "a.ko: 5 bytes, the manifest says 4", "size mismatch",
		 -EBADMSG},
		{"AAAB", NULL, "a.ko: sha256 ", "digest mismatch (same size)", -EBADMSG},
		{NULL, NULL, "a.ko: No such file or directory (listed in the manifest)",
		 "missing file", -ENOENT},
		{NULL, "b.ko", "a.ko: not a regular file", "symlink", -EBADMSG},
	};

	ok(fx_put(dir, "a.ko", "AAAA", 0644) == 0 &&
		   fx_put(dir, "b.ko", "BB", 0644) == 0 && dk_sha256_file(a, ha) == 0 &&
		   dk_sha256_file(b, hb) == 0,
	   "verify: module files");
	m->n_modules = 2;
	m->modules = calloc(2, sizeof(*m->modules));
	m->modules[0] = (struct dk_manifest_module){s("a"), s("a.ko"), s(ha), 4, NULL};
	m->modules[1] = (struct dk_manifest_module){s("b"), s("b.ko"), s(hb), 2, NULL};
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++) {
		_cleanup_error_ struct dk_error *err = NULL;
		_cleanup_free_ char *want = NULL;

		unlink(a);
		if (cases[i].content)
			(void)!fx_put(dir, "a.ko", cases[i].content, 0644);
		if (cases[i].link)
			(void)!symlink(cases[i].link, a);
		is_int(dk_manifest_verify(m, dir, &err), cases[i].r, "verify: %s",
		       cases[i].desc);
		want = cases[i].want ? dk_strdup_printf("%s/%s", dir, cases[i].want)
				     : NULL;
		ok(want ? err && startswith(err->msg, want) : !err, "verify: %s: '%s'",
		   cases[i].desc, err ? err->msg : "no error");
	}
}

/* ---- kbuild: argv, environment ---- */

static char *join(char **v)
{
	struct strbuf b;

	strbuf_init(&b);
	for (size_t i = 0; v && v[i]; i++)
		strbuf_printf(&b, "%s%s", i ? "|" : "", v[i]);
	return v ? strbuf_steal(&b) : NULL;
}

static void strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static const struct dk_kbuild kb_base = {
	.component = "drv",
	.version = "1.0",
	.kernel = KVER,
	.build_dir = "/lib/modules/" KVER "/build",
	.src = "/w/src/kernel-open",
	.out = "/w/out",
	.work = "/w",
	.jobs = 8,
};

static void expect_argv(const struct dk_kbuild *b, const char *want, const char *desc)
{
	char **v = dk_kbuild_argv(b);
	_cleanup_free_ char *got = join(v);

	is_str(got, want, "argv: %s", desc);
	strv_free(v);
}

static void test_kbuild_configure_argv(void)
{
	char *const conf[] = {(char *)"./configure", (char *)"--kernel-version={kernel}",
			      (char *)"--kernel-sources={build_dir}",
			      (char *)"--with-njobs={jobs}"};
	struct dk_kbuild b = kb_base;
	char **v;
	_cleanup_free_ char *joined = NULL;
	struct strbuf s;

	b.configure = conf;
	b.n_configure = ARRAY_SIZE(conf);
	v = dk_kbuild_configure_argv(&b);
	strbuf_init(&s);
	for (size_t i = 0; v && v[i]; i++)
		strbuf_printf(&s, "%s%s", i ? "|" : "", v[i]);
	joined = strbuf_steal(&s);
	is_str(joined,
	       "./configure|--kernel-version=" KVER "|--kernel-sources=/lib/modules/" KVER
	       "/build|--with-njobs=8",
	       "configure argv: placeholders filled");
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

static void test_kbuild_argv(void)
{
	char *const custom[] = {(char *)"sh", (char *)"-c",
				(char *)"make -C {build_dir} M={src} -j{jobs} "
					"KVER={kernel} O={out} SYMS='{uses_symvers}' "
					"{uses_include}",
				(char *)"{kernel}{kernel}", (char *)"{nope} {src"};
	struct dk_kbuild b = kb_base;

	expect_argv(&b,
		    "make|-C|/lib/modules/" KVER
		    "/build|M=/w/src/kernel-open|-j8|modules",
		    "default kbuild invocation");
	b.cc = "/usr/bin/gcc-12";
	b.uses_symvers = "/c/ofed/Module.symvers /c/nv/Module.symvers";
	b.uses_include = "-I/c/ofed/include";
	b.jobs = 0;
	expect_argv(&b,
		    "make|-C|/lib/modules/" KVER
		    "/build|M=/w/src/kernel-open|-j1|modules|"
		    "CC=/usr/bin/gcc-12|KBUILD_EXTRA_SYMBOLS=/c/ofed/Module.symvers "
		    "/c/nv/Module.symvers",
		    "CC= and KBUILD_EXTRA_SYMBOLS= on the command line, -j1 for 0 jobs");
	b.make = custom;
	b.n_make = ARRAY_SIZE(custom);
	b.jobs = 3;
	expect_argv(
		&b,
		"sh|-c|make -C /lib/modules/" KVER "/build M=/w/src/kernel-open -j3 "
		"KVER=" KVER " O=/w/out SYMS='/c/ofed/Module.symvers "
		"/c/nv/Module.symvers' -I/c/ofed/include|" KVER KVER "|{nope} {src",
		"custom make: every placeholder, nothing appended, unknown ones kept");
	b.uses_symvers = b.uses_include = NULL;
	expect_argv(&b,
		    "sh|-c|make -C /lib/modules/" KVER "/build M=/w/src/kernel-open -j3 "
		    "KVER=" KVER " O=/w/out SYMS='' |" KVER KVER "|{nope} {src",
		    "custom make without uses: empty placeholders");
}

/* The value of NAME in env, and how often NAME is there. */
static const char *env_get(char **env, const char *name, int *count)
{
	const char *v = NULL;
	size_t n = strlen(name);

	*count = 0;
	for (size_t i = 0; env && env[i]; i++)
		if (strncmp(env[i], name, n) == 0 && env[i][n] == '=') {
			v = env[i] + n + 1;
			++*count;
		}
	return v;
}

static void expect_env(char **env, const char *name, const char *want)
{
	int count;
	const char *v = env_get(env, name, &count);

	ok(want ? count == 1 && same(v, want) : count == 0, "env: %s=%s (got %d: %s)",
	   name, want ? want : "(absent)", count, v ? v : "-");
}

/* Sets variables in this process: run in a child. */
static void case_kbuild_env(void)
{
	char *const spec[] = {(char *)"PATH=/opt/cuda/bin:/usr/bin",
			      (char *)"IGNORE_CC_MISMATCH=1", (char *)"EMPTY="};
	struct dk_kbuild b = kb_base;
	char **env;

	setenv("DK_TEST_LEAK", "from the caller", 1);
	setenv("PATH", "/evil/bin:/usr/bin", 1);
	setenv("KCFLAGS", "-O0", 1);
	setenv("CROSS_COMPILE", "aarch64-linux-gnu-", 1);
	b.cc = "/usr/bin/gcc-12";
	b.uses_symvers = "/c/ofed/Module.symvers";
	b.uses_include = "-I/c/ofed/include";
	env = dk_kbuild_env(&b);
	ok(env != NULL, "env: built");
	for (char **e = environ; env && e && *e; e++) {
		bool leaked = false;

		for (char **v = env; *v; v++)
			leaked |= streq(*v, *e) && !startswith(*e, "LANG=") &&
				  !startswith(*e, "LC_ALL=") && !startswith(*e, "TZ=");
		if (leaked)
			ok(0, "env: %s of the caller leaks in", *e);
	}
	expect_env(env, "DK_TEST_LEAK", NULL);
	expect_env(env, "CROSS_COMPILE", NULL);
	expect_env(env, "PATH",
		   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	expect_env(env, "KBUILD_BUILD_TIMESTAMP", DK_KBUILD_TIMESTAMP);
	expect_env(env, "KBUILD_BUILD_USER", "drvkit");
	expect_env(env, "KBUILD_BUILD_HOST", "drvkit");
	expect_env(env, "SOURCE_DATE_EPOCH", "0");
	expect_env(env, "LC_ALL", "C");
	expect_env(env, "HOME", "/w");
	expect_env(env, "KCFLAGS", "-ffile-prefix-map=/w=" DK_KBUILD_PREFIX);
	expect_env(env, "CC", "/usr/bin/gcc-12");
	expect_env(env, "KBUILD_EXTRA_SYMBOLS", "/c/ofed/Module.symvers");
	expect_env(env, "DRVKIT_USES_INCLUDE", "-I/c/ofed/include");
	strv_free(env);

	b = kb_base;
	b.env = spec;
	b.n_env = ARRAY_SIZE(spec);
	b.work = NULL;
	env = dk_kbuild_env(&b);
	expect_env(env, "PATH", "/opt/cuda/bin:/usr/bin");
	expect_env(env, "IGNORE_CC_MISMATCH", "1");
	expect_env(env, "EMPTY", "");
	expect_env(env, "HOME", "/nonexistent");
	expect_env(env, "KCFLAGS", NULL);
	expect_env(env, "CC", NULL);
	expect_env(env, "KBUILD_EXTRA_SYMBOLS", NULL);
	strv_free(env);
}

/* ---- kbuild: the first error of a log ---- */

static void expect_first(const char *log, const char *want, const char *desc)
{
	_cleanup_free_ char *got = dk_kbuild_first_error(log);

	is_str(got, want, "first error: %s", desc);
}

static void test_first_error_fixtures(void)
{
	static const struct {
		const char *file, *want;
	} logs[] = {
		{"gcc12-error-in-function.log",
		 "/tmp/dkfx/work-func/src/dkfunc.c:15: invalid use of undefined type "
		 "'struct dk_missing' (in function dk_init)"},
		{"gcc12-missing-include.log",
		 "/tmp/dkfx/work-inc/src/dkinc.c:3: nv-linux-missing.h: No such file or "
		 "directory"},
		{"gcc12-error-at-top-level.log", "/tmp/dkfx/work-top/src/dktop.c:11: "
						 "variable 'dk_fops' has initializer but "
						 "incomplete type"},
		{"modpost-undefined.log",
		 "ERROR: modpost: \"ib_register_peer_memory_client\" "
		 "[/tmp/dkfx/work-modpost/src/dkpost.ko] undefined!"},
		{"make-error-only.log", "make: *** [Makefile:3: all] Error 2"},
		{"build-ok.log", NULL},
	};
	const char *fixtures = getenv("DK_FIXTURES");

	if (!fixtures) {
		skip("DK_FIXTURES not set");
		return;
	}
	for (size_t i = 0; i < ARRAY_SIZE(logs); i++) {
		_cleanup_free_ char *path =
			dk_strdup_printf("%s/build/%s", fixtures, logs[i].file);
		_cleanup_free_ char *log = NULL;

		ok(dk_read_file(path, 1 << 20, &log, NULL) == 0, "read %s", logs[i].file);
		expect_first(log, logs[i].want, logs[i].file);
	}
	expect_first("", NULL, "empty log");
	expect_first(NULL, NULL, "no log");
	expect_first("  CC [M]  " DK_KBUILD_PREFIX "/src/x.o\n" DK_KBUILD_PREFIX
		     "/src/x.c: In function 'f':\n" DK_KBUILD_PREFIX
		     "/src/x.c:3:5: error: boom\n",
		     "src/x.c:3: boom (in function f)", "the prefix map is stripped");
	expect_first("make[2]: *** [a] Error 1\nmake: *** [b] Error 2\n",
		     "make: *** [b] Error 2", "only make errors: the last one");
}

/* gcc itself, on C files broken here, in the C and a UTF-8 locale (quotes differ). */
static void test_first_error_gcc(void)
{
	static const char src[] = "struct s;\n"
				  "int f(struct s *p)\n"
				  "{\n"
				  "\treturn p->x;\n"
				  "}\n";
	static const char *const locales[] = {"C", "C.UTF-8"};
	_cleanup_free_ char *dir = at("gcc");

	if (access("/usr/bin/gcc-12", X_OK) < 0) {
		skip("no /usr/bin/gcc-12");
		return;
	}
	ok(fx_put(dir, "broken.c", src, 0644) == 0, "broken C file");
	for (size_t i = 0; i < ARRAY_SIZE(locales); i++) {
		_cleanup_free_ char *cmd = dk_strdup_printf(
			"cd %s && env -i PATH=/usr/bin:/bin LC_ALL=%s gcc-12 -c broken.c "
			"-o /dev/null > gcc.log 2>&1",
			dir, locales[i]);
		_cleanup_free_ char *logp = dk_path_join(dir, "gcc.log");
		_cleanup_free_ char *log = NULL;
		int rc = cmd ? system(cmd) : -1;

		ok(rc > 0 && dk_read_file(logp, 1 << 20, &log, NULL) == 0,
		   "gcc-12 fails on broken.c (LC_ALL=%s)", locales[i]);
		expect_first(
			log,
			i ? "broken.c:4: invalid use of undefined type \u2018struct "
			    "s\u2019 (in function f)"
			  : "broken.c:4: invalid use of undefined type 'struct s' (in "
			    "function f)",
			locales[i]);
	}
}

/* dk_kbuild_run with a shell as make: the error names the component and quotes the
 * first error relative to the work directory; the build sees the clean env. */
static void case_kbuild_run(void)
{
	char *const fail[] = {(char *)"sh", (char *)"-c",
			      (char *)"echo '  CC [M]  {src}/x.o'; "
				      "echo \"{src}/x.c: In function 'f':\" >&2; "
				      "echo '{src}/x.c:3:5: error: boom' >&2; exit 2"};
	char *const good[] = {(char *)"sh", (char *)"-c", (char *)"env > {out}/env.txt"};
	_cleanup_free_ char *work = at("kbuild/work"), *src = at("kbuild/work/src");
	_cleanup_free_ char *out = at("kbuild/out"), *log = at("kbuild/build.log");
	_cleanup_free_ char *want = NULL, *text = NULL, *envp = NULL;
	struct dk_kbuild b = kb_base;
	struct dk_error *err = NULL;

	setenv("DK_TEST_LEAK", "from the caller", 1);
	ok(dk_mkdir_p(src, 0755) == 0 && dk_mkdir_p(out, 0755) == 0, "kbuild: dirs");
	b.flavor = "open";
	b.work = work;
	b.src = src;
	b.out = out;
	b.log_path = log;
	b.quiet = true;
	b.make = fail;
	b.n_make = ARRAY_SIZE(fail);
	is_int(dk_kbuild_run(&b, &err), -EIO, "kbuild: a failed make is EIO");
	want = dk_strdup_printf(
		"component drv (version 1.0, flavor open) for kernel " KVER
		": x.c:3: boom (in function f); make exited with "
		"status 2; full log: %s",
		log);
	is_str(err ? err->msg : NULL, want, "kbuild: the message");
	dk_error_free(&err);
	ok(dk_read_file(log, 1 << 20, &text, NULL) == 0 && strstr(text, "error: boom") &&
		   strstr(text, "  CC [M]  "),
	   "kbuild: both streams in the log");
	b.make = good;
	b.n_make = ARRAY_SIZE(good);
	is_int(dk_kbuild_run(&b, &err), 0, "kbuild: a good make%s%s", err ? ": " : "",
	       err ? err->msg : "");
	free(text);
	text = NULL;
	envp = dk_path_join(out, "env.txt");
	ok(dk_read_file(envp, 1 << 20, &text, NULL) == 0 &&
		   strstr(text, "KBUILD_BUILD_TIMESTAMP=" DK_KBUILD_TIMESTAMP "\n") &&
		   !strstr(text, "DK_TEST_LEAK"),
	   "kbuild: make sees the pinned env and nothing of the caller's");
	dk_error_free(&err);
}

/* ---- inputs: the key and the alias ---- */

struct spec {
	const char *version, *src, *make, *env, *patches, *modules, *after, *cert,
		*flavor;
};

static const struct spec base_spec = {
	.version = "1.0",
	.make = "[ make, -C, '{build_dir}', 'M={src}', modules ]",
	.env = "[ A=1 ]",
	.modules = "[ drv ]",
	.after = "[]",
	.flavor = "open",
};

static char *spec_yaml(const struct spec *sp)
{
	_cleanup_free_ char *src = sp->src ? strdup(sp->src) : at("src");
	_cleanup_free_ char *patch = sp->patches ? strdup(sp->patches) : at("p1.diff");
	_cleanup_free_ char *cert = sp->cert ? strdup(sp->cert) : at("cert.pem");
	_cleanup_free_ char *prov = at("prov");

	return dk_strdup_printf("signing: { key: /k.pem, cert: %s }\n"
				"components:\n"
				"  - name: prov\n"
				"    source: { build: { src: %s } }\n"
				"    modules: [ prov ]\n"
				"  - name: drv\n"
				"    version: '%s'\n"
				"    source:\n"
				"      build:\n"
				"        src: %s\n"
				"        flavor: %s\n"
				"        make: %s\n"
				"        env: %s\n"
				"        uses: [ prov ]\n"
				"        after: %s\n"
				"        patches: [ %s ]\n"
				"    modules: %s\n",
				cert, prov, sp->version, src, sp->flavor, sp->make,
				sp->env, sp->after, patch, sp->modules);
}

struct keys {
	char *key, *alias;
};

static void keys_release(struct keys *k)
{
	free(k->key);
	free(k->alias);
	*k = (struct keys){0};
}

static const char *prov_manifest = SHA_A;
static const char *kernel = KVER;
static const char *headers_rel = "hdr";
static const char *sysfs;

/* drv's key and alias for spec sp; NULL ones when inputs fail. */
static struct keys keys_of(const struct spec *sp)
{
	_cleanup_free_ char *text = spec_yaml(sp), *headers = at(headers_rel);
	_cleanup_free_ char *bin = at("bin"), *cache = at("cache");
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_got prov = {.manifest_sha256 = (char *)prov_manifest};
	struct dk_got *uses[] = {&prov};
	struct dk_build_opts o = {.kernel = kernel,
				  .headers = headers,
				  .host_root = "/",
				  .sysfs = sysfs,
				  .cache_dir = cache,
				  .path_env = bin};
	struct dk_inputs in;
	struct keys k = {0};

	if (dk_config_parse("drvkit.yaml", text, strlen(text), &cfg, &err) < 0) {
		ok(0, "spec parses: %s", err->msg);
		return k;
	}
	o.cfg = cfg;
	prov.c = dk_config_component_find(cfg, "prov");
	if (dk_inputs_init(&in, &o, dk_config_component_find(cfg, "drv"), uses, 1, &err) <
	    0) {
		ok(0, "inputs: %s", err ? err->msg : "?");
	} else {
		if (in.pf.n_problems)
			printf("# preflight: %s\n", in.pf.problems[0].what);
		k.key = in.key ? strdup(in.key) : NULL;
		k.alias = in.alias ? strdup(in.alias) : NULL;
	}
	dk_inputs_release(&in);
	return k;
}

static struct keys base_keys;

/* The key (and the alias, when alias_too) against the base after a change. */
static void expect_change(const struct spec *sp, bool key, bool alias, const char *what)
{
	struct keys k = keys_of(sp);

	ok(k.key && base_keys.key && !same(k.key, base_keys.key) == key, "%s: key %s",
	   what, key ? "changes" : "stays");
	ok(k.alias && !same(k.alias, base_keys.alias) == alias, "%s: alias %s", what,
	   alias ? "changes" : "stays");
	keys_release(&k);
}

/* Rewrites root/rel with text, returns what was there (to put back). */
static char *swap_file(const char *rel, const char *text)
{
	_cleanup_free_ char *path = at(rel);
	char *old = NULL;
	struct stat st;

	if (!path || dk_read_file(path, 1 << 20, &old, NULL) < 0 || stat(path, &st) < 0 ||
	    fx_put(root, rel, text, st.st_mode & 07777) < 0) {
		free(old);
		return NULL;
	}
	return old;
}

static void change_file(const char *rel, const char *text, bool alias, const char *what)
{
	_cleanup_free_ char *old = swap_file(rel, text);
	_cleanup_free_ char *back = NULL;

	ok(old != NULL, "%s: file changed", what);
	expect_change(&base_spec, true, alias, what);
	back = old ? swap_file(rel, old) : NULL;
	ok(back != NULL, "%s: file put back", what);
}

static int make_inputs_fixture(void)
{
	_cleanup_free_ char *hdr = at("hdr"), *bin = at("bin");
	int bad = fx_kbuild_tree(hdr, KVER, bin);

	bad |= fx_put(root, "src/Makefile", "obj-m += drv.o\n", 0644);
	bad |= fx_put(root, "src/drv.c", "int x;\n", 0644);
	bad |= fx_put(root, "src/inc/drv.h", "#define DRV 1\n", 0644);
	bad |= fx_put(root, "prov/Makefile", "obj-m += prov.o\n", 0644);
	bad |= fx_put(root, "p1.diff", "--- a/drv.c\n+++ b/drv.c\n", 0644);
	bad |= fx_put(root, "cert.pem", "CERT ONE\n", 0644);
	return bad ? -1 : 0;
}

static void test_key_changes(void)
{
	struct spec sp = base_spec;
	_cleanup_free_ char *other_cert = at("cert2.pem");

	base_keys = keys_of(&base_spec);
	ok(base_keys.key && strlen(base_keys.key) == 64, "base key %s", base_keys.key);
	ok(base_keys.alias && strlen(base_keys.alias) == 64, "base alias %s",
	   base_keys.alias);
	{
		struct keys again = keys_of(&base_spec);

		ok(same(again.key, base_keys.key) && same(again.alias, base_keys.alias),
		   "the same inputs: the same key and alias");
		keys_release(&again);
	}
	change_file("src/drv.c", "int y;\n", true, "a source byte");
	change_file("src/inc/drv.h", "#define DRV 2\n", true, "a source header");
	change_file("p1.diff", "--- a/drv.c\n+++ b/drv.c\n@@\n", true, "a patch");
	change_file("cert.pem", "CERT TWO\n", true, "the signing cert");
	change_file("hdr/.config",
		    "CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14) 12.2.0\"\n"
		    "CONFIG_CC_IS_GCC=y\nCONFIG_GCC_VERSION=120200\nCONFIG_MODULES=y\n"
		    "CONFIG_X=y\n",
		    false, "the kernel .config");
	change_file("hdr/Module.symvers",
		    "0x87654321\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n", false,
		    "the kernel Module.symvers");
	change_file("bin/gcc-12", "#!/bin/sh\necho 12.2.1\n", false,
		    "the compiler version");
	sp.make = "[ make, -C, '{build_dir}', 'M={src}', -j1, modules ]";
	expect_change(&sp, true, true, "the spec's make");
	sp = base_spec;
	sp.env = "[ A=2 ]";
	expect_change(&sp, true, true, "the spec's env");
	sp = base_spec;
	sp.version = "1.1";
	expect_change(&sp, true, true, "the version");
	sp = base_spec;
	sp.flavor = "proprietary";
	expect_change(&sp, true, true, "the flavor");
	sp = base_spec;
	sp.cert = other_cert;
	(void)!fx_put(root, "cert2.pem", "CERT TWO\n", 0644);
	expect_change(&sp, true, true, "another signing cert");
	prov_manifest = SHA_B;
	expect_change(&base_spec, true, true, "the uses: provider's manifest digest");
	prov_manifest = SHA_A;
	kernel = "6.1.0-100-amd64";
	expect_change(&base_spec, true, true, "the kernel release");
	kernel = KVER;
}

static void test_key_stays(void)
{
	struct spec sp = base_spec;
	_cleanup_free_ char *src = at("src"), *moved = at("elsewhere/tree");
	_cleanup_free_ char *hdr = at("hdr"), *hdr2 = at("hdr-copy"), *drv = NULL;
	_cleanup_free_ char *gcc12 = at("bin/gcc-12"), *gcc = at("bin/gcc");
	_cleanup_error_ struct dk_error *err = NULL;
	struct timespec times[2] = {{.tv_sec = 1000000}, {.tv_sec = 1000000}};

	sp.modules = "[ { name: drv, params: { debug: 1 } }, drv_extra ]";
	expect_change(&sp, false, false, "the modules: list and params");
	sp = base_spec;
	sp.after = "[ prov ]";
	expect_change(&sp, false, false, "after:");
	drv = dk_path_join(src, "drv.c");
	ok(utimensat(AT_FDCWD, drv, times, 0) == 0 &&
		   utimensat(AT_FDCWD, src, times, 0) == 0,
	   "source mtimes changed");
	expect_change(&base_spec, false, false, "file mtimes");
	ok(dk_mkdir_p(moved, 0755) == 0 && rmdir(moved) == 0 &&
		   dk_tree_copy(src, moved, &err) == 0,
	   "source tree copied elsewhere");
	sp = base_spec;
	sp.src = moved;
	expect_change(&sp, false, false, "the source tree's location");
	ok(dk_tree_copy(hdr, hdr2, &err) == 0, "headers copied elsewhere");
	headers_rel = "hdr-copy";
	expect_change(&base_spec, false, false, "the headers' location");
	headers_rel = "hdr";
	/* gcc-12 renamed gcc: the same version under another name. */
	ok(rename(gcc12, gcc) == 0, "gcc-12 renamed gcc");
	expect_change(&base_spec, false, false, "the compiler's path");
	ok(rename(gcc, gcc12) == 0, "gcc-12 back");
}

static void test_key_edges(void)
{
	_cleanup_free_ char *nv = NULL;
	const char *fixtures = getenv("DK_FIXTURES");
	struct spec sp = base_spec;
	struct keys k;

	headers_rel = "no-headers";
	k = keys_of(&base_spec);
	ok(!k.key && same(k.alias, base_keys.alias),
	   "no headers: no key, the same alias");
	keys_release(&k);
	headers_rel = "hdr";
	if (!fixtures) {
		skip("DK_FIXTURES not set");
		return;
	}
	/* auto on a V100 + A100 node picks proprietary: the key of proprietary. */
	nv = dk_strdup_printf("%s/nvidia/mixed-v100-a100/sys", fixtures);
	sysfs = nv;
	sp.flavor = "proprietary";
	k = keys_of(&sp);
	sp.flavor = "auto";
	{
		struct keys a = keys_of(&sp);

		ok(a.key && same(a.key, k.key),
		   "flavor auto that picks proprietary: the proprietary key");
		keys_release(&a);
	}
	keys_release(&k);
	sysfs = NULL;
}

/* ---- build order ---- */

static void test_build_order(void)
{
	static const char text[] =
		"components:\n"
		"  - name: peer\n"
		"    source: { build: { src: /p, uses: [ ofed ], "
		"after: [ nvidia ] } }\n"
		"    modules: [ peer ]\n"
		"  - name: nvidia\n"
		"    source: { build: { src: /n } }\n"
		"    modules: [ nvidia ]\n"
		"  - name: ofed\n"
		"    source: { precompiled: { url: 'http://o' } }\n"
		"    modules: [ ofed ]\n"
		"  - name: loader\n"
		"    source: { dir: /l }\n"
		"    modules: [ loader ]\n"
		"  - name: extra\n"
		"    source: { build: { src: /e, after: [ loader ] } }\n"
		"    modules: [ extra ]\n"
		"  - name: solo\n"
		"    source: { build: { src: /s } }\n"
		"    modules: [ solo ]\n";
	_cleanup_config_ struct dk_config *cfg = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	size_t idx[6];
	struct strbuf b;
	_cleanup_free_ char *got = NULL;

	is_int(dk_config_parse("order.yaml", text, strlen(text), &cfg, &err), 0,
	       "order: config parses");
	if (!cfg)
		return;
	is_int(dk_build_order(cfg, idx), 0, "order: computed");
	strbuf_init(&b);
	for (size_t i = 0; i < cfg->n_components; i++)
		strbuf_printf(&b, "%s%s", i ? " " : "", cfg->components[idx[i]].name);
	got = strbuf_steal(&b);
	is_str(got, "nvidia ofed peer loader extra solo",
	       "order: uses and after first, config order among the ready ones");
	{
		/* A cycle the config would refuse, made by hand. */
		char *a_after[] = {(char *)"b"}, *b_uses[] = {(char *)"a"};
		struct dk_config_build ba = {.after = a_after, .n_after = 1};
		struct dk_config_build bb = {.uses = b_uses, .n_uses = 1};
		struct dk_config_component comps[] = {
			{.name = (char *)"a", .build = &ba},
			{.name = (char *)"b", .build = &bb}};
		struct dk_config c = {.components = comps, .n_components = 2};

		is_int(dk_build_order(&c, idx), -ELOOP, "order: a cycle is ELOOP");
	}
}

/* dk_tree_copy: an absolute link into the tree (kbuild's $(abspath), NVIDIA's
 * nvidia/nv-kernel.o -> <tree>/nvidia/nv-kernel.o_binary) is copied as the relative
 * link to the same file; one outside the tree is still refused. */
static void test_tree_copy_abs_links(void)
{
	_cleanup_free_ char *t = dk_strdup_printf("%s/abs", root);
	_cleanup_free_ char *deep = dk_strdup_printf("%s/abs/a/b", root);
	_cleanup_free_ char *blob = dk_strdup_printf("%s/abs/a/blob", root);
	_cleanup_free_ char *l1 = dk_strdup_printf("%s/abs/a/l1", root);
	_cleanup_free_ char *l2 = dk_strdup_printf("%s/abs/a/b/l2", root);
	_cleanup_free_ char *to = dk_strdup_printf("%s/abs-copy", root);
	_cleanup_free_ char *c1 = dk_strdup_printf("%s/abs-copy/a/l1", root);
	_cleanup_free_ char *c2 = dk_strdup_printf("%s/abs-copy/a/b/l2", root);
	struct dk_error *err = NULL;
	char buf[256];
	ssize_t n;

	ok(dk_mkdir_p(deep, 0755) == 0 && dk_write_file_atomic(blob, "x", 1, 0644) == 0 &&
		   symlink(blob, l1) == 0 && symlink(blob, l2) == 0,
	   "tree with absolute links into itself");
	ok(dk_tree_copy(t, to, &err) == 0, "copied: %s", err ? err->msg : "ok");
	dk_error_free(&err);
	n = readlink(c1, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ok(streq(buf, "../a/blob"), "a/l1 -> ../a/blob (got %s)", buf);
	n = readlink(c2, buf, sizeof(buf) - 1);
	buf[n > 0 ? n : 0] = '\0';
	ok(streq(buf, "../../a/blob"), "a/b/l2 -> ../../a/blob (got %s)", buf);
	fx_rm_rf(to);
	ok(unlink(l2) == 0 && symlink("/etc/passwd", l2) == 0, "a link outside the tree");
	ok(dk_tree_copy(t, to, &err) == -EXDEV && err &&
		   strstr(err->msg, "outside the tree"),
	   "is still refused: %s", err ? err->msg : "(no error)");
	dk_error_free(&err);
}

int main(void)
{
	if (!mkdtemp(root)) {
		ok(0, "mkdtemp");
		return tap_done();
	}
	test_manifest_round_trip();
	test_manifest_refused();
	test_manifest_verify();
	test_kbuild_argv();
	test_kbuild_configure_argv();
	FX_RUN(case_kbuild_env);
	test_first_error_fixtures();
	test_first_error_gcc();
	FX_RUN(case_kbuild_run);
	ok(make_inputs_fixture() == 0, "inputs fixture in %s", root);
	test_key_changes();
	test_key_stays();
	test_key_edges();
	keys_release(&base_keys);
	test_build_order();
	test_tree_copy_abs_links();
	fx_rm_rf(root);
	return tap_done();
}
