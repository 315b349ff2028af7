/* SPDX-License-Identifier: Apache-2.0 */
/* The matrix's checks beyond one key (an OS or kernel given twice, a driver no file
 * defines), image tags and arch names. */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "fleet/matrix-internal.h"

static int mx_fail(struct dk_error **err, const struct dk_mx_pos *p, const char *fmt, ...)
	_printf_format_(3, 4);
static int mx_fail(struct dk_error **err, const struct dk_mx_pos *p, const char *fmt, ...)
{
	_cleanup_free_ char *msg = NULL;
	va_list ap;

	va_start(ap, fmt);
	msg = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!msg)
		return dk_error_set(err, ENOMEM, "out of memory");
	return dk_error_set(err, EBADMSG, "%s:%zu:%zu: %s", p->file, p->line, p->column,
			    msg);
}

static int check_kernels(struct dk_error **err, const struct dk_mx_os *os, size_t vi)
{
	const struct dk_mx_osver *v = &os->versions[vi];
	bool dtk_ok = streq(os->id, "rhcos") || v->dtk_pos.line > 0;

	for (size_t i = 0; i < v->n_kernels; i++) {
		const struct dk_mx_kernel *k = &v->kernels[i];

		if (k->headers == DK_MX_HEADERS_DTK && !dtk_ok)
			return mx_fail(
				err, &k->pos,
				"os.versions[%zu].kernels[%zu].headers: dtk (the Driver "
				"Toolkit image) is for rhcos or a version with "
				"dtk_image:; %s %s gets its headers from packages: or "
				"installed",
				vi, i, os->id, v->version);
		for (size_t j = 0; j < i; j++)
			if (streq(v->kernels[j].release, k->release) &&
			    streq(v->kernels[j].arch, k->arch))
				return mx_fail(
					err, &k->pos,
					"os.versions[%zu].kernels[%zu]: kernel %s (%s) "
					"is listed twice in %s %s (first at %s:%zu:%zu)",
					vi, i, k->release, k->arch, os->id, v->version,
					v->kernels[j].pos.file, v->kernels[j].pos.line,
					v->kernels[j].pos.column);
	}
	return 0;
}

int dk_mx_check_os(struct dk_yaml_walk *w, const struct dk_mx_os *os)
{
	bool rhcos = streq(os->id, "rhcos");

	for (size_t i = 0; i < os->n_versions; i++) {
		const struct dk_mx_osver *v = &os->versions[i];
		int r;

		if (rhcos && !v->ostree_version)
			return mx_fail(
				w->err, &v->pos,
				"os.versions[%zu]: rhcos %s needs ostree_version: the "
				"nodes' OSTREE_VERSION (NFD label "
				"feature.node.kubernetes.io/"
				"system-os_release.OSTREE_VERSION, e.g. "
				"416.94.202407030122-0)",
				i, v->version);
		for (size_t j = 0; j < i; j++) {
			const struct dk_mx_osver *o = &os->versions[j];

			if (streq(o->version, v->version))
				return mx_fail(
					w->err, &v->pos,
					"os.versions[%zu]: %s %s is listed twice (first "
					"at %s:%zu:%zu)",
					i, os->id, v->version, o->pos.file, o->pos.line,
					o->pos.column);
			if (o->ostree_version && v->ostree_version &&
			    streq(o->ostree_version, v->ostree_version))
				return mx_fail(
					w->err, &v->pos,
					"os.versions[%zu]: ostree_version %s is also "
					"the one of %s %s (%s:%zu:%zu)",
					i, v->ostree_version, os->id, o->version,
					o->pos.file, o->pos.line, o->pos.column);
		}
		r = check_kernels(w->err, os, i);
		if (r < 0)
			return r;
	}
	return 0;
}

static int cmp_pos(const struct dk_mx_pos *a, const struct dk_mx_pos *b)
{
	int c = strcmp(a->file, b->file);

	if (c)
		return c;
	return a->line < b->line ? -1 : a->line > b->line;
}

static int cmp_os(const void *a, const void *b)
{
	const struct dk_mx_os *x = a, *y = b;
	int c = strcmp(x->id, y->id);

	return c ? c : cmp_pos(&x->pos, &y->pos);
}

static int cmp_driver(const void *a, const void *b)
{
	const struct dk_mx_driver *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	return c ? c : cmp_pos(&x->pos, &y->pos);
}

const struct dk_mx_driver *dk_mx_driver_find(const struct dk_matrix *m, const char *name)
{
	for (size_t i = 0; i < m->n_drivers; i++)
		if (streq(m->drivers[i].name, name))
			return &m->drivers[i];
	return NULL;
}

static int check_use(struct dk_error **err, const struct dk_matrix *m,
		     const struct dk_mx_osver *v, size_t vi, size_t ui)
{
	const struct dk_mx_use *u = &v->uses[ui];
	const struct dk_mx_driver *d = dk_mx_driver_find(m, u->driver);
	_cleanup_strbuf_ struct strbuf known;

	strbuf_init(&known);
	for (size_t j = 0; j < ui; j++)
		if (streq(v->uses[j].driver, u->driver))
			return mx_fail(
				err, &u->pos,
				"os.versions[%zu].drivers[%zu]: driver %s is listed "
				"twice (first at line %zu); give all its branches in "
				"one entry",
				vi, ui, u->driver, v->uses[j].pos.line);
	if (!d) {
		for (size_t j = 0; j < m->n_drivers; j++)
			strbuf_printf(&known, "%s%s", j ? ", " : "", m->drivers[j].name);
		return mx_fail(
			err, &u->pos,
			"os.versions[%zu].drivers[%zu].name: no file of the matrix "
			"defines driver '%s' (defined: %s); add it under drivers: "
			"(usually drivers.yaml)",
			vi, ui, u->driver, m->n_drivers ? strbuf_str(&known) : "none");
	}
	for (size_t b = 0; b < u->n_branches; b++) {
		bool found = false;

		for (size_t j = 0; j < d->n_branches && !found; j++)
			found = streq(d->branches[j].branch, u->branches[b]);
		if (found)
			continue;
		for (size_t j = 0; j < d->n_branches; j++)
			strbuf_printf(&known, "%s%s", j ? ", " : "",
				      d->branches[j].branch);
		return mx_fail(
			err, &u->pos,
			"os.versions[%zu].drivers[%zu].branches[%zu]: driver %s has "
			"no branch '%s' (its branches: %s; defined at %s:%zu:%zu)",
			vi, ui, b, d->name, u->branches[b], strbuf_str(&known),
			d->pos.file, d->pos.line, d->pos.column);
	}
	return 0;
}

/* The index of m->drivers[i] in its file's drivers: list, for "drivers[N]". */
static size_t driver_index(const struct dk_matrix *m, const struct dk_mx_driver *d)
{
	size_t n = 0;

	for (size_t i = 0; i < m->n_drivers; i++)
		if (m->drivers[i].pos.file == d->pos.file &&
		    m->drivers[i].pos.line < d->pos.line)
			n++;
	return n;
}

int dk_mx_check_matrix(struct dk_matrix *m, struct dk_error **err)
{
	if (m->n_oses)
		qsort(m->oses, m->n_oses, sizeof(*m->oses), cmp_os);
	if (m->n_drivers)
		qsort(m->drivers, m->n_drivers, sizeof(*m->drivers), cmp_driver);
	for (size_t i = 1; i < m->n_oses; i++)
		if (streq(m->oses[i - 1].id, m->oses[i].id))
			return mx_fail(
				err, &m->oses[i].pos,
				"os: OS %s is also defined in %s:%zu:%zu; keep one "
				"file per OS and list all its versions there",
				m->oses[i].id, m->oses[i - 1].pos.file,
				m->oses[i - 1].pos.line, m->oses[i - 1].pos.column);
	for (size_t i = 1; i < m->n_drivers; i++)
		if (streq(m->drivers[i - 1].name, m->drivers[i].name))
			return mx_fail(err, &m->drivers[i].pos,
				       "drivers[%zu]: driver %s is also defined at "
				       "%s:%zu:%zu; define each driver once",
				       driver_index(m, &m->drivers[i]),
				       m->drivers[i].name, m->drivers[i - 1].pos.file,
				       m->drivers[i - 1].pos.line,
				       m->drivers[i - 1].pos.column);
	for (size_t i = 0; i < m->n_oses; i++)
		for (size_t j = 0; j < m->oses[i].n_versions; j++)
			for (size_t u = 0; u < m->oses[i].versions[j].n_uses; u++) {
				int r = check_use(err, m, &m->oses[i].versions[j], j, u);

				if (r < 0)
					return r;
			}
	return 0;
}

/* ---- tags ---- */

static char *tag_sanitise(char *s)
{
	if (!s)
		return NULL;
	for (char *p = s; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '_' || *p == '.' || *p == '-'))
			*p = '_';
	return s;
}

char *dk_mx_os_tag(const char *id, const char *version)
{
	static const char *const major_only[] = {"rhel", "rocky", "ol", "centos",
						 "almalinux"};
	size_t len = strlen(version);

	if (dk_strv_contains(major_only, ARRAY_SIZE(major_only), id))
		len = strcspn(version, ".");
	else if (streq(id, "rhcos")) {
		const char *dot = strchr(version, '.');

		if (dot)
			len = (size_t)(dot - version) + 1 + strcspn(dot + 1, ".");
	}
	return tag_sanitise(dk_strdup_printf("%s%.*s", id, (int)len, version));
}

char *dk_mx_precompiled_tag(const char *branch, const char *kernel, const char *ostag)
{
	return tag_sanitise(dk_strdup_printf("%s-%s-%s", branch, kernel, ostag));
}

char *dk_mx_build_tag(const char *driver_version, const char *ostag)
{
	return tag_sanitise(dk_strdup_printf("%s-%s", driver_version, ostag));
}

const char *dk_mx_arch_normalise(const char *arch)
{
	if (streq(arch, "amd64") || streq(arch, "x86_64"))
		return "amd64";
	if (streq(arch, "arm64") || streq(arch, "aarch64"))
		return "arm64";
	return NULL;
}

const char *dk_mx_headers_name(enum dk_mx_headers h)
{
	static const char *const names[] = {
		[DK_MX_HEADERS_PACKAGES] = "packages",
		[DK_MX_HEADERS_INSTALLED] = "installed",
		[DK_MX_HEADERS_DTK] = "dtk",
	};

	return (unsigned)h < ARRAY_SIZE(names) ? names[h] : "?";
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

int dk_mx_version_cmp(const char *a, const char *b)
{
	while (*a && *b) {
		if (is_digit(*a) && is_digit(*b)) {
			size_t la, lb;

			while (*a == '0' && is_digit(a[1]))
				a++;
			while (*b == '0' && is_digit(b[1]))
				b++;
			for (la = 0; is_digit(a[la]); la++)
				;
			for (lb = 0; is_digit(b[lb]); lb++)
				;
			if (la != lb)
				return la < lb ? -1 : 1;
			for (size_t i = 0; i < la; i++)
				if (a[i] != b[i])
					return a[i] < b[i] ? -1 : 1;
			a += la;
			b += lb;
			continue;
		}
		if (*a != *b)
			return (unsigned char)*a < (unsigned char)*b ? -1 : 1;
		a++, b++;
	}
	return *a ? 1 : *b ? -1 : 0;
}
