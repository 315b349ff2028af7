#!/bin/bash
# Storage safety for replaces, with the preload shim: a mounted filesystem on a device
# served through a module the replace would unload (NVMe over RDMA, NFS over RDMA, a
# block driver found through sysfs driver links) refuses the start before anything is
# unloaded, naming the mount, its source and the module; the fixture host's mounts are
# <host_root>/proc/1/mountinfo (else proc/self), its devices <host_root>/sys.
# Each case is a function on its own fixture (run_case, init-lib.sh).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

mounts() { # mounts PID LINE...: <host>/proc/PID/mountinfo (root on a local disk first)
	local pid=$1
	shift
	mkdir -p "$HOST/proc/$pid"
	{
		echo "22 1 253:0 / / rw,relatime shared:1 - ext4 /dev/vda1 rw"
		printf '%s\n' "$@"
	} >"$HOST/proc/$pid/mountinfo"
}
nvme_rdma_dev() { # /dev/nvme0n1 (259:0) on controller nvme0 over rdma
	local d=$HOST/sys/devices/virtual/nvme-fabrics/ctl/nvme0
	mkdir -p "$d/nvme0n1" "$HOST/sys/dev/block"
	echo rdma >"$d/transport"
	ln -s ../../devices/virtual/nvme-fabrics/ctl/nvme0/nvme0n1 "$HOST/sys/dev/block/259:0"
}
storage_host() { # storage_host NAME USERS...: in-tree dktest_export, used by dktest_user and USERS
	local u
	protect_host "$1"
	shift
	for u in "$@"; do fake_holder "$u" dktest_export; done
}
storage_config() { # storage_config NAME REPLACES: our dktest_export replaces the in-tree one
	config "$1" "" "    replaces: [ $2 ]"
	sed -i '/- name: dktest_user/d' "$CFG"
}

case_nvme_rdma() {
	storage_host nvme nvme_rdma
	storage_config nvme "dktest_export, nvme_rdma"
	nvme_rdma_dev
	mounts 1 "40 22 259:0 / /mnt/fabric\\040data rw shared:9 - xfs /dev/nvme0n1 rw,attr2"
	run_init
	is "$rc" 1 "a filesystem on NVMe over RDMA, nvme_rdma to be unloaded: exit 1"
	both "replace: refused before unloading anything: component example replaces in-tree modules, but mounted filesystems depend on them: /mnt/fabric data \(xfs on /dev/nvme0n1\) needs nvme_rdma \[NVMe over Fabrics, transport rdma \(controller nvme0\)\], which would be unloaded: replaced by component example" \
		"names the mount, its source, the module and how"
	both "unmount these filesystems .*unload nvme_rdma, then restart this pod \(mounts from $HOST/proc/1/mountinfo\)" \
		"says what to do and where the mounts came from"
	is "$(shimlog 'insert|delete')" "" "nothing unloaded or loaded"
	run dk init --config "$CFG" --dry-run
	is "$rc" 1 "--dry-run refuses too"
	like "$TMP/err" "/mnt/fabric data \(xfs on /dev/nvme0n1\) needs nvme_rdma" "with the same reason"
	mounts 1
	run dk init --config "$CFG" --dry-run
	is "$rc" 0 "unmounted (nvme_rdma allowed under replaces): the replace is planned"
	like "$TMP/out" "unload +nvme_rdma" "nvme_rdma goes first"
	like "$TMP/err" "info: detect: 0 mounted filesystems on kernel modules \($HOST/proc/1/mountinfo\)" \
		"the mounts were read"
}

# rpcrdma is protected by name; a mount over it is named before the protect list
case_nfs_rdma() {
	storage_host nfs rpcrdma
	storage_config nfs dktest_export
	mounts 1 "41 22 0:52 / /mnt/nfs rw,relatime - nfs4 srv:/export rw,vers=4.2,proto=rdma,port=20049"
	run_init
	is "$rc" 1 "NFS over RDMA mounted: exit 1"
	both "/mnt/nfs \(nfs4 on srv:/export\) needs rpcrdma \[NFS over RDMA \(proto=rdma\)\], which would be unloaded: it holds dktest_export" \
		"names the NFS mount and what rpcrdma holds"
	is "$(shimlog 'insert|delete')" "" "nothing unloaded"
	mounts 1 "41 22 0:52 / /mnt/nfs rw,relatime - nfs4 srv:/export rw,vers=4.2,proto=tcp"
	run_init
	is "$rc" 1 "NFS over TCP, rpcrdma still loaded: the protect list refuses"
	both "rpcrdma \(NFS over RDMA\) holds dktest_export" "by name"
	unlike "$TMP/init.err" "mounted filesystems depend" "no mount named"
}

# any block device: the driver link of its device names the module (dktest_user here)
case_block_driver() {
	local d
	storage_host drv
	d=$HOST/sys/devices/platform/dkblk0
	storage_config drv dktest_export
	mkdir -p "$d/block/dkb0" "$HOST/sys/bus/platform/drivers/dkblk" "$HOST/sys/dev/block"
	ln -s ../../../bus/platform/drivers/dkblk "$d/driver"
	ln -s ../../../../module/dktest_user "$HOST/sys/bus/platform/drivers/dkblk/module"
	ln -s ../../devices/platform/dkblk0/block/dkb0 "$HOST/sys/dev/block/254:3"
	mounts 1 "42 22 254:3 / /var/lib/kubelet rw - ext4 /dev/dkb0 rw"
	run_init
	is "$rc" 1 "a filesystem on a disk of dktest_user, which holds dktest_export: exit 1"
	both "/var/lib/kubelet \(ext4 on /dev/dkb0\) needs dktest_user \[driver dkblk of dkblk0\], which would be unloaded: it holds dktest_export" \
		"found through sysfs driver links and the holders graph"
	is "$(shimlog 'insert|delete')" "" "nothing unloaded"
}

# without hostPID the host's pid 1 is not visible: this namespace's mounts, with a warning
case_self_and_none() {
	storage_host self nvme_rdma
	storage_config self "dktest_export, nvme_rdma"
	nvme_rdma_dev
	mounts self "40 22 259:0 / /data rw - xfs /dev/nvme0n1 rw"
	run dk init --config "$CFG" --dry-run
	is "$rc" 1 "proc/self/mountinfo only: still refused"
	like "$TMP/err" "warn: detect: $HOST/proc/1/mountinfo: No such file or directory: only this mount namespace's mounts are checked \(run with hostPID: true" \
		"warns that only this namespace's mounts are checked"
	like "$TMP/err" "/data \(xfs on /dev/nvme0n1\) needs nvme_rdma" "the mount named"
	rm -rf "$HOST/proc/self"
	run dk init --config "$CFG" --dry-run
	is "$rc" 0 "no mountinfo at all: planned"
	like "$TMP/err" "warn: detect: .*self/mountinfo: No such file or directory: mounted filesystems are not checked before replaced modules are unloaded: mount the host's /proc" \
		"with a warning that says what is not checked"
}

run_case case_nvme_rdma
run_case case_nfs_rdma
run_case case_block_driver
run_case case_self_and_none

done_testing
