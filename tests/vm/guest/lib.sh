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
