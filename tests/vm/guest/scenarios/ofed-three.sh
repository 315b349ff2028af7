# The three together: OFED (replaces the in-tree stack), nvidia, nv_peer_mem (uses both), all
# from the cache drvkit built on the host. OFED loads; nvidia's insert is refused by the kernel
# (no GPU: "NVRM: No NVIDIA GPU found."); the failed start rolls back (OFED unloaded, the
# in-tree stack restored) and the error names nvidia, the kernel's reason and what was rolled
# back; nv_peer_mem is never inserted (a poller watches /proc/modules throughout).
. /dk/lib.sh
. /dk/ofed-lib.sh
CFG=/dk/ofed/configs/ofed-three.yaml
intree_up
mods_snapshot >"$TMP/before"
rm -f "$TMP/seen" "$TMP/poll-stop"
(
	while [ ! -f "$TMP/poll-stop" ]; do
		grep -oE '^(nv_peer_mem|mlx_compat|nvidia) ' /proc/modules >>"$TMP/seen"
		usleep 20000
	done
) &
poller=$!
t0=$(now_ms)
timeout 600 "$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>&1
rc=$?
t1=$(now_ms)
touch "$TMP/poll-stop"
wait "$poller"
diag "drvkit init ran $((t1 - t0)) ms (TCG), exit $rc"
ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "drvkit init with ofed + nvidia + nv_peer_mem and no GPU: exit non-zero ($rc)"
for c in ofed nvidia nv_peer_mem; do
	like "$TMP/init.out" "get: component $c: cache in [0-9]+ ms \(.*hit [0-9a-f]{12} \(by alias\)\)" \
		"$c from the cache, by alias"
done
unlike "$TMP/init.out" "building for" "nothing was built"
check "OFED was loaded (mlx_compat seen in /proc/modules)" grep -q '^mlx_compat' "$TMP/seen"
before "$TMP/init.out" "inserted mlx5_ib " "insert nvidia " "OFED's modules inserted before nvidia's insert"
like "$TMP/init.out" "insert nvidia \(.*/nvidia.ko\): No such device — kernel log: .*NVRM: No NVIDIA GPU found" \
	"the error names nvidia and quotes the kernel's reason (NVRM: No NVIDIA GPU found)"
check "the kernel ran nvidia's init (NVRM in dmesg)" sh -c 'dmesg | grep -q "NVRM: No NVIDIA GPU found"'
rb=$(grep -m1 -E "rolled back in [0-9]+ ms" "$TMP/init.out")
diag "${rb:-no rollback line}"
ok "$([ -n "$rb" ] && echo 0 || echo 1)" "the error says what was rolled back"
for m in $OFED_MODS; do
	case "$rb" in *"unloaded "*"$m"*"; restored"*) r=0 ;; *) r=1 ;; esac
	ok "$r" "rollback names OFED's $m unloaded"
done
for m in $INTREE; do
	case "$rb" in *"; restored "*"$m"*) r=0 ;; *) r=1 ;; esac
	ok "$r" "rollback names in-tree $m restored"
done
like "$TERMLOG" "nvidia.*No such device — kernel log: .*NVRM: No NVIDIA GPU found" \
	"termination log: nvidia and the kernel's reason"
like "$TERMLOG" "rolled back in [0-9]+ ms: unloaded .*mlx_compat.*; restored .*ib_core" \
	"termination log: what was rolled back"
like "$STATE_DIR/status.json" '"phase": "failed"' "status.json: failed"

# nv_peer_mem never inserted
check "nv_peer_mem never in /proc/modules (polled every 20 ms throughout)" sh -c "! grep -q '^nv_peer_mem' '$TMP/seen'"
unlike "$TMP/init.out" "insert(ed)? nv_peer_mem" "init's log: nv_peer_mem never inserted"

# rolled back: the node as it was
check "no OFED module left (mlx_compat, mlxdevm)" sh -c '! grep -qE "^(mlx_compat|mlxdevm) " /proc/modules'
check "no nvidia module left" sh -c '! grep -qE "^nvidia" /proc/modules'
for m in $INTREE; do check "in-tree $m restored" loaded "$m"; done
mods_snapshot >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after"
ok $? "exactly the modules loaded before are loaded again ($(wc -l <"$TMP/before") modules)"
cmp -s "$TMP/before" "$TMP/after" || diag "before -> after: $(diff "$TMP/before" "$TMP/after" | grep '^[-+][a-z]' | tr '\n' ' ')"
all_passed || diag_file "$TMP/init.out" 60
ofed_cleanup
