#!/bin/bash
# drvkit init killed in each phase (issue 12, "Faults"), with the preload shim: SIGTERM and
# SIGKILL land while init is paused in a known phase (DK_SHIM_PAUSE: the shim stops before
# a matching open, rename, insert or delete until the test says go). Afterwards: no
# partial file under a final name (state.json, status.json, the ready file, signed/
# copies are whole or absent), the lock free, state.json naming exactly what the (fake)
# kernel has loaded, and a new instance brings the node to the right state: ready with
# our three modules, and after its SIGTERM nothing of ours loaded.
# One case per (signal, phase); each on its own host.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

OURS="dktest_export dktest_params dktest_user"

if ! command -v openssl >/dev/null || ! command -v flock >/dev/null; then
	skip_all "openssl or flock missing (scripts/install-deps installs them)"
fi

fixture() { # keys for signing: phases sign and ready run with signing configured
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$FIX/sign.key" -out "$FIX/sign.crt" \
		-days 1 -subj "/CN=drvkit faults test key" 2>/dev/null
}
tcase fixture fixture

sysfs_modules() { ls "$HOST/sys/module" | tr '\n' ' ' | sed 's/ $//'; }
state_modules() { # [all] the module names in state.json, sorted, space separated; without
	# "all" those marked "loading" (listed before their insert, which may not have happened)
	# are left out
	[ -e "$STATE/state.json" ] || return 0
	python3 -c 'import json,sys
print(" ".join(sorted(m["name"] for m in json.load(open(sys.argv[1])).get("modules", [])
                      if sys.argv[2] == "all" or not m.get("loading"))))' \
		"$STATE/state.json" "${1:-done}"
}
# state_consistent: what state.json says is loaded is loaded, and all of ours that is
# loaded is in state.json (at worst as "loading")
state_consistent() {
	local m
	for m in $(state_modules); do
		case " $(loaded_ours) " in *" $m "*) ;; *) echo "state.json lists $m, not loaded" ;; esac
	done
	for m in $(loaded_ours); do
		case " $(state_modules all) " in *" $m "*) ;; *) echo "$m loaded, not in state.json" ;; esac
	done
}
loaded_ours() { # our modules the fake kernel has loaded (the in-tree ones: INTREE srcversion)
	local m
	for m in $(sysfs_modules); do
		case " $OURS " in *" $m "*) ;; *) continue ;; esac
		grep -q INTREE "$HOST/sys/module/$m/srcversion" 2>/dev/null || echo "$m"
	done | sort | xargs
}
loaded_ours_in_state() { # NAME if state.json lists it
	case " $(state_modules) " in *" $1 "*) echo "$1" ;; esac
}
json_ok() { python3 -m json.tool "$1" >/dev/null 2>&1; }

headers() { # the running kernel's headers on $HOST, so that check reads Module.symvers
	local HDR=/usr/src/linux-headers-$KVER f
	rm -f "$HOST/lib/modules/$KVER"
	mkdir -p "$HOST/lib/modules/$KVER" "$HOST/usr/src/linux-headers-$KVER/include/generated"
	for f in Module.symvers .config include/generated/utsrelease.h include/generated/randomize_layout_hash.h; do
		[ ! -e "$HDR/$f" ] || ln -s "$HDR/$f" "$HOST/usr/src/linux-headers-$KVER/$f"
	done
}

# host NAME [replace|headers]: $HOST and $CFG; "replace": in-tree dktest_export and its user
# loaded, our dktest_export replaces them (restore: true)
host() {
	if [ "${2:-}" = replace ]; then
		new_host_tree "$1"
		dk load --host-root "$HOST" --kernel "$KVER" \
			"$HOST/lib/modules/$KVER/kernel/drivers/dktest/dktest_user.ko" >/dev/null 2>&1
		echo INTREE0000000000000000 >"$HOST/sys/module/dktest_export/srcversion"
		config "$1" "signing: { key: $FIX/sign.key, cert: $FIX/sign.crt, hash: sha256 }" \
			"    replaces: [ dktest_export ]
    restore: true"
	else
		new_host "$1"
		[ "${2:-}" != headers ] || headers
		config "$1" "signing: { key: $FIX/sign.key, cert: $FIX/sign.crt, hash: sha256 }"
	fi
	: >"$SHIMLOG"
}

# paused_init SPEC: init in the background, paused by the shim at SPEC (KIND:TEXT)
paused_init() {
	mkdir -p "$TMP/pause"
	rm -f "$TMP/pause/paused" "$TMP/pause/go"
	DK_SHIM_PAUSE=$1 DK_SHIM_PAUSE_DIR=$TMP/pause start_init
}
wait_paused() { # wait_paused: until the shim says it paused (60 s)
	local i=0
	while [ ! -e "$TMP/pause/paused" ]; do
		[ $i -lt 600 ] && kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
go() { touch "$TMP/pause/go"; }

# The files on disk after the signal: whole or absent.
check_files() { # check_files WHAT
	local f bad=""
	for f in "$STATE/state.json" "$STATE/status.json"; do
		[ ! -e "$f" ] || json_ok "$f" || bad="$bad ${f##*/}"
	done
	[ ! -e "$READY" ] || [ ! -s "$READY" ] || bad="$bad ready-file"
	for f in "$STATE"/signed/*.ko; do
		[ -e "$f" ] || continue
		# a signed copy ends with the signature magic
		[ "$(tail -c 28 "$f")" = "~Module signature appended~" ] || bad="$bad signed/${f##*/}"
	done
	is "${bad# }" "" "$1: no partial file under a final name"
	if [ -e "$STATE/lock" ]; then
		flock -n -E 99 "$STATE/lock" true
		is "$?" 0 "$1: the lock is free"
	else
		ok 0 "$1: the lock is free (no lock file yet)"
	fi
}

# A new instance: ready with our modules, then stopped, nothing of ours left.
check_next() { # check_next WHAT
	local tmps
	: >"$SHIMLOG"
	start_init
	if wait_ready; then ok 0 "$1: a new instance gets ready"; else
		ok 1 "$1: a new instance gets ready"
		diag_file "$TMP/init.err"
	fi
	is "$(state_modules)" "$OURS" "$1: its state lists our three modules"
	for m in $OURS; do
		is "$(cat "$HOST/sys/module/$m/initstate" 2>/dev/null)" live "$1: $m loaded"
	done
	stop_init TERM
	is "$rc" 0 "$1: SIGTERM stops it (exit 0)"
	is "$(sysfs_modules)" "$AFTER_STOP" "$1: after its stop: ${AFTER_STOP:-nothing} loaded"
	ok $([ ! -e "$STATE/state.json" ] && [ ! -e "$READY" ] && echo 0 || echo 1) \
		"$1: no state file, no ready file"
	like "$STATE/status.json" '"phase": "stopped"' "$1: status.json says stopped"
	# a SIGKILL between an atomic write's temporary and its rename (KILL in ready): the
	# next instance removes what was left once it holds the lock
	tmps=$(find "$STATE" "$(dirname "$READY")" -name '*.tmp.*' 2>/dev/null | sed "s|$HOST/||" | tr '\n' ' ')
	is "${tmps% }" "" "$1: no temporary file left behind"
}

# kill_in SIGNAL PHASE SPEC [replace]: one case
kill_in() {
	local sig=$1 phase=$2 spec=$3 what="$1 in $2"
	host "$phase" "${4:-}"
	AFTER_STOP=""
	# the in-tree dktest_export comes back; its user does not, as one of ours replaced it
	[ "${4:-}" = replace ] && AFTER_STOP="dktest_export"
	if [ "$spec" = none ]; then # wait: blocking after ready
		start_init
		wait_ready || diag "$what: init did not get ready"
	elif [ "$phase" = stop ]; then # SIGTERM, then the signal while unloading
		paused_init "$spec"
		wait_ready || diag "$what: init did not get ready"
		kill -TERM "$PID"
		wait_paused || diag "$what: init did not pause at $spec"
	else
		paused_init "$spec"
		if ! wait_paused; then
			ok 1 "$what: init paused at $spec"
			diag_file "$TMP/init.err"
			return
		fi
	fi
	kill -"$sig" "$PID"
	[ "$spec" = none ] || go
	wait "$PID"
	rc=$?
	if [ "$sig" = KILL ]; then
		is "$rc" 137 "$what: killed"
		is "$(state_consistent)" "" \
			"$what: state.json names what the kernel has loaded of ours (the module being inserted as loading)"
	else
		is "$rc" 0 "$what: a clean stop (exit 0)"
		okf $([ "$rc" = 0 ] && echo 0 || echo 1) "$what: nothing reported as failed" "$TMP/init.err"
		is "$(sysfs_modules)" "$AFTER_STOP" "$what: ${AFTER_STOP:-nothing} loaded afterwards"
		ok $([ ! -e "$STATE/state.json" ] && echo 0 || echo 1) "$what: no state file"
		ok $([ ! -e "$READY" ] && echo 0 || echo 1) "$what: no ready file"
	fi
	check_files "$what"
	# the in-tree dktest_export the stop restored is a copy of ours (same srcversion):
	# mark it in-tree again, as a real one would be, so the next instance replaces it
	if [ "${4:-}" = replace ] && [ -e "$HOST/sys/module/dktest_export" ] &&
		[ -z "$(loaded_ours_in_state dktest_export)" ]; then
		echo INTREE0000000000000000 >"$HOST/sys/module/dktest_export/srcversion"
	fi
	check_next "$what"
}

kill_case() { # kill_case ARGS: kill_in ARGS as an independent case (see _init_case)
	local t0=$SECONDS
	set +e
	atexit 'for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null; wait "$j" 2>/dev/null; done'
	kill_in "$@"
	diag "$1 in $2: $((SECONDS - t0)) s"
}

for sig in TERM KILL; do
	tcase "$sig lock" kill_case $sig lock "open:/run/drvkit/lock"
	tcase "$sig detect" kill_case $sig detect "open:/boot/config-"
	tcase "$sig get" kill_case $sig get "open:/dktest_export.ko"
	tcase "$sig check" kill_case $sig check "open:/Module.symvers" headers
	tcase "$sig sign" kill_case $sig sign "rename:/signed/dktest_user.ko"
	tcase "$sig replace" kill_case $sig replace "delete:dktest_export" replace
	tcase "$sig load" kill_case $sig load "insert:dktest_user"
	tcase "$sig inserted" kill_case $sig load "inserted:dktest_user"
	tcase "$sig ready" kill_case $sig ready "rename:/.driver-ready"
	tcase "$sig wait" kill_case $sig wait none
	tcase "$sig stop" kill_case $sig stop "delete:dktest_user"
done

done_testing
