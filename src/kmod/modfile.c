/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/mman.h>
#include <dirent.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>

#include <gelf.h>
#include <libelf.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"

#include "kmod/modfile.h"

#define MODVERSION_ENTRY_LEN 64 /* { unsigned long crc; char name[56]; } on 64-bit */
#define MODVERSION_NAME_LEN (MODVERSION_ENTRY_LEN - 8)

/* What the file holds, parsed once at open. */
struct dk_modfile_image {
	unsigned char *data; /* whole file */
	size_t len;
	bool mapped;	/* data is a private mapping of the file, else malloc'd */
	int fd;		/* raw: the file, kept open for signing; else -1 */
	struct stat st; /* raw: fstat at open */
	size_t elf_len; /* bytes before the signature */
	bool big_endian;
	unsigned machine;
	struct dk_modsig sig;

	struct dk_modinfo_entry *modinfo;
	size_t n_modinfo;
	struct dk_modversion *versions;
	size_t n_versions;
	struct dk_modfile_import *imports;
	size_t n_imports;
	struct dk_modfile_export *exports;
	size_t n_exports;
	struct dk_modfile_export **exports_by_name; /* sorted by name, then file order */
};

DK_DEFINE_CLEANUP(Elf *, elf_end)

static void image_free(struct dk_modfile_image *m)
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
	free(m->exports_by_name);
	if (m->mapped)
		munmap(m->data, m->len);
	else
		free(m->data);
	if (m->fd >= 0)
		close(m->fd);
	free(m);
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void dk_modfile_free(struct dk_modfile *f)
{
	if (!f)
		return;
	image_free(f->img);
	free(f->path);
	free(f->name);
	free(f->srcversion);
	free(f->version);
	free(f->vermagic);
	names_free(f->depends, f->n_depends);
	free(f->params);
	free(f);
}

void dk_modfiles_free(struct dk_modfile **files, size_t n)
{
	if (!files)
		return;
	for (size_t i = 0; i < n; i++)
		dk_modfile_free(files[i]);
	free(files);
}

static uint64_t read_uint(const struct dk_modfile_image *m, const unsigned char *p,
			  size_t n)
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
static int parse_modinfo(struct dk_modfile_image *m, const unsigned char *p, size_t size)
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

static int parse_versions(struct dk_modfile_image *m, const unsigned char *p, size_t size,
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

static int add_import(struct dk_modfile_image *m, const char *name, bool weak)
{
	struct dk_modfile_import *arr = grow(m->imports, m->n_imports, sizeof(*arr));

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

static int add_export(struct dk_modfile_image *m, const char *name, bool gpl)
{
	struct dk_modfile_export *arr = grow(m->exports, m->n_exports, sizeof(*arr));

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

/* The bytes of a section with contents lie inside the ELF part of the file (no
 * wrap-around: offset and size are each compared with the length). */
static bool section_in_file(const struct dk_modfile_image *m, const GElf_Shdr *sh)
{
	return sh->sh_type == SHT_NOBITS ||
	       (sh->sh_offset <= m->elf_len && sh->sh_size <= m->elf_len - sh->sh_offset);
}

static int check_section(const struct dk_modfile_image *m, Elf *e, Elf_Scn *scn,
			 size_t shstrndx, struct dk_error **err)
{
	GElf_Shdr sh;
	const char *name;

	if (!gelf_getshdr(scn, &sh))
		return dk_error_set(err, EBADMSG, "bad section header (%s)",
				    elf_errmsg(-1));
	name = elf_strptr(e, shstrndx, sh.sh_name);
	if (!name)
		return dk_error_set(err, EBADMSG, "section %zu has a bad name offset",
				    elf_ndxscn(scn));
	if (!section_in_file(m, &sh))
		return dk_error_set(err, EBADMSG,
				    "truncated or corrupt ELF file: section %s (offset "
				    "%llu, size %llu) does not fit in the %zu bytes of "
				    "the module",
				    name, (unsigned long long)sh.sh_offset,
				    (unsigned long long)sh.sh_size, m->elf_len);
	if (sh.sh_type == SHT_SYMTAB && sh.sh_entsize != sizeof(Elf64_Sym))
		return dk_error_set(
			err, EBADMSG, "symbol table %s has entry size %llu, expected %zu",
			name, (unsigned long long)sh.sh_entsize, sizeof(Elf64_Sym));
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

static int cmp_export(const void *a, const void *b)
{
	const struct dk_modfile_export *x = *(const struct dk_modfile_export *const *)a;
	const struct dk_modfile_export *y = *(const struct dk_modfile_export *const *)b;
	int c = strcmp(x->name, y->name);

	return c ? c : (x > y) - (x < y);
}

/* exports_by_name for the exports read so far: lookups by name in O(log n), so a
 * module with many exports (or many __crc_ symbols) costs n log n, not n^2. */
static int index_exports(struct dk_modfile_image *m)
{
	struct dk_modfile_export **v = NULL;

	if (m->n_exports) {
		v = malloc(m->n_exports * sizeof(*v));
		if (!v)
			return -ENOMEM;
		for (size_t i = 0; i < m->n_exports; i++)
			v[i] = &m->exports[i];
		qsort(v, m->n_exports, sizeof(*v), cmp_export);
	}
	free(m->exports_by_name);
	m->exports_by_name = v;
	return 0;
}

/* The first position in exports_by_name whose name is not less than name. */
static size_t export_lower_bound(const struct dk_modfile_image *m, const char *name)
{
	size_t lo = 0, hi = m->exports_by_name ? m->n_exports : 0;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(m->exports_by_name[mid]->name, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* __crc_<name>: an absolute symbol whose value is the CRC (before 5.19), or a symbol
 * in __kcrctab* whose value is the offset of the 32-bit CRC (5.19 and later). */
static void set_export_crc(struct dk_modfile_image *m, Elf *e, const char *name,
			   const GElf_Sym *sym)
{
	uint32_t crc;

	if (sym->st_shndx == SHN_ABS) {
		crc = (uint32_t)sym->st_value;
	} else {
		Elf_Scn *scn = elf_getscn(e, sym->st_shndx);
		GElf_Shdr sh;

		if (!scn || !gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS ||
		    !section_in_file(m, &sh) || sym->st_value > sh.sh_size ||
		    sh.sh_size - sym->st_value < 4)
			return;
		crc = (uint32_t)read_uint(m, m->data + sh.sh_offset + sym->st_value, 4);
	}
	for (size_t i = export_lower_bound(m, name);
	     i < m->n_exports && streq(m->exports_by_name[i]->name, name); i++) {
		m->exports_by_name[i]->crc = crc;
		m->exports_by_name[i]->has_crc = true;
	}
}

static int parse_symtab(struct dk_modfile_image *m, Elf *e, Elf_Scn *scn,
			const GElf_Shdr *sh, size_t shstrndx, struct dk_error **err)
{
	Elf_Data *d = elf_getdata(scn, NULL);
	size_t n;

	if (!d)
		return dk_error_set(err, EBADMSG, "cannot read the symbol table (%s)",
				    elf_errmsg(-1));
	n = sh->sh_size / sh->sh_entsize;
	/* pass 1: imports and exports; pass 2: export CRCs */
	for (int pass = 0; pass < 2; pass++) {
		if (pass == 1 && index_exports(m) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
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

static int parse_elf(struct dk_modfile_image *m, struct dk_error **err)
{
	_cleanup_(dk_elf_endp) Elf *e = NULL;
	const unsigned char *p = m->data;
	size_t len = m->elf_len;
	size_t shnum, shstrndx;
	GElf_Ehdr eh;
	Elf_Scn *scn = NULL;
	bool have_modinfo = false, have_versions = false;
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
	/* Every section header is checked before any section is read: a symbol may
	 * point into a later section (__crc_* into __kcrctab*). */
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		r = check_section(m, e, scn, shstrndx, err);
		if (r < 0)
			return r;
	}
	while ((scn = elf_nextscn(e, scn)) != NULL) {
		GElf_Shdr sh;
		const char *name;

		if (!gelf_getshdr(scn, &sh) || sh.sh_type == SHT_NOBITS)
			continue;
		name = elf_strptr(e, shstrndx, sh.sh_name);
		if (!name)
			continue;
		/* The kernel reads one of each; which one a tool picks must not differ.
		 */
		if ((streq(name, ".modinfo") && have_modinfo) ||
		    (streq(name, "__versions") && have_versions))
			return dk_error_set(err, EBADMSG,
					    "two %s sections: a module has one", name);
		if (streq(name, ".modinfo")) {
			have_modinfo = true;
			if (parse_modinfo(m, p + sh.sh_offset, sh.sh_size) < 0)
				return dk_error_set(err, ENOMEM, "out of memory");
		} else if (streq(name, "__versions")) {
			have_versions = true;
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
	dk_modname_kernel(s);
	return s;
}

static int split_depends(struct dk_modfile *f, const char *v)
{
	_cleanup_free_ char *copy = strdup(v);
	char *save = NULL;

	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		dk_strip(t);
		if (!*t ||
		    dk_strv_contains((const char *const *)f->depends, f->n_depends, t))
			continue;
		dk_modname_kernel(t);
		if (dk_strv_push(&f->depends, &f->n_depends, t) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The .modinfo values load and init decide with, copied out of the entries (the
 * first of each key, as kmod's modinfo -F shows it). */
static int fill_fields(struct dk_modfile *f)
{
	static const char *const keys[] = {"srcversion", "version", "vermagic"};
	char **dst[] = {&f->srcversion, &f->version, &f->vermagic};
	const char *n = dk_modfile_modinfo_get(f, "name");
	const char *dep = dk_modfile_modinfo_get(f, "depends");

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
		const char *v = dk_modfile_modinfo_get(f, keys[i]);

		if (v && !(*dst[i] = strdup(v)))
			return -ENOMEM;
	}
	if (f->vermagic)
		dk_strip(f->vermagic);
	if (dep && split_depends(f, dep) < 0)
		return -ENOMEM;
	f->name = n && *n ? strdup(n) : name_from_path(f->path);
	return f->name ? 0 : -ENOMEM;
}

/* Takes ownership of img (its data a mapping of len bytes when mapped, else malloc'd).
 * raw: no ELF parsing, the signature is left to the signing code. */
static int modfile_new(const char *path, struct dk_modfile_image *img, bool raw,
		       struct dk_modfile **out, struct dk_error **err)
{
	_cleanup_modfile_ struct dk_modfile *f = calloc(1, sizeof(*f));
	int r;

	if (!f) {
		image_free(img);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	f->img = img;
	img->elf_len = img->len;
	f->path = strdup(path);
	if (!f->path)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (raw) {
		f->name = name_from_path(path);
		if (!f->name)
			return dk_error_set(err, ENOMEM, "out of memory");
		*out = TAKE_PTR(f);
		return 0;
	}
	r = dk_modsig_locate(img->data, img->len, &img->sig, err);
	if (r < 0)
		return r;
	if (r > 0)
		img->elf_len = img->sig.module_len;
	r = parse_elf(img, err);
	if (r < 0)
		return r;
	if (fill_fields(f) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	*out = TAKE_PTR(f);
	return 0;
}

static struct dk_modfile_image *image_new(void *data, size_t len, bool mapped)
{
	struct dk_modfile_image *img = calloc(1, sizeof(*img));

	if (!img) {
		if (mapped)
			munmap(data, len);
		else
			free(data);
		return NULL;
	}
	img->data = data;
	img->len = len;
	img->mapped = mapped;
	img->fd = -1;
	return img;
}

/* A private writable mapping, so libelf may scribble on it without touching the file
 * (signing opens the file raw, where nothing parses the bytes). */
static int map_image(const char *path, int fd, size_t len, struct dk_modfile_image **out,
		     struct dk_error **err)
{
	void *data;

	/* An empty file has nothing to map: one byte of heap keeps data non-NULL. */
	data = len ? mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0)
		   : calloc(1, 1);
	if (data == MAP_FAILED || !data)
		return dk_error_set(err, data ? errno : ENOMEM, "map %s: %s", path,
				    strerror(data ? errno : ENOMEM));
	*out = image_new(data, len, len > 0);
	if (!*out)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* Modules are mapped, not read: only the pages of .modinfo, the symbol table and
 * __versions are touched, so a 30 MB nvidia.ko costs what a small one does. */
int dk_modfile_open(const char *path, struct dk_modfile **out, struct dk_error **err)
{
	struct dk_modfile_image *img = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	*out = NULL;
	/* O_NONBLOCK: a FIFO must not block the open (refused below) */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (fstat(fd, &st) < 0)
		return dk_error_set(err, errno, "%s: %s", path, strerror(errno));
	if (S_ISDIR(st.st_mode))
		return dk_error_set(err, EBADMSG, "%s: is a directory, not a module file",
				    path);
	if (!S_ISREG(st.st_mode))
		return dk_error_set(err, EBADMSG, "%s: is %s, not a module file", path,
				    dk_file_type_str(st.st_mode));
	if (st.st_size > (off_t)(1u << 30))
		return dk_error_set(err, EFBIG,
				    "%s: %lld bytes, more than the limit of 1 GiB for a "
				    "module file",
				    path, (long long)st.st_size);
	if (st.st_size == 0 || !S_ISREG(st.st_mode)) {
		/* Nothing to map (or not mappable): read what is there. */
		char *buf = NULL;
		size_t len = 0;

		r = dk_read_file(path, 1u << 30, &buf, &len);
		if (r < 0)
			return dk_error_set(err, -r, "%s: %s", path, strerror(-r));
		img = image_new(buf, len, false);
		if (!img)
			return dk_error_set(err, ENOMEM, "out of memory");
	} else {
		r = map_image(path, fd, (size_t)st.st_size, &img, err);
		if (r < 0)
			return r;
	}
	r = modfile_new(path, img, false, out, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", path);
	return 0;
}

int dk_modfile_open_raw(const char *path, struct dk_modfile **out, struct dk_error **err)
{
	struct dk_modfile_image *img = NULL;
	_cleanup_close_ int fd = -1;
	struct stat st;
	int r;

	*out = NULL;
	fd = dk_open_regular(path, (size_t)1 << 30, &st, err);
	if (fd < 0)
		return fd;
	r = map_image(path, fd, (size_t)st.st_size, &img, err);
	if (r < 0)
		return r;
	img->fd = TAKE_FD(fd);
	img->st = st;
	return modfile_new(path, img, true, out, err);
}

int dk_modfile_open_mem(const char *name, const void *data, size_t len,
			struct dk_modfile **out, struct dk_error **err)
{
	unsigned char *copy = malloc(len ? len : 1);
	struct dk_modfile_image *img;
	int r;

	*out = NULL;
	if (!copy)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (len)
		memcpy(copy, data, len);
	img = image_new(copy, len, false);
	if (!img)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = modfile_new(name, img, false, out, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", name);
	return 0;
}

/* After dk_modfile_drop_image(): an empty module. */
static const struct dk_modfile_image no_image = {.fd = -1};

static const struct dk_modfile_image *img_of(const struct dk_modfile *f)
{
	return f->img ? f->img : &no_image;
}

void dk_modfile_drop_image(struct dk_modfile *f)
{
	image_free(f->img);
	f->img = NULL;
}

const char *dk_modfile_path(const struct dk_modfile *f)
{
	return f->path;
}

const char *dk_modfile_name(const struct dk_modfile *f)
{
	return f->name;
}

unsigned dk_modfile_machine(const struct dk_modfile *f)
{
	return img_of(f)->machine;
}

size_t dk_modfile_modinfo(const struct dk_modfile *f,
			  const struct dk_modinfo_entry **entries)
{
	*entries = img_of(f)->modinfo;
	return img_of(f)->n_modinfo;
}

const char *dk_modfile_modinfo_get(const struct dk_modfile *f, const char *key)
{
	const struct dk_modfile_image *img = img_of(f);

	for (size_t i = 0; i < img->n_modinfo; i++)
		if (streq(img->modinfo[i].key, key))
			return img->modinfo[i].value;
	return NULL;
}

size_t dk_modfile_versions(const struct dk_modfile *f, const struct dk_modversion **v)
{
	*v = img_of(f)->versions;
	return img_of(f)->n_versions;
}

size_t dk_modfile_imports(const struct dk_modfile *f,
			  const struct dk_modfile_import **imports)
{
	*imports = img_of(f)->imports;
	return img_of(f)->n_imports;
}

size_t dk_modfile_exports(const struct dk_modfile *f,
			  const struct dk_modfile_export **exports)
{
	*exports = img_of(f)->exports;
	return img_of(f)->n_exports;
}

const struct dk_modfile_export *dk_modfile_export_find(const struct dk_modfile *f,
						       const char *name)
{
	const struct dk_modfile_image *img = img_of(f);
	size_t i = export_lower_bound(img, name);

	if (i < img->n_exports && streq(img->exports_by_name[i]->name, name))
		return img->exports_by_name[i];
	return NULL;
}

const struct dk_modsig *dk_modfile_signature(const struct dk_modfile *f)
{
	const struct dk_modfile_image *img = img_of(f);

	return img->sig.sig_len > 0 ? &img->sig : NULL;
}

const void *dk_modfile_data(const struct dk_modfile *f, size_t *len)
{
	if (len)
		*len = img_of(f)->len;
	return img_of(f)->data;
}

int dk_modfile_signature_info(const struct dk_modfile *f, struct dk_modsig_info *info,
			      struct dk_error **err)
{
	memset(info, 0, sizeof(*info));
	if (!dk_modfile_signature(f))
		return 0;
	return dk_modsig_describe(f->img->data + f->img->sig.module_len,
				  f->img->sig.sig_len, info, err);
}

int dk_modfile_fd(const struct dk_modfile *f, struct stat *st)
{
	if (st)
		*st = img_of(f)->st;
	return img_of(f)->fd;
}
