# In-tree replacement (OFED pattern) with real Debian modules: ib_core, used by ib_uverbs.
. /dk/lib.sh
modprobe ib_uverbs >"$TMP/modprobe.out" 2>&1
okf $? "modprobe ib_uverbs (pulls in ib_core) from the Debian tree" "$TMP/modprobe.out"
check "ib_core loaded" loaded ib_core
check "ib_uverbs holds ib_core" test -e /sys/module/ib_core/holders/ib_uverbs
start_init /dk/configs/replace.yaml init
wait_ready 30
okf $? "ready file appears" "$TMP/init.out"
removed=1
loaded ib_core || loaded ib_uverbs || removed=0
check "in-tree ib_core and its user ib_uverbs removed during init" test "$removed" -eq 0
check "component module dktest_export loaded" loaded dktest_export
check "component module dktest_params loaded" loaded dktest_params
kill -TERM "$pid"
stop_wait "$pid" 30
is "$rc" 0 "drvkit init exits 0 after SIGTERM"
check "component modules unloaded (were loaded)" test "$removed" -eq 0 -a -z "$(grep ^dktest_ /proc/modules)"
check "ib_core (removed before) restored (restore: true)" test "$removed" -eq 0 -a -n "$(grep '^ib_core ' /proc/modules)"
check "ib_uverbs (removed before) restored too" test "$removed" -eq 0 -a -n "$(grep '^ib_uverbs ' /proc/modules)"
all_passed || diag_file "$TMP/init.out" 30
modprobe -r ib_uverbs ib_core 2>/dev/null
cleanup_modules
