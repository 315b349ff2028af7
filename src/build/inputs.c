/* SPDX-License-Identifier: Apache-2.0 */
/* What a component's modules for one kernel are made from, and the cache key over
 * all of it:
 *
 *   alias = sha256(component, spec, source, patches, kernel, arch, signing, the
 *                  manifests of every uses: input)
 *   key   = sha256(alias, the headers' .config and Module.symvers, the compiler)
 *
 * A new OFED changes its manifest, so the key of a peer-memory module that uses it
 * changes and it is rebuilt. The alias is what a node without headers or compiler
 * can compute (to find a precompiled entry). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/tree.h"
#include "host/headers.h"
#include "host/nvidia.h"
#include "host/pci.h"
#include "build/build-internal.h"

static char *sha256_text(const char *s)
{
	char hex[DK_SHA256_HEX_LEN + 1];

	return dk_sha256_buffer(s, strlen(s), hex) == 0 ? strdup(hex) : NULL;
}

static char *sha256_of_file(const char *path)
{
	char hex[DK_SHA256_HEX_LEN + 1];

	return dk_sha256_file(path, hex) == 0 ? strdup(hex) : NULL;
}

char *dk_inputs_what(const struct dk_inputs *in)
{
	return dk_strdup_printf(
		"component %s%s%s%s for kernel %s", in->c->name,
		in->c->version ? " " : "", in->c->version ? in->c->version : "",
		in->flavor ? (streq(in->flavor, "open") ? " (open)" : " (proprietary)")
			   : "",
		in->kernel);
}

/* The flavor and the tree it builds from. */
static int pick_flavor(struct dk_inputs *in, struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;
	const struct dk_config_tree *over = NULL;
	enum dk_nv_flavor want = DK_NV_AUTO, got;

	if (b)
		in->tree = b->tree;
	if (!b || !b->flavor)
		return 0;
	if (dk_nv_flavor_parse(b->flavor, &want) < 0)
		return dk_error_set(err, EINVAL, "unknown flavor %s", b->flavor);
	if (want == DK_NV_AUTO) {
		_cleanup_free_ char *sysfs =
			in->o->sysfs ? strdup(in->o->sysfs)
				     : dk_path_join(in->o->host_root, "sys");
		struct dk_detect_devices devs = {0};

		if (!sysfs || dk_pci_devices_read(sysfs, &devs) < 0) {
			dk_pci_devices_free(&devs);
			return dk_error_set(err, ENOMEM, "out of memory");
		}
		got = dk_nv_flavor_pick(&devs, want, &in->flavor_why);
		dk_pci_devices_free(&devs);
	} else {
		got = dk_nv_flavor_pick(NULL, want, &in->flavor_why);
		free(in->flavor_why);
		in->flavor_why = dk_strdup_printf("%s: set in the config", b->flavor);
	}
	in->flavor = strdup(dk_nv_flavor_name(got));
	if (!in->flavor)
		return dk_error_set(err, ENOMEM, "out of memory");
	over = got == DK_NV_OPEN ? b->open : b->proprietary;
	if (over) {
		if (over->src || over->url) {
			in->tree.src = over->src;
			in->tree.url = over->url;
			in->tree.sha256 = over->sha256;
			in->tree.member = over->member;
		}
		if (over->subdir)
			in->tree.subdir = over->subdir;
	}
	if (!in->tree.src && !in->tree.url)
		return dk_error_set(err, EINVAL,
				    "component %s: flavor %s has no source (give "
				    "build.%s.url or build.src)",
				    in->c->name, in->flavor, in->flavor);
	return 0;
}

static int source_digests(struct dk_inputs *in, struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;
	char hex[DK_SHA256_HEX_LEN + 1];
	int r;

	if (!b)
		return 0;
	if (in->tree.url) {
		in->source_sha256 = strdup(in->tree.sha256);
	} else {
		r = dk_tree_digest(in->tree.src, hex, err);
		if (r < 0)
			return dk_error_wrap(err, "component %s: source", in->c->name);
		in->source_sha256 = strdup(hex);
	}
	in->patch_sha256 = calloc(b->n_patches + 1, sizeof(char *));
	if (!in->source_sha256 || !in->patch_sha256)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < b->n_patches; i++) {
		r = dk_sha256_file(b->patches[i], hex);
		if (r < 0)
			return dk_error_set(err, -r, "component %s: patch %s: %s",
					    in->c->name, b->patches[i], strerror(-r));
		if (!(in->patch_sha256[i] = strdup(hex)))
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static void put_list(struct strbuf *s, const char *name, char *const *v, size_t n)
{
	strbuf_printf(s, "%s %zu\n", name, n);
	for (size_t i = 0; i < n; i++)
		strbuf_printf(s, " %s\n", v[i]);
}

/* The spec as canonical text: what changes the modules, and nothing else (the
 * modules: list and params only matter for loading). */
static int spec_digest(struct dk_inputs *in, struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;
	const struct dk_config_tree *t = &in->tree;
	_cleanup_free_ char *text = NULL;
	struct strbuf s;

	strbuf_init(&s);
	strbuf_printf(&s, "drvkit-spec 1\ncomponent %s\nversion %s\nflavor %s\n",
		      in->c->name, in->c->version ? in->c->version : "",
		      in->flavor ? in->flavor : "");
	if (b) {
		/* Not the URL: the sha256 pins the content wherever it is downloaded
		 * from (a mirror, a loopback server in a test). */
		strbuf_printf(&s, "member %s\nsubdir %s\n", t->member ? t->member : "",
			      t->subdir ? t->subdir : "");
		if (b->configure) /* only when set: keys of builds without it unchanged */
			put_list(&s, "configure", b->configure, b->n_configure);
		put_list(&s, "make", b->make, b->n_make);
		put_list(&s, "env", b->env, b->n_env);
		put_list(&s, "uses", b->uses, b->n_uses);
		if (b->n_uses_paths) /* only when set: keys without it unchanged */
			put_list(&s, "uses_paths", b->uses_paths, b->n_uses_paths);
		put_list(&s, "exports", b->exports, b->n_exports);
		strbuf_printf(&s, "allow_compiler_mismatch %d\n",
			      b->allow_compiler_mismatch);
	}
	text = strbuf_steal(&s);
	in->spec_sha256 = text ? sha256_text(text) : NULL;
	return in->spec_sha256 ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

static int signing_digest(struct dk_inputs *in, struct dk_error **err)
{
	const struct dk_config_signing *sg = in->o->cfg->signing;
	_cleanup_free_ char *cert = NULL, *text = NULL;

	if (!sg)
		return 0;
	cert = sha256_of_file(sg->cert);
	if (!cert)
		return dk_error_set(err, EIO, "signing.cert %s: cannot be read",
				    sg->cert);
	text = dk_strdup_printf("%s %s", cert, sg->hash ? sg->hash : "sha256");
	in->signing_sha256 = text ? sha256_text(text) : NULL;
	return in->signing_sha256 ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

/* The headers and the compiler: both are part of the key, and a build needs them.
 * Missing ones are no error here: the key stays NULL and the build step says what
 * is missing. */
static int find_toolchain(struct dk_inputs *in, struct dk_error **err)
{
	_cleanup_headers_info_ struct dk_headers_info *hi = NULL;
	struct dk_preflight_opts po = {
		.procfs = in->o->procfs,
		.allow_compiler_mismatch =
			in->c->build && in->c->build->allow_compiler_mismatch,
	};
	_cleanup_free_ char *cfgp = NULL, *symp = NULL;
	struct dk_error *e = NULL;
	int r;

	if (in->o->headers) {
		in->build_dir = strdup(in->o->headers);
	} else {
		r = dk_headers_scan(in->o->host_root, in->kernel, NULL, DK_HEADERS_ALL,
				    &hi, &e);
		if (r < 0) {
			in->headers_why = strdup(e ? e->msg : "cannot look for headers");
			dk_error_free(&e);
		} else if (hi->build_dir) {
			in->build_dir = strdup(hi->build_dir);
		} else {
			in->headers_why = dk_headers_explain(hi);
		}
	}
	if (!in->build_dir)
		return in->headers_why || !in->o->headers
			       ? 0
			       : dk_error_set(err, ENOMEM, "out of memory");
	cfgp = dk_path_join(in->build_dir, ".config");
	symp = dk_path_join(in->build_dir, "Module.symvers");
	if (!cfgp || !symp)
		return dk_error_set(err, ENOMEM, "out of memory");
	in->kconfig_sha256 = sha256_of_file(cfgp);
	in->ksymvers_sha256 = sha256_of_file(symp);
	r = dk_preflight_check(in->build_dir, in->o->path_env, &po, &in->pf);
	if (r < 0)
		return dk_error_set(err, -r, "preflight of %s: %s", in->build_dir,
				    strerror(-r));
	if (in->pf.cc.path && in->pf.cc.version)
		in->compiler =
			dk_strdup_printf("%s (%s)", in->pf.cc.version, in->pf.cc.path);
	return 0;
}

/* A provider built elsewhere (uses: { path: DIR }) counts by content: the sha256 of
 * DIR/Module.symvers and the digest of DIR/include ("-" when there is none). Without
 * Module.symvers nothing can be built against it: -ENOENT saying what shares it. */
static int uses_path_digests(struct dk_inputs *in, struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;

	if (!b || !b->n_uses_paths)
		return 0;
	in->uses_path_sha256 = calloc(b->n_uses_paths + 1, sizeof(char *));
	if (!in->uses_path_sha256)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < b->n_uses_paths; i++) {
		const char *dir = b->uses_paths[i];
		_cleanup_free_ char *sym = dk_path_join(dir, "Module.symvers");
		_cleanup_free_ char *inc = dk_path_join(dir, "include");
		char hs[DK_SHA256_HEX_LEN + 1], hi[65] = "-";
		int r;

		if (!sym || !inc)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = dk_sha256_file(sym, hs);
		if (r < 0) {
			dk_error_set(err, -r,
				     "component %s: uses: %s: cannot read %s: %s",
				     in->c->name, dir, sym, strerror(-r));
			return dk_error_set_hint(
				err,
				"a provider built elsewhere needs Module.symvers and "
				"include/ there: start the container that shares them "
				"(share_headers: in its drvkit config) first, or mount "
				"its directory into this container");
		}
		if (dk_is_dir(inc) && (r = dk_tree_digest(inc, hi, err)) < 0)
			return dk_error_wrap(err, "component %s: uses: %s", in->c->name,
					     dir);
		in->uses_path_sha256[i] = dk_strdup_printf("%s %s %s", dir, hs, hi);
		if (!in->uses_path_sha256[i])
			return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}

static int compute_keys(struct dk_inputs *in, struct dk_error **err)
{
	_cleanup_free_ char *a = NULL, *k = NULL;
	struct strbuf s;

	strbuf_init(&s);
	strbuf_printf(&s, "drvkit-alias 1\ncomponent %s\nspec %s\nsource %s\n",
		      in->c->name, in->spec_sha256,
		      in->source_sha256 ? in->source_sha256 : "");
	put_list(&s, "patches", in->patch_sha256,
		 in->c->build ? in->c->build->n_patches : 0);
	strbuf_printf(&s, "kernel %s\narch %s\nsigning %s\n", in->kernel, in->arch,
		      in->signing_sha256 ? in->signing_sha256 : "");
	for (size_t i = 0; i < in->n_uses; i++)
		strbuf_printf(&s, "uses %s %s\n", in->uses[i]->c->name,
			      in->uses[i]->manifest_sha256);
	for (size_t i = 0; in->uses_path_sha256 && in->uses_path_sha256[i]; i++)
		strbuf_printf(&s, "uses-path %s\n", in->uses_path_sha256[i]);
	a = strbuf_steal(&s);
	in->alias = a ? sha256_text(a) : NULL;
	if (!in->alias)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* The compiler counts by version, not by path: gcc-12 and gcc of the same
	 * version make the same modules. */
	if (!in->kconfig_sha256 || !in->ksymvers_sha256 || !in->pf.cc.version)
		return 0;
	k = dk_strdup_printf("drvkit-key 1\nalias %s\nconfig %s\nsymvers %s\ncc %s\n",
			     in->alias, in->kconfig_sha256, in->ksymvers_sha256,
			     in->pf.cc.version);
	in->key = k ? sha256_text(k) : NULL;
	return in->key ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

int dk_inputs_init(struct dk_inputs *in, const struct dk_build_opts *o,
		   const struct dk_config_component *c, struct dk_got *const *uses,
		   size_t n_uses, struct dk_error **err)
{
	struct utsname u;
	int r;

	memset(in, 0, sizeof(*in));
	in->o = o;
	in->c = c;
	in->cache = o->cache_dir ? o->cache_dir : o->cfg->cache_dir;
	in->kernel = o->kernel;
	in->uses = uses;
	in->n_uses = n_uses;
	in->arch = strdup(uname(&u) == 0 ? u.machine : "unknown");
	if (!in->arch)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = pick_flavor(in, err);
	if (r >= 0)
		r = source_digests(in, err);
	if (r >= 0)
		r = spec_digest(in, err);
	if (r >= 0)
		r = signing_digest(in, err);
	if (r >= 0)
		r = find_toolchain(in, err);
	if (r >= 0)
		r = uses_path_digests(in, err);
	if (r >= 0)
		r = compute_keys(in, err);
	return r;
}

void dk_inputs_release(struct dk_inputs *in)
{
	free(in->flavor);
	free(in->flavor_why);
	free(in->source_sha256);
	for (size_t i = 0; in->patch_sha256 && in->patch_sha256[i]; i++)
		free(in->patch_sha256[i]);
	free(in->patch_sha256);
	free(in->spec_sha256);
	free(in->signing_sha256);
	free(in->arch);
	free(in->build_dir);
	free(in->headers_why);
	free(in->kconfig_sha256);
	free(in->ksymvers_sha256);
	dk_preflight_release(&in->pf);
	free(in->compiler);
	free(in->key);
	free(in->alias);
	for (size_t i = 0; in->uses_path_sha256 && in->uses_path_sha256[i]; i++)
		free(in->uses_path_sha256[i]);
	free(in->uses_path_sha256);
}
