"""What the tests need from outside the checkout, and what happens when it is missing.

Two tiers of the suite run other programs:

- tests that run the installed command (``$DCT_EXE``, else ``docker-credential-truss``
  on PATH, else the one installed next to this Python, as ``pip install -e .`` puts
  it in a venv) or truss in its own venv (``$DCT_TRUSS_PYTHON``, else
  ``.venv-truss/bin/python``);
- the end-to-end tier (tests/e2e), which starts a real dockerd and real registries. Its
  set-up is present when the tests run as root and ``dockerd``, ``docker-registry``
  and ``/usr/bin/docker`` are installed.

Under CI (``$CI`` set, as ``.ci/run`` and ``tests/run`` are run) a missing prerequisite
fails the test: a CI run that skipped its real tests would prove nothing. Anywhere else
it skips the test with the reason and the fix, so ``pytest`` alone runs the unit and
hardening tiers from a plain checkout.
"""

from __future__ import annotations

import os
import shutil
import sys

import pytest

EXE = "docker-credential-truss"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRUSS_PYTHON = os.environ.get("DCT_TRUSS_PYTHON") or os.path.join(
    ROOT, ".venv-truss", "bin", "python"
)
E2E_PROGRAMS = ("dockerd", "docker-registry", "/usr/bin/docker")


def in_ci() -> bool:
    return bool(os.environ.get("CI"))


def missing(reason: str) -> None:
    """Fail under CI, skip elsewhere; ``reason`` says what is missing and how to add it."""
    if in_ci():
        pytest.fail(reason)
    pytest.skip(reason)


def helper_exe() -> str:
    """The executable under test, or a skip (a failure under CI) saying how to get one."""
    exe = os.environ.get("DCT_EXE") or shutil.which(EXE)
    if not exe:
        beside = os.path.join(os.path.dirname(sys.executable), EXE)
        exe = beside if os.access(beside, os.X_OK) else None
    if not exe:
        missing(f"no {EXE} to test: pip install -e '.[test]' into this Python, or set DCT_EXE")
    return os.path.abspath(exe)


def truss_python() -> str:
    """truss's venv Python, or a skip (a failure under CI) saying how to make it."""
    if not os.path.exists(TRUSS_PYTHON):
        missing(
            f"no truss to compare with at {TRUSS_PYTHON}: run `python3 -m venv .venv-truss &&"
            " .venv-truss/bin/pip install -r tests/truss-requirements.txt` or set DCT_TRUSS_PYTHON"
        )
    return TRUSS_PYTHON


def e2e_setup_missing() -> str | None:
    """Why the end-to-end tier cannot run here, or None when its set-up is present."""
    if os.geteuid() != 0:
        return "the end-to-end tier starts dockerd: run it as root"
    absent = [p for p in E2E_PROGRAMS if shutil.which(p) is None]
    if absent:
        return f"the end-to-end tier needs {', '.join(absent)} (Debian: docker.io, docker-registry)"
    return None
