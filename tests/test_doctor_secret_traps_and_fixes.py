"""doctor's lines about a registry's secret, word for word, in-process: a value made with
``echo`` (its user or password ends in white space), a name one slip from the one looked
for, the name put at the top level of ~/.truss/config.yaml, the ``docker pull`` the fix
runs, and how the registry check is reached (``--insecure-registry``).

test_doctor.py's healthy set-up: a real docker-registry on loopback that accepts the
secret's credential, docker routing it to truss, the helper on PATH. Values are sentinels.
"""

from __future__ import annotations

import base64
import os
import socket

from test_doctor import PASSWORD, PORT, REG, bindir, healthy, registry_server, route  # noqa: F401

from docker_credential_truss import config


def lines_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.out.splitlines()


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


def test_a_password_made_with_echo_is_a_fail_saying_how_to_remake_it(
    cli,
    healthy,  # noqa: F811
    paths,
    truss_secrets,
):
    truss_secrets({f"DOCKER_REGISTRY_{REG}": b64(f"builder:{PASSWORD}\n")})
    run = cli("doctor", REG)
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(
        f"  FAIL  secret DOCKER_REGISTRY_{REG} in {paths.truss_config}: the password ends in a"
        " newline, which the registry will refuse; made with `echo`? use"
        " `printf %s user:pw | base64`"
    )
    assert lines[at + 1] == (
        f"        fix: make the value again with printf (not echo) and put it in"
        f" {paths.truss_config} in place of the old one:"
        " printf %s 'USER:PASSWORD' | base64 | tr -d '\\n'"
    )
    assert PASSWORD not in run.out


def test_a_user_name_ending_in_a_space_is_named(cli, healthy, paths, truss_secrets):  # noqa: F811
    truss_secrets({f"DOCKER_REGISTRY_{REG}": b64(f"builder :{PASSWORD}")})
    run = cli("doctor", REG)
    assert any(
        line.startswith(
            f"  FAIL  secret DOCKER_REGISTRY_{REG} in {paths.truss_config}: the user"
            " name ends in a space, which the registry will refuse;"
        )
        for line in lines_of(run)
    ), run.out


def test_a_clean_value_has_no_blank_end_fail(cli, healthy):  # noqa: F811
    run = cli("doctor", REG)
    assert run.code == 0, run.out
    assert "ends in" not in run.out


def test_a_missing_secret_points_to_a_near_miss_and_a_top_level_key(cli, healthy, paths):  # noqa: F811
    config.merge(paths, {REG: {"auth_method": "REGISTRY_SECRET", "secret_name": "reg-pw"}})
    os.makedirs(os.path.dirname(paths.truss_config), exist_ok=True)
    with open(paths.truss_config, "w") as handle:
        handle.write(f"reg-pw: x\nsecrets:\n  REG-PW: {b64('builder:pw')}\n")
    run = cli("doctor", REG)
    assert run.code == 1
    lines = lines_of(run)
    assert any(
        line.startswith(f"  --    did you mean 'REG-PW' (in {paths.truss_config})? ")
        for line in lines
    ), run.out
    assert (
        f"  --    did you mean 'reg-pw' at the top level of {paths.truss_config}? truss"
        " reads secrets only under secrets: (indent it by two spaces below a secrets: line)"
    ) in lines, run.out


def test_the_fix_for_a_missing_secret_runs_docker_pull_of_an_image_on_it(cli, healthy, paths):  # noqa: F811
    config.merge(paths, {REG: {"auth_method": "REGISTRY_SECRET", "secret_name": "reg-pw"}})
    run = cli("doctor", REG)
    lines = lines_of(run)
    assert any(line.endswith(f" docker pull {REG}/IMAGE") for line in lines), run.out
    assert "  --    None" not in lines  # no near miss, no misplaced key: no note at all


def test_the_fix_for_docker_hub_pulls_a_bare_image_name(cli, healthy, paths):  # noqa: F811
    config.merge(
        paths,
        {
            "https://index.docker.io/v1/": {
                "auth_method": "REGISTRY_SECRET",
                "secret_name": "hub-pw",
            }
        },
    )
    run = cli("doctor", "docker.io", "--offline")
    assert any(line.endswith(" docker pull IMAGE") for line in lines_of(run)), run.out


def test_less_than_an_hour_left_is_said_in_minutes(cli, healthy, paths):  # noqa: F811
    import time

    from docker_credential_truss.cache import TokenCache
    from docker_credential_truss.minting import Token

    now = time.time()
    TokenCache(paths.token_cache).put(REG, "id", Token("u", "SENTINEL-c7", now + 2750), now)
    run = cli("doctor", REG)
    assert any(line.endswith("(fresh, 45m left)") for line in lines_of(run)), run.out


def test_the_registry_checks_findings_keep_their_kind_and_text(cli, healthy):  # noqa: F811
    lines = lines_of(cli("doctor", REG))
    assert "  --    registry check over plain http (a loopback registry)" in lines
    assert f"  ok    registry accepted the credential: GET http://{REG}/v2/ -> 200 (Basic)" in lines


def test_an_insecure_registry_named_is_checked_over_plain_http(
    cli,
    healthy,  # noqa: F811
    paths,
    truss_secrets,
    monkeypatch,
):
    host = f"registry.doctor.test:{PORT}"  # not loopback by name: resolved by the test
    real = socket.getaddrinfo

    def resolve(name, *args, **kwargs):  # type: ignore[no-untyped-def]
        if name == "registry.doctor.test":
            name = "127.0.0.1"
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    truss_secrets({f"DOCKER_REGISTRY_{host}": b64(f"builder:{PASSWORD}")})
    route(paths, host)
    run = cli("doctor", host, "--insecure-registry", host)
    lines = lines_of(run)
    assert "  --    registry check over plain http (named with --insecure-registry)" in lines, (
        run.out
    )
    assert (
        f"  ok    registry accepted the credential: GET http://{host}/v2/ -> 200 (Basic)" in lines
    )
