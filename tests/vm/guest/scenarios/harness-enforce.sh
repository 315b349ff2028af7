# The enforcing test kernel with busybox insmod only: unsigned and wrong-key modules are
# refused, modules signed with the kernel's test key (scripts/sign-file) load and unload.
. /dk/lib.sh
is "$(cat /sys/module/module/parameters/sig_enforce 2>&1)" Y "signature enforcement is on (MODULE_SIG_FORCE)"
insmod /dk/mods/dktest_params.ko >"$TMP/unsigned.out" 2>&1
check "unsigned dktest_params refused" test $? -ne 0
like "$TMP/unsigned.out" "Key was rejected by service" "unsigned: Key was rejected by service"
insmod /dk/wrong/dktest_params.ko >"$TMP/wrong.out" 2>&1
check "dktest_params signed with an untrusted key refused" test $? -ne 0
like "$TMP/wrong.out" "Key was rejected by service" "wrong key: Key was rejected by service"
insmod /dk/signfile/dktest_params.ko count=9 >"$TMP/signed.out" 2>&1
okf $? "dktest_params signed by sign-file with the test key loads" "$TMP/signed.out"
is "$(cat /sys/module/dktest_params/parameters/count 2>&1)" 9 "its parameter count=9 is set"
check "dktest_export (sign-file) loads" insmod /dk/signfile/dktest_export.ko
check "dktest_user (sign-file) loads" insmod /dk/signfile/dktest_user.ko
check "rmmod all three" rmmod dktest_user dktest_export dktest_params
check "drvkit runs on the test kernel" "$DRVKIT" --version
cleanup_modules
