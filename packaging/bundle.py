"""The PyInstaller build shared by the helper's spec and the benchmark's floor.

Both are built here with the same options, so the benchmark compares the helper's
start-up with a hello-world that pays exactly the same bootloader cost.

Spec files are executed by PyInstaller with ``Analysis``, ``PYZ``, ``EXE`` and
``COLLECT`` in their namespace; they pass them in as ``steps`` because this module is
imported, not executed by PyInstaller.
"""

from __future__ import annotations

import os

# PyInstaller runs these runtime hooks at every start-up when the module they patch is
# anywhere in the bundle (botocore pulls in inspect, pkgutil, multiprocessing). Each
# imports its module eagerly, which costs more than the whole `get` path; none of them
# matters to this program: it never asks inspect for source files, never iterates
# frozen packages with pkgutil, never starts worker processes, never uses setuptools.
UNUSED_RUNTIME_HOOKS = frozenset(
    {
        "pyi_rth_inspect",
        "pyi_rth_pkgutil",
        "pyi_rth_multiprocessing",
        "pyi_rth_setuptools",
        "pyi_rth_pkgres",
    }
)

# Never imported by the helper or the SDK code paths it uses; keeping them out keeps
# the bundle small and their runtime hooks away.
EXCLUDES = [
    "tkinter",
    "_tkinter",
    "setuptools",
    "pkg_resources",
    "distutils",
    "pydoc",
    "lib2to3",
    "IPython",
    "pytest",
]


def build(
    steps: dict,
    *,
    script: str,
    name: str,
    hiddenimports=(),
    datas=(),
    pathex=(),
    keep_data=lambda dest: True,
):
    """One-folder bundle ``dist/<name>/<name>``: fastest start-up (see docs/development.md, Binary).

    ``keep_data(dest)`` may drop collected data files by their path in the bundle.
    """
    analysis = steps["Analysis"](
        [script],
        pathex=list(pathex),
        hiddenimports=list(hiddenimports),
        datas=list(datas),
        excludes=EXCLUDES,
        # Modules as .pyc files in _internal/, not in one compressed PYZ archive: the
        # archive's table of contents (every botocore, google-auth and requests module)
        # is read at each start and each module decompressed, which made a cached ECR
        # get ~8 ms slower (55.9 -> 47.9 ms median; the floor 39.6 -> 35.6 ms).
        noarchive=True,
    )
    analysis.scripts = [s for s in analysis.scripts if s[0] not in UNUSED_RUNTIME_HOOKS]
    analysis.datas = [d for d in analysis.datas if keep_data(d[0].replace(os.sep, "/"))]
    pyz = steps["PYZ"](analysis.pure)
    exe = steps["EXE"](
        pyz,
        analysis.scripts,
        [],
        exclude_binaries=True,
        name=name,
        debug=False,
        strip=False,
        upx=False,
        console=True,
    )
    return steps["COLLECT"](
        exe, analysis.binaries, analysis.datas, strip=False, upx=False, name=name
    )


def package_modules(root: str, package: str) -> list[str]:
    """Every module of ``package`` found in the source tree, without importing it.

    Provider modules are imported by name at run time (``__import__``), so PyInstaller's
    import scan cannot see them; walking the tree also finds providers added later.
    """
    found = []
    base = os.path.join(root, *package.split("."))
    for directory, dirs, files in os.walk(base):
        dirs[:] = sorted(d for d in dirs if d != "__pycache__")
        rel = os.path.relpath(directory, root).replace(os.sep, ".")
        for file in sorted(files):
            if file.endswith(".py"):
                stem = file[:-3]
                found.append(rel if stem == "__init__" else f"{rel}.{stem}")
    return found


def botocore_services(*services: str):
    """A ``keep_data`` that keeps botocore's shared data and only these services' models.

    PyInstaller's botocore hook collects every service model (~28 MB); the helper
    creates clients for ECR, ECR Public and STS only.
    """
    keep = frozenset(services)

    def keep_data(dest: str) -> bool:
        parts = dest.split("/")
        if parts[:2] != ["botocore", "data"] or len(parts) == 3:
            return True  # not a service model: endpoints.json, partitions.json, ...
        return parts[2] in keep

    return keep_data
