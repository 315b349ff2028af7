#!/bin/bash
# I/O faults (issue 12, "Faults"): a full filesystem (a 64 KiB tmpfs) under fetch, extract
# and init's state dir; read-only and permission-denied state and cache dirs; a server that
# dies mid-download. Each: a clear error naming the path or URL, the exit code, and nothing
# lost (the previous good file untouched, no .part or staging dir left).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

[ "$(id -u)" = 0 ] || skip_all "needs root to mount a small tmpfs"
probe=$(mktemp -d /tmp/dk-mount.XXXXXX)
if ! mount -t tmpfs -o size=64k tmpfs "$probe" 2>/dev/null; then
	rmdir "$probe"
	skip_all "mount -t tmpfs is not permitted here (a container without CAP_SYS_ADMIN)"
fi
umount "$probe" && rmdir "$probe"

sha() { sha256sum "$1" | cut -d' ' -f1; }
small_fs() { # small_fs DIR [ro]: a 64 KiB tmpfs on DIR, unmounted when the case ends
	mkdir -p "$1"
	mount -t tmpfs -o "size=64k${2:+,$2}" tmpfs "$1"
	atexit "umount -l '$1'"
}
F=("$DRVKIT" fetch --no-progress --retry-delay-ms 10 --retry-max-delay-ms 100 --connect-timeout 5)

fixture() {
	mkdir -p "$FIX/www"
	head -c 300000 /dev/urandom >"$FIX/www/big.bin"
	head -c 5000 /dev/urandom >"$FIX/www/small.bin"
	(cd "$FIX/www" && tar czf ../big.tgz big.bin small.bin)
}
tcase fixture fixture
WWW=$FIX/www
BIG=$(sha "$WWW/big.bin")
SMALL=$(sha "$WWW/small.bin")

case_fetch_enospc() {
	start_server http
	small_fs "$TMP/full"
	cp "$WWW/small.bin" "$TMP/full/big.bin" # the previous good file
	run "${F[@]}" "http://127.0.0.1:$http_PORT/ok/big.bin" --sha256 "$BIG" -o "$TMP/full/big.bin"
	is "$rc" 1 "fetch, disk full: exit 1"
	like "$TMP/err" "^drvkit fetch: http://127.0.0.1:$http_PORT/ok/big.bin: write $TMP/full/big.bin.part: No space left on device" \
		"fetch, disk full: names the URL, the .part file and ENOSPC"
	t "fetch, disk full: the previous file is untouched" cmp -s "$WWW/small.bin" "$TMP/full/big.bin"
	is "$(ls -A "$TMP/full" | xargs)" "big.bin" "fetch, disk full: no .part left"
}

case_extract_enospc() {
	small_fs "$TMP/full"
	mkdir "$TMP/full/tree"
	echo keep >"$TMP/full/tree/old"
	run "$DRVKIT" extract "$FIX/big.tgz" -C "$TMP/full/tree"
	is "$rc" 1 "extract, disk full: exit 1"
	like "$TMP/err" "big.tgz: big.bin: write into $TMP/full/tree: No space left on device" \
		"extract, disk full: names the archive, the entry and ENOSPC"
	like "$TMP/err" "$TMP/full/tree" "extract, disk full: names the directory it was writing to"
	is "$(ls -A "$TMP/full/tree" | xargs)" "old" "extract, disk full: no staging dir left, old content kept"
}

case_init_enospc() {
	new_host enospc
	config enospc
	small_fs "$STATE"
	head -c 60k /dev/zero >"$STATE/fill" 2>/dev/null || true
	run dk init --config "$CFG"
	is "$rc" 1 "init, state dir full: exit 1"
	like "$TMP/err" "^drvkit init: state: write state file $STATE/state.json: No space left on device: check that state_dir is a writable mount with free space" \
		"init, state dir full: names state.json and what to check"
	# the state is written before each insert: it fails before the first one
	is "$(shimlog 'insert')" "" "init, state dir full: nothing inserted (the state goes to disk before the insert)"
	like "$TMP/err" "^nothing to roll back" "init, state dir full: says there was nothing to roll back"
	is "$(ls "$HOST/sys/module" | xargs)" "" "init, state dir full: nothing left loaded"
	is "$(ls -A "$STATE" | xargs)" "fill lock" "init, state dir full: no state file, no temporary file"
	ok $([ ! -e "$READY" ] && echo 0 || echo 1) "init, state dir full: no ready file"
}

case_init_erofs() {
	new_host erofs
	config erofs
	small_fs "$STATE" ro
	run dk init --config "$CFG"
	is "$rc" 1 "init, read-only state dir: exit 1"
	like "$TMP/err" "^drvkit init: lock: open $STATE/lock: Read-only file system: state_dir must be a writable directory" \
		"init, read-only state dir: names the lock file and what state_dir must be"
	is "$(shimlog 'insert|delete')" "" "init, read-only state dir: nothing loaded"
}

case_init_eacces() {
	new_host eacces
	config eacces
	mkdir -p "$STATE"
	chmod 755 "$DK_TMP_ROOT" "$TMP" "$HOST" "$HOST/run" "$STATE"
	chmod 644 "$CFG"
	run setpriv --reuid 65534 --regid 65534 --clear-groups env DK_SHIM_SYSFS="$HOST/sys" \
		LD_PRELOAD="$SHIM_PRELOAD" "$DRVKIT" init --config "$CFG"
	is "$rc" 5 "init, state dir not writable: exit 5 (permission denied)"
	like "$TMP/err" "^drvkit init: lock: open $STATE/lock: Permission denied: state_dir must be a writable directory" \
		"init, state dir not writable: names the lock file"
	unlike "$TMP/err" "lockdown" "init, state dir not writable: no hint about lockdown and signed modules"
	is "$(ls "$HOST/sys/module" | xargs)" "" "init, state dir not writable: nothing loaded"
}

case_fetch_erofs_out() {
	start_server http
	small_fs "$TMP/ro" ro
	run "${F[@]}" "http://127.0.0.1:$http_PORT/ok/small.bin" --sha256 "$SMALL" -o "$TMP/ro/s.bin"
	is "$rc" 1 "fetch, read-only output dir: exit 1"
	like "$TMP/err" "^drvkit fetch: create $TMP/ro/s.bin.part: Read-only file system" \
		"fetch, read-only output dir: names the file"
}

case_fetch_cache_erofs() {
	start_server http
	small_fs "$TMP/cache" ro
	run "${F[@]}" "http://127.0.0.1:$http_PORT/ok/small.bin" --sha256 "$SMALL" -o "$TMP/s.bin" \
		--cache-dir "$TMP/cache"
	is "$rc" 0 "fetch, read-only cache: the download still succeeds"
	like "$TMP/err" "warn: cache $TMP/cache/.*Read-only file system" "fetch, read-only cache: warns, naming it"
	t "fetch, read-only cache: the file is whole" cmp -s "$WWW/small.bin" "$TMP/s.bin"
}

case_fetch_cache_eacces() {
	start_server http
	mkdir -p "$TMP/cache" "$TMP/dl"
	chmod 755 "$DK_TMP_ROOT" "$TMP" "$TMP/cache"
	chown 65534 "$TMP/dl"
	run setpriv --reuid 65534 --regid 65534 --clear-groups "${F[@]}" \
		"http://127.0.0.1:$http_PORT/ok/small.bin" --sha256 "$SMALL" -o "$TMP/dl/s.bin" \
		--cache-dir "$TMP/cache"
	is "$rc" 0 "fetch, cache not writable: the download still succeeds"
	like "$TMP/err" "warn: cache $TMP/cache.*Permission denied" "fetch, cache not writable: warns, naming it"
	t "fetch, cache not writable: the file is whole" cmp -s "$WWW/small.bin" "$TMP/dl/s.bin"
}

case_server_dies() {
	start_server http
	cp "$WWW/small.bin" "$TMP/big.bin"
	"${F[@]}" --retries 1 "http://127.0.0.1:$http_PORT/slow/big.bin" --sha256 "$BIG" \
		-o "$TMP/big.bin" >"$TMP/out" 2>"$TMP/err" &
	local fp=$!
	for _ in $(seq 100); do # until the transfer has started
		grep -q slow/big.bin "$TMP/http.log" 2>/dev/null && break
		sleep 0.1
	done
	sleep 1
	stop_server "$http_PID"
	wait "$fp"
	rc=$?
	is "$rc" 1 "fetch, server dies mid-download: exit 1"
	like "$TMP/err" "^drvkit fetch: http://127.0.0.1:$http_PORT/slow/big.bin: .*giving up" \
		"fetch, server dies mid-download: names the URL and gives up"
	like "$TMP/err" "transfer closed with [0-9]+ bytes remaining" "fetch, server dies mid-download: says the transfer was cut"
	t "fetch, server dies mid-download: the previous file is untouched" cmp -s "$WWW/small.bin" "$TMP/big.bin"
	ok $([ ! -e "$TMP/big.bin.part" ] && echo 0 || echo 1) "fetch, server dies mid-download: no .part left"
}

run_case case_fetch_enospc
run_case case_extract_enospc
run_case case_init_enospc
run_case case_init_erofs
run_case case_init_eacces
run_case case_fetch_erofs_out
run_case case_fetch_cache_erofs
run_case case_fetch_cache_eacces
run_case case_server_dies

done_testing
