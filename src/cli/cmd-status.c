/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "shared/cleanup.h"
#include "shared/json-writer.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/procs.h"
#include "init/init.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit status [--json] [--state-dir DIR]\n"
	       "\n"
	       "What drvkit init loaded (its state file), checked against the kernel:\n"
	       "loaded, missing, or different srcversion, and who holds each: other\n"
	       "modules, and processes with its device nodes open (pid, command, pod "
	       "and\n"
	       "container); and its daemons (status.json): state, pid, restarts, last\n"
	       "exit, why not ready. Exit 1 unless all modules are loaded and, with\n"
	       "daemons, init is ready;\n"
	       "exit 4 when there is no state file (init has not run with this state\n"
	       "dir, or it stopped and unloaded everything).\n"
	       "\n"
	       "  --json              JSON output\n"
	       "  --state-dir DIR     default /run/drvkit\n"
	       "  --host-root DIR     host filesystem (default /)\n"
	       "  --sysfs DIR         sysfs root (default HOST-ROOT/sys)\n"
	       "  --procfs DIR        the host's procfs (default HOST-ROOT/proc): who "
	       "has\n"
	       "                      our modules' device nodes open\n");
}

static void state_releasep(struct dk_state *st)
{
	dk_state_release(st);
}

static void json_users(struct json_writer *w, const struct dk_proc_target *t)
{
	json_key(w, "users");
	json_begin_array(w);
	for (size_t i = 0; t && i < t->n_users; i++) {
		const struct dk_proc_user *u = &t->users[i];

		json_begin_object(w);
		json_kv_int(w, "pid", u->pid);
		json_kv_string(w, "comm", u->comm);
		json_kv_string(w, "cmdline", u->cmdline);
		json_kv_string(w, "pod_uid", u->pod_uid);
		json_kv_string(w, "container_id", u->container_id);
		json_kv_strv(w, "devices", u->paths, u->n_paths);
		json_end_object(w);
	}
	json_end_array(w);
}

/* "pid 12 for 3 s, restarts 2, last exit: ..., restart in 300 ms: not ready: ..." */
static char *daemon_detail(const struct dk_daemon_report *d)
{
	struct strbuf b;
	bool starting = d->state && streq(d->state, "starting");

	strbuf_init(&b);
	strbuf_puts(&b, "");
	if (d->pid > 0)
		strbuf_printf(&b, "pid %ld", d->pid);
	if (d->pid > 0 && starting && d->since > 0)
		strbuf_printf(&b, " for %lld s", (long long)time(NULL) - d->since);
	strbuf_printf(&b, "%srestarts %ld", b.len ? ", " : "", d->restarts);
	if (d->last_exit)
		strbuf_printf(&b, ", last exit: %s", d->last_exit);
	if (d->state && streq(d->state, "backoff"))
		strbuf_printf(&b, ", restart in %ld ms", d->restart_in_ms);
	if (d->why)
		strbuf_printf(&b, ": %s%s", starting ? "not ready: " : "", d->why);
	if (!d->required)
		strbuf_puts(&b, " (optional)");
	return strbuf_steal(&b);
}

/* The daemons of status.json; returns true when init is ready (or has none). */
static bool render_daemons(struct json_writer *w, const struct dk_status_daemons *sd)
{
	bool ready = !sd->n || (sd->phase && streq(sd->phase, "ready"));

	if (w) {
		json_kv_string(w, "phase", sd->phase);
		json_kv_string(w, "waiting_for", sd->waiting_for);
		json_key(w, "daemons");
		json_begin_array(w);
	}
	for (size_t i = 0; i < sd->n; i++) {
		const struct dk_daemon_report *d = &sd->d[i];
		_cleanup_free_ char *detail = daemon_detail(d);

		if (!w) {
			printf("daemon %-20s %-9s %s\n", d->name ? d->name : "?",
			       d->state ? d->state : "?", detail ? detail : "");
			continue;
		}
		json_begin_object(w);
		json_kv_string(w, "name", d->name);
		json_kv_string(w, "state", d->state);
		json_kv_bool(w, "required", d->required);
		json_kv_int(w, "pid", d->pid);
		json_kv_int(w, "restarts", d->restarts);
		json_kv_string(w, "last_exit", d->last_exit);
		json_kv_string(w, "why", d->why);
		json_kv_string(w, "detail", detail);
		json_end_object(w);
	}
	if (w)
		json_end_array(w);
	else if (sd->n && sd->waiting_for)
		printf("not ready: %s\n", sd->waiting_for);
	return ready;
}

static void json_module(struct json_writer *w, const struct dk_state_module *sm,
			enum dk_status_check s, const char *detail,
			const struct dk_modstate *ms, const struct dk_proc_target *t)
{
	json_begin_object(w);
	json_kv_string(w, "name", sm->name);
	json_kv_string(w, "component", sm->component);
	json_kv_string(w, "srcversion", sm->srcversion);
	json_kv_string(w, "version", sm->version);
	json_kv_string(w, "status", dk_status_check_str(s));
	json_kv_string(w, "detail", detail);
	json_kv_strv(w, "holders", ms->holders, ms->n_holders);
	json_users(w, t);
	json_end_object(w);
}

/* Who holds a module: text lines under its own. */
static void print_holders(const struct dk_modstate *ms, const struct dk_proc_target *t)
{
	for (size_t i = 0; i < ms->n_holders; i++)
		printf("  held by module %s\n", ms->holders[i]);
	for (size_t i = 0; t && i < t->n_users; i++) {
		struct strbuf b;

		strbuf_init(&b);
		dk_proc_users_describe(&b, &t->users[i], 1, SIZE_MAX);
		printf("  used by %s\n", b.oom ? "?" : b.s);
		strbuf_release(&b);
	}
}

/* One scan of procfs for all the state's modules; NULL when it cannot be read (said
 * on stderr). */
static struct dk_proc_target *scan_users(const struct dk_modctx *m,
					 const struct dk_state *st)
{
	struct dk_proc_target *t = calloc(st->n_modules ? st->n_modules : 1, sizeof(*t));
	int r;

	if (!t)
		return NULL;
	for (size_t i = 0; i < st->n_modules; i++) {
		t[i].module = st->modules[i].name;
		t[i].globs = (const char *const *)st->modules[i].devices;
		t[i].n_globs = st->modules[i].n_devices;
	}
	r = dk_procs_scan(m->procfs, m->sysfs, t, st->n_modules, NULL);
	if (r < 0) {
		fprintf(stderr,
			"drvkit status: cannot list the processes using the modules: "
			"%s: %s (give the host's procfs: --procfs)\n",
			m->procfs, strerror(-r));
		for (size_t i = 0; i < st->n_modules; i++)
			dk_proc_target_release(&t[i]);
		free(t);
		return NULL;
	}
	return t;
}

/* The state's modules checked against the kernel: text lines, or into w. Returns true
 * when all are loaded. */
static bool render(struct json_writer *w, const char *path, const struct dk_state *st,
		   const struct dk_modctx *m, const struct dk_proc_target *users,
		   const struct dk_status_daemons *sd)
{
	bool all = true;

	if (w) {
		json_begin_object(w);
		json_kv_string(w, "state_file", path);
		json_kv_bool(w, "present", true); /* checked before */
		json_kv_string(w, "kernel", st->kernel);
		json_kv_int(w, "pid", st->pid);
		json_key(w, "modules");
		json_begin_array(w);
	} else {
		printf("state %s\n", path);
	}
	for (size_t i = 0; i < st->n_modules; i++) {
		const struct dk_state_module *sm = &st->modules[i];
		_cleanup_free_ char *detail = NULL;
		enum dk_status_check s = dk_status_check_module(m, sm, &detail);
		const struct dk_proc_target *t = users ? &users[i] : NULL;
		struct dk_modstate ms;

		if (dk_module_state(m, sm->name, &ms) < 0)
			dk_modstate_release(&ms);
		all = all && s == DK_STATUS_LOADED;
		if (w) {
			json_module(w, sm, s, detail, &ms, t);
		} else {
			printf("%-20s %-10s %s\n", sm->name, dk_status_check_str(s),
			       detail ? detail : "");
			print_holders(&ms, t);
		}
		dk_modstate_release(&ms);
	}
	if (w) {
		json_end_array(w);
		json_key(w, "replaced");
		json_begin_array(w);
	}
	for (size_t i = 0; i < st->n_replaced; i++) {
		if (w)
			json_string(w, st->replaced[i].name);
		else
			printf("%-20s replaced%s\n", st->replaced[i].name,
			       st->replaced[i].restore ? " (restored on exit)" : "");
	}
	if (w) {
		json_end_array(w);
		json_key(w, "probed");
		json_begin_array(w);
	}
	for (size_t i = 0; i < st->n_probed; i++) {
		if (w)
			json_string(w, st->probed[i]);
		else
			printf("%-20s in-tree, loaded for ours (unloaded on exit when "
			       "unused)\n",
			       st->probed[i]);
	}
	if (w)
		json_end_array(w);
	all = render_daemons(w, sd) && all;
	if (w) {
		json_kv_bool(w, "ok", all);
		json_end_object(w);
	}
	return all;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_modctx_ struct dk_modctx *m = NULL;
	_cleanup_(state_releasep) struct dk_state st = {0};
	_cleanup_(dk_status_daemons_release) struct dk_status_daemons sd = {0};
	_cleanup_free_ char *path = NULL, *status_path = NULL;
	const char *state_dir = "/run/drvkit";
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "state-dir", &state_dir),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"status", DK_CLI_JSON | DK_CLI_HOST_ROOT | DK_CLI_SYSFS | DK_CLI_PROCFS,
		help, ctx, .no_operands = true};
	struct dk_proc_target *users = NULL;
	bool all;
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	path = dk_path_join(state_dir, "state.json");
	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!dk_path_exists(path)) {
		_cleanup_free_ char *status = dk_path_join(state_dir, "status.json");

		if (status && dk_path_exists(status))
			return dk_error_set(err, ENOENT,
					    "no drvkit state in %s: nothing loaded by "
					    "drvkit init is left (it stopped and "
					    "unloaded everything, or failed to start: "
					    "see %s)",
					    state_dir, status);
		return dk_error_set(err, ENOENT,
				    "no drvkit state in %s: drvkit init has not run "
				    "here or its state dir differs (--state-dir, "
				    "state_dir in its config)",
				    state_dir);
	}
	r = dk_state_read(path, &st, err);
	if (r < 0)
		return r;
	if (st.kernel)
		ctx->kernel = st.kernel;
	status_path = dk_path_join(state_dir, "status.json");
	if (!status_path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_status_daemons_read(status_path, &sd, err);
	if (r < 0)
		return r;
	r = dk_modctx_new(ctx, &m, err);
	if (r < 0)
		return r;
	users = scan_users(m, &st);
	all = render(dk_output_begin(&cli.out), path, &st, m, users, &sd);
	for (size_t i = 0; users && i < st.n_modules; i++)
		dk_proc_target_release(&users[i]);
	free(users);
	r = dk_output_end(&cli.out, err);
	if (r < 0)
		return r;
	return all ? DK_EXIT_OK : DK_EXIT_FAILURE;
}

const struct dk_cmd dk_cmd_status = {"status", "what drvkit loaded, checked", run};
