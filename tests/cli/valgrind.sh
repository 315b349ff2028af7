#!/bin/bash
# drvkit under valgrind memcheck (issue 12, "Faults"): the init lifecycle with the preload
# shim (start, ready, SIGTERM, stop; and a failed start rolled back), modinfo, check and a
# loopback fetch. Each run must end with no memcheck error and no definite or indirect
# leak: --error-exitcode makes either an exit code of its own, and the log is shown.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

command -v valgrind >/dev/null || skip_all "valgrind not installed (scripts/install-deps installs it)"
[ -z "$ASAN" ] || skip_all "drvkit is built with ASan: valgrind cannot run it"

VG_RC=99
# "${VG[@]}" CMD...: CMD under memcheck, its log in $TMP/vg.log (set per case)
vg_setup() {
	VG=(valgrind -q --error-exitcode=$VG_RC --leak-check=full
		--errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect
		--log-file="$TMP/vg.log")
}
clean() { # clean WHAT RC: memcheck found nothing (RC is not VG_RC, the log is empty)
	ok $([ "$2" != $VG_RC ] && [ ! -s "$TMP/vg.log" ] && echo 0 || echo 1) \
		"$1: no memcheck error, no leak"
	[ ! -s "$TMP/vg.log" ] || diag_file "$TMP/vg.log" 40
}

case_init() {
	vg_setup
	new_host vg
	config vg "firmware_path: /lib/firmware/nvidia"
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD \
		"${VG[@]}" "$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>"$TMP/init.err" &
	PID=$!
	if wait_ready; then ok 0 "init: ready under valgrind"; else
		ok 1 "init: ready under valgrind"
		diag_file "$TMP/init.err"
	fi
	is "$(shimlog insert)" "insert:dktest_export insert:dktest_user insert:dktest_params" \
		"init: our three modules loaded"
	stop_init TERM
	is "$rc" 0 "init: SIGTERM stops it (exit 0)"
	is "$(ls "$HOST/sys/module" | xargs)" "" "init: nothing of ours left loaded"
	clean "init lifecycle" "$rc"
}

case_init_rollback() {
	vg_setup
	new_host vgfail
	config vgfail
	DK_SHIM_FAIL=dktest_params:ENOEXEC DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG \
		LD_PRELOAD=$SHIM_PRELOAD run "${VG[@]}" "$DRVKIT" init --config "$CFG"
	is "$rc" 3 "init: a failed start under valgrind: exit 3"
	is "$(shimlog 'insert|delete|fail')" \
		"insert:dktest_export insert:dktest_user fail:dktest_params delete:dktest_user delete:dktest_export" \
		"init: rolled back"
	clean "init rollback" "$rc"
}

case_modinfo() {
	vg_setup
	run "${VG[@]}" "$DRVKIT" modinfo "$MODS/dktest_params.ko"
	is "$rc" 0 "modinfo: exit 0"
	like "$TMP/out" "^parm: +count" "modinfo: shows the parameters"
	clean "modinfo" "$rc"
}

case_check() {
	vg_setup
	run "${VG[@]}" "$DRVKIT" check --kernel "$KVER" "$MODS/dktest_user.ko" "$MODS/dktest_export.ko"
	is "$rc" 0 "check: exit 0"
	clean "check" "$rc"
}

case_fetch() {
	vg_setup
	WWW=$TMP/www
	mkdir -p "$WWW"
	head -c 300000 /dev/urandom >"$WWW/a.bin"
	start_server http
	run "${VG[@]}" "$DRVKIT" fetch --no-progress --retry-delay-ms 10 "http://127.0.0.1:$http_PORT/ok/a.bin" \
		--sha256 "$(sha256sum "$WWW/a.bin" | cut -d' ' -f1)" -o "$TMP/a.bin"
	is "$rc" 0 "fetch: exit 0"
	t "fetch: the file arrived whole" cmp -s "$WWW/a.bin" "$TMP/a.bin"
	clean "fetch" "$rc"
	# a download cut half way and resumed: the retry path
	run "${VG[@]}" "$DRVKIT" fetch --no-progress --retry-delay-ms 10 "http://127.0.0.1:$http_PORT/cut/a.bin" \
		--sha256 "$(sha256sum "$WWW/a.bin" | cut -d' ' -f1)" -o "$TMP/b.bin"
	is "$rc" 0 "fetch (cut, resumed): exit 0"
	clean "fetch, cut and resumed" "$rc"
}

run_case case_init
run_case case_init_rollback
run_case case_modinfo
run_case case_check
run_case case_fetch

done_testing
