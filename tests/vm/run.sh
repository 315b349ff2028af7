#!/bin/bash
# VM test suite (TAP): boots Debian's kernel and a signature-enforcing test kernel under
# qemu-system-x86_64 -accel tcg, runs the guest scenarios (tests/vm/guest/scenarios) grouped
# into a few boots, and turns the guest's "DKVM:" console lines into TAP. A boot that does not
# print its end marker is a failure, never a skip.
# Usage: run.sh [DRVKIT]     (meson passes the binary; DK_BUILDDIR as set by meson test)
# Env: DK_VM_GROUPS="debian enforcing ..." runs only those groups; DK_VM_TIMEOUT per boot (s).
# Serial logs: $DK_BUILDDIR/vm/logs/<group>.log (the tail is printed on failure).
set -uo pipefail
DK_SRCDIR=${DK_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
DK_BUILDDIR=${DK_BUILDDIR:-$DK_SRCDIR/build}
DRVKIT=${1:-${DRVKIT:-$DK_BUILDDIR/drvkit}}
DRVKIT=$(realpath "$DRVKIT")
export DK_SRCDIR DK_BUILDDIR DRVKIT
. "$DK_SRCDIR/tests/vm/common.sh"
. "$DK_SRCDIR/tests/vm/image.sh"
. "$DK_SRCDIR/tests/vm/ofed.sh"
. "$DK_SRCDIR/tests/vm/storage.sh"

n=0
fails=0
tap() { # tap STATUS DESC
	n=$((n + 1))
	if [ "$1" -eq 0 ]; then echo "ok $n - $2"; else
		echo "not ok $n - $2"
		fails=$((fails + 1))
	fi
}

# Groups: name kernel(debian|enforcing) scenarios extra-cmdline
groups=(
	"harness debian load-fail,harness,load-cli,demo"
	"lifecycle debian init-lifecycle,init-busy,init-restart,pid1"
	"replace debian replace-intree,bench"
	"sigenforce debian sigenforce-debian module.sig_enforce=1"
	"enforcing enforcing harness-enforce,enforce-init"
	"build debian init-build"
	"nvidia nvidia init-nvidia"
	"image image image-run"
	"ofed ofed ofed-replace,ofed-three,ofed-protected"
	"blockers debian init-blockers"
	"storage storage storage-rdma"
)
want=${DK_VM_GROUPS:-}

t_start=$(date +%s)
vm_need
prep_debian=0 prep_enf=0 prep_nv=0 prep_img=0 prep_ofed=0 prep_storage=0
for g in "${groups[@]}"; do
	read -r name kind _ <<<"$g"
	[ -n "$want" ] && [[ " $want " != *" $name "* ]] && continue
	[ "$kind" = debian ] && prep_debian=1
	[ "$kind" = enforcing ] && prep_enf=1
	[ "$kind" = nvidia ] && prep_debian=1 prep_nv=1
	[ "$kind" = image ] && prep_debian=1 prep_img=1
	[ "$kind" = ofed ] && prep_debian=1 prep_ofed=1
	[ "$kind" = storage ] && prep_debian=1 prep_storage=1
done
if [ "$prep_debian" -eq 1 ]; then
	mkdir -p "$VM_DIR"
	vm_prepare_debian 2>"$VM_DIR/prepare-debian.err"
	tap $? "prepare Debian kernel ${VM_DEB_KVER:-?} initramfs (drvkit, busybox, test modules)"
	sed 's/^/# /' "$VM_DIR/prepare-debian.err"
fi
if [ "$prep_nv" -eq 1 ] && [ -n "${VM_DEB_KVER:-}" ]; then
	echo "# vm: nvidia: drvkit build of Debian's nvidia-kernel-source (cached; a cold build takes about 3 min)"
	t0=$(date +%s)
	vm_prepare_nvidia 2>"$VM_DIR/prepare-nvidia.err"
	tap $? "prepare the NVIDIA set: drvkit build of nvidia ${NV_VERSION:-?} for ${VM_DEB_KVER}, its cache entry in an initramfs"
	echo "# vm: nvidia: prepared in $(($(date +%s) - t0)) s"
	sed 's/^/# /' "$VM_DIR/prepare-nvidia.err"
fi
if [ "$prep_ofed" -eq 1 ] && [ -n "${VM_DEB_KVER:-}" ]; then
	echo "# vm: ofed: drvkit build of OFED + nvidia + nv_peer_mem (machine-wide cache; a cold build takes about 20 min)"
	t0=$(date +%s)
	vm_prepare_ofed 2>"$VM_DIR/prepare-ofed.err"
	tap $? "prepare the OFED set: drvkit build of ofed, nvidia, nv_peer_mem for ${VM_DEB_KVER}, their cache entries + the in-tree RDMA stack in an initramfs"
	echo "# vm: ofed: drvkit build took ${VM_OFED_BUILD_S:-?} s (a hit when cached), prepared in $(($(date +%s) - t0)) s"
	sed 's/^/# /' "$VM_DIR/prepare-ofed.err"
fi
if [ "$prep_storage" -eq 1 ] && [ -n "${VM_DEB_KVER:-}" ]; then
	vm_prepare_storage 2>"$VM_DIR/prepare-storage.err"
	tap $? "prepare the storage set: the in-tree RDMA stack, rpcrdma, nvme-rdma, nvmet-rdma, rdma_rxe and rdma(8) in an initramfs"
	sed 's/^/# /' "$VM_DIR/prepare-storage.err"
fi
if [ "$prep_img" -eq 1 ] && [ -n "${VM_DEB_KVER:-}" ]; then
	echo "# vm: image: Debian 12 base (debootstrap, cached), build + precompiled images (buildah vfs; cached in its storage)"
	vm_prepare_image 2>"$VM_DIR/prepare-image.err"
	tap $? "prepare the image set: the dktest precompiled image for ${VM_DEB_KVER} built with scripts/build-images, its root filesystem as an initramfs"
	echo "# vm: image: prepared in ${VM_IMG_PREP_S:-?} s (${VM_IMG_TIMES:-})"
	echo "# vm: image: sizes: ${VM_IMG_SIZES:-?}"
	sed 's/^/# /' "$VM_DIR/prepare-image.err"
	img_no_compiler "${VM_IMG_REF:-}" 2>&1 | sed 's/^/# /'
	tap "${PIPESTATUS[0]}" "the precompiled image ${VM_IMG_REF:-?} holds no compiler, make or kernel headers"
fi
if [ "$prep_enf" -eq 1 ]; then
	echo "# vm: enforcing kernel: tests/vm/build-kernel.sh (cached; a cold build takes about 10 min)"
	vm_prepare_enforcing 2>"$VM_DIR/prepare-enforcing.err"
	tap $? "prepare enforcing test kernel ${VM_ENF_KVER:-?} and its initramfs"
	echo "# vm: enforcing kernel: ${VM_ENF_KBUILD_S:-?} s now; its build took $(cat "${VM_ENF_KERNEL%/*}/build-seconds" 2>/dev/null || echo ?) s (cache ${VM_ENF_KERNEL%/*})"
	sed 's/^/# /' "$VM_DIR/prepare-enforcing.err"
	tap "$([ "${VM_ENF_SIGNER:-}" = drvkit ] && echo 0 || echo 1)" \
		"test modules signed with drvkit sign (signer used: ${VM_ENF_SIGNER:-none})"
	for m in dktest_params dktest_export dktest_user; do
		cmp -s "$VM_DIR/enf-signed/$m.ko" "$VM_DIR/enf-signfile/$m.ko"
		tap $? "$m.ko signed by ${VM_ENF_SIGNER:-?} is byte-identical to the kernel's scripts/sign-file"
	done
fi

for g in "${groups[@]}"; do
	read -r name kind scen extra <<<"$g"
	[ -n "$want" ] && [[ " $want " != *" $name "* ]] && continue
	log=$VM_DIR/logs/$name.log
	VM_MEM=512 VM_TIMEOUT=${DK_VM_TIMEOUT:-300}
	if [ "$kind" = debian ]; then
		kernel=${VM_DEB_KERNEL:-} initrd=${VM_DEB_INITRD:-}
	elif [ "$kind" = nvidia ]; then
		# 130 MB of modules in the initramfs, and nvidia.ko copied in by init_module
		kernel=${VM_DEB_KERNEL:-} initrd=${VM_NV_INITRD:-} VM_MEM=1536
	elif [ "$kind" = ofed ]; then
		# OFED's 32 modules and the NVIDIA entry (about 130 MB) in the initramfs, and the
		# modules copied in by init_module
		kernel=${VM_DEB_KERNEL:-} initrd=${VM_OFED_INITRD:-} VM_MEM=2048
		VM_TIMEOUT=${DK_VM_TIMEOUT:-900} # three scenarios, nvidia.ko inserted once (TCG)
	elif [ "$kind" = storage ]; then
		# the RDMA stack, nvme and nvmet, and an 8 MiB RAM disk exported over soft-RoCE
		kernel=${VM_DEB_KERNEL:-} initrd=${VM_STORAGE_INITRD:-} VM_MEM=768
	elif [ "$kind" = image ]; then
		# the image's whole root filesystem unpacked in RAM (about 200 MB)
		kernel=${VM_DEB_KERNEL:-} initrd=${VM_IMG_INITRD:-} VM_MEM=1024
	else
		kernel=${VM_ENF_KERNEL:-} initrd=${VM_ENF_INITRD:-}
	fi
	if [ -z "$kernel" ] || [ -z "$initrd" ]; then
		tap 1 "boot $name: no kernel/initramfs (preparation failed)"
		continue
	fi
	t0=$(date +%s.%N)
	vm_boot "$kernel" "$initrd" "$scen" "$log" ${extra:-}
	ended=$?
	secs=$(printf '%.1f' "$(echo "$(date +%s.%N) - $t0" | bc)")
	echo "# boot $name ($kind kernel, $scen${extra:+, $extra}): ${secs}s, log $log"
	bad=0
	while IFS= read -r line; do
		# the guest numbers per scenario (tests/tap.sh), /init's own lines are unnumbered
		if [[ $line =~ ^DKVM:\ (not\ )?ok(\ [0-9]+)?\ -\ (.*)$ ]]; then
			if [ -n "${BASH_REMATCH[1]}" ]; then
				tap 1 "${BASH_REMATCH[3]}"
				bad=1
			else
				tap 0 "${BASH_REMATCH[3]}"
			fi
		elif [[ $line == "DKVM: #"* ]]; then
			echo "#${line#DKVM: #}"
		fi
	done < <(grep -a '^DKVM: ' "$log" 2>/dev/null)
	tap "$ended" "boot $name reached its end marker"
	if [ "$ended" -ne 0 ] || [ "$bad" -ne 0 ]; then
		echo "# --- tail of $log ---"
		tail -n 40 "$log" 2>/dev/null | sed 's/^/#   /'
		[ -s "$log.qemu" ] && sed 's/^/#   qemu: /' "$log.qemu"
	fi
done
echo "# vm suite: $n tests, $fails failed, $(($(date +%s) - t_start)) s"
echo "1..$n"
[ "$fails" -eq 0 ]
