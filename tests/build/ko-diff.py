#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Says which ELF sections differ between two builds of a kernel module.

Usage: ko-diff.py A.ko B.ko   (or two directories: compares the *.ko found under both)
Prints "identical" or, per differing section, its name and sizes; exit 1 when any differ.
For the reproducibility checks of tests/build (what a path or a timestamp leaks into).
"""
import os
import struct
import sys


def sections(path):
    data = open(path, "rb").read()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise SystemExit("%s: not a 64-bit ELF file" % path)
    end = "<" if data[5] == 1 else ">"
    shoff, = struct.unpack_from(end + "Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from(end + "HHH", data, 0x3A)
    hdrs = []
    for i in range(shnum):
        name, typ, _flags, _addr, off, size = struct.unpack_from(
            end + "IIQQQQ", data, shoff + i * shentsize)
        hdrs.append((name, typ, off, size))
    stroff = hdrs[shstrndx][2]
    out = {}
    for name, typ, off, size in hdrs[1:]:
        n = data[stroff + name:data.index(b"\0", stroff + name)].decode()
        body = b"" if typ == 8 else data[off:off + size]  # SHT_NOBITS
        out[n] = (size, body)
    # what follows the ELF image: the appended signature, if any
    out["<after sections>"] = (len(data) - (shoff + shnum * shentsize),
                               data[shoff + shnum * shentsize:])
    return out


def compare(a, b):
    if open(a, "rb").read() == open(b, "rb").read():
        print("%s: identical" % os.path.basename(a))
        return True
    sa, sb = sections(a), sections(b)
    diff = []
    for n in sorted(set(sa) | set(sb)):
        x, y = sa.get(n), sb.get(n)
        if x is None or y is None or x[1] != y[1]:
            diff.append("%s(%s/%s)" % (n, x[0] if x else "-", y[0] if y else "-"))
    print("%s: differ in %s" % (os.path.basename(a),
                                " ".join(diff) or "headers/layout only"))
    return False


def kos(d):
    r = {}
    for root, _dirs, files in os.walk(d):
        for f in files:
            if f.endswith(".ko"):
                r[f] = os.path.join(root, f)
    return r


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    a, b = sys.argv[1:]
    if os.path.isdir(a):
        ka, kb = kos(a), kos(b)
        same = True
        for f in sorted(set(ka) | set(kb)):
            if f not in ka or f not in kb:
                print("%s: only in %s" % (f, a if f in ka else b))
                same = False
            else:
                same = compare(ka[f], kb[f]) and same
        return 0 if same else 1
    return 0 if compare(a, b) else 1


if __name__ == "__main__":
    sys.exit(main())
