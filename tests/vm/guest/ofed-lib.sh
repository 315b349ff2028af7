# Guest helpers of the ofed scenarios (busybox sh; source after /dk/lib.sh). The OFED set
# built on the host (tests/vm/ofed.sh) is under /dk/ofed: configs/, cache/ and expect/
# (versions: "module srcversion version" of each OFED module in its cache entry, - for none).
OFED_MODS="mlx_compat ib_core ib_uverbs mlxdevm mlx5_core mlx5_ib"
INTREE="mlx5_ib ib_uverbs mlx5_core ib_core" # what OFED replaces (reference.md section 11)
READY=/run/drvkit-ofed/ready
TERMLOG=/run/drvkit-ofed.termination-log
STATE_DIR=/run/drvkit-ofed

# Milliseconds since boot (/proc/uptime: 10 ms resolution; busybox date has seconds only).
now_ms() { awk '{printf "%d\n", $1 * 1000}' /proc/uptime; }
# The loaded modules' names, sorted, one a line.
mods_snapshot() { cut -d' ' -f1 /proc/modules | sort; }
# line_of FILE REGEX: number of the first line of FILE matching REGEX (grep -E), else 999999
line_of() {
	local l
	l=$(grep -n -m1 -E -- "$2" "$1" | cut -d: -f1)
	echo "${l:-999999}"
}
# before FILE REGEX-A REGEX-B DESC: the first line matching A comes before the first matching B
# (both present)
before() {
	local a b
	a=$(line_of "$1" "$2") b=$(line_of "$1" "$3")
	ok "$([ "$a" -lt 999999 ] && [ "$b" -lt 999999 ] && [ "$a" -lt "$b" ] && echo 0 || echo 1)" "$4"
	[ "$a" -lt 999999 ] && [ "$b" -lt 999999 ] && [ "$a" -lt "$b" ] ||
		diag "line $a (/$2/) vs line $b (/$3/) of $1"
}
# The in-tree stack OFED replaces, as a node has it: mlx5_ib pulls in mlx5_core (mlxfw,
# psample, pci-hyperv-intf), ib_uverbs and ib_core from the Debian tree.
intree_up() {
	modprobe mlx5_ib >"$TMP/modprobe.out" 2>&1
	okf $? "modprobe mlx5_ib (the in-tree stack) from the Debian tree" "$TMP/modprobe.out"
	local m all=0
	for m in $INTREE; do loaded "$m" || all=1; done
	ok "$all" "in-tree $INTREE loaded"
}
# Leaves no RDMA module (in-tree or OFED) and no drvkit state for the next scenario.
ofed_cleanup() {
	local pass m
	for pass in 1 2 3 4; do
		for m in nv_peer_mem nvidia rpcrdma nvme_rdma nvme_fabrics nvme_core rdma_cm iw_cm ib_cm \
			mlx5_ib ib_uverbs mlx5_core mlxdevm ib_core mlx_compat mlxfw psample tls \
			pci_hyperv_intf drm; do
			loaded "$m" && rmmod "$m" 2>/dev/null
		done
	done
	rm -rf "$STATE_DIR" "$TERMLOG"
}
