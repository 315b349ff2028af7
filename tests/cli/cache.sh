#!/bin/bash
# drvkit cache list | verify | prune: fake build cache entries (module files and the
# manifest.json drvkit build writes), their order by last use, damaged entries, pruning by
# size, and the errors for a missing, unreadable or wrong cache directory.
. "$(dirname "$0")/../lib.sh"

dk() { "$DRVKIT" "$@"; }

# mk_entry CACHE KEYCHAR COMPONENT VERSION FLAVOR KERNEL LAST_USED FILE:KIB...: an entry
# builds/<KEYCHAR x64>/ with FILE.ko of KIB KiB each and its manifest, last used at
# LAST_USED (seconds since the epoch); FLAVOR or VERSION "-" is none.
mk_entry() {
	local cache=$1 key dir
	key=$(printf "%064d" 0 | tr 0 "$2")
	dir=$cache/builds/$key
	mkdir -p "$dir"
	python3 - "$dir" "$key" "$3" "$4" "$5" "$6" "${@:8}" <<'EOF'
import hashlib, json, os, sys
d, key, comp, ver, flavor, kernel = sys.argv[1:7]
mods = []
for spec in sys.argv[7:]:
    name, kib = spec.split(":")
    data = (name.encode() * 1024)[:1024] * int(kib)
    with open(os.path.join(d, name + ".ko"), "wb") as f:
        f.write(data)
    mods.append({"name": name, "file": name + ".ko", "size": len(data),
                 "sha256": hashlib.sha256(data).hexdigest(), "srcversion": None})
m = {"drvkit_manifest": 1, "component": comp, "version": None if ver == "-" else ver,
     "flavor": None if flavor == "-" else flavor, "kernel": kernel, "arch": "x86_64",
     "key": key, "alias": None, "source_url": None, "source_sha256": "ab" * 32,
     "patches": [], "spec_sha256": "cd" * 32, "compiler": "gcc-12 12.2.0",
     "kernel_config_sha256": None, "kernel_symvers_sha256": None, "uses": [],
     "symvers_sha256": None, "signer": None, "modules": mods}
with open(os.path.join(d, "manifest.json"), "w") as f:
    json.dump(m, f, indent=2)
EOF
	touch -d "@$7" "$dir/manifest.json"
}
key() { printf "%064d" 0 | tr 0 "$1"; }

# Three entries: nvidia (newest), ofed, peermem (oldest).
T0=1700000000
mk_three() {
	mk_entry "$1" a nvidia 535.261.03 open 6.1.0-37-amd64 $((T0 + 200)) nvidia:300 nvidia-uvm:40
	mk_entry "$1" b ofed 24.10 - 6.1.0-37-amd64 $((T0 + 100)) mlx5_core:200
	mk_entry "$1" c peermem - - 6.1.0-37-amd64 "$T0" nvidia-peermem:100
}

case_usage() {
	run dk cache --help
	is "$rc" 0 "--help: exit 0"
	like "$TMP/out" "Exit codes: 0 ok, 1 failure or \(verify\) a damaged entry, 2 usage" \
		"--help documents the exit codes"
	like "$TMP/out" "prune --max-size SIZE" "--help shows the subcommands"
	run dk cache
	is "$rc" 2 "no subcommand: exit 2"
	like "$TMP/err" "no subcommand given \(list, verify or prune\)" "no subcommand: says which exist"
	run dk cache frob --cache-dir "$TMP"
	is "$rc" 2 "unknown subcommand: exit 2"
	like "$TMP/err" "unknown subcommand 'frob' \(list, verify or prune\)" "unknown subcommand: named"
	like "$TMP/err" "Try 'drvkit cache --help'" "unknown subcommand: points at --help"
	run dk cache prune --cache-dir "$TMP"
	is "$rc" 2 "prune without --max-size: exit 2"
	like "$TMP/err" "prune needs --max-size SIZE" "prune without --max-size: says so"
	run dk cache prune --max-size 12X --cache-dir "$TMP"
	is "$rc" 2 "--max-size 12X: exit 2"
	like "$TMP/err" "invalid size '12X'" "--max-size 12X: named"
	run dk cache list --max-size 1M --cache-dir "$TMP"
	is "$rc" 2 "list --max-size: exit 2"
	run dk cache list --remove --cache-dir "$TMP"
	is "$rc" 2 "list --remove: exit 2"
	run dk cache list extra --cache-dir "$TMP"
	is "$rc" 2 "an extra operand: exit 2"
}
tcase "usage" case_usage

case_errors() {
	run dk cache list --cache-dir "$TMP/nope"
	is "$rc" 4 "missing cache directory: exit 4"
	like "$TMP/err" "cache directory $TMP/nope: No such file or directory" "the path is named"
	like "$TMP/err" "^hint: .*--cache-dir" "a hint names --cache-dir"
	touch "$TMP/file"
	run dk cache verify --cache-dir "$TMP/file"
	is "$rc" 4 "cache directory is a file: exit 4"
	like "$TMP/err" "cache directory $TMP/file: Not a directory" "not a directory: named"
	mkdir -p "$TMP/locked/builds" "$TMP/inner"
	mk_three "$TMP/inner"
	chmod 0700 "$TMP/locked" "$TMP/inner/builds"
	if [ "$(id -u)" = 0 ]; then
		if ! setpriv --reuid=65534 --regid=65534 --clear-groups true 2>/dev/null; then
			skip "permission cases: no setpriv"
			return 0
		fi
		# nobody may pass through the scratch dirs, and read nothing in them
		chmod o+x "$DK_TMP_ROOT" "$TMP"
		asuser=(setpriv --reuid=65534 --regid=65534 --clear-groups)
	else
		chmod 0000 "$TMP/locked"
		asuser=()
	fi
	run "${asuser[@]}" "$DRVKIT" cache list --cache-dir "$TMP/locked"
	is "$rc" 5 "unreadable cache directory: exit 5"
	like "$TMP/err" "cache directory $TMP/locked: Permission denied" "unreadable: the path is named"
	run "${asuser[@]}" "$DRVKIT" cache prune --max-size 0 --cache-dir "$TMP/inner"
	is "$rc" 5 "unreadable builds/: exit 5"
	like "$TMP/err" "$TMP/inner/builds: Permission denied" "unreadable builds/: the path is named"
	chmod 0755 "$TMP/locked" "$TMP/inner/builds"
	[ "$(ls "$TMP/inner/builds" | wc -l)" = 3 ] && ok 0 "nothing removed" || ok 1 "nothing removed"
}
tcase "errors" case_errors

case_empty() {
	mkdir "$TMP/c"
	run dk cache list --cache-dir "$TMP/c"
	is "$rc" 0 "empty cache (no builds/): list exit 0"
	is "$(wc -c <"$TMP/out")" 0 "empty cache: prints nothing"
	run dk cache list --json --cache-dir "$TMP/c"
	is "$(tr -d ' \n' <"$TMP/out")" "[]" "empty cache: --json []"
	mkdir "$TMP/c/builds"
	run dk cache verify --cache-dir "$TMP/c"
	is "$rc" 0 "empty builds/: verify exit 0"
	is "$(cat "$TMP/out" "$TMP/err" | wc -c)" 0 "empty builds/: verify prints nothing"
	run dk cache prune --max-size 0 --cache-dir "$TMP/c"
	is "$rc" 0 "empty cache: prune exit 0"
	like "$TMP/out" "^freed 0 B \(0 entries\); the cache takes 0 B of at most 0 B$" "empty cache: nothing freed"
}
tcase "empty cache" case_empty

case_list() {
	C=$TMP/c
	mk_three "$C"
	mkdir "$C/builds/.tmp-$(key d)-XXabcd" "$C/builds/not-a-key"
	run dk cache list --cache-dir "$C"
	is "$rc" 0 "list: exit 0"
	is "$(wc -l <"$TMP/out")" 3 "one line per entry; temp dirs and other names are not entries"
	is "$(awk '{print $1}' "$TMP/out" | tr '\n' ' ')" "aaaaaaaaaaaa bbbbbbbbbbbb cccccccccccc " \
		"newest first, keys cut to 12 hex digits"
	like "$TMP/out" "^aaaaaaaaaaaa  nvidia   535.261.03  open  6.1.0-37-amd64  2 modules  +3[34][0-9].[0-9] KiB  2023-11-14T22:16:40Z$" \
		"nvidia: component, version, flavor, kernel, modules, size, last use"
	like "$TMP/out" "^bbbbbbbbbbbb  ofed     24.10       -     6.1.0-37-amd64  1 module   +2[01][0-9].[0-9] KiB  2023-11-14T22:15:00Z$" \
		"no flavor: -"
	like "$TMP/out" "^cccccccccccc  peermem  -           -     6.1.0-37-amd64  1 module   +1[01][0-9].[0-9] KiB  2023-11-14T22:13:20Z$" \
		"no version: -"
	run dk cache list --json --cache-dir "$C"
	[ "$rc" -eq 0 ] && python3 - "$TMP/out" "$C" >"$TMP/py" 2>&1 <<'EOF'
import json, sys
v = json.load(open(sys.argv[1]))
assert [e["key"] for e in v] == [c * 64 for c in "abc"], [e["key"] for e in v]
e = v[0]
assert e["dir"] == sys.argv[2] + "/builds/" + "a" * 64, e["dir"]
assert e["last_used"] == "2023-11-14T22:16:40Z" and e["last_used_epoch"] == 1700000200, e
assert e["bytes"] >= 340 * 1024, e["bytes"]
m = e["manifest"]
assert m["component"] == "nvidia" and m["version"] == "535.261.03" and m["flavor"] == "open"
assert m["kernel"] == "6.1.0-37-amd64" and m["compiler"] == "gcc-12 12.2.0" and m["key"] == "a" * 64
assert [x["file"] for x in m["modules"]] == ["nvidia.ko", "nvidia-uvm.ko"]
assert m["modules"][1]["size"] == 40 * 1024
assert v[2]["manifest"]["version"] is None and v[1]["manifest"]["flavor"] is None
assert all(x["problem"] is None for x in v)
EOF
	okf $? "--json: an array, full keys, the manifest fields" "$TMP/py"
	# using an entry (a lookup touches its manifest) moves it first
	touch "$C/builds/$(key c)/manifest.json"
	run dk cache list --cache-dir "$C"
	is "$(awk '{print $1}' "$TMP/out" | tr '\n' ' ')" "cccccccccccc aaaaaaaaaaaa bbbbbbbbbbbb " \
		"a used entry comes first"
	# an unreadable manifest is listed, with why
	echo '{"drvkit_manifest": 1' >"$C/builds/$(key b)/manifest.json"
	run dk cache list --cache-dir "$C"
	is "$rc" 0 "a broken manifest: list still exit 0"
	like "$TMP/out" "^bbbbbbbbbbbb  \? .*$(key b)/manifest.json" "a broken manifest: listed with its problem"
}
tcase "list" case_list

case_config() {
	C=$TMP/from-config
	mk_three "$C"
	printf 'cache_dir: %s\ncomponents:\n  - name: x\n    source: { dir: /m }\n    modules: [ { name: a } ]\n' \
		"$C" >"$TMP/spec.yaml"
	run dk cache list --config "$TMP/spec.yaml"
	is "$rc" 0 "--config: exit 0"
	is "$(wc -l <"$TMP/out")" 3 "--config: cache_dir of the spec"
	mkdir "$TMP/other"
	run dk cache list --config "$TMP/spec.yaml" --cache-dir "$TMP/other"
	[ "$rc" -eq 0 ] && [ ! -s "$TMP/out" ] && ok 0 "--cache-dir wins over the spec" ||
		ok 1 "--cache-dir wins over the spec"
	printf 'cache_dri: /x\n' >"$TMP/bad.yaml"
	run dk cache list --config "$TMP/bad.yaml"
	is "$rc" 3 "a bad spec: exit 3"
	like "$TMP/err" "bad.yaml:1:1: " "a bad spec: file:line:col"
}
tcase "--config" case_config

case_verify() {
	C=$TMP/c
	mk_three "$C"
	mk_entry "$C" d mofed 5.9 - 6.1.0-37-amd64 $((T0 + 50)) mlx5_ib:8
	run dk cache verify --cache-dir "$C"
	is "$rc" 0 "whole entries: verify exit 0"
	is "$(grep -c '^OK  ' "$TMP/out")" 4 "whole entries: four OK lines"
	like "$TMP/out" "^OK       aaaaaaaaaaaa  nvidia 535.261.03 \(open\), kernel 6.1.0-37-amd64$" "an OK line"
	# same size, one byte changed; truncated; missing
	printf 'X' | dd of="$C/builds/$(key a)/nvidia-uvm.ko" bs=1 seek=100 conv=notrunc 2>/dev/null
	truncate -s 1000 "$C/builds/$(key b)/mlx5_core.ko"
	rm "$C/builds/$(key c)/nvidia-peermem.ko"
	run dk cache verify --cache-dir "$C"
	is "$rc" 1 "damaged entries: exit 1"
	like "$TMP/out" "^DAMAGED  aaaaaaaaaaaa  nvidia 535.261.03 \(open\), kernel 6.1.0-37-amd64: .*/nvidia-uvm.ko: sha256 [0-9a-f]{64}, the manifest says [0-9a-f]{64}$" \
		"a changed byte: DAMAGED with both digests"
	like "$TMP/out" "^DAMAGED  bbbbbbbbbbbb  ofed 24.10, kernel .*: .*/mlx5_core.ko: 1000 bytes, the manifest says 204800$" \
		"a truncated module: DAMAGED with both sizes"
	like "$TMP/out" "^DAMAGED  cccccccccccc  peermem, kernel .*: .*/nvidia-peermem.ko: No such file or directory" \
		"a missing module: DAMAGED"
	like "$TMP/out" "^OK       dddddddddddd  mofed 5.9" "the whole one: OK"
	like "$TMP/err" "3 of 4 entries damaged; 'drvkit cache verify --remove' removes them" \
		"says how to remove them"
	is "$(ls "$C/builds" | wc -l)" 4 "verify alone removes nothing"
	run dk cache verify --json --cache-dir "$C"
	[ "$rc" -eq 1 ] && python3 - "$TMP/out" >"$TMP/py" 2>&1 <<'EOF'
import json, sys
v = {e["key"][0]: e for e in json.load(open(sys.argv[1]))}
assert v["a"]["status"] == "damaged" and "sha256" in v["a"]["problem"], v["a"]
assert v["d"]["status"] == "ok" and v["d"]["problem"] is None
assert v["d"]["manifest"]["component"] == "mofed"
assert not any(e["removed"] for e in v.values())
EOF
	okf $? "verify --json: status, problem, removed per entry" "$TMP/py"
	run dk cache verify --remove --cache-dir "$C"
	is "$rc" 1 "verify --remove: still exit 1 (entries were damaged)"
	is "$(grep -c '(removed)$' "$TMP/out")" 3 "verify --remove: three removed"
	like "$TMP/err" "3 of 4 entries damaged, 3 removed" "verify --remove: summary"
	is "$(ls "$C/builds")" "$(key d)" "only the whole entry is left"
	run dk cache verify --cache-dir "$C"
	is "$rc" 0 "afterwards: verify exit 0"
}
tcase "verify" case_verify

case_verify_key() {
	C=$TMP/c
	mk_entry "$C" a nvidia 1 open 6.1.0 "$T0" nvidia:4
	mv "$C/builds/$(key a)" "$C/builds/$(key e)"
	run dk cache verify --cache-dir "$C"
	is "$rc" 1 "an entry whose manifest names another key: exit 1"
	like "$TMP/out" "^DAMAGED  eeeeeeeeeeee  .*key $(key a), not $(key e)" \
		"the wrong key is the reason (as a lookup would find it)"
}
tcase "verify: key mismatch" case_verify_key

case_prune() {
	C=$TMP/c
	mk_three "$C" # nvidia ~344K newest, ofed ~204K, peermem ~104K oldest
	run dk cache prune --max-size 400K --cache-dir "$C"
	is "$rc" 0 "prune: exit 0"
	like "$TMP/out" "^removed cccccccccccc  peermem, kernel 6.1.0-37-amd64  1[01][0-9].[0-9] KiB, last used 2023-11-14T22:13:20Z$" \
		"the least recently used goes first"
	like "$TMP/out" "^removed bbbbbbbbbbbb  ofed 24.10, kernel" "then the next until the total fits"
	is "$(grep -c '^removed' "$TMP/out")" 2 "two removed"
	like "$TMP/out" "^freed 3[0-9][0-9].[0-9] KiB \(2 entries\); the cache takes 3[34][0-9].[0-9] KiB of at most 400.0 KiB$" \
		"bytes freed and what is left"
	is "$(ls "$C/builds")" "$(key a)" "the most recently used is kept"
	run dk cache prune --max-size 1G --cache-dir "$C"
	like "$TMP/out" "^freed 0 B \(0 entries\)" "under the limit: nothing removed"
	is "$(ls "$C/builds")" "$(key a)" "under the limit: the entry stays"
	run dk cache prune --max-size 0 --json --cache-dir "$C"
	[ "$rc" -eq 0 ] && python3 - "$TMP/out" >"$TMP/py" 2>&1 <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
assert d["max_bytes"] == 0 and d["total_bytes"] == 0, d
assert [e["key"] for e in d["removed"]] == ["a" * 64], d["removed"]
assert d["freed_bytes"] == d["removed"][0]["bytes"] > 0
assert d["removed"][0]["manifest"]["component"] == "nvidia"
EOF
	okf $? "--max-size 0 --json: empties it, says what and how much" "$TMP/py"
	is "$(ls "$C/builds" | wc -l)" 0 "--max-size 0: empty"
}
tcase "prune" case_prune

case_prune_stale() {
	C=$TMP/c
	mk_entry "$C" a nvidia 1 open 6.1.0 "$T0" nvidia:4
	old=$C/builds/.tmp-$(key b)-AAAAAA
	new=$C/builds/.tmp-$(key b)-BBBBBB
	mkdir -p "$old/sub" "$new" "$C/work/old-tree" "$C/work/new-tree"
	echo x >"$old/sub/f"
	touch -d '2 hours ago' "$old" "$C/work/old-tree"
	run dk cache prune --max-size 1G --cache-dir "$C"
	is "$rc" 0 "prune: exit 0"
	[ ! -e "$old" ] && [ ! -e "$C/work/old-tree" ] && ok 0 "temp entries and work trees older than an hour are removed" ||
		ok 1 "temp entries and work trees older than an hour are removed"
	[ -d "$new" ] && [ -d "$C/work/new-tree" ] && ok 0 "recent ones (a build running now) stay" ||
		ok 1 "recent ones (a build running now) stay"
	[ -d "$C/builds/$(key a)" ] && ok 0 "the entry stays" || ok 1 "the entry stays"
}
tcase "prune: leftovers of killed builds" case_prune_stale

done_testing
