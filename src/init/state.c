/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"

#include "base/fsutil.h"
#include "base/yaml.h"
#include "config/config.h"
#include "init/state.h"

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void module_release(struct dk_state_module *m)
{
	free(m->name);
	free(m->component);
	free(m->path);
	free(m->source);
	free(m->srcversion);
	free(m->version);
	for (size_t i = 0; i < m->n_devices; i++)
		free(m->devices[i]);
	free(m->devices);
}

void dk_state_release(struct dk_state *st)
{
	for (size_t i = 0; i < st->n_modules; i++)
		module_release(&st->modules[i]);
	free(st->modules);
	for (size_t i = 0; i < st->n_replaced; i++) {
		free(st->replaced[i].name);
		free(st->replaced[i].component);
	}
	free(st->replaced);
	for (size_t i = 0; i < st->n_probed; i++)
		free(st->probed[i]);
	free(st->probed);
	free(st->kernel);
	memset(st, 0, sizeof(*st));
}

const struct dk_state_module *dk_state_find_module(const struct dk_state *st,
						   const char *name)
{
	for (size_t i = 0; i < st->n_modules; i++)
		if (streq(st->modules[i].name, name))
			return &st->modules[i];
	return NULL;
}

int dk_state_add_module(struct dk_state *st, const char *name, const char *component,
			const char *path, const char *source, const char *srcversion,
			const char *version)
{
	struct dk_state_module *nm, *m;

	dk_state_remove_module(st, name);
	nm = realloc(st->modules, (st->n_modules + 1) * sizeof(*nm));
	if (!nm)
		return -ENOMEM;
	st->modules = nm;
	m = &nm[st->n_modules];
	memset(m, 0, sizeof(*m));
	m->name = strdup(name);
	m->component = dup_or_null(component);
	m->path = dup_or_null(path);
	m->source = dup_or_null(source);
	m->srcversion = dup_or_null(srcversion);
	m->version = dup_or_null(version);
	st->n_modules++;
	if (!m->name || (component && !m->component) || (path && !m->path) ||
	    (source && !m->source) || (srcversion && !m->srcversion) ||
	    (version && !m->version))
		return -ENOMEM;
	return 0;
}

void dk_state_remove_module(struct dk_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_modules; i++) {
		if (!streq(st->modules[i].name, name))
			continue;
		module_release(&st->modules[i]);
		memmove(&st->modules[i], &st->modules[i + 1],
			(st->n_modules - i - 1) * sizeof(*st->modules));
		st->n_modules--;
		return;
	}
}

int dk_state_add_replaced(struct dk_state *st, const char *name, const char *component,
			  bool restore)
{
	struct dk_state_replaced *nr;

	for (size_t i = 0; i < st->n_replaced; i++)
		if (streq(st->replaced[i].name, name))
			return 0;
	nr = realloc(st->replaced, (st->n_replaced + 1) * sizeof(*nr));
	if (!nr)
		return -ENOMEM;
	st->replaced = nr;
	nr[st->n_replaced].name = strdup(name);
	nr[st->n_replaced].component = dup_or_null(component);
	nr[st->n_replaced].restore = restore;
	st->n_replaced++;
	if (!nr[st->n_replaced - 1].name)
		return -ENOMEM;
	return 0;
}

void dk_state_remove_replaced(struct dk_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_replaced; i++) {
		if (!streq(st->replaced[i].name, name))
			continue;
		free(st->replaced[i].name);
		free(st->replaced[i].component);
		memmove(&st->replaced[i], &st->replaced[i + 1],
			(st->n_replaced - i - 1) * sizeof(*st->replaced));
		st->n_replaced--;
		return;
	}
}

int dk_state_add_devices(struct dk_state *st, const char *name, const char *const *globs,
			 size_t n)
{
	for (size_t i = 0; i < st->n_modules; i++) {
		struct dk_state_module *m = &st->modules[i];

		if (!streq(m->name, name))
			continue;
		for (size_t j = 0; j < n; j++)
			if (dk_strv_push(&m->devices, &m->n_devices, globs[j]) < 0)
				return -ENOMEM;
	}
	return 0;
}

void dk_state_set_loading(struct dk_state *st, const char *name, bool loading)
{
	for (size_t i = 0; i < st->n_modules; i++)
		if (streq(st->modules[i].name, name))
			st->modules[i].loading = loading;
}

int dk_state_add_probed(struct dk_state *st, const char *name)
{
	if (dk_strv_contains((const char *const *)st->probed, st->n_probed, name))
		return 0;
	return dk_strv_push(&st->probed, &st->n_probed, name);
}

void dk_state_remove_probed(struct dk_state *st, const char *name)
{
	for (size_t i = 0; i < st->n_probed; i++) {
		if (!streq(st->probed[i], name))
			continue;
		free(st->probed[i]);
		memmove(&st->probed[i], &st->probed[i + 1],
			(st->n_probed - i - 1) * sizeof(*st->probed));
		st->n_probed--;
		return;
	}
}

int dk_state_write(const char *path, const struct dk_state *st, struct dk_error **err)
{
	struct json_writer w;
	int r;

	/* Pretty output: "key": value with a space, which libyaml reads back. */
	json_init(&w, true);
	json_begin_object(&w);
	json_kv_int(&w, "version", 1);
	json_kv_int(&w, "pid", st->pid);
	json_kv_string(&w, "kernel", st->kernel);
	json_key(&w, "modules");
	json_begin_array(&w);
	for (size_t i = 0; i < st->n_modules; i++) {
		const struct dk_state_module *m = &st->modules[i];

		json_begin_object(&w);
		json_kv_string(&w, "name", m->name);
		json_kv_string(&w, "component", m->component);
		json_kv_string(&w, "path", m->path);
		if (m->source)
			json_kv_string(&w, "source", m->source);
		json_kv_string(&w, "srcversion", m->srcversion);
		json_kv_string(&w, "version", m->version);
		if (m->loading)
			json_kv_bool(&w, "loading", true);
		if (m->n_devices)
			json_kv_strv(&w, "devices", m->devices, m->n_devices);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_key(&w, "replaced");
	json_begin_array(&w);
	for (size_t i = 0; i < st->n_replaced; i++) {
		json_begin_object(&w);
		json_kv_string(&w, "name", st->replaced[i].name);
		json_kv_string(&w, "component", st->replaced[i].component);
		json_kv_bool(&w, "restore", st->replaced[i].restore);
		json_end_object(&w);
	}
	json_end_array(&w);
	json_kv_strv(&w, "probed", st->probed, st->n_probed);
	json_end_object(&w);
	r = dk_write_json_atomic(path, &w);
	if (r == -ENOMEM)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (r < 0)
		return dk_error_set(err, -r,
				    "write state file %s: %s: check that state_dir is a "
				    "writable mount with free space",
				    path, strerror(-r));
	return 0;
}

/* ---- reading: JSON is YAML, so base/yaml reads what json-writer wrote ---- */

/* What a state file holds wrong: the key and what was expected (EBADMSG). */
struct bad_state {
	const char *key;
	const char *why;
};

static int bad(struct bad_state *b, const char *key, const char *why)
{
	b->key = key;
	b->why = why;
	return -EBADMSG;
}

/* The list under key, NULL when absent; not a list is an error. */
static int get_list(const struct dk_yaml_node *root, const char *key,
		    const struct dk_yaml_node **out, struct bad_state *b)
{
	const struct dk_yaml_node *n = dk_yaml_get(root, key);

	*out = NULL;
	if (!n || dk_yaml_is_null(n))
		return 0;
	if (n->kind != DK_YAML_SEQUENCE)
		return bad(b, key, "expected a list");
	*out = n;
	return 0;
}

/* A module name from the file: it is passed to the kernel and joined to sysfs paths. */
static int get_name(const struct dk_yaml_node *n, const char *key, const char **out,
		    struct bad_state *b)
{
	*out = dk_yaml_scalar(n);
	if (!*out)
		return bad(b, key, "a module without a name");
	if (!dk_module_name_ok(*out))
		return bad(b, key, "a name that is not a module name ([A-Za-z0-9_-])");
	return 0;
}

/* A module's devices: globs (absent in files of older drvkits: none). */
static int parse_devices(const struct dk_yaml_node *m, struct dk_state *st,
			 const char *name, struct bad_state *b)
{
	const struct dk_yaml_node *devs;
	int r = get_list(m, "devices", &devs, b);

	for (size_t i = 0; r >= 0 && devs && i < devs->n; i++) {
		const char *g = dk_yaml_scalar(devs->items[i]);

		if (!g || g[0] != '/')
			return bad(b, "devices",
				   "a device glob that is not an absolute path");
		r = dk_state_add_devices(st, name, &g, 1);
	}
	return r;
}

static int parse_modules(const struct dk_yaml_node *root, struct dk_state *st,
			 struct bad_state *b)
{
	const struct dk_yaml_node *mods;
	int r = get_list(root, "modules", &mods, b);

	for (size_t i = 0; r >= 0 && mods && i < mods->n; i++) {
		const struct dk_yaml_node *m = mods->items[i];
		const char *name;

		r = get_name(dk_yaml_get(m, "name"), "modules", &name, b);
		if (r >= 0)
			r = dk_state_add_module(
				st, name, dk_yaml_scalar(dk_yaml_get(m, "component")),
				dk_yaml_scalar(dk_yaml_get(m, "path")),
				dk_yaml_scalar(dk_yaml_get(m, "source")),
				dk_yaml_scalar(dk_yaml_get(m, "srcversion")),
				dk_yaml_scalar(dk_yaml_get(m, "version")));
		if (r >= 0) {
			const char *l = dk_yaml_scalar(dk_yaml_get(m, "loading"));

			dk_state_set_loading(st, name, l && streq(l, "true"));
			r = parse_devices(m, st, name, b);
		}
	}
	return r;
}

static int parse_replaced(const struct dk_yaml_node *root, struct dk_state *st,
			  struct bad_state *b)
{
	const struct dk_yaml_node *repl;
	int r = get_list(root, "replaced", &repl, b);

	for (size_t i = 0; r >= 0 && repl && i < repl->n; i++) {
		const struct dk_yaml_node *m = repl->items[i];
		const char *restore = dk_yaml_scalar(dk_yaml_get(m, "restore"));
		const char *name;

		r = get_name(dk_yaml_get(m, "name"), "replaced", &name, b);
		if (r >= 0)
			r = dk_state_add_replaced(
				st, name, dk_yaml_scalar(dk_yaml_get(m, "component")),
				restore && streq(restore, "true"));
	}
	return r;
}

static int parse_probed(const struct dk_yaml_node *root, struct dk_state *st,
			struct bad_state *b)
{
	const struct dk_yaml_node *probed;
	int r = get_list(root, "probed", &probed, b);

	for (size_t i = 0; r >= 0 && probed && i < probed->n; i++) {
		const char *name;

		r = get_name(probed->items[i], "probed", &name, b);
		if (r >= 0)
			r = dk_state_add_probed(st, name);
	}
	return r;
}

static int parse_state(const struct dk_yaml_node *root, struct dk_state *st,
		       struct bad_state *b)
{
	const char *s;
	int r;

	if (!root || root->kind != DK_YAML_MAPPING)
		return -EBADMSG;
	s = dk_yaml_scalar(dk_yaml_get(root, "version"));
	if (!s || !streq(s, "1"))
		return -EBADMSG;
	s = dk_yaml_scalar(dk_yaml_get(root, "pid"));
	st->pid = s ? strtol(s, NULL, 10) : 0;
	s = dk_yaml_scalar(dk_yaml_get(root, "kernel"));
	if (s && !dk_kernel_release_ok(s))
		return bad(b, "kernel", "not a kernel release");
	if (s && !(st->kernel = strdup(s)))
		return -ENOMEM;
	r = parse_modules(root, st, b);
	if (r >= 0)
		r = parse_replaced(root, st, b);
	if (r >= 0)
		r = parse_probed(root, st, b);
	return r;
}

int dk_state_read(const char *path, struct dk_state *st, struct dk_error **err)
{
	_cleanup_free_ char *data = NULL;
	_cleanup_yaml_ struct dk_yaml_doc *doc = NULL;
	struct bad_state b = {0};
	size_t len = 0;
	int r;

	memset(st, 0, sizeof(*st));
	r = dk_read_file(path, DK_YAML_MAX_BYTES, &data, &len);
	if (r == -ENOENT)
		return 0;
	if (r < 0)
		return dk_error_set(err, -r, "read state file %s: %s", path,
				    strerror(-r));
	r = dk_yaml_parse(NULL, data, len, DK_YAML_JSON, &doc, err);
	if (r == -EBADMSG) {
		_cleanup_free_ char *why = err && *err ? strdup((*err)->msg) : NULL;

		return dk_error_set(
			err, EBADMSG,
			"state file %s is not valid JSON (%s): remove it once "
			"no module it lists is loaded",
			path, why ? why : "?");
	}
	if (r < 0)
		return r;
	r = parse_state(doc->root, st, &b);
	if (r < 0)
		dk_state_release(st);
	if (r == -EBADMSG && b.key)
		return dk_error_set(err, EBADMSG,
				    "state file %s: %s: %s: remove it once no module it "
				    "lists is loaded",
				    path, b.key, b.why);
	if (r < 0) {
		return dk_error_set(err, -r, "state file %s: %s", path,
				    r == -EBADMSG
					    ? "not a drvkit state file (version 1): "
					      "written by another drvkit version? "
					      "remove it once no module it lists "
					      "is loaded"
					    : strerror(-r));
	}
	return 0;
}
