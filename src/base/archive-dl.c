/* SPDX-License-Identifier: Apache-2.0 */
#include "base/archive-dl.h"

/* Set once by dk_dlib_load() and read-only afterwards: what the dynamic linker would
 * otherwise have written into the GOT at exec. */
DK_DLSYM_DEFINE(archive_entry_filetype);
DK_DLSYM_DEFINE(archive_entry_free);
DK_DLSYM_DEFINE(archive_entry_hardlink);
DK_DLSYM_DEFINE(archive_entry_mtime);
DK_DLSYM_DEFINE(archive_entry_mtime_is_set);
DK_DLSYM_DEFINE(archive_entry_mtime_nsec);
DK_DLSYM_DEFINE(archive_entry_new);
DK_DLSYM_DEFINE(archive_entry_pathname);
DK_DLSYM_DEFINE(archive_entry_perm);
DK_DLSYM_DEFINE(archive_entry_set_filetype);
DK_DLSYM_DEFINE(archive_entry_set_gid);
DK_DLSYM_DEFINE(archive_entry_set_gname);
DK_DLSYM_DEFINE(archive_entry_set_mtime);
DK_DLSYM_DEFINE(archive_entry_set_pathname);
DK_DLSYM_DEFINE(archive_entry_set_perm);
DK_DLSYM_DEFINE(archive_entry_set_size);
DK_DLSYM_DEFINE(archive_entry_set_uid);
DK_DLSYM_DEFINE(archive_entry_set_uname);
DK_DLSYM_DEFINE(archive_entry_size);
DK_DLSYM_DEFINE(archive_entry_size_is_set);
DK_DLSYM_DEFINE(archive_entry_symlink);
DK_DLSYM_DEFINE(archive_errno);
DK_DLSYM_DEFINE(archive_error_string);
DK_DLSYM_DEFINE(archive_format);
DK_DLSYM_DEFINE(archive_read_data);
DK_DLSYM_DEFINE(archive_read_data_block);
DK_DLSYM_DEFINE(archive_read_free);
DK_DLSYM_DEFINE(archive_read_header_position);
DK_DLSYM_DEFINE(archive_read_new);
DK_DLSYM_DEFINE(archive_read_next_header);
DK_DLSYM_DEFINE(archive_read_open);
DK_DLSYM_DEFINE(archive_read_open_fd);
DK_DLSYM_DEFINE(archive_read_open_filename);
DK_DLSYM_DEFINE(archive_read_support_filter_bzip2);
DK_DLSYM_DEFINE(archive_read_support_filter_gzip);
DK_DLSYM_DEFINE(archive_read_support_filter_lz4);
DK_DLSYM_DEFINE(archive_read_support_filter_lzma);
DK_DLSYM_DEFINE(archive_read_support_filter_rpm);
DK_DLSYM_DEFINE(archive_read_support_filter_xz);
DK_DLSYM_DEFINE(archive_read_support_filter_zstd);
DK_DLSYM_DEFINE(archive_read_support_format_ar);
DK_DLSYM_DEFINE(archive_read_support_format_cpio);
DK_DLSYM_DEFINE(archive_read_support_format_gnutar);
DK_DLSYM_DEFINE(archive_read_support_format_raw);
DK_DLSYM_DEFINE(archive_read_support_format_tar);
DK_DLSYM_DEFINE(archive_read_support_format_zip);
DK_DLSYM_DEFINE(archive_set_error);
DK_DLSYM_DEFINE(archive_write_add_filter_zstd);
DK_DLSYM_DEFINE(archive_write_close);
DK_DLSYM_DEFINE(archive_write_data);
DK_DLSYM_DEFINE(archive_write_free);
DK_DLSYM_DEFINE(archive_write_header);
DK_DLSYM_DEFINE(archive_write_new);
DK_DLSYM_DEFINE(archive_write_open);
DK_DLSYM_DEFINE(archive_write_set_bytes_in_last_block);
DK_DLSYM_DEFINE(archive_write_set_filter_option);
DK_DLSYM_DEFINE(archive_write_set_format_pax_restricted);

static const struct dk_dlib_sym archive_syms[] = {
	DK_DLSYM_ENTRY(archive_entry_filetype),
	DK_DLSYM_ENTRY(archive_entry_free),
	DK_DLSYM_ENTRY(archive_entry_hardlink),
	DK_DLSYM_ENTRY(archive_entry_mtime),
	DK_DLSYM_ENTRY(archive_entry_mtime_is_set),
	DK_DLSYM_ENTRY(archive_entry_mtime_nsec),
	DK_DLSYM_ENTRY(archive_entry_new),
	DK_DLSYM_ENTRY(archive_entry_pathname),
	DK_DLSYM_ENTRY(archive_entry_perm),
	DK_DLSYM_ENTRY(archive_entry_set_filetype),
	DK_DLSYM_ENTRY(archive_entry_set_gid),
	DK_DLSYM_ENTRY(archive_entry_set_gname),
	DK_DLSYM_ENTRY(archive_entry_set_mtime),
	DK_DLSYM_ENTRY(archive_entry_set_pathname),
	DK_DLSYM_ENTRY(archive_entry_set_perm),
	DK_DLSYM_ENTRY(archive_entry_set_size),
	DK_DLSYM_ENTRY(archive_entry_set_uid),
	DK_DLSYM_ENTRY(archive_entry_set_uname),
	DK_DLSYM_ENTRY(archive_entry_size),
	DK_DLSYM_ENTRY(archive_entry_size_is_set),
	DK_DLSYM_ENTRY(archive_entry_symlink),
	DK_DLSYM_ENTRY(archive_errno),
	DK_DLSYM_ENTRY(archive_error_string),
	DK_DLSYM_ENTRY(archive_format),
	DK_DLSYM_ENTRY(archive_read_data),
	DK_DLSYM_ENTRY(archive_read_data_block),
	DK_DLSYM_ENTRY(archive_read_free),
	DK_DLSYM_ENTRY(archive_read_header_position),
	DK_DLSYM_ENTRY(archive_read_new),
	DK_DLSYM_ENTRY(archive_read_next_header),
	DK_DLSYM_ENTRY(archive_read_open),
	DK_DLSYM_ENTRY(archive_read_open_fd),
	DK_DLSYM_ENTRY(archive_read_open_filename),
	DK_DLSYM_ENTRY(archive_read_support_filter_bzip2),
	DK_DLSYM_ENTRY(archive_read_support_filter_gzip),
	DK_DLSYM_ENTRY(archive_read_support_filter_lz4),
	DK_DLSYM_ENTRY(archive_read_support_filter_lzma),
	DK_DLSYM_ENTRY(archive_read_support_filter_rpm),
	DK_DLSYM_ENTRY(archive_read_support_filter_xz),
	DK_DLSYM_ENTRY(archive_read_support_filter_zstd),
	DK_DLSYM_ENTRY(archive_read_support_format_ar),
	DK_DLSYM_ENTRY(archive_read_support_format_cpio),
	DK_DLSYM_ENTRY(archive_read_support_format_gnutar),
	DK_DLSYM_ENTRY(archive_read_support_format_raw),
	DK_DLSYM_ENTRY(archive_read_support_format_tar),
	DK_DLSYM_ENTRY(archive_read_support_format_zip),
	DK_DLSYM_ENTRY(archive_set_error),
	DK_DLSYM_ENTRY(archive_write_add_filter_zstd),
	DK_DLSYM_ENTRY(archive_write_close),
	DK_DLSYM_ENTRY(archive_write_data),
	DK_DLSYM_ENTRY(archive_write_free),
	DK_DLSYM_ENTRY(archive_write_header),
	DK_DLSYM_ENTRY(archive_write_new),
	DK_DLSYM_ENTRY(archive_write_open),
	DK_DLSYM_ENTRY(archive_write_set_bytes_in_last_block),
	DK_DLSYM_ENTRY(archive_write_set_filter_option),
	DK_DLSYM_ENTRY(archive_write_set_format_pax_restricted),
};

static struct dk_dlib archive_lib =
	DK_DLIB_INIT("libarchive.so.13", "DRVKIT_TEST_LIBARCHIVE",
		     "libarchive13 (Debian) / libarchive (RHEL)", archive_syms);

int dk_archive_load(struct dk_error **err)
{
	return dk_dlib_load(&archive_lib, err);
}
