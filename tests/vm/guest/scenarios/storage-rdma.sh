# Storage safety for RDMA replaces, with Debian's in-tree RDMA stack (group storage,
# tests/vm/storage.sh). 1: rpcrdma (NFS over RDMA) loaded, nothing mounted over RDMA, and
# allowed under replaces: the replace proceeds and a stop restores exactly the modules that
# were loaded before, rpcrdma included. 2: a real NVMe over Fabrics mount over soft-RoCE
# (rdma_rxe on a dummy netdev, the nvmet-rdma target exporting a RAM disk to nvme-rdma on the
# same guest): the replace is refused before anything is unloaded, naming the mount, its
# device and nvme_rdma, and the filesystem stays mounted and readable.
. /dk/lib.sh
CFG=/dk/configs/storage.yaml
NQN=dkvm-storage
CFS=/sys/kernel/config/nvmet
mods_snapshot() { cut -d' ' -f1 /proc/modules | sort; }
same_set() { # same_set BEFORE AFTER DESC
	cmp -s "$1" "$2"
	ok $? "$3"
	cmp -s "$1" "$2" || diag "$(diff "$1" "$2" | grep '^[-+][a-z]' | tr '\n' ' ')"
}

# ---- 1: rpcrdma loaded, nothing mounted over it ----
modprobe rpcrdma >"$TMP/modprobe.out" 2>&1 && modprobe ib_uverbs >>"$TMP/modprobe.out" 2>&1
okf $? "modprobe rpcrdma and ib_uverbs (rdma_cm, iw_cm, ib_cm, ib_core, sunrpc) from the Debian tree" \
	"$TMP/modprobe.out"
mods_snapshot >"$TMP/before1"
diag "loaded before: $(tr '\n' ' ' <"$TMP/before1")"
start_init "$CFG" init1
wait_ready 60
okf $? "ready: rpcrdma listed under replaces, no filesystem on it" "$TMP/init1.out"
like "$TMP/init1.out" "detect: 0 mounted filesystems on kernel modules \(/proc/1/mountinfo\)" \
	"the host's mounts were read (pid 1) and none sits on a module"
check "rpcrdma unloaded while ours is loaded" sh -c '! grep -q "^rpcrdma " /proc/modules'
check "in-tree ib_core unloaded" sh -c '! grep -q "^ib_core " /proc/modules'
check "ours loaded" loaded dktest_export
kill -TERM "$pid"
stop_wait "$pid" 60
is "$rc" 0 "SIGTERM: exit 0"
mods_snapshot >"$TMP/after1"
same_set "$TMP/before1" "$TMP/after1" "after the stop: exactly the modules loaded before, rpcrdma included"
all_passed || diag_file "$TMP/init1.out" 30
rm -rf /run/drvkit "$TERMLOG"

# ---- 2: a filesystem on NVMe over RDMA (soft-RoCE) ----
rxe_up() {
	modprobe dummy && ip link add dk0 type dummy && ip addr add 10.99.0.1/24 dev dk0 &&
		ip link set dk0 up && modprobe crc32_generic && modprobe rdma_rxe &&
		rdma link add rxe0 type rxe netdev dk0
}
nvmet_up() {
	modprobe nvmet_rdma && modprobe nvme_rdma && modprobe brd rd_nr=1 rd_size=16384 || return 1
	grep -q configfs /proc/mounts || mount -t configfs configfs /sys/kernel/config || return 1
	mkdir "$CFS/subsystems/$NQN" && echo 1 >"$CFS/subsystems/$NQN/attr_allow_any_host" &&
		mkdir "$CFS/subsystems/$NQN/namespaces/1" &&
		echo -n /dev/ram0 >"$CFS/subsystems/$NQN/namespaces/1/device_path" &&
		echo 1 >"$CFS/subsystems/$NQN/namespaces/1/enable" &&
		mkdir "$CFS/ports/1" && echo rdma >"$CFS/ports/1/addr_trtype" &&
		echo ipv4 >"$CFS/ports/1/addr_adrfam" && echo 10.99.0.1 >"$CFS/ports/1/addr_traddr" &&
		echo 4420 >"$CFS/ports/1/addr_trsvcid" &&
		ln -s "$CFS/subsystems/$NQN" "$CFS/ports/1/subsystems/$NQN"
}
fab_up() {
	echo "transport=rdma,traddr=10.99.0.1,trsvcid=4420,nqn=$NQN" >/dev/nvme-fabrics &&
		{ wait_for 30 test -b /dev/nvme0n1 || { echo "no /dev/nvme0n1 after 30 s"; false; }; } &&
		mke2fs -q /dev/nvme0n1 >/dev/null &&
		modprobe crc32c_generic && modprobe ext4 && mkdir -p /mnt/fab && mount -t ext2 /dev/nvme0n1 /mnt/fab &&
		echo dkvm >/mnt/fab/hello
}
if ! rxe_up >"$TMP/rxe.out" 2>&1; then
	diag "no soft-RoCE link in this guest: $(tr '\n' ' ' <"$TMP/rxe.out") $(dmesg | tail -n 5 | tr '\n' ' ')"
	skip "an rxe link on a dummy netdev (needs rdma(8) in the initramfs and rdma_rxe)"
	skip "NVMe over RDMA mount: not possible without an rxe link"
else
	ok 0 "soft-RoCE: rxe0 on dummy dk0 (10.99.0.1)"
	nvmet_up >"$TMP/nvmet.out" 2>&1
	okf $? "nvmet-rdma target exports /dev/ram0 as $NQN on 10.99.0.1:4420" "$TMP/nvmet.out"
	fab_up >"$TMP/fab.out" 2>&1
	rc=$?
	okf "$rc" "nvme-rdma connects to it: /dev/nvme0n1, ext2 mounted on /mnt/fab" "$TMP/fab.out"
	[ "$rc" -eq 0 ] ||
		diag "$(ls /dev | grep nvme | tr '\n' ' ') nvme0: $(cat /sys/class/nvme/nvme0/state 2>/dev/null); $(dmesg | grep -iE 'nvme|rxe|rdma' | tail -n 12 | tr '\n' '|')"
	diag "nvme0 transport: $(cat /sys/class/nvme/nvme0/transport 2>/dev/null); $(grep /mnt/fab /proc/1/mountinfo)"
	mods_snapshot >"$TMP/before2"
	timeout 120 "$DRVKIT" init --config "$CFG" >"$TMP/init2.out" 2>&1
	rc=$?
	is "$rc" 1 "drvkit init with /mnt/fab on NVMe over RDMA: refused (exit 1)"
	like "$TMP/init2.out" "replace: refused before unloading anything: component rdma replaces in-tree modules, but mounted filesystems depend on them: /mnt/fab \(ext2 on /dev/nvme0n1\) needs nvme_rdma \[NVMe over Fabrics, transport rdma \(controller nvme0\)\], which would be unloaded" \
		"the error names the mount, its device and nvme_rdma"
	diag "$(grep -m1 'refused before unloading' "$TMP/init2.out")"
	like "$TERMLOG" "/mnt/fab \(ext2 on /dev/nvme0n1\) needs nvme_rdma" "and so does the termination log"
	unlike "$TMP/init2.out" "unloaded |inserted " "nothing unloaded, nothing inserted"
	mods_snapshot >"$TMP/after2"
	same_set "$TMP/before2" "$TMP/after2" "the loaded modules are exactly those before"
	is "$(cat /mnt/fab/hello 2>/dev/null)" dkvm "the filesystem is still mounted and readable"
	"$DRVKIT" init --config "$CFG" --dry-run >"$TMP/dry.out" 2>&1
	is "$?" 1 "--dry-run refuses too"
	all_passed || diag_file "$TMP/init2.out" 30
	umount /mnt/fab
	echo 1 >/sys/class/nvme/nvme0/delete_controller 2>/dev/null
	rm -f "$CFS/ports/1/subsystems/$NQN"
	rmdir "$CFS/ports/1" "$CFS/subsystems/$NQN/namespaces/1" "$CFS/subsystems/$NQN" 2>/dev/null
fi
rdma link del rxe0 2>/dev/null
rm -rf /run/drvkit "$TERMLOG"
cleanup_modules
