/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "shared/cleanup.h"
#include "shared/macro.h"

#include "base/ctx.h"
#include "get/fetch.h"
#include "cli/output.h"

/* The options several commands share, one table in opts.c. A command names the groups
 * it takes in dk_cli.shared; dk_cli_parse() stores their values. */
enum {
	DK_CLI_HOST_ROOT = 1 << 0, /* --host-root DIR -> ctx->host_root */
	DK_CLI_SYSFS = 1 << 1,	   /* --sysfs DIR -> ctx->sysfs */
	DK_CLI_PROCFS = 1 << 2,	   /* --procfs DIR -> ctx->procfs */
	DK_CLI_KERNEL = 1 << 3,	   /* --kernel KVER -> ctx->kernel */
	DK_CLI_JSON = 1 << 4,	   /* --json -> out.json */
	DK_CLI_JOBS = 1 << 5,	   /* --jobs N -> ctx->jobs */
	DK_CLI_CACHE = 1 << 6,	   /* --cache-dir, --ca-bundle -> *fetch */
	DK_CLI_DOWNLOAD = 1 << 7,  /* --retries ... --max-redirs -> *fetch */
	DK_CLI_SHORT = 1 << 8,	   /* also -k (--kernel) and -j (--jobs) */
};

/* The --help lines of the DK_CLI_CACHE and DK_CLI_DOWNLOAD options. */
extern const char dk_cli_fetch_help[];

struct dk_cli;

/* How a command's own option stores its value. */
enum dk_cli_type {
	DK_CLI_STRING, /* const char *value = the argument */
	DK_CLI_BOOL,   /* bool *value = true (no argument) */
	DK_CLI_BITS,   /* unsigned *value |= n (no argument) */
	DK_CLI_INT,    /* int *value = n (no argument) */
	DK_CLI_LIST,   /* struct dk_cli_list *value gets the argument appended */
	DK_CLI_CALL,   /* call(cli, opt, argument): 0, or an exit code after a usage
			  error */
	DK_CLI_SHARED, /* not an option: the shared ones go here, not after the own */
};

/* The values of a repeatable option: v has room for max (and one more, zeroed, where
 * the caller needs them NULL-terminated). */
struct dk_cli_list {
	const char **v;
	size_t n, max;
	const char *too_many; /* the usage error when more are given */
};

/* One option of a command: a table of them ends with {}. Entries with the same type,
 * value and call are one option under several names (prefixes of both are no
 * ambiguity). */
struct dk_cli_opt {
	const char *name; /* --name */
	int key;	  /* its short letter, or 0 */
	enum dk_cli_type type;
	void *value;
	long n;
	int (*call)(struct dk_cli *cli, const struct dk_cli_opt *opt, const char *arg);
};

/* getopt_long names the candidates of an ambiguous abbreviation in table order. */
#define DK_CLI_OPT_SHARED                         \
	{                                         \
		.name = "", .type = DK_CLI_SHARED \
	}
#define DK_CLI_OPT_STRING(key_, name_, ptr)                                           \
	{                                                                             \
		.name = (name_), .key = (key_), .type = DK_CLI_STRING, .value = (ptr) \
	}
#define DK_CLI_OPT_BOOL(key_, name_, ptr)                                           \
	{                                                                           \
		.name = (name_), .key = (key_), .type = DK_CLI_BOOL, .value = (ptr) \
	}
#define DK_CLI_OPT_BITS(name_, ptr, bits)                                         \
	{                                                                         \
		.name = (name_), .type = DK_CLI_BITS, .value = (ptr), .n = (bits) \
	}
#define DK_CLI_OPT_INT(name_, ptr, v)                                         \
	{                                                                     \
		.name = (name_), .type = DK_CLI_INT, .value = (ptr), .n = (v) \
	}
#define DK_CLI_OPT_LIST(key_, name_, list)                                           \
	{                                                                            \
		.name = (name_), .key = (key_), .type = DK_CLI_LIST, .value = (list) \
	}
#define DK_CLI_OPT_CALL(key_, name_, fn, ptr)                                        \
	{                                                                            \
		.name = (name_), .key = (key_), .type = DK_CLI_CALL, .value = (ptr), \
		.call = (fn)                                                         \
	}

/* One command line: what the command says about itself (name, shared, help, ctx come
 * first, for short initialisers), and what the shared options fill in. Release with
 * dk_cli_release (_cleanup_cli_). */
struct dk_cli {
	const char *name;	/* the command, for "drvkit NAME: ..." */
	unsigned shared;	/* DK_CLI_* groups it takes */
	void (*help)(void);	/* prints its --help (-h) */
	struct dk_ctx *ctx;	/* host options */
	const char *bad_option; /* usage message after getopt's; "unknown option" */
	/* Operands checked right after the options: need_operand is the usage error
	 * when none is given; with no_operands one is "unexpected argument". */
	const char *need_operand;
	bool no_operands;
	struct dk_fetch_opts *fetch; /* DK_CLI_CACHE, DK_CLI_DOWNLOAD */
	bool fetch_given;	     /* one of those was given */
	struct dk_output out;	     /* --json, and the document */
	int exit;		     /* when dk_cli_parse() says stop: the exit code */
};

/* Parses argv (argv[0] the command) with getopt_long over the command's own options
 * and its shared ones, and -h/--help, then checks the operands. Returns true to go on,
 * with optind at the first operand; false when the command is done with cli->exit:
 * help shown (0) or a usage error printed (DK_EXIT_USAGE). */
bool dk_cli_parse(struct dk_cli *cli, const struct dk_cli_opt *opts, int argc,
		  char *argv[]) _must_check_;

void dk_cli_release(struct dk_cli *cli);
#define _cleanup_cli_ _cleanup_(dk_cli_release)

/* Prints "drvkit <cmd>: <msg>" plus a hint to run --help; returns DK_EXIT_USAGE. */
int dk_usage_error(const char *cmd, const char *fmt, ...) _printf_format_(2, 3);

/* A decimal number (digits only; with suffixes one of K, M, G or T, powers of 1024),
 * at most max. Returns 0 or -EINVAL/-ERANGE. */
int dk_cli_parse_u64(const char *s, bool suffixes, uint64_t max, uint64_t *out);
