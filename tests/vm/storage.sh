# Host side of the `storage` VM group (bash; sourced by tests/vm/run.sh after common.sh).
# Debian's kernel with its in-tree RDMA stack and the storage users on top of it: rpcrdma
# (NFS over RDMA), nvme-rdma and nvmet-rdma (NVMe over Fabrics host and target), soft-RoCE
# (rdma_rxe, and crc32_generic: rxe allocates the "crc32" hash, ENOENT without it) on a
# dummy netdev, brd (a RAM disk to export) and ext4 (+ crc32c_generic: ext4 mounts fail
# with ENOENT without a "crc32c" hash) to mount what the
# NVMe-oF host sees), with iproute2's `rdma` (busybox has none) and its libraries to add
# the rxe link. The test modules (dktest_export, dktest_params) stand for the replacing
# stack, as in the replace group.
#   vm_prepare_storage -> VM_STORAGE_INITRD
# The guest's scenario: tests/vm/guest/scenarios/storage-rdma.sh.
STORAGE_VM_HOSTMODS="rpcrdma nvme-rdma nvmet-rdma rdma_rxe ib_uverbs dummy brd ext4 crc32_generic crc32c_generic"

vm_prepare_storage() {
	local kver=$VM_DEB_KVER mods rdma lib adds=()
	mods=$("$DK_SRCDIR/tests/modules/build.sh" "$DK_BUILDDIR/test-modules" "$kver") || return 1
	rdma=$(command -v rdma || true)
	if [ -n "$rdma" ]; then
		adds+=(--add "$rdma:/bin/rdma")
		for lib in $(ldd "$rdma" | awk '/=> \//{print $3} /^\t\/[^ ]*ld-linux/{print $1}'); do
			adds+=(--add "$lib:$lib")
		done
	else
		vm_note "storage: no rdma tool (iproute2) on this host: the guest cannot add an rxe link"
	fi
	VM_STORAGE_INITRD=$("$DK_SRCDIR/tests/vm/mkinitramfs.sh" "$VM_DIR" "$kver" \
		--drvkit "$DRVKIT" --host-modules "$STORAGE_VM_HOSTMODS" \
		--add "$mods/dktest_params.ko:/dk/mods/dktest_params.ko" \
		--add "$mods/dktest_export.ko:/dk/mods/dktest_export.ko" \
		"${adds[@]}")
}
