/* SPDX-License-Identifier: Apache-2.0 */
/* A precompiled package (drvkit build --package): downloaded and unpacked in one
 * pass, then trusted module by module: the manifest's sha256 of every module, and
 * with precompiled.cert the signature of each. Only then does it become a cache
 * entry. The package itself has no pinned digest (one URL template serves every
 * kernel); the manifest and the signatures are what make it trustworthy. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/x509.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "base/tree.h"
#include "get/fetch-extract.h"
#include "host/osrelease.h"
#include "kmod/sign.h"
#include "build/build-internal.h"

static int os_facts(const struct dk_inputs *in, char **id, char **version)
{
	_cleanup_free_ char *path = dk_path_join(in->o->host_root, "etc/os-release");
	_cleanup_free_ char *data = NULL;
	struct dk_osrelease osr = {0};

	if (!path)
		return -ENOMEM;
	if (dk_read_file(path, 1 << 16, &data, NULL) == 0 &&
	    dk_osrelease_parse(data, &osr) == 0) {
		*id = osr.id ? strdup(osr.id) : NULL;
		*version = osr.version_id ? strdup(osr.version_id) : NULL;
	}
	dk_osrelease_free(&osr);
	if (!*id)
		*id = strdup("unknown");
	if (!*version)
		*version = strdup("unknown");
	return *id && *version ? 0 : -ENOMEM;
}

/* The URL for this kernel: {kernel} {component} {version} {arch} {os} {os_version}. */
int dk_precompiled_url(const struct dk_inputs *in, char **url, struct dk_error **err)
{
	static const char *const names[] = {"kernel", "component", "version",
					    "arch",   "os",	   "os_version"};
	_cleanup_free_ char *os = NULL, *osv = NULL;
	const char *bad = NULL;

	if (os_facts(in, &os, &osv) < 0)
		return dk_error_set(err, ENOMEM, "out of memory");
	const char *values[] = {in->kernel, in->c->name, in->c->version,
				in->arch,   os,		 osv};

	*url = dk_expand_placeholders(in->c->precompiled->url, names, values,
				      ARRAY_SIZE(names), true, &bad);
	if (bad && strncmp(bad, "{version}", 9) == 0)
		return dk_error_set(
			err, EINVAL,
			"component %s: precompiled.url uses {version}: set the "
			"component's version: in %s",
			in->c->name, in->o->cfg->path);
	if (bad)
		return dk_error_set(
			err, EINVAL,
			"component %s: precompiled.url: unknown placeholder at "
			"'%.24s' in %s (known: {kernel} {component} {version} "
			"{arch} {os} {os_version})",
			in->c->name, bad, in->o->cfg->path);
	return *url ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

/* Is the unpacked component dir what we asked for, and intact? */
static int trust(const struct dk_inputs *in, const char *dir, const char *url,
		 struct dk_manifest **out, struct dk_error **err)
{
	_cleanup_manifest_ struct dk_manifest *m = NULL;
	_cleanup_(dk_X509_freep) X509 *cert = NULL;
	int r = dk_manifest_read(dir, &m, NULL, err);

	if (r < 0)
		return r;
	if (!streq(m->component, in->c->name) || !streq(m->kernel, in->kernel))
		return dk_error_set(err, EBADMSG, "%s holds %s for kernel %s", url,
				    m->component, m->kernel);
	if (in->c->version && m->version && !streq(in->c->version, m->version))
		return dk_error_set(err, EBADMSG, "%s holds %s version %s, not %s", url,
				    m->component, m->version, in->c->version);
	r = dk_manifest_verify(m, dir, err);
	if (r < 0)
		return dk_error_wrap(err, "%s", url);
	if (in->c->precompiled->cert) {
		r = dk_cert_load(in->c->precompiled->cert, &cert, err);
		for (size_t i = 0; r >= 0 && i < m->n_modules; i++) {
			_cleanup_free_ char *p = dk_path_join(dir, m->modules[i].file);
			struct dk_verify_result vr = {0};

			r = p ? dk_verify_file(cert, p, &vr, err) : -ENOMEM;
			if (r >= 0 && vr.verdict != DK_VERIFY_OK)
				r = dk_error_set(
					err, EKEYREJECTED,
					"%s: module %s does not verify against %s: %s",
					url, m->modules[i].file, in->c->precompiled->cert,
					dk_verify_verdict_name(vr.verdict));
			dk_verify_result_clear(&vr);
		}
	}
	if (r >= 0)
		*out = TAKE_PTR(m);
	return r;
}

int dk_precompiled_step(const struct dk_inputs *in, struct dk_got *g,
			struct dk_error **err)
{
	_cleanup_free_ char *url = NULL, *work = NULL, *tmp = NULL, *dir = NULL;
	_cleanup_manifest_ struct dk_manifest *m = NULL;
	struct dk_fetch_opts fo = {
		.cache_dir = NULL, .allow_unpinned = true, .progress = 2};
	struct dk_error *e = NULL;
	const char *key;
	int r;

	r = dk_precompiled_url(in, &url, err);
	if (r < 0)
		return r;
	work = dk_store_subdir(in->cache, "work", err);
	if (!work)
		return -EIO;
	tmp = dk_strdup_printf("%s/pkg-%s-XXXXXX", work, in->c->name);
	if (!tmp || !mkdtemp(tmp))
		return dk_error_set(err, errno, "mkdtemp in %s: %s", work,
				    strerror(errno));
	r = dk_fetch_extract(&fo, url, NULL, tmp, &(struct dk_archive_opts){0}, NULL, &e);
	if (r == -ENOENT) {
		/* No package for this kernel: the next step (a build) takes over. */
		g->why = dk_strdup_printf("precompiled: %s: not found", url);
		dk_error_free(&e);
		(void)dk_rm_rf(tmp);
		return 0;
	}
	if (r < 0) {
		(void)dk_rm_rf(tmp);
		*err = e;
		return dk_error_wrap(err, "component %s: precompiled package",
				     in->c->name);
	}
	dir = dk_strdup_printf("%s/%s/%s", tmp, in->kernel, in->c->name);
	if (!dir)
		r = dk_error_set(err, ENOMEM, "out of memory");
	else if (!dk_is_dir(dir))
		r = dk_error_set(err, EBADMSG, "%s has no %s/%s/ directory", url,
				 in->kernel, in->c->name);
	if (r >= 0)
		r = trust(in, dir, url, &m, err);
	if (r < 0) {
		(void)dk_rm_rf(tmp);
		return dk_error_wrap(err, "component %s: precompiled package refused",
				     in->c->name);
	}
	/* The builder's key names the entry; our alias finds it on the next start. */
	key = m->key ? m->key : in->alias;
	r = dk_store_commit(in->cache, key, in->alias, dir, err);
	(void)dk_rm_rf(tmp);
	if (r < 0)
		return r;
	r = dk_got_load_entry(in->cache, key, g, err);
	if (r < 0)
		return r;
	g->why = dk_strdup_printf("precompiled: %s (%zu modules verified%s)", url,
				  g->m->n_modules,
				  in->c->precompiled->cert ? ", signatures checked" : "");
	return r < 0 ? r : 1;
}
