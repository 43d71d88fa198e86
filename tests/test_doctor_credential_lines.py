"""doctor's credential line and the FAIL for each way a mint can break, word for word.

In-process through ``cli.main``, for a registry whose secret is in the environment; the
static provider's mint is replaced where a failure is the point, so nothing leaves the
machine (doctor is run with --no-registry).
"""

from __future__ import annotations

import re

import pytest

from docker_credential_truss.errors import HelperError
from docker_credential_truss.minting import Token
from docker_credential_truss.providers import static

HOST = "registry.example.com"
EXTRA = {f"TRUSS_SECRET_DOCKER_REGISTRY_{HOST}": "dTpTRU5USU5FTC1jcmVk"}  # u:SENTINEL-cred
LATER = 1900000000.0  # 2030-03-17 17:46:40 UTC


def doctor(cli, monkeypatch, mint):  # type: ignore[no-untyped-def]
    monkeypatch.setattr(static.StaticProvider, "mint", mint)
    run = cli("doctor", HOST, "--no-registry", extra=EXTRA)
    assert "SENTINEL-cred" not in run.out
    return run, run.out.splitlines()


def fail_and_fix(lines: list[str], fail: str) -> str:
    at = lines.index(f"  FAIL  {fail}")
    return lines[at + 1]


def test_a_credential_without_expiry_is_said_without_one(cli):
    run = cli("doctor", HOST, "--no-registry", extra=EXTRA)
    (line,) = [x for x in run.out.splitlines() if "credential: made one now" in x]
    match = re.fullmatch(r"  ok    credential: made one now for user u \((\d+\.\d)s\)", line)
    assert match, line
    assert float(match.group(1)) < 30  # the mint's duration, not a clock reading


def test_a_credential_with_an_expiry_is_said_with_it_in_utc(cli, monkeypatch):
    _, lines = doctor(cli, monkeypatch, lambda self: Token("u", "SENTINEL-cred-t", LATER))
    (line,) = [x for x in lines if "credential: made one now" in x]
    assert line.startswith(
        "  ok    credential: made one now for user u, valid until 2030-03-17 17:46:40 UTC ("
    ), line


def test_a_mint_that_breaks_is_an_internal_error_naming_what_it_was_doing(cli, monkeypatch):
    def broken(self):  # type: ignore[no-untyped-def]
        raise KeyError("SENTINEL-cred-internal")

    run, lines = doctor(cli, monkeypatch, broken)
    assert run.code == 1
    fix = fail_and_fix(lines, "internal error (KeyError) making a credential")
    assert fix == "        fix: please report it"
    assert "SENTINEL-cred-internal" not in run.out


@pytest.mark.parametrize("message", ["the endpoint said no, in words of its own"])
def test_another_error_of_a_mint_points_to_the_message_and_the_log(cli, monkeypatch, message):
    def refused(self):  # type: ignore[no-untyped-def]
        raise HelperError(message)

    run, lines = doctor(cli, monkeypatch, refused)
    assert run.code == 1
    assert fail_and_fix(lines, message) == (
        "        fix: see the message; DOCKER_CREDENTIAL_TRUSS_DEBUG=1 keeps a log"
    )
