/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"
#include "kmod/modsig.h"

/* A kernel module file (.ko) read once into memory. The appended signature and the
 * ELF image come from the same bytes. Everything a getter returns lives as long as
 * the module. */
struct dk_module;

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
struct dk_module_import {
	const char *name;
	bool weak;
};

/* A symbol the module exports (__ksymtab_<name>), with its __crc_<name> if any. */
struct dk_module_export {
	const char *name;
	uint32_t crc;
	bool has_crc;
	bool gpl; /* from __ksymtab_gpl */
};

/* Opens and parses path. Errors: -ENOENT/-EISDIR/... from the file system,
 * -EBADMSG when the bytes are not a sane ELF file (empty, not ELF, truncated),
 * -ENOEXEC for an ELF that is not a 64-bit relocatable module. */
int dk_module_open(const char *path, struct dk_module **out,
		   struct dk_error **err) _must_check_ _nonnull_(1, 2);
/* Same from a buffer (copied); name is used in messages and as the path. */
int dk_module_open_mem(const char *name, const void *data, size_t len,
		       struct dk_module **out, struct dk_error **err) _must_check_
	_nonnull_(1, 4);
void dk_module_free(struct dk_module *mod);
static inline void dk_module_freep(struct dk_module **mod)
{
	dk_module_free(*mod);
}
#define _cleanup_module_ __attribute__((cleanup(dk_module_freep)))

const char *dk_module_path(const struct dk_module *mod);
/* The "name" modinfo value, else the file name without directory and .ko, with '-'
 * turned into '_' (as the kernel and kmod name modules). */
const char *dk_module_name(const struct dk_module *mod);
/* ELF e_machine (EM_X86_64, EM_AARCH64, ...). */
unsigned dk_module_machine(const struct dk_module *mod);

/* All .modinfo entries in file order. */
size_t dk_module_modinfo(const struct dk_module *mod,
			 const struct dk_modinfo_entry **entries);
/* First value of key, or NULL. */
const char *dk_module_modinfo_get(const struct dk_module *mod, const char *key);

size_t dk_module_versions(const struct dk_module *mod, const struct dk_modversion **v);
size_t dk_module_imports(const struct dk_module *mod,
			 const struct dk_module_import **imports);
size_t dk_module_exports(const struct dk_module *mod,
			 const struct dk_module_export **exports);

/* The appended signature, or NULL when the module is unsigned. */
const struct dk_modsig *dk_module_signature(const struct dk_module *mod);
/* The whole file as read (module + signature). */
const void *dk_module_data(const struct dk_module *mod, size_t *len);
/* Describes the signature (dk_modsig_describe); 0 with info zeroed when unsigned. */
int dk_module_signature_info(const struct dk_module *mod, struct dk_modsig_info *info,
			     struct dk_error **err) _must_check_;
