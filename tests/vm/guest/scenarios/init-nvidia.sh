# drvkit init loads the NVIDIA modules drvkit built on the host (Debian's nvidia-kernel-source,
# proprietary) from its cache into Debian's kernel. There is no NVIDIA GPU here: the kernel
# accepts the module (signature policy, symbols, relocations) and runs its init, which
# refuses with "NVRM: No NVIDIA GPU found." and ENODEV. init must say so with the module's
# own kernel log line (stderr, status.json, termination log), roll back, and leave nothing
# loaded.
. /dk/lib.sh
CFG=/dk/nvidia/configs/nvidia.yaml
READY=/run/drvkit-nvidia/ready
TL=/run/drvkit-nvidia.termination-log
t0=$(date +%s)
timeout 600 "$DRVKIT" init --config "$CFG" >"$TMP/nv.out" 2>&1
rc=$?
diag "drvkit init ran $(($(date +%s) - t0)) s (TCG)"
is "$rc" 1 "drvkit init with nvidia and no GPU: exit 1"
like "$TMP/nv.out" "get: component nvidia: cache in [0-9]+ ms \(.*hit [0-9a-f]{12} \(by alias\)\)" \
	"nvidia from the cache, by alias (no headers, no compiler here)"
unlike "$TMP/nv.out" "building for" "nothing was built"
like "$TMP/nv.out" "insert nvidia \(.*/nvidia.ko\): No such device — kernel log: .*NVRM: No NVIDIA GPU found" \
	"the error quotes the module's own kernel log line"
like "$TL" "No such device — kernel log: .*NVRM: No NVIDIA GPU found" "termination log: the same"
like /run/drvkit-nvidia/status.json '"phase": "failed"' "status.json: failed"
like /run/drvkit-nvidia/status.json 'NVRM: No NVIDIA GPU found' "status.json: the kernel log line"
like "$TMP/nv.out" "rolled back in [0-9]+ ms" "rolled back"
check "the kernel ran nvidia's init (NVRM in dmesg)" sh -c 'dmesg | grep -q "NVRM: No NVIDIA GPU found"'
check "no nvidia module left loaded" sh -c '! grep -qE "^nvidia" /proc/modules'
check "drm (pulled in for nvidia) unloaded again" sh -c '! grep -qE "^drm " /proc/modules'
diag "first insert: $(grep -E 'plan: [0-9]+ modules|inserted|insert nvidia' "$TMP/nv.out" | head -3 | sed 's/.*info: //' | tr '\n' '|')"
all_passed || diag_file "$TMP/nv.out" 40
