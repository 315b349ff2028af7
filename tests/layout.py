#!/usr/bin/env python3
"""The layout rules of src/ (one TAP point per file and rule):
- a file in src/<layer>/ includes only its own layer and the layers its meson.build
  declares in <layer>_uses (passed here as LAYER=USES,... by tests/meson.build);
- no .c file over 900 lines;
- no function over 120 lines (a function body opens with "{" alone at column 0 and
  closes with "}" alone at column 0, as .clang-format lays them out; tables are
  initialisers, not functions, and are not counted)."""
import os
import re
import sys

MAX_FILE = 900
MAX_FUNC = 120

src = os.path.join(os.environ.get("DK_SRCDIR", "."), "src")
uses = {}
for arg in sys.argv[1:]:
    name, _, below = arg.partition("=")
    uses[name] = set(filter(None, below.split(",")))
if not uses:
    print("1..0 # SKIP no layers given (run through meson test)")
    sys.exit(0)

n = 0
failed = 0


def tap(good, desc, detail=None):
    global n, failed
    n += 1
    print(("ok" if good else "not ok") + " %d - %s" % (n, desc))
    if not good:
        failed += 1
        if detail:
            for d in detail:
                print("#   " + d)


inc_re = re.compile(r'^#include "([a-z]+)/')
for root, _, files in sorted(os.walk(src)):
    rel = os.path.relpath(root, src)
    for f in sorted(files):
        if not f.endswith((".c", ".h")):
            continue
        path = os.path.join(root, f)
        name = os.path.relpath(path, os.path.dirname(src))
        lines = open(path, encoding="utf-8").read().split("\n")
        if rel != ".":
            allowed = uses.get(rel)
            if allowed is None:
                tap(False, "%s: folder %s is not a declared layer" % (name, rel))
                continue
            bad = []
            for i, l in enumerate(lines, 1):
                m = inc_re.match(l)
                if m and m.group(1) != rel and m.group(1) not in allowed:
                    bad.append("%s:%d: %s includes %s/, which %s does not declare "
                               "in %s_uses (src/%s/meson.build)"
                               % (name, i, rel, m.group(1), rel, rel, rel))
            tap(not bad, "%s includes only declared layers" % name, bad)
        if f.endswith(".c"):
            tap(len(lines) - 1 <= MAX_FILE,
                "%s has at most %d lines" % (name, MAX_FILE),
                ["%s has %d lines: split it by concern" % (name, len(lines) - 1)])
            long = []
            start = None
            for i, l in enumerate(lines):
                if l == "{":
                    start = i
                elif l == "}" and start is not None:
                    j = start - 1
                    while j > 0 and "(" not in lines[j]:
                        j -= 1
                    if i - start + 1 > MAX_FUNC:
                        long.append("%s:%d: %s: %d lines" % (name, j + 1,
                                    lines[j].strip()[:60], i - start + 1))
                    start = None
            tap(not long, "%s has no function over %d lines" % (name, MAX_FUNC), long)
print("1..%d" % n)
sys.exit(1 if failed else 0)
