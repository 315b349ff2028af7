/* SPDX-License-Identifier: Apache-2.0 */
/*
 * LD_PRELOAD shim for unprivileged tests: fakes the module syscalls libkmod makes
 * (init_module, syscall(__NR_finit_module), delete_module) and keeps a fake
 * sysfs in step, the way kmod's own testsuite does. Configured by environment:
 *
 *   DK_SHIM_SYSFS=DIR        fake sysfs root: DIR/module/<name>/{initstate,refcnt,
 *                            srcversion,version,holders/,parameters/}
 *   DK_SHIM_FAIL=name:err,...   insert of name fails with errno err (number or
 *                            EKEYREJECTED, ENOEXEC, EINVAL, ENOENT, EPERM, EEXIST,
 * ENOSYS, ...) DK_SHIM_BUSY=name:count,... delete of name fails with EAGAIN count times
 *                            (-1: always); a module with holders or refcnt > 0 is
 *                            busy anyway, as in the kernel
 *   DK_SHIM_LOG=FILE         appends "insert <name> <params>", "delete <name>",
 *                            "busy <name>" lines, in call order
 *   DK_SHIM_WATCH=FILE       delete lines say whether FILE exists ("watch=absent")
 *   DK_SHIM_NOUNLOAD=1       delete_module fails with ENOSYS and no refcnt files are
 *                            written (a kernel without CONFIG_MODULE_UNLOAD)
 *   DK_SHIM_KMSG=FILE        the kernel log: open() of /dev/kmsg opens FILE, a regular
 *                            file of records "prio,seq,ts_usec,flags;message" (unset:
 *                            the fake kernel has no /dev/kmsg, ENOENT)
 *   DK_SHIM_PRINTK=DIR       what a module's init prints: an insert of <name> appends
 *                            DIR/<name>.kmsg (records, as above) to the DK_SHIM_KMSG file
 *                            before it answers (DK_SHIM_FAIL included)
 *   DK_SHIM_PAUSE=KIND:TEXT  pause before the first matching call, so that a test can
 *                            signal the process in a known phase: KIND is insert,
 *                            inserted (after the module is in), or delete (TEXT: the
 *                            module name), open or rename (TEXT: a
 *                            substring of the path; rename matches the new path). The
 *                            shim creates DK_SHIM_PAUSE_DIR/paused (its text: the call)
 *                            and waits until DK_SHIM_PAUSE_DIR/go exists (at most 120 s),
 *                            then makes the call. Works without DK_SHIM_SYSFS too.
 *
 * Without DK_SHIM_SYSFS every call goes to the real one.
 */
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAXS 512

/* Exported so the linker does not complain about missing prototypes. */
long syscall(long number, ...);
int init_module(void *mem, unsigned long len, const char *args);
int delete_module(const char *name, unsigned int flags);

int rename(const char *from, const char *to);

/* DK_SHIM_PAUSE: see the top of the file. Once per process. */
static void maybe_pause(const char *kind, const char *what)
{
	static bool paused;
	const char *spec = getenv("DK_SHIM_PAUSE"), *dir = getenv("DK_SHIM_PAUSE_DIR");
	size_t kl = strlen(kind);
	char p[MAXS], line[MAXS];
	int fd, n;

	if (paused || !spec || !dir || !*dir || !what || strncmp(spec, kind, kl) != 0 ||
	    spec[kl] != ':')
		return;
	if (strcmp(kind, "insert") == 0 || strcmp(kind, "delete") == 0
		    ? strcmp(what, spec + kl + 1) != 0
		    : !strstr(what, spec + kl + 1))
		return;
	paused = true;
	n = snprintf(line, sizeof(line), "%s %s %d\n", kind, what, (int)getpid());
	snprintf(p, sizeof(p), "%s/paused", dir);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd >= 0) {
		if (n > 0 && write(fd, line, (size_t)n) < 0) {
			/* the test times out waiting */
		}
		close(fd);
	}
	snprintf(p, sizeof(p), "%s/go", dir);
	for (int i = 0; i < 12000 && access(p, F_OK) != 0; i++)
		usleep(10000);
}

static const char *sysfs(void)
{
	const char *s = getenv("DK_SHIM_SYSFS");

	return s && *s ? s : NULL;
}

static void shim_log(const char *fmt, ...)
{
	const char *p = getenv("DK_SHIM_LOG");
	va_list ap;
	char line[1024];
	int fd, n;

	if (!p || !*p)
		return;
	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(line))
		n = sizeof(line) - 1;
	fd = open(p, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* nothing to do in a test shim */
	}
	close(fd);
}

static int errno_from(const char *s)
{
	static const struct {
		const char *name;
		int e;
	} names[] = {
		{"EKEYREJECTED", EKEYREJECTED},
		{"ENOEXEC", ENOEXEC},
		{"EINVAL", EINVAL},
		{"ENOENT", ENOENT},
		{"EPERM", EPERM},
		{"EEXIST", EEXIST},
		{"EBADMSG", EBADMSG},
		{"EBUSY", EBUSY},
		{"EAGAIN", EAGAIN},
		{"ENODEV", ENODEV},
		{"ENOSYS", ENOSYS},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i].name) == 0)
			return names[i].e;
	return atoi(s);
}

/* Looks name up in a "name:value,name:value" list; copies value. */
static bool list_get(const char *env, const char *name, char *val, size_t vlen)
{
	const char *l = getenv(env);
	size_t nl = strlen(name);

	while (l && *l) {
		const char *end = strchr(l, ','), *colon = strchr(l, ':');

		if (!end)
			end = l + strlen(l);
		if (colon && colon < end && (size_t)(colon - l) == nl &&
		    strncmp(l, name, nl) == 0) {
			size_t n = (size_t)(end - colon - 1);

			if (n >= vlen)
				n = vlen - 1;
			memcpy(val, colon + 1, n);
			val[n] = '\0';
			return true;
		}
		l = *end ? end + 1 : end;
	}
	return false;
}

/* Finds "\0key=" in a module image (.modinfo entries are NUL separated). */
static bool modinfo_get(const char *mem, size_t len, const char *key, char *out,
			size_t olen)
{
	size_t kl = strlen(key);

	for (size_t i = 1; i + kl + 1 < len; i++) {
		if (mem[i - 1] != '\0' || memcmp(mem + i, key, kl) != 0 ||
		    mem[i + kl] != '=')
			continue;
		i += kl + 1;
		size_t n = strnlen(mem + i, len - i);
		if (n >= olen)
			n = olen - 1;
		memcpy(out, mem + i, n);
		out[n] = '\0';
		return true;
	}
	return false;
}

static void path_of(char *buf, const char *name, const char *leaf)
{
	snprintf(buf, MAXS, "%s/module/%s%s%s", sysfs(), name, leaf ? "/" : "",
		 leaf ? leaf : "");
}

static void write_attr(const char *name, const char *leaf, const char *value)
{
	char p[MAXS];
	FILE *f;

	path_of(p, name, leaf);
	f = fopen(p, "we");
	if (!f)
		return;
	fprintf(f, "%s\n", value);
	fclose(f);
}

static long read_refcnt(const char *name)
{
	char p[MAXS], buf[32] = "";
	FILE *f;

	path_of(p, name, "refcnt");
	f = fopen(p, "re");
	if (!f)
		return 0;
	if (!fgets(buf, sizeof(buf), f))
		buf[0] = '\0';
	fclose(f);
	return atol(buf);
}

static void add_refcnt(const char *name, long delta)
{
	char v[32];

	if (getenv("DK_SHIM_NOUNLOAD"))
		return;
	snprintf(v, sizeof(v), "%ld", read_refcnt(name) + delta);
	write_attr(name, "refcnt", v);
}

static void mkdirs(const char *name)
{
	char p[MAXS];

	snprintf(p, MAXS, "%s/module", sysfs());
	mkdir(p, 0755);
	path_of(p, name, NULL);
	mkdir(p, 0755);
	path_of(p, name, "holders");
	mkdir(p, 0755);
	path_of(p, name, "parameters");
	mkdir(p, 0755);
}

static void write_params(const char *name, const char *args)
{
	char buf[1024], *save = NULL;

	snprintf(buf, sizeof(buf), "%s", args ? args : "");
	for (char *t = strtok_r(buf, " ", &save); t; t = strtok_r(NULL, " ", &save)) {
		char *eq = strchr(t, '='), leaf[300];

		if (!eq)
			continue;
		*eq = '\0';
		snprintf(leaf, sizeof(leaf), "parameters/%s", t);
		write_attr(name, leaf, eq + 1);
	}
}

/* DK_SHIM_PRINTK: the records name's init prints, appended to the fake log. */
static void fake_printk(const char *name)
{
	const char *dir = getenv("DK_SHIM_PRINTK"), *log = getenv("DK_SHIM_KMSG");
	char src[MAXS], buf[4096];
	FILE *in, *out;
	size_t n;

	if (!dir || !*dir || !log || !*log)
		return;
	snprintf(src, sizeof(src), "%s/%s.kmsg", dir, name);
	in = fopen(src, "re");
	if (!in)
		return;
	out = fopen(log, "ae");
	while (out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		if (fwrite(buf, 1, n, out) != n)
			break;
	if (out)
		fclose(out);
	fclose(in);
}

/* The fake kernel's insert: returns 0 or -errno. */
static int fake_insert(const char *mem, size_t len, const char *args)
{
	char name[64] = "", v[128], deps[512] = "", p[MAXS], fail[32];
	char *save = NULL;
	struct stat st;

	if (!modinfo_get(mem, len, "name", name, sizeof(name)))
		return -ENOEXEC;
	maybe_pause("insert", name);
	fake_printk(name);
	if (list_get("DK_SHIM_FAIL", name, fail, sizeof(fail))) {
		shim_log("fail %s %s\n", name, fail);
		return -errno_from(fail);
	}
	path_of(p, name, NULL);
	if (stat(p, &st) == 0)
		return -EEXIST;
	shim_log("insert %s %s\n", name, args ? args : "");
	mkdirs(name);
	if (modinfo_get(mem, len, "srcversion", v, sizeof(v)))
		write_attr(name, "srcversion", v);
	if (modinfo_get(mem, len, "version", v, sizeof(v)))
		write_attr(name, "version", v);
	add_refcnt(name, 0);
	write_params(name, args);
	modinfo_get(mem, len, "depends", deps, sizeof(deps));
	for (char *d = strtok_r(deps, ",", &save); d; d = strtok_r(NULL, ",", &save)) {
		char hp[MAXS + 64];

		path_of(p, d, "holders");
		snprintf(hp, sizeof(hp), "%s/%s", p, name);
		mkdir(hp, 0755);
		add_refcnt(d, 1);
	}
	/* initstate last: it is what says "loaded". */
	write_attr(name, "initstate", "live");
	maybe_pause("inserted", name);
	return 0;
}

static void rmtree(const char *path)
{
	pid_t pid;

	/* A test helper: fork/exec rm is simplest and keeps this file short. */
	pid = fork();
	if (pid == 0) {
		execl("/bin/rm", "rm", "-rf", path, (char *)NULL);
		_exit(127);
	}
	if (pid > 0) {
		int status;

		while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
			;
	}
}

static int busy_count(const char *name)
{
	/* Per-process countdown of DK_SHIM_BUSY entries. */
	static struct {
		char name[64];
		int left;
	} seen[32];
	static int n_seen;
	char v[32];

	if (!list_get("DK_SHIM_BUSY", name, v, sizeof(v)))
		return 0;
	for (int i = 0; i < n_seen; i++) {
		if (strcmp(seen[i].name, name) == 0) {
			if (seen[i].left < 0)
				return 1;
			if (seen[i].left == 0)
				return 0;
			seen[i].left--;
			return 1;
		}
	}
	if (n_seen == 32)
		return 1;
	snprintf(seen[n_seen].name, sizeof(seen[n_seen].name), "%s", name);
	seen[n_seen].left = atoi(v);
	n_seen++;
	return busy_count(name);
}

static int holders_count(const char *name)
{
	char p[MAXS];
	int n = 0;
	DIR *d;
	struct dirent *de;

	path_of(p, name, "holders");
	d = opendir(p);
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	if (d)
		closedir(d);
	return n;
}

static int fake_delete(const char *name)
{
	char p[MAXS], init[MAXS];
	struct stat st;

	maybe_pause("delete", name);
	if (getenv("DK_SHIM_NOUNLOAD"))
		return -ENOSYS;
	path_of(p, name, NULL);
	path_of(init, name, "initstate");
	if (stat(init, &st) < 0)
		return -ENOENT;
	if (holders_count(name) > 0 || read_refcnt(name) > 0 || busy_count(name)) {
		shim_log("busy %s\n", name);
		return -EAGAIN;
	}
	{
		/* DK_SHIM_WATCH=FILE: record whether FILE exists at each delete (the
		 * ready file must be gone before the first one). */
		const char *watch = getenv("DK_SHIM_WATCH");

		if (watch && *watch)
			shim_log("delete %s watch=%s\n", name,
				 access(watch, F_OK) == 0 ? "present" : "absent");
		else
			shim_log("delete %s\n", name);
	}
	/* Drop our holder links in the modules we used (the shim keeps them as
	 * directories named after us). */
	{
		char mdir[MAXS];
		DIR *d;
		struct dirent *de;

		snprintf(mdir, MAXS, "%s/module", sysfs());
		d = opendir(mdir);
		while (d && (de = readdir(d))) {
			char hp[MAXS * 2];

			if (de->d_name[0] == '.')
				continue;
			snprintf(hp, sizeof(hp), "%s/%s/holders/%s", mdir, de->d_name,
				 name);
			if (rmdir(hp) == 0)
				add_refcnt(de->d_name, -1);
		}
		if (d)
			closedir(d);
	}
	rmtree(p);
	return 0;
}

int init_module(void *mem, unsigned long len, const char *args)
{
	static int (*real)(void *, unsigned long, const char *);
	int r;

	if (!sysfs()) {
		if (!real)
			real = (int (*)(void *, unsigned long, const char *))dlsym(
				RTLD_NEXT, "init_module");
		return real ? real(mem, len, args) : (errno = ENOSYS, -1);
	}
	r = fake_insert(mem, len, args);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

static long fake_finit(int fd, const char *args)
{
	struct stat st;
	void *mem;
	int r;

	if (fstat(fd, &st) < 0)
		return -1;
	mem = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	if (mem == MAP_FAILED)
		return -1;
	r = fake_insert(mem, (size_t)st.st_size, args);
	munmap(mem, (size_t)st.st_size);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

long syscall(long number, ...)
{
	static long (*real)(long, ...);
	long a[6];
	va_list ap;

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);
	if (number == __NR_finit_module && sysfs())
		return fake_finit((int)a[0], (const char *)a[1]);
	if (!real)
		real = (long (*)(long, ...))dlsym(RTLD_NEXT, "syscall");
	return real(number, a[0], a[1], a[2], a[3], a[4], a[5]);
}

/* open() of /dev/kmsg while the shim fakes the kernel: DK_SHIM_KMSG or ENOENT. The
 * symbols are named explicitly: with _FILE_OFFSET_BITS=64 the headers rename open to
 * open64, and _FORTIFY_SOURCE calls __open_2. */
int shim_open(const char *path, int flags, ...) __asm__("open");
int shim_open64(const char *path, int flags, ...) __asm__("open64");
int shim_open_2(const char *path, int flags) __asm__("__open_2");
int shim_open64_2(const char *path, int flags) __asm__("__open64_2");

static int open_redirected(const char *path, int flags, mode_t mode)
{
	static int (*real)(const char *, int, ...);
	const char *to = path;

	maybe_pause("open", path);
	if (sysfs() && path && strcmp(path, "/dev/kmsg") == 0) {
		to = getenv("DK_SHIM_KMSG");
		if (!to || !*to) {
			errno = ENOENT;
			return -1;
		}
	}
	if (!real)
		real = (int (*)(const char *, int, ...))dlsym(RTLD_NEXT, "open64");
	return real ? real(to, flags, mode) : (errno = ENOSYS, -1);
}

static mode_t mode_arg(int flags, va_list ap)
{
	return (flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE ? va_arg(ap, mode_t)
								     : 0;
}

int shim_open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_redirected(path, flags, mode);
}

int shim_open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;

	va_start(ap, flags);
	mode = mode_arg(flags, ap);
	va_end(ap);
	return open_redirected(path, flags, mode);
}

int shim_open_2(const char *path, int flags)
{
	return open_redirected(path, flags, 0);
}

int shim_open64_2(const char *path, int flags)
{
	return open_redirected(path, flags, 0);
}

int delete_module(const char *name, unsigned int flags)
{
	static int (*real)(const char *, unsigned int);
	int r;

	if (!sysfs()) {
		if (!real)
			real = (int (*)(const char *, unsigned int))dlsym(
				RTLD_NEXT, "delete_module");
		return real ? real(name, flags) : (errno = ENOSYS, -1);
	}
	r = fake_delete(name);
	if (r < 0) {
		errno = -r;
		return -1;
	}
	return 0;
}

int rename(const char *from, const char *to)
{
	static int (*real)(const char *, const char *);

	maybe_pause("rename", to);
	if (!real)
		real = (int (*)(const char *, const char *))dlsym(RTLD_NEXT, "rename");
	return real ? real(from, to) : (errno = ENOSYS, -1);
}
