/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>

#include "shared/macro.h"

#include "base/error.h"
#include "kmod/modsig.h"

/* A kernel module file (.ko): one mapping of the file, its sections validated once,
 * .modinfo, __versions, symbols and the appended signature read from the same bytes.
 * modinfo, check, sign, verify, unsign, load and init all use this one object. Strings
 * and arrays it hands out live as long as it does. */
struct dk_modfile_image;

struct dk_modfile {
	char *path;
	char *name; /* .modinfo name=, else the file name without .ko, '-' turned '_' */
	char *srcversion; /* .modinfo values, NULL when absent */
	char *version;
	char *vermagic; /* trailing blanks removed */
	char **depends; /* depends= split at ',', '-' turned '_', no duplicates */
	size_t n_depends;
	char *params; /* the caller's: "k=v ..." to insert with, or NULL */
	struct dk_modfile_image *img;
};

/* One .modinfo string, split at the first '=' (value "" when there is none). */
struct dk_modinfo_entry {
	const char *key;
	const char *value;
};

/* One __versions entry: the CRC the module was built against. */
struct dk_modversion {
	uint64_t crc;
	const char *name;
};

/* A symbol the module needs (SHN_UNDEF, global or weak). */
struct dk_modfile_import {
	const char *name;
	bool weak;
};

/* A symbol the module exports (__ksymtab_<name>), with its __crc_<name> if any. */
struct dk_modfile_export {
	const char *name;
	uint32_t crc;
	bool has_crc;
	bool gpl; /* from __ksymtab_gpl */
};

/* Opens and parses path. Errors: -ENOENT/-EISDIR/... from the file system,
 * -EBADMSG when the bytes are not a sane ELF file (empty, not ELF, truncated, no
 * .modinfo), -ENOEXEC for an ELF that is not a 64-bit relocatable module. */
int dk_modfile_open(const char *path, struct dk_modfile **out,
		    struct dk_error **err) _must_check_ _nonnull_(1, 2);
/* Only maps a regular file and keeps it open (dk_modfile_fd), without reading it as
 * ELF: signing, unsigning and verifying take any bytes, as sign-file does. Errors as
 * dk_open_regular(). */
int dk_modfile_open_raw(const char *path, struct dk_modfile **out,
			struct dk_error **err) _must_check_ _nonnull_(1, 2);
/* As dk_modfile_open() from a buffer (copied); name is used in messages and as the
 * path. */
int dk_modfile_open_mem(const char *name, const void *data, size_t len,
			struct dk_modfile **out, struct dk_error **err) _must_check_
	_nonnull_(1, 4);
/* Appends every *.ko of dir (sorted by name) to files. */
int dk_modfile_open_dir(const char *dir, struct dk_modfile ***files, size_t *n,
			struct dk_error **err) _must_check_;
/* Unmaps the file and frees what was parsed from it, keeping the fields above (a
 * long-running init holds no module bytes); the getters below then see an empty
 * module. */
void dk_modfile_drop_image(struct dk_modfile *f);
void dk_modfile_free(struct dk_modfile *f);
void dk_modfiles_free(struct dk_modfile **files, size_t n);
static inline void dk_modfile_freep(struct dk_modfile **f)
{
	dk_modfile_free(*f);
}
#define _cleanup_modfile_ __attribute__((cleanup(dk_modfile_freep)))

const char *dk_modfile_path(const struct dk_modfile *f);
const char *dk_modfile_name(const struct dk_modfile *f);
/* ELF e_machine (EM_X86_64, EM_AARCH64, ...). */
unsigned dk_modfile_machine(const struct dk_modfile *f);

/* All .modinfo entries in file order. */
size_t dk_modfile_modinfo(const struct dk_modfile *f,
			  const struct dk_modinfo_entry **entries);
/* First value of key, or NULL. */
const char *dk_modfile_modinfo_get(const struct dk_modfile *f, const char *key);

size_t dk_modfile_versions(const struct dk_modfile *f, const struct dk_modversion **v);
size_t dk_modfile_imports(const struct dk_modfile *f,
			  const struct dk_modfile_import **imports);
size_t dk_modfile_exports(const struct dk_modfile *f,
			  const struct dk_modfile_export **exports);
/* The export named name (the first in file order), or NULL; O(log n). */
const struct dk_modfile_export *dk_modfile_export_find(const struct dk_modfile *f,
						       const char *name);

/* The appended signature, or NULL when the module is unsigned (or opened raw). */
const struct dk_modsig *dk_modfile_signature(const struct dk_modfile *f);
/* The whole file as mapped (module + signature). */
const void *dk_modfile_data(const struct dk_modfile *f, size_t *len);
/* Describes the signature (dk_modsig_describe); 0 with info zeroed when unsigned. */
int dk_modfile_signature_info(const struct dk_modfile *f, struct dk_modsig_info *info,
			      struct dk_error **err) _must_check_;
/* The open file of a raw modfile and its fstat at open (-1 otherwise): signing copies
 * from it and checks that nobody wrote to it meanwhile. */
int dk_modfile_fd(const struct dk_modfile *f, struct stat *st);
