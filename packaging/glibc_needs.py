"""Which glibc symbol versions the ELF files of a bundle need: the portable build's proof.

The dynamic loader refuses to start a program when one of its shared objects needs a
version (``GLIBC_2.34``, ...) that the system's glibc lacks, so the highest ``GLIBC_``
version named in any file's version-needs table (``.gnu.version_r``) is the oldest glibc
the bundle runs on. Read with the standard library alone (no binutils), so the check runs
wherever the tests do; ``objdump -T`` shows the same versions symbol by symbol.

    python packaging/glibc_needs.py DIR [--max 2.28]
    python packaging/glibc_needs.py --target

prints each ELF file's highest need and the bundle's, and with ``--max`` exits 1 when any
file needs more; ``--target`` prints the portable build's baseline (PORTABLE_GLIBC).
"""

from __future__ import annotations

import os
import struct
import sys

# The portable build's promise, in the release archive's name and checked by the tests:
# nothing in the bundle needs a newer glibc (packaging/portable.sh says why this one).
PORTABLE_GLIBC = "2.25"

SHT_GNU_VERNEED = 0x6FFFFFFE


class NotElf64(ValueError):
    """The file is an ELF file this reader does not handle (only 64-bit little-endian)."""


def is_elf(path: str) -> bool:
    with open(path, "rb") as handle:
        return handle.read(4) == b"\x7fELF"


# The libraries glibc itself provides: a bundle may load these from the system.
GLIBC_LIBRARIES = frozenset(
    {
        "ld-linux-x86-64.so.2",
        "ld-linux-aarch64.so.1",
        "libc.so.6",
        "libm.so.6",
        "libdl.so.2",
        "libpthread.so.0",
        "librt.so.1",
        "libutil.so.1",
        "libresolv.so.2",
        "libcrypt.so.1",
    }
)
SHT_DYNAMIC = 6
DT_NEEDED = 1


def _sections(path: str) -> tuple[bytes, list[tuple[int, ...]]]:
    with open(path, "rb") as handle:
        data = handle.read()
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        raise NotElf64(f"{path}: not a 64-bit little-endian ELF file")
    shoff = struct.unpack_from("<Q", data, 0x28)[0]
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    if shoff == 0 or shnum == 0:
        raise NotElf64(f"{path}: no section headers to read the version needs from")
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    return data, sections


def _text(data: bytes, start: int) -> str:
    return data[start : data.index(b"\0", start)].decode("ascii", "replace")


def needed_libraries(path: str) -> set[str]:
    """The sonames the file asks the loader for (its ``DT_NEEDED`` entries)."""
    data, sections = _sections(path)
    found = set()
    for _name, sh_type, _f, _a, offset, size, link, _i, _al, _es in sections:
        if sh_type != SHT_DYNAMIC:
            continue
        strtab = sections[link][4]
        for at in range(offset, offset + size, 16):
            tag, value = struct.unpack_from("<qQ", data, at)
            if tag == DT_NEEDED:
                found.add(_text(data, strtab + value))
    return found


def needed_versions(path: str) -> set[tuple[str, str]]:
    """Every (library, version) the file's version-needs table names.

    A file with no such table needs no versioned symbol (an empty set). A file whose
    section headers are gone cannot be read here and raises, rather than passing unseen.
    """
    data, sections = _sections(path)
    found: set[tuple[str, str]] = set()
    for _name, sh_type, _f, _a, offset, _size, link, count, _al, _es in sections:
        if sh_type != SHT_GNU_VERNEED:
            continue
        strtab = sections[link][4]
        entry = offset
        for _ in range(count):
            _version, aux_count, file_at, aux, next_entry = struct.unpack_from(
                "<HHIII", data, entry
            )
            library = _text(data, strtab + file_at)
            at = entry + aux
            for _ in range(aux_count):
                _hash, _flags, _other, name_at, next_aux = struct.unpack_from("<IHHII", data, at)
                found.add((library, _text(data, strtab + name_at)))
                at += next_aux
            if next_entry == 0:
                break
            entry += next_entry
    return found


def glibc_version(name: str) -> tuple[int, ...] | None:
    """``GLIBC_2.17`` -> (2, 17); ``GLIBC_PRIVATE`` -> a version no release has; else None."""
    if not name.startswith("GLIBC_"):
        return None
    rest = name[len("GLIBC_") :]
    if rest.replace(".", "").isdigit():
        return tuple(int(part) for part in rest.split("."))
    return (999,)  # GLIBC_PRIVATE ties a file to the exact glibc it was built with


def highest_glibc(path: str) -> tuple[int, ...] | None:
    versions = [glibc_version(name) for _lib, name in needed_versions(path)]
    return max((v for v in versions if v is not None), default=None)


def bundle_needs(root: str) -> dict[str, tuple[int, ...] | None]:
    """Each ELF file under ``root`` (relative path) -> the highest glibc version it needs."""
    needs = {}
    for directory, dirs, files in os.walk(root):
        dirs.sort()
        for file in sorted(files):
            path = os.path.join(directory, file)
            if os.path.isfile(path) and not os.path.islink(path) and is_elf(path):
                needs[os.path.relpath(path, root)] = highest_glibc(path)
    return needs


def show(version: tuple[int, ...] | None) -> str:
    return "-" if version is None else ".".join(map(str, version))


def main(argv: list[str]) -> int:
    if argv == ["--target"]:
        print(PORTABLE_GLIBC)
        return 0
    if not argv or argv[0].startswith("-"):
        print("usage: glibc_needs.py DIR [--max VERSION] | --target", file=sys.stderr)
        return 2
    root, limit = argv[0], None
    if argv[1:2] == ["--max"] and len(argv) == 3:
        limit = tuple(int(part) for part in argv[2].split("."))
    needs = bundle_needs(root)
    if not needs:
        print(f"glibc_needs: no ELF file under {root}", file=sys.stderr)
        return 1
    for rel, version in sorted(needs.items()):
        print(f"{show(version):>6}  {rel}")
    top = max((v for v in needs.values() if v is not None), default=None)
    print(f"highest: GLIBC_{show(top)} over {len(needs)} ELF files")
    if limit is not None and top is not None and top > limit:
        over = sorted(rel for rel, v in needs.items() if v is not None and v > limit)
        print(f"glibc_needs: above GLIBC_{show(limit)}: {', '.join(over)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
