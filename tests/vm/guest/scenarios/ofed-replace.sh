# Mellanox OFED (built by drvkit on the host from mlnx-ofa_kernel, found in the cache by alias)
# replaces the in-tree RDMA stack of Debian's kernel: the in-tree users are unloaded first,
# OFED's modules loaded in dependency order (mlx_compat first, the in-tree psample, tls,
# mlxfw by name), ready, status shows OFED's srcversions; SIGTERM unloads OFED and restores
# exactly the in-tree set that was loaded before. No Mellanox device: the modules load anyway.
. /dk/lib.sh
. /dk/ofed-lib.sh
CFG=/dk/ofed/configs/ofed-replace.yaml
intree_up
mods_snapshot >"$TMP/before"

t0=$(now_ms)
start_init "$CFG" init
wait_ready 300
okf $? "drvkit init with ofed (replaces the in-tree stack): ready" "$TMP/init.out"
t1=$(now_ms)
ready=$(line_of "$TMP/init.out" "ready: .* written")
head -n "$ready" "$TMP/init.out" >"$TMP/start.out"
like "$TMP/start.out" "get: component ofed: cache in [0-9]+ ms \(.*hit [0-9a-f]{12} \(by alias\)\)" \
	"ofed from the cache, by alias (no headers, no compiler here)"
unlike "$TMP/start.out" "building for" "nothing was built"

# the replace: users first
before "$TMP/start.out" "unloaded mlx5_ib " "unloaded mlx5_core " "replace: mlx5_ib (a user of mlx5_core) unloaded before mlx5_core"
before "$TMP/start.out" "unloaded mlx5_ib " "unloaded ib_uverbs " "replace: mlx5_ib unloaded before ib_uverbs"
before "$TMP/start.out" "unloaded ib_uverbs " "unloaded ib_core " "replace: ib_uverbs (a user of ib_core) unloaded before ib_core"
before "$TMP/start.out" "unloaded mlx5_core " "unloaded ib_core " "replace: mlx5_core unloaded before ib_core"
last_unload=$(grep -n -E "unloaded [a-z0-9_]+ in" "$TMP/start.out" | tail -n1 | cut -d: -f1)
first_insert=$(line_of "$TMP/start.out" "inserted ")
ok "$([ -n "$last_unload" ] && [ "$last_unload" -lt "$first_insert" ] && echo 0 || echo 1)" \
	"every in-tree module unloaded before OFED's first insert"

# OFED in dependency order
before "$TMP/start.out" "inserted mlx_compat " "inserted ib_core " "load: mlx_compat inserted first (before ib_core)"
is "$(grep -m1 -o -E 'inserted [a-z0-9_]+' "$TMP/start.out")" "inserted mlx_compat" "load: mlx_compat is the first module inserted"
before "$TMP/start.out" "inserted ib_core " "inserted ib_uverbs " "load: ib_core before ib_uverbs"
before "$TMP/start.out" "inserted mlxdevm " "inserted mlx5_core " "load: mlxdevm before mlx5_core"
before "$TMP/start.out" "inserted mlx5_core " "inserted mlx5_ib " "load: mlx5_core before mlx5_ib"
before "$TMP/start.out" "inserted ib_uverbs " "inserted mlx5_ib " "load: ib_uverbs before mlx5_ib"
before "$TMP/start.out" "loaded in-tree tls" "inserted mlx5_core " "load: the in-tree tls (a depends= of OFED's mlx5_core) loaded by name first"
for m in psample tls mlxfw pci_hyperv_intf; do
	check "in-tree $m holds OFED's mlx5_core (/sys/module/$m/holders/mlx5_core)" \
		test -e /sys/module/$m/holders/mlx5_core
done
check "the kernel logged OFED's compat layer (Compat-mlnx-ofed backport release)" \
	sh -c 'dmesg | grep -q "Compat-mlnx-ofed backport release"'
diag "$(dmesg | grep -m1 -o 'Compat-mlnx-ofed backport release.*')"

# status: OFED's builds, not the in-tree ones
"$DRVKIT" status --state-dir "$STATE_DIR" >"$TMP/status.out" 2>&1
okf $? "drvkit status exits 0 (all loaded)" "$TMP/status.out"
"$DRVKIT" status --state-dir "$STATE_DIR" --json >"$TMP/status.json" 2>&1
while read -r m sv ver; do
	like "$TMP/status.out" "^$m +loaded" "status: $m loaded"
	if [ "$sv" != - ]; then
		is "$(cat /sys/module/$m/srcversion 2>/dev/null)" "$sv" "$m loaded is OFED's build (srcversion $sv)"
		like "$TMP/status.json" "\"srcversion\": ?\"$sv\"" "status --json: $m's srcversion $sv"
	fi
	if [ "$ver" != - ]; then
		is "$(cat /sys/module/$m/version 2>/dev/null)" "$ver" "$m loaded is OFED's build (version $ver)"
		like "$TMP/status.out" "^$m +loaded .*version $ver" "status: $m shows OFED's version $ver"
	fi
	# Most OFED modules carry no srcversion or version (only mlx5_core does); what tells
	# them from the in-tree build is the kernel's out-of-tree taint (O).
	like /sys/module/$m/taint "O" "$m loaded is OFED's build (out-of-tree: taint O)"
done </dk/ofed/expect/versions
like "$TMP/status.out" "ib_core +replaced \(restored on exit\)" "status: ib_core replaced (restored on exit)"
like "$TMP/status.out" "^tls +in-tree, loaded for ours" "status: the in-tree tls, loaded for OFED's mlx5_core"
vers=
for m in $OFED_MODS; do vers="$vers $m=$(cat /sys/module/$m/version 2>/dev/null || echo -)"; done
diag "module versions:$vers"
diag_file "$TMP/status.out" 12

# SIGKILL (a pod killed hard), then a new instance: it adopts OFED's modules (no reload),
# and keeps the predecessor's account of what it replaced and of the in-tree tls it loaded.
is "$(tr -d ' \n' <"$STATE_DIR/state.json" | grep -o '"probed":\[[^]]*\]')" '"probed":["tls"]' \
	"state.json records the in-tree tls our mlx5_core pulled in"
kill -KILL "$pid"
stop_wait "$pid" 20
is "$rc" 137 "the first instance killed with SIGKILL"
rm -f "$READY"
inserted_before=$(dmesg | grep -c "Compat-mlnx-ofed backport release")
start_init "$CFG" init
wait_ready 300
okf $? "a second drvkit init (after SIGKILL) ready" "$TMP/init.out"
ready=$(line_of "$TMP/init.out" "ready: .* written")
head -n "$ready" "$TMP/init.out" >"$TMP/start2.out"
unlike "$TMP/start2.out" "inserted |unloaded " "the second instance unloads and inserts nothing (OFED adopted)"
like "$TMP/start2.out" "plan: skip +ib_core: loaded from the same file as by the previous drvkit init .*adopted" \
	"ib_core (no srcversion, no version) recognised from the state file"
is "$(dmesg | grep -c "Compat-mlnx-ofed backport release")" "$inserted_before" "mlx_compat not reloaded"
for m in $OFED_MODS; do
	like /sys/module/$m/taint "O" "after the restart: $m is still OFED's build"
done

# SIGTERM: OFED out, the in-tree set back (and tls, which only OFED needed, unloaded)
t2=$(now_ms)
kill -TERM "$pid"
stop_wait "$pid" 120
t3=$(now_ms)
is "$rc" 0 "drvkit init exits 0 after SIGTERM"
tail -n "+$((ready + 1))" "$TMP/init.out" >"$TMP/stop.out"
before "$TMP/stop.out" "unloaded mlx5_ib " "unloaded mlx_compat " "stop: OFED's mlx5_ib unloaded before mlx_compat (reverse load order)"
for m in $INTREE; do
	check "stop: in-tree $m restored" loaded "$m"
	osv=$(awk -v m="$m" '$1 == m {print $2}' /dk/ofed/expect/versions)
	ok "$([ "$(cat /sys/module/$m/srcversion 2>/dev/null || echo -)" != "$osv" ] || [ "$osv" = - ] && echo 0 || echo 1)" \
		"stop: $m is not OFED's build (srcversion $osv)"
	unlike /sys/module/$m/taint "O" "stop: $m is the in-tree build again (no out-of-tree taint)"
done
check "stop: mlx_compat and mlxdevm (OFED only) unloaded" sh -c '! grep -qE "^(mlx_compat|mlxdevm) " /proc/modules'
mods_snapshot >"$TMP/after"
cmp -s "$TMP/before" "$TMP/after"
ok $? "stop: exactly the modules loaded before the replace are loaded again ($(wc -l <"$TMP/before") modules)"
cmp -s "$TMP/before" "$TMP/after" || diag "before -> after: $(diff "$TMP/before" "$TMP/after" | grep '^[-+][a-z]' | tr '\n' ' ')"
diag "ofed load: $((t1 - t0)) ms from start to ready ($(grep -o -E 'load: [0-9]+ modules \([0-9]+ ms\)' "$TMP/start.out"); $(grep -o -E 'replace: [0-9]+ modules unloaded \([0-9]+ ms\)' "$TMP/start.out")) (TCG)"
diag "ofed unload: $((t3 - t2)) ms from SIGTERM to exit ($(grep -o -E 'everything unloaded in [0-9]+ ms' "$TMP/stop.out")), restore included (TCG)"
all_passed || diag_file "$TMP/init.out" 60
ofed_cleanup
