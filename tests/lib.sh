# Shared helpers for shell tests: TAP output, assertions, scratch dirs.
# Source it; call `done_testing` at the end.
set -u
: "${DRVKIT:?DRVKIT must point at the drvkit binary (meson test sets it)}"
: "${DK_SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)}"
: "${DK_BUILDDIR:=$DK_SRCDIR/build}"
: "${DK_FIXTURES:=$DK_SRCDIR/tests/fixtures}"
_tap_n=0
_tap_fail=0
TMP=$(mktemp -d /tmp/dk-test.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok() { # ok COND_STATUS DESCRIPTION
	_tap_n=$((_tap_n + 1))
	if [ "$1" -eq 0 ]; then
		echo "ok $_tap_n - $2"
	else
		echo "not ok $_tap_n - $2"
		_tap_fail=$((_tap_fail + 1))
	fi
}
skip() { _tap_n=$((_tap_n + 1)); echo "ok $_tap_n - # SKIP $1"; }
diag() { echo "# $*"; }

# run CMD...: captures stdout/stderr/exit into $TMP/{out,err} and $rc
run() {
	set +e
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	set -e
	return 0
}
is() { # is GOT WANT DESC
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diag "got:  $1"
		diag "want: $2"
	fi
}
like() { # like FILE REGEX DESC
	if grep -Eq -- "$2" "$1"; then ok 0 "$3"; else
		ok 1 "$3"
		diag "no line of $1 matches /$2/:"
		sed 's/^/#   /' "$1" | head -20
	fi
}
unlike() {
	if grep -Eq -- "$2" "$1"; then
		ok 1 "$3"
		sed 's/^/#   /' "$1" | head -20
	else ok 0 "$3"; fi
}
# Builds the test modules once per build dir; sets $MODS.
need_modules() {
	MODS=$("$DK_SRCDIR/tests/modules/build.sh" "$DK_BUILDDIR/test-modules")
}
done_testing() {
	echo "1..$_tap_n"
	[ "$_tap_fail" -eq 0 ]
}
# start_file_server DIR: tests/fetch-server.py serving DIR on loopback in the background;
# sets $U (base URL), $SPID, $SERVER_LOG; stopped on exit.
start_file_server() {
	SERVER_LOG=$TMP/server.log
	rm -f "$TMP/server.port"
	: >"$SERVER_LOG"
	python3 "$DK_SRCDIR/tests/fetch-server.py" --dir "$1" --port-file "$TMP/server.port" \
		--log "$SERVER_LOG" &
	SPID=$!
	trap 'kill $SPID 2>/dev/null || true; wait $SPID 2>/dev/null || true; rm -rf "$TMP"' EXIT
	for _ in $(seq 200); do
		[ -s "$TMP/server.port" ] && break
		sleep 0.05
	done
	U=http://127.0.0.1:$(cat "$TMP/server.port")
}
