# drvkit load / unload from the command line.
. /dk/lib.sh
"$DRVKIT" load /dk/mods/dktest_user.ko /dk/mods/dktest_export.ko >"$TMP/load.out" 2>&1
okf $? "drvkit load dktest_user.ko dktest_export.ko (users given first) exits 0" "$TMP/load.out"
check "dktest_export loaded" loaded dktest_export
check "dktest_user loaded (after its dependency)" loaded dktest_user
check "dktest_user holds dktest_export" test -e /sys/module/dktest_export/holders/dktest_user
"$DRVKIT" load /dk/mods/dktest_user.ko /dk/mods/dktest_export.ko >"$TMP/load2.out" 2>&1
okf $? "drvkit load of the same files again exits 0" "$TMP/load2.out"
like "$TMP/load2.out" "[Aa]lready|[Ss]kip|unchanged" "second load says the modules are already loaded"
"$DRVKIT" unload --wait 1 dktest_export >"$TMP/unload-busy.out" 2>&1
check "drvkit unload dktest_export alone fails (in use)" test $? -ne 0
like "$TMP/unload-busy.out" "dktest_user" "the failure names the holder dktest_user"
check "dktest_export still loaded" loaded dktest_export
"$DRVKIT" unload dktest_export dktest_user >"$TMP/unload.out" 2>&1
okf $? "drvkit unload dktest_export dktest_user (reverse dependency order) exits 0" "$TMP/unload.out"
check "no test module left" sh -c '! grep -q ^dktest_ /proc/modules'
cleanup_modules
