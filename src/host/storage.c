/* SPDX-License-Identifier: Apache-2.0 */
/* The modules under each mounted filesystem (see storage.h). */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "shared/cleanup.h"
#include "shared/strbuf.h"

#include "base/fsutil.h"
#include "host/mountinfo.h"
#include "host/storage.h"

/* dm on md on dm...: deeper stacks are not followed. */
#define MAX_STACK 8

struct deps {
	struct dk_storage_dep *v;
	size_t n;
};

static void deps_release(struct dk_storage_dep *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].module);
		free(v[i].via);
	}
	free(v);
}

void dk_storage_release(struct dk_storage *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->v[i].target);
		free(s->v[i].source);
		free(s->v[i].fstype);
		deps_release(s->v[i].deps, s->v[i].n_deps);
	}
	free(s->v);
	free(s->mountinfo);
	free(s->note);
	memset(s, 0, sizeof(*s));
}

/* Adds module (once) with a printf'd reason; -ENOMEM. */
_printf_format_(3, 4) static int add_dep(struct deps *d, const char *module,
					 const char *fmt, ...)
{
	struct dk_storage_dep *nv;
	va_list ap;
	char *via;

	for (size_t i = 0; i < d->n; i++)
		if (streq(d->v[i].module, module))
			return 0;
	va_start(ap, fmt);
	via = dk_strdup_vprintf(fmt, ap);
	va_end(ap);
	nv = via ? reallocarray(d->v, d->n + 1, sizeof(*nv)) : NULL;
	if (!nv) {
		free(via);
		return -ENOMEM;
	}
	d->v = nv;
	nv[d->n].via = via;
	nv[d->n].module = strdup(module);
	/* counted even without its name: released with the rest */
	return nv[d->n++].module ? 0 : -ENOMEM;
}

/* The basename of the link at dir/name's target, or NULL. */
static char *link_base(const char *dir, const char *name)
{
	_cleanup_free_ char *p = dk_path_join(dir, name);
	char *base = NULL;

	if (p)
		(void)!dk_readlink_base(p, &base);
	return base;
}

static char *read_attr(const char *dir, const char *name)
{
	_cleanup_free_ char *p = dk_path_join(dir, name);
	char *v = NULL;

	if (!p || dk_read_line(p, &v) < 0)
		return NULL;
	dk_strip(v);
	return v;
}

/* dev is an NVMe controller (it has transport): over fabrics, its transport module. */
static int nvme_ctrl(struct deps *d, const char *dev, const char *name)
{
	_cleanup_free_ char *t = read_attr(dev, "transport");
	_cleanup_free_ char *mod = NULL;

	if (!t || !*t || streq(t, "pcie"))
		return 0; /* local PCIe: the driver link names nvme */
	mod = dk_strdup_printf("nvme_%s", t);
	if (!mod)
		return -ENOMEM;
	return add_dep(d, mod, "NVMe over Fabrics, transport %s (controller %s)", t,
		       name);
}

/* nvme-subsysN (native multipath): every controller of the subsystem. */
static int nvme_subsys(struct deps *d, const char *dir)
{
	_cleanup_closedir_ DIR *dh = opendir(dir);
	struct dirent *de;
	int r = 0;

	while (dh && r >= 0 && (de = readdir(dh))) {
		_cleanup_free_ char *p = NULL;

		if (!startswith(de->d_name, "nvme") || startswith(de->d_name, "nvme-"))
			continue;
		p = dk_path_join(dir, de->d_name);
		if (!p)
			return -ENOMEM;
		r = nvme_ctrl(d, p, de->d_name);
	}
	return r;
}

/* hostN: the SCSI host's proc_name names its driver (iSER, SRP, iscsi_tcp...). */
static int scsi_host(struct deps *d, const char *sysfs, const char *name)
{
	_cleanup_free_ char *rel = dk_strdup_printf("class/scsi_host/%s", name);
	_cleanup_free_ char *dir = rel ? dk_path_join(sysfs, rel) : NULL;
	_cleanup_free_ char *pn = dir ? read_attr(dir, "proc_name") : NULL;

	if (!rel || !dir)
		return -ENOMEM;
	if (!pn || !*pn)
		return 0;
	if (streq(pn, "iscsi_iser"))
		return add_dep(d, "ib_iser", "iSCSI over RDMA (iSER), SCSI host %s",
			       name);
	if (streq(pn, "ib_srp"))
		return add_dep(d, "ib_srp", "SCSI RDMA Protocol, SCSI host %s", name);
	return add_dep(d, pn, "SCSI host %s (%s)", name, pn);
}

/* dir/driver -> .../drivers/X, whose module link names the module. */
static int driver_of(struct deps *d, const char *dir, const char *name)
{
	_cleanup_free_ char *drv = dk_path_join(dir, "driver");
	_cleanup_free_ char *mod = NULL, *dname = NULL;
	char real[PATH_MAX];

	if (!drv)
		return -ENOMEM;
	if (!realpath(drv, real))
		return 0;
	mod = link_base(real, "module");
	dname = link_base(dir, "driver");
	if (!mod)
		return 0; /* built in */
	return add_dep(d, mod, "driver %s of %s", dname ? dname : mod, name);
}

static int block_dev(struct deps *d, const char *sysfs, const char *sysreal,
		     const char *real, int depth);

/* dir/slaves/: the devices a dm or md device sits on. */
static int slaves(struct deps *d, const char *sysfs, const char *sysreal, const char *dir,
		  int depth)
{
	_cleanup_free_ char *sd = dk_path_join(dir, "slaves");
	_cleanup_closedir_ DIR *dh = sd ? opendir(sd) : NULL;
	struct dirent *de;
	int r = 0;

	if (!sd)
		return -ENOMEM;
	while (dh && r >= 0 && (de = readdir(dh))) {
		_cleanup_free_ char *p = NULL;
		char real[PATH_MAX];

		if (de->d_name[0] == '.')
			continue;
		p = dk_path_join(sd, de->d_name);
		if (!p)
			return -ENOMEM;
		if (realpath(p, real))
			r = block_dev(d, sysfs, sysreal, real, depth + 1);
	}
	return r;
}

/* Walks from a block device's sysfs directory up to <sysfs>/devices. */
static int block_dev(struct deps *d, const char *sysfs, const char *sysreal,
		     const char *real, int depth)
{
	_cleanup_free_ char *dir = strdup(real);
	size_t sl = strlen(sysreal);
	int r = 0;

	if (!dir)
		return -ENOMEM;
	if (depth > MAX_STACK)
		return 0;
	while (r >= 0) {
		char *slash = strrchr(dir, '/');
		const char *name = slash ? slash + 1 : dir;
		_cleanup_free_ char *tr = NULL;

		if (strncmp(dir, sysreal, sl) != 0 || dir[sl] != '/' ||
		    streq(dir + sl, "/devices") || !slash)
			break;
		r = slaves(d, sysfs, sysreal, dir, depth);
		if (r >= 0 && startswith(name, "nvme-subsys"))
			r = nvme_subsys(d, dir);
		else if (r >= 0 && startswith(name, "nvme") &&
			 (tr = dk_path_join(dir, "transport")) && dk_path_exists(tr))
			r = nvme_ctrl(d, dir, name);
		if (r >= 0 && startswith(name, "host") && name[4] >= '0' &&
		    name[4] <= '9')
			r = scsi_host(d, sysfs, name);
		if (r >= 0)
			r = driver_of(d, dir, name);
		*slash = '\0';
	}
	return r;
}

static int block_deps(struct deps *d, const char *sysfs, const char *sysreal,
		      unsigned major, unsigned minor)
{
	_cleanup_free_ char *p = NULL;
	char rel[48], real[PATH_MAX];

	snprintf(rel, sizeof(rel), "dev/block/%u:%u", major, minor);
	p = dk_path_join(sysfs, rel);
	if (!p)
		return -ENOMEM;
	if (!realpath(p, real))
		return 0; /* no such block device (btrfs and others report their own) */
	return block_dev(d, sysfs, sysreal, real, 0);
}

static int mount_deps(struct deps *d, const struct dk_mount *m, const char *sysfs,
		      const char *sysreal)
{
	int r = 0;

	if (startswith(m->fstype, "nfs")) {
		const char *proto = dk_mount_has_option(m, "proto", "rdma")    ? "rdma"
				    : dk_mount_has_option(m, "proto", "rdma6") ? "rdma6"
									       : NULL;

		if (proto) {
			r = add_dep(d, "rpcrdma", "NFS over RDMA (proto=%s)", proto);
			if (r >= 0)
				r = add_dep(d, "xprtrdma", "NFS over RDMA (proto=%s)",
					    proto);
		}
	} else if ((streq(m->fstype, "cifs") || streq(m->fstype, "smb3")) &&
		   dk_mount_has_option(m, "rdma", NULL)) {
		r = add_dep(d, "cifs", "SMB Direct (the rdma option)");
	}
	if (r >= 0 && m->major != 0)
		r = block_deps(d, sysfs, sysreal, m->major, m->minor);
	return r;
}

static int keep(struct dk_storage *s, const struct dk_mount *m, struct deps *d)
{
	struct dk_storage_mount *nv = reallocarray(s->v, s->n + 1, sizeof(*nv));

	if (!nv)
		return -ENOMEM;
	s->v = nv;
	nv += s->n++;
	*nv = (struct dk_storage_mount){
		.target = strdup(m->target),
		.source = strdup(m->source),
		.fstype = strdup(m->fstype),
		.deps = TAKE_PTR(d->v),
		.n_deps = d->n,
	};
	d->n = 0;
	return nv->target && nv->source && nv->fstype ? 0 : -ENOMEM;
}

/* pid 1 (the host's mounts with hostPID), else self. */
static int read_mounts(const char *procfs, struct dk_storage *out,
		       struct dk_mountinfo *mi, struct dk_error **err)
{
	_cleanup_error_ struct dk_error *e1 = NULL;
	int r = dk_mountinfo_read(procfs, 1, mi, &e1);

	if (r == -ENOMEM)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (r >= 0)
		return 0;
	r = dk_mountinfo_read(procfs, 0, mi, err);
	if (r < 0)
		return dk_error_wrap(err, "%s; and", e1->msg);
	out->note = dk_strdup_printf("%s: only this mount namespace's mounts are checked "
				     "(run with hostPID: true to see the host's)",
				     e1->msg);
	return out->note ? 0 : dk_error_set(err, ENOMEM, "out of memory");
}

int dk_storage_read(const char *procfs, const char *sysfs, struct dk_storage *out,
		    struct dk_error **err)
{
	_cleanup_(dk_mountinfo_release) struct dk_mountinfo mi = {0};
	char sysreal[PATH_MAX];
	int r;

	memset(out, 0, sizeof(*out));
	r = read_mounts(procfs, out, &mi, err);
	if (r < 0) {
		dk_storage_release(out);
		return r;
	}
	out->mountinfo = TAKE_PTR(mi.path);
	if (!realpath(sysfs, sysreal))
		snprintf(sysreal, sizeof(sysreal), "%s", sysfs);
	for (size_t i = 0; i < mi.n && r >= 0; i++) {
		struct deps d = {0};

		r = mount_deps(&d, &mi.v[i], sysfs, sysreal);
		if (r >= 0 && d.n)
			r = keep(out, &mi.v[i], &d);
		deps_release(d.v, d.n);
	}
	if (r < 0) {
		dk_storage_release(out);
		return dk_error_set(err, ENOMEM, "out of memory");
	}
	return 0;
}
