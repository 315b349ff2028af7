# scripts/bench init: drvkit init start->ready vs busybox insmod of the same files, same boot.
# Prints "DKVM: # bench ..." lines that scripts/bench init turns into medians.
. /dk/lib.sh
runs=5
insmod_set() {
	dkvm-bench seq insmod /dk/mods/dktest_params.ko count=42 label=demo :: \
		insmod /dk/mods/dktest_export.ko :: insmod /dk/mods/dktest_user.ko
}
rmmod_set() { rmmod dktest_user dktest_export dktest_params; }
# warm-up (page cache, first exec of drvkit and its libraries), not counted
insmod_set >/dev/null && rmmod_set
dkvm-bench init "$READY" 100 "$DRVKIT" init --config /dk/configs/demo.yaml >/dev/null 2>"$TMP/warm.err"
cleanup_modules
i=1
while [ "$i" -le "$runs" ]; do
	a=$(insmod_set 2>"$TMP/insmod.err")
	okf $? "run $i: busybox insmod of the set" "$TMP/insmod.err"
	rmmod_set
	b=$(dkvm-bench init "$READY" 300 "$DRVKIT" init --config /dk/configs/demo.yaml 2>"$TMP/init.err")
	okf $? "run $i: drvkit init ready, SIGTERM, exit 0" "$TMP/init.err"
	check "run $i: drvkit init unloaded the set" test -z "$(grep ^dktest_ /proc/modules)"
	cleanup_modules
	c=$(dkvm-bench seq "$DRVKIT" --version 2>/dev/null | grep '^us=')
	d=$(dkvm-bench seq /bin/true 2>/dev/null)
	e=$(sed -n 's/.*ready \([0-9]*\) ms after start.*/\1/p' "$TMP/init.err")
	echo "DKVM: # bench run=$i insmod_$a $(echo $b | sed 's/^us=/init_us=/') version_$c true_$d self_ms=${e:-nan}"
	i=$((i + 1))
done
# drvkit's own step timings of the last run, for the report
sed 's/^/DKVM: # init-log /' "$TMP/init.err"
