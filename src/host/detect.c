/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/rootfs.h"
#include "host/detect.h"
#include "host/headers.h"
#include "host/hostfs.h"
#include "host/kconfig.h"

/* State of one detection run. Allocation failures latch `oom`; the run then
 * fails with ENOMEM at the end, and every helper tolerates NULL strings. */
struct dk_det {
	const struct dk_ctx *ctx;
	const char *host;
	char *sysfs;
	char *procfs;
	bool oom;
};

/* --- helpers ------------------------------------------------------------ */

static char *dk_det_fmt(struct dk_det *d, const char *fmt, ...) _printf_format_(2, 3);

static char *dk_det_fmt(struct dk_det *d, const char *fmt, ...)
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

static char *dk_det_strdup(struct dk_det *d, const char *s)
{
	char *c;

	if (!s)
		return NULL;
	c = strdup(s);
	if (!c)
		d->oom = true;
	return c;
}

static char *dk_det_errtext(struct dk_det *d, const char *path, int errnum)
{
	return dk_det_fmt(d, "%s: %s", path ? path : "?", strerror(errnum));
}

static int dk_det_read(struct dk_det *d, const char *path, char **buf, size_t *len)
{
	int r;

	if (!path)
		return -ENOMEM;
	r = dk_read_file(path, 16u << 20, buf, len);
	if (r == -ENOMEM)
		d->oom = true;
	return r;
}

static int dk_det_read_line(struct dk_det *d, const char *path, char **line)
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

/* host/policy.c reads it; the selected headers' .config (every one with a
 * .config when none is selected) is one more place for the kernel config. */
static void detect_policy(struct dk_det *d, const char *kver,
			  const struct dk_detect_headers *h, struct dk_kernel_policy *p)
{
	_cleanup_error_ struct dk_error *perr = NULL;
	_cleanup_free_ char **configs = calloc(h->n ? h->n : 1, sizeof(*configs));
	struct dk_kconfig_more more = {
		.configs = (const char *const *)configs,
		.note = h->selected < 0 ? "no matching kernel headers" : NULL,
	};

	if (!configs) {
		d->oom = true;
		return;
	}
	for (size_t i = 0; i < h->n; i++) {
		const struct dk_header_dir *hd = &h->dirs[i];

		if (!hd->has_config || (h->selected >= 0 && (int)i != h->selected))
			continue;
		configs[more.n_configs] = dk_det_fmt(d, "%s/.config", hd->resolved);
		if (configs[more.n_configs])
			more.n_configs++;
	}
	if (dk_kernel_policy_read_more(d->ctx, kver, &more, p, &perr) < 0)
		d->oom = true;
	for (size_t i = 0; i < more.n_configs; i++)
		free(configs[i]);
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
	d.sysfs = dk_host_sysfs(ctx);
	d.procfs = dk_host_procfs(ctx);
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
	if (dk_pci_devices_read(d.sysfs, &out->devices) < 0)
		d.oom = true;
	if (dk_loaded_modules_read(d.procfs, d.sysfs, &out->modules) < 0)
		d.oom = true;
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
	dk_kernel_policy_release(&d->policy);
	dk_pci_devices_free(&d->devices);
	dk_loaded_modules_free(&d->modules);
	free(d->nvidia.source);
	free(d->nvidia.reason);
	dk_nvidia_version_free(&d->nvidia.ver);
	memset(d, 0, sizeof(*d));
	d->headers.selected = -1;
}
