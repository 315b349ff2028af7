/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/rootfs.h"
#include "host/gcc.h"
#include "host/headers.h"
#include "host/osrelease.h"
#include "host/kconfig.h"
#include "host/kparse.h"

char *dk_suse_headers_path(const char *kver, const char *arch)
{
	const char *dash = strrchr(kver, '-');
	struct strbuf b;

	if (!dash || dash == kver || !dash[1] || !arch)
		return NULL;
	/* The flavour is a word (default, azure, rt), not the numeric release part. */
	for (const char *p = dash + 1; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || *p == '_'))
			return NULL;
	strbuf_init(&b);
	strbuf_printf(&b, "/usr/src/linux-%.*s-obj/%s/%s", (int)(dash - kver), kver, arch,
		      dash + 1);
	return strbuf_steal(&b);
}

/* Why c, an existing directory, is not a usable tree for kver (read_err: reading
 * its utsrelease.h failed). NULL on OOM. */
static char *tree_problem(const struct dk_headers_candidate *c, int read_err,
			  const char *kver)
{
	if (read_err < 0)
		return dk_strdup_printf("cannot read include/generated/utsrelease.h: %s",
					strerror(-read_err));
	if (!c->uts_release)
		return strdup("include/generated/utsrelease.h has no UTS_RELEASE");
	if (!streq(c->uts_release, kver))
		return dk_strdup_printf("UTS_RELEASE is '%s', not '%s'", c->uts_release,
					kver);
	if (!c->has_config)
		return strdup("no .config");
	if (!c->has_symvers)
		return strdup("no Module.symvers");
	return NULL;
}

int dk_headers_probe(const char *root, const char *kind, const char *where,
		     const char *kver, struct dk_headers_candidate *c)
{
	_cleanup_free_ char *uts = NULL, *cfg = NULL, *sym = NULL, *text = NULL;
	struct stat st;
	int r;

	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->where = strdup(where);
	if (!c->where)
		return -ENOMEM;
	r = dk_root_resolve(root, where, &c->path);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		c->path = dk_path_join(root, where);
		c->reason = dk_strdup_printf("cannot resolve its symlinks inside %s: %s",
					     root ? root : "/", strerror(-r));
	} else if (stat(c->path, &st) < 0) {
		c->reason = strdup(errno == ENOENT ? "does not exist" : strerror(errno));
	} else if (!S_ISDIR(st.st_mode)) {
		c->reason = strdup("not a directory");
	} else {
		c->exists = true;
		uts = dk_path_join(c->path, "include/generated/utsrelease.h");
		cfg = dk_path_join(c->path, ".config");
		sym = dk_path_join(c->path, "Module.symvers");
		if (!uts || !cfg || !sym)
			return -ENOMEM;
		c->has_config = dk_path_exists(cfg);
		c->has_symvers = dk_path_exists(sym);
		r = dk_read_file(uts, 4096, &text, NULL);
		if (r == 0 && dk_utsrelease_parse(text, &c->uts_release) == -ENOMEM)
			return -ENOMEM;
		if (r == -ENOMEM)
			return r;
		c->usable = c->uts_release && streq(c->uts_release, kver) &&
			    c->has_config && c->has_symvers;
		if (c->usable)
			return 0;
		c->reason = tree_problem(c, r, kver);
	}
	return c->path && c->reason ? 0 : -ENOMEM;
}

void dk_headers_candidate_clear(struct dk_headers_candidate *c)
{
	free(c->where);
	free(c->path);
	free(c->uts_release);
	free(c->reason);
	memset(c, 0, sizeof(*c));
}

/* Relative path of place for kver; NULL (and *oom false) when the place does not
 * apply to it. */
static char *place_where(enum dk_headers_place place, const char *kver, const char *arch,
			 bool *oom)
{
	char *w = NULL;

	switch (place) {
	case DK_HEADERS_BUILD:
		w = dk_strdup_printf("lib/modules/%s/build", kver);
		break;
	case DK_HEADERS_DEBIAN:
		w = dk_strdup_printf("usr/src/linux-headers-%s", kver);
		break;
	case DK_HEADERS_RHEL:
		w = dk_strdup_printf("usr/src/kernels/%s", kver);
		break;
	case DK_HEADERS_SUSE: {
		_cleanup_free_ char *abs = dk_suse_headers_path(kver, arch);

		if (!abs)
			return NULL; /* no flavour suffix: not a SUSE release */
		w = strdup(abs + 1);
		break;
	}
	case DK_HEADERS_ALL:
		break;
	}
	*oom = !w;
	return w;
}

static const char *place_kind(enum dk_headers_place place)
{
	switch (place) {
	case DK_HEADERS_BUILD:
		return "build";
	case DK_HEADERS_DEBIAN:
		return "debian";
	case DK_HEADERS_RHEL:
		return "rhel";
	case DK_HEADERS_SUSE:
		return "suse";
	case DK_HEADERS_ALL:
		break;
	}
	return "?";
}

int dk_headers_scan(const char *root, const char *kver, const char *arch, unsigned places,
		    struct dk_headers_info **out, struct dk_error **err)
{
	_cleanup_headers_info_ struct dk_headers_info *info = NULL;
	struct utsname u;

	if (!kver || !*kver || strchr(kver, '/') || streq(kver, "..") || streq(kver, "."))
		return dk_error_set(err, EINVAL, "bad kernel release '%s'",
				    kver ? kver : "");
	if (!arch && uname(&u) == 0)
		arch = u.machine;
	info = calloc(1, sizeof(*info));
	if (!info)
		return dk_error_set(err, ENOMEM, "out of memory");
	info->kver = strdup(kver);
	info->root = strdup(root ? root : "/");
	if (!info->kver || !info->root)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (unsigned place = 1; place & DK_HEADERS_ALL; place <<= 1) {
		_cleanup_free_ char *where = NULL;
		struct dk_headers_candidate *n, *c;
		bool oom = false;

		if (!(places & place))
			continue;
		where = place_where(place, kver, arch, &oom);
		if (oom)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (!where)
			continue;
		n = realloc(info->cands, (info->n_cands + 1) * sizeof(*n));
		if (!n)
			return dk_error_set(err, ENOMEM, "out of memory");
		info->cands = n;
		c = &info->cands[info->n_cands++];
		if (dk_headers_probe(root, place_kind(place), where, kver, c) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
		if (c->usable && !info->build_dir) {
			info->build_dir = strdup(c->path);
			if (!info->build_dir)
				return dk_error_set(err, ENOMEM, "out of memory");
		}
	}
	*out = TAKE_PTR(info);
	return 0;
}

int dk_headers_find(const char *root, const char *kver, struct dk_headers_info **out,
		    struct dk_error **err)
{
	int r = dk_headers_scan(root, kver, NULL, DK_HEADERS_ALL, out, err);

	if (r == 0 && (*out)->build_dir)
		dk_headers_find_compiler(*out, NULL);
	return r;
}

/* Whether an earlier candidate than i was the same directory. */
static bool seen_before(const struct dk_headers_info *info, size_t i)
{
	for (size_t j = 0; j < i; j++)
		if (info->cands[j].exists &&
		    streq(info->cands[j].path, info->cands[i].path))
			return true;
	return false;
}

char *dk_headers_explain(const struct dk_headers_info *info)
{
	_cleanup_strbuf_ struct strbuf b;
	bool no_config = false, no_symvers = false, other_kernel = false;
	const char *suse = NULL;
	enum dk_distro_family family;

	strbuf_init(&b);
	strbuf_puts(&b, "looked in ");
	for (size_t i = 0; i < info->n_cands; i++) {
		const struct dk_headers_candidate *c = &info->cands[i];
		_cleanup_free_ char *shown = dk_path_join(info->root, c->where);

		if (streq(c->kind, "suse"))
			suse = c->where;
		strbuf_printf(&b, "%s%s", i ? ", " : "", shown ? shown : c->where);
		if (c->exists && shown && !streq(shown, c->path))
			strbuf_printf(&b, " -> %s", c->path);
		if (c->exists && seen_before(info, i))
			strbuf_puts(&b, " (the same tree)");
		else if (c->exists && c->reason)
			strbuf_printf(&b, " (exists, but rejected: %s)", c->reason);
		else if (c->reason && !streq(c->reason, "does not exist"))
			strbuf_printf(&b, " (%s)", c->reason);
		if (!c->exists || !c->uts_release)
			continue;
		if (!streq(c->uts_release, info->kver)) {
			other_kernel = true;
			continue;
		}
		no_config = no_config || !c->has_config;
		no_symvers = no_symvers || !c->has_symvers;
	}
	/* The host's distribution names its package; unknown: every family's. */
	family = dk_distro_family_of_root(info->root);
	if (family != DK_FAMILY_UNKNOWN) {
		_cleanup_free_ char *pkg = dk_distro_headers_pkg(family, info->kver);

		strbuf_printf(&b, "; install %s",
			      pkg ? pkg : "the kernel headers package");
	} else {
		strbuf_printf(
			&b,
			"; install linux-headers-%s (Debian/Ubuntu), kernel-devel-%s "
			"(RHEL/Fedora/Rocky/Amazon Linux)",
			info->kver, info->kver);
		if (suse)
			strbuf_printf(&b, " or kernel-%s-devel (SUSE)",
				      strrchr(suse, '/') + 1);
	}
	strbuf_puts(&b, " for exactly this release");
	if (no_config || no_symvers)
		strbuf_printf(
			&b,
			"; a tree without %s%s%s is incomplete: reinstall its package",
			no_config ? ".config" : "",
			no_config && no_symvers ? " and " : "",
			no_symvers ? "Module.symvers" : "");
	if (other_kernel)
		strbuf_puts(&b,
			    "; a tree whose UTS_RELEASE differs is another kernel's (a "
			    "stale build link or a different package version)");
	return strbuf_steal(&b);
}

/* ---- compiler ---- */

void dk_headers_find_compiler(struct dk_headers_info *info, const char *path_env)
{
	_cleanup_free_ char *cfg_path = NULL, *config = NULL;
	const struct dk_gcc *gcc;
	struct dk_gcc *gccs = NULL;
	size_t n_gccs = 0;
	long major, minor, patch;

	if (!info->build_dir)
		return;
	if (!path_env)
		path_env = getenv("PATH");
	if (!path_env)
		path_env = "/usr/local/bin:/usr/bin:/bin";
	cfg_path = dk_path_join(info->build_dir, ".config");
	if (!cfg_path || dk_read_file(cfg_path, 0, &config, NULL) < 0)
		return;
	if (dk_kconfig_get(config, "CC_VERSION_TEXT", &info->cc_version_text) < 0)
		info->cc_version_text = NULL; /* absent (clang) or OOM: unknown */
	if (dk_gcc_kconfig_version(config, &info->gcc_version) < 0)
		info->gcc_version = 0;
	if (info->gcc_version <= 0)
		return; /* built with clang, or no .config value: nothing to match */
	major = info->gcc_version / 10000;
	minor = info->gcc_version / 100 % 100;
	patch = info->gcc_version % 100;
	if (dk_gcc_find(path_env, &gccs, &n_gccs) < 0)
		return;
	gcc = dk_gcc_pick(gccs, n_gccs, major);
	if (gcc) {
		info->gcc_path = strdup(gcc->path);
		info->gcc_found = gcc->version ? strdup(gcc->version) : NULL;
	}
	dk_gcc_list_free(gccs, n_gccs);
	if (info->gcc_found) {
		long a = -1, b = -1, c = -1;

		if (sscanf(info->gcc_found, "%ld.%ld.%ld", &a, &b, &c) >= 1) {
			info->gcc_same_major = a == major;
			info->gcc_exact = a == major && b == minor && c == patch;
		}
	}
}

void dk_headers_info_free(struct dk_headers_info *info)
{
	if (!info)
		return;
	for (size_t i = 0; i < info->n_cands; i++)
		dk_headers_candidate_clear(&info->cands[i]);
	free(info->cands);
	free(info->kver);
	free(info->root);
	free(info->build_dir);
	free(info->cc_version_text);
	free(info->gcc_path);
	free(info->gcc_found);
	free(info);
}

/* ---- materialise ---- */
