# Shared helpers for the host shell tests (bash): TAP (tests/tap.sh), independent test cases,
# scratch dirs, running drvkit. Source it; call `done_testing` at the end.
#
# A script is a list of cases: `tcase NAME FUNC [ARGS...]` runs FUNC in a subshell under
# `set -e` with its own empty $TMP, so a command that fails outside an assertion ends only that
# case (reported as a failure naming the case and the command) and the next case still runs.
# Fixtures that several cases read are built once into $FIX by a case of their own; a case
# copies what it changes. The plan line is printed even when the script itself dies.
set -u
: "${DRVKIT:?DRVKIT must point at the drvkit binary (meson test sets it)}"
: "${DK_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${DK_BUILDDIR:=$DK_SRCDIR/build}"
: "${DK_FIXTURES:=$DK_SRCDIR/tests/fixtures}"
DK_TMP_ROOT=$(mktemp -d /tmp/dk-test.XXXXXX)
TMP=$DK_TMP_ROOT
FIX=$DK_TMP_ROOT/fixture
mkdir -p "$FIX"
TAP_STATE=$DK_TMP_ROOT/.tap
. "$DK_SRCDIR/tests/tap.sh"

# Cleanups run at exit, last registered first (background servers, jobs).
_dk_atexit=()
atexit() { _dk_atexit=("$*" "${_dk_atexit[@]}"); }
_dk_exit() {
	local rc=$? c
	trap - EXIT
	if [ "${TAP_DONE:-0}" != 1 ]; then # died before done_testing: say so, and plan
		ok 1 "script ended early (exit $rc) before done_testing"
		done_testing || true
		rc=1
	fi
	for c in "${_dk_atexit[@]}"; do eval "$c" || true; done
	rm -rf "$DK_TMP_ROOT"
	exit "$rc"
}
trap _dk_exit EXIT

# _dk_err STATUS LINE COMMAND: names the command that ends a case (ERR fires under set +e
# too, as in run, where it ends nothing)
_dk_err() {
	[[ $- == *e* ]] || return 0
	diag "$DK_CASE: \`$3\` failed (exit $1) at ${BASH_SOURCE[1]##*/}:$2"
}
# tcase NAME FUNC [ARGS...]: runs one independent test case (see above).
_dk_case_n=0
tcase() {
	local name=$1 fn=$2 rc opts=$-
	shift 2
	_dk_case_n=$((_dk_case_n + 1))
	set +e
	(
		TMP=$DK_TMP_ROOT/case-$_dk_case_n
		mkdir -p "$TMP" && cd "$TMP" || exit 1
		DK_CASE=$name
		_dk_atexit=()
		trap 'for c in "${_dk_atexit[@]}"; do eval "$c" || true; done' EXIT
		trap '_dk_err $? "$LINENO" "$BASH_COMMAND"' ERR
		set -eE
		"$fn" "$@"
	)
	rc=$?
	[[ $opts == *e* ]] && set -e
	if [ "$rc" -ne 0 ]; then
		ok 1 "$name: case aborted (exit $rc); its remaining checks did not run"
	fi
	return 0
}

# skip_all WHY: the whole script does not apply on this machine (plan 1..0)
skip_all() {
	echo "1..0 # SKIP $1"
	TAP_DONE=1
	exit 0
}

# use_fixture: copies $FIX (what the fixture case built) into the case's own $TMP
use_fixture() { cp -a "$FIX"/. "$TMP"/; }

# t DESC CMD...: one test point from CMD's status
t() {
	local d=$1
	shift
	if "$@"; then ok 0 "$d"; else ok 1 "$d"; fi
}

# run CMD...: captures stdout/stderr/exit into $TMP/{out,err} and $rc
run() {
	local opts=$-
	set +e
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	[[ $opts == *e* ]] && set -e
	return 0
}
# Builds the test modules once per build dir; sets $MODS.
need_modules() {
	MODS=$("$DK_SRCDIR/tests/modules/build.sh" "$DK_BUILDDIR/test-modules")
}
# start_file_server DIR: tests/fetch-server.py serving DIR on loopback in the background;
# sets $U (base URL), $SPID, $SERVER_LOG; stopped when the case (or script) that started it
# exits.
start_file_server() {
	local WWW=$1
	start_server server
	SERVER_LOG=$TMP/server.log
	SPID=$server_PID
	U=http://127.0.0.1:$server_PORT
}

# start_server NAME [ARGS]: tests/fetch-server.py serving $WWW on 127.0.0.1 (its fault
# modes by path: /ok/, /404/, /wrong/, ...); sets NAME_PID, NAME_PORT; requests are
# logged to $TMP/NAME.log; stopped when the case ends.
start_server() {
	local name=$1 pid
	shift
	rm -f "$TMP/$name.port"
	: >"$TMP/$name.log"
	python3 "$DK_SRCDIR/tests/fetch-server.py" --dir "$WWW" --port-file "$TMP/$name.port" \
		--log "$TMP/$name.log" "$@" &
	pid=$!
	atexit "stop_server $pid"
	for _ in $(seq 200); do
		[ -s "$TMP/$name.port" ] && break
		sleep 0.05
	done
	printf -v "${name}_PID" %s "$pid"
	printf -v "${name}_PORT" %s "$(cat "$TMP/$name.port")"
}
stop_server() {
	local pid=$1
	kill "$pid" 2>/dev/null || true
	wait "$pid" 2>/dev/null || true
}
