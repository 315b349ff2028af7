/* SPDX-License-Identifier: Apache-2.0 */
#include <getopt.h>
#include <stdio.h>

#include "config/config.h"
#include "init/init.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit init --config FILE [--dry-run]\n"
	       "\n"
	       "The driver container's init: lock, plan, replace in-tree modules, load,\n"
	       "write state, status and the ready file, then wait for SIGTERM/SIGINT "
	       "and\n"
	       "unload within grace_period (see the config reference in README).\n"
	       "\n"
	       "  -c, --config FILE   YAML configuration\n"
	       "  -n, --dry-run       print the plan and change nothing\n"
	       "  --sysfs DIR         sysfs root (default HOST_ROOT/sys)\n");
}

static void render_plan(const struct dk_plan *p)
{
	printf("plan for kernel %s:\n", p->kernel);
	if (p->n_steps == 0)
		printf("  (nothing to do)\n");
	for (size_t i = 0; i < p->n_steps; i++)
		printf("  %-8s %-20s %s\n", dk_plan_verb_str(p->steps[i].verb),
		       p->steps[i].module, p->steps[i].detail);
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	const char *config = NULL;
	bool dry_run = false;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('c', "config", &config),
		DK_CLI_OPT_BOOL('n', "dry-run", &dry_run),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"init", DK_CLI_SYSFS, help, ctx};
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (!config)
		return dk_usage_error("init", "--config FILE is required");
	if (optind < argc)
		return dk_usage_error("init", "unexpected argument '%s'", argv[optind]);
	r = dk_config_load(config, &cfg, err);
	if (r < 0)
		return r;
	if (dry_run) {
		struct dk_plan plan;

		r = dk_init_plan(ctx, cfg, &plan, err);
		if (plan.kernel)
			render_plan(&plan);
		dk_plan_release(&plan);
		return r < 0 ? r : DK_EXIT_OK;
	}
	fflush(stdout);
	return dk_init_run(ctx, cfg, err);
}

const struct dk_cmd dk_cmd_init = {"init", "run the driver container lifecycle", run,
				   true};
