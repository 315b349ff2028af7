/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/macro.h"

#include "base/ctx.h"
#include "base/error.h"
#include "base/log.h"
#include "cli/cli.h"

#ifndef DRVKIT_VERSION
#define DRVKIT_VERSION "0.0.0"
#endif

/* One command per line keeps additions easy to review. */
/* clang-format off */
static const struct dk_cmd *const dk_cmds[] = {
	&dk_cmd_detect,
	&dk_cmd_modinfo,
	&dk_cmd_check,
	&dk_cmd_sign,
	&dk_cmd_verify,
	&dk_cmd_unsign,
	&dk_cmd_fetch,
	&dk_cmd_extract,
	&dk_cmd_headers,
	&dk_cmd_load,
	&dk_cmd_unload,
	&dk_cmd_status,
	&dk_cmd_init,
	&dk_cmd_build,
	&dk_cmd_cache,
	&dk_cmd_matrix,
	&dk_cmd_select,
	&dk_cmd_daemonsets,
};
/* clang-format on */

static void usage(FILE *f)
{
	fprintf(f, "Usage: drvkit [--log-level LEVEL] [--log-format text|json] COMMAND "
		   "[ARGS]\n"
		   "\n"
		   "Get, check, sign and load GPU and RDMA kernel modules.\n"
		   "\n"
		   "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(dk_cmds); i++)
		fprintf(f, "  %-10s %s\n", dk_cmds[i]->name, dk_cmds[i]->summary);
	fprintf(f,
		"\n"
		"Global options:\n"
		"  --log-level LEVEL   error, warn, info, debug (env DRVKIT_LOG_LEVEL)\n"
		"  --log-format FMT    text or json (env DRVKIT_LOG_FORMAT)\n"
		"  -h, --help          this help; 'drvkit COMMAND --help' for a command\n"
		"  -V, --version       print the version\n"
		"\n"
		"Exit codes: 0 ok, 1 failure or negative answer, 2 usage, 3 bad input "
		"file,\n"
		"4 file not found, 5 permission denied.\n");
}

int main(int argc, char *argv[])
{
	static const struct option opts[] = {
		{"log-level", required_argument, NULL, 'l'},
		{"log-format", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{},
	};
	const char *level_s = getenv("DRVKIT_LOG_LEVEL");
	const char *format_s = getenv("DRVKIT_LOG_FORMAT");
	enum dk_log_level level = DK_LOG_WARN;
	_cleanup_error_ struct dk_error *err = NULL;
	const struct dk_cmd *cmd = NULL;
	struct dk_ctx ctx;
	int c, r;

	/* '+' stops at the first non-option: the rest belongs to the command. */
	while ((c = getopt_long(argc, argv, "+hV", opts, NULL)) != -1) {
		switch (c) {
		case 'l':
			level_s = optarg;
			break;
		case 'f':
			format_s = optarg;
			break;
		case 'h':
			usage(stdout);
			return DK_EXIT_OK;
		case 'V':
			printf("drvkit %s\n", DRVKIT_VERSION);
			return DK_EXIT_OK;
		default:
			usage(stderr);
			return DK_EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		usage(stderr);
		return DK_EXIT_USAGE;
	}
	for (size_t i = 0; i < ARRAY_SIZE(dk_cmds); i++)
		if (streq(argv[optind], dk_cmds[i]->name))
			cmd = dk_cmds[i];
	if (!cmd) {
		fprintf(stderr, "drvkit: unknown command '%s'. Try 'drvkit --help'.\n",
			argv[optind]);
		return DK_EXIT_USAGE;
	}
	/* init is a long-running service: its steps are logged by default. */
	if (!level_s && streq(cmd->name, "init"))
		level = DK_LOG_INFO;
	if (level_s && dk_log_level_parse(level_s, &level) < 0) {
		fprintf(stderr,
			"drvkit: unknown log level '%s' (error, warn, info, debug)\n",
			level_s);
		return DK_EXIT_USAGE;
	}
	if (format_s && !streq(format_s, "text") && !streq(format_s, "json")) {
		fprintf(stderr, "drvkit: unknown log format '%s' (text, json)\n",
			format_s);
		return DK_EXIT_USAGE;
	}
	dk_log_setup(level, format_s && streq(format_s, "json"), cmd->name);
	dk_ctx_init(&ctx);

	argc -= optind;
	argv += optind;
	optind = 0; /* full getopt reset for the command's own parsing */
	r = cmd->run(&ctx, argc, argv, &err);
	if (r >= 0)
		return r;
	{
		int errnum = -r;
		/* Printed once, here: the error's own hint, else (commands that load)
		 * the errno's. */
		const char *hint = dk_error_hint_of(err, errnum, cmd->module_hints);

		fprintf(stderr, "drvkit %s: %s\n", cmd->name,
			err && err->msg ? err->msg : strerror(errnum));
		if (hint)
			fprintf(stderr, "hint: %s\n", hint);
		return dk_exit_code_for(errnum);
	}
}
