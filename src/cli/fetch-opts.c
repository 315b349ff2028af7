/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdlib.h>

#include "cli/cli.h"
#include "cli/fetch-opts.h"

const char dk_fetch_options_help[] =
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

int dk_cli_fetch_option(struct dk_fetch_opts *fo, const char *cmd, int c, const char *arg)
{
	uint64_t v;

	switch (c) {
	case DK_OPT_CACHE_DIR:
		fo->cache_dir = arg;
		return 1;
	case DK_OPT_CA_BUNDLE:
		fo->ca_bundle = arg;
		return 1;
	case DK_OPT_RETRIES:
	case DK_OPT_RETRY_DELAY:
	case DK_OPT_RETRY_MAX_DELAY:
	case DK_OPT_CONNECT_TIMEOUT:
	case DK_OPT_LOW_SPEED_TIME:
	case DK_OPT_LOW_SPEED_LIMIT:
	case DK_OPT_TIMEOUT:
	case DK_OPT_MAX_REDIRS:
		break;
	default:
		return 0;
	}
	/* 0 in fo means the library default: only --retries and --timeout (no limit)
	 * take 0 as given; a first delay of 0 is the shortest, 1 ms. */
	if (dk_cli_parse_u64(arg, true, 1000000000, &v) < 0 ||
	    (v == 0 && c != DK_OPT_RETRIES && c != DK_OPT_TIMEOUT &&
	     c != DK_OPT_RETRY_DELAY))
		return dk_usage_error(cmd, "invalid number '%s'", arg), -1;
	switch (c) {
	case DK_OPT_RETRIES:
		fo->attempts = (unsigned)v + 1;
		break;
	case DK_OPT_RETRY_DELAY:
		fo->retry_delay_ms = (unsigned)(v ? v : 1);
		break;
	case DK_OPT_RETRY_MAX_DELAY:
		fo->retry_max_delay_ms = (unsigned)v;
		break;
	case DK_OPT_CONNECT_TIMEOUT:
		fo->connect_timeout_s = (long)v;
		break;
	case DK_OPT_LOW_SPEED_TIME:
		fo->low_speed_time_s = (long)v;
		break;
	case DK_OPT_LOW_SPEED_LIMIT:
		fo->low_speed_limit = (long)v;
		break;
	case DK_OPT_TIMEOUT:
		fo->timeout_s = (long)v;
		break;
	default:
		fo->max_redirs = (long)v;
		break;
	}
	return 1;
}
