/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "kmod/order.h"

enum { UNSEEN, VISITING, DONE };

struct resolver {
	const struct dk_order_node *nodes;
	size_t n;
	dk_order_external_fn external;
	void *userdata;
	unsigned char *mark;
	size_t *stack; /* the current DFS path, for naming a cycle */
	size_t depth;
	size_t *order;
	size_t n_order;
	struct dk_error **err;
};

static size_t find(const struct resolver *rs, const char *name)
{
	for (size_t i = 0; i < rs->n; i++)
		if (streq(rs->nodes[i].name, name))
			return i;
	return SIZE_MAX;
}

static int cycle_error(struct resolver *rs, size_t again)
{
	struct strbuf b;
	size_t start = 0;
	int r;

	for (size_t i = 0; i < rs->depth; i++)
		if (rs->stack[i] == again)
			start = i;
	strbuf_init(&b);
	for (size_t i = start; i < rs->depth; i++)
		strbuf_printf(&b, "%s -> ", rs->nodes[rs->stack[i]].name);
	strbuf_puts(&b, rs->nodes[again].name);
	r = dk_error_set(rs->err, ELOOP,
			 "dependency cycle among the modules to load: %s (depends= of "
			 "these modules point at each other; rebuild them)",
			 b.oom ? "?" : b.s);
	strbuf_release(&b);
	return r;
}

static int visit(struct resolver *rs, size_t i)
{
	const struct dk_order_node *node = &rs->nodes[i];

	if (rs->mark[i] == DONE)
		return 0;
	if (rs->mark[i] == VISITING)
		return cycle_error(rs, i);
	rs->mark[i] = VISITING;
	rs->stack[rs->depth++] = i;
	for (size_t d = 0; d < node->n_deps; d++) {
		const char *dep = node->deps[d];
		size_t j = find(rs, dep);
		int r;

		if (j == SIZE_MAX) {
			if (rs->external && rs->external(rs->userdata, dep))
				continue;
			return dk_error_set(rs->err, ENOENT,
					    "%s depends on %s, which is neither among "
					    "the modules to load nor in the host module "
					    "tree: add %s.ko to the set or install it",
					    node->name, dep, dep);
		}
		r = visit(rs, j);
		if (r < 0)
			return r;
	}
	rs->depth--;
	rs->mark[i] = DONE;
	rs->order[rs->n_order++] = i;
	return 0;
}

int dk_order_resolve(const struct dk_order_node *nodes, size_t n,
		     dk_order_external_fn external, void *userdata, size_t *order,
		     struct dk_error **err)
{
	_cleanup_free_ unsigned char *mark = calloc(n ? n : 1, 1);
	_cleanup_free_ size_t *stack = calloc(n ? n : 1, sizeof(size_t));
	struct resolver rs = {nodes, n, external, userdata, mark,
			      stack, 0, order,	  0,	    err};

	if (!mark || !stack)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (streq(nodes[i].name, nodes[j].name))
				return dk_error_set(err, EINVAL,
						    "module %s is given twice",
						    nodes[i].name);
	for (size_t i = 0; i < n; i++) {
		int r = visit(&rs, i);

		if (r < 0)
			return r;
	}
	return 0;
}
