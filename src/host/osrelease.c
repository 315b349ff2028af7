/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/osrelease.h"

int dk_osrelease_unquote(const char *s, size_t n, char **out)
{
	_cleanup_strbuf_ struct strbuf b;
	size_t i = 0;

	strbuf_init(&b);
	strbuf_puts(&b, "");
	while (i < n) {
		char c = s[i++];

		if (c == '\'') {
			const char *end = memchr(s + i, '\'', n - i);

			if (!end)
				return -EBADMSG;
			strbuf_putn(&b, s + i, (size_t)(end - (s + i)));
			i = (size_t)(end - s) + 1;
		} else if (c == '"') {
			for (;;) {
				if (i >= n)
					return -EBADMSG;
				c = s[i++];
				if (c == '"')
					break;
				if (c == '\\' && i < n && strchr("$\"\\`\n", s[i])) {
					c = s[i++];
					if (c == '\n')
						continue; /* line continuation */
				}
				strbuf_putc(&b, c);
			}
		} else if (c == '\\') {
			if (i >= n)
				return -EBADMSG;
			strbuf_putc(&b, s[i++]);
		} else {
			strbuf_putc(&b, c);
		}
	}
	if (b.oom)
		return -ENOMEM;
	*out = strbuf_steal(&b);
	return *out ? 0 : -ENOMEM;
}

static bool word_in(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (p && *p) {
		size_t l;

		p += strspn(p, " \t");
		l = strcspn(p, " \t");
		if (l == wl && strncmp(p, word, l) == 0)
			return true;
		p += l;
	}
	return false;
}

static enum dk_distro_family family_of_word(const char *w)
{
	static const struct {
		const char *id;
		enum dk_distro_family family;
	} table[] = {
		{"debian", DK_FAMILY_DEBIAN},
		{"ubuntu", DK_FAMILY_DEBIAN},
		{"rhel", DK_FAMILY_RHEL},
		{"rhcos", DK_FAMILY_RHEL},
		{"centos", DK_FAMILY_RHEL},
		{"rocky", DK_FAMILY_RHEL},
		{"almalinux", DK_FAMILY_RHEL},
		{"ol", DK_FAMILY_RHEL},
		{"fedora", DK_FAMILY_RHEL},
		{"scos", DK_FAMILY_RHEL},
		{"sles", DK_FAMILY_SUSE},
		{"sled", DK_FAMILY_SUSE},
		{"sle-micro", DK_FAMILY_SUSE},
		{"suse", DK_FAMILY_SUSE},
		{"opensuse", DK_FAMILY_SUSE},
		{"opensuse-leap", DK_FAMILY_SUSE},
		{"opensuse-tumbleweed", DK_FAMILY_SUSE},
		{"amzn", DK_FAMILY_AMZN},
		{"flatcar", DK_FAMILY_FLATCAR},
	};

	for (size_t i = 0; i < ARRAY_SIZE(table); i++)
		if (streq(w, table[i].id))
			return table[i].family;
	return DK_FAMILY_UNKNOWN;
}

enum dk_distro_family dk_distro_family_from(const char *id, const char *id_like)
{
	/* ID decides first: Amazon Linux says ID_LIKE="centos rhel fedora". */
	static const char *const like_order[] = {"debian",   "ubuntu", "rhel",
						 "fedora",   "centos", "suse",
						 "opensuse", "flatcar"};
	enum dk_distro_family f = DK_FAMILY_UNKNOWN;

	if (id)
		f = family_of_word(id);
	if (f != DK_FAMILY_UNKNOWN || !id_like)
		return f;
	for (size_t i = 0; i < ARRAY_SIZE(like_order); i++)
		if (word_in(id_like, like_order[i]))
			return family_of_word(like_order[i]);
	return DK_FAMILY_UNKNOWN;
}

const char *dk_distro_family_name(enum dk_distro_family f)
{
	switch (f) {
	case DK_FAMILY_DEBIAN:
		return "debian";
	case DK_FAMILY_RHEL:
		return "rhel";
	case DK_FAMILY_SUSE:
		return "suse";
	case DK_FAMILY_AMZN:
		return "amzn";
	case DK_FAMILY_FLATCAR:
		return "flatcar";
	case DK_FAMILY_UNKNOWN:
		break;
	}
	return "unknown";
}

/* Leading decimal number of s, -1 when none or out of range; *end past it. */
static int parse_uint(const char *s, const char **end)
{
	long v = 0;
	const char *p = s;

	while (*p >= '0' && *p <= '9') {
		v = v * 10 + (*p - '0');
		if (v > INT_MAX)
			return -1;
		p++;
	}
	*end = p;
	return p == s ? -1 : (int)v;
}

static void split_version(struct dk_osrelease *osr)
{
	const char *p;

	osr->version_major = osr->version_minor = -1;
	if (!osr->version_id)
		return;
	osr->version_major = parse_uint(osr->version_id, &p);
	if (osr->version_major >= 0 && *p == '.')
		osr->version_minor = parse_uint(p + 1, &p);
}

static char **field_for(struct dk_osrelease *osr, const char *key, size_t kl)
{
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{"ID", offsetof(struct dk_osrelease, id)},
		{"ID_LIKE", offsetof(struct dk_osrelease, id_like)},
		{"NAME", offsetof(struct dk_osrelease, name)},
		{"PRETTY_NAME", offsetof(struct dk_osrelease, pretty_name)},
		{"VERSION_ID", offsetof(struct dk_osrelease, version_id)},
		{"VERSION_CODENAME", offsetof(struct dk_osrelease, version_codename)},
		{"VARIANT_ID", offsetof(struct dk_osrelease, variant_id)},
		{"OSTREE_VERSION", offsetof(struct dk_osrelease, ostree_version)},
		{"RHEL_VERSION", offsetof(struct dk_osrelease, rhel_version)},
	};

	for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
		if (strlen(keys[i].key) == kl && strncmp(keys[i].key, key, kl) == 0)
			return (char **)((char *)osr + keys[i].off);
	return NULL;
}

int dk_osrelease_parse(const char *buf, struct dk_osrelease *out)
{
	struct dk_osrelease osr = {0};
	const char *line = buf;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		size_t len = nl ? (size_t)(nl - line) : strlen(line);
		const char *p = line, *end = line + len, *eq;
		char **field;
		char *val = NULL;
		int r;

		line = nl ? nl + 1 : NULL;
		while (p < end && (*p == ' ' || *p == '\t'))
			p++;
		while (end > p && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r'))
			end--;
		if (p == end || *p == '#')
			continue;
		eq = memchr(p, '=', (size_t)(end - p));
		if (!eq)
			continue;
		field = field_for(&osr, p, (size_t)(eq - p));
		if (!field)
			continue;
		r = dk_osrelease_unquote(eq + 1, (size_t)(end - eq - 1), &val);
		if (r == -ENOMEM) {
			dk_osrelease_free(&osr);
			return r;
		}
		if (r < 0)
			continue;
		free(*field);
		*field = val;
	}
	split_version(&osr);
	osr.family = dk_distro_family_from(osr.id, osr.id_like);
	*out = osr;
	return 0;
}

void dk_osrelease_free(struct dk_osrelease *osr)
{
	free(osr->id);
	free(osr->id_like);
	free(osr->name);
	free(osr->pretty_name);
	free(osr->version_id);
	free(osr->version_codename);
	free(osr->variant_id);
	free(osr->ostree_version);
	free(osr->rhel_version);
	memset(osr, 0, sizeof(*osr));
	osr->version_major = osr->version_minor = -1;
}

int dk_osrelease_read_root(const char *root, struct dk_osrelease *out)
{
	static const char *const files[] = {"etc/os-release", "usr/lib/os-release"};

	memset(out, 0, sizeof(*out));
	out->version_major = out->version_minor = -1;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *path = dk_path_join(root ? root : "/", files[i]);
		_cleanup_free_ char *buf = NULL;

		if (!path)
			return -ENOMEM;
		if (dk_read_file(path, 1 << 16, &buf, NULL) < 0)
			continue;
		return dk_osrelease_parse(buf, out);
	}
	return -ENOENT;
}

enum dk_distro_family dk_distro_family_of_root(const char *root)
{
	struct dk_osrelease osr;
	enum dk_distro_family f = DK_FAMILY_UNKNOWN;

	if (dk_osrelease_read_root(root, &osr) == 0)
		f = osr.family;
	dk_osrelease_free(&osr);
	return f;
}

char *dk_distro_headers_pkg(enum dk_distro_family f, const char *kver)
{
	const char *flavor = strrchr(kver, '-');

	switch (f) {
	case DK_FAMILY_DEBIAN:
		return dk_strdup_printf("linux-headers-%s", kver);
	case DK_FAMILY_RHEL:
	case DK_FAMILY_AMZN:
		return dk_strdup_printf("kernel-devel-%s", kver);
	case DK_FAMILY_SUSE:
		if (!flavor)
			return dk_strdup_printf("the kernel-FLAVOR-devel package of %s",
						kver);
		return dk_strdup_printf("kernel-%s-devel-%.*s", flavor + 1,
					(int)(flavor - kver), kver);
	case DK_FAMILY_FLATCAR:
		return dk_strdup_printf("the Flatcar developer container of this release "
					"(it holds the headers of %s)",
					kver);
	case DK_FAMILY_UNKNOWN:
		break;
	}
	return dk_strdup_printf("linux-headers-%s (Debian/Ubuntu), kernel-devel-%s "
				"(RHEL/Fedora/Rocky/Amazon Linux) or kernel-FLAVOR-devel "
				"(SUSE)",
				kver, kver);
}
