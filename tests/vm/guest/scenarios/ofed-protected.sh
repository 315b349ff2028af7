# A storage user on top of the in-tree RDMA stack (rpcrdma: NFS over RDMA; nvme_rdma: NVMe
# over RDMA) blocks OFED's replace before anything is unloaded: init refuses, names the
# protected module, and every in-tree module is still loaded.
. /dk/lib.sh
. /dk/ofed-lib.sh
CFG=/dk/ofed/configs/ofed-replace.yaml
for user in rpcrdma nvme_rdma; do
	intree_up
	modprobe "$user" >"$TMP/modprobe.out" 2>&1
	okf $? "modprobe $user (on top of the in-tree ib_core)" "$TMP/modprobe.out"
	mods_snapshot >"$TMP/before-$user"
	timeout 300 "$DRVKIT" init --config "$CFG" >"$TMP/init-$user.out" 2>&1
	rc=$?
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "$user: drvkit init with the ofed replace refuses (exit $rc)"
	like "$TMP/init-$user.out" "replace: refused before unloading anything: .*$user" \
		"$user: the error says the replace was refused before unloading anything and names $user"
	diag "$(grep -m1 "refused before unloading" "$TMP/init-$user.out")"
	unlike "$TMP/init-$user.out" "unloaded |inserted " "$user: nothing unloaded, nothing inserted"
	for m in $INTREE $user; do check "$user: $m still loaded" loaded "$m"; done
	check "$user: no OFED module loaded" sh -c '! grep -qE "^(mlx_compat|mlxdevm) " /proc/modules'
	mods_snapshot >"$TMP/after-$user"
	cmp -s "$TMP/before-$user" "$TMP/after-$user"
	ok $? "$user: the loaded modules are exactly those before"
	all_passed || diag_file "$TMP/init-$user.out" 20
	ofed_cleanup
done
