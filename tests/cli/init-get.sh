#!/bin/bash
# drvkit init getting its modules for a kernel it has never seen (the preload shim
# stands in for the kernel): built from source on the first start, from the cache on
# the next (no compiler runs), from a precompiled package served over loopback (a 404
# falls back to a build; a package whose modules do not match its manifest, or are
# signed by another key, is refused and nothing is loaded), SIGTERM during a build.
# The build runs for real against the installed Debian headers (host_root /).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

# The fixture: the module sources, a make wrapper that counts its runs, a signing key.
case_fixture() {
	mkdir -p "$FIX/src" "$FIX/bin" "$FIX/www"
	cp "$DK_SRCDIR"/tests/modules/Kbuild "$DK_SRCDIR"/tests/modules/*.c "$FIX/src/"
	cat >"$FIX/bin/make" <<'EOF'
#!/bin/sh
# Counts each run (the test asserts no compiler ran on a warm start); DK_MAKE_SLEEP makes
# the build slow enough to be stopped, with a grandchild that must die with it.
echo "make $*" >>"${DK_MAKE_LOG:-/dev/null}"
if [ -n "${DK_MAKE_SLEEP:-}" ]; then
	sleep 300 &
	echo $! >"$DK_MAKE_SLEEP"
	wait
fi
exec /usr/bin/make "$@"
EOF
	chmod +x "$FIX/bin/make"
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=drvkit get test/" \
		-keyout "$FIX/key.pem" -out "$FIX/cert.pem" -outform PEM 2>/dev/null
	chmod 600 "$FIX/key.pem"
	openssl req -new -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=someone else/" \
		-keyout "$FIX/other.key" -out "$FIX/other.pem" 2>/dev/null
}
tcase "fixture: sources, make wrapper, keys" case_fixture

# gconfig NAME SOURCE-YAML [TOP-YAML]: a config on the real host root (headers) with the
# shim's sysfs; the make wrapper logs to $TMP/make.log.
gconfig() {
	config_paths "$1"
	CACHE=${CACHE:-$TMP/cache}
	{
		config_top /
		cat <<EOC
cache_dir: $CACHE
grace_period: 5
${3:-}
components:
  - name: example
    version: "1.0"
    source:
$2
    modules: [ dktest_export, dktest_user, dktest_params ]
EOC
	} >"$CFG"
}
BUILD_SRC="      build:
        src: $FIX/src
        env: [ \"PATH=$FIX/bin:/usr/bin:/bin\", \"DK_MAKE_LOG=\$MAKELOG\" ]"
build_src() { # the build: mapping with the make log of this case
	printf '%s\n' "${BUILD_SRC//\$MAKELOG/$TMP/make.log}"
}
makes() { [ -f "$TMP/make.log" ] && wc -l <"$TMP/make.log" || echo 0; }
ginit() { # ginit: start init under the shim (real module files, fake kernel)
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG DK_SHIM_WATCH=$READY LD_PRELOAD=$SHIM_PRELOAD \
		"$DRVKIT" init --config "$CFG" --sysfs "$HOST/sys" >"$TMP/init.out" 2>"$TMP/init.err" &
	PID=$!
}

case_build_then_warm() {
	new_host warm
	gconfig warm "$(build_src)"
	ginit
	if wait_ready; then ok 0 "first start: ready after building"; else ok 1 "first start: ready after building"; fi
	ok "$([ "$(makes)" -ge 1 ] && echo 0 || echo 1)" "first start ran make ($(makes) runs)"
	like "$TMP/init.err" "get: component example: build in [0-9]+ ms \(cache: no entry for key [0-9a-f]{12}; build: built in" \
		"get says: no cache entry, built"
	like "$SHIMLOG" "^insert dktest_params" "modules inserted"
	like "$STATE/state.json" "$CACHE/builds/[0-9a-f]{64}/dktest_export.ko" "loaded from the cache entry"
	stop_init
	is "$rc" 0 "clean stop"
	: >"$SHIMLOG"
	rm -f "$TMP/make.log"
	ginit
	if wait_ready; then ok 0 "second start: ready"; else ok 1 "second start: ready"; fi
	is "$(makes)" 0 "warm start: no make, no compiler"
	like "$TMP/init.err" "get: component example: cache in [0-9]+ ms \(cache: hit [0-9a-f]{12} \(by key\)\)" \
		"get says: cache hit"
	is "$(shimlog insert)" "insert:dktest_export insert:dktest_user insert:dktest_params" "same modules loaded"
	stop_init
	# A damaged entry is rebuilt, never loaded.
	ent=$(ls -d "$CACHE"/builds/*/ | head -1)
	printf 'X' | dd of="$ent/dktest_user.ko" bs=1 seek=100 conv=notrunc 2>/dev/null
	: >"$SHIMLOG"
	ginit
	if wait_ready; then ok 0 "damaged entry: ready"; else ok 1 "damaged entry: ready"; fi
	like "$TMP/init.err" "warn: get: component example: cache entry .* is damaged \(removed, to be rebuilt\).*dktest_user.ko: sha256" \
		"damaged entry reported with the file"
	ok "$([ "$(makes)" -ge 1 ] && echo 0 || echo 1)" "damaged entry: rebuilt"
	stop_init
}

case_dry_run() {
	new_host dry
	CACHE=$TMP/drycache gconfig dry "$(build_src)"
	run dk init --config "$CFG" --sysfs "$HOST/sys" --dry-run
	is "$rc" 0 "dry run succeeds"
	like "$TMP/out" "^  get      example +not available yet: cache: no entry for key [0-9a-f]{12}; build: would build with the headers at /usr/src/linux-headers-$KVER and [0-9.]+ \(/usr/bin/gcc" \
		"plan: where it would come from: headers and compiler"
	is "$(makes)" 0 "dry run built nothing"
	ok "$([ ! -d "$TMP/drycache/builds" ] || [ -z "$(ls "$TMP/drycache/builds")" ] && echo 0 || echo 1)" "no cache entry"
	# The precompiled step names the URL it would fetch, placeholders filled in.
	CACHE=$TMP/drycache gconfig dry2 "$(build_src)
      precompiled: { url: \"file://$TMP/pkgs/{kernel}-{component}-{version}.tar.zst\" }"
	run dk init --config "$CFG" --sysfs "$HOST/sys" --dry-run
	is "$rc" 0 "dry run with a precompiled source succeeds"
	like "$TMP/out" "precompiled: would try file://$TMP/pkgs/$KVER-example-1\\.0\\.tar\\.zst; build: would build" \
		"plan: the precompiled URL for this kernel"
}

# pkg NAME [SIGN]: drvkit build --package of the fixture into $FIX/www (signed with the key when SIGN)
pkg() {
	local top=""
	[ -n "${2:-}" ] && top="signing: { key: $FIX/key.pem, cert: $FIX/cert.pem }"
	HOST=$TMP/pkghost CACHE=$TMP/pkgcache gconfig "pkg-$1" "$(build_src)" "$top"
	"$DRVKIT" build --config "$CFG" --package "$FIX/www/$1.tar.zst" >"$TMP/pkg.out" 2>"$TMP/pkg.err"
}

case_precompiled() {
	new_host pre
	pkg "$KVER-example" sign
	is "$?" 0 "drvkit build --package"
	rm -f "$TMP/make.log"
	start_file_server "$FIX/www"
	gconfig pre "$(build_src)
      precompiled: { url: \"$U/ok/{kernel}-{component}.tar.zst\", cert: $FIX/cert.pem }"
	ginit
	if wait_ready; then ok 0 "ready from a precompiled package"; else ok 1 "ready from a precompiled package"; fi
	is "$(makes)" 0 "nothing built"
	like "$TMP/init.err" "get: component example: precompiled in [0-9]+ ms \(cache: no entry for key [0-9a-f]{12}; precompiled: http://127.0.0.1:[0-9]+/ok/$KVER-example.tar.zst \([0-9]+ modules verified, signatures checked\)\)" \
		"get says: precompiled, verified"
	like "$SHIMLOG" "^insert dktest_params" "modules inserted"
	stop_init
	# The next start finds it in the cache without the server.
	kill "$SPID"
	: >"$SHIMLOG"
	ginit
	if wait_ready; then ok 0 "restart: ready without the server"; else ok 1 "restart: ready without the server"; fi
	like "$TMP/init.err" "get: component example: cache in" "restart: from the cache"
	stop_init
}

case_precompiled_404() {
	new_host p404
	start_file_server "$FIX/www"
	gconfig p404 "$(build_src)
      precompiled: { url: \"$U/404/{kernel}-{component}.tar.zst\" }"
	ginit
	if wait_ready; then ok 0 "404: ready after a build"; else ok 1 "404: ready after a build"; fi
	like "$TMP/init.err" "precompiled: http://127.0.0.1:[0-9]+/404/$KVER-example.tar.zst: not found; build: built in" \
		"404 falls back to the build, and says so"
	ok "$([ "$(makes)" -ge 1 ] && echo 0 || echo 1)" "make ran"
	stop_init
}

case_precompiled_refused() {
	local d
	new_host bad
	pkg tampered sign
	d=$TMP/unpack
	mkdir -p "$d"
	tar --zstd -xf "$FIX/www/tampered.tar.zst" -C "$d"
	printf 'X' | dd of="$d/$KVER/example/dktest_user.ko" bs=1 seek=200 conv=notrunc 2>/dev/null
	tar --zstd -cf "$FIX/www/bad-$KVER.tar.zst" -C "$d" "$KVER"
	rm -f "$TMP/make.log"
	start_file_server "$FIX/www"
	gconfig bad "      precompiled: { url: \"$U/ok/bad-{kernel}.tar.zst\" }"
	ginit
	wait "$PID"
	ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "a package that does not match its manifest: init fails"
	like "$TMP/init.err" "get: component example: precompiled package refused: .*dktest_user.ko: sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}" \
		"the refusal names the module and both digests"
	is "$(shimlog insert)" "" "nothing loaded"
	like "$TERMLOG" "precompiled package refused" "termination log says why"
	ok "$([ ! -d "$TMP/cache/builds" ] || [ -z "$(ls "$TMP/cache/builds")" ] && echo 0 || echo 1)" "not in the cache"

	# Intact, but signed by another key than precompiled.cert.
	new_host other
	gconfig other "      precompiled: { url: \"$U/ok/tampered.tar.zst\", cert: $FIX/other.pem }"
	cp "$FIX/www/tampered.tar.zst" "$FIX/www/tampered-copy.tar.zst"
	ginit
	wait "$PID"
	ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "signed by another key: init fails"
	like "$TMP/init.err" "module dktest_[a-z]+.ko does not verify against $FIX/other.pem" "names the module and the cert"
	is "$(shimlog insert)" "" "nothing loaded"
}

case_sigterm_build() {
	local g i=0
	new_host term
	gconfig term "$(build_src)"
	export DK_MAKE_SLEEP=$TMP/grandchild
	sed -i "s|\"DK_MAKE_LOG=|\"DK_MAKE_SLEEP=$TMP/grandchild\", \"DK_MAKE_LOG=|" "$CFG"
	ginit
	while [ ! -s "$TMP/grandchild" ] && [ $i -lt 600 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	g=$(cat "$TMP/grandchild" 2>/dev/null)
	stop_init
	is "$rc" 0 "SIGTERM during the build: a clean stop (exit 0)"
	ok "$([ "$ms" -lt 10000 ] && echo 0 || echo 1)" "stopped in ${ms} ms"
	like "$TMP/init.err" "stopped by a signal before anything was loaded" "says so"
	is "$(shimlog insert)" "" "nothing loaded"
	ok "$([ -n "$g" ] && ! kill -0 "$g" 2>/dev/null && echo 0 || echo 1)" "the build's grandchild ($g) is gone"
	ok "$([ -z "$(ls -A "$TMP/cache/builds" 2>/dev/null)" ] && echo 0 || echo 1)" "no cache entry, no temp dir"
	unset DK_MAKE_SLEEP
}

# A consumer from a package built against another provider build than the one this node
# has: caught before any insert, naming the symbol, the provider and both CRCs.
case_stale_consumer() {
	local v1=$TMP/v1 v2=$TMP/v2
	new_host stale
	cp -r "$DK_SRCDIR/tests/modules/provider" "$v1"
	cp -r "$DK_SRCDIR/tests/modules/provider" "$v2"
	sed -i 's/#define DKPROV_API 1/#define DKPROV_API 2/' "$v2/include/dkprov.h"
	cat >"$TMP/pkg.yaml" <<EOC
cache_dir: $TMP/pkgcache
kernel: $KVER
host_root: /
components:
  - name: provider
    source: { build: { src: $v1 } }
    modules: [ dkprov ]
  - name: consumer
    source: { build: { src: $DK_SRCDIR/tests/modules/consumer, uses: [ provider ] } }
    modules: [ dkcons ]
EOC
	"$DRVKIT" build --config "$TMP/pkg.yaml" --package "$FIX/www/stale-$KVER.tar.zst" >"$TMP/pkg.out" 2>&1
	is "$?" 0 "package built against provider v1"
	start_file_server "$FIX/www"
	cat >"$TMP/node.yaml" <<EOC
state_dir: $HOST/run/drvkit
ready_file: $HOST/run/ready
termination_log: $HOST/termination-log
host_root: /
kernel: $KVER
cache_dir: $TMP/cache
components:
  - name: provider
    source: { build: { src: $v2 } }
    modules: [ dkprov ]
  - name: consumer
    source:
      get: [ precompiled ]
      precompiled: { url: "$U/ok/stale-{kernel}.tar.zst" }
      build: { src: $DK_SRCDIR/tests/modules/consumer, uses: [ provider ] }
    modules: [ dkcons ]
EOC
	CFG=$TMP/node.yaml
	READY=$HOST/run/ready
	ginit
	wait "$PID"
	ok "$([ $? -ne 0 ] && echo 0 || echo 1)" "a stale consumer: init fails"
	like "$TMP/init.err" "component consumer: no modules for kernel $KVER: .*precompiled modules are stale: dkcons was built against dkprov_register_client with CRC 0x[0-9a-f]{8}, but dkprov \\(.*\\) exports it with CRC 0x[0-9a-f]{8}" \
		"the error names the symbol, the provider and both CRCs"
	is "$(shimlog insert)" "" "caught before any insert"
}

run_case case_build_then_warm
run_case case_dry_run
run_case case_precompiled
run_case case_precompiled_404
run_case case_precompiled_refused
run_case case_sigterm_build
run_case case_stale_consumer
done_testing
