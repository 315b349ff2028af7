#!/bin/bash
# drvkit load / unload against the real test modules, with the preload shim
# standing in for the kernel (tests/preload/kmod-shim.c).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"

# load_three: setup of a case, the three modules loaded with params (fails the case if not)
load_three() {
	cat >"$TMP/params.yaml" <<EOP
dktest_params: { count: 7, label: hello, enable: true }
EOP
	dk load --host-root "$HOST" --kernel "$KVER" --params-file "$TMP/params.yaml" \
		"$MODS/dktest_user.ko" "$MODS/dktest_params.ko" "$MODS/dktest_export.ko" >/dev/null
}

# --- load order and params ---
case_order() {
	new_host order
	cat >"$TMP/params.yaml" <<EOP
dktest_params: { count: 7, label: hello, enable: true }
EOP
	run dk load --host-root "$HOST" --kernel "$KVER" --params-file "$TMP/params.yaml" \
		"$MODS/dktest_user.ko" "$MODS/dktest_params.ko" "$MODS/dktest_export.ko"
	is "$rc" 0 "load three modules"
	is "$(shimlog insert)" "insert:dktest_export insert:dktest_user insert:dktest_params" \
		"dktest_export is inserted before dktest_user whatever the argv order"
	like "$SHIMLOG" '^insert dktest_params count=7 label=hello enable=true$' "params passed to the kernel"
	is "$(cat "$HOST/sys/module/dktest_params/parameters/count")" 7 "param visible in (fake) sysfs"
	is "$(cat "$TMP/out" | tr '\n' ' ')" "loaded dktest_export loaded dktest_user loaded dktest_params " \
		"stdout lists what was loaded"
}
tcase "load order and params" case_order

# --- skip when identical ---
case_skip() {
	new_host skip
	load_three
	: >"$SHIMLOG"
	# a directory of the three ($MODS also holds dktest_fail)
	mkdir -p "$TMP/three"
	cp "$MODS/dktest_user.ko" "$MODS/dktest_params.ko" "$MODS/dktest_export.ko" "$TMP/three/"
	run dk load --host-root "$HOST" --kernel "$KVER" "$TMP/three"
	is "$rc" 0 "loading the same set again succeeds"
	is "$(shimlog insert)" "" "nothing inserted again"
	like "$TMP/out" '^skipped dktest_params$' "identical module is skipped"
}
tcase "skip when identical" case_skip

# --- another build loaded ---
case_differs() {
	new_host differs
	load_three
	echo 0123456789ABCDEF0123456 >"$HOST/sys/module/dktest_params/srcversion"
	run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	is "$rc" 1 "another build loaded: exit 1"
	like "$TMP/err" 'dktest_params is already loaded and differs \(loaded with srcversion 0123456789ABCDEF0123456' \
		"says which srcversion is loaded"
}
tcase "another build loaded" case_differs

# --- unload: reverse order, busy, not loaded ---
case_unload() {
	new_host unload
	load_three
	: >"$SHIMLOG"
	run dk unload --host-root "$HOST" --kernel "$KVER" --wait 0.4 dktest_export
	is "$rc" 1 "unloading a module with a holder fails"
	like "$TMP/err" 'unload dktest_export: in use \(refcnt 1, holders: dktest_user\) after 0\.[4-9] s' \
		"names the holder and refcnt after the wait"
	like "$TMP/err" 'unload the holders first' "says what to do"
	like "$SHIMLOG" '^busy dktest_export' "it was retried"
	t "retried with backoff (at least 3 tries in 0.4 s)" [ "$(grep -c '^busy dktest_export' "$SHIMLOG")" -ge 3 ]

	: >"$SHIMLOG"
	run dk unload --host-root "$HOST" --kernel "$KVER" dktest_export dktest_params dktest_user
	is "$rc" 0 "unload the set"
	is "$(shimlog delete)" "delete:dktest_user delete:dktest_export delete:dktest_params" \
		"users are unloaded before the modules they use"
	t "fake sysfs entry gone" [ ! -e "$HOST/sys/module/dktest_export" ]

	run dk unload --host-root "$HOST" --kernel "$KVER" dktest_params
	is "$rc" 0 "unloading a module that is not loaded is fine"
	like "$TMP/out" '^not loaded dktest_params$' "and says so"
}
tcase "unload: reverse order, busy, not loaded" case_unload

case_busy_moment() {
	new_host busy
	run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	: >"$SHIMLOG"
	DK_SHIM_BUSY=dktest_params:2 run dk unload --host-root "$HOST" --kernel "$KVER" --wait 5 dktest_params
	is "$rc" 0 "a module busy for a moment is unloaded after retries"
	is "$(shimlog 'busy|delete')" "busy:dktest_params busy:dktest_params delete:dktest_params" \
		"two busy answers, then removed"
}
tcase "busy for a moment" case_busy_moment

case_busy_always() {
	new_host busy
	run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	start=$(date +%s%N)
	DK_SHIM_BUSY=dktest_params:-1 run dk unload --host-root "$HOST" --kernel "$KVER" --wait 1 dktest_params
	ms=$((($(date +%s%N) - start) / 1000000))
	is "$rc" 1 "always busy: fails"
	ok $([ "$ms" -ge 900 ] && [ "$ms" -lt 3000 ] && echo 0 || echo 1) "gives up after --wait 1 (took $ms ms)"
	like "$TMP/err" 'in use \(refcnt 0, holders: none\).*stop the processes using it' \
		"no holders: says to stop the processes using it"
}
tcase "always busy" case_busy_always

# --- kernel without CONFIG_MODULE_UNLOAD ---
case_nounload() {
	new_host nounload
	run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	DK_SHIM_NOUNLOAD=1 run dk unload --host-root "$HOST" --kernel "$KVER" dktest_params
	is "$rc" 1 "a kernel that cannot unload: exit 1"
	like "$TMP/err" 'CONFIG_MODULE_UNLOAD' "says the kernel cannot unload"
}
tcase "kernel without CONFIG_MODULE_UNLOAD" case_nounload

# --- kernel answers at insert ---
errors_host() {
	new_host errors
	mkdir -p "$HOST/sys/module/module/parameters"
	echo Y >"$HOST/sys/module/module/parameters/sig_enforce"
}
case_ekeyrejected() {
	errors_host
	DK_SHIM_FAIL=dktest_params:EKEYREJECTED run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	is "$rc" 1 "EKEYREJECTED: exit 1"
	like "$TMP/err" 'insert dktest_params \(.*dktest_params.ko\): Key was rejected by service; sig_enforce=Y' \
		"names step, module, errno in words and sig_enforce"
	like "$TMP/err" '^hint: .*signed by a trusted key; configure signing with a key enrolled in MOK' "EKEYREJECTED hint: signing/MOK"
	is "$(grep -c 'enrolled in MOK' "$TMP/err")" 1 "the MOK hint is printed exactly once"
	is "$(grep -c '^hint: ' "$TMP/err")" 1 "one hint line"
}
tcase "insert fails with EKEYREJECTED" case_ekeyrejected

case_enoexec() {
	errors_host
	DK_SHIM_FAIL=dktest_params:ENOEXEC run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	is "$rc" 3 "ENOEXEC: exit 3 (bad input)"
	like "$TMP/err" 'Exec format error' "ENOEXEC in words"
	like "$TMP/err" 'built for another kernel' "ENOEXEC hint"
}
tcase "insert fails with ENOEXEC" case_enoexec

case_einval() {
	errors_host
	DK_SHIM_FAIL=dktest_params:EINVAL run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	is "$rc" 1 "EINVAL: exit 1"
	like "$TMP/err" 'disagrees about version of symbol.*rebuild against' "EINVAL hint: symbol versions"
}
tcase "insert fails with EINVAL" case_einval

case_enoent() {
	errors_host
	DK_SHIM_FAIL=dktest_params:ENOENT run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	like "$TMP/err" 'unknown symbol.*load the module that provides it first' "ENOENT hint: unknown symbol"
}
tcase "insert fails with ENOENT" case_enoent

case_eperm() {
	errors_host
	DK_SHIM_FAIL=dktest_params:EPERM run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	is "$rc" 5 "EPERM: exit 5"
	like "$TMP/err" "Operation not permitted" "EPERM in words"
	like "$TMP/err" "^hint: .*privileged.*lockdown" "EPERM hint: privileges or lockdown"
}
tcase "insert fails with EPERM" case_eperm

# ENOSYS from init_module: no module loading in this kernel, or seccomp filters it
case_enosys() {
	errors_host
	DK_SHIM_FAIL=dktest_params:ENOSYS run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
	is "$rc" 1 "ENOSYS: exit 1"
	like "$TMP/err" 'insert dktest_params \(.*\): Function not implemented' "ENOSYS in words"
	like "$TMP/err" '^hint: the kernel cannot load modules: .*CONFIG_MODULES.*seccomp' \
		"ENOSYS hint: no module loading or seccomp"
	unlike "$TMP/err" 'unload' "ENOSYS hint: nothing about unloading"
	is "$(grep -c '^hint: ' "$TMP/err")" 1 "ENOSYS: one hint line"
}
tcase "insert fails with ENOSYS" case_enosys

# The MOK advice once, whatever the log settings
case_mok_once() {
	local fmt
	errors_host
	for fmt in text json; do
		DK_SHIM_FAIL=dktest_params:EKEYREJECTED run dk --log-level debug --log-format "$fmt" \
			load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko"
		is "$rc" 1 "EKEYREJECTED ($fmt log, debug): exit 1"
		is "$(grep -c 'enrolled in MOK' "$TMP/err")" 1 "EKEYREJECTED ($fmt log, debug): the MOK advice once"
	done
}
tcase "MOK advice once" case_mok_once

# --- the kernel log of a refused insert (DK_SHIM_KMSG, DK_SHIM_PRINTK) ---
# kmsg_host NAME RECORDS: $HOST with a fake /dev/kmsg ($KMSG) holding an older line of
# the module, and RECORDS as what dktest_fail's init prints
kmsg_host() {
	new_host "$1"
	KMSG=$HOST/kmsg
	printf '3,1,100,-;dktest_fail: an earlier attempt\n' >"$KMSG"
	mkdir -p "$HOST/printk"
	printf '%s' "$2" >"$HOST/printk/dktest_fail.kmsg"
}
kdk() { DK_SHIM_KMSG=$KMSG DK_SHIM_PRINTK=$HOST/printk DK_SHIM_FAIL=dktest_fail:ENODEV dk "$@"; }

case_kmsg_named() {
	kmsg_host kmsg "4,2,200,-;dktest_fail: loading out-of-tree module taints kernel.
 SUBSYSTEM=module
6,3,201,-;DKFAIL: probing for dktest hardware
3,4,202,-;dktest-fail: no dktest device found
12,5,203,-;dktest_fail: a user-space line
"
	run kdk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_fail.ko"
	is "$rc" 1 "ENODEV: exit 1"
	is "$(grep -v '^hint: ' "$TMP/err")" \
		"drvkit load: insert dktest_fail ($MODS/dktest_fail.ko): No such device — kernel log: dktest-fail: no dktest device found" \
		"the error quotes the line the module printed, and only that"
	unlike "$TMP/err" "earlier attempt" "a line from before the insert is not quoted"
	is "$(shimlog fail)" "fail:dktest_fail" "the (fake) kernel refused it"
	t "nothing stays loaded" [ ! -e "$HOST/sys/module/dktest_fail" ]
	run kdk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_fail.ko"
	is "$(grep -o 'no dktest device found' "$TMP/err" | wc -l)" 1 \
		"a second attempt quotes its own lines only (once)"
}
tcase "a refused insert quotes the module's kernel log line" case_kmsg_named

case_kmsg_unnamed() {
	kmsg_host kmsgnv "4,2,200,-;Disabling lock debugging due to kernel taint
6,3,201,-;dkfail-nvlink: core is being initialized
3,4,202,-;DKRM: No dktest GPU found.
6,5,203,-;dkfail-nvlink: core unregistered
"
	run kdk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_fail.ko"
	like "$TMP/err" "No such device — kernel log: DKRM: No dktest GPU found\.$" \
		"no line names the module (as NVIDIA's NVRM lines): the error line of the window"
}
tcase "no line names the module" case_kmsg_unnamed

case_kmsg_none() {
	kmsg_host kmsgnone ""
	run kdk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_fail.ko"
	like "$TMP/err" "^drvkit load: insert dktest_fail \(.*\): No such device$" "the module printed nothing: no quote"
	new_host nokmsg
	DK_SHIM_FAIL=dktest_fail:ENODEV run dk --log-level debug load --host-root "$HOST" --kernel "$KVER" \
		"$MODS/dktest_fail.ko"
	is "$rc" 1 "no /dev/kmsg: the insert error all the same"
	like "$TMP/err" "^drvkit load: insert dktest_fail \(.*\): No such device$" "without a kernel-log part"
	like "$TMP/err" "kernel log /dev/kmsg not read .*No such file or directory" "debug says why"
	kmsg_host kmsgok "3,2,200,-;dktest_fail: fine
"
	run env DK_SHIM_KMSG="$KMSG" DK_SHIM_PRINTK="$HOST/printk" DK_SHIM_SYSFS="$HOST/sys" \
		LD_PRELOAD="$SHIM_PRELOAD" "$DRVKIT" load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_fail.ko"
	is "$rc" 0 "an insert the kernel accepts"
	unlike "$TMP/err" "kernel log" "says nothing of the kernel log"
}
tcase "nothing to quote" case_kmsg_none

# --- dependencies ---
case_nodep() {
	new_host nodep
	run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_user.ko"
	is "$rc" 4 "a dependency in neither the set nor the host tree: exit 4"
	like "$TMP/err" 'dktest_user depends on dktest_export, which is neither among the modules to load nor in the host module tree' \
		"the missing dependency is named"
}
tcase "a dependency nowhere" case_nodep

case_intree() {
	if command -v depmod >/dev/null; then
		new_host_tree intree
		run dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_user.ko"
		is "$rc" 0 "an in-tree dependency is loaded by name from the host tree"
		is "$(shimlog insert)" "insert:dktest_export insert:dktest_user" "in-tree provider first"
	else
		skip "depmod not installed"
		skip "depmod not installed"
	fi
}
tcase "an in-tree dependency" case_intree

# --- bad input ---
case_bad_input() {
	new_host bad
	run dk load --host-root "$HOST" --kernel "$KVER" "$TMP/nonexistent.ko"
	is "$rc" 4 "missing file: exit 4"
	echo "not a module" >"$TMP/bogus.ko"
	run dk load --host-root "$HOST" --kernel "$KVER" "$TMP/bogus.ko"
	is "$rc" 3 "not a module: exit 3"
	run dk load
	is "$rc" 2 "no arguments: usage error"
	run dk unload --wait soon x
	is "$rc" 2 "bad --wait: usage error"
}
tcase "bad input and usage" case_bad_input

done_testing
