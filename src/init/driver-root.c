/* SPDX-License-Identifier: Apache-2.0 */
/* The driver root for the NVIDIA container toolkit, as the NVIDIA driver container
 * does it with mount(8) (reference.md section 10), here with mount(2):
 *
 *   mount --make-runbindable /sys; mount --make-private /sys
 *   mkdir -p /run/nvidia/driver; mount --rbind / /run/nvidia/driver
 *
 * MS_UNBINDABLE|MS_REC marks /sys and every mount below it unbindable; MS_PRIVATE on
 * /sys alone then makes /sys itself bindable again (a private mount is bindable), so
 * the rbind copies sysfs but none of the mounts below it (cgroups, securityfs,
 * debugfs...), each of which would otherwise be pinned by the host's copy.
 *
 * The host sees the bind because the parent (/run/nvidia, a hostPath volume with
 * mountPropagation: Bidirectional) is a shared mount: a mount made below it
 * propagates to its peer in the host's namespace. firmware_class resolves its path
 * in the host's namespace too, which is why <driver_root>/lib/firmware works. */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>

#include "shared/cleanup.h"

#include "base/fsutil.h"
#include "base/log.h"
#include "host/mountinfo.h"
#include "init/driver-root.h"
#include "init/init-run.h"

/* Stacked mounts undone at most (a loop of killed predecessors each leaving one). */
#define MAX_DETACH 64

static void mountinfo_cleanup(struct dk_mountinfo *mi)
{
	dk_mountinfo_release(mi);
}
#define _cleanup_mountinfo_ __attribute__((cleanup(mountinfo_cleanup)))

/* path with symlinks resolved (as mountinfo names it), or a copy when it does not
 * exist; NULL on OOM. */
static char *resolved(const char *path)
{
	char *r = realpath(path, NULL);

	return r ? r : strdup(path);
}

/* Detaches every mount at path; returns how many, or -errno (the first failure). */
static int detach_all(const char *path)
{
	int n = 0;

	for (int i = 0; i < MAX_DETACH; i++) {
		_cleanup_mountinfo_ struct dk_mountinfo mi = {0};
		int r = dk_mountinfo_read("/proc", 0, &mi, NULL);

		if (r < 0)
			return r;
		if (!dk_mountinfo_at(&mi, path))
			return n;
		if (umount2(path, MNT_DETACH) < 0)
			return -errno;
		n++;
	}
	return n;
}

/* Detaches whatever is mounted at driver_root (stale: left by a killed predecessor).
 * Only while holding the lock: a refused second instance never touches the first's. */
static void detach(struct dk_init *in, bool stale)
{
	const char *root = in->cfg->driver_root;
	_cleanup_free_ char *path = NULL;
	int r;

	if (!root || in->lock_fd < 0)
		return;
	path = resolved(root);
	if (!path)
		return;
	r = detach_all(path);
	if (r > 0 && stale)
		dk_info("driver root: detached a stale mount at %s (%d mount%s, left by "
			"a drvkit init that was killed)",
			path, r, r == 1 ? "" : "s stacked");
	else if (r > 0)
		dk_info("driver root: %s detached", path);
	else if (r < 0 && stale)
		dk_warn("driver root: cannot detach the stale mount at %s: %s; the new "
			"one is mounted on top of it",
			path, strerror(-r));
	else if (r < 0)
		dk_warn("driver root: cannot detach %s: %s; detach it by hand (umount -l "
			"%s), or the next drvkit init does",
			path, strerror(-r), path);
}

void dk_init_driver_root_clean(struct dk_init *in)
{
	detach(in, true);
}

/* /sys of the source: its submounts unbindable, itself private. Skipped when it is
 * not a mount point (nothing below it to recurse into). */
static int sys_unbindable(const struct dk_mountinfo *mi, const char *src,
			  struct dk_error **err)
{
	_cleanup_free_ char *sys = dk_path_join(src, "sys"), *real = NULL;

	if (!sys || !(real = resolved(sys)))
		return dk_error_set(err, ENOMEM, "out of memory");
	if (!dk_mountinfo_at(mi, real)) {
		dk_debug("driver root: %s is not a mount point: nothing to make "
			 "unbindable",
			 real);
		return 0;
	}
	if (mount(NULL, real, NULL, MS_REC | MS_UNBINDABLE, NULL) < 0 ||
	    mount(NULL, real, NULL, MS_PRIVATE, NULL) < 0)
		return dk_error_set(err, errno,
				    "driver root: make %s unbindable (so that the bind "
				    "does not copy the mounts below it): %s",
				    real, strerror(errno));
	return 0;
}

/* Warns when the new mount does not reach the host: its parent is not shared. */
static void check_propagation(const char *path)
{
	_cleanup_mountinfo_ struct dk_mountinfo mi = {0};
	_cleanup_free_ char *parent = strdup(path);
	const struct dk_mount *m;
	char *slash;

	if (!parent || dk_mountinfo_read("/proc", 0, &mi, NULL) < 0)
		return;
	slash = strrchr(parent, '/');
	if (slash)
		slash[slash == parent ? 1 : 0] = '\0';
	m = dk_mountinfo_holding(&mi, parent);
	if (m && !dk_mount_is_shared(m))
		dk_warn("driver root: %s is mounted, but the mount holding it (%s) does "
			"not propagate (no shared: in /proc/self/mountinfo), so the host "
			"and the container toolkit do not see it: mount the host's "
			"directory with a hostPath volume and mountPropagation: "
			"Bidirectional",
			path, m->target);
}

int dk_init_driver_root(struct dk_init *in, struct dk_error **err)
{
	const char *root = in->cfg->driver_root, *src = in->cfg->driver_root_source;
	_cleanup_mountinfo_ struct dk_mountinfo mi = {0};
	_cleanup_free_ char *path = NULL;
	int r;

	if (!root)
		return 0;
	r = dk_mountinfo_read("/proc", 0, &mi, NULL);
	if (r < 0)
		return dk_error_set(err, -r, "driver root: read /proc/self/mountinfo: %s",
				    strerror(-r));
	r = sys_unbindable(&mi, src, err);
	if (r < 0)
		return r;
	r = dk_mkdir_p(root, 0755);
	if (r < 0)
		return dk_error_set(err, -r, "driver root: create %s: %s", root,
				    strerror(-r));
	path = resolved(root);
	if (!path)
		return dk_error_set(err, ENOMEM, "out of memory");
	if (mount(src, path, NULL, MS_BIND | MS_REC, NULL) < 0) {
		r = errno;
		dk_error_set(err, r, "driver root: bind %s onto %s: %s", src, path,
			     strerror(r));
		return dk_error_set_hint(err, r == EPERM || r == EACCES
						      ? "mounting needs CAP_SYS_ADMIN: "
							"run the driver container "
							"privileged"
						      : NULL);
	}
	dk_info("driver root: %s bound onto %s (recursive; submounts of %s/sys left "
		"out)",
		src, path, streq(src, "/") ? "" : src);
	check_propagation(path);
	return 0;
}

void dk_init_driver_root_detach(struct dk_init *in)
{
	detach(in, false);
}
