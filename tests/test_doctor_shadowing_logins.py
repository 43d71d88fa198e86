"""doctor names the logins that answer before this helper, word for word, with the fix.

skopeo, podman and buildah read their auth files (``$REGISTRY_AUTH_FILE``, then
``$XDG_RUNTIME_DIR/containers/auth.json``, then ``~/.config/containers/auth.json``)
before docker's config; docker-py and docker-compose fall back to docker's own
``auths``. test_doctor.py's healthy set-up routes REG to truss; each test adds a login.
"""

from __future__ import annotations

import json
import os

from test_doctor import REG, bindir, healthy, registry_server  # noqa: F401 (fixtures)

SHADOW = (
    " (a podman, skopeo or buildah login): skopeo, podman and buildah read it before docker's"
    " config, so they never ask this helper"
)


def write(path: str, data: dict) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        json.dump(data, handle)
    return path


def fail_and_fix(run, fail: str) -> str:  # type: ignore[no-untyped-def]
    lines = run.out.splitlines()
    at = lines.index(f"  FAIL  {fail}")
    return lines[at + 1]


def test_a_podman_login_in_the_users_auth_file_is_named_with_its_logout(cli, healthy, tmp_path):  # noqa: F811
    home = healthy["HOME"]
    key = f"http://{REG}"  # another spelling of REG: the logout names the one logged in
    path = write(os.path.join(home, ".config", "containers", "auth.json"), {"auths": {key: {}}})
    run = cli("doctor", REG, extra={"XDG_RUNTIME_DIR": str(tmp_path / "runtime")})
    assert run.code == 1
    assert fail_and_fix(run, f"{path} auths has {key!r}{SHADOW}") == (
        f"        fix: podman logout --authfile {path} {key};"
        f' or add "credHelpers": {{"{REG}": "truss"}} to {path}'
    )


def test_another_helper_named_in_registry_auth_file_is_named(cli, healthy, tmp_path):  # noqa: F811
    path = write(str(tmp_path / "auth.json"), {"credHelpers": {REG: "pass"}})
    run = cli(
        "doctor",
        REG,
        extra={"REGISTRY_AUTH_FILE": path, "XDG_RUNTIME_DIR": str(tmp_path / "runtime")},
    )
    assert run.code == 1
    assert fail_and_fix(run, f"{path} \"credHelpers\" names 'pass'{SHADOW}") == (
        f"        fix: podman logout --authfile {path} {REG};"
        f' or add "credHelpers": {{"{REG}": "truss"}} to {path}'
    )


def test_an_auth_file_that_sends_it_here_first_ends_the_search(cli, healthy, tmp_path):  # noqa: F811
    first = write(str(tmp_path / "auth.json"), {"credHelpers": {REG: "truss"}})
    runtime = tmp_path / "runtime"
    write(str(runtime / "containers" / "auth.json"), {"auths": {REG: {}}})
    run = cli("doctor", REG, extra={"REGISTRY_AUTH_FILE": first, "XDG_RUNTIME_DIR": str(runtime)})
    assert run.code == 0, run.out
    assert "podman logout" not in run.out


def test_an_auths_entry_in_dockers_config_is_a_warning(cli, healthy, paths, tmp_path):  # noqa: F811
    key = f"http://{REG}"
    write(paths.docker_config, {"auths": {key: {}}, "credHelpers": {REG: "truss"}})
    run = cli("doctor", REG, extra={"XDG_RUNTIME_DIR": str(tmp_path / "runtime")})
    lines = run.out.splitlines()
    at = lines.index(
        f"  WARN  {paths.docker_config} also has an auths entry {key!r}: docker-py and"
        " docker-compose use it whenever this helper has no credential"
    )
    assert lines[at + 1] == f'        fix: remove "{key}" from "auths" in {paths.docker_config}'


def test_a_login_for_a_registry_not_routed_here_is_none_of_doctors_business(
    cli,
    healthy,  # noqa: F811
    paths,
    tmp_path,
):
    write(paths.docker_config, {"credHelpers": {REG: "pass"}})
    path = write(
        os.path.join(healthy["HOME"], ".config", "containers", "auth.json"), {"auths": {REG: {}}}
    )
    run = cli("doctor", REG, extra={"XDG_RUNTIME_DIR": str(tmp_path / "runtime")})
    assert "podman logout" not in run.out, run.out
    assert path not in run.out


def test_without_home_in_the_environment_the_users_auth_file_is_still_read(
    healthy,  # noqa: F811
    tmp_path,
    monkeypatch,
):
    import io

    from docker_credential_truss.cli import main

    home = healthy["HOME"]
    path = write(os.path.join(home, ".config", "containers", "auth.json"), {"auths": {REG: {}}})
    monkeypatch.setenv("HOME", home)
    env = {k: v for k, v in healthy.items() if k != "HOME"}
    env["XDG_RUNTIME_DIR"] = str(tmp_path / "runtime")
    out = io.BytesIO()
    code = main(["doctor", REG], stdin=io.BytesIO(), stdout=out, stderr=io.StringIO(), env=env)
    assert code == 1
    assert f"  FAIL  {path} auths has {REG!r}{SHADOW}" in out.getvalue().decode().splitlines()
