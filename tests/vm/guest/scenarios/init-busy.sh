# A module in use (dktest_user loaded by hand on top of dktest_export): SIGTERM must end
# within the grace period, fail, and name the holder in the termination log.
. /dk/lib.sh
start_init /dk/configs/busy.yaml init
wait_ready 30
seen=$?
okf $seen "ready file appears" "$TMP/init.out"
insmod /dk/mods/dktest_user.ko
check "dktest_user loaded by hand on top of dktest_export" loaded dktest_user
kill -TERM "$pid"
stop_wait "$pid" 20
check "drvkit init exits non-zero when a module stays in use (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 137
check "it gave up within the grace period (3 s) plus 2 s ($waited tenths)" test "$waited" -le 50
check "ready file (seen before) removed" test "$seen" -eq 0 -a ! -e "$READY"
like "$TERMLOG" "dktest_user" "termination log names the holder dktest_user"
like "$TERMLOG" "dktest_export" "termination log names the module in use"
like "$TMP/init.out" "dktest_user" "drvkit's log names the holder"
check "dktest_export still loaded (held)" loaded dktest_export
"$DRVKIT" status >"$TMP/status.out" 2>&1
like "$TMP/status.out" "dktest_export.*loaded" "status after the failed stop still reports dktest_export loaded (state kept for the next start)"
diag "left loaded: $(awk '/^dktest_/{printf "%s ", $1}' /proc/modules)"
all_passed || diag_file "$TMP/init.out" 30
cleanup_modules

# Same with a 60 s grace period: a second SIGTERM skips the waits.
start_init /dk/configs/busy-long.yaml init2
wait_ready 30
okf $? "grace 60 s: ready file appears" "$TMP/init2.out"
insmod /dk/mods/dktest_user.ko
kill -TERM "$pid"
sleep 1
check "grace 60 s: still retrying 1 s after the first SIGTERM" alive "$pid"
kill -TERM "$pid"
stop_wait "$pid" 10
check "grace 60 s: a second SIGTERM ends it within 3 s ($waited tenths)" test "$waited" -le 30
check "grace 60 s: exit non-zero (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 137
like "$TERMLOG" "dktest_user" "grace 60 s: termination log names the holder"
all_passed || diag_file "$TMP/init2.out" 20
cleanup_modules
