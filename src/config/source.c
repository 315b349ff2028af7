/* SPDX-License-Identifier: Apache-2.0 */
/* The source: mapping of a component: a directory of built modules (dir:), or where
 * to get them for a kernel drvkit has not seen (build:, precompiled:, get:). */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/yaml.h"
#include "config/config.h"

static const char *const get_step_names[] = {
	[DK_GET_CACHE] = "cache",
	[DK_GET_PRECOMPILED] = "precompiled",
	[DK_GET_BUILD] = "build",
};

const char *dk_get_step_name(enum dk_get_step s)
{
	return (unsigned)s < ARRAY_SIZE(get_step_names) ? get_step_names[s] : "?";
}

const struct dk_config_component *dk_config_component_find(const struct dk_config *cfg,
							   const char *name)
{
	for (size_t i = 0; i < cfg->n_components; i++)
		if (streq(cfg->components[i].name, name))
			return &cfg->components[i];
	return NULL;
}

/* A path as written, made absolute against the config file's directory: patches and
 * source trees are usually kept next to the config. */
static int get_rel_path(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, char **out)
{
	_cleanup_free_ char *s = NULL, *cfg = NULL;
	int r = dk_yaml_get_string(w, n, key, &s);

	if (r < 0)
		return r;
	if (s[0] == '/') {
		*out = TAKE_PTR(s);
		return 0;
	}
	/* The config's directory, absolute: its path, made absolute, up to the last '/'.
	 */
	cfg = dk_path_absolute(w->file ? w->file : ".");
	if (!cfg)
		return dk_yaml_fail(w, n, key, "cannot resolve relative path '%s': %s", s,
				    strerror(errno));
	if (w->file)
		*strrchr(cfg, '/') = '\0';
	*out = dk_strdup_printf("%s/%s", cfg, s);
	return *out ? 0 : dk_error_set(w->err, ENOMEM, "out of memory");
}

/* A list of scalars; relpath: paths made absolute against the config's dir. */
static int get_list(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    const char *what, bool relpath, char ***out, size_t *n_out)
{
	return dk_yaml_get_list(w, n, key, what, relpath ? get_rel_path : NULL, out,
				n_out);
}

/* ---- build: ---- */

static int set_tree_src(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			const char *key, void *obj)
{
	return get_rel_path(w, n, key, &((struct dk_config_tree *)obj)->src);
}

static int set_tree_sha256(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config_tree *t = obj;
	int r = dk_yaml_get_string(w, n, key, &t->sha256);

	if (r < 0)
		return r;
	if (!dk_sha256_is_hex(t->sha256))
		return dk_yaml_fail(w, n, key,
				    "expected 64 lowercase hex digits, got '%s'",
				    t->sha256);
	return 0;
}

static int set_tree_subdir(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config_tree *t = obj;
	int r = dk_yaml_get_string(w, n, key, &t->subdir);

	if (r < 0)
		return r;
	if (t->subdir[0] == '/' || strstr(t->subdir, ".."))
		return dk_yaml_fail(w, n, key,
				    "'%s' must be a relative path inside the source tree",
				    t->subdir);
	return 0;
}

#define TREE_FIELDS                                                  \
	{.name = "src", .set = set_tree_src},                        \
		{.name = "url",                                      \
		 .type = DK_YAML_STRING,                             \
		 .offset = offsetof(struct dk_config_tree, url)},    \
		{.name = "sha256", .set = set_tree_sha256},          \
		{.name = "member",                                   \
		 .type = DK_YAML_STRING,                             \
		 .offset = offsetof(struct dk_config_tree, member)}, \
	{                                                            \
		.name = "subdir", .set = set_tree_subdir             \
	}

static const struct dk_yaml_field tree_fields[] = {TREE_FIELDS};

static int check_tree(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		      const char *key, const struct dk_config_tree *t, bool need)
{
	if (t->src && t->url)
		return dk_yaml_fail(w, n, key, "give src or url, not both");
	if (t->url && !t->sha256)
		return dk_yaml_fail(w, n, key,
				    "url needs sha256 (a download is only used when its "
				    "digest is pinned)");
	if (t->sha256 && !t->url)
		return dk_yaml_fail(w, n, key, "sha256 is for url");
	if (t->member && !t->url)
		return dk_yaml_fail(w, n, key,
				    "member is for url (the tarball inside a "
				    ".deb or .rpm)");
	if (need && !t->src && !t->url)
		return dk_yaml_fail(w, n, key, "expected src (a directory) or url");
	return 0;
}

static int set_flavor_tree(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, struct dk_config_tree **out)
{
	int r;

	*out = calloc(1, sizeof(**out));
	if (!*out)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	r = dk_yaml_walk_mapping(w, n, key, tree_fields, ARRAY_SIZE(tree_fields), *out);
	return r < 0 ? r : check_tree(w, n, key, *out, false);
}

static int set_open(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	return set_flavor_tree(w, n, key, &((struct dk_config_build *)obj)->open);
}

static int set_proprietary(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	return set_flavor_tree(w, n, key, &((struct dk_config_build *)obj)->proprietary);
}

static int set_flavor(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		      const char *key, void *obj)
{
	struct dk_config_build *b = obj;
	int r = dk_yaml_get_string(w, n, key, &b->flavor);

	if (r < 0)
		return r;
	if (!streq(b->flavor, "open") && !streq(b->flavor, "proprietary") &&
	    !streq(b->flavor, "auto"))
		return dk_yaml_fail(w, n, key,
				    "expected open, proprietary or auto, got '%s'",
				    b->flavor);
	return 0;
}

/* make: an argv; only the documented placeholders, so a typo is caught here. */
/* An argv (make:, configure:) whose placeholders are all known. */
static int get_argv(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    char ***argv, size_t *n_argv)
{
	static const char *const names[] = DK_MAKE_PLACEHOLDERS;
	static const char *const any[DK_MAKE_N_PLACEHOLDERS] = {"", "", "", "",
								"", "", ""};
	int r = get_list(w, n, key, "arguments", false, argv, n_argv);

	if (r < 0)
		return r;
	if (*n_argv == 0)
		return dk_yaml_fail(w, n, key, "expected a program and its arguments");
	for (size_t i = 0; i < *n_argv; i++) {
		const char *bad = NULL;
		_cleanup_free_ char *x = dk_expand_placeholders(
			(*argv)[i], names, any, DK_MAKE_N_PLACEHOLDERS, true, &bad);

		if (bad)
			return dk_yaml_fail(
				w, n->items[i], key,
				"unknown placeholder in '%s' (known: {kernel} "
				"{build_dir} {src} {jobs} {out} {uses_symvers} "
				"{uses_include})",
				(*argv)[i]);
		if (!x)
			return dk_error_set(w->err, ENOMEM, "out of memory");
	}
	return 0;
}

static int set_make(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_config_build *b = obj;

	return get_argv(w, n, key, &b->make, &b->n_make);
}

/* configure: the component's own configure script (OFED's: hundreds of probes of
 * the kernel tree), as an argv run in the tree before make. */
static int set_configure(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, void *obj)
{
	struct dk_config_build *b = obj;

	return get_argv(w, n, key, &b->configure, &b->n_configure);
}

static int set_env(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		   void *obj)
{
	struct dk_config_build *b = obj;
	int r = get_list(w, n, key, "NAME=value", false, &b->env, &b->n_env);

	if (r < 0)
		return r;
	for (size_t i = 0; i < b->n_env; i++) {
		const char *eq = strchr(b->env[i], '=');

		if (!eq || eq == b->env[i])
			return dk_yaml_fail(w, n->items[i], key,
					    "expected NAME=value, got '%s'", b->env[i]);
	}
	return 0;
}

#define BUILD_LIST(field, what, rel)                                                 \
	static int set_##field(struct dk_yaml_walk *w, const struct dk_yaml_node *n, \
			       const char *key, void *obj)                           \
	{                                                                            \
		struct dk_config_build *b = obj;                                     \
		return get_list(w, n, key, what, rel, &b->field, &b->n_##field);     \
	}

/* uses: component names, or { path: DIR }: a provider built elsewhere (another
 * container's shared headers: DIR/Module.symvers and DIR/include). */
struct uses_path {
	char *path;
};

static const struct dk_yaml_field uses_path_fields[] = {
	{.name = "path",
	 .type = DK_YAML_PATH,
	 .required = true,
	 .offset = offsetof(struct uses_path, path)},
};

static int set_uses(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    void *obj)
{
	struct dk_config_build *b = obj;
	_cleanup_free_ struct dk_yaml_node **names = NULL;
	struct dk_yaml_node only_names;
	size_t nn = 0;

	if (n->kind != DK_YAML_SEQUENCE)
		return get_list(w, n, key, "component names or { path: DIR }", false,
				&b->uses, &b->n_uses);
	names = calloc(n->n + 1, sizeof(*names));
	b->uses_paths = calloc(n->n + 1, sizeof(char *));
	if (!names || !b->uses_paths)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n->n; i++) {
		_cleanup_free_ char *sub = NULL;
		struct uses_path up = {0};
		int r;

		if (n->items[i]->kind != DK_YAML_MAPPING) {
			names[nn++] = n->items[i];
			continue;
		}
		sub = dk_strdup_printf("%s[%zu]", key, i);
		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		r = dk_yaml_walk_mapping(w, n->items[i], sub, uses_path_fields,
					 ARRAY_SIZE(uses_path_fields), &up);
		if (r < 0) {
			free(up.path);
			return r;
		}
		b->uses_paths[b->n_uses_paths++] = up.path;
	}
	only_names = *n;
	only_names.items = names;
	only_names.n = nn;
	return get_list(w, &only_names, key, "component names or { path: DIR }", false,
			&b->uses, &b->n_uses);
}
BUILD_LIST(after, "component names", false)
BUILD_LIST(patches, "patch files", true)
BUILD_LIST(exports, "paths in the source tree", false)

static const struct dk_yaml_field build_fields[] = {
	TREE_FIELDS,
	{.name = "flavor", .set = set_flavor},
	{.name = "open", .set = set_open},
	{.name = "proprietary", .set = set_proprietary},
	{.name = "configure", .set = set_configure},
	{.name = "make", .set = set_make},
	{.name = "env", .set = set_env},
	{.name = "uses", .set = set_uses},
	{.name = "after", .set = set_after},
	{.name = "patches", .set = set_patches},
	{.name = "exports", .set = set_exports},
	{.name = "allow_compiler_mismatch",
	 .type = DK_YAML_BOOL,
	 .offset = offsetof(struct dk_config_build, allow_compiler_mismatch)},
};

static int set_build(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, void *obj)
{
	struct dk_config_component *c = obj;
	struct dk_config_build *b;
	int r;

	b = c->build = calloc(1, sizeof(*c->build));
	if (!b)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	b->line = (int)n->line;
	r = dk_yaml_walk_mapping(w, n, key, build_fields, ARRAY_SIZE(build_fields), b);
	if (r < 0)
		return r;
	if ((b->open || b->proprietary) && !b->flavor)
		return dk_yaml_fail(w, n, key, "open:/proprietary: need flavor:");
	/* Each flavor that can be chosen needs a tree: its own or the shared one. */
	if (b->flavor && !streq(b->flavor, "proprietary") && !b->open)
		r = check_tree(w, n, key, &b->tree, true);
	else if (b->flavor && !streq(b->flavor, "open") && !b->proprietary)
		r = check_tree(w, n, key, &b->tree, true);
	else
		r = check_tree(w, n, key, &b->tree, !b->flavor);
	if (r < 0)
		return r;
	if (!b->exports) {
		b->exports = calloc(2, sizeof(char *));
		if (!b->exports || !(b->exports[0] = strdup("include")))
			return dk_error_set(w->err, ENOMEM, "out of memory");
		b->n_exports = 1;
	}
	return 0;
}

/* ---- precompiled:, get: ---- */

static const struct dk_yaml_field precompiled_fields[] = {
	{.name = "url",
	 .type = DK_YAML_STRING,
	 .required = true,
	 .offset = offsetof(struct dk_config_precompiled, url)},
	{.name = "cert",
	 .type = DK_YAML_PATH,
	 .offset = offsetof(struct dk_config_precompiled, cert)},
};

static int set_precompiled(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	struct dk_config_component *c = obj;

	c->precompiled = calloc(1, sizeof(*c->precompiled));
	if (!c->precompiled)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	return dk_yaml_walk_mapping(w, n, key, precompiled_fields,
				    ARRAY_SIZE(precompiled_fields), c->precompiled);
}

struct get_list {
	const struct dk_yaml_node *node;
	char **names;
	size_t n;
};

static int set_get(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		   void *obj)
{
	struct get_list *g = obj;

	g->node = n;
	return get_list(w, n, key, "steps (cache, precompiled, build)", false, &g->names,
			&g->n);
}

struct source_doc {
	struct dk_config_component *c;
	struct get_list get;
};

static int src_dir(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		   void *obj)
{
	return dk_yaml_get_path(w, n, key, &((struct source_doc *)obj)->c->source_dir);
}

static int src_build(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, void *obj)
{
	return set_build(w, n, key, ((struct source_doc *)obj)->c);
}

static int src_precompiled(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			   const char *key, void *obj)
{
	return set_precompiled(w, n, key, ((struct source_doc *)obj)->c);
}

static int src_get(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		   void *obj)
{
	return set_get(w, n, key, &((struct source_doc *)obj)->get);
}

static const struct dk_yaml_field source_fields[] = {
	{.name = "dir", .set = src_dir},
	{.name = "build", .set = src_build},
	{.name = "precompiled", .set = src_precompiled},
	{.name = "get", .set = src_get},
};

static int apply_get(struct dk_yaml_walk *w, const char *key, struct source_doc *d)
{
	struct dk_config_component *c = d->c;
	_cleanup_free_ char *sub = dk_yaml_subkey(key, "get");

	if (!sub)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	if (!d->get.names) {
		/* The default order, without the steps that are not configured. */
		c->get[c->n_get++] = DK_GET_CACHE;
		if (c->precompiled)
			c->get[c->n_get++] = DK_GET_PRECOMPILED;
		if (c->build)
			c->get[c->n_get++] = DK_GET_BUILD;
		return 0;
	}
	if (d->get.n == 0)
		return dk_yaml_fail(w, d->get.node, sub, "expected at least one step");
	for (size_t i = 0; i < d->get.n; i++) {
		const struct dk_yaml_node *item = d->get.node->items[i];
		size_t s;

		for (s = 0; s < ARRAY_SIZE(get_step_names); s++)
			if (streq(d->get.names[i], get_step_names[s]))
				break;
		if (s == ARRAY_SIZE(get_step_names))
			return dk_yaml_fail(
				w, item, sub,
				"unknown step '%s' (cache, precompiled, build)",
				d->get.names[i]);
		for (size_t j = 0; j < c->n_get; j++)
			if (c->get[j] == (enum dk_get_step)s)
				return dk_yaml_fail(w, item, sub, "%s is listed twice",
						    d->get.names[i]);
		if (s == DK_GET_PRECOMPILED && !c->precompiled)
			return dk_yaml_fail(w, item, sub,
					    "precompiled needs source.precompiled.url");
		if (s == DK_GET_BUILD && !c->build)
			return dk_yaml_fail(w, item, sub, "build needs source.build");
		c->get[c->n_get++] = (enum dk_get_step)s;
	}
	return 0;
}

int dk_config_set_source(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, void *component)
{
	struct source_doc d = {.c = component};
	int r;

	r = dk_yaml_walk_mapping(w, n, key, source_fields, ARRAY_SIZE(source_fields), &d);
	if (r >= 0 && d.c->source_dir && (d.c->build || d.c->precompiled || d.get.names))
		r = dk_yaml_fail(w, n, key,
				 "dir: is a directory of built modules; it does not go "
				 "with build:, precompiled: or get:");
	else if (r >= 0 && !d.c->source_dir && !d.c->build && !d.c->precompiled)
		r = dk_yaml_fail(w, n, key, "expected dir:, build: or precompiled:");
	if (r >= 0 && !d.c->source_dir)
		r = apply_get(w, key, &d);
	for (size_t i = 0; i < d.get.n; i++)
		free(d.get.names[i]);
	free(d.get.names);
	return r;
}

/* ---- across components ---- */

/* The n-th item of component i's build.<list> (uses, after) in the components
 * sequence node comps, with its key path; NULL node when not found (no position). */
static const struct dk_yaml_node *list_item(const struct dk_yaml_node *comps,
					    const char *key, size_t i, const char *list,
					    size_t n, char **sub)
{
	const struct dk_yaml_node *l = NULL;

	*sub = dk_strdup_printf("%s[%zu].source.build.%s[%zu]", key, i, list, n);
	if (comps && comps->kind == DK_YAML_SEQUENCE && i < comps->n)
		l = dk_yaml_get(
			dk_yaml_get(dk_yaml_get(comps->items[i], "source"), "build"),
			list);
	return l && l->kind == DK_YAML_SEQUENCE && n < l->n ? l->items[n] : NULL;
}

static int check_refs(struct dk_yaml_walk *w, const struct dk_config *cfg,
		      const struct dk_yaml_node *comps, size_t ci, const char *what,
		      const char *key)
{
	const struct dk_config_component *c = &cfg->components[ci];
	bool uses = streq(what, "uses");
	char **names = uses ? c->build->uses : c->build->after;
	size_t n = uses ? c->build->n_uses : c->build->n_after;

	for (size_t i = 0; i < n; i++) {
		const struct dk_config_component *o =
			dk_config_component_find(cfg, names[i]);
		_cleanup_free_ char *sub = NULL;
		const struct dk_yaml_node *at = list_item(comps, key, ci, what, i, &sub);

		if (!sub)
			return dk_error_set(w->err, ENOMEM, "out of memory");
		if (!o)
			return dk_yaml_fail(w, at, sub,
					    "component %s: %s names %s, which is not a "
					    "component of this file",
					    c->name, what, names[i]);
		if (o == c)
			return dk_yaml_fail(w, at, sub, "component %s: %s names itself",
					    c->name, what);
		if (uses && !o->build && !o->precompiled)
			return dk_yaml_fail(
				w, at, sub,
				"component %s uses %s, which has no build: or "
				"precompiled: source (its Module.symvers is "
				"needed)",
				c->name, names[i]);
	}
	return 0;
}

/* Depth-first walk over uses/after. stack holds the current path; an edge to a
 * component on it closes a cycle: the path from there, and the edge that closed it
 * (component from, its list `after` or uses, item k). */
struct cycle {
	unsigned char *mark; /* 0 new, 1 on the path, 2 done */
	size_t *stack, depth;
	size_t from, to, k;
	bool after;
};

static bool visit(const struct dk_config *cfg, size_t i, struct cycle *cy)
{
	const struct dk_config_build *b = cfg->components[i].build;

	cy->mark[i] = 1;
	cy->stack[cy->depth++] = i;
	for (size_t pass = 0; b && pass < 2; pass++) {
		char **v = pass ? b->after : b->uses;
		size_t n = pass ? b->n_after : b->n_uses;

		for (size_t k = 0; k < n; k++) {
			const struct dk_config_component *o =
				dk_config_component_find(cfg, v[k]);
			size_t j = o ? (size_t)(o - cfg->components) : 0;

			if (!o || cy->mark[j] == 2)
				continue;
			if (cy->mark[j] == 1) {
				cy->from = i;
				cy->to = j;
				cy->k = k;
				cy->after = pass == 1;
				return true;
			}
			if (visit(cfg, j, cy))
				return true;
		}
	}
	cy->depth--;
	cy->mark[i] = 2;
	return false;
}

static int cycle_fail(struct dk_yaml_walk *w, const struct dk_config *cfg,
		      const struct dk_yaml_node *comps, const char *key,
		      const struct cycle *cy)
{
	const char *list = cy->after ? "after" : "uses";
	_cleanup_free_ char *sub = NULL, *names = NULL;
	const struct dk_yaml_node *at =
		list_item(comps, key, cy->from, list, cy->k, &sub);
	struct strbuf path;
	size_t p = 0;

	while (p < cy->depth && cy->stack[p] != cy->to)
		p++;
	strbuf_init(&path);
	for (; p < cy->depth; p++)
		strbuf_printf(&path, "%s -> ", cfg->components[cy->stack[p]].name);
	strbuf_puts(&path, cfg->components[cy->to].name);
	names = strbuf_steal(&path);
	if (!sub || !names)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	return dk_yaml_fail(w, at, sub,
			    "uses/after form a cycle (%s): no order builds them", names);
}

int dk_config_check_sources(struct dk_yaml_walk *w, const struct dk_config *cfg,
			    const struct dk_yaml_node *comps, const char *key)
{
	_cleanup_free_ unsigned char *mark = calloc(cfg->n_components + 1, 1);
	_cleanup_free_ size_t *stack = calloc(cfg->n_components + 1, sizeof(size_t));
	struct cycle cy = {.mark = mark, .stack = stack};

	if (!mark || !stack)
		return dk_error_set(w->err, ENOMEM, "out of memory");
	for (size_t i = 0; i < cfg->n_components; i++) {
		int r;

		if (!cfg->components[i].build)
			continue;
		r = check_refs(w, cfg, comps, i, "uses", key);
		if (r >= 0)
			r = check_refs(w, cfg, comps, i, "after", key);
		if (r < 0)
			return r;
	}
	for (size_t i = 0; i < cfg->n_components; i++)
		if (!mark[i] && visit(cfg, i, &cy))
			return cycle_fail(w, cfg, comps, key, &cy);
	return 0;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void tree_release(struct dk_config_tree *t)
{
	if (!t)
		return;
	free(t->src);
	free(t->url);
	free(t->sha256);
	free(t->member);
	free(t->subdir);
}

void dk_config_component_release_source(struct dk_config_component *c)
{
	struct dk_config_build *b = c->build;

	free(c->source_dir);
	if (b) {
		tree_release(&b->tree);
		tree_release(b->open);
		free(b->open);
		tree_release(b->proprietary);
		free(b->proprietary);
		free(b->flavor);
		strv_free(b->configure, b->n_configure);
		strv_free(b->make, b->n_make);
		strv_free(b->env, b->n_env);
		strv_free(b->uses, b->n_uses);
		strv_free(b->uses_paths, b->n_uses_paths);
		strv_free(b->after, b->n_after);
		strv_free(b->patches, b->n_patches);
		strv_free(b->exports, b->n_exports);
		free(b);
	}
	if (c->precompiled) {
		free(c->precompiled->url);
		free(c->precompiled->cert);
		free(c->precompiled);
	}
}
