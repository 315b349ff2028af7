# Why an unload is blocked: a process with /dev/dktest_hold open (a misc device of
# dktest_hold) keeps the module in use; drvkit status names it, SIGTERM fails past the
# grace period and the termination log names its pid and command; once it is killed a
# retry unloads.
. /dk/lib.sh
start_init /dk/configs/blockers.yaml blk
wait_ready 30
okf $? "ready file appears" "$TMP/blk.out"
check "dktest_hold loaded" loaded dktest_hold
check "/dev/dktest_hold is a character device (devtmpfs)" test -c /dev/dktest_hold
sleep 1000 </dev/dktest_hold &
hpid=$!
wait_for 5 grep -q '^dktest_hold [0-9]* 1 ' /proc/modules
diag "$(grep '^dktest_hold ' /proc/modules)"
"$DRVKIT" status >"$TMP/status.out" 2>&1
like "$TMP/status.out" "^  used by pid $hpid sleep \(sleep 1000\): /dev/dktest_hold$" \
	"drvkit status names the process holding the device node"
kill -TERM "$pid"
stop_wait "$pid" 20
check "drvkit init exits 1 while a process holds the device (exit $rc)" test "$rc" -eq 1
check "it gave up within the grace period (2 s) plus 2 s ($waited tenths)" test "$waited" -le 40
like "$TERMLOG" "unload dktest_hold: in use \(refcnt 1, holders: none\) after [0-9.]+ s: stop the processes with its device nodes open: pid $hpid sleep \(sleep 1000\): /dev/dktest_hold" \
	"termination log names the pid, command and device node"
like "$TMP/blk.out" "pid $hpid sleep \(sleep 1000\)" "init's log names it"
check "dktest_hold still loaded (held)" loaded dktest_hold
diag "termination log: $(cat "$TERMLOG" 2>/dev/null)"
all_passed || diag_file "$TERMLOG" 5
kill -9 "$hpid"
wait "$hpid" 2>/dev/null
start_init /dk/configs/blockers.yaml blk2
wait_ready 30
okf $? "the holder killed: a new drvkit init gets ready (adopts dktest_hold)" "$TMP/blk2.out"
kill -TERM "$pid"
stop_wait "$pid" 20
check "retry: SIGTERM exits 0 (exit $rc)" test "$rc" -eq 0
check "retry: dktest_hold unloaded" sh -c '! grep -q "^dktest_hold " /proc/modules'
all_passed || diag_file "$TMP/blk2.out" 20
rmmod dktest_hold 2>/dev/null
rm -rf /run/drvkit "$TERMLOG"
