"""basetenapi in-process: which key and REST base truss's rules pick, what each request
carries, and the one line a person reads for each answer that cannot be used.

The key values are sentinels; no message may show one (each test checks the ones it
makes). Servers are tests/fakes/baseten.py's stand-in, or, to see the headers,
tests/harden/hostile.py's ``Server``.
"""

from __future__ import annotations

import json

import pytest
from fakes.baseten import FakeBaseten
from harden.hostile import Server

from docker_credential_truss import basetenapi
from docker_credential_truss.basetenapi import BasetenError, Client, find_key

KEY = "SENTINEL-basetenapi-key-1f3b"
SHAPE = 'Baseten\'s answer to GET /v1/secrets is not the expected {{"secrets": [{{"name": ...}}]}}'
PLAIN = "SENTINEL-basetenapi-plain-8e2d"


def write_trussrc(path, **sections: dict) -> str:  # type: ignore[no-untyped-def]
    path.write_text(
        "".join(
            f"[{name}]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())
            for name, values in sections.items()
        )
    )
    return str(path)


def refused(env, remote: str | None = None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BasetenError) as raised:
        find_key(env, remote)
    message = raised.value.message
    assert KEY not in message and PLAIN not in message
    return message


# --- where ~/.trussrc is, and the REST base -------------------------------------------


def test_trussrc_is_in_home_or_where_user_trussrc_path_says(tmp_path, monkeypatch):
    assert basetenapi.trussrc_path({"HOME": "/h"}) == "/h/.trussrc"
    assert basetenapi.trussrc_path({"HOME": "/h", "USER_TRUSSRC_PATH": "~/rc"}) == "/h/rc"
    assert basetenapi.trussrc_path({"HOME": "/h", "USER_TRUSSRC_PATH": "/etc/rc"}) == "/etc/rc"
    monkeypatch.setenv("HOME", str(tmp_path))
    assert basetenapi.trussrc_path({}) == f"{tmp_path}/.trussrc"


def test_the_api_url_variable_overrides_the_mapping_without_its_trailing_slash():
    env = {"DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL": " https://api.example/ "}
    assert basetenapi.api_url_for("https://app.baseten.co", env) == "https://api.example"
    assert basetenapi.api_url_for("http://localhost:8000/", {}) == "http://api.localhost:8000"


# --- which key --------------------------------------------------------------------------


def test_the_remote_url_variable_alone_is_an_error(env):
    assert refused({**env, "BASETEN_TRUSS_AUTH_REMOTE_URL": "https://app.baseten.co"}) == (
        "BASETEN_TRUSS_AUTH_REMOTE_URL is set but BASETEN_TRUSS_AUTH_API_KEY is not;"
        " set both or neither"
    )


def test_the_environment_pair_is_sent_as_bearer_to_its_mapped_base(env):
    key = find_key(
        {
            **env,
            "BASETEN_TRUSS_AUTH_REMOTE_URL": "https://app.staging.baseten.co",
            "BASETEN_TRUSS_AUTH_API_KEY": KEY,
        }
    )
    assert (key.value, key.scheme, key.api_url) == (KEY, "Bearer", "https://api.staging.baseten.co")
    assert key.remote_url == "https://app.staging.baseten.co"
    assert repr(key) == (
        "ApiKey(scheme='Bearer', source='$BASETEN_TRUSS_AUTH_API_KEY"
        " (with $BASETEN_TRUSS_AUTH_REMOTE_URL)')"
    )


def test_baseten_api_key_without_a_trussrc_is_for_app_baseten_co(env):
    key = find_key({**env, "BASETEN_API_KEY": PLAIN})
    assert (key.value, key.scheme, key.remote_url, key.api_url) == (
        PLAIN,
        "Api-Key",
        "https://app.baseten.co",
        "https://api.baseten.co",
    )


def test_a_named_remote_absent_from_the_trussrc_lists_the_ones_there(env, tmp_path):
    assert refused(env, "work") == f"no remote 'work' in {env['HOME']}/.trussrc (no such file)"
    path = write_trussrc(
        tmp_path / "rc", a={"remote_url": "https://app.baseten.co"}, b={"remote_url": "x"}
    )
    assert refused({**env, "USER_TRUSSRC_PATH": path}, "work") == (
        f"no remote 'work' in {path} (remotes: a, b)"
    )
    empty = tmp_path / "empty"
    empty.write_text("")
    assert refused({**env, "USER_TRUSSRC_PATH": str(empty)}, "work") == (
        f"no remote 'work' in {empty} (no remote in it)"
    )


def test_a_trussrc_that_cannot_be_read_or_parsed_says_so_without_quoting_it(env, tmp_path):
    directory = tmp_path / "rc-dir"
    directory.mkdir()
    message = refused({**env, "USER_TRUSSRC_PATH": str(directory)})
    assert f"{directory} (cannot read it: " in message
    broken = tmp_path / "broken"
    broken.write_text(f"api_key = {KEY}\n[x\n")
    assert refused({**env, "USER_TRUSSRC_PATH": str(broken)}) == (
        f"{broken} is not a valid INI file"
    )


def test_a_remote_without_remote_url_or_any_key(env, tmp_path):
    path = write_trussrc(tmp_path / "rc", work={"api_key": KEY})
    assert (
        refused({**env, "USER_TRUSSRC_PATH": path}) == f"remote 'work' in {path} has no remote_url"
    )
    path = write_trussrc(tmp_path / "rc", work={"remote_url": "https://app.baseten.co"})
    assert refused({**env, "USER_TRUSSRC_PATH": path}) == (
        f"no Baseten API key: remote 'work' in {path} has no api_key and $BASETEN_API_KEY is"
        " unset ($BASETEN_TRUSS_AUTH_REMOTE_URL with $BASETEN_TRUSS_AUTH_API_KEY unset too);"
        " set BASETEN_API_KEY"
    )


def test_a_remote_with_only_an_oauth_token_is_an_oauth_session(env, tmp_path):
    path = write_trussrc(
        tmp_path / "rc", work={"remote_url": "https://app.baseten.co", "oauth_access_token": "t"}
    )
    assert refused({**env, "USER_TRUSSRC_PATH": path}) == (
        f"remote 'work' in {path} keeps its credential in an OAuth session, which this helper"
        " does not read; set BASETEN_API_KEY to an API key of that workspace (or"
        " BASETEN_TRUSS_AUTH_REMOTE_URL and BASETEN_TRUSS_AUTH_API_KEY)"
    )


def test_the_named_remote_is_the_one_used(env, tmp_path):
    path = write_trussrc(
        tmp_path / "rc",
        a={"remote_url": "https://app.baseten.co", "api_key": "SENTINEL-other"},
        b={"remote_url": " https://app.dev.baseten.co ", "api_key": KEY},
    )
    key = find_key({**env, "USER_TRUSSRC_PATH": path}, "b")
    assert (key.value, key.api_url, key.source) == (
        KEY,
        "https://api.mc-dev.baseten.co",
        f"api_key of remote 'b' in {path}",
    )


# --- the calls --------------------------------------------------------------------------


def key_for(url: str, remote: str = "https://app.baseten.co/") -> basetenapi.ApiKey:
    return basetenapi.ApiKey(KEY, "Api-Key", "a test", remote, url)


def test_what_each_call_carries(env):
    seen: list[dict] = []

    def answer(handler):  # type: ignore[no-untyped-def]
        length = int(handler.headers.get("Content-Length") or 0)
        seen.append(
            {
                "method": handler.command,
                "path": handler.path,
                "auth_is_key": handler.headers.get("Authorization") == f"Api-Key {KEY}",
                "accept": handler.headers.get("Accept"),
                "type": handler.headers.get("Content-Type"),
                "body": json.loads(handler.rfile.read(length)) if length else None,
            }
        )
        return 200, {}, b'{"secrets": [{"name": "a"}, {"name": "b"}]}'

    with Server(answer) as server:
        client = Client(key_for(server.url), env, team="my team/1")
        assert client.secret_names() == ["a", "b"]
        client.upsert("DOCKER_REGISTRY_ghcr.io", "SENTINEL-value")
    path = "/v1/teams/my%20team%2F1/secrets"
    assert seen == [
        {
            "method": "GET",
            "path": path,
            "auth_is_key": True,
            "accept": "application/json",
            "type": None,
            "body": None,
        },
        {
            "method": "POST",
            "path": path,
            "auth_is_key": True,
            "accept": "application/json",
            "type": "application/json",
            "body": {"name": "DOCKER_REGISTRY_ghcr.io", "value": "SENTINEL-value"},
        },
    ]


def failure(url: str, env, call=lambda client: client.secret_names()) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BasetenError) as raised:
        call(Client(key_for(url), env))
    assert KEY not in raised.value.message
    return raised.value.message


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (401, {"code": "UNAUTHENTICATED"}, "HTTP 401 UNAUTHENTICATED for GET /v1/secrets"),
        (403, {"error": "forbidden"}, "HTTP 403 forbidden for GET /v1/secrets"),
        (403, {"code": "has space", "error": "E1"}, "HTTP 403 E1 for GET /v1/secrets"),
        (401, [1], "HTTP 401 for GET /v1/secrets"),
    ],
)
def test_a_refused_key_says_where_it_came_from_and_where_to_make_one(env, status, body, said):
    with Server(lambda handler: (status, {}, json.dumps(body).encode())) as server:
        message = failure(server.url, env)
    assert message == (
        f"Baseten refused the API key from a test ({said}); check it, or make a new one in"
        " https://app.baseten.co/settings/api_keys"
    )


@pytest.mark.parametrize(
    ("status", "body", "said"),
    [
        (500, b'{"error": "internal"}', "Baseten answered GET /v1/secrets with HTTP 500 internal"),
        (302, b"", "Baseten answered GET /v1/secrets with HTTP 302"),
        (404, b"not json", "Baseten answered GET /v1/secrets with HTTP 404"),
        (
            200,
            b"<html>",
            "Baseten's answer to GET /v1/secrets is not JSON (is {url} the Baseten API?)",
        ),
        (
            200,
            b'{"secrets": [{"name": 1}]}',
            SHAPE,
        ),
        (
            200,
            b'{"secrets": ["a"]}',
            SHAPE,
        ),
        (
            200,
            b"[]",
            SHAPE,
        ),
    ],
)
def test_an_answer_that_cannot_be_used_is_one_line(env, status, body, said):
    with Server(lambda handler: (status, {}, body)) as server:
        message = failure(server.url, env)
    assert message == said.format(url=server.url)


def test_an_empty_answer_to_an_upsert_is_fine(env):
    with Server(lambda handler: (201, {}, b" ")) as server:
        Client(key_for(server.url), env).upsert("a", "b")


def test_the_key_is_sent_over_https_or_to_loopback_only(env):
    message = failure("http://api.example", env)
    assert message == (
        "the Baseten API URL http://api.example is plain http; the API key and secret values"
        " are sent over https only (or to loopback);"
        " correct DOCKER_CREDENTIAL_TRUSS_BASETEN_API_URL"
    )
    assert failure("ftp://api.example", env) == (
        "the Baseten API URL 'ftp://api.example' is not http(s)"
    )
    with FakeBaseten(keys=[f"Api-Key {KEY}"]) as fake:
        local = fake.url.replace("127.0.0.1", "localhost")
        assert Client(key_for(local), env).secret_names() == []


def test_no_answer_names_the_base(env):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
        assert failure(url, env) == f"cannot reach Baseten at {url}: Connection refused"
