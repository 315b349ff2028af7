# drvkit init as PID 1 of a new PID namespace (a container without hostPID).
. /dk/lib.sh
unshare -p -f "$DRVKIT" init --config /dk/configs/basic.yaml >"$TMP/init.out" 2>&1 &
upid=$!
pid=$upid
wait_ready 30
seen=$?
okf $seen "ready file appears (init is PID 1 in its namespace)" "$TMP/init.out"
pid=
for s in /proc/[0-9]*/status; do
	grep -q "^PPid:[[:space:]]*$upid\$" "$s" 2>/dev/null && pid=$(basename "$(dirname "$s")")
done
nspid=$(grep '^NSpid:' "/proc/$pid/status" 2>/dev/null | awk '{print $NF}')
is "$nspid" 1 "drvkit is PID 1 inside its namespace"
check "dktest_params loaded" loaded dktest_params
if [ -n "$pid" ]; then kill -TERM "$pid"; else kill -TERM "$upid"; fi
stop_wait "$upid" 20
is "$rc" 0 "drvkit as PID 1 exits 0 on SIGTERM (signalfd works for a namespace init)"
check "all test modules unloaded" test "$seen" -eq 0 -a -z "$(grep ^dktest_ /proc/modules)"
all_passed || diag_file "$TMP/init.out" 30
cleanup_modules
