/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "kmod/loader.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit unload [OPTIONS] NAME...\n"
	       "\n"
	       "Unload modules, users before the modules they use. A module in use is\n"
	       "retried with backoff until --wait ends; then its holders are named.\n"
	       "A module that is not loaded is fine.\n"
	       "\n"
	       "  --wait SECONDS      how long to retry modules in use (default 10)\n"
	       "  --host-root DIR     host filesystem (default /)\n"
	       "  --sysfs DIR         sysfs root (default HOST-ROOT/sys)\n"
	       "  --kernel KVER       kernel release (default uname -r)\n");
}

/* --wait SECONDS */
static int parse_wait(struct dk_cli *cli, const struct dk_cli_opt *opt, const char *arg)
{
	char *end = NULL;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || v < 0 || v > 86400)
		return dk_usage_error("unload", "--wait: '%s' is not a number of seconds",
				      arg);
	*(double *)opt->value = v;
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_modctx_ struct dk_modctx *m = NULL;
	char **names = NULL, **order = NULL;
	size_t n_order = 0, n = 0;
	struct dk_remove_opts ro = {.deadline_ms = 0};
	double wait_s = 10;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_CALL(0, "wait", parse_wait, &wait_s),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"unload", DK_CLI_HOST_ROOT | DK_CLI_SYSFS | DK_CLI_KERNEL, help, ctx,
		.need_operand = "give at least one module NAME"};
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	r = dk_modctx_new(ctx, &m, err);
	if (r < 0)
		return r;
	/* Module names use _ in the kernel. */
	names = argv + optind;
	n = (size_t)(argc - optind);
	for (size_t i = 0; i < n; i++)
		dk_modname_kernel(names[i]);
	r = dk_module_removal_order(m, names, n, false, &order, &n_order, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < n; i++) {
		bool listed = false;

		for (size_t j = 0; j < n_order; j++)
			listed = listed || streq(order[j], names[i]);
		if (!listed)
			printf("not loaded %s\n", names[i]);
	}
	ro.deadline_ms = dk_now_ms() + (int64_t)(wait_s * 1000);
	for (size_t i = 0; i < n_order; i++) {
		r = dk_module_remove(m, order[i], &ro, err);
		if (r < 0)
			break;
		printf("%s %s\n", r == 0 ? "unloaded" : "not loaded", order[i]);
	}
	dk_names_free(order, n_order);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_unload = {"unload", "unload modules, users first", run, true};
