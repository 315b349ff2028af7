#!/bin/bash
# Hostile files (issue 12): planted symlinks, FIFOs, devices, archives of zeros, corrupt
# archives, and SIGTERM in the middle of a download or an extraction. Each refusal
# must exit with the documented code, name the path, leave a planted target untouched,
# and nothing may hang (every command runs under a timeout: 124 means it hung).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/kmod-lib.sh"
. "$(dirname "$0")/init-lib.sh"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
TO=(timeout -s KILL 20)
sha() { sha256sum "$1" | cut -d' ' -f1; }
F=("${TO[@]}" "$DRVKIT" fetch --retry-delay-ms 10 --connect-timeout 5 --no-progress)

# --- fetch: OUT.part --------------------------------------------------------------
case_part_symlink() {
	echo secret >"$TMP/victim"
	head -c 1000 /dev/urandom >"$TMP/src.bin"
	mkdir "$TMP/dl"
	ln -s "$TMP/victim" "$TMP/dl/a.bin.part"
	run "${F[@]}" "$TMP/src.bin" --sha256 "$(sha "$TMP/src.bin")" -o "$TMP/dl/a.bin"
	is "$rc" 1 "fetch, planted OUT.part symlink: exit 1"
	like "$TMP/err" "dl/a.bin.part is a symlink: refusing to write the download through it" \
		"fetch, planted OUT.part symlink: the error names the path"
	is "$(cat "$TMP/victim")" secret "fetch, planted OUT.part symlink: the target is untouched"
	t "fetch, planted OUT.part symlink: OUT not created" test ! -e "$TMP/dl/a.bin"
	run "${F[@]}" "$TMP/src.bin" --sha256 "$(sha /dev/null)" -o "$TMP/dl/a.bin"
	is "$(cat "$TMP/victim")" secret "fetch, planted symlink, checksum mismatch: target untouched"
}
case_part_fifo() {
	head -c 1000 /dev/urandom >"$TMP/src.bin"
	mkdir "$TMP/dl"
	mkfifo "$TMP/dl/a.bin.part"
	run "${F[@]}" "$TMP/src.bin" --sha256 "$(sha "$TMP/src.bin")" -o "$TMP/dl/a.bin"
	is "$rc" 3 "fetch, FIFO as OUT.part: exit 3"
	like "$TMP/err" "a.bin.part is a FIFO, not a regular file" "fetch, FIFO as OUT.part: named"
}
case_fetch_fifo_source() {
	mkfifo "$TMP/fifo"
	run "${F[@]}" "$TMP/fifo" --sha256 "$(sha /dev/null)" -o "$TMP/a.bin"
	is "$rc" 3 "fetch, FIFO as the source: exit 3, no hang"
	like "$TMP/err" "fifo: is a FIFO, not a regular file" "fetch, FIFO as the source: named"
	mkfifo "$TMP/a.bin"
	head -c 10 /dev/urandom >"$TMP/src.bin"
	run "${F[@]}" "$TMP/src.bin" --sha256 "$(sha "$TMP/src.bin")" -o "$TMP/a.bin"
	isnt_hang=$([ "$rc" != 124 ] && [ "$rc" != 137 ] && echo 0 || echo 1)
	ok "$isnt_hang" "fetch, FIFO as OUT: no hang (exit $rc)"
}
case_fetch_sigterm() {
	local WWW=$TMP/www pid sig st
	mkdir -p "$WWW" "$TMP/dl"
	head -c 300 /dev/urandom >"$WWW/s.bin"
	start_server http
	for sig in TERM INT; do
		rm -f "$TMP/dl/"*
		"${F[@]}" "http://127.0.0.1:$http_PORT/slow/s.bin" --sha256 "$(sha "$WWW/s.bin")" \
			-o "$TMP/dl/s.bin" 2>"$TMP/err-$sig" &
		pid=$!
		for _ in $(seq 100); do [ -e "$TMP/dl/s.bin.part" ] && break; sleep 0.05; done
		sleep 1.5
		kill -$sig $pid
		st=0
		wait $pid || st=$?
		is "$st" 1 "fetch, SIG$sig mid-download: exit 1"
		like "$TMP/err-$sig" "stopped by SIG$sig" "fetch, SIG$sig: says so"
		is "$(ls -A "$TMP/dl")" "" "fetch, SIG$sig: no OUT.part left"
	done
	"${F[@]}" --keep-partial "http://127.0.0.1:$http_PORT/slow/s.bin" --sha256 "$(sha "$WWW/s.bin")" \
		-o "$TMP/dl/s.bin" 2>/dev/null &
	pid=$!
	sleep 2.5
	kill -TERM $pid
	wait $pid || true
	t "fetch --keep-partial, SIGTERM: OUT.part kept" test -s "$TMP/dl/s.bin.part"
}

# --- extract -------------------------------------------------------------------------
X=("${TO[@]}" "$DRVKIT" extract)
case_extract_inputs() {
	mkfifo "$TMP/fifo"
	run "${X[@]}" "$TMP/fifo" -C "$TMP/o1"
	is "$rc" 3 "extract FIFO: exit 3, no hang"
	like "$TMP/err" "fifo: is a FIFO, not a regular file" "extract FIFO: named, type said"
	run "${X[@]}" /dev/zero -C "$TMP/o2"
	is "$rc" 3 "extract /dev/zero: exit 3"
	like "$TMP/err" "/dev/zero: is a character device, not a regular file" "extract /dev/zero: type said"
	head -c 10240 /dev/zero >"$TMP/zeros.tar"
	run "${X[@]}" "$TMP/zeros.tar" -C "$TMP/o3"
	is "$rc" 3 "extract a file of zeros: exit 3"
	like "$TMP/err" "zeros.tar: no entries: not an archive, or an empty one" "extract zeros: named, said"
	: >"$TMP/empty.tar"
	run "${X[@]}" "$TMP/empty.tar" -C "$TMP/o4"
	is "$rc" 3 "extract an empty file: exit 3"
	like "$TMP/err" "empty.tar: empty file, not an archive" "extract empty file: said"
	head -c 10240 /dev/zero | run "${X[@]}" - -C "$TMP/o5"
	is "$rc" 3 "extract zeros from stdin: exit 3"
}
case_extract_corrupt() {
	mkdir "$TMP/src"
	for i in $(seq 50); do head -c 20000 /dev/urandom >"$TMP/src/f$i"; done
	tar -C "$TMP" -czf "$TMP/t.tar.gz" src
	python3 - "$TMP/t.tar.gz" "$TMP/c.tar.gz" <<'PY'
import sys
d = bytearray(open(sys.argv[1], "rb").read())
for i in range(len(d) // 2, len(d) // 2 + 200):
    d[i] ^= 0x55
open(sys.argv[2], "wb").write(d)
PY
	run "${X[@]}" "$TMP/c.tar.gz" -C "$TMP/o"
	is "$rc" 3 "extract a corrupt .tar.gz: exit 3"
	unlike "$TMP/err" "unnamed entry" "corrupt .tar.gz: no '(unnamed entry): empty path'"
	like "$TMP/err" "c.tar.gz: .*(damaged|truncated|corrupt|Damaged|Truncated)" "corrupt .tar.gz: says damaged"
	t "corrupt .tar.gz: nothing left in DIR" test -z "$(ls -A "$TMP/o" 2>/dev/null)"
}
case_extract_long_symlink() {
	python3 - "$TMP/l.tar" <<'PY'
import sys, tarfile
with tarfile.open(sys.argv[1], "w", format=tarfile.PAX_FORMAT) as t:
    i = tarfile.TarInfo("link"); i.type = tarfile.SYMTYPE; i.linkname = "a/" * 2100
    t.addfile(i)
PY
	run "${X[@]}" "$TMP/l.tar" -C "$TMP/o"
	is "$rc" 3 "extract, symlink target over PATH_MAX: exit 3"
	like "$TMP/err" "link: symlink target of 4200 bytes, longer than PATH_MAX" "long symlink target: said"
}
case_extract_file_url() {
	mkdir "$TMP/src" && echo hi >"$TMP/src/a"
	tar -C "$TMP/src" -czf "$TMP/t.tar.gz" .
	run "${X[@]}" "file://$TMP/t.tar.gz" -C "$TMP/o"
	is "$rc" 0 "extract file:// without --sha256: exit 0 (the help says it is for http(s))"
	is "$(cat "$TMP/o/a" 2>/dev/null)" hi "extract file://: extracted"
}
case_extract_sigterm() {
	mkdir "$TMP/src"
	for i in $(seq 400); do head -c 100000 /dev/urandom >"$TMP/src/f$i"; done
	tar -C "$TMP/src" -cf "$TMP/big.tar" .
	mkdir "$TMP/o"
	# through a pipe that stalls half way, so the signal lands mid-extraction
	mkfifo "$TMP/pipe"
	(head -c 20000000 "$TMP/big.tar" && exec sleep 30) >"$TMP/pipe" &
	local w=$! pid st
	atexit "kill $w 2>/dev/null"
	"${X[@]}" - -C "$TMP/o" <"$TMP/pipe" 2>"$TMP/err" &
	pid=$!
	for _ in $(seq 200); do [ -n "$(ls -A "$TMP/o")" ] && break; sleep 0.05; done
	sleep 1
	kill -TERM $pid
	st=0
	wait $pid || st=$?
	is "$st" 1 "extract, SIGTERM mid-extraction: exit 1"
	like "$TMP/err" "stopped by SIGTERM" "extract, SIGTERM: says so"
	is "$(ls -A "$TMP/o")" "" "extract, SIGTERM: no .drvkit-extract-* left"
}

# --- init: the lock, the termination log ---------------------------------------------
case_init_lock_symlink() {
	new_host lock
	config lock
	echo secret >"$TMP/victim"
	mkdir -p "$STATE"
	ln -s "$TMP/victim" "$STATE/lock"
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD run "${TO[@]}" "$DRVKIT" init --config "$CFG"
	is "$rc" 1 "init, planted lock symlink: exit 1"
	like "$TMP/err" "run/drvkit/lock is a symlink: refusing to follow it" "init, lock symlink: named"
	is "$(cat "$TMP/victim")" secret "init, lock symlink: target untouched (not truncated)"
	is "$(shimlog insert)" "" "init, lock symlink: nothing loaded"
}
case_init_termlog() {
	new_host tl
	config tl "" "  - name: missing
    source: { dir: $TMP/nowhere }
    modules: [ { name: nothing } ]"
	echo secret >"$TMP/victim"
	ln -s "$TMP/victim" "$TERMLOG"
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD run "${TO[@]}" "$DRVKIT" init --config "$CFG"
	ok $([ "$rc" != 0 ] && [ "$rc" != 137 ] && echo 0 || echo 1) "init fails (exit $rc), no hang"
	like "$TMP/err" "termination-log is a symlink: refusing to follow it" "termination log symlink: named"
	is "$(cat "$TMP/victim")" secret "termination log symlink: target untouched"
	rm -f "$TERMLOG"
	mkfifo "$TERMLOG"
	DK_SHIM_SYSFS=$HOST/sys DK_SHIM_LOG=$SHIMLOG LD_PRELOAD=$SHIM_PRELOAD run "${TO[@]}" "$DRVKIT" init --config "$CFG"
	ok $([ "$rc" != 0 ] && [ "$rc" != 137 ] && echo 0 || echo 1) "init, FIFO termination log: fails (exit $rc), no hang"
	like "$TMP/err" "termination-log: a FIFO, not a regular file" "FIFO termination log: named"
}
case_modinfo_fifo() {
	mkfifo "$TMP/m.ko"
	run "${TO[@]}" "$DRVKIT" modinfo "$TMP/m.ko"
	is "$rc" 3 "modinfo FIFO: exit 3, no hang"
	like "$TMP/err" "m.ko: is a FIFO, not a module file" "modinfo FIFO: named"
	run "${TO[@]}" "$DRVKIT" modinfo /dev/zero
	is "$rc" 3 "modinfo /dev/zero: exit 3 without reading it"
	like "$TMP/err" "/dev/zero: is a character device" "modinfo /dev/zero: type said"
}

tcase "fetch: planted OUT.part symlink" case_part_symlink
tcase "fetch: FIFO as OUT.part" case_part_fifo
tcase "fetch: FIFO source and OUT" case_fetch_fifo_source
tcase "fetch: SIGTERM/SIGINT mid-download" case_fetch_sigterm
tcase "extract: FIFO, /dev/zero, zeros, empty" case_extract_inputs
tcase "extract: corrupt .tar.gz" case_extract_corrupt
tcase "extract: long symlink target" case_extract_long_symlink
tcase "extract: file:// without --sha256" case_extract_file_url
tcase "extract: SIGTERM mid-extraction" case_extract_sigterm
tcase "init: planted lock symlink" case_init_lock_symlink
tcase "init: termination log symlink and FIFO" case_init_termlog
tcase "modinfo: FIFO and /dev/zero" case_modinfo_fifo
done_testing
