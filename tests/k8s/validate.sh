#!/bin/bash
# Validates Kubernetes YAML against the API's schemas: tests/k8s/validate.mjs with the pinned
# kubernetes-models and yaml npm packages (package.json, package-lock.json; test-only, never a
# product dependency).
#
#   tests/k8s/validate.sh FILE...      (multi-document YAML; - for stdin)
#
# Prints "ok <kind>/<name>" per valid object, "not ok FILE#<doc index> <kind>/<name>: <path>
# <error>" per schema error; exit 0: all valid, 1: an invalid object, 2: usage/YAML error,
# 3: the packages could not be installed.
#
# node_modules is installed once per package-lock.json into the machine-wide test cache,
# $(tests/vm/cache-dir.sh)/k8s-node-modules-<sha256 of package-lock.json, 16 hex> (DK_CACHE
# moves it), with `npm ci --ignore-scripts` (no package's install script runs); concurrent
# callers serialise on a lock and a half-done install is never used. Needs node and npm
# (scripts/install-deps installs them).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
die() {
	echo "validate.sh: $*" >&2
	exit 3
}
command -v node >/dev/null || die "node is not installed (scripts/install-deps installs nodejs and npm)"
lock=$here/package-lock.json
key=$(sha256sum "$lock" | cut -c1-16)
cache=$("$here/../vm/cache-dir.sh")
dir=$cache/k8s-node-modules-$key

if [ ! -f "$dir/.complete" ]; then
	command -v npm >/dev/null || die "npm is not installed (scripts/install-deps installs nodejs and npm)"
	exec 9>"$cache/k8s-node-modules.lock"
	flock 9
	if [ ! -f "$dir/.complete" ]; then
		tmp=$(mktemp -d "$cache/.k8s-node-modules.XXXXXX")
		trap 'rm -rf "$tmp"' EXIT
		cp "$here/package.json" "$lock" "$tmp/"
		if ! (cd "$tmp" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error) \
			>"$tmp/npm.log" 2>&1; then
			die "npm ci failed in $tmp (package-lock $key); last lines:
$(tail -n 15 "$tmp/npm.log")"
		fi
		touch "$tmp/.complete"
		rm -rf "$dir"
		mv "$tmp" "$dir"
		trap - EXIT
	fi
	exec 9>&-
fi

# Node resolves a script's imports from the script's own folder: run a copy next to a link
# to the cached node_modules.
run=$(mktemp -d /tmp/dk-k8s.XXXXXX)
trap 'rm -rf "$run"' EXIT
ln -s "$dir/node_modules" "$run/node_modules"
cp "$here/validate.mjs" "$run/"
rc=0
node "$run/validate.mjs" "$@" || rc=$?
exit "$rc"
