/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "base/log.h"
#include "get/fetch.h"
#include "get/stop.h"
#include "cli/cli.h"

#define MAX_FILES 64
#define STR_(x) #x
#define STR(x) STR_(x)

static void help(void)
{
	printf("Usage: drvkit fetch URL --sha256 HEX -o PATH [OPTIONS]\n"
	       "       drvkit fetch --url URL --sha256 HEX -o PATH [--url ...] "
	       "[OPTIONS]\n"
	       "\n"
	       "Download files and verify their SHA-256. Several --url/--sha256/-o\n"
	       "triples (paired in order) download at the same time. A file appears at\n"
	       "PATH only once its digest matches (it is written to PATH.part first).\n"
	       "URL is http://, https://, file:// or a local path. Proxies come from\n"
	       "http_proxy, https_proxy, all_proxy and no_proxy/NO_PROXY.\n"
	       "\n"
	       "  --url URL                  a file to download (repeatable)\n"
	       "  --sha256 HEX               its expected SHA-256 (required, "
	       "repeatable)\n"
	       "  -o, --output PATH          where to write it (repeatable); '-' "
	       "streams\n"
	       "                             a single download to stdout: discard the\n"
	       "                             output unless the exit code is 0\n"
	       "%s"
	       "  --max-size BYTES           refuse larger files (suffix K, M, G or T)\n"
	       "  --parallel N               concurrent downloads (default 4)\n"
	       "  --keep-partial             keep PATH.part after a failure and resume "
	       "it\n"
	       "  --progress, --no-progress  progress on stderr (default: if a "
	       "terminal)\n"
	       "  -h, --help                 this help\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failure, 2 usage, 3 checksum mismatch, larger than\n"
	       "--max-size, or a local source that is no regular file, 4 not found (HTTP "
	       "404 or no such file),\n"
	       "5 permission denied (HTTP 401/403). SIGTERM or SIGINT stops it:\n"
	       "PATH.part is removed (kept with --keep-partial), exit 1.\n",
	       dk_cli_fetch_help);
}

static int to_stdout(const void *buf, size_t len, void *userdata)
{
	if (fwrite(buf, 1, len, stdout) != len)
		return errno ? -errno : -EIO;
	return 0;
}

/* --max-size BYTES */
static int parse_max_size(struct dk_cli *cli, const struct dk_cli_opt *opt,
			  const char *arg)
{
	if (dk_cli_parse_u64(arg, true, UINT64_MAX, opt->value) < 0)
		return dk_usage_error("fetch", "invalid number '%s'", arg);
	return 0;
}

/* --parallel N */
static int parse_parallel(struct dk_cli *cli, const struct dk_cli_opt *opt,
			  const char *arg)
{
	uint64_t v;

	if (dk_cli_parse_u64(arg, true, 1000000000, &v) < 0 || v == 0)
		return dk_usage_error("fetch", "invalid number '%s'", arg);
	*(unsigned *)opt->value = (unsigned)v;
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	static const char too_many[] = "at most " STR(MAX_FILES) " downloads at once";
	struct dk_fetch_req reqs[MAX_FILES] = {};
	const char *urls[MAX_FILES], *shas[MAX_FILES], *outs[MAX_FILES];
	struct dk_cli_list url = {urls, 0, MAX_FILES, too_many};
	struct dk_cli_list sha = {shas, 0, MAX_FILES, too_many};
	struct dk_cli_list out = {outs, 0, MAX_FILES, too_many};
	struct dk_fetch_opts o = {};
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_LIST(0, "url", &url),
		DK_CLI_OPT_LIST(0, "sha256", &sha),
		DK_CLI_OPT_LIST('o', "output", &out),
		DK_CLI_OPT_SHARED,
		DK_CLI_OPT_CALL(0, "max-size", parse_max_size, &o.max_size),
		DK_CLI_OPT_CALL(0, "parallel", parse_parallel, &o.parallel),
		DK_CLI_OPT_BOOL(0, "keep-partial", &o.keep_partial),
		DK_CLI_OPT_INT("progress", &o.progress, 1),
		DK_CLI_OPT_INT("no-progress", &o.progress, 2),
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"fetch", DK_CLI_CACHE | DK_CLI_DOWNLOAD, help,
					   ctx, .fetch = &o};
	size_t nurl;
	int r;

	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	if (optind < argc) {
		if (optind + 1 < argc || url.n > 0)
			return dk_usage_error("fetch",
					      "give one positional URL, or --url for "
					      "each download");
		urls[url.n++] = argv[optind];
	}
	nurl = url.n;
	if (nurl == 0)
		return dk_usage_error("fetch", "no URL given");
	if (sha.n != nurl || out.n != nurl)
		return dk_usage_error(
			"fetch",
			"each URL needs one --sha256 and one -o (got %zu URLs, "
			"%zu --sha256, %zu -o)",
			nurl, sha.n, out.n);
	for (size_t i = 0; i < nurl; i++)
		reqs[i] = (struct dk_fetch_req){
			.url = urls[i], .sha256 = shas[i], .dest = outs[i]};
	for (size_t i = 0; i < nurl; i++) {
		char hex[DK_SHA256_HEX_LEN + 1];

		if (dk_sha256_parse_hex(reqs[i].sha256, hex) < 0)
			return dk_usage_error("fetch",
					      "--sha256 '%s' is not 64 hex digits",
					      reqs[i].sha256);
	}
	/* SIGTERM/SIGINT: stop, remove OUT.part (unless --keep-partial), exit 1 */
	dk_get_stop_on_signals();
	for (size_t i = 0; i < nurl; i++) {
		if (!streq(reqs[i].dest, "-"))
			continue;
		if (nurl > 1)
			return dk_usage_error("fetch",
					      "-o - works with a single download");
		signal(SIGPIPE, SIG_IGN); /* a closed pipe is an error, not a kill */
		r = dk_fetch_stream(&o, reqs[0].url, reqs[0].sha256, to_stdout, NULL,
				    err);
		if (r == 0 && fflush(stdout) != 0)
			r = dk_error_set(err, errno, "write to stdout");
		return r < 0 ? r : DK_EXIT_OK;
	}
	r = dk_fetch(&o, reqs, nurl, err);
	if (r < 0)
		return r;
	for (size_t i = 0; i < nurl; i++)
		dk_info("%s: %llu bytes%s", reqs[i].dest,
			(unsigned long long)reqs[i].size,
			reqs[i].from_cache   ? " (from cache)"
			: reqs[i].up_to_date ? " (already there)"
					     : "");
	return DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_fetch = {"fetch", "download files and verify their sha256",
				    run};
