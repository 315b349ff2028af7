/* SPDX-License-Identifier: Apache-2.0 */
/* <procfs>/<pid>/mountinfo: "36 35 98:0 /root /mnt rw,noatime master:1 - ext3 /dev/sda1
 * rw,errors=continue" (proc(5)); spaces, tabs, newlines and backslashes in paths come
 * as \040 \011 \012 \134. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/mountinfo.h"

void dk_mountinfo_release(struct dk_mountinfo *mi)
{
	for (size_t i = 0; i < mi->n; i++) {
		free(mi->v[i].source);
		free(mi->v[i].target);
		free(mi->v[i].fstype);
		free(mi->v[i].options);
		free(mi->v[i].optional);
	}
	free(mi->v);
	free(mi->path);
	memset(mi, 0, sizeof(*mi));
}

/* The next space-separated field of *s (the line is modified), NULL at the end. */
static char *field(char **s)
{
	char *f = *s, *e;

	while (*f == ' ')
		f++;
	if (!*f)
		return NULL;
	e = strchr(f, ' ');
	if (e) {
		*e = '\0';
		*s = e + 1;
	} else {
		*s = f + strlen(f);
	}
	return f;
}

/* A copy with the kernel's octal escapes (\040) decoded. */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;

	if (!out)
		return NULL;
	while (*s) {
		if (s[0] == '\\' && s[1] >= '0' && s[1] <= '3' && s[2] >= '0' &&
		    s[2] <= '7' && s[3] >= '0' && s[3] <= '7') {
			*o++ = (char)((s[1] - '0') * 64 + (s[2] - '0') * 8 +
				      (s[3] - '0'));
			s += 4;
		} else {
			*o++ = *s++;
		}
	}
	*o = '\0';
	return out;
}

/* 0, -EBADMSG for a malformed line, -ENOMEM. */
static int parse_line(char *line, struct dk_mount *m)
{
	char *f[6], *opt, *fstype, *source, *super, *end;
	struct strbuf optional;
	unsigned long ma, mi;

	for (size_t i = 0; i < ARRAY_SIZE(f); i++)
		if (!(f[i] = field(&line)))
			return -EBADMSG;
	strbuf_init(&optional);
	/* optional fields up to the lone "-" */
	while ((opt = field(&line)) && !streq(opt, "-"))
		strbuf_printf(&optional, "%s%s", optional.len ? " " : "", opt);
	m->optional = strbuf_steal(&optional);
	if (!m->optional)
		return -ENOMEM;
	m->id = (int)strtol(f[0], NULL, 10);
	m->parent = (int)strtol(f[1], NULL, 10);
	if (!opt || !(fstype = field(&line)) || !(source = field(&line)))
		return -EBADMSG;
	super = field(&line);
	errno = 0;
	ma = strtoul(f[2], &end, 10);
	if (errno || end == f[2] || *end != ':')
		return -EBADMSG;
	opt = end + 1;
	mi = strtoul(opt, &end, 10);
	if (errno || end == opt || *end || ma > 0xfff || mi > 0xfffff)
		return -EBADMSG;
	m->major = (unsigned)ma;
	m->minor = (unsigned)mi;
	m->target = unescape(f[4]);
	m->fstype = unescape(fstype);
	m->source = unescape(source);
	m->options =
		dk_strdup_printf("%s%s%s", f[5], super ? "," : "", super ? super : "");
	return m->target && m->fstype && m->source && m->options ? 0 : -ENOMEM;
}

int dk_mountinfo_parse(const char *name, const char *text, struct dk_mountinfo *out,
		       struct dk_error **err)
{
	_cleanup_free_ char *copy = strdup(text);
	char *save = NULL;
	size_t lineno = 0, cap = 0;
	int r;

	if (!copy)
		return dk_error_set(err, ENOMEM, "out of memory");
	for (char *l = strtok_r(copy, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		lineno++;
		if (out->n == cap) {
			size_t nc = cap ? cap * 2 : 32;
			struct dk_mount *nv = reallocarray(out->v, nc, sizeof(*nv));

			if (!nv)
				goto oom;
			out->v = nv;
			cap = nc;
		}
		memset(&out->v[out->n], 0, sizeof(out->v[0]));
		/* counted before the parse: a half-filled entry is released too */
		out->n++;
		r = parse_line(l, &out->v[out->n - 1]);
		if (r == -ENOMEM)
			goto oom;
		if (r < 0) {
			dk_mountinfo_release(out);
			return dk_error_set(
				err, EBADMSG,
				"%s:%zu: not a mountinfo line (expected ID PARENT "
				"MAJOR:MINOR ROOT MOUNTPOINT OPTIONS ... - FSTYPE "
				"SOURCE SUPEROPTIONS, proc(5))",
				name, lineno);
		}
	}
	return 0;
oom:
	dk_mountinfo_release(out);
	return dk_error_set(err, ENOMEM, "out of memory");
}

int dk_mountinfo_read(const char *procfs_root, int pid, struct dk_mountinfo *out,
		      struct dk_error **err)
{
	_cleanup_free_ char *text = NULL;
	char rel[32];
	size_t len;
	int r;

	memset(out, 0, sizeof(*out));
	if (pid > 0)
		snprintf(rel, sizeof(rel), "%d/mountinfo", pid);
	else
		snprintf(rel, sizeof(rel), "self/mountinfo");
	out->path = dk_path_join(procfs_root, rel);
	if (!out->path)
		return dk_error_set(err, ENOMEM, "out of memory");
	r = dk_read_file_err(out->path, DK_MOUNTINFO_MAX, &text, &len, err);
	if (r < 0) {
		dk_mountinfo_release(out);
		return r;
	}
	{
		_cleanup_free_ char *path = TAKE_PTR(out->path);

		r = dk_mountinfo_parse(path, text, out, err);
		if (r >= 0)
			out->path = TAKE_PTR(path);
	}
	return r;
}

bool dk_mount_has_option(const struct dk_mount *m, const char *opt, const char *value)
{
	size_t ol = strlen(opt);

	for (const char *p = m->options; p && *p;) {
		const char *e = strchr(p, ',');
		size_t l = e ? (size_t)(e - p) : strlen(p);

		if (l >= ol && strncmp(p, opt, ol) == 0) {
			if (l == ol && !value)
				return true;
			if (p[ol] == '=' &&
			    (!value || (l - ol - 1 == strlen(value) &&
					strncmp(p + ol + 1, value, l - ol - 1) == 0)))
				return true;
		}
		p = e ? e + 1 : p + l;
	}
	return false;
}

const struct dk_mount *dk_mountinfo_at(const struct dk_mountinfo *mi, const char *path)
{
	for (size_t i = mi->n; i-- > 0;)
		if (streq(mi->v[i].target, path))
			return &mi->v[i];
	return NULL;
}

size_t dk_mountinfo_count_at(const struct dk_mountinfo *mi, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < mi->n; i++)
		n += streq(mi->v[i].target, path);
	return n;
}
/* Whether mount point mp holds path: equal, or a parent directory of it. */
static size_t holds(const char *mp, const char *path)
{
	size_t l = strlen(mp);

	if (streq(mp, "/"))
		return 1;
	if (strncmp(mp, path, l) != 0 || (path[l] != '\0' && path[l] != '/'))
		return 0;
	return l;
}

const struct dk_mount *dk_mountinfo_holding(const struct dk_mountinfo *mi,
					    const char *path)
{
	const struct dk_mount *best = NULL;
	size_t best_len = 0;

	for (size_t i = 0; i < mi->n; i++) {
		size_t l = holds(mi->v[i].target, path);

		if (l && l >= best_len) {
			best = &mi->v[i];
			best_len = l;
		}
	}
	return best;
}

bool dk_mount_is_shared(const struct dk_mount *m)
{
	const char *s = m->optional;

	while ((s = strstr(s, "shared:"))) {
		if (s == m->optional || s[-1] == ' ')
			return true;
		s += 7;
	}
	return false;
}
