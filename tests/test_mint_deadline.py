"""The whole-mint deadline (``minting.run_within``) and the secret a mint registers.

An endpoint that trickles a byte per read timeout, or a name server that never
answers, must not hold docker: the whole mint is abandoned after DEADLINE_FACTOR x the
network timeout with one line saying so. These tests stand a slow endpoint in with a
provider that waits (the deadline, not the wait, must end it) and a stuck name lookup
with a resolver that blocks until released; the deadline is 0.6 s (6 x 0.1 s).
"""

from __future__ import annotations

import signal
import socket
import threading

import pytest

from docker_credential_truss import debuglog
from docker_credential_truss.errors import ConfigError, ProviderError
from docker_credential_truss.minting import (
    TIMEOUT_VARIABLE,
    Token,
    mint_within,
    minted,
    request_timeout,
    run_within,
)

FAST = {TIMEOUT_VARIABLE: "0.1"}  # a deadline of 0.6 s
SECRET = "SENTINEL-deadline-token-9b1f"


class Stalled:
    """A provider whose endpoint answers only after 5 s: long past any deadline here."""

    def __init__(self) -> None:
        self.calls = 0

    def mint(self) -> Token:
        self.calls += 1
        threading.Event().wait(5)  # a signal handler's exception ends the wait
        return Token("AWS", SECRET)


class Prompt:
    def mint(self) -> Token:
        return Token("AWS", SECRET, 1e10)


def test_a_stalled_mint_is_abandoned_with_one_line_naming_the_registry_and_the_bound():
    provider = Stalled()
    with pytest.raises(ProviderError) as raised:
        mint_within(provider, "123456789012.dkr.ecr.us-east-1.amazonaws.com", FAST)
    assert raised.value.message == (
        "123456789012.dkr.ecr.us-east-1.amazonaws.com: no credential within 0.6s;"
        f" the endpoint is too slow (6 x {TIMEOUT_VARIABLE})"
    )
    assert provider.calls == 1


def test_a_mint_in_time_leaves_no_alarm_behind():
    # A pending alarm would kill the process later (SIGALRM's default action).
    previous = signal.getsignal(signal.SIGALRM)
    token = mint_within(Prompt(), "ghcr.io", FAST)
    assert token.username == "AWS" and token.expires_at == 1e10
    assert signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    assert signal.getsignal(signal.SIGALRM) is previous


def test_a_minted_secret_is_masked_in_what_the_log_would_show():
    token = minted(Prompt())
    assert SECRET not in debuglog.masked(f"answer {token.secret} sent")


class StuckLookup:
    """A resolver that blocks until released, as getaddrinfo under a silent DNS server."""

    def __init__(self) -> None:
        self.release = threading.Event()
        self.entered = threading.Event()
        self.threads: list[threading.Thread] = []

    def __call__(self, *args: object, **kwargs: object) -> list:
        self.threads.append(threading.current_thread())
        self.entered.set()
        self.release.wait(20)
        return []


def test_a_stuck_name_lookup_is_abandoned_at_the_deadline_in_a_thread_that_cannot_hold_the_process(
    monkeypatch,
):
    stuck = StuckLookup()
    monkeypatch.setattr(socket, "getaddrinfo", stuck)
    try:
        with pytest.raises(ProviderError) as raised:
            mint_within(_Resolving(), "ghcr.io", FAST)
        assert raised.value.message.startswith("ghcr.io: no credential within 0.6s;")
        assert stuck.entered.is_set()
        (worker,) = stuck.threads
        # left to finish on its own, named for what it waits on, and a daemon: a
        # process that answered "not found" exits without waiting for the DNS server
        assert worker is not threading.main_thread()
        assert worker.name == "getaddrinfo" and worker.daemon
        assert socket.getaddrinfo is stuck  # the lookup is put back as it was
    finally:
        stuck.release.set()


class _Resolving:
    def mint(self) -> Token:
        socket.getaddrinfo("registry.invalid", 443)
        return Token("AWS", SECRET)


def test_a_lookup_under_the_deadline_gets_its_keyword_arguments():
    def lookup() -> list:
        return socket.getaddrinfo("127.0.0.1", 443, type=socket.SOCK_STREAM)

    answers = run_within(lookup, "ghcr.io", FAST, "no answer")
    assert answers and {kind for _, kind, *_ in answers} == {socket.SOCK_STREAM}


def test_a_failed_lookup_under_the_deadline_raises_its_own_error():
    def lookup() -> list:
        return socket.getaddrinfo("127.0.0.1", "no-such-service-name")

    with pytest.raises(socket.gaierror):
        run_within(lookup, "ghcr.io", FAST, "no answer")


@pytest.mark.parametrize(("text", "seconds"), [("300", 300.0), (" 0.5 ", 0.5), ("", 3.0)])
def test_the_timeout_takes_any_value_up_to_five_minutes(text, seconds):
    assert request_timeout({TIMEOUT_VARIABLE: text}) == seconds


@pytest.mark.parametrize("text", ["300.5", "0", "-1", "soon"])
def test_a_timeout_out_of_range_is_refused(text):
    with pytest.raises(ConfigError, match=TIMEOUT_VARIABLE):
        request_timeout({TIMEOUT_VARIABLE: text})


def test_get_abandons_a_stalled_mint_naming_the_registry_docker_asked_for(tmp_path, monkeypatch):
    # The endpoint stands in as a mint that waits; the registry key is the resolver's.
    from fakes.gcp import FakeGoogle

    from docker_credential_truss import config
    from docker_credential_truss.paths import Paths
    from docker_credential_truss.providers import gcp
    from docker_credential_truss.registry import parse
    from docker_credential_truss.resolver import Resolver

    registry = "europe-docker.pkg.dev"
    monkeypatch.setattr(gcp.ServiceAccountKey, "mint", lambda self: Stalled().mint())
    with FakeGoogle() as google:
        env = {
            "HOME": str(tmp_path),
            "XDG_CONFIG_HOME": str(tmp_path / "cfg"),
            "XDG_CACHE_HOME": str(tmp_path / "cache"),
            "TRUSS_SECRET_sa": google.new_key().json(),
            **FAST,
        }
        paths = Paths.from_env(env)
        config.merge(
            paths, {registry: {"auth_method": "GCP_SERVICE_ACCOUNT_JSON", "secret_name": "sa"}}
        )
        with pytest.raises(ProviderError) as raised:
            Resolver(env, paths).get(parse(registry))
    assert raised.value.message == (
        f"{registry}: no credential within 0.6s; the endpoint is too slow (6 x {TIMEOUT_VARIABLE})"
    )
