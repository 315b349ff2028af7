/* SPDX-License-Identifier: Apache-2.0 */
/* Module.symvers parsing, vermagic computation, module ELF parsing */
#include <elf.h>
#include <errno.h>
#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/error.h"
#include "kmod/check.h"
#include "kmod/modfile.h"
#include "kmod/symvers.h"

#include "fixture.h"
#include "tap.h"

static void test_symvers_good(void)
{
	static const char text[] =
		"0x92997ed8\t_printk\tvmlinux\tEXPORT_SYMBOL\t\n"
		"0x9060323f\tmodule_layout\tvmlinux\tEXPORT_SYMBOL\t\n"
		"0x2d3d472e\tdktest_export_add\t/tmp/x/"
		"dktest_export\tEXPORT_SYMBOL_GPL\t\n"
		"0x0000abcd\tusb_thing\tdrivers/usb/"
		"core\tEXPORT_SYMBOL_GPL\tUSB_STORAGE\n"
		"\n"
		"0xFFFFFFFF\told_style\tvmlinux\tEXPORT_SYMBOL\r\n"
		"0x1\tlast\tvmlinux\tEXPORT_SYMBOL"; /* no final newline */
	_cleanup_(dk_symvers_freep) struct dk_symvers *sv = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_symvers_entry *e;
	int r;

	r = dk_symvers_parse("t.symvers", text, sizeof(text) - 1, &sv, &err);
	is_int(r, 0, "symvers: good lines parse");
	if (r < 0) {
		printf("# %s\n", err->msg);
		return;
	}
	is_int(dk_symvers_count(sv), 6, "symvers: 6 entries, blank line skipped");
	e = dk_symvers_find(sv, "_printk");
	ok(e && e->crc == 0x92997ed8 && streq(e->module, "vmlinux") && !e->gpl &&
		   streq(e->ns, ""),
	   "symvers: _printk crc, module, not GPL, no namespace");
	e = dk_symvers_find(sv, "dktest_export_add");
	ok(e && e->gpl && streq(e->export_type, "EXPORT_SYMBOL_GPL"),
	   "symvers: EXPORT_SYMBOL_GPL is GPL");
	e = dk_symvers_find(sv, "usb_thing");
	ok(e && streq(e->ns, "USB_STORAGE") && e->crc == 0xabcd,
	   "symvers: namespace column");
	e = dk_symvers_find(sv, "old_style");
	ok(e && e->crc == 0xffffffffu && streq(e->ns, "") &&
		   streq(e->export_type, "EXPORT_SYMBOL"),
	   "symvers: 4-column line with CRLF, upper-case hex");
	e = dk_symvers_find(sv, "last");
	ok(e && e->crc == 1, "symvers: last line without newline");
	ok(dk_symvers_find(sv, "nope") == NULL, "symvers: absent symbol");
}

static void symvers_bad(const char *text, const char *want, const char *desc)
{
	_cleanup_(dk_symvers_freep) struct dk_symvers *sv = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_symvers_parse("Module.symvers", text, strlen(text), &sv, &err);

	is_int(r, -EBADMSG, "symvers: %s -> EBADMSG", desc);
	ok(err && strstr(err->msg, want), "symvers: %s message has '%s'", desc, want);
	if (err && !strstr(err->msg, want))
		printf("#   message: %s\n", err->msg);
	ok(sv == NULL, "symvers: %s gives no table", desc);
}

static void test_symvers_bad(void)
{
	_cleanup_(dk_symvers_freep) struct dk_symvers *sv = NULL;
	_cleanup_error_ struct dk_error *err = NULL;

	symvers_bad("0x1\ta\tvmlinux\tEXPORT_SYMBOL\t\nzz\tb\tvmlinux\tEXPORT_SYMBOL\t\n",
		    "Module.symvers:2: bad CRC 'zz'", "bad CRC on line 2");
	symvers_bad("0x1\ta\tvmlinux\n", "Module.symvers:1: expected 4 or 5", "3 fields");
	symvers_bad("0x1\ta\tb\tEXPORT_SYMBOL\tns\textra\n",
		    "Module.symvers:1: expected 4 or 5", "6 fields");
	symvers_bad("\n\n0x123456789\ta\tvmlinux\tEXPORT_SYMBOL\t\n",
		    "Module.symvers:3:", "CRC over 32 bits");
	symvers_bad("0x1\ta\tvmlinux\tSYMBOL\t\n", "bad export type 'SYMBOL'",
		    "bad export type");
	symvers_bad("0x1\t\tvmlinux\tEXPORT_SYMBOL\t\n", "empty symbol name",
		    "empty name");
	is_int(dk_symvers_load("/nonexistent/Module.symvers", &sv, &err), -ENOENT,
	       "symvers: missing file -> ENOENT");
}

static const char config_debian[] = "#\n# Automatically generated file; DO NOT EDIT.\n"
				    "CONFIG_X86_64=y\n"
				    "CONFIG_SMP=y\n"
				    "CONFIG_PREEMPT_BUILD=y\n"
				    "CONFIG_PREEMPT_VOLUNTARY=y\n"
				    "# CONFIG_PREEMPT is not set\n"
				    "CONFIG_PREEMPT_DYNAMIC=y\n"
				    "CONFIG_MODULE_UNLOAD=y\n"
				    "CONFIG_MODVERSIONS=y\n"
				    "CONFIG_RANDSTRUCT_NONE=y\n"
				    "CONFIG_LOCALVERSION=\"-amd64\"\n";

static void vermagic_is(const char *config, const char *seed, const char *want,
			bool want_exact, unsigned want_machine, const char *desc)
{
	bool exact = !want_exact;
	unsigned machine = 12345;
	_cleanup_free_ char *vm =
		dk_vermagic_compute("6.1.0-56-amd64", config, seed, &exact, &machine);

	is_str(vm, want, "vermagic: %s", desc);
	ok(exact == want_exact, "vermagic: %s is %sexact", desc,
	   want_exact ? "" : "not ");
	is_int(machine, want_machine, "vermagic: %s machine", desc);
}

static void test_vermagic(void)
{
	size_t len = 0;
	const char *v;

	vermagic_is(config_debian, NULL,
		    "6.1.0-56-amd64 SMP preempt mod_unload modversions ", true, EM_X86_64,
		    "Debian 6.1 amd64");
	vermagic_is("CONFIG_X86_64=y\nCONFIG_SMP=y\nCONFIG_PREEMPT_RT=y\n"
		    "CONFIG_MODULE_UNLOAD=y\nCONFIG_MODVERSIONS=y\n",
		    NULL, "6.1.0-56-amd64 SMP preempt_rt mod_unload modversions ", true,
		    EM_X86_64, "PREEMPT_RT");
	vermagic_is("CONFIG_ARM64=y\nCONFIG_SMP=y\nCONFIG_MODULE_UNLOAD=y\n", NULL,
		    "6.1.0-56-amd64 SMP mod_unload aarch64", true, EM_AARCH64,
		    "arm64 without modversions");
	vermagic_is("CONFIG_X86_64=y\nCONFIG_SMP=y\nCONFIG_RANDSTRUCT=y\n", "abcdef",
		    "6.1.0-56-amd64 SMP RANDSTRUCT_abcdef", true, EM_X86_64,
		    "randstruct with seed");
	vermagic_is("CONFIG_X86_64=y\nCONFIG_RANDSTRUCT=y\n", NULL, "6.1.0-56-amd64 ",
		    false, EM_X86_64, "randstruct without seed");
	vermagic_is("CONFIG_SMP=y\nCONFIG_MODVERSIONS=y\n", NULL,
		    "6.1.0-56-amd64 SMP modversions ", false, 0, "unknown arch");
	vermagic_is("CONFIG_X86_64=y\nCONFIG_SMP=m\nCONFIG_SMPX=y\n# CONFIG_SMP=y\n",
		    NULL, "6.1.0-56-amd64 ", true, EM_X86_64,
		    "only exact CONFIG_<name>=y at line start counts");

	v = dk_kconfig_find(config_debian, "LOCALVERSION", &len);
	ok(v && len == 8 && strncmp(v, "\"-amd64\"", len) == 0, "config: string value");
	ok(dk_kconfig_find(config_debian, "PREEMPT", NULL) == NULL,
	   "config: '# ... is not set' is absent");
}

static void open_bad(const void *data, size_t len, int want, const char *msg,
		     const char *desc)
{
	_cleanup_modfile_ struct dk_modfile *m = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	int r = dk_modfile_open_mem("x.ko", data, len, &m, &err);

	is_int(r, -want, "module: %s -> %s", desc, strerror(want));
	ok(err && strstr(err->msg, msg) && startswith(err->msg, "x.ko: "),
	   "module: %s message '%s'", desc, err ? err->msg : "(none)");
}

/* Opened raw (sign, unsign, verify): any bytes, mapped once, the file kept open. */
static void test_module_raw(void)
{
	char path[] = "/tmp/dk-test-elf.XXXXXX";
	_cleanup_modfile_ struct dk_modfile *m = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	struct stat st;
	size_t len = 0;
	int fd = mkstemp(path);

	if (fd < 0 || write(fd, "not elf", 7) != 7) {
		ok(0, "raw: write a temp file");
		return;
	}
	close(fd);
	is_int(dk_modfile_open_raw(path, &m, &err), 0, "raw: a non-ELF file opens raw");
	ok(m && memcmp(dk_modfile_data(m, &len), "not elf", 7) == 0 && len == 7,
	   "raw: its bytes");
	ok(m && dk_modfile_fd(m, &st) >= 0 && st.st_size == 7,
	   "raw: the file stays open");
	ok(m && !dk_modfile_signature(m) && !dk_modfile_modinfo_get(m, "name"),
	   "raw: nothing parsed");
	dk_modfile_free(TAKE_PTR(m));
	is_int(dk_modfile_open(path, &m, &err), -EBADMSG,
	       "raw: the same file as ELF: EBADMSG");
	unlink(path);
}

static void test_module_bad(void)
{
	unsigned char eh[sizeof(Elf64_Ehdr)] = {0x7f,	    'E',	 'L',	    'F',
						ELFCLASS64, ELFDATA2LSB, EV_CURRENT};
	Elf64_Ehdr *h = (Elf64_Ehdr *)eh;
	_cleanup_modfile_ struct dk_modfile *m = NULL;
	_cleanup_error_ struct dk_error *err = NULL;

	open_bad("", 0, EBADMSG, "empty file", "empty");
	open_bad("hello world\n", 12, EBADMSG, "no ELF magic", "text");
	open_bad(eh, 8, EBADMSG, "truncated", "8 bytes of ELF");
	open_bad(eh, 40, EBADMSG, "truncated", "40 bytes of ELF");
	h->e_type = ET_REL;
	h->e_machine = EM_X86_64;
	h->e_version = EV_CURRENT;
	h->e_ehsize = sizeof(Elf64_Ehdr);
	h->e_shentsize = sizeof(Elf64_Shdr);
	open_bad(eh, sizeof(eh), EBADMSG, "section headers", "no section headers");
	h->e_shoff = 4096;
	h->e_shnum = 10;
	open_bad(eh, sizeof(eh), EBADMSG, "section headers at offset 4096",
		 "section headers past the end");
	h->e_type = ET_EXEC;
	open_bad(eh, sizeof(eh), ENOEXEC, "not a relocatable object", "ET_EXEC");
	eh[EI_CLASS] = ELFCLASS32;
	open_bad(eh, sizeof(eh), ENOEXEC, "32-bit", "ELFCLASS32");
	eh[EI_CLASS] = 7;
	open_bad(eh, sizeof(eh), EBADMSG, "bad ELF class", "ELF class 7");
	is_int(dk_modfile_open("/nonexistent/x.ko", &m, &err), -ENOENT,
	       "module: missing file -> ENOENT");
	dk_error_free(&err);
	test_module_raw();
}

/* A module written from scratch, as tests/mkmod.py writes it: .symtab (index 1) before
 * .strtab, .shstrtab, .modinfo, __ksymtab_gpl and __kcrctab_gpl (index 6), exporting
 * f with __crc_f in __kcrctab_gpl. sec_off/sec_size override section idx's header. */
struct gen_mod {
	unsigned char b[1024];
	size_t len;
};

static void gen_module(struct gen_mod *g, size_t idx, uint64_t sec_off, uint64_t sec_size)
{
	static const char shstr[] =
		"\0.symtab\0.strtab\0.shstrtab\0.modinfo\0__ksymtab_gpl\0"
		"__kcrctab_gpl";
	static const char symstr[] = "\0__ksymtab_f\0__crc_f";
	static const char modinfo[] = "license=GPL\0name=gen";
	static const unsigned name_off[] = {0, 1, 9, 17, 27, 36, 50};
	Elf64_Sym syms[3] = {
		{0},
		{.st_name = 1,
		 .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
		 .st_shndx = 5},
		{.st_name = 13,
		 .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_NOTYPE),
		 .st_shndx = 6},
	};
	const unsigned char crc[4] = {0xcd, 0xab, 0x34, 0x12}, ksym[12] = {0};
	const void *body[] = {NULL, syms, symstr, shstr, modinfo, ksym, crc};
	const size_t size[] = {0,
			       sizeof(syms),
			       sizeof(symstr),
			       sizeof(shstr),
			       sizeof(modinfo),
			       sizeof(ksym),
			       sizeof(crc)};
	Elf64_Ehdr *eh = (Elf64_Ehdr *)g->b;
	Elf64_Shdr sh[7] = {{0}};
	size_t off = sizeof(*eh);

	memset(g, 0, sizeof(*g));
	fx_elf_header(eh, 7, 3);
	for (size_t i = 1; i < 7; i++) {
		off = (off + 7) & ~(size_t)7;
		memcpy(g->b + off, body[i], size[i]);
		sh[i] = (Elf64_Shdr){.sh_name = name_off[i],
				     .sh_type = i == 1	 ? SHT_SYMTAB
						: i <= 3 ? SHT_STRTAB
							 : SHT_PROGBITS,
				     .sh_offset = off,
				     .sh_size = size[i],
				     .sh_link = i == 1 ? 2 : 0,
				     .sh_info = 1,
				     .sh_addralign = 1,
				     .sh_entsize = i == 1 ? sizeof(Elf64_Sym) : 0};
		off += size[i];
	}
	if (idx) {
		sh[idx].sh_offset = sec_off;
		sh[idx].sh_size = sec_size;
	}
	off = (off + 7) & ~(size_t)7;
	eh->e_shoff = off;
	memcpy(g->b + off, sh, sizeof(sh));
	g->len = off + sizeof(sh);
}

/* Every section is checked before any is read: the symbol table (read first) points
 * into __kcrctab_gpl, which lies outside the file (was SIGSEGV). */
static void test_module_sections(void)
{
	_cleanup_modfile_ struct dk_modfile *m = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_modfile_export *ex;
	struct gen_mod g;

	gen_module(&g, 0, 0, 0);
	is_int(dk_modfile_open_mem("x.ko", g.b, g.len, &m, &err), 0, "generated: opens");
	ok(m && dk_modfile_exports(m, &ex) == 1 && ex[0].has_crc &&
		   ex[0].crc == 0x1234abcd,
	   "generated: export f with its __kcrctab CRC");
	ok(m && dk_modfile_export_find(m, "f") == ex && !dk_modfile_export_find(m, "g"),
	   "generated: export found by name");
	gen_module(&g, 6, (uint64_t)1 << 32, 4);
	open_bad(g.b, g.len, EBADMSG,
		 "section __kcrctab_gpl (offset 4294967296, size 4) does not fit in the",
		 "__kcrctab outside the file, symbol table first");
	gen_module(&g, 6, 0, UINT64_MAX - 8);
	open_bad(g.b, g.len, EBADMSG, "section __kcrctab_gpl (offset 0, size",
		 "huge __kcrctab");
	gen_module(&g, 4, 300, UINT64_MAX - 15);
	open_bad(g.b, g.len, EBADMSG,
		 "section .modinfo (offset 300, size 18446744073709551600) does not fit",
		 "huge .modinfo sh_size: no wrapped end");
	gen_module(&g, 1, 64, 25);
	open_bad(g.b, g.len, EBADMSG, "", "symbol table not a whole number of entries");
}

/* Built modules: $DK_TEST_MODULES, else what tests/cli built in the build dir. */
static char *find_modules(void)
{
	const char *env = getenv("DK_TEST_MODULES");
	const char *bd = getenv("DK_BUILDDIR");
	char *pat = NULL, *dir = NULL;
	glob_t g;

	if (env && *env)
		return strdup(env);
	if (!bd || asprintf(&pat, "%s/test-modules/*/.done", bd) < 0)
		return NULL;
	if (glob(pat, 0, NULL, &g) == 0 && g.gl_pathc > 0) {
		dir = strdup(g.gl_pathv[g.gl_pathc - 1]);
		if (dir)
			*strrchr(dir, '/') = '\0';
	}
	globfree(&g);
	free(pat);
	return dir;
}

static void test_module_real(void)
{
	_cleanup_free_ char *dir = find_modules();
	_cleanup_free_ char *p = NULL, *u = NULL, *e = NULL, *sv_path = NULL;
	_cleanup_modfile_ struct dk_modfile *mp = NULL, *mu = NULL, *me = NULL;
	_cleanup_(dk_symvers_freep) struct dk_symvers *sv = NULL;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_modversion *v;
	const struct dk_modfile_import *im;
	const struct dk_modfile_export *ex;
	const struct dk_symvers_entry *se;
	size_t nv, ni, nx;
	bool layout = false, printk = false, weak = false;

	if (!dir) {
		skip("no built test modules (set DK_TEST_MODULES or run the cli tests)");
		return;
	}
	if (asprintf(&p, "%s/dktest_params.ko", dir) < 0 ||
	    asprintf(&u, "%s/dktest_user.ko", dir) < 0 ||
	    asprintf(&e, "%s/dktest_export.ko", dir) < 0 ||
	    asprintf(&sv_path, "%s/Module.symvers", dir) < 0)
		return;
	is_int(dk_modfile_open(p, &mp, &err), 0, "real: open dktest_params.ko");
	if (!mp) {
		printf("# %s\n", err->msg);
		return;
	}
	is_str(dk_modfile_name(mp), "dktest_params", "real: name");
	is_str(dk_modfile_modinfo_get(mp, "version"), "1.2.3", "real: version");
	is_str(dk_modfile_modinfo_get(mp, "depends"), "", "real: empty depends");
	ok(startswith(dk_modfile_modinfo_get(mp, "vermagic"), "6."), "real: vermagic");
	is_int(dk_modfile_machine(mp), EM_X86_64, "real: x86_64");
	ok(dk_modfile_signature(mp) == NULL, "real: unsigned");
	nv = dk_modfile_versions(mp, &v);
	for (size_t i = 0; i < nv; i++) {
		layout = layout || streq(v[i].name, "module_layout");
		printk = printk || streq(v[i].name, "_printk");
	}
	ok(nv >= 5 && layout && printk, "real: __versions has module_layout and _printk");
	ni = dk_modfile_imports(mp, &im);
	printk = false;
	for (size_t i = 0; i < ni; i++) {
		printk = printk || streq(im[i].name, "_printk");
		weak = weak || im[i].weak;
	}
	ok(printk && !weak, "real: imports _printk, nothing weak");
	is_int(dk_modfile_exports(mp, &ex), 0, "real: dktest_params exports nothing");

	is_int(dk_modfile_open(e, &me, &err), 0, "real: open dktest_export.ko");
	is_int(dk_symvers_load(sv_path, &sv, &err), 0,
	       "real: the build's Module.symvers");
	if (!me || !sv)
		return;
	nx = dk_modfile_exports(me, &ex);
	se = dk_symvers_find(sv, "dktest_export_add");
	ok(nx == 1 && streq(ex[0].name, "dktest_export_add") && ex[0].gpl,
	   "real: exports dktest_export_add (GPL)");
	ok(nx == 1 && se && ex[0].has_crc && ex[0].crc == se->crc,
	   "real: __crc_dktest_export_add equals Module.symvers (0x%08x)",
	   se ? se->crc : 0);
	is_int(dk_modfile_open(u, &mu, &err), 0, "real: open dktest_user.ko");
	if (!mu)
		return;
	is_str(dk_modfile_modinfo_get(mu, "depends"), "dktest_export", "real: depends");
	ok(mu->n_depends == 1 && streq(mu->depends[0], "dktest_export"),
	   "real: depends split into the field load and init order by");
	ok(mu->vermagic && mu->vermagic[strlen(mu->vermagic) - 1] != ' ' &&
		   startswith(dk_modfile_modinfo_get(mu, "vermagic"), mu->vermagic),
	   "real: vermagic field without the trailing blank");
	ok(mu->srcversion &&
		   streq(mu->srcversion, dk_modfile_modinfo_get(mu, "srcversion")),
	   "real: srcversion field");
	nv = dk_modfile_versions(mu, &v);
	layout = false;
	for (size_t i = 0; i < nv; i++)
		if (streq(v[i].name, "dktest_export_add"))
			layout = se && (uint32_t)v[i].crc == se->crc;
	ok(layout, "real: dktest_user's __versions CRC for dktest_export_add matches");
	dk_modfile_drop_image(mu);
	ok(mu->n_depends == 1 && mu->vermagic && mu->srcversion && mu->path &&
		   dk_modfile_versions(mu, &v) == 0 &&
		   !dk_modfile_modinfo_get(mu, "name"),
	   "real: the image dropped, the fields stay");
}

int main(void)
{
	test_symvers_good();
	test_symvers_bad();
	test_vermagic();
	test_module_bad();
	FX_RUN(test_module_sections); /* in a child: a crash fails it, not the rest */
	test_module_real();
	return tap_done();
}
