#!/bin/bash
# drvkit build of the mission's three components from their real sources (Mellanox OFED
# mlnx-ofa_kernel, Debian's NVIDIA kernel source, nv_peer_mem 1.3: tests/build/ofed-lib.sh)
# against the newest installed Debian headers, in the machine-wide test cache (ofed_cache):
#   - the three build (or are cache hits: the time of each run is printed, cold and warm);
#   - every module passes `drvkit check` together with its providers, and nv_peer_mem does
#     not without them;
#   - nv_peer_mem depends on ib_uverbs,nvidia; its __versions CRCs of
#     ib_register_peer_memory_client and of every nvidia_p2p_* symbol are OFED's and NVIDIA's;
#   - OFED's six modules, mlx_compat without depends, ib_uverbs exporting the peer-memory API;
#   - OFED with a one-line ABI patch (tests/build/ofed/peer-mem-abi.patch, a second cold OFED
#     build of about 12 minutes on 2 CPUs, once per machine): nv_peer_mem gets a new key and
#     is rebuilt against the new OFED, whose ib_register_peer_memory_client CRC differs;
#   - the nv_peer_mem built against the old OFED is caught before insmod, against the new
#     OFED, naming the symbol, the provider and both CRCs: by `drvkit check` with the
#     providers, and by `drvkit build` finding it in the cache under the new key.
. "$(dirname "$0")/../lib.sh"
. "$DK_SRCDIR/tests/build/nvidia-lib.sh"
. "$DK_SRCDIR/tests/build/ofed-lib.sh"

fatal() { # a missing prerequisite fails the file (never a silent skip)
	ok 1 "$1"
	done_testing
	exit 1
}
KVER=$(nv_kver) || fatal "kernel headers installed (linux-headers-amd64)"
ofed_sources || fatal "the OFED and nv_peer_mem tarballs (../shared/sources, DK_SOURCES)"
nv_debs || fatal "Debian's NVIDIA source packages (tests/build/nvidia-debs.sh)"
CACHE=$(ofed_cache)
PATCH=$DK_SRCDIR/tests/build/ofed/peer-mem-abi.patch
SYM=ib_register_peer_memory_client

# jfield FILE COMPONENT FIELD: a field of one component of `drvkit build --json`
jfield() { jq -r --arg c "$2" --arg f "$3" '.components[] | select(.component == $c) | .[$f]' "$1"; }
# crc_symvers FILE SYMBOL, crc_ko FILE.ko SYMBOL: lower-case 0x%08x
# Module.symvers writes CRCs as 0x%08x already (mawk has no strtonum)
crc_symvers() { awk -v s="$2" '$2 == s { print tolower($1) }' "$1"; }
crc_ko() { /sbin/modprobe --dump-modversions "$1" | awk -v s="$2" '$2 == s { print tolower($1) }'; }
secs() { echo "$((($(date +%s%N) - $1) / 1000000))" | awk '{ printf "%.1f", $1 / 1000 }'; }

# build NAME SPEC: `drvkit build --json` into $FIX/NAME.json, timed; then, when it was not
# all cache hits (a cold run), a second run that must be (the warm time)
build() {
	local name=$1 spec=$2 t0 rc=0 c from cold=0
	t0=$(date +%s%N)
	nice "$DRVKIT" build --config "$spec" --kernel "$KVER" -j2 --json >"$FIX/$name.json" \
		2>"$TMP/$name.err" || rc=$?
	okf "$rc" "$name: drvkit build of ofed, nvidia, nv_peer_mem for $KVER" "$TMP/$name.err"
	diag "$name: first run $(secs "$t0") s"
	for c in ofed nvidia nv_peer_mem; do
		from=$(jfield "$FIX/$name.json" "$c" from)
		diag "  $c: $from in $(jfield "$FIX/$name.json" "$c" ms) ms ($(jfield "$FIX/$name.json" "$c" why))"
		[ "$from" = cache ] || cold=1
	done
	[ "$cold" = 1 ] || {
		diag "$name: that run was warm (every component a cache hit)"
		return 0
	}
	t0=$(date +%s%N)
	rc=0
	"$DRVKIT" build --config "$spec" --kernel "$KVER" -j2 --json >"$TMP/$name-warm.json" \
		2>"$TMP/$name-warm.err" || rc=$?
	okf "$rc" "$name: the second run succeeds" "$TMP/$name-warm.err"
	diag "$name: first run was cold; second (warm) run $(secs "$t0") s"
	for c in ofed nvidia nv_peer_mem; do
		is "$(jfield "$TMP/$name-warm.json" "$c" from)" cache "$name: second run: $c is a cache hit"
	done
}

case_base() {
	ofed_spec "$CACHE" >"$FIX/base.yaml"
	build base "$FIX/base.yaml"
}

case_variant() {
	ofed_spec "$CACHE" "patches: [ $PATCH ]" >"$FIX/variant.yaml"
	build variant "$FIX/variant.yaml"
}

# dirs NAME: OFED NV NVPM, the cache entries of build NAME
dirs() {
	[ -s "$FIX/$1.json" ] || {
		ok 1 "the $1 build (its case above) produced a result"
		return 1
	}
	OFED=$(jfield "$FIX/$1.json" ofed dir)
	NV=$(jfield "$FIX/$1.json" nvidia dir)
	NVPM=$(jfield "$FIX/$1.json" nv_peer_mem dir)
}

case_check() {
	dirs base
	local rc=0
	"$DRVKIT" check --kernel "$KVER" "$OFED"/*.ko "$NV"/*.ko "$NVPM"/nv_peer_mem.ko \
		>"$TMP/check.txt" 2>&1 || rc=$?
	okf "$rc" "drvkit check: every module of the three fits $KVER with its providers ($(ls "$OFED"/*.ko "$NV"/*.ko "$NVPM"/*.ko | wc -l) modules)" "$TMP/check.txt"
	rc=0
	"$DRVKIT" check --kernel "$KVER" "$OFED"/*.ko >"$TMP/ofed.txt" 2>&1 || rc=$?
	okf "$rc" "drvkit check: OFED's modules fit $KVER on their own (in-tree psample, tls, mlxfw from the kernel)" "$TMP/ofed.txt"
	rc=0
	"$DRVKIT" check --kernel "$KVER" "$NV"/*.ko >"$TMP/nv.txt" 2>&1 || rc=$?
	okf "$rc" "drvkit check: NVIDIA's modules fit $KVER on their own" "$TMP/nv.txt"
	# The providers count: without them nv_peer_mem does not fit (the in-tree RDMA stack
	# has no peer-memory API, and no kernel module exports nvidia_p2p_*)
	rc=0
	"$DRVKIT" check --kernel "$KVER" "$NVPM"/nv_peer_mem.ko >"$TMP/alone.txt" 2>&1 || rc=$?
	is "$rc" 1 "drvkit check: nv_peer_mem alone does not fit (exit 1)"
	like "$TMP/alone.txt" "unknown symbol $SYM" "  and names $SYM as unknown"
	like "$TMP/alone.txt" "unknown symbol nvidia_p2p_" "  and an nvidia_p2p_* symbol"
}

case_nvpm_crcs() {
	dirs base
	local ko=$NVPM/nv_peer_mem.ko s want got n=0
	is "$("$DRVKIT" modinfo -F depends "$ko")" "ib_uverbs,nvidia" "nv_peer_mem: depends=ib_uverbs,nvidia"
	is "$(/sbin/modinfo -F depends "$ko")" "ib_uverbs,nvidia" "nv_peer_mem: kmod's modinfo agrees"
	want=$(crc_symvers "$OFED/Module.symvers" $SYM)
	got=$(crc_ko "$ko" $SYM)
	ok "$([ -n "$want" ] && echo 0 || echo 1)" "OFED's Module.symvers has $SYM ($want)"
	is "$got" "$want" "nv_peer_mem's __versions CRC of $SYM is OFED's"
	/sbin/modprobe --dump-modversions "$ko" | awk '$2 ~ /^nvidia_p2p_/ { print $2 }' | sort >"$TMP/p2p"
	ok "$([ -s "$TMP/p2p" ] && echo 0 || echo 1)" "nv_peer_mem imports nvidia_p2p_* symbols ($(wc -l <"$TMP/p2p"))"
	while read -r s; do
		want=$(crc_symvers "$NV/Module.symvers" "$s")
		got=$(crc_ko "$ko" "$s")
		ok "$([ -n "$want" ] && [ "$got" = "$want" ] && echo 0 || echo 1)" \
			"nv_peer_mem's __versions CRC of $s ($got) is NVIDIA's Module.symvers' (${want:-missing})"
		n=$((n + 1))
	done <"$TMP/p2p"
	diag "checked $SYM and $n nvidia_p2p_* symbols: $(tr '\n' ' ' <"$TMP/p2p")"
}

case_ofed_modules() {
	dirs base
	local m
	for m in mlx_compat ib_core ib_uverbs mlxdevm mlx5_core mlx5_ib; do
		ok "$([ -s "$OFED/$m.ko" ] && echo 0 || echo 1)" "OFED: $m.ko in the cache entry"
	done
	is "$("$DRVKIT" modinfo -F depends "$OFED/mlx_compat.ko")" "" "OFED: mlx_compat has no depends"
	is "$("$DRVKIT" modinfo -F depends "$OFED/ib_uverbs.ko")" "ib_core,mlx_compat" "OFED: ib_uverbs depends on ib_core,mlx_compat"
	# the module's path in the build tree, normalised: /drvkit-build/src/<tarball top>/...
	like <(awk -v s=$SYM '$2 == s { print $3 }' "$OFED/Module.symvers") "^/drvkit-build/src/mlnx-ofa_kernel-[^/]+/drivers/infiniband/core/ib_uverbs$" \
		"OFED's Module.symvers: ib_uverbs exports $SYM"
	/sbin/modprobe --dump-modversions "$OFED/ib_uverbs.ko" >/dev/null # a readable module
	like "$OFED/manifest.json" '"component": "ofed"' "OFED: the entry's manifest"
}

case_key_changes() {
	dirs base
	local o_ofed=$OFED o_nv=$NV o_nvpm=$NVPM o_key new_key old_crc new_crc rc
	dirs variant
	o_key=$(jfield "$FIX/base.json" nv_peer_mem key)
	new_key=$(jfield "$FIX/variant.json" nv_peer_mem key)
	ok "$([ -n "$new_key" ] && [ "$new_key" != "$o_key" ] && echo 0 || echo 1)" \
		"nv_peer_mem's key changes with OFED (${o_key:0:12} -> ${new_key:0:12})"
	ok "$([ "$NVPM" != "$o_nvpm" ] && echo 0 || echo 1)" "nv_peer_mem: another cache entry"
	ok "$([ "$OFED" != "$o_ofed" ] && echo 0 || echo 1)" "ofed: another cache entry (patched)"
	is "$NV" "$o_nv" "nvidia: the same cache entry (nothing it uses changed)"
	is "$(jq -r .key "$NVPM/manifest.json")" "$new_key" "nv_peer_mem's manifest has the new key"
	like "$OFED/manifest.json" "peer-mem-abi.patch [0-9a-f]{64}" "ofed's manifest lists the patch"
	is "$(jq -r '.uses[] | select(.component == "ofed") | .symvers_sha256' "$NVPM/manifest.json")" \
		"$(sha256sum "$OFED/Module.symvers" | cut -d' ' -f1)" \
		"nv_peer_mem's manifest: built with the patched OFED's Module.symvers"
	old_crc=$(crc_symvers "$o_ofed/Module.symvers" $SYM)
	new_crc=$(crc_symvers "$OFED/Module.symvers" $SYM)
	ok "$([ -n "$new_crc" ] && [ "$new_crc" != "$old_crc" ] && echo 0 || echo 1)" \
		"the patch changes $SYM's CRC ($old_crc -> $new_crc)"
	is "$(crc_ko "$NVPM/nv_peer_mem.ko" $SYM)" "$new_crc" "the rebuilt nv_peer_mem imports the new CRC"
	is "$(crc_ko "$o_nvpm/nv_peer_mem.ko" $SYM)" "$old_crc" "the old nv_peer_mem still the old one"
	rc=0
	"$DRVKIT" check --kernel "$KVER" "$OFED"/*.ko "$NV"/*.ko "$NVPM"/nv_peer_mem.ko \
		>"$TMP/check.txt" 2>&1 || rc=$?
	okf "$rc" "drvkit check: the rebuilt nv_peer_mem fits with the patched OFED" "$TMP/check.txt"
}

# The nv_peer_mem of the old OFED, loaded with the new one: the kernel would refuse it
# ("disagrees about version of symbol"); drvkit says so first.
case_stale() {
	dirs base
	local o_nvpm=$NVPM old_crc new_crc key rc=0 e
	dirs variant
	old_crc=$(crc_ko "$o_nvpm/nv_peer_mem.ko" $SYM)
	new_crc=$(crc_symvers "$OFED/Module.symvers" $SYM)
	"$DRVKIT" check --kernel "$KVER" "$o_nvpm"/nv_peer_mem.ko "$OFED"/*.ko "$NV"/*.ko \
		>"$TMP/check.txt" 2>&1 || rc=$?
	is "$rc" 1 "check: the old nv_peer_mem with the patched OFED does not fit (exit 1)"
	like "$TMP/check.txt" "CRC mismatch for $SYM: module $old_crc, .*$new_crc from $OFED/ib_uverbs.ko" \
		"check: names the symbol, both CRCs and the provider"
	diag "check says: $(grep -m1 "$SYM" "$TMP/check.txt")"

	# drvkit build finding the old nv_peer_mem under the new key (a cache shared by hand,
	# a key collision), in a private cache holding the variant's entries: it is stale,
	# reported, and rebuilt (about 2 s)
	key=$(jfield "$FIX/variant.json" nv_peer_mem key)
	mkdir -p "$TMP/cache/builds"
	for e in "$OFED" "$NV"; do
		cp -al "$e" "$TMP/cache/builds/"
		rm "$TMP/cache/builds/${e##*/}/manifest.json"
		cp "$e/manifest.json" "$TMP/cache/builds/${e##*/}/"
	done
	cp -a "$o_nvpm" "$TMP/cache/builds/$key"
	sed -i "s/$(jq -r .key "$o_nvpm/manifest.json")/$key/" "$TMP/cache/builds/$key/manifest.json"
	rc=0
	"$DRVKIT" build --config "$FIX/variant.yaml" --cache-dir "$TMP/cache" --kernel "$KVER" -j2 \
		>"$TMP/out" 2>"$TMP/err" || rc=$?
	okf "$rc" "build: with a stale nv_peer_mem in the cache: exit 0" "$TMP/err"
	like "$TMP/out" "^ofed: cache" "build: ofed from the cache"
	like "$TMP/out" "^nv_peer_mem: build \(cache: entry ${key:0:12} is stale: .*$SYM with CRC $old_crc, but ib_uverbs \($TMP/cache/builds/[0-9a-f]+/ib_uverbs.ko\) exports it with CRC $new_crc" \
		"build: the stale nv_peer_mem is reported (symbol, provider, both CRCs) and rebuilt"
	diag "build says: $(grep -m1 '^nv_peer_mem:' "$TMP/out")"
	is "$(crc_ko "$TMP/cache/builds/$key/nv_peer_mem.ko" $SYM)" "$new_crc" \
		"build: the entry now holds an nv_peer_mem with the new CRC"
}

tcase "base: the three build (cold, then warm)" case_base
tcase "check: every module with its providers" case_check
tcase "nv_peer_mem: depends and CRCs equal the providers'" case_nvpm_crcs
tcase "OFED's modules" case_ofed_modules
tcase "variant: OFED with a one-line ABI patch" case_variant
tcase "the OFED change gives nv_peer_mem a new key and a rebuild" case_key_changes
tcase "a stale nv_peer_mem is caught before insmod" case_stale
done_testing
