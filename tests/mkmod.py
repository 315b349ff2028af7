#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Writes a small x86-64 kernel module ELF (ET_REL) for the tests, built from scratch:
.symtab first, then .strtab, .shstrtab, .modinfo, __ksymtab_gpl and __kcrctab_gpl.
It exports dktest_gen_fn (with a __crc_ symbol in __kcrctab_gpl) and imports _printk.

Usage: mkmod.py OUT [--aliases N] [--params N] [--kcrctab-offset OFF]
                    [--modinfo-size SIZE]
  --kcrctab-offset  put __kcrctab_gpl at OFF (outside the file: the symbol table,
                    read first, points into a section that is not there)
  --modinfo-size    claim SIZE bytes for .modinfo (a huge size wraps offset+size)
"""
import argparse
import struct

SHT_PROGBITS, SHT_SYMTAB, SHT_STRTAB = 1, 2, 3
STB_GLOBAL, STT_NOTYPE, STT_OBJECT = 1, 0, 1


def strtab(names):
    data, off = b"\0", {}
    for n in names:
        off[n] = len(data)
        data += n.encode() + b"\0"
    return data, off


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--aliases", type=int, default=0)
    ap.add_argument("--params", type=int, default=0)
    ap.add_argument("--kcrctab-offset", type=int, default=None)
    ap.add_argument("--modinfo-size", type=int, default=None)
    a = ap.parse_args()

    mi = [b"license=GPL", b"name=dktest_gen", b"vermagic=6.1.0 SMP mod_unload "]
    mi += [b"alias=pci:v%08Xd*sv*sd*bc*sc*i*" % i for i in range(a.aliases)]
    for i in range(a.params):
        mi += [b"parmtype=p%d:int" % i, b"parm=p%d:parameter %d" % (i, i)]
    modinfo = b"\0".join(mi) + b"\0"

    sec_names = [".symtab", ".strtab", ".shstrtab", ".modinfo", "__ksymtab_gpl",
                 "__kcrctab_gpl"]
    shstr, shoff = strtab(sec_names)
    sym_names = ["__ksymtab_dktest_gen_fn", "__crc_dktest_gen_fn", "_printk"]
    symstr, symoff = strtab(sym_names)
    # Elf64_Sym: name, info, other, shndx, value, size
    syms = struct.pack("<IBBHQQ", 0, 0, 0, 0, 0, 0)
    syms += struct.pack("<IBBHQQ", symoff[sym_names[0]], STB_GLOBAL << 4 | STT_OBJECT,
                        0, 5, 0, 12)
    syms += struct.pack("<IBBHQQ", symoff[sym_names[1]], STB_GLOBAL << 4 | STT_NOTYPE,
                        0, 6, 0, 0)
    syms += struct.pack("<IBBHQQ", symoff[sym_names[2]], STB_GLOBAL << 4 | STT_NOTYPE,
                        0, 0, 0, 0)
    ksymtab = b"\0" * 12
    kcrctab = struct.pack("<I", 0x1234ABCD)

    bodies = [syms, symstr, shstr, modinfo, ksymtab, kcrctab]
    data = bytearray(64)
    offs = []
    for b in bodies:
        while len(data) % 8:
            data.append(0)
        offs.append(len(data))
        data += b
    while len(data) % 8:
        data.append(0)
    e_shoff = len(data)

    sizes = [len(b) for b in bodies]
    if a.kcrctab_offset is not None:
        offs[5] = a.kcrctab_offset
    if a.modinfo_size is not None:
        sizes[3] = a.modinfo_size
    types = [SHT_SYMTAB, SHT_STRTAB, SHT_STRTAB, SHT_PROGBITS, SHT_PROGBITS,
             SHT_PROGBITS]
    links = [2, 0, 0, 0, 0, 0]
    infos = [1, 0, 0, 0, 0, 0]  # .symtab: index of the first global symbol
    entsz = [24, 0, 0, 0, 0, 0]
    # Elf64_Shdr: name, type, flags, addr, offset, size, link, info, addralign, entsize
    data += struct.pack("<IIQQQQIIQQ", 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
    for i, n in enumerate(sec_names):
        data += struct.pack("<IIQQQQIIQQ", shoff[n], types[i], 0, 0, offs[i], sizes[i],
                            links[i], infos[i], 8 if i == 0 else 1, entsz[i])
    shnum = len(sec_names) + 1
    ident = b"\x7fELF" + bytes([2, 1, 1, 0]) + b"\0" * 8
    # ET_REL, EM_X86_64, version, entry, phoff, shoff, flags, ehsize, phentsize, phnum,
    # shentsize, shnum, shstrndx
    data[0:64] = ident + struct.pack("<HHIQQQIHHHHHH", 1, 62, 1, 0, 0, e_shoff, 0, 64,
                                     0, 0, 64, shnum, 3)
    with open(a.out, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
