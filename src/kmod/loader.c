/* SPDX-License-Identifier: Apache-2.0 */
#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <time.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include <libkmod.h>

#include "base/clock.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "host/hostfs.h"
#include "host/kmsg.h"
#include "host/policy.h"
#include "host/procs.h"
#include "kmod/loader.h"
#include "kmod/order.h"

DK_DEFINE_CLEANUP(struct kmod_module *, kmod_module_unref)
DK_DEFINE_CLEANUP(struct kmod_list *, kmod_module_unref_list)
#define _cleanup_kmod_module_ _cleanup_(dk_kmod_module_unrefp)
#define _cleanup_kmod_list_ _cleanup_(dk_kmod_module_unref_listp)

void dk_names_free(char **v, size_t n)
{
	if (!v)
		return;
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* ---- context ---- */

/* libkmod's messages go through our one sink; its errors are mostly repeated
 * by our own messages, so they are debug output unless they are all we get. */
static void kmod_log_fn(void *data, int priority, const char *file, int line,
			const char *fn, const char *format, va_list args)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_vprintf(&b, format, args);
	if (!b.oom) {
		dk_strip(b.s);
		dk_log(priority <= LOG_ERR ? DK_LOG_INFO : DK_LOG_DEBUG, 0, "libkmod: %s",
		       b.s);
	}
	strbuf_release(&b);
}

int dk_kernel_release(const struct dk_ctx *ctx, char **out)
{
	struct utsname u;

	if (ctx->kernel) {
		*out = strdup(ctx->kernel);
		return *out ? 0 : -ENOMEM;
	}
	if (uname(&u) < 0)
		return -errno;
	*out = strdup(u.release);
	return *out ? 0 : -ENOMEM;
}

void dk_modctx_free(struct dk_modctx *m)
{
	if (!m)
		return;
	if (m->kmod)
		kmod_unref(m->kmod);
	free(m->kver);
	free(m->host_root);
	free(m->moddir);
	free(m->sysfs);
	free(m->procfs);
	free(m->kmsg);
	free(m);
}

void dk_modctx_drop_caches(struct dk_modctx *m)
{
	if (m->kmod)
		kmod_unload_resources(m->kmod);
}

int dk_modctx_new(const struct dk_ctx *ctx, struct dk_modctx **out, struct dk_error **err)
{
	_cleanup_modctx_ struct dk_modctx *m = calloc(1, sizeof(*m));
	_cleanup_free_ char *rel = NULL;
	int r;

	if (!m)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_kernel_release(ctx, &m->kver);
	if (r < 0)
		return dk_error_set(err, -r,
				    "find the kernel release (uname): %s: set kernel: in "
				    "the config or --kernel",
				    strerror(-r));
	m->host_root = strdup(ctx->host_root ? ctx->host_root : "/");
	rel = dk_strdup_printf("lib/modules/%s", m->kver);
	if (!m->host_root || !rel)
		return dk_error_set(err, ENOMEM, "out of memory");
	m->moddir = dk_path_join(m->host_root, rel);
	m->sysfs = dk_host_sysfs(ctx);
	m->procfs = dk_host_procfs(ctx);
	m->kmsg = strdup(DK_KMSG_PATH);
	if (!m->moddir || !m->sysfs || !m->procfs || !m->kmsg)
		return dk_error_set(err, ENOMEM, "out of memory");
	m->kmod = kmod_new(m->moddir, NULL);
	if (!m->kmod)
		return dk_error_set(err, ENOMEM,
				    "start libkmod on %s: out of memory or unreadable "
				    "module indexes: check that the host's /lib/modules "
				    "is mounted (host_root) and depmod has run",
				    m->moddir);
	kmod_set_log_fn(m->kmod, kmod_log_fn, NULL);
	kmod_set_log_priority(m->kmod,
			      dk_log_enabled(DK_LOG_DEBUG) ? LOG_DEBUG : LOG_ERR);
	*out = TAKE_PTR(m);
	return 0;
}

/* ---- state from sysfs ---- */

static char *module_path(const struct dk_modctx *m, const char *name)
{
	return dk_strdup_printf("%s/module/%s", m->sysfs, name);
}

int dk_module_state(const struct dk_modctx *m, const char *name, struct dk_modstate *st)
{
	return dk_modstate_read(m->sysfs, name, st);
}

enum dk_match dk_modstate_match(const struct dk_modstate *st, const struct dk_modfile *f,
				char **why)
{
	enum dk_match res;
	struct strbuf b;

	strbuf_init(&b);
	if (!st || st->state == DK_LOADED_NO) {
		res = DK_MATCH_ABSENT;
		strbuf_puts(&b, "not loaded");
	} else if (st->state == DK_LOADED_BUILTIN) {
		res = DK_MATCH_BUILTIN;
		strbuf_puts(&b, "built into the kernel");
	} else if (f->srcversion && st->srcversion) {
		res = streq(f->srcversion, st->srcversion) ? DK_MATCH_SAME
							   : DK_MATCH_DIFFERENT;
		if (res == DK_MATCH_SAME)
			strbuf_printf(&b, "loaded with the same srcversion %s",
				      st->srcversion);
		else
			strbuf_printf(&b, "loaded with srcversion %s, the file has %s",
				      st->srcversion, f->srcversion);
	} else if (f->version && st->version) {
		res = streq(f->version, st->version) ? DK_MATCH_SAME : DK_MATCH_DIFFERENT;
		if (res == DK_MATCH_SAME)
			strbuf_printf(&b, "loaded with the same version %s", st->version);
		else
			strbuf_printf(&b, "loaded with version %s, the file has %s",
				      st->version, f->version);
	} else {
		res = DK_MATCH_DIFFERENT;
		strbuf_puts(&b, "loaded, but neither srcversion nor version can be "
				"compared");
	}
	if (why)
		*why = strbuf_steal(&b);
	else
		strbuf_release(&b);
	return res;
}

enum dk_match dk_module_match(const struct dk_modctx *m, const struct dk_modfile *f,
			      char **why)
{
	struct dk_modstate st;
	enum dk_match res;
	bool read = dk_module_state(m, f->name, &st) == 0;

	res = dk_modstate_match(read ? &st : NULL, f, why);
	if (read)
		dk_modstate_release(&st);
	return res;
}

bool dk_module_available(struct dk_modctx *m, const char *name)
{
	_cleanup_free_ char *dir = module_path(m, name);
	_cleanup_kmod_list_ struct kmod_list *list = NULL;

	if (dir && dk_is_dir(dir))
		return true;
	/* One lookup: modules.dep by name, aliases, modules.builtin (the one
	 * dk_module_probe makes to load it). */
	return kmod_module_new_from_lookup(m->kmod, name, &list) == 0 && list;
}

static bool external_available(void *userdata, const char *dep)
{
	return dk_module_available(userdata, dep);
}

int dk_modfiles_order(struct dk_modfile *const *files, size_t n,
		      dk_order_external_fn external, void *userdata, size_t *order,
		      struct dk_error **err)
{
	_cleanup_free_ struct dk_order_node *nodes = calloc(n ? n : 1, sizeof(*nodes));

	if (!nodes)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++) {
		nodes[i].name = files[i]->name;
		nodes[i].deps = (const char *const *)files[i]->depends;
		nodes[i].n_deps = files[i]->n_depends;
	}
	return dk_order_resolve(nodes, n, external, userdata, order, err);
}

int dk_module_order(struct dk_modctx *m, struct dk_modfile *const *files, size_t n,
		    size_t *order, struct dk_error **err)
{
	return dk_modfiles_order(files, n, external_available, m, order, err);
}

/* ---- insert ---- */

/* What the kernel enforces, to explain EKEYREJECTED / EPERM. */
static void enforcement_facts(const struct dk_modctx *m, struct strbuf *b)
{
	const struct dk_ctx ctx = {.host_root = m->host_root, .sysfs = m->sysfs};
	_cleanup_kernel_policy_ struct dk_kernel_policy p = {0};
	_cleanup_error_ struct dk_error *perr = NULL;
	const char *lock;

	if (dk_kernel_policy_read_running(&ctx, m->kver, &p, &perr) < 0)
		return;
	if (p.sig_enforce.from == DK_POLICY_FROM_SYSFS)
		strbuf_printf(b, "; sig_enforce=%s",
			      p.sig_enforce.value == DK_SIG_ENFORCE_YES ? "Y" : "N");
	lock = dk_lockdown_line(p.lockdown.value);
	if (lock && p.lockdown.value != DK_LOCKDOWN_NONE)
		strbuf_printf(b, "; lockdown %s", lock);
}

/* klog: the module's lines from the kernel log (dk_kmsg_quote), or NULL. */
static int insert_error(const struct dk_modctx *m, const struct dk_modfile *f, int errnum,
			const char *klog, struct dk_error **err)
{
	struct strbuf b;
	int r;

	strbuf_init(&b);
	strbuf_printf(&b, "insert %s (%s): %s", f->name, f->path, strerror(errnum));
	if (errnum == EKEYREJECTED || errnum == EPERM)
		enforcement_facts(m, &b);
	if (klog)
		strbuf_printf(&b, " — kernel log: %s", klog);
	r = dk_error_set(err, errnum, "%s", b.oom ? "insert failed" : b.s);
	strbuf_release(&b);
	/* The kernel's answer: here an errno says the most about the fix. */
	dk_error_set_hint(err, dk_error_kernel_hint(errnum));
	return r;
}

int dk_module_probe(struct dk_modctx *m, const char *name, struct dk_error **err)
{
	_cleanup_kmod_list_ struct kmod_list *list = NULL;
	struct dk_modstate st;
	struct kmod_list *l;
	int r;

	if (dk_module_state(m, name, &st) == 0 && st.state != DK_LOADED_NO) {
		dk_modstate_release(&st);
		return 0;
	}
	r = kmod_module_new_from_lookup(m->kmod, name, &list);
	if (r < 0)
		return dk_error_set(
			err, -r,
			"look up %s in %s: %s: check that the host's "
			"/lib/modules is mounted (host_root) and depmod has run",
			name, m->moddir, strerror(-r));
	if (!list)
		return dk_error_set(err, ENOENT,
				    "%s is not in the host module tree %s (modules.dep): "
				    "install it or add it to the set",
				    name, m->moddir);
	kmod_list_foreach(l, list)
	{
		struct kmod_module *mod = kmod_module_get_module(l);

		r = kmod_module_probe_insert_module(mod, 0, NULL, NULL, NULL, NULL);
		kmod_module_unref(mod);
		if (r < 0) {
			int e = -r;

			r = dk_error_set(err, e, "load in-tree %s from %s: %s", name,
					 m->moddir, strerror(e));
			dk_error_set_hint(err, dk_error_kernel_hint(e));
			return r;
		}
		dk_info("loaded in-tree %s", name);
	}
	return 0;
}

int dk_module_insert(struct dk_modctx *m, const struct dk_modfile *f,
		     struct dk_error **err)
{
	_cleanup_kmod_module_ struct kmod_module *mod = NULL;
	_cleanup_kmsg_ struct dk_kmsg *klog = NULL;
	int64_t t0 = dk_now_ms();
	int r;

	for (size_t i = 0; i < f->n_depends; i++) {
		r = dk_module_probe(m, f->depends[i], err);
		if (r < 0)
			return dk_error_wrap(err, "dependency of %s", f->name);
	}
	r = kmod_module_new_from_path(m->kmod, f->path, &mod);
	if (r < 0)
		return dk_error_set(err, -r, "insert %s: open %s: %s", f->name, f->path,
				    strerror(-r));
	/* Without the log (ENOMEM, unreadable) the error only lacks the quote. */
	klog = m->kmsg ? dk_kmsg_new(f->name) : NULL;
	if (klog)
		dk_kmsg_open(klog, m->kmsg);
	r = kmod_module_insert_module(mod, 0, f->params ? f->params : "");
	if (r < 0) {
		_cleanup_free_ char *quote = NULL;

		if (klog) {
			dk_kmsg_read(klog);
			quote = dk_kmsg_quote(klog);
		}
		return insert_error(m, f, -r, quote, err);
	}
	dk_info("inserted %s%s%s (%s) in %lld ms", f->name, f->params ? " " : "",
		f->params ? f->params : "", f->path, (long long)(dk_now_ms() - t0));
	return 0;
}

int dk_module_load_set(struct dk_modctx *m, struct dk_modfile *const *files, size_t n,
		       size_t *order, enum dk_load_action *actions, size_t *done,
		       struct dk_error **err)
{
	int r;

	*done = 0;
	r = dk_module_order(m, files, n, order, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		const struct dk_modfile *f = files[order[i]];
		_cleanup_free_ char *why = NULL;

		switch (dk_module_match(m, f, &why)) {
		case DK_MATCH_SAME:
			dk_info("skip %s: already loaded (%s)", f->name, why);
			actions[i] = DK_LOAD_SKIPPED;
			break;
		case DK_MATCH_DIFFERENT:
			return dk_error_set(
				err, EEXIST,
				"%s is already loaded and differs (%s): unload "
				"it first (drvkit unload %s)",
				f->name, why, f->name);
		case DK_MATCH_BUILTIN:
			return dk_error_set(err, EEXIST,
					    "%s is built into the kernel and cannot be "
					    "replaced by %s",
					    f->name, f->path);
		case DK_MATCH_ABSENT:
			r = dk_module_insert(m, f, err);
			if (r < 0)
				return r;
			actions[i] = DK_LOAD_INSERTED;
			break;
		}
		*done = i + 1;
	}
	return 0;
}

/* ---- remove ---- */

static bool default_wait(void *userdata, int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	return true;
}

/* "stop the processes using it first: pid 4242 nvidia-smi: /dev/nvidia0; ..." or why
 * none is named. */
static void busy_users(const struct dk_modctx *m, const char *name,
		       const struct dk_remove_opts *opts, bool holders, struct strbuf *b)
{
	struct dk_proc_target t = {name, opts->devices, opts->n_devices, NULL, 0};
	size_t unreadable = 0;
	int r = dk_procs_scan(m->procfs, m->sysfs, &t, 1, &unreadable);

	if (r < 0) {
		strbuf_printf(b,
			      "%s (the processes using it could not be listed: "
			      "%s: %s)",
			      holders ? "unload the holders first"
				      : "stop the processes using it first",
			      m->procfs, strerror(-r));
	} else if (t.n_users) {
		strbuf_printf(b, "%sstop the processes with its device nodes open: ",
			      holders ? "unload the holders first, and " : "");
		dk_proc_users_describe(b, t.users, t.n_users, DK_BUSY_USERS_MAX);
	} else if (holders) {
		strbuf_puts(b, "unload the holders first");
	} else {
		strbuf_printf(b,
			      "stop the processes using it first: none under %s has "
			      "its device nodes open (look for mounts, network "
			      "interfaces or sockets it serves)",
			      m->procfs);
	}
	if (r >= 0 && unreadable)
		strbuf_printf(b,
			      " (%zu processes could not be read: run as root with "
			      "hostPID)",
			      unreadable);
	dk_proc_target_release(&t);
}

static int busy_error(const struct dk_modctx *m, const char *name,
		      const struct dk_remove_opts *opts, int64_t waited,
		      struct dk_error **err)
{
	struct dk_modstate st;
	struct strbuf h, u;
	int r;

	strbuf_init(&h);
	strbuf_init(&u);
	if (dk_module_state(m, name, &st) == 0) {
		for (size_t i = 0; i < st.n_holders; i++)
			strbuf_printf(&h, "%s%s", i ? ", " : "", st.holders[i]);
	}
	busy_users(m, name, opts, st.n_holders > 0, &u);
	r = dk_error_set(err, EBUSY,
			 "unload %s: in use (refcnt %ld, holders: %s) after %lld.%01lld "
			 "s: %s",
			 name, st.refcnt, h.len ? h.s : "none",
			 (long long)(waited / 1000), (long long)(waited % 1000 / 100),
			 u.oom ? "out of memory naming its users" : u.s);
	dk_modstate_release(&st);
	strbuf_release(&h);
	strbuf_release(&u);
	return r;
}

int dk_module_remove(struct dk_modctx *m, const char *name,
		     const struct dk_remove_opts *opts, struct dk_error **err)
{
	static const struct dk_remove_opts once = {.deadline_ms = 0};
	_cleanup_kmod_module_ struct kmod_module *mod = NULL;
	struct dk_modstate st;
	int64_t start = dk_now_ms();
	int backoff = 50, tries = 0;
	bool waiting = true;
	int r;

	if (!opts)
		opts = &once;
	r = dk_module_state(m, name, &st);
	if (r < 0)
		return dk_error_set(err, -r,
				    "unload %s: read its state under %s/module: %s", name,
				    m->sysfs, strerror(-r));
	if (st.state == DK_LOADED_NO) {
		dk_modstate_release(&st);
		return 1;
	}
	if (st.state == DK_LOADED_BUILTIN) {
		dk_modstate_release(&st);
		return dk_error_set(err, EOPNOTSUPP,
				    "unload %s: built into the kernel, it cannot be "
				    "unloaded",
				    name);
	}
	dk_modstate_release(&st);
	r = kmod_module_new_from_name(m->kmod, name, &mod);
	if (r < 0)
		return dk_error_set(err, -r, "unload %s: %s", name, strerror(-r));
	for (;;) {
		int64_t now, left;

		tries++;
		r = kmod_module_remove_module(mod, KMOD_REMOVE_NOLOG);
		if (r == 0) {
			dk_info("unloaded %s in %lld ms%s", name,
				(long long)(dk_now_ms() - start),
				tries > 1 ? " (after waiting for its users)" : "");
			return 0;
		}
		if (r == -ENOENT)
			return 1;
		if (r == -ENOSYS) {
			r = dk_error_set(err, EOPNOTSUPP,
					 "unload %s: the kernel cannot unload modules "
					 "(built without CONFIG_MODULE_UNLOAD)",
					 name);
			dk_error_set_hint(err, dk_error_kernel_hint(EOPNOTSUPP));
			return r;
		}
		if (r != -EAGAIN && r != -EBUSY) {
			int e = -r;

			r = dk_error_set(err, e, "unload %s: %s", name, strerror(e));
			dk_error_set_hint(err, dk_error_kernel_hint(e));
			return r;
		}
		now = dk_now_ms();
		left = opts->deadline_ms - now;
		if (!waiting || left <= 0)
			return busy_error(m, name, opts, now - start, err);
		if (tries == 1) {
			struct dk_modstate s2;

			if (dk_module_state(m, name, &s2) == 0)
				dk_info("%s is in use (refcnt %ld, %zu holders); "
					"retrying "
					"for up to %lld ms",
					name, s2.refcnt, s2.n_holders, (long long)left);
			dk_modstate_release(&s2);
		}
		waiting = (opts->wait ? opts->wait : default_wait)(
			opts->userdata, (int)MIN((int64_t)backoff, left));
		backoff = MIN(backoff * 2, 1000);
	}
}

/* A holder outside the set being removed does not order it. */
static bool holder_outside(void *userdata, const char *dep)
{
	return true;
}

static int set_add(const char ***v, size_t *n, const char *s)
{
	const char **nv;

	if (dk_strv_contains(*v, *n, s))
		return 0;
	nv = reallocarray(*v, *n + 1, sizeof(**v));
	if (!nv)
		return -ENOMEM;
	nv[(*n)++] = s;
	*v = nv;
	return 0;
}

int dk_removal_order(const char *const *names, size_t n, bool with_users,
		     dk_modstate_fn lookup, void *userdata, const char ***out,
		     size_t *n_out)
{
	_cleanup_free_ const char **set = NULL;
	_cleanup_free_ struct dk_order_node *nodes = NULL;
	_cleanup_free_ size_t *order = NULL;
	size_t ns = 0;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < n; i++)
		if (set_add(&set, &ns, names[i]) < 0)
			return -ENOMEM;
	for (size_t i = 0; with_users && i < ns; i++) {
		const struct dk_modstate *st = lookup(userdata, set[i]);

		for (size_t h = 0; st && h < st->n_holders; h++)
			if (set_add(&set, &ns, st->holders[h]) < 0)
				return -ENOMEM;
	}
	nodes = calloc(ns ? ns : 1, sizeof(*nodes));
	order = calloc(ns ? ns : 1, sizeof(*order));
	if (!nodes || !order)
		return -ENOMEM;
	/* Users (holders) first: a module "depends" on its holders here. */
	for (size_t i = 0; i < ns; i++) {
		const struct dk_modstate *st = lookup(userdata, set[i]);

		nodes[i].name = set[i];
		nodes[i].deps = st ? (const char *const *)st->holders : NULL;
		nodes[i].n_deps = st ? st->n_holders : 0;
	}
	if (dk_order_resolve(nodes, ns, holder_outside, NULL, order, NULL) < 0)
		return -ELOOP;
	for (size_t i = 0; i < ns; i++) {
		const struct dk_modstate *st = lookup(userdata, set[order[i]]);

		if (!st || st->state == DK_LOADED_NO || st->state == DK_LOADED_BUILTIN)
			continue;
		if (set_add(out, n_out, set[order[i]]) < 0) {
			free(*out);
			*out = NULL;
			*n_out = 0;
			return -ENOMEM;
		}
	}
	return 0;
}

/* sysfs states read on demand for dk_removal_order(), kept until the names are copied. */
struct state_cache {
	const struct dk_modctx *m;
	struct dk_modstate **states;
	char **names;
	size_t n;
	int err;
};

static const struct dk_modstate *cached_state(void *userdata, const char *name)
{
	struct state_cache *c = userdata;
	struct dk_modstate *st, **ns;
	char **nn;
	int r;

	for (size_t i = 0; i < c->n; i++)
		if (streq(c->names[i], name))
			return c->states[i];
	st = calloc(1, sizeof(*st));
	ns = reallocarray(c->states, c->n + 1, sizeof(*ns));
	if (ns)
		c->states = ns;
	nn = reallocarray(c->names, c->n + 1, sizeof(*nn));
	if (nn)
		c->names = nn;
	if (!st || !ns || !nn || !(c->names[c->n] = strdup(name))) {
		free(st);
		c->err = -ENOMEM;
		return NULL;
	}
	r = dk_module_state(c->m, name, st);
	if (r < 0 && !c->err)
		c->err = r;
	c->states[c->n++] = st;
	return st;
}

static void state_cache_release(struct state_cache *c)
{
	for (size_t i = 0; i < c->n; i++) {
		dk_modstate_release(c->states[i]);
		free(c->states[i]);
		free(c->names[i]);
	}
	free(c->states);
	free(c->names);
}

int dk_module_removal_order(const struct dk_modctx *m, char *const *names, size_t n,
			    bool with_users, char ***out, size_t *n_out,
			    struct dk_error **err)
{
	_cleanup_(state_cache_release) struct state_cache c = {.m = m};
	_cleanup_free_ const char **order = NULL;
	size_t n_order = 0;
	int r;

	*out = NULL;
	*n_out = 0;
	r = dk_removal_order((const char *const *)names, n, with_users, cached_state, &c,
			     &order, &n_order);
	if (r == 0 && c.err < 0)
		r = c.err;
	if (r == -ELOOP)
		return dk_error_set(err, ELOOP,
				    "order modules for unloading: holders form a cycle");
	if (r < 0)
		return dk_error_set(err, -r,
				    "order modules for unloading: read %s/module: %s",
				    m->sysfs, strerror(-r));
	for (size_t i = 0; i < n_order; i++)
		if (dk_strv_push(out, n_out, order[i]) < 0) {
			dk_names_free(*out, *n_out);
			*out = NULL;
			*n_out = 0;
			return dk_error_set(err, ENOMEM, "out of memory");
		}
	return 0;
}
