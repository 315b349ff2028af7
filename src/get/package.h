/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdint.h>

#include "shared/macro.h"

#include "base/error.h"

/* Packages of built modules (`drvkit build --package`, `precompiled:`): one .tar.zst
 * that the same tree always turns into the same bytes (with the same libarchive and
 * libzstd: another zstd release may compress differently), so a package can be
 * compared, cached and signed by its digest. Reading one is the safe extraction of
 * get/archive.h with limits sized for module packages. */

#define DK_PACKAGE_MAX_ENTRIES UINT64_C(4096)
#define DK_PACKAGE_MAX_SIZE (UINT64_C(4) << 30) /* 4 GiB of file data */

/* Writes the regular files and directories below dir into out_file: a pax
 * (restricted) tar compressed with zstd, entries sorted by path (strcmp), every
 * entry with mtime 0, uid/gid 0, user and group "root", mode 0755 for directories
 * and for files with any x bit, 0644 for the others. With prefix ("a/b", relative,
 * no "." or ".." components) every path becomes prefix/rel and the prefix
 * directories are entries too. Symlinks, devices, FIFOs and sockets are refused
 * (EINVAL, naming the path), as are names outside printable ASCII (their encoding
 * in the tar would depend on the locale) and trees beyond the limits above
 * (EFBIG); a file that changes size while it is packaged fails with EAGAIN. The
 * archive is written to out_file.tmp.XXXXXX, fsync'd and renamed over out_file only
 * when complete: on any failure out_file is untouched and the temp file removed (only
 * a process killed mid-write leaves it). dir must not contain out_file. */
int dk_package_write(const char *dir, const char *prefix, const char *out_file,
		     struct dk_error **err) _must_check_;

/* Extracts a package into dir (created when missing; its parent must exist) with
 * dk_archive_extract_file() and the limits above: nothing is left in dir on
 * failure, hostile entries are refused with EBADMSG. */
int dk_package_unpack(const char *file, const char *dir,
		      struct dk_error **err) _must_check_;
