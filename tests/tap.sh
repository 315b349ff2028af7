# TAP for every shell test: the host tiers (tests/lib.sh, bash) and the VM guest
# (tests/vm/guest/lib.sh, busybox ash; copied into the initramfs as /dk/tap.sh). POSIX sh only.
#
# Results are counted in the file $TAP_STATE ("COUNT FAILED"), not in shell variables, so a
# check made inside a subshell (a test case run in its own process, a pipeline) still counts
# and numbers stay in order. Set before the first check:
#   TAP_STATE   the counter file (required; created at the first result)
#   TAP_PREFIX  printed before every line ("DKVM: " in the guest, whose console carries
#               kernel and program output too)
#   TAP_NAME    printed before every description ("scenario: " in the guest)
# Checks: ok STATUS DESC, skip WHY, is GOT WANT DESC, like FILE REGEX DESC, unlike FILE REGEX
# DESC, okf STATUS DESC FILE, check DESC CMD...; output: diag MSG, diag_file FILE [LINES];
# all_passed (no failure so far), done_testing (prints the plan; status 1 on any failure).
: "${TAP_PREFIX=}"
: "${TAP_NAME=}"

_tap_read() { # sets _tap_n and _tap_f from $TAP_STATE
	_tap_n=0 _tap_f=0
	if [ -s "$TAP_STATE" ]; then
		read -r _tap_n _tap_f <"$TAP_STATE" || true
	fi
}
_tap_nl='
'
ok() { # ok STATUS DESC (a DESC of several lines is joined: TAP has one line per result)
	_tap_read
	_tap_n=$((_tap_n + 1))
	_tap_d=$2
	case $_tap_d in *"$_tap_nl"*) _tap_d=$(printf '%s' "$_tap_d" | tr '\n' ' ') ;; esac
	if [ "$1" -eq 0 ] 2>/dev/null; then
		printf '%sok %s - %s%s\n' "$TAP_PREFIX" "$_tap_n" "$TAP_NAME" "$_tap_d"
	else
		_tap_f=$((_tap_f + 1))
		printf '%snot ok %s - %s%s\n' "$TAP_PREFIX" "$_tap_n" "$TAP_NAME" "$_tap_d"
	fi
	echo "$_tap_n $_tap_f" >"$TAP_STATE"
	return 0
}
skip() { # skip WHY: one test point that did not run
	_tap_read
	_tap_n=$((_tap_n + 1))
	printf '%sok %s - # SKIP %s\n' "$TAP_PREFIX" "$_tap_n" "$1"
	echo "$_tap_n $_tap_f" >"$TAP_STATE"
}
diag() { # diag MSG: every line of MSG as a "# " comment line
	case $* in
	*"$_tap_nl"*) printf '%s\n' "$*" | while IFS= read -r _tap_l; do printf '%s# %s\n' "$TAP_PREFIX" "$_tap_l"; done ;;
	*) printf '%s# %s\n' "$TAP_PREFIX" "$*" ;;
	esac
}
diag_file() { # diag_file FILE [LINES]: the last LINES (20) lines of FILE as diagnostics
	[ -f "$1" ] || {
		diag "($1 missing)"
		return 0
	}
	tail -n "${2:-20}" "$1" | while IFS= read -r _tap_l; do diag "  $_tap_l"; done
}
okf() { # okf STATUS DESC FILE: ok, and on failure the tail of FILE (a command's output)
	ok "$1" "$2"
	[ "$1" -eq 0 ] 2>/dev/null || diag_file "$3"
}
check() { # check DESC CMD...: ok when CMD succeeds
	_tap_d=$1
	shift
	if "$@" >/dev/null 2>&1; then ok 0 "$_tap_d"; else
		ok 1 "$_tap_d"
		diag "failed: $*"
	fi
}
is() { # is GOT WANT DESC
	if [ "$1" = "$2" ]; then ok 0 "$3"; else
		ok 1 "$3"
		diag "got:  '$1'"
		diag "want: '$2'"
	fi
}
like() { # like FILE REGEX DESC: some line of FILE matches REGEX (grep -E)
	if grep -Eq -- "$2" "$1" 2>/dev/null; then ok 0 "$3"; else
		ok 1 "$3"
		diag "no line of $1 matches /$2/; its tail:"
		diag_file "$1"
	fi
}
unlike() { # unlike FILE REGEX DESC: no line of FILE matches REGEX
	if grep -Eq -- "$2" "$1" 2>/dev/null; then
		ok 1 "$3"
		diag "a line of $1 matches /$2/:"
		grep -E -- "$2" "$1" | head -n 10 | while IFS= read -r _tap_l; do diag "  $_tap_l"; done
	else ok 0 "$3"; fi
}
all_passed() { # status 0 while no check has failed
	_tap_read
	[ "$_tap_f" -eq 0 ]
}
done_testing() { # prints the plan; status 1 when a check failed
	_tap_read
	printf '%s1..%s\n' "$TAP_PREFIX" "$_tap_n"
	TAP_DONE=1
	[ "$_tap_f" -eq 0 ]
}
