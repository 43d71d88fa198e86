"""How ``configure`` and ``doctor`` treat docker's config.json, seen in the file and output.

docker's config.json belongs to the person and to docker: configure changes only the
``credHelpers`` keys it routes, keeps the file readable by people (indented), keeps its
mode, says which helper it replaced, leaves an already routed file alone, and names the
file in every error. In-process, through the CLI's entry point.
"""

from __future__ import annotations

import json
import os
import stat

import pytest


def write_config(env, data: object, mode: int = 0o600) -> str:
    os.makedirs(env["DOCKER_CONFIG"], exist_ok=True)
    path = os.path.join(env["DOCKER_CONFIG"], "config.json")
    with open(path, "w") as handle:
        handle.write(data if isinstance(data, str) else json.dumps(data))
    os.chmod(path, mode)
    return path


def route_ghcr(cli, *flags: str, extra: dict | None = None):  # type: ignore[no-untyped-def]
    argv = ("--registry", "ghcr.io", "--auth-method", "REGISTRY_SECRET")
    return cli("configure", *flags, *argv, extra=extra)


def test_a_new_file_is_written_indented_for_people_to_read(cli, env):
    assert route_ghcr(cli).code == 0
    with open(os.path.join(env["DOCKER_CONFIG"], "config.json")) as handle:
        lines = handle.read().splitlines()
    assert json.loads("\n".join(lines)) == {"credHelpers": {"ghcr.io": "truss"}}
    assert len(lines) == 5 and lines[2].strip() == '"ghcr.io": "truss"', lines


def test_an_already_routed_file_is_left_as_it_is(cli, env):
    path = write_config(env, '{"credHelpers":{"ghcr.io":"truss"}}')
    before = os.stat(path)
    run = route_ghcr(cli)
    assert run.code == 0, run.err
    assert f"{path} already routes these registries to truss" in run.out
    after = os.stat(path)
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_the_helper_a_registry_was_routed_to_is_named(cli, env):
    path = write_config(env, {"credHelpers": {"ghcr.io": "desktop", "nvcr.io": "pass"}})
    for flags in (("--dry-run",), ()):
        run = route_ghcr(cli, *flags)
        assert run.code == 0, run.err
        assert "ghcr.io" in run.out and "(was 'desktop'" in run.out, run.out
    with open(path) as handle:
        assert json.load(handle)["credHelpers"] == {"ghcr.io": "truss", "nvcr.io": "pass"}


def test_a_shared_docker_config_others_may_write_is_still_routed(cli, env):
    # docker itself reads a group-writable config.json (a shared CI home, say): it is
    # docker's file, not one of the helper's secret stores, so configure uses it too.
    path = write_config(env, {"auths": {}}, mode=0o664)
    os.chmod(env["DOCKER_CONFIG"], 0o775)
    run = route_ghcr(cli)
    assert run.code == 0, run.out + run.err
    with open(path) as handle:
        assert json.load(handle)["credHelpers"] == {"ghcr.io": "truss"}
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o664


def test_credhelpers_that_is_no_object_is_named_with_its_file(cli, env):
    path = write_config(env, {"credHelpers": ["ghcr.io"]})
    for flags in (("--dry-run",), ()):
        run = route_ghcr(cli, *flags)
        assert run.code == 1
        assert f"credHelpers in {path} should be a JSON object" in run.out + run.err
    run = cli("doctor", "--offline")
    assert f"credHelpers in {path} should be a JSON object" in run.out + run.err


def test_a_docker_config_that_cannot_be_reached_is_named(cli, env, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    run = route_ghcr(cli, extra={"DOCKER_CONFIG": str(blocker / "docker")})
    assert run.code == 1
    assert f"cannot read {blocker}/docker/config.json: Not a directory" in run.out + run.err


def test_a_docker_config_directory_that_cannot_be_made_is_named(cli):
    # procfs refuses mkdir, even to root: the one place every Linux test machine has.
    run = route_ghcr(cli, extra={"DOCKER_CONFIG": "/proc/sys/dct-no-such-dir"})
    assert run.code == 1
    assert "cannot create /proc/sys/dct-no-such-dir: " in run.out + run.err, run.out + run.err


def test_a_one_line_file_stays_on_one_line(cli, env):
    path = write_config(env, '{"auths": {}}')
    assert route_ghcr(cli).code == 0
    with open(path) as handle:
        text = handle.read()
    assert text == '{"auths": {}, "credHelpers": {"ghcr.io": "truss"}}'


def test_a_file_an_editor_saved_with_a_bom_is_routed(cli, env):
    path = write_config(env, '\ufeff{"auths": {}}')
    run = route_ghcr(cli)
    assert run.code == 0, run.err
    with open(path, encoding="utf-8") as handle:
        assert json.load(handle) == {"auths": {}, "credHelpers": {"ghcr.io": "truss"}}


def test_a_file_that_is_not_a_json_object_is_named_and_left_as_it_is(cli, env):
    for number, (text, says) in enumerate(
        (
            (b'{"auths": {', "{path} is not valid JSON; move it aside to start afresh"),
            (b'["auths"]', "{path} does not hold a JSON object; move it aside to start afresh"),
            (b'{"psFormat": "caf\xe9"}', "cannot read {path}: not UTF-8 text"),
        )
    ):
        path = write_config(env, "")
        with open(path, "wb") as handle:
            handle.write(text)
        for flags in (("--dry-run",), ()):
            registry = ("--registry", f"r{number}.example", "--auth-method", "REGISTRY_SECRET")
            run = cli("configure", *flags, *registry)
            assert run.code == 1, run.out
            assert f"docker config: {says.format(path=path)}" in run.err, run.err
        with open(path, "rb") as handle:
            assert handle.read() == text


def test_writers_take_their_lock_in_the_helpers_directory_not_dockers(
    cli, env, tmp_path, monkeypatch
):
    # docker's directory is docker's: a config.json.lock there looks like a stale lock of
    # docker's own. A lock that cannot be taken is named, and nothing is written.
    monkeypatch.chdir(tmp_path)
    before = sorted(os.listdir(tmp_path))
    assert route_ghcr(cli).code == 0
    assert os.listdir(env["DOCKER_CONFIG"]) == ["config.json"]
    assert sorted(os.listdir(tmp_path)) == sorted([*before, "docker", "xdg-config"])
    lock = os.path.join(env["XDG_CONFIG_HOME"], "docker-credential-truss", "docker-config.lock")
    os.remove(lock)
    os.mkdir(lock)  # a lock that cannot be opened
    run = cli("configure", "--registry", "nvcr.io", "--auth-method", "REGISTRY_SECRET")
    assert run.code == 1
    assert f"cannot open lock {lock}: Is a directory" in run.err, run.err
    with open(os.path.join(env["DOCKER_CONFIG"], "config.json")) as handle:
        assert json.load(handle) == {"credHelpers": {"ghcr.io": "truss"}}


def test_a_broken_docker_config_records_nothing_so_the_same_command_routes_once_fixed(cli, env):
    from docker_credential_truss.paths import Paths

    path = write_config(env, '{"auths": {')
    run = route_ghcr(cli)
    assert run.code == 1
    assert "is not valid JSON" in run.err
    assert not os.path.exists(Paths.from_env(env).helper_config)
    write_config(env, {"auths": {}})
    run = route_ghcr(cli)
    assert run.code == 0, run.err
    with open(path) as handle:
        assert json.load(handle)["credHelpers"] == {"ghcr.io": "truss"}


def test_route_refuses_a_config_json_that_is_not_json_naming_it_and_leaving_it(tmp_path):
    # route reads the file again under its lock: one written meanwhile is judged too.
    from docker_credential_truss import dockerconfig
    from docker_credential_truss.errors import ConfigError

    path = tmp_path / "docker" / "config.json"
    path.parent.mkdir()
    path.write_text('{"auths": {')
    with pytest.raises(ConfigError) as raised:
        dockerconfig.route(str(path), ["ghcr.io"], str(tmp_path / "locks"))
    assert raised.value.message == (
        f"docker config: {path} is not valid JSON; move it aside to start afresh"
    )
    assert path.read_text() == '{"auths": {'


def test_route_says_why_a_config_json_cannot_be_looked_at(tmp_path):
    from docker_credential_truss import dockerconfig
    from docker_credential_truss.errors import ConfigError

    (tmp_path / "not-a-directory").write_text("")
    path = tmp_path / "not-a-directory" / "config.json"
    with pytest.raises(ConfigError) as raised:
        dockerconfig.route(str(path), ["ghcr.io"], str(tmp_path / "locks"))
    assert raised.value.message == f"cannot read {path}: Not a directory"
