# drvkit init as a child of a shell (hostPID-like, not PID 1): load order, parameters,
# ready file, status, SIGTERM unloads everything.
. /dk/lib.sh
start_init /dk/configs/basic.yaml init
check "drvkit init runs as a child of a shell, not PID 1" test "$pid" -ne 1
wait_ready 30
seen=$?
okf $seen "ready file $READY appears" "$TMP/init.out"
for m in dktest_export dktest_user dktest_params; do
	check "$m loaded" loaded $m
done
check "dktest_user holds dktest_export (loaded in dependency order)" test -e /sys/module/dktest_export/holders/dktest_user
is "$(cat /sys/module/dktest_params/parameters/count 2>&1)" 42 "parameter count=42 from the config"
is "$(cat /sys/module/dktest_params/parameters/label 2>&1)" vmtest "parameter label=vmtest from the config"
is "$(cat /sys/module/dktest_params/parameters/enable 2>&1)" Y "parameter enable=true from the config"
"$DRVKIT" status >"$TMP/status.out" 2>&1
okf $? "drvkit status exits 0 while init blocks" "$TMP/status.out"
like "$TMP/status.out" "dktest_params" "status lists dktest_params"
like "$TMP/status.out" "dktest_user" "status lists dktest_user"
"$DRVKIT" status --json >"$TMP/status.json" 2>&1
like "$TMP/status.json" '"dktest_export"' "status --json lists dktest_export"
check "drvkit init still running" alive "$pid"
kill -TERM "$pid"
stop_wait "$pid" 20
is "$rc" 0 "drvkit init exits 0 after SIGTERM"
check "ready file (seen before) removed" test "$seen" -eq 0 -a ! -e "$READY"
check "all test modules unloaded (all were loaded before)" test "$seen" -eq 0 -a -z "$(grep ^dktest_ /proc/modules)"
all_passed || diag_file "$TMP/init.out" 30
cleanup_modules
