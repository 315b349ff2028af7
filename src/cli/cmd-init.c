/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>

#include "config/config.h"
#include "init/init.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit init --config FILE [--dry-run [--json]]\n"
	       "\n"
	       "The driver container's init: lock, plan, replace in-tree modules, load,\n"
	       "write state, status and the ready file, then wait for SIGTERM/SIGINT "
	       "and\n"
	       "unload within grace_period (see the config reference in README).\n"
	       "A start first collects every problem (another build loaded, a kernel\n"
	       "that cannot unload, signatures the kernel would refuse, modules built\n"
	       "for another kernel) and refuses with all of them before changing "
	       "anything.\n"
	       "\n"
	       "  -c, --config FILE   YAML configuration\n"
	       "  -n, --dry-run       print the plan and every problem, change nothing;\n"
	       "                      exits with the code a start would have\n"
	       "  --json              with --dry-run: the plan and problems as JSON\n"
	       "  --sysfs DIR         sysfs root (default HOST_ROOT/sys)\n"
	       "  --procfs DIR        the host's procfs (default HOST_ROOT/proc): keys,\n"
	       "                      mounts, who has device nodes open\n");
}

static void render_plan(const struct dk_plan *p)
{
	size_t blockers = dk_problems_blockers(&p->problems);

	printf("plan for kernel %s:\n", p->kernel);
	if (p->n_steps == 0)
		printf("  (nothing to do)\n");
	for (size_t i = 0; i < p->n_steps; i++)
		printf("  %-8s %-20s %s\n", dk_plan_verb_str(p->steps[i].verb),
		       p->steps[i].module, p->steps[i].detail);
	if (!p->problems.n) {
		printf("problems: none, a start would go ahead\n");
		return;
	}
	if (blockers)
		printf("problems: %zu (%zu refuse a start: it would exit %d, changing "
		       "nothing)\n",
		       p->problems.n, blockers, dk_problems_exit_code(&p->problems));
	else
		printf("problems: %zu warning%s, a start would go ahead\n", p->problems.n,
		       p->problems.n == 1 ? "" : "s");
	for (size_t i = 0; i < p->problems.n; i++) {
		const struct dk_problem *pr = &p->problems.v[i];

		printf("  %-7s %-17s %s: %s\n", pr->errnum ? "error" : "warning",
		       pr->kind, pr->module ? pr->module : "-", pr->msg);
		if (pr->hint)
			printf("  %-7s %-17s what to do: %s\n", "", "", pr->hint);
	}
}

static void json_plan(struct json_writer *w, const struct dk_plan *p)
{
	json_begin_object(w);
	json_kv_string(w, "kernel", p->kernel);
	json_kv_bool(w, "would_start", dk_problems_blockers(&p->problems) == 0);
	json_kv_int(w, "exit_code", dk_problems_exit_code(&p->problems));
	json_key(w, "plan");
	json_begin_array(w);
	for (size_t i = 0; i < p->n_steps; i++) {
		json_begin_object(w);
		json_kv_string(w, "action", dk_plan_verb_str(p->steps[i].verb));
		json_kv_string(w, "module", p->steps[i].module);
		json_kv_string(w, "detail", p->steps[i].detail);
		json_end_object(w);
	}
	json_end_array(w);
	json_key(w, "problems");
	json_begin_array(w);
	for (size_t i = 0; i < p->problems.n; i++) {
		const struct dk_problem *pr = &p->problems.v[i];

		json_begin_object(w);
		json_kv_string(w, "kind", pr->kind);
		json_kv_string(w, "severity", pr->errnum ? "error" : "warning");
		json_kv_int(w, "exit_code", dk_exit_code_for(pr->errnum));
		json_kv_string(w, "component", pr->component);
		json_kv_string(w, "module", pr->module);
		json_kv_string(w, "message", pr->msg);
		json_kv_string(w, "hint", pr->hint);
		json_end_object(w);
	}
	json_end_array(w);
	json_end_object(w);
}

static int dry_run(struct dk_ctx *ctx, struct dk_cli *cli, const struct dk_config *cfg,
		   struct dk_error **err)
{
	struct json_writer *w = dk_output_begin(&cli->out);
	_cleanup_error_ struct dk_error *werr = NULL;
	struct dk_plan plan;
	int r, wr = 0;

	r = dk_init_plan(ctx, cfg, &plan, err);
	if (plan.kernel && w) {
		json_plan(w, &plan);
		/* The document even when a start would be refused: the list is the
		 * answer; the exit code says the rest. */
		wr = r < 0 ? dk_output_end(&cli->out, &werr)
			   : dk_output_end(&cli->out, err);
	} else if (plan.kernel) {
		render_plan(&plan);
	}
	dk_plan_release(&plan);
	if (r < 0)
		return r;
	return wr < 0 ? wr : DK_EXIT_OK;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	const char *config = NULL;
	bool dry = false;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('c', "config", &config),
		DK_CLI_OPT_BOOL('n', "dry-run", &dry),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"init", DK_CLI_SYSFS | DK_CLI_PROCFS | DK_CLI_JSON, help, ctx};
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!config)
		return dk_usage_error("init", "--config FILE is required");
	if (optind < argc)
		return dk_usage_error("init", "unexpected argument '%s'", argv[optind]);
	if (cli.out.json && !dry)
		return dk_usage_error("init", "--json needs --dry-run");
	r = dk_config_load(config, &cfg, err);
	if (r < 0)
		return r;
	if (dry)
		return dry_run(ctx, &cli, cfg, err);
	fflush(stdout);
	return dk_init_run(ctx, cfg, err);
}

const struct dk_cmd dk_cmd_init = {"init", "run the driver container lifecycle", run,
				   true};
