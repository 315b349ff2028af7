# Helpers for the drvkit init tests: a config for $HOST, start/wait/stop.
# Source after tests/lib.sh and tests/cli/kmod-lib.sh.

# config NAME [extra top-level yaml] [extra component yaml]: writes $CFG for $HOST
config() {
	CFG=$TMP/$1.yaml
	STATE=$HOST/run/drvkit
	READY=$HOST/run/ready/.driver-ready
	TERMLOG=$HOST/termination-log
	cat >"$CFG" <<EOC
state_dir: $STATE
ready_file: $READY
termination_log: $TERMLOG
host_root: $HOST
kernel: $KVER
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
}
# the module dir with the kernel release as $KVER
MODS_TMPL=$(dirname "$MODS")/\$KVER${MODS#"$(dirname "$MODS")/$KVER"}

start_init() { # start_init: drvkit init in the background, $PID
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG DK_SHIM_WATCH=$READY LD_PRELOAD=$SHIM_PRELOAD \
		"$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>"$TMP/init.err" &
	PID=$!
}
wait_ready() { # wait_ready [PID-IN-STATUS]: until status.json says ready for $PID
	local i=0 want=${1:-$PID}
	while ! grep -q "\"pid\": $want," "$STATE/status.json" 2>/dev/null ||
		! grep -q '"phase": "ready"' "$STATE/status.json" 2>/dev/null ||
		[ ! -e "$READY" ]; do
		[ $i -lt 200 ] || return 1
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.1
		i=$((i + 1))
	done
}
stop_init() { # stop_init [SIGNAL]: signal, wait, $rc and $ms
	local t0
	t0=$(date +%s%N)
	kill -"${1:-TERM}" "$PID"
	set +e
	wait "$PID"
	rc=$?
	set -e
	ms=$((($(date +%s%N) - t0) / 1000000))
}

# Whatever happens, no drvkit init outlives the test (a background job left by a failed
# assertion would keep running on the machine).
trap 'for j in $(jobs -p); do kill -KILL "$j" 2>/dev/null; done; rm -rf "$TMP"' EXIT
