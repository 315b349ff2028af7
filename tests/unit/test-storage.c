/* SPDX-License-Identifier: Apache-2.0 */
/* Storage safety for replaces: the mountinfo reader (host/mountinfo.h), the modules
 * under each mount from a fixture sysfs (host/storage.h: NVMe over Fabrics, native
 * multipath, iSER, dm slaves, driver links, NFS over RDMA, SMB Direct) and the
 * planner's refusal (init/storage.h). Each case runs in its own process. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/error.h"
#include "host/mountinfo.h"
#include "host/storage.h"
#include "init/plan.h"
#include "init/storage.h"

#include "tap.h"
#include "fixture.h"

#define S(x) ((char *)(x))

static void case_mountinfo_parse(void)
{
	struct dk_mountinfo mi = {0};
	struct dk_error *err = NULL;
	const char *text =
		"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
		"25 22 8:16 / /mnt/iscsi\\040disk rw shared:3 master:2 - ext4 /dev/sdb "
		"rw\n"
		"26 22 0:50 / /mnt/nfs rw,relatime - nfs4 srv:/export "
		"rw,vers=4.2,proto=rdma,port=20049\n"
		"27 22 0:51 / /x rw - tmpfs tmpfs\n";

	is_int(dk_mountinfo_parse("mi", text, &mi, &err), 0, "mountinfo parsed");
	is_int((int)mi.n, 4, "four mounts");
	if (mi.n == 4) {
		is_str(mi.v[0].target, "/", "mount point");
		is_str(mi.v[0].source, "/dev/mapper/vg-root", "source");
		is_str(mi.v[0].fstype, "ext4", "fstype");
		ok(mi.v[0].major == 254 && mi.v[0].minor == 0, "major:minor 254:0");
		is_str(mi.v[1].target, "/mnt/iscsi disk", "\\040 decoded");
		is_str(mi.v[1].source, "/dev/sdb", "optional fields skipped");
		is_str(mi.v[2].options, "rw,relatime,rw,vers=4.2,proto=rdma,port=20049",
		       "mount and superblock options joined");
		ok(dk_mount_has_option(&mi.v[2], "proto", "rdma"), "proto=rdma found");
		ok(!dk_mount_has_option(&mi.v[2], "proto", "rdma6"), "not proto=rdma6");
		ok(dk_mount_has_option(&mi.v[2], "port", NULL),
		   "port=... with any value");
		ok(!dk_mount_has_option(&mi.v[2], "rdma", NULL), "no bare rdma option");
		is_str(mi.v[3].options, "rw", "no superblock options: the mount's");
	}
	dk_mountinfo_release(&mi);

	is_int(dk_mountinfo_parse("mi", "22 1 254:0 / / rw shared:1 ext4 /dev/x rw\n",
				  &mi, &err),
	       -EBADMSG, "a line without the - separator: EBADMSG");
	ok(err && strstr(err->msg, "mi:1: not a mountinfo line") != NULL,
	   "the message names the file and line (%s)", err ? err->msg : "");
	dk_error_free(&err);
	is_int(dk_mountinfo_parse("mi", "1 2 x:0 / / rw - ext4 a b\n", &mi, &err),
	       -EBADMSG, "a bad major:minor: EBADMSG");
	dk_error_free(&err);
	is_int((int)mi.n, 0, "nothing left after an error");
}

/* ---- a fixture sysfs and procfs ---- */

static const char *mountinfo_text =
	"22 1 254:0 / / rw,relatime shared:1 - ext4 /dev/mapper/vg-root rw\n"
	"23 22 259:1 / /data rw shared:2 - xfs /dev/nvme0n1p1 rw\n"
	"24 22 259:2 / /mp rw - ext4 /dev/nvme1n1 rw\n"
	"25 22 8:16 / /mnt/iscsi\\040disk rw - ext4 /dev/sdb rw\n"
	"26 22 0:50 / /mnt/nfs rw - nfs4 srv:/export rw,vers=4.2,proto=rdma,port=20049\n"
	"27 22 0:51 / /mnt/nfstcp rw - nfs4 srv:/x rw,vers=4.2,proto=tcp\n"
	"28 22 0:52 / /mnt/smb rw - cifs //srv/share rw,vers=3.1.1,rdma\n"
	"29 22 0:53 / /mnt/smbtcp rw - cifs //srv/s2 rw,vers=3.1.1\n"
	"30 22 253:0 / /boot rw - ext4 /dev/vda rw\n"
	"31 22 0:25 / /proc rw - proc proc rw\n"
	"32 22 7:0 / /mnt/nodev rw - ext4 /dev/loop0 rw\n";

/* The sysfs of a node with each kind of storage, and <root>/proc/<pid>/mountinfo. */
static int fixture(const char *root, const char *pid)
{
	_cleanup_free_ char *mi = dk_strdup_printf("proc/%s/mountinfo", pid);
	const char *fab = "sys/devices/virtual/nvme-fabrics/ctl";
	const char *iscsi = "sys/devices/platform/host3/session1/target3:0:0/3:0:0:1";
	const char *virt = "sys/devices/pci0000:00/0000:00:04.0/virtio1";
	_cleanup_free_ char *p1 = NULL, *p2 = NULL, *p3 = NULL, *p4 = NULL, *p5 = NULL;
	int bad = !mi;

	p1 = dk_strdup_printf("%s/nvme0/nvme0n1/nvme0n1p1/partition", fab);
	p2 = dk_strdup_printf("%s/nvme0/transport", fab);
	p3 = dk_strdup_printf("%s/nvme1/transport", fab);
	p4 = dk_strdup_printf("%s/block/sdb/dev", iscsi);
	p5 = dk_strdup_printf("%s/block/vda/dev", virt);
	bad |= !p1 || !p2 || !p3 || !p4 || !p5;
	if (bad)
		return -1;
	bad |= fx_put(root, mi, mountinfo_text, 0644);
	/* NVMe over RDMA, a partition of its namespace; a dm device on it */
	bad |= fx_put(root, p2, "rdma\n", 0644);
	bad |= fx_put(root, p1, "1\n", 0644);
	bad |= fx_put_link(
		root, "sys/dev/block/259:1",
		"../../devices/virtual/nvme-fabrics/ctl/nvme0/nvme0n1/nvme0n1p1");
	bad |= fx_put(root, "sys/devices/virtual/block/dm-0/dev", "254:0\n", 0644);
	bad |= fx_put_link(root, "sys/devices/virtual/block/dm-0/slaves/nvme0n1",
			   "../../../nvme-fabrics/ctl/nvme0/nvme0n1");
	bad |= fx_put_link(root, "sys/dev/block/254:0",
			   "../../devices/virtual/block/dm-0");
	/* NVMe over TCP through native multipath: the head sits in the subsystem */
	bad |= fx_put(root, p3, "tcp\n", 0644);
	bad |= fx_put(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1/dev",
		      "259:2\n", 0644);
	bad |= fx_put_link(root, "sys/devices/virtual/nvme-subsystem/nvme-subsys1/nvme1",
			   "../../nvme-fabrics/ctl/nvme1");
	bad |= fx_put_link(root, "sys/dev/block/259:2",
			   "../../devices/virtual/nvme-subsystem/nvme-subsys1/nvme1n1");
	/* iSER: an iSCSI session under SCSI host3, whose proc_name is iscsi_iser */
	bad |= fx_put(root, p4, "8:16\n", 0644);
	bad |= fx_put(root, "sys/class/scsi_host/host3/proc_name", "iscsi_iser\n", 0644);
	bad |= fx_put_link(
		root, "sys/dev/block/8:16",
		"../../devices/platform/host3/session1/target3:0:0/3:0:0:1/block/sdb");
	bad |= fx_put_link(
		root, "sys/devices/platform/host3/session1/target3:0:0/3:0:0:1/driver",
		"../../../../../../bus/scsi/drivers/sd");
	bad |= fx_put_link(root, "sys/bus/scsi/drivers/sd/module",
			   "../../../../module/sd_mod");
	/* a local virtio disk */
	bad |= fx_put(root, p5, "253:0\n", 0644);
	bad |= fx_put_link(root, "sys/devices/pci0000:00/0000:00:04.0/virtio1/driver",
			   "../../../../bus/virtio/drivers/virtio_blk");
	bad |= fx_put_link(root, "sys/bus/virtio/drivers/virtio_blk/module",
			   "../../../../module/virtio_blk");
	bad |= fx_put_link(root, "sys/dev/block/253:0",
			   "../../devices/pci0000:00/0000:00:04.0/virtio1/block/vda");
	(void)virt;
	return bad ? -1 : 0;
}

static char *tmpdir(void)
{
	char tmpl[] = "/tmp/dk-storage.XXXXXX";

	return mkdtemp(tmpl) ? strdup(tmpl) : NULL;
}

static const struct dk_storage_mount *find(const struct dk_storage *s, const char *target)
{
	for (size_t i = 0; i < s->n; i++)
		if (streq(s->v[i].target, target))
			return &s->v[i];
	return NULL;
}

/* "mod1 mod2" of a mount; "" when it is not listed. */
static const char *mods(const struct dk_storage *s, const char *target)
{
	static char buf[256];
	const struct dk_storage_mount *m = find(s, target);

	buf[0] = '\0';
	for (size_t i = 0; m && i < m->n_deps; i++)
		snprintf(buf + strlen(buf), sizeof(buf) - strlen(buf), "%s%s",
			 i ? " " : "", m->deps[i].module);
	return buf;
}

static const char *via(const struct dk_storage *s, const char *target, size_t i)
{
	const struct dk_storage_mount *m = find(s, target);

	return m && i < m->n_deps ? m->deps[i].via : "";
}

static void case_storage_read(void)
{
	_cleanup_free_ char *root = tmpdir();
	_cleanup_free_ char *sys = root ? dk_path_join(root, "sys") : NULL;
	_cleanup_free_ char *proc = root ? dk_path_join(root, "proc") : NULL;
	struct dk_storage s = {0};
	struct dk_error *err = NULL;

	if (!root || !sys || !proc || fixture(root, "1") < 0) {
		ok(0, "fixture");
		return;
	}
	is_int(dk_storage_read(proc, sys, &s, &err), 0, "storage read");
	ok(s.mountinfo && strstr(s.mountinfo, "/proc/1/mountinfo"), "pid 1's mounts (%s)",
	   s.mountinfo ? s.mountinfo : "");
	ok(s.note == NULL, "no note: the host's mounts were read");
	is_str(mods(&s, "/data"), "nvme_rdma", "NVMe over RDMA partition: nvme_rdma");
	is_str(via(&s, "/data", 0),
	       "NVMe over Fabrics, transport rdma (controller nvme0)", "and how");
	is_str(mods(&s, "/"), "nvme_rdma", "root on dm on NVMe over RDMA: via slaves/");
	is_str(mods(&s, "/mp"), "nvme_tcp",
	       "native multipath head: the subsystem's controller");
	is_str(mods(&s, "/mnt/iscsi disk"), "sd_mod ib_iser",
	       "iSER disk: sd_mod, then up the path ib_iser");
	is_str(via(&s, "/mnt/iscsi disk", 1), "iSCSI over RDMA (iSER), SCSI host host3",
	       "iSER named");
	is_str(mods(&s, "/mnt/nfs"), "rpcrdma xprtrdma",
	       "NFS proto=rdma: rpcrdma (xprtrdma)");
	is_str(mods(&s, "/mnt/smb"), "cifs", "SMB Direct: cifs");
	is_str(mods(&s, "/boot"), "virtio_blk", "a local disk: its driver's module");
	is_str(via(&s, "/boot", 0), "driver virtio_blk of virtio1",
	       "through driver/module");
	ok(!find(&s, "/mnt/nfstcp") && !find(&s, "/mnt/smbtcp"),
	   "NFS and SMB over TCP: none");
	ok(!find(&s, "/proc") && !find(&s, "/mnt/nodev"), "no block device: none");
	dk_storage_release(&s);
	fx_rm_rf(root);
}

static void case_storage_self(void)
{
	_cleanup_free_ char *root = tmpdir();
	_cleanup_free_ char *sys = root ? dk_path_join(root, "sys") : NULL;
	_cleanup_free_ char *proc = root ? dk_path_join(root, "proc") : NULL;
	_cleanup_free_ char *p1 = proc ? dk_path_join(proc, "1") : NULL;
	struct dk_storage s = {0};
	struct dk_error *err = NULL;

	if (!p1 || fixture(root, "self") < 0) {
		ok(0, "fixture");
		return;
	}
	is_int(dk_storage_read(proc, sys, &s, &err), 0, "no pid 1: self");
	ok(s.note && strstr(s.note, "1/mountinfo") && strstr(s.note, "hostPID"),
	   "the note says why and what to do (%s)", s.note ? s.note : "");
	is_str(mods(&s, "/data"), "nvme_rdma", "the same answers");
	dk_storage_release(&s);
	fx_rm_rf(proc);
	is_int(dk_storage_read(proc, sys, &s, &err), -ENOENT, "neither: ENOENT");
	ok(err && strstr(err->msg, "1/mountinfo") && strstr(err->msg, "self/mountinfo"),
	   "both named (%s)", err ? err->msg : "");
	dk_error_free(&err);
	fx_rm_rf(root);
}

/* ---- the planner ---- */

struct px {
	struct dk_config cfg;
	struct dk_config_component comp;
	struct dk_config_module mod;
	char *replaces[4];
	struct dk_modfile file;
	struct dk_modfile *fp[1];
	struct dk_plan_loaded loaded[5];
	struct dk_plan_facts facts;
	struct dk_plan_decisions d;
	struct dk_error *err;
};

static char *ib_core_h[] = {S("nvme_rdma"), S("rdma_cm"), S("rpcrdma")};
static char *rdma_cm_h[] = {S("nvme_rdma"), S("rpcrdma")};

/* Component ofed replaces ib_core; in-tree ib_core is held by rdma_cm, nvme_rdma and
 * rpcrdma; extra: more names under replaces (NULL-ended). */
static void px_init(struct px *x, const char *const *extra)
{
	memset(x, 0, sizeof(*x));
	x->cfg = (struct dk_config){
		.path = S("ofed.yaml"), .components = &x->comp, .n_components = 1};
	x->mod.name = S("ib_core");
	x->comp = (struct dk_config_component){.name = S("ofed"),
					       .source_dir = S("/m"),
					       .modules = &x->mod,
					       .n_modules = 1,
					       .replaces = x->replaces,
					       .restore = true};
	x->replaces[x->comp.n_replaces++] = S("ib_core");
	for (; extra && *extra; extra++)
		x->replaces[x->comp.n_replaces++] = S(*extra);
	x->file = (struct dk_modfile){.path = S("/m/ib_core.ko"),
				      .name = S("ib_core"),
				      .srcversion = S("OFED"),
				      .vermagic = S("6.1.0-test SMP")};
	x->fp[0] = &x->file;
	x->loaded[0] = (struct dk_plan_loaded){"ib_core",
					       {.state = DK_LOADED_LIVE,
						.srcversion = S("INTREE"),
						.holders = ib_core_h,
						.n_holders = 3}};
	x->loaded[1] = (struct dk_plan_loaded){
		"rdma_cm",
		{.state = DK_LOADED_LIVE, .holders = rdma_cm_h, .n_holders = 2}};
	x->loaded[2] = (struct dk_plan_loaded){"nvme_rdma", {.state = DK_LOADED_LIVE}};
	x->loaded[3] = (struct dk_plan_loaded){"rpcrdma", {.state = DK_LOADED_LIVE}};
	x->facts = (struct dk_plan_facts){.kver = "6.1.0-test",
					  .cfg = &x->cfg,
					  .files = x->fp,
					  .n_files = 1,
					  .loaded = x->loaded,
					  .n_loaded = 4,
					  .can_unload = true};
}

static void px_release(struct px *x)
{
	dk_plan_decisions_release(&x->d);
	dk_error_free(&x->err);
}

static const char *msg(const struct px *x)
{
	return x->err ? x->err->msg : "";
}

static struct dk_storage_dep dep_nvme = {
	S("nvme_rdma"), S("NVMe over Fabrics, transport rdma (controller nvme0)")};
static struct dk_storage_dep dep_nfs = {S("rpcrdma"), S("NFS over RDMA (proto=rdma)")};
static struct dk_storage_dep dep_virtio = {S("virtio_blk"),
					   S("driver virtio_blk of virtio1")};

static struct dk_storage_mount mounts[] = {
	{S("/data"), S("/dev/nvme0n1p1"), S("xfs"), &dep_nvme, 1},
	{S("/mnt/nfs"), S("srv:/export"), S("nfs4"), &dep_nfs, 1},
	{S("/boot"), S("/dev/vda1"), S("ext4"), &dep_virtio, 1},
};

static void case_plan_refuses(void)
{
	struct dk_storage st = {.mountinfo = S("/proc/1/mountinfo"), .v = mounts, .n = 3};
	struct px x;

	px_init(&x, NULL);
	x.facts.storage = &st;
	is_int(dk_plan_decide(&x.facts, &x.d, &x.err), -EBUSY,
	       "a mount over nvme_rdma and one over rpcrdma: refused");
	ok(strstr(msg(&x), "replace: refused before unloading anything: component ofed "
			   "replaces in-tree modules, but mounted filesystems depend on "
			   "them: ") != NULL,
	   "refused before anything is unloaded, the component named (%s)", msg(&x));
	ok(strstr(msg(&x), "/data (xfs on /dev/nvme0n1p1) needs nvme_rdma [NVMe over "
			   "Fabrics, transport rdma (controller nvme0)], which would be "
			   "unloaded: it holds ib_core, rdma_cm") != NULL,
	   "the mount, its source, the module, how, and what it holds");
	ok(strstr(msg(&x), "/mnt/nfs (nfs4 on srv:/export) needs rpcrdma [NFS over RDMA "
			   "(proto=rdma)]") != NULL,
	   "the NFS mount too: every problem at once");
	ok(strstr(msg(&x), "/boot") == NULL, "a local disk is no problem");
	ok(strstr(msg(&x), "unload nvme_rdma rpcrdma, then restart this pod (mounts from "
			   "/proc/1/mountinfo)") != NULL,
	   "what to do, and where the mounts came from");
	px_release(&x);

	/* allowed by name under replaces: the protect list passes, the mount does not */
	px_init(&x, (const char *const[]){"nvme_rdma", "rpcrdma", NULL});
	st.n = 1;
	x.facts.storage = &st;
	is_int(dk_plan_decide(&x.facts, &x.d, &x.err), -EBUSY,
	       "nvme_rdma listed under replaces, /data still on it: refused");
	ok(strstr(msg(&x), "needs nvme_rdma [NVMe over Fabrics, transport rdma "
			   "(controller nvme0)], which would be unloaded: replaced by "
			   "component ofed") != NULL,
	   "the mount named, the module replaced by the component (%s)", msg(&x));
	px_release(&x);
}

static void case_plan_proceeds(void)
{
	struct dk_storage none = {
		.mountinfo = S("/proc/1/mountinfo"), .v = mounts + 2, .n = 1};
	struct px x;

	px_init(&x, (const char *const[]){"nvme_rdma", "rpcrdma", NULL});
	x.facts.storage = &none;
	is_int(dk_plan_decide(&x.facts, &x.d, &x.err), 0,
	       "users allowed under replaces, nothing mounted over them: planned (%s)",
	       msg(&x));
	is_int((int)x.d.n_unload, 4, "all four unloaded");
	px_release(&x);

	px_init(&x, NULL);
	x.facts.storage = &none;
	is_int(dk_plan_decide(&x.facts, &x.d, &x.err), -EBUSY,
	       "not allowed, nothing mounted: the protect list still refuses");
	ok(strstr(msg(&x), "rpcrdma (NFS over RDMA) holds ib_core") != NULL,
	   "by name (%s)", msg(&x));
	px_release(&x);

	px_init(&x, (const char *const[]){"nvme_rdma", "rpcrdma", NULL});
	x.facts.storage = NULL;
	is_int(dk_plan_decide(&x.facts, &x.d, &x.err), 0, "no storage facts: no check");
	px_release(&x);
}

/* The fixture node through both halves: read, then decide. */
static void case_read_then_decide(void)
{
	_cleanup_free_ char *root = tmpdir();
	_cleanup_free_ char *sys = root ? dk_path_join(root, "sys") : NULL;
	_cleanup_free_ char *proc = root ? dk_path_join(root, "proc") : NULL;
	struct dk_storage s = {0};
	struct px x;

	if (!proc || fixture(root, "1") < 0 ||
	    dk_storage_read(proc, sys, &s, &x.err) < 0) {
		ok(0, "fixture");
		return;
	}
	px_init(&x, (const char *const[]){"nvme_rdma", "rpcrdma", NULL});
	x.facts.storage = &s;
	is_int(dk_plan_decide(&x.facts, &x.d, &x.err), -EBUSY,
	       "the fixture node: refused");
	ok(strstr(msg(&x), "/ (ext4 on /dev/mapper/vg-root) needs nvme_rdma") != NULL,
	   "the root filesystem named (%s)", msg(&x));
	ok(strstr(msg(&x), "/mnt/smb") == NULL, "cifs is not unloaded here: not named");
	px_release(&x);
	dk_storage_release(&s);
	fx_rm_rf(root);
}

int main(void)
{
	FX_RUN(case_mountinfo_parse);
	FX_RUN(case_storage_read);
	FX_RUN(case_storage_self);
	FX_RUN(case_plan_refuses);
	FX_RUN(case_plan_proceeds);
	FX_RUN(case_read_then_decide);
	return tap_done();
}
