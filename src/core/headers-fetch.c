/* SPDX-License-Identifier: Apache-2.0 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "headers-fetch.h"

struct dk_headers_fetcher {
	const struct dk_fetch_opts *fo;
	const char *const *urls;
	const char *const *sha256s;
	size_t n;
	char *tmpdir;		    /* NULL until the downloads ran */
	char **paths;		    /* paths[i]: the verified file for urls[i] */
	int result;		    /* the batch's result once it ran (0 or -errno) */
	struct dk_error *batch_err; /* its error, handed out once */
};

int dk_headers_fetcher_new(const struct dk_fetch_opts *fo, const char *const *urls,
			   const char *const *sha256s, size_t n,
			   struct dk_headers_fetcher **out, struct dk_error **err)
{
	struct dk_headers_fetcher *f = calloc(1, sizeof(*f));

	if (!f)
		return dk_error_set(err, ENOMEM, "out of memory");
	f->paths = calloc(n ? n : 1, sizeof(*f->paths));
	if (!f->paths) {
		free(f);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	f->fo = fo;
	f->urls = urls;
	f->sha256s = sha256s;
	f->n = n;
	*out = f;
	return 0;
}

/* Downloads every package at once into a fresh temporary directory. */
static int fetch_all(struct dk_headers_fetcher *f)
{
	_cleanup_free_ struct dk_fetch_req *reqs = calloc(f->n, sizeof(*reqs));
	const char *tmp = getenv("TMPDIR");

	if (!tmp || !*tmp)
		tmp = "/tmp";
	if (!reqs)
		return dk_error_set(&f->batch_err, ENOMEM, "out of memory");
	f->tmpdir = dk_strdup_printf("%s/drvkit-packages.XXXXXX", tmp);
	if (!f->tmpdir)
		return dk_error_set(&f->batch_err, ENOMEM, "out of memory");
	if (!mkdtemp(f->tmpdir)) {
		int e = errno;

		free(f->tmpdir);
		f->tmpdir = NULL;
		return dk_error_set(&f->batch_err, e,
				    "create a download directory in %s: %s (point TMPDIR "
				    "at a writable directory with room for the packages)",
				    tmp, strerror(e));
	}
	for (size_t i = 0; i < f->n; i++) {
		/* One file per package, named by position: URLs may share a basename. */
		f->paths[i] = dk_strdup_printf("%s/%zu.pkg", f->tmpdir, i);
		if (!f->paths[i])
			return dk_error_set(&f->batch_err, ENOMEM, "out of memory");
		reqs[i].url = f->urls[i];
		reqs[i].sha256 = f->sha256s[i];
		reqs[i].dest = f->paths[i];
	}
	return dk_fetch(f->fo, reqs, f->n, &f->batch_err);
}

int dk_headers_fetcher_fetch(void *userdata, const char *url, char **path,
			     struct dk_error **err)
{
	struct dk_headers_fetcher *f = userdata;
	size_t i;

	for (i = 0; i < f->n; i++)
		if (streq(f->urls[i], url))
			break;
	if (i == f->n)
		return dk_error_set(err, ENOENT, "%s: not among the packages to download",
				    url);
	if (!f->tmpdir && f->result == 0)
		f->result = fetch_all(f);
	if (f->result < 0) {
		if (f->batch_err) {
			*err = TAKE_PTR(f->batch_err);
			return f->result;
		}
		return dk_error_set(err, -f->result, "download %s: %s", url,
				    strerror(-f->result));
	}
	*path = strdup(f->paths[i]);
	return *path ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

void dk_headers_fetcher_free(struct dk_headers_fetcher *f)
{
	if (f->tmpdir) {
		for (size_t i = 0; i < f->n; i++)
			if (f->paths[i]) {
				(void)unlink(f->paths[i]);
				free(f->paths[i]);
			}
		(void)rmdir(f->tmpdir);
		free(f->tmpdir);
	}
	free(f->paths);
	dk_error_free(&f->batch_err);
	free(f);
}
