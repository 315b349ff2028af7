/* SPDX-License-Identifier: Apache-2.0 */
#pragma once

#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>

#include "get/fetch.h"

/* The download options of the commands that fetch (fetch, extract URL): one table, one
 * parser, one help text. getopt_long codes above any char and the host options. */
enum {
	DK_OPT_CACHE_DIR = 0x1100,
	DK_OPT_CA_BUNDLE,
	DK_OPT_RETRIES,
	DK_OPT_RETRY_DELAY,
	DK_OPT_RETRY_MAX_DELAY,
	DK_OPT_CONNECT_TIMEOUT,
	DK_OPT_LOW_SPEED_TIME,
	DK_OPT_LOW_SPEED_LIMIT,
	DK_OPT_TIMEOUT,
	DK_OPT_MAX_REDIRS,
};

/* struct option entries, for a command's option table. */
#define DK_FETCH_OPTIONS                                                                 \
	{"cache-dir", required_argument, NULL, DK_OPT_CACHE_DIR},                        \
		{"ca-bundle", required_argument, NULL, DK_OPT_CA_BUNDLE},                \
		{"retries", required_argument, NULL, DK_OPT_RETRIES},                    \
		{"retry-delay-ms", required_argument, NULL, DK_OPT_RETRY_DELAY},         \
		{"retry-max-delay-ms", required_argument, NULL, DK_OPT_RETRY_MAX_DELAY}, \
		{"connect-timeout", required_argument, NULL, DK_OPT_CONNECT_TIMEOUT},    \
		{"low-speed-time", required_argument, NULL, DK_OPT_LOW_SPEED_TIME},      \
		{"low-speed-limit", required_argument, NULL, DK_OPT_LOW_SPEED_LIMIT},    \
		{"timeout", required_argument, NULL, DK_OPT_TIMEOUT},                    \
	{                                                                                \
		"max-redirs", required_argument, NULL, DK_OPT_MAX_REDIRS                 \
	}

/* Their --help lines. */
extern const char dk_fetch_options_help[];

/* A decimal number (digits only; with suffixes one of K, M, G or T, powers of 1024),
 * at most max. Returns 0 or -EINVAL/-ERANGE. */
int dk_cli_parse_u64(const char *s, bool suffixes, uint64_t max, uint64_t *out);

/* Stores download option c in fo. Returns 1 when c is one, 0 when it is not, -1 when
 * its value is bad (the usage error for cmd is printed: return DK_EXIT_USAGE). */
int dk_cli_fetch_option(struct dk_fetch_opts *fo, const char *cmd, int c,
			const char *arg);
