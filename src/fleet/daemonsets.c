/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/yaml.h"
#include "config/config.h"
#include "fleet/daemonsets.h"
#include "fleet/labels.h"
#include "fleet/select.h"

#define NAME_MAX_LEN 63
#define HASH_LEN 8

char *dk_ds_name(const char *raw)
{
	_cleanup_strbuf_ struct strbuf b;
	char hex[DK_SHA256_HEX_LEN + 1];
	bool dash = false;

	strbuf_init(&b);
	for (const char *p = raw; *p; p++) {
		char c = *p >= 'A' && *p <= 'Z' ? (char)(*p - 'A' + 'a') : *p;

		if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
			if (dash && b.len)
				strbuf_putc(&b, '-');
			strbuf_putc(&b, c);
			dash = false;
		} else {
			dash = true;
		}
	}
	if (b.oom)
		return NULL;
	if (b.len <= NAME_MAX_LEN)
		return strbuf_steal(&b);
	if (dk_sha256_buffer(raw, strlen(raw), hex) < 0)
		return NULL;
	b.len = NAME_MAX_LEN - HASH_LEN - 1;
	while (b.len && b.s[b.len - 1] == '-')
		b.len--;
	b.s[b.len] = '\0';
	strbuf_printf(&b, "-%.*s", HASH_LEN, hex);
	return b.oom ? NULL : strbuf_steal(&b);
}

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

/* ---- YAML out: keys are ours (plain), every string value double-quoted (JSON
 * escaping is valid YAML), so no value can change type or break the document. ---- */

static void ind(struct strbuf *b, int n)
{
	for (int i = 0; i < n; i++)
		strbuf_puts(b, "  ");
}

static void quoted(struct strbuf *b, const char *s)
{
	strbuf_putc(b, '"');
	json_escape(b, s);
	strbuf_putc(b, '"');
}

/* indent key: "value" */
static void kv(struct strbuf *b, int n, const char *key, const char *value)
{
	ind(b, n);
	strbuf_printf(b, "%s: ", key);
	quoted(b, value);
	strbuf_putc(b, '\n');
}

/* indent key: (a nested block follows) */
static void key(struct strbuf *b, int n, const char *name)
{
	ind(b, n);
	strbuf_printf(b, "%s:\n", name);
}

/* indent key: then raw text (a number, a bool) */
static void kraw(struct strbuf *b, int n, const char *key, const char *fmt, ...)
	_printf_format_(4, 5);
static void kraw(struct strbuf *b, int n, const char *key, const char *fmt, ...)
{
	va_list ap;

	ind(b, n);
	strbuf_printf(b, "%s: ", key);
	va_start(ap, fmt);
	strbuf_vprintf(b, fmt, ap);
	va_end(ap);
	strbuf_putc(b, '\n');
}

/* indent key: ["a", "b"] */
static void klist(struct strbuf *b, int n, const char *key, const char *const *v,
		  size_t nv)
{
	ind(b, n);
	strbuf_printf(b, "%s: [", key);
	for (size_t i = 0; i < nv; i++) {
		if (i)
			strbuf_puts(b, ", ");
		quoted(b, v[i]);
	}
	strbuf_puts(b, "]\n");
}

/* ---- one driver's config ---- */

struct ds_config {
	const struct dk_mx_driver *driver;
	char *path; /* as given */
	char *data;
	size_t len;
	struct dk_config *cfg;
	char *cm_name; /* the ConfigMap */
	bool used;     /* some DaemonSet runs this driver */
};

static void ds_config_release(struct ds_config *c)
{
	free(c->path);
	free(c->data);
	dk_config_free(c->cfg);
	free(c->cm_name);
}

static int ds_config_load(struct ds_config *c, const struct dk_mx_driver *d,
			  const char *override, struct dk_error **err)
{
	_cleanup_free_ char *raw = NULL;
	const char *path = override ? override : d->config;
	int r;

	c->driver = d;
	if (!path) {
		dk_error_set(
			err, EINVAL,
			"%s:%zu:%zu: driver %s has no config: its DaemonSets need one",
			d->pos.file, d->pos.line, d->pos.column, d->name);
		return dk_error_set_hint(err,
					 "give the driver `config: FILE` in the matrix, "
					 "or pass --config FILE");
	}
	c->path = strdup(path);
	raw = dk_strdup_printf("%s-drvkit-config", d->name);
	if (!c->path || !raw || !(c->cm_name = dk_ds_name(raw)))
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_read_file(path, DK_YAML_MAX_BYTES, &c->data, &c->len);
	if (r < 0)
		return dk_error_set(err, -r, "cannot read config %s (driver %s): %s",
				    path, d->name, strerror(-r));
	r = dk_config_parse(path, c->data, c->len, &c->cfg, err);
	if (r < 0)
		return dk_error_wrap(err, "config of driver %s", d->name);
	return 0;
}

/* ---- one DaemonSet ---- */

struct ds {
	const struct dk_mx_os *os;
	const struct dk_mx_osver *v;
	const struct dk_mx_driver *d;
	const struct dk_mx_branch *b;
	const char *arch;
	const struct dk_mx_kernel *kernel; /* NULL: the build image */
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
	_cleanup_free_ char *drv = dk_ds_label_value(ds->d->name);
	_cleanup_free_ char *ver = dk_ds_label_value(ds->b->version);

	key(b, n, "labels");
	kv(b, n + 1, "app.kubernetes.io/name", drv ? drv : "");
	kv(b, n + 1, "app.kubernetes.io/instance", name);
	kv(b, n + 1, "app.kubernetes.io/version", ver ? ver : "");
	kv(b, n + 1, "app.kubernetes.io/component", ds->kernel ? "precompiled" : "build");
	kv(b, n + 1, "app.kubernetes.io/part-of", "drvkit");
	kv(b, n + 1, "app.kubernetes.io/managed-by", "drvkit");
}

static void placement(struct strbuf *b, int n, const struct ds *ds)
{
	key(b, n, "nodeSelector");
	kv(b, n + 1, DK_LABEL_OS_ID, ds->os->id);
	kv(b, n + 1, DK_LABEL_OS_VERSION, ds->v->version);
	if (dk_sel_is_rhcos(ds->os->id) && ds->v->ostree_version)
		kv(b, n + 1, DK_LABEL_OSTREE, ds->v->ostree_version);
	kv(b, n + 1, DK_LABEL_ARCH, ds->arch);
	if (ds->kernel) {
		_cleanup_free_ char *k = dk_label_sanitise(ds->kernel->release);

		kv(b, n + 1, DK_LABEL_KERNEL, k ? k : "");
	}
	if (!ds->n_notin)
		return;
	key(b, n, "affinity");
	key(b, n + 1, "nodeAffinity");
	key(b, n + 2, "requiredDuringSchedulingIgnoredDuringExecution");
	key(b, n + 3, "nodeSelectorTerms");
	ind(b, n + 3);
	strbuf_puts(b, "- matchExpressions:\n");
	ind(b, n + 5);
	strbuf_printf(b, "- key: %s\n", DK_LABEL_KERNEL);
	kv(b, n + 6, "operator", "NotIn");
	klist(b, n + 6, "values", ds->notin, ds->n_notin);
}

static void container(struct strbuf *b, int n, const struct ds *ds, const char *image,
		      const struct mount *m, size_t nm)
{
	const char *ready = ds->c->cfg->ready_file;
	const char *args[] = {"init", "--config", DK_DS_CONFIG_PATH};
	const char *probe[] = {"test", "-f", ready};
	const char *stop[] = {"rm", "-f", ready};

	ind(b, n);
	strbuf_puts(b, "- name: \"driver\"\n");
	kv(b, n + 1, "image", image);
	kv(b, n + 1, "imagePullPolicy", "IfNotPresent");
	klist(b, n + 1, "args", args, ARRAY_SIZE(args));
	key(b, n + 1, "securityContext");
	kraw(b, n + 2, "privileged", "true");
	key(b, n + 1, "startupProbe");
	key(b, n + 2, "exec");
	klist(b, n + 3, "command", probe, ARRAY_SIZE(probe));
	kraw(b, n + 2, "periodSeconds", "%d", DK_DS_PROBE_PERIOD);
	kraw(b, n + 2, "failureThreshold", "%d", DK_DS_PROBE_FAILURES);
	key(b, n + 1, "lifecycle");
	key(b, n + 2, "preStop");
	key(b, n + 3, "exec");
	klist(b, n + 4, "command", stop, ARRAY_SIZE(stop));
	kv(b, n + 1, "terminationMessagePath", "/dev/termination-log");
	kv(b, n + 1, "terminationMessagePolicy", "FallbackToLogsOnError");
	key(b, n + 1, "volumeMounts");
	for (size_t i = 0; i < nm; i++) {
		ind(b, n + 1);
		strbuf_puts(b, "- name: ");
		quoted(b, m[i].name);
		strbuf_putc(b, '\n');
		kv(b, n + 2, "mountPath", m[i].path);
		if (m[i].sub_path)
			kv(b, n + 2, "subPath", m[i].sub_path);
		if (m[i].read_only)
			kraw(b, n + 2, "readOnly", "true");
	}
}

static void volumes(struct strbuf *b, int n, const struct ds *ds, const struct mount *m,
		    size_t nm)
{
	const char *secret = ds->o->signing_secret ? ds->o->signing_secret
						   : DK_DS_DEFAULT_SIGNING_SECRET;

	key(b, n, "volumes");
	for (size_t i = 0; i < nm; i++) {
		/* the Secret's files share one volume */
		if (i && strcmp(m[i].name, m[i - 1].name) == 0)
			continue;
		ind(b, n);
		strbuf_puts(b, "- name: ");
		quoted(b, m[i].name);
		strbuf_putc(b, '\n');
		if (m[i].host) {
			key(b, n + 1, "hostPath");
			kv(b, n + 2, "path", m[i].host);
			kv(b, n + 2, "type", m[i].type);
		} else if (strcmp(m[i].name, "config") == 0) {
			key(b, n + 1, "configMap");
			kv(b, n + 2, "name", ds->c->cm_name);
		} else {
			key(b, n + 1, "secret");
			kv(b, n + 2, "secretName", secret);
			kraw(b, n + 2, "defaultMode", "256 # 0400");
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
static char *ds_raw_name(const struct ds *ds)
{
	_cleanup_free_ char *ostag = dk_mx_os_tag(ds->os->id, ds->v->version);
	const char *ostree = dk_sel_is_rhcos(ds->os->id) ? ds->v->ostree_version : NULL;
	const char *karch =
		ds->kernel ? dk_label_arch_from_kernel(ds->kernel->release) : NULL;

	if (!ostag)
		return NULL;
	return dk_strdup_printf(
		"%s-%s-%s%s%s-%s%s%s", ds->d->name, ds->b->branch, ostag,
		ostree ? "-" : "", ostree ? ostree : "",
		ds->kernel ? ds->kernel->release : ds->arch,
		ds->kernel && !(karch && strcmp(karch, ds->arch) == 0) ? "-" : "",
		ds->kernel && !(karch && strcmp(karch, ds->arch) == 0) ? ds->arch : "");
}

static int ds_emit(struct strbuf *b, const struct ds *ds, struct dk_error **err)
{
	const struct dk_config *cfg = ds->c->cfg;
	_cleanup_free_ char *raw = ds_raw_name(ds), *name = raw ? dk_ds_name(raw) : NULL;
	_cleanup_free_ char *ostag = dk_mx_os_tag(ds->os->id, ds->v->version);
	_cleanup_free_ char *tag = NULL, *image = NULL,
			    *ready_dir = strdup(cfg->ready_file);
	struct mount m[MAX_MOUNTS];
	size_t nm = 0;
	int r;

	if (!name || !ostag || !ready_dir)
		return dk_error_set(err, ENOMEM, "out of memory");
	tag = ds->kernel
		      ? dk_mx_precompiled_tag(ds->b->branch, ds->kernel->release, ostag)
		      : dk_mx_build_tag(ds->b->version, ostag);
	image = tag ? dk_sel_image_ref(ds->o->registry,
				       ds->d->image ? ds->d->image : ds->d->name, tag)
		    : NULL;
	if (strrchr(ready_dir, '/') && strrchr(ready_dir, '/') != ready_dir)
		*strrchr(ready_dir, '/') = '\0';
	r = mounts(cfg, ready_dir, m, &nm);
	if (!image || r < 0) {
		mounts_release(m, nm);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	strbuf_puts(b, "---\napiVersion: apps/v1\nkind: DaemonSet\nmetadata:\n");
	kv(b, 1, "name", name);
	kv(b, 1, "namespace",
	   ds->o->namespace ? ds->o->namespace : DK_DS_DEFAULT_NAMESPACE);
	labels_block(b, 1, ds, name);
	strbuf_puts(b, "spec:\n");
	key(b, 1, "selector");
	key(b, 2, "matchLabels");
	kv(b, 3, "app.kubernetes.io/instance", name);
	key(b, 1, "updateStrategy");
	kv(b, 2, "type", "OnDelete");
	key(b, 1, "template");
	key(b, 2, "metadata");
	labels_block(b, 3, ds, name);
	key(b, 2, "spec");
	kraw(b, 3, "hostPID", "true");
	kv(b, 3, "priorityClassName", "system-node-critical");
	kraw(b, 3, "terminationGracePeriodSeconds", "%d",
	     cfg->grace_period + DK_DS_GRACE_MARGIN);
	placement(b, 3, ds);
	key(b, 3, "tolerations");
	ind(b, 3);
	strbuf_puts(b, "- operator: \"Exists\"\n");
	key(b, 3, "containers");
	container(b, 3, ds, image, m, nm);
	volumes(b, 3, ds, m, nm);
	mounts_release(m, nm);
	return 0;
}

static void configmap(struct strbuf *b, const struct ds_config *c,
		      const struct dk_ds_opts *o)
{
	_cleanup_free_ char *drv = dk_ds_label_value(c->driver->name);

	strbuf_puts(b, "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n");
	kv(b, 1, "name", c->cm_name);
	kv(b, 1, "namespace", o->namespace ? o->namespace : DK_DS_DEFAULT_NAMESPACE);
	key(b, 1, "labels");
	kv(b, 2, "app.kubernetes.io/name", drv ? drv : "");
	kv(b, 2, "app.kubernetes.io/part-of", "drvkit");
	kv(b, 2, "app.kubernetes.io/managed-by", "drvkit");
	key(b, 1, "annotations");
	kv(b, 2, "drvkit/source", c->path);
	strbuf_puts(b, "data:\n");
	kv(b, 1, "config.yaml", c->data);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The DaemonSets of one (OS version, driver, branch): per arch (sorted) the build one,
 * then the precompiled ones in matrix order. */
static int emit_use(struct strbuf *b, struct ds *ds, struct dk_error **err)
{
	const struct dk_mx_osver *v = ds->v;
	_cleanup_free_ const char **archs = calloc(v->n_kernels + 1, sizeof(*archs));
	_cleanup_free_ const char **notin = calloc(v->n_kernels + 1, sizeof(*notin));
	size_t na = 0, n_notin;
	int r = 0;

	if (!archs || !notin)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t k = 0; k < v->n_kernels; k++)
		if (!dk_strv_contains(archs, na, v->kernels[k].arch))
			archs[na++] = v->kernels[k].arch;
	qsort(archs, na, sizeof(*archs), cmp_str);
	for (size_t a = 0; a < na && r >= 0; a++) {
		ds->arch = archs[a];
		ds->n_notin = 0;
		for (size_t k = 0; k < v->n_kernels && r >= 0; k++)
			if (strcmp(v->kernels[k].arch, archs[a]) == 0 &&
			    !(notin[ds->n_notin++] =
				      dk_label_sanitise(v->kernels[k].release)))
				r = dk_error_set(err, ENOMEM, "out of memory");
		n_notin = ds->n_notin;
		ds->notin = notin;
		ds->kernel = NULL;
		if (r >= 0)
			r = ds_emit(b, ds, err);
		ds->n_notin = 0; /* a precompiled one selects its kernel */
		for (size_t k = 0; k < v->n_kernels && r >= 0; k++) {
			ds->kernel = &v->kernels[k];
			if (strcmp(v->kernels[k].arch, archs[a]) == 0)
				r = ds_emit(b, ds, err);
		}
		for (size_t i = 0; i < n_notin; i++)
			free((char *)notin[i]);
	}
	return r;
}

static int load_configs(const struct dk_matrix *m, const struct dk_ds_opts *o,
			struct ds_config *cs, struct dk_error **err)
{
	bool signs = false;

	for (size_t i = 0; i < m->n_oses; i++)
		for (size_t j = 0; j < m->oses[i].n_versions; j++)
			for (size_t u = 0; u < m->oses[i].versions[j].n_uses; u++)
				for (size_t d = 0; d < m->n_drivers; d++)
					if (strcmp(m->drivers[d].name,
						   m->oses[i]
							   .versions[j]
							   .uses[u]
							   .driver) == 0)
						cs[d].used = true;
	for (size_t d = 0; d < m->n_drivers; d++) {
		int r = cs[d].used
				? ds_config_load(&cs[d], &m->drivers[d], o->config, err)
				: 0;

		if (r < 0)
			return r;
		signs |= cs[d].used && cs[d].cfg->signing;
	}
	if (o->signing_secret && !signs)
		return dk_error_set(
			err, EINVAL,
			"--signing-secret %s given, but no driver's config has "
			"signing: (nothing would mount it)",
			o->signing_secret);
	return 0;
}

int dk_daemonsets_render(const struct dk_matrix *m, const struct dk_ds_opts *o,
			 struct strbuf *out, struct dk_error **err)
{
	struct ds_config *cs = calloc(m->n_drivers + 1, sizeof(*cs));
	int r;

	if (!cs)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = load_configs(m, o, cs, err);
	for (size_t d = 0; d < m->n_drivers && r >= 0; d++)
		if (cs[d].used)
			configmap(out, &cs[d], o);
	for (size_t i = 0; i < m->n_oses && r >= 0; i++) {
		const struct dk_mx_os *os = &m->oses[i];

		for (size_t j = 0; j < os->n_versions && r >= 0; j++) {
			const struct dk_mx_osver *v = &os->versions[j];

			for (size_t u = 0; u < v->n_uses && r >= 0; u++) {
				const struct dk_mx_use *use = &v->uses[u];
				size_t d = 0;

				while (d < m->n_drivers &&
				       strcmp(m->drivers[d].name, use->driver) != 0)
					d++;
				for (size_t k = 0; k < use->n_branches && r >= 0; k++) {
					struct ds ds = {os, v, &m->drivers[d], NULL};

					ds.c = &cs[d];
					ds.o = o;
					for (size_t x = 0; x < m->drivers[d].n_branches;
					     x++)
						if (strcmp(m->drivers[d]
								   .branches[x]
								   .branch,
							   use->branches[k]) == 0)
							ds.b = &m->drivers[d].branches[x];
					r = ds.b ? emit_use(out, &ds, err)
						 : dk_error_set(
							   err, EINVAL,
							   "%s:%zu:%zu: "
							   "branch %s of "
							   "driver %s is not "
							   "defined",
							   use->pos.file, use->pos.line,
							   use->pos.column,
							   use->branches[k], use->driver);
				}
			}
		}
	}
	for (size_t d = 0; d < m->n_drivers; d++)
		ds_config_release(&cs[d]);
	free(cs);
	if (r >= 0 && out->oom)
		r = dk_error_set(err, ENOMEM, "out of memory");
	return r;
}
