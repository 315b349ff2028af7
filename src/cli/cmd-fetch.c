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
#include "cli/cli.h"
#include "cli/fetch-opts.h"

#define MAX_FILES 64

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
	       "Exit codes: 0 ok, 1 failure, 2 usage, 3 checksum mismatch, 4 not found\n"
	       "(HTTP 404 or no such file), 5 permission denied (HTTP 401/403).\n",
	       dk_fetch_options_help);
}

static int to_stdout(const void *buf, size_t len, void *userdata)
{
	if (fwrite(buf, 1, len, stdout) != len)
		return errno ? -errno : -EIO;
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	enum { O_URL = 256, O_SHA, O_MAXSIZE, O_PAR, O_KEEP, O_PROG, O_NOPROG };
	static const struct option opts[] = {
		{"url", required_argument, NULL, O_URL},
		{"sha256", required_argument, NULL, O_SHA},
		{"output", required_argument, NULL, 'o'},
		DK_FETCH_OPTIONS,
		{"max-size", required_argument, NULL, O_MAXSIZE},
		{"parallel", required_argument, NULL, O_PAR},
		{"keep-partial", no_argument, NULL, O_KEEP},
		{"progress", no_argument, NULL, O_PROG},
		{"no-progress", no_argument, NULL, O_NOPROG},
		{"help", no_argument, NULL, 'h'},
		{},
	};
	struct dk_fetch_req reqs[MAX_FILES] = {};
	struct dk_fetch_opts o = {};
	size_t nurl = 0, nsha = 0, nout = 0;
	uint64_t v;
	int c, r;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		if (c == 'h') {
			help();
			return DK_EXIT_OK;
		}
		if ((c == O_URL && nurl == MAX_FILES) ||
		    (c == O_SHA && nsha == MAX_FILES) || (c == 'o' && nout == MAX_FILES))
			return dk_usage_error("fetch", "at most %d downloads at once",
					      MAX_FILES);
		r = dk_cli_fetch_option(&o, "fetch", c, optarg);
		if (r < 0)
			return DK_EXIT_USAGE;
		if (r > 0)
			continue;
		switch (c) {
		case O_URL:
			reqs[nurl++].url = optarg;
			break;
		case O_SHA:
			reqs[nsha++].sha256 = optarg;
			break;
		case 'o':
			reqs[nout++].dest = optarg;
			break;
		case O_MAXSIZE:
			if (dk_cli_parse_u64(optarg, true, UINT64_MAX, &o.max_size) < 0)
				return dk_usage_error("fetch", "invalid number '%s'",
						      optarg);
			break;
		case O_PAR:
			if (dk_cli_parse_u64(optarg, true, 1000000000, &v) < 0 || v == 0)
				return dk_usage_error("fetch", "invalid number '%s'",
						      optarg);
			o.parallel = (unsigned)v;
			break;
		case O_KEEP:
			o.keep_partial = true;
			break;
		case O_PROG:
		case O_NOPROG:
			o.progress = c == O_PROG ? 1 : 2;
			break;
		default:
			return dk_usage_error("fetch", "unknown option");
		}
	}
	if (optind < argc) {
		if (optind + 1 < argc || nurl > 0)
			return dk_usage_error("fetch",
					      "give one positional URL, or --url for "
					      "each download");
		reqs[nurl++].url = argv[optind];
	}
	if (nurl == 0)
		return dk_usage_error("fetch", "no URL given");
	if (nsha != nurl || nout != nurl)
		return dk_usage_error(
			"fetch",
			"each URL needs one --sha256 and one -o (got %zu URLs, "
			"%zu --sha256, %zu -o)",
			nurl, nsha, nout);
	for (size_t i = 0; i < nurl; i++) {
		char hex[DK_SHA256_HEX_LEN + 1];

		if (dk_sha256_parse_hex(reqs[i].sha256, hex) < 0)
			return dk_usage_error("fetch",
					      "--sha256 '%s' is not 64 hex digits",
					      reqs[i].sha256);
	}
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
