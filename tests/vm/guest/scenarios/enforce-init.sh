# drvkit init on the enforcing kernel: modules signed by `drvkit sign` load; drvkit init signs
# with the configured key; unsigned and wrong-key modules are refused with a clear message.
. /dk/lib.sh
start_init /dk/configs/signed.yaml signed
wait_ready 60
seen=$?
okf $seen "modules signed by drvkit sign: ready" "$TMP/signed.out"
for m in dktest_export dktest_user dktest_params; do
	check "$m loaded" loaded $m
done
is "$(cat /sys/module/dktest_params/parameters/count 2>&1)" 5 "parameter count=5 from the config"
kill -TERM "$pid"
stop_wait "$pid" 20
is "$rc" 0 "SIGTERM: exit 0"
check "all unloaded" test "$seen" -eq 0 -a -z "$(grep ^dktest_ /proc/modules)"
cleanup_modules

start_init /dk/configs/sign-at-init.yaml signinit
wait_ready 60
okf $? "unsigned modules + signing key in the config: drvkit init signs them and gets ready" "$TMP/signinit.out"
check "dktest_user loaded" loaded dktest_user
kill -TERM "$pid"
stop_wait "$pid" 20
is "$rc" 0 "SIGTERM: exit 0"
cleanup_modules

for case in unsigned wrong-key; do
	start_init /dk/configs/$case.yaml $case
	stop_wait "$pid" 30
	check "$case modules: drvkit init fails (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 137
	check "$case modules: no ready file" test ! -e "$READY"
	like "$TMP/$case.out" "Key was rejected|signed by a trusted key" "$case modules: the message says the key was rejected / needs a trusted key"
	like "$TERMLOG" "Key was rejected|signed by a trusted key" "$case modules: termination log says why"
	diag "$case: drvkit said:"
	grep -E 'error|rejected|trusted' "$TMP/$case.out" | tail -n 2 | while IFS= read -r l; do diag "  $l"; done
	check "$case modules: nothing loaded" sh -c '! grep -q ^dktest_ /proc/modules'
	cleanup_modules
done
