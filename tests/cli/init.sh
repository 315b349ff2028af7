#!/bin/bash
# drvkit init lifecycle with the preload shim: ready, state, status, SIGTERM
# unload order, busy modules, SIGKILL restart, the lock, replaces/restore,
# config errors, --dry-run, status without state, and reaping orphans as PID 1.
# Failed starts (rollback) and the protect list: init-rollback.sh.
# Each case is a function on its own fixture (run_case, init-lib.sh): one that
# fails hides none of the next.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

case_config_errors() {
	new_host cfg
	printf 'components:\n  - name: x\n    source: { dir: /m }\n    modules:\n      - name: a\n        params: [ 1 ]\n' >"$TMP/bad.yaml"
	run dk init --config "$TMP/bad.yaml"
	is "$rc" 3 "bad config: exit 3"
	like "$TMP/err" "bad.yaml:6:17: components\[0\]\.modules\[0\]\.params: expected a mapping of name: value" \
		"config error names file:line:column and key"
	printf 'grace_priod: 3\n' >"$TMP/bad2.yaml"
	run dk init --config "$TMP/bad2.yaml"
	like "$TMP/err" "bad2.yaml:1:1: grace_priod: unknown key \(did you mean 'grace_period'\?\)" "unknown key: did you mean"
	run dk init
	is "$rc" 2 "no --config: usage"
}

case_dry_run() {
	local a b
	new_host dry
	config dry
	run dk init --config "$CFG" --dry-run
	is "$rc" 0 "--dry-run succeeds"
	like "$TMP/out" "^  load     dktest_export .*dktest_export.ko" "plan: load dktest_export"
	like "$TMP/out" "^  load     dktest_params .*\[count=7 label=hello\]" "plan shows params"
	unlike "$TMP/out" "load     dktest_user .*\n.*load     dktest_export" "plan keeps depends order"
	a=$(grep -n 'load     dktest_export' "$TMP/out" | cut -d: -f1)
	b=$(grep -n 'load     dktest_user' "$TMP/out" | cut -d: -f1)
	ok $([ "${a:-9999}" -lt "${b:-0}" ] && echo 0 || echo 1) "plan loads dktest_export before dktest_user"
	ok $([ ! -e "$STATE" ] && [ ! -s "$SHIMLOG" ] && [ -z "$(ls "$HOST/sys/module")" ] && echo 0 || echo 1) \
		"--dry-run changes nothing (no state dir, no syscalls)"
}

case_lifecycle() {
	local rss anon
	new_host life
	config life "firmware_path: /lib/firmware/nvidia"
	mkdir -p "$HOST/sys/module/firmware_class/parameters"
	: >"$HOST/sys/module/firmware_class/parameters/path"
	start_init
	if wait_ready; then ok 0 "ready file written"; else ok 1 "ready file written"; fi
	is "$(shimlog insert)" "insert:dktest_export insert:dktest_user insert:dktest_params" "load order follows depends"
	like "$SHIMLOG" "^insert dktest_params count=7 label=hello$" "params from the config"
	like "$STATE/state.json" '"srcversion": "[0-9A-F]{23}"' "state file records srcversions"
	is "$(grep -c '"name"' "$STATE/state.json")" 3 "state file lists three modules"
	like "$STATE/status.json" '"phase": "ready"' "status.json says ready"
	like "$STATE/status.json" '"action": "loaded"' "status.json says loaded"
	is "$(cat "$HOST/sys/module/firmware_class/parameters/path")" /lib/firmware/nvidia "firmware path set"
	like "$TMP/init.err" "info: ready: .* ready [0-9]+ ms after start" "phases logged with timing"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	is "$rc" 0 "drvkit status: all loaded"
	like "$TMP/out" "^dktest_user +loaded" "status text lists modules"
	like "$TMP/out" "^dktest_user +loaded +live, refcnt [0-9]+.*, srcversion $(cat "$HOST/sys/module/dktest_user/srcversion")\$" \
		"status text shows the srcversion loaded"
	run dk status --json --state-dir "$STATE" --host-root "$HOST"
	like "$TMP/out" '"ok": true' "status --json"
	run dk status --state-dir "$HOST/run/elsewhere" --host-root "$HOST"
	is "$rc" 4 "status without a state file: exit 4"
	like "$TMP/err" "^drvkit status: no drvkit state in $HOST/run/elsewhere: drvkit init has not run here or its state dir differs" \
		"and says why"
	if [ -z "$ASAN" ]; then
		wait_log 'info: wait: blocking'
		rss=$(awk '/VmRSS/ {print $2}' "/proc/$PID/status" 2>/dev/null)
		anon=$(awk '/RssAnon/ {print $2}' "/proc/$PID/status" 2>/dev/null)
		# File-backed library pages shared with other processes on this machine
		# (other drvkit runs) cannot be reclaimed; in a pod or the VM nothing else
		# maps them. Our own memory is RssAnon.
		diag "RSS while blocking: $rss kB (anonymous: $anon kB)"
		ok $([ "${anon:-99999}" -lt 2560 ] && echo 0 || echo 1) "anonymous RSS while blocking < 2.5 MB ($anon kB)"
	else
		skip "RSS not meaningful under ASan"
	fi

	# SIGTERM
	: >"$SHIMLOG"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "unload in reverse load order"
	unlike "$SHIMLOG" "watch=present" "ready file removed before the first unload"
	ok $([ ! -e "$READY" ] && [ ! -e "$STATE/state.json" ] && echo 0 || echo 1) "ready and state files gone"
	like "$STATE/status.json" '"phase": "stopped"' "status.json says stopped"
}

case_second_instance() {
	new_host second
	config second
	start_init
	wait_ready || diag "init did not get ready"
	run dk init --config "$CFG"
	is "$rc" 1 "a second instance is refused"
	like "$TMP/err" "another drvkit init \(pid $PID\) holds .*/lock" "names the pid holding the lock"
	ok $([ -e "$READY" ] && echo 0 || echo 1) "the refused instance left the ready file alone"
	stop_init TERM
}

case_restart() {
	new_host restart
	config restart
	start_init
	wait_ready || diag "init did not get ready"
	stop_init KILL
	ok $([ -e "$READY" ] && echo 0 || echo 1) "after SIGKILL the stale ready file is still there"
	: >"$SHIMLOG"
	start_init
	if wait_ready; then ok 0 "restarted instance gets ready"; else ok 1 "restarted instance gets ready"; fi
	is "$(shimlog insert)" "" "restarted instance does not reload the modules"
	like "$STATE/status.json" '"action": "adopted"' "it adopts its predecessor's modules"
	like "$TMP/init.err" "stale .*\.driver-ready" "it removed the stale ready file first"
	stop_init TERM
	is "$rc" 0 "SIGTERM after restart: exit 0"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "adopted modules are unloaded too"
}

case_busy() {
	local size
	new_host busy
	GRACE=2 config busy
	start_init
	wait_ready || diag "init did not get ready"
	mkdir "$HOST/sys/module/dktest_export/holders/gpu_consumer"
	stop_init TERM
	is "$rc" 1 "busy at SIGTERM: exit 1"
	# init's own clock (the message says how long it waited): wall-clock time on
	# a loaded machine also counts the process start
	ok $([ "$(waited_s "$TERMLOG")" -le 3 ] && echo 0 || echo 1) \
		"gave up within the grace period (2 s; waited $(waited_s "$TERMLOG") s, $ms ms in all)"
	like "$TERMLOG" "stop: unload dktest_export: in use \(refcnt [0-9]+, holders: gpu_consumer\)" \
		"termination log names the holder"
	size=$(stat -c %s "$TERMLOG" 2>/dev/null)
	ok $([ "${size:-99999}" -le 4096 ] && echo 0 || echo 1) "termination log within 4096 bytes"
	like "$STATE/state.json" '"name": "dktest_export"' "state still lists the module left loaded"
	like "$STATE/status.json" '"phase": "failed"' "status.json says failed"
}

case_second_sigterm() {
	local t0
	new_host twice
	GRACE=30 config twice
	start_init
	wait_ready || diag "init did not get ready"
	mkdir "$HOST/sys/module/dktest_export/holders/gpu_consumer"
	t0=$(date +%s%N)
	kill -TERM "$PID"
	# Two SIGTERMs sent before init reads the first would merge into one: the
	# second goes once init waits for the busy module.
	wait_log "dktest_export is in use" || diag "init did not report the busy module"
	stop_init TERM
	ms=$((($(date +%s%N) - t0) / 1000000))
	is "$rc" 1 "second SIGTERM: still fails (in use)"
	ok $([ "$ms" -lt 15000 ] && echo 0 || echo 1) "second SIGTERM ends the waits (took $ms ms of 30 s)"
	like "$TMP/init.err" "second termination signal" "says so"
}

other_host() { # other_host NAME: our dktest_params loaded with another srcversion
	new_host "$1"
	config "$1"
	dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_params.ko" >/dev/null 2>&1
	echo 0123456789ABCDEF0123456 >"$HOST/sys/module/dktest_params/srcversion"
}

case_other_version() {
	other_host other
	run dk init --config "$CFG"
	is "$rc" 1 "another version loaded, unload_other_versions false: exit 1"
	like "$TMP/err" "dktest_params is already loaded and differs .*unload_other_versions is false" "clear reason"
	like "$TERMLOG" "unload_other_versions is false" "reason in the termination log"
	DK_SHIM_NOUNLOAD=1 run dk init --config "$CFG"
	is "$rc" 1 "kernel cannot unload"
}

case_other_version_no_unload() {
	other_host other2
	config other2 "unload_other_versions: true"
	: >"$SHIMLOG"
	run dk init --config "$CFG" --dry-run
	like "$TMP/out" "unload   dktest_params +another build of this module is loaded" "dry-run: would unload the other version"
	rm -f "$HOST/sys/module/dktest_params/refcnt"
	run dk init --config "$CFG"
	# with refcnt gone, the shim fakes a kernel without CONFIG_MODULE_UNLOAD
	is "$rc" 1 "reload needed on a kernel that cannot unload: refused"
	like "$TMP/err" "plan: dktest_params must be unloaded first, but .*CONFIG_MODULE_UNLOAD" \
		"refused early, naming CONFIG_MODULE_UNLOAD"
	is "$(shimlog 'insert|delete')" "" "nothing was touched"
}

case_other_version_unload() {
	other_host other3
	config other3 "unload_other_versions: true"
	: >"$SHIMLOG"
	start_init
	if wait_ready; then ok 0 "unload_other_versions: true: ready"; else ok 1 "unload_other_versions: true: ready"; fi
	is "$(shimlog 'insert|delete')" "delete:dktest_params insert:dktest_export insert:dktest_user insert:dktest_params" \
		"the other version was unloaded, ours loaded"
	stop_init TERM
	is "$rc" 0 "exit 0"
}

case_key_rejected() {
	new_host key
	config key
	# A kernel that shows it enforces signatures refuses unsigned modules before
	# anything loads (tests/cli/preflight.sh); here it does not show it, and
	# rejects the key at insert.
	DK_SHIM_FAIL=dktest_export:EKEYREJECTED run dk init --config "$CFG"
	is "$rc" 1 "EKEYREJECTED at start: exit 1"
	like "$TERMLOG" "load: component example: insert dktest_export .*Key was rejected by service" \
		"termination log names phase, module and errno"
	like "$TERMLOG" "configure signing with a key enrolled in MOK" "and the fix"
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "not ready"
}

# replaces + restore (in-tree modules from a depmod'ed host tree)
case_replaces() {
	if ! command -v depmod >/dev/null; then
		for i in 1 2 3 4 5 6 7; do skip "depmod not installed"; done
		return
	fi
	new_host_tree replace
	config replace "" "    replaces: [ dktest_export ]
    restore: true"
	# our component: only dktest_export replacing the in-tree one
	sed -i '/- name: dktest_user/d; /- name: dktest_params/d; /params:/d' "$CFG"
	run dk load --host-root "$HOST" --kernel "$KVER" "$HOST/lib/modules/$KVER/kernel/drivers/dktest/dktest_user.ko"
	is "$(shimlog insert)" "insert:dktest_export insert:dktest_user" "in-tree dktest_export and its user loaded"
	echo INTREE0000000000000000 >"$HOST/sys/module/dktest_export/srcversion"
	: >"$SHIMLOG"
	start_init
	if wait_ready; then ok 0 "replacing component ready"; else ok 1 "replacing component ready"; fi
	is "$(shimlog 'insert|delete')" "delete:dktest_user delete:dktest_export insert:dktest_export" \
		"the in-tree module and its user unloaded (user first), ours loaded"
	like "$STATE/state.json" '"replaced"' "state file remembers what was replaced"
	like "$STATE/state.json" '"name": "dktest_user"' "including the user"
	: >"$SHIMLOG"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
	is "$(shimlog 'insert|delete')" "delete:dktest_export insert:dktest_export insert:dktest_user" \
		"ours unloaded, in-tree modules restored (providers first)"
}

# check with kernel headers: vermagic and CRCs
case_check_headers() {
	local HDR=/usr/src/linux-headers-$KVER BAD
	if [ ! -e "$HDR/Module.symvers" ]; then
		for i in 1 2 3 4 5; do skip "no kernel headers for $KVER"; done
		return
	fi
	new_host check
	rm -f "$HOST/lib/modules/$KVER"
	mkdir -p "$HOST/lib/modules/$KVER" "$HOST/usr/src/linux-headers-$KVER/include/generated"
	for f in Module.symvers .config include/generated/utsrelease.h include/generated/randomize_layout_hash.h; do
		[ -e "$HDR/$f" ] && ln -s "$HDR/$f" "$HOST/usr/src/linux-headers-$KVER/$f"
	done
	config check
	run dk init --config "$CFG" --dry-run
	is "$rc" 0 "dry-run with the kernel headers"
	like "$TMP/out" "check +dktest_user +fits .*linux-headers-$KVER \(vermagic, symbol CRCs\)" \
		"check: against the headers"
	# a copy of the modules with other vermagic flags
	BAD=$TMP/badmods/$KVER
	mkdir -p "$BAD"
	cp "$MODS"/*.ko "$BAD/"
	python3 - "$BAD/dktest_params.ko" <<'PY'
import sys
p = sys.argv[1]
b = open(p, 'rb').read()
old = b'SMP preempt mod_unload modversions'
assert old in b
open(p, 'wb').write(b.replace(old, b'SMP preempt mod_unload modversionz'))
PY
	sed -i "s|dir: .*|dir: $TMP/badmods/\$KVER }|" "$CFG"
	run dk init --config "$CFG"
	is "$rc" 3 "a module that does not fit: exit 3"
	like "$TMP/err" "check: component example: dktest_params \(.*\) does not fit kernel $KVER: .*vermagic" \
		"check names the module and the vermagic difference"
	is "$(shimlog 'insert|delete')" "" "nothing loaded"
}

case_sign() {
	if ! command -v openssl >/dev/null; then
		for i in 1 2 3 4 5 6; do skip "openssl not installed"; done
		return
	fi
	new_host sign
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$TMP/sign.key" -out "$TMP/sign.crt" \
		-days 1 -subj "/CN=drvkit test signing key" 2>/dev/null
	chmod 600 "$TMP/sign.key"
	config sign "signing: { key: $TMP/sign.key, cert: $TMP/sign.crt, hash: sha256 }"
	run dk init --config "$CFG" --dry-run
	like "$TMP/out" "sign +dktest_export +with $TMP/sign.crt \(sha256\)" "dry-run plans signing"
	start_init
	if wait_ready; then ok 0 "ready with signing configured"; else ok 1 "ready with signing configured"; fi
	like "$STATE/state.json" "\"path\": \"$STATE/signed/dktest_params.ko\"" "the signed copy is loaded"
	is "$(tail -c 28 "$STATE/signed/dktest_params.ko" | tr -d "\\0")" "~Module signature appended~" "the copy carries a signature"
	ok $([ "$(tail -c 28 "$MODS/dktest_params.ko" | tr -d "\\0")" != "~Module signature appended~" ] && echo 0 || echo 1) \
		"the source module is untouched"
	stop_init TERM
	is "$rc" 0 "exit 0"
}

# a missing key or certificate: the dry run says so and fails as a start would
case_sign_missing() {
	new_host signmiss
	config signmiss "signing: { key: $TMP/none.key, cert: $TMP/none.crt, hash: sha256 }"
	run dk init --config "$CFG" --dry-run
	is "$rc" 4 "dry run with a missing signing key: exit 4 (as a start)"
	like "$TMP/out" "sign +dktest_export +with $TMP/none.crt \(sha256\): CANNOT SIGN: .*none\.(key|crt)" \
		"the plan says signing cannot work"
	like "$TMP/err" "^drvkit init: sign: .*none\.(key|crt)" "the error names the missing file"
	start_init
	wait "$PID" 2>/dev/null && rc=0 || rc=$?
	is "$rc" 4 "a start with a missing signing key: exit 4 too"
}

# as PID 1 of a PID namespace (a container without hostPID)
case_pid1() {
	local UPID orphan zombies marker
	if ! unshare -pf true 2>/dev/null; then
		for i in 1 2 3 4 5 6; do skip "unshare -p not permitted here"; done
		return
	fi
	new_host pid1
	config pid1
	# LeakSanitizer cannot stop the world from inside a PID namespace whose /proc
	# is the parent's: no leak checking for this one under ASan.
	ASAN_OPTIONS=${ASAN:+detect_leaks=0} \
		DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD \
		unshare -pf --kill-child "$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>"$TMP/init.err" &
	UPID=$!
	for i in $(seq 600); do [ -e "$READY" ] && break; sleep 0.1; done
	PID=$(pgrep -P "$UPID" | head -1)
	if wait_ready 1; then ok 0 "ready as PID 1"; else ok 1 "ready as PID 1"; fi
	like "$TMP/init.err" "wait: blocking on signals \(pid 1\)" "init runs as PID 1"
	# An orphan in the namespace: sh (entered from outside) starts sleep and
	# exits; sleep is reparented to PID 1. It sleeps until found (a unique
	# length names it: on a loaded machine a short sleep was gone before the
	# scan saw it), then is killed: PID 1 must reap it.
	marker=1$$
	nsenter -t "$PID" -p sh -c "sleep $marker & exit 0"
	orphan=""
	for i in $(seq 300); do
		for p in $(pgrep -xf "sleep $marker"); do
			[ "$(awk '{print $4}' "/proc/$p/stat" 2>/dev/null)" = "$PID" ] && orphan=$p
		done
		[ -n "$orphan" ] && break
		sleep 0.1
	done
	ok $([ -n "$orphan" ] && echo 0 || echo 1) "an orphan in the namespace is reparented to init"
	[ -n "$orphan" ] && kill "$orphan"
	zombies=x
	for i in $(seq 300); do
		sleep 0.1
		# Processes of parallel tests come and go between the glob and awk:
		# a vanished one is not an error (it once ended the script, exit 2).
		zombies=$(for p in /proc/[0-9]*; do
			awk -v pp="$PID" '$4 == pp && $3 == "Z" {print $1}' "$p/stat" 2>/dev/null || true
		done)
		[ -n "$orphan" ] && [ -d "/proc/$orphan" ] && continue
		[ -z "$zombies" ] && break
	done
	is "$zombies" "" "init reaps it: no zombie left under PID 1"
	kill -TERM "$PID"
	wait "$UPID"
	rc=$?
	is "$rc" 0 "SIGTERM from outside the namespace reaches PID 1: exit 0"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "unloaded as PID 1"
}

run_case case_config_errors
run_case case_dry_run
run_case case_lifecycle
run_case case_second_instance
run_case case_restart
run_case case_busy
run_case case_second_sigterm
run_case case_other_version
run_case case_other_version_no_unload
run_case case_other_version_unload
run_case case_key_rejected
run_case case_replaces
run_case case_check_headers
run_case case_sign
run_case case_sign_missing
run_case case_pid1

done_testing
