# The harness itself, with busybox insmod/rmmod only: modules, parameters, sysfs, console.
. /dk/lib.sh
insmod /dk/mods/dktest_params.ko count=7 label=hello >"$TMP/insmod.out" 2>&1
ok $? "busybox insmod dktest_params count=7 label=hello"
is "$(cat /sys/module/dktest_params/parameters/count 2>&1)" 7 "parameter count visible in sysfs"
is "$(cat /sys/module/dktest_params/parameters/label 2>&1)" hello "parameter label visible in sysfs"
is "$(cat /sys/module/dktest_params/initstate 2>&1)" live "initstate live"
insmod /dk/mods/dktest_user.ko >"$TMP/user.out" 2>&1
check "dktest_user refused before dktest_export (unknown symbol)" test $? -ne 0
check "busybox insmod dktest_export" insmod /dk/mods/dktest_export.ko
check "busybox insmod dktest_user" insmod /dk/mods/dktest_user.ko
check "dktest_user holds dktest_export" test -e /sys/module/dktest_export/holders/dktest_user
rmmod dktest_export >"$TMP/rmmod.out" 2>&1
check "rmmod dktest_export refused while dktest_user holds it" test $? -ne 0
check "rmmod all three" rmmod dktest_user dktest_export dktest_params
check "no test module left in /proc/modules" sh -c '! grep -q ^dktest_ /proc/modules'
check "libkmod index for the kernel present (modules.dep.bin)" test -f "/lib/modules/$(uname -r)/modules.dep.bin"
check "drvkit runs in the guest (shared libraries complete)" "$DRVKIT" --version
