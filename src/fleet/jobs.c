/* SPDX-License-Identifier: Apache-2.0 */
/* The matrix expanded into image builds, and the JSON and TSV renderings. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "fleet/jobs.h"

/* Which Dockerfile builds an OS's build image, and its default base image. */
struct os_family {
	const char *id;
	const char *dockerfile;
	const char *base;    /* NULL: the DTK image */
	bool append_version; /* base + VERSION_ID ("debian:" "12") */
};

/* The RHEL family's images are tagged by major version only (rhel9), so every 9.x of
 * the matrix shares one build image: its base is UBI 9 itself, not a minor's. */
#define UBI9 "registry.access.redhat.com/ubi9/ubi:latest"
static const struct os_family families[] = {
	{"debian", "dockerfiles/debian.Dockerfile", "debian:", true},
	{"ubuntu", "dockerfiles/ubuntu.Dockerfile", "ubuntu:", true},
	{"rhel", "dockerfiles/ubi9.Dockerfile", UBI9, false},
	{"rocky", "dockerfiles/ubi9.Dockerfile", UBI9, false},
	{"almalinux", "dockerfiles/ubi9.Dockerfile", UBI9, false},
	{"ol", "dockerfiles/ubi9.Dockerfile", UBI9, false},
	{"centos", "dockerfiles/ubi9.Dockerfile", UBI9, false},
	{"rhcos", "dockerfiles/openshift.Dockerfile", NULL, false},
};

#define PRECOMPILED_DOCKERFILE "dockerfiles/precompiled.Dockerfile"

static const struct os_family *
family_of(const struct dk_mx_os *os, const struct dk_mx_osver *v, struct dk_error **err)
{
	bool ubi = false;

	for (size_t i = 0; i < ARRAY_SIZE(families); i++) {
		if (!streq(families[i].id, os->id))
			continue;
		ubi = strstr(families[i].dockerfile, "ubi9") != NULL;
		if (ubi &&
		    (v->version[0] != '9' || (v->version[1] && v->version[1] != '.'))) {
			dk_error_set(
				err, EBADMSG,
				"%s:%zu:%zu: os.versions: %s %s: drvkit's images cover "
				"major version 9 of the RHEL family only "
				"(dockerfiles/ubi9.Dockerfile); remove this version or "
				"add "
				"a Dockerfile for it",
				v->pos.file, v->pos.line, v->pos.column, os->id,
				v->version);
			return NULL;
		}
		return &families[i];
	}
	dk_error_set(
		err, EBADMSG,
		"%s:%zu:%zu: os.id: drvkit has no Dockerfile for OS '%s' (it builds "
		"images for debian, ubuntu, rhel, rocky, almalinux, ol, centos 9 and "
		"rhcos)",
		os->pos.file, os->pos.line, os->pos.column, os->id);
	return NULL;
}

static int add_arg(struct dk_job *j, const char *name, const char *value)
{
	char *v = strdup(value ? value : "");

	if (!v || j->n_args >= DK_JOB_MAX_ARGS) {
		free(v);
		return -ENOMEM;
	}
	j->args[j->n_args++] = (struct dk_job_arg){name, v};
	return 0;
}

/* add_arg taking value (NULL: out of memory). */
static int add_arg_owned(struct dk_job *j, const char *name, char *value)
{
	_cleanup_free_ char *v = value;

	return v ? add_arg(j, name, v) : -ENOMEM;
}

const char *dk_job_arg(const struct dk_job *j, const char *name)
{
	for (size_t i = 0; i < j->n_args; i++)
		if (streq(j->args[i].name, name))
			return j->args[i].value;
	return NULL;
}

const char *dk_job_kind_name(enum dk_job_kind k)
{
	return k == DK_JOB_BUILD ? "build" : "precompiled";
}

static char *image_ref(const char *registry, const char *image, const char *tag)
{
	size_t rl = registry ? strlen(registry) : 0;

	while (rl > 0 && registry[rl - 1] == '/')
		rl--;
	if (rl == 0)
		return dk_strdup_printf("%s:%s", image, tag);
	return dk_strdup_printf("%.*s/%s:%s", (int)rl, registry, image, tag);
}

/* The build args both kinds share, after the kind's own. */
static int common_args(struct dk_job *j, const char *base)
{
	int r = 0;

	r |= add_arg(j, "BASE_IMAGE", base);
	r |= add_arg(j, "DRIVER_NAME", j->driver->name);
	r |= add_arg(j, "DRIVER_VERSION", j->branch->version);
	r |= add_arg(j, "DRIVER_BRANCH", j->branch->branch);
	r |= add_arg_owned(j, "DRVKIT_CONFIG", dk_mx_driver_config(j->driver, j->arch));
	return r;
}

static int headers_arg(struct dk_job *j)
{
	_cleanup_strbuf_ struct strbuf b;

	strbuf_init(&b);
	for (size_t i = 0; i < j->kernel->n_packages; i++)
		strbuf_printf(&b, "%s%s#sha256=%s", i ? " " : "",
			      j->kernel->packages[i].url, j->kernel->packages[i].sha256);
	return add_arg(j, "HEADERS", strbuf_str(&b));
}

struct expand {
	const struct dk_matrix *m;
	const char *registry;
	struct dk_jobs *jobs;
	size_t cap;
};

static struct dk_job *new_job(struct expand *x, const struct dk_job *proto)
{
	struct dk_jobs *js = x->jobs;

	if (js->n_jobs == x->cap) {
		size_t cap = x->cap ? 2 * x->cap : 32;
		struct dk_job *p = realloc(js->jobs, cap * sizeof(*p));

		if (!p)
			return NULL;
		js->jobs = p;
		x->cap = cap;
	}
	js->jobs[js->n_jobs] = *proto;
	return &js->jobs[js->n_jobs++];
}

static int add_build(struct expand *x, const struct dk_job *proto, const char *base,
		     const char *ostag)
{
	struct dk_job *b = new_job(x, proto);

	if (!b)
		return -ENOMEM;
	b->kind = DK_JOB_BUILD;
	b->tag = dk_mx_build_tag(b->branch->version, ostag);
	b->image = b->tag ? image_ref(x->registry, b->driver->image, b->tag) : NULL;
	if (!b->image || common_args(b, base) < 0)
		return -ENOMEM;
	if (streq(b->os->id, "rhcos") && add_arg(b, "DTK_IMAGE", b->osver->dtk_image) < 0)
		return -ENOMEM;
	return 0;
}

static int add_precompiled(struct expand *x, const struct dk_job *proto,
			   const struct dk_mx_kernel *kn, const char *base,
			   const char *ostag)
{
	_cleanup_free_ char *btag = dk_mx_build_tag(proto->branch->version, ostag);
	_cleanup_free_ char *bref =
		btag ? image_ref(x->registry, proto->driver->image, btag) : NULL;
	struct dk_job *p = bref ? new_job(x, proto) : NULL;
	int r = 0;

	if (!p)
		return -ENOMEM;
	p->kind = DK_JOB_PRECOMPILED;
	p->kernel = kn;
	p->dockerfile = PRECOMPILED_DOCKERFILE;
	p->tag = dk_mx_precompiled_tag(p->branch->branch, kn->release, ostag);
	p->image = p->tag ? image_ref(x->registry, p->driver->image, p->tag) : NULL;
	if (!p->image)
		return -ENOMEM;
	r |= add_arg(p, "BUILD_IMAGE", bref);
	r |= add_arg(p, "BASE_IMAGE", base);
	r |= add_arg(p, "KERNEL", kn->release);
	r |= headers_arg(p);
	r |= add_arg(p, "HEADERS_FROM", dk_mx_headers_name(kn->headers));
	r |= add_arg(p, "DRIVER_NAME", p->driver->name);
	r |= add_arg(p, "DRIVER_VERSION", p->branch->version);
	r |= add_arg(p, "DRIVER_BRANCH", p->branch->branch);
	r |= add_arg_owned(p, "DRVKIT_CONFIG", dk_mx_driver_config(p->driver, p->arch));
	return r < 0 ? -ENOMEM : 0;
}

/* The arches of v's kernels (amd64 when it lists none). */
static size_t arches_of(const struct dk_mx_osver *v, const char *out[2])
{
	static const char *const all[] = {"amd64", "arm64"};
	size_t n = 0;

	for (size_t a = 0; a < ARRAY_SIZE(all); a++)
		for (size_t k = 0; k < v->n_kernels; k++)
			if (streq(v->kernels[k].arch, all[a])) {
				out[n++] = all[a];
				break;
			}
	if (n == 0)
		out[n++] = all[0];
	return n;
}

static char *base_image_of(const struct os_family *fam, const struct dk_mx_osver *v)
{
	if (v->base_image)
		return strdup(v->base_image);
	if (fam->base)
		return dk_strdup_printf("%s%s", fam->base,
					fam->append_version ? v->version : "");
	return strdup(v->dtk_image ? v->dtk_image : "");
}

static int expand_use(struct expand *x, struct dk_job *proto, const struct dk_mx_use *u,
		      const char *base, const char *ostag, const struct dk_jobs_filter *f)
{
	const char *arches[2];
	size_t n_arches = arches_of(proto->osver, arches);

	proto->driver = dk_mx_driver_find(x->m, u->driver);
	if (!proto->driver || (f->driver && !streq(f->driver, u->driver)))
		return 0; /* dk_matrix_load checked every use */
	for (size_t b = 0; b < u->n_branches; b++) {
		proto->branch = NULL;
		for (size_t i = 0; i < proto->driver->n_branches; i++)
			if (streq(proto->driver->branches[i].branch, u->branches[b]))
				proto->branch = &proto->driver->branches[i];
		if (!proto->branch)
			continue;
		for (size_t a = 0; a < n_arches; a++) {
			int r;

			proto->arch = arches[a];
			r = f->no_build ? 0 : add_build(x, proto, base, ostag);
			for (size_t k = 0;
			     r >= 0 && !f->no_precompiled && k < proto->osver->n_kernels;
			     k++)
				if (streq(proto->osver->kernels[k].arch, arches[a]))
					r = add_precompiled(x, proto,
							    &proto->osver->kernels[k],
							    base, ostag);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int expand_osver(struct expand *x, const struct dk_mx_os *os,
			const struct dk_mx_osver *v, const struct dk_jobs_filter *f,
			struct dk_error **err)
{
	const struct os_family *fam = family_of(os, v, err);
	_cleanup_free_ char *ostag = NULL, *base = NULL;
	struct dk_job proto = {.os = os, .osver = v};

	if (!fam)
		return -EBADMSG;
	proto.dockerfile = fam->dockerfile;
	ostag = dk_mx_os_tag(os->id, v->version);
	base = base_image_of(fam, v);
	if (!ostag || !base)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t u = 0; u < v->n_uses; u++)
		if (expand_use(x, &proto, &v->uses[u], base, ostag, f) < 0)
			return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

static int cmp_job(const void *a, const void *b)
{
	const struct dk_job *x = a, *y = b;
	int c;

	if (x->kind != y->kind)
		return x->kind == DK_JOB_BUILD ? -1 : 1;
	if ((c = strcmp(x->os->id, y->os->id)))
		return c;
	if ((c = dk_mx_version_cmp(x->osver->version, y->osver->version)))
		return c;
	if ((c = strcmp(x->driver->name, y->driver->name)))
		return c;
	if ((c = dk_mx_version_cmp(x->branch->branch, y->branch->branch)))
		return c;
	if ((c = strcmp(x->arch, y->arch)))
		return c;
	if (x->kernel && y->kernel)
		return dk_mx_version_cmp(x->kernel->release, y->kernel->release);
	return 0;
}

static void job_release(struct dk_job *j)
{
	for (size_t a = 0; a < j->n_args; a++)
		free(j->args[a].value);
	free(j->tag);
	free(j->image);
}

static bool same_args(const struct dk_job *a, const struct dk_job *b)
{
	if (a->n_args != b->n_args || !streq(a->dockerfile, b->dockerfile))
		return false;
	for (size_t i = 0; i < a->n_args; i++)
		if (!streq(a->args[i].name, b->args[i].name) ||
		    !streq(a->args[i].value, b->args[i].value))
			return false;
	return true;
}

/* Two OS versions can make one image: the RHEL family's tags carry the major version
 * only, so 9.4 and 9.6 both make driver:535.261.03-rhel9. Built from the same
 * arguments it is one job; from different ones the registry could hold only one of
 * them, and which would be luck: refuse, naming both versions. */
static int dedupe(struct dk_jobs *js, bool keep, struct dk_error **err)
{
	size_t n = 0;

	for (size_t i = 0; i < js->n_jobs; i++) {
		struct dk_job *j = &js->jobs[i];
		const struct dk_job *first = NULL;

		for (size_t k = 0; k < n && !first; k++)
			if (streq(js->jobs[k].image, j->image) &&
			    streq(js->jobs[k].arch, j->arch))
				first = &js->jobs[k];
		if (!first) {
			js->jobs[n++] = *j;
			continue;
		}
		if (!same_args(first, j)) {
			const struct dk_mx_pos *a = &first->osver->pos,
					       *b = &j->osver->pos;

			dk_error_set(
				err, EBADMSG,
				"%s:%zu:%zu: %s %s and %s:%zu:%zu: %s %s both make image "
				"%s (%s) but from different build arguments",
				a->file, a->line, a->column, first->os->id,
				first->osver->version, b->file, b->line, b->column,
				j->os->id, j->osver->version, j->image, j->arch);
			return dk_error_set_hint(err, "the image tag carries what these "
						      "versions share (rhel: the major "
						      "version): give both the same "
						      "base_image, or list one version");
		}
		if (keep)
			js->jobs[n++] = *j;
		else
			job_release(j);
	}
	js->n_jobs = n;
	return 0;
}

int dk_jobs_expand(const struct dk_matrix *m, const char *registry,
		   const struct dk_jobs_filter *filter, struct dk_jobs **out,
		   struct dk_error **err)
{
	_cleanup_jobs_ struct dk_jobs *js = calloc(1, sizeof(*js));
	static const struct dk_jobs_filter none = {0};
	const struct dk_jobs_filter *f = filter ? filter : &none;
	struct expand x = {.m = m, .registry = registry, .jobs = js};

	if (!js)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < m->n_oses; i++) {
		if (f->os && !streq(f->os, m->oses[i].id))
			continue;
		for (size_t v = 0; v < m->oses[i].n_versions; v++) {
			int r = expand_osver(&x, &m->oses[i], &m->oses[i].versions[v], f,
					     err);

			if (r < 0)
				return r;
		}
	}
	if (js->n_jobs)
		qsort(js->jobs, js->n_jobs, sizeof(*js->jobs), cmp_job);
	if (dedupe(js, f->per_version, err) < 0)
		return -EBADMSG;
	*out = TAKE_PTR(js);
	return 0;
}

void dk_jobs_free(struct dk_jobs *js)
{
	if (!js)
		return;
	for (size_t i = 0; i < js->n_jobs; i++)
		job_release(&js->jobs[i]);
	free(js->jobs);
	free(js);
}

/* ---- json, github, tags ---- */

static void json_job(struct json_writer *w, const struct dk_job *j)
{
	json_begin_object(w);
	json_kv_string(w, "kind", dk_job_kind_name(j->kind));
	json_kv_string(w, "driver", j->driver->name);
	json_kv_string(w, "branch", j->branch->branch);
	json_kv_string(w, "driver_version", j->branch->version);
	json_kv_string(w, "os", j->os->id);
	json_kv_string(w, "os_version", j->osver->version);
	json_kv_string(w, "ostree_version", j->osver->ostree_version);
	json_kv_string(w, "arch", j->arch);
	json_kv_string(w, "kernel", j->kernel ? j->kernel->release : NULL);
	json_kv_string(w, "headers_from",
		       j->kernel ? dk_mx_headers_name(j->kernel->headers) : NULL);
	json_kv_string(w, "image", j->image);
	json_kv_string(w, "tag", j->tag);
	json_kv_string(w, "dockerfile", j->dockerfile);
	json_key(w, "build_args");
	json_begin_object(w);
	for (size_t a = 0; a < j->n_args; a++)
		json_kv_string(w, j->args[a].name, j->args[a].value);
	json_end_object(w);
	json_end_object(w);
}

static char *render_json(const struct dk_jobs *js, bool github)
{
	struct json_writer w;
	char *s;

	json_init(&w, !github);
	if (github) {
		json_begin_object(&w);
		json_key(&w, "include");
	}
	json_begin_array(&w);
	for (size_t i = 0; i < js->n_jobs; i++)
		json_job(&w, &js->jobs[i]);
	json_end_array(&w);
	if (github)
		json_end_object(&w);
	strbuf_putc(&w.out, '\n');
	s = strbuf_steal(&w.out);
	json_release(&w);
	return s;
}

static char *render_tags(const struct dk_jobs *js)
{
	struct strbuf b;

	strbuf_init(&b);
	for (size_t i = 0; i < js->n_jobs; i++) {
		const struct dk_job *j = &js->jobs[i];

		strbuf_printf(&b, "%s\t%s\t%s\t%s", j->image, dk_job_kind_name(j->kind),
			      j->arch, j->dockerfile);
		for (size_t a = 0; a < j->n_args; a++)
			strbuf_printf(&b, "\t%s=%s", j->args[a].name, j->args[a].value);
		strbuf_putc(&b, '\n');
	}
	return strbuf_steal(&b);
}

int dk_jobs_format_parse(const char *name, enum dk_jobs_format *out)
{
	static const char *const names[] = {
		[DK_JOBS_JSON] = "json",     [DK_JOBS_GITHUB] = "github",
		[DK_JOBS_GITLAB] = "gitlab", [DK_JOBS_TAGS] = "tags",
		[DK_JOBS_K8S] = "k8s-jobs",
	};

	for (size_t i = 0; i < ARRAY_SIZE(names); i++)
		if (streq(names[i], name)) {
			*out = (enum dk_jobs_format)i;
			return 0;
		}
	return -EINVAL;
}

int dk_jobs_render(const struct dk_jobs *js, enum dk_jobs_format f,
		   const struct dk_jobs_k8s *k8s, char **out, struct dk_error **err)
{
	char *s = NULL;

	switch (f) {
	case DK_JOBS_JSON:
	case DK_JOBS_GITHUB:
		s = render_json(js, f == DK_JOBS_GITHUB);
		break;
	case DK_JOBS_TAGS:
		s = render_tags(js);
		break;
	case DK_JOBS_GITLAB:
		return dk_jobs_render_gitlab(js, out, err);
	case DK_JOBS_K8S:
		return dk_jobs_render_k8s(js, k8s, out, err);
	}
	if (!s)
		return dk_error_set(err, ENOMEM, "out of memory");
	*out = s;
	return 0;
}
