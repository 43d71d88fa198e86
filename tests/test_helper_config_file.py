"""The helper's own config.json as configure and unconfigure keep it, and refuse it.

It carries a version, the registries and the helpers configure replaced, and nothing
else; a file in another shape is refused naming the file, never guessed at.
In-process, through the CLI's entry point.
"""

from __future__ import annotations

import io
import json
import os

import pytest

from docker_credential_truss.cli import main

FLAGS = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "pat")


def write_helper_config(paths, data: dict) -> None:
    os.makedirs(os.path.dirname(paths.helper_config), mode=0o700, exist_ok=True)
    with open(paths.helper_config, "w") as handle:
        json.dump(data, handle)
    os.chmod(paths.helper_config, 0o600)


def read_helper_config(paths) -> dict:
    with open(paths.helper_config) as handle:
        return json.load(handle)


def test_the_file_holds_its_version_the_registries_and_the_replaced_helpers(cli, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    with open(paths.docker_config, "w") as handle:
        json.dump({"credHelpers": {"ghcr.io": "desktop"}}, handle)
    assert cli("configure", "--registry", "ghcr.io", *FLAGS).code == 0
    data = read_helper_config(paths)
    assert sorted(data) == ["registries", "replaced", "version"]
    assert (data["version"], data["replaced"]) == (1, {"ghcr.io": "desktop"})
    assert cli("configure", "--registry", "nvcr.io", *FLAGS).code == 0
    data = read_helper_config(paths)
    assert sorted(data) == ["registries", "replaced", "version"] and data["version"] == 1


@pytest.mark.parametrize(
    ("data", "says"),
    [
        ({"registries": []}, "{path} is malformed; re-run configure"),
        (
            {"registries": {"ghcr.io": "REGISTRY_SECRET"}},
            "{path}: the entry for ghcr.io is malformed",
        ),
        (
            {"registries": {"ghcr.io": {"auth_method": "PASSWORD", "source": "/t"}}},
            "{path}: the entry for ghcr.io is malformed",
        ),
        (
            {"registries": {"ghcr.io": {"auth_method": "AWS_IAM", "source": 5}}},
            "{path}: the entry for ghcr.io is malformed",
        ),
        ({"replaced": "desktop"}, "{path}: replaced is malformed"),
        ({"replaced": {"ghcr.io": 5}}, "{path}: replaced is malformed"),
    ],
)
def test_a_helper_config_in_another_shape_is_refused_naming_it(cli, paths, data, says):
    write_helper_config(paths, data)
    run = cli("unconfigure", "ghcr.io")
    assert run.code != 0
    assert says.format(path=paths.helper_config) in run.err, run.err
    assert read_helper_config(paths) == data


class SpoilingStderr(io.StringIO):
    """stderr that lets another program spoil the helper config at the first warning:
    after configure read it, before configure writes it."""

    def __init__(self, paths) -> None:
        super().__init__()
        self.paths, self.spoiled = paths, False

    def write(self, text: str) -> int:
        if text.startswith("warning: ") and not self.spoiled:
            write_helper_config(self.paths, {"registries": []})
            self.spoiled = True
        return super().write(text)


def test_a_helper_config_spoiled_while_configure_ran_is_refused_not_overwritten(env, paths):
    out, err = io.BytesIO(), SpoilingStderr(paths)
    # AWS_IAM on ghcr.io is imported with a warning
    argv = ["configure", "--registry", "ghcr.io", "--auth-method", "AWS_IAM"]
    code = main(argv, stdin=io.BytesIO(), stdout=out, stderr=err, env=env)
    assert code != 0
    says = f"{paths.helper_config} is malformed; move it aside and re-run"
    assert says in err.getvalue(), err.getvalue()
    assert read_helper_config(paths) == {"registries": []}
