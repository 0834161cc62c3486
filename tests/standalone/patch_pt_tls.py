#!/usr/bin/env python3
"""Rewrites one field of the PT_TLS program header of a 64-bit
little-endian ELF file in place: patch_pt_tls.py FILE align|filesz|memsz VALUE.
For tests of impossible TLS layouts (the kernel ignores PT_TLS)."""
import struct
import sys

path, field, value = sys.argv[1], sys.argv[2], int(sys.argv[3], 0)
with open(path, "r+b") as f:
    ehdr = f.read(64)
    assert ehdr[:4] == b"\x7fELF" and ehdr[4] == 2 and ehdr[5] == 1, "not ELF64 LE"
    phoff, = struct.unpack_from("<Q", ehdr, 32)
    phentsize, phnum = struct.unpack_from("<HH", ehdr, 54)
    # Elf64_Phdr: type, flags, offset, vaddr, paddr, filesz, memsz, align
    at = {"filesz": 32, "memsz": 40, "align": 48}[field]
    for i in range(phnum):
        f.seek(phoff + i * phentsize)
        if struct.unpack("<I", f.read(4))[0] == 7:  # PT_TLS
            f.seek(phoff + i * phentsize + at)
            f.write(struct.pack("<Q", value))
            break
    else:
        sys.exit("no PT_TLS")
