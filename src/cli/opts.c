/* SPDX-License-Identifier: Apache-2.0 */
/* The command line of every command: the shared options (one table), the command's
 * own (its table of dk_cli_opt) and --help go into one getopt_long table. */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/opts.h"

/* The shared options, in the order they follow a command's own in getopt's table. */
enum shared_id {
	S_HOST_ROOT,
	S_SYSFS,
	S_PROCFS,
	S_KERNEL,
	S_JSON,
	S_JOBS,
	S_CACHE_DIR,
	S_CA_BUNDLE,
	S_RETRIES,
	S_RETRY_DELAY,
	S_RETRY_MAX_DELAY,
	S_CONNECT_TIMEOUT,
	S_LOW_SPEED_TIME,
	S_LOW_SPEED_LIMIT,
	S_TIMEOUT,
	S_MAX_REDIRS,
	N_SHARED,
};

static const struct {
	const char *name;
	unsigned group;
	int key; /* short letter with DK_CLI_SHORT */
	bool arg;
} shared[N_SHARED] = {
	[S_HOST_ROOT] = {"host-root", DK_CLI_HOST_ROOT, 0, true},
	[S_SYSFS] = {"sysfs", DK_CLI_SYSFS, 0, true},
	[S_PROCFS] = {"procfs", DK_CLI_PROCFS, 0, true},
	[S_KERNEL] = {"kernel", DK_CLI_KERNEL, 'k', true},
	[S_JSON] = {"json", DK_CLI_JSON, 0, false},
	[S_JOBS] = {"jobs", DK_CLI_JOBS, 'j', true},
	[S_CACHE_DIR] = {"cache-dir", DK_CLI_CACHE, 0, true},
	[S_CA_BUNDLE] = {"ca-bundle", DK_CLI_CACHE, 0, true},
	[S_RETRIES] = {"retries", DK_CLI_DOWNLOAD, 0, true},
	[S_RETRY_DELAY] = {"retry-delay-ms", DK_CLI_DOWNLOAD, 0, true},
	[S_RETRY_MAX_DELAY] = {"retry-max-delay-ms", DK_CLI_DOWNLOAD, 0, true},
	[S_CONNECT_TIMEOUT] = {"connect-timeout", DK_CLI_DOWNLOAD, 0, true},
	[S_LOW_SPEED_TIME] = {"low-speed-time", DK_CLI_DOWNLOAD, 0, true},
	[S_LOW_SPEED_LIMIT] = {"low-speed-limit", DK_CLI_DOWNLOAD, 0, true},
	[S_TIMEOUT] = {"timeout", DK_CLI_DOWNLOAD, 0, true},
	[S_MAX_REDIRS] = {"max-redirs", DK_CLI_DOWNLOAD, 0, true},
};

const char dk_cli_fetch_help[] =
	"  --cache-dir DIR            reuse and store verified files by digest\n"
	"  --ca-bundle FILE           trust these CA certificates (PEM) instead\n"
	"                             of the system store\n"
	"  --retries N                retries of a transient failure (default 4)\n"
	"  --retry-delay-ms MS        first retry delay, doubling (default 1000)\n"
	"  --retry-max-delay-ms MS    longest delay, Retry-After included (60000)\n"
	"  --connect-timeout S        connection timeout (default 30)\n"
	"  --low-speed-time S         give up an attempt slower than\n"
	"  --low-speed-limit BYTES    BYTES/s for S seconds (default 1024 for 60)\n"
	"  --timeout S                limit on each attempt (default none)\n"
	"  --max-redirs N             redirects to follow (default 10)\n";

enum {
	MAX_OPTIONS = 64,
	CODE_OWN = 0x100,     /* + index: an own option without a short letter */
	CODE_SHARED = 0x1000, /* + enum shared_id */
	GO_ON = -1,	      /* an option handled: parse the next */
};

/* One command's getopt_long table, and what each entry is. */
struct table {
	struct option opts[MAX_OPTIONS + 1];
	const struct dk_cli_opt *own[MAX_OPTIONS]; /* or NULL: */
	enum shared_id shared[MAX_OPTIONS];
	char shortopts[2 * MAX_OPTIONS + 2];
	size_t n, n_short;
};

int dk_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "drvkit %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'drvkit %s --help'.\n", cmd);
	return DK_EXIT_USAGE;
}

int dk_cli_parse_u64(const char *s, bool suffixes, uint64_t max, uint64_t *out)
{
	unsigned long long v;
	unsigned shift = 0;
	char *end;

	if (*s < '0' || *s > '9')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno)
		return -errno;
	if (suffixes && *end && !end[1]) {
		shift = *end == 'K' || *end == 'k'   ? 10
			: *end == 'M' || *end == 'm' ? 20
			: *end == 'G' || *end == 'g' ? 30
			: *end == 'T' || *end == 't' ? 40
						     : 0;
		if (shift)
			end++;
	}
	if (*end)
		return -EINVAL;
	if (v > (max >> shift))
		return -ERANGE;
	*out = (uint64_t)v << shift;
	return 0;
}

static bool takes_arg(const struct dk_cli_opt *o)
{
	return o->type == DK_CLI_STRING || o->type == DK_CLI_LIST ||
	       o->type == DK_CLI_CALL;
}

static bool same_option(const struct dk_cli_opt *a, const struct dk_cli_opt *b)
{
	return a->type == b->type && a->value == b->value && a->n == b->n &&
	       a->call == b->call;
}

static void table_add(struct table *t, const char *name, bool arg, int key, int code)
{
	t->opts[t->n] = (struct option){name, arg ? required_argument : no_argument, NULL,
					key ? key : code};
	if (key) {
		t->shortopts[t->n_short++] = (char)key;
		if (arg)
			t->shortopts[t->n_short++] = ':';
	}
	t->n++;
}

static bool table_add_shared(struct table *t, const struct dk_cli *cli)
{
	for (size_t i = 0; i < N_SHARED; i++) {
		if (!(cli->shared & shared[i].group))
			continue;
		if (t->n >= MAX_OPTIONS)
			return false;
		t->shared[t->n] = (enum shared_id)i;
		table_add(t, shared[i].name, shared[i].arg,
			  cli->shared & DK_CLI_SHORT ? shared[i].key : 0,
			  CODE_SHARED + (int)i);
	}
	return true;
}

/* Own options, the shared ones (after the own unless DK_CLI_OPT_SHARED places them),
 * then help. */
static bool table_build(struct table *t, const struct dk_cli *cli,
			const struct dk_cli_opt *opts)
{
	int codes[MAX_OPTIONS];
	bool placed = false;

	memset(t, 0, sizeof(*t));
	for (size_t i = 0; opts && opts[i].name; i++) {
		if (i >= MAX_OPTIONS || t->n >= MAX_OPTIONS)
			return false;
		if (opts[i].type == DK_CLI_SHARED) {
			placed = true;
			if (!table_add_shared(t, cli))
				return false;
			continue;
		}
		codes[i] = opts[i].key ? opts[i].key : CODE_OWN + (int)i;
		/* an alias answers with the first name's code */
		for (size_t j = 0; j < i; j++)
			if (same_option(&opts[j], &opts[i]))
				codes[i] = codes[j];
		t->own[t->n] = &opts[i];
		table_add(t, opts[i].name, takes_arg(&opts[i]), opts[i].key, codes[i]);
	}
	if (!placed && !table_add_shared(t, cli))
		return false;
	if (t->n >= MAX_OPTIONS)
		return false;
	table_add(t, "help", false, 'h', 'h');
	return true;
}

/* A download option's number. 0 in dk_fetch_opts means the library default: only
 * --retries and --timeout (no limit) take 0 as given, and --retry-delay-ms 0 means
 * the shortest first delay, 1 ms. */
static int fetch_number(struct dk_cli *cli, enum shared_id id, const char *arg)
{
	struct dk_fetch_opts *fo = cli->fetch;
	uint64_t v;

	if (dk_cli_parse_u64(arg, true, 1000000000, &v) < 0 ||
	    (v == 0 && id != S_RETRIES && id != S_TIMEOUT && id != S_RETRY_DELAY))
		return dk_usage_error(cli->name, "invalid number '%s' for --%s", arg,
				      shared[id].name);
	if (id == S_RETRIES)
		fo->attempts = (unsigned)v + 1;
	else if (id == S_RETRY_DELAY)
		fo->retry_delay_ms = (unsigned)(v ? v : 1);
	else if (id == S_RETRY_MAX_DELAY)
		fo->retry_max_delay_ms = (unsigned)v;
	else if (id == S_CONNECT_TIMEOUT)
		fo->connect_timeout_s = (long)v;
	else if (id == S_LOW_SPEED_TIME)
		fo->low_speed_time_s = (long)v;
	else if (id == S_LOW_SPEED_LIMIT)
		fo->low_speed_limit = (long)v;
	else if (id == S_TIMEOUT)
		fo->timeout_s = (long)v;
	else
		fo->max_redirs = (long)v;
	return GO_ON;
}

static int shared_option(struct dk_cli *cli, enum shared_id id, const char *arg)
{
	switch (id) {
	case S_HOST_ROOT:
		cli->ctx->host_root = arg;
		break;
	case S_SYSFS:
		cli->ctx->sysfs = arg;
		break;
	case S_PROCFS:
		cli->ctx->procfs = arg;
		break;
	case S_KERNEL:
		cli->ctx->kernel = arg;
		break;
	case S_JSON:
		cli->out.json = true;
		break;
	case S_JOBS: {
		uint64_t v;

		if (dk_cli_parse_u64(arg, false, 4096, &v) < 0 || v == 0)
			return dk_usage_error(cli->name, "bad job count '%s' (1 to 4096)",
					      arg);
		cli->ctx->jobs = (int)v;
		break;
	}
	case S_CACHE_DIR:
		cli->fetch_given = true;
		cli->fetch->cache_dir = arg;
		break;
	case S_CA_BUNDLE:
		cli->fetch_given = true;
		cli->fetch->ca_bundle = arg;
		break;
	default:
		cli->fetch_given = true;
		return fetch_number(cli, id, arg);
	}
	return GO_ON;
}

static int own_option(struct dk_cli *cli, const struct dk_cli_opt *o, const char *arg)
{
	struct dk_cli_list *l = o->value;
	int r;

	switch (o->type) {
	case DK_CLI_STRING:
		*(const char **)o->value = arg;
		break;
	case DK_CLI_BOOL:
		*(bool *)o->value = true;
		break;
	case DK_CLI_BITS:
		*(unsigned *)o->value |= (unsigned)o->n;
		break;
	case DK_CLI_INT:
		*(int *)o->value = (int)o->n;
		break;
	case DK_CLI_LIST:
		if (l->n >= l->max)
			return dk_usage_error(cli->name, "%s", l->too_many);
		l->v[l->n++] = arg;
		break;
	case DK_CLI_CALL:
		r = o->call(cli, o, arg);
		return r == 0 ? GO_ON : r;
	case DK_CLI_SHARED:
		break; /* not in getopt's table */
	}
	return GO_ON;
}

/* Handles what getopt_long returned: GO_ON, or the exit code to stop with. */
static int option(struct dk_cli *cli, const struct table *t, int c, const char *arg)
{
	if (c == 'h') {
		cli->help();
		return DK_EXIT_OK;
	}
	for (size_t i = 0; i < t->n; i++) {
		if (t->opts[i].val != c)
			continue;
		if (t->own[i])
			return own_option(cli, t->own[i], arg);
		return shared_option(cli, t->shared[i], arg);
	}
	/* '?': getopt has said what is wrong */
	return dk_usage_error(cli->name, "%s",
			      cli->bad_option ? cli->bad_option : "unknown option");
}

bool dk_cli_parse(struct dk_cli *cli, const struct dk_cli_opt *opts, int argc,
		  char *argv[])
{
	struct table t;
	int c;

	if (!table_build(&t, cli, opts)) {
		fprintf(stderr, "drvkit %s: too many options\n", cli->name);
		cli->exit = DK_EXIT_FAILURE;
		return false;
	}
	while ((c = getopt_long(argc, argv, t.shortopts, t.opts, NULL)) != -1) {
		int r = option(cli, &t, c, optarg);

		if (r != GO_ON) {
			cli->exit = r;
			return false;
		}
	}
	if (cli->need_operand && optind >= argc)
		cli->exit = dk_usage_error(cli->name, "%s", cli->need_operand);
	else if (cli->no_operands && optind < argc)
		cli->exit = dk_usage_error(cli->name, "unexpected argument '%s'",
					   argv[optind]);
	else
		return true;
	return false;
}

void dk_cli_release(struct dk_cli *cli)
{
	dk_output_release(&cli->out);
}
