# A module whose init refuses in Debian's kernel, as nvidia.ko does without a GPU
# (dktest_fail: one line naming it, one not, then -ENODEV): drvkit load and drvkit init
# quote the module's own kernel log line in the error (init also in status.json and the
# termination log), and nothing stays loaded. Run first in its boot, so the kernel's
# taint notices (printed once, under the module's name) fall in the window too.
. /dk/lib.sh
FAIL=/dk/fail/dktest_fail.ko
KLINE='kernel log: dktest_fail: no dktest device found'

"$DRVKIT" load "$FAIL" >"$TMP/load.out" 2>&1
is "$?" 1 "drvkit load dktest_fail.ko: exit 1"
like "$TMP/load.out" "^drvkit load: insert dktest_fail \($FAIL\): No such device — $KLINE$" \
	"the error ends with the module's own kernel log line"
check "the kernel ran its init (dmesg has both its lines)" \
	sh -c 'dmesg | grep -q "dktest_fail: no dktest device found" && dmesg | grep -q DKFAIL'
unlike "$TMP/load.out" "DKFAIL" "the line without the module's name is left out"
if dmesg | grep -q 'dktest_fail: loading out-of-tree module taints kernel'; then
	unlike "$TMP/load.out" "taints kernel|tainting kernel" \
		"the kernel's taint notices under the module's name are left out"
else
	diag "the kernel printed no taint notice for dktest_fail (tainted before)"
fi
check "dktest_fail is not loaded" test ! -e /sys/module/dktest_fail
diag "kernel: $(dmesg | grep -E 'dktest_fail|DKFAIL' | sed 's/^\[[ 0-9.]*\] //' | tr '\n' '|')"
diag "drvkit: $(cat "$TMP/load.out")"
"$DRVKIT" load "$FAIL" >"$TMP/load2.out" 2>&1
is "$(grep -o 'no dktest device found' "$TMP/load2.out" | wc -l)" 1 \
	"a second attempt quotes the line of its own attempt, once"
all_passed || diag_file "$TMP/load.out" 10

# drvkit init: dktest_export first, then dktest_fail refuses; the rollback unloads it.
cat >"$TMP/fail.yaml" <<EOF
state_dir: /run/drvkit
ready_file: $READY
termination_log: $TERMLOG
grace_period: 5
components:
  - name: dktest
    source:
      dir: /dk/mods
    modules:
      - name: dktest_export
  - name: failing
    source:
      dir: /dk/fail
    modules:
      - name: dktest_fail
EOF
timeout 60 "$DRVKIT" init --config "$TMP/fail.yaml" >"$TMP/init.out" 2>&1
is "$?" 1 "drvkit init with dktest_fail: exit 1"
ERR="load: component failing: insert dktest_fail \($FAIL\): No such device — $KLINE"
like "$TMP/init.out" "$ERR" "init's stderr quotes the module's kernel log line"
like "$TERMLOG" "$ERR" "so does the termination log"
like /run/drvkit/status.json '"phase": "failed"' "status.json says failed"
like /run/drvkit/status.json "\"error\": \".*$ERR" "and its error quotes the kernel log line"
unlike "$TERMLOG" "DKFAIL|taints kernel|tainting kernel" "no other kernel line in the termination log"
like "$TERMLOG" "^rolled back in [0-9]+ ms: unloaded dktest_export" "dktest_export is rolled back"
check "nothing stays loaded" sh -c '! grep -q ^dktest_ /proc/modules'
check "no ready file" test ! -e "$READY"
all_passed || diag_file "$TMP/init.out" 20
cleanup_modules
