#!/bin/bash
# drvkit init when the start fails part way, with the preload shim: the rollback
# (unload what this run loaded, restore what it replaced), a rollback that cannot
# finish (a module in use) and the next instance adopting what is left, a failed
# replace phase, and the protect list that refuses `replaces` while storage
# RDMA or GPUDirect users hold the modules.
# Each case is a function on its own fixture (run_case, init-lib.sh): one that
# fails hides none of the next.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

sysfs_modules() { ls "$HOST/sys/module" | tr '\n' ' ' | sed 's/ $//'; }

# the 3rd module fails to load: the first two are unloaded again
case_fail3() {
	new_host fail3
	config fail3
	DK_SHIM_FAIL=dktest_params:ENOEXEC run_init
	is "$rc" 3 "ENOEXEC at the 3rd module: exit 3 (bad input)"
	is "$(shimlog 'insert|delete|fail')" \
		"insert:dktest_export insert:dktest_user fail:dktest_params delete:dktest_user delete:dktest_export" \
		"the two modules this run loaded are unloaded, in reverse order"
	both "load: component example: insert dktest_params \(.*/dktest_params\.ko\): Exec format error" \
		"names the phase, component, module, file and errno"
	both "^rolled back in [0-9]+ ms: unloaded dktest_user, dktest_export; restored nothing" "says what was rolled back"
	both "hint: the module was built for another kernel" "and the fix"
	is "$(sysfs_modules)" "" "no module left loaded"
	ok $([ ! -e "$READY" ] && [ ! -e "$STATE/state.json" ] && echo 0 || echo 1) "no ready file, no state file"
	like "$STATE/status.json" '"phase": "failed"' "status.json says failed"
	like "$STATE/status.json" '"error": ".*rolled back' "with the rollback"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	is "$rc" 4 "drvkit status after a rolled-back start: exit 4"
	like "$TMP/err" "no drvkit state in $STATE: nothing loaded by drvkit init is left" "and says why"
}

# the module's init refuses (ENODEV, as nvidia without a GPU): the lines it printed to the
# kernel log are in the error on stderr, in status.json and in the termination log
case_kmsg() {
	new_host kmsg
	config kmsg "" "      - name: dktest_fail"
	mkdir -p "$HOST/printk"
	printf '3,1,100,-;dktest_fail: an earlier attempt\n' >"$HOST/kmsg"
	printf '%s\n' "4,2,200,-;dktest_fail: loading out-of-tree module taints kernel." \
		"6,3,201,-;DKFAIL: probing for dktest hardware" " SUBSYSTEM=module" \
		"3,4,202,-;dktest_fail: no dktest device found" >"$HOST/printk/dktest_fail.kmsg"
	DK_SHIM_FAIL=dktest_fail:ENODEV DK_SHIM_KMSG=$HOST/kmsg DK_SHIM_PRINTK=$HOST/printk run_init
	is "$rc" 1 "ENODEV at the 4th module: exit 1"
	both "load: component example: insert dktest_fail \(.*/dktest_fail\.ko\): No such device — kernel log: dktest_fail: no dktest device found" \
		"the module's own kernel log line is part of the error"
	like "$STATE/status.json" '"error": ".*insert dktest_fail .*: No such device — kernel log: dktest_fail: no dktest device found' \
		"and of status.json"
	for f in "$TMP/init.err" "$TERMLOG" "$STATE/status.json"; do
		unlike "$f" "earlier attempt|taints kernel|DKFAIL" "no older, taint or unnamed line in ${f##*/}"
	done
	is "$(shimlog 'insert|delete|fail')" \
		"insert:dktest_export insert:dktest_user insert:dktest_params fail:dktest_fail delete:dktest_params delete:dktest_user delete:dktest_export" \
		"what was loaded before is rolled back"
	is "$(sysfs_modules)" "" "no module left loaded"
}

# the rollback cannot finish: a module in use stays, the state file says so
case_stuck() {
	new_host stuck
	GRACE=1 config stuck
	DK_SHIM_FAIL=dktest_params:EKEYREJECTED DK_SHIM_BUSY=dktest_export:-1 run_init
	is "$rc" 1 "EKEYREJECTED, rollback blocked: exit 1"
	# init's own clock (the message says how long it waited): wall-clock time on
	# a loaded machine also counts the process start
	ok $([ "$(waited_s "$TERMLOG")" -le 2 ] && echo 0 || echo 1) \
		"the rollback gave up within the grace period (1 s; waited $(waited_s "$TERMLOG") s, $ms ms in all)"
	both "insert dktest_params .*Key was rejected by service" "names the module and the errno"
	both "configure signing with a key enrolled in MOK" "and the fix"
	both "^rollback incomplete: unloaded dktest_user; restored nothing; still loaded: dktest_export \(unload dktest_export: in use" \
		"says exactly which module stays loaded and why"
	both "state\.json describes what is left: the next drvkit init adopts or cleans it up" "and where that is written"
	like "$STATE/state.json" '"name": "dktest_export"' "the state file lists the module left loaded"
	unlike "$STATE/state.json" '"name": "dktest_user"' "and not the one unloaded"
	is "$(sysfs_modules)" "dktest_export" "only dktest_export is loaded"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	is "$rc" 0 "drvkit status shows it"
	like "$TMP/out" "^dktest_export +loaded" "as loaded"
	: >"$SHIMLOG"
	start_init
	if wait_ready; then ok 0 "the next instance gets ready"; else ok 1 "the next instance gets ready"; fi
	is "$(shimlog insert)" "insert:dktest_user insert:dktest_params" "it adopts dktest_export instead of loading it again"
	like "$STATE/status.json" '"action": "adopted"' "status.json says adopted"
	stop_init TERM
	is "$rc" 0 "and unloads everything on SIGTERM"
	is "$(sysfs_modules)" "" "nothing left"
}

# adopted modules are not ours to unload on a failed start
case_adopt() {
	new_host adopt
	config adopt
	sed -i '/- name: dktest_params/d; /params:/d' "$CFG"
	start_init
	wait_ready || diag "init did not get ready"
	stop_init KILL
	config adopt
	: >"$SHIMLOG"
	DK_SHIM_FAIL=dktest_params:ENOEXEC run_init
	is "$(shimlog 'insert|delete|fail')" "fail:dktest_params" "a failed start leaves its predecessor's modules alone"
	both "^nothing to roll back: this run had not loaded or unloaded any module yet" "says there was nothing to undo"
	both "^kept loaded: dktest_user, dktest_export \(loaded by a previous drvkit init" "and names what it kept"
	like "$STATE/state.json" '"name": "dktest_export"' "still in the state file"
}

intree() { # intree NAME: the in-tree dktest_export and its user loaded on $HOST
	new_host_tree "$1"
	dk load --host-root "$HOST" --kernel "$KVER" \
		"$HOST/lib/modules/$KVER/kernel/drivers/dktest/dktest_user.ko" >/dev/null 2>&1
	echo INTREE0000000000000000 >"$HOST/sys/module/dktest_export/srcversion"
	: >"$SHIMLOG"
}

# replaces: a failed start reloads the in-tree modules, even with restore: false
case_replaces_restore() {
	if ! command -v depmod >/dev/null; then
		for i in $(seq 6); do skip "depmod not installed"; done
		return
	fi
	intree restore
	config restore "" "    replaces: [ dktest_export ]
    restore: false"
	sed -i '/- name: dktest_user/d' "$CFG"
	DK_SHIM_FAIL=dktest_params:EKEYREJECTED run_init
	is "$rc" 1 "replaces + a load failure: exit 1"
	is "$(shimlog 'insert|delete|fail')" \
		"delete:dktest_user delete:dktest_export insert:dktest_export fail:dktest_params delete:dktest_export insert:dktest_export insert:dktest_user" \
		"ours unloaded, then the in-tree module and its user reloaded (providers first)"
	both "^rolled back in [0-9]+ ms: unloaded dktest_export; restored dktest_export, dktest_user" \
		"the message names what was unloaded and restored"
	is "$(sysfs_modules)" "dktest_export dktest_user" "the in-tree modules are back"
	ok $([ ! -e "$STATE/state.json" ] && echo 0 || echo 1) \
		"no state file left (nothing of ours loaded, nothing replaced)"
}

# the replace phase fails half way: what it removed comes back
case_replace_fails() {
	if ! command -v depmod >/dev/null; then
		for i in $(seq 7); do skip "depmod not installed"; done
		return
	fi
	intree replace6
	GRACE=1 config replace6 "" "    replaces: [ dktest_export ]"
	sed -i '/- name: dktest_user/d' "$CFG"
	DK_SHIM_BUSY=dktest_export:-1 run_init
	is "$rc" 1 "replace fails (in-tree module in use): exit 1"
	is "$(shimlog 'insert|delete|fail')" "delete:dktest_user insert:dktest_user" \
		"the user already unloaded is loaded again, nothing of ours loaded"
	both "replace: component example: unload dktest_export: in use \(refcnt [0-9]+, holders: none\)" \
		"names the phase, component, module and why"
	both "^rolled back in [0-9]+ ms: unloaded nothing; restored dktest_user" "and the rollback"
	is "$(sysfs_modules)" "dktest_export dktest_user" "the node is as it was"
}

# protect list: refuse replaces before unloading anything
case_protect() {
	protect_host protect
	config protect "" "    replaces: [ dktest_export ]"
	sed -i '/- name: dktest_user/d' "$CFG"
	run dk init --config "$CFG" --dry-run
	is "$rc" 0 "without a protected user: the replace is planned"
	like "$TMP/out" "unload +dktest_export" "(the baseline)"
	fake_holder ib_iser dktest_export
	run_init
	is "$rc" 1 "ib_iser holds the module to replace: exit 1"
	both "replace: refused before unloading anything: component example replaces in-tree modules, but ib_iser \(iSCSI over RDMA \(iSER\) initiator\) holds dktest_export" \
		"names the protecting module and what it holds"
	both "unmount the iSER/NFS-RDMA/NVMe-oF/SMB Direct users .*or drain the node" "says what to do"
	is "$(shimlog 'insert|delete')" "" "nothing unloaded or loaded"
	run dk init --config "$CFG" --dry-run
	is "$rc" 1 "--dry-run refuses too"
}

# a user two levels up: nvidia_peermem holds dktest_user, which holds dktest_export
case_protect_two_levels() {
	protect_host peermem
	config peermem "" "    replaces: [ dktest_export ]"
	sed -i '/- name: dktest_user/d' "$CFG"
	fake_holder nvidia_peermem dktest_user
	run_init
	both "nvidia_peermem \(GPUDirect RDMA\) holds dktest_user" "a protected user of a user is found"
	is "$(shimlog 'insert|delete')" "" "nothing unloaded"
}

# protected_modules adds to the list
case_protect_config() {
	protect_host extra
	config extra "protected_modules: [ dktest-user ]" "    replaces: [ dktest_export ]"
	sed -i '/- name: dktest_user/d' "$CFG"
	run_init
	is "$rc" 1 "protected_modules: refused"
	both "dktest_user \(listed in protected_modules\) holds dktest_export" "names the configured module"
	is "$(shimlog 'insert|delete')" "" "nothing unloaded"
}

# a module the config itself replaces does not protect
case_protect_replaced() {
	protect_host extra2
	config extra2 "protected_modules: [ dktest_user ]" "    replaces: [ dktest_export, dktest_user ]"
	sed -i '/- name: dktest_user/d' "$CFG"
	run dk init --config "$CFG" --dry-run
	is "$rc" 0 "a protected module listed under replaces may go"
	printf 'protected_modules: ib_iser\ncomponents: []\n' >"$TMP/badp.yaml"
	run dk init --config "$TMP/badp.yaml"
	like "$TMP/err" "badp.yaml:1:20: protected_modules: expected a list of module names" "protected_modules must be a list"
}

run_case case_fail3
run_case case_kmsg
run_case case_stuck
run_case case_adopt
run_case case_replaces_restore
run_case case_replace_fails
run_case case_protect
run_case case_protect_two_levels
run_case case_protect_config
run_case case_protect_replaced

done_testing
