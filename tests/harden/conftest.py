"""Fixtures for the hardening tests, and the figures summary printed at the end of a run."""

from __future__ import annotations

import json
import os

import pytest
from hardening import FIGURES, find_exe, make_env


@pytest.fixture(scope="session")
def exe(tmp_path_factory) -> str:
    """The installed executable, by its real name in a bin directory of its own."""
    target = find_exe()
    bindir = tmp_path_factory.mktemp("bin")
    link = bindir / "docker-credential-truss"
    link.symlink_to(target)
    return str(link)


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    return make_env(str(tmp_path))


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not FIGURES:
        return
    terminalreporter.section("hardening figures (issue 5)")
    for entry in FIGURES:
        rest = ", ".join(f"{k}={v}" for k, v in entry.items() if k != "test")
        terminalreporter.write_line(f"{entry['test']}: {rest}")
    target = os.environ.get("DCT_FIGURES")
    if target:
        with open(target, "w") as handle:
            json.dump(FIGURES, handle, indent=2)
        terminalreporter.write_line(f"figures written to {target}")
