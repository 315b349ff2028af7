# Guest-side helpers for the VM scenarios (busybox sh). Source it.
# Results go to the console as "DKVM: ok - DESC" / "DKVM: not ok - DESC" / "DKVM: # DIAG".
DRVKIT=${DRVKIT:-/bin/drvkit}
TMP=/tmp/$DK_SCENARIO
mkdir -p "$TMP"
_fail=0
ok() { # ok STATUS DESC
	echo x >>"$TMP/.results"
	if [ "$1" -eq 0 ]; then echo "DKVM: ok - $DK_SCENARIO: $2"; else
		echo "DKVM: not ok - $DK_SCENARIO: $2"
		_fail=1
	fi
}
diag() { echo "DKVM: # $*"; }
okf() { # okf STATUS DESC FILE: ok, and on failure the tail of FILE (a command's output)
	ok "$1" "$2"
	[ "$1" -eq 0 ] || diag_file "$3"
}
diag_file() { # diag_file FILE [LINES]: prints the last lines of FILE as diagnostics
	[ -f "$1" ] || { diag "($1 missing)"; return 0; }
	tail -n "${2:-15}" "$1" | while IFS= read -r l; do echo "DKVM: #   $l"; done
}
check() { # check DESC CMD...: ok when CMD succeeds
	local d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok 0 "$d"; else ok 1 "$d"; diag "failed: $*"; fi
}
is() { # is GOT WANT DESC
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diag "got:  '$1'"
		diag "want: '$2'"
	fi
}
like() { # like FILE REGEX DESC
	if grep -Eq -- "$2" "$1" 2>/dev/null; then ok 0 "$3"; else
		ok 1 "$3"
		diag "no line of $1 matches /$2/; its tail:"
		diag_file "$1"
	fi
}
loaded() { grep -q "^$1 " /proc/modules; }
wait_for() { # wait_for SECONDS CMD...: polls every 0.1 s
	local n=$(($1 * 10))
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
