#!/bin/bash
# The Network Operator convention: share_headers: on a component makes drvkit init copy
# its include dirs and Module.symvers to <dir>/ofa_kernel/<arch>/<kernel>/ (and point
# ofa_kernel/default there) after the load, swapped in atomically; and uses: { path: DIR }
# builds a consumer against such a directory (a provider built in another container).
# Real kbuild builds of tests/modules/provider (dkprov) and consumer (dkcons); the module
# syscalls of init go through the preload shim.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

[ -e "/lib/modules/$KVER/build/Module.symvers" ] || skip_all "no kernel headers for $KVER"
[ -x /usr/bin/make ] && command -v gcc >/dev/null || skip_all "no make or gcc"
MODSRC=$DK_SRCDIR/tests/modules
ARCH=$(uname -m)
crc_ko() { /sbin/modprobe --dump-modversions "$1" | awk -v s="$2" '$2 == s { print $1 }'; }
crc_symvers() { awk -v s="$2" '$2 == s { print $1 }' "$1"; }

# sconfig NAME: an init config for $HOST building dkprov with share_headers: $SHARE
sconfig() {
	config_paths "$1"
	{
		config_top /
		cat <<EOC
cache_dir: $DK_TMP_ROOT/cache
grace_period: 5
components:
  - name: dkprov
    version: "1.0"
    source:
      build:
        src: $MODSRC/provider
    modules: [ dkprov ]
    share_headers: $SHARE
EOC
	} >"$CFG"
}
sinit() { # sinit: drvkit init under the shim, sysfs of $HOST
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD \
		"$DRVKIT" init --config "$CFG" >"$TMP/init.out" 2>"$TMP/init.err" &
	PID=$!
}

case_share() {
	local f
	new_host share
	SHARE=$TMP/run/mellanox/drivers/usr/src
	sconfig share
	sinit
	if wait_ready; then ok 0 "init with share_headers gets ready"; else ok 1 "init with share_headers gets ready"; diag_file "$TMP/init.err"; fi
	f=$SHARE/ofa_kernel/$ARCH/$KVER
	ok $([ -f "$f/include/dkprov.h" ] && echo 0 || echo 1) "ofa_kernel/$ARCH/$KVER/include/dkprov.h is shared"
	like "$f/Module.symvers" "	dkprov_register_client	" "ofa_kernel/$ARCH/$KVER/Module.symvers lists the provider's export"
	is "$(readlink "$SHARE/ofa_kernel/default")" "$ARCH/$KVER" "ofa_kernel/default points at it (relative)"
	is "$(ls -A "$SHARE/ofa_kernel/$ARCH")" "$KVER" "no temporary left beside it"
	like "$TMP/init.err" "info: share headers: component dkprov: include and Module.symvers at $f " "the share is logged"
	stop_init TERM
	is "$rc" 0 "SIGTERM: exit 0"
	ok $([ -f "$f/Module.symvers" ] && echo 0 || echo 1) "the shared copy stays after stop (it needs no container)"
}

case_share_atomic() {
	local f ino1 ino2 reader
	new_host atomic
	SHARE=$TMP/share
	f=$SHARE/ofa_kernel/$ARCH/$KVER
	mkdir -p "$f/include" "$SHARE/ofa_kernel/$ARCH/.$KVER.tmp/include"
	echo old >"$f/include/old.h"
	echo "0x00000000	old_symbol	old	EXPORT_SYMBOL	" >"$f/Module.symvers"
	echo junk >"$SHARE/ofa_kernel/$ARCH/.$KVER.tmp/include/junk.h"
	ino1=$(stat -c %i "$f")
	# A reader that looks at the tree all along: the path always names a whole tree
	# (the exchange never leaves it missing), and a tree it entered is the old one or
	# the new one, never a mix (the old one may be emptied under it once swapped out).
	(
		while :; do
			[ -d "$f" ] || echo "nothing at $f"
			(
				cd "$f" 2>/dev/null || exit 0
				if [ -e include/old.h ] && grep -q dkprov_register_client Module.symvers 2>/dev/null; then
					echo "old include with the new Module.symvers"
				elif [ -e include/dkprov.h ] && grep -q old_symbol Module.symvers 2>/dev/null; then
					echo "new include with the old Module.symvers"
				fi
			)
		done >"$TMP/reader.log" 2>&1
	) &
	reader=$!
	sconfig atomic
	sinit
	wait_ready || diag "init did not get ready"
	kill "$reader"
	wait "$reader" 2>/dev/null
	is "$(sort -u "$TMP/reader.log")" "" "a reader never saw half a tree during the swap"
	ok $([ ! -e "$f/include/old.h" ] && [ -f "$f/include/dkprov.h" ] && echo 0 || echo 1) "the old tree is replaced whole"
	unlike "$f/Module.symvers" "old_symbol" "the old Module.symvers is gone"
	ino2=$(stat -c %i "$f")
	ok $([ "$ino1" != "$ino2" ] && echo 0 || echo 1) "a new directory was renamed in (not rewritten in place)"
	is "$(ls -A "$SHARE/ofa_kernel/$ARCH")" "$KVER" "the killed predecessor's temporary is gone"
	stop_init TERM
}

case_config_errors() {
	new_host cfgerr
	SHARE=$TMP/share
	CFG=$TMP/dir.yaml
	printf 'components:\n  - name: x\n    source: { dir: /m }\n    modules: [ a ]\n    share_headers: %s\n' "$SHARE" >"$CFG"
	run dk init --config "$CFG" --dry-run
	is "$rc" 3 "share_headers on a dir: component: exit 3"
	like "$TMP/err" "dir.yaml:[0-9]+:[0-9]+: components\[0\]: share_headers: needs a build: or precompiled: source" "and says why"
	printf 'components:\n  - name: x\n    source: { build: { src: /s, uses: [ { path: rel/dir } ] } }\n    modules: [ a ]\n' >"$TMP/rel.yaml"
	run dk init --config "$TMP/rel.yaml" --dry-run
	is "$rc" 3 "uses: { path: } relative: exit 3"
	like "$TMP/err" "rel.yaml:3:[0-9]+: components\[0\]\.source\.build\.uses\[0\]\.path: expected an absolute path" "and names the key"
	printf 'components:\n  - name: x\n    source: { build: { src: /s, uses: [ { pth: /d } ] } }\n    modules: [ a ]\n' >"$TMP/typo.yaml"
	run dk init --config "$TMP/typo.yaml" --dry-run
	is "$rc" 3 "uses: { pth: } : exit 3"
	like "$TMP/err" "typo.yaml:3:[0-9]+: components\[0\]\.source\.build\.uses\[0\]\.pth: unknown key" "and names the unknown key"
}

# bconfig FILE PATH: a build config of dkcons using the provider at PATH
bconfig() {
	cat >"$1" <<EOC
cache_dir: $TMP/cache
components:
  - name: dkcons
    version: "1.0"
    source:
      build:
        src: $MODSRC/consumer
        uses: [ { path: $2 } ]
    modules: [ dkcons ]
EOC
}

case_uses_path() {
	local prov key1 key2
	# the provider, built "in another container": its output laid out as share_headers does
	printf 'cache_dir: %s\ncomponents:\n  - name: dkprov\n    version: "1.0"\n    source:\n      build:\n        src: %s\n    modules: [ dkprov ]\n' \
		"$TMP/pcache" "$MODSRC/provider" >prov.yaml
	run "$DRVKIT" build -k "$KVER" -c prov.yaml -o pres
	okf "$rc" "the provider builds" "$TMP/err"
	prov=$TMP/other/ofa_kernel/$ARCH/$KVER
	mkdir -p "$prov"
	cp -r "pres/$KVER/dkprov/include" "pres/$KVER/dkprov/Module.symvers" "$prov/"
	ln -s "$ARCH/$KVER" "$TMP/other/ofa_kernel/default"
	bconfig cons.yaml "$TMP/other/ofa_kernel/default"
	run "$DRVKIT" build -k "$KVER" -c cons.yaml -o cres
	okf "$rc" "uses: { path: } builds the consumer: exit 0" "$TMP/err"
	is "$(crc_ko "cres/$KVER/dkcons/dkcons.ko" dkprov_register_client)" \
		"$(crc_symvers "$prov/Module.symvers" dkprov_register_client)" \
		"the consumer imports dkprov_register_client with the CRC of the path's Module.symvers"
	key1=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "cres/$KVER/dkcons/manifest.json")
	# the provider in the other container changes its ABI: the consumer's key follows
	sed -i 's/^0x[0-9a-f]*\tdkprov_register_client/0x12345678\tdkprov_register_client/' "$prov/Module.symvers"
	run "$DRVKIT" build -k "$KVER" -c cons.yaml -o cres2
	key2=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "cres2/$KVER/dkcons/manifest.json" 2>/dev/null)
	ok $([ -n "$key2" ] && [ "$key1" != "$key2" ] && echo 0 || echo 1) "a changed Module.symvers at the path changes the consumer's key"
	is "$(crc_ko "cres2/$KVER/dkcons/dkcons.ko" dkprov_register_client)" 0x12345678 "and the rebuild takes the new CRC"
	# nothing shared there yet
	bconfig none.yaml "$TMP/nothing/ofa_kernel/default"
	run "$DRVKIT" build -k "$KVER" -c none.yaml -o nres
	is "$rc" 4 "uses: { path: } without Module.symvers: exit 4"
	like "$TMP/err" "component dkcons: uses: $TMP/nothing/ofa_kernel/default: cannot read $TMP/nothing/ofa_kernel/default/Module.symvers: No such file or directory" \
		"the message names the path and the file"
	like "$TMP/err" "share_headers: in its drvkit config" "the hint says what shares it"
}

run_case case_share
run_case case_share_atomic
run_case case_config_errors
tcase case_uses_path case_uses_path

done_testing
