/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"
#include "shared/yaml-writer.h"

#include "base/fsutil.h"
#include "base/yaml.h"
#include "config/config.h"
#include "fleet/daemonsets.h"
#include "fleet/jobs.h"
#include "fleet/labels.h"
#include "fleet/select.h"

#define NAME_MAX_LEN 63

static bool alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

char *dk_ds_label_value(const char *s)
{
	char *v = dk_label_sanitise(s);
	size_t start = 0, len;

	if (!v)
		return NULL;
	len = strlen(v);
	if (len > NAME_MAX_LEN)
		len = NAME_MAX_LEN;
	while (start < len && !alnum(v[start]))
		start++;
	while (len > start && !alnum(v[len - 1]))
		len--;
	memmove(v, v + start, len - start);
	v[len - start] = '\0';
	return v;
}

/* ---- the configs: one per (driver, config path) the jobs use ---- */

struct ds_config {
	const struct dk_mx_driver *driver;
	const char *arch; /* of the first job using it (names it when paths differ) */
	char *path;	  /* as given: --config or the job's DRVKIT_CONFIG */
	char *data;
	size_t len;
	struct dk_config *cfg;
	char *cm_name; /* the ConfigMap */
};

struct ds_configs {
	struct ds_config *v;
	size_t n;
};

static void ds_configs_release(struct ds_configs *cs)
{
	for (size_t i = 0; i < cs->n; i++) {
		free(cs->v[i].path);
		free(cs->v[i].data);
		dk_config_free(cs->v[i].cfg);
		free(cs->v[i].cm_name);
	}
	free(cs->v);
}

/* The config a job's pods run: --config, else the image's DRVKIT_CONFIG build arg (the
 * driver's `config:` with {arch} expanded), so the pods run the config baked in. */
static const char *job_config(const struct dk_job *j, const struct dk_ds_opts *o)
{
	const char *path = o->config ? o->config : dk_job_arg(j, "DRVKIT_CONFIG");

	return path && path[0] ? path : NULL;
}

static struct ds_config *find_config(const struct ds_configs *cs,
				     const struct dk_mx_driver *d, const char *path)
{
	for (size_t i = 0; i < cs->n; i++)
		if (cs->v[i].driver == d && streq(cs->v[i].path, path))
			return &cs->v[i];
	return NULL;
}

static int ds_config_load(struct ds_config *c, const struct ds_configs *cs,
			  struct dk_error **err)
{
	const struct dk_mx_driver *d = c->driver;
	_cleanup_free_ char *raw = NULL;
	bool per_arch = false;
	int r;

	for (size_t i = 0; i < cs->n; i++)
		per_arch |= cs->v[i].driver == d && !streq(cs->v[i].path, c->path);
	raw = per_arch ? dk_strdup_printf("%s-%s-drvkit-config", d->name, c->arch)
		       : dk_strdup_printf("%s-drvkit-config", d->name);
	if (!raw || !(c->cm_name = dk_jobs_k8s_name(raw)))
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_read_file(c->path, DK_YAML_MAX_BYTES, &c->data, &c->len);
	if (r < 0)
		return dk_error_set(err, -r, "cannot read config %s (driver %s): %s",
				    c->path, d->name, strerror(-r));
	r = dk_config_parse(c->path, c->data, c->len, &c->cfg, err);
	if (r < 0)
		return dk_error_wrap(err, "config of driver %s", d->name);
	return 0;
}

/* The configs of js's jobs, in matrix driver order, each loaded. */
static int load_configs(const struct dk_matrix *m, const struct dk_jobs *js,
			const struct dk_ds_opts *o, struct ds_configs *cs,
			struct dk_error **err)
{
	bool signs = false;

	cs->v = calloc(js->n_jobs + 1, sizeof(*cs->v));
	if (!cs->v)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t d = 0; d < m->n_drivers; d++)
		for (size_t i = 0; i < js->n_jobs; i++) {
			const struct dk_job *j = &js->jobs[i];
			const char *path = job_config(j, o);

			if (j->driver != &m->drivers[d])
				continue;
			if (!path) {
				dk_error_set(err, EINVAL,
					     "%s:%zu:%zu: driver %s has no config: its "
					     "DaemonSets need one",
					     j->driver->pos.file, j->driver->pos.line,
					     j->driver->pos.column, j->driver->name);
				return dk_error_set_hint(
					err, "give the driver `config: FILE` in the "
					     "matrix, or pass --config FILE");
			}
			if (find_config(cs, j->driver, path))
				continue;
			cs->v[cs->n] =
				(struct ds_config){j->driver, j->arch, strdup(path)};
			if (!cs->v[cs->n++].path)
				return dk_error_set(err, ENOMEM, "out of memory");
		}
	for (size_t i = 0; i < cs->n; i++) {
		int r = ds_config_load(&cs->v[i], cs, err);

		if (r < 0)
			return r;
		signs |= cs->v[i].cfg->signing != NULL;
	}
	if (o->signing_secret && !signs)
		return dk_error_set(
			err, EINVAL,
			"--signing-secret %s given, but no driver's config has "
			"signing: (nothing would mount it)",
			o->signing_secret);
	return 0;
}

/* ---- one DaemonSet ---- */

struct ds {
	const struct dk_job *j; /* its image */
	const struct ds_config *c;
	const struct dk_ds_opts *o;
	const char **notin; /* build: the kernels precompiled ones serve, sanitised */
	size_t n_notin;
};

/* A hostPath or Secret/ConfigMap mount. */
struct mount {
	const char *name;
	const char *host;     /* hostPath; NULL for the ConfigMap and the Secret */
	const char *type;     /* hostPath type */
	char *path;	      /* in the container */
	const char *sub_path; /* a single file of the ConfigMap/Secret */
	bool read_only;
};

static void labels_block(struct strbuf *b, int n, const struct ds *ds, const char *name)
{
	_cleanup_free_ char *drv = dk_ds_label_value(ds->j->driver->name);
	_cleanup_free_ char *ver = dk_ds_label_value(ds->j->branch->version);

	yaml_key(b, n, "labels");
	yaml_kv(b, n + 1, "app.kubernetes.io/name", drv ? drv : "");
	yaml_kv(b, n + 1, "app.kubernetes.io/instance", name);
	yaml_kv(b, n + 1, "app.kubernetes.io/version", ver ? ver : "");
	yaml_kv(b, n + 1, "app.kubernetes.io/component", dk_job_kind_name(ds->j->kind));
	yaml_kv(b, n + 1, "app.kubernetes.io/part-of", "drvkit");
	yaml_kv(b, n + 1, "app.kubernetes.io/managed-by", "drvkit");
}

static void placement(struct strbuf *b, int n, const struct ds *ds)
{
	const struct dk_job *j = ds->j;

	yaml_key(b, n, "nodeSelector");
	yaml_kv(b, n + 1, DK_LABEL_OS_ID, j->os->id);
	yaml_kv(b, n + 1, DK_LABEL_OS_VERSION, j->osver->version);
	if (dk_sel_is_rhcos(j->os->id) && j->osver->ostree_version)
		yaml_kv(b, n + 1, DK_LABEL_OSTREE, j->osver->ostree_version);
	yaml_kv(b, n + 1, DK_LABEL_ARCH, j->arch);
	if (j->kernel) {
		_cleanup_free_ char *k = dk_label_sanitise(j->kernel->release);

		yaml_kv(b, n + 1, DK_LABEL_KERNEL, k ? k : "");
	}
	/* the driver's own (matrix node_selector, sorted by key): e.g. only nodes with
	 * an NVIDIA PCI device, where drvkit init finds a GPU */
	for (size_t i = 0; i < j->driver->n_node_selector; i++)
		yaml_kv(b, n + 1, j->driver->node_selector[i].key,
			j->driver->node_selector[i].value);
	if (!ds->n_notin)
		return;
	yaml_key(b, n, "affinity");
	yaml_key(b, n + 1, "nodeAffinity");
	yaml_key(b, n + 2, "requiredDuringSchedulingIgnoredDuringExecution");
	yaml_key(b, n + 3, "nodeSelectorTerms");
	yaml_indent(b, n + 3);
	strbuf_puts(b, "- matchExpressions:\n");
	yaml_indent(b, n + 5);
	strbuf_printf(b, "- key: %s\n", DK_LABEL_KERNEL);
	yaml_kv(b, n + 6, "operator", "NotIn");
	yaml_kflow(b, n + 6, "values", ds->notin, ds->n_notin);
}

static void container(struct strbuf *b, int n, const struct ds *ds, const struct mount *m,
		      size_t nm)
{
	const char *ready = ds->c->cfg->ready_file;
	/* The images' ENTRYPOINT is ["drvkit", "init"]: `args` alone would be appended to
	 * it (drvkit init init --config ...). command replaces the ENTRYPOINT, so the pod
	 * runs exactly `drvkit init --config FILE` whatever the image's entrypoint. */
	const char *command[] = {"drvkit"};
	const char *args[] = {"init", "--config", DK_DS_CONFIG_PATH};
	const char *probe[] = {"test", "-f", ready};
	const char *stop[] = {"rm", "-f", ready};

	yaml_indent(b, n);
	strbuf_puts(b, "- name: \"driver\"\n");
	yaml_kv(b, n + 1, "image", ds->j->image);
	yaml_kv(b, n + 1, "imagePullPolicy", "IfNotPresent");
	yaml_kflow(b, n + 1, "command", command, ARRAY_SIZE(command));
	yaml_kflow(b, n + 1, "args", args, ARRAY_SIZE(args));
	yaml_key(b, n + 1, "securityContext");
	yaml_kraw(b, n + 2, "privileged", "true");
	yaml_key(b, n + 1, "startupProbe");
	yaml_key(b, n + 2, "exec");
	yaml_kflow(b, n + 3, "command", probe, ARRAY_SIZE(probe));
	yaml_kraw(b, n + 2, "periodSeconds", "%d", DK_DS_PROBE_PERIOD);
	yaml_kraw(b, n + 2, "failureThreshold", "%d", DK_DS_PROBE_FAILURES);
	yaml_key(b, n + 1, "lifecycle");
	yaml_key(b, n + 2, "preStop");
	yaml_key(b, n + 3, "exec");
	yaml_kflow(b, n + 4, "command", stop, ARRAY_SIZE(stop));
	yaml_kv(b, n + 1, "terminationMessagePath", "/dev/termination-log");
	yaml_kv(b, n + 1, "terminationMessagePolicy", "FallbackToLogsOnError");
	yaml_key(b, n + 1, "volumeMounts");
	for (size_t i = 0; i < nm; i++) {
		yaml_indent(b, n + 1);
		strbuf_puts(b, "- name: ");
		yaml_str(b, m[i].name);
		strbuf_putc(b, '\n');
		yaml_kv(b, n + 2, "mountPath", m[i].path);
		if (m[i].sub_path)
			yaml_kv(b, n + 2, "subPath", m[i].sub_path);
		if (m[i].read_only)
			yaml_kraw(b, n + 2, "readOnly", "true");
	}
}

static void volumes(struct strbuf *b, int n, const struct ds *ds, const struct mount *m,
		    size_t nm)
{
	const char *secret = ds->o->signing_secret ? ds->o->signing_secret
						   : DK_DS_DEFAULT_SIGNING_SECRET;

	yaml_key(b, n, "volumes");
	for (size_t i = 0; i < nm; i++) {
		/* the Secret's files share one volume */
		if (i && strcmp(m[i].name, m[i - 1].name) == 0)
			continue;
		yaml_indent(b, n);
		strbuf_puts(b, "- name: ");
		yaml_str(b, m[i].name);
		strbuf_putc(b, '\n');
		if (m[i].host) {
			yaml_key(b, n + 1, "hostPath");
			yaml_kv(b, n + 2, "path", m[i].host);
			yaml_kv(b, n + 2, "type", m[i].type);
		} else if (strcmp(m[i].name, "config") == 0) {
			yaml_key(b, n + 1, "configMap");
			yaml_kv(b, n + 2, "name", ds->c->cm_name);
		} else {
			yaml_key(b, n + 1, "secret");
			yaml_kv(b, n + 2, "secretName", secret);
			yaml_kraw(b, n + 2, "defaultMode", "256 # 0400");
		}
	}
}

#define MAX_MOUNTS 10

static void mounts_release(struct mount *m, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(m[i].path);
}

static int add_mount(struct mount *m, size_t *n, const char *name, const char *host,
		     const char *type, char *path, const char *sub_path, bool ro)
{
	if (!path)
		return -ENOMEM;
	m[(*n)++] = (struct mount){name, host, type, path, sub_path, ro};
	return 0;
}

static bool under(const char *path, const char *dir)
{
	size_t n = strlen(dir);

	return strncmp(path, dir, n) == 0 && (path[n] == '/' || (n && dir[n - 1] == '/'));
}

/* The mounts of a driver's pods (also its volumes, one per name). */
static int mounts(const struct dk_config *cfg, char *ready_dir, struct mount *m,
		  size_t *n)
{
	int r = 0;

	*n = 0;
	r |= add_mount(m, n, "state", cfg->state_dir, "DirectoryOrCreate",
		       strdup(cfg->state_dir), NULL, false);
	if (!under(cfg->ready_file, cfg->state_dir))
		r |= add_mount(m, n, "ready", ready_dir, "DirectoryOrCreate",
			       strdup(ready_dir), NULL, false);
	r |= add_mount(m, n, "cache", cfg->cache_dir, "DirectoryOrCreate",
		       strdup(cfg->cache_dir), NULL, false);
	r |= add_mount(m, n, "host-modules", "/lib/modules", "Directory",
		       dk_path_join(cfg->host_root, "lib/modules"), NULL, true);
	r |= add_mount(m, n, "host-firmware", "/lib/firmware", "DirectoryOrCreate",
		       dk_path_join(cfg->host_root, "lib/firmware"), NULL, false);
	r |= add_mount(m, n, "config", NULL, NULL, strdup(DK_DS_CONFIG_PATH),
		       "config.yaml", true);
	if (cfg->signing) {
		r |= add_mount(m, n, "signing", NULL, NULL, strdup(cfg->signing->key),
			       "tls.key", true);
		r |= add_mount(m, n, "signing", NULL, NULL, strdup(cfg->signing->cert),
			       "tls.crt", true);
		if (cfg->signing->passphrase_file)
			r |= add_mount(m, n, "signing", NULL, NULL,
				       strdup(cfg->signing->passphrase_file),
				       "passphrase", true);
	}
	return r ? -ENOMEM : 0;
}

/* "<driver>-<branch>-<ostag>[-<ostree>]-<arch>" or, precompiled,
 * "<driver>-<branch>-<ostag>[-<ostree>]-<kernel>[-<arch>]" (arch when the release
 * does not end with it). */
static char *ds_raw_name(const struct dk_job *j)
{
	/* The full version, not the tag's (rhel9): 9.4 and 9.6 share an image but each
	 * needs its own DaemonSet, selecting its nodes. */
	_cleanup_free_ char *ostag =
		dk_strdup_printf("%s%s", j->os->id, j->osver->version);
	const char *ostree = dk_sel_is_rhcos(j->os->id) ? j->osver->ostree_version : NULL;
	const char *karch =
		j->kernel ? dk_label_arch_from_kernel(j->kernel->release) : NULL;
	bool add_arch = j->kernel && !(karch && streq(karch, j->arch));

	if (!ostag)
		return NULL;
	return dk_strdup_printf("%s-%s-%s%s%s-%s%s%s", j->driver->name, j->branch->branch,
				ostag, ostree ? "-" : "", ostree ? ostree : "",
				j->kernel ? j->kernel->release : j->arch,
				add_arch ? "-" : "", add_arch ? j->arch : "");
}

static int ds_emit(struct strbuf *b, const struct ds *ds, struct dk_error **err)
{
	const struct dk_config *cfg = ds->c->cfg;
	_cleanup_free_ char *raw = ds_raw_name(ds->j),
			    *name = raw ? dk_jobs_k8s_name(raw) : NULL;
	_cleanup_free_ char *ready_dir = strdup(cfg->ready_file);
	struct mount m[MAX_MOUNTS];
	size_t nm = 0;
	int r;

	if (!name || !ready_dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (strrchr(ready_dir, '/') && strrchr(ready_dir, '/') != ready_dir)
		*strrchr(ready_dir, '/') = '\0';
	r = mounts(cfg, ready_dir, m, &nm);
	if (r < 0) {
		mounts_release(m, nm);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	strbuf_puts(b, "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n");
	yaml_kv(b, 1, "name", name);
	yaml_kv(b, 1, "namespace",
		ds->o->namespace ? ds->o->namespace : DK_DS_DEFAULT_NAMESPACE);
	labels_block(b, 1, ds, name);
	strbuf_puts(b, "spec:\n");
	yaml_key(b, 1, "selector");
	yaml_key(b, 2, "matchLabels");
	yaml_kv(b, 3, "app.kubernetes.io/instance", name);
	yaml_key(b, 1, "updateStrategy");
	yaml_kv(b, 2, "type", "OnDelete");
	yaml_key(b, 1, "template");
	yaml_key(b, 2, "metadata");
	labels_block(b, 3, ds, name);
	yaml_key(b, 2, "spec");
	yaml_kraw(b, 3, "hostPID", "true");
	yaml_kv(b, 3, "priorityClassName", "system-node-critical");
	yaml_kraw(b, 3, "terminationGracePeriodSeconds", "%d",
		  cfg->grace_period + DK_DS_GRACE_MARGIN);
	placement(b, 3, ds);
	yaml_key(b, 3, "tolerations");
	yaml_indent(b, 3);
	strbuf_puts(b, "- operator: \"Exists\"\n");
	yaml_key(b, 3, "containers");
	container(b, 3, ds, m, nm);
	volumes(b, 3, ds, m, nm);
	mounts_release(m, nm);
	return 0;
}

static void configmap(struct strbuf *b, const struct ds_config *c,
		      const struct dk_ds_opts *o)
{
	_cleanup_free_ char *drv = dk_ds_label_value(c->driver->name);

	strbuf_puts(b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n");
	yaml_kv(b, 1, "name", c->cm_name);
	yaml_kv(b, 1, "namespace", o->namespace ? o->namespace : DK_DS_DEFAULT_NAMESPACE);
	yaml_key(b, 1, "labels");
	yaml_kv(b, 2, "app.kubernetes.io/name", drv ? drv : "");
	yaml_kv(b, 2, "app.kubernetes.io/part-of", "drvkit");
	yaml_kv(b, 2, "app.kubernetes.io/managed-by", "drvkit");
	yaml_key(b, 1, "annotations");
	yaml_kv(b, 2, "drvkit/source", c->path);
	strbuf_puts(b, "data:\n");
	yaml_kv(b, 1, "config.yaml", c->data);
}

/* Whether precompiled job p is built FROM build job b's image. */
static bool same_build(const struct dk_job *b, const struct dk_job *p)
{
	return p->kind == DK_JOB_PRECOMPILED && p->driver == b->driver &&
	       p->branch == b->branch && p->osver == b->osver && streq(p->arch, b->arch);
}

/* Build job i's DaemonSet, then those of the precompiled jobs built from its image. */
static int emit_group(struct strbuf *out, const struct dk_jobs *js, size_t i,
		      const struct ds_configs *cs, const struct dk_ds_opts *o,
		      struct dk_error **err)
{
	const struct dk_job *bj = &js->jobs[i];
	_cleanup_free_ const char **notin = calloc(js->n_jobs + 1, sizeof(*notin));
	struct ds ds = {bj, find_config(cs, bj->driver, job_config(bj, o)), o, notin};
	int r = notin ? 0 : -ENOMEM;

	for (size_t k = 0; k < js->n_jobs && r >= 0; k++)
		if (same_build(bj, &js->jobs[k]) &&
		    !(notin[ds.n_notin++] =
			      dk_label_sanitise(js->jobs[k].kernel->release)))
			r = -ENOMEM;
	r = r < 0 ? dk_error_set(err, ENOMEM, "out of memory") : ds_emit(out, &ds, err);
	for (size_t k = 0; notin && k < ds.n_notin; k++)
		free((char *)notin[k]);
	ds.n_notin = 0; /* a precompiled one selects its kernel */
	for (size_t k = 0; k < js->n_jobs && r >= 0; k++) {
		if (!same_build(bj, &js->jobs[k]))
			continue;
		ds.j = &js->jobs[k];
		ds.c = find_config(cs, ds.j->driver, job_config(ds.j, o));
		r = ds_emit(out, &ds, err);
	}
	return r;
}

int dk_daemonsets_render(const struct dk_matrix *m, const struct dk_ds_opts *o,
			 struct strbuf *out, struct dk_error **err)
{
	_cleanup_jobs_ struct dk_jobs *js = NULL;
	struct ds_configs cs = {0};
	int r;

	r = dk_jobs_expand(m, o->registry, &(struct dk_jobs_filter){.per_version = true},
			   &js, err);
	if (r >= 0)
		r = load_configs(m, js, o, &cs, err);
	for (size_t i = 0; r >= 0 && i < cs.n; i++)
		configmap(out, &cs.v[i], o);
	for (size_t i = 0; r >= 0 && i < js->n_jobs; i++)
		if (js->jobs[i].kind == DK_JOB_BUILD)
			r = emit_group(out, js, i, &cs, o, err);
	ds_configs_release(&cs);
	if (r >= 0 && out->oom)
		r = dk_error_set(err, ENOMEM, "out of memory");
	return r;
}
