/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <archive.h>
#include <archive_entry.h>

#include "base/dlib.h"

/* libarchive, loaded on first use (dlib.h). Call dk_archive_load() before any
 * dk_sym_archive_*. Tests may set DRVKIT_TEST_LIBARCHIVE to another library name (e.g.
 * one that does not exist) to check the not-installed error. */
int dk_archive_load(struct dk_error **err) _must_check_;

DK_DLSYM_DECLARE(archive_entry_filetype);
DK_DLSYM_DECLARE(archive_entry_free);
DK_DLSYM_DECLARE(archive_entry_hardlink);
DK_DLSYM_DECLARE(archive_entry_mtime);
DK_DLSYM_DECLARE(archive_entry_mtime_is_set);
DK_DLSYM_DECLARE(archive_entry_mtime_nsec);
DK_DLSYM_DECLARE(archive_entry_new);
DK_DLSYM_DECLARE(archive_entry_pathname);
DK_DLSYM_DECLARE(archive_entry_perm);
DK_DLSYM_DECLARE(archive_entry_set_filetype);
DK_DLSYM_DECLARE(archive_entry_set_gid);
DK_DLSYM_DECLARE(archive_entry_set_gname);
DK_DLSYM_DECLARE(archive_entry_set_mtime);
DK_DLSYM_DECLARE(archive_entry_set_pathname);
DK_DLSYM_DECLARE(archive_entry_set_perm);
DK_DLSYM_DECLARE(archive_entry_set_size);
DK_DLSYM_DECLARE(archive_entry_set_uid);
DK_DLSYM_DECLARE(archive_entry_set_uname);
DK_DLSYM_DECLARE(archive_entry_size);
DK_DLSYM_DECLARE(archive_entry_size_is_set);
DK_DLSYM_DECLARE(archive_entry_symlink);
DK_DLSYM_DECLARE(archive_errno);
DK_DLSYM_DECLARE(archive_error_string);
DK_DLSYM_DECLARE(archive_format);
DK_DLSYM_DECLARE(archive_read_data);
DK_DLSYM_DECLARE(archive_read_data_block);
DK_DLSYM_DECLARE(archive_read_free);
DK_DLSYM_DECLARE(archive_read_header_position);
DK_DLSYM_DECLARE(archive_read_new);
DK_DLSYM_DECLARE(archive_read_next_header);
DK_DLSYM_DECLARE(archive_read_open);
DK_DLSYM_DECLARE(archive_read_open_fd);
DK_DLSYM_DECLARE(archive_read_open_filename);
DK_DLSYM_DECLARE(archive_read_support_filter_bzip2);
DK_DLSYM_DECLARE(archive_read_support_filter_gzip);
DK_DLSYM_DECLARE(archive_read_support_filter_lz4);
DK_DLSYM_DECLARE(archive_read_support_filter_lzma);
DK_DLSYM_DECLARE(archive_read_support_filter_rpm);
DK_DLSYM_DECLARE(archive_read_support_filter_xz);
DK_DLSYM_DECLARE(archive_read_support_filter_zstd);
DK_DLSYM_DECLARE(archive_read_support_format_ar);
DK_DLSYM_DECLARE(archive_read_support_format_cpio);
DK_DLSYM_DECLARE(archive_read_support_format_gnutar);
DK_DLSYM_DECLARE(archive_read_support_format_raw);
DK_DLSYM_DECLARE(archive_read_support_format_tar);
DK_DLSYM_DECLARE(archive_read_support_format_zip);
DK_DLSYM_DECLARE(archive_set_error);
DK_DLSYM_DECLARE(archive_write_add_filter_zstd);
DK_DLSYM_DECLARE(archive_write_close);
DK_DLSYM_DECLARE(archive_write_data);
DK_DLSYM_DECLARE(archive_write_free);
DK_DLSYM_DECLARE(archive_write_header);
DK_DLSYM_DECLARE(archive_write_new);
DK_DLSYM_DECLARE(archive_write_open);
DK_DLSYM_DECLARE(archive_write_set_bytes_in_last_block);
DK_DLSYM_DECLARE(archive_write_set_filter_option);
DK_DLSYM_DECLARE(archive_write_set_format_pax_restricted);
