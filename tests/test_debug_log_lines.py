"""What the debug log says, line by line, for each step of get and list.

A person reading DOCKER_CREDENTIAL_TRUSS_DEBUG=1's log needs each step in words: which
registry, which auth method and why (its secret, or the config that named it and where
that came from), whether the cache answered and until when. These tests compare the
messages exactly (the time stamp and pid taken off; durations and expiry shown as
patterns), so a line that loses its registry or its reason is caught. Secret values
are sentinels and never in a message compared here.
"""

from __future__ import annotations

import base64
import os
import re
import time

import pytest
from fakes.gcp import FakeGoogle

from docker_credential_truss import __version__, config, debuglog, registry, resolver
from docker_credential_truss.cache import TokenCache
from docker_credential_truss.resolver import Resolver

REG = "registry.example.test"
VALUE = base64.b64encode(b"SENTINEL-user-77c1:SENTINEL-password-2a9d").decode()
AR = "us-west2-docker.pkg.dev"
ON = {"DOCKER_CREDENTIAL_TRUSS_DEBUG": "1"}
PREFIX = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3} pid=\d+ (DEBUG|ERROR) ")


def messages(paths) -> list[str]:
    """The log's lines without their time stamp and pid; checks each has them."""
    with open(os.path.join(paths.log_dir, debuglog.FILE_NAME), encoding="utf-8") as handle:
        lines = handle.read().splitlines()
    assert all(PREFIX.match(line) for line in lines), "a line without its stamp"
    return [PREFIX.sub("", line) for line in lines]


def test_a_static_get_says_each_step(cli, paths):
    run = cli("get", stdin=REG, extra={**ON, f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": VALUE})
    assert run.code == 0
    secret = f"DOCKER_REGISTRY_{REG}"
    assert messages(paths) == [
        f"get (docker-credential-truss {__version__})",
        f"get {REG}",
        f"secret {secret}: found in environment variable TRUSS_SECRET_{secret}",
        f"{REG}: auth method REGISTRY_SECRET (secret {secret} exists)",
        f"{REG}: made from the secret (not cached)",
    ]


def test_an_unknown_registry_says_no_method_applies(cli, paths):
    assert cli("get", stdin="unknown.example.test", extra=ON).code == 1
    assert messages(paths)[1:] == [
        "get unknown.example.test",
        "unknown.example.test: no auth method applies",
        "answer: credentials not found in native keychain",
    ]


@pytest.fixture
def google():
    with FakeGoogle() as fake:
        yield fake


@pytest.mark.parametrize(
    ("source", "said"),
    [("/work/my-truss/config.yaml", "/work/my-truss/config.yaml"), (None, "the helper config")],
)
def test_a_configured_get_names_where_its_method_came_from_and_the_cache_steps(
    cli, paths, google, source, said
):
    entry = {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}
    if source is not None:
        entry["source"] = source
    config.merge(paths, {AR: entry})
    extra = {**ON, "TRUSS_SECRET_sa": google.new_key().json()}
    assert cli("get", stdin=AR, extra=extra).code == 0
    assert cli("get", stdin=AR, extra=extra).code == 0
    steps = [m for m in messages(paths) if m.startswith(f"{AR}: ")]
    method = f"{AR}: auth method GCP_SERVICE_ACCOUNT_JSON (configured from {said})"
    assert steps[0] == method and steps[2] == method
    assert re.fullmatch(rf"{re.escape(AR)}: cache miss; minted in \d+\.\d{{3}}s", steps[1])
    assert re.fullmatch(rf"{re.escape(AR)}: cache hit \(expires at \d+(\.\d+)?\)", steps[3])
    assert len(steps) == 4


def test_list_says_how_many_answered_and_why_each_other_was_left_out(cli, paths):
    extra = {
        **ON,
        # a secret name no registry can have comes first: it is skipped, not the end
        "TRUSS_SECRET_DOCKER_REGISTRY_no host here": VALUE,
        "TRUSS_SECRET_DOCKER_REGISTRY_bad.example.test": "not base64 at all",
        f"TRUSS_SECRET_DOCKER_REGISTRY_{REG}": VALUE,
    }
    run = cli("list", extra=extra)
    assert run.code == 0 and list(run.json) == [REG]
    said = messages(paths)[1:]
    assert re.fullmatch(r"list: 1 registries answered, 1 left out, in \d+\.\d{3}s", said[0])
    assert said[1:] == [
        "left out of list: bad.example.test: secret 'DOCKER_REGISTRY_bad.example.test'"
        " is not valid base64 (expected base64 of user:password)"
    ]


class SteppingClock:
    """``time.monotonic`` for the resolver: each reading a quarter second after the last."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        self.now += 0.25
        return self.now


def test_the_durations_said_are_those_the_clock_measured(cli, paths, google, monkeypatch):
    monkeypatch.setattr(resolver, "time", SteppingClock())
    config.merge(paths, {AR: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}})
    extra = {**ON, "TRUSS_SECRET_sa": google.new_key().json()}
    assert cli("get", stdin=AR, extra=extra).code == 0
    assert f"{AR}: cache miss; minted in 0.250s" in messages(paths)
    assert cli("list", extra=extra).code == 0
    assert "list: 1 registries answered, 0 left out, in 0.250s" in messages(paths)


def test_a_token_doctor_reads_from_the_cache_is_masked_in_later_lines(cli, env, paths, google):
    config.merge(paths, {AR: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}})
    extra = {**ON, "TRUSS_SECRET_sa": google.new_key().json()}
    assert cli("get", stdin=AR, extra=extra).code == 0  # mints and caches
    debuglog.close()  # a new process: no secret registered yet
    plan = Resolver({**env, **extra}, paths).prepare(registry.parse(AR))
    token = plan.cached(TokenCache(paths.token_cache), time.time())
    assert token is not None
    line = debuglog.masked(f"cached answer {token.secret} reported")
    assert token.secret not in line and line.startswith("cached answer ")
