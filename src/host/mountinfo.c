/* SPDX-License-Identifier: Apache-2.0 */
/* /proc/PID/mountinfo (proc(5)):
 *   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
 * id, parent, major:minor, root, mount point, options, optional fields ending at "-",
 * filesystem type, source, super options. Paths escape space, tab, newline and '\' as
 * \ooo octal. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "host/mountinfo.h"

#define MOUNTINFO_MAX (64u << 20)

/* Decodes \ooo escapes in place. */
static void unescape(char *s)
{
	char *w = s;

	for (char *r = s; *r;) {
		if (r[0] == '\\' && r[1] >= '0' && r[1] <= '3' && r[2] >= '0' &&
		    r[2] <= '7' && r[3] >= '0' && r[3] <= '7') {
			*w++ = (char)((r[1] - '0') << 6 | (r[2] - '0') << 3 |
				      (r[3] - '0'));
			r += 4;
		} else {
			*w++ = *r++;
		}
	}
	*w = '\0';
}

static void mount_release(struct dk_mount *m)
{
	free(m->root);
	free(m->mount_point);
	free(m->options);
	free(m->optional);
	free(m->fstype);
	free(m->source);
	free(m->super_options);
}

/* The next space-separated field of *p, NUL-terminated in place; NULL at the end. */
static char *field(char **p)
{
	char *s = *p, *e;

	if (!s || !*s)
		return NULL;
	e = strchr(s, ' ');
	if (e) {
		*e = '\0';
		*p = e + 1;
	} else {
		*p = NULL;
	}
	return s;
}

static int dup_field(char **dst, const char *s, bool esc)
{
	*dst = strdup(s ? s : "");
	if (!*dst)
		return -ENOMEM;
	if (esc)
		unescape(*dst);
	return 0;
}

static int parse_line(char *line, struct dk_mount *m)
{
	char *p = line, *id = field(&p), *parent = field(&p), *dev = field(&p);
	char *root = field(&p), *mp = field(&p), *opts = field(&p), *sep;
	size_t opt_len;
	char *end;

	if (!id || !parent || !dev || !root || !mp || !opts || !p)
		return -EBADMSG;
	m->id = (int)strtol(id, &end, 10);
	if (*end)
		return -EBADMSG;
	m->parent = (int)strtol(parent, &end, 10);
	if (*end || sscanf(dev, "%u:%u", &m->major, &m->minor) != 2)
		return -EBADMSG;
	/* optional fields: zero or more, then "-" */
	if (strncmp(p, "- ", 2) == 0) {
		sep = p;
	} else {
		sep = strstr(p, " - ");
		if (!sep)
			return -EBADMSG;
		sep++;
	}
	opt_len = sep > p ? (size_t)(sep - p - 1) : 0;
	m->optional = strndup(p, opt_len);
	if (!m->optional)
		return -ENOMEM;
	p = sep + 2;
	{
		char *fstype = field(&p), *source = field(&p), *super = field(&p);

		if (!fstype || !source)
			return -EBADMSG;
		if (dup_field(&m->root, root, true) < 0 ||
		    dup_field(&m->mount_point, mp, true) < 0 ||
		    dup_field(&m->options, opts, false) < 0 ||
		    dup_field(&m->fstype, fstype, true) < 0 ||
		    dup_field(&m->source, source, true) < 0 ||
		    dup_field(&m->super_options, super, false) < 0)
			return -ENOMEM;
	}
	return 0;
}

void dk_mountinfo_release(struct dk_mountinfo *mi)
{
	for (size_t i = 0; i < mi->n; i++)
		mount_release(&mi->mounts[i]);
	free(mi->mounts);
	mi->mounts = NULL;
	mi->n = 0;
}

int dk_mountinfo_read(const char *root, struct dk_mountinfo *out)
{
	_cleanup_free_ char *path = dk_path_join(root, "mountinfo");
	_cleanup_free_ char *data = NULL;
	struct dk_mountinfo mi = {0};
	size_t len = 0, cap = 0;
	char *save = NULL;
	int r;

	memset(out, 0, sizeof(*out));
	if (!path)
		return -ENOMEM;
	r = dk_read_file(path, MOUNTINFO_MAX, &data, &len);
	if (r < 0)
		return r;
	for (char *line = strtok_r(data, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (mi.n == cap) {
			struct dk_mount *nm;

			cap = cap ? cap * 2 : 64;
			nm = realloc(mi.mounts, cap * sizeof(*nm));
			if (!nm) {
				dk_mountinfo_release(&mi);
				return -ENOMEM;
			}
			mi.mounts = nm;
		}
		memset(&mi.mounts[mi.n], 0, sizeof(mi.mounts[mi.n]));
		r = parse_line(line, &mi.mounts[mi.n]);
		mi.n++;
		if (r < 0) {
			dk_mountinfo_release(&mi);
			return r;
		}
	}
	*out = mi;
	return 0;
}

const struct dk_mount *dk_mountinfo_at(const struct dk_mountinfo *mi, const char *path)
{
	for (size_t i = mi->n; i-- > 0;)
		if (streq(mi->mounts[i].mount_point, path))
			return &mi->mounts[i];
	return NULL;
}

size_t dk_mountinfo_count_at(const struct dk_mountinfo *mi, const char *path)
{
	size_t n = 0;

	for (size_t i = 0; i < mi->n; i++)
		n += streq(mi->mounts[i].mount_point, path);
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
		size_t l = holds(mi->mounts[i].mount_point, path);

		if (l && l >= best_len) {
			best = &mi->mounts[i];
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
