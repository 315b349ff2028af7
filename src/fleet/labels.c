/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/macro.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/yaml.h"
#include "host/detect.h"
#include "fleet/labels.h"
#include "fleet/matrix.h"

void dk_node_facts_release(struct dk_node_facts *f)
{
	free(f->source);
	free(f->node);
	free(f->kernel);
	free(f->os_id);
	free(f->os_version);
	free(f->ostree_version);
	free(f->arch);
	for (size_t i = 0; i < f->n_labels; i++) {
		free(f->labels[i].key);
		free(f->labels[i].value);
	}
	free(f->labels);
	*f = (struct dk_node_facts){0};
}

const char *dk_node_facts_label(const struct dk_node_facts *f, const char *key)
{
	for (size_t i = 0; i < f->n_labels; i++)
		if (strcmp(f->labels[i].key, key) == 0)
			return f->labels[i].value;
	return NULL;
}

static int add_label(struct dk_node_facts *f, const char *key, const char *value,
		     struct dk_error **err)
{
	struct dk_node_label *v = realloc(f->labels, (f->n_labels + 1) * sizeof(*v));

	if (!v)
		return dk_error_set(err, ENOMEM, "out of memory");
	f->labels = v;
	v[f->n_labels] = (struct dk_node_label){strdup(key), strdup(value)};
	if (!v[f->n_labels].key || !v[f->n_labels].value) {
		free(v[f->n_labels].key);
		free(v[f->n_labels].value);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	f->n_labels++;
	return 0;
}

char *dk_label_sanitise(const char *s)
{
	char *out = strdup(s);

	if (!out)
		return NULL;
	for (char *p = out; *p; p++)
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') ||
		      (*p >= '0' && *p <= '9') || *p == '-' || *p == '_' || *p == '.'))
			*p = '_';
	return out;
}

static bool label_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
}

bool dk_label_kernel_equal(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char ca = label_char(*a) ? *a : '_', cb = label_char(*b) ? *b : '_';

		if (ca != cb)
			return false;
	}
	return !*a && !*b;
}

const char *dk_label_arch_from_kernel(const char *release)
{
	static const struct {
		const char *suffix, *arch;
	} table[] = {
		{"amd64", "amd64"},
		{"x86_64", "amd64"},
		{"arm64", "arm64"},
		{"aarch64", "arm64"},
	};
	size_t len = strlen(release);

	for (size_t i = 0; i < ARRAY_SIZE(table); i++) {
		size_t n = strlen(table[i].suffix);
		char sep;

		if (len <= n || strcmp(release + len - n, table[i].suffix) != 0)
			continue;
		sep = release[len - n - 1];
		if (sep == '-' || sep == '.' || sep == '_' || sep == '+')
			return table[i].arch;
	}
	return NULL;
}

static int set_dup(char **dst, const char *v, struct dk_error **err)
{
	free(*dst);
	*dst = v ? strdup(v) : NULL;
	if (v && !*dst)
		return dk_error_set(err, ENOMEM, "out of memory");
	return 0;
}

/* The labels mapping: every value a scalar; the five labels picked out. */
static int read_labels(struct dk_yaml_walk *w, const struct dk_yaml_node *labels,
		       const char *key, struct dk_node_facts *out)
{
	static const struct {
		const char *label;
		size_t offset;
	} wanted[] = {
		{DK_LABEL_KERNEL, offsetof(struct dk_node_facts, kernel)},
		{DK_LABEL_OS_ID, offsetof(struct dk_node_facts, os_id)},
		{DK_LABEL_OS_VERSION, offsetof(struct dk_node_facts, os_version)},
		{DK_LABEL_OSTREE, offsetof(struct dk_node_facts, ostree_version)},
		{DK_LABEL_ARCH, offsetof(struct dk_node_facts, arch)},
	};

	if (labels->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(w, labels, key,
				    "expected a mapping of label: value, got %s",
				    dk_yaml_kind_name(labels));
	for (size_t i = 0; i < labels->n; i++) {
		const struct dk_yaml_pair *p = &labels->pairs[i];
		const char *name = p->key->value;
		_cleanup_free_ char *sub = NULL;

		/* before naming the key: a mapping or list as key has no value */
		if (p->key->kind != DK_YAML_SCALAR)
			return dk_yaml_fail(w, p->key, key,
					    "expected a label name, got %s",
					    dk_yaml_kind_name(p->key));
		sub = dk_yaml_subkey(key, name);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (p->value->kind != DK_YAML_SCALAR)
			return dk_yaml_fail(w, p->value, sub,
					    "expected a label value (a string), got %s",
					    dk_yaml_kind_name(p->value));
		if (dk_yaml_key_repeats(labels, i))
			return dk_yaml_fail(w, p->key, sub, "label given twice");
		if (add_label(out, name, p->value->value ? p->value->value : "", w->err) <
		    0)
			return -ENOMEM;
		for (size_t k = 0; k < ARRAY_SIZE(wanted); k++) {
			char **dst = (char **)((char *)out + wanted[k].offset);
			const char *v = dk_yaml_scalar(p->value);

			if (strcmp(name, wanted[k].label) == 0 && v && v[0] &&
			    set_dup(dst, v, w->err) < 0)
				return -ENOMEM;
		}
	}
	return 0;
}

/* A Node: metadata.labels (and metadata.name). */
static int read_node(struct dk_yaml_walk *w, const struct dk_yaml_node *node,
		     const char *key, struct dk_node_facts *out)
{
	const struct dk_yaml_node *kind = dk_yaml_get(node, "kind");
	const struct dk_yaml_node *meta = dk_yaml_get(node, "metadata");
	const struct dk_yaml_node *labels;
	_cleanup_free_ char *mkey = dk_yaml_subkey(key, "metadata");
	_cleanup_free_ char *lkey = dk_yaml_subkey(mkey, "labels");
	const char *k = kind ? dk_yaml_scalar(kind) : NULL;

	if (!mkey || !lkey)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	if (k && strcmp(k, "Node") != 0)
		return dk_yaml_fail(
			w, kind, key[0] ? key : "kind",
			"expected a Node, got kind %s (kubectl get node NAME -o yaml "
			"prints one)",
			k);
	if (!meta || meta->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(w, meta ? meta : node, mkey,
				    "expected a mapping with labels (a Node object)");
	if (dk_yaml_scalar(dk_yaml_get(meta, "name")) &&
	    set_dup(&out->node, dk_yaml_scalar(dk_yaml_get(meta, "name")), w->err) < 0)
		return -ENOMEM;
	labels = dk_yaml_get(meta, "labels");
	if (!labels)
		return dk_yaml_fail(
			w, meta, mkey,
			"the Node has no labels: is Node Feature Discovery deployed?");
	return read_labels(w, labels, lkey, out);
}

static int read_root(struct dk_yaml_walk *w, const struct dk_yaml_node *root,
		     struct dk_node_facts *out)
{
	const struct dk_yaml_node *items;

	if (!root || root->kind != DK_YAML_MAPPING)
		return dk_yaml_fail(
			w, root, "",
			"expected a mapping of label: value, a Node or a NodeList, "
			"got %s",
			root ? dk_yaml_kind_name(root) : "an empty document");
	items = dk_yaml_get(root, "items");
	if (items && dk_yaml_get(root, "kind")) {
		_cleanup_free_ char *ikey = dk_yaml_subindex("items", 0);

		if (items->kind != DK_YAML_SEQUENCE)
			return dk_yaml_fail(w, items, "items",
					    "expected a list of Nodes, got %s",
					    dk_yaml_kind_name(items));
		if (items->n != 1)
			return dk_yaml_fail(
				w, items, "items",
				"expected exactly one Node, got %zu (select one node: "
				"kubectl get node NAME -o yaml)",
				items->n);
		if (!ikey)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (items->items[0]->kind != DK_YAML_MAPPING)
			return dk_yaml_fail(w, items->items[0], ikey,
					    "expected a Node, got %s",
					    dk_yaml_kind_name(items->items[0]));
		return read_node(w, items->items[0], ikey, out);
	}
	if (dk_yaml_get(root, "metadata") || dk_yaml_get(root, "kind"))
		return read_node(w, root, "", out);
	return read_labels(w, root, "", out);
}

int dk_labels_parse(const char *name, const char *data, size_t len,
		    struct dk_node_facts *out, struct dk_error **err)
{
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	struct dk_yaml_walk w = {name, err};
	int r;

	*out = (struct dk_node_facts){0};
	out->source = strdup(name);
	if (!out->source)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_yaml_parse(name, data, len, 0, &doc, err);
	if (r < 0)
		return r;
	r = read_root(&w, doc->root, out);
	if (r < 0)
		return r;
	out->has_labels = true;
	if (out->arch) {
		const char *a = dk_mx_arch_normalise(out->arch);

		out->arch_from = "label " DK_LABEL_ARCH;
		if (a && set_dup(&out->arch, a, err) < 0)
			return -ENOMEM;
	} else if (out->kernel && dk_label_arch_from_kernel(out->kernel)) {
		out->arch_from = "the kernel release's suffix";
		if (set_dup(&out->arch, dk_label_arch_from_kernel(out->kernel), err) < 0)
			return -ENOMEM;
	}
	return 0;
}

int dk_labels_load(const char *path, struct dk_node_facts *out, struct dk_error **err)
{
	_cleanup_free_ char *data = NULL;
	size_t len = 0;
	int r;

	*out = (struct dk_node_facts){0};
	r = dk_read_file(path, DK_YAML_MAX_BYTES, &data, &len);
	if (r < 0)
		return dk_error_set(err, -r, "cannot read labels file %s: %s", path,
				    strerror(-r));
	return dk_labels_parse(path, data, len, out, err);
}

int dk_node_facts_from_detect(const struct dk_detect *d, struct dk_node_facts *out,
			      struct dk_error **err)
{
	const char *machine = d->kernel.arch.value;

	*out = (struct dk_node_facts){0};
	if (set_dup(&out->source, "detection", err) < 0 ||
	    set_dup(&out->kernel, d->kernel.release.value, err) < 0 ||
	    set_dup(&out->os_id, d->os.osr.id, err) < 0 ||
	    set_dup(&out->os_version, d->os.osr.version_id, err) < 0 ||
	    set_dup(&out->ostree_version, d->os.osr.ostree_version, err) < 0)
		return -ENOMEM;
	if (machine) {
		const char *a = dk_mx_arch_normalise(machine);

		out->arch_from = "uname(2)";
		if (set_dup(&out->arch, a ? a : machine, err) < 0)
			return -ENOMEM;
	}
	return 0;
}

int dk_node_facts_check(const struct dk_node_facts *f, bool have_kernel,
			struct dk_error **err)
{
	const char *what = NULL, *label = NULL;
	bool detected = f->source && strcmp(f->source, "detection") == 0;

	if (!f->os_id)
		what = "os id", label = DK_LABEL_OS_ID;
	else if (!f->os_version)
		what = "os version", label = DK_LABEL_OS_VERSION;
	else if (!f->kernel && !have_kernel)
		what = "kernel release", label = DK_LABEL_KERNEL;
	else if (!f->arch)
		what = "architecture", label = DK_LABEL_ARCH;
	if (!what)
		return 0;
	if (detected)
		return dk_error_set(err, EBADMSG,
				    "detection found no %s (see drvkit detect for why)",
				    what);
	dk_error_set(err, EBADMSG, "%s: no label %s: the node's %s is unknown%s",
		     f->source, label, what,
		     strcmp(what, "architecture") == 0
			     ? " (and the kernel release carries no arch suffix)"
			     : "");
	return dk_error_set_hint(err,
				 "label the node with Node Feature Discovery, or write "
				 "the label into the file");
}
