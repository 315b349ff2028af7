#!/bin/bash
# drvkit build with real kbuild against the installed Debian kernel headers: the output
# layout and manifests, the build cache (a hit runs no make; a damaged entry is rebuilt),
# bit-identical rebuilds, SIGTERM mid-build, patches, compiler errors, the headers
# preflight, an OFED-like provider and its peer-memory-like consumer (uses:) across a change
# of the provider's exported symbol, --package, --component, and config errors.
#
# Modules: tests/fixtures/build/hello (one small module), tests/modules/provider (dkprov,
# exports dkprov_register_client, ships include/dkprov.h) and tests/modules/consumer
# (dkcons, uses dkprov). Every spec puts a make wrapper first in the build's PATH (env:):
# it appends "CWD ARGS" to <cache>/make.log -- a build runs in <cache>/work/<key>/src -- and
# runs the real make, so a case counts the makes run against its own cache.
#
# The fixture case builds hello, dkprov and dkcons once into a warm cache; a case that
# wants them copies it (warm), so no case sees another's changes.
. "$(dirname "$0")/../lib.sh"

KVER=${DK_KVER:-$(ls -d /usr/src/linux-headers-*-amd64 2>/dev/null | sed 's|.*/linux-headers-||' |
	sort -V | tail -n1)}
[ -n "$KVER" ] && [ -e "/lib/modules/$KVER/build/Module.symvers" ] ||
	skip_all "no kernel headers installed (linux-headers-amd64)"
[ -x /usr/bin/make ] && command -v gcc >/dev/null || skip_all "no make or gcc"

MODSRC=$DK_SRCDIR/tests/modules
BF=$DK_FIXTURES/build
WARM=$FIX/cache
MAKEBIN=$FIX/bin
ENV_PATH="PATH=$MAKEBIN:/usr/bin:/bin"

# comp NAME VERSION SRC MODULE [BUILD-KEY-LINE]: one component of a spec (build from SRC,
# the make wrapper of $ENV_PATH)
comp() {
	printf '  - name: %s\n    version: "%s"\n    source:\n      build:\n' "$1" "$2"
	printf '        src: %s\n        env: [ "%s" ]\n' "$3" "$ENV_PATH"
	[ -z "${5:-}" ] || printf '        %s\n' "$5"
	printf '    modules: [ %s ]\n' "$4"
}
hello() { comp hello 1.0 "${1:-$BF/hello}" dkhello "${2:-}"; }
prov() { comp dkprov 1.0 "${1:-$MODSRC/provider}" dkprov; }
cons() { comp dkcons 1.0 "$MODSRC/consumer" dkcons "uses: [ dkprov ]"; }
# spec FILE CACHE COMPONENT...: a config of those components
spec() {
	local f=$1 c=$2
	shift 2
	{
		echo "cache_dir: $c"
		echo "components:"
		printf '%s\n' "$@"
	} >"$f"
}
# b ARGS...: drvkit build for $KVER through run ($rc, $TMP/out, $TMP/err)
b() { run "$DRVKIT" build -k "$KVER" "$@"; }
# warm: the fixture's cache as this case's $TMP/cache
warm() { cp -a "$WARM" "$TMP/cache"; }
# makes CACHE: how many makes ran against CACHE
makes() { if [ -f "$1/make.log" ]; then wc -l <"$1/make.log"; else echo 0; fi; }
# jget FILE PYEXPR: PYEXPR over the JSON of FILE (as d)
jget() { python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2"; }
# entry CACHE COMPONENT: the cache entry of COMPONENT (one only)
entry() {
	python3 -c 'import glob,json,os,sys
print(*[os.path.dirname(m) for m in sorted(glob.glob(sys.argv[1] + "/builds/*/manifest.json"))
        if json.load(open(m))["component"] == sys.argv[2]])' "$1" "$2"
}
sha() { sha256sum "$1" | cut -d' ' -f1; }
now_ms() { date +%s%3N; }
# entries CACHE: the names below CACHE/builds (entries and temp dirs)
entries() { ls -A "$1/builds" 2>/dev/null | tr '\n' ' '; }
# crc_symvers FILE SYM / crc_ko KO SYM: the CRC of SYM exported / imported
crc_symvers() { awk -v s="$2" '$2 == s { print $1 }' "$1"; }
crc_ko() { /sbin/modprobe --dump-modversions "$1" | awk -v s="$2" '$2 == s { print $1 }'; }

case_fixture() {
	local t0 t1
	mkdir -p "$MAKEBIN"
	cat >"$MAKEBIN/make" <<'EOF'
#!/bin/sh
# tests/cli/build.sh: logs each make a build runs, into <cache>/make.log
echo "$PWD $*" >>"${PWD%/work/*}/make.log"
exec /usr/bin/make "$@"
EOF
	chmod +x "$MAKEBIN/make"
	spec "$FIX/warm.yaml" "$WARM" "$(hello)" "$(prov)" "$(cons)"
	t0=$(now_ms)
	b -c "$FIX/warm.yaml"
	t1=$(now_ms)
	okf "$rc" "fixture: hello, dkprov and dkcons build (exit 0)" "$TMP/err"
	is "$(makes "$WARM")" 3 "fixture: three makes ran"
	diag "cold build of hello + dkprov + dkcons: $((t1 - t0)) ms"
	rm -f "$WARM/make.log"
}

# 1. OUT/<kver>/<component>/ with modules, Module.symvers and manifest; OUT/<kver>/manifest.json
case_layout() {
	local c m O=res/$KVER e
	warm
	spec cfg.yaml "$TMP/cache" "$(hello)" "$(prov)" "$(cons)"
	b -c cfg.yaml -o res
	okf "$rc" "layout: exit 0" "$TMP/err"
	is "$(ls -A res)" "$KVER" "layout: OUT holds only the kernel's directory"
	is "$(ls -A "$O" | tr '\n' ' ')" "dkcons dkprov hello manifest.json " \
		"layout: a directory per component and manifest.json"
	is "$(jget "$O/manifest.json" "d['kernel']")" "$KVER" "layout: manifest names the kernel"
	is "$(jget "$O/manifest.json" "' '.join(c['component'] for c in d['components'])")" \
		"hello dkprov dkcons" "layout: manifest lists the components in dependency order"
	for c in hello:dkhello dkprov:dkprov dkcons:dkcons; do
		m=${c#*:}
		c=${c%%:*}
		t "layout: $c/$m.ko" test -f "$O/$c/$m.ko"
		t "layout: $c/Module.symvers" test -f "$O/$c/Module.symvers"
		is "$(jget "$O/$c/manifest.json" "d['component'], d['version'], d['kernel']")" \
			"('$c', '1.0', '$KVER')" "layout: $c/manifest.json names component, version, kernel"
		is "$(jget "$O/$c/manifest.json" "[x['sha256'] for x in d['modules'] if x['file'] == '$m.ko'][0]")" \
			"$(sha "$O/$c/$m.ko")" "layout: $c manifest sha256 is the module's"
		is "$(jget "$O/$c/manifest.json" "d['symvers_sha256']")" "$(sha "$O/$c/Module.symvers")" \
			"layout: $c manifest sha256 of Module.symvers"
		like <(/sbin/modinfo -F vermagic "$O/$c/$m.ko") "^$KVER SMP " \
			"layout: modinfo reads $m's vermagic of $KVER"
		e=$(entry "$TMP/cache" "$c")
		t "layout: $c module is its cache entry's" cmp -s "$O/$c/$m.ko" "$e/$m.ko"
	done
	t "layout: the provider's exported include/dkprov.h" test -f "$O/dkprov/include/dkprov.h"
	is "$(makes "$TMP/cache")" 0 "layout: everything from the cache (no make)"
}

# 2. The second run is a cache hit: no make runs
case_cache_hit() {
	local t0 t1 t2
	spec cfg.yaml "$TMP/cache" "$(hello)"
	t0=$(now_ms)
	b -c cfg.yaml -o res1 --cache-dir cache # relative: make runs elsewhere
	t1=$(now_ms)
	okf "$rc" "cache hit: first run (relative --cache-dir) exit 0" "$TMP/err"
	like "$TMP/out" "^hello: build \(cache: no entry for key" "cache hit: first run builds"
	ok "$([ "$(makes "$TMP/cache")" -ge 1 ] && echo 0 || echo 1)" "cache hit: first run ran make"
	: >"$TMP/cache/make.log"
	b -c cfg.yaml -o res2
	t2=$(now_ms)
	okf "$rc" "cache hit: second run exit 0" "$TMP/err"
	like "$TMP/out" "^hello: cache \(cache: hit [0-9a-f]{12} \(by key\)\)" \
		"cache hit: second run says cache hit"
	is "$(makes "$TMP/cache")" 0 "cache hit: second run ran no make"
	t "cache hit: same module" cmp -s "res1/$KVER/hello/dkhello.ko" "res2/$KVER/hello/dkhello.ko"
	diag "build of hello: $((t1 - t0)) ms; cache hit: $((t2 - t1)) ms"
}

# 3. Bit-identical modules: rebuilt in the same cache, and in another cache (other work
# and entry paths) from another copy of the source
case_reproducible() {
	local c m e
	warm
	spec cfg.yaml "$TMP/cache" "$(hello)"
	e=$(entry "$TMP/cache" hello)
	cp "$e/dkhello.ko" before.ko
	rm -rf "$TMP/cache/builds/"*
	b -c cfg.yaml -o res1
	okf "$rc" "reproducible: rebuild exit 0" "$TMP/err"
	is "$(makes "$TMP/cache")" 1 "reproducible: rebuilt"
	t "reproducible: dkhello.ko rebuilt in the same cache is identical" \
		cmp before.ko "res1/$KVER/hello/dkhello.ko"
	mkdir -p elsewhere/src
	cp -r "$BF/hello" elsewhere/src/hello
	spec cfg2.yaml "$TMP/elsewhere/cache-two" "$(hello "$TMP/elsewhere/src/hello")" "$(prov)" "$(cons)"
	b -c cfg2.yaml -o res2
	okf "$rc" "reproducible: build in another cache exit 0" "$TMP/err"
	is "$(makes "$TMP/elsewhere/cache-two")" 3 "reproducible: all three built there"
	for c in hello:dkhello dkprov:dkprov dkcons:dkcons; do
		m=${c#*:}
		c=${c%%:*}
		e=$(entry "$WARM" "$c")
		t "reproducible: $m.ko built in another cache is identical" \
			cmp "$e/$m.ko" "res2/$KVER/$c/$m.ko"
		is "$(jget "res2/$KVER/$c/manifest.json" "d['key']")" "$(basename "$e")" \
			"reproducible: $c has the same key in another cache"
	done
	t "reproducible: the provider's Module.symvers is identical in another cache" \
		cmp "$(entry "$WARM" dkprov)/Module.symvers" "res2/$KVER/dkprov/Module.symvers"
	unlike "res2/$KVER/dkprov/Module.symvers" "$TMP" "reproducible: Module.symvers names no work path"
}

# 4. SIGTERM mid-build stops the whole tree: no output, no entry, no process left
case_sigterm() {
	local pid t0 t1 rc=0 gc ENV_PATH="PATH=$TMP/bin:/usr/bin:/bin"
	mkdir bin
	cat >bin/make <<EOF
#!/bin/sh
sleep 300 &
echo \$! >"$TMP/grandchild"
echo \$\$ >"$TMP/started"
sleep 300
EOF
	chmod +x bin/make
	atexit '[ -s "$TMP/grandchild" ] && kill "$(cat "$TMP/grandchild")" 2>/dev/null'
	spec cfg.yaml "$TMP/cache" "$(hello)"
	"$DRVKIT" build -c cfg.yaml -k "$KVER" -o "$TMP/OUT" >"$TMP/out" 2>"$TMP/err" &
	pid=$!
	atexit "kill -KILL $pid 2>/dev/null"
	for _ in $(seq 600); do
		[ -s "$TMP/started" ] && [ -s "$TMP/grandchild" ] && break
		sleep 0.1
	done
	t "sigterm: the make wrapper started" test -s "$TMP/started"
	gc=$(cat "$TMP/grandchild" 2>/dev/null || echo 0)
	t0=$(now_ms)
	kill -TERM "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	t1=$(now_ms)
	wait "$pid" || rc=$?
	ok "$([ $((t1 - t0)) -lt 8000 ] && echo 0 || echo 1)" "sigterm: drvkit ended within 8 s ($((t1 - t0)) ms)"
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "sigterm: exit non-zero ($rc)"
	like "$TMP/err" "stopped" "sigterm: the message says stopped"
	t "sigterm: no output directory" test ! -e "$TMP/OUT"
	is "$(entries "$TMP/cache")" "" "sigterm: no cache entry and no temp dir"
	for _ in $(seq 20); do
		kill -0 "$gc" 2>/dev/null || break
		sleep 0.1
	done
	t "sigterm: the make's background child is gone" test "$gc" -gt 0 -a ! -e "/proc/$gc"
	is "$(ls -A "$TMP/cache/work" 2>/dev/null)" "" "sigterm: no work tree left"
}

# 5. A damaged cache entry is reported, rebuilt, and the result verifies
case_damaged() {
	local e
	warm
	spec cfg.yaml "$TMP/cache" "$(hello)"
	e=$(entry "$TMP/cache" hello)
	python3 -c 'import sys; f=open(sys.argv[1],"r+b"); f.seek(4096); b=f.read(1); f.seek(4096); f.write(bytes([b[0]^0xff]))' \
		"$e/dkhello.ko"
	t "damaged: the byte changed" test "$(sha "$e/dkhello.ko")" != "$(sha "$(entry "$WARM" hello)/dkhello.ko")"
	b -c cfg.yaml -o res
	okf "$rc" "damaged: exit 0" "$TMP/err"
	like "$TMP/err" "cache entry .*$(basename "$e") is damaged" "damaged: stderr says the entry is damaged"
	like "$TMP/err" "dkhello\.ko" "damaged: and names the module"
	like "$TMP/out" "^hello: build" "damaged: rebuilt"
	is "$(makes "$TMP/cache")" 1 "damaged: one make ran"
	is "$(jget "res/$KVER/hello/manifest.json" "d['modules'][0]['sha256']")" \
		"$(sha "res/$KVER/hello/dkhello.ko")" "damaged: the output verifies"
	t "damaged: the rebuilt module is the original" cmp "res/$KVER/hello/dkhello.ko" "$(entry "$WARM" hello)/dkhello.ko"
	b -c cfg.yaml
	like "$TMP/out" "^hello: cache \(cache: hit" "damaged: the new entry is a cache hit"
}

# 6. patches: applied before make; one that does not apply names the file and hunk
case_patches() {
	spec cfg.yaml "$TMP/cache" "$(hello "" "patches: [ $BF/greeting.patch ]")"
	b -c cfg.yaml -o res
	okf "$rc" "patches: exit 0" "$TMP/err"
	t "patches: the module prints the patched string" grep -aq "hello from a patch" "res/$KVER/hello/dkhello.ko"
	t "patches: not the original" eval '! grep -aq "hello from drvkit" "res/$KVER/hello/dkhello.ko"'
	is "$(jget "res/$KVER/hello/manifest.json" "d['patches']")" "['greeting.patch $(sha "$BF/greeting.patch")']" \
		"patches: manifest lists the patch and its digest"

	spec bad.yaml "$TMP/cache2" "$(hello "" "patches: [ $BF/greeting.patch, $BF/stale.patch ]")"
	b -c bad.yaml -o res2
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "stale patch: exit non-zero ($rc)"
	like "$TMP/err" "stale\.patch" "stale patch: the error names the patch file"
	like "$TMP/err" "hunk #1" "stale patch: and the hunk"
	like "$TMP/err" "patch 2 of 2" "stale patch: and which of the patches"
	like "$TMP/err" "component hello" "stale patch: and the component"
	is "$(makes "$TMP/cache2")" 0 "stale patch: no make ran"
	is "$(entries "$TMP/cache2")" "" "stale patch: nothing in the cache"
	t "stale patch: no output" test ! -e res2
}

# 7. A compiler error: component, version, kernel, file:line: message, function, log
case_make_failure() {
	local log
	spec cfg.yaml "$TMP/cache" "$(comp broken 2.5 "$BF/broken" dkbroken)"
	b -c cfg.yaml -o res
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "make failure: exit non-zero ($rc)"
	like "$TMP/err" "component broken \(version 2\.5, flavor -\) for kernel $KVER" \
		"make failure: names component, version and kernel"
	like "$TMP/err" ": dkbroken\.c:9: .dkbroken_missing_count. undeclared" \
		"make failure: quotes file:line: message (relative to the source)"
	like "$TMP/err" "in function dkbroken_init" "make failure: names the function"
	unlike <(grep '^drvkit' "$TMP/err") "/work/[0-9a-f]+/src/dkbroken" "make failure: no work path in the message"
	log=$(sed -n 's/.*full log: \([^ ]*\).*/\1/p' "$TMP/err" | head -n1)
	t "make failure: the log exists ($log)" test -f "$log"
	like "$log" "dkbroken\.c:9:.*error: .dkbroken_missing_count. undeclared" "make failure: the log holds the error"
	is "$(entries "$TMP/cache")" "" "make failure: nothing in the cache"
	t "make failure: no output" test ! -e res
}

# configure: the component's own configure runs in the tree before make, its arguments
# filled in; a failing configure is named; its arguments are part of the cache key.
case_configure() {
	local c='configure: [ ./configure, "--kernel-version={kernel}", "--with-x" ]' ko key1 key2
	spec cfg.yaml "$TMP/cache" "$(comp conf 1.0 "$BF/configured" dkconf "$c")"
	b -c cfg.yaml -o res
	is "$rc" 0 "configure + make: exit 0"
	ko=$(ls res/"$KVER"/conf/dkconf.ko 2>/dev/null)
	is "$(/sbin/modinfo -F configured "$ko" 2>/dev/null)" "--kernel-version=$KVER --with-x" \
		"configure ran first, with {kernel} filled in (its output is in the module)"
	key1=$(entries "$TMP/cache")
	spec cfg.yaml "$TMP/cache" "$(comp conf 1.0 "$BF/configured" dkconf \
		'configure: [ ./configure, "--kernel-version={kernel}", "--with-y" ]')"
	b -c cfg.yaml
	is "$rc" 0 "another configure option: exit 0"
	key2=$(entries "$TMP/cache")
	is "$(echo $key2 | wc -w)" 2 "another configure option is another cache entry ($key1 / $key2)"
	spec cfg.yaml "$TMP/cache2" "$(comp conf 1.0 "$BF/configured" dkconf \
		'configure: [ ./configure, --fail ]')"
	b -c cfg.yaml
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "configure failure: exit non-zero ($rc)"
	like "$TMP/err" "component conf \(version 1\.0, flavor -\) for kernel $KVER: .*configure exited with status 3" \
		"configure failure: named as configure, with its status"
	is "$(entries "$TMP/cache2")" "" "configure failure: nothing in the cache"
}

# exports: nested paths (OFED's [include, include/rdma]): the outer copy brings the inner
# one along, and both are -I dirs for a user.
case_exports_nested() {
	mkdir -p prov/include/sub
	cp -r "$MODSRC/provider/." prov/
	echo '#define DKPROV_SUB 1' >prov/include/sub/dksub.h
	spec cfg.yaml "$TMP/cache" "$(comp dkprov 1.0 "$TMP/prov" dkprov 'exports: [ include, include/sub ]')"
	b -c cfg.yaml -o res
	okf "$rc" "nested exports: exit 0" "$TMP/err"
	t "nested exports: include/sub kept once, inside include" test -f "res/$KVER/dkprov/include/sub/dksub.h"
	t "nested exports: the outer export's files too" test -f "res/$KVER/dkprov/include/dkprov.h"
}

# Two independent components failing in parallel: both are named, not only the first.
case_two_failures() {
	mkdir b2 && cp "$BF/broken/dkbroken.c" b2/dkbroken2.c && echo 'obj-m += dkbroken2.o' >b2/Kbuild
	spec cfg.yaml "$TMP/cache" "$(comp broken 2.5 "$BF/broken" dkbroken)" \
		"$(comp broken2 2.6 "$TMP/b2" dkbroken2)"
	b -c cfg.yaml -j1
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "two failures: exit non-zero ($rc)"
	like "$TMP/err" "component broken \(version 2\.5" "two failures: the first named"
	like "$TMP/err" "and in parallel: component broken2 \(version 2\.6" "two failures: the other named too"
}

# 8. Headers that cannot build: what is missing and the fix, before make runs
case_preflight() {
	local real
	real=$(readlink -f "/lib/modules/$KVER/build")
	mkdir hdr
	cp -as "$real/." hdr/
	rm hdr/scripts hdr/tools
	cp -as "$(readlink -f "$real/scripts")" hdr/scripts
	ln -s "$(readlink -f "$real/tools")" hdr/tools
	rm hdr/scripts/mod/modpost
	: >hdr/vmlinux # CONFIG_DEBUG_INFO_BTF_MODULES=y with a vmlinux: kbuild runs pahole
	spec cfg.yaml "$TMP/cold" "$(hello)"
	b -c cfg.yaml --headers hdr -o res
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "preflight: exit non-zero ($rc)"
	like "$TMP/err" "headers at $TMP/hdr cannot build modules" "preflight: names the headers"
	like "$TMP/err" "scripts/mod/modpost .* is missing" "preflight: modpost is missing"
	if PATH=/usr/local/bin:/usr/bin:/bin command -v pahole >/dev/null; then
		skip "pahole is installed here"
	else
		like "$TMP/err" "pahole is not on PATH.*CONFIG_DEBUG_INFO_BTF_MODULES" "preflight: pahole is missing"
		like "$TMP/err" "install dwarves" "preflight: and the fix"
	fi
	is "$(makes "$TMP/cold")" 0 "preflight: no make ran"
	is "$(entries "$TMP/cold")" "" "preflight: nothing in the cache"
	t "preflight: no output" test ! -e res
	# The same inputs cached: a hit needs no build tools
	warm
	spec cfg2.yaml "$TMP/cache" "$(hello)"
	b -c cfg2.yaml --headers "$TMP/hdr" -o res
	okf "$rc" "preflight: with a warm cache the same headers are enough" "$TMP/err"
	like "$TMP/out" "^hello: cache" "preflight: a cache hit"
}

# 9. A provider and its consumer: uses, and a change of the provider's exported symbol
case_uses() {
	local kp1 kc1 kp2 kc2 crc1 crc2 n
	warm
	spec v1.yaml "$TMP/cache" "$(prov)" "$(cons)"
	b -c v1.yaml -o res1
	okf "$rc" "uses: exit 0" "$TMP/err"
	is "$(makes "$TMP/cache")" 0 "uses: both from the cache"
	kp1=$(jget "res1/$KVER/dkprov/manifest.json" "d['key']")
	kc1=$(jget "res1/$KVER/dkcons/manifest.json" "d['key']")
	is "$(jget "res1/$KVER/dkcons/manifest.json" "[(u['component'], u['manifest_sha256']) for u in d['uses']]")" \
		"[('dkprov', '$(sha "res1/$KVER/dkprov/manifest.json")')]" \
		"uses: consumer manifest lists the provider's manifest sha256"
	is "$(jget "res1/$KVER/dkcons/manifest.json" "d['uses'][0]['symvers_sha256']")" \
		"$(sha "res1/$KVER/dkprov/Module.symvers")" "uses: and its Module.symvers sha256"
	crc1=$(crc_symvers "res1/$KVER/dkprov/Module.symvers" dkprov_register_client)
	like <(echo "$crc1") "^0x[0-9a-f]{8}$" "uses: provider exports dkprov_register_client with a CRC"
	is "$(crc_ko "res1/$KVER/dkcons/dkcons.ko" dkprov_register_client)" "$crc1" \
		"uses: consumer imports it with that CRC"

	# The provider's API changes (struct dkprov_client gains a field): a new CRC
	cp -r "$MODSRC/provider" prov2
	sed -i 's/^#define DKPROV_API 1$/#define DKPROV_API 2/' prov2/include/dkprov.h
	t "uses: provider copy at API 2" grep -q '^#define DKPROV_API 2$' prov2/include/dkprov.h
	spec v2.yaml "$TMP/cache" "$(prov "$TMP/prov2")" "$(cons)"
	b -c v2.yaml -o res2
	okf "$rc" "uses: changed provider: exit 0" "$TMP/err"
	kp2=$(jget "res2/$KVER/dkprov/manifest.json" "d['key']")
	kc2=$(jget "res2/$KVER/dkcons/manifest.json" "d['key']")
	t "uses: the provider's key changed" test "$kp2" != "$kp1"
	t "uses: the consumer's key changed" test "$kc2" != "$kc1"
	like "$TMP/out" "^dkprov: build" "uses: provider rebuilt"
	like "$TMP/out" "^dkcons: build" "uses: consumer rebuilt"
	like "$TMP/cache/make.log" "/work/${kp2:0:16}/src " "uses: make ran for the provider"
	like "$TMP/cache/make.log" "/work/${kc2:0:16}/src " "uses: make ran for the consumer"
	crc2=$(crc_symvers "res2/$KVER/dkprov/Module.symvers" dkprov_register_client)
	t "uses: dkprov_register_client's CRC changed ($crc1 -> $crc2)" test "$crc2" != "$crc1"
	is "$(crc_ko "res2/$KVER/dkcons/dkcons.ko" dkprov_register_client)" "$crc2" \
		"uses: the rebuilt consumer imports the new CRC"
	t "uses: the old consumer's entry is still there, unused" test -d "$TMP/cache/builds/$kc1"

	# A consumer built against the old provider found under the new key (a cache shared
	# by hand, a key collision): drvkit build sees it is stale and rebuilds it
	rm -rf "$TMP/cache/builds/$kc2"
	cp -a "$TMP/cache/builds/$kc1" "$TMP/cache/builds/$kc2"
	sed -i "s/$kc1/$kc2/" "$TMP/cache/builds/$kc2/manifest.json"
	n=$(makes "$TMP/cache")
	b -c v2.yaml -o res3
	okf "$rc" "uses: stale consumer: exit 0" "$TMP/err"
	like "$TMP/out" "^dkprov: cache" "uses: stale consumer: provider from the cache"
	like "$TMP/out" "^dkcons: build \(cache: entry ${kc2:0:12} is stale: .*dkprov_register_client" \
		"uses: stale consumer: reported stale, naming the symbol"
	is "$(($(makes "$TMP/cache") - n))" 1 "uses: stale consumer: rebuilt (one make)"
	t "uses: stale consumer: the rebuilt consumer is the right one" \
		cmp "res2/$KVER/dkcons/dkcons.ko" "res3/$KVER/dkcons/dkcons.ko"
	diag "stale report: $(grep '^dkcons:' "$TMP/out")"
}

# 9b. exports: one nested in another (OFED's [include, include/rdma]), in either order, and
# with a trailing slash: one copy, both dirs in the entry
case_exports() {
	local ex e
	cp -a "$BF/hello" h
	mkdir -p h/include/rdma
	echo '#define TOP 1' >h/include/top.h
	echo '#define PEER 1' >h/include/rdma/peer.h
	for ex in "include, include/rdma" "include/rdma/, include/"; do
		rm -rf "$TMP/c"
		spec ex.yaml "$TMP/c" "$(hello "$TMP/h" "exports: [ $ex ]")"
		b -c ex.yaml
		okf "$rc" "exports [ $ex ]: exit 0" "$TMP/err"
		e=$(entry "$TMP/c" hello)
		t "exports [ $ex ]: include/top.h in the entry" test -f "$e/include/top.h"
		t "exports [ $ex ]: include/rdma/peer.h in the entry" test -f "$e/include/rdma/peer.h"
	done
}

# 10. --package: one .tar.zst of OUT's layout
case_package() {
	warm
	spec cfg.yaml "$TMP/cache" "$(hello)" "$(prov)" "$(cons)"
	mkdir pkg
	b -c cfg.yaml --package "$TMP/pkg/p.tar.zst"
	okf "$rc" "package: exit 0" "$TMP/err"
	is "$(ls -A pkg)" "p.tar.zst" "package: the file, and no temp file beside it"
	tar --zstd -tf pkg/p.tar.zst >list
	like list "^$KVER/manifest.json$" "package: lists <kver>/manifest.json"
	like list "^$KVER/hello/dkhello.ko$" "package: lists <kver>/hello/dkhello.ko"
	like list "^$KVER/dkprov/Module.symvers$" "package: lists <kver>/dkprov/Module.symvers"
	like list "^$KVER/dkcons/manifest.json$" "package: lists <kver>/dkcons/manifest.json"
	is "$(grep -cv "^$KVER/" list)" 0 "package: nothing outside <kver>/"
	mkdir x
	tar --zstd -xf pkg/p.tar.zst -C x
	t "package: modules are the cache entry's" cmp "x/$KVER/dkcons/dkcons.ko" "$(entry "$TMP/cache" dkcons)/dkcons.ko"
	is "$(find "$TMP/cache" -name '.tmp*' -o -name '*.part' -o -name '*.tmp')" "" "package: no temp files in the cache"
	b -c cfg.yaml --package "$TMP/pkg/q.tar.zst"
	t "package: deterministic (same bytes twice)" cmp pkg/p.tar.zst pkg/q.tar.zst
}

# 11. Config errors: exit 3, file:line:col
case_config_errors() {
	spec c1.yaml "$TMP/cache" "$(comp a 1 "$BF/hello" dkhello "uses: [ nosuch ]")"
	b -c c1.yaml
	is "$rc" 3 "config: uses names a missing component: exit 3"
	like "$TMP/err" "c1\.yaml:[0-9]+:[0-9]+: .*uses names nosuch, which is not a component" \
		"config: uses names a missing component: file:line:col"
	spec c2.yaml "$TMP/cache" "$(comp a 1 "$BF/hello" dkhello "uses: [ b ]")" \
		"$(comp b 1 "$BF/hello" dkother "after: [ a ]")"
	b -c c2.yaml
	is "$rc" 3 "config: uses cycle: exit 3"
	like "$TMP/err" "c2\.yaml:[0-9]+:[0-9]+: .*cycle" "config: uses cycle: file:line:col"
	printf 'components:\n  - name: a\n    source:\n      build:\n        url: https://example.invalid/a.tar.gz\n    modules: [ a ]\n' >c3.yaml
	b -c c3.yaml
	is "$rc" 3 "config: url without sha256: exit 3"
	like "$TMP/err" "c3\.yaml:5:[0-9]+: .*url needs sha256" "config: url without sha256: file:line:col"
	printf 'components:\n  - name: a\n    source:\n      build:\n        src: /tmp\n        make: [ make, "M={srcdir}" ]\n    modules: [ a ]\n' >c4.yaml
	b -c c4.yaml
	is "$rc" 3 "config: unknown make placeholder: exit 3"
	like "$TMP/err" "c4\.yaml:6:[0-9]+: .*unknown placeholder in 'M=\{srcdir\}'" \
		"config: unknown make placeholder: file:line:col"
	is "$(entries "$TMP/cache")" "" "config: nothing built"
}

# 12. --component NAME: only it, and what it uses
case_component() {
	warm
	spec cfg.yaml "$TMP/cache" "$(hello)" "$(prov)" "$(cons)" "$(comp broken 1 "$TMP/nosuch" dkbroken)"
	b -c cfg.yaml -o res
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "component: the whole spec fails (broken has no source)"
	like "$TMP/err" "component broken" "component: the failure names broken"
	b -c cfg.yaml -o res1 --component hello
	okf "$rc" "component hello: exit 0" "$TMP/err"
	is "$(ls -A "res1/$KVER" | tr '\n' ' ')" "hello manifest.json " "component hello: only hello"
	is "$(jget "res1/$KVER/manifest.json" "[c['component'] for c in d['components']]")" "['hello']" \
		"component hello: the manifest lists only hello"
	b -c cfg.yaml -o res2 --component dkcons
	okf "$rc" "component dkcons: exit 0" "$TMP/err"
	is "$(ls -A "res2/$KVER" | tr '\n' ' ')" "dkcons dkprov manifest.json " \
		"component dkcons: dkcons and the dkprov it uses"
	is "$(grep -c '^[a-z]' "$TMP/out")" 2 "component dkcons: two components reported"
	b -c cfg.yaml --component nosuch
	ok "$([ "$rc" -ne 0 ] && echo 0 || echo 1)" "component nosuch: exit non-zero"
	like "$TMP/err" "no component nosuch" "component nosuch: says so"
	is "$(makes "$TMP/cache")" 0 "component: no make ran"
}

tcase "fixture" case_fixture
tcase "layout" case_layout
tcase "cache hit" case_cache_hit
tcase "reproducible" case_reproducible
tcase "sigterm" case_sigterm
tcase "damaged" case_damaged
tcase "patches" case_patches
tcase "make failure" case_make_failure
tcase "configure" case_configure
tcase "two failures" case_two_failures
tcase "exports nested" case_exports_nested
tcase "preflight" case_preflight
tcase "uses" case_uses
tcase "exports" case_exports
tcase "package" case_package
tcase "config errors" case_config_errors
tcase "component" case_component
done_testing
