# scripts/demo: the lifecycle of `drvkit init` on the example driver, narrated ("DEMO:" lines).
. /dk/lib.sh
say() { echo "DEMO: $*"; }
show() { while IFS= read -r l; do echo "DEMO:     $l"; done; }
say "kernel $(uname -r); example driver config /dk/configs/demo.yaml:"
grep -v '^#' /dk/configs/demo.yaml | show
say "\$ drvkit init --config /dk/configs/demo.yaml &"
start_init /dk/configs/demo.yaml init
wait_ready 30
seen=$?
okf $seen "drvkit init reached ready" "$TMP/init.out"
if [ "$seen" -ne 0 ]; then
	say "drvkit init did not get ready; its log:"
	show <"$TMP/init.out"
	alive "$pid" && kill -KILL "$pid"
	cleanup_modules
	exit 0
fi
say "ready file $READY is there: the startup probe would pass now"
say "drvkit init's log so far:"
shown=$(wc -l <"$TMP/init.out")
show <"$TMP/init.out"
say "\$ drvkit status"
"$DRVKIT" status 2>&1 | show
say "\$ lsmod (the kernel's view)"
lsmod | grep '^dktest_' | show
say "\$ cat /sys/module/dktest_params/parameters/{count,label}"
echo "count=$(cat /sys/module/dktest_params/parameters/count 2>&1) label=$(cat /sys/module/dktest_params/parameters/label 2>&1)" | show
is "$(cat /sys/module/dktest_params/parameters/label 2>&1)" demo "parameter label=demo from the config"
say "\$ kill -TERM $pid   (the kubelet stopping the pod)"
kill -TERM "$pid"
stop_wait "$pid" 30
is "$rc" 0 "drvkit init exited 0"
say "drvkit init exited with status $rc; its log since the signal:"
tail -n +$((shown + 1)) "$TMP/init.out" | show
check "ready file removed" test "$seen" -eq 0 -a ! -e "$READY"
check "example driver unloaded" test "$seen" -eq 0 -a -z "$(grep ^dktest_ /proc/modules)"
say "\$ lsmod | grep dktest   -> $(lsmod | grep -c '^dktest_') modules left"
cleanup_modules
