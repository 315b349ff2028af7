# drvkit init with build: components (an OFED-like provider and a peer-memory-like consumer
# that uses it) from a warm cache built on the host: this guest has neither kernel headers nor
# a compiler, so nothing can be built; init finds both entries by alias, checks the consumer's
# CRCs against the provider, loads the provider first, and unloads both on SIGTERM.
. /dk/lib.sh
CFG=/dk/build/configs/build.yaml
READY=/run/drvkit-build/ready
check "no compiler in the guest" sh -c '! command -v gcc && ! command -v make'
start_init "$CFG" build
wait_ready 120
okf $? "init ready from the warm cache" "$TMP/build.out"
like "$TMP/build.out" "get: component provider: cache in [0-9]+ ms \(cache: no entry for key -.*; cache: hit [0-9a-f]{12} \(by alias\)\)|get: component provider: cache in [0-9]+ ms \(.*hit [0-9a-f]{12} \(by alias\)\)" \
	"provider: cache hit by alias (no headers here to compute the key)"
like "$TMP/build.out" "get: component consumer: cache in [0-9]+ ms \(.*hit [0-9a-f]{12} \(by alias\)\)" \
	"consumer: cache hit by alias"
unlike "$TMP/build.out" "building for" "nothing was built"
check "dkprov loaded" loaded dkprov
check "dkcons loaded" loaded dkcons
p=$(grep -n 'inserted dkprov' "$TMP/build.out" | cut -d: -f1)
c=$(grep -n 'inserted dkcons' "$TMP/build.out" | cut -d: -f1)
check "the provider was inserted before the consumer" test "${p:-999}" -lt "${c:-0}"
ms=$(sed -n 's/.*get: 2 components ready in \([0-9]*\) ms.*/\1/p' "$TMP/build.out")
diag "get phase (2 components from the cache, modules verified): ${ms:-?} ms under TCG"
diag "$(grep -E 'ready [0-9]+ ms after start' "$TMP/build.out" | sed 's/.*info: //')"
kill -TERM "$pid"
stop_wait "$pid" 30
is "$rc" 0 "SIGTERM: exit 0"
check "nothing left loaded" sh -c '! grep -qE "^(dkprov|dkcons) " /proc/modules'
all_passed || diag_file "$TMP/build.out" 40
rm -rf /run/drvkit-build
