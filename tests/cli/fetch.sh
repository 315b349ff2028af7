#!/bin/bash
# drvkit fetch against a real loopback HTTP(S) server with injected faults
# (tests/fetch-server.py): retries, resume, timeouts, checksums, cache, TLS, proxies.
. "$(dirname "$0")/../lib.sh"

unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY no_proxy NO_PROXY
WWW=$FIX/www # the fixture: what the servers serve
case_fixture() {
	mkdir -p "$WWW"
	head -c 3145728 /dev/urandom >"$WWW/a.bin"
	head -c 1000000 /dev/urandom >"$WWW/b.bin"
	head -c 12345 /dev/urandom >"$WWW/c.bin"
}
tcase "fixture" case_fixture
SIZE=$(stat -c %s "$WWW/a.bin")
sha() { sha256sum "$1" | cut -d' ' -f1; }
A=$(sha "$WWW/a.bin")
B=$(sha "$WWW/b.bin")
C=$(sha "$WWW/c.bin")
WRONG=$(python3 -c 'import hashlib,sys; d=open(sys.argv[1],"rb").read(); print(hashlib.sha256(bytes(b^255 for b in d)).hexdigest())' "$WWW/a.bin")

now_ms() { date +%s%3N; }
# requests LOG PATH: how many requests the server saw for PATH
requests() { grep -c "\"path\": \"$2\"" "$1" || true; }
empty_dir() { [ -z "$(ls -A "$1")" ]; }
# empty_dir_but DIR NAME...: DIR holds exactly these names
empty_dir_but() {
	local d=$1
	shift
	[ "$(ls -A "$d" | tr '\n' ' ')" = "$* " ]
}
same() { cmp -s "$1" "$2"; }
fresh() {
	D=$TMP/t$((++_n))
	mkdir -p "$D"
}
_n=0

# serve: each case's own server (its request log counts only the case's requests)
serve() {
	start_server http
	BASE=http://127.0.0.1:$http_PORT
	LOG=$TMP/http.log
}
F=("$DRVKIT" fetch --retry-delay-ms 10 --retry-max-delay-ms 3000 --connect-timeout 5 --no-progress)

# --- plain success ------------------------------------------------------------------
case_01() {
	serve
	fresh
	run "${F[@]}" "$BASE/ok/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 0 "ok: exit 0"
	t "ok: content matches" same "$WWW/a.bin" "$D/a.bin"
	is "$(sha "$D/a.bin")" "$A" "ok: digest matches"
	is "$(ls -A "$D")" "a.bin" "ok: no .part left"
	run "${F[@]}" "$BASE/ok/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 0 "up to date: exit 0"
	is "$(requests "$LOG" /ok/a.bin)" 1 "up to date: a verified DEST is not fetched again"
	run "${F[@]}" "$BASE/ok/c.bin" --sha256 "$C" -o "$D/a.bin"
	is "$rc" 0 "DEST with other content: replaced"
	t "DEST with other content: content matches" same "$WWW/c.bin" "$D/a.bin"
}
tcase "plain success, up to date, replaced" case_01

case_02() {
	serve
	fresh
	"${F[@]}" --retries 0 --low-speed-time 5 "$BASE/slow/a.bin" --sha256 "$A" -o "$D/a" 2>/dev/null &
	slow_pid=$!
	for _ in $(seq 100); do
		[ -e "$D/a.part" ] && break
		sleep 0.05
	done
	run "${F[@]}" "$BASE/ok/a.bin" --sha256 "$A" -o "$D/a"
	is "$rc" 1 "same DEST twice at once: the second fails"
	like "$TMP/err" "another download to .* is running" "same DEST twice: clear message"
	kill "$slow_pid" 2>/dev/null || true
	wait "$slow_pid" 2>/dev/null || true
}
tcase "same DEST twice at once" case_02

case_03() {
	serve
	fresh
	run "${F[@]}" "$BASE/redirect/b.bin" --sha256 "$B" -o "$D/b.bin"
	is "$rc" 0 "redirect to /ok is followed"
	t "redirect: content matches" same "$WWW/b.bin" "$D/b.bin"
}
tcase "redirect to /ok is followed" case_03

case_04() {
	serve
	fresh
	run "${F[@]}" "$BASE/nolength/b.bin" --sha256 "$B" -o "$D/b.bin"
	is "$rc" 0 "body without Content-Length"
}
tcase "body without Content-Length" case_04

# --- HTTP errors ----------------------------------------------------------------------
case_05() {
	serve
	fresh
	run "${F[@]}" "$BASE/404/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 4 "404: exit 4"
	is "$(requests "$LOG" /404/a.bin)" 1 "404: not retried"
	like "$TMP/err" "HTTP 404" "404: status in the message"
	t "404: nothing left in the directory" empty_dir "$D"
}
tcase "404" case_05

case_06() {
	serve
	fresh
	run "${F[@]}" "$BASE/403/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 5 "403: exit 5"
	is "$(requests "$LOG" /403/a.bin)" 1 "403: not retried"
}
tcase "403" case_06

case_07() {
	serve
	fresh
	run "${F[@]}" "$BASE/fail500/2/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 0 "500 twice then ok: success"
	t "500 then ok: content matches" same "$WWW/a.bin" "$D/a.bin"
	like "$TMP/err" "fail500/2/a.bin: HTTP 500 \(attempt 1/5\); retrying in [0-9]+ ms" \
		"500: warning names URL, status, attempt and delay"
	like "$TMP/err" "attempt 2/5" "500: second attempt logged"
	is "$(requests "$LOG" /fail500/2/a.bin)" 3 "500: three requests"
}
tcase "500 twice then ok" case_07

case_08() {
	serve
	fresh
	run "${F[@]}" --retries 2 "$BASE/fail500/9/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 1 "500 forever: exit 1"
	like "$TMP/err" "HTTP 500 \(attempt 3/3, giving up\)" "500 forever: gives up after 3"
	is "$(requests "$LOG" /fail500/9/a.bin)" 3 "500 forever: --retries 2 means 3 requests"
	t "500 forever: nothing left" empty_dir "$D"
}
tcase "500 forever" case_08

case_09() {
	serve
	fresh
	t0=$(now_ms)
	run "${F[@]}" "$BASE/429/a.bin" --sha256 "$A" -o "$D/a.bin"
	t1=$(now_ms)
	is "$rc" 0 "429: success after waiting"
	like "$TMP/err" "HTTP 429 \(attempt 1/5\); retrying in 1.0 s" "429: Retry-After honoured"
	t "429: waited at least 1 s ($((t1 - t0)) ms)" test $((t1 - t0)) -ge 1000
}
tcase "429" case_09

# --- resume -----------------------------------------------------------------------------
case_10() {
	serve
	fresh
	run "${F[@]}" "$BASE/cut/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 0 "cut: success"
	t "cut: content matches" same "$WWW/a.bin" "$D/a.bin"
	is "$(requests "$LOG" /cut/a.bin)" 2 "cut: two requests"
	second=$(grep '"/cut/a.bin"' "$LOG" | sed -n 2p)
	is "$second" "{\"method\": \"GET\", \"path\": \"/cut/a.bin\", \"range\": \"bytes=$((SIZE / 2))-\"}" \
		"cut: second request resumes with Range: bytes=$((SIZE / 2))-"
}
tcase "resume after a cut" case_10

case_11() {
	serve
	fresh
	run "${F[@]}" "$BASE/norange-cut/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 0 "norange-cut: success"
	t "norange-cut: content matches (restarted from zero)" same "$WWW/a.bin" "$D/a.bin"
	like "$LOG" "norange-cut/a.bin\", \"range\": \"bytes=" "norange-cut: a range was asked for"
	is "$(ls -A "$D")" "a.bin" "norange-cut: no .part left"
}
tcase "norange-cut" case_11

case_12() {
	serve
	fresh
	run "${F[@]}" --retries 0 --keep-partial "$BASE/cut/b.bin" --sha256 "$B" -o "$D/b.bin"
	is "$rc" 1 "keep-partial: cut with no retries fails"
	is "$(stat -c %s "$D/b.bin.part" 2>/dev/null)" 500000 "keep-partial: half the file kept"
	run "${F[@]}" --keep-partial "$BASE/ok/b.bin" --sha256 "$B" -o "$D/b.bin"
	is "$rc" 0 "keep-partial: later run succeeds"
	like "$LOG" "\"/ok/b.bin\", \"range\": \"bytes=500000-\"" "keep-partial: later run resumed"
	t "keep-partial: content matches" same "$WWW/b.bin" "$D/b.bin"
}
tcase "keep-partial" case_12

# --- timeouts, redirects, size ----------------------------------------------------------
case_13() {
	serve
	fresh
	t0=$(now_ms)
	run "${F[@]}" --retries 0 --low-speed-time 2 "$BASE/slow/a.bin" --sha256 "$A" -o "$D/a.bin"
	t1=$(now_ms)
	is "$rc" 1 "slow: fails"
	like "$TMP/err" "too slow|timed out" "slow: timeout message"
	t "slow: gave up within the low-speed limit ($((t1 - t0)) ms)" test $((t1 - t0)) -lt 10000
	t "slow: nothing left" empty_dir "$D"
}
tcase "slow" case_13

case_14() {
	serve
	fresh
	run "${F[@]}" --max-redirs 5 "$BASE/loop" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 1 "redirect loop: fails"
	like "$TMP/err" "/loop: Maximum \(5\) redirects followed" "redirect loop: clear error"
	is "$(requests "$LOG" /loop)" 6 "redirect loop: stopped after 5 redirects"
}
tcase "redirect loop" case_14

case_15() {
	serve
	fresh
	run "${F[@]}" "$BASE/redirect-ftp/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 1 "redirect to ftp:// refused"
	like "$TMP/err" "[Pp]rotocol.*ftp" "redirect to ftp://: protocol named"
}
tcase "redirect to ftp" case_15

case_16() {
	serve
	fresh
	run "${F[@]}" --max-size 1M "$BASE/nolength/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 3 "max-size without Content-Length: fails with 3 (too large: bad input)"
	like "$TMP/err" "larger than the maximum size of 1048576 bytes" "max-size: message"
	t "max-size: nothing left" empty_dir "$D"
	run "${F[@]}" --max-size 1M "$BASE/ok/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 3 "max-size with Content-Length: fails with 3"
	t "max-size with Content-Length: nothing left" empty_dir "$D"
}
tcase "max-size without Content-Length" case_16

# --- checksums --------------------------------------------------------------------------
case_17() {
	serve
	fresh
	run "${F[@]}" "$BASE/wrong/a.bin" --sha256 "$A" -o "$D/a.bin"
	is "$rc" 3 "wrong bytes: exit 3"
	like "$TMP/err" "checksum mismatch: expected sha256 $A, got $WRONG" "wrong: both digests named"
	t "wrong: nothing at the final name" empty_dir "$D"

	run "${F[@]}" "$BASE/ok/a.bin" --sha256 nothex -o "$D/a.bin"
	is "$rc" 2 "invalid --sha256: usage error"
	run "${F[@]}" "$BASE/ok/a.bin" -o "$D/a.bin"
	is "$rc" 2 "missing --sha256: usage error"
	run "$DRVKIT" fetch --help
	is "$rc" 0 "--help"
	like "$TMP/out" "--retry-delay-ms" "--help documents the options"
}
tcase "checksums and usage" case_17

# --- local sources ----------------------------------------------------------------------
case_18() {
	serve
	fresh
	run "${F[@]}" "file://$WWW/c.bin" --sha256 "$C" -o "$D/c1"
	is "$rc" 0 "file:// source"
	t "file://: content matches" same "$WWW/c.bin" "$D/c1"
	run "${F[@]}" "$WWW/c.bin" --sha256 "$C" -o "$D/c2"
	is "$rc" 0 "plain path source"
	t "plain path: content matches" same "$WWW/c.bin" "$D/c2"
	run "${F[@]}" "$WWW/c.bin" --sha256 "$A" -o "$D/c3"
	is "$rc" 3 "plain path: still checksummed"
	run "${F[@]}" "file://$WWW/missing" --sha256 "$C" -o "$D/c4"
	is "$rc" 4 "file:// missing: exit 4"
	t "local failures leave nothing" empty_dir_but "$D" c1 c2
}
tcase "local sources" case_18

# --- several at once --------------------------------------------------------------------
case_19() {
	serve
	fresh
	run "${F[@]}" --url "$BASE/ok/a.bin" --sha256 "$A" -o "$D/a" \
		--url "$BASE/cut/b.bin" --sha256 "$B" -o "$D/b" \
		--url "$BASE/fail500/1/c.bin" --sha256 "$C" -o "$D/c" \
		--url "$WWW/c.bin" --sha256 "$C" -o "$D/c-local"
	is "$rc" 0 "four downloads at once"
	all_match() { same "$WWW/a.bin" "$D/a" && same "$WWW/b.bin" "$D/b" && same "$WWW/c.bin" "$D/c" &&
		same "$WWW/c.bin" "$D/c-local"; }
	t "four downloads: all contents match" all_match
}
tcase "four downloads at once" case_19
case_20() {
	serve
	fresh
	run "${F[@]}" --url "$BASE/ok/c.bin" --sha256 "$C" -o "$D/c" \
		--url "$BASE/404/b.bin" --sha256 "$B" -o "$D/b" \
		--url "$BASE/wrong/a.bin" --sha256 "$A" -o "$D/a"
	is "$rc" 4 "mixed results: exit code of the first failure"
	like "$TMP/err" "2 of 3 downloads failed" "mixed results: summary"
	is "$(ls -A "$D")" "c" "mixed results: only the good file is there"
}
tcase "mixed results" case_20

case_21() {
	serve
	# --- streaming to stdout ---------------------------------------------------------------
	run "${F[@]}" "$BASE/cut/c.bin" --sha256 "$C" -o -
	is "$rc" 0 "stream: cut and resumed"
	t "stream: stdout has each byte once" same "$WWW/c.bin" "$TMP/out"
	run "${F[@]}" "$BASE/norange-cut/c.bin" --sha256 "$C" -o -
	is "$rc" 0 "stream: server ignoring Range"
	t "stream: already-sent prefix skipped, not repeated" same "$WWW/c.bin" "$TMP/out"
	run "${F[@]}" "$BASE/wrong/c.bin" --sha256 "$C" -o -
	is "$rc" 3 "stream: mismatch reported after the bytes (consumer discards)"
}
tcase "streaming to stdout" case_21

# --- credentials are not logged ---------------------------------------------------------
case_22() {
	serve
	fresh
	run "${F[@]}" "http://user:s3cret@127.0.0.1:$http_PORT/404/a.bin" --sha256 "$A" -o "$D/a"
	is "$rc" 4 "URL with credentials: 404"
	unlike "$TMP/err" "s3cret" "URL with credentials: password not printed"
	like "$TMP/err" "http://127.0.0.1:$http_PORT/404/a.bin" "URL with credentials: URL shown without them"
}
tcase "URL with credentials" case_22

# --- cache ------------------------------------------------------------------------------
case_23() {
	serve
	fresh
	CACHE=$TMP/cache
	run "${F[@]}" --cache-dir "$CACHE" "$BASE/ok/b.bin" --sha256 "$B" -o "$D/b1"
	is "$rc" 0 "cache: first fetch"
	is "$(sha "$CACHE/sha256/$B")" "$B" "cache: entry stored under its digest"
	stop_server "$http_PID"
	run "${F[@]}" --retries 0 "$BASE/ok/b.bin" --sha256 "$B" -o "$D/nocache"
	is "$rc" 1 "server stopped: fetch without cache fails"
	run "${F[@]}" --cache-dir "$CACHE" "$BASE/ok/b.bin" --sha256 "$B" -o "$D/b2"
	is "$rc" 0 "cache: hit with the server stopped"
	t "cache: content matches" same "$WWW/b.bin" "$D/b2"
	# Replace (not modify in place: b1/b2 may be hard links to it) with damaged bytes.
	head -c 1000000 /dev/zero >"$TMP/zero" && mv "$TMP/zero" "$CACHE/sha256/$B"
	start_server http
	BASE=http://127.0.0.1:$http_PORT
	run "${F[@]}" --cache-dir "$CACHE" "$BASE/ok/b.bin" --sha256 "$B" -o "$D/b3"
	is "$rc" 0 "cache: corrupt entry refetched"
	like "$TMP/err" "cache entry .* is corrupt" "cache: corruption reported"
	is "$(requests "$LOG" /ok/b.bin)" 1 "cache: corrupt entry caused a download"
	t "cache: refetched content matches" same "$WWW/b.bin" "$D/b3"
	is "$(sha "$CACHE/sha256/$B")" "$B" "cache: entry repaired"
	run "${F[@]}" --cache-dir "$CACHE" "$BASE/ok/b.bin" --sha256 "$B" -o -
	is "$rc" 0 "cache: stream from a hit"
	t "cache: streamed content matches" same "$WWW/b.bin" "$TMP/out"
}
tcase "the cache" case_23

# --- proxies ---------------------------------------------------------------------------
case_24() {
	serve
	CLOSED=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	fresh
	run env http_proxy="http://127.0.0.1:$CLOSED" "${F[@]}" --retries 0 "$BASE/ok/c.bin" \
		--sha256 "$C" -o "$D/c"
	is "$rc" 1 "http_proxy to a closed port: fails (proxy honoured)"
	like "$TMP/err" "$CLOSED" "proxy failure names the proxy port"
	run env http_proxy="http://127.0.0.1:$CLOSED" NO_PROXY=127.0.0.1 "${F[@]}" --retries 0 \
		"$BASE/ok/c.bin" --sha256 "$C" -o "$D/c"
	is "$rc" 0 "NO_PROXY=127.0.0.1 bypasses the proxy"
}
tcase "proxies" case_24

# --- HTTPS ------------------------------------------------------------------------------
case_25() {
	P=$TMP/pki
	mkdir -p "$P"
	if openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
		-subj "/CN=drvkit test CA" -keyout "$P/ca.key" -out "$P/ca.pem" 2>"$P/log" &&
		openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
			-subj "/CN=127.0.0.1" -keyout "$P/srv.key" -out "$P/srv.csr" 2>>"$P/log" &&
		printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\n' >"$P/ext" &&
		openssl x509 -req -in "$P/srv.csr" -CA "$P/ca.pem" -CAkey "$P/ca.key" \
			-CAcreateserial -days 2 -extfile "$P/ext" -out "$P/srv.pem" 2>>"$P/log"; then
		start_server https --tls-cert "$P/srv.pem" --tls-key "$P/srv.key"
		SBASE=https://127.0.0.1:$https_PORT
		fresh
		run "${F[@]}" --ca-bundle "$P/ca.pem" "$SBASE/ok/b.bin" --sha256 "$B" -o "$D/b"
		is "$rc" 0 "https with --ca-bundle: success"
		t "https: content matches" same "$WWW/b.bin" "$D/b"
		run "${F[@]}" "$SBASE/ok/b.bin" --sha256 "$B" -o "$D/b2"
		is "$rc" 1 "https without the CA: fails"
		like "$TMP/err" "[Cc]ertificate" "https without the CA: certificate verification error"
		is "$(requests "$TMP/https.log" /ok/b.bin)" 1 "https without the CA: no request sent"
		t "https without the CA: nothing left" test ! -e "$D/b2"
	else
		sed 's/^/# /' "$P/log"
		ok 1 "could not make a test CA with openssl"
	fi
}
tcase "HTTPS" case_25

done_testing
