"""What basetenapi takes as Baseten's answer, and the line a person reads when it cannot.

- only a 2xx answer is the answer: a 300 carrying a plausible body is an error;
- an answer is read up to 4 MiB: a longer one is not taken, however well-formed;
- an error answer's code is shown only when it has one;
- a call that gets no answer in time is abandoned with one line naming the call
  (``Baseten GET|POST <route>``), a stuck name lookup included;
- a failed upsert names ``POST``, not only its route;
- the settings link keeps the remote URL as given, less its trailing slashes.

The key is a sentinel that no message may show.
"""

from __future__ import annotations

import json
import socket
import threading

import pytest
from harden.hostile import Server

from docker_credential_truss import basetenapi
from docker_credential_truss.basetenapi import BasetenError, Client
from docker_credential_truss.errors import ProviderError

KEY = "SENTINEL-basetenapi-bound-6a7c"


def key_for(url: str, remote: str = "https://app.baseten.co") -> basetenapi.ApiKey:
    return basetenapi.ApiKey(KEY, "Api-Key", "a test", remote, url)


def failure(url: str, env, call=lambda client: client.secret_names(), remote=None) -> str:  # type: ignore[no-untyped-def]
    with pytest.raises(BasetenError) as raised:
        call(Client(key_for(url, remote or "https://app.baseten.co"), env))
    assert KEY not in raised.value.message
    return raised.value.message


def test_a_300_answer_is_not_taken_as_the_list_of_secrets(env):
    body = json.dumps({"secrets": [{"name": "DOCKER_REGISTRY_ghcr.io"}]}).encode()
    with Server(lambda handler: (300, {}, body)) as server:
        assert failure(server.url, env) == "Baseten answered GET /v1/secrets with HTTP 300"


def test_an_answer_longer_than_4_mib_is_not_taken(env):
    body = json.dumps({"secrets": [], "padding": "x" * (5 << 20)}).encode()
    assert len(body) > basetenapi.MAX_BODY
    with Server(lambda handler: (200, {}, body)) as server:
        assert failure(server.url, env) == (
            f"Baseten's answer to GET /v1/secrets is not JSON (is {server.url} the Baseten API?)"
        )


def test_an_error_object_without_a_code_shows_the_status_only(env):
    body = json.dumps({"message": "internal", "detail": "x"}).encode()
    with Server(lambda handler: (500, {}, body)) as server:
        assert failure(server.url, env) == "Baseten answered GET /v1/secrets with HTTP 500"


def test_a_failed_upsert_names_post_and_its_route(env):
    with Server(lambda handler: (500, {}, b"{}")) as server:
        message = failure(server.url, env, call=lambda client: client.upsert("a", "SENTINEL-v"))
    assert message == "Baseten answered POST /v1/secrets with HTTP 500"


def test_the_settings_link_keeps_the_remote_url_less_its_trailing_slashes(env):
    remote = "https://baseten.corp.example/WORKSPACEX//"
    with Server(lambda handler: (401, {}, b"{}")) as server:
        message = failure(server.url, env, remote=remote)
    assert message.endswith(
        "check it, or make a new one in https://baseten.corp.example/WORKSPACEX/settings/api_keys"
    )


class StuckLookup:
    """getaddrinfo under a silent name server: blocks until released."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.asked: list[str] = []

    def __call__(self, host, *args, **kwargs):  # type: ignore[no-untyped-def]
        self.asked.append(host)
        self.release.wait(20)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")


@pytest.mark.parametrize(
    ("call", "said"),
    [
        (lambda client: client.secret_names(), "Baseten GET /v1/teams/t1/secrets"),
        (lambda client: client.upsert("a", "SENTINEL-v"), "Baseten POST /v1/teams/t1/secrets"),
    ],
)
def test_a_call_with_no_answer_in_time_is_abandoned_naming_it(env, monkeypatch, call, said):
    stuck = StuckLookup()
    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    fast = {**env, "DOCKER_CREDENTIAL_TRUSS_TIMEOUT": "0.1"}  # a deadline of 0.6 s
    client = Client(key_for("https://api.baseten.co"), fast, team="t1")
    try:
        with pytest.raises(ProviderError) as raised:
            call(client)
    finally:
        stuck.release.set()
    assert raised.value.message == (
        f"{said}: no answer within 0.6s; the endpoint is too slow"
        " (6 x DOCKER_CREDENTIAL_TRUSS_TIMEOUT)"
    )
    assert stuck.asked == ["api.baseten.co"]
