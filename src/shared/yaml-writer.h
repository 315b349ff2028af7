/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

/* Block-style YAML out, for the Kubernetes objects and CI files drvkit generates. Every
 * string value is a double-quoted JSON string (valid YAML), so no value can change type
 * (no, 1.10, ~) or break the document; keys are written plain when they are made of
 * [A-Za-z0-9._/-] (drvkit's own keys, label keys), else quoted. `level` counts two-space
 * indentation steps. The one YAML writer; base/yaml.h is the one reader. */

#include <stddef.h>

#include "shared/macro.h"
#include "shared/strbuf.h"

/* 2 * level spaces, for a line the caller writes itself */
void yaml_indent(struct strbuf *b, int level);
/* "s" (NULL: "") */
void yaml_str(struct strbuf *b, const char *s);
/* key:            (a nested block follows) */
void yaml_key(struct strbuf *b, int level, const char *key);
/* key: "value" */
void yaml_kv(struct strbuf *b, int level, const char *key, const char *value);
/* key: raw        (a number, a bool, {} or [] written by the caller) */
void yaml_kraw(struct strbuf *b, int level, const char *key, const char *fmt, ...)
	_printf_format_(4, 5);
/* key: ["a", "b"] */
void yaml_kflow(struct strbuf *b, int level, const char *key, const char *const *v,
		size_t n);
/* - "s" */
void yaml_item(struct strbuf *b, int level, const char *s);
/* - key: "value"  (the first pair of a mapping in a list; the next ones one level in) */
void yaml_item_kv(struct strbuf *b, int level, const char *key, const char *value);
