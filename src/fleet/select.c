/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "fleet/jobs.h"
#include "fleet/select.h"

/* How many nearest kernels a no-fit or a build answer names. */
#define NEAREST_KERNELS 3

const char *dk_sel_kind_name(enum dk_sel_kind k)
{
	return k == DK_SEL_PRECOMPILED ? "precompiled" : "build";
}

const char *dk_sel_missing_name(enum dk_sel_missing m)
{
	static const char *const names[] = {"fit",  "os",     "os-version",
					    "arch", "driver", "not-selected"};

	return (size_t)m < ARRAY_SIZE(names) ? names[m] : "unknown";
}

bool dk_sel_is_rhcos(const char *os_id)
{
	return os_id && strcmp(os_id, "rhcos") == 0;
}

const struct dk_mx_osver *dk_sel_find_osver(const struct dk_mx_os *os,
					    const char *version,
					    const char *ostree_version)
{
	for (size_t i = 0; i < os->n_versions; i++) {
		const struct dk_mx_osver *v = &os->versions[i];

		if (dk_sel_is_rhcos(os->id)
			    ? ostree_version && v->ostree_version &&
				      strcmp(v->ostree_version, ostree_version) == 0
			    : version && strcmp(v->version, version) == 0)
			return v;
	}
	return NULL;
}

void dk_selection_free(struct dk_selection *s)
{
	if (!s)
		return;
	free(s->kernel);
	free(s->missing_reason);
	for (size_t i = 0; i < s->n_closest; i++)
		free(s->closest[i]);
	free(s->closest);
	for (size_t i = 0; i < s->n_answers; i++) {
		free(s->answers[i].image);
		free(s->answers[i].reason);
	}
	free(s->answers);
	for (size_t i = 0; i < s->n_skipped; i++)
		free(s->skipped[i].line);
	free(s->skipped);
	free(s);
}

static int oom(struct dk_error **err)
{
	return dk_error_set(err, ENOMEM, "out of memory");
}

/* Appends a formatted line to s->closest. */
static int add_closest(struct dk_selection *s, struct dk_error **err, const char *fmt,
		       ...) _printf_format_(3, 4);
static int add_closest(struct dk_selection *s, struct dk_error **err, const char *fmt,
		       ...)
{
	char **v = realloc(s->closest, (s->n_closest + 2) * sizeof(*v));
	va_list ap;

	if (!v)
		return oom(err);
	s->closest = v;
	va_start(ap, fmt);
	v[s->n_closest] = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	if (!v[s->n_closest])
		return oom(err);
	v[++s->n_closest] = NULL;
	return 0;
}

static int set_missing(struct dk_selection *s, enum dk_sel_missing m,
		       struct dk_error **err, const char *fmt, ...) _printf_format_(4, 5);
static int set_missing(struct dk_selection *s, enum dk_sel_missing m,
		       struct dk_error **err, const char *fmt, ...)
{
	va_list ap;

	s->missing = m;
	va_start(ap, fmt);
	s->missing_reason = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	return s->missing_reason ? 0 : oom(err);
}

/* "debian 12" / "rhcos 4.16 (OSTREE_VERSION 416.94.202407030122-0)" */
static char *osver_name(const struct dk_mx_os *os, const struct dk_mx_osver *v)
{
	if (v->ostree_version)
		return dk_strdup_printf("%s %s (OSTREE_VERSION %s)", os->id, v->version,
					v->ostree_version);
	return dk_strdup_printf("%s %s", os->id, v->version);
}

static size_t common_prefix(const char *a, const char *b)
{
	size_t n = 0;

	while (a[n] && b[n] &&
	       (a[n] == b[n] || (a[n] == '+' && b[n] == '_') ||
		(a[n] == '_' && b[n] == '+')))
		n++;
	return n;
}

/* The kernels of os (only version v when v is not NULL) sharing the longest prefix
 * with kernel, at most NEAREST_KERNELS, in matrix order. */
static int add_nearest_kernels(struct dk_selection *s, const struct dk_mx_os *os,
			       const struct dk_mx_osver *only, const char *kernel,
			       struct dk_error **err)
{
	size_t best = 0, added = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < os->n_versions; i++) {
			const struct dk_mx_osver *v = &os->versions[i];

			if (only && v != only)
				continue;
			for (size_t k = 0; k < v->n_kernels; k++) {
				const struct dk_mx_kernel *kr = &v->kernels[k];
				size_t p = common_prefix(kr->release, kernel);
				_cleanup_free_ char *name = NULL;

				if (pass == 0) {
					best = p > best ? p : best;
					continue;
				}
				if (p != best || best == 0 || added == NEAREST_KERNELS)
					continue;
				name = osver_name(os, v);
				if (!name ||
				    add_closest(s, err,
						"kernel %s (%s) of %s (%s:%zu:%zu)",
						kr->release, kr->arch, name, kr->pos.file,
						kr->pos.line, kr->pos.column) < 0)
					return name ? -ENOMEM : oom(err);
				added++;
			}
		}
	return 0;
}

static const struct dk_mx_os *find_os(const struct dk_matrix *m, const char *id)
{
	for (size_t i = 0; i < m->n_oses; i++)
		if (strcmp(m->oses[i].id, id) == 0)
			return &m->oses[i];
	return NULL;
}

static const struct dk_mx_driver *find_driver(const struct dk_matrix *m, const char *name)
{
	for (size_t i = 0; i < m->n_drivers; i++)
		if (strcmp(m->drivers[i].name, name) == 0)
			return &m->drivers[i];
	return NULL;
}

static const struct dk_mx_branch *find_branch(const struct dk_mx_driver *d, const char *b)
{
	for (size_t i = 0; i < d->n_branches; i++)
		if (strcmp(d->branches[i].branch, b) == 0)
			return &d->branches[i];
	return NULL;
}

static bool osver_builds_arch(const struct dk_mx_osver *v, const char *arch)
{
	for (size_t k = 0; k < v->n_kernels; k++)
		if (strcmp(v->kernels[k].arch, arch) == 0)
			return true;
	return false;
}

/* No fit at the OS or OS version level: reason and closest entries. */
static int no_os(struct dk_selection *s, const struct dk_matrix *m,
		 const struct dk_node_facts *node, struct dk_error **err)
{
	if (set_missing(s, DK_SEL_NO_OS, err, "OS %s is in no file of the matrix %s",
			node->os_id, m->dir) < 0)
		return -ENOMEM;
	for (size_t i = 0; i < m->n_oses; i++)
		if (add_closest(s, err, "OS %s (%s:%zu:%zu)", m->oses[i].id,
				m->oses[i].pos.file, m->oses[i].pos.line,
				m->oses[i].pos.column) < 0)
			return -ENOMEM;
	return 0;
}

static int no_osver(struct dk_selection *s, const struct dk_mx_os *os,
		    const struct dk_node_facts *node, struct dk_error **err)
{
	int r;

	if (dk_sel_is_rhcos(os->id))
		r = set_missing(
			s, DK_SEL_NO_OSVER, err,
			"rhcos with OSTREE_VERSION %s (VERSION_ID %s) is not in the "
			"matrix: no Driver Toolkit image is known for it",
			node->ostree_version ? node->ostree_version : "(none)",
			node->os_version);
	else
		r = set_missing(s, DK_SEL_NO_OSVER, err, "%s %s is not in the matrix",
				os->id, node->os_version);
	if (r < 0)
		return r;
	for (size_t i = 0; i < os->n_versions; i++) {
		const struct dk_mx_osver *v = &os->versions[i];
		_cleanup_free_ char *name = osver_name(os, v);

		if (!name || add_closest(s, err, "%s (%s:%zu:%zu)", name, v->pos.file,
					 v->pos.line, v->pos.column) < 0)
			return name ? -ENOMEM : oom(err);
	}
	return add_nearest_kernels(s, os, NULL, s->kernel, err);
}

static int no_arch(struct dk_selection *s, const struct dk_mx_os *os,
		   const struct dk_mx_osver *v, const struct dk_node_facts *node,
		   struct dk_error **err)
{
	_cleanup_free_ char *name = osver_name(os, v);

	if (!name ||
	    set_missing(s, DK_SEL_NO_ARCH, err,
			"%s (%s:%zu:%zu) lists no %s kernel: no image is built for "
			"%s (arch from %s)",
			name, v->pos.file, v->pos.line, v->pos.column, node->arch,
			node->arch, node->arch_from ? node->arch_from : "?") < 0)
		return name ? -ENOMEM : oom(err);
	for (size_t k = 0; k < v->n_kernels; k++) {
		const struct dk_mx_kernel *kr = &v->kernels[k];

		if (add_closest(s, err, "kernel %s (%s) (%s:%zu:%zu)", kr->release,
				kr->arch, kr->pos.file, kr->pos.line, kr->pos.column) < 0)
			return -ENOMEM;
	}
	return 0;
}

/* The matrix's entry for kernel on arch in v, else NULL; *other_arch set when the
 * release is listed for another arch only. */
static const struct dk_mx_kernel *find_kernel(const struct dk_mx_osver *v,
					      const char *kernel, const char *arch,
					      const struct dk_mx_kernel **other_arch)
{
	*other_arch = NULL;
	for (size_t k = 0; k < v->n_kernels; k++) {
		const struct dk_mx_kernel *kr = &v->kernels[k];

		if (!dk_label_kernel_equal(kr->release, kernel))
			continue;
		if (strcmp(kr->arch, arch) == 0)
			return kr;
		*other_arch = kr;
	}
	return NULL;
}

static char *build_reason(const struct dk_selection *s, const struct dk_mx_os *os,
			  const struct dk_mx_osver *v, const struct dk_mx_kernel *other,
			  const char *arch)
{
	_cleanup_strbuf_ struct strbuf b;
	_cleanup_free_ char *name = osver_name(os, v);

	strbuf_init(&b);
	if (!name)
		return NULL;
	strbuf_printf(&b, "kernel %s is not listed for %s (%s:%zu:%zu)", s->kernel, name,
		      v->pos.file, v->pos.line, v->pos.column);
	if (other)
		strbuf_printf(&b, " for %s (only for %s, %s:%zu:%zu)", arch, other->arch,
			      other->pos.file, other->pos.line, other->pos.column);
	strbuf_puts(&b, ": build image, which compiles the modules on the node at start");
	if (dk_sel_is_rhcos(os->id))
		strbuf_printf(
			&b, "; built on the Driver Toolkit of OSTREE_VERSION %s (%s)",
			v->ostree_version,
			v->dtk_image ? v->dtk_image : "dtk_image not filled in yet");
	return strbuf_steal(&b);
}

/* The image job of (v, d, b, arch) that runs kernel kr (NULL: the build image). */
static const struct dk_job *find_job(const struct dk_jobs *js,
				     const struct dk_mx_osver *v,
				     const struct dk_mx_driver *d,
				     const struct dk_mx_branch *b, const char *arch,
				     const struct dk_mx_kernel *kr)
{
	for (size_t i = 0; i < js->n_jobs; i++) {
		const struct dk_job *j = &js->jobs[i];

		if (j->osver == v && j->driver == d && j->branch == b &&
		    streq(j->arch, arch) &&
		    j->kind == (kr ? DK_JOB_PRECOMPILED : DK_JOB_BUILD) &&
		    j->kernel == kr)
			return j;
	}
	return NULL;
}

/* One (driver, branch) answer; its image is the ref of the job `drvkit matrix` builds
 * (js), so select and the image builds never disagree on a tag. */
static int answer(struct dk_selection *s, const struct dk_matrix *m,
		  const struct dk_jobs *js, const struct dk_mx_os *os,
		  const struct dk_mx_osver *v, const struct dk_mx_use *use,
		  const char *branch, const struct dk_node_facts *node,
		  struct dk_error **err)
{
	const char *arch = node->arch;
	const struct dk_mx_driver *d = find_driver(m, use->driver);
	const struct dk_mx_branch *b = d ? find_branch(d, branch) : NULL;
	const struct dk_mx_kernel *other = NULL;
	const struct dk_mx_kernel *kr = find_kernel(v, s->kernel, arch, &other);
	const struct dk_job *j = find_job(js, v, d, b, arch, kr);
	struct dk_sel_answer *a;

	if (!d || !b) /* dk_matrix_load refuses a use of an undefined driver/branch */
		return dk_error_set(err, EINVAL,
				    "%s:%zu:%zu: driver %s branch %s is not defined",
				    use->pos.file, use->pos.line, use->pos.column,
				    use->driver, branch);
	if (!j) /* dk_jobs_expand makes one per (use, branch, arch[, kernel]) */
		return dk_error_set(err, EINVAL,
				    "%s:%zu:%zu: no image job for driver %s branch %s "
				    "(%s)",
				    use->pos.file, use->pos.line, use->pos.column,
				    use->driver, branch, arch);
	a = realloc(s->answers, (s->n_answers + 1) * sizeof(*a));
	if (!a)
		return oom(err);
	s->answers = a;
	a = &s->answers[s->n_answers++];
	*a = (struct dk_sel_answer){d, b, kr ? DK_SEL_PRECOMPILED : DK_SEL_BUILD, kr};
	a->image = strdup(j->image);
	if (kr) {
		_cleanup_free_ char *name = osver_name(os, v);

		a->reason =
			name ? dk_strdup_printf("kernel %s (%s) is listed for %s "
						"(%s:%zu:%zu): precompiled image",
						kr->release, kr->arch, name, kr->pos.file,
						kr->pos.line, kr->pos.column)
			     : NULL;
	} else {
		a->reason = build_reason(s, os, v, other, arch);
	}
	if (a->reason && d->n_node_selector && !node->has_labels) {
		char *r = dk_strdup_printf(
			"%s; node_selector not checked: facts from detection", a->reason);

		free(a->reason);
		a->reason = r;
	}
	return a->image && a->reason ? 0 : oom(err);
}

/* Whether driver d (of use) runs on node: its node_selector's labels all carried with
 * their values; else the first that is not goes to s->skipped (once per driver) and
 * false. Facts without labels (detection) pass unchecked. */
static int node_selected(struct dk_selection *s, const struct dk_matrix *m,
			 const struct dk_mx_use *use, const struct dk_node_facts *node,
			 bool *selected, struct dk_error **err)
{
	const struct dk_mx_driver *d = find_driver(m, use->driver);
	struct dk_sel_skip *v;

	*selected = true;
	if (!d || !node->has_labels)
		return 0;
	for (size_t i = 0; i < d->n_node_selector; i++) {
		const struct dk_mx_label *l = &d->node_selector[i];
		const char *has = dk_node_facts_label(node, l->key);

		if (has && streq(has, l->value))
			continue;
		*selected = false;
		for (size_t k = 0; k < s->n_skipped; k++)
			if (s->skipped[k].driver == d)
				return 0;
		v = realloc(s->skipped, (s->n_skipped + 1) * sizeof(*v));
		if (!v)
			return oom(err);
		s->skipped = v;
		v = &v[s->n_skipped];
		*v = (struct dk_sel_skip){d, l->key, l->value, has};
		v->line = dk_strdup_printf("needs %s=%s (the node: %s%s%s)", l->key,
					   l->value[0] ? l->value : "\"\"",
					   has ? "" : "missing", has ? has : "",
					   has && !has[0] ? "\"\"" : "");
		if (!v->line)
			return oom(err);
		s->n_skipped++;
		return 0;
	}
	return 0;
}

/* Every driver the node would run has a node_selector it does not match. */
static int not_selected(struct dk_selection *s, struct dk_error **err)
{
	_cleanup_strbuf_ struct strbuf b;

	strbuf_init(&b);
	strbuf_puts(&b, "no driver of the matrix runs on this node: ");
	for (size_t i = 0; i < s->n_skipped; i++)
		strbuf_printf(&b, "%s%s %s", i ? "; " : "", s->skipped[i].driver->name,
			      s->skipped[i].line);
	s->missing = DK_SEL_NOT_SELECTED;
	s->missing_reason = strbuf_steal(&b);
	return s->missing_reason ? 0 : oom(err);
}

static int answers(struct dk_selection *s, const struct dk_matrix *m,
		   const struct dk_mx_os *os, const struct dk_mx_osver *v,
		   const struct dk_node_facts *node, const struct dk_sel_opts *o,
		   struct dk_error **err)
{
	const struct dk_jobs_filter f = {
		.os = os->id, .driver = o->driver, .per_version = true};
	_cleanup_jobs_ struct dk_jobs *js = NULL;
	bool any_build = false;
	int r;

	r = dk_jobs_expand(m, o->registry, &f, &js, err);
	if (r < 0)
		return r;

	for (size_t u = 0; u < v->n_uses; u++) {
		const struct dk_mx_use *use = &v->uses[u];

		bool selected;

		if (o->driver && strcmp(o->driver, use->driver) != 0)
			continue;
		r = node_selected(s, m, use, node, &selected, err);
		if (r < 0)
			return r;
		for (size_t i = 0; selected && i < use->n_branches; i++) {
			if (o->branch && strcmp(o->branch, use->branches[i]) != 0)
				continue;
			r = answer(s, m, js, os, v, use, use->branches[i], node, err);
			if (r < 0)
				return r;
			any_build |= s->answers[s->n_answers - 1].kind == DK_SEL_BUILD;
		}
	}
	if (s->n_answers == 0 && s->n_skipped > 0)
		return not_selected(s, err);
	if (s->n_answers == 0) {
		_cleanup_free_ char *name = osver_name(os, v);

		if (!name || set_missing(s, DK_SEL_NO_DRIVER, err,
					 "%s (%s:%zu:%zu) builds no driver%s%s%s%s", name,
					 v->pos.file, v->pos.line, v->pos.column,
					 o->driver ? " " : "", o->driver ? o->driver : "",
					 o->branch ? " branch " : "",
					 o->branch ? o->branch : "") < 0)
			return name ? -ENOMEM : oom(err);
		for (size_t u = 0; u < v->n_uses; u++)
			for (size_t i = 0; i < v->uses[u].n_branches; i++)
				if (add_closest(s, err,
						"driver %s branch %s (%s:%zu:%zu)",
						v->uses[u].driver, v->uses[u].branches[i],
						v->uses[u].pos.file, v->uses[u].pos.line,
						v->uses[u].pos.column) < 0)
					return -ENOMEM;
		return 0;
	}
	return any_build ? add_nearest_kernels(s, os, v, s->kernel, err) : 0;
}

int dk_select(const struct dk_matrix *m, const struct dk_node_facts *node,
	      const struct dk_sel_opts *opts, struct dk_selection **out,
	      struct dk_error **err)
{
	_cleanup_selection_ struct dk_selection *s = NULL;
	const struct dk_sel_opts none = {0};
	const struct dk_sel_opts *o = opts ? opts : &none;
	int r;

	*out = NULL;
	r = dk_node_facts_check(node, o->pending_kernel != NULL, err);
	if (r < 0)
		return r;
	s = calloc(1, sizeof(*s));
	if (!s)
		return oom(err);
	s->pending = o->pending_kernel != NULL;
	s->kernel = strdup(s->pending ? o->pending_kernel : node->kernel);
	if (!s->kernel)
		return oom(err);
	s->os = find_os(m, node->os_id);
	if (!s->os)
		r = no_os(s, m, node, err);
	else if (!(s->osver = dk_sel_find_osver(s->os, node->os_version,
						node->ostree_version)))
		r = no_osver(s, s->os, node, err);
	else if (!osver_builds_arch(s->osver, node->arch))
		r = no_arch(s, s->os, s->osver, node, err);
	else
		r = answers(s, m, s->os, s->osver, node, o, err);
	if (r < 0)
		return r;
	*out = TAKE_PTR(s);
	return 0;
}
