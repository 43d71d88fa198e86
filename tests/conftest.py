"""Fixtures for in-process tests: every location under tmp_path, nothing inherited."""

from __future__ import annotations

import io
import json
import os
from collections.abc import Callable

import pytest
from prerequisites import e2e_setup_missing, in_ci

from docker_credential_truss.cli import main
from docker_credential_truss.errors import NOT_FOUND_MESSAGE as NOT_FOUND
from docker_credential_truss.paths import Paths


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Skip the end-to-end tier, saying why, where its set-up is absent (never under CI)."""
    why = e2e_setup_missing()
    if why is None or in_ci():
        return
    e2e = os.path.join(os.path.dirname(os.path.abspath(__file__)), "e2e") + os.sep
    skip = pytest.mark.skip(reason=f"{why}; bash tests/run is the full CI run")
    for item in items:
        if str(item.path).startswith(e2e):
            item.add_marker(skip)


class Run:
    """The result of one in-process CLI run."""

    def __init__(self, code: int, out: bytes, err: str) -> None:
        self.code = code
        self.out = out.decode()
        self.err = err

    @property
    def json(self) -> dict:
        return json.loads(self.out)

    @property
    def why(self) -> str:
        """The stderr line of a ``get`` answered "not found" for a reason; checks that shape.

        For a well-formed server, ``get`` puts nothing but a credential or the not-found
        line on stdout (issue 9); why it found nothing is one line on stderr.
        """
        assert (self.code, self.out) == (1, NOT_FOUND + "\n")
        assert self.err.startswith("docker-credential-truss: ") and self.err.count("\n") == 1
        return self.err


@pytest.fixture
def env(tmp_path) -> dict[str, str]:
    home = tmp_path / "home"
    home.mkdir()
    return {
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(tmp_path / "xdg-config"),
        "XDG_DATA_HOME": str(tmp_path / "xdg-data"),
        "XDG_CACHE_HOME": str(tmp_path / "xdg-cache"),
        "XDG_STATE_HOME": str(tmp_path / "xdg-state"),
        "DOCKER_CONFIG": str(tmp_path / "docker"),
        "PATH": os.environ.get("PATH", ""),
    }


@pytest.fixture
def paths(env) -> Paths:
    return Paths.from_env(env)


@pytest.fixture
def cli(env) -> Callable[..., Run]:
    def run(*argv: str, stdin: str | bytes = b"", extra: dict | None = None) -> Run:
        data = stdin.encode() if isinstance(stdin, str) else stdin
        out, err = io.BytesIO(), io.StringIO()
        code = main(
            list(argv),
            stdin=io.BytesIO(data),
            stdout=out,
            stderr=err,
            env={**env, **(extra or {})},
        )
        return Run(code, out.getvalue(), err.getvalue())

    return run


@pytest.fixture
def truss_secrets(env) -> Callable[[dict], None]:
    """Write ~/.truss/config.yaml with the given secrets map."""

    def write(secrets: dict) -> None:
        import yaml

        path = os.path.join(env["HOME"], ".truss", "config.yaml")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as handle:
            yaml.safe_dump({"secrets": secrets}, handle)

    return write


@pytest.fixture(autouse=True)
def _no_secrets_left_registered():
    """debuglog keeps the secrets registered in a process-wide set until ``close()``, as
    one run of the CLI does; tests that look values up directly must not leak them into
    the next test's masking."""
    from docker_credential_truss import debuglog

    debuglog.close()
    yield
    debuglog.close()
