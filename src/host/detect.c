/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/archive-dl.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/rootfs.h"
#include "host/detect-internal.h"
#include "host/detect.h"
#include "host/headers.h"

#define EFI_SECURE_BOOT_VAR "efivars/SecureBoot-8be4df61-93ca-11d2-aa0d-00e098032b8c"

/* --- helpers ------------------------------------------------------------ */

char *dk_det_fmt(struct dk_det *d, const char *fmt, ...)
{
	struct strbuf b;
	va_list ap;
	char *s;

	strbuf_init(&b);
	va_start(ap, fmt);
	strbuf_vprintf(&b, fmt, ap);
	va_end(ap);
	s = strbuf_steal(&b);
	if (!s)
		d->oom = true;
	return s;
}

char *dk_det_strdup(struct dk_det *d, const char *s)
{
	char *c;

	if (!s)
		return NULL;
	c = strdup(s);
	if (!c)
		d->oom = true;
	return c;
}

char *dk_det_errtext(struct dk_det *d, const char *path, int errnum)
{
	return dk_det_fmt(d, "%s: %s", path ? path : "?", strerror(errnum));
}

int dk_det_read(struct dk_det *d, const char *path, char **buf, size_t *len)
{
	int r;

	if (!path)
		return -ENOMEM;
	r = dk_read_file(path, 16u << 20, buf, len);
	if (r == -ENOMEM)
		d->oom = true;
	return r;
}

int dk_det_read_line(struct dk_det *d, const char *path, char **line)
{
	int r;

	if (!path)
		return -ENOMEM;
	r = dk_read_line(path, line);
	if (r == -ENOMEM)
		d->oom = true;
	return r;
}

/* Reads a file of the host, resolving symlinks inside the host root. */
static int read_host(struct dk_det *d, const char *rel, char **path, char **buf)
{
	int r = dk_root_resolve(d->host, rel, path);

	if (r < 0) {
		*path = dk_path_join(d->host, rel);
		if (!*path)
			d->oom = true;
		return r;
	}
	return dk_det_read(d, *path, buf, NULL);
}

static void fact_known(struct dk_det *d, struct dk_fact *f, const char *value,
		       const char *source)
{
	f->value = dk_det_strdup(d, value);
	f->source = dk_det_strdup(d, source);
}

static void fact_unknown(struct dk_det *d, struct dk_fact *f, const char *source,
			 char *reason /* taken */)
{
	f->source = dk_det_strdup(d, source);
	f->reason = reason;
}

static void fact_free(struct dk_fact *f)
{
	free(f->value);
	free(f->source);
	free(f->reason);
}

const char *dk_tri_name(enum dk_tri t)
{
	return t == DK_TRI_YES ? "yes" : t == DK_TRI_NO ? "no" : "unknown";
}

char *dk_detect_sysfs(const struct dk_ctx *ctx)
{
	return ctx->sysfs ? strdup(ctx->sysfs) : dk_path_join(ctx->host_root, "sys");
}

char *dk_detect_procfs(const struct dk_ctx *ctx)
{
	return ctx->procfs ? strdup(ctx->procfs) : dk_path_join(ctx->host_root, "proc");
}

/* --- kernel ----------------------------------------------------------- */

static void detect_kernel(struct dk_det *d, struct dk_detect_kernel *k)
{
	_cleanup_free_ char *osrel = dk_det_fmt(d, "%s/sys/kernel/osrelease", d->procfs);
	_cleanup_free_ char *verpath = dk_det_fmt(d, "%s/version", d->procfs);
	_cleanup_free_ char *line = NULL, *version = NULL;
	struct utsname u;
	bool have_uname = uname(&u) == 0;
	int r;

	if (d->ctx->kernel) {
		fact_known(d, &k->release, d->ctx->kernel, "--kernel");
	} else if (dk_det_read_line(d, osrel, &line) == 0 && line[0]) {
		k->release.value = TAKE_PTR(line);
		k->release.source = dk_det_strdup(d, osrel);
	} else if (have_uname) {
		fact_known(d, &k->release, u.release, "uname(2)");
	} else {
		fact_unknown(d, &k->release, "uname(2)",
			     dk_det_errtext(d, "uname", errno));
	}
	if (have_uname)
		fact_known(d, &k->arch, u.machine, "uname(2)");
	else
		fact_unknown(d, &k->arch, "uname(2)", dk_det_errtext(d, "uname", errno));

	r = dk_det_read(d, verpath, &version, NULL);
	if (r == 0)
		r = dk_proc_version_cc_parse(version, &k->built_by);
	if (r == 0) {
		fact_known(d, &k->built_cc, k->built_by.version, verpath);
	} else if (r == -ENODATA) {
		fact_unknown(d, &k->built_cc, verpath,
			     dk_det_fmt(d, "%s: names no compiler", verpath));
	} else {
		if (r == -ENOMEM)
			d->oom = true;
		fact_unknown(d, &k->built_cc, verpath, dk_det_errtext(d, verpath, -r));
	}

	if (dk_gcc_find(getenv("PATH"), &k->gcc, &k->n_gcc) < 0)
		d->oom = true;
	for (size_t i = 0; i < k->n_gcc && k->built_by.version; i++)
		if (k->gcc[i].version && streq(k->gcc[i].version, k->built_by.version)) {
			k->gcc_matching = k->gcc[i].path;
			break;
		}
}

/* --- os-release --------------------------------------------------------- */

static void detect_os(struct dk_det *d, struct dk_detect_os *os)
{
	static const char *const files[] = {"etc/os-release", "usr/lib/os-release"};
	_cleanup_strbuf_ struct strbuf why;

	strbuf_init(&why);
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		_cleanup_free_ char *buf = NULL;
		int r;

		free(os->source);
		os->source = NULL;
		r = read_host(d, files[i], &os->source, &buf);
		if (r == 0) {
			if (dk_osrelease_parse(buf, &os->osr) < 0)
				d->oom = true;
			return;
		}
		strbuf_printf(&why, "%s%s: %s", i ? "; " : "",
			      os->source ? os->source : "?", strerror(-r));
	}
	os->reason = strbuf_steal(&why);
	if (!os->reason)
		d->oom = true;
	os->osr.version_major = os->osr.version_minor = -1;
}

/* --- Driver Toolkit ------------------------------------------------------- */

static void detect_dtk(struct dk_det *d, const char *kver, struct dk_detect_dtk *dtk)
{
	_cleanup_free_ char *buf = NULL;
	_cleanup_error_ struct dk_error *perr = NULL;
	const struct dk_dtk_release *rel = &dtk->rel;
	int r;

	r = read_host(d, "etc/driver-toolkit-release.json", &dtk->source, &buf);
	if (r == -ENOENT) {
		dtk->broken_reason =
			dk_det_fmt(d, "not a Driver Toolkit: %s: %s",
				   dtk->source ? dtk->source : "?", strerror(ENOENT));
		return;
	}
	dtk->present = true;
	if (r < 0) {
		dtk->reason = dk_det_errtext(d, dtk->source, -r);
		dtk->broken_reason = dk_det_strdup(d, dtk->reason);
		return;
	}
	r = dk_dtk_parse(buf, &dtk->rel, &perr);
	if (r < 0) {
		if (r == -ENOMEM)
			d->oom = true;
		dtk->reason = dk_det_fmt(d, "%s: %s", dtk->source,
					 perr && perr->msg ? perr->msg : strerror(-r));
		dtk->broken_reason = dk_det_strdup(d, dtk->reason);
		return;
	}
	if (!rel->kernel_version) {
		dtk->broken_reason =
			dk_det_fmt(d, "%s has no KERNEL_VERSION", dtk->source);
	} else if (!kver) {
		dtk->broken_reason = dk_det_strdup(d, "kernel release unknown");
	} else if (streq(rel->kernel_version, kver) ||
		   (rel->rt_kernel_version && streq(rel->rt_kernel_version, kver))) {
		dtk->broken = DK_TRI_NO;
	} else {
		dtk->broken = DK_TRI_YES;
		dtk->broken_reason = dk_det_fmt(
			d, "KERNEL_VERSION %s%s%s does not match kernel %s",
			rel->kernel_version,
			rel->rt_kernel_version ? " / RT_KERNEL_VERSION " : "",
			rel->rt_kernel_version ? rel->rt_kernel_version : "", kver);
	}
}

/* --- kernel headers --------------------------------------------------------- */

/* Moves what dk_headers_probe() found into a new report entry, plus the
 * compiler it was built with. */
static void add_header_dir(struct dk_det *d, const char *kver,
			   struct dk_detect_headers *h, struct dk_headers_candidate *c)
{
	_cleanup_free_ char *config_path = NULL, *config = NULL;
	struct dk_header_dir *nv, *hd;

	nv = realloc(h->dirs, (h->n + 1) * sizeof(*nv));
	if (!nv) {
		d->oom = true;
		return;
	}
	h->dirs = nv;
	hd = &h->dirs[h->n++];
	memset(hd, 0, sizeof(*hd));
	hd->kind = c->kind;
	hd->path = dk_det_fmt(d, "/%s", c->where);
	hd->resolved = TAKE_PTR(c->path);
	hd->exists = c->exists;
	hd->uts_release = TAKE_PTR(c->uts_release);
	hd->has_config = c->has_config;
	hd->has_symvers = c->has_symvers;
	if (!hd->exists) {
		hd->reason = dk_det_fmt(d, "%s: %s", hd->resolved, c->reason);
		return;
	}
	if (hd->uts_release)
		hd->uts_matches = streq(hd->uts_release, kver) ? DK_TRI_YES : DK_TRI_NO;
	if (hd->uts_matches != DK_TRI_YES) /* then c->reason is about utsrelease.h */
		hd->uts_reason = TAKE_PTR(c->reason);
	if (c->usable && h->selected < 0)
		h->selected = (int)(h->n - 1);
	config_path = dk_det_fmt(d, "%s/.config", hd->resolved);
	if (hd->has_config && dk_det_read(d, config_path, &config, NULL) == 0 &&
	    (dk_kconfig_get(config, "GCC_VERSION", &hd->config_gcc_version) == -ENOMEM ||
	     dk_kconfig_get(config, "CC_VERSION_TEXT", &hd->config_cc_version_text) ==
		     -ENOMEM))
		d->oom = true;
}

/* headers.c's places for the distro family (all when it is unknown), and the
 * kernel's source link, which only detect reports. */
static void detect_headers(struct dk_det *d, const char *kver, const char *arch,
			   enum dk_distro_family fam, struct dk_detect_headers *h)
{
	_cleanup_headers_info_ struct dk_headers_info *info = NULL;
	_cleanup_error_ struct dk_error *herr = NULL;
	_cleanup_free_ char *source = NULL;
	bool any = fam == DK_FAMILY_UNKNOWN;
	unsigned places = DK_HEADERS_BUILD;

	h->selected = -1;
	if (!kver)
		return;
	if (any || fam == DK_FAMILY_DEBIAN)
		places |= DK_HEADERS_DEBIAN;
	if (any || fam == DK_FAMILY_RHEL || fam == DK_FAMILY_AMZN)
		places |= DK_HEADERS_RHEL;
	if (any || fam == DK_FAMILY_SUSE)
		places |= DK_HEADERS_SUSE;
	if (dk_headers_scan(d->host, kver, arch, places, &info, &herr) < 0) {
		d->oom = d->oom || !herr || herr->errnum == ENOMEM;
		return; /* a release that is no file name: nothing to look at */
	}
	source = dk_det_fmt(d, "lib/modules/%s/source", kver);
	for (size_t i = 0; i < info->n_cands; i++) {
		add_header_dir(d, kver, h, &info->cands[i]);
		if (i == 0 &&
		    source) { /* after the build link, as the kernel lays them out */
			struct dk_headers_candidate c;

			if (dk_headers_probe(d->host, "source", source, kver, &c) < 0)
				d->oom = true;
			else
				add_header_dir(d, kver, h, &c);
			dk_headers_candidate_clear(&c);
		}
	}
}

/* --- module policy ---------------------------------------------------------- */

/* Decompresses <procfs>/config.gz with libarchive's raw reader (loaded here, only
 * when neither /boot/config-KVER nor the headers' .config could be read). */
static int read_config_gz(struct dk_det *d, const char *path, char **out)
{
	_cleanup_error_ struct dk_error *lerr = NULL;
	_cleanup_strbuf_ struct strbuf b;
	struct archive *a = NULL;
	struct archive_entry *e;
	char chunk[16384];
	ssize_t n;
	int r = -EBADMSG;

	strbuf_init(&b);
	if (dk_archive_load(&lerr) < 0) {
		dk_debug("%s: %s", path, lerr->msg);
		return -lerr->errnum;
	}
	a = dk_sym_archive_read_new();
	if (!a) {
		d->oom = true;
		return -ENOMEM;
	}
	dk_sym_archive_read_support_filter_gzip(a);
	dk_sym_archive_read_support_format_raw(a);
	if (dk_sym_archive_read_open_filename(a, path, sizeof(chunk)) != ARCHIVE_OK) {
		r = dk_sym_archive_errno(a) > 0 ? -dk_sym_archive_errno(a) : -EBADMSG;
	} else if (dk_sym_archive_read_next_header(a, &e) == ARCHIVE_OK) {
		while ((n = dk_sym_archive_read_data(a, chunk, sizeof(chunk))) > 0)
			strbuf_putn(&b, chunk, (size_t)n);
		r = n < 0 ? -EBADMSG : 0;
	}
	dk_sym_archive_read_free(a);
	if (r < 0)
		return r;
	if (b.oom) {
		d->oom = true;
		return -ENOMEM;
	}
	*out = strbuf_steal(&b);
	return 0;
}

/* The first kernel config that can be read: /boot/config-KVER, the selected
 * headers' .config, <procfs>/config.gz. *why collects the failures. */
static int find_kconfig(struct dk_det *d, const char *kver,
			const struct dk_detect_headers *h, char **path, char **buf,
			struct strbuf *why)
{
	_cleanup_free_ char *boot = kver ? dk_det_fmt(d, "boot/config-%s", kver) : NULL;
	int r;

	if (boot) {
		r = read_host(d, boot, path, buf);
		if (r == 0)
			return 0;
		strbuf_printf(why, "%s: %s; ", *path ? *path : boot, strerror(-r));
		free(*path);
		*path = NULL;
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct dk_header_dir *hd = &h->dirs[i];

		if (!hd->has_config || (h->selected >= 0 && (int)i != h->selected))
			continue;
		*path = dk_det_fmt(d, "%s/.config", hd->resolved);
		if (dk_det_read(d, *path, buf, NULL) == 0)
			return 0;
		free(*path);
		*path = NULL;
	}
	if (h->selected < 0)
		strbuf_puts(why, "no matching kernel headers; ");
	*path = dk_det_fmt(d, "%s/config.gz", d->procfs);
	if (!*path)
		return -ENOMEM;
	r = read_config_gz(d, *path, buf);
	if (r == 0)
		return 0;
	strbuf_printf(why, "%s: %s", *path, strerror(-r));
	free(*path);
	*path = NULL;
	return r;
}

static void config_fact(struct dk_det *d, struct dk_fact *f, const char *sym,
			const char *path, const char *config)
{
	_cleanup_free_ char *v = NULL;
	int r = dk_kconfig_get(config, sym, &v);

	if (r == -ENOMEM)
		d->oom = true;
	fact_known(d, f, r == 0 && (streq(v, "y") || streq(v, "m")) ? "yes" : "no", path);
	if (r == -ENOENT)
		f->reason = dk_det_fmt(d, "%s: CONFIG_%s not set", path, sym);
}

/* Without a config: loaded modules have a refcnt file only with MODULE_UNLOAD. */
static void unload_from_sysfs(struct dk_det *d, struct dk_fact *f, char *why /* taken */)
{
	_cleanup_free_ char *mods = dk_det_fmt(d, "%s/module", d->sysfs);
	_cleanup_free_ char *reason = why;
	_cleanup_closedir_ DIR *dir = mods ? opendir(mods) : NULL;
	_cleanup_free_ char *no_refcnt = NULL;
	struct dirent *de;

	while (dir && (de = readdir(dir))) {
		_cleanup_free_ char *refcnt = NULL, *initstate = NULL;

		if (de->d_name[0] == '.')
			continue;
		refcnt = dk_det_fmt(d, "%s/%s/refcnt", mods, de->d_name);
		initstate = dk_det_fmt(d, "%s/%s/initstate", mods, de->d_name);
		if (refcnt && dk_path_exists(refcnt)) {
			fact_known(d, f, "yes", refcnt);
			return;
		}
		if (!no_refcnt && initstate && dk_path_exists(initstate))
			no_refcnt = TAKE_PTR(initstate);
	}
	if (no_refcnt) {
		fact_known(d, f, "no", no_refcnt);
		f->reason = dk_det_strdup(d, "a loaded module has no refcnt");
		return;
	}
	fact_unknown(d, f, mods,
		     dk_det_fmt(d, "%s%sno %s/*/refcnt", reason ? reason : "",
				reason ? "; " : "", mods ? mods : "?"));
}

static void detect_policy(struct dk_det *d, const char *kver,
			  const struct dk_detect_headers *h, struct dk_detect_policy *p)
{
	_cleanup_free_ char *sig =
		dk_det_fmt(d, "%s/module/module/parameters/sig_enforce", d->sysfs);
	_cleanup_free_ char *lock =
		dk_det_fmt(d, "%s/kernel/security/lockdown", d->sysfs);
	_cleanup_free_ char *efi = dk_det_fmt(d, "%s/firmware/efi", d->sysfs);
	_cleanup_free_ char *sbvar = dk_det_fmt(d, "%s/" EFI_SECURE_BOOT_VAR, efi);
	_cleanup_free_ char *line = NULL, *buf = NULL, *cfg_path = NULL, *config = NULL;
	_cleanup_strbuf_ struct strbuf why;
	size_t len = 0;
	int r;

	r = dk_det_read_line(d, sig, &line);
	if (r < 0)
		fact_unknown(d, &p->sig_enforce, sig, dk_det_errtext(d, sig, -r));
	else if (streq(line, "Y") || streq(line, "N"))
		fact_known(d, &p->sig_enforce, line[0] == 'Y' ? "yes" : "no", sig);
	else
		fact_unknown(d, &p->sig_enforce, sig,
			     dk_det_fmt(d, "%s: unexpected '%s'", sig, line));
	free(line);
	line = NULL;

	r = dk_det_read_line(d, lock, &line);
	if (r == 0) {
		_cleanup_free_ char *mode = NULL;

		r = dk_lockdown_parse(line, &mode);
		if (r == 0)
			fact_known(d, &p->lockdown, mode, lock);
		else
			fact_unknown(d, &p->lockdown, lock,
				     dk_det_fmt(d, "%s: no [mode] in '%s'", lock, line));
	} else {
		fact_unknown(d, &p->lockdown, lock, dk_det_errtext(d, lock, -r));
	}

	if (efi && !dk_is_dir(efi)) {
		fact_known(d, &p->secure_boot, "no", efi);
		p->secure_boot.reason = dk_det_fmt(d, "not EFI: %s does not exist", efi);
	} else {
		r = dk_det_read(d, sbvar, &buf, &len);
		if (r < 0)
			fact_unknown(d, &p->secure_boot, sbvar,
				     dk_det_errtext(d, sbvar, -r));
		else if (len < 5 || (buf[4] != 0 && buf[4] != 1))
			fact_unknown(d, &p->secure_boot, sbvar,
				     dk_det_fmt(d, "%s: unexpected content (%zu bytes)",
						sbvar, len));
		else
			fact_known(d, &p->secure_boot, buf[4] ? "yes" : "no", sbvar);
	}

	strbuf_init(&why);
	r = find_kconfig(d, kver, h, &cfg_path, &config, &why);
	if (r == 0) {
		config_fact(d, &p->module_unload, "MODULE_UNLOAD", cfg_path, config);
		config_fact(d, &p->modversions, "MODVERSIONS", cfg_path, config);
	} else {
		fact_unknown(d, &p->modversions, NULL,
			     dk_det_fmt(d, "no kernel config: %s", strbuf_str(&why)));
		unload_from_sysfs(
			d, &p->module_unload,
			dk_det_fmt(d, "no kernel config: %s", strbuf_str(&why)));
	}
}

/* --- NVIDIA driver flavour -------------------------------------------------- */

static void detect_nvidia(struct dk_det *d, struct dk_detect_nvidia *nv)
{
	_cleanup_free_ char *buf = NULL;
	int r;

	nv->source = dk_det_fmt(d, "%s/driver/nvidia/version", d->procfs);
	r = dk_det_read(d, nv->source, &buf, NULL);
	if (r < 0) {
		nv->reason = dk_det_errtext(d, nv->source, -r);
		return;
	}
	r = dk_nvidia_version_parse(buf, &nv->ver);
	if (r == -ENOMEM)
		d->oom = true;
	else if (r < 0)
		nv->reason = dk_det_fmt(d, "%s: no NVRM version line", nv->source);
}

/* --- entry points ----------------------------------------------------------- */

int dk_detect_run(const struct dk_ctx *ctx, struct dk_detect *out, struct dk_error **err)
{
	struct dk_det d = {.ctx = ctx, .host = ctx->host_root ? ctx->host_root : "/"};
	const char *kver;
	int r = 0;

	memset(out, 0, sizeof(*out));
	out->headers.selected = -1;
	d.sysfs = dk_detect_sysfs(ctx);
	d.procfs = dk_detect_procfs(ctx);
	if (!d.sysfs || !d.procfs) {
		free(d.sysfs);
		free(d.procfs);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	detect_kernel(&d, &out->kernel);
	kver = out->kernel.release.value;
	detect_os(&d, &out->os);
	detect_dtk(&d, kver, &out->dtk);
	detect_headers(&d, kver, out->kernel.arch.value, out->os.osr.family,
		       &out->headers);
	detect_policy(&d, kver, &out->headers, &out->policy);
	dk_detect_pci(&d, &out->devices);
	dk_detect_loaded_modules(&d, &out->modules);
	detect_nvidia(&d, &out->nvidia);
	if (d.oom)
		r = dk_error_set(err, ENOMEM, "detect: out of memory");
	free(d.sysfs);
	free(d.procfs);
	return r;
}

void dk_detect_free(struct dk_detect *d)
{
	fact_free(&d->kernel.release);
	fact_free(&d->kernel.arch);
	fact_free(&d->kernel.built_cc);
	dk_cc_info_free(&d->kernel.built_by);
	dk_gcc_list_free(d->kernel.gcc, d->kernel.n_gcc);
	free(d->os.source);
	free(d->os.reason);
	dk_osrelease_free(&d->os.osr);
	free(d->dtk.source);
	free(d->dtk.reason);
	free(d->dtk.broken_reason);
	dk_dtk_release_free(&d->dtk.rel);
	for (size_t i = 0; i < d->headers.n; i++) {
		struct dk_header_dir *h = &d->headers.dirs[i];

		free(h->path);
		free(h->resolved);
		free(h->reason);
		free(h->uts_release);
		free(h->uts_reason);
		free(h->config_gcc_version);
		free(h->config_cc_version_text);
	}
	free(d->headers.dirs);
	fact_free(&d->policy.sig_enforce);
	fact_free(&d->policy.lockdown);
	fact_free(&d->policy.secure_boot);
	fact_free(&d->policy.module_unload);
	fact_free(&d->policy.modversions);
	for (size_t i = 0; i < d->devices.n; i++) {
		free(d->devices.v[i].address);
		free(d->devices.v[i].driver);
	}
	free(d->devices.v);
	free(d->devices.source);
	free(d->devices.reason);
	for (size_t i = 0; i < d->modules.n; i++) {
		struct dk_loaded_module *m = &d->modules.v[i];

		free(m->name);
		free(m->state);
		dk_strv_free(m->holders);
		free(m->version);
		free(m->srcversion);
	}
	free(d->modules.v);
	free(d->modules.source);
	free(d->modules.reason);
	free(d->nvidia.source);
	free(d->nvidia.reason);
	dk_nvidia_version_free(&d->nvidia.ver);
	memset(d, 0, sizeof(*d));
	d->headers.selected = -1;
}
