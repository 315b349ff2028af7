/* SPDX-License-Identifier: Apache-2.0 */
/* Helpers the unit tests share for their scratch trees. */
#pragma once

#include <ftw.h>
#include <stdio.h>
#include <sys/stat.h>

static inline int fx_remove_entry(const char *path, const struct stat *st, int flag,
				  struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	return remove(path) < 0 ? -1 : 0;
}

/* rm -rf path, without a shell or a child process; 0 or -1. */
static inline int fx_rm_rf(const char *path)
{
	return nftw(path, fx_remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- scratch files, kernel build trees, cases in a child ---- */

#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"

#include "tap.h"

/* dir/rel with its parents, mode applied after writing (umask does not count); 0
 * or -1. */
static inline int fx_put(const char *dir, const char *rel, const char *text, mode_t mode)
{
	_cleanup_free_ char *p = dk_path_join(dir, rel);
	_cleanup_free_ char *parent = p ? strdup(p) : NULL;

	if (!parent || dk_mkdir_p(dirname(parent), 0755) < 0)
		return -1;
	if (dk_write_file_atomic(p, text, strlen(text), mode) < 0)
		return -1;
	return chmod(p, mode);
}

/* dir/rel -> target, a symbolic link, with its parents; 0 or -1. */
static inline int fx_put_link(const char *dir, const char *rel, const char *target)
{
	_cleanup_free_ char *p = dk_path_join(dir, rel);
	_cleanup_free_ char *parent = p ? strdup(p) : NULL;

	if (!parent || dk_mkdir_p(dirname(parent), 0755) < 0)
		return -1;
	return symlink(target, p);
}

/* A fake program bin/name: prints out (gcc -dumpfullversion) or prints nothing, and
 * exits 0. */
static inline int fx_tool(const char *bin, const char *name, const char *out)
{
	_cleanup_free_ char *text = dk_strdup_printf(
		"#!/bin/sh\n%s%s\n", out ? "echo " : "exit 0", out ? out : "");

	return text ? fx_put(bin, name, text, 0755) : -1;
}

/* The least kernel build tree for kver that host/preflight passes (a kernel built
 * with gcc 12.2.0, no CONFIG_MODVERSIONS, objtool or BTF), and in bin the tools a
 * module build runs: make, ld, as, nm, ar, objcopy and a gcc-12 saying 12.2.0. The
 * kbuild programs are stubs: nothing here runs them. 0 or -1. */
static inline int fx_kbuild_tree(const char *dir, const char *kver, const char *bin)
{
	static const char *const tools[] = {"make", "ld", "as", "nm", "ar", "objcopy"};
	_cleanup_free_ char *uts = dk_strdup_printf("#define UTS_RELEASE \"%s\"\n", kver);
	int bad = !uts;

	bad |= fx_put(dir, "Makefile", "include /dev/null\n", 0644);
	bad |= fx_put(dir, ".config",
		      "CONFIG_CC_VERSION_TEXT=\"gcc-12 (Debian 12.2.0-14) 12.2.0\"\n"
		      "CONFIG_CC_IS_GCC=y\n"
		      "CONFIG_GCC_VERSION=120200\n"
		      "CONFIG_MODULES=y\n",
		      0644);
	bad |= fx_put(dir, "include/generated/autoconf.h", "#define CONFIG_MODULES 1\n",
		      0644);
	bad |= uts ? fx_put(dir, "include/generated/utsrelease.h", uts, 0644) : -1;
	bad |= fx_put(dir, "include/config/auto.conf", "CONFIG_MODULES=y\n", 0644);
	bad |= fx_put(dir, "Module.symvers",
		      "0x12345678\tprintk\tvmlinux\tEXPORT_SYMBOL\t\n", 0644);
	bad |= fx_put(dir, "scripts/basic/fixdep", "#!/bin/sh\nexit 1\n", 0755);
	bad |= fx_put(dir, "scripts/mod/modpost", "#!/bin/sh\nexit 1\n", 0755);
	for (size_t i = 0; i < ARRAY_SIZE(tools); i++)
		bad |= fx_tool(bin, tools[i], NULL);
	bad |= fx_tool(bin, "gcc-12", "12.2.0");
	return bad ? -1 : 0;
}

/* Runs fn in a child, for a case that changes process state (environment, cwd,
 * signals); its TAP lines continue the numbering. A child that dies fails. */
static inline void fx_run_case(void (*fn)(void), const char *name)
{
	int p[2], status = 0, counts[2] = {0, 0};
	pid_t pid;

	fflush(stdout);
	if (pipe(p) < 0 || (pid = fork()) < 0) {
		ok(0, "%s: fork", name);
		return;
	}
	if (pid == 0) {
		close(p[0]);
		fn();
		fflush(stdout);
		counts[0] = tap_n;
		counts[1] = tap_failed;
		(void)!write(p[1], counts, sizeof(counts));
		_exit(0);
	}
	close(p[1]);
	if (read(p[0], counts, sizeof(counts)) != (ssize_t)sizeof(counts))
		counts[0] = -1;
	close(p[0]);
	waitpid(pid, &status, 0);
	if (counts[0] < 0 || !WIFEXITED(status) || WEXITSTATUS(status)) {
		ok(0, "%s: the case ran to its end (status %d)", name, status);
		return;
	}
	tap_n = counts[0];
	tap_failed = counts[1];
}

#define FX_RUN(fn) fx_run_case(fn, #fn)

/* ---- hand-made module ELF files ---- */

#include <elf.h>

/* The ELF header of a relocatable x86-64 object with shnum sections. */
static inline void fx_elf_header(Elf64_Ehdr *eh, unsigned shnum, unsigned shstrndx)
{
	memcpy(eh->e_ident, ELFMAG, SELFMAG);
	eh->e_ident[EI_CLASS] = ELFCLASS64;
	eh->e_ident[EI_DATA] = ELFDATA2LSB;
	eh->e_ident[EI_VERSION] = EV_CURRENT;
	eh->e_type = ET_REL;
	eh->e_machine = EM_X86_64;
	eh->e_version = EV_CURRENT;
	eh->e_ehsize = sizeof(*eh);
	eh->e_shentsize = sizeof(Elf64_Shdr);
	eh->e_shnum = (Elf64_Half)shnum;
	eh->e_shstrndx = (Elf64_Half)shstrndx;
}
