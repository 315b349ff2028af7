/* SPDX-License-Identifier: Apache-2.0 */
/* The loader (kmod/loader.c) against the preload shim (tests/preload/kmod-shim.c), in
 * kmod's testsuite manner: every case declares its fixture root and the shim's answers
 * and runs in a process of its own (this binary re-executed with LD_PRELOAD=$DK_SHIM),
 * so one crash or stray module state cannot hide the cases after it. The modules are
 * minimal ELF files written here: the loader and the shim read only .modinfo. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/ctx.h"
#include "base/error.h"
#include "base/fsutil.h"
#include "kmod/loader.h"
#include "kmod/modfile.h"

#include "fixture.h"
#include "tap.h"

#define KVER "6.1.0-test"

/* ---- fixtures (parent side) ---- */

/* A relocatable x86_64 ELF whose only contents are .modinfo and .shstrtab. */
static int write_module(const char *dir, const char *name, const char *srcversion,
			const char *depends)
{
	static const char shstr[] = "\0.modinfo\0.shstrtab";
	_cleanup_free_ char *path = NULL;
	unsigned char buf[4096] = {0};
	Elf64_Ehdr *eh = (Elf64_Ehdr *)buf;
	Elf64_Shdr *sh;
	size_t off = sizeof(*eh), mi_len, str_off, sh_off;
	int n;

	/* A leading NUL: the shim finds keys as "\0key=". */
	n = snprintf((char *)buf + off + 1, 1024,
		     "name=%s%csrcversion=%s%cversion=1.0%cdepends=%s%c"
		     "vermagic=" KVER " SMP mod_unload modversions ",
		     name, 0, srcversion, 0, 0, depends, 0);
	mi_len = (size_t)n + 2;
	str_off = off + mi_len;
	memcpy(buf + str_off, shstr, sizeof(shstr));
	sh_off = (str_off + sizeof(shstr) + 7) & ~(size_t)7;
	fx_elf_header(eh, 3, 2);
	eh->e_shoff = sh_off;
	sh = (Elf64_Shdr *)(buf + sh_off);
	sh[1] = (Elf64_Shdr){.sh_name = 1,
			     .sh_type = SHT_PROGBITS,
			     .sh_flags = SHF_ALLOC,
			     .sh_offset = off,
			     .sh_size = mi_len,
			     .sh_addralign = 1};
	sh[2] = (Elf64_Shdr){.sh_name = 10,
			     .sh_type = SHT_STRTAB,
			     .sh_offset = str_off,
			     .sh_size = sizeof(shstr),
			     .sh_addralign = 1};
	path = dk_strdup_printf("%s/%s.ko", dir, name);
	if (!path)
		return -ENOMEM;
	return dk_write_file_atomic(path, buf, sh_off + 3 * sizeof(Elf64_Shdr), 0644);
}

/* A loaded module as the shim leaves it in the fixture sysfs. */
static void fake_loaded(const char *root, const char *name, const char *srcversion)
{
	_cleanup_free_ char *dir =
		dk_strdup_printf("%s/sys/module/%s/holders", root, name);
	_cleanup_free_ char *init =
		dk_strdup_printf("%s/sys/module/%s/initstate", root, name);
	_cleanup_free_ char *src =
		dk_strdup_printf("%s/sys/module/%s/srcversion", root, name);
	_cleanup_free_ char *ref =
		dk_strdup_printf("%s/sys/module/%s/refcnt", root, name);
	_cleanup_free_ char *sv = dk_strdup_printf("%s\n", srcversion);

	if (!dir || !init || !src || !ref || !sv || dk_mkdir_p(dir, 0755) < 0 ||
	    dk_write_file_atomic(init, "live\n", 5, 0644) < 0 ||
	    dk_write_file_atomic(src, sv, strlen(sv), 0644) < 0 ||
	    dk_write_file_atomic(ref, "0\n", 2, 0644) < 0)
		printf("# cannot write the fixture for %s\n", name);
}

/* ---- the cases (child side: LD_PRELOAD is the shim, the cwd is the fixture root) ----
 */

struct fixture {
	char root[256];
	struct dk_ctx ctx;
	struct dk_modctx *m;
};

static int fixture_open(struct fixture *fx)
{
	_cleanup_error_ struct dk_error *err = NULL;

	if (!getcwd(fx->root, sizeof(fx->root)))
		return -errno;
	dk_ctx_init(&fx->ctx);
	fx->ctx.host_root = fx->root;
	fx->ctx.kernel = KVER;
	if (dk_modctx_new(&fx->ctx, &fx->m, &err) < 0) {
		printf("# %s\n", err->msg);
		return -1;
	}
	return 0;
}

static struct dk_modfile *open_mod(const char *name)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *path = dk_strdup_printf("mods/%s.ko", name);
	struct dk_modfile *f = NULL;

	if (!path || dk_modfile_open(path, &f, &err) < 0)
		printf("# open %s: %s\n", name, err ? err->msg : "out of memory");
	return f;
}

static char *shim_log(void)
{
	char *s = NULL;

	if (dk_read_file("shim.log", 0, &s, NULL) < 0)
		return strdup("");
	return s;
}

static void case_insert_ok(struct fixture *fx)
{
	_cleanup_modfile_ struct dk_modfile *f = open_mod("dkt_a");
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *why = NULL, *log = NULL;
	struct dk_modstate st;

	if (!f)
		return;
	f->params = strdup("count=3");
	is_int(dk_module_insert(fx->m, f, &err), 0, "insert: returns 0");
	is_int(dk_module_state(fx->m, "dkt_a", &st), 0, "insert: state readable");
	is_int(st.state, DK_LOADED_LIVE, "insert: the module is live");
	is_str(st.srcversion, "AAAA", "insert: with the file's srcversion");
	dk_modstate_release(&st);
	is_int(dk_module_match(fx->m, f, &why), DK_MATCH_SAME,
	       "insert: matches the file");
	log = shim_log();
	ok(strstr(log, "insert dkt_a count=3\n") != NULL,
	   "insert: the kernel got the params");
}

static void case_eexist(struct fixture *fx)
{
	_cleanup_modfile_ struct dk_modfile *f = open_mod("dkt_a");
	_cleanup_error_ struct dk_error *err = NULL;
	size_t order[1], done = 0;
	enum dk_load_action act[1];

	if (!f)
		return;
	fake_loaded(fx->root, "dkt_a", "OTHER");
	is_int(dk_module_insert(fx->m, f, &err), -EEXIST, "EEXIST: insert fails");
	ok(err && strstr(err->msg, "insert dkt_a (mods/dkt_a.ko): File exists"),
	   "EEXIST: message names module, file and errno");
	ok(err && err->hint && strstr(err->hint, "already loaded: unload it first"),
	   "EEXIST: the hint says to unload first");
	dk_error_free(&err);
	is_int(dk_module_load_set(fx->m, &f, 1, order, act, &done, &err), -EEXIST,
	       "EEXIST: load_set refuses another build");
	ok(err && strstr(err->msg, "loaded with srcversion OTHER, the file has AAAA"),
	   "EEXIST: says which srcversion is loaded");
	is_int(done, 0, "EEXIST: nothing done");
}

static void case_ekeyrejected(struct fixture *fx)
{
	_cleanup_modfile_ struct dk_modfile *f = open_mod("dkt_a");
	_cleanup_error_ struct dk_error *err = NULL;
	struct dk_modstate st;

	if (!f)
		return;
	is_int(dk_module_insert(fx->m, f, &err), -EKEYREJECTED,
	       "EKEYREJECTED: insert fails");
	ok(err && strstr(err->msg, "Key was rejected by service; sig_enforce=Y"),
	   "EKEYREJECTED: message has the errno and sig_enforce");
	ok(err && !strstr(err->msg, "MOK"), "EKEYREJECTED: no hint inside the message");
	ok(err && err->hint && strstr(err->hint, "enrolled in MOK"),
	   "EKEYREJECTED: the error carries the MOK hint");
	is_str(dk_error_hint_of(err, EKEYREJECTED, true), err ? err->hint : NULL,
	       "EKEYREJECTED: main prints that hint");
	is_int(dk_module_state(fx->m, "dkt_a", &st), 0, "EKEYREJECTED: state readable");
	is_int(st.state, DK_LOADED_NO, "EKEYREJECTED: nothing loaded");
	dk_modstate_release(&st);
}

static void case_enoexec(struct fixture *fx)
{
	_cleanup_modfile_ struct dk_modfile *f = open_mod("dkt_a");
	_cleanup_error_ struct dk_error *err = NULL;

	if (!f)
		return;
	is_int(dk_module_insert(fx->m, f, &err), -ENOEXEC, "ENOEXEC: insert fails");
	ok(err && strstr(err->msg, "Exec format error"), "ENOEXEC: errno in words");
	ok(err && err->hint && strstr(err->hint, "built for another kernel"),
	   "ENOEXEC: hint to rebuild");
	is_int(dk_exit_code_for(ENOEXEC), DK_EXIT_BADINPUT, "ENOEXEC: exit code 3");
}

static void check_order(struct fixture *fx, struct dk_modfile **files)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *log = NULL;
	enum dk_load_action act[3];
	size_t order[3], done = 0;
	char *names[] = {(char *)"dkt_export", (char *)"dkt_user"};
	char **rm = NULL;
	size_t n_rm = 0;

	is_int(dk_module_load_set(fx->m, files, 3, order, act, &done, &err), 0,
	       "order: the set loads");
	is_int(done, 3, "order: all three processed");
	log = shim_log();
	ok(strstr(log, "insert dkt_export") && strstr(log, "insert dkt_user") &&
		   strstr(log, "insert dkt_export") < strstr(log, "insert dkt_user"),
	   "order: dkt_export is inserted before dkt_user, whatever the argv order");
	ok(act[0] == DK_LOAD_INSERTED && act[1] == DK_LOAD_INSERTED,
	   "order: both inserted");
	is_int(dk_module_load_set(fx->m, files, 3, order, act, &done, &err), 0,
	       "order: loading again succeeds");
	ok(act[0] == DK_LOAD_SKIPPED && act[2] == DK_LOAD_SKIPPED,
	   "order: identical modules are skipped");
	is_int(dk_module_removal_order(fx->m, names, 2, false, &rm, &n_rm, &err), 0,
	       "order: removal order");
	ok(n_rm == 2 && streq(rm[0], "dkt_user") && streq(rm[1], "dkt_export"),
	   "order: users are removed first");
	dk_names_free(rm, n_rm);
}

static void case_order(struct fixture *fx)
{
	struct dk_modfile *files[3] = {open_mod("dkt_user"), open_mod("dkt_a"),
				       open_mod("dkt_export")};

	if (files[0] && files[1] && files[2])
		check_order(fx, files);
	for (size_t i = 0; i < 3; i++)
		dk_modfile_free(files[i]);
}

struct waits {
	int calls;
};

static bool count_wait(void *userdata, int ms)
{
	struct waits *w = userdata;
	struct timespec ts = {0, (long)ms * 1000000L};

	w->calls++;
	nanosleep(&ts, NULL);
	return true;
}

static void case_busy(struct fixture *fx)
{
	_cleanup_modfile_ struct dk_modfile *f = open_mod("dkt_a");
	_cleanup_error_ struct dk_error *err = NULL;
	struct waits w = {0};
	struct dk_remove_opts ro = {.wait = count_wait, .userdata = &w};
	int64_t t0;

	if (!f || dk_module_insert(fx->m, f, &err) < 0)
		return;
	/* DK_SHIM_BUSY=dkt_a:-1: in use for good */
	t0 = dk_now_ms();
	ro.deadline_ms = t0 + 300;
	is_int(dk_module_remove(fx->m, "dkt_a", &ro, &err), -EBUSY,
	       "busy: remove fails with EBUSY at the deadline");
	ok(dk_now_ms() - t0 >= 300, "busy: it waited until the deadline");
	ok(w.calls >= 3, "busy: retried with backoff (%d waits)", w.calls);
	ok(err && strstr(err->msg, "in use (refcnt 0, holders: none)") &&
		   strstr(err->msg, "stop the processes using it"),
	   "busy: message says refcnt, no holders and what to do");
}

static void case_busy_then_free(struct fixture *fx)
{
	_cleanup_modfile_ struct dk_modfile *f = open_mod("dkt_a");
	_cleanup_error_ struct dk_error *err = NULL;
	struct waits w = {0};
	struct dk_remove_opts ro = {.wait = count_wait, .userdata = &w};

	if (!f || dk_module_insert(fx->m, f, &err) < 0)
		return;
	/* DK_SHIM_BUSY=dkt_a:2: busy twice, then it goes */
	ro.deadline_ms = dk_now_ms() + 5000;
	is_int(dk_module_remove(fx->m, "dkt_a", &ro, &err), 0,
	       "busy for a moment: removed after retries");
	is_int(w.calls, 2, "busy for a moment: two waits");
}

static void case_not_loaded(struct fixture *fx)
{
	_cleanup_error_ struct dk_error *err = NULL;

	is_int(dk_module_remove(fx->m, "dkt_none", NULL, &err), 1,
	       "not loaded: remove returns 1");
	ok(!err, "not loaded: no error");
}

static void case_holders(struct fixture *fx)
{
	struct dk_modfile *files[2] = {open_mod("dkt_export"), open_mod("dkt_user")};
	_cleanup_error_ struct dk_error *err = NULL;
	enum dk_load_action act[2];
	size_t order[2], done = 0;

	if (!files[0] || !files[1] ||
	    dk_module_load_set(fx->m, files, 2, order, act, &done, &err) < 0) {
		ok(0, "holders: load the pair");
	} else {
		is_int(dk_module_remove(fx->m, "dkt_export", NULL, &err), -EBUSY,
		       "holders: a used module cannot be removed");
		ok(err && strstr(err->msg, "holders: dkt_user") &&
			   strstr(err->msg, "unload the holders first"),
		   "holders: the holder is named, with what to do");
		ok(err && !err->hint, "holders: no errno hint on top of that");
	}
	for (size_t i = 0; i < 2; i++)
		dk_modfile_free(files[i]);
}

struct tcase {
	const char *name;
	void (*run)(struct fixture *fx);
	const char *fail; /* DK_SHIM_FAIL */
	const char *busy; /* DK_SHIM_BUSY */
	bool sig_enforce;
};

static const struct tcase cases[] = {
	{"insert-ok", case_insert_ok, NULL, NULL, false},
	{"eexist", case_eexist, NULL, NULL, false},
	{"ekeyrejected", case_ekeyrejected, "dkt_a:EKEYREJECTED", NULL, true},
	{"enoexec", case_enoexec, "dkt_a:ENOEXEC", NULL, false},
	{"order", case_order, NULL, NULL, false},
	{"busy", case_busy, NULL, "dkt_a:-1", false},
	{"busy-then-free", case_busy_then_free, NULL, "dkt_a:2", false},
	{"not-loaded", case_not_loaded, NULL, NULL, false},
	{"holders", case_holders, NULL, NULL, false},
};

/* ---- the harness ---- */

static int run_child(const struct tcase *c)
{
	struct fixture fx = {0};

	if (fixture_open(&fx) < 0) {
		ok(0, "set up the fixture");
		return tap_done();
	}
	c->run(&fx);
	dk_modctx_free(fx.m);
	return tap_done();
}

/* A fresh root for c: sys/module, lib/modules/KVER, mods/ with the test modules. */
static int make_root(const struct tcase *c, char *root)
{
	_cleanup_free_ char *mods = NULL, *sys = NULL, *lib = NULL;

	if (!mkdtemp(root))
		return -errno;
	mods = dk_strdup_printf("%s/mods", root);
	sys = dk_strdup_printf("%s/sys/module/module/parameters", root);
	lib = dk_strdup_printf("%s/lib/modules/" KVER, root);
	if (!mods || !sys || !lib || dk_mkdir_p(mods, 0755) < 0 ||
	    dk_mkdir_p(sys, 0755) < 0 || dk_mkdir_p(lib, 0755) < 0)
		return -EIO;
	if (write_module(mods, "dkt_a", "AAAA", "") < 0 ||
	    write_module(mods, "dkt_export", "EEEE", "") < 0 ||
	    write_module(mods, "dkt_user", "UUUU", "dkt_export") < 0)
		return -EIO;
	if (c->sig_enforce) {
		_cleanup_free_ char *p = dk_strdup_printf("%s/sig_enforce", sys);

		if (!p || dk_write_file_atomic(p, "Y\n", 2, 0644) < 0)
			return -EIO;
	}
	return 0;
}

/* Runs c in a child under the shim and renumbers its TAP lines into ours. */
static void run_case(const struct tcase *c, const char *shim)
{
	char root[] = "/tmp/dk-test-loader.XXXXXX";
	_cleanup_free_ char *sysfs = NULL, *log = NULL;
	_cleanup_fclose_ FILE *in = NULL;
	char line[4096];
	int fds[2], status = 0, n = 0;
	pid_t pid;

	if (make_root(c, root) < 0 || pipe2(fds, O_CLOEXEC) < 0) {
		ok(0, "%s: set up the fixture root", c->name);
		return;
	}
	sysfs = dk_strdup_printf("%s/sys", root);
	log = dk_strdup_printf("%s/shim.log", root);
	fflush(stdout);
	pid = fork();
	if (pid == 0) {
		dup2(fds[1], STDOUT_FILENO);
		if (chdir(root) < 0)
			_exit(126);
		setenv("LD_PRELOAD", shim, 1);
		/* Under ASan the shim comes before the runtime in the library list;
		 * it replaces no allocator, so ASan's link-order check may be off. */
		setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 0);
		setenv("DK_SHIM_SYSFS", sysfs, 1);
		setenv("DK_SHIM_LOG", log, 1);
		if (c->fail)
			setenv("DK_SHIM_FAIL", c->fail, 1);
		if (c->busy)
			setenv("DK_SHIM_BUSY", c->busy, 1);
		execl("/proc/self/exe", "test-loader", c->name, (char *)NULL);
		_exit(127);
	}
	close(fds[1]);
	in = fdopen(fds[0], "r");
	while (in && fgets(line, sizeof(line), in)) {
		char *rest = strstr(line, " - ");

		if (startswith(line, "ok ") || startswith(line, "not ok ")) {
			dk_strip(line);
			ok(line[0] == 'o', "%s: %s", c->name, rest ? rest + 3 : "?");
			n++;
		} else if (line[0] == '#') {
			fputs(line, stdout);
		}
	}
	if (pid > 0)
		waitpid(pid, &status, 0);
	ok(pid > 0 && WIFEXITED(status) &&
		   (WEXITSTATUS(status) == 0 || WEXITSTATUS(status) == 1) && n > 0,
	   "%s: ran in its own process (%d checks)", c->name, n);
	fx_rm_rf(root);
}

int main(int argc, char *argv[])
{
	/* Absolute: every case runs in its own fixture root. */
	_cleanup_free_ char *shim =
		getenv("DK_SHIM") ? realpath(getenv("DK_SHIM"), NULL) : NULL;

	dk_log_setup(DK_LOG_ERROR, false, "test-loader");
	if (argc > 1) {
		for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
			if (streq(argv[1], cases[i].name))
				return run_child(&cases[i]);
		fprintf(stderr, "unknown case %s\n", argv[1]);
		return 2;
	}
	if (!shim) {
		skip("no preload shim (DK_SHIM)");
		return tap_done();
	}
	for (size_t i = 0; i < ARRAY_SIZE(cases); i++)
		run_case(&cases[i], shim);
	return tap_done();
}
