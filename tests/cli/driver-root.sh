#!/bin/bash
# drvkit init's driver root (driver_root:) with real mounts in a private mount namespace
# of its own (the script re-executes itself under unshare; it needs root) and the
# preload shim for the module syscalls: the bind shows the container's files, the
# mounts below /sys are not copied, a shared parent carries it to a peer (the host's
# view), SIGTERM detaches it, a SIGKILLed predecessor's mount is detached by the next
# start, the firmware path points into it; config errors; a failed mount rolls back.
if [ -z "${DK_DRIVER_ROOT_NS:-}" ]; then
	if [ "$(id -u)" = 0 ] && unshare --mount --propagation private true 2>/dev/null; then
		DK_DRIVER_ROOT_NS=1 exec unshare --mount --propagation private "$0" "$@"
	fi
	echo "1..0 # SKIP needs root and unshare --mount"
	exit 0
fi
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

# mounts_at PATH: how many mounts sit exactly at PATH in this namespace
mounts_at() { awk -v p="$1" '$5 == p' /proc/self/mountinfo | wc -l; }

# A container root $CTR with a binary, a firmware file, /sys (a tmpfs) and a mount
# below it (cgroup); $DRV the driver root under $RUN. With "shared", $RUN is a shared
# tmpfs and $HOSTRUN its peer: what the host sees through a Bidirectional hostPath.
fixture() {
	CTR=$TMP/ctr
	RUN=$TMP/run
	HOSTRUN=$TMP/hostrun
	DRV=$RUN/nvidia/driver
	mkdir -p "$CTR/usr/bin" "$CTR/lib/firmware/nvidia" "$CTR/sys" "$RUN" "$HOSTRUN"
	echo "nvidia-smi of the container" >"$CTR/usr/bin/nvidia-smi"
	echo gsp >"$CTR/lib/firmware/nvidia/gsp.bin"
	mount -t tmpfs sysfs-stand-in "$CTR/sys"
	echo sysfs >"$CTR/sys/marker"
	mkdir -p "$CTR/sys/fs/cgroup"
	mount -t tmpfs cgroup-stand-in "$CTR/sys/fs/cgroup"
	echo cgroup >"$CTR/sys/fs/cgroup/marker"
	atexit "umount -l '$CTR/sys' 2>/dev/null"
	if [ "${1:-}" = shared ]; then
		mount -t tmpfs run "$RUN"
		mount --make-shared "$RUN"
		mount --bind "$RUN" "$HOSTRUN"
		atexit "umount -l '$HOSTRUN' 2>/dev/null; umount -l '$RUN' 2>/dev/null"
	fi
	atexit "umount -R -l '$DRV' 2>/dev/null"
	mkdir -p "$HOST/sys/module/firmware_class/parameters"
	: >"$HOST/sys/module/firmware_class/parameters/path"
}

case_bind() {
	new_host bind
	fixture shared
	config bind "driver_root: $DRV//
driver_root_source: $CTR"
	run dk init --config "$CFG" --dry-run
	like "$TMP/out" "^  mount +$DRV +bind $CTR here \(recursive, without the mounts below $CTR/sys\)" \
		"--dry-run: the plan names the mount"
	like "$TMP/out" "^  firmware +$DRV/lib/firmware " "--dry-run: firmware path defaults into the driver root"
	is "$(mounts_at "$DRV")" 0 "--dry-run mounts nothing"
	start_init
	if wait_ready; then ok 0 "ready with a driver root"; else ok 1 "ready with a driver root"; fi
	is "$(cat "$DRV/usr/bin/nvidia-smi" 2>&1)" "nvidia-smi of the container" "the container's files are under the driver root"
	is "$(mounts_at "$DRV")" 1 "one mount at the driver root"
	is "$(cat "$DRV/sys/marker" 2>&1)" sysfs "/sys itself is bound"
	is "$(mounts_at "$DRV/sys/fs/cgroup")" 0 "the mount below /sys is not copied"
	ok $([ ! -e "$DRV/sys/fs/cgroup/marker" ] && echo 0 || echo 1) "nothing of the cgroup mount shows under the driver root"
	is "$(cat "$HOSTRUN/nvidia/driver/usr/bin/nvidia-smi" 2>&1)" "nvidia-smi of the container" \
		"the shared parent's peer (the host) sees the driver root"
	is "$(cat "$HOST/sys/module/firmware_class/parameters/path")" "$DRV/lib/firmware" "firmware path set into the driver root"
	is "$(cat "$(cat "$HOST/sys/module/firmware_class/parameters/path")/nvidia/gsp.bin" 2>&1)" gsp "the firmware is found there"
	like "$TMP/init.err" "info: driver root: $CTR bound onto $DRV " "the bind is logged"
	unlike "$TMP/init.err" "does not propagate" "no propagation warning under a shared parent"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
	is "$(mounts_at "$DRV")" 0 "SIGTERM detaches the driver root"
	is "$(mounts_at "$HOSTRUN/nvidia/driver")" 0 "and the host's copy goes with it"
	like "$TMP/init.err" "info: driver root: $DRV detached" "the detach is logged"
	a=$(grep -n 'driver root: .* detached' "$TMP/init.err" | head -1 | cut -d: -f1)
	b=$(grep -n 'unloaded\|delete' "$TMP/init.err" | head -1 | cut -d: -f1)
	ok $([ "${a:-9999}" -lt "${b:-0}" ] && echo 0 || echo 1) "detached before the modules unload"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "modules unloaded after it"
}

case_private_parent_warns() {
	new_host private
	fixture
	config private "driver_root: $DRV
driver_root_source: $CTR"
	start_init
	wait_ready || diag "init did not get ready"
	like "$TMP/init.err" "warn: driver root: $DRV is mounted, but the mount holding it \(.*\) does not propagate .*mountPropagation: Bidirectional" \
		"a parent that is not shared: warned that the host does not see it"
	stop_init TERM
	is "$(mounts_at "$DRV")" 0 "detached on SIGTERM"
}

case_stale() {
	new_host stale
	fixture shared
	config stale "driver_root: $DRV
driver_root_source: $CTR"
	start_init
	wait_ready || diag "init did not get ready"
	stop_init KILL
	is "$(mounts_at "$DRV")" 1 "a SIGKILLed init leaves its driver root mounted"
	echo stale-marker >"$CTR/stale-check"
	start_init
	if wait_ready; then ok 0 "the next init gets ready"; else ok 1 "the next init gets ready"; fi
	like "$TMP/init.err" "info: driver root: detached a stale mount at $DRV \(1 mount, left by a drvkit init that was killed\)" \
		"it detached the stale mount and says so"
	is "$(mounts_at "$DRV")" 1 "one mount at the driver root, not two stacked"
	is "$(mounts_at "$HOSTRUN/nvidia/driver")" 1 "one on the host's side too"
	stop_init TERM
	is "$(mounts_at "$DRV")" 0 "SIGTERM leaves none"
}

case_config_errors() {
	new_host cfgerr
	config root "driver_root: /"
	run dk init --config "$CFG" --dry-run
	is "$rc" 3 "driver_root: / is refused: exit 3"
	like "$TMP/err" "root.yaml:[0-9]+:[0-9]+: driver_root: the driver root cannot be / itself" "and says why, with file:line:column"
	config dots "driver_root: /run/nvidia/../driver"
	run dk init --config "$CFG" --dry-run
	is "$rc" 3 "driver_root with .. is refused: exit 3"
	like "$TMP/err" "dots.yaml:[0-9]+:[0-9]+: driver_root: '.' and '..' are not allowed here" "and says why"
	config rel "driver_root: run/nvidia/driver"
	run dk init --config "$CFG" --dry-run
	is "$rc" 3 "a relative driver_root is refused: exit 3"
	config fw "driver_root: /run/nvidia/driver
firmware_path: /lib/firmware/mine"
	run dk init --config "$CFG" --dry-run
	like "$TMP/out" "^  firmware +/lib/firmware/mine " "an explicit firmware_path wins over the driver root's"
}

case_mount_fails() {
	new_host fail
	fixture
	config fail "driver_root: $DRV
driver_root_source: $TMP/no-such-root"
	run dk init --config "$CFG"
	is "$rc" 4 "a driver root source that does not exist: exit 4"
	like "$TMP/err" "driver root: bind $TMP/no-such-root onto $DRV: No such file or directory" "the message names both paths"
	like "$TERMLOG" "driver root: bind $TMP/no-such-root onto $DRV" "the termination log says it"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "the modules loaded are rolled back"
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "no ready file"
	is "$(mounts_at "$DRV")" 0 "nothing mounted"
}

run_case case_bind
run_case case_private_parent_warns
run_case case_stale
run_case case_config_errors
run_case case_mount_fails

done_testing
