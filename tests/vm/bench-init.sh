#!/bin/bash
# Benchmark of `drvkit init` inside one VM boot (Debian's kernel under QEMU TCG):
# time from start to ready file for the example driver (3 modules, tests/vm/guest/configs/demo.yaml)
# versus busybox insmod of the same files in dependency order, 5 runs each, medians; and
# drvkit's VmRSS while it blocks. Goals: overhead <= 20 ms, RSS < 4 MB.
# Timings come from a static CLOCK_MONOTONIC helper (tests/vm/dkvm-bench.c). Under TCG every
# instruction is emulated, so absolute times are several times those of real hardware.
set -euo pipefail
cd "$(dirname "$0")/../.."
scripts/install-deps
[ -f build/build.ninja ] || meson setup build >/dev/null
ninja -C build >/dev/null
DK_SRCDIR=$PWD DK_BUILDDIR=$PWD/build DRVKIT=${DRVKIT:-$PWD/build/drvkit}
export DK_SRCDIR DK_BUILDDIR DRVKIT
. tests/vm/common.sh
vm_need
vm_prepare_debian
log=$VM_DIR/logs/bench.log
echo "bench-init: booting $VM_DEB_KERNEL (TCG) for 5+5 runs"
if ! vm_boot "$VM_DEB_KERNEL" "$VM_DEB_INITRD" bench "$log"; then
	echo "bench-init: the VM did not finish; tail of $log:" >&2
	tail -n 30 "$log" >&2
	exit 1
fi
if grep -q '^DKVM: not ok' "$log"; then
	echo "bench-init: a run failed:" >&2
	awk '/^DKVM: not ok/{p=1; print; next} p && /^DKVM: #/{print; next} {p=0}' "$log" >&2
	exit 1
fi
# The same start-up on this machine, natively (only --version: nothing is loaded here), to
# put the emulated figures in proportion.
native=$(for i in 1 2 3 4 5; do
	echo "run=$i $("$VM_DIR/dkvm-bench" seq "$DRVKIT" --version 2>/dev/null | grep "^us=" | sed 's/^us=/nver_us=/') $("$VM_DIR/dkvm-bench" seq /bin/true | sed 's/^us=/ntrue_us=/')"
done)
grep '^DKVM: # bench ' "$log" | sed 's/^DKVM: # bench //' | NATIVE=$native python3 -c '
import os
import sys, statistics
rows = [dict(kv.split("=", 1) for kv in line.split()) for line in sys.stdin if line.strip()]
if len(rows) < 5:
    sys.exit("bench-init: only %d runs reported" % len(rows))
med = lambda k: statistics.median(float(r[k]) for r in rows)
ins, ini, rss, stop = med("insmod_us") / 1000, med("init_us") / 1000, med("rss_kb"), med("stop_us") / 1000
ver, tru, anon, fil, shm = med("version_us") / 1000, med("true_us") / 1000, med("anon_kb"), med("file_kb"), med("shmem_kb")
selfms = med("self_ms")
print("runs: %d (QEMU TCG, Debian kernel, 3 modules)" % len(rows))
for r in rows:
    print("  run %s: insmod %.1f ms  drvkit init %.1f ms  rss %s kB  SIGTERM->exit %.1f ms" % (
        r["run"], float(r["insmod_us"]) / 1000, float(r["init_us"]) / 1000, r["rss_kb"], float(r["stop_us"]) / 1000))
print("median busybox insmod x3:          %8.1f ms" % ins)
print("median drvkit init start->ready:   %8.1f ms" % ini)
ov = ini - ins
print("drvkit overhead:                   %8.1f ms  (goal <= 20 ms: %s)" % (ov, "met" if ov <= 20 else "MISSED"))
print("drvkit VmRSS while blocking:       %8.0f kB  (goal < 4096 kB: %s)" % (rss, "met" if rss < 4096 else "MISSED"))
print("  of which RssAnon %.0f kB (private), RssFile %.0f kB + RssShmem %.0f kB (drvkit and its shared" % (anon, fil, shm))
print("  libraries mapped from the initramfs, which lives in shmem)")
print("median SIGTERM -> exit (unload x3): %8.1f ms" % stop)
print("context: median exec of `drvkit --version` %.1f ms, of busybox `true` %.1f ms" % (ver, tru))
print("  (start-up and dynamic linking of drvkit alone: about %.1f ms of the overhead)" % (ver - tru))
print("drvkit init log line: ready %.0f ms after its start (median)" % selfms)
nat = [dict(kv.split("=", 1) for kv in l.split()) for l in os.environ.get("NATIVE", "").splitlines() if l.strip()]
if nat:
    nver = statistics.median(float(r["nver_us"]) for r in nat) / 1000
    ntru = statistics.median(float(r["ntrue_us"]) for r in nat) / 1000
    f = (ver - tru) / max(nver - ntru, 0.001)
    print("natively on this host: exec of `drvkit --version` %.1f ms, of `true` %.1f ms: TCG runs drvkit" % (nver, ntru))
    print("  start-up about %.0fx slower; scaled by that, the overhead would be about %.1f ms natively (estimate)" % (f, ov / f))
'
