"""The portable bundle needs no glibc newer than its baseline (packaging/glibc_needs.py).

``DCT_PORTABLE_BUNDLE`` names the folder ``./build --portable`` made (tests/run sets it
when it runs the suite against that build); the reader itself is checked against
binutils on the interpreter running the tests.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

PACKAGING = Path(__file__).resolve().parent.parent / "packaging"
sys.path.insert(0, str(PACKAGING))
import glibc_needs  # noqa: E402

sys.path.remove(str(PACKAGING))


def own_elf_files() -> list[str]:
    """The running interpreter and its libpython, if shared: ELF files on any Linux host."""
    files = [os.path.realpath(sys.executable)]
    import sysconfig

    libdir, soname = sysconfig.get_config_var("LIBDIR"), sysconfig.get_config_var("INSTSONAME")
    if libdir and soname and os.path.isfile(os.path.join(libdir, soname)):
        files.append(os.path.join(libdir, soname))
    return [f for f in files if glibc_needs.is_elf(f)]


@pytest.mark.skipif(sys.platform != "linux", reason="ELF and glibc are Linux's")
def test_reader_agrees_with_objdump() -> None:
    objdump = shutil.which("objdump")
    if objdump is None:
        pytest.skip("binutils' objdump is not installed to compare with")
    files = own_elf_files()
    assert files, "the interpreter running the tests is an ELF file"
    for path in files:
        listed = subprocess.run(
            [objdump, "-T", path], capture_output=True, text=True, check=True
        ).stdout
        theirs = {
            glibc_needs.glibc_version(v) for v in re.findall(r"\bGLIBC_[0-9.]+[0-9]\b", listed)
        }
        ours = {glibc_needs.glibc_version(name) for _lib, name in glibc_needs.needed_versions(path)}
        ours.discard(None)
        assert theirs, f"objdump lists no GLIBC_ version for {path}"
        assert max(ours) == max(theirs), f"{path}: reader {max(ours)}, objdump {max(theirs)}"
        headers = subprocess.run(
            [objdump, "-p", path], capture_output=True, text=True, check=True
        ).stdout
        needed = set(re.findall(r"^\s*NEEDED\s+(\S+)$", headers, re.M))
        assert "libc.so.6" in needed, f"objdump lists no libc.so.6 for {path}"
        assert glibc_needs.needed_libraries(path) == needed


def test_version_names() -> None:
    assert glibc_needs.glibc_version("GLIBC_2.2.5") == (2, 2, 5)
    assert glibc_needs.glibc_version("GLIBC_2.28") < glibc_needs.glibc_version("GLIBC_2.34")
    assert glibc_needs.glibc_version("GLIBC_2.9") < glibc_needs.glibc_version("GLIBC_2.17")
    assert glibc_needs.glibc_version("GLIBC_PRIVATE") > glibc_needs.glibc_version("GLIBC_2.99")
    assert glibc_needs.glibc_version("GCC_3.0") is None


def test_unreadable_elf_is_an_error(tmp_path: Path) -> None:
    stripped = tmp_path / "no-sections"
    stripped.write_bytes(b"\x7fELF\x02\x01\x01" + bytes(57))
    with pytest.raises(glibc_needs.NotElf64):
        glibc_needs.needed_versions(str(stripped))


def test_portable_bundle_needs_at_most_its_baseline() -> None:
    bundle = os.environ.get("DCT_PORTABLE_BUNDLE")
    if not bundle:
        pytest.skip("DCT_PORTABLE_BUNDLE is not set (tests/run sets it for ./build --portable)")
    target = tuple(int(p) for p in glibc_needs.PORTABLE_GLIBC.split("."))
    needs = glibc_needs.bundle_needs(bundle)
    assert "docker-credential-truss" in needs, "the executable itself is read"
    assert any(name.startswith("_internal/libpython") for name in needs), "libpython is read"
    assert len(needs) > 10, f"expected the bundle's shared objects too, read {sorted(needs)}"
    over = {name: v for name, v in needs.items() if v is not None and v > target}
    assert not over, f"above GLIBC_{glibc_needs.PORTABLE_GLIBC}: {over}"


def test_portable_bundle_loads_only_glibc_from_the_system() -> None:
    bundle = os.environ.get("DCT_PORTABLE_BUNDLE")
    if not bundle:
        pytest.skip("DCT_PORTABLE_BUNDLE is not set (tests/run sets it for ./build --portable)")
    carried = {p.name for p in Path(bundle).rglob("*") if p.is_file()}
    from_system = {}
    for rel in glibc_needs.bundle_needs(bundle):
        for soname in glibc_needs.needed_libraries(os.path.join(bundle, rel)):
            if soname not in carried and soname not in glibc_needs.GLIBC_LIBRARIES:
                from_system.setdefault(soname, []).append(rel)
    assert not from_system, f"libraries the bundle needs but does not carry: {from_system}"
