/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <stdlib.h>
#include <string.h>

#include <gelf.h>
#include <libelf.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"

#include "kmod/elf.h"

#define MODVERSION_ENTRY_LEN 64 /* { unsigned long crc; char name[56]; } on 64-bit */
#define MODVERSION_NAME_LEN (MODVERSION_ENTRY_LEN - 8)

struct dk_module {
	char *path;
	char *name;
	unsigned char *data; /* whole file */
	size_t len;
	bool mapped;	/* data is a private mapping of the file, else malloc'd */
	size_t elf_len; /* bytes before the signature */
	bool big_endian;
	unsigned machine;
	struct dk_modsig sig;

	struct dk_modinfo_entry *modinfo;
	size_t n_modinfo;
	struct dk_modversion *versions;
	size_t n_versions;
	struct dk_module_import *imports;
	size_t n_imports;
	struct dk_module_export *exports;
	size_t n_exports;
};

DK_DEFINE_CLEANUP(Elf *, elf_end)

void dk_module_free(struct dk_module *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->n_modinfo; i++)
		free((char *)m->modinfo[i].key); /* key and value share one block */
	free(m->modinfo);
	for (size_t i = 0; i < m->n_versions; i++)
		free((char *)m->versions[i].name);
	free(m->versions);
	for (size_t i = 0; i < m->n_imports; i++)
		free((char *)m->imports[i].name);
	free(m->imports);
	for (size_t i = 0; i < m->n_exports; i++)
		free((char *)m->exports[i].name);
	free(m->exports);
	if (m->mapped)
		munmap(m->data, m->len);
	else
		free(m->data);
	free(m->name);
	free(m->path);
	free(m);
}

static uint64_t read_uint(const struct dk_module *m, const unsigned char *p, size_t n)
{
	uint64_t v = 0;

	for (size_t i = 0; i < n; i++) {
		size_t idx = m->big_endian ? i : n - 1 - i;

		v = v << 8 | p[idx];
	}
	return v;
}

static void *grow(void *arr, size_t n, size_t size)
{
	/* capacity is the next power of two >= n: grow when n is one */
	if (n == 0 || (n & (n - 1)) == 0)
		return realloc(arr, (n ? n * 2 : 1) * size);
	return arr;
}

/* Splits .modinfo like libkmod (kmod_elf_get_strings): NUL-separated strings, empty
 * ones (padding) skipped, a final unterminated string kept. */
static int parse_modinfo(struct dk_module *m, const unsigned char *p, size_t size)
{
	size_t i = 0;

	while (i < size) {
		size_t start, n;
		char *s, *eq;
		struct dk_modinfo_entry *arr;

		if (p[i] == '\0') {
			i++;
			continue;
		}
		start = i;
		while (i < size && p[i] != '\0')
			i++;
		n = i - start;
		s = malloc(n + 2);
		if (!s)
			return -ENOMEM;
		memcpy(s, p + start, n);
		s[n] = '\0';
		s[n + 1] = '\0';
		arr = grow(m->modinfo, m->n_modinfo, sizeof(*arr));
		if (!arr) {
			free(s);
			return -ENOMEM;
		}
		m->modinfo = arr;
		eq = strchr(s, '=');
		if (eq)
			*eq = '\0';
		arr[m->n_modinfo].key = s;
		arr[m->n_modinfo].value = eq ? eq + 1 : s + n + 1;
		m->n_modinfo++;
	}
	return 0;
}

static int parse_versions(struct dk_module *m, const unsigned char *p, size_t size,
			  struct dk_error **err)
{
	size_t n = size / MODVERSION_ENTRY_LEN;

	if (size % MODVERSION_ENTRY_LEN != 0)
		return dk_error_set(err, EBADMSG,
				    "__versions is %zu bytes, not a multiple of the "
				    "%d-byte entry size",
				    size, MODVERSION_ENTRY_LEN);
	if (n == 0)
		return 0;
	m->versions = calloc(n, sizeof(*m->versions));
	if (!m->versions)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		const unsigned char *e = p + i * MODVERSION_ENTRY_LEN;
		const char *name = (const char *)e + 8;
		size_t nl = strnlen(name, MODVERSION_NAME_LEN);

		if (nl == MODVERSION_NAME_LEN)
			return dk_error_set(err, EBADMSG,
					    "__versions entry %zu has an unterminated "
					    "name",
					    i);
		m->versions[i].crc = read_uint(m, e, 8);
		m->versions[i].name = strndup(name, nl);
		if (!m->versions[i].name)
			return dk_error_set(err, ENOMEM, "out of memory");
		m->n_versions = i + 1;
	}
	return 0;
}

static int add_import(struct dk_module *m, const char *name, bool weak)
{
	struct dk_module_import *arr = grow(m->imports, m->n_imports, sizeof(*arr));

	if (!arr)
		return -ENOMEM;
	m->imports = arr;
	arr[m->n_imports].name = strdup(name);
	if (!arr[m->n_imports].name)
		return -ENOMEM;
	arr[m->n_imports].weak = weak;
	m->n_imports++;
	return 0;
}

static int add_export(struct dk_module *m, const char *name, bool gpl)
{
	struct dk_module_export *arr = grow(m->exports, m->n_exports, sizeof(*arr));

	if (!arr)
		return -ENOMEM;
	m->exports = arr;
	memset(&arr[m->n_exports], 0, sizeof(arr[0]));
	arr[m->n_exports].name = strdup(name);
	if (!arr[m->n_exports].name)
		return -ENOMEM;
	arr[m->n_exports].gpl = gpl;
	m->n_exports++;
	return 0;
}

static const char *section_name(Elf *e, size_t shstrndx, size_t idx)
{
	Elf_Scn *scn = elf_getscn(e, idx);
	GElf_Shdr sh;

	if (!scn || !gelf_getshdr(scn, &sh))
		return NULL;
	return elf_strptr(e, shstrndx, sh.sh_name);
}

/* __crc_<name>: an absolute symbol whose value is the CRC (before 5.19), or a symbol
 * in __kcrctab* whose value is the offset of the 32-bit CRC (5.19 and later). */
static void set_export_crc(struct dk_module *m, Elf *e, const char *name,
			   const GElf_Sym *sym)
{
	uint32_t crc;

	if (sym->st_shndx == SHN_ABS) {
		crc = (uint32_t)sym->st_value;
	} else {
		Elf_Scn *scn = elf_getscn(e, sym->st_shndx);
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    sym->st_value > sh.sh_size || sh.sh_size - sym->st_value < 4)
			return;
		crc = (uint32_t)read_uint(m, m->data + sh.sh_offset + sym->st_value, 4);
	}
	for (size_t i = 0; i < m->n_exports; i++)
		if (streq(m->exports[i].name, name)) {
			m->exports[i].crc = crc;
			m->exports[i].has_crc = true;
		}
}

static int parse_symtab(struct dk_module *m, Elf *e, Elf_Scn *scn, const GElf_Shdr *sh,
			size_t shstrndx, struct dk_error **err)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n;

	if (!d)
		return dk_error_set(err, EBADMSG, "cannot read the symbol table (%s)",
				    elf_errmsg(-1));
	if (sh->sh_entsize == 0)
		return dk_error_set(err, EBADMSG, "symbol table has entry size 0");
	n = sh->sh_size / sh->sh_entsize;
	/* pass 1: imports and exports; pass 2: export CRCs */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 1; i < n; i++) {
			GElf_Sym sym;
			const char *name;
			int bind;

			if (!gelf_getsym(d, (int)i, &sym))
				return dk_error_set(err, EBADMSG,
						    "cannot read symbol %zu (%s)", i,
						    elf_errmsg(-1));
			name = elf_strptr(e, sh->sh_link, sym.st_name);
			if (!name)
				return dk_error_set(err, EBADMSG,
						    "symbol %zu has a bad name offset",
						    i);
			if (!*name || GELF_ST_TYPE(sym.st_info) == STT_SECTION)
				continue;
			bind = GELF_ST_BIND(sym.st_info);
			if (pass == 1) {
				if (startswith(name, "__crc_"))
					set_export_crc(m, e, name + 6, &sym);
				continue;
			}
			if (sym.st_shndx == SHN_UNDEF &&
			    (bind == STB_GLOBAL || bind == STB_WEAK)) {
				if (add_import(m, name, bind == STB_WEAK) < 0)
					return dk_error_set(err, ENOMEM, "out of memory");
			} else if (startswith(name, "__ksymtab_") &&
				   sym.st_shndx != SHN_UNDEF &&
				   sym.st_shndx < SHN_LORESERVE) {
				const char *sec = section_name(e, shstrndx, sym.st_shndx);

				if (!sec || !startswith(sec, "__ksymtab") ||
				    streq(sec, "__ksymtab_strings"))
					continue;
				if (add_export(m, name + 10,
					       strstr(sec, "_gpl") != NULL) < 0)
					return dk_error_set(err, ENOMEM, "out of memory");
			}
		}
	}
	return 0;
}

static int parse_elf(struct dk_module *m, struct dk_error **err)
{
	_cleanup_(dk_elf_endp) Elf *e = NULL;
	const unsigned char *p = m->data;
	size_t len = m->elf_len;
	size_t shnum, shstrndx;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	bool have_modinfo = false;
	int r;

	if (m->len == 0)
		return dk_error_set(err, EBADMSG, "not an ELF file (empty file)");
	if (len < SELFMAG || memcmp(p, ELFMAG, SELFMAG) != 0)
		return dk_error_set(err, EBADMSG, "not an ELF file (no ELF magic)");
	if (len < EI_NIDENT)
		return dk_error_set(err, EBADMSG,
				    "not an ELF file (truncated: %zu bytes, shorter than "
				    "the ELF identification)",
				    len);
	if (p[EI_CLASS] == ELFCLASS32)
		return dk_error_set(err, ENOEXEC,
				    "32-bit ELF (ELFCLASS32): only 64-bit kernel modules "
				    "are supported");
	if (p[EI_CLASS] != ELFCLASS64)
		return dk_error_set(err, EBADMSG, "not an ELF file (bad ELF class %u)",
				    p[EI_CLASS]);
	if (p[EI_DATA] != ELFDATA2LSB && p[EI_DATA] != ELFDATA2MSB)
		return dk_error_set(err, EBADMSG,
				    "not an ELF file (bad ELF data encoding %u)",
				    p[EI_DATA]);
	m->big_endian = p[EI_DATA] == ELFDATA2MSB;
	if (len < sizeof(Elf64_Ehdr))
		return dk_error_set(err, EBADMSG,
				    "truncated ELF file (%zu bytes, the ELF header needs "
				    "%zu)",
				    len, sizeof(Elf64_Ehdr));
	if (elf_version(EV_CURRENT) == EV_NONE)
		return dk_error_set(err, EIO, "libelf: %s", elf_errmsg(-1));
	e = elf_memory((char *)m->data, len);
	if (!e || elf_kind(e) != ELF_K_ELF)
		return dk_error_set(err, EBADMSG, "not an ELF file (%s)", elf_errmsg(-1));
	if (!gelf_getehdr(e, &eh))
		return dk_error_set(err, EBADMSG, "bad ELF header (%s)", elf_errmsg(-1));
	if (eh.e_type != ET_REL)
		return dk_error_set(err, ENOEXEC,
				    "ELF type %u is not a relocatable object: not a "
				    "kernel module",
				    eh.e_type);
	m->machine = eh.e_machine;
	if (eh.e_shoff == 0 || eh.e_shoff > len ||
	    (len - eh.e_shoff) / sizeof(Elf64_Shdr) < eh.e_shnum)
		return dk_error_set(err, EBADMSG,
				    "truncated ELF file: section headers at offset %llu "
				    "lie outside its %zu bytes",
				    (unsigned long long)eh.e_shoff, len);
	if (elf_getshdrnum(e, &shnum) < 0 || elf_getshdrstrndx(e, &shstrndx) < 0)
		return dk_error_set(err, EBADMSG, "bad section headers (%s)",
				    elf_errmsg(-1));
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh))
			return dk_error_set(err, EBADMSG, "bad section header (%s)",
					    elf_errmsg(-1));
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name)
			return dk_error_set(err, EBADMSG,
					    "section %zu has a bad name offset",
					    elf_ndxscn(scn));
		if (sh.sh_type != SHT_NOBITS &&
		    (sh.sh_offset > len || len - sh.sh_offset < sh.sh_size))
			return dk_error_set(
				err, EBADMSG,
				"truncated ELF file: section %s ends at %llu "
				"but the file has %zu bytes",
				name, (unsigned long long)(sh.sh_offset + sh.sh_size),
				len);
		if (sh.sh_type == SHT_NOBITS)
			continue;
		if (streq(name, ".modinfo")) {
			have_modinfo = true;
			if (parse_modinfo(m, p + sh.sh_offset, sh.sh_size) < 0)
				return dk_error_set(err, ENOMEM, "out of memory");
		} else if (streq(name, "__versions")) {
			r = parse_versions(m, p + sh.sh_offset, sh.sh_size, err);
			if (r < 0)
				return r;
		} else if (sh.sh_type == SHT_SYMTAB) {
			r = parse_symtab(m, e, scn, &sh, shstrndx, err);
			if (r < 0)
				return r;
		}
	}
	if (!have_modinfo)
		return dk_error_set(err, EBADMSG,
				    "no .modinfo section: an ELF object but not a kernel "
				    "module");
	return 0;
}

static char *name_from_path(const char *path)
{
	const char *base = strrchr(path, '/');
	char *s, *dot;

	s = strdup(base ? base + 1 : path);
	if (!s)
		return NULL;
	dot = strstr(s, ".ko");
	if (dot)
		*dot = '\0';
	for (char *c = s; *c; c++)
		if (*c == '-')
			*c = '_';
	return s;
}

/* Takes ownership of data (a mapping of len bytes when mapped, else malloc'd). */
static int module_new(const char *path, unsigned char *data, size_t len, bool mapped,
		      struct dk_module **out, struct dk_error **err)
{
	_cleanup_module_ struct dk_module *m = NULL;
	const char *n;
	int r;

	m = calloc(1, sizeof(*m));
	if (!m) {
		if (mapped)
			munmap(data, len);
		else
			free(data);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	m->data = data;
	m->len = len;
	m->mapped = mapped;
	m->elf_len = len;
	m->path = strdup(path);
	if (!m->path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_modsig_locate(data, len, &m->sig, err);
	if (r < 0)
		return r;
	if (r > 0)
		m->elf_len = m->sig.module_len;
	r = parse_elf(m, err);
	if (r < 0)
		return r;
	n = dk_module_modinfo_get(m, "name");
	m->name = n && *n ? strdup(n) : name_from_path(path);
	if (!m->name)
		return dk_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(m);
	return 0;
}

/* Modules are mapped, not read: only the pages of .modinfo, the symbol table and
 * __versions are touched, so checking a 30 MB nvidia.ko costs what a small one does
 * (init opens every module once more for step 4). The mapping is private and
 * writable so libelf may scribble on it without touching the file. */
int dk_module_open(const char *path, struct dk_module **out, struct dk_error **err)
{
	_cleanup_close_ int fd = -1;
	struct stat st;
	void *data;
	int r;

	*out = NULL;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return dk_error_set(err, EBADMSG, "%s: is a directory, not a module file",
				    path);
	if (st.st_size > (off_t)(1u << 30))
		return dk_error_set(err, EFBIG, "%s: %s", path, strerror(EFBIG));
	if (st.st_size == 0 || !S_ISREG(st.st_mode)) {
		/* Nothing to map (or not mappable): read what is there. */
		char *buf = NULL;
		size_t len = 0;

		r = dk_read_file(path, 1u << 30, &buf, &len);
		if (r < 0)
			return dk_error_set(err, -r, "%s: %s", path, strerror(-r));
		r = module_new(path, (unsigned char *)buf, len, false, out, err);
	} else {
		data = mmap(NULL, (size_t)st.st_size, PROT_READ | PROT_WRITE, MAP_PRIVATE,
			    fd, 0);
		if (data == MAP_FAILED)
			return dk_error_set(err, errno, "map %s: %s", path,
					    strerror(errno));
		r = module_new(path, data, (size_t)st.st_size, true, out, err);
	}
	if (r < 0)
		return dk_error_wrap(err, "%s", path);
	return 0;
}

int dk_module_open_mem(const char *name, const void *data, size_t len,
		       struct dk_module **out, struct dk_error **err)
{
	unsigned char *copy = malloc(len ? len : 1);
	int r;

	*out = NULL;
	if (!copy)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (len)
		memcpy(copy, data, len);
	r = module_new(name, copy, len, false, out, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", name);
	return 0;
}

const char *dk_module_path(const struct dk_module *mod)
{
	return mod->path;
}

const char *dk_module_name(const struct dk_module *mod)
{
	return mod->name;
}

unsigned dk_module_machine(const struct dk_module *mod)
{
	return mod->machine;
}

size_t dk_module_modinfo(const struct dk_module *mod,
			 const struct dk_modinfo_entry **entries)
{
	*entries = mod->modinfo;
	return mod->n_modinfo;
}

const char *dk_module_modinfo_get(const struct dk_module *mod, const char *key)
{
	for (size_t i = 0; i < mod->n_modinfo; i++)
		if (streq(mod->modinfo[i].key, key))
			return mod->modinfo[i].value;
	return NULL;
}

size_t dk_module_versions(const struct dk_module *mod, const struct dk_modversion **v)
{
	*v = mod->versions;
	return mod->n_versions;
}

size_t dk_module_imports(const struct dk_module *mod,
			 const struct dk_module_import **imports)
{
	*imports = mod->imports;
	return mod->n_imports;
}

size_t dk_module_exports(const struct dk_module *mod,
			 const struct dk_module_export **exports)
{
	*exports = mod->exports;
	return mod->n_exports;
}

const struct dk_modsig *dk_module_signature(const struct dk_module *mod)
{
	return mod->sig.sig_len > 0 ? &mod->sig : NULL;
}

const void *dk_module_data(const struct dk_module *mod, size_t *len)
{
	if (len)
		*len = mod->len;
	return mod->data;
}

int dk_module_signature_info(const struct dk_module *mod, struct dk_modsig_info *info,
			     struct dk_error **err)
{
	memset(info, 0, sizeof(*info));
	if (!dk_module_signature(mod))
		return 0;
	return dk_modsig_describe(mod->data + mod->sig.module_len, mod->sig.sig_len, info,
				  err);
}
