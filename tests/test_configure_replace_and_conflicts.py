"""configure's word on a registry it already knows, and the counts and notes a person reads.

A registry recorded with other settings is kept until ``--replace``; the same truss
again is an update; the same settings again are "unchanged". A configure that raced
another one is judged again under the lock. In-process, through the CLI's entry point.
"""

from __future__ import annotations

import io
import json
import os

import pytest

from docker_credential_truss import config
from docker_credential_truss.cli import main


@pytest.fixture(autouse=True)
def helper_on_path(env, tmp_path) -> None:
    """The installed helper on PATH, as after an install: configure warns otherwise."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    helper = bin_dir / "docker-credential-truss"
    helper.write_text("#!/bin/sh\n")
    helper.chmod(0o755)
    env["PATH"] = str(bin_dir)


def a_truss(tmp_path, name: str, docker_auth: str, image: str = "ghcr.io/o/i:1") -> str:
    directory = tmp_path / name
    directory.mkdir(exist_ok=True)
    (directory / "config.yaml").write_text(
        f"base_image:\n  image: {image}\n  docker_auth: {docker_auth}\n"
    )
    return str(directory)


def source(path: str) -> str:
    return os.path.join(path, "config.yaml")


SECRET_A = "{auth_method: REGISTRY_SECRET, secret_name: pat_a}"
SECRET_B = "{auth_method: REGISTRY_SECRET, secret_name: pat_b}"


def test_other_settings_for_a_recorded_registry_are_refused_until_replace(cli, tmp_path, paths):
    one, two = a_truss(tmp_path, "one", SECRET_A), a_truss(tmp_path, "two", SECRET_B)
    assert cli("configure", one).code == 0
    run = cli("configure", two)
    assert (run.code, run.out) == (1, "")
    assert run.err.splitlines() == [
        f"error: ghcr.io is already recorded with REGISTRY_SECRET (secret_name=pat_a) from"
        f" {source(one)}; {source(two)} has REGISTRY_SECRET (secret_name=pat_b); kept the"
        " first: configure again with --replace to use the second",
        "1 problem; nothing imported",
    ]
    assert config.load(paths)["ghcr.io"]["secret_name"] == "pat_a"
    dry = cli("configure", "--dry-run", two)  # a dry run says the same
    assert (dry.code, dry.out, dry.err) == (1, "", run.err)
    replaced = cli("configure", "--replace", two)
    assert (replaced.code, replaced.err) == (0, "")
    assert config.load(paths)["ghcr.io"]["source"] == source(two)


def test_two_trusses_in_one_run_are_judged_against_each_other(cli, tmp_path, paths):
    one, two = a_truss(tmp_path, "one", SECRET_A), a_truss(tmp_path, "two", SECRET_B)
    run = cli("configure", one, two)
    assert run.code == 1
    refused = "error: ghcr.io is already recorded with REGISTRY_SECRET (secret_name=pat_a)"
    assert f"{refused} from {source(one)};" in run.err
    assert run.err.endswith("1 problem; 1 imported\n")
    assert config.load(paths)["ghcr.io"]["secret_name"] == "pat_a"


def test_problems_are_counted_and_what_had_none_is_imported(cli, tmp_path, paths):
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "pat")
    assert cli("configure", "--registry", "ghcr.io", *flags).code == 0
    assert cli("configure", "--registry", "nvcr.io", *flags).code == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.yaml").write_text(
        "secrets:\n  DOCKER_REGISTRY_ghcr.io: null\n  DOCKER_REGISTRY_nvcr.io: null\n"
        "  DOCKER_REGISTRY_quay.io: null\n"
    )
    missing = str(tmp_path / "missing")
    run = cli("configure", missing, str(other))
    assert run.code == 1
    lines = run.err.splitlines()
    assert lines[0].startswith(f"error: cannot read truss config {missing}: ")
    assert [line[:23] for line in lines[1:3]] == [
        "error: ghcr.io is alrea",
        "error: nvcr.io is alrea",
    ]
    assert lines[3:] == ["3 problems; 1 imported"]
    assert set(config.load(paths)) == {"ghcr.io", "nvcr.io", "quay.io"}


def test_two_problems_are_problems_and_each_source_counts(cli, tmp_path, paths):
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "config.yaml").write_text(
        "base_image: {image: ghcr.io/o/i:1, docker_auth: {auth_method: PASSWORD}}\n"
        "secrets: {DOCKER_REGISTRY_quay.io: 5}\n"
    )
    run = cli("configure", str(bad))
    assert run.code == 1 and run.err.endswith("\n2 problems; nothing imported\n"), run.err
    missing = [str(tmp_path / "missing-1"), str(tmp_path / "missing-2")]
    run = cli("configure", *missing, str(bad))
    assert run.code == 1 and run.err.endswith("\n4 problems; nothing imported\n"), run.err
    assert not os.path.exists(paths.helper_config)


def test_a_refusal_is_said_with_its_trusss_other_lines(cli, tmp_path):
    one, two = a_truss(tmp_path, "one", SECRET_A), a_truss(tmp_path, "two", SECRET_B)
    warned = a_truss(tmp_path, "three", "{auth_method: AWS_IAM}", image="nvcr.io/o/i:1")
    assert cli("configure", one).code == 0
    run = cli("configure", two, warned)
    lines = run.err.splitlines()
    assert lines[0].startswith("error: ghcr.io is already recorded") and lines[1].startswith(
        "warning: "
    ), run.err


def test_the_same_truss_again_is_an_update(cli, tmp_path, paths):
    one = a_truss(tmp_path, "one", SECRET_A)
    assert cli("configure", one).code == 0
    a_truss(tmp_path, "one", SECRET_B)  # edited since
    run = cli("configure", one)
    assert (run.code, run.err) == (0, "")
    assert config.load(paths)["ghcr.io"]["secret_name"] == "pat_b"


def test_the_same_settings_again_are_unchanged_and_flags_are_a_new_source(cli, tmp_path, paths):
    flags = ("--registry", "ghcr.io", "--auth-method", "REGISTRY_SECRET")
    assert cli("configure", *flags, "--secret-name", "pat").code == 0
    again = cli("configure", *flags, "--secret-name", "pat")
    assert (again.code, again.err) == (0, "")
    assert again.out == (
        "ghcr.io: already recorded with these settings from the command line; unchanged\n"
    )
    other = cli("configure", *flags, "--secret-name", "other")
    assert other.code == 1 and "error: ghcr.io is already recorded with" in other.err
    one = a_truss(
        tmp_path, "one", "{auth_method: REGISTRY_SECRET, registry: ghcr.io, secret_name: pat}"
    )
    same = cli("configure", one)
    assert (same.code, same.err) == (0, "")
    assert "from the command line; unchanged" in same.out


class RacingStderr(io.StringIO):
    """stderr that lets another configure record ``entry`` when the first warning is
    written: after this one judged its registries, before it writes them."""

    def __init__(self, paths, entry: dict[str, str]) -> None:
        super().__init__()
        self.paths, self.entry = paths, entry

    def write(self, text: str) -> int:
        if text.startswith("warning: ") and self.entry:
            config.merge(self.paths, {"ghcr.io": self.entry})
            self.entry = {}
        return super().write(text)


def configure_racing(
    env, paths, path: str, entry: dict[str, str], *more: str
) -> tuple[int, str, str]:
    out, err = io.BytesIO(), RacingStderr(paths, entry)
    argv = ["configure", *more, path]
    code = main(argv, stdin=io.BytesIO(), stdout=out, stderr=err, env=env)
    return code, out.getvalue().decode(), err.getvalue()


def test_a_registry_another_configure_recorded_meanwhile_is_judged_again(env, tmp_path, paths):
    # AWS_IAM on ghcr.io: imported, with a warning (truss accepts it)
    path = a_truss(tmp_path, "one", "{auth_method: AWS_IAM}")
    racer = {"auth_method": "REGISTRY_SECRET", "secret_name": "pat", "source": "/elsewhere"}
    code, out, err = configure_racing(env, paths, path, racer)
    assert code == 1, err

    assert (
        f"error: ghcr.io is already recorded with REGISTRY_SECRET (secret_name=pat) from"
        f" /elsewhere; {source(path)} has AWS_IAM; kept the first" in err
    )
    assert err.endswith("1 problem; nothing imported\n") and out == ""
    assert config.load(paths)["ghcr.io"] == racer
    assert not os.path.exists(paths.docker_config)


def test_a_refusal_after_the_race_adds_to_the_problems_before_it(env, tmp_path, paths):
    path = a_truss(tmp_path, "one", "{auth_method: AWS_IAM}")
    racer = {"auth_method": "REGISTRY_SECRET", "secret_name": "pat", "source": "/elsewhere"}
    code, _out, err = configure_racing(env, paths, path, racer, str(tmp_path / "gone"))
    assert code == 1 and err.endswith("\n2 problems; nothing imported\n"), err


def test_the_same_settings_recorded_meanwhile_are_unchanged(env, tmp_path, paths):
    path = a_truss(tmp_path, "one", "{auth_method: AWS_IAM}")
    racer = {"auth_method": "AWS_IAM", "source": "/elsewhere"}
    code, out, err = configure_racing(env, paths, path, racer)
    assert code == 0, err
    assert out == "ghcr.io: already recorded with these settings from /elsewhere; unchanged\n"
    assert config.load(paths)["ghcr.io"] == racer


def test_what_a_run_records_and_routes_is_listed(cli, paths):
    os.makedirs(os.path.dirname(paths.docker_config))
    with open(paths.docker_config, "w") as handle:
        json.dump({"credHelpers": {"ghcr.io": "desktop"}}, handle)
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "pat")
    for dry, (record, route) in (
        (("--dry-run",), ("would record", "would route")),
        ((), ("recorded", "routed")),
    ):
        run = cli("configure", *dry, "--registry", "ghcr.io", *flags)
        assert (run.code, run.err) == (0, "")
        assert run.out.splitlines() == [
            f"{record} in {paths.helper_config}:",
            "  ghcr.io: REGISTRY_SECRET (registry=ghcr.io, secret_name=pat)",
            f"{route} to docker-credential-truss in {paths.docker_config}:",
            '  "credHelpers": {"ghcr.io": "truss"} (was \'desktop\'; unconfigure puts it back)',
        ]
    run = cli("configure", "--registry", "nvcr.io", *flags)
    assert run.out.splitlines()[-1] == '  "credHelpers": {"nvcr.io": "truss"}'


def test_an_entry_with_no_settings_but_its_method_is_shown_bare(cli, tmp_path, paths):
    ecr = "123456789012.dkr.ecr.us-east-1.amazonaws.com"
    path = a_truss(tmp_path, "one", "{auth_method: AWS_IAM}", image=f"{ecr}/i:1")
    run = cli("configure", path)
    assert run.code == 0, run.err
    assert run.out.splitlines()[1] == f"  {ecr}: AWS_IAM"


def test_a_truss_without_registries_is_named_in_a_note(cli, tmp_path, paths):
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "config.yaml").write_text("model_name: m\n")
    chains = tmp_path / "chain.py"
    chains.write_text("import truss_chains\n")
    run = cli(
        "configure", str(plain), str(chains), "--registry", "ghcr.io", "--auth-method", "AWS_IAM"
    )
    assert run.code == 0, run.err
    says = (
        " names no private registry (no docker_auth and no DOCKER_REGISTRY_* secrets);"
        " nothing to import"
    )
    assert run.err.splitlines()[:2] == [
        f"note: {plain}/config.yaml{says}",
        f"note: {chains}{says}",
    ]
    assert "ghcr.io" in config.load(paths)  # the sources after a note still count


def test_flag_problems_name_the_flags(cli):
    run = cli("configure", "--registry", "ghcr.io", "--auth-method", "GCP_OIDC")
    assert run.code == 1
    assert run.err.startswith("error: --registry/--auth-method flags: "), run.err


def test_a_helper_that_is_not_on_path_is_warned_of(cli, tmp_path):
    flags = ("--auth-method", "REGISTRY_SECRET", "--secret-name", "pat")
    run = cli("configure", "--registry", "nvcr.io", *flags)
    assert (run.code, run.err) == (0, "")  # on PATH (the fixture)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    run = cli("configure", "--registry", "ghcr.io", *flags, extra={"PATH": str(elsewhere)})
    warning = "warning: docker-credential-truss is not on PATH; docker will not find the helper\n"
    assert run.code == 0 and run.err == warning
