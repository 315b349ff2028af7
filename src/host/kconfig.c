/* SPDX-License-Identifier: Apache-2.0 */
/* The kernel config: finding it on the host, and looking options up in it. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/archive-dl.h"
#include "base/fsutil.h"
#include "base/log.h"
#include "base/rootfs.h"
#include "host/hostfs.h"
#include "host/kconfig.h"
#include "host/osrelease.h"

/* A kernel config is a few hundred KiB; this bounds a corrupt or hostile file. */
#define KCONFIG_MAX (16u << 20)

/* The first line "<head><name><tail>...": strstr finds the name (a few hits in a
 * 250 KB config), then the line around it is checked. Returns what follows tail. */
static const char *find_line(const char *config, const char *head, const char *name,
			     const char *tail)
{
	size_t hl = strlen(head), nl = strlen(name);

	if (!config || !nl)
		return NULL;
	for (const char *p = strstr(config, name); p; p = strstr(p + 1, name)) {
		const char *start = p - hl;

		if (p - config < (ptrdiff_t)hl || strncmp(start, head, hl) != 0)
			continue;
		if (start != config && start[-1] != '\n')
			continue;
		if (strncmp(p + nl, tail, strlen(tail)) == 0)
			return p + nl + strlen(tail);
	}
	return NULL;
}

const char *dk_kconfig_find(const char *config, const char *name, size_t *len)
{
	const char *v = find_line(config, "CONFIG_", name, "=");

	if (v && len)
		*len = strcspn(v, "\n");
	return v;
}

/* Whether "# CONFIG_<name> is not set" is a line of config. */
static bool config_not_set(const char *config, const char *name)
{
	return find_line(config, "# CONFIG_", name, " is not set") != NULL;
}

int dk_kconfig_get(const char *buf, const char *sym, char **value)
{
	size_t vl = 0;
	const char *v = dk_kconfig_find(buf, sym, &vl);

	if (!v) {
		if (!config_not_set(buf, sym))
			return -ENOENT;
		*value = strdup("n");
		return *value ? 0 : -ENOMEM;
	}
	if (vl >= 2 && v[0] == '"' && v[vl - 1] == '"') {
		int r = dk_osrelease_unquote(v, vl, value);

		if (r != -EBADMSG)
			return r;
		*value = strndup(v + 1, vl - 2);
		return *value ? 0 : -ENOMEM;
	}
	*value = strndup(v, vl);
	return *value ? 0 : -ENOMEM;
}

int dk_kconfig_enabled(const char *buf, const char *sym, bool *absent)
{
	_cleanup_free_ char *v = NULL;
	int r = dk_kconfig_get(buf, sym, &v);

	if (r == -ENOMEM)
		return r;
	if (absent)
		*absent = r == -ENOENT;
	return r == 0 && (streq(v, "y") || streq(v, "m"));
}

/* Decompresses a gzip file (the kernel's /proc/config.gz) with libarchive's raw
 * reader: libarchive is dlopen'ed, and only a host without any other config
 * needs it. */
static int read_gz(const char *path, char **out)
{
	_cleanup_error_ struct dk_error *lerr = NULL;
	_cleanup_strbuf_ struct strbuf b;
	struct archive *a = NULL;
	struct archive_entry *e;
	struct stat st;
	char chunk[16384];
	ssize_t n;
	int r = -EBADMSG;

	strbuf_init(&b);
	if (stat(path, &st) < 0) /* most hosts: no need to load libarchive at all */
		return -errno;
	if (dk_archive_load(&lerr) < 0) {
		dk_debug("%s: %s", path, lerr->msg);
		return -lerr->errnum;
	}
	a = dk_sym_archive_read_new();
	if (!a)
		return -ENOMEM;
	dk_sym_archive_read_support_filter_gzip(a);
	dk_sym_archive_read_support_format_raw(a);
	if (dk_sym_archive_read_open_filename(a, path, sizeof(chunk)) != ARCHIVE_OK) {
		r = dk_sym_archive_errno(a) > 0 ? -dk_sym_archive_errno(a) : -EBADMSG;
	} else if (dk_sym_archive_read_next_header(a, &e) == ARCHIVE_OK) {
		while ((n = dk_sym_archive_read_data(a, chunk, sizeof(chunk))) > 0 &&
		       b.len < KCONFIG_MAX)
			strbuf_putn(&b, chunk, (size_t)n);
		r = n < 0 ? -EBADMSG : b.len >= KCONFIG_MAX ? -EFBIG : 0;
	}
	dk_sym_archive_read_free(a);
	if (r < 0)
		return r;
	if (b.oom)
		return -ENOMEM;
	*out = strbuf_steal(&b);
	return 0;
}

/* <host_root>/boot/config-KVER, resolved inside the host root. *path is set
 * also when it cannot be read (for the message); not on -ENOMEM. */
static int read_boot(const struct dk_ctx *ctx, const char *kver, char **path, char **text)
{
	_cleanup_free_ char *rel = dk_strdup_printf("boot/config-%s", kver);
	const char *host = ctx->host_root ? ctx->host_root : "/";
	int r;

	if (!rel)
		return -ENOMEM;
	r = dk_root_resolve(host, rel, path);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		*path = dk_path_join(host, rel);
		return *path ? r : -ENOMEM;
	}
	return dk_read_file(*path, KCONFIG_MAX, text, NULL);
}

static int try_boot(const struct dk_ctx *ctx, const char *kver, char **path, char **text,
		    struct strbuf *why)
{
	int r = read_boot(ctx, kver, path, text);

	if (r == 0)
		return 0;
	if (*path)
		strbuf_printf(why, "%s: %s; ", *path, strerror(-r));
	free(*path);
	*path = NULL;
	return r;
}

static int try_gz(const struct dk_ctx *ctx, char **path, char **text, struct strbuf *why)
{
	_cleanup_free_ char *procfs = dk_host_procfs(ctx);
	int r;

	*path = procfs ? dk_path_join(procfs, "config.gz") : NULL;
	if (!*path)
		return -ENOMEM;
	r = read_gz(*path, text);
	if (r == 0 || r == -ENOMEM)
		return r;
	strbuf_printf(why, "%s: %s", *path, strerror(-r));
	free(*path);
	*path = NULL;
	return r;
}

int dk_kconfig_read(const struct dk_ctx *ctx, const char *kver,
		    const struct dk_kconfig_more *more, char **path, char **text,
		    char **why)
{
	_cleanup_strbuf_ struct strbuf w;
	int r;

	*path = *text = *why = NULL;
	strbuf_init(&w);
	if (kver) {
		r = try_boot(ctx, kver, path, text, &w);
		if (r == 0 || r == -ENOMEM)
			return r;
	}
	for (size_t i = 0; more && i < more->n_configs; i++) {
		r = dk_read_file(more->configs[i], KCONFIG_MAX, text, NULL);
		if (r == -ENOMEM)
			return r;
		if (r == 0) {
			*path = strdup(more->configs[i]);
			return *path ? 0 : -ENOMEM;
		}
	}
	if (more && more->note)
		strbuf_printf(&w, "%s; ", more->note);
	r = try_gz(ctx, path, text, &w);
	if (r == 0 || r == -ENOMEM)
		return r;
	*why = strbuf_steal(&w);
	return *why ? r : -ENOMEM;
}
