/* SPDX-License-Identifier: Apache-2.0 */
/* The build step: source, make, collect the modules, check them against the target
 * kernel (with the providers of uses:), sign, write the manifest, and commit the
 * cache entry. Nothing reaches the cache unless every step succeeded. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/sha256.h"
#include "base/tree.h"
#include "kmod/check.h"
#include "kmod/modfile.h"
#include "kmod/sign.h"
#include "build/build-internal.h"
#include "build/kbuild.h"

/* Every *.ko below dir (depth-first, sorted by readdir order made stable by name
 * uniqueness checks in the caller). */
static int find_modules(const char *dir, char ***v, size_t *n, int depth)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(d))) {
		_cleanup_free_ char *p = NULL;
		size_t len = strlen(de->d_name);
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		p = dk_path_join(dir, de->d_name);
		if (!p)
			return -ENOMEM;
		if (lstat(p, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode) && depth < 16) {
			int r = find_modules(p, v, n, depth + 1);

			if (r < 0)
				return r;
		} else if (S_ISREG(st.st_mode) && len > 3 &&
			   streq(de->d_name + len - 3, ".ko")) {
			char **nv = realloc(*v, (*n + 2) * sizeof(char *));

			if (!nv)
				return -ENOMEM;
			*v = nv;
			(*v)[(*n)++] = TAKE_PTR(p);
			(*v)[*n] = NULL;
		}
	}
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static int copy_file(const char *from, const char *to, struct dk_error **err)
{
	struct stat st;
	_cleanup_close_ int fd = dk_open_regular(from, (size_t)1 << 32, &st, err);
	int r;

	if (fd < 0)
		return fd;
	r = dk_copy_file_atomic(to, fd, (size_t)st.st_size, NULL, 0, st.st_mode & 0755);
	return r < 0 ? dk_error_set(err, -r, "copy %s to %s: %s", from, to, strerror(-r))
		     : 0;
}

/* Module.symvers names each module by its path in the work tree: kept with that path
 * mapped as in the modules' debug info, so that the same build in another cache dir
 * gives the same file, manifest, and keys of the components that use it. */
static int copy_symvers(const char *from, const char *to, const char *work,
			struct dk_error **err)
{
	_cleanup_free_ char *data = NULL, *text = NULL;
	size_t len = 0, n = strlen(work);
	struct strbuf s;
	const char *p, *hit;
	int r = dk_read_file(from, 256u << 20, &data, &len);

	if (r < 0)
		return dk_error_set(err, -r, "read %s: %s", from, strerror(-r));
	strbuf_init(&s);
	for (p = data; (hit = strstr(p, work)); p = hit + n) {
		strbuf_putn(&s, p, (size_t)(hit - p));
		strbuf_puts(&s, hit[n] == '/' ? DK_KBUILD_PREFIX : work);
	}
	strbuf_puts(&s, p);
	text = strbuf_steal(&s);
	if (!text)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_write_file_atomic(to, text, strlen(text), 0644);
	return r < 0 ? dk_error_set(err, -r, "write %s: %s", to, strerror(-r)) : 0;
}

/* An exported path of the tree (a directory or a file; a missing one is skipped)
 * into the entry, at the same relative path. */
static int copy_export(const char *make_dir, const char *entry, const char *rel,
		       struct dk_error **err)
{
	_cleanup_free_ char *from = dk_path_join(make_dir, rel);
	_cleanup_free_ char *to = dk_path_join(entry, rel);
	_cleanup_free_ char *parent = NULL;
	int r;

	if (!from || !to)
		return dk_error_set(err, ENOMEM, "out of memory");
	/* "include/" is include: the parent is the entry, not include itself */
	for (size_t n = strlen(to); n > 1 && to[n - 1] == '/'; n--)
		to[n - 1] = '\0';
	parent = strdup(to);
	if (!parent)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!dk_path_exists(from))
		return 0;
	*strrchr(parent, '/') = '\0';
	r = dk_mkdir_p(parent, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "mkdir %s: %s", parent, strerror(-r));
	return dk_is_dir(from) ? dk_tree_copy(from, to, err) : copy_file(from, to, err);
}

/* Whether exports[i] lies inside another export (OFED's [include, include/rdma]: two
 * -I dirs for consumers, one copy): that one copies it, in either order. */
static bool inside_other_export(const struct dk_config_build *b, size_t i)
{
	const char *e = b->exports[i];

	for (size_t j = 0; j < b->n_exports; j++) {
		const char *o = b->exports[j];
		size_t n = strlen(o);

		while (n > 1 && o[n - 1] == '/')
			n--;
		if (j != i && strncmp(e, o, n) == 0 && e[n] == '/')
			return true;
	}
	return false;
}

/* The modules, Module.symvers and exports of the build into the entry dir. */
static int collect(const struct dk_inputs *in, const char *work, const char *make_dir,
		   const char *out_dir, const char *entry, struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;
	_cleanup_free_ char *sym = dk_path_join(make_dir, "Module.symvers");
	char **mods = NULL;
	size_t n = 0;
	int r = find_modules(out_dir, &mods, &n, 0);

	if (r >= 0)
		r = find_modules(make_dir, &mods, &n, 0);
	if (r < 0) {
		strv_free(mods, n);
		return dk_error_set(err, -r, "component %s: look for modules: %s",
				    in->c->name, strerror(-r));
	}
	if (n == 0)
		r = dk_error_set(err, ENOENT,
				 "component %s: the build made no .ko file (in %s or %s)",
				 in->c->name, make_dir, out_dir);
	for (size_t i = 0; i < n && r >= 0; i++) {
		_cleanup_free_ char *to = dk_path_join(entry, strrchr(mods[i], '/') + 1);

		if (!to)
			r = dk_error_set(err, ENOMEM, "out of memory");
		else if (dk_path_exists(to))
			r = dk_error_set(err, EEXIST,
					 "component %s: two modules named %s (%s and an "
					 "earlier one)",
					 in->c->name, strrchr(mods[i], '/') + 1, mods[i]);
		else
			r = copy_file(mods[i], to, err);
	}
	strv_free(mods, n);
	if (r >= 0 && sym && dk_path_exists(sym)) {
		_cleanup_free_ char *to = dk_path_join(entry, "Module.symvers");

		r = to ? copy_symvers(sym, to, work, err) : -ENOMEM;
	}
	for (size_t i = 0; r >= 0 && b && i < b->n_exports; i++)
		if (!inside_other_export(b, i) &&
		    (r = copy_export(make_dir, entry, b->exports[i], err)) < 0)
			r = dk_error_wrap(err, "component %s: exports: %s", in->c->name,
					  b->exports[i]);
	return r;
}

/* The Module.symvers of the providers built elsewhere (uses: { path: DIR }) added to
 * the kernel's, so that check finds their symbols and CRCs. */
static int add_path_symvers(const struct dk_inputs *in, struct dk_kernel *k,
			    struct dk_error **err)
{
	const struct dk_config_build *b = in->c->build;
	_cleanup_free_ char *ksym = NULL;
	struct dk_symvers *sv = NULL;
	struct strbuf all;
	int r = 0;

	if (!b || !b->n_uses_paths)
		return 0;
	strbuf_init(&all);
	ksym = dk_path_join(k->headers, "Module.symvers");
	for (size_t i = 0; ksym && i <= b->n_uses_paths && r >= 0; i++) {
		_cleanup_free_ char *p =
			i == 0 ? strdup(ksym)
			       : dk_path_join(b->uses_paths[i - 1], "Module.symvers");
		_cleanup_free_ char *text = NULL;
		size_t len = 0;

		if (!p)
			r = dk_error_set(err, ENOMEM, "out of memory");
		else if ((r = dk_read_file_err(p, 0, &text, &len, err)) >= 0)
			strbuf_printf(&all, "%s%s", text,
				      len && text[len - 1] != '\n' ? "\n" : "");
	}
	if (r >= 0 && (!ksym || all.oom))
		r = dk_error_set(err, ENOMEM, "out of memory");
	if (r >= 0)
		r = dk_symvers_parse("Module.symvers of the kernel and uses: paths",
				     strbuf_str(&all), all.len, &sv, err);
	strbuf_release(&all);
	if (r < 0)
		return r;
	dk_symvers_free(k->symvers);
	k->symvers = sv;
	return 0;
}

/* check against the target kernel, with the modules of uses: as providers. */
static int check_entry(const struct dk_inputs *in, const char *entry,
		       struct dk_error **err)
{
	_cleanup_kernel_ struct dk_kernel *k = NULL;
	struct dk_modfile **all = NULL;
	struct dk_check_result *res = NULL;
	size_t n = 0, n_all = 0;
	struct strbuf why;
	int r;

	r = dk_kernel_open(in->build_dir, &k, err);
	if (r >= 0)
		r = add_path_symvers(in, k, err);
	if (r < 0)
		return r;
	/* The entry's modules first (the results of interest), then the providers. */
	r = dk_modfile_open_dir(entry, &all, &n_all, err);
	n = n_all;
	for (size_t u = 0; u < in->n_uses && r >= 0; u++)
		r = dk_modfile_open_dir(in->uses[u]->dir, &all, &n_all, err);
	if (r >= 0)
		r = dk_check_modules(k, all, n_all, &res, err);
	strbuf_init(&why);
	for (size_t i = 0; r >= 0 && i < n; i++)
		for (size_t j = 0; j < res[i].n_issues; j++)
			if (res[i].issues[j].fatal)
				strbuf_printf(&why, "%s%s: %s", why.len ? "; " : "",
					      dk_modfile_name(res[i].mod),
					      res[i].issues[j].message);
	if (r >= 0 && why.len)
		r = dk_error_set(err, ENOEXEC,
				 "component %s: built modules do not fit kernel %s: %s",
				 in->c->name, in->kernel, strbuf_str(&why));
	strbuf_release(&why);
	if (res)
		dk_check_results_free(res, n_all);
	dk_modfiles_free(all, n_all);
	return r;
}

static char *cert_subject(X509 *cert)
{
	char cn[256];
	X509_NAME *name = X509_get_subject_name(cert);

	if (name && X509_NAME_get_text_by_NID(name, NID_commonName, cn, sizeof(cn)) > 0)
		return strdup(cn);
	return strdup("(no CN)");
}

/* Signs every module of the entry in place; *signer gets the certificate's CN. */
static int sign_entry(const struct dk_inputs *in, const char *entry, char **signer,
		      struct dk_error **err)
{
	const struct dk_config_signing *sg = in->o->cfg->signing;
	struct dk_signer_opts so = {.key_path = sg->key,
				    .cert_path = sg->cert,
				    .hash = sg->hash,
				    .passphrase_file = sg->passphrase_file};
	_cleanup_signer_ struct dk_signer *s = NULL;
	struct dk_modfile **mods = NULL;
	size_t n = 0;
	int r = dk_signer_new(&so, &s, err);

	if (r < 0)
		return dk_error_wrap(err, "signing");
	r = dk_modfile_open_dir(entry, &mods, &n, err);
	for (size_t i = 0; r >= 0 && i < n; i++)
		r = dk_sign_file(s, dk_modfile_path(mods[i]), NULL, DK_SIGN_RESIGN, err);
	dk_modfiles_free(mods, n);
	if (r < 0)
		return r;
	*signer = cert_subject(s->cert);
	return *signer ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

static int describe_modules(const char *entry, struct dk_manifest *m,
			    struct dk_error **err)
{
	struct dk_modfile **mods = NULL;
	size_t n = 0;
	int r = dk_modfile_open_dir(entry, &mods, &n, err);

	if (r < 0)
		return r;
	m->modules = calloc(n + 1, sizeof(*m->modules));
	if (!m->modules)
		r = dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; r >= 0 && i < n; i++) {
		struct dk_manifest_module *mm = &m->modules[i];
		const char *path = dk_modfile_path(mods[i]);
		const char *sv = mods[i]->srcversion;
		char hex[DK_SHA256_HEX_LEN + 1];
		struct stat st;

		m->n_modules = i + 1;
		mm->name = strdup(dk_modfile_name(mods[i]));
		mm->file = strdup(strrchr(path, '/') ? strrchr(path, '/') + 1 : path);
		mm->srcversion = sv ? strdup(sv) : NULL;
		if (dk_sha256_file(path, hex) < 0 || stat(path, &st) < 0)
			r = dk_error_set(err, EIO, "read %s", path);
		mm->sha256 = strdup(hex);
		mm->size = (int64_t)st.st_size;
		if (r >= 0 &&
		    (!mm->name || !mm->file || !mm->sha256 || (sv && !mm->srcversion)))
			r = dk_error_set(err, ENOMEM, "out of memory");
	}
	dk_modfiles_free(mods, n);
	return r;
}

static char *dupornull(const char *s)
{
	return s ? strdup(s) : NULL;
}

static int fill_manifest(const struct dk_inputs *in, const char *entry,
			 struct dk_manifest *m, struct dk_error **err)
{
	_cleanup_free_ char *sym = dk_path_join(entry, "Module.symvers");
	char hex[DK_SHA256_HEX_LEN + 1];

	m->key = dupornull(in->key);
	m->alias = dupornull(in->alias);
	m->component = dupornull(in->c->name);
	m->version = dupornull(in->c->version);
	m->flavor = dupornull(in->flavor);
	m->kernel = dupornull(in->kernel);
	m->arch = dupornull(in->arch);
	m->source_url = dupornull(in->tree.url);
	m->source_sha256 = dupornull(in->source_sha256);
	m->spec_sha256 = dupornull(in->spec_sha256);
	m->compiler = dupornull(in->compiler);
	m->kernel_config_sha256 = dupornull(in->kconfig_sha256);
	m->kernel_symvers_sha256 = dupornull(in->ksymvers_sha256);
	if (sym && dk_sha256_file(sym, hex) == 0)
		m->symvers_sha256 = strdup(hex);
	m->patches = calloc(in->c->build->n_patches + 1, sizeof(char *));
	m->uses = calloc(in->n_uses + 1, sizeof(*m->uses));
	if (!m->patches || !m->uses)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < in->c->build->n_patches; i++) {
		const char *p = in->c->build->patches[i];

		m->patches[i] = dk_strdup_printf(
			"%s %s", strrchr(p, '/') ? strrchr(p, '/') + 1 : p,
			in->patch_sha256[i]);
		m->n_patches = i + 1;
	}
	for (size_t i = 0; i < in->n_uses; i++) {
		m->uses[i].component = strdup(in->uses[i]->c->name);
		m->uses[i].manifest_sha256 = strdup(in->uses[i]->manifest_sha256);
		m->uses[i].symvers_sha256 = dupornull(in->uses[i]->m->symvers_sha256);
		m->n_uses = i + 1;
	}
	return 0;
}

/* The uses: inputs: their Module.symvers files, their include dirs, and a prefix map
 * per cache entry (its path, which depends on the cache dir, stays out of the
 * modules: a header's path is in the debug info). */
static void uses_paths(const struct dk_inputs *in, char **symvers, char **include,
		       char **maps)
{
	struct strbuf s, inc, map;

	strbuf_init(&s);
	strbuf_init(&inc);
	strbuf_init(&map);
	for (size_t i = 0; i < in->n_uses; i++) {
		const struct dk_got *u = in->uses[i];
		const struct dk_config_build *ub = u->c->build;
		_cleanup_free_ char *sym = dk_path_join(u->dir, "Module.symvers");

		if (sym && dk_path_exists(sym))
			strbuf_printf(&s, "%s%s", s.len ? " " : "", sym);
		strbuf_printf(&inc, "%s-I%s", inc.len ? " " : "", u->dir);
		strbuf_printf(&map, " -ffile-prefix-map=%s=" DK_KBUILD_USES_PREFIX "/%s",
			      u->dir, u->c->name);
		for (size_t k = 0; ub && k < ub->n_exports; k++) {
			_cleanup_free_ char *p = dk_path_join(u->dir, ub->exports[k]);

			if (p && dk_is_dir(p))
				strbuf_printf(&inc, " -I%s", p);
		}
	}
	for (size_t i = 0; in->c->build && i < in->c->build->n_uses_paths; i++) {
		const char *dir = in->c->build->uses_paths[i];

		strbuf_printf(&s, "%s%s/Module.symvers", s.len ? " " : "", dir);
		strbuf_printf(&inc, "%s-I%s -I%s/include", inc.len ? " " : "", dir, dir);
	}
	*symvers = s.len ? strbuf_steal(&s) : NULL;
	*include = inc.len ? strbuf_steal(&inc) : NULL;
	*maps = map.len ? strbuf_steal(&map) : NULL;
	strbuf_release(&s);
	strbuf_release(&inc);
	strbuf_release(&map);
}

/* Why the tree cannot build, all problems at once. */
static int preflight_error(const struct dk_inputs *in, struct dk_error **err)
{
	_cleanup_free_ char *what = dk_inputs_what(in);
	struct strbuf s;
	int r;

	if (!in->build_dir) {
		r = dk_error_set(err, ENOENT, "%s: cannot build: no kernel headers: %s",
				 what ? what : in->c->name,
				 in->headers_why ? in->headers_why : "none found");
		dk_error_set_hint(err,
				  "install the headers package named above (for exactly "
				  "this release), or give --headers DIR, or publish a "
				  "precompiled package");
		return r;
	}
	strbuf_init(&s);
	for (size_t i = 0; i < in->pf.n_problems; i++)
		strbuf_printf(&s, "\n  - %s: %s", in->pf.problems[i].what,
			      in->pf.problems[i].fix);
	r = dk_error_set(err, ENOENT,
			 "%s: the headers at %s cannot build modules yet (%zu "
			 "problem%s):%s",
			 what ? what : in->c->name, in->build_dir, in->pf.n_problems,
			 in->pf.n_problems == 1 ? "" : "s", strbuf_str(&s));
	strbuf_release(&s);
	return r;
}

static int build_in(const struct dk_inputs *in, const char *work, const char *entry,
		    struct dk_error **err)
{
	_cleanup_free_ char *make_dir = NULL, *out = dk_path_join(work, "out");
	_cleanup_free_ char *logs = dk_store_subdir(in->cache, "logs", err);
	_cleanup_free_ char *log = NULL, *syms = NULL, *inc = NULL, *maps = NULL;
	const struct dk_config_build *b = in->c->build;
	struct dk_kbuild kb;
	int r;

	if (!logs || !out)
		return -EIO;
	log = dk_strdup_printf("%s/%s-%s-%.12s.log", logs, in->c->name, in->kernel,
			       in->key);
	if (!log || mkdir(out, 0755) < 0)
		return dk_error_set(err, errno ? errno : ENOMEM, "mkdir %s", out);
	r = dk_source_prepare(in, work, &make_dir, err);
	if (r < 0)
		return r;
	uses_paths(in, &syms, &inc, &maps);
	kb = (struct dk_kbuild){
		.component = in->c->name,
		.version = in->c->version,
		.flavor = in->flavor,
		.kernel = in->kernel,
		.build_dir = in->build_dir,
		.src = make_dir,
		.out = out,
		.work = work,
		.jobs = in->o->jobs,
		.configure = b->configure,
		.n_configure = b->n_configure,
		.make = b->make,
		.n_make = b->n_make,
		.env = b->env,
		.n_env = b->n_env,
		.uses_symvers = syms,
		.uses_include = inc,
		.cc = in->pf.cc.path,
		.log_path = log,
		.cancel_fd = in->o->cancel_fd,
		.tty = in->o->tty,
		.quiet = in->o->quiet,
	};
	kb.uses_maps = maps;
	r = dk_kbuild_run(&kb, err);
	if (r < 0)
		return r;
	return collect(in, work, make_dir, out, entry, err);
}

int dk_compile_step(const struct dk_inputs *in, struct dk_got *g, struct dk_error **err)
{
	_cleanup_free_ char *workroot = NULL, *work = NULL, *tmp = NULL;
	_cleanup_manifest_ struct dk_manifest *m = NULL;
	int64_t t0 = dk_now_ms();
	int r;

	if (!in->build_dir || in->pf.n_problems || !in->key)
		return preflight_error(in, err);
	workroot = dk_store_subdir(in->cache, "work", err);
	if (!workroot)
		return -EIO;
	work = dk_strdup_printf("%s/%.16s", workroot, in->key);
	m = calloc(1, sizeof(*m));
	if (!work || !m)
		return dk_error_set(err, ENOMEM, "out of memory");
	(void)dk_rm_rf(work);
	if (mkdir(work, 0755) < 0)
		return dk_error_set(err, errno, "mkdir %s: %s", work, strerror(errno));
	r = dk_store_begin(in->cache, in->key, &tmp, err);
	if (r >= 0)
		r = build_in(in, work, tmp, err);
	if (r >= 0)
		r = check_entry(in, tmp, err);
	if (r >= 0 && in->o->cfg->signing)
		r = sign_entry(in, tmp, &m->signer, err);
	if (r >= 0)
		r = fill_manifest(in, tmp, m, err);
	if (r >= 0)
		r = describe_modules(tmp, m, err);
	if (r >= 0)
		r = dk_manifest_write(m, tmp, err);
	if (r >= 0)
		r = dk_store_commit(in->cache, in->key, in->alias, tmp, err);
	if (r < 0) {
		if (tmp)
			(void)dk_rm_rf(tmp);
		/* Stopped: leave nothing (a failed build's tree stays for a look). */
		if (r == -ECANCELED)
			(void)dk_rm_rf(work);
		return r;
	}
	(void)dk_rm_rf(work);
	r = dk_got_load_entry(in->cache, in->key, g, err);
	g->ms = dk_now_ms() - t0;
	return r;
}
