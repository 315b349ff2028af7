/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* The one YAML (and JSON) reader: libyaml loads a document into a small node tree
 * with file:line:column marks, and a table-driven walk turns mappings into structs
 * with messages of one shape:
 *
 *   FILE:LINE:COL: path.to.key: expected ...
 *
 * JSON is YAML flow style, so JSON files (the Driver Toolkit release, state.json)
 * are read here too, with DK_YAML_JSON refusing what JSON does not allow. */

#include <stdbool.h>
#include <stddef.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/error.h"

/* Largest document: config, params and state files are a few KiB. */
#define DK_YAML_MAX_BYTES (1u << 20)
/* Deepest nesting of mappings and sequences; libyaml gets slow on deep flow
 * nesting, and no drvkit file goes past 5. */
#define DK_YAML_MAX_DEPTH 64

enum dk_yaml_kind {
	DK_YAML_SCALAR,
	DK_YAML_SEQUENCE,
	DK_YAML_MAPPING,
};

struct dk_yaml_pair;

struct dk_yaml_node {
	enum dk_yaml_kind kind;
	size_t line, column; /* 1-based, where the node starts */
	char *value;	     /* scalar text */
	bool plain;	     /* scalar written without quotes */
	size_t n;	     /* sequence items or mapping pairs */
	struct dk_yaml_node **items;
	struct dk_yaml_pair *pairs;
	size_t weight; /* nodes below, aliases counted again */
};

struct dk_yaml_pair {
	struct dk_yaml_node *key, *value;
};

struct dk_yaml_doc {
	struct dk_yaml_node *root; /* NULL for an empty document */
	/* Every node, owned here: an alias makes a node a child twice. */
	struct dk_yaml_node **nodes;
	size_t n_nodes, cap_nodes;
};

enum {
	/* Strict JSON: flow style only, double-quoted keys and strings on one line,
	 * JSON literals, no trailing comma, no anchors or tags, one document. */
	DK_YAML_JSON = 1 << 0,
};

/* Loads data (len bytes, at most DK_YAML_MAX_BYTES), which must hold one document (a
 * second one is refused, not ignored). name starts every message ("name:line:col:
 * problem"); NULL gives "line L column C: problem". Any input within the limits loads
 * in linear time (nesting capped, anchors hashed). Errors: EBADMSG, EFBIG, ENOMEM. */
int dk_yaml_parse(const char *name, const char *data, size_t len, unsigned flags,
		  struct dk_yaml_doc **out, struct dk_error **err) _must_check_;
void dk_yaml_free(struct dk_yaml_doc *doc);
DK_DEFINE_CLEANUP(struct dk_yaml_doc *, dk_yaml_free)
#define _cleanup_yaml_ _cleanup_(dk_dk_yaml_freep)

/* ---- looking things up ---- */

/* "a scalar", "a list", "a mapping": for "expected X, got Y". */
const char *dk_yaml_kind_name(const struct dk_yaml_node *n);
/* An unquoted empty, ~ or null. */
bool dk_yaml_is_null(const struct dk_yaml_node *n);
/* The value of key in mapping n (the first one), or NULL. */
const struct dk_yaml_node *dk_yaml_get(const struct dk_yaml_node *n, const char *key);
/* The text of a scalar that is not null, else NULL. */
const char *dk_yaml_scalar(const struct dk_yaml_node *n);
/* Whether the key of pair i of mapping n appeared in an earlier pair. */
bool dk_yaml_key_repeats(const struct dk_yaml_node *n, size_t i);

/* ---- walking into structs ---- */

struct dk_yaml_walk {
	const char *file; /* starts every message; may be NULL */
	struct dk_error **err;
};

/* "parent.name" / "parent[i]": the key path in messages; NULL on OOM. */
char *dk_yaml_subkey(const char *parent, const char *name);
char *dk_yaml_subindex(const char *parent, size_t i);

/* EBADMSG "file:line:col: key: message" at n (n NULL: "file: key: message"). */
int dk_yaml_fail(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		 const char *fmt, ...) _printf_format_(4, 5);

/* Scalars into C values; *out replaced only on success. */
int dk_yaml_get_string(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		       const char *key, char **out) _must_check_;
int dk_yaml_get_path(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, char **out) _must_check_;
int dk_yaml_get_bool(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, bool *out) _must_check_;
int dk_yaml_get_int(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		    long min, long max, int *out) _must_check_;

/* A list of scalars into a NULL-terminated array (*n_out counts the items stored, also
 * on failure, for the caller's release). Each item goes through item() (NULL:
 * dk_yaml_get_string), with the key path "key[i]". Not a list: "expected a list of
 * WHAT, got ...". */
typedef int (*dk_yaml_item_fn)(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			       const char *key, char **out);
int dk_yaml_get_list(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
		     const char *key, const char *what, dk_yaml_item_fn item, char ***out,
		     size_t *n_out) _must_check_;

enum dk_yaml_type {
	DK_YAML_CUSTOM, /* set() reads the node */
	DK_YAML_STRING, /* char * member: a non-empty scalar */
	DK_YAML_PATH,	/* char * member: an absolute path */
	DK_YAML_BOOL,	/* bool member */
	DK_YAML_INT,	/* int member within min..max */
};

/* One known key of a mapping. Typed fields store into obj at offset. */
struct dk_yaml_field {
	const char *name;
	enum dk_yaml_type type;
	bool required;
	bool null_ok; /* an empty value or null leaves the member unset */
	size_t offset;
	long min, max;
	int (*set)(struct dk_yaml_walk *w, const struct dk_yaml_node *n, const char *key,
		   void *obj);
};

/* Walks mapping n (key path `key`, "" at the top) into obj: unknown keys fail
 * with a "did you mean" or the known ones, a key given twice fails, a required
 * key that is missing fails. */
int dk_yaml_walk_mapping(struct dk_yaml_walk *w, const struct dk_yaml_node *n,
			 const char *key, const struct dk_yaml_field *fields, size_t nf,
			 void *obj) _must_check_;
