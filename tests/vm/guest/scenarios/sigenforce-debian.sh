# Debian's kernel booted with module.sig_enforce=1: unsigned out-of-tree modules are refused;
# drvkit says why and how to fix it.
. /dk/lib.sh
is "$(cat /sys/module/module/parameters/sig_enforce 2>&1)" Y "sig_enforce is on"
insmod /dk/mods/dktest_params.ko >"$TMP/insmod.out" 2>&1
check "busybox insmod of the unsigned module is refused" test $? -ne 0
like "$TMP/insmod.out" "Key was rejected by service" "the kernel answers EKEYREJECTED"
modprobe ib_core >"$TMP/modprobe.out" 2>&1
okf $? "Debian-signed in-tree ib_core still loads" "$TMP/modprobe.out"
modprobe -r ib_core 2>/dev/null
"$DRVKIT" load /dk/mods/dktest_params.ko >"$TMP/load.out" 2>&1
check "drvkit load of the unsigned module fails" test $? -ne 0
like "$TMP/load.out" "signed by a trusted key" "drvkit load explains: signed by a trusted key"
like "$TMP/load.out" "MOK" "drvkit load points at MOK enrolment"
start_init /dk/configs/basic.yaml init
stop_wait "$pid" 30
check "drvkit init exits non-zero (exit $rc)" test "$rc" -ne 0 -a "$rc" -ne 137
check "no ready file" test ! -e "$READY"
like "$TMP/init.out" "signed by a trusted key" "drvkit init's message: signed by a trusted key"
like "$TERMLOG" "signed by a trusted key|MOK" "termination log carries the reason"
diag "termination log: $(head -c 400 "$TERMLOG" 2>/dev/null)"
check "no test module loaded" sh -c '! grep -q ^dktest_ /proc/modules'
cleanup_modules
