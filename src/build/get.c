/* SPDX-License-Identifier: Apache-2.0 */
/* The get chain: for each component, the steps of its get: (cache, precompiled,
 * build) in order until one gives modules; components in dependency order (uses,
 * after), independent ones in parallel threads. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/clock.h"
#include "base/log.h"
#include "kmod/check.h"
#include "kmod/modfile.h"
#include "build/build-internal.h"

/* Builds at once: each make runs -j jobs already; two keep the CPUs busy while one
 * component configures or links. */
#define MAX_PARALLEL 2

const char *dk_got_from_name(enum dk_got_from f)
{
	static const char *const names[] = {"none", "cache", "precompiled", "build"};

	return (unsigned)f < ARRAY_SIZE(names) ? names[f] : "?";
}

int dk_got_take_hit(struct dk_got *g, struct dk_store_hit *h)
{
	free(g->dir);
	dk_manifest_free(g->m);
	free(g->manifest_sha256);
	g->dir = TAKE_PTR(h->dir);
	g->m = TAKE_PTR(h->m);
	g->manifest_sha256 = TAKE_PTR(h->manifest_sha256);
	dk_store_hit_release(h);
	return 0;
}

int dk_got_load_entry(const char *cache, const char *key, struct dk_got *g,
		      struct dk_error **err)
{
	struct dk_store_hit hit;
	int r = dk_store_lookup(cache, key, &hit, err);

	if (r == 0)
		return dk_error_set(
			err, ENOENT,
			"cache entry %s/builds/%s was removed right after it "
			"was written (a drvkit cache prune running at the same "
			"time?): run again",
			cache, key);
	return r < 0 ? r : dk_got_take_hit(g, &hit);
}

void dk_got_free(struct dk_got *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].dir);
		dk_manifest_free(v[i].m);
		free(v[i].manifest_sha256);
		free(v[i].flavor);
		free(v[i].flavor_why);
		free(v[i].why);
		free(v[i].key);
		free(v[i].alias);
	}
	free(v);
}

static bool gettable(const struct dk_config_component *c)
{
	return c->build || c->precompiled;
}

static bool depends_on(const struct dk_config_component *c, const char *name)
{
	const struct dk_config_build *b = c->build;

	return b && (dk_strv_contains((const char *const *)b->uses, b->n_uses, name) ||
		     dk_strv_contains((const char *const *)b->after, b->n_after, name));
}

int dk_build_order(const struct dk_config *cfg, size_t *idx)
{
	_cleanup_free_ bool *placed = calloc(cfg->n_components + 1, sizeof(bool));
	size_t k = 0;

	if (!placed)
		return -ENOMEM;
	/* Repeatedly place the first component whose dependencies are placed (config
	 * order among the ready ones); the config forbids cycles. */
	while (k < cfg->n_components) {
		size_t before = k;

		for (size_t i = 0; i < cfg->n_components; i++) {
			bool ready = !placed[i];

			for (size_t j = 0; ready && j < cfg->n_components; j++)
				if (!placed[j] && j != i &&
				    depends_on(&cfg->components[i],
					       cfg->components[j].name))
					ready = false;
			if (ready) {
				placed[i] = true;
				idx[k++] = i;
				break;
			}
		}
		if (k == before)
			return -ELOOP;
	}
	return 0;
}

/* ---- one component ---- */

/* A consumer from the cache or a package must match the providers it will be
 * loaded with; otherwise the kernel refuses it ("disagrees about version of
 * symbol"). 0: fits; 1: stale (*why). */
static int stale_against_uses(const struct dk_inputs *in, const char *dir, char **why)
{
	struct dk_modfile **mods = NULL, **prov = NULL;
	size_t n = 0, np = 0;
	int bad = 0;

	if (in->n_uses == 0 || dk_modfile_open_dir(dir, &mods, &n, NULL) < 0)
		return 0;
	for (size_t u = 0; u < in->n_uses; u++)
		(void)!dk_modfile_open_dir(in->uses[u]->dir, &prov, &np, NULL);
	for (size_t i = 0; i < n && !bad; i++)
		bad = dk_check_providers(mods[i], prov, np, why);
	dk_modfiles_free(mods, n);
	dk_modfiles_free(prov, np);
	return bad ? 1 : 0;
}

static void why_add(struct strbuf *why, const char *fmt, ...) _printf_format_(2, 3);
static void why_add(struct strbuf *why, const char *fmt, ...)
{
	va_list ap;

	if (why->len)
		strbuf_puts(why, "; ");
	va_start(ap, fmt);
	strbuf_vprintf(why, fmt, ap);
	va_end(ap);
}

static int step_cache(const struct dk_inputs *in, struct dk_got *g, struct strbuf *why)
{
	struct dk_store_hit hit;
	struct dk_error *e = NULL;
	_cleanup_free_ char *stale = NULL;
	const char *by = "key";
	int r = 0;

	if (in->key)
		r = dk_store_lookup(in->cache, in->key, &hit, &e);
	if (r == 0) {
		by = "alias";
		r = dk_store_lookup_alias(in->cache, in->alias, &hit, &e);
	}
	if (r < 0) {
		dk_log(DK_LOG_WARN, 0, "get: component %s: %s", in->c->name, e->msg);
		why_add(why, "cache: %s", e->msg);
		dk_error_free(&e);
		return 0;
	}
	if (r == 0) {
		why_add(why, "cache: no entry for key %.12s%s", in->key ? in->key : "-",
			in->key ? "" : " (no headers or compiler to compute it)");
		return 0;
	}
	if (stale_against_uses(in, hit.dir, &stale)) {
		why_add(why, "cache: entry %.12s is stale: %s", hit.key, stale);
		/* Under this key the build's commit would keep it (an entry that
		 * appeared meanwhile wins) and hand it out again: remove it, as a
		 * damaged one. */
		if (streq(by, "key") && !in->o->dry_run)
			(void)!dk_store_remove(in->cache, hit.key, NULL);
		dk_store_hit_release(&hit);
		return 0;
	}
	why_add(why, "cache: hit %.12s (by %s)", hit.key, by);
	(void)!dk_got_take_hit(g, &hit);
	g->from = DK_GOT_CACHE;
	return 1;
}

static int step_precompiled(const struct dk_inputs *in, struct dk_got *g,
			    struct strbuf *why, struct dk_error **err)
{
	_cleanup_free_ char *stale = NULL;
	int r;

	if (in->o->dry_run) {
		_cleanup_free_ char *url = NULL;

		r = dk_precompiled_url(in, &url, err);
		if (r < 0)
			return r;
		why_add(why, "precompiled: would try %s", url);
		return 0;
	}
	r = dk_precompiled_step(in, g, err);
	if (r < 0)
		return r;
	why_add(why, "%s", g->why ? g->why : "precompiled");
	if (r == 0)
		return 0;
	if (stale_against_uses(in, g->dir, &stale)) {
		why_add(why, "precompiled modules are stale: %s", stale);
		return 0;
	}
	g->from = DK_GOT_PRECOMPILED;
	return 1;
}

static int step_build(const struct dk_inputs *in, struct dk_got *g, struct strbuf *why,
		      struct dk_error **err)
{
	int r;

	if (in->o->dry_run) {
		why_add(why, "build: would build with the headers at %s and %s",
			in->build_dir ? in->build_dir : "(none found)",
			in->compiler ? in->compiler : "no compiler");
		return 0;
	}
	dk_log(DK_LOG_INFO, 0, "get: component %s: building for %s (headers %s, gcc %s)",
	       in->c->name, in->kernel, in->build_dir ? in->build_dir : "-",
	       in->compiler ? in->compiler : "-");
	r = dk_compile_step(in, g, err);
	if (r < 0)
		return r;
	why_add(why, "build: built in %.1f s", (double)g->ms / 1000.0);
	g->from = DK_GOT_BUILD;
	return 1;
}

static int get_one(const struct dk_build_opts *o, const struct dk_config_component *c,
		   struct dk_got *const *uses, size_t n_uses, struct dk_got *g,
		   struct dk_error **err)
{
	struct dk_inputs in;
	struct strbuf why;
	const enum dk_get_step *steps = o->steps ? o->steps : c->get;
	size_t n_steps = o->steps ? o->n_steps : c->n_get;
	int64_t t0 = dk_now_ms();
	int r;

	g->c = c;
	strbuf_init(&why);
	r = dk_inputs_init(&in, o, c, uses, n_uses, err);
	for (size_t s = 0; r == 0 && s < n_steps; s++) {
		if (steps[s] == DK_GET_CACHE)
			r = step_cache(&in, g, &why);
		else if (steps[s] == DK_GET_PRECOMPILED && c->precompiled)
			r = step_precompiled(&in, g, &why, err);
		else if (steps[s] == DK_GET_BUILD && c->build)
			r = step_build(&in, g, &why, err);
	}
	if (r == 0 && !o->dry_run)
		r = dk_error_set(err, ENOENT,
				 "component %s: no modules for kernel %s: %s", c->name,
				 o->kernel, strbuf_str(&why));
	g->flavor = TAKE_PTR(in.flavor);
	g->flavor_why = TAKE_PTR(in.flavor_why);
	g->key = TAKE_PTR(in.key);
	g->alias = TAKE_PTR(in.alias);
	free(g->why);
	g->why = strbuf_steal(&why);
	if (g->from != DK_GOT_BUILD)
		g->ms = dk_now_ms() - t0;
	dk_inputs_release(&in);
	return r < 0 ? r : 0;
}

/* ---- all components ---- */

struct job {
	struct sched *s;
	size_t i; /* in order[] */
	pthread_t th;
	int r;
	struct dk_error *err;
};

struct sched {
	const struct dk_build_opts *o;
	const struct dk_config *cfg;
	size_t *order, n;
	struct dk_got *got;
	unsigned char *state; /* 0 pending, 1 running, 2 done, 3 failed */
	struct job *jobs;
	pthread_mutex_t lock;
	pthread_cond_t cond;
};

static void *run_job(void *p)
{
	struct job *j = p;
	struct sched *s = j->s;
	const struct dk_config_component *c = &s->cfg->components[s->order[j->i]];
	const struct dk_config_build *b = c->build;
	struct dk_got *uses[64];
	size_t nu = 0;

	for (size_t k = 0; b && k < b->n_uses && nu < ARRAY_SIZE(uses); k++)
		for (size_t m = 0; m < s->n; m++)
			if (streq(s->cfg->components[s->order[m]].name, b->uses[k]))
				uses[nu++] = &s->got[m];
	j->r = get_one(s->o, c, uses, nu, &s->got[j->i], &j->err);
	pthread_mutex_lock(&s->lock);
	s->state[j->i] = j->r < 0 ? 3 : 2;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* Whether every component that order[i] depends on is done. */
static bool ready(const struct sched *s, size_t i)
{
	const struct dk_config_component *c = &s->cfg->components[s->order[i]];

	for (size_t m = 0; m < s->n; m++)
		if (s->state[m] != 2 &&
		    depends_on(c, s->cfg->components[s->order[m]].name))
			return false;
	return true;
}

static int schedule(struct sched *s, struct dk_error **err)
{
	size_t running = 0, done = 0;
	bool failed = false;
	int r = 0;

	pthread_mutex_lock(&s->lock);
	while (done < s->n) {
		for (size_t i = 0; !failed && i < s->n && running < MAX_PARALLEL; i++) {
			if (s->state[i] != 0 || !ready(s, i))
				continue;
			s->state[i] = 1;
			s->jobs[i] = (struct job){.s = s, .i = i};
			if (pthread_create(&s->jobs[i].th, NULL, run_job, &s->jobs[i]) !=
			    0) {
				s->state[i] = 3;
				s->jobs[i].r = dk_error_set(&s->jobs[i].err, EAGAIN,
							    "cannot start a thread");
				done++;
				failed = true;
				continue;
			}
			running++;
		}
		if (running == 0)
			break; /* failed: nothing more will start */
		pthread_cond_wait(&s->cond, &s->lock);
		for (size_t i = 0; i < s->n; i++)
			if (s->state[i] >= 2 && s->jobs[i].s) {
				pthread_mutex_unlock(&s->lock);
				pthread_join(s->jobs[i].th, NULL);
				pthread_mutex_lock(&s->lock);
				s->jobs[i].s = NULL;
				running--;
				done++;
				failed |= s->state[i] == 3;
			}
	}
	pthread_mutex_unlock(&s->lock);
	/* The first failure in dependency order sets the exit code; components that
	 * failed beside it in parallel are named too (each cost minutes of building). */
	for (size_t i = 0; i < s->n; i++) {
		if (s->jobs[i].r < 0 && r == 0) {
			r = s->jobs[i].r;
			*err = TAKE_PTR(s->jobs[i].err);
		} else if (s->jobs[i].r < 0 && s->jobs[i].err && *err) {
			dk_error_append(err, "\nand in parallel: %s",
					s->jobs[i].err->msg);
		}
		dk_error_free(&s->jobs[i].err);
	}
	return r;
}

/* The components to get, in order: those with build:/precompiled: (all, or o->only
 * and what it uses). */
static size_t select_components(const struct dk_build_opts *o, size_t *order)
{
	const struct dk_config *cfg = o->cfg;
	_cleanup_free_ size_t *all = calloc(cfg->n_components + 1, sizeof(size_t));
	_cleanup_free_ bool *want = calloc(cfg->n_components + 1, sizeof(bool));
	size_t n = 0;

	if (!all || !want || dk_build_order(cfg, all) < 0)
		return 0;
	for (size_t k = cfg->n_components; k-- > 0;) {
		const struct dk_config_component *c = &cfg->components[all[k]];

		if (!o->only || streq(c->name, o->only))
			want[all[k]] = true;
		/* What a wanted component uses is wanted too (checked and loaded with
		 * it); reverse order reaches providers after their consumers. */
		for (size_t j = 0; want[all[k]] && j < cfg->n_components; j++)
			if (c->build &&
			    dk_strv_contains((const char *const *)c->build->uses,
					     c->build->n_uses, cfg->components[j].name))
				want[j] = true;
	}
	for (size_t k = 0; k < cfg->n_components; k++)
		if (want[all[k]] && gettable(&cfg->components[all[k]]))
			order[n++] = all[k];
	return n;
}

int dk_get_components(const struct dk_build_opts *o, struct dk_got **out, size_t *n,
		      struct dk_error **err)
{
	struct sched s = {.o = o, .cfg = o->cfg};
	int r;

	*out = NULL;
	*n = 0;
	s.order = calloc(o->cfg->n_components + 1, sizeof(size_t));
	if (!s.order)
		return dk_error_set(err, ENOMEM, "out of memory");
	s.n = select_components(o, s.order);
	if (o->only && s.n == 0) {
		free(s.order);
		return dk_error_set(err, ENOENT,
				    "no component %s with build: or precompiled: in %s",
				    o->only, o->cfg->path);
	}
	s.got = calloc(s.n + 1, sizeof(*s.got));
	s.state = calloc(s.n + 1, 1);
	s.jobs = calloc(s.n + 1, sizeof(*s.jobs));
	if (!s.got || !s.state || !s.jobs) {
		r = dk_error_set(err, ENOMEM, "out of memory");
		goto out;
	}
	pthread_mutex_init(&s.lock, NULL);
	pthread_cond_init(&s.cond, NULL);
	r = schedule(&s, err);
	pthread_cond_destroy(&s.cond);
	pthread_mutex_destroy(&s.lock);
	if (r >= 0) {
		*out = TAKE_PTR(s.got);
		*n = s.n;
	}
out:
	dk_got_free(s.got, s.n);
	free(s.order);
	free(s.state);
	free(s.jobs);
	return r;
}
