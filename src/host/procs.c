/* SPDX-License-Identifier: Apache-2.0 */
/* The processes that have a module's device nodes open: <procfs>/PID/fd, comm,
 * cmdline, cgroup; device nodes mapped to modules through sysfs and
 * <procfs>/devices. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/procs.h"

#define CMDLINE_MAX 160
#define PATHS_MAX 32 /* device nodes kept per process */

const char *const *dk_proc_default_globs(const char *module)
{
	static const char *const nvidia[] = {"/dev/nvidia*", "/dev/nvidia-caps/*", NULL};
	static const char *const rdma[] = {"/dev/infiniband/*", NULL};
	static const char *const none[] = {NULL};
	static const char *const rdma_prefixes[] = {"mlx",   "ib_",	"rdma_", "iw_",
						    "irdma", "bnxt_re", "efa",	 "ocrdma",
						    "qedr",  "rxe"};

	if (strncmp(module, "nvidia", 6) == 0 || strncmp(module, "nv_peer", 7) == 0)
		return nvidia;
	for (size_t i = 0; i < ARRAY_SIZE(rdma_prefixes); i++)
		if (strncmp(module, rdma_prefixes[i], strlen(rdma_prefixes[i])) == 0)
			return rdma;
	return none;
}

/* ---- cgroup ---- */

static bool uid_ok(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/* "pod<uid>", "kubepods-burstable-pod<uid>.slice", "kubepods-pod<uid>.slice": the uid
 * (dashes, as Kubernetes writes it), or NULL. */
static char *pod_of(const char *seg, size_t n)
{
	const char *p;
	char *uid;

	if (n > 6 && memcmp(seg + n - 6, ".slice", 6) == 0)
		n -= 6;
	if (n > 3 && memcmp(seg, "pod", 3) == 0)
		p = seg + 3;
	else if ((p = memmem(seg, n, "-pod", 4)) && memmem(seg, n, "kubepods", 8) == seg)
		p += 4;
	else
		return NULL;
	if (!uid_ok(p, n - (size_t)(p - seg)))
		return NULL;
	uid = strndup(p, 36);
	for (char *c = uid; c && *c; c++)
		if (*c == '_')
			*c = '-';
	return uid;
}

/* "cri-containerd-<id>.scope", "crio-<id>.scope", "docker-<id>.scope", or "<id>"
 * (the cgroupfs driver): the hex id, or NULL. */
static char *container_of(const char *seg, size_t n)
{
	static const char *const prefixes[] = {"cri-containerd-", "crio-", "docker-",
					       "libpod-"};
	size_t len;

	if (n > 6 && memcmp(seg + n - 6, ".scope", 6) == 0)
		n -= 6;
	for (size_t i = 0; i < ARRAY_SIZE(prefixes); i++) {
		len = strlen(prefixes[i]);
		if (n > len && memcmp(seg, prefixes[i], len) == 0) {
			seg += len;
			n -= len;
			break;
		}
	}
	if (n < 12 || n > 128)
		return NULL;
	for (size_t i = 0; i < n; i++)
		if (!isxdigit((unsigned char)seg[i]))
			return NULL;
	return strndup(seg, n);
}

/* One cgroup path: 1 with *pod (and *ctr when the path goes on), 0, -ENOMEM. */
static int kube_of_path(const char *path, size_t len, char **pod, char **ctr)
{
	const char *end = path + len, *s = path;

	while (s < end) {
		const char *e = memchr(s, '/', (size_t)(end - s));
		const char *ns;
		size_t n;

		e = e ? e : end;
		*pod = pod_of(s, (size_t)(e - s));
		if (*pod) {
			ns = e < end ? e + 1 : end;
			n = (size_t)(end - ns);
			e = memchr(ns, '/', n);
			if (e)
				n = (size_t)(e - ns);
			*ctr = n ? container_of(ns, n) : NULL;
			return 1;
		}
		s = e + 1;
	}
	return 0;
}

int dk_cgroup_kube(const char *text, char **pod_uid, char **container_id)
{
	const char *line = text;

	*pod_uid = NULL;
	*container_id = NULL;
	while (line && *line) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *c1 = memchr(line, ':', (size_t)(end - line));
		const char *c2 = c1 ? memchr(c1 + 1, ':', (size_t)(end - c1 - 1)) : NULL;
		char *pod = NULL, *ctr = NULL;

		if (c2 && kube_of_path(c2 + 1, (size_t)(end - c2 - 1), &pod, &ctr)) {
			if (!pod)
				return -ENOMEM;
			/* A line naming the container beats one naming only the pod. */
			if (!*pod_uid || (ctr && !*container_id)) {
				free(*pod_uid);
				free(*container_id);
				*pod_uid = pod;
				*container_id = ctr;
			} else {
				free(pod);
				free(ctr);
			}
			if (*container_id)
				return 1;
		}
		line = nl ? nl + 1 : NULL;
	}
	return *pod_uid ? 1 : 0;
}

/* ---- device nodes to modules ---- */

struct majname {
	bool chr;
	unsigned major;
	char *name; /* '-' as '_' */
};

struct devinfo {
	bool chr;
	dev_t rdev;
	char *drvmod;  /* <sysfs>/dev/.../device/driver/module, or NULL */
	char *sysname; /* the sysfs device's name, '-' as '_', or NULL */
};

struct scan {
	const char *procfs, *sysfs;
	struct majname *majors;
	size_t n_majors;
	struct devinfo *devs;
	size_t n_devs;
	bool oom;
};

/* <procfs>/devices: "Character devices:" then " 195 nvidia-frontend" lines. */
static void read_majors(struct scan *sc)
{
	_cleanup_free_ char *p = dk_path_join(sc->procfs, "devices");
	_cleanup_free_ char *text = NULL;
	bool chr = true;
	char *save = NULL;

	if (!p || dk_read_file(p, 1 << 16, &text, NULL) < 0)
		return;
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		unsigned major;
		char name[64];
		struct majname *nv;

		if (strncmp(l, "Block", 5) == 0)
			chr = false;
		if (sscanf(l, " %u %63s", &major, name) != 2)
			continue;
		nv = reallocarray(sc->majors, sc->n_majors + 1, sizeof(*nv));
		if (!nv)
			return;
		sc->majors = nv;
		nv[sc->n_majors] = (struct majname){chr, major, strdup(name)};
		dk_modname_kernel(nv[sc->n_majors].name);
		if (nv[sc->n_majors].name)
			sc->n_majors++;
	}
}

static const struct devinfo *devinfo_of(struct scan *sc, bool chr, dev_t rdev)
{
	_cleanup_free_ char *rel = NULL, *dev = NULL, *drv = NULL;
	struct devinfo *nv, *d;

	for (size_t i = 0; i < sc->n_devs; i++)
		if (sc->devs[i].chr == chr && sc->devs[i].rdev == rdev)
			return &sc->devs[i];
	nv = reallocarray(sc->devs, sc->n_devs + 1, sizeof(*nv));
	if (!nv) {
		sc->oom = true;
		return NULL;
	}
	sc->devs = nv;
	d = &nv[sc->n_devs++];
	*d = (struct devinfo){chr, rdev, NULL, NULL};
	rel = dk_strdup_printf("dev/%s/%u:%u", chr ? "char" : "block", major(rdev),
			       minor(rdev));
	dev = rel ? dk_path_join(sc->sysfs, rel) : NULL;
	drv = dev ? dk_path_join(dev, "device/driver/module") : NULL;
	if (drv)
		(void)!dk_readlink_base(drv, &d->drvmod);
	if (dev)
		(void)!dk_readlink_base(dev, &d->sysname);
	dk_modname_kernel(d->sysname);
	return d;
}

static bool is_module(const struct scan *sc, const char *name)
{
	_cleanup_free_ char *rel = dk_strdup_printf("module/%s", name);
	_cleanup_free_ char *p = rel ? dk_path_join(sc->sysfs, rel) : NULL;

	return p && dk_is_dir(p);
}

/* Whether the major's name is the module's: "nvidia_uvm", or "nvidia_frontend" for
 * nvidia as long as no module nvidia_frontend is loaded. */
static bool major_is(const struct scan *sc, const struct devinfo *d, const char *mod)
{
	size_t ml = strlen(mod);

	for (size_t i = 0; i < sc->n_majors; i++) {
		const struct majname *mj = &sc->majors[i];

		if (mj->chr != d->chr || mj->major != major(d->rdev))
			continue;
		if (streq(mj->name, mod))
			return true;
		return strncmp(mj->name, mod, ml) == 0 && mj->name[ml] == '_' &&
		       !is_module(sc, mj->name);
	}
	return false;
}

static bool fd_matches(struct scan *sc, const struct dk_proc_target *t, const char *path,
		       const struct devinfo *d)
{
	const char *const *defaults = dk_proc_default_globs(t->module);

	if (d &&
	    ((d->drvmod && streq(d->drvmod, t->module)) ||
	     (d->sysname && streq(d->sysname, t->module)) || major_is(sc, d, t->module)))
		return true;
	for (size_t i = 0; defaults[i]; i++)
		if (fnmatch(defaults[i], path, FNM_PATHNAME) == 0)
			return true;
	for (size_t i = 0; i < t->n_globs; i++)
		if (fnmatch(t->globs[i], path, FNM_PATHNAME) == 0)
			return true;
	return false;
}

/* ---- processes ---- */

static void sanitize(char *s)
{
	for (; s && *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

static char *pid_file(const struct scan *sc, int pid, const char *leaf, size_t max)
{
	_cleanup_free_ char *rel = dk_strdup_printf("%d/%s", pid, leaf);
	_cleanup_free_ char *p = rel ? dk_path_join(sc->procfs, rel) : NULL;
	char *s = NULL;
	size_t len = 0;

	if (!p || dk_read_file(p, max, &s, &len) < 0)
		return NULL;
	/* cmdline: NUL-separated arguments */
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\0')
			s[i] = ' ';
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\n'))
		s[--len] = '\0';
	return s;
}

static int fill_user(const struct scan *sc, struct dk_proc_user *u, int pid)
{
	_cleanup_free_ char *cg = pid_file(sc, pid, "cgroup", 1 << 16);

	u->pid = pid;
	u->comm = pid_file(sc, pid, "comm", 4096);
	u->cmdline = pid_file(sc, pid, "cmdline", 1 << 16);
	if (!u->comm)
		u->comm = strdup("?");
	if (!u->cmdline)
		u->cmdline = strdup("");
	if (!u->comm || !u->cmdline)
		return -ENOMEM;
	if (strlen(u->cmdline) > CMDLINE_MAX)
		strcpy(u->cmdline + CMDLINE_MAX - 3, "...");
	sanitize(u->comm);
	sanitize(u->cmdline);
	return cg && dk_cgroup_kube(cg, &u->pod_uid, &u->container_id) < 0 ? -ENOMEM : 0;
}

static int add_path(struct dk_proc_user *u, const char *path)
{
	if (u->n_paths >= PATHS_MAX ||
	    dk_strv_contains((const char *const *)u->paths, u->n_paths, path))
		return 0;
	return dk_strv_push(&u->paths, &u->n_paths, path);
}

static void user_release(struct dk_proc_user *u)
{
	free(u->comm);
	free(u->cmdline);
	free(u->pod_uid);
	free(u->container_id);
	for (size_t i = 0; i < u->n_paths; i++)
		free(u->paths[i]);
	free(u->paths);
	memset(u, 0, sizeof(*u));
}

/* The fds of one process, matched against every target into acc[]. */
static int scan_fds(struct scan *sc, int dfd, struct dk_proc_target *t, size_t n,
		    struct dk_proc_user *acc)
{
	_cleanup_closedir_ DIR *d = fdopendir(dfd);
	struct dirent *de;

	if (!d) {
		close(dfd);
		return -errno;
	}
	while ((de = readdir(d))) {
		char path[PATH_MAX];
		const struct devinfo *dev = NULL;
		struct stat st;
		ssize_t len;

		if (de->d_name[0] == '.')
			continue;
		len = readlinkat(dirfd(d), de->d_name, path, sizeof(path) - 1);
		if (len <= 0 || path[0] != '/')
			continue; /* sockets, pipes, anon inodes */
		path[len] = '\0';
		if (fstatat(dirfd(d), de->d_name, &st, 0) == 0 &&
		    (S_ISCHR(st.st_mode) || S_ISBLK(st.st_mode)))
			dev = devinfo_of(sc, S_ISCHR(st.st_mode), st.st_rdev);
		for (size_t i = 0; i < n; i++)
			if (fd_matches(sc, &t[i], path, dev) &&
			    add_path(&acc[i], path) < 0)
				return -ENOMEM;
	}
	return sc->oom ? -ENOMEM : 0;
}

static int add_user(struct dk_proc_target *t, struct dk_proc_user *u)
{
	struct dk_proc_user *nv = reallocarray(t->users, t->n_users + 1, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	t->users = nv;
	nv[t->n_users++] = *u;
	memset(u, 0, sizeof(*u));
	return 0;
}

/* One process: 0 (also when it vanished), 1 unreadable, -ENOMEM. */
static int scan_pid(struct scan *sc, int procfd, int pid, struct dk_proc_target *t,
		    size_t n, struct dk_proc_user *acc)
{
	char rel[32];
	int dfd, r = 0;

	snprintf(rel, sizeof(rel), "%d/fd", pid);
	dfd = openat(procfd, rel, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return errno == ENOENT || errno == ESRCH ? 0 : 1;
	r = scan_fds(sc, dfd, t, n, acc);
	for (size_t i = 0; i < n && r >= 0; i++) {
		if (!acc[i].n_paths)
			continue;
		r = fill_user(sc, &acc[i], pid);
		if (r >= 0)
			r = add_user(&t[i], &acc[i]);
	}
	for (size_t i = 0; i < n; i++)
		user_release(&acc[i]);
	if (r == -ENOMEM)
		return r;
	return r == -ENOENT || r == -ESRCH || r >= 0 ? 0 : 1;
}

static int cmp_pid(const void *a, const void *b)
{
	const struct dk_proc_user *x = a, *y = b;

	return (x->pid > y->pid) - (x->pid < y->pid);
}

int dk_procs_scan(const char *procfs, const char *sysfs, struct dk_proc_target *t,
		  size_t n, size_t *unreadable)
{
	_cleanup_closedir_ DIR *d = NULL;
	_cleanup_free_ struct dk_proc_user *acc = calloc(n ? n : 1, sizeof(*acc));
	struct scan sc = {.procfs = procfs, .sysfs = sysfs};
	struct dirent *de;
	size_t bad = 0;
	int r = 0;

	if (unreadable)
		*unreadable = 0;
	if (!acc)
		return -ENOMEM;
	d = opendir(procfs);
	if (!d)
		return -errno;
	read_majors(&sc);
	while (r >= 0 && (de = readdir(d))) {
		char *end;
		long pid = strtol(de->d_name, &end, 10);

		if (!isdigit((unsigned char)de->d_name[0]) || *end || pid <= 0 ||
		    pid > INT_MAX)
			continue;
		r = scan_pid(&sc, dirfd(d), (int)pid, t, n, acc);
		if (r > 0)
			bad++;
	}
	for (size_t i = 0; i < sc.n_majors; i++)
		free(sc.majors[i].name);
	free(sc.majors);
	for (size_t i = 0; i < sc.n_devs; i++) {
		free(sc.devs[i].drvmod);
		free(sc.devs[i].sysname);
	}
	free(sc.devs);
	for (size_t i = 0; i < n; i++)
		if (t[i].n_users > 1)
			qsort(t[i].users, t[i].n_users, sizeof(*t[i].users), cmp_pid);
	if (unreadable)
		*unreadable = bad;
	return r < 0 ? r : 0;
}

void dk_proc_target_release(struct dk_proc_target *t)
{
	for (size_t i = 0; i < t->n_users; i++)
		user_release(&t->users[i]);
	free(t->users);
	t->users = NULL;
	t->n_users = 0;
}

/* ---- messages ---- */

static void describe_one(struct strbuf *b, const struct dk_proc_user *u)
{
	strbuf_printf(b, "pid %d %s", u->pid, u->comm);
	if (*u->cmdline && !streq(u->cmdline, u->comm))
		strbuf_printf(b, " (%s)", u->cmdline);
	if (u->pod_uid)
		strbuf_printf(b, " pod %s", u->pod_uid);
	if (u->container_id)
		strbuf_printf(b, " container %.12s", u->container_id);
	strbuf_puts(b, ":");
	for (size_t i = 0; i < u->n_paths; i++)
		strbuf_printf(b, "%s %s", i ? "," : "", u->paths[i]);
}

void dk_proc_users_describe(struct strbuf *b, const struct dk_proc_user *u, size_t n,
			    size_t max)
{
	size_t start = b->len;

	for (size_t i = 0; i < n; i++) {
		_cleanup_strbuf_ struct strbuf one;
		/* room for "; and N more" after this one unless it is the last */
		size_t tail = i + 1 < n ? 24 : 0;

		strbuf_init(&one);
		describe_one(&one, &u[i]);
		if (i > 0 && b->len - start + 2 + one.len + tail > max) {
			strbuf_printf(b, "; and %zu more", n - i);
			return;
		}
		strbuf_printf(b, "%s%s", i ? "; " : "", one.oom ? "?" : one.s);
	}
}
