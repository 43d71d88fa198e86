"""doctor's routing lines for Docker Hub, which docker sends under two credHelpers keys,
word for word, in-process: both keys routed (one ok naming both, and with
``--no-registry`` the registry not contacted, saying so), neither routed (each key with
what it has now, and both to add), one routed (only the other to add).

The secret is a sentinel in the environment; the credential is made from it without the
network.
"""

from __future__ import annotations

import base64
import json
import os

HUB = "https://index.docker.io/v1/"
VALUE = base64.b64encode(b"builder:SENTINEL-hub-pw-3b9d").decode()
SECRET = {f"TRUSS_SECRET_DOCKER_REGISTRY_{HUB}": VALUE}


def lines_of(run) -> list[str]:  # type: ignore[no-untyped-def]
    return run.out.splitlines()


def helpers(paths, mapping: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    os.makedirs(os.path.dirname(paths.docker_config), exist_ok=True)
    with open(paths.docker_config, "w") as handle:
        json.dump({"auths": {}, "credHelpers": mapping}, handle)


def test_both_keys_routed_is_one_ok_and_no_registry_says_why_it_was_not_contacted(cli, paths):
    helpers(paths, {HUB: "truss", "docker.io": "truss"})
    run = cli("doctor", "--no-registry", "docker.io", extra=SECRET)
    lines = lines_of(run)
    at = lines.index(HUB)
    assert lines[at + 1] == (
        f'  ok    docker sends it here: credHelpers {HUB} and docker.io -> "truss"'
    )
    assert "  --    registry: not contacted (--no-registry)" in lines, run.out
    assert "SENTINEL-hub-pw" not in run.out and VALUE not in run.out


def test_neither_key_routed_names_each_with_what_it_has_and_both_to_add(cli, paths):
    helpers(paths, {HUB: "desktop"})
    run = cli("doctor", "--no-registry", "docker.io", extra=SECRET)
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(HUB)
    assert lines[at + 1 : at + 3] == [
        f"  FAIL  docker does not send it to this helper; credHelpers in {paths.docker_config}"
        f' has: {HUB} ("desktop"), docker.io (no entry)',
        "        fix: run: docker-credential-truss configure PATH/TO/MY-TRUSS; or add"
        f' "{HUB}": "truss", "docker.io": "truss" to "credHelpers" in {paths.docker_config}',
    ]


def test_one_key_routed_asks_to_add_only_the_other(cli, paths):
    helpers(paths, {HUB: "truss"})
    run = cli("doctor", "--no-registry", "docker.io", extra=SECRET)
    assert run.code == 1
    lines = lines_of(run)
    at = lines.index(HUB)
    assert lines[at + 1 : at + 3] == [
        f"  FAIL  docker does not send it to this helper; credHelpers in {paths.docker_config}"
        " has: docker.io (no entry)",
        "        fix: run: docker-credential-truss configure PATH/TO/MY-TRUSS; or add"
        f' "docker.io": "truss" to "credHelpers" in {paths.docker_config}',
    ]
