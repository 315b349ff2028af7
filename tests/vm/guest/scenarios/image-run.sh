# The precompiled image booted as the VM's root filesystem (tests/vm/image.sh): this guest
# is the image's Debian 12 userland with drvkit, the dktest package and its config, and no
# compiler or headers. Runs the image's entrypoint + cmd (as the host read them with
# `buildah inspect`, one argument per line in /dk/image/argv): the modules come from the
# package in the image, load provider first, the ready file appears, SIGTERM unloads both.
. /dk/lib.sh
READY=/run/drvkit/ready
check "no compiler in the image" sh -c '! command -v gcc && ! command -v cc && ! ls /usr/bin/*-gcc* /usr/bin/gcc* >/dev/null 2>&1'
check "the image's OS is Debian 12" grep -q '^VERSION_ID="12"' /etc/os-release
argv=$(tr '\n' ' ' </dk/image/argv)
diag "entrypoint + cmd: $argv"
check "drvkit is the image's ($(command -v drvkit))" test "$(command -v drvkit)" = /usr/local/bin/drvkit
# shellcheck disable=SC2086 # one argument per word, as the image gives them
$argv >"$TMP/image.out" 2>&1 &
pid=$!
wait_ready 120
okf $? "ready file $READY appeared" "$TMP/image.out"
like "$TMP/image.out" "get: component provider: precompiled in [0-9]+ ms \(.*precompiled: file:///usr/share/drvkit/precompiled/$(uname -r).tar.zst \(1 modules verified\)" \
	"provider: from the package in the image, its manifest checked"
like "$TMP/image.out" "get: component consumer: precompiled in [0-9]+ ms \(.*precompiled: file:///usr/share/drvkit/precompiled/$(uname -r).tar.zst" \
	"consumer: from the package in the image"
unlike "$TMP/image.out" "building for" "nothing was built"
check "dkprov in /proc/modules" loaded dkprov
check "dkcons in /proc/modules" loaded dkcons
check "dkprov is used by dkcons" grep -qE '^dkprov [0-9]+ 1 dkcons,' /proc/modules
p=$(grep -n 'inserted dkprov' "$TMP/image.out" | cut -d: -f1)
c=$(grep -n 'inserted dkcons' "$TMP/image.out" | cut -d: -f1)
check "the provider was inserted before the consumer" test "${p:-999}" -lt "${c:-0}"
diag "$(grep -E 'ready [0-9]+ ms after start' "$TMP/image.out" | sed 's/.*info: //')"
kill -TERM "$pid"
stop_wait "$pid" 30
is "$rc" 0 "SIGTERM: exit 0"
check "ready file removed" test ! -e "$READY"
check "nothing left loaded" sh -c '! grep -qE "^(dkprov|dkcons) " /proc/modules'
all_passed || diag_file "$TMP/image.out" 40
rm -rf /run/drvkit
