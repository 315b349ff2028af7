#!/bin/bash
# drvkit init's supervised daemons (config daemons:) with the preload shim and real
# processes (tests/daemons/*.c): the ready file waits for every required daemon and
# the validation; a daemon that never gets ready keeps it absent and status says why;
# a crash removes it and restarts with backoff; SIGTERM stops the daemons (SIGKILL
# after their timeout) in order before the modules unload; when: conditions; the
# NVIDIA driver container's .driver-daemons-status file. Each case on its own host.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

: "${DK_TESTD:=$DK_BUILDDIR/tests}"
READYD=$DK_TESTD/dk-test-readyd
NEVERD=$DK_TESTD/dk-test-neverd
CRASHD=$DK_TESTD/dk-test-crashd
STUBBORND=$DK_TESTD/dk-test-stubbornd

# events NAME EVENT: the wall-clock ms of each "NAME EVENT" line of $EV, one a line
events() { awk -v n="$1" -v e="$2" '$1 == n && $2 == e {print $3}' "$EV" 2>/dev/null; }
# the daemon events of $EV in order, "name:event" space separated
event_order() { awk '{print $1 ":" $2}' "$EV" 2>/dev/null | tr '\n' ' ' | sed 's/ $//'; }
wait_event() { # wait_event NAME EVENT [COUNT] [SECONDS]
	local i=0
	while [ "$(events "$1" "$2" | wc -l)" -lt "${3:-1}" ]; do
		[ $i -lt $((${4:-30} * 10)) ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
wait_status() { # wait_status REGEX [SECONDS]: until status.json matches
	local i=0
	while ! grep -Eq -- "$1" "$STATE/status.json" 2>/dev/null; do
		[ $i -lt $((${2:-30} * 10)) ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
mtime_ms() { echo $(($(stat -c %.3Y "$1" | tr -d .))); }

case_config_errors() {
	new_host cfg
	config cfg "daemons:
  - name: p
    argv: nvidia-persistenced --persistence-mode"
	run dk init --config "$CFG"
	is "$rc" 3 "argv as a shell line: exit 3"
	like "$TMP/err" "cfg.yaml:[0-9]+:[0-9]+: daemons\[0\]\.argv: expected a list of arguments \(an argv, never a shell line\)" \
		"argv must be a list: file:line:col and key"
	config cfg "daemons:
  - name: p
    argv: [ x ]
    ready: { file: /a, unix: /b }"
	run dk init --config "$CFG"
	like "$TMP/err" "daemons\[0\]\.ready: give exactly one of command, file, unix, tcp \(2 given\)" "two readiness checks refused"
	config cfg "daemons:
  - name: p
    argv: [ x ]
    restart: { policy: sometimes }"
	run dk init --config "$CFG"
	like "$TMP/err" "daemons\[0\]\.restart\.policy: expected always, on-failure or never, got 'sometimes'" "restart policy checked"
	config cfg "daemons:
  - name: p
    argv: [ x ]
    stop: { signal: SIGKILL, timeout: 5x }"
	run dk init --config "$CFG"
	like "$TMP/err" "daemons\[0\]\.stop\.signal: expected a signal name" "stop signal checked"
	config cfg "daemon_stop_order: [ q ]
daemons:
  - name: p
    argv: [ x ]"
	run dk init --config "$CFG"
	is "$rc" 3 "unknown name in daemon_stop_order: exit 3"
	like "$TMP/err" "daemon_stop_order: no daemon named 'q' in daemons:" "and names it"
	config cfg "daemons:
  - name: p
    argv: [ x ]
    user: 'root:x'"
	run dk init --config "$CFG"
	like "$TMP/err" "daemons\[0\]\.user: expected a user name or UID:GID \(numbers\), got 'root:x'" "user checked"
}

# The ready file waits for the daemon (ready after 1.5 s) and then for the validation.
case_ready_after_daemons() {
	local pid ready_at file_at
	new_host gate
	# user 65534 cannot enter $TMP (0700): its files go to a directory it can
	local evdir
	evdir=$(mktemp -d /tmp/dk-daemons.XXXXXX) && chmod 1777 "$evdir"
	atexit "rm -rf '$evdir'"
	EV=$evdir/events
	config gate "daemons_status_file: $HOST/run/nvidia/validations/.driver-daemons-status
validation: { command: [ test, -e, $TMP/validated ], interval: 200ms }
daemons:
  - name: slow
    argv: [ $READYD, slow, $EV, 1500, 'file:$evdir/slow.ready' ]
    env: [ DK_FOO=bar ]
    user: '65534:65534'
    ready: { file: $evdir/slow.ready, interval: 100ms }"
	start_init
	wait_status '"phase": "daemons"' || diag "init did not reach the daemons phase"
	is "$(shimlog insert)" "insert:dktest_export insert:dktest_user insert:dktest_params" "modules loaded before the daemons start"
	wait_event slow start || { diag "slow did not start"; diag_file "$TMP/init.err"; }
	pid=$(grep -o '"pid": [0-9]*' "$STATE/status.json" | sed -n 2p | grep -o '[0-9]*')
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "no ready file while the daemon is not ready"
	is "$(cat "$HOST/run/nvidia/validations/.driver-daemons-status" 2>/dev/null)" NotReady ".driver-daemons-status says NotReady"
	is "$(awk '/^Uid:/ {print $2}' "/proc/$pid/status" 2>/dev/null)" 65534 "the daemon runs as user 65534"
	is "$(tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | sort | tr '\n' ' ')" \
		"DK_FOO=bar PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin " \
		"its environment is env: plus a PATH, nothing of ours"
	wait_event slow ready || diag "slow did not get ready"
	wait_status '"waiting_for": "validation test' || diag "no validation wait in status.json"
	like "$STATE/status.json" '"waiting_for": "validation test: test exited with status 1"' "status.json: waiting for the validation"
	sleep 0.5
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "no ready file while the validation fails"
	is "$(cat "$HOST/run/nvidia/validations/.driver-daemons-status" 2>/dev/null)" Ready ".driver-daemons-status says Ready once the daemons are"
	: >"$TMP/validated"
	if wait_ready; then ok 0 "ready once the validation succeeds"; else ok 1 "ready once the validation succeeds"; fi
	ready_at=$(events slow ready)
	file_at=$(mtime_ms "$READY")
	ok $([ "${file_at:-0}" -ge "${ready_at:-99999999999999}" ] && echo 0 || echo 1) \
		"ready file written after the daemon got ready ($file_at >= $ready_at)"
	like "$STATE/status.json" '"state": "ready"' "status.json: daemon ready"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	is "$rc" 0 "drvkit status: exit 0"
	like "$TMP/out" "^daemon slow +ready +pid $pid, restarts 0" "status lists the daemon, ready"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
	is "$(event_order)" "slow:start slow:ready slow:term" "the daemon got SIGTERM"
	is "$(cat "$HOST/run/nvidia/validations/.driver-daemons-status" 2>/dev/null)" NotReady ".driver-daemons-status back to NotReady on stop"
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "ready file gone"
}

case_never_ready() {
	new_host never
	EV=$TMP/events
	config never "daemons:
  - name: never
    argv: [ $NEVERD, never, $EV ]
    ready: { unix: $TMP/never.sock, interval: 100ms }
  - name: optional
    argv: [ $NEVERD, optional, $EV ]
    required: false
    ready: { file: $TMP/nothing }"
	start_init
	wait_status '"waiting_for": "daemon never' || diag "status.json does not say what it waits for"
	sleep 1.5
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "a never-ready daemon keeps the ready file absent"
	like "$STATE/status.json" "\"waiting_for\": \"daemon never \(pid [0-9]+\) is not ready: unix socket $TMP/never.sock: No such file or directory\"" \
		"status.json says why"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	is "$rc" 1 "drvkit status: exit 1 while a required daemon is not ready"
	like "$TMP/out" "^daemon never +starting +pid [0-9]+ for [0-9]+ s, restarts 0: not ready: unix socket .*never.sock" "status text: starting, and why"
	like "$TMP/out" "^not ready: daemon never \(pid [0-9]+\) is not ready" "status text: why no ready file"
	like "$TMP/out" "^daemon optional +starting .*\(optional\)" "the optional daemon is listed as optional"
	run dk status --json --state-dir "$STATE" --host-root "$HOST"
	like "$TMP/out" '"state": "starting"' "status --json has the daemon state"
	stop_init TERM
	is "$rc" 0 "SIGTERM while waiting: exit 0"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "modules unloaded"
	like "$EV" "^never term" "the daemon was stopped"
}

# Crashes twice after getting ready: the ready file goes, restarts wait 300 ms then
# 600 ms, then it stays and the ready file is back.
case_crash() {
	local c1 s2 c2 s3
	new_host crash
	EV=$TMP/events
	config crash "daemons:
  - name: crashy
    argv: [ $CRASHD, crashy, $EV, 'unix:$TMP/crashy.sock', 700, $TMP/count, 2 ]
    ready: { unix: $TMP/crashy.sock, interval: 50ms }
    restart: { policy: on-failure, initial: 300ms, max: 10s }"
	start_init
	if wait_ready; then ok 0 "ready after the first start"; else ok 1 "ready after the first start"; fi
	wait_event crashy crash 1 || diag "no crash"
	wait_log "removed .*\.driver-ready: daemon crashy killed by signal ABRT" 10
	like "$TMP/init.err" "warn: daemons: removed $READY: daemon crashy killed by signal ABRT( \(core dumped\))?; restart 1 pending" \
		"a crash removes the ready file, and says why"
	wait_event crashy start 3 30 || diag "not restarted twice"
	if wait_status '"restarts": 2' && wait_ready; then ok 0 "ready again after two restarts"; else ok 1 "ready again after two restarts"; fi
	c1=$(events crashy crash | sed -n 1p)
	c2=$(events crashy crash | sed -n 2p)
	s2=$(events crashy start | sed -n 2p)
	s3=$(events crashy start | sed -n 3p)
	diag "restart delays: $((s2 - c1)) ms, $((s3 - c2)) ms"
	ok $([ $((s2 - c1)) -ge 290 ] && echo 0 || echo 1) "first restart after the initial backoff ($((s2 - c1)) ms >= 300)"
	ok $([ $((s3 - c2)) -ge 590 ] && [ $((s3 - c2)) -gt $((s2 - c1)) ] && echo 0 || echo 1) \
		"second restart after twice that ($((s3 - c2)) ms >= 600)"
	like "$TMP/init.err" "warn: daemons: crashy killed by signal ABRT.*; restart 2 in 600 ms \(restart policy on-failure\)" "the log names the backoff"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	is "$rc" 0 "status: exit 0 once ready again"
	like "$TMP/out" "^daemon crashy +ready +pid [0-9]+, restarts 2, last exit: killed by signal ABRT" "status shows restarts and the last exit"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
}

# Stop: reverse start order, a SIGTERM-ignoring daemon SIGKILLed after its own timeout,
# then the modules unload.
case_stop() {
	local ign first_term
	new_host stop
	EV=$TMP/events
	config stop "daemons:
  - name: first
    argv: [ $READYD, first, $EV, 0, 'file:$TMP/first' ]
    ready: { file: $TMP/first, interval: 50ms }
  - name: stubborn
    argv: [ $STUBBORND, stubborn, $EV ]
    stop: { signal: SIGTERM, timeout: 1s }
  - name: last
    argv: [ $READYD, last, $EV, 0, 'file:$TMP/last' ]
    ready: { file: $TMP/last, interval: 50ms }"
	start_init
	wait_ready || diag "init did not get ready"
	: >"$SHIMLOG"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0 (a SIGKILLed daemon does not fail the stop)"
	is "$(grep -E 'term' "$EV" | awk '{print $1 ":" $2}' | tr '\n' ' ' | sed 's/ $//')" \
		"last:term stubborn:ignored-term first:term" "daemons stop in reverse start order"
	ign=$(events stubborn ignored-term)
	first_term=$(events first term)
	ok $([ $((first_term - ign)) -ge 950 ] && echo 0 || echo 1) \
		"the next daemon waited for the stubborn one's timeout ($((first_term - ign)) ms)"
	like "$TMP/init.err" "warn: stop: stubborn \(pid [0-9]+\) still runs 1000 ms after SIGTERM: SIGKILL" "SIGKILL after the stop timeout, logged"
	like "$TMP/init.err" "info: stop: stubborn stopped \(killed by signal KILL\)" "it was killed"
	is "$(shimlog delete)" "delete:dktest_params delete:dktest_user delete:dktest_export" "the modules still unload"
	ok $([ "$(grep -n 'stop: first stopped' "$TMP/init.err" | cut -d: -f1)" -lt \
		"$(grep -n 'stop: everything unloaded' "$TMP/init.err" | cut -d: -f1)" ] && echo 0 || echo 1) \
		"daemons stopped before the modules unloaded"
}

case_stop_order() {
	new_host order
	EV=$TMP/events
	config order "daemon_stop_order: [ a ]
daemons:
  - { name: a, argv: [ $READYD, a, $EV, 0, 'file:$TMP/a' ] }
  - { name: b, argv: [ $READYD, b, $EV, 0, 'file:$TMP/b' ] }
  - { name: c, argv: [ $READYD, c, $EV, 0, 'file:$TMP/c' ] }"
	start_init
	wait_ready || diag "init did not get ready"
	wait_event c ready
	stop_init TERM
	is "$(grep -E ' term ' "$EV" | awk '{print $1}' | tr '\n' ' ' | sed 's/ $//')" "a c b" \
		"daemon_stop_order first, then the rest in reverse start order"
}

# when: path_not_empty under host_root (fabric manager only with NVSwitch devices).
case_when() {
	new_host when
	EV=$TMP/events
	mkdir -p "$HOST/proc/driver/nvidia-nvswitch/devices"
	config when "daemons:
  - name: nv-fabricmanager
    argv: [ $READYD, fm, $EV, 0, 'file:$TMP/fm' ]
    when: { path_not_empty: /proc/driver/nvidia-nvswitch/devices }
  - name: persistenced
    argv: [ $READYD, pd, $EV, 0, 'file:$TMP/pd' ]
    ready: { file: $TMP/pd, interval: 50ms }"
	start_init
	if wait_ready; then ok 0 "ready without the skipped daemon"; else ok 1 "ready without the skipped daemon"; fi
	unlike "$EV" "^fm start" "no NVSwitch device: fabric manager not started"
	like "$TMP/init.err" "info: daemons: nv-fabricmanager not started: when: $HOST/proc/driver/nvidia-nvswitch/devices is empty or missing" "logged why"
	run dk status --state-dir "$STATE" --host-root "$HOST"
	like "$TMP/out" "^daemon nv-fabricmanager +skipped .*when: .*nvidia-nvswitch/devices is empty or missing" "status: skipped, and why"
	stop_init TERM
	new_host when2
	mkdir -p "$HOST/proc/driver/nvidia-nvswitch/devices/0000:05:00.0"
	config when2 "daemons:
  - name: nv-fabricmanager
    argv: [ $READYD, fm, $EV, 0, 'file:$TMP/fm2' ]
    ready: { file: $TMP/fm2, interval: 50ms }
    when: { path_not_empty: /proc/driver/nvidia-nvswitch/devices }"
	start_init
	wait_ready || diag "init did not get ready"
	like "$EV" "^fm start" "an NVSwitch device: fabric manager started"
	stop_init TERM
}

case_not_found() {
	new_host nf
	config nf "daemons:
  - name: ghost
    argv: [ no-such-daemon-xyz ]
    restart: { initial: 100ms, max: 200ms }"
	start_init
	wait_status '"restarts": 2' || diag "not retried"
	like "$STATE/status.json" '"last_exit": "could not start: run no-such-daemon-xyz: not found in PATH' "status.json: could not start, and why"
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "no ready file"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
}

run_case case_config_errors
run_case case_ready_after_daemons
run_case case_never_ready
run_case case_crash
run_case case_stop
run_case case_stop_order
run_case case_when
run_case case_not_found

done_testing
