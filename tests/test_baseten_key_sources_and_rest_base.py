"""Which key ``baseten`` sends, to which host, and what a person reads about it.

Through the CLI's entry point in-process, with name resolution answered by the test
(tests/test_baseten_api_base_and_plans.py's ``resolver``: only ``api.localhost:8000``
resolves, to the stand-in of tests/fakes/baseten.py), so the REST base is seen
without the override variable:

- a ``~/.trussrc`` remote without ``api_key`` sends ``$BASETEN_API_KEY`` to that
  remote's REST base, and a refusal points to that remote's settings page;
- a server that quotes the key back (as its error code) does not get it printed;
- only a known remote URL, exactly, is mapped; the override is kept as given less its
  trailing slashes;
- ``--remote`` with the environment pair set says why it cannot be used.
"""

from __future__ import annotations

import pytest
from harden.hostile import Server
from test_baseten_api_base_and_plans import (  # noqa: F401 (fixtures)
    ECR,
    KEY,
    baseten_env,
    fake,
    resolver,
    truss,
)

from docker_credential_truss import basetenapi
from docker_credential_truss.basetenapi import BasetenError, find_key

PLAIN = "SENTINEL-baseten-plain-2b9d"


def local_remote_without_a_key(tmp_path) -> str:
    trussrc = tmp_path / "trussrc"
    trussrc.write_text("[local]\nremote_provider = baseten\nremote_url = http://localhost:8000\n")
    return str(trussrc)


def test_a_remote_without_api_key_sends_baseten_api_key_to_its_rest_base(
    cli,
    baseten_env,  # noqa: F811
    tmp_path,
    resolver,  # noqa: F811
    fake,  # noqa: F811
):
    fake.secrets[None].update(aws_access_key_id="x", aws_secret_access_key="x")
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    trussrc = local_remote_without_a_key(tmp_path)
    run = cli(
        "baseten", "check", path, extra={"USER_TRUSSRC_PATH": trussrc, "BASETEN_API_KEY": KEY}
    )
    assert run.code == 0, run.out + run.err
    assert (
        "Baseten API http://api.localhost:8000, key from $BASETEN_API_KEY"
        f" (remote 'local' in {trussrc} has no api_key) (sent as Api-Key)" in run.out
    ), run.out
    assert set(resolver) == {("api.localhost", 8000)}
    assert [(r["method"], r["path"], r["scheme"]) for r in fake.requests] == [
        ("GET", "/v1/secrets", "Api-Key")
    ]


def test_a_refused_fallback_key_points_to_its_remotes_settings(
    cli,
    baseten_env,  # noqa: F811
    tmp_path,
    resolver,  # noqa: F811
    fake,  # noqa: F811
):
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    trussrc = local_remote_without_a_key(tmp_path)
    run = cli(
        "baseten", "check", path, extra={"USER_TRUSSRC_PATH": trussrc, "BASETEN_API_KEY": PLAIN}
    )
    assert run.code == 1
    assert run.err == (
        "docker-credential-truss: Baseten refused the API key from $BASETEN_API_KEY"
        f" (remote 'local' in {trussrc} has no api_key) (HTTP 401 UNAUTHENTICATED for"
        " GET /v1/secrets); check it, or make a new one in"
        " http://localhost:8000/settings/api_keys\n"
    )
    assert [(r["method"], r["path"], r["scheme"]) for r in fake.requests] == [
        ("GET", "/v1/secrets", "Api-Key")
    ]
    assert PLAIN not in run.out + run.err


def test_a_server_quoting_the_key_back_does_not_get_it_printed(cli, baseten_env, tmp_path):  # noqa: F811
    path = truss(tmp_path, "t", {"auth_method": "AWS_IAM"}, f"{ECR}/base:1")
    with Server(lambda handler: (401, {}, f'{{"code": "{PLAIN}"}}'.encode())) as server:
        extra = {
            "BASETEN_API_KEY": PLAIN,
            "DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": server.url,
            "USER_TRUSSRC_PATH": str(tmp_path / "none"),
        }
        run = cli("baseten", "check", path, extra=extra)
    assert run.code == 1
    assert run.err.startswith("docker-credential-truss: Baseten refused the API key from")
    assert "(HTTP 401 " in run.err
    assert PLAIN not in run.out + run.err


@pytest.mark.parametrize(
    ("remote_url", "api_url"),
    [
        ("https://app.staging.baseten.co//", "https://api.staging.baseten.co"),
        ("https://app.staging.baseten.coX", "https://api.baseten.co"),  # not staging's
        ("Xhttps://app.dev.baseten.co", "https://api.baseten.co"),
    ],
)
def test_only_a_known_remote_url_is_mapped(env, remote_url, api_url):
    pair = {"BASETEN_TRUSS_AUTH_REMOTE_URL": remote_url, "BASETEN_TRUSS_AUTH_API_KEY": KEY}
    assert find_key({**env, **pair}).api_url == api_url


def test_the_override_is_the_rest_base_less_its_trailing_slashes():
    env = {"DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": "https://gw.example/baseX//"}
    assert basetenapi.api_url_for("https://app.baseten.co", env) == "https://gw.example/baseX"


def test_remote_with_the_environment_pair_says_why_it_cannot_be_used(env):
    pair = {
        "BASETEN_TRUSS_AUTH_REMOTE_URL": "https://app.baseten.co",
        "BASETEN_TRUSS_AUTH_API_KEY": KEY,
    }
    with pytest.raises(BasetenError) as raised:
        find_key({**env, **pair}, "work")
    assert raised.value.message == (
        "--remote work cannot be used: BASETEN_TRUSS_AUTH_REMOTE_URL and"
        " BASETEN_TRUSS_AUTH_API_KEY are set, and truss gives them precedence;"
        " unset them to pick a ~/.trussrc remote"
    )
