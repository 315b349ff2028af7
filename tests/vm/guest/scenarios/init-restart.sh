# SIGKILL, then a new instance: it recognises the modules its predecessor loaded (no reload).
. /dk/lib.sh
base_p=$(dmesg_count 'dktest_params: count=')   # earlier scenarios of this boot loaded them too
base_u=$(dmesg_count 'dktest_user: 2+3=')
start_init /dk/configs/basic.yaml init1
wait_ready 30
okf $? "first instance ready" "$TMP/init1.out"
inits=$(($(dmesg_count 'dktest_params: count=') - base_p))
is "$inits" 1 "dktest_params init ran once"
kill -KILL "$pid"
stop_wait "$pid" 10
is "$rc" 137 "first instance killed with SIGKILL"
check "modules stay loaded after SIGKILL" loaded dktest_params
rm -f "$READY"   # the kubelet's preStop would have done it; the new instance must write it again
start_init /dk/configs/basic.yaml init2
wait_ready 30
okf $? "second instance ready" "$TMP/init2.out"
is "$(($(dmesg_count 'dktest_params: count=') - base_p))" 1 "no reload: dktest_params init still ran once"
is "$(($(dmesg_count 'dktest_user: 2+3=') - base_u))" 1 "no reload: dktest_user init still ran once"
is "$(grep -c '^dktest_' /proc/modules)" 3 "three test modules loaded, none duplicated"
like "$TMP/init2.out" "[Aa]lready|[Ss]kip|unchanged|[Rr]ecogni|adopt" "second instance says the modules were already loaded"
"$DRVKIT" status >"$TMP/status.out" 2>&1
okf $? "status exits 0 after the restart" "$TMP/status.out"
like "$TMP/status.out" "dktest_params" "status lists dktest_params"
kill -TERM "$pid"
stop_wait "$pid" 20
is "$rc" 0 "second instance exits 0 on SIGTERM"
check "it unloads the set its predecessor loaded" test "$inits" -eq 1 -a -z "$(grep ^dktest_ /proc/modules)"
all_passed || diag_file "$TMP/init2.out" 30
cleanup_modules
