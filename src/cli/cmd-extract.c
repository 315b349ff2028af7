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
#include "cli/cli.h"
#include "cli/fetch-opts.h"

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
	       "(hostile entry, limit exceeded, damaged) or checksum mismatch, 4 not\n"
	       "found (HTTP 404), 5 permission denied (HTTP 401/403).\n",
	       dk_fetch_options_help);
}

static int read_stdin(void *userdata, const void **buf, size_t *len,
		      struct dk_error **err)
{
	char *b = userdata;
	ssize_t n;

	do
		n = read(STDIN_FILENO, b, 64 * 1024);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return dk_error_set(err, errno, "read stdin: %s", strerror(errno));
	*buf = b;
	*len = (size_t)n;
	return 0;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	enum {
		OPT_STRIP = 256,
		OPT_MEMBER,
		OPT_NESTED,
		OPT_INNER,
		OPT_MAXSIZE,
		OPT_MAXENT,
		OPT_REWRITE,
		OPT_NESTED_MEMBER,
		OPT_SHA,
	};
	static const struct option opts[] = {
		{"directory", required_argument, NULL, 'C'},
		{"strip", required_argument, NULL, OPT_STRIP},
		{"strip-components", required_argument, NULL, OPT_STRIP},
		{"member", required_argument, NULL, OPT_MEMBER},
		{"nested", no_argument, NULL, OPT_NESTED},
		{"inner-member", required_argument, NULL, OPT_INNER},
		{"max-size", required_argument, NULL, OPT_MAXSIZE},
		{"max-entries", required_argument, NULL, OPT_MAXENT},
		{"rewrite-absolute-symlinks", no_argument, NULL, OPT_REWRITE},
		{"nested-member", required_argument, NULL, OPT_NESTED_MEMBER},
		{"sha256", required_argument, NULL, OPT_SHA},
		DK_FETCH_OPTIONS,
		{"help", no_argument, NULL, 'h'},
		{},
	};
	const char *members[MAX_GLOBS + 1] = {0}, *inner[MAX_GLOBS + 1] = {0};
	const char *outer[MAX_GLOBS + 1] = {0};
	struct dk_archive_opts o = {0};
	struct dk_fetch_opts fo = {0};
	const char *sha256 = NULL;
	size_t n_outer = 0;
	struct dk_archive_stats stats = {0};
	const char *dir = ".";
	size_t n_members = 0, n_inner = 0;
	bool nested = false, download_opts = false, remote;
	const char *src;
	uint64_t v;
	int c, r;

	while ((c = getopt_long(argc, argv, "C:h", opts, NULL)) != -1) {
		r = dk_cli_fetch_option(&fo, "extract", c, optarg);
		if (r < 0)
			return DK_EXIT_USAGE;
		if (r > 0) {
			download_opts = true;
			continue;
		}
		switch (c) {
		case 'C':
			dir = optarg;
			break;
		case OPT_STRIP:
			if (dk_cli_parse_u64(optarg, false, 1024, &v) < 0)
				return dk_usage_error("extract", "bad --strip '%s'",
						      optarg);
			o.strip = (unsigned)v;
			break;
		case OPT_MEMBER:
		case OPT_INNER:
			if ((c == OPT_MEMBER ? n_members : n_inner) >= MAX_GLOBS)
				return dk_usage_error("extract", "too many globs");
			if (c == OPT_MEMBER)
				members[n_members++] = optarg;
			else
				inner[n_inner++] = optarg;
			break;
		case OPT_NESTED:
			nested = true;
			break;
		case OPT_NESTED_MEMBER:
			if (n_outer >= MAX_GLOBS)
				return dk_usage_error("extract", "too many globs");
			outer[n_outer++] = optarg;
			break;
		case OPT_SHA:
			sha256 = optarg;
			break;
		case OPT_MAXSIZE:
			if (dk_cli_parse_u64(optarg, true, UINT64_MAX, &o.max_size) < 0 ||
			    o.max_size == 0)
				return dk_usage_error("extract", "bad --max-size '%s'",
						      optarg);
			break;
		case OPT_MAXENT:
			if (dk_cli_parse_u64(optarg, false, UINT64_MAX, &o.max_entries) <
				    0 ||
			    o.max_entries == 0)
				return dk_usage_error("extract", "bad --max-entries '%s'",
						      optarg);
			break;
		case OPT_REWRITE:
			o.flags |= DK_ARCHIVE_REWRITE_ABS_SYMLINKS;
			break;
		case 'h':
			help();
			return DK_EXIT_OK;
		default:
			return dk_usage_error("extract", "unknown option");
		}
	}
	if (optind + 1 != argc)
		return dk_usage_error("extract", "expected one ARCHIVE argument");
	if (nested && n_members == 0)
		return dk_usage_error("extract",
				      "--nested needs --member GLOB (the inner "
				      "archives)");
	if (!nested && n_inner > 0)
		return dk_usage_error("extract", "--inner-member needs --nested");
	if (nested && n_outer > 0)
		return dk_usage_error("extract",
				      "--nested-member and --nested do not mix");
	if (nested) {
		o.nested_members = members;
		o.members = inner;
	} else {
		o.nested_members = n_outer ? outer : NULL;
		o.members = members;
	}

	src = argv[optind];
	remote = strstr(src, "://") && !startswith(src, "file://");
	if (remote && !sha256)
		return dk_usage_error("extract", "a URL needs --sha256 HEX");
	if (!sha256 && download_opts)
		return dk_usage_error("extract", "download options need --sha256");
	if (sha256) {
		char hex[DK_SHA256_HEX_LEN + 1];

		if (streq(src, "-"))
			return dk_usage_error("extract",
					      "--sha256 does not work on stdin");
		if (dk_sha256_parse_hex(sha256, hex) < 0)
			return dk_usage_error(
				"extract", "--sha256 '%s' is not 64 hex digits", sha256);
		r = dk_fetch_extract(&fo, src, sha256, dir, &o, &stats, err);
	} else if (streq(src, "-")) {
		_cleanup_free_ char *buf = malloc(64 * 1024);

		if (!buf)
			return dk_error_set(err, ENOMEM, "out of memory");
		r = dk_archive_extract_stream("stdin", read_stdin, buf, dir, &o, &stats,
					      err);
	} else {
		r = dk_archive_extract_file(src, dir, &o, &stats, err);
	}
	if (r < 0)
		return r;
	dk_info("extracted %" PRIu64 " entries, %" PRIu64 " bytes into %s", stats.entries,
		stats.bytes, dir);
	return DK_EXIT_OK;
}

const struct dk_cmd dk_cmd_extract = {"extract",
				      "extract an archive safely below a directory", run};
