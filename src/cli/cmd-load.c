/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "kmod/loader.h"
#include "config/config.h"

#include "cli/cli.h"

static void help(void)
{
	printf("Usage: drvkit load [OPTIONS] FILE.ko|DIR...\n"
	       "\n"
	       "Load out-of-tree modules in depends= order. Dependencies outside the "
	       "set\n"
	       "are loaded by name from the host module tree. A module already loaded\n"
	       "with the same srcversion is skipped; another build loaded is an error.\n"
	       "\n"
	       "  --params-file FILE  YAML: module: { name: value, ... }\n"
	       "  --host-root DIR     host filesystem (default /)\n"
	       "  --sysfs DIR         sysfs root (default HOST-ROOT/sys)\n"
	       "  --kernel KVER       kernel release (default uname -r)\n");
}

struct files {
	struct dk_modfile **v;
	size_t n;
};

static void files_release(struct files *f)
{
	dk_modfiles_free(f->v, f->n);
}

static int add_file(struct files *fl, const char *arg, struct dk_error **err)
{
	struct dk_modfile **nv;
	int r;

	if (dk_is_dir(arg))
		return dk_modfile_open_dir(arg, &fl->v, &fl->n, err);
	nv = realloc(fl->v, (fl->n + 1) * sizeof(*nv));
	if (!nv)
		return dk_error_set(err, ENOMEM, "out of memory");
	fl->v = nv;
	r = dk_modfile_open(arg, &nv[fl->n], err);
	if (r < 0)
		return r;
	fl->n++;
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_modctx_ struct dk_modctx *m = NULL;
	_cleanup_(files_release) struct files fl = {NULL, 0};
	_cleanup_free_ size_t *order = NULL;
	_cleanup_free_ enum dk_load_action *actions = NULL;
	struct dk_config_module *params = NULL;
	const char *params_file = NULL;
	size_t n_params = 0, done = 0;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "params-file", &params_file),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {
		"load", DK_CLI_HOST_ROOT | DK_CLI_SYSFS | DK_CLI_KERNEL, help, ctx,
		.need_operand = "give at least one FILE.ko or DIR"};
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	r = dk_modctx_new(ctx, &m, err);
	if (r < 0)
		return r;
	for (int i = optind; i < argc; i++) {
		r = add_file(&fl, argv[i], err);
		if (r < 0)
			return r;
	}
	if (params_file) {
		r = dk_params_load(params_file, &params, &n_params, err);
		if (r < 0)
			return r;
		for (size_t i = 0; i < n_params && r >= 0; i++) {
			bool used = false;

			for (size_t j = 0; j < fl.n; j++) {
				if (!streq(fl.v[j]->name, params[i].name))
					continue;
				free(fl.v[j]->params);
				fl.v[j]->params = dk_params_string(params[i].params,
								   params[i].n_params);
				used = true;
			}
			if (!used)
				r = dk_error_set(
					err, EINVAL,
					"%s: module %s is not among the files to load",
					params_file, params[i].name);
		}
		dk_params_free(params, n_params);
		if (r < 0)
			return r;
	}
	order = calloc(fl.n, sizeof(*order));
	actions = calloc(fl.n, sizeof(*actions));
	if (!order || !actions)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_module_load_set(m, fl.v, fl.n, order, actions, &done, err);
	for (size_t i = 0; i < done; i++)
		printf("%s %s\n", actions[i] == DK_LOAD_INSERTED ? "loaded" : "skipped",
		       fl.v[order[i]]->name);
	return r < 0 ? r : DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_load = {"load", "load modules in dependency order", run, true};
