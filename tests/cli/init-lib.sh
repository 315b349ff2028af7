# Helpers for the drvkit init tests: a config for $HOST, start/wait/stop.
# Source after tests/lib.sh and tests/cli/kmod-lib.sh.

# config_paths NAME: $CFG and the paths every init config of $HOST names
config_paths() {
	CFG=$TMP/$1.yaml
	STATE=$HOST/run/drvkit
	READY=$HOST/run/ready/.driver-ready
	TERMLOG=$HOST/termination-log
}
# config_top HOST-ROOT: the top-level lines every init config shares (after config_paths)
config_top() {
	cat <<EOC
state_dir: $STATE
ready_file: $READY
termination_log: $TERMLOG
host_root: $1
kernel: $KVER
EOC
}

# config NAME [extra top-level yaml] [extra component yaml]: writes $CFG for $HOST
config() {
	config_paths "$1"
	{
		config_top "$HOST"
		cat <<EOC
grace_period: ${GRACE:-5}
${2:-}
components:
  - name: example
    source: { dir: $MODS_TMPL }
    modules:
      - name: dktest_user
      - name: dktest_export
      - name: dktest_params
        params: { count: 7, label: hello }
${3:-}
EOC
	} >"$CFG"
}
# the module dir with the kernel release as $KVER
MODS_TMPL=$(dirname "$MODS")/\$KVER${MODS#"$(dirname "$MODS")/$KVER"}

start_init() { # start_init: drvkit init in the background, $PID
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG DK_SHIM_WATCH=$READY LD_PRELOAD=$SHIM_PRELOAD \
		"$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>"$TMP/init.err" &
	PID=$!
}
# Polls end as soon as the condition holds; the limits are generous because
# the suites share few CPUs with many parallel tests (a slow start is not a
# failure of what is being tested).
wait_ready() { # wait_ready [PID-IN-STATUS]: until status.json says ready for $PID
	local i=0 want=${1:-$PID}
	while ! grep -q "\"pid\": $want," "$STATE/status.json" 2>/dev/null ||
		! grep -q '"phase": "ready"' "$STATE/status.json" 2>/dev/null ||
		[ ! -e "$READY" ]; do
		[ $i -lt 600 ] || return 1
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
stop_init() { # stop_init [SIGNAL]: signal, wait, $rc and $ms
	local t0
	t0=$(date +%s%N)
	kill -"${1:-TERM}" "$PID" 2>/dev/null
	wait "$PID"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
}
wait_log() { # wait_log REGEX [SECONDS]: until $TMP/init.err has a matching line
	local i=0
	while ! grep -Eq -- "$1" "$TMP/init.err" 2>/dev/null; do
		[ $i -lt $((${2:-60} * 10)) ] || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
waited_s() { # waited_s FILE: the seconds of the first "in use (...) after N.N s", or 999
	local s
	s=$(sed -n 's/.* in use (.*) after \([0-9]*\)\.[0-9] s.*/\1/p' "$1" 2>/dev/null | head -1)
	echo "${s:-999}"
}

# Cases are functions run by run_case: tests/lib.sh's tcase (own subshell, own $TMP), but
# with `set +e`, since these cases check each step's result with assertions that follow it;
# whatever init a case leaves running is killed when the case ends.
_init_case() {
	set +e
	atexit 'for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null; wait "$j" 2>/dev/null; done'
	"$1"
}
run_case() { # run_case FUNCTION
	tcase "$1" _init_case "$1"
}

# Shared by init-rollback.sh and init-storage.sh.
both() { # both REGEX DESC: on stderr and in the termination log
	like "$TMP/init.err" "$1" "$2 (stderr)"
	like "$TERMLOG" "$1" "$2 (termination log)"
}
run_init() { # run_init: drvkit init in the foreground under the shim, $rc and $ms
	# (a start expected to fail; should it get ready instead, it is stopped)
	local t0
	t0=$(date +%s%N)
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD \
		timeout -s TERM 60 "$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>"$TMP/init.err"
	rc=$?
	ms=$((($(date +%s%N) - t0) / 1000000))
}
protect_host() { # protect_host NAME: dktest_export "in-tree" (other srcversion), used by dktest_user
	new_host "$1"
	dk load --host-root "$HOST" --kernel "$KVER" "$MODS/dktest_export.ko" "$MODS/dktest_user.ko" >/dev/null 2>&1
	echo INTREE0000000000000000 >"$HOST/sys/module/dktest_export/srcversion"
	: >"$SHIMLOG"
}
fake_holder() { # fake_holder HOLDER MODULE: a loaded HOLDER that uses MODULE
	mkdir -p "$HOST/sys/module/$1/holders" "$HOST/sys/module/$2/holders/$1"
	echo live >"$HOST/sys/module/$1/initstate"
	echo 1 >"$HOST/sys/module/$1/refcnt"
}
