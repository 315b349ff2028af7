/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "build/store.h"
#include "config/config.h"

#include "cli/cli.h"
#include "cli/opts.h"

#define DEFAULT_CACHE "/var/cache/drvkit"
/* The short key of list and verify: enough to tell entries apart by eye. */
#define SHORT_KEY 12

static void help(void)
{
	printf("Usage: drvkit cache list [--json]\n"
	       "       drvkit cache verify [--remove] [--json]\n"
	       "       drvkit cache prune --max-size SIZE [--json]\n"
	       "\n"
	       "The build cache: one entry per build key (what drvkit build and init\n"
	       "built or fetched for one component and kernel), below DIR/builds.\n"
	       "\n"
	       "  list     every entry, most recently used first: key (its first 12\n"
	       "           hex digits), component, version, flavor, kernel, modules,\n"
	       "           size and last use (UTC)\n"
	       "  verify   checks every module of every entry against the entry's\n"
	       "           manifest (size, sha256): OK or DAMAGED and why. A damaged\n"
	       "           entry is kept unless --remove is given; drvkit build and "
	       "init\n"
	       "           never use one: they remove it and build again\n"
	       "  prune    removes the least recently used entries until the entries\n"
	       "           take at most SIZE, and what killed builds left (temp entries\n"
	       "           and work trees older than an hour)\n"
	       "\n"
	       "  --cache-dir DIR     the cache (default: cache_dir of --config, else\n"
	       "                      " DEFAULT_CACHE ")\n"
	       "  -c, --config FILE   the spec whose cache_dir to use\n"
	       "  --remove            verify: remove the damaged entries\n"
	       "  --max-size SIZE     prune: bytes to keep at most (suffix K, M, G or "
	       "T;\n"
	       "                      0 empties the cache)\n"
	       "  --json              the result as JSON on stdout\n"
	       "  -h, --help          this help\n"
	       "\n"
	       "Exit codes: 0 ok, 1 failure or (verify) a damaged entry, 2 usage, 3 bad\n"
	       "--config file, 4 the cache directory does not exist, 5 permission\n"
	       "denied.\n");
}

struct max_size {
	uint64_t bytes;
	bool given;
};

/* --max-size SIZE */
static int parse_max_size(struct dk_cli *cli, const struct dk_cli_opt *opt,
			  const char *arg)
{
	struct max_size *m = opt->value;

	if (dk_cli_parse_u64(arg, true, UINT64_MAX, &m->bytes) < 0)
		return dk_usage_error(cli->name,
				      "invalid size '%s' (bytes, or with K, M, G or T)",
				      arg);
	m->given = true;
	return 0;
}

static void human(uint64_t bytes, char *buf, size_t len)
{
	static const char *const units[] = {"KiB", "MiB", "GiB", "TiB"};
	double v = (double)bytes;
	size_t u = 0;

	if (bytes < 1024) {
		snprintf(buf, len, "%" PRIu64 " B", bytes);
		return;
	}
	for (v /= 1024; v >= 1024 && u + 1 < ARRAY_SIZE(units); u++)
		v /= 1024;
	snprintf(buf, len, "%.1f %s", v, units[u]);
}

/* ISO 8601 in UTC; "-" for an unknown time. */
static void iso_time(int64_t t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm) ||
	    !strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(buf, len, "-");
}

static const char *or_dash(const char *s)
{
	return s && *s ? s : "-";
}

/* "nvidia 535.261.03 (open), kernel 6.1.0-37-amd64" */
static void describe(const struct dk_store_entry *e, char *buf, size_t len)
{
	const struct dk_manifest *m = e->m;

	if (!m) {
		snprintf(buf, len, "(manifest unreadable)");
		return;
	}
	snprintf(buf, len, "%s%s%s%s%s%s, kernel %s", m->component, m->version ? " " : "",
		 m->version ? m->version : "", m->flavor ? " (" : "",
		 m->flavor ? m->flavor : "", m->flavor ? ")" : "", m->kernel);
}

/* The cache directory must exist and be readable: a wrong --cache-dir is an
 * error, not an empty cache. */
static int cache_check(const char *cache, struct dk_error **err)
{
	struct stat st;
	int r;

	if (stat(cache, &st) < 0)
		r = dk_error_set(err, errno, "cache directory %s: %s", cache,
				 strerror(errno));
	else if (!S_ISDIR(st.st_mode))
		r = dk_error_set(err, ENOTDIR, "cache directory %s: %s", cache,
				 strerror(ENOTDIR));
	else if (access(cache, R_OK | X_OK) < 0)
		r = dk_error_set(err, errno, "cache directory %s: %s", cache,
				 strerror(errno));
	else
		return 0;
	dk_error_set_hint(err, "give the cache with --cache-dir DIR or the spec's "
			       "cache_dir with --config FILE");
	return r;
}

/* ---- list ---- */

enum {
	COL_KEY,
	COL_COMPONENT,
	COL_VERSION,
	COL_FLAVOR,
	COL_KERNEL,
	COL_MODULES,
	COL_SIZE,
	COL_USED,
	N_COLS
};

struct row {
	char key[SHORT_KEY + 1];
	char modules[32];
	char size[32];
	char used[32];
	const char *col[N_COLS];
};

static void row_fill(const struct dk_store_entry *e, struct row *r)
{
	const struct dk_manifest *m = e->m;

	snprintf(r->key, sizeof(r->key), "%s", e->key);
	human(e->bytes, r->size, sizeof(r->size));
	iso_time(e->last_used, r->used, sizeof(r->used));
	if (m)
		snprintf(r->modules, sizeof(r->modules), "%zu module%s", m->n_modules,
			 m->n_modules == 1 ? "" : "s");
	else
		snprintf(r->modules, sizeof(r->modules), "-");
	r->col[COL_KEY] = r->key;
	r->col[COL_COMPONENT] = m ? or_dash(m->component) : "?";
	r->col[COL_VERSION] = m ? or_dash(m->version) : "-";
	r->col[COL_FLAVOR] = m ? or_dash(m->flavor) : "-";
	r->col[COL_KERNEL] = m ? or_dash(m->kernel) : "-";
	r->col[COL_MODULES] = r->modules;
	r->col[COL_SIZE] = r->size;
	r->col[COL_USED] = r->used;
}

static int list_text(const struct dk_store_entry *v, size_t n)
{
	_cleanup_free_ struct row *rows = calloc(n ? n : 1, sizeof(*rows));
	int width[N_COLS] = {0};

	if (!rows)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		row_fill(&v[i], &rows[i]);
		for (size_t c = 0; c < N_COLS; c++) {
			int l = (int)strlen(rows[i].col[c]);

			if (l > width[c])
				width[c] = l;
		}
	}
	for (size_t i = 0; i < n; i++) {
		for (size_t c = 0; c < N_COLS; c++) {
			const char *s = rows[i].col[c];

			/* sizes right-aligned, the rest left; no padding at the end */
			if (c == COL_SIZE)
				printf("%*s  ", width[c], s);
			else if (c + 1 < N_COLS || v[i].problem)
				printf("%-*s%s", width[c], s, c + 1 < N_COLS ? "  " : "");
			else
				printf("%s", s);
		}
		if (v[i].problem)
			printf("  %s", v[i].problem);
		printf("\n");
	}
	return 0;
}

static void entry_json(struct json_writer *w, const struct dk_store_entry *e,
		       const char *cache)
{
	char used[32];
	_cleanup_free_ char *dir = dk_strdup_printf("%s/builds/%s", cache, e->key);

	iso_time(e->last_used, used, sizeof(used));
	json_kv_string(w, "key", e->key);
	json_kv_string(w, "dir", dir);
	json_kv_int(w, "bytes", (int64_t)e->bytes);
	json_kv_string(w, "last_used", e->last_used > 0 ? used : NULL);
	json_kv_int(w, "last_used_epoch", e->last_used);
	json_key(w, "manifest");
	if (e->m)
		dk_manifest_json(w, e->m);
	else
		json_null(w);
}

static int cmd_list(const char *cache, struct dk_output *out, struct dk_error **err)
{
	struct dk_store_entry *v = NULL;
	struct json_writer *w;
	size_t n = 0;
	int r;

	r = dk_store_list(cache, false, &v, &n, err);
	if (r < 0)
		return r;
	w = dk_output_begin(out);
	if (w) {
		json_begin_array(w);
		for (size_t i = 0; i < n; i++) {
			json_begin_object(w);
			entry_json(w, &v[i], cache);
			json_kv_string(w, "problem", v[i].problem);
			json_end_object(w);
		}
		json_end_array(w);
	} else if (list_text(v, n) < 0) {
		dk_store_entries_free(v, n);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	dk_store_entries_free(v, n);
	r = dk_output_end(out, err);
	return r < 0 ? r : DK_EXIT_OK;
}

/* ---- verify ---- */

static int cmd_verify(const char *cache, bool remove, struct dk_output *out,
		      struct dk_error **err)
{
	struct dk_store_entry *v = NULL;
	struct json_writer *w;
	size_t n = 0, damaged = 0, removed = 0;
	int r, code = DK_EXIT_OK;

	r = dk_store_list(cache, true, &v, &n, err);
	if (r < 0)
		return r;
	w = dk_output_begin(out);
	if (w)
		json_begin_array(w);
	for (size_t i = 0; i < n; i++) {
		const struct dk_store_entry *e = &v[i];
		struct dk_error *rm_err = NULL;
		char what[512];
		bool gone = false;

		if (e->problem) {
			damaged++;
			gone = remove && dk_store_remove(cache, e->key, &rm_err) >= 0;
			removed += gone;
		}
		describe(e, what, sizeof(what));
		if (w) {
			json_begin_object(w);
			entry_json(w, e, cache);
			json_kv_string(w, "status", e->problem ? "damaged" : "ok");
			json_kv_string(w, "problem", e->problem);
			json_kv_bool(w, "removed", gone);
			json_kv_string(w, "remove_error", rm_err ? rm_err->msg : NULL);
			json_end_object(w);
		} else if (!e->problem) {
			printf("OK       %.*s  %s\n", SHORT_KEY, e->key, what);
		} else {
			printf("DAMAGED  %.*s  %s: %s%s\n", SHORT_KEY, e->key, what,
			       e->problem, gone ? " (removed)" : "");
		}
		if (rm_err) {
			fprintf(stderr, "drvkit cache: %s\n", rm_err->msg);
			code = dk_exit_code_for(rm_err->errnum);
			dk_error_free(&rm_err);
		}
	}
	if (w)
		json_end_array(w);
	r = dk_output_end(out, err);
	if (r < 0) {
		dk_store_entries_free(v, n);
		return r;
	}
	fflush(stdout);
	if (damaged && !remove)
		fprintf(stderr,
			"drvkit cache: %zu of %zu entries damaged; 'drvkit cache verify "
			"--remove' removes them (drvkit build and init rebuild an entry "
			"they find damaged)\n",
			damaged, n);
	else if (damaged)
		fprintf(stderr, "drvkit cache: %zu of %zu entries damaged, %zu removed\n",
			damaged, n, removed);
	dk_store_entries_free(v, n);
	return code != DK_EXIT_OK ? code : damaged ? DK_EXIT_FAILURE : DK_EXIT_OK;
}

/* ---- prune ---- */

static bool has_key(const struct dk_store_entry *v, size_t n, const char *key)
{
	for (size_t i = 0; i < n; i++)
		if (streq(v[i].key, key))
			return true;
	return false;
}

static void prune_render(struct json_writer *w, const char *cache,
			 const struct dk_store_entry *before, size_t nb,
			 const struct dk_store_entry *after, size_t na, uint64_t max,
			 uint64_t freed)
{
	char hf[32], ht[32], hm[32];
	uint64_t total = 0;
	size_t removed = 0;

	for (size_t i = 0; i < na; i++)
		total += after[i].bytes;
	if (w) {
		json_begin_object(w);
		json_kv_int(w, "max_bytes", (int64_t)max);
		json_kv_int(w, "freed_bytes", (int64_t)freed);
		json_kv_int(w, "total_bytes", (int64_t)total);
		json_key(w, "removed");
		json_begin_array(w);
	}
	/* What prune removed: the entries gone since the list before it. */
	for (size_t i = nb; i-- > 0;) {
		const struct dk_store_entry *e = &before[i];
		char what[512], size[32], used[32];

		if (has_key(after, na, e->key))
			continue;
		removed++;
		if (w) {
			json_begin_object(w);
			entry_json(w, e, cache);
			json_end_object(w);
			continue;
		}
		describe(e, what, sizeof(what));
		human(e->bytes, size, sizeof(size));
		iso_time(e->last_used, used, sizeof(used));
		printf("removed %.*s  %s  %s, last used %s\n", SHORT_KEY, e->key, what,
		       size, used);
	}
	if (w) {
		json_end_array(w);
		json_end_object(w);
		return;
	}
	human(freed, hf, sizeof(hf));
	human(total, ht, sizeof(ht));
	human(max, hm, sizeof(hm));
	printf("freed %s (%zu entr%s); the cache takes %s of at most %s\n", hf, removed,
	       removed == 1 ? "y" : "ies", ht, hm);
}

static int cmd_prune(const char *cache, uint64_t max, struct dk_output *out,
		     struct dk_error **err)
{
	struct dk_store_entry *before = NULL, *after = NULL;
	size_t nb = 0, na = 0, removed = 0;
	uint64_t freed = 0;
	int r;

	r = dk_store_list(cache, false, &before, &nb, err);
	if (r >= 0)
		r = dk_store_prune(cache, max, &freed, &removed, err);
	if (r >= 0)
		r = dk_store_list(cache, false, &after, &na, err);
	if (r >= 0) {
		prune_render(dk_output_begin(out), cache, before, nb, after, na, max,
			     freed);
		r = dk_output_end(out, err);
	}
	dk_store_entries_free(before, nb);
	dk_store_entries_free(after, na);
	return r < 0 ? r : DK_EXIT_OK;
}

static int run(struct dk_ctx *ctx, int argc, char *argv[], struct dk_error **err)
{
	_cleanup_config_ struct dk_config *cfg = NULL;
	const char *config = NULL, *cache = NULL, *sub;
	struct max_size max = {0};
	bool remove = false;
	const struct dk_cli_opt opts[] = {
		DK_CLI_OPT_STRING(0, "cache-dir", &cache),
		DK_CLI_OPT_STRING('c', "config", &config),
		DK_CLI_OPT_BOOL(0, "remove", &remove),
		DK_CLI_OPT_CALL(0, "max-size", parse_max_size, &max),
		DK_CLI_OPT_SHARED,
		{},
	};
	_cleanup_cli_ struct dk_cli cli = {"cache", DK_CLI_JSON, help, ctx};
	int r;

	cli.need_operand = "no subcommand given (list, verify or prune)";
	if (!dk_cli_parse(&cli, opts, argc, argv))
		return cli.exit;
	sub = argv[optind];
	if (!streq(sub, "list") && !streq(sub, "verify") && !streq(sub, "prune"))
		return dk_usage_error(
			"cache", "unknown subcommand '%s' (list, verify or prune)", sub);
	if (optind + 1 < argc)
		return dk_usage_error("cache", "unexpected argument '%s'",
				      argv[optind + 1]);
	if (remove && !streq(sub, "verify"))
		return dk_usage_error("cache", "--remove goes with verify");
	if (max.given && !streq(sub, "prune"))
		return dk_usage_error("cache", "--max-size goes with prune");
	if (!max.given && streq(sub, "prune"))
		return dk_usage_error("cache", "prune needs --max-size SIZE");
	if (!cache && config) {
		r = dk_config_load(config, &cfg, err);
		if (r < 0)
			return r;
		cache = cfg->cache_dir;
	}
	if (!cache)
		cache = DEFAULT_CACHE;
	r = cache_check(cache, err);
	if (r < 0)
		return r;
	if (streq(sub, "list"))
		return cmd_list(cache, &cli.out, err);
	if (streq(sub, "verify"))
		return cmd_verify(cache, remove, &cli.out, err);
	return cmd_prune(cache, max.bytes, &cli.out, err);
}

const struct dk_cmd dk_cmd_cache = {"cache", "list, verify and prune the build cache",
				    run, false};
