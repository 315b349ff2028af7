/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "base/rootfs.h"

#define MAX_LINKS 40

static void drop_last(struct strbuf *b)
{
	while (b->len > 0 && b->s[b->len - 1] != '/')
		b->len--;
	if (b->len > 0)
		b->len--; /* the separating slash */
	if (b->s)
		b->s[b->len] = '\0';
}

/* rest := target + "/" + rest */
static int prepend(char **rest, const char *target)
{
	struct strbuf b;

	strbuf_init(&b);
	strbuf_puts(&b, target);
	strbuf_putc(&b, '/');
	strbuf_puts(&b, *rest);
	free(*rest);
	*rest = strbuf_steal(&b);
	return *rest ? 0 : -ENOMEM;
}

int dk_root_resolve(const char *root, const char *path, char **out)
{
	_cleanup_strbuf_ struct strbuf done; /* resolved part, "" or "/a/b" */
	_cleanup_free_ char *rest = strdup(path);
	size_t pos = 0;
	int links = 0;

	strbuf_init(&done);
	strbuf_puts(&done, "");
	if (!rest)
		return -ENOMEM;
	for (;;) {
		_cleanup_free_ char *full = NULL;
		char target[PATH_MAX];
		struct stat st;
		size_t cl, mark;
		ssize_t tl;

		while (rest[pos] == '/')
			pos++;
		if (rest[pos] == '\0')
			break;
		cl = strcspn(rest + pos, "/");
		if (cl == 1 && rest[pos] == '.') {
			pos += cl;
			continue;
		}
		if (cl == 2 && rest[pos] == '.' && rest[pos + 1] == '.') {
			drop_last(&done);
			pos += cl;
			continue;
		}
		mark = done.len;
		strbuf_putc(&done, '/');
		strbuf_putn(&done, rest + pos, cl);
		pos += cl;
		if (done.oom)
			return -ENOMEM;
		full = dk_path_join(root, done.s);
		if (!full)
			return -ENOMEM;
		if (lstat(full, &st) < 0 || !S_ISLNK(st.st_mode))
			continue;
		if (++links > MAX_LINKS)
			return -ELOOP;
		tl = readlink(full, target, sizeof(target) - 1);
		if (tl < 0)
			return -errno;
		if ((size_t)tl >= sizeof(target) - 1)
			return -ENAMETOOLONG;
		target[tl] = '\0';
		/* Replace the link component with its target. */
		done.len = mark;
		done.s[mark] = '\0';
		if (target[0] == '/') {
			done.len = 0;
			done.s[0] = '\0';
		}
		{
			char *r = strdup(rest + pos);

			if (!r)
				return -ENOMEM;
			free(rest);
			rest = r;
			pos = 0;
		}
		if (prepend(&rest, target) < 0)
			return -ENOMEM;
	}
	*out = done.len ? dk_path_join(root, done.s) : strdup(root ? root : "/");
	return *out ? 0 : -ENOMEM;
}
