"""Fixtures for the hardening tests, and the figures summary printed at the end of a run."""

from __future__ import annotations

import json
import os

import pytest
from hardening import FIGURES, find_exe, make_env, stress


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
    groups = {title: counts for title, counts in FIGURES.items() if counts}
    if not groups:
        return
    terminalreporter.section(f"hardening figures (issue 5), DCT_STRESS={stress()}")
    for title, counts in groups.items():
        terminalreporter.write_line(f"{title}:")
        for name, value in counts.items():
            terminalreporter.write_line(f"    {name}: {value}")
    target = os.environ.get("DCT_FIGURES")
    if target:
        with open(target, "w") as handle:
            json.dump({"stress": stress(), **groups}, handle, indent=2)
        terminalreporter.write_line(f"figures written to {target}")
