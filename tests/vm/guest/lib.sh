# Guest-side helpers for the VM scenarios (busybox sh). Source it.
# Results go to the console through tests/tap.sh (/dk/tap.sh) as "DKVM: ok N - SCENARIO: DESC" /
# "DKVM: not ok N - SCENARIO: DESC" / "DKVM: # DIAG"; tests/vm/run.sh numbers them again.
DRVKIT=${DRVKIT:-/bin/drvkit}
TMP=/tmp/$DK_SCENARIO
mkdir -p "$TMP"
TAP_STATE=$TMP/.results # the counter; /init checks that a scenario reported something
TAP_PREFIX="DKVM: "
TAP_NAME="$DK_SCENARIO: "
. "${DK_GUEST_DIR:-/dk}/tap.sh"
loaded() { grep -q "^$1 " /proc/modules; }
wait_for() { # wait_for SECONDS CMD...: polls every 0.1 s
	local n=$(($1 * 10))
	shift
	while [ "$n" -gt 0 ]; do
		"$@" 2>/dev/null && return 0
		usleep 100000
		n=$((n - 1))
	done
	return 1
}
alive() { kill -0 "$1" 2>/dev/null && ! grep -q '^State:.*Z' "/proc/$1/status" 2>/dev/null; }
# Counts kernel log lines matching a regex (how often a module's init ran).
dmesg_count() { dmesg | grep -c -- "$1"; }

READY=/run/drvkit/ready
TERMLOG=/run/termination-log
# start_init CONFIG NAME: starts `drvkit init --config CONFIG` in the background, output in
# $TMP/NAME.out; sets $pid.
start_init() {
	"$DRVKIT" init --config "$1" >"$TMP/$2.out" 2>&1 &
	pid=$!
}
# wait_ready SECONDS: waits for $READY while $pid runs; fails at once when it exits
wait_ready() {
	local n=$(($1 * 10))
	while [ "$n" -gt 0 ]; do
		[ -f "$READY" ] && return 0
		alive "$pid" || { [ -f "$READY" ]; return; }
		usleep 50000
		n=$((n - 1))
	done
	return 1
}
# stop_wait PID SECONDS: waits for PID to exit (SIGKILL after SECONDS); sets $rc to its exit
# status and $waited to the tenths of a second it took.
stop_wait() {
	local n=0 max=$(($2 * 10))
	while alive "$1" && [ "$n" -lt "$max" ]; do
		usleep 100000
		n=$((n + 1))
	done
	waited=$n
	if alive "$1"; then
		diag "pid $1 still running after $2 s: SIGKILL"
		kill -9 "$1"
	fi
	wait "$1"
	rc=$?
}
# cleanup_modules: leaves no test module loaded (for the next scenario)
cleanup_modules() {
	for m in dktest_user dktest_export dktest_params; do
		loaded $m && rmmod $m 2>/dev/null
	done
	rm -rf /run/drvkit "$TERMLOG"
}
