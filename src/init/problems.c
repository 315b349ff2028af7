/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "init/problems.h"

static char *dup_or_null(const char *s, bool *oom)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		*oom = true;
	return d;
}

static void problem_clear(struct dk_problem *p)
{
	free(p->component);
	free(p->module);
	free(p->msg);
	free(p->hint);
}

void dk_problems_add(struct dk_problems *ps, int errnum, const char *kind,
		     const char *component, const char *module, const char *hint,
		     const char *fmt, ...)
{
	struct dk_problem p = {.kind = kind, .errnum = errnum}, *nv;
	bool oom = false;
	va_list ap;

	va_start(ap, fmt);
	p.msg = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	p.component = dup_or_null(component, &oom);
	p.module = dup_or_null(module, &oom);
	p.hint = dup_or_null(hint, &oom);
	nv = p.msg && !oom ? reallocarray(ps->v, ps->n + 1, sizeof(*nv)) : NULL;
	if (!nv) {
		problem_clear(&p);
		ps->oom = true;
		return;
	}
	ps->v = nv;
	ps->v[ps->n++] = p;
}

const struct dk_problem *dk_problems_first_blocker(const struct dk_problems *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		if (ps->v[i].errnum)
			return &ps->v[i];
	return NULL;
}

size_t dk_problems_blockers(const struct dk_problems *ps)
{
	size_t n = 0;

	for (size_t i = 0; i < ps->n; i++)
		n += ps->v[i].errnum != 0;
	return n;
}

int dk_problems_exit_code(const struct dk_problems *ps)
{
	const struct dk_problem *p = dk_problems_first_blocker(ps);

	if (ps->oom)
		return dk_exit_code_for(ENOMEM);
	return p ? dk_exit_code_for(p->errnum) : 0;
}

int dk_problems_error(const struct dk_problems *ps, struct dk_error **err)
{
	const struct dk_problem *first = dk_problems_first_blocker(ps);
	size_t n = dk_problems_blockers(ps), k = 0;
	_cleanup_strbuf_ struct strbuf b = {0};

	if (ps->oom)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!first)
		return 0;
	if (n == 1)
		return dk_error_set(err, first->errnum, "%s%s%s", first->msg,
				    first->hint ? ": " : "",
				    first->hint ? first->hint : "");
	strbuf_init(&b);
	strbuf_printf(&b,
		      "%zu problems refuse a start; nothing on the node was changed:", n);
	for (size_t i = 0; i < ps->n; i++) {
		const struct dk_problem *p = &ps->v[i];

		if (!p->errnum)
			continue;
		strbuf_printf(&b, "\n  %zu. [%s] %s", ++k, p->kind, p->msg);
		if (p->hint)
			strbuf_printf(&b, "\n     what to do: %s", p->hint);
	}
	if (b.oom)
		return dk_error_set(err, ENOMEM, "out of memory");
	return dk_error_set(err, first->errnum, "%s", b.s);
}

void dk_problems_move(struct dk_problems *dst, struct dk_problems *src)
{
	struct dk_problem *nv;

	dst->oom |= src->oom;
	if (!src->n)
		return;
	nv = reallocarray(dst->v, dst->n + src->n, sizeof(*nv));
	if (!nv) {
		dst->oom = true;
		dk_problems_release(src);
		return;
	}
	memcpy(nv + dst->n, src->v, src->n * sizeof(*nv));
	dst->v = nv;
	dst->n += src->n;
	free(src->v);
	src->v = NULL;
	src->n = 0;
}

void dk_problems_release(struct dk_problems *ps)
{
	for (size_t i = 0; i < ps->n; i++)
		problem_clear(&ps->v[i]);
	free(ps->v);
	memset(ps, 0, sizeof(*ps));
}
