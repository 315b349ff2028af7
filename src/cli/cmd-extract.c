/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"

#include "base/log.h"
#include "get/archive.h"
#include "get/fetch-extract.h"
#include "get/fetch.h"
#include "get/stop.h"
#include "cli/cli.h"

#define MAX_GLOBS 64

static void help(void)
{
	printf("Usage: drvkit extract ARCHIVE [-C DIR] [OPTIONS]\n"
	       "       drvkit extract URL --sha256 HEX [-C DIR] [OPTIONS]\n"
	       "\n"
	       "Extract a tar (gz, xz, zst, bz2), .deb, .rpm or zip archive below DIR,\n"
	       "refusing anything that would land outside it. ARCHIVE '-' reads stdin.\n"
	       "With --sha256 (required for http:// and https:// URLs) the archive is\n"
	       "downloaded and extracted in one streaming pass, never stored; DIR gets\n"
	       "the tree only when the download completed and its digest matched.\n"
	       "\n"
	       "  -C, --directory DIR      extract into DIR (default: .; created if "
	       "missing)\n"
	       "      --strip N            drop N leading path components\n"
	       "      --member GLOB        only entries matching GLOB (repeatable)\n"
	       "      --nested-member GLOB the entries matching GLOB are archives: "
	       "extract\n"
	       "                           their contents in the same pass (--member "
	       "then\n"
	       "                           selects inside them; repeatable)\n"
	       "      --nested             the --member entries are archives (the same,\n"
	       "      --inner-member GLOB  with --inner-member selecting inside them)\n"
	       "      --max-size BYTES     limit on total uncompressed size (K/M/G "
	       "suffix;\n"
	       "                           default 16G)\n"
	       "      --max-entries N      limit on the number of entries (default "
	       "1000000)\n"
	       "      --rewrite-absolute-symlinks\n"
	       "                           make /x symlinks point at DIR/x instead of "
	       "refusing\n"
	       "\n"
	       "Download (URL or --sha256):\n"
	       "  --sha256 HEX               expected SHA-256 of the archive\n"
	       "%s"
	       "\n"
	       "Exit codes: 0 ok, 1 failure (e.g. no space), 2 usage, 3 archive refused\n"
	       "(hostile entry, limit exceeded, damaged, not an archive) or checksum\n"
	       "mismatch, 4 not found (HTTP 404), 5 permission denied (HTTP 401/403).\n"
	       "SIGTERM or SIGINT stops it: nothing is left in DIR, exit 1.\n",
	       dk_cli_fetch_help);
}

static int read_stdin(void *userdata, const void **buf, size_t *len,
		      struct dk_error **err)
{
	char *b = userdata;
	ssize_t n;

	do
		n = read(STDIN_FILENO, b, 64 * 1024);
	while (n < 0 && errno == EINTR && !dk_get_stop_signal());
	if (n < 0 && dk_get_stop_signal())
		return dk_get_check_stop("stdin", err);
	if (n < 0)
		return dk_error_set(err, errno, "read stdin: %s", strerror(errno));
	*buf = b;
	*len = (size_t)n;
	return 0;
}

/* --strip N */
static int parse_strip(struct dk_cli *cli, const struct dk_cli_opt *opt, const char *arg)
{
	uint64_t v;

	if (dk_cli_parse_u64(arg, false, 1024, &v) < 0)
		return dk_usage_error("extract", "bad --strip '%s'", arg);
	*(unsigned *)opt->value = (unsigned)v;
	return 0;
}

/* --max-size BYTES (opt->n: with suffixes) and --max-entries N: above 0 */
static int parse_limit(struct dk_cli *cli, const struct dk_cli_opt *opt, const char *arg)
{
	uint64_t *v = opt->value;

	if (dk_cli_parse_u64(arg, opt->n, UINT64_MAX, v) < 0 || *v == 0)
		return dk_usage_error("extract", "bad --%s '%s'", opt->name, arg);
	return 0;
}

/* The archive's globs: with --nested, --member selects the inner archives and
 * --inner-member inside them; else --member selects and --nested-member names
 * inner archives. Returns 0 or a usage error. */
static int set_globs(struct dk_archive_opts *o, bool nested, struct dk_cli_list *members,
		     struct dk_cli_list *inner, struct dk_cli_list *outer)
{
	if (nested && members->n == 0)
		return dk_usage_error("extract",
				      "--nested needs --member GLOB (the inner "
				      "archives)");
	if (!nested && inner->n > 0)
		return dk_usage_error("extract", "--inner-member needs --nested");
	if (nested && outer->n > 0)
		return dk_usage_error("extract",
				      "--nested-member and --nested do not mix");
	if (nested) {
		o->nested_members = members->v;
		o->members = inner->v;
	} else {
		o->nested_members = outer->n ? outer->v : NULL;
		o->members = members->v;
	}
	return 0;
}

/* Extracts src (a file, "-" for stdin, or with sha256 a download) into dir. */
static int extract(const struct dk_cli *cli, const char *src, const char *sha256,
		   const char *dir, const struct dk_archive_opts *o,
		   struct dk_error **err)
{
	struct dk_archive_stats stats = {0};
	int r;

	/* SIGTERM/SIGINT: stop, remove the staging directory, exit 1 */
	dk_get_stop_on_signals();
	if (sha256) {
		r = dk_fetch_extract(cli->fetch, src, sha256, dir, o, &stats, err);
	} else if (streq(src, "-")) {
		_cleanup_free_ char *buf = malloc(64 * 1024);

		if (!buf)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = dk_archive_extract_stream("stdin", read_stdin, buf, dir, o, &stats,
					      err);
	} else {
		_cleanup_free_ char *path = NULL;

		/* a file:// URL without --sha256 is the local file it names */
		r = dk_fetch_local_path(src, &path);
		if (r < 0)
			return dk_error_set(err, -r, "%s: %s", src,
					    r == -ENOMEM ? "out of memory"
							 : "not a file:// URL of an "
							   "absolute path");
		r = dk_archive_extract_file(path, dir, o, &stats, err);
	}
	if (r < 0)
		return r;
	dk_info("extracted %" PRIu64 " entries, %" PRIu64 " bytes into %s", stats.entries,
		stats.bytes, dir);
	return DK_EXIT_OK;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	static const char too_many[] = "too many globs";
	const char *members_v[MAX_GLOBS + 1] = {0}, *inner_v[MAX_GLOBS + 1] = {0};
	const char *outer_v[MAX_GLOBS + 1] = {0};
	struct dk_cli_list members = {members_v, 0, MAX_GLOBS, too_many};
	struct dk_cli_list inner = {inner_v, 0, MAX_GLOBS, too_many};
	struct dk_cli_list outer = {outer_v, 0, MAX_GLOBS, too_many};
	struct dk_archive_opts o = {0};
	struct dk_fetch_opts fo = {0};
	const char *sha256 = NULL, *dir = ".", *src;
	bool nested = false;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING('C', "directory", &dir),
		DK_CLI_OPT_CALL(0, "strip", parse_strip, &o.strip),
		DK_CLI_OPT_CALL(0, "strip-components", parse_strip, &o.strip),
		DK_CLI_OPT_LIST(0, "member", &members),
		DK_CLI_OPT_BOOL(0, "nested", &nested),
		DK_CLI_OPT_LIST(0, "inner-member", &inner),
		{.name = "max-size",
		 .type = DK_CLI_CALL,
		 .value = &o.max_size,
		 .n = 1,
		 .call = parse_limit},
		DK_CLI_OPT_CALL(0, "max-entries", parse_limit, &o.max_entries),
		DK_CLI_OPT_BITS("rewrite-absolute-symlinks", &o.flags,
				DK_ARCHIVE_REWRITE_ABS_SYMLINKS),
		DK_CLI_OPT_LIST(0, "nested-member", &outer),
		DK_CLI_OPT_STRING(0, "sha256", &sha256),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"extract", DK_CLI_CACHE | DK_CLI_DOWNLOAD,
					   help, ctx, .fetch = &fo};
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (optind + 1 != argc)
		return dk_usage_error("extract", "expected one ARCHIVE argument");
	r = set_globs(&o, nested, &members, &inner, &outer);
	if (r != 0)
		return r;
	src = argv[optind];
	if (strstr(src, "://") && !startswith(src, "file://") && !sha256)
		return dk_usage_error("extract", "a URL needs --sha256 HEX");
	if (!sha256 && cli.fetch_given)
		return dk_usage_error("extract", "download options need --sha256");
	if (sha256) {
		char hex[DK_SHA256_HEX_LEN + 1];

		if (streq(src, "-"))
			return dk_usage_error("extract",
					      "--sha256 does not work on stdin");
		if (dk_sha256_parse_hex(sha256, hex) < 0)
			return dk_usage_error(
				"extract", "--sha256 '%s' is not 64 hex digits", sha256);
	}
	return extract(&cli, src, sha256, dir, &o, err);
}

const struct dk_cmd dk_cmd_extract = {"extract",
				      "extract an archive safely below a directory", run};
