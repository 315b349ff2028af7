/* SPDX-License-Identifier: Apache-2.0 */
/* build/store: the build cache. Entries written through begin/commit with small fake
 * modules and their manifests: a lookup of a whole entry, of damaged ones (removed,
 * -EBADMSG), a commit that loses the race to another builder, aliases, the list by
 * last use, and prune by size (least recently used first) and of leftovers of killed
 * builds. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/error.h"
#include "base/fsutil.h"
#include "base/sha256.h"
#include "base/tree.h"
#include "build/manifest.h"
#include "build/store.h"

#include "fixture.h"
#include "tap.h"

static char tmpdir[] = "/tmp/dk-test-store-XXXXXX";

/* 64 times c: a valid key or alias. */
static const char *key_of(char c, char buf[static 65])
{
	memset(buf, c, 64);
	buf[64] = '\0';
	return buf;
}

static void put(const char *path, size_t size, char fill)
{
	_cleanup_free_ char *data = malloc(size ? size : 1);
	int r;

	if (!data) {
		printf("# out of memory\n");
		exit(1);
	}
	memset(data, fill, size);
	r = dk_write_file_atomic(path, data, size, 0644);
	if (r < 0) {
		printf("# could not write %s: %s\n", path, strerror(-r));
		exit(1);
	}
}

/* dir/NAME.ko of size bytes, recorded in m. */
static void add_module(struct dk_manifest *m, const char *dir, const char *name,
		       size_t size)
{
	struct dk_manifest_module *mm = &m->modules[m->n_modules++];
	_cleanup_free_ char *path = NULL;
	char hex[DK_SHA256_HEX_LEN + 1];

	mm->name = strdup(name);
	mm->file = dk_strdup_printf("%s.ko", name);
	path = dk_path_join(dir, mm->file);
	put(path, size, name[0]);
	if (dk_sha256_file(path, hex) < 0) {
		printf("# sha256 of %s failed\n", path);
		exit(1);
	}
	mm->sha256 = strdup(hex);
	mm->size = (int64_t)size;
}

/* Writes an entry for key through begin and commit: one module per size in sizes
 * (0-terminated), component comp. Returns the commit's result. */
static int make_entry(const char *cache, const char *key, const char *alias,
		      const char *comp, const size_t *sizes)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *tmp = NULL;
	struct dk_manifest m = {
		.key = (char *)key,
		.alias = (char *)alias,
		.component = (char *)comp,
		.version = (char *)"1.0",
		.kernel = (char *)"6.1.0-37-amd64",
	};
	struct dk_manifest_module mods[8] = {};
	static const char *const names[] = {"alpha", "beta", "gamma", "delta"};
	int r;

	m.modules = mods;
	r = dk_store_begin(cache, key, &tmp, &err);
	if (r < 0) {
		printf("# begin: %s\n", err->msg);
		return r;
	}
	for (size_t i = 0; sizes[i] && i < ARRAY_SIZE(names); i++)
		add_module(&m, tmp, names[i], sizes[i]);
	r = dk_manifest_write(&m, tmp, &err);
	for (size_t i = 0; i < m.n_modules; i++) {
		free(mods[i].name);
		free(mods[i].file);
		free(mods[i].sha256);
	}
	if (r < 0) {
		printf("# manifest: %s\n", err->msg);
		return r;
	}
	r = dk_store_commit(cache, key, alias, tmp, &err);
	if (r < 0)
		printf("# commit: %s\n", err->msg);
	return r;
}

static char *entry_path(const char *cache, const char *key, const char *file)
{
	return file ? dk_strdup_printf("%s/builds/%s/%s", cache, key, file)
		    : dk_strdup_printf("%s/builds/%s", cache, key);
}

static void drop(const char *cache, const char *key)
{
	if (dk_store_remove(cache, key, NULL) < 0)
		printf("# could not remove the entry %s\n", key);
}

/* Sets the last use of an entry (its manifest's mtime). */
static void set_used(const char *cache, const char *key, time_t when)
{
	_cleanup_free_ char *mf = entry_path(cache, key, "manifest.json");
	struct timespec ts[2] = {{when, 0}, {when, 0}};

	if (utimensat(AT_FDCWD, mf, ts, 0) < 0)
		printf("# utimensat %s: %m\n", mf);
}

static void set_mtime(const char *path, time_t when)
{
	struct timespec ts[2] = {{when, 0}, {when, 0}};

	if (utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW) < 0)
		printf("# utimensat %s: %m\n", path);
}

/* Names in dir starting with prefix. */
static int count_prefix(const char *dir, const char *prefix)
{
	_cleanup_closedir_ DIR *d = opendir(dir);
	struct dirent *de;
	int n = 0;

	while (d && (de = readdir(d)))
		n += strncmp(de->d_name, prefix, strlen(prefix)) == 0 &&
		     !streq(de->d_name, ".") && !streq(de->d_name, "..");
	return n;
}

static void test_lookup(const char *cache)
{
	static const size_t sizes[] = {3000, 5000, 0};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *mf = NULL, *builds = NULL;
	struct dk_store_hit hit;
	char k[65], k2[65];
	struct stat st;
	time_t now = time(NULL);

	key_of('a', k);
	is_int(dk_store_lookup(cache, k, &hit, &err), 0,
	       "lookup in an empty cache: none");
	ok(!hit.key && !hit.m, "no hit filled");
	is_int(dk_store_lookup(cache, "a1b2", &hit, &err), -EINVAL,
	       "a short key: -EINVAL");
	ok(err && strstr(err->msg, "'a1b2' is not a build key"), "a bad key is named");
	dk_error_free(&err);
	is_int(dk_store_lookup(cache, "../../../../etc/passwd", &hit, &err), -EINVAL,
	       "a path as key: -EINVAL");
	dk_error_free(&err);

	is_int(make_entry(cache, k, NULL, "nvidia", sizes), 0, "begin, write, commit");
	builds = dk_path_join(cache, "builds");
	is_int(count_prefix(builds, ".tmp-"), 0, "the temp dir became the entry");
	mf = entry_path(cache, k, "manifest.json");
	set_used(cache, k, now - 86400);
	is_int(dk_store_lookup(cache, k, &hit, &err), 1, "lookup of a whole entry: 1");
	is_str(hit.key, k, "hit: key");
	{
		_cleanup_free_ char *dir = entry_path(cache, k, NULL);

		is_str(hit.dir, dir, "hit: dir builds/<key>");
	}
	ok(hit.m && streq(hit.m->component, "nvidia") && hit.m->n_modules == 2 &&
		   hit.m->modules[1].size == 5000,
	   "hit: its manifest");
	ok(hit.manifest_sha256 && strlen(hit.manifest_sha256) == 64,
	   "hit: the manifest's sha256");
	ok(stat(mf, &st) == 0 && st.st_mtime >= now - 5,
	   "a lookup touches the manifest (last use)");
	dk_store_hit_release(&hit);
	ok(!hit.key && !hit.dir && !hit.m, "release clears the hit");
	dk_error_free(&err);
	is_int(dk_store_lookup(cache, key_of('b', k2), &hit, &err), 0,
	       "another key: none");
	is_int(dk_store_remove(cache, k, &err), 0, "remove");
	is_int(dk_store_lookup(cache, k, &hit, &err), 0, "removed: none");
	is_int(dk_store_remove(cache, "zz", &err), -EINVAL,
	       "remove of a bad key: -EINVAL");
}

/* Damages the entry of key with how, then expects lookup to refuse and remove it. */
static void damaged(const char *cache, char c, const char *what, const char *expect,
		    void (*how)(const char *cache, const char *key))
{
	static const size_t sizes[] = {4096, 100, 0};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *dir = NULL;
	struct dk_store_hit hit;
	char k[65];

	key_of(c, k);
	dir = entry_path(cache, k, NULL);
	if (make_entry(cache, k, NULL, "ofed", sizes) < 0) {
		ok(0, "%s: entry written", what);
		return;
	}
	how(cache, k);
	is_int(dk_store_lookup(cache, k, &hit, &err), -EBADMSG, "%s: -EBADMSG", what);
	ok(err && strstr(err->msg, "is damaged (removed, to be rebuilt)") &&
		   strstr(err->msg, expect),
	   "%s: says why (%s)", what, expect);
	if (err && !strstr(err->msg, expect))
		printf("#   message: %s\n", err->msg);
	ok(!hit.key && !hit.m, "%s: no hit", what);
	ok(!dk_path_exists(dir), "%s: the entry is removed", what);
	dk_error_free(&err);
	is_int(dk_store_lookup(cache, k, &hit, NULL), 0, "%s: then none (rebuild)", what);
}

static void flip_byte(const char *cache, const char *key)
{
	_cleanup_free_ char *p = entry_path(cache, key, "alpha.ko");
	_cleanup_close_ int fd = open(p, O_WRONLY | O_CLOEXEC);

	if (fd < 0 || pwrite(fd, "!", 1, 10) != 1)
		printf("# write %s: %m\n", p);
}

static void truncate_module(const char *cache, const char *key)
{
	_cleanup_free_ char *p = entry_path(cache, key, "beta.ko");

	if (truncate(p, 10) < 0)
		printf("# truncate %s: %m\n", p);
}

static void remove_module(const char *cache, const char *key)
{
	_cleanup_free_ char *p = entry_path(cache, key, "beta.ko");

	(void)unlink(p);
}

static void garble_manifest(const char *cache, const char *key)
{
	_cleanup_free_ char *p = entry_path(cache, key, "manifest.json");

	put(p, 20, '{');
}

static void remove_manifest(const char *cache, const char *key)
{
	_cleanup_free_ char *p = entry_path(cache, key, "manifest.json");

	(void)unlink(p);
}

/* The manifest of another key copied in: an entry under the wrong name. */
static void other_key(const char *cache, const char *key)
{
	static const size_t sizes[] = {4096, 100, 0};
	_cleanup_free_ char *from = NULL, *to = NULL, *data = NULL;
	char k[65];
	size_t len;

	key_of('f', k);
	from = entry_path(cache, k, "manifest.json");
	to = entry_path(cache, key, "manifest.json");
	if (make_entry(cache, k, NULL, "ofed", sizes) < 0 ||
	    dk_read_file(from, 0, &data, &len) < 0 ||
	    dk_write_file_atomic(to, data, len, 0644) < 0)
		printf("# could not copy %s\n", from);
	drop(cache, k);
}

static void test_damaged(const char *cache)
{
	damaged(cache, '1', "a changed byte", "alpha.ko: sha256 ", flip_byte);
	damaged(cache, '2', "a truncated module",
		"beta.ko: 10 bytes, the manifest says 100", truncate_module);
	damaged(cache, '3', "a missing module", "beta.ko: No such file", remove_module);
	damaged(cache, '4', "a garbled manifest", "manifest.json", garble_manifest);
	damaged(cache, '5', "no manifest", "manifest.json: No such file",
		remove_manifest);
	damaged(cache, '6', "the manifest of another key", "key ffff", other_key);
}

static void test_race(const char *cache)
{
	static const size_t sizes[] = {100, 0};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *tmp = NULL, *builds = dk_path_join(cache, "builds");
	struct dk_store_hit hit;
	struct dk_manifest m = {
		.component = (char *)"loser",
		.kernel = (char *)"6.1.0",
	};
	char k[65];

	key_of('c', k);
	/* This builder starts first and finishes last. */
	is_int(dk_store_begin(cache, k, &tmp, &err), 0, "race: begin");
	ok(tmp && strstr(tmp, "/builds/.tmp-cccc"), "race: a temp dir .tmp-<key>-*");
	m.key = k;
	is_int(dk_manifest_write(&m, tmp, &err), 0, "race: the slow builder's manifest");
	is_int(make_entry(cache, k, NULL, "winner", sizes), 0,
	       "race: another builder commits the same key meanwhile");
	is_int(dk_store_commit(cache, k, NULL, tmp, &err), 0,
	       "race: the late commit succeeds");
	if (err)
		printf("#   %s\n", err->msg);
	ok(!dk_path_exists(tmp), "race: its temp dir is removed");
	is_int(count_prefix(builds, ".tmp-"), 0, "race: no temp dir left");
	is_int(dk_store_lookup(cache, k, &hit, &err), 1, "race: the entry verifies");
	is_str(hit.m ? hit.m->component : NULL, "winner",
	       "race: the first entry is kept");
	dk_store_hit_release(&hit);
	drop(cache, k);
}

static void test_alias(const char *cache)
{
	static const size_t sizes[] = {100, 0};
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *apath = NULL, *line = NULL;
	struct dk_store_hit hit;
	char k1[65], k2[65], al[65];

	key_of('d', k1);
	key_of('e', k2);
	key_of('9', al);
	apath = dk_strdup_printf("%s/aliases/%s", cache, al);
	is_int(dk_store_lookup_alias(cache, al, &hit, &err), 0, "alias: none yet");
	is_int(dk_store_lookup_alias(cache, "x/../y", &hit, &err), -EINVAL,
	       "alias: not hex: -EINVAL");
	dk_error_free(&err);
	is_int(make_entry(cache, k1, al, "peermem", sizes), 0,
	       "alias: commit with alias");
	ok(dk_read_line(apath, &line) == 0 && streq(line, k1),
	   "alias: aliases/<alias> holds the key");
	is_int(dk_store_lookup_alias(cache, al, &hit, &err), 1, "alias: lookup finds it");
	is_str(hit.key, k1, "alias: the entry of that key");
	dk_store_hit_release(&hit);
	is_int(make_entry(cache, k2, al, "peermem", sizes), 0, "alias: a later build");
	is_int(dk_store_lookup_alias(cache, al, &hit, &err), 1, "alias: lookup again");
	is_str(hit.key, k2, "alias: the entry built last");
	dk_store_hit_release(&hit);
	/* The aliased entry damaged: refused and removed like a lookup by key. */
	{
		_cleanup_free_ char *p = entry_path(cache, k2, "alpha.ko");

		put(p, 100, 'z');
	}
	is_int(dk_store_lookup_alias(cache, al, &hit, &err), -EBADMSG,
	       "alias: a damaged entry: -EBADMSG");
	dk_error_free(&err);
	{
		_cleanup_free_ char *dir = entry_path(cache, k2, NULL);

		ok(!dk_path_exists(dir), "alias: the damaged entry is removed");
	}
	is_int(dk_store_lookup_alias(cache, al, &hit, &err), 0,
	       "alias: then none (the alias names a missing entry)");
	put(apath, 10, 'q');
	is_int(dk_store_lookup_alias(cache, al, &hit, &err), 0,
	       "alias: garbage in it: none");
	ok(!dk_path_exists(apath), "alias: the garbage alias is removed");
	drop(cache, k1);
}

/* Four entries, last used newest to oldest: A (60 KiB), B (120 KiB), C (20 KiB),
 * D (200 KiB). */
static void make_four(const char *cache, char keys[4][65], time_t now)
{
	static const size_t sz[4][3] = {
		{40960, 20480, 0}, {122880, 0}, {20480, 0}, {204800, 0}};
	static const char *const comps[4] = {"a-comp", "b-comp", "c-comp", "d-comp"};

	for (int i = 0; i < 4; i++) {
		key_of((char)('a' + i), keys[i]);
		if (make_entry(cache, keys[i], NULL, comps[i], sz[i]) < 0)
			printf("# entry %d not written\n", i);
		set_used(cache, keys[i], now - 100 * (i + 1));
	}
}

static void test_list(const char *cache)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *tmpd = NULL, *junk = NULL, *mf = NULL;
	struct dk_store_entry *v = NULL;
	time_t now = time(NULL);
	char keys[4][65], tk[65];
	size_t n = 0;

	is_int(dk_store_list(cache, false, &v, &n, &err), 0, "list: no builds/ at all");
	is_int(n, 0, "list: empty");
	dk_store_entries_free(v, n);
	make_four(cache, keys, now);
	/* a build in progress and a stray name are no entries */
	is_int(dk_store_begin(cache, key_of('9', tk), &tmpd, &err), 0,
	       "list: a temp dir");
	junk = dk_strdup_printf("%s/builds/notes.txt", cache);
	put(junk, 5, 'x');
	is_int(dk_store_list(cache, false, &v, &n, &err), 0, "list: 0");
	is_int(n, 4, "list: four entries (temp dir and other names left out)");
	if (n == 4) {
		ok(streq(v[0].key, keys[0]) && streq(v[1].key, keys[1]) &&
			   streq(v[2].key, keys[2]) && streq(v[3].key, keys[3]),
		   "list: most recently used first");
		is_int(v[0].last_used, now - 100,
		       "list: last use is the manifest's mtime");
		ok(v[0].m && streq(v[0].m->component, "a-comp") && v[0].m->n_modules == 2,
		   "list: the manifest");
		ok(v[3].bytes >= 204800 && v[3].bytes < 204800 + 64 * 1024 &&
			   v[2].bytes >= 20480 && v[2].bytes < v[3].bytes,
		   "list: sizes (%llu, %llu)", (unsigned long long)v[3].bytes,
		   (unsigned long long)v[2].bytes);
		ok(!v[0].problem && !v[3].problem, "list: no problem");
	}
	dk_store_entries_free(v, n);
	/* used: B comes first; a tie in time is ordered by key */
	set_used(cache, keys[1], now);
	set_used(cache, keys[3], now - 100);
	is_int(dk_store_list(cache, false, &v, &n, &err), 0, "list again");
	if (n == 4)
		ok(streq(v[0].key, keys[1]) && streq(v[1].key, keys[0]) &&
			   streq(v[2].key, keys[3]) && streq(v[3].key, keys[2]),
		   "list: a used entry moves first, equal times by key");
	dk_store_entries_free(v, n);
	/* damaged ones: only verify checks the modules */
	{
		_cleanup_free_ char *p = entry_path(cache, keys[2], "alpha.ko");

		put(p, 20480, 'Z');
	}
	mf = entry_path(cache, keys[3], "manifest.json");
	put(mf, 3, '[');
	set_used(cache, keys[3], now - 100);
	is_int(dk_store_list(cache, false, &v, &n, &err), 0, "list without verify");
	for (size_t i = 0; i < n; i++) {
		if (streq(v[i].key, keys[2]))
			ok(!v[i].problem,
			   "list: a changed module is not seen without verify");
		if (streq(v[i].key, keys[3]))
			ok(!v[i].m && v[i].problem &&
				   strstr(v[i].problem, "manifest.json"),
			   "list: an unreadable manifest: no manifest, a problem");
	}
	dk_store_entries_free(v, n);
	is_int(dk_store_list(cache, true, &v, &n, &err), 0, "list with verify");
	for (size_t i = 0; i < n; i++) {
		if (streq(v[i].key, keys[2]))
			ok(v[i].problem && strstr(v[i].problem, "alpha.ko: sha256"),
			   "verify: the changed module is the problem");
		if (streq(v[i].key, keys[0]))
			ok(!v[i].problem, "verify: a whole entry has none");
	}
	is_int(n, 4, "verify removes nothing");
	dk_store_entries_free(v, n);
	/* an entry under another key's name: what a lookup refuses, verify reports */
	{
		_cleanup_free_ char *from = entry_path(cache, keys[0], NULL);
		_cleanup_free_ char *to = entry_path(cache, key_of('e', tk), NULL);

		if (rename(from, to) < 0)
			printf("# rename %s: %m\n", from);
		is_int(dk_store_list(cache, true, &v, &n, &err), 0, "verify again");
		for (size_t i = 0; i < n; i++)
			if (streq(v[i].key, tk))
				ok(v[i].problem && strstr(v[i].problem, "key aaaa") &&
					   strstr(v[i].problem, "not eeee"),
				   "verify: a manifest of another key is a problem");
		dk_store_entries_free(v, n);
		drop(cache, tk);
	}
	(void)dk_rm_rf(tmpd);
	(void)unlink(junk);
	for (int i = 0; i < 4; i++)
		drop(cache, keys[i]);
}

static uint64_t bytes_of(const char *cache, const char *key)
{
	_cleanup_free_ char *dir = entry_path(cache, key, NULL);
	uint64_t b = 0;

	if (dk_tree_size(dir, &b) < 0)
		printf("# size of %s failed\n", dir);
	return b;
}

static void test_prune(const char *cache)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *old_tmp = NULL, *new_tmp = NULL, *work = NULL;
	_cleanup_free_ char *old_work = NULL, *new_work = NULL, *stray = NULL, *f = NULL;
	time_t now = time(NULL);
	uint64_t b[4], freed = 0;
	size_t removed = 0;
	char keys[4][65], tk[65];

	make_four(cache, keys, now);
	for (int i = 0; i < 4; i++)
		b[i] = bytes_of(cache, keys[i]);
	/* leftovers of killed builds, two hours old, and ones of a build running now */
	key_of('7', tk);
	old_tmp = dk_strdup_printf("%s/builds/.tmp-%s-OLDOLD", cache, tk);
	new_tmp = dk_strdup_printf("%s/builds/.tmp-%s-NEWNEW", cache, tk);
	stray = dk_strdup_printf("%s/builds/keep-me", cache);
	work = dk_path_join(cache, "work");
	old_work = dk_path_join(work, "old-tree");
	new_work = dk_path_join(work, "new-tree");
	if (mkdir(old_tmp, 0755) < 0 || mkdir(new_tmp, 0755) < 0 ||
	    mkdir(work, 0755) < 0 || mkdir(old_work, 0755) < 0 ||
	    mkdir(new_work, 0755) < 0 || mkdir(stray, 0755) < 0)
		printf("# mkdir: %m\n");
	f = dk_path_join(old_tmp, "nvidia.ko");
	put(f, 1000, 'n');
	set_mtime(old_tmp, now - 7200);
	set_mtime(old_work, now - 7200);
	set_mtime(stray, now - 7200);
	set_mtime(new_tmp, now - 600);

	/* the limit under A+B+C: D (oldest) goes, then C although B is bigger */
	is_int(dk_store_prune(cache, b[0] + b[1] + b[2] - 1, &freed, &removed, &err), 0,
	       "prune to A+B+C-1");
	is_int(removed, 2, "prune: two entries removed");
	is_int(freed, b[3] + b[2], "prune: freed the bytes of D and C");
	{
		_cleanup_free_ char *a = entry_path(cache, keys[0], NULL);
		_cleanup_free_ char *bb = entry_path(cache, keys[1], NULL);
		_cleanup_free_ char *c = entry_path(cache, keys[2], NULL);
		_cleanup_free_ char *d = entry_path(cache, keys[3], NULL);

		ok(!dk_path_exists(d) && !dk_path_exists(c),
		   "prune: the least recently used go first (D, then the small C)");
		ok(dk_path_exists(a) && dk_path_exists(bb), "prune: A and B stay");
	}
	ok(!dk_path_exists(old_tmp), "prune: a temp entry older than an hour is removed");
	ok(dk_path_exists(new_tmp), "prune: a recent temp entry (a build now) stays");
	ok(!dk_path_exists(old_work), "prune: a work tree older than an hour is removed");
	ok(dk_path_exists(new_work), "prune: a recent work tree stays");
	ok(dk_path_exists(stray), "prune: other names in builds/ stay");

	is_int(dk_store_prune(cache, b[0] + b[1], &freed, &removed, &err), 0,
	       "prune at exactly the total");
	is_int(removed, 0, "prune: nothing to remove at the limit");
	is_int(freed, 0, "prune: nothing freed");
	/* B used now: A is the least recently used */
	set_used(cache, keys[1], now);
	is_int(dk_store_prune(cache, b[1], &freed, &removed, &err), 0, "prune to B");
	{
		_cleanup_free_ char *a = entry_path(cache, keys[0], NULL);
		_cleanup_free_ char *bb = entry_path(cache, keys[1], NULL);

		ok(!dk_path_exists(a) && dk_path_exists(bb),
		   "prune: the entry used last stays, the other goes");
	}
	is_int(dk_store_prune(cache, 0, &freed, &removed, &err), 0, "prune to 0");
	is_int(removed, 1, "prune 0: the last entry removed");
	is_int(freed, b[1], "prune 0: its bytes freed");
	{
		struct dk_store_entry *v = NULL;
		size_t n = 9;

		is_int(dk_store_list(cache, false, &v, &n, &err), 0,
		       "list after prune 0");
		is_int(n, 0, "prune 0: the cache is empty");
		dk_store_entries_free(v, n);
	}
	(void)dk_rm_rf(new_tmp);
	(void)dk_rm_rf(stray);
	(void)dk_rm_rf(work);
}

static void test_unreadable(const char *cache)
{
	_cleanup_error_ struct dk_error *err = NULL;
	_cleanup_free_ char *builds = dk_path_join(cache, "builds");
	struct dk_store_entry *v = NULL;
	uint64_t freed;
	size_t n, removed;

	if (geteuid() == 0) {
		skip("unreadable builds/: running as root");
		return;
	}
	(void)chmod(builds, 0);
	is_int(dk_store_list(cache, false, &v, &n, &err), -EACCES,
	       "list of an unreadable builds/: -EACCES");
	ok(err && strstr(err->msg, builds), "the path is named");
	dk_error_free(&err);
	is_int(dk_store_prune(cache, 0, &freed, &removed, &err), -EACCES,
	       "prune of an unreadable builds/: -EACCES");
	(void)chmod(builds, 0755);
}

int main(void)
{
	_cleanup_free_ char *cache = NULL;

	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	cache = dk_path_join(tmpdir, "cache");
	test_lookup(cache);
	test_damaged(cache);
	test_race(cache);
	test_alias(cache);
	test_list(cache);
	test_prune(cache);
	test_unreadable(cache);
	fx_rm_rf(tmpdir);
	return tap_done();
}
