/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stddef.h>

#include "shared/macro.h"

/* The distribution families driver images are built for. */
enum dk_distro_family {
	DK_FAMILY_UNKNOWN,
	DK_FAMILY_DEBIAN,
	DK_FAMILY_RHEL,
	DK_FAMILY_SUSE,
	DK_FAMILY_AMZN,
	DK_FAMILY_FLATCAR,
};

/* The fields of os-release(5) that driver images key on. Strings are NULL when
 * the key is absent; version_major/minor are -1 when VERSION_ID is absent or
 * has no such part. */
struct dk_osrelease {
	char *id;
	char *id_like;
	char *name;
	char *pretty_name;
	char *version_id;
	char *version_codename;
	char *variant_id;
	char *ostree_version; /* RHCOS, e.g. 416.94.202407030122-0 */
	char *rhel_version;   /* RHCOS, e.g. 9.4 */
	int version_major;
	int version_minor;
	enum dk_distro_family family;
};

/* Parses os-release text (KEY=VALUE lines, shell-style quoting). Lines that do
 * not parse are skipped; later keys override earlier ones. Returns 0, -ENOMEM. */
int dk_osrelease_parse(const char *buf, struct dk_osrelease *out) _must_check_;
void dk_osrelease_free(struct dk_osrelease *osr);

/* Shell-style unquoting of one os-release value: '...' literal, "..." with
 * backslash escaping of $ " \ `, unquoted text with backslash escaping any
 * character; segments concatenate. Returns 0, -EBADMSG (unterminated quote or
 * trailing backslash), -ENOMEM. */
int dk_osrelease_unquote(const char *s, size_t n, char **out) _must_check_;

/* Family from ID, then from the words of ID_LIKE. Either may be NULL. */
enum dk_distro_family dk_distro_family_from(const char *id, const char *id_like);
const char *dk_distro_family_name(enum dk_distro_family f);

/* The os-release of a root (NULL: "/"): etc/os-release, else usr/lib/os-release.
 * Returns 0, -ENOENT when neither is readable, -ENOMEM. */
int dk_osrelease_read_root(const char *root, struct dk_osrelease *out) _must_check_;
/* The family of a root's os-release; UNKNOWN when it has none. */
enum dk_distro_family dk_distro_family_of_root(const char *root);
/* What to install for the kernel headers of kver, for this family only:
 * "linux-headers-KVER" (Debian, Ubuntu), "kernel-devel-KVER" (RHEL, Fedora, Rocky,
 * Amazon Linux), "kernel-FLAVOR-devel-VERSION" (SUSE), the developer container
 * (Flatcar); every family's, each named, when unknown. NULL on OOM. */
char *dk_distro_headers_pkg(enum dk_distro_family f, const char *kver) _must_check_;
