/* SPDX-License-Identifier: Apache-2.0 */
/* os-release parsing: quoting, version split, family, one fixture per distro. */
#include <errno.h>
#include <stdlib.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "host/osrelease.h"

#include "tap.h"

static void unquote(const char *in, const char *want, const char *desc)
{
	_cleanup_free_ char *out = NULL;
	int r = dk_osrelease_unquote(in, strlen(in), &out);

	is_int(r, 0, "unquote %s: returns 0", desc);
	is_str(out, want, "unquote %s", desc);
}

static void test_quoting(void)
{
	_cleanup_free_ char *out = NULL;

	unquote("plain", "plain", "bare word");
	unquote("'single $x \\n'", "single $x \\n", "single quotes are literal");
	unquote("\"a \\\"b\\\" \\$c \\\\ \\`d\\`\"", "a \"b\" $c \\ `d`",
		"double quotes with escapes");
	unquote("\"keep \\n backslash\"", "keep \\n backslash",
		"double quotes keep other backslashes");
	unquote("a\\ b", "a b", "backslash outside quotes");
	unquote("'416.94'-\"x y\"z", "416.94-x yz", "segments concatenate");
	unquote("\"\"", "", "empty double quotes");
	unquote("", "", "empty value");
	is_int(dk_osrelease_unquote("\"open", 5, &out), -EBADMSG,
	       "unterminated \" fails");
	is_int(dk_osrelease_unquote("'open", 5, &out), -EBADMSG, "unterminated ' fails");
	is_int(dk_osrelease_unquote("x\\", 2, &out), -EBADMSG,
	       "trailing backslash fails");
	ok(out == NULL, "failure leaves output unset");
}

static void test_parse_edge(void)
{
	struct dk_osrelease o;
	const char *buf = "# comment\n"
			  "  \n"
			  "ID=first\n"
			  "NAME=\"broken\n"
			  "ID=\"second\"  \r\n"
			  "VERSION_ID=7\n"
			  "GARBAGE LINE\n"
			  "PRETTY_NAME='It''s'\n"
			  "ID_LIKE=\"suse opensuse\"";

	is_int(dk_osrelease_parse(buf, &o), 0, "parse edge cases");
	is_str(o.id, "second", "later key wins, quotes and trailing space/CR removed");
	ok(o.name == NULL, "unterminated quote line is skipped");
	is_int(o.version_major, 7, "VERSION_ID=7 major");
	is_int(o.version_minor, -1, "VERSION_ID=7 has no minor");
	is_str(o.pretty_name, "Its", "adjacent single-quoted segments");
	is_str(o.id_like, "suse opensuse", "last line without newline");
	is_int(o.family, DK_FAMILY_SUSE, "family from ID_LIKE when ID is unknown");
	dk_osrelease_free(&o);

	is_int(dk_osrelease_parse("", &o), 0, "empty buffer parses");
	ok(o.id == NULL && o.version_major == -1, "empty buffer: nothing known");
	is_int(o.family, DK_FAMILY_UNKNOWN, "empty buffer: family unknown");
	dk_osrelease_free(&o);

	is_int(dk_distro_family_from("amzn", "centos rhel fedora"), DK_FAMILY_AMZN,
	       "ID decides before ID_LIKE (amzn)");
	is_int(dk_distro_family_from("pop", "ubuntu debian"), DK_FAMILY_DEBIAN,
	       "derivative via ID_LIKE");
	is_int(dk_distro_family_from("almalinux", NULL), DK_FAMILY_RHEL, "almalinux");
	is_int(dk_distro_family_from("gentoo", NULL), DK_FAMILY_UNKNOWN,
	       "gentoo unknown");
	is_str(dk_distro_family_name(DK_FAMILY_FLATCAR), "flatcar", "family name");
}

struct distro {
	const char *dir, *id, *version_id;
	int major, minor;
	const char *codename, *family, *variant, *ostree, *rhel;
};

static const struct distro distros[] = {
	{"os-ubuntu-20.04", "ubuntu", "20.04", 20, 4, "focal", "debian", NULL, NULL,
	 NULL},
	{"os-ubuntu-22.04", "ubuntu", "22.04", 22, 4, "jammy", "debian", NULL, NULL,
	 NULL},
	{"os-ubuntu-24.04", "ubuntu", "24.04", 24, 4, "noble", "debian", NULL, NULL,
	 NULL},
	{"os-debian-12", "debian", "12", 12, -1, "bookworm", "debian", NULL, NULL, NULL},
	{"os-rhel-8.10", "rhel", "8.10", 8, 10, NULL, "rhel", NULL, NULL, NULL},
	{"os-rhel-9.4", "rhel", "9.4", 9, 4, NULL, "rhel", NULL, NULL, NULL},
	{"os-rhcos-4.16", "rhcos", "4.16", 4, 16, NULL, "rhel", "coreos",
	 "416.94.202407030122-0", "9.4"},
	{"os-rocky-9", "rocky", "9.4", 9, 4, NULL, "rhel", NULL, NULL, NULL},
	{"os-sles-15.5", "sles", "15.5", 15, 5, NULL, "suse", NULL, NULL, NULL},
	{"os-amzn-2023", "amzn", "2023", 2023, -1, NULL, "amzn", NULL, NULL, NULL},
	{"os-flatcar", "flatcar", "3815.2.5", 3815, 2, NULL, "flatcar", NULL, NULL, NULL},
};

static void test_distros(const char *fixtures)
{
	for (size_t i = 0; i < ARRAY_SIZE(distros); i++) {
		const struct distro *t = &distros[i];
		_cleanup_free_ char *dir = dk_path_join(fixtures, "detect");
		_cleanup_free_ char *root = dk_path_join(dir, t->dir);
		/* Ubuntu 24.04's etc/os-release is a symlink: read the real file. */
		_cleanup_free_ char *path = dk_path_join(root, "usr/lib/os-release");
		_cleanup_free_ char *buf = NULL;
		struct dk_osrelease o;

		if (!dk_path_exists(path)) {
			free(path);
			path = dk_path_join(root, "etc/os-release");
		}
		if (dk_read_file(path, 0, &buf, NULL) < 0) {
			ok(0, "%s: read %s", t->dir, path);
			continue;
		}
		is_int(dk_osrelease_parse(buf, &o), 0, "%s: parses", t->dir);
		is_str(o.id, t->id, "%s: ID", t->dir);
		is_str(o.version_id, t->version_id, "%s: VERSION_ID", t->dir);
		is_int(o.version_major, t->major, "%s: major", t->dir);
		is_int(o.version_minor, t->minor, "%s: minor", t->dir);
		is_str(o.version_codename, t->codename, "%s: VERSION_CODENAME", t->dir);
		is_str(dk_distro_family_name(o.family), t->family, "%s: family", t->dir);
		is_str(o.variant_id, t->variant, "%s: VARIANT_ID", t->dir);
		is_str(o.ostree_version, t->ostree, "%s: OSTREE_VERSION", t->dir);
		is_str(o.rhel_version, t->rhel, "%s: RHEL_VERSION", t->dir);
		ok(o.pretty_name && o.pretty_name[0] && !strchr(o.pretty_name, '"'),
		   "%s: PRETTY_NAME unquoted (%s)", t->dir, o.pretty_name);
		dk_osrelease_free(&o);
	}
}

int main(void)
{
	const char *fixtures = getenv("DK_FIXTURES");

	test_quoting();
	test_parse_edge();
	if (fixtures)
		test_distros(fixtures);
	else
		skip("DK_FIXTURES not set");
	return tap_done();
}
