#!/usr/bin/env python3
"""Counts TAP results in meson testlog.json files and prints 'N passed, N failed'.

Each TAP test point counts once; a test program that crashed or timed out before
reporting counts as one failure, so a broken binary can never vanish from the total.
Exit status is 1 when anything failed.
"""
import json
import re
import sys

passed = failed = skipped = 0
failures = []
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError as e:
        print(f"tap-summary: {path}: {e}", file=sys.stderr)
        failed += 1
        continue
    for line in lines:
        rec = json.loads(line)
        name, result = rec.get("name"), rec.get("result")
        p = f = s = 0
        for out in (rec.get("stdout") or "").splitlines():
            m = re.match(r"^(not )?ok\b(.*)$", out)
            if not m:
                continue
            if re.search(r"#\s*SKIP", m.group(2), re.I):
                s += 1
            elif m.group(1):
                f += 1
                failures.append(f"{name}:{m.group(2)}")
            else:
                p += 1
        if result not in ("OK", "SKIP", "EXPECTEDFAIL") and f == 0:
            f += 1
            failures.append(f"{name}: {result} (exit {rec.get('returncode')})")
        if result == "SKIP" and p + f + s == 0:
            s += 1
        passed += p
        failed += f
        skipped += s

for f in failures:
    print(f"FAILED {f}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
sys.exit(1 if failed else 0)
