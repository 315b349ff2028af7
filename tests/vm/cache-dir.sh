#!/bin/bash
# Prints (and creates) the machine-wide cache dir of the VM tests: ${DK_CACHE:-/var/cache/drvkit-test},
# falling back to ~/.cache/drvkit-test where /var/cache is not writable. It survives clean clones.
set -euo pipefail
dir=${DK_CACHE:-/var/cache/drvkit-test}
if ! mkdir -p "$dir" 2>/dev/null || [ ! -w "$dir" ]; then
	dir=${XDG_CACHE_HOME:-$HOME/.cache}/drvkit-test
	mkdir -p "$dir"
fi
echo "$dir"
